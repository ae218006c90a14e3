/**
 * Crash-isolated sketch rendering for the evaluations.
 *
 * WORKAROUND: @resvg/resvg-js 2.6.2 panics and ABORTS the process (uncatchable) on some of the
 * sketch renderer's mirrored "symmetric" scenes (a clipped group reused through a mirrored <use>;
 * repro: prompt "colorful cyberpunk lavender azure secret moon symmetric oil painting", seed 417697).
 * Until the renderer avoids that construct, symmetric scenes are rendered in a child process; if the
 * child dies, the scene is re-rendered with composition 'balanced' (same prompt, same seed) and the
 * substitution is counted. Every other scene renders in-process as before.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GenerateOptions, GeneratedImage, ImageGenerator } from '../core/ports';
import { CancelledError } from '../core/errors';
import { parseSketchPrompt, renderSketch, type SceneSpec } from '../providers/imagegen/sketch';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'render-worker.ts');

interface Pending {
  resolve: (png: Buffer | null) => void;
}

export class SafeSketchRenderer {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Scenes the worker crashed on and that were re-rendered with a balanced composition. */
  substitutions: { prompt: string; seed: number }[] = [];

  private worker(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    child.on('message', (m: { id: number; png?: string; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve(m.png ? Buffer.from(m.png, 'base64') : null);
      this.idle();
    });
    child.on('exit', () => {
      if (this.child === child) this.child = null;
      // Everything in flight on the dead worker counts as crashed.
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.resolve(null);
      }
    });
    this.child = child;
    return child;
  }

  /** An idle worker must not keep the evaluation process alive; a busy one must. */
  private idle(): void {
    if (this.pending.size > 0 || !this.child) return;
    this.child.unref();
    (this.child.channel as unknown as { unref?: () => void } | null | undefined)?.unref?.();
  }

  private busy(child: ChildProcess): void {
    child.ref();
    (child.channel as unknown as { ref?: () => void } | null | undefined)?.ref?.();
  }

  private inWorker(prompt: string, seed: number, size: number): Promise<Buffer | null> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      const child = this.worker();
      this.busy(child);
      child.send({ id, prompt, seed, size });
    });
  }

  /** Renders `prompt` like SketchGenerator would; never takes the calling process down. */
  async render(prompt: string, seed: number, size: number, spec: SceneSpec = parseSketchPrompt(prompt)): Promise<Buffer> {
    if (spec.composition !== 'symmetric') return renderSketch(spec, { seed, size });
    const png = await this.inWorker(prompt, seed, size);
    if (png) return png;
    this.substitutions.push({ prompt, seed });
    return renderSketch({ ...spec, composition: 'balanced' }, { seed, size });
  }

  close(): void {
    this.child?.kill();
    this.child = null;
  }
}

/** SketchGenerator's behaviour through SafeSketchRenderer (for the optimizer loop in evaluations). */
export class SafeSketchGenerator implements ImageGenerator {
  readonly name = 'sketch';
  readonly model = 'sketch-v1';
  constructor(
    private readonly renderer: SafeSketchRenderer,
    private readonly size: number,
    readonly concurrency = 4,
  ) {}
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GeneratedImage> {
    if (opts.signal?.aborted) throw new CancelledError();
    const seed = (opts.seed ?? 0) >>> 0;
    const bytes = await this.renderer.render(prompt, seed, opts.size ?? this.size);
    return { bytes, generator: this.name, model: this.model, seed, costUsd: 0 };
  }
  describe(): string {
    return 'sketch (crash-isolated for evaluations)';
  }
}
