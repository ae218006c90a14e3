/**
 * The bot's side of the playground's channel and threads: posting puts a message into the state (the
 * page shows it) and records it in the database like any platform's post, so clicks and restarts find
 * its image and run event by message id.
 */
import type { Conversation, OutFile } from '../../../commands/kit/types';
import { recordPosted } from '../record';
import { BOT, PLATFORM, PLAYGROUND_SCOPE, type PlaygroundContext } from './context';
import { pngSize, safeFileName, type PlaygroundFileStore } from './files';
import type { PlaygroundFile } from './state';

/** Bytes to the file store, metadata (small) to the message. */
export async function storeFiles(store: PlaygroundFileStore, files: OutFile[] | undefined): Promise<{ files?: PlaygroundFile[] }> {
  if (!files?.length) return {};
  const out: PlaygroundFile[] = [];
  for (const f of files) {
    const id = await store.put(f.data);
    out.push({
      id,
      name: safeFileName(f.name),
      contentType: f.contentType,
      size: f.data.length,
      ...(f.contentType === 'image/png' ? pngSize(f.data) : null),
    });
  }
  return { files: out };
}

/** Makes the bot's Conversation for a channel or thread id. */
export function botConversations(
  deps: Pick<PlaygroundContext, 'services' | 'state' | 'files'>,
): (id: string, label: string) => Conversation {
  const { services, state } = deps;
  return (id, label) => ({
    id,
    mention: label,
    async post(msg) {
      // The event key goes into the state file with the message (before it is shown): see findPosted.
      const m = state.addMessage({
        conversationId: id,
        author: BOT,
        text: msg.text,
        imageId: msg.image?.imageId,
        rateable: Boolean(msg.image?.rateable),
        kind: msg.kind,
        runId: msg.runId,
        ...(msg.idempotencyKey ? { eventKey: msg.idempotencyKey } : {}),
        ...(msg.grid ? { grid: msg.grid } : {}),
        ...(msg.pick ? { pick: msg.pick } : {}),
        ...(msg.details ? { details: msg.details } : {}),
        ...(await storeFiles(deps.files, msg.files)),
      });
      await recordPosted(services, PLATFORM, { messageId: m.id, channelId: id, scopeId: PLAYGROUND_SCOPE }, msg);
      return m.id;
    },
    // A crash between showing a run message and recording it: the message is in the state, found by its key.
    async findPosted(msg) {
      const key = msg.idempotencyKey;
      if (!key) return undefined;
      for (const m of state.messages.values()) {
        if (m.eventKey !== key || m.conversationId !== id) continue;
        await recordPosted(services, PLATFORM, { messageId: m.id, channelId: id, scopeId: PLAYGROUND_SCOPE }, msg);
        return m.id;
      }
      return undefined;
    },
    edit(messageId, msg) {
      state.updateMessage(messageId, { text: msg.text });
      return Promise.resolve();
    },
    remove(messageId) {
      if (state.messages.has(messageId)) state.updateMessage(messageId, { removed: true }, false);
      return Promise.resolve();
    },
  });
}
