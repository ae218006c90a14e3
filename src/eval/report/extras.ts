/**
 * The README's second generated block, `eval:report --extras`: the figures that need extra arms of the two
 * evaluations — the picks arm and the confidence meter's calibration (eval:piaa --picks --calibration),
 * the share of candidates displayed at 10.0, the ranking rule's true-taste effect (genetic:ucb vs genetic)
 * and MobileNetV2 beside the built-in features on eval:optimize. Seeds are the units of every interval:
 * each seed's figure is one observation (paired.ts), so a seed cannot hide inside a pooled mean.
 *
 * Rendering is a pure function of the saved run (ExtrasRun), so the block can be written again from its
 * JSON; a figure the run lacks is an error, never a silently shorter block.
 */
import { combineSeeds, describeDifferences, roundComparison, type PairedComparison, type SeedDifference } from '../paired';
import { comparisonTable, formatCheck } from '../paired-report';
import { combineSeedComparisons } from '../piaa/comparisons';
import type { CalibrationRow } from '../piaa/calibration';
import type { RowSummary } from '../optimize/summary';
import { formatSeeds } from '../cli';

export const EXTRAS_BEGIN = '<!-- eval:extras:begin -->';
export const EXTRAS_END = '<!-- eval:extras:end -->';
/** The block goes right after the main figures section when the README has no extras markers yet. */
const AFTER = '<!-- eval:report:end -->';

/** The picks target: this many picks against this many ratings (picks.ts PICKS_TARGET). */
const PICKS_TARGET = 10;
/** A default run may show at most this share of its candidates as 10.0. */
const SHARE_AT_TEN_LIMIT = 0.05;

/** One seed of eval:piaa with the picks arm and the calibration check (the parts the block reads). */
export interface ExtrasPiaaSeed {
  seed: number;
  /** Paired per-person picks − ratings comparisons of the seed (picks.ts picksComparisons). */
  picks: PairedComparison[];
  picks_vs_ratings: Record<string, { picks: number; ratings: number; n: number }>;
  calibration: Record<string, CalibrationRow>;
}

/** One seed of eval:optimize with one embedder. */
export interface ExtrasOptimizeSeed {
  seed: number;
  general: Record<string, RowSummary>;
  personal: Record<string, RowSummary>;
  comparisons: { general: PairedComparison[]; personal: PairedComparison[] };
}

/** What one `eval:report --extras` run measured: enough to render the block again. */
export interface ExtrasRun {
  command: string;
  seeds: number[];
  quick: boolean;
  seconds: number;
  date: string;
  piaa: ExtrasPiaaSeed[];
  optimize: { features: ExtrasOptimizeSeed[]; mobilenet: ExtrasOptimizeSeed[] };
}

/** A figure the block needs is not in the run (an older or partial JSON): render nothing rather than less. */
export class MissingFigureError extends Error {
  constructor(what: string) {
    super(`the extras run has no ${what}: run \`npm run eval:report -- --extras\` again to measure it`);
    this.name = 'MissingFigureError';
  }
}

