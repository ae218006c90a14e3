/**
 * A client of the playground's HTTP API that behaves like its page in a browser: one session (the
 * cookie the server sets), JSON posts from the page's own origin, the acting person switched on the
 * server (POST /api/session) — never named in a command or a click.
 */

export interface PlaygroundSnapshot<M = PlaygroundSnapshotMessage> {
  person: string;
  name: string;
  messages: M[];
  threads: { id: string; parentId: string; title: string }[];
}

export interface PlaygroundSnapshotMessage {
  id: string;
  conversationId: string;
  author: { id: string; name: string; bot: boolean };
  kind?: string;
  imageId?: string;
  text: string;
  ephemeralFor?: string;
  rateable: boolean;
  files?: { id: string; name: string; contentType: string; size: number }[];
  ratings: Record<string, number>;
}

export interface ApiAnswer<B = Record<string, unknown>> {
  status: number;
  body: B;
}

export class PlaygroundClient {
  /** `name=value` of the session cookie, once the server set one. */
  cookie: string | undefined;

  constructor(
    readonly base: string,
    /** Send the headers a browser sends from the page (Origin, Sec-Fetch-Site); false = a plain HTTP client. */
    private readonly browserLike = true,
  ) {}

  /** A new session acting as `person` (logging in first when a token is given). */
  static async as(base: string, person: string, opts: { token?: string } = {}): Promise<PlaygroundClient> {
    const c = new PlaygroundClient(base);
    if (opts.token !== undefined) {
      const login = await c.post('/api/login', { token: opts.token });
      if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
    }
    await c.actAs(person);
    return c;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(this.browserLike ? { origin: this.base, 'sec-fetch-site': 'same-origin' } : {}),
      ...(this.cookie ? { cookie: this.cookie } : {}),
      ...extra,
    };
  }

  private keepCookie(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0]!;
      if (pair.startsWith('tl_session')) this.cookie = pair.endsWith('=') ? undefined : pair;
    }
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(`${this.base}${path}`, { ...init, headers: this.headers((init.headers as Record<string, string>) ?? {}) });
    this.keepCookie(res);
    return res;
  }

  async post<B = Record<string, unknown>>(path: string, body: unknown): Promise<ApiAnswer<B>> {
    const res = await this.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as B };
  }

  async get(path: string): Promise<Response> {
    return this.fetch(path);
  }

  async actAs(person: string): Promise<void> {
    const r = await this.post('/api/session', { person });
    if (r.status !== 200) throw new Error(`could not act as ${person}: ${r.status} ${JSON.stringify(r.body)}`);
  }

  /** Runs a command as this session's person: 200 = it ran, 422 = refused before running. */
  command(text: string): Promise<ApiAnswer<{ ok?: boolean; error?: string }>> {
    return this.post('/api/command', { text });
  }

  /** A click on a rating button: a score 1–10, or null to clear. */
  rate(messageId: string, score: number | null): Promise<ApiAnswer<{ ok?: boolean; at?: number; error?: string }>> {
    return this.post('/api/rate', { messageId, score });
  }

  /** The first event of /events: what this session's person may see now. */
  async snapshot<M = PlaygroundSnapshotMessage>(): Promise<PlaygroundSnapshot<M>> {
    const stream = await this.events();
    try {
      const first = await stream.next();
      if (first.type !== 'snapshot') throw new Error(`expected a snapshot first, got ${first.type}`);
      return first.data as PlaygroundSnapshot<M>;
    } finally {
      stream.close();
    }
  }

  /** The event stream, read event by event. */
  async events(): Promise<{ next(): Promise<{ type: string; data: unknown }>; close(): void }> {
    const ac = new AbortController();
    const res = await this.fetch('/events', { signal: ac.signal });
    if (res.status !== 200) {
      const body = await res.text();
      throw new Error(`/events answered ${res.status}: ${body}`);
    }
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    return {
      async next() {
        for (;;) {
          const end = buf.indexOf('\n\n');
          if (end >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const lines = block.split('\n');
            const type = lines.find((l) => l.startsWith('event: '))?.slice('event: '.length);
            const data = lines
              .filter((l) => l.startsWith('data: '))
              .map((l) => l.slice('data: '.length))
              .join('\n');
            if (!type) continue; // a ping
            return { type, data: JSON.parse(data) as unknown };
          }
          const { value, done } = await reader.read();
          if (done) throw new Error('the event stream ended');
          buf += decoder.decode(value, { stream: true });
        }
      },
      close() {
        ac.abort();
      },
    };
  }
}
