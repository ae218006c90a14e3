/**
 * `npm run bench:loop [-- --l-img 1500 --l-llm 800 --iterations 3 --seed 0 --size 512]`
 *
 * How much does the optimization loop itself cost on top of its providers? Fake providers add fixed
 * latencies — every image takes L_img, every LLM call (proposal or feedback) L_llm — and the real
 * loop (src/core/optimizer/loop.ts `runIteration`) runs with real work around them: prompt hygiene,
 * sha256 content addressing of the PNG bytes, scoring each image through an embedding + linear
 * scorer, feedback assembly, events.
 *
 * Critical path of one iteration, if everything but provider latency were free and every provider
 * call of a stage ran in parallel:
 *   iteration 0:           L_img (initial prompt) + L_llm (initial proposals)
 *   iterations 1..K−1:     L_img + L_llm (feedback, when the feedback set has text) + L_llm (proposals)
 *   iteration K (last):    L_img (no proposals after the last iteration)
 * overhead_ratio = Σ wall time ÷ Σ critical path, for N = 4 and N = 16 candidates. The fake image
 * provider allows N concurrent calls (its concurrency is a configuration, not the loop's choice); the
 * loop sends all N feedback requests at once (LoopDeps.feedbackConcurrency, default 16) and embeds
 * each image as soon as it is stored (Objective.prepare, like EmbeddingService's cache in production),
 * then scores the batch once.
 *
 * Last stdout line: JSON {overhead_ratio_n4, overhead_ratio_n16, …, l_img_ms, l_llm_ms, seed}.
 */
import { sleep as abortableSleep } from '../../providers/http-util';
import { createHash } from 'node:crypto';
import { CancelledError } from '../../core/errors';
import type { FeedbackLlm, GeneratedImage, GenerateOptions, ImageGenerator, PromptOptimizerLlm, ProposeRequest } from '../../core/ports';
import type { FeedbackSet } from '../../core/optimizer/events';
import { initialState, runIteration, type LoopDeps, type Objective } from '../../core/optimizer/loop';
import { LlmProposer } from '../../core/optimizer/llm';
import type { RunParams } from '../../core/optimizer/params';
import { parseSketchPrompt } from '../../providers/imagegen/sketch/parse';
import { renderSketch } from '../../providers/imagegen/sketch/render';
import { embedPngs, embedderForEval } from '../embedding';
import { MemoryImageStore } from '../memory-store';
import { runMain, parseArgs, progress } from '../cli';

/** The shared abortable sleep, failing with CancelledError as a cancelled provider call does. */
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  abortableSleep(ms, signal).catch(() => {
    throw new CancelledError();
  });

/** Returns one of a few real sketch PNGs after L_img (content differs per prompt, so scoring is real). */
class LatencyImageGenerator implements ImageGenerator {
  readonly name = 'fake-latency';
  readonly model = 'fixed-latency';
  constructor(
    private readonly images: Buffer[],
    private readonly latencyMs: number,
    readonly concurrency: number,
  ) {}
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GeneratedImage> {
    await sleep(this.latencyMs, opts.signal);
    const h = createHash('sha256').update(prompt).digest();
    // Distinct bytes per prompt, so every candidate gets its own content address: the prompt's
    // hash is appended after the PNG's end (the objective strips it again before decoding).
    const base = this.images[h.readUInt16BE(0) % this.images.length] as Buffer;
    return { bytes: Buffer.concat([base, h]), generator: this.name, model: this.model, seed: opts.seed, costUsd: 0 };
  }
  describe(): string {
    return `fake image generator (${this.latencyMs} ms)`;
  }
}

class LatencyLlm implements PromptOptimizerLlm, FeedbackLlm {
  readonly model = 'fake-llm';
  calls = 0;
  constructor(private readonly latencyMs: number) {}
  async proposePrompts(req: ProposeRequest): Promise<string[]> {
    this.calls++;
    await sleep(this.latencyMs, req.signal);
    const it = (req.history?.length ?? req.previousPrompts?.length ?? 0) + this.calls;
    const moods = ['warm', 'moody', 'neon', 'pastel', 'golden hour', 'night', 'misty', 'vibrant'];
    return Array.from({ length: req.n }, (_, k) => `${req.initialPrompt}, ${moods[(it + k) % moods.length]}, variant ${it}-${k}`);
  }
  async feedback(req: { prompt: string; score: number; signal?: AbortSignal }): Promise<string> {
    this.calls++;
    await sleep(this.latencyMs, req.signal);
    return `Score ${req.score.toFixed(1)}: try warmer light and a simpler composition.`;
  }
}

export interface LoopBenchOptions {
  lImgMs: number;
  lLlmMs: number;
  iterations: number;
  candidates: number;
  feedback: FeedbackSet;
  seed: number;
}

export interface LoopBenchResult {
  wallMs: number;
  criticalMs: number;
  ratio: number;
  perIteration: { iteration: number; wallMs: number; criticalMs: number }[];
}

