/**
 * EMBEDDER=clip downloads its model on first use through the real transformers.js hub code, from a fake hub
 * on loopback (tests/fakes/hf-hub.ts, reached via HF_ENDPOINT), caches it in DATA_DIR/models, and a second
 * start loads it from disk without a request. A hub that refuses or stops answering fails the load with one
 * error naming the URL and the manual install; CLIP_OFFLINE / HF_HUB_OFFLINE forbid any request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { ConfigError, testConfig } from '../src/config';
import { ModelNotFoundError, ProviderTimeoutError } from '../src/core/errors';
import {
  ClipDownloadTimeoutError,
  ClipEmbedder,
  clipOptionsFromConfig,
  clipRequiredFiles,
  type ClipEmbedderOptions,
} from '../src/providers/embedder/clip';
import { FakeHfHub } from './fakes/hf-hub';
import { writeTinyClipModel } from './fixtures/tiny-clip';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FILES = clipRequiredFiles('fp32');

let hub: FakeHfHub;
let root: string;

/** Collects log lines the way a pino child logger would receive them. */
function recordingLog(): { lines: string[]; info: (fields: Record<string, unknown>, msg: string) => void } {
  const lines: string[] = [];
  return { lines, info: (_fields, msg) => lines.push(msg) };
}

async function png(r: number, g: number, b: number): Promise<Buffer> {
  return sharp({ create: { width: 40, height: 40, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

function norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

/** Options exactly as the app builds them from the environment, with a fresh DATA_DIR and the fake hub. */
function optionsFor(model: string, dataDir: string, env: Record<string, string> = {}): ClipEmbedderOptions {
  const config = testConfig({ EMBEDDER: 'clip', CLIP_MODEL: model, DATA_DIR: dataDir, HF_ENDPOINT: hub.url, ...env });
  return { ...clipOptionsFromConfig(config), threads: 1 };
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A real second start: a new Node process (fresh transformers.js state) loads the model and embeds one image. */
async function embedInNewProcess(opts: ClipEmbedderOptions, image: Buffer): Promise<{ dim: number; norm: number; logs: string[] }> {
  const script = path.join(root, 'second-start.mts');
  const clipUrl = pathToFileURL(path.join(ROOT, 'src/providers/embedder/clip.ts')).href;
  await writeFile(
    script,
    `import { ClipEmbedder } from ${JSON.stringify(clipUrl)};
const logs = [];
const opts = { ...JSON.parse(process.env.CLIP_OPTS), log: { info: (_f, msg) => logs.push(msg) } };
const e = await ClipEmbedder.create(opts);
const [v] = await e.embed([Buffer.from(process.env.PNG_B64, 'base64')]);
await e.close();
console.log(JSON.stringify({ dim: v.length, norm: Math.hypot(...v), logs }));
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CLIP_OPTS: JSON.stringify(opts), PNG_B64: image.toString('base64') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`second start failed (exit ${code}): ${err}`);
  return JSON.parse(out.trim().split('\n').pop()!) as { dim: number; norm: number; logs: string[] };
}

beforeAll(async () => {
  hub = await FakeHfHub.start();
  root = await mkdtemp(path.join(os.tmpdir(), 'tasteloop-clip-dl-'));
});

afterAll(async () => {
  await hub?.close();
  await rm(root, { recursive: true, force: true });
});

describe('CLIP model download on first use (fake hub via HF_ENDPOINT)', () => {
  const MODEL = 'tiny/clip-download';
  const dataDir = () => path.join(root, 'data');
  const modelFolder = () => path.join(dataDir(), 'models', ...MODEL.split('/'));
  let served: Record<string, Uint8Array>;

  it('(a) first start downloads through transformers.js into DATA_DIR/models, logs progress every 10%, and embeds', async () => {
    served = hub.addTinyClip(MODEL, 8);
    hub.chunks = 10; // bodies arrive in pieces, so the download has several progress steps
    hub.chunkDelayMs = 5;
    const log = recordingLog();
    const embedder = new ClipEmbedder({ ...optionsFor(MODEL, dataDir()), log });
    try {
      // Startup logs this line: it must say that a download may happen, from where, and to where.
      expect(embedder.describe()).toBe(
        `clip ${MODEL} (fp32, downloads on first use from ${hub.url}/ to ${path.join(dataDir(), 'models')})`,
      );
      const [red, blue] = await embedder.embed([await png(220, 30, 30), await png(20, 40, 230)]);
      expect(embedder.dim).toBe(8);
      for (const v of [red!, blue!]) {
        expect(v.length).toBe(8);
        expect(norm(v)).toBeCloseTo(1, 5);
      }
    } finally {
      await embedder.close();
    }

    // The files landed in the model folder, byte for byte, with no temp files left behind.
    expect((await filesUnder(modelFolder())).sort()).toEqual([...FILES].sort());
    for (const f of FILES) expect((await readFile(path.join(modelFolder(), f))).equals(Buffer.from(served[f]!))).toBe(true);

    // Requests came from transformers.js itself, under the HF URL layout, the weights via the CDN redirect.
    const requests = hub.requestsFor(MODEL);
    for (const f of FILES) expect(requests.some((r) => r.path === `/${MODEL}/resolve/main/${f}` && !r.range)).toBe(true);
    expect(requests.some((r) => r.path === `/lfs/${MODEL}/onnx/vision_model.onnx`)).toBe(true);
    expect(requests.every((r) => /^transformers\.js\//.test(r.userAgent ?? ''))).toBe(true);

    // Progress: a start line, then increasing 10% steps ending at 100%, then a done line.
    expect(log.lines[0]).toMatch(
      new RegExp(
        `^CLIP model ${escapeRe(MODEL)} is not on disk yet: downloading .*onnx/vision_model\\.onnx from ${escapeRe(hub.url)}/ into `,
      ),
    );
    const steps = log.lines
      .map((l) => /^CLIP model download (\d+)% \((\d+\.\d) of (\d+\.\d) kB\)$|^CLIP model download (100)% \((\d+\.\d) kB\)$/.exec(l))
      .filter((m) => m !== null);
    const percents = steps.map((m) => Number(m[1] ?? m[4]));
    expect(percents.length).toBeGreaterThanOrEqual(2);
    expect(percents.at(-1)).toBe(100);
    for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThan(percents[i - 1]!);
    expect(percents.every((p) => p % 10 === 0)).toBe(true);
    expect(log.lines.at(-1)).toMatch(new RegExp(`^CLIP model ${escapeRe(MODEL)} downloaded \\(\\d+\\.\\d kB\\) in `));
  });

  it('(a) the downloaded model embeds exactly like the same model placed by hand', async () => {
    const handDir = path.join(root, 'by-hand');
    await writeTinyClipModel(handDir, MODEL, { dim: 8 });
    const byHand = new ClipEmbedder({ modelId: MODEL, modelDir: handDir, threads: 1, allowRemoteModels: false });
    const downloaded = new ClipEmbedder({ ...optionsFor(MODEL, dataDir()) });
    try {
      const image = await png(10, 200, 60);
      const [a] = await byHand.embed([image]);
      const [b] = await downloaded.embed([image]);
      expect(Array.from(b!)).toEqual(Array.from(a!));
    } finally {
      await byHand.close();
      await downloaded.close();
    }
  });

  it('(b) a second start on the same DATA_DIR loads from disk and makes zero requests to the hub', async () => {
    const before = hub.requests.length;
    const second = await embedInNewProcess(optionsFor(MODEL, dataDir()), await png(220, 30, 30));
    expect(second.dim).toBe(8);
    expect(second.norm).toBeCloseTo(1, 5);
    expect(hub.requests.length).toBe(before);
    expect(second.logs.filter((l) => /download/i.test(l))).toEqual([]);
  }, 60_000);
});

describe('a hub that refuses or stops answering fails the start with one clear error', () => {
  it('(c) 404 → one ModelNotFoundError naming the URL, the files to place by hand, CLIP_MODEL_DIR and CLIP_OFFLINE', async () => {
    const model = 'tiny/clip-missing';
    hub.addTinyClip(model);
    hub.fault = { kind: 'missing' };
    const dataDir = path.join(root, 'data-404');
    try {
      const err = await ClipEmbedder.create(optionsFor(model, dataDir)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelNotFoundError);
      const message = (err as Error).message;
      expect(message).toMatch(
        new RegExp(`${escapeRe(hub.url)}/${escapeRe(model)}/resolve/main/(config|preprocessor_config)\\.json answered HTTP 404`),
      );
      expect(message.match(/could not be downloaded/g)).toHaveLength(1);
      const folder = path.join(dataDir, 'models', 'tiny', 'clip-missing');
      for (const f of FILES) expect(message).toContain(path.join(folder, f));
      expect(message).toContain(`CLIP_MODEL_DIR is currently ${path.join(dataDir, 'models')}`);
      expect(message).toContain('CLIP_OFFLINE=1');
      expect(await filesUnder(folder)).toEqual([]);
    } finally {
      hub.fault = null;
    }
  });

  it('(c) only the weights missing (e.g. a repo without that ONNX file) → the error names the ONNX URL', async () => {
    const model = 'tiny/clip-no-weights';
    hub.addTinyClip(model);
    hub.fault = { kind: 'missing', files: /\.onnx$/ };
    try {
      const err = await ClipEmbedder.create(optionsFor(model, path.join(root, 'data-no-weights'))).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelNotFoundError);
      expect((err as Error).message).toContain(`${hub.url}/${model}/resolve/main/onnx/vision_model.onnx answered HTTP 404`);
    } finally {
      hub.fault = null;
    }
  });

  it('(d) a hub that never answers → the deadline fires once with a timeout error naming the URL', async () => {
    const model = 'tiny/clip-hang';
    hub.addTinyClip(model);
    hub.fault = { kind: 'hang' };
    try {
      const err = await ClipEmbedder.create({ ...optionsFor(model, path.join(root, 'data-hang')), downloadTimeoutMs: 300 }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ClipDownloadTimeoutError);
      expect(err).toBeInstanceOf(ProviderTimeoutError);
      const message = (err as Error).message;
      expect(message).toMatch(
        new RegExp(`${escapeRe(hub.url)}/${escapeRe(model)}/resolve/main/(config|preprocessor_config)\\.json sent nothing for 300 ms`),
      );
      expect(message).toContain('CLIP_MODEL_DIR');
      expect(message).toContain('CLIP_OFFLINE=1');
      // One deadline, not one per file: after the first stall no further file is even asked for.
      expect(hub.requestsFor(model).some((r) => r.path.endsWith('.onnx'))).toBe(false);
    } finally {
      hub.fault = null;
    }
  });

  it('(d) a download that stalls mid-file → timeout naming the file, and no partial file is left behind', async () => {
    const model = 'tiny/clip-stall';
    hub.addTinyClip(model);
    hub.fault = { kind: 'stall-body', files: /\.onnx$/ };
    const dataDir = path.join(root, 'data-stall');
    try {
      const err = await ClipEmbedder.create({ ...optionsFor(model, dataDir), downloadTimeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClipDownloadTimeoutError);
      expect((err as Error).message).toContain(`${hub.url}/${model}/resolve/main/onnx/vision_model.onnx sent nothing for 300 ms`);
      const left = await filesUnder(path.join(dataDir, 'models'));
      expect(left.filter((f) => f.includes('.onnx'))).toEqual([]);
    } finally {
      hub.fault = null;
    }
  });
});

describe('CLIP_OFFLINE and HF_HUB_OFFLINE forbid downloading', () => {
  const offlineSettings: Record<string, string>[] = [
    { CLIP_OFFLINE: '1' },
    { HF_HUB_OFFLINE: '1' },
    { CLIP_OFFLINE: 'on' },
    { HF_HUB_OFFLINE: 'true' },
  ];
  for (const env of offlineSettings) {
    it(`(e) ${JSON.stringify(env)} → no request at all, ModelNotFoundError naming the files and CLIP_MODEL_DIR`, async () => {
      const model = 'tiny/clip-offline';
      hub.addTinyClip(model);
      const dataDir = path.join(root, 'data-offline');
      const embedder = new ClipEmbedder(optionsFor(model, dataDir, env));
      expect(embedder.describe()).toContain('offline');
      const err = await embedder.load().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelNotFoundError);
      const message = (err as Error).message;
      expect(message).toContain('downloading is turned off (CLIP_OFFLINE or HF_HUB_OFFLINE)');
      expect(message).toContain(path.join(dataDir, 'models', 'tiny', 'clip-offline', 'onnx', 'vision_model.onnx'));
      expect(message).toContain('CLIP_MODEL_DIR');
      expect(hub.requestsFor(model)).toEqual([]);
    });
  }
});

describe('configuration', () => {
  it('CLIP_OFFLINE and HF_HUB_OFFLINE accept 1/0, on/off, true/false; HF_ENDPOINT must be a URL', () => {
    for (const [raw, value] of [
      ['1', true],
      ['on', true],
      ['TRUE', true],
      ['0', false],
      ['off', false],
      ['false', false],
      ['', false],
    ] as const) {
      expect(testConfig({ CLIP_OFFLINE: raw }).CLIP_OFFLINE).toBe(value);
      expect(testConfig({ HF_HUB_OFFLINE: raw }).HF_HUB_OFFLINE).toBe(value);
    }
    expect(testConfig().CLIP_OFFLINE).toBe(false);
    expect(clipOptionsFromConfig(testConfig()).allowRemoteModels).toBe(true);
    expect(clipOptionsFromConfig(testConfig({ HF_HUB_OFFLINE: '1' })).allowRemoteModels).toBe(false);
    expect(clipOptionsFromConfig(testConfig({ HF_ENDPOINT: 'https://hf-mirror.example' })).remoteHost).toBe('https://hf-mirror.example');

    const err = (() => {
      try {
        testConfig({ CLIP_OFFLINE: 'maybe', HF_ENDPOINT: 'not a url' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/CLIP_OFFLINE: expected 1\/0, on\/off or true\/false/);
    expect(problems).toMatch(/HF_ENDPOINT: expected an absolute URL/);
  });

  it('a mirror given with or without a trailing slash is used as transformers.js expects it (one slash)', () => {
    expect(new ClipEmbedder({ remoteHost: 'https://m.example/hf' }).describe()).toContain('from https://m.example/hf/ to');
    expect(new ClipEmbedder({ remoteHost: 'https://m.example/hf//' }).describe()).toContain('from https://m.example/hf/ to');
  });
});
