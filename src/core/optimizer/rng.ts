/**
 * Seeded randomness for the optimizers. Every random draw of a run derives from (run seed, iteration,
 * purpose), so a resumed run makes exactly the choices the crashed one would have made without having
 * to persist generator state.
 */
import { createRng, mulberry32 } from '../random';

export { mulberry32 };

/** A uniform [0, 1) source; a plain function (unlike the `Rng` object of core/random.ts) so proposers stay trivially testable. */
export type UniformSource = () => number;

/** Mixes several integers into one 32-bit seed (FNV-1a over their bytes). */
export function mixSeed(...parts: (number | string)[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    const s = typeof p === 'number' ? `n${Math.trunc(p)}` : `s${p}`;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The rng of one (seed, iteration, purpose). */
export function rngFor(seed: number, iteration: number, purpose: string): UniformSource {
  const r = createRng(mixSeed(seed, iteration, purpose));
  return () => r.next();
}

export function randInt(rng: UniformSource, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}

export function pick<T>(rng: UniformSource, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from an empty list');
  return items[randInt(rng, items.length)] as T;
}

export function shuffle<T>(rng: UniformSource, items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}
