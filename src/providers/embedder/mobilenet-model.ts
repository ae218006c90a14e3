/**
 * MobileNetV2's convolutional body, run with TensorFlow.js on its WebAssembly backend. The weights come
 * from the `nsfwjs` package (its MobileNetV2 model, bundled as JS shards), so nothing is downloaded: the
 * classifier head there was fine-tuned for content moderation, but everything up to the global average
 * pool is the ImageNet-trained body, and the pooled 1,280 activations (layer `flatten_1`) are a general
 * learned image representation. Loaded in the embedder's worker thread only (mobilenet-worker.ts): wasm
 * runs each op synchronously, so a batch would otherwise hold the bot's event loop for seconds.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { LayersModel, Tensor } from '@tensorflow/tfjs';

/** Input edge length the model was trained at. */
export const MOBILENET_INPUT = 224;
/** Width of the pooled penultimate layer. */
export const MOBILENET_DIM = 1280;
const POOLED_LAYER = 'flatten_1';

export interface MobileNetFeatures {
  /** Pooled activations of `count` RGB images given as `count × 224 × 224 × 3` bytes, row after row. */
  pooled(pixels: Uint8Array, count: number): Promise<Float32Array>;
}

/** The folder holding the wasm binaries that ship inside @tensorflow/tfjs-backend-wasm. */
function wasmFolder(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep;
}

export async function loadMobileNet(): Promise<MobileNetFeatures> {
  const tf = await import('@tensorflow/tfjs');
  const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
  setWasmPaths(wasmFolder());
  if (!(await tf.setBackend('wasm'))) throw new Error('the TensorFlow.js wasm backend did not start');
  await tf.ready();
  const nsfwjs = await import('nsfwjs');
  // nsfwjs announces the model it loads on console.info; the embedder logs its own line instead.
  const info = console.info;
  console.info = () => {};
  let classifier: Awaited<ReturnType<typeof nsfwjs.load>>;
  try {
    classifier = await nsfwjs.load('MobileNetV2', { size: MOBILENET_INPUT });
  } finally {
    console.info = info;
  }
  // `model` is public at run time but not in nsfwjs' typings.
  const full = (classifier as unknown as { model: LayersModel }).model;
  const body = tf.model({ inputs: full.inputs, outputs: full.getLayer(POOLED_LAYER).output });
  return {
    async pooled(pixels, count) {
      const out = tf.tidy(() => {
        // The same input scaling nsfwjs uses for this model: RGB in [0, 1].
        const batch = tf.tensor4d(pixels, [count, MOBILENET_INPUT, MOBILENET_INPUT, 3], 'int32').toFloat().div(255);
        return body.predict(batch) as Tensor;
      });
      try {
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    },
  };
}
