/** eval:optimize's report: the two markdown tables, the genetic-vs-random checks and the best-so-far plot. */
import { lineChart } from '../../charts/render';
import type { OptimizeSummary } from './experiment';

export function optimizeMarkdown(s: OptimizeSummary): string {
  const f = (x: number | undefined, sd: number | undefined) =>
    x === undefined || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(2)} ± ${(sd ?? 0).toFixed(2)}`;
  const lines = [
    `## Prompt optimization (seeds ${s.seeds.join(', ')}; K=${s.iterations}, N=${s.candidates}, ${s.budget_images} images per run)`,
    '',
  ];
  lines.push(
    '### General preference (community scorer)',
    '',
    '| row | max | max − init | K* | true-taste gain | images | runs |',
    '|---|---|---|---|---|---|---|',
  );
  for (const [row, r] of Object.entries(s.general))
    lines.push(
      `| ${row} | ${f(r.max, r.max_std)} | ${f(r.max_minus_init, r.max_minus_init_std)} | ${f(r.k_star, r.k_star_std)} | ${f(r.true_gain, r.true_gain_std)} | ${r.images} | ${r.runs} |`,
    );
  lines.push(
    '',
    "### Personal preference (virtual human = the person's fitted scorer)",
    '',
    '| row | max | max − init | K* | max sim | score of most sim | true-taste gain | images | runs |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const [row, r] of Object.entries(s.personal))
    lines.push(
      `| ${row} | ${f(r.max, r.max_std)} | ${f(r.max_minus_init, r.max_minus_init_std)} | ${f(r.k_star, r.k_star_std)} | ${f(r.max_sim, r.max_sim_std)} | ${f(r.score_of_most_sim, r.score_of_most_sim_std)} | ${f(r.true_gain, r.true_gain_std)} | ${r.images} | ${r.runs} |`,
    );
  if (!s.llm) lines.push('', '_LLM rows (none, s+p, s+p+f, s+p+f+I) were not run: they need an LLM (OPENAI_API_KEY)._');
  return lines.join('\n');
}

export function optimizeChecks(s: OptimizeSummary): string[] {
  const out: string[] = [];
  for (const table of ['general', 'personal'] as const) {
    const g = s[table].genetic;
    const r = s[table].random;
    if (!g || !r) continue;
    const proxy = g.max_minus_init > r.max_minus_init;
    const real = g.true_gain > r.true_gain;
    out.push(
      `${table}: genetic vs random at ${s.budget_images} images — max−init ${g.max_minus_init.toFixed(2)} vs ${r.max_minus_init.toFixed(2)} (${proxy ? 'better' : 'NOT better'}), true-taste gain ${g.true_gain.toFixed(2)} vs ${r.true_gain.toFixed(2)} (${real ? 'better' : 'NOT better'}): ${proxy && real ? 'MET' : 'MISSED'}`,
    );
  }
  return out;
}

export async function optimizeChart(s: OptimizeSummary): Promise<Buffer> {
  const series = (['general', 'personal'] as const).flatMap((table) =>
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
