/**
 * A fake OpenAI API on 127.0.0.1:0 that the real `openai` client talks to (baseURL = server.baseURL).
 * Implements POST /v1/chat/completions (json_schema structured output via a pluggable handler),
 * POST /v1/images/generations (b64_json PNG made with sharp, or a URL served here) and
 * POST /v1/moderations (flags texts containing configured words; images — multi-modal input
 * `[{ type: 'image_url', image_url: { url: 'data:…' } }]`, one result per request as the real
 * endpoint answers — whose mean colour is near a marker colour, or the n-th image check). Every
 * request is recorded.
 *
 * Faults are queued and consumed one per matching request, in order:
 *   server.fault({ kind: '429', retryAfter: 1 }, { times: 2 })    // next 2 replies 429 + Retry-After
 *   server.fault({ kind: '500' }), { kind: 'hang' }, { kind: 'malformed' }, { kind: 'quota' }
 * `malformed` answers 200 with a non-JSON message content (structured output broken).
 */
import { closeServer, listenOnLoopback } from './loopback';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';

export type OpenAIFault =
  | { kind: '429'; retryAfter?: number | string; retryAfterMs?: number }
  | { kind: '500' }
  | { kind: 'hang' }
  | { kind: 'malformed'; content?: string }
  | { kind: 'quota' };

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  /** Date.now() when the request arrived. */
  at: number;
  /** Which fault answered it, if any. */
  fault?: OpenAIFault['kind'];
}

export interface ChatHandlerInput {
  body: any;
  /** response_format.json_schema.name, if any. */
  schemaName: string | undefined;
  /** All text of the messages joined (for simple content checks). */
  text: string;
}

/** Returns the assistant message content (an object is JSON-encoded). */
export type ChatHandler = (input: ChatHandlerInput) => unknown;

export interface FakeOpenAIOptions {
  chat?: ChatHandler;
  /** Lower-case words whose presence flags a moderation input. */
  flaggedWords?: string[];
  /** Images whose mean colour is within ±12 per channel of one of these are flagged. */
  flaggedImageColors?: Rgb[];
  /** 1-based numbers of image moderation calls to flag (e.g. [3]: the third image checked). */
  flagImageCalls?: number[];
  /** The category a flagged image is flagged for (default "sexual"). */
  imageCategory?: string;
  /** 'b64_json' (default) or 'url' replies from images.generate. */
  imageResponse?: 'b64_json' | 'url';
}

/** Default handler: n numbered variations for prompt_proposals, a fixed sentence for prompt_feedback. */
export const defaultChatHandler: ChatHandler = ({ schemaName, text }) => {
  if (schemaName === 'prompt_feedback') return { feedback: 'Use warmer light and a closer crop.' };
  const n = Number(/exactly (\d+) prompts/.exec(text)?.[1] ?? 4);
  return { prompts: Array.from({ length: n }, (_, i) => `a lighthouse at dusk, variation ${i + 1}, oil painting`) };
};

export class FakeOpenAIServer {
  readonly requests: RecordedRequest[] = [];
  chat: ChatHandler;
  flaggedWords: string[];
  flaggedImageColors: Rgb[];
  flagImageCalls: number[];
  imageCategory: string;
  /** Image moderation calls so far (the n of flagImageCalls), with what was decided. */
  readonly imageChecks: { n: number; mime: string; mean: Rgb | null; flagged: boolean }[] = [];
  imageResponse: 'b64_json' | 'url';
  private faults: { fault: OpenAIFault; path?: string; images?: boolean }[] = [];
  private server: http.Server;
  private files = new Map<string, Buffer>();
  private hung = new Set<http.ServerResponse>();
  port = 0;

