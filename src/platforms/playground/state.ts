/**
 * The playground's chat: one channel, its threads and messages, held in memory and pushed to
 * browsers as they change. Ratings (the stand-in for reactions) are kept per message and person so
 * the page can show who rated what; the authoritative ratings live in the core.
 */
import { EventEmitter } from 'node:events';

export const CHANNEL_ID = 'general';

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
  private seq = 0;

  constructor(private readonly clock: () => number = Date.now) {
    super();
    this.setMaxListeners(0);
  }

  nextId(prefix: string): string {
    return `${prefix}${(++this.seq).toString(36).padStart(4, '0')}`;
  }

  addMessage(m: Omit<PlaygroundMessage, 'id' | 'ratings' | 'edits' | 'createdAt'>): PlaygroundMessage {
    const message: PlaygroundMessage = { ...m, id: this.nextId('m'), ratings: {}, edits: 0, createdAt: this.clock() };
    this.messages.set(message.id, message);
    this.emit('change', { type: 'message', message });
    return message;
  }

  updateMessage(id: string, patch: Partial<Pick<PlaygroundMessage, 'text' | 'threadId' | 'ratings'>>, countsAsEdit = true): PlaygroundMessage {
    const m = this.messages.get(id);
    if (!m) throw new Error(`no playground message ${id}`);
    Object.assign(m, patch);
    if (countsAsEdit) m.edits++;
    this.emit('change', { type: 'message', message: m });
    return m;
  }

  addThread(parentId: string, title: string): PlaygroundThread {
    const thread: PlaygroundThread = { id: this.nextId('t'), parentId, title, createdAt: this.clock() };
    this.threads.set(thread.id, thread);
    this.emit('change', { type: 'thread', thread });
    return thread;
  }

  snapshot(): { messages: PlaygroundMessage[]; threads: PlaygroundThread[] } {
    return { messages: [...this.messages.values()], threads: [...this.threads.values()] };
  }
}
