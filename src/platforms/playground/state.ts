/**
 * The playground's chat: one channel, its threads and messages, held in memory and pushed to
 * browsers as they change. Ratings (the stand-in for reactions) are kept per message and person so
 * the page can show who rated what; the authoritative ratings live in the core.
 *
 * With a `file` (npm start: DATA_DIR/playground.jsonl) every change is appended as one JSON line and
 * replayed on the next start, so a restart keeps the conversation, its threads and message ids —
 * which the database's platform_messages rows (ratings, run threads) refer to. Transient messages
 * (the private answer to a command that was refused before it ran) are never written there.
 *
 * Who sees what: a message with `ephemeralFor` is only for that person (`visibleTo`); the adapter
 * sends each browser session only what its current person may see.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { OutGrid, OutPick } from '../../../commands/kit/types';

export const CHANNEL_ID = 'general';

/** A file shown with a message (a chart, an image grid, an export); its bytes are in the file store (files.ts). */
export interface PlaygroundFile {
  id: string;
  name: string;
  contentType: string;
  size: number;
  /** PNG dimensions, so the page can lay the image out before it loads. */
  width?: number;
  height?: number;
}

export interface PlaygroundMessage {
  id: string;
  conversationId: string;
  author: { id: string; name: string; bot: boolean };
  text: string;
  imageId?: string;
  rateable: boolean;
  kind?: string;
  runId?: string;
  /**
   * The run event (outbox key) this message shows. Written with the message in the same state-file
   * line, before anyone sees it: a process that dies before recording it in platform_messages finds it
   * here after the restart instead of posting a copy (run-display.ts, Conversation.findPosted).
   */
  eventKey?: string;
  /** Only this person sees it (ephemeral reply). */
  ephemeralFor?: string;
  /** Charts, grids, exports (served at /files/:id/:name). */
  files?: PlaygroundFile[];
  /** Thread started from this message. */
  threadId?: string;
  /** A run iteration's tiles: the page shows each tile's controls (tile-clicks.ts). */
  grid?: OutGrid;
  /** Images to pick one of (/rate mode:pick): the page shows a button per image (pick-clicks.ts). */
  pick?: OutPick;
  /** Shown behind a collapsible "Details" section. */
  details?: string;
  /** Taken away by the bot (an older progress message of a run): the page no longer shows it. */
  removed?: boolean;
  /** Kept in memory only, never written to the state file (a refused command's private answer). */
  transient?: boolean;
  /** person id → their rating on this message. */
  ratings: Record<string, number>;
  edits: number;
  createdAt: number;
}

export interface PlaygroundThread {
  id: string;
  parentId: string;
  title: string;
  createdAt: number;
}

export type StateChange = { type: 'message'; message: PlaygroundMessage } | { type: 'thread'; thread: PlaygroundThread };

export class PlaygroundState extends EventEmitter<{ change: [StateChange] }> {
  readonly messages = new Map<string, PlaygroundMessage>();
  readonly threads = new Map<string, PlaygroundThread>();
  /** file id → the file and the message that shows it (who may see it: its ephemeralFor). */
  readonly files = new Map<string, { file: PlaygroundFile; messageId: string }>();
  private readonly file: string | undefined;

  constructor(
    private readonly clock: () => number = Date.now,
    opts: { file?: string } = {},
  ) {
    super();
    this.setMaxListeners(0);
    this.file = opts.file;
    if (this.file) this.load(this.file);
  }

  /**
   * A message or thread id no other process and no earlier run hands out: platform_messages rows
   * (ratings, run threads) are keyed by it in a database that several processes, or a fresh DATA_DIR,
   * may share, so a per-process counter would let a click rate another process's image. Creation time
   * in base 36 (ids sort by age) plus 50 random bits; still `[0-9a-z]`, 18 characters after the prefix (the
   * rate route's MESSAGE_ID allows 20).
   */
  nextId(prefix: string): string {
    for (;;) {
      const id = `${prefix}${Date.now().toString(36)}${randomId(RANDOM_ID_CHARS)}`;
      if (!this.messages.has(id) && !this.threads.has(id)) return id;
    }
  }

