/**
 * Shared deadline/cancellation plumbing for provider calls. A `CallScope` combines the caller's
 * AbortSignal with a deadline into one signal handed to the SDK, and maps whichever fired first to
 * the core's typed errors: deadline → ProviderTimeoutError, caller → CancelledError.
 *
 * `race()` matters because SDKs do not always watch the signal (the openai client sleeps through a
 * Retry-After without checking it; replicate's poll loop checks it only between polls): we stop
 * waiting at once and let the abandoned SDK promise settle in the background.
 */
import { CancelledError, ProviderError, ProviderTimeoutError } from '../core/errors';

export interface CallScope {
  /** Aborts on deadline or caller cancel; pass it to every request of the call. */
  readonly signal: AbortSignal;
  /** Whether (and why) the scope ended early. */
  readonly reason: 'timeout' | 'cancelled' | null;
  /** The typed error for the current abort reason (null while running). */
  abortError(): ProviderTimeoutError | CancelledError | null;
  /** Resolves/rejects with `p`, or rejects with the typed error as soon as the scope aborts. */
  race<T>(p: Promise<T>): Promise<T>;
  /** Maps an error thrown inside the scope: abort-caused errors become the typed error. */
  mapError(err: unknown): unknown;
  /** Clears the timer and listener. Always call (finally). */
  dispose(): void;
}

export function callScope(provider: string, deadlineMs: number, external?: AbortSignal): CallScope {
  const controller = new AbortController();
  let reason: 'timeout' | 'cancelled' | null = null;
  const onExternalAbort = () => {
    if (reason) return;
    reason = 'cancelled';
    controller.abort(new CancelledError());
  };
  const timer = setTimeout(() => {
    if (reason) return;
    reason = 'timeout';
    controller.abort(new ProviderTimeoutError(provider, deadlineMs));
  }, deadlineMs);
  timer.unref?.();
  if (external?.aborted) onExternalAbort();
  else external?.addEventListener('abort', onExternalAbort, { once: true });

  const abortError = () =>
    reason === 'timeout' ? new ProviderTimeoutError(provider, deadlineMs) : reason === 'cancelled' ? new CancelledError() : null;

  const aborted = new Promise<never>((_resolve, reject) => {
    // The controller aborts only after `reason` is set, so abortError() is never null here.
    const fire = () => reject(abortError() ?? new CancelledError());
    if (controller.signal.aborted) fire();
    else controller.signal.addEventListener('abort', fire, { once: true });
  });
  // A rejection nobody awaited must not crash the process.
  aborted.catch(() => undefined);

  return {
    signal: controller.signal,
    get reason() {
      return reason;
    },
    abortError,
    race<T>(p: Promise<T>): Promise<T> {
      p.catch(() => undefined); // the loser of the race may reject later, unobserved
      return Promise.race([p, aborted]).catch((err: unknown) => {
        throw this.mapError(err);
      });
    },
    mapError(err: unknown): unknown {
      if (err instanceof ProviderTimeoutError || err instanceof CancelledError) return err;
      return abortError() ?? err;
    },
    dispose() {
      clearTimeout(timer);
      external?.removeEventListener('abort', onExternalAbort);
    },
  };
}

/** Sleeps `ms`, rejecting early (with the signal's reason) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- documented contract: rejects with the signal's own abort reason, unchanged (a call scope aborts with its typed CancelledError or ProviderTimeoutError)
    const rejectWithReason = () => reject(signal?.reason);
    if (signal?.aborted) return rejectWithReason();
    const t = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    const onAbort = () => {
      clearTimeout(t);
      rejectWithReason();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); also the
 * non-standard retry-after-ms. Undefined when absent or unparsable.
 */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.max(0, Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with jitter: base·2^attempt, capped, ±25 %. */
export function backoffMs(attempt: number, baseMs = 500, capMs = 8000, random = Math.random): number {
  const raw = Math.min(capMs, baseMs * 2 ** attempt);
  return raw * (0.75 + 0.5 * random());
}

export const MAX_IMAGE_DOWNLOAD_BYTES = 50 * 1024 * 1024;

/** Decodes a data: URL (base64 or percent-encoded). */
export function decodeDataUrl(url: string): { mime: string; bytes: Buffer } {
  const m = /^data:([^;,]*)((?:;[^;,]*)*?)(;base64)?,(.*)$/s.exec(url);
  if (!m) throw new Error('malformed data: URL');
  const mime = m[1] || 'application/octet-stream';
  const payload = m[4] ?? '';
  const bytes = m[3] ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'utf8');
  return { mime, bytes };
}

/**
 * Downloads image bytes right away (provider URLs expire within an hour): data: URLs are decoded,
 * http(s) URLs fetched with the scope's signal and a size cap. Errors are ProviderErrors.
 */
export async function downloadBytes(
  provider: string,
  url: string,
  signal: AbortSignal,
  fetchImpl: typeof fetch = fetch,
  maxBytes = MAX_IMAGE_DOWNLOAD_BYTES,
): Promise<Buffer> {
  if (url.startsWith('data:')) {
    const { bytes } = decodeDataUrl(url);
    if (bytes.length > maxBytes) throw new ProviderError(provider, `image larger than ${maxBytes} bytes`);
    return bytes;
  }
  if (!/^https?:\/\//i.test(url)) throw new ProviderError(provider, `unexpected image URL scheme in ${url.slice(0, 40)}`);
  const res = await fetchImpl(url, { signal });
  if (!res.ok) {
    throw new ProviderError(provider, `image download failed with HTTP ${res.status} (the URL may have expired)`, { status: res.status });
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw new ProviderError(provider, `image larger than ${maxBytes} bytes`);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.length > maxBytes) throw new ProviderError(provider, `image larger than ${maxBytes} bytes`);
  if (bytes.length === 0) throw new ProviderError(provider, 'image download returned no bytes');
  return bytes;
}
