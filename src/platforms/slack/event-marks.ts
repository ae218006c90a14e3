/**
 * Marks on Slack messages that say which run event (outbox event key, run-display.ts) a message
 * shows, so a process that crashed between posting and recording can find its post again instead of
 * posting a copy (Slack has no nonce):
 *
 * - Text messages carry message metadata: `{ event_type: 'tasteloop_event', event_payload: { event_key } }`
 *   (chat.postMessage `metadata`). Slack returns it from conversations.replies / .history only with
 *   `include_all_metadata: true`.
 * - An image is a file share (files.uploadV2), which cannot carry metadata: its text goes in a
 *   section block whose `block_id` is the mark (`tasteloop_event:<key>`), written by the same call
 *   that shares the file — there is no moment the share exists without its mark.
 *
 * Neither is shown to people. Reading them back needs the history scopes (channels:history,
 * groups:history).
 */
import { createHash } from 'node:crypto';

export const EVENT_METADATA_TYPE = 'tasteloop_event';
/** Slack's limit for a block_id. */
const MAX_BLOCK_ID = 255;
/** Slack's limit for the text of a section block. */
const MAX_SECTION_TEXT = 3000;

export interface EventMetadata {
  event_type: string;
  event_payload: { event_key: string };
}

export function eventMetadata(key: string): EventMetadata {
  return { event_type: EVENT_METADATA_TYPE, event_payload: { event_key: key } };
}

/** The block_id that marks an image share with its event key (a digest for a key too long for one). */
export function eventBlockId(key: string): string {
  const plain = `${EVENT_METADATA_TYPE}:${key}`;
  return plain.length <= MAX_BLOCK_ID ? plain : `${EVENT_METADATA_TYPE}#${createHash('sha256').update(key).digest('hex')}`;
}

/**
 * The message text as mrkdwn section blocks (what an image share shows above the image), the first
 * one carrying the mark. Long text is split over several sections (3000 characters each).
 */
export function markedTextBlocks(
  text: string,
  key: string,
): { type: 'section'; block_id?: string; text: { type: 'mrkdwn'; text: string } }[] {
  const parts: string[] = [];
  for (let rest = text || ' '; rest.length; rest = rest.slice(MAX_SECTION_TEXT)) parts.push(rest.slice(0, MAX_SECTION_TEXT));
  return parts.map((part, i) => ({
    type: 'section' as const,
    ...(i === 0 ? { block_id: eventBlockId(key) } : {}),
    text: { type: 'mrkdwn' as const, text: part },
  }));
}

/** A message as conversations.replies / .history return it (the fields read here). */
export interface HistoryMessage {
  ts?: string;
  user?: string;
  bot_id?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
  blocks?: { block_id?: string }[];
}

/** Which messages of a conversation carry which marks: event key (metadata) or block_id → message ts. */
export class PostedIndex {
  private readonly byKey = new Map<string, string>();
  private readonly byBlockId = new Map<string, string>();

  /** Adds a page of messages; only those posted by this app (`isOwn`) count. */
  add(messages: HistoryMessage[], isOwn: (m: HistoryMessage) => boolean): void {
    for (const m of messages) {
      if (!m.ts || !isOwn(m)) continue;
      const key = m.metadata?.event_type === EVENT_METADATA_TYPE ? m.metadata.event_payload?.event_key : undefined;
      if (typeof key === 'string') keepOldest(this.byKey, key, m.ts);
      for (const b of m.blocks ?? []) if (b.block_id?.startsWith(EVENT_METADATA_TYPE)) keepOldest(this.byBlockId, b.block_id, m.ts);
    }
  }

  /** The ts of the message marked with `key` (the oldest, should there be several). */
  find(key: string): string | undefined {
    return this.byKey.get(key) ?? this.byBlockId.get(eventBlockId(key));
  }

  get size(): number {
    return this.byKey.size + this.byBlockId.size;
  }
}

/** Replies come oldest first, channel history newest first: either way the oldest message wins. */
function keepOldest(map: Map<string, string>, mark: string, ts: string): void {
  const seen = map.get(mark);
  if (seen === undefined || compareTs(ts, seen) < 0) map.set(mark, ts);
}

/** Orders Slack timestamps ("seconds.micros") exactly (no floating point). */
export function compareTs(a: string, b: string): number {
  const [as, au = ''] = a.split('.');
  const [bs, bu = ''] = b.split('.');
  const d = BigInt(as ?? '0') - BigInt(bs ?? '0');
  if (d !== 0n) return d < 0n ? -1 : 1;
  const x = au.padEnd(6, '0');
  const y = bu.padEnd(6, '0');
  return x < y ? -1 : x > y ? 1 : 0;
}
