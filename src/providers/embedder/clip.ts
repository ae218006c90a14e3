/**
 * `clip` embedder: CLIP image embeddings (the vision tower with its projection, `image_embeds`) through
 * @huggingface/transformers v4 and onnxruntime-node.
 *
 * Like transformers.js itself, it downloads the model from the Hugging Face hub (or the HF_ENDPOINT mirror) on
 * first use and caches it in the model folder, so the next start loads it from disk without a request.
 * CLIP_OFFLINE=1 or HF_HUB_OFFLINE=1 (→ `allowRemoteModels: false`) forbid downloading: a missing model then
 * fails with a ModelNotFoundError that says which files to put where. A hub that refuses a file or stops
 * sending fails the load with one error naming the URL. The model loads lazily, once, on first use (or `load()`).
 *
 * Model folder layout (what transformers.js reads for a model id `<owner>/<name>`, and where it caches downloads):
 *   <CLIP_MODEL_DIR>/<owner>/<name>/config.json
 *   <CLIP_MODEL_DIR>/<owner>/<name>/preprocessor_config.json
 *   <CLIP_MODEL_DIR>/<owner>/<name>/onnx/vision_model.onnx            (dtype fp32, the default)
 *                                       onnx/vision_model_quantized.onnx  (dtype q8)
 * When CLIP_CACHE_DIR is set, downloads go there instead (same layout), and both folders are searched.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type * as TransformersModule from '@huggingface/transformers';
import type { Embedder } from '../../core/ports';
import { InvalidImageError, ModelNotFoundError, ProviderError, ProviderTimeoutError } from '../../core/errors';
import type { Config } from '../../config';
import { DownloadProgress, formatMs, HubSession, type ClipLogger, type HubFailure } from './clip-hub';

export type { ClipLogger } from './clip-hub';

export const DEFAULT_CLIP_MODEL = 'Xenova/clip-vit-base-patch32';
export const DEFAULT_HUB_URL = 'https://huggingface.co/';
/** transformers.js' own default; our error messages build the same URLs. */
const REMOTE_PATH_TEMPLATE = '{model}/resolve/{revision}/';
/** Generous: it bounds silence (no answer, no new bytes), not the length of a slow but moving download. */
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 5 * 60_000;

/** Precisions transformers.js can load; each maps to an ONNX file name suffix. */
export type ClipDtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';

const DTYPE_SUFFIX: Record<ClipDtype, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
};

export interface ClipEmbedderOptions {
  /** Hugging Face style model id, default `Xenova/clip-vit-base-patch32`. */
  modelId?: string;
  /** Local model folder (CLIP_MODEL_DIR) → `env.localModelPath`, and where downloads land. Default `./data/models`. */
  modelDir?: string;
  /** Download cache (CLIP_CACHE_DIR) → `env.cacheDir`. Default: the model folder itself. */
  cacheDir?: string;
  /** Which ONNX file to load (see the layout above). Default `fp32`. */
  dtype?: ClipDtype;
  /** Download missing files from the hub. Default true; CLIP_OFFLINE / HF_HUB_OFFLINE turn it off. */
  allowRemoteModels?: boolean;
  /** Hub base URL (HF_ENDPOINT, e.g. a mirror) → `env.remoteHost`. Default https://huggingface.co/. */
  remoteHost?: string;
  /** A hub request that gets no answer, or no new bytes, for this long fails the load. Default 5 minutes. */
  downloadTimeoutMs?: number;
  /** Receives the download's start, progress (every 10%) and end. */
  log?: ClipLogger;
  /** onnxruntime intra-op threads. Default min(2, cores): the bot shares a small machine. */
  threads?: number;
  /** Max images per inference call (bounds memory: 224² × 3 floats × batch). Default 16. */
  batchSize?: number;
}

/**
 * Maps the parsed environment to embedder options: CLIP_MODEL, CLIP_MODEL_DIR (default DATA_DIR/models),
 * CLIP_CACHE_DIR, CLIP_OFFLINE / HF_HUB_OFFLINE (either forbids downloading) and HF_ENDPOINT.
 */
