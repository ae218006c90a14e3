/**
 * The hub side of the CLIP embedder: requests made through transformers.js's `env.fetch` with a stall
 * deadline, a record of what failed (so one clear error can name the URL), and download progress
 * logged every 10%. transformers.js itself has no timeout and logs nothing while it downloads.
 */

/** The slice of a pino logger the embedder uses (a pino Logger or child fits). */
export interface ClipLogger {
  info(fields: Record<string, unknown>, message: string): void;
}

/** Why a hub request failed, as seen by our fetch (transformers.js only sees an exception or a status). */
export type HubFailure =
  | { kind: 'stall'; url: string }
  | { kind: 'network'; url: string; reason: string; cause: unknown }
  | { kind: 'status'; url: string; status: number };

/** Thrown by the session's fetch, so a failure that bubbles out of transformers.js can be recognized by identity. */
export class HubRequestFailed extends Error {
  constructor(readonly failure: Exclude<HubFailure, { kind: 'status' }>) {
    super(failure.kind === 'stall' ? `no data from ${failure.url} (stalled)` : `could not reach ${failure.url}: ${failure.reason}`);
  }
}

/** Responses that may not carry a body (the Response constructor rejects one). */
export const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** A timer that fires once unless restarted; unref'd so a forgotten one never keeps the process alive. */
export class StallTimer {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly ms: number,
    private readonly onStall: () => void,
  ) {
    this.restart();
  }
  restart(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onStall, this.ms);
    this.timer.unref();
  }
  clear(): void {
    clearTimeout(this.timer);
  }
}

/**
 * The hub requests of one model load, made through `env.fetch`. Each request is abandoned when nothing
 * (no headers, no new body bytes) arrives for `stallMs`; after one stall every later request fails at once
 * with the same failure, so a dead hub costs one deadline, not one per file. Remembers which URLs it
 * fetched (to tell downloads from local reads in progress events) and which answered an error status.
 */
export class HubSession {
  private readonly fetchedUrls: string[] = [];
  private readonly statuses = new Map<string, number>();
  private readonly open = new Map<AbortController, StallTimer>();
  private stalled: HubRequestFailed | null = null;

  constructor(private readonly stallMs: number) {}

  readonly fetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    if (this.stalled) throw this.stalled;
    this.fetchedUrls.push(url);
    const abort = new AbortController();
    const stallError = new HubRequestFailed({ kind: 'stall', url });
    const timer = new StallTimer(this.stallMs, () => {
      this.stalled ??= stallError;
      abort.abort(stallError);
    });
    this.open.set(abort, timer);
    let res: Response;
    try {
      // The current global fetch, looked up per call (transformers bound its default at import time).
      res = await globalThis.fetch(input, { ...init, signal: abort.signal });
    } catch (err) {
      this.forget(abort);
      if (abort.signal.aborted) throw abort.signal.reason instanceof HubRequestFailed ? abort.signal.reason : err;
      throw new HubRequestFailed({ kind: 'network', url, reason: networkReason(err), cause: err });
    }
    if (res.status >= 400) this.statuses.set(url, res.status);
    return this.watchBody(res, abort, stallError);
  };

  /** Re-wraps the body so each chunk restarts the deadline, and a stall errors the stream with our failure. */
  private watchBody(res: Response, abort: AbortController, stallError: HubRequestFailed): Response {
    const timer = this.open.get(abort)!;
    if (!res.body || NULL_BODY_STATUSES.has(res.status)) {
      this.forget(abort);
      return res;
    }
    let streamController: TransformStreamDefaultController<Uint8Array> | undefined;
    const watched = new TransformStream<Uint8Array, Uint8Array>({
      start: (c) => {
        streamController = c;
      },
      transform: (chunk, c) => {
        timer.restart();
        c.enqueue(chunk);
      },
      flush: () => this.forget(abort),
    });
    abort.signal.addEventListener('abort', () => streamController?.error(abort.signal.reason ?? stallError), { once: true });
    timer.restart();
    return new Response(res.body.pipeThrough(watched), { status: res.status, statusText: res.statusText, headers: res.headers });
  }

  private forget(abort: AbortController): void {
    this.open.get(abort)?.clear();
    this.open.delete(abort);
  }

  /** True when `file` (e.g. "onnx/vision_model.onnx") was requested from the hub in this session. */
  fetchedFile(file: string): boolean {
    return this.fetchedUrls.some((url) => url.endsWith(`/${file}`));
  }

  /** The hub failure behind an error thrown out of transformers.js, if a hub request caused it. */
  failureBehind(err: unknown): HubFailure | undefined {
    for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
      if (e instanceof HubRequestFailed) return e.failure;
    }
    if (this.stalled) return this.stalled.failure;
    // transformers.js reports an error status as `<text>: "<url>".`; find the URL we saw fail.
    const quoted = /"(https?:\/\/[^"]+)"/.exec(String((err as Error)?.message ?? ''))?.[1];
    const status = quoted ? this.statuses.get(quoted) : undefined;
    return quoted && status ? { kind: 'status', url: quoted, status } : undefined;
  }

  /** Stops every request still open (their timers too). */
  close(): void {
    for (const [abort, timer] of this.open) {
      timer.clear();
      abort.abort();
    }
    this.open.clear();
  }
}