const TABLES = ['general', 'personal'] as const;
const signed = (x: number, digits = 3) => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}` : 'n/a');
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

/** Seed-level values combined with the seeds as units (mean, s.e., t interval, seeds on the wrong side). */
function overSeeds(values: { seed: number; value: number }[], opts: Parameters<typeof combineSeeds>[1]): PairedComparison {
  const bySeed: SeedDifference[] = values.map(({ seed, value }) => ({ seed, ...describeDifferences([value]) }));
  const n = values.length;
  return roundComparison(combineSeeds(bySeed, { unitName: 'seeds', ...opts }, { n_a: n, n_b: n, pairs: n }));
}

function picksSection(run: ExtrasRun): { lines: string[]; checks: PairedComparison[] } {
  if (!run.piaa.length) throw new MissingFigureError('eval:piaa seeds');
  for (const s of run.piaa)
    if (!s.picks.some((c) => c.a === `${PICKS_TARGET} picks`))
      throw new MissingFigureError(`picks figure at ${PICKS_TARGET} for seed ${s.seed}`);
  const combined = combineSeedComparisons(run.piaa.map((s) => ({ seed: s.seed, comparisons: s.picks })));
  const counts = Object.keys(run.piaa[0]!.picks_vs_ratings);
  const mean = (k: string, f: (r: { picks: number; ratings: number }) => number) =>
    run.piaa.reduce((t, s) => t + f(s.picks_vs_ratings[k] ?? { picks: NaN, ratings: NaN }), 0) / run.piaa.length;
  // "Picks reach 10 ratings after k picks": per seed, mean SROCC of k picks − that of 10 ratings (the same people).
  const reach = counts.map((k) =>
    overSeeds(
      run.piaa.map((s) => ({
        seed: s.seed,
        value: (s.picks_vs_ratings[k]?.picks ?? NaN) - (s.picks_vs_ratings[String(PICKS_TARGET)]?.ratings ?? NaN),
      })),
      { a: `${k} picks`, b: `${PICKS_TARGET} ratings`, metric: 'SROCC vs hidden taste' },
    ),
  );
  const firstPoint = reach.find((c) => c.mean >= 0);
  const firstMet = reach.find((c) => c.verdict === 'MET');
  const target = combined.find((c) => c.a === `${PICKS_TARGET} picks`)!;
  const lines = [
    `#### Picks vs ratings (eval:piaa --picks; seeds ${formatSeeds(run.piaa.map((s) => s.seed))})`,
    '',
    'SROCC against the hidden noise-free taste on fresh test images, mean over people and seeds; k picks of four (the joint ratings + picks fit) vs the first k ratings (finetune), paired person by person, seeds the units.',
    '',
    '| k | picks | ratings | picks − ratings (seeds as units) | 95% CI | k picks − 10 ratings | 95% CI |',
    '|---|---|---|---|---|---|---|',
    ...counts.map((k, i) => {
      const c = combined.find((x) => x.a === `${k} picks`);
      const r = reach[i]!;
      const ci = (x: PairedComparison | undefined) => (x && Number.isFinite(x.lo) ? `${signed(x.lo)} to ${signed(x.hi)}` : 'n/a');
      return `| ${k} | ${mean(k, (r) => r.picks).toFixed(3)} | ${mean(k, (r) => r.ratings).toFixed(3)} | ${c ? `${signed(c.mean)} ± ${c.se.toFixed(3)}` : 'n/a'} | ${ci(c)} | ${signed(r.mean)} ± ${r.se.toFixed(3)} | ${ci(r)} |`;
    }),
    '',
    `- Target, ${PICKS_TARGET} picks reach the SROCC of ${PICKS_TARGET} ratings: ${formatCheck(target, 3)}.`,
    `- Fewest picks whose mean reaches ${PICKS_TARGET} ratings: ${firstPoint ? firstPoint.a : `none of ${counts.join(', ')}`}; fewest whose whole 95% interval is above it: ${firstMet ? firstMet.a : 'none measured'}.`,
  ];
  return { lines, checks: [target] };
}

