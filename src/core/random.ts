/**
 * A small seeded PRNG shared by everything that must be reproducible (evaluations, meta-training,
 * tests). splitmix32 scrambles the seed so nearby seeds give unrelated streams; mulberry32 generates.
 */
export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller, the spare value is cached). */
  normal(): number;
  /** Shuffles in place (Fisher–Yates) and returns the same array. */
  shuffle<T>(items: T[]): T[];
  /** One element chosen uniformly; throws on an empty array. */
  pick<T>(items: readonly T[]): T;
  /** A child generator with an independent stream (for parallel sub-tasks that must not share state). */
  fork(): Rng;
}

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** mulberry32: a tiny, fast 32-bit generator of uniform floats in [0, 1); the one every seeded stream uses. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createRng(seed: number): Rng {
  const next = mulberry32(splitmix32(Math.floor(seed) | 0));
  let spare: number | null = null;
  const rng: Rng = {
    seed,
    next,
    int(n: number): number {
      if (!(n > 0)) throw new RangeError(`int(n) needs n > 0 (got ${n})`);
      return Math.floor(next() * n);
    },
    normal(): number {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    shuffle<T>(items: T[]): T[] {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const tmp = items[i] as T;
        items[i] = items[j] as T;
        items[j] = tmp;
      }
      return items;
    },
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick() from an empty array');
      return items[Math.floor(next() * items.length)] as T;
    },
    fork(): Rng {
      return createRng(Math.floor(next() * 4294967296));
    },
  };
  return rng;
}