  constructor(opts: FakeOpenAIOptions = {}) {
    this.chat = opts.chat ?? defaultChatHandler;
    this.flaggedWords = opts.flaggedWords ?? [];
    this.flaggedImageColors = opts.flaggedImageColors ?? [];
    this.flagImageCalls = opts.flagImageCalls ?? [];
    this.imageCategory = opts.imageCategory ?? 'sexual';
    this.imageResponse = opts.imageResponse ?? 'b64_json';
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.json(res, 500, { error: { message: String(err), type: 'server_error' } });
      });
    });
  }

  get baseURL(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async start(): Promise<this> {
    this.port = await listenOnLoopback(this.server);
    return this;
  }

  async close(): Promise<void> {
    await closeServer(this.server, this.hung);
  }

  /**
   * Queue a fault for the next `times` requests (optionally only those whose path ends with `path`;
   * `images: true` only moderation requests that carry an image).
   */
  fault(fault: OpenAIFault, opts: { times?: number; path?: string; images?: boolean } = {}): this {
    for (let i = 0; i < (opts.times ?? 1); i++) this.faults.push({ fault, path: opts.path, images: opts.images });
    return this;
  }

  clearFaults(): void {
    this.faults = [];
  }

  requestsTo(pathSuffix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.endsWith(pathSuffix));
  }

  /** Moderation requests that carried an image. */
  imageModerations(): RecordedRequest[] {
    return this.requestsTo('/moderations').filter((r) => hasImageInput(r.body));
  }

  private takeFault(path: string, body: unknown): OpenAIFault | undefined {
    const i = this.faults.findIndex((f) => (!f.path || path.endsWith(f.path)) && (!f.images || hasImageInput(body)));
    if (i < 0) return undefined;
    return this.faults.splice(i, 1)[0]?.fault;
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const rec: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body, at: Date.now() };

    if (req.method === 'GET' && path.startsWith('/files/')) {
      const bytes = this.files.get(path.slice('/files/'.length));
      if (!bytes) return this.json(res, 404, { error: { message: 'not found' } });
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(bytes.length) });
      res.end(bytes);
      return;
    }
    this.requests.push(rec);

    const fault = this.takeFault(path, body);
    if (fault) {
      rec.fault = fault.kind;
      switch (fault.kind) {
        case '429': {
          const headers: Record<string, string> = {};
          if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
          if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
          return this.json(res, 429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, headers);
        }
        case 'quota':
          return this.json(res, 429, {
            error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' },
          });
        case '500':
          return this.json(res, 500, { error: { message: 'The server had an error', type: 'server_error' } });
        case 'hang':
          this.hung.add(res);
          res.on('close', () => this.hung.delete(res));
          return; // never answer
        case 'malformed':
          if (path.endsWith('/chat/completions')) {
            return this.json(res, 200, this.completion(body, fault.content ?? 'Sure! Here are some prompts: 1. a cat'));
          }
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{not json');
          return;
      }
    }

    if (req.method === 'POST' && path === '/v1/chat/completions') {
      const schemaName: string | undefined = body?.response_format?.json_schema?.name;
      const text = messageText(body?.messages);
      const out = this.chat({ body, schemaName, text });
      const content = typeof out === 'string' ? out : JSON.stringify(out);
      return this.json(res, 200, this.completion(body, content));
    }
    if (req.method === 'POST' && path === '/v1/images/generations') {
      const n = Number(body?.n ?? 1);
      const data: { b64_json?: string; url?: string; revised_prompt?: string }[] = [];
      for (let i = 0; i < n; i++) {
        const png = await fakePng(String(body?.prompt ?? ''), i);
        if (this.imageResponse === 'url') {
          const id = `${randomUUID()}.png`;
          this.files.set(id, png);
          data.push({ url: `http://127.0.0.1:${this.port}/files/${id}` });
        } else data.push({ b64_json: png.toString('base64') });
      }
      const usage = String(body?.model ?? '').startsWith('gpt-image')
        ? { input_tokens: Math.ceil(String(body?.prompt ?? '').length / 4), output_tokens: 272 * n, total_tokens: 0 }
        : undefined;
      return this.json(res, 200, { created: Math.floor(Date.now() / 1000), data, ...(usage ? { usage } : {}) });
    }
    if (req.method === 'POST' && path === '/v1/moderations') {
      const model = body?.model ?? 'omni-moderation-latest';
      const result = (hit: string | null) => {
        const categories: Record<string, boolean> = { violence: false, harassment: false, sexual: false };
        const scores: Record<string, number> = { violence: 0.01, harassment: 0.0, sexual: 0.0 };
        if (hit) {
          categories[hit] = true;
          scores[hit] = 0.97;
        }
        return { flagged: hit !== null, categories, category_scores: scores };
      };
      const textHit = (t: string) => (this.flaggedWords.some((w) => t.toLowerCase().includes(w)) ? 'violence' : null);
      if (Array.isArray(body?.input) && body.input.some((p: unknown) => typeof p === 'object' && p !== null)) {
        // Multi-modal input: one result for the whole array (as the real endpoint answers).
        let hit: string | null = null;
        const applied: Record<string, string[]> = {};
        for (const part of body.input as any[]) {
          if (part?.type === 'text') {
            const h = textHit(String(part.text ?? ''));
            if (h) {
              hit = h;
              applied[h] = [...(applied[h] ?? []), 'text'];
            }
          } else if (part?.type === 'image_url') {
            const h = await this.imageHit(String(part.image_url?.url ?? ''));
            if (h === 'invalid')
              return this.json(res, 400, { error: { message: 'Invalid image.', type: 'invalid_request_error', code: 'invalid_image' } });
            if (h) {
              hit = h;
              applied[h] = [...(applied[h] ?? []), 'image'];
            }
          } else {
            return this.json(res, 400, { error: { message: `unknown input type ${part?.type}`, type: 'invalid_request_error' } });
          }
        }
        return this.json(res, 200, {
          id: `modr-${randomUUID()}`,
          model,
          results: [{ ...result(hit), category_applied_input_types: applied }],
        });
      }
      const inputs: string[] = Array.isArray(body?.input) ? body.input : [String(body?.input ?? '')];
      return this.json(res, 200, { id: `modr-${randomUUID()}`, model, results: inputs.map((t) => result(textHit(t))) });
    }
    this.json(res, 404, { error: { message: `no route ${req.method} ${path}` } });
  }

  /** The category an image is flagged for, null when it passes, 'invalid' when it is not a base64 image data URL. */
  private async imageHit(url: string): Promise<string | null> {
    const m = /^data:(image\/(?:png|jpeg|webp|gif));base64,([A-Za-z0-9+/=]+)$/.exec(url);
    if (!m) return 'invalid';
    let mean: Rgb | null = null;
    try {
      const stats = await sharp(Buffer.from(m[2]!, 'base64')).stats();
      const [r, g, b] = stats.channels.map((c) => c.mean);
      mean = { r: r ?? 0, g: g ?? r ?? 0, b: b ?? r ?? 0 };
    } catch {
      return 'invalid';
    }
    const n = this.imageChecks.length + 1;
    const near = (c: Rgb) => Math.abs(c.r - mean.r) <= 12 && Math.abs(c.g - mean.g) <= 12 && Math.abs(c.b - mean.b) <= 12;
    const flagged = this.flagImageCalls.includes(n) || this.flaggedImageColors.some(near);
    this.imageChecks.push({ n, mime: m[1]!, mean, flagged });
    return flagged ? this.imageCategory : null;
  }

  private completion(body: any, content: string) {
    const promptTokens = Math.ceil(JSON.stringify(body?.messages ?? '').length / 4);
    const completionTokens = Math.ceil(content.length / 4);
    return {
      id: `chatcmpl-${randomUUID()}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body?.model ?? 'fake',
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content, refusal: null } }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
  }
}

/** Whether a moderation request body carries an image part. */
export function hasImageInput(body: any): boolean {
  return Array.isArray(body?.input) && body.input.some((p: any) => p?.type === 'image_url');
}

/** Text of all messages (string contents and text parts), for handlers and assertions. */
export function messageText(messages: any): string {
  if (!Array.isArray(messages)) return '';
  return messages
    .map((m) =>
      typeof m?.content === 'string'
        ? m.content
        : Array.isArray(m?.content)
          ? m.content
              .filter((p: any) => p?.type === 'text')
              .map((p: any) => p.text)
              .join('\n')
          : '',
    )
    .join('\n');
}

/** A small PNG whose color depends on the prompt (so different prompts give different bytes). */
export async function fakePng(prompt: string, salt = 0, size = 64): Promise<Buffer> {
  let h = 2166136261 + salt;
  for (const ch of prompt) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  const r = h & 255;
  const g = (h >>> 8) & 255;
  const b = (h >>> 16) & 255;
  return sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

export async function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAIServer> {
  return new FakeOpenAIServer(opts).start();
}
