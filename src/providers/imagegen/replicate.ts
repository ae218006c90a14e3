/**
 * Replicate image generator (default black-forest-labs/flux-schnell) on the official `replicate`
 * client: create a prediction, poll it, download the image bytes at once (output URLs expire).
 *
 * Retries: replicate 1.4's own layer (util.withAutomaticRetries) retries 429 up to 5 times but
 * never reads Retry-After (it only looks for it on thrown ApiErrors, and the sleep it computes is
 * NaN → immediate) and has no backoff. So the one real retry layer is ours, in the `fetch` we give
 * the client: bounded retries with backoff honoring Retry-After on 429 (and 5xx for idempotent GETs),
 * abortable. When ours gives up it throws a *sticky* error for the rest of the call, so the client's
 * loop re-calls us without touching the network: one layer of network retries.
 *
 * Deadline and cancellation: every request carries the call's signal; on deadline or caller
 * abort we stop waiting at once, cancel the prediction (POST /predictions/{id}/cancel, best effort,
 * short deadline of its own) and throw ProviderTimeoutError / CancelledError.
 *
 * Output shapes: replicate.run() wraps only https: and data: strings in FileOutput; plain http URLs
 * (and anything else) come back as strings. Both are handled, as are arrays and single values.
 *
 * Webhook mode (REPLICATE_WEBHOOK_URL, `webhook` option): the prediction is created with `webhook`
 * and `webhook_events_filter: ['completed']`, and the call waits for the verified completion from
 * the receiver (src/providers/replicate-webhook.ts) instead of polling. If none arrives within
 * `webhook.waitMs` (default 30 s) it falls back to polling — and a webhook arriving during the
 * polling still wins. Deadline, cancel and usage work as in polling mode.
 */
import Replicate from 'replicate';
import type { GeneratedImage, GenerateOptions, ImageGenerator } from '../../core/ports';
import { CancelledError, ProviderError, ProviderTimeoutError } from '../../core/errors';
import { backoffMs, callScope, downloadBytes, parseRetryAfter, sleep, type CallScope, MAX_IMAGE_DOWNLOAD_BYTES } from '../http-util';
import { imageCostUsd, type ImagePrice } from '../pricing';
import type { CompletedPrediction, PredictionWaiter } from '../replicate-webhook';
import { emitUsage, type UsageSink } from '../usage';

export interface ReplicateOptions {
  /** REPLICATE_API_TOKEN */
  auth: string;
  /** REPLICATE_BASE_URL (default https://api.replicate.com/v1). */
  baseUrl?: string;
  /** owner/name or owner/name:version (REPLICATE_MODEL). */
  model?: string;
  /** Extra model inputs merged into every prediction (REPLICATE_INPUT), e.g. {"num_inference_steps": 4}. */
  input?: Record<string, unknown>;
  /** Deadline per image, create → download (IMAGEGEN_TIMEOUT_MS; default 120 s). */
  timeoutMs?: number;
  /** Poll interval while the prediction runs (default 500 ms, the client's own default). */
  pollIntervalMs?: number;
  /** Retries per HTTP request on 429 (and 5xx for GETs); default 3. */
  maxRetries?: number;
  /** Backoff base when there is no Retry-After (default 500 ms). */
  backoffBaseMs?: number;
  /** Longest Retry-After we accept; beyond it we give up rather than sleep (default 60 s). */
  maxRetryAfterMs?: number;
  /** Deadline of the best-effort cancel request (default 5 s). */
  cancelTimeoutMs?: number;
  concurrency?: number;
  onUsage?: UsageSink;
  prices?: Record<string, ImagePrice>;
  fetch?: typeof fetch;
  /** Webhook mode: the public URL Replicate posts completions to, and the receiver behind it. */
  webhook?: {
    url: string;
    receiver: PredictionWaiter;
    /** How long to wait for the webhook before polling as well (default 30 s). */
    waitMs?: number;
  };
}

const PROVIDER = 'replicate';
const DEFAULT_WEBHOOK_WAIT_MS = 30_000;

interface CallLedger {
  /** POSTs that tried to create the prediction (1 + retries). */
  createAttempts: number;
  /** All HTTP requests of the call. */
  requests: number;
  predictionId?: string;
  /** Whether the prediction started running (and may be billed). */
  started: boolean;
}

export class ReplicateImageGenerator implements ImageGenerator {
  readonly name = 'replicate';
  readonly model: string;
  readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly baseFetch: typeof fetch;

  constructor(private readonly opts: ReplicateOptions) {
    this.model = opts.model ?? 'black-forest-labs/flux-schnell';
    this.concurrency = opts.concurrency ?? 4;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.baseFetch = opts.fetch ?? globalThis.fetch;
  }