export function clipOptionsFromConfig(
  config: Pick<Config, 'CLIP_MODEL' | 'CLIP_MODEL_DIR' | 'CLIP_CACHE_DIR' | 'CLIP_OFFLINE' | 'HF_HUB_OFFLINE' | 'HF_ENDPOINT' | 'dataDir'>,
): ClipEmbedderOptions {
  return {
    modelId: config.CLIP_MODEL,
    modelDir: path.resolve(config.CLIP_MODEL_DIR ?? path.join(config.dataDir, 'models')),
    cacheDir: config.CLIP_CACHE_DIR ? path.resolve(config.CLIP_CACHE_DIR) : undefined,
    allowRemoteModels: !config.CLIP_OFFLINE && !config.HF_HUB_OFFLINE,
    remoteHost: config.HF_ENDPOINT,
  };
}

/** The ONNX file (relative to the model folder) that CLIPVisionModelWithProjection loads for a dtype. */
export function clipOnnxFile(dtype: ClipDtype): string {
  return `onnx/vision_model${DTYPE_SUFFIX[dtype]}.onnx`;
}

/** Files a model folder must hold for offline loading. */
export function clipRequiredFiles(dtype: ClipDtype): string[] {
  return ['config.json', 'preprocessor_config.json', clipOnnxFile(dtype)];
}

// Minimal structural types for the parts of transformers.js we call (its generated typings are loose).
interface TensorLike {
  dims: number[];
  data: ArrayLike<number>;
}
type Processor = (images: unknown[]) => Promise<Record<string, unknown>>;
type VisionModel = ((inputs: Record<string, unknown>) => Promise<Record<string, TensorLike | undefined>>) & {
  dispose?: () => Promise<unknown>;
};
type Transformers = typeof TransformersModule;

interface Loaded {
  lib: Transformers;
  processor: Processor;
  model: VisionModel;
}

export class ClipEmbedder implements Embedder {
  readonly modelId: string;
  private readonly hubModelId: string;
  private readonly modelDir: string;
  private readonly cacheDir: string | undefined;
  private readonly dtype: ClipDtype;
  private readonly allowRemote: boolean;
  private readonly remoteHost: string;
  private readonly downloadTimeoutMs: number;
  private readonly log: ClipLogger | undefined;
  private readonly threads: number;
  private readonly batchSize: number;
  private dimension = 0;
  private loading: Promise<Loaded> | null = null;
  /** Inference calls run one after another: onnxruntime already uses `threads` cores per call. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: ClipEmbedderOptions = {}) {
    this.hubModelId = opts.modelId ?? DEFAULT_CLIP_MODEL;
    this.modelId = `clip:${this.hubModelId}`;
    this.modelDir = path.resolve(opts.modelDir ?? path.join('data', 'models'));
    this.cacheDir = opts.cacheDir ? path.resolve(opts.cacheDir) : undefined;
    this.dtype = opts.dtype ?? 'fp32';
    this.allowRemote = opts.allowRemoteModels ?? true;
    // transformers.js joins remoteHost and the path template as strings: the host must end with '/'.
    this.remoteHost = (opts.remoteHost ?? DEFAULT_HUB_URL).replace(/\/*$/, '/');
    this.downloadTimeoutMs = Math.max(1, opts.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS);
    this.log = opts.log;
    this.threads = Math.max(1, Math.floor(opts.threads ?? Math.min(2, os.availableParallelism())));
    this.batchSize = Math.max(1, Math.floor(opts.batchSize ?? 16));
    // Known before loading when the local config.json says so; otherwise learned at load().
    this.dimension = this.readProjectionDim() ?? 0;
  }

  /** Loads and returns a ready embedder (dim known). */
  static async create(opts: ClipEmbedderOptions = {}): Promise<ClipEmbedder> {
    const embedder = new ClipEmbedder(opts);
    await embedder.load();
    return embedder;
  }

  /** Output dimension; 0 until known (from config.json's projection_dim, or after `load()`). */
  get dim(): number {
    return this.dimension;
  }

  describe(): string {
    const where = this.allowRemote
      ? `downloads on first use from ${this.remoteHost} to ${this.downloadDir}`
      : `offline, model dir ${this.modelDir}${this.cacheDir ? `, cache ${this.cacheDir}` : ''}`;
    return `clip ${this.hubModelId} (${this.dtype}, ${where})`;
  }

