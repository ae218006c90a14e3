/**
 * The method's evaluation metrics. SROCC is Pearson correlation of average ranks (ties share the
 * mean of the ranks they span), the standard definition that handles the heavy ties of 1–10 ratings.
 * Correlations of a constant series are undefined: they return null rather than NaN.
 */

/** 1-based average ranks. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1] as number] === values[order[i] as number]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k] as number] = avg;
    i = j + 1;
  }
  return ranks;
}

function checkLengths(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`metric inputs differ in length (${a.length} vs ${b.length})`);
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  checkLengths(a, b);
  const n = a.length;
  if (n < 2) return null;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] as number;
    mb += b[i] as number;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (a[i] as number) - ma;
    const db = (b[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // Relative threshold: a series that is constant up to round-off has no defined correlation.
  if (saa <= 1e-24 * n || sbb <= 1e-24 * n) return null;
  return sab / Math.sqrt(saa * sbb);
}

export function srocc(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  checkLengths(a, b);
  return pearson(averageRanks(a), averageRanks(b));
}

export function mse(pred: ArrayLike<number>, truth: ArrayLike<number>): number | null {
  checkLengths(pred, truth);
  if (pred.length === 0) return null;
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += ((pred[i] as number) - (truth[i] as number)) ** 2;
  return s / pred.length;
}

export function mae(pred: ArrayLike<number>, truth: ArrayLike<number>): number | null {
  checkLengths(pred, truth);
  if (pred.length === 0) return null;
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += Math.abs((pred[i] as number) - (truth[i] as number));
  return s / pred.length;
}
