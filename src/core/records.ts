/**
 * The core's plain records: data it stores, hands out and describes (images, rating changes and their
 * context, scorer quality, chart requests), with no behaviour. The interfaces the core is handed —
 * embedder, image generator, LLMs, moderator, chart renderer — are its ports (ports.ts).
 */
import type { UserKey } from './identity';

export type ImageSource = 'gallery' | 'onboarding' | 'generated' | 'uploaded' | 'attachment';

export interface ImageRecord {
  id: string;
  width: number;
  height: number;
  bytes: number;
  source: ImageSource;
  prompt: string | null;
  generator: string | null;
  seed: number | null;
  ownerKey: string | null;
  createdAt: Date;
}

export interface RatingContext {
  /** e.g. "discord", "slack", "playground", "reaction", "eval". */
  source: string;
  /** Guild id / Slack team id: where the rating happened. */
  scopeId?: string;
  channelId?: string;
  messageId?: string;
}

export interface RatingChange {
  userKey: UserKey;
  imageId: string;
  /** Effective rating before and after; null = none. */
  before: number | null;
  after: number | null;
  /** false when the event was a duplicate or stale and changed nothing. */
  changed: boolean;
}

/**
 * A change committed by this process, as the ledger tells its listeners: with the id of the audit row
 * (rating_events) it added, so a cache can tell whether the change follows the ledger version it holds.
 */
export interface CommittedChange extends RatingChange {
  /** null when unknown: the cache then refits from the ledger. */
  eventId: number | null;
}

export interface ScorerQuality {
  n: number;
  srocc: number | null;
  mse: number | null;
  mae: number | null;
  /** 95% interval of `srocc` (absent in figures stored before it was reported; see scorer/quality-cv.ts). */
  sroccLow?: number | null;
  sroccHigh?: number | null;
}

// ---------- charts ----------

/** Size, titles and density of a chart PNG. */
export interface ChartOptions {
  title?: string;
  /** Final PNG width and height in CSS pixels (before `scale`). Default 640×400. */
  width?: number;
  height?: number;
  xTitle?: string;
  yTitle?: string;
  /** Pixel density multiplier of the PNG (2 = retina). Default 1. */
  scale?: number;
  /** The y values are counts: whole-number ticks only. */
  integerY?: boolean;
}

export interface LinePoint {
  x: number;
  y: number;
  /** Optional band (e.g. mean ± std). */
  lo?: number;
  hi?: number;
}
export interface LineSeries {
  name: string;
  points: LinePoint[];
}

export interface Bar {
  label: string;
  value: number;
  /** Side-by-side groups within a label (e.g. method per shot count). */
  group?: string;
  /** Symmetric error bar (e.g. std). */
  error?: number;
}

export interface HeatCell {
  x: string;
  y: string;
  value: number;
}

/** One picture to draw, as plain data (it crosses a thread boundary). */
export type ChartRequest =
  | { kind: 'line'; series: LineSeries[]; options?: ChartOptions & { yDomain?: [number, number]; xLog?: boolean } }
  | { kind: 'bar'; bars: Bar[]; options?: ChartOptions }
  | { kind: 'heatmap'; cells: HeatCell[]; options?: ChartOptions & { decimals?: number } }
  | { kind: 'histogram'; values: number[]; options?: ChartOptions & { bins?: number; extent?: [number, number] } }
  /** A hand-made SVG (text strips, labels) rasterized with the same fonts as the charts. */
  | { kind: 'svg'; svg: string; scale?: number };