  /** Loads model and processor once; later calls share the same promise. A failed load is retried on the next call. */
  load(): Promise<void> {
    return this.loaded().then(() => undefined);
  }

  async embed(images: Buffer[]): Promise<Float32Array[]> {
    if (images.length === 0) return [];
    const loaded = await this.loaded();
    // Decode everything first so a bad image fails the call before any inference runs.
    const decoded = await Promise.all(images.map((img, i) => decodeToRawImage(loaded.lib, img, i)));
    const out: Float32Array[] = [];
    for (let start = 0; start < decoded.length; start += this.batchSize) {
      const chunk = decoded.slice(start, start + this.batchSize);
      out.push(...(await this.serialized(() => this.infer(loaded, chunk))));
    }
    return out;
  }

  /** Frees the onnxruntime session. */
  async close(): Promise<void> {
    const pending = this.loading;
    this.loading = null;
    if (!pending) return;
    const loaded = await pending.catch(() => null);
    await loaded?.model.dispose?.();
  }

  // ---------- internals ----------

  /** Where transformers.js writes downloaded files: the cache folder when one is set, else the model folder. */
  private get downloadDir(): string {
    return this.cacheDir ?? this.modelDir;
  }

  private loaded(): Promise<Loaded> {
    if (!this.loading) {
      this.loading = this.doLoad();
      this.loading.catch(() => {
        this.loading = null;
      });
    }
    return this.loading;
  }

  private async doLoad(): Promise<Loaded> {
    if (!this.allowRemote) this.assertModelPresent();
    // Imported lazily: the features embedder (the offline default) never pays for onnxruntime.
    const lib = await import('@huggingface/transformers');
    const hub = this.allowRemote ? new HubSession(this.downloadTimeoutMs) : null;
    this.configureTransformers(lib, hub);
    const missing = this.missingFiles();
    const progress = hub && missing.length > 0 ? this.startDownloadLog(hub, missing) : null;
    const progress_callback = progress ? (info: unknown) => progress.onEvent(info) : undefined;
    try {
      const [processor, model] = await Promise.all([
        lib.AutoProcessor.from_pretrained(this.hubModelId, { progress_callback }),
        lib.CLIPVisionModelWithProjection.from_pretrained(this.hubModelId, {
          dtype: this.dtype,
          device: 'cpu',
          session_options: { intraOpNumThreads: this.threads, interOpNumThreads: 1 },
          progress_callback,
        }),
      ]);
      progress?.finish();
      const loaded: Loaded = {
        lib,
        processor: processor,
        model: model,
      };
      if (this.dimension === 0) {
        // No projection_dim in config.json: learn the dimension from one probe image.
        const probe = new lib.RawImage(new Uint8ClampedArray(8 * 8 * 3).fill(128), 8, 8, 3);
        const [vec] = await this.infer(loaded, [probe]);
        this.dimension = vec?.length ?? 0;
      }
      return loaded;
    } catch (err) {
      throw this.loadError(lib, hub, err);
    } finally {
      // Whatever is still open (e.g. the other half of a failed Promise.all) must not keep downloading.
      hub?.close();
    }
  }

  /** transformers.js keeps these settings in one global object: set them right before loading. */
  private configureTransformers(lib: Transformers, hub: HubSession | null): void {
    lib.env.allowLocalModels = true;
    lib.env.allowRemoteModels = hub !== null;
    lib.env.localModelPath = this.modelDir + path.sep;
    // The file cache uses the same <owner>/<name>/<file> layout as localModelPath, so a download into the
    // model folder is found there on the next start without any request.
    lib.env.useFSCache = true;
    lib.env.cacheDir = this.downloadDir;
    if (hub) {
      lib.env.remoteHost = this.remoteHost;
      lib.env.remotePathTemplate = REMOTE_PATH_TEMPLATE;
      // transformers.js has no timeout of its own; every hub request goes through env.fetch.
      lib.env.fetch = hub.fetch;
    }
  }

