/**
 * Slack's text conventions, pure: neutral markdown → mrkdwn, escaping that makes every message
 * unable to ping anyone, message ids that are unique across channels, and `<@U…|name>` mentions.
 */
import type { PersonRef } from '../../core/identity';

/** Slack limits a message's text to 40 000 characters; stay far below (chat readability). */
export const MAX_TEXT = 3500;

/**
 * Neutral text → Slack mrkdwn. `&`, `<`, `>` are escaped first, so nothing a person typed can become
 * `<!channel>`, `<@U…>` or a link (no mass mention or injected link from a prompt); then `**bold**` becomes `*bold*`.
 */
export function toSlackText(text: string): string {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const bold = escaped.replace(/\*\*(.+?)\*\*/gs, '*$1*');
  return bold.length > MAX_TEXT ? `${bold.slice(0, MAX_TEXT - 1)}…` : bold;
}

/** Slack sends `&`, `<`, `>` typed in slash-command text as entities; give the person's text back. */
export function decodeSlackEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A message's id in platform_messages: `ts` is unique only within a channel. */
export function slackMessageId(channel: string, ts: string): string {
  return `${channel}:${ts}`;
}

export function parseSlackMessageId(id: string): { channel: string; ts: string } {
  const at = id.indexOf(':');
  if (at < 0) throw new Error(`not a Slack message id: ${id}`);
  return { channel: id.slice(0, at), ts: id.slice(at + 1) };
}

/** A conversation id: the channel, or channel + thread ts joined by '/' (see commands/kit/types.ts, Conversation.id). */
export function slackConversationId(channel: string, threadTs?: string): string {
  return threadTs ? `${channel}/${threadTs}` : channel;
}

/**
 * `<@U123|ann>` / `<@U123>` (what Slack sends with "escape users" on) → a person of the workspace the
 * verified request came from. Anything else — a bare `@ann`, a name — is not trusted as identity.
 */
export function parseUserMention(raw: string, workspaceId: string): PersonRef | undefined {
  const m = /^<@([UW][A-Z0-9]+)(?:\|([^>]*))?>$/.exec(raw.trim());
  if (!m) return undefined;
  return { platform: 'slack', workspaceId, userId: m[1]!, displayName: m[2] || undefined };
}

/** Slack `ts` ("1700000000.123456") → Date, for rating event times; null when malformed. */
export function tsToDate(ts: string | undefined): Date | null {
  if (!ts || !/^\d+(\.\d+)?$/.test(ts)) return null;
  const [sec, frac = ''] = ts.split('.');
  return new Date(Number(sec) * 1000 + Math.floor(Number(`0.${frac || '0'}`) * 1000));
}
