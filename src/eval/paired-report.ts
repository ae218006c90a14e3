/** Paired comparisons as text: one-line checks and markdown tables (shared by eval:optimize, eval:piaa and eval:report). */
import type { PairedComparison } from './paired';

const signed = (x: number, digits: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}` : 'n/a');

/** What the row claims, e.g. "a > b" or "a − b < 0.03". */
export function claimText(c: PairedComparison): string {
  const op = c.claim === 'greater' ? '>' : '<';
  return c.margin === 0 ? `${c.a} ${op} ${c.b}` : `${c.a} − ${c.b} ${op} ${c.margin}`;
}

export function comparisonTable(cs: readonly PairedComparison[], digits = 2): string[] {
  const lines = [
    '| a − b | metric | mean ± s.e. | 95% CI | n | claim | verdict | seeds on the wrong side |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const c of cs) {
    const n = c.units === 'seeds' ? `${c.n} seeds (${c.pairs} pairs)` : `${c.n} ${c.units}`;
    const ci = Number.isFinite(c.lo) ? `${signed(c.lo, digits)} to ${signed(c.hi, digits)}` : 'n/a';
    const se = Number.isFinite(c.se) ? c.se.toFixed(digits) : 'n/a';
    const wrong = c.seeds > 1 ? `${c.missed_seeds.length}/${c.seeds}${c.missed_seeds.length ? `: ${c.missed_seeds.join(', ')}` : ''}` : '—';
    lines.push(
      `| ${c.a} − ${c.b} | ${c.metric} | ${signed(c.mean, digits)} ± ${se} | ${ci} | ${n} | ${claimText(c)} | ${c.verdict} | ${wrong} |`,
    );
  }
  return lines;
}

/** "+0.35 ± 0.10 (95% CI +0.13 to +0.57; 10 seeds)": the difference, its standard error, the interval and n. */
export function formatDifference(c: PairedComparison, digits = 2): string {
  const se = Number.isFinite(c.se) ? c.se.toFixed(digits) : 'n/a';
  const ci = Number.isFinite(c.lo) ? `95% CI ${signed(c.lo, digits)} to ${signed(c.hi, digits)}` : 'no CI from one value';
  const n = c.units === 'seeds' ? `${c.n} seeds, ${c.pairs} pairs` : `${c.n} ${c.units}`;
  return `${signed(c.mean, digits)} ± ${se} (${ci}; ${n})`;
}

/** One line per comparison: what is claimed, the paired difference, the verdict and the seeds behind. */
export function formatCheck(c: PairedComparison, digits = 2): string {
  const behind =
    c.seeds > 1
      ? `; wrong side on ${c.missed_seeds.length}/${c.seeds} seeds${c.missed_seeds.length ? ` (${c.missed_seeds.join(', ')})` : ''}`
      : '';
  return `${c.metric}: ${c.a} − ${c.b} ${formatDifference(c, digits)}; claim ${claimText(c)}: ${c.verdict}${behind}`;
}