export async function benchLoop(opts: LoopBenchOptions, images: Buffer[]): Promise<LoopBenchResult> {
  const embedder = await embedderForEval();
  // A fixed linear scorer over the real embedding: the scoring work is real, its values don't matter.
  const w = Float64Array.from({ length: embedder.dim }, (_, j) => Math.sin(j + 1));
  const store = new MemoryImageStore();
  const llm = new LatencyLlm(opts.lLlmMs);
  // Vectors cached by image id, as EmbeddingService does in production; `prepare` embeds each image
  // as soon as the loop has stored it.
  const cache = new Map<string, Promise<Float32Array>>();
  const vectorOf = (id: string) => {
    let v = cache.get(id);
    if (!v) {
      v = store.readBytes(id).then(async (b) => (await embedPngs(embedder, [b.subarray(0, b.length - 32)]))[0]!);
      cache.set(id, v);
    }
    return v;
  };
  const objective: Objective = {
    describe: () => 'bench objective (features + linear)',
    async prepare(id) {
      await vectorOf(id);
    },
    async score(ids) {
      const vecs = await Promise.all(ids.map(vectorOf));
      const scores = vecs.map((v) => {
        let s = 0;
        for (let j = 0; j < v.length; j++) s += (w[j] as number) * (v[j] as number);
        return { score: 5.5 + s, memberScores: { bench: 5.5 + s } };
      });
      return { scores, scorerN: 0 };
    },
  };
  const deps: LoopDeps = {
    generator: new LatencyImageGenerator(images, opts.lImgMs, opts.candidates),
    store,
    objective,
    proposer: new LlmProposer(llm, opts.feedback),
    feedbackLlm: llm,
  };
  const params: RunParams = {
    prompt: 'a quiet harbor at dawn',
    objective: 'single',
    members: ['bench'],
    candidates: opts.candidates,
    iterations: opts.iterations,
    feedback: opts.feedback,
    optimizer: 'llm',
    seed: opts.seed,
    patience: null,
    budget: {},
  };
  const fb = opts.feedback === 's+p+f' || opts.feedback === 's+p+f+I';
  let state = initialState(params);
  const perIteration: LoopBenchResult['perIteration'] = [];
  while (!state.stopReason) {
    const it = state.iteration;
    const t0 = performance.now();
    const r = await runIteration(state, params, deps, { runId: 'bench' });
    const wallMs = performance.now() - t0;
    state = r.state;
    const last = Boolean(state.stopReason);
    const criticalMs = opts.lImgMs + (last ? 0 : opts.lLlmMs + (it > 0 && fb ? opts.lLlmMs : 0));
    perIteration.push({ iteration: it, wallMs, criticalMs });
  }
  const wallMs = perIteration.reduce((a, p) => a + p.wallMs, 0);
  const criticalMs = perIteration.reduce((a, p) => a + p.criticalMs, 0);
  return { wallMs, criticalMs, ratio: wallMs / criticalMs, perIteration };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), { 'l-img': 1500, 'l-llm': 800, iterations: 3, seed: 0, size: 512 });
  const lImgMs = Number(args['l-img']);
  const lLlmMs = Number(args['l-llm']);
  const iterations = Number(args.iterations);
  const seed = Number(args.seed);
  const size = Number(args.size);
  // Real sketch renders at the product's default size, so embedding/scoring costs what it costs live.
  const prompts = [
    'warm golden hour mountains',
    'neon city at night',
    'pastel flowers watercolor',
    'stormy sea ink',
    'minimal desert sun',
    'busy forest oil painting',
  ];
  const images = await Promise.all(prompts.map((p, i) => renderSketch(parseSketchPrompt(p), { seed: seed + i, size })));
  const out: Record<string, number | string> = {};
  for (const [feedback, suffix] of [
    ['s+p+f', ''],
    ['s+p', '_nofeedback'],
  ] as const) {
    for (const n of [4, 16]) {
      progress(`bench:loop N=${n} feedback=${feedback} …`);
      const r = await benchLoop({ lImgMs, lLlmMs, iterations, candidates: n, feedback, seed }, images);
      progress(
        `  wall ${r.wallMs.toFixed(0)} ms, critical path ${r.criticalMs.toFixed(0)} ms, ratio ${r.ratio.toFixed(3)}; per iteration: ${r.perIteration.map((p) => `${p.iteration}:${(p.wallMs / p.criticalMs).toFixed(2)}`).join(' ')}`,
      );
      out[`overhead_ratio_n${n}${suffix}`] = Number(r.ratio.toFixed(4));
    }
  }
  const summary = { ...out, l_img_ms: lImgMs, l_llm_ms: lLlmMs, iterations, image_size: size, feedback: 's+p+f', seed };
  console.log(
    `| N | feedback | overhead ratio |\n|---|---|---|\n| 4 | s+p+f | ${out.overhead_ratio_n4} |\n| 16 | s+p+f | ${out.overhead_ratio_n16} |\n| 4 | s+p | ${out.overhead_ratio_n4_nofeedback} |\n| 16 | s+p | ${out.overhead_ratio_n16_nofeedback} |`,
  );
  console.log(JSON.stringify(summary));
}

runMain(import.meta.url, main);
