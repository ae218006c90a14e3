/**
 * How a made-for-you run's thread opens on Discord (run-thread.ts): a thread started from the parent
 * message. Such a thread has the message's id, and Discord refuses a second one on the same message,
 * so opening again after a restart (or from a second process) finds the same thread.
 */
import { Routes, type Client } from 'discord.js';
import type { ThreadOpener } from '../run-thread';

/** "A thread has already been created for this message". */
const THREAD_ALREADY_CREATED = 160004;
/** Unknown Channel, Missing Access, Missing Permissions: the channel takes no posts from the bot. */
const UNREACHABLE_CODES = new Set([10003, 50001, 50013]);

export function discordRunThreads(client: Client): ThreadOpener {
  return {
    async threadOn({ channelId, messageId, title }) {
      try {
        const t = (await client.rest.post(Routes.threads(channelId, messageId), {
          body: { name: title.slice(0, 100), auto_archive_duration: 1440 },
        })) as { id: string };
        return t.id;
      } catch (err) {
        if ((err as { code?: number }).code === THREAD_ALREADY_CREATED) return messageId;
        throw err;
      }
    },
    unreachable: (err) => UNREACHABLE_CODES.has(Number((err as { code?: unknown }).code)),
    // Shown as the person's name; NO_MENTIONS on every post keeps it from pinging.
    mention: (userId) => `<@${userId}>`,
  };
}