function calibrationSection(run: ExtrasRun): string[] {
  const counts = Object.keys(run.piaa[0]?.calibration ?? {});
  if (!counts.length) throw new MissingFigureError('calibration figures (eval:piaa --calibration)');
  const seedsOf = (n: string, f: (r: CalibrationRow) => number) =>
    run.piaa.map((s) => {
      const row = s.calibration[n];
      if (!row) throw new MissingFigureError(`calibration row at ${n} ratings for seed ${s.seed}`);
      return { seed: s.seed, value: f(row) };
    });
  const cell = (c: PairedComparison) => `${signed(c.mean)} ± ${c.se.toFixed(3)} (${signed(c.lo)} to ${signed(c.hi)})`;
  const avg = (xs: { value: number }[]) => xs.reduce((t, x) => t + x.value, 0) / xs.length;
  return [
    `#### Quality figure and confidence meter vs the truth (eval:piaa --calibration; seeds ${formatSeeds(run.piaa.map((s) => s.seed))})`,
    '',
    'Per ratings count: the true SROCC of the fitted finetune model on the person’s fresh test images (observed ratings), the bias of what `/profile` reports (honest cross-validated figure) and of the confidence meter (reported − true, paired per person, then seeds as units: mean ± s.e., 95% CI), the interval’s coverage and the meter’s rank correlation with the truth across people (means over seeds).',
    '',
    '| ratings | true SROCC | honest CV bias | meter | meter bias | 95% interval coverage | "not enough to tell" | meter vs true |',
    '|---|---|---|---|---|---|---|---|',
    ...counts.map((n) => {
      const honest = overSeeds(
        seedsOf(n, (r) => r.honest_bias),
        { a: 'honest CV', b: 'true', metric: `bias @${n}` },
      );
      const meter = overSeeds(
        seedsOf(n, (r) => r.meter_bias),
        { a: 'meter', b: 'true', metric: `bias @${n}` },
      );
      return `| ${n} | ${avg(seedsOf(n, (r) => r.true_observed)).toFixed(3)} | ${cell(honest)} | ${avg(seedsOf(n, (r) => r.meter_mean)).toFixed(3)} | ${cell(meter)} | ${pct(avg(seedsOf(n, (r) => r.coverage)))} | ${pct(avg(seedsOf(n, (r) => r.cannot_tell)))} | ${avg(seedsOf(n, (r) => r.meter_corr ?? NaN)).toFixed(2)} |`;
    }),
  ];
}

const rowOf = (s: ExtrasOptimizeSeed, table: (typeof TABLES)[number], row: string): RowSummary => {
  const r = s[table][row];
  if (!r) throw new MissingFigureError(`eval:optimize row ${row} (${table}) for seed ${s.seed}`);
  return r;
};

function optimizeSection(run: ExtrasRun): { lines: string[]; checks: PairedComparison[] } {
  const { features, mobilenet } = run.optimize;
  if (!features.length) throw new MissingFigureError('eval:optimize seeds with the features embedder');
  if (!mobilenet.length) throw new MissingFigureError('eval:optimize seeds with the mobilenet embedder');
  const rows = Object.keys(features[0]!.general);
  const share = (table: (typeof TABLES)[number], row: string, seeds = features) =>
    seeds.map((s) => ({ seed: s.seed, value: rowOf(s, table, row).shown_at_10 }));
  const shareChecks = TABLES.map((t) =>
    overSeeds(share(t, 'genetic'), {
      a: `${t}: genetic shown at 10.0`,
      b: '0',
      metric: 'share of candidates',
      claim: 'less',
      margin: SHARE_AT_TEN_LIMIT,
    }),
  );
  const ranking = combineSeedComparisons(
    features.map((s) => ({
      seed: s.seed,
      comparisons: TABLES.flatMap((t) =>
        s.comparisons[t].filter((c) => c.a === 'genetic:ucb' && c.b === 'genetic').map((c) => ({ ...c, metric: `${t}: ${c.metric}` })),
      ),
    })),
  );
  for (const t of TABLES)
    if (!ranking.some((c) => c.metric.startsWith(`${t}: `))) throw new MissingFigureError(`genetic:ucb vs genetic comparison (${t})`);
  // Paired by seed: only seeds measured with both embedders (a run stopped early may lack the last one).
  const paired = mobilenet.flatMap((mb) => {
    const f = features.find((x) => x.seed === mb.seed);
    return f ? [[mb, f] as const] : [];
  });
  if (!paired.length) throw new MissingFigureError('seed measured with both embedders (eval:optimize)');
  const embedders = TABLES.flatMap((t) =>
    (['true_gain', 'max_minus_init'] as const).map((m) =>
      overSeeds(
        paired.map(([mb, f]) => ({ seed: mb.seed, value: rowOf(mb, t, 'genetic')[m] - rowOf(f, t, 'genetic')[m] })),
        { a: 'mobilenet', b: 'features', metric: `${t}: genetic ${m === 'true_gain' ? 'true-taste gain' : 'max − init'}` },
      ),
    ),
  );
  const lines = [
    '#### Displayed scores at 10.0, the ranking rule and the embedders (eval:optimize)',
    '',
    `Share of scored candidates displayed as 10.0 with the features embedder (calibrated display; in brackets: had predictions been clipped to 1–10), mean over seeds ${formatSeeds(features.map((s) => s.seed))}, then the highest single seed (${features[0]!.general[rows[0]!]?.runs ?? 0} runs per row and seed):`,
    '',
    '| row | general | personal |',
    '|---|---|---|',
    ...rows.map((row) => {
      const cell = (t: (typeof TABLES)[number]) => {
        const xs = share(t, row).map((x) => x.value);
        const clipped = features.map((s) => rowOf(s, t, row).clipped_at_10);
        const m = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
        return `${pct(m(xs))}, max ${pct(Math.max(...xs))} (${pct(m(clipped))})`;
      };
      return `| ${row} | ${cell('general')} | ${cell('personal')} |`;
    }),
    '',
    `Limit for a default run (genetic, ranked on the mean): at most 5% of candidates displayed at 10.0. Ranking on UCB (mean + 1 sd) against the mean, paired run by run; MobileNetV2 against the features on seeds ${formatSeeds(paired.map(([mb]) => mb.seed))} (genetic row, per-seed means paired by seed; the same start prompts, loop seeds and populations):`,
    '',
    ...comparisonTable([...shareChecks, ...ranking, ...embedders], 3),
  ];
  return { lines, checks: [...shareChecks, ...ranking, ...embedders] };
}