  private startDownloadLog(hub: HubSession, missing: string[]): DownloadProgress {
    this.log?.info(
      { model: this.hubModelId, from: this.remoteHost, to: this.downloadDir, files: missing },
      `CLIP model ${this.hubModelId} is not on disk yet: downloading ${missing.join(', ')} from ${this.remoteHost} into ${this.downloadDir}`,
    );
    return new DownloadProgress(this.hubModelId, missing, (file) => hub.fetchedFile(file), this.log);
  }

  /** One typed error for a failed load, naming the hub URL when a request was what failed. */
  private loadError(lib: Transformers, hub: HubSession | null, err: unknown): Error {
    if (err instanceof ModelNotFoundError || err instanceof ProviderError) return err;
    const failure = hub?.failureBehind(err);
    if (failure) return this.downloadError(failure);
    if (err instanceof lib.ModelFileNotFoundError || /not found locally|could not locate file/i.test(String(err))) {
      return new ModelNotFoundError(this.missingModelMessage([String((err as Error).message ?? err)]), { cause: err });
    }
    return new ProviderError('clip', `could not load ${this.hubModelId}: ${(err as Error).message ?? String(err)}`, {
      cause: err,
    });
  }

  private downloadError(failure: HubFailure): Error {
    const how = this.manualInstallLines();
    if (failure.kind === 'stall') {
      return new ClipDownloadTimeoutError(
        failure.url,
        this.downloadTimeoutMs,
        [
          `CLIP model "${this.hubModelId}" could not be downloaded: ${failure.url} sent nothing for ${formatMs(this.downloadTimeoutMs)}` +
            ` (the hub${this.remoteHost === DEFAULT_HUB_URL ? '' : ` at ${this.remoteHost}`} is not answering), so the download was stopped.`,
          ...how,
        ].join('\n'),
      );
    }
    if (failure.kind === 'network') {
      return new ProviderError(
        'clip',
        [`CLIP model "${this.hubModelId}" could not be downloaded: ${failure.url} could not be reached (${failure.reason}).`, ...how].join(
          '\n',
        ),
        { cause: failure.cause },
      );
    }
    const message = [
      `CLIP model "${this.hubModelId}" could not be downloaded: ${failure.url} answered HTTP ${failure.status}` +
        (failure.status === 404 ? ' (not found: check CLIP_MODEL, and HF_ENDPOINT if you set it).' : '.'),
      ...how,
    ].join('\n');
    // 401/403/404: the hub does not have (or will not give) this model — the same remedy as a missing model.
    return failure.status === 401 || failure.status === 403 || failure.status === 404
      ? new ModelNotFoundError(message)
      : new ProviderError('clip', message, { status: failure.status });
  }

