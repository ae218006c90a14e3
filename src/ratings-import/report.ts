/** The import's report in words (people, images, ratings, rejected rows and why) and as one JSON object. */
import { countByKind, type RejectKind } from './ratings-file';
import type { ImportPlan } from './plan';
import type { ImportResult } from './apply';

export interface ImportSummary {
  source: string;
  dryRun: boolean;
  people: { total: number; new: number };
  images: { total: number; new: number };
  ratings: { total: number; toWrite: number; alreadyThere: number; rounded: number };
  rejected: { total: number; byKind: Partial<Record<RejectKind, number>>; rows: { line: number; reason: string }[] };
  result?: ImportResult;
}

export function summarizeImport(plan: ImportPlan, dryRun: boolean, result?: ImportResult): ImportSummary {
  const already = plan.ratings.filter((r) => r.alreadyThere).length;
  return {
    source: plan.source,
    dryRun,
    people: { total: plan.people.length, new: plan.people.filter((p) => p.isNew).length },
    images: { total: plan.images.length, new: plan.images.filter((im) => im.isNew).length },
    ratings: { total: plan.ratings.length, toWrite: plan.ratings.length - already, alreadyThere: already, rounded: plan.rounded },
    rejected: {
      total: plan.rejected.length,
      byKind: countByKind(plan.rejected),
      rows: plan.rejected.map((r) => ({ line: r.line, reason: r.reason })),
    },
    ...(result ? { result } : {}),
  };
}

/** At most this many rejected rows are listed in words (all of them are in the JSON line). */
const LISTED_REJECTS = 50;

export function importReportLines(s: ImportSummary, plan: ImportPlan): string[] {
  const scale = plan.scale.low === 1 && plan.scale.high === 10 ? '1–10' : `${plan.scale.low}–${plan.scale.high}`;
  const lines = [
    `${s.dryRun ? 'Dry run (nothing written)' : 'Import'} of ${plan.file} (${plan.format}, scale ${scale}) as source "${s.source}":`,
    `- people: ${s.people.total} (${s.people.new} new), keyed import:${s.source}:<rater>`,
    `- images: ${s.images.total} (${s.images.new} new)`,
    `- ratings: ${s.ratings.total} (${s.ratings.toWrite} to write, ${s.ratings.alreadyThere} already imported)` +
      (s.ratings.rounded ? `; ${s.ratings.rounded} rounded onto whole 1–10 scores` : ''),
    `- rejected rows: ${s.rejected.total}${
      s.rejected.total
        ? ` (${Object.entries(s.rejected.byKind)
            .map(([k, n]) => `${n} ${k}`)
            .join(', ')})`
        : ''
    }`,
  ];
  for (const r of s.rejected.rows.slice(0, LISTED_REJECTS)) lines.push(`  - line ${r.line}: ${r.reason}`);
  if (s.rejected.rows.length > LISTED_REJECTS) lines.push(`  - … ${s.rejected.rows.length - LISTED_REJECTS} more in the JSON line`);
  if (s.result)
    lines.push(
      `Written in one transaction: ${s.result.imagesStored} images, ${s.result.vectorsStored} vectors, ${s.result.ratingsWritten} ratings (${s.result.ratingsUnchanged} unchanged).`,
    );
  return lines;
}
