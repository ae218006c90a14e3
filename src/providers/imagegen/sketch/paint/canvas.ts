/**
 * What every painter shares: the scene, the seeded layout randomness and the SVG being assembled. All
 * painters draw in a 1000×1000 viewBox and append any gradients or clip paths they need to `defs`.
 */
import type { SceneSpec } from '../scene';

/** Coordinates to one decimal: enough precision for the raster, and short SVG. */
export const f1 = (x: number) => (Math.round(x * 10) / 10).toString();

export interface Ctx {
  spec: SceneSpec;
  r: () => number;
  W: number; // viewBox edge (1000)
  hy: number; // horizon y
  defs: string[];
  /** Main subject x (centered / thirds). */
  focusX: number;
  dark: boolean;
}