  private async infer(loaded: Loaded, images: unknown[]): Promise<Float32Array[]> {
    const inputs = await loaded.processor(images);
    const output = await loaded.model(inputs);
    const embeds = output.image_embeds;
    if (!embeds || embeds.dims.length !== 2 || embeds.dims[0] !== images.length) {
      throw new ProviderError('clip', `the model did not return image_embeds [${images.length}, d] (got ${JSON.stringify(embeds?.dims)})`);
    }
    const d = embeds.dims[1]!;
    if (this.dimension !== 0 && d !== this.dimension) {
      throw new ProviderError('clip', `the model returned ${d}-d embeddings but config.json says projection_dim ${this.dimension}`);
    }
    const vectors: Float32Array[] = [];
    for (let i = 0; i < images.length; i++) {
      vectors.push(unitNormalize(embeds.data, i * d, d));
    }
    return vectors;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Folders transformers.js looks in for this model: the local model dir, then the file cache. */
  private candidateFolders(): string[] {
    const parts = this.hubModelId.split('/');
    const folders = [path.join(this.modelDir, ...parts)];
    if (this.cacheDir && this.cacheDir !== this.modelDir) folders.push(path.join(this.cacheDir, ...parts));
    return folders;
  }

  private readProjectionDim(): number | undefined {
    for (const folder of this.candidateFolders()) {
      try {
        const config = JSON.parse(readFileSync(path.join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
        const dim = config.projection_dim ?? (config.vision_config as Record<string, unknown> | undefined)?.projection_dim;
        if (typeof dim === 'number' && Number.isInteger(dim) && dim > 0) return dim;
      } catch {
        // not there or unreadable: try the next folder, or learn the dim at load
      }
    }
    return undefined;
  }

  /** Required files that no searched folder holds: what a first start will download. */
  private missingFiles(): string[] {
    const folders = this.candidateFolders();
    return clipRequiredFiles(this.dtype).filter((f) => !folders.some((folder) => existsSync(path.join(folder, f))));
  }

  /** Fails fast (before transformers logs a warning per missing file) when no folder holds a complete model. */
  private assertModelPresent(): void {
    const required = clipRequiredFiles(this.dtype);
    const missingPerFolder = this.candidateFolders().map((folder) =>
      required.map((f) => path.join(folder, f)).filter((p) => !existsSync(p)),
    );
    if (missingPerFolder.some((missing) => missing.length === 0)) return;
    throw new ModelNotFoundError(this.missingModelMessage(missingPerFolder[0] ?? []));
  }

  private missingModelMessage(missing: string[]): string {
    return [
      `CLIP model "${this.hubModelId}" (dtype ${this.dtype}) was not found locally, and downloading is turned off (CLIP_OFFLINE or HF_HUB_OFFLINE).`,
      `Missing: ${missing.join(', ')}`,
      ...this.manualInstallLines(),
    ].join('\n');
  }

  /** How to put the model in place by hand: shared by the offline error and every download error. */
  private manualInstallLines(): string[] {
    const folder = path.join(this.modelDir, ...this.hubModelId.split('/'));
    const files = clipRequiredFiles(this.dtype);
    return [
      `To install it by hand, copy these files from the model's Hugging Face repository (${this.remoteHost}${this.hubModelId}), fetched on a machine with internet access:`,
      ...files.map((f) => `  ${path.join(folder, f)}`),
      `i.e. <CLIP_MODEL_DIR>/${this.hubModelId}/{config.json, preprocessor_config.json, ${clipOnnxFile(this.dtype)}}` +
        ` (the quantized variant is ${clipOnnxFile('q8')}, loaded with dtype q8).`,
      `CLIP_MODEL_DIR is currently ${this.modelDir}` +
        (this.cacheDir
          ? `; CLIP_CACHE_DIR (${this.cacheDir}) is searched with the same layout.`
          : '; CLIP_CACHE_DIR may point at a transformers.js cache with the same layout.'),
      `Then set CLIP_OFFLINE=1 so the bot never tries to download, or set HF_ENDPOINT to a reachable hub mirror.` +
        ` Set CLIP_MODEL to use another model id, or EMBEDDER=features to run without CLIP.`,
    ];
  }
}

/** A hub request that got no answer, or no new bytes, within the download deadline. */
export class ClipDownloadTimeoutError extends ProviderTimeoutError {
  constructor(
    readonly url: string,
    ms: number,
    message: string,
  ) {
    super('clip', ms);
    // ProviderTimeoutError's generic text cannot name the URL or the manual install; say both.
    this.message = `clip: ${message}`;
  }
}

/**
 * Decodes a (normalized) image into a RawImage with 3 channels. Transparent pixels are composited on white
 * so that their hidden RGB values cannot change the embedding.
 */
async function decodeToRawImage(lib: Transformers, image: Buffer, index: number): Promise<unknown> {
  try {
    const { data, info } = await sharp(image)
      .flatten({ background: '#ffffff' })
      .toColorspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return new lib.RawImage(new Uint8ClampedArray(data), info.width, info.height, 3);
  } catch (err) {
    throw new InvalidImageError(`image #${index} could not be decoded (${(err as Error).message})`);
  }
}

/** Copies row `[offset, offset + d)` into a unit-length Float32Array (norm summed in float64). */
export function unitNormalize(data: ArrayLike<number>, offset: number, d: number): Float32Array {
  let sumSq = 0;
  for (let j = 0; j < d; j++) {
    const v = data[offset + j]!;
    sumSq += v * v;
  }
  const norm = Math.sqrt(sumSq);
  if (!Number.isFinite(norm) || norm === 0) {
    throw new ProviderError('clip', `the model returned a ${norm === 0 ? 'zero' : 'non-finite'} embedding; it cannot be normalized`);
  }
  const out = new Float32Array(d);
  for (let j = 0; j < d; j++) out[j] = data[offset + j]! / norm;
  return out;
}
