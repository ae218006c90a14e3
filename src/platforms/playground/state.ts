/**
 * The playground's chat: one channel, its threads and messages, held in memory and pushed to
 * browsers as they change. Ratings (the stand-in for reactions) are kept per message and person so
 * the page can show who rated what; the authoritative ratings live in the core.
 *
 * With a `file` (npm start: DATA_DIR/playground.jsonl) every change is appended as one JSON line and
 * replayed on the next start, so a restart keeps the conversation, its threads and message ids —
 * which the database's platform_messages rows (ratings, run threads) refer to.
 */
import { EventEmitter } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

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
  /** Only this person sees it (ephemeral reply). */
  ephemeralFor?: string;
  /** Charts, grids, exports (served at /files/:id/:name). */
  files?: PlaygroundFile[];
  /** Thread started from this message. */
  threadId?: string;
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
  private seq = 0;
  private readonly file: string | undefined;

  constructor(private readonly clock: () => number = Date.now, opts: { file?: string } = {}) {
    super();
    this.setMaxListeners(0);
    this.file = opts.file;
    if (this.file) this.load(this.file);
  }

  nextId(prefix: string): string {
    return `${prefix}${(++this.seq).toString(36).padStart(4, '0')}`;
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
      const item = change.type === 'message' ? change.message : change.thread;
      if (change.type === 'message') {
        this.messages.set(change.message.id, change.message);
        this.indexFiles(change.message);
      }
      else this.threads.set(change.thread.id, change.thread);
      const n = Number.parseInt(item.id.slice(1), 36);
      if (Number.isFinite(n)) this.seq = Math.max(this.seq, n);
    }
  }

  private changed(change: StateChange): void {
    if (this.file) appendFileSync(this.file, `${JSON.stringify(change)}\n`);
    this.emit('change', change);
  }

  addMessage(m: Omit<PlaygroundMessage, 'id' | 'ratings' | 'edits' | 'createdAt'>): PlaygroundMessage {
    const message: PlaygroundMessage = { ...m, id: this.nextId('m'), ratings: {}, edits: 0, createdAt: this.clock() };
    this.messages.set(message.id, message);
    this.indexFiles(message);
    this.changed({ type: 'message', message });
    return message;
  }

  private indexFiles(m: PlaygroundMessage): void {
    for (const file of m.files ?? []) this.files.set(file.id, { file, messageId: m.id });
  }

  updateMessage(id: string, patch: Partial<Pick<PlaygroundMessage, 'text' | 'threadId' | 'ratings'>>, countsAsEdit = true): PlaygroundMessage {
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

  snapshot(): { messages: PlaygroundMessage[]; threads: PlaygroundThread[] } {
    return { messages: [...this.messages.values()], threads: [...this.threads.values()] };
  }
}
