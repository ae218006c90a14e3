/**
 * Child process of safe-render.ts: renders sketch prompts on request. It exists so that a native
 * crash inside the rasterizer (resvg aborts the whole process on some mirrored "symmetric" scenes)
 * kills only this worker, not the evaluation.
 */
import { parseSketchPrompt, renderSketch } from '../providers/imagegen/sketch';

interface RenderRequest {
  id: number;
  prompt: string;
  seed: number;
  size: number;
  composition?: string;
}

process.on('message', (msg: RenderRequest) => {
  void (async () => {
    try {
      const spec = parseSketchPrompt(msg.prompt);
      const png = await renderSketch(msg.composition ? { ...spec, composition: msg.composition as typeof spec.composition } : spec, { seed: msg.seed, size: msg.size });
      process.send?.({ id: msg.id, png: png.toString('base64') });
    } catch (err) {
      process.send?.({ id: msg.id, error: (err as Error).message });
    }
  })();
});
