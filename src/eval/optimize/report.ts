/** eval:optimize's report: the two markdown tables, their paired comparisons, the checks and the best-so-far plot. */
import { lineChart } from '../../charts/render';
import { comparisonTable, formatCheck } from '../paired-report';
import type { OptimizeSummary } from './experiment';
import type { RowSummary } from './summary';

const TABLES = ['general', 'personal'] as const;

const percent = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

/** Share of candidates shown "10.0" with the calibrated display, and (in brackets) had predictions been clipped. */
function atTen(r: RowSummary): string {
  return `${percent(r.shown_at_10)} (${percent(r.clipped_at_10)})`;
}

export function optimizeMarkdown(s: OptimizeSummary): string {
  const f = (x: number | undefined, sd: number | undefined) =>
    x === undefined || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(2)} ± ${(sd ?? 0).toFixed(2)}`;
  const lines = [
    `## Prompt optimization (seeds ${s.seeds.join(', ')}; K=${s.iterations}, N=${s.candidates}, ${s.budget_images} images per run)`,
    '',
    'Row tables: mean ± standard deviation over runs (the spread, not an error bar). Comparisons: paired run by run, mean difference ± standard error, 95% t interval, seeds as the units; MET only when the whole interval is on the claimed side of 0.',
    '',
  ];
  lines.push(
    '### General preference (community scorer)',
    '',
    '| row | max | max − init | K* | true-taste gain | shown at 10.0 (clipped) | images | runs |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const [row, r] of Object.entries(s.general))
    lines.push(
      `| ${row} | ${f(r.max, r.max_std)} | ${f(r.max_minus_init, r.max_minus_init_std)} | ${f(r.k_star, r.k_star_std)} | ${f(r.true_gain, r.true_gain_std)} | ${atTen(r)} | ${r.images} | ${r.runs} |`,
    );
  lines.push('', ...comparisonTable(s.comparisons.general));
  lines.push(
    '',
    "### Personal preference (virtual human = the person's fitted scorer)",
    '',
    '| row | max | max − init | K* | max sim | score of most sim | true-taste gain | shown at 10.0 (clipped) | images | runs |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const [row, r] of Object.entries(s.personal))
    lines.push(
      `| ${row} | ${f(r.max, r.max_std)} | ${f(r.max_minus_init, r.max_minus_init_std)} | ${f(r.k_star, r.k_star_std)} | ${f(r.max_sim, r.max_sim_std)} | ${f(r.score_of_most_sim, r.score_of_most_sim_std)} | ${f(r.true_gain, r.true_gain_std)} | ${atTen(r)} | ${r.images} | ${r.runs} |`,
    );
  lines.push('', ...comparisonTable(s.comparisons.personal));
  if (!s.llm) lines.push('', '_LLM rows (none, s+p, s+p+f, s+p+f+I) were not run: they need an LLM (OPENAI_API_KEY)._');
  return lines.join('\n');
}

/** One line per paired comparison of both tables, each ending in MET or MISSED (MET needs the 95% CI to exclude 0). */
export function optimizeChecks(s: OptimizeSummary): string[] {
  return TABLES.flatMap((table) => s.comparisons[table].map((c) => `${table}: ${formatCheck(c)}`));
}

export async function optimizeChart(s: OptimizeSummary): Promise<Buffer> {
  const series = TABLES.flatMap((table) =>
    Object.entries(s[table]).map(([row, r]) => ({ name: `${table}: ${row}`, points: r.best_so_far.map((y, i) => ({ x: i, y })) })),
  );
  return lineChart(series, {
    title: `Best-so-far objective score vs iteration (mean over runs; seeds ${s.seeds.join(', ')})`,
    xTitle: 'iteration',
    yTitle: 'best-so-far score (1–10)',
    width: 760,
    height: 440,
  });
}