  describe(): string {
    const mode = this.opts.webhook ? `, completion webhooks at ${redactedUrl(this.opts.webhook.url)} with polling fallback` : '';
    return `replicate (${this.model}, timeout ${this.timeoutMs} ms${mode})`;
  }

  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GeneratedImage> {
    const scope = callScope(PROVIDER, this.timeoutMs, opts.signal);
    const ledger: CallLedger = { createAttempts: 0, requests: 0, started: false };
    const client = new Replicate({
      auth: this.opts.auth,
      baseUrl: this.opts.baseUrl,
      fetch: this.retryingFetch(scope, ledger),
    });
    const input: Record<string, unknown> = { ...(this.opts.input ?? {}), prompt };
    if (opts.seed !== undefined) input.seed = opts.seed;
    let ok = false;
    try {
      const output = this.opts.webhook
        ? await this.runWithWebhook(client, input, scope, ledger, this.opts.webhook)
        : await scope.race(
            client.run(
              this.model as `${string}/${string}`,
              { input, signal: scope.signal, wait: { mode: 'poll', interval: this.opts.pollIntervalMs ?? 500 } },
              (p: { id?: string; status?: string }) => {
                if (p.id) ledger.predictionId = p.id;
                if (p.status && p.status !== 'starting') ledger.started = true;
              },
            ),
          );
      if (scope.reason) throw scope.abortError() ?? new CancelledError();
      const bytes = await scope.race(this.download(output, scope));
      ok = true;
      return {
        bytes,
        generator: this.name,
        model: this.model,
        seed: opts.seed,
        costUsd: imageCostUsd(this.model, 1, undefined, this.opts.prices),
      };
    } catch (err) {
      const mapped = scope.mapError(err);
      if ((mapped instanceof ProviderTimeoutError || mapped instanceof CancelledError) && ledger.predictionId) {
        await this.cancel(ledger.predictionId);
      }
      throw toProviderError(mapped);
    } finally {
      scope.dispose();
      await emitUsage(this.opts.onUsage, {
        provider: PROVIDER,
        model: this.model,
        kind: 'image',
        tokensIn: 0,
        tokensOut: 0,
        images: ok ? 1 : 0,
        attempts: Math.max(1, ledger.createAttempts),
        // A prediction that ran and then failed or was cancelled may still be billed: count it.
        costUsd: ok || ledger.started ? imageCostUsd(this.model, 1, undefined, this.opts.prices) : 0,
        runId: opts.runId,
        userKey: opts.userKey,
        ok,
      });
    }
  }

  /**
   * Create with a completion webhook; wait for it, polling only if it does not come in time. Returns
   * the prediction's output (plain strings, as the API sends them).
   */
  private async runWithWebhook(
    client: Replicate,
    input: Record<string, unknown>,
    scope: CallScope,
    ledger: CallLedger,
    hook: NonNullable<ReplicateOptions['webhook']>,
  ): Promise<unknown> {
    const [model = this.model, version] = this.model.split(':');
    const created = (await scope.race(
      client.predictions.create({
        ...(version ? { version } : { model }),
        input,
        webhook: hook.url,
        webhook_events_filter: ['completed'],
      }),
    )) as unknown as { id: string; status: string; output?: unknown; error?: unknown };
    ledger.predictionId = created.id;
    const waiting = hook.receiver.waitFor(created.id);
    const stopPolling = new AbortController();
    let settled = false;
    try {
      let final: { status: string; output?: unknown; error?: unknown } = created;
      if (!['succeeded', 'failed', 'canceled'].includes(created.status)) {
        const polled = (async () => {
          await sleep(hook.waitMs ?? DEFAULT_WEBHOOK_WAIT_MS, AbortSignal.any([scope.signal, stopPolling.signal]));
          return client.wait(created as never, { interval: this.opts.pollIntervalMs ?? 500 }, (p: { status?: string }) => {
            if (p.status && p.status !== 'starting') ledger.started = true;
            return Promise.resolve(settled);
          });
        })();
        polled.catch(() => undefined); // the losing branch may fail after the race is decided
        final = await scope.race(Promise.race<CompletedPrediction | { status: string }>([waiting.promise, polled]));
      }
      ledger.started = true;
      if (final.status === 'failed') {
        const why = final.error ?? 'unknown error';
        throw new ProviderError(PROVIDER, `prediction failed: ${typeof why === 'string' ? why : JSON.stringify(why)}`.slice(0, 300));
      }
      if (final.status !== 'succeeded') throw new ProviderError(PROVIDER, `prediction ended as ${String(final.status).slice(0, 40)}`);
      return final.output;
    } finally {
      settled = true;
      stopPolling.abort();
      waiting.dispose();
    }
  }

  /** Best-effort cancel with its own short deadline (the call's signal is already aborted). */
  private async cancel(id: string): Promise<void> {
    const scope = callScope(PROVIDER, this.opts.cancelTimeoutMs ?? 5000);
    try {
      const client = new Replicate({
        auth: this.opts.auth,
        baseUrl: this.opts.baseUrl,
        fetch: (url: RequestInfo | URL, init?: RequestInit) => this.baseFetch(url, { ...init, signal: scope.signal }),
      });
      await scope.race(client.predictions.cancel(id));
    } catch {
      // The prediction may already be done; a failed cancel must not hide the original error.
    } finally {
      scope.dispose();
    }
  }