/** The most useful words of a failed fetch: undici hides the system error (ECONNREFUSED, ENOTFOUND) in `cause`. */
export function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}

/**
 * Aggregates transformers.js' per-file progress events into one download percentage and logs each 10% step.
 * It starts logging only once every file that was missing has reported its size, so the first line is not a
 * premature "100%" made of two small JSON files before the large ONNX file has started.
 */
export class DownloadProgress {
  private readonly files = new Map<string, { loaded: number; total: number }>();
  private lastStep = 0;
  private readonly startedAt = Date.now();

  constructor(
    private readonly model: string,
    private readonly expected: string[],
    private readonly isDownload: (file: string) => boolean,
    private readonly log: ClipLogger | undefined,
  ) {}

  onEvent(info: unknown): void {
    const e = info as { status?: string; file?: string; loaded?: number; total?: number };
    // 'progress' also fires for files read from disk; only bytes that came from the hub count.
    if (e.status !== 'progress' || typeof e.file !== 'string' || !this.isDownload(e.file)) return;
    this.files.set(e.file, { loaded: e.loaded ?? 0, total: e.total ?? 0 });
    this.report();
  }

  finish(): void {
    const { loaded } = this.sums();
    this.log?.info(
      { model: this.model, bytes: loaded, ms: Date.now() - this.startedAt },
      `CLIP model ${this.model} downloaded (${formatSize(loaded, loaded)}) in ${formatMs(Date.now() - this.startedAt)}`,
    );
  }

  private sums(): { loaded: number; total: number } {
    let loaded = 0;
    let total = 0;
    for (const f of this.files.values()) {
      loaded += f.loaded;
      // A response without Content-Length reports total 0: count what has arrived so far.
      total += Math.max(f.total, f.loaded);
    }
    return { loaded, total };
  }

  private report(): void {
    if (this.expected.some((f) => !this.files.has(f))) return;
    const { loaded, total } = this.sums();
    const step = total > 0 ? Math.floor((loaded / total) * 10) : 0;
    if (step <= this.lastStep) return;
    this.lastStep = step;
    this.log?.info(
      { model: this.model, percent: step * 10, loadedBytes: loaded, totalBytes: total },
      `CLIP model download ${step * 10}% (${formatSize(loaded, total)})`,
    );
  }
}

/** "45.1 of 150.3 MB" (kB below 1 MB, so a tiny file does not read "0.0 of 0.0 MB"). */
export function formatSize(loaded: number, total: number): string {
  const [unit, div] = total >= 1e6 ? ['MB', 1e6] : ['kB', 1e3];
  const part = (n: number) => (n / div).toFixed(1);
  return loaded === total ? `${part(total)} ${unit}` : `${part(loaded)} of ${part(total)} ${unit}`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`;
}
