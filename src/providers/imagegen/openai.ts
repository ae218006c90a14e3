/**
 * OpenAI Images API generator (default gpt-image-1). gpt-image models always return b64_json;
 * dall-e models are asked for b64_json too, and a `url` reply (some compatible servers) is
 * downloaded at once, since such URLs expire within an hour. The Images API has no seed: results
 * are not reproducible and `seed` is not reported back.
 */
import type { GeneratedImage, GenerateOptions, ImageGenerator } from '../../core/ports';
import { ProviderError } from '../../core/errors';
import { callScope, downloadBytes } from '../http-util';
import { CountingOpenAI, billableAttempts, mapOpenAIError, type OpenAIConnection } from '../openai-client';
import { imageCostUsd, type ImagePrice } from '../pricing';
import { emitUsage, type UsageSink } from '../usage';

export interface OpenAIImageOptions extends OpenAIConnection {
  model?: string;
  /** gpt-image quality; the cost estimate follows it. Default 'low' (cheapest, enough for taste scoring). */
  quality?: 'low' | 'medium' | 'high' | 'auto';
  concurrency?: number;
  /** Overall deadline per image including retries (default: timeout × (retries+1) + 10 s). */
  deadlineMs?: number;
  onUsage?: UsageSink;
  prices?: Record<string, ImagePrice>;
}

const PROVIDER = 'openai';

/** The square size the model supports closest to the requested edge. */
export function openAIImageSize(model: string, edge = 1024): string {
  if (model.startsWith('dall-e-2')) {
    const sizes = [256, 512, 1024];
    const best = sizes.reduce((a, b) => (Math.abs(b - edge) < Math.abs(a - edge) ? b : a));
    return `${best}x${best}`;
  }
  return '1024x1024'; // gpt-image-1 and dall-e-3: the only square size
}

export class OpenAIImageGenerator implements ImageGenerator {
  readonly name = 'openai';
  readonly model: string;
  readonly concurrency: number;
  private readonly api: CountingOpenAI;

  constructor(private readonly opts: OpenAIImageOptions) {
    this.model = opts.model ?? 'gpt-image-1';
    this.concurrency = opts.concurrency ?? 4;
    this.api = new CountingOpenAI(opts);
  }

  describe(): string {
    return `openai images (${this.model}, timeout ${this.api.timeoutMs} ms, ${this.api.maxRetries} retries)`;
  }

  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GeneratedImage> {
    const scope = callScope(PROVIDER, this.opts.deadlineMs ?? this.api.defaultDeadlineMs(), opts.signal);
    const tracker = this.api.begin();
    const isGptImage = this.model.startsWith('gpt-image');
    let tokens: { in: number; out: number } | undefined;
    let ok = false;
    try {
      const res = await scope.race(
        this.api.client.images.generate(
          {
            model: this.model,
            prompt,
            n: 1,
            size: openAIImageSize(this.model, opts.size),
            ...(isGptImage ? { quality: this.opts.quality ?? 'low' } : { response_format: 'b64_json' as const }),
            ...(opts.userKey ? { user: opts.userKey.slice(0, 64) } : {}),
          },
          { signal: scope.signal, headers: tracker.headers },
        ),
      );
      if (res.usage) tokens = { in: res.usage.input_tokens, out: res.usage.output_tokens };
      const first = res.data?.[0];
      let bytes: Buffer;
      if (first?.b64_json) bytes = Buffer.from(first.b64_json, 'base64');
      else if (first?.url) bytes = await scope.race(downloadBytes(PROVIDER, first.url, scope.signal));
      else throw new ProviderError(PROVIDER, 'the Images API returned no image');
      if (bytes.length === 0) throw new ProviderError(PROVIDER, 'the Images API returned an empty image');
      ok = true;
      return { bytes, generator: this.name, model: this.model, costUsd: this.cost(1, tokens) };
    } catch (err) {
      throw mapOpenAIError(err, scope, this.api.timeoutMs);
    } finally {
      scope.dispose();
      tracker.end();
      // Attempts that may have rendered (5xx, no answer) are priced too: the ledger errs high.
      const billedImages = ok ? 1 + Math.max(0, billableAttempts(tracker.log) - 1) : billableAttempts(tracker.log);
      await emitUsage(this.opts.onUsage, {
        provider: PROVIDER,
        model: this.model,
        kind: 'image',
        tokensIn: tokens?.in ?? 0,
        tokensOut: tokens?.out ?? 0,
        images: ok ? 1 : 0,
        attempts: tracker.log.attempts,
        costUsd: this.cost(billedImages, ok ? tokens : undefined),
        runId: opts.runId,
        userKey: opts.userKey,
        ok,
      });
    }
  }

  private cost(images: number, tokens?: { in: number; out: number }): number {
    if (images === 0) return 0;
    // Token pricing covers the one successful image; extra billable attempts use the per-image price.
    if (tokens)
      return imageCostUsd(this.model, 1, tokens, this.opts.prices) + imageCostUsd(this.model, images - 1, undefined, this.opts.prices);
    return imageCostUsd(this.model, images, undefined, this.opts.prices);
  }
}
