/**
 * GET /events: each browser session's Server-Sent Events stream. It starts with a `snapshot` of what
 * the session's person may see (again after the session switches person), then carries every
 * `message` and `thread` change of the state — a message only to sessions whose person may see it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { personFor } from './context';
import type { Session } from './security';
import { visibleTo, type PlaygroundState, type StateChange } from './state';

/** Comment lines keep idle streams open through proxies and browsers. */
const PING_MS = 15_000;

export class EventStream {
  private readonly clients = new Set<{ res: ServerResponse; session: Session }>();
  private readonly broadcast = (change: StateChange) => {
    const line = `event: ${change.type}\ndata: ${JSON.stringify(change.type === 'message' ? change.message : change.thread)}\n\n`;
    for (const c of this.clients) {
      if (change.type === 'message' && !visibleTo(change.message, c.session.person)) continue;
      c.res.write(line);
    }
  };

  constructor(private readonly state: PlaygroundState) {
    state.on('change', this.broadcast);
  }

  /** Answers GET /events for a logged-in session: the stream stays open until the browser goes. */
  open(req: IncomingMessage, res: ServerResponse, session: Session): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    const client = { res, session };
    this.sendSnapshot(res, session);
    this.clients.add(client);
    const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
    req.on('close', () => {
      clearInterval(ping);
      this.clients.delete(client);
    });
  }

  /** The session acts as `person` from now on: its open streams get that person's view. */
  switchPerson(session: Session, person: string): void {
    session.person = person;
    for (const c of this.clients) if (c.session === session) this.sendSnapshot(c.res, session);
  }

  /** Ends the streams of a session that logged out. */
  endSession(session: Session): void {
    for (const c of this.clients) if (c.session === session) c.res.end();
  }

  /** Ends every stream and stops listening to the state (the adapter stops). */
  close(): void {
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    this.state.off('change', this.broadcast);
  }

  private sendSnapshot(res: ServerResponse, s: Session): void {
    const snapshot = { person: s.person, name: personFor(s.person).displayName, ...this.state.snapshot(s.person) };
    res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
  }
}