  /** Replays the change log; a torn last line (crash mid-write) is skipped. */
  private load(file: string): void {
    mkdirSync(path.dirname(file), { recursive: true });
    if (!existsSync(file)) return;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let change: StateChange;
      try {
        change = JSON.parse(line) as StateChange;
      } catch {
        continue;
      }
      // The `seq` line older versions' compact() wrote means nothing now that ids are random.
      if ((change as { type: string }).type === 'seq') continue;
      if (change.type === 'message') {
        this.messages.set(change.message.id, change.message);
        this.indexFiles(change.message);
      } else this.threads.set(change.thread.id, change.thread);
    }
  }

  private changed(change: StateChange): void {
    const transient = change.type === 'message' && change.message.transient;
    if (this.file && !transient) appendFileSync(this.file, `${JSON.stringify(change)}\n`);
    this.emit('change', change);
  }

  addMessage(
    m: Omit<PlaygroundMessage, 'id' | 'ratings' | 'edits' | 'createdAt' | 'transient'>,
    opts: { transient?: boolean } = {},
  ): PlaygroundMessage {
    const message: PlaygroundMessage = {
      ...m,
      id: this.nextId('m'),
      ratings: {},
      edits: 0,
      createdAt: this.clock(),
      ...(opts.transient ? { transient: true } : {}),
    };
    this.messages.set(message.id, message);
    this.indexFiles(message);
    this.changed({ type: 'message', message });
    return message;
  }

  private indexFiles(m: PlaygroundMessage): void {
    for (const file of m.files ?? []) this.files.set(file.id, { file, messageId: m.id });
  }

  updateMessage(
    id: string,
    patch: Partial<Pick<PlaygroundMessage, 'text' | 'threadId' | 'ratings' | 'removed'>>,
    countsAsEdit = true,
  ): PlaygroundMessage {
    const m = this.messages.get(id);
    if (!m) throw new Error(`no playground message ${id}`);
    Object.assign(m, patch);
    if (countsAsEdit) m.edits++;
    this.changed({ type: 'message', message: m });
    return m;
  }

  addThread(parentId: string, title: string): PlaygroundThread {
    const thread: PlaygroundThread = { id: this.nextId('t'), parentId, title, createdAt: this.clock() };
    this.threads.set(thread.id, thread);
    this.changed({ type: 'thread', thread });
    return thread;
  }

  /**
   * Rewrites the state file from memory — one line per thread and message, transient ones left out —
   * after a forget took messages out of the maps (forget.ts): nothing removed survives in the file.
   * A removed message's id is never handed out again (platform_messages rows may still name it): ids are
   * random (nextId). Write-then-rename: a crash leaves the old file or the new.
   */
  compact(): void {
    if (!this.file) return;
    const lines: string[] = [];
    for (const thread of this.threads.values()) lines.push(JSON.stringify({ type: 'thread', thread } satisfies StateChange));
    for (const message of this.messages.values())
      if (!message.transient) lines.push(JSON.stringify({ type: 'message', message } satisfies StateChange));
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${lines.join('\n')}\n`);
    renameSync(tmp, this.file);
  }

  /** Everything, or (with `viewer`, a person id) only what that person may see. */
  snapshot(viewer?: string): { messages: PlaygroundMessage[]; threads: PlaygroundThread[] } {
    const messages = [...this.messages.values()];
    return {
      messages: viewer === undefined ? messages : messages.filter((m) => visibleTo(m, viewer)),
      threads: [...this.threads.values()],
    };
  }
}

const RANDOM_ID_CHARS = 10;

/** `n` random characters of `[0-9a-z]` (5 bits each from crypto). */
function randomId(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += (b & 31).toString(36);
  return out;
}

/** Whether `viewer` (a person id) may see the message: everyone for channel messages, the owner for private ones. */
export function visibleTo(m: Pick<PlaygroundMessage, 'ephemeralFor'>, viewer: string): boolean {
  return m.ephemeralFor === undefined || m.ephemeralFor === viewer;
}
