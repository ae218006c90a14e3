/**
 * One `openai` client per configuration, with the client's own retries as the only retry layer
 * (it retries 408/409/429/5xx and connection errors, honoring Retry-After / retry-after-ms). A thin
 * fetch wrapper around it
 *  - counts the HTTP attempts of each logical call (tagged by a private header it strips before
 *    sending), so usage records carry attempts and the ledger can price them, and
 *  - stops retries on `insufficient_quota` 429s (retrying a spent quota only burns time) by adding
 *    the client's own `x-should-retry: false` hint.
 */
import OpenAI from 'openai';
import { randomUUID } from 'node:crypto';
import { CancelledError, ProviderError, ProviderTimeoutError, QuotaExceededError } from '../core/errors';
import type { CallScope } from './http-util';

const CALL_HEADER = 'x-tasteloop-call';

export interface OpenAIConnection {
  apiKey: string;
  /** Any OpenAI-compatible server (Ollama, vLLM, OpenRouter, or a test fake). */
  baseURL?: string;
  /** Per-attempt timeout in ms (the client's default is 10 minutes). */
  timeoutMs?: number;
  /** Client retries on 429/5xx/timeouts (default 2). */
  maxRetries?: number;
  /** For tests or proxies; defaults to global fetch. */
  fetch?: typeof fetch;
}

export interface AttemptLog {
  /** HTTP requests sent for this call. */
  attempts: number;
  /** Status of each attempt, or 'error' for a connection failure/timeout. */
  outcomes: (number | 'error')[];
}

export class CountingOpenAI {
  readonly client: OpenAI;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  private readonly logs = new Map<string, AttemptLog>();

  constructor(conn: OpenAIConnection) {
    this.timeoutMs = conn.timeoutMs ?? 60_000;
    this.maxRetries = conn.maxRetries ?? 2;
    const base = conn.fetch ?? globalThis.fetch;
    const logs = this.logs;
    const counting = async (url: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const headers = new Headers(init?.headers);
      const id = headers.get(CALL_HEADER);
      headers.delete(CALL_HEADER);
      const log = id ? logs.get(id) : undefined;
      if (log) log.attempts += 1;
      let res: Response;
      try {
        res = await base(url, { ...init, headers });
      } catch (err) {
        log?.outcomes.push('error');
        throw err;
      }
      log?.outcomes.push(res.status);
      if (res.status === 429) {
        const text = await res.text();
        const h = new Headers(res.headers);
        if (/insufficient_quota/.test(text)) h.set('x-should-retry', 'false');
        return new Response(text, { status: res.status, statusText: res.statusText, headers: h });
      }
      return res;
    };
    this.client = new OpenAI({
      apiKey: conn.apiKey,
      baseURL: conn.baseURL,
      timeout: this.timeoutMs,
      maxRetries: this.maxRetries,
      fetch: counting,
    });
  }

  /** Starts a logical call: pass `headers` in the request options; read `log` afterwards; `end()` in finally. */
  begin(): { headers: Record<string, string>; log: AttemptLog; end(): void } {
    const id = randomUUID();
    const log: AttemptLog = { attempts: 0, outcomes: [] };
    this.logs.set(id, log);
    return { headers: { [CALL_HEADER]: id }, log, end: () => this.logs.delete(id) };
  }

  /** Default overall deadline of a call: every attempt may use its timeout, plus backoff room. */
  defaultDeadlineMs(): number {
    return this.timeoutMs * (this.maxRetries + 1) + 10_000;
  }
}

/** Maps openai SDK errors (and scope aborts) to the core's typed errors. */
export function mapOpenAIError(err: unknown, scope: CallScope, timeoutMs: number, provider = 'openai'): Error {
  const scoped = scope.mapError(err);
  if (scoped instanceof ProviderTimeoutError || scoped instanceof CancelledError) return scoped;
  if (err instanceof ProviderError) return err;
  if (err instanceof OpenAI.APIUserAbortError) return scope.abortError() ?? new CancelledError();
  if (err instanceof OpenAI.APIConnectionTimeoutError) return new ProviderTimeoutError(provider, timeoutMs);
  if (err instanceof OpenAI.APIError) {
    if (err.status === 429 && err.code === 'insufficient_quota') {
      return new QuotaExceededError(provider, 'the account has no quota left (insufficient_quota); add credit or lower usage', {
        cause: err,
        status: 429,
      });
    }
    if (err.status === undefined) return new ProviderError(provider, `connection failed: ${err.message}`, { cause: err });
    const what = err.status === 429 ? 'rate limited (429) after retries' : `HTTP ${err.status}`;
    return new ProviderError(provider, `${what}: ${shorten(err.message)}`, { cause: err, status: err.status as number });
  }
  return err instanceof Error ? err : new ProviderError(provider, String(err));
}

/** Whether an attempt may have been processed (and billed) by the server: success, 5xx or no answer. */
export function billableAttempts(log: AttemptLog): number {
  return log.outcomes.filter((o) => o === 'error' || o >= 500 || (o >= 200 && o < 300)).length;
}

function shorten(s: string, max = 300): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