  private async download(output: unknown, scope: CallScope): Promise<Buffer> {
    const item = firstOutput(output);
    if (item === undefined) throw new ProviderError(PROVIDER, `${this.model} returned no image output`);
    if (typeof item === 'string') return downloadBytes(PROVIDER, item, scope.signal, this.baseFetch);
    // FileOutput: its stream started downloading (through our fetch) the moment run() returned.
    try {
      const blob = await item.blob();
      if (blob.size === 0) throw new ProviderError(PROVIDER, 'image download returned no bytes');
      if (blob.size > MAX_IMAGE_DOWNLOAD_BYTES) throw new ProviderError(PROVIDER, `image larger than ${MAX_IMAGE_DOWNLOAD_BYTES} bytes`);
      return Buffer.from(await blob.arrayBuffer());
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      throw new ProviderError(
        PROVIDER,
        `image download failed (the URL may have expired): ${String((err as Error)?.message ?? err).slice(0, 200)}`,
        {
          cause: err,
        },
      );
    }
  }

  /**
   * The one network retry layer (see the file comment). `ledger` counts requests; the scope's
   * signal goes on every request whatever the client passes.
   */
  private retryingFetch(scope: CallScope, ledger: CallLedger): typeof fetch {
    const maxRetries = this.opts.maxRetries ?? 3;
    const base = this.opts.backoffBaseMs ?? 500;
    const maxRetryAfter = this.opts.maxRetryAfterMs ?? 60_000;
    let gaveUp: Error | undefined;
    const f = async (url: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      if (gaveUp) throw gaveUp;
      const method = (init?.method ?? 'GET').toUpperCase();
      const path = new URL(typeof url === 'string' || url instanceof URL ? url : url.url).pathname;
      const isCreate = method === 'POST' && /\/predictions$/.test(path);
      for (let attempt = 0; ; attempt++) {
        if (isCreate) ledger.createAttempts += 1;
        ledger.requests += 1;
        let res: Response;
        try {
          res = await this.baseFetch(url, { ...init, signal: scope.signal });
        } catch (err) {
          if (scope.reason) throw (gaveUp = scope.abortError() ?? new CancelledError());
          // Connection failures: only idempotent GETs are retried (a POST may have created a prediction).
          if (method === 'GET' && attempt < maxRetries) {
            await this.pause(backoffMs(attempt, base), scope, (e) => (gaveUp = e));
            continue;
          }
          throw (gaveUp = new ProviderError(PROVIDER, `connection failed: ${(err as Error).message}`, { cause: err }));
        }
        const retryable = res.status === 429 || (res.status >= 500 && method === 'GET');
        if (!retryable) return res;
        const retryAfter = parseRetryAfter(res.headers);
        await res.body?.cancel().catch(() => undefined);
        if (attempt >= maxRetries || (retryAfter !== undefined && retryAfter > maxRetryAfter)) {
          const what = res.status === 429 ? 'rate limited (429)' : `HTTP ${res.status}`;
          throw (gaveUp = new ProviderError(PROVIDER, `${what} after ${attempt + 1} attempts; try again later`, { status: res.status }));
        }
        await this.pause(retryAfter ?? backoffMs(attempt, base), scope, (e) => (gaveUp = e));
      }
    };
    return f;
  }

  private async pause(ms: number, scope: CallScope, onAbort: (e: Error) => void): Promise<void> {
    try {
      await sleep(ms, scope.signal);
    } catch {
      const e = scope.abortError() ?? new CancelledError();
      onAbort(e);
      throw e;
    }
  }
}

type FileOutputLike = { blob(): Promise<Blob>; url(): URL };

function isFileOutput(v: unknown): v is FileOutputLike {
  return (
    !!v && typeof v === 'object' && typeof (v as FileOutputLike).blob === 'function' && typeof (v as FileOutputLike).url === 'function'
  );
}

/** The first image of a model's output: a string URL, a FileOutput, or the first of an array/object. */
export function firstOutput(output: unknown): string | FileOutputLike | undefined {
  if (typeof output === 'string') return output;
  if (isFileOutput(output)) return output;
  if (Array.isArray(output)) {
    for (const item of output) {
      const found = firstOutput(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (output && typeof output === 'object') return firstOutput(Object.values(output));
  return undefined;
}

/** The URL without query or credentials (for logs). */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function toProviderError(err: unknown): Error {
  if (err instanceof ProviderError || err instanceof CancelledError) return err;
  const msg = String((err as Error)?.message ?? err);
  const status = (err as { response?: { status?: number } })?.response?.status;
  if (/^Prediction failed/.test(msg))
    return new ProviderError(PROVIDER, msg.replace(/^Prediction failed:\s*/, 'prediction failed: ').slice(0, 300), { cause: err });
  return new ProviderError(PROVIDER, msg.slice(0, 300), { cause: err, status });
}
