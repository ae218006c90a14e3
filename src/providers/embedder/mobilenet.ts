/**
 * `mobilenet` embedder: a learned image embedding that needs no download. MobileNetV2's pooled penultimate
 * activations (1,280 numbers, ImageNet-trained convolutional body; weights shipped inside the `nsfwjs`
 * package, see mobilenet-model.ts), each dimension standardized with fixed constants measured once over a
 * reference set of sketch renders (mobilenet-standardization.data.ts, written by mobilenet-calibrate.ts),
 * then L2-normalized.
 *
 * Why standardize: after ReLU6 and pooling every activation is ≥ 0 and a handful of dimensions are large
 * on every image, so raw cosine similarity is dominated by what all images share; centring on the
 * reference mean and dividing by its spread makes the cosine compare what differs between images.
 *
 * The model runs in one worker thread per embedder (started on the first call, so the process pays the
 * ~0.5 s load and ~50 MB only when images are embedded): TensorFlow.js' wasm backend computes each op
 * synchronously, and a batch of 8 images takes a second or more on a small machine — far too long for the
 * event loop that acknowledges chat interactions. Images are decoded and resized here (sharp works off
 * the event loop) and sent as raw pixels.
 */
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import type { Embedder } from '../../core/ports';
import { InvalidImageError, ProviderError } from '../../core/errors';
import { workerUrl } from '../../runtime-files';
import { MOBILENET_DIM, MOBILENET_INPUT } from './mobilenet-model';
import { MOBILENET_MEAN, MOBILENET_SCALE, MOBILENET_STANDARDIZATION_ID } from './mobilenet-standardization.data';
import type { MobileNetJob, MobileNetReply } from './mobilenet-worker';

/** Names the network, the layer and the normalization: vectors (and scorers fitted on them) of another id never mix. */
export const MOBILENET_MODEL_ID = `mobilenet-v2-pool1280-${MOBILENET_STANDARDIZATION_ID}`;

export interface MobileNetEmbedderOptions {
  /** Images per model call; bounds the worker's memory (224² × 3 floats per image and the activations). Default 2 (measured: 1–8 images per call run at the same ms per image on the wasm backend, while the worker's memory grows with the batch). */
  batchSize?: number;
}

interface Pending {
  resolve: (reply: { pooled: Float32Array; loadMs: number }) => void;
  reject: (err: Error) => void;
}

export class MobileNetEmbedder implements Embedder {
  readonly modelId = MOBILENET_MODEL_ID;
  readonly dim = MOBILENET_DIM;
  private readonly batchSize: number;
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** How long the worker took to load the model (ms), once it has. */
  loadMs = 0;

  constructor(opts: MobileNetEmbedderOptions = {}) {
    this.batchSize = Math.max(1, Math.floor(opts.batchSize ?? 2));
  }

  describe(): string {
    return `mobilenet MobileNetV2 pooled ${MOBILENET_DIM}-d (nsfwjs weights, tfjs wasm in a worker thread, ${MOBILENET_STANDARDIZATION_ID} standardization)`;
  }

  /** Starts the worker and loads the model now rather than on the first image. */
  async load(): Promise<void> {
    await this.call(new Uint8Array(0), 0);
  }

  async embed(images: Buffer[]): Promise<Float32Array[]> {
    return (await this.pooled(images)).map((raw) => standardizeAndNormalize(raw));
  }

  /** The raw pooled activations, one 1,280-vector per image (what the standardization constants are measured on). */
  async pooled(images: Buffer[]): Promise<Float32Array[]> {
    if (images.length === 0) return [];
    // Decode everything first so a bad image fails the call before any inference runs.
    const pixels = await Promise.all(images.map((img, i) => decodeForMobileNet(img, i)));
    const out: Float32Array[] = [];
    for (let start = 0; start < pixels.length; start += this.batchSize) {
      const chunk = pixels.slice(start, start + this.batchSize);
      const pooled = await this.call(concatBytes(chunk), chunk.length);
      for (let i = 0; i < chunk.length; i++) out.push(pooled.subarray(i * MOBILENET_DIM, (i + 1) * MOBILENET_DIM));
    }
    return out;
  }

  /** Ends the worker; calls in flight fail. Safe to call more than once. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private async call(pixels: Uint8Array, count: number): Promise<Float32Array> {
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    const reply = await new Promise<{ pooled: Float32Array; loadMs: number }>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Held while a job runs, so a caller awaiting it is not cut off by an empty event loop.
      worker.ref();
      worker.postMessage({ id, pixels, count } satisfies MobileNetJob, [pixels.buffer as ArrayBuffer]);
    });
    this.loadMs = reply.loadMs;
    return reply.pooled;
  }

  private start(): Worker {
    const worker = new Worker(workerUrl('mobilenet'));
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('message', (reply: MobileNetReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply);
      else p.reject(new ProviderError('mobilenet', reply.message));
      if (this.pending.size === 0) worker.unref();
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new ProviderError('mobilenet', `the model worker stopped (exit code ${code}) before it answered`)));
    worker.unref();
    return worker;
  }
}

/** RGB bytes of the image squashed to 224 × 224 (the whole picture, as the sketch renders and most photos are near square). */
async function decodeForMobileNet(image: Buffer, index: number): Promise<Uint8Array> {
  try {
    const data = await sharp(image)
      .flatten({ background: '#ffffff' })
      .toColorspace('srgb')
      .resize(MOBILENET_INPUT, MOBILENET_INPUT, { fit: 'fill', kernel: 'lanczos3' })
      .removeAlpha()
      .raw()
      .toBuffer();
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (err) {
    throw new InvalidImageError(`image #${index} could not be decoded (${(err as Error).message})`);
  }
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** (x − mean) / scale per dimension, then unit length (norm summed in float64). */
export function standardizeAndNormalize(pooled: Float32Array): Float32Array {
  const out = new Float32Array(MOBILENET_DIM);
  let sumSq = 0;
  for (let j = 0; j < MOBILENET_DIM; j++) {
    const z = (pooled[j]! - MOBILENET_MEAN[j]!) / MOBILENET_SCALE[j]!;
    out[j] = z;
    sumSq += z * z;
  }
  const norm = Math.sqrt(sumSq);
  if (!Number.isFinite(norm) || norm === 0) {
    throw new ProviderError('mobilenet', `the model returned a ${norm === 0 ? 'zero' : 'non-finite'} embedding; it cannot be normalized`);
  }
  for (let j = 0; j < MOBILENET_DIM; j++) out[j]! /= norm;
  return out;
}
