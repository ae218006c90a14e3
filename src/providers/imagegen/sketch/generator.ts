/**
 * `sketch`: the offline stand-in image generator. It is NOT a diffusion model: it reads the prompt's
 * words into a small scene description (palette, mood, subjects, composition, medium) and paints that
 * scene procedurally as SVG, rasterized by resvg. The same (prompt, seed, size) always gives the same
 * PNG bytes.
 */
import type { GenerateOptions, GeneratedImage, ImageGenerator } from '../../../core/ports';
import { CancelledError } from '../../../core/errors';
import { undrawnWordsNote } from './limits';
import { parseSketchPrompt } from './parse';
import { renderSketch } from './render';

export interface SketchGeneratorOptions {
  size?: number;
  concurrency?: number;
}

export class SketchGenerator implements ImageGenerator {
  readonly name = 'sketch';
  readonly model = 'sketch-v1';
  readonly concurrency: number;
  private readonly defaultSize: number;

  constructor(opts: SketchGeneratorOptions = {}) {
    this.defaultSize = opts.size ?? 512;
    this.concurrency = opts.concurrency ?? 4;
  }

  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GeneratedImage> {
    if (opts.signal?.aborted) throw new CancelledError();
    const seed = (opts.seed ?? 0) >>> 0;
    const bytes = await renderSketch(parseSketchPrompt(prompt), { seed, size: opts.size ?? this.defaultSize });
    if (opts.signal?.aborted) throw new CancelledError();
    return { bytes, generator: this.name, model: this.model, seed, costUsd: 0 };
  }

  /** Names the prompt's words this stand-in does not draw (see limits.ts). */
  describeLimits(prompt: string): string | undefined {
    return undrawnWordsNote(prompt);
  }

  describe(): string {
    return `sketch (offline procedural renderer, a stand-in for a diffusion model; ${this.defaultSize}px)`;
  }
}