/** The generated extras block, markers included. */
export function extrasSection(run: ExtrasRun): string {
  const picks = picksSection(run);
  const calibration = calibrationSection(run);
  const optimize = optimizeSection(run);
  const checks = [...picks.checks, ...optimize.checks];
  const missed = checks.filter((c) => c.verdict === 'MISSED');
  const measured = new Set([...run.piaa, ...run.optimize.features, ...run.optimize.mobilenet].map((s) => s.seed));
  const complete =
    run.piaa.length === run.seeds.length &&
    run.optimize.features.length === run.seeds.length &&
    run.optimize.mobilenet.length === run.seeds.length;
  const partial = complete
    ? ''
    : ` Stopped before it finished: measured eval:piaa on seeds ${formatSeeds(run.piaa.map((s) => s.seed)) || 'none'}, eval:optimize with features on ${formatSeeds(run.optimize.features.map((s) => s.seed)) || 'none'} and with mobilenet on ${formatSeeds(run.optimize.mobilenet.map((s) => s.seed)) || 'none'} (of ${formatSeeds(run.seeds)}); each section names its seeds.`;
  return [
    EXTRAS_BEGIN,
    `<!-- Generated by \`${run.command}\`: do not edit by hand, run it again. -->`,
    '',
    `Generated by \`${run.command}\` on ${run.date} (seeds ${formatSeeds(run.seeds)}, each seed once, ${run.quick ? 'quick' : 'full'} sizes; ${Math.round(run.seconds)} s on this machine, ${measured.size} seeds measured).${partial} MET only when the whole 95% interval (seeds as units, t with seeds − 1 d.f.) is on the claimed side; ${missed.length} of ${checks.length} checks are MISSED.`,
    '',
    ...picks.lines,
    '',
    ...calibration,
    '',
    ...optimize.lines,
    '',
    `MISSED (${missed.length}):`,
    '',
    ...(missed.length ? missed.map((c) => `- ${formatCheck(c, 3)}`) : ['- none']),
    EXTRAS_END,
  ].join('\n');
}

/** `text` with the extras block replaced by `section`, or inserted right after the main figures section. */
export function replaceExtras(text: string, section: string): string {
  const begin = text.indexOf(EXTRAS_BEGIN);
  const end = text.indexOf(EXTRAS_END);
  if (begin >= 0 && end > begin) return text.slice(0, begin) + section + text.slice(end + EXTRAS_END.length);
  if (begin >= 0 || end >= 0) throw new Error(`the README has only one of ${EXTRAS_BEGIN} and ${EXTRAS_END}: remove it or add the other`);
  const after = text.indexOf(AFTER);
  if (after < 0) throw new Error(`the README has no ${AFTER} marker to put the extras block after`);
  const at = after + AFTER.length;
  return `${text.slice(0, at)}\n\n${section}${text.slice(at)}`;
}
