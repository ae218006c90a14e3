/**
 * Server-side charts, rendered in the calling thread: a Vega-Lite spec is compiled to Vega, rendered
 * headless to SVG by Vega's own scenegraph (`renderer: 'none'` + `toSVG()`), then rasterized to PNG
 * with resvg. No chart is drawn by hand — the helpers below only shape data into Vega-Lite specs.
 *
 * Loading this module changes the realm it runs in: vega-lite's module body installs
 * `Set.prototype.toJSON` (a zero-argument method returning a string). Libraries that copy the built-in
 * prototypes at load time — discord.js's event emitter bundles node-inspect-extracted, whose
 * `makeSafe(Set)` calls every zero-argument Set method and tests `Symbol.iterator in` the result —
 * then throw `string "Set()" is not iterable`. So the bot never imports this module on its main
 * thread: it renders through src/charts/off-thread.ts (a worker thread with a realm of its own). Only
 * the chart worker and the evaluation CLIs (processes without a chat SDK) import it.
 *
 * Fonts: nothing is downloaded. resvg loads the system fonts (fontconfig folders), and we also pass
 * the DejaVu files explicitly when present (Debian's fonts-dejavu-core) so text renders even where
 * fontconfig is absent. Every spec asks for "DejaVu Sans" first, falling back to any sans-serif.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ChartRenderer } from '../core/ports';
import type { Bar, ChartOptions, ChartRequest, HeatCell, LineSeries } from '../core/records';

export type { Bar, ChartOptions, HeatCell, LineSeries } from '../core/records';

export const CHART_FONT = 'DejaVu Sans';
const FONT_DIRS = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/dejavu', '/usr/share/fonts/TTF'];

/** Font files we can hand resvg directly (independent of fontconfig). Cached after the first look. */
let fontFilesCache: string[] | undefined;
export function chartFontFiles(): string[] {
  if (fontFilesCache) return fontFilesCache;
  const found: string[] = [];
  for (const dir of FONT_DIRS) {
    for (const name of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) {
      const file = path.join(dir, name);
      if (fs.existsSync(file)) found.push(file);
    }
  }
  fontFilesCache = found;
  return found;
}

const BASE_CONFIG = {
  font: CHART_FONT,
  background: 'white',
  view: { stroke: '#ddd' },
  title: { fontSize: 14, anchor: 'start' as const },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
};

/** Compile a Vega-Lite spec and render it to an SVG string (headless, no DOM, no canvas). */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const vgSpec = compile(spec).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterize an SVG string to PNG with resvg and the fonts found on this machine. */
export function svgToPng(svg: string, scale = 1): Buffer {
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    font: {
      loadSystemFonts: true,
      fontFiles: chartFontFiles(),
      defaultFontFamily: CHART_FONT,
      sansSerifFamily: CHART_FONT,
    },
  });
  return resvg.render().asPng();
}

/**
 * Render any Vega-Lite spec to a PNG of exactly width×height (×scale): autosize "fit" with
 * "padding" makes Vega lay axes, legend and title out inside the requested box.
 */
export async function renderVegaLite(spec: Record<string, unknown>, opts: ChartOptions = {}): Promise<Buffer> {
  const width = opts.width ?? 640;
  const height = opts.height ?? 400;
  const full = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width,
    height,
    autosize: { type: 'fit', contains: 'padding' },
    padding: 8,
    ...(opts.title ? { title: opts.title } : {}),
    ...spec,
    config: { ...BASE_CONFIG, ...((spec.config as object | undefined) ?? {}) },
  } as unknown as TopLevelSpec;
  const svg = await vegaLiteToSvg(full);
  return svgToPng(svg, opts.scale ?? 1);
}

/** Lines (one per series, colored, with legend); error bands drawn where points carry lo/hi. */
export async function lineChart(
  series: LineSeries[],
  opts: ChartOptions & { yDomain?: [number, number]; xLog?: boolean } = {},
): Promise<Buffer> {
  const values = series.flatMap((s) => s.points.map((p) => ({ series: s.name, x: p.x, y: p.y, lo: p.lo ?? p.y, hi: p.hi ?? p.y })));
  const hasBand = series.some((s) => s.points.some((p) => p.lo !== undefined || p.hi !== undefined));
  const x = { field: 'x', type: 'quantitative', title: opts.xTitle ?? 'x', ...(opts.xLog ? { scale: { type: 'log' } } : {}) };
  const yScale = opts.yDomain ? { domain: opts.yDomain, zero: false } : { zero: false };
  // Opaque legend symbols: otherwise the faded band layer would set the legend's look.
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    sort: series.map((s) => s.name),
    legend: { symbolOpacity: 1, symbolType: 'stroke', symbolStrokeWidth: 3 },
  };
  const layers: Record<string, unknown>[] = [];
  if (hasBand) {
    layers.push({
      mark: { type: 'area', opacity: 0.15 },
      encoding: { x, y: { field: 'lo', type: 'quantitative', scale: yScale, title: opts.yTitle ?? 'y' }, y2: { field: 'hi' }, color },
    });
  }
  layers.push({
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: { x, y: { field: 'y', type: 'quantitative', scale: yScale, title: opts.yTitle ?? 'y' }, color },
  });
  return renderVegaLite({ data: { values }, layer: layers }, opts);
}

/** Vertical bars; grouped side by side when bars carry `group`, with optional error bars. */
export async function barChart(bars: Bar[], opts: ChartOptions = {}): Promise<Buffer> {
  const grouped = bars.some((b) => b.group !== undefined);
  const values = bars.map((b) => ({
    label: b.label,
    value: b.value,
    group: b.group ?? '',
    lo: b.value - (b.error ?? 0),
    hi: b.value + (b.error ?? 0),
  }));
  const labels = [...new Set(bars.map((b) => b.label))];
  const x = { field: 'label', type: 'nominal', title: opts.xTitle ?? null, sort: labels, axis: { labelAngle: 0 } };
  const xOffset = grouped ? { xOffset: { field: 'group', type: 'nominal', sort: [...new Set(bars.map((b) => b.group ?? ''))] } } : {};
  const color = grouped
    ? { color: { field: 'group', type: 'nominal', title: null, sort: [...new Set(bars.map((b) => b.group ?? ''))] } }
    : {};
  const layers: Record<string, unknown>[] = [
    {
      mark: { type: 'bar' },
      encoding: {
        x,
        y: {
          field: 'value',
          type: 'quantitative',
          title: opts.yTitle ?? 'value',
          ...(opts.integerY ? { axis: { tickMinStep: 1, format: 'd' } } : {}),
        },
        ...xOffset,
        ...color,
      },
    },
  ];
  if (bars.some((b) => b.error !== undefined)) {
    layers.push({
      mark: { type: 'rule', color: '#333' },
      encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, ...xOffset },
    });
  }
  return renderVegaLite({ data: { values }, layer: layers }, opts);
}

/** A grid of colored cells with the value printed in each. */
export async function heatmap(cells: HeatCell[], opts: ChartOptions & { decimals?: number } = {}): Promise<Buffer> {
  const decimals = opts.decimals ?? 2;
  const values = cells.map((c) => ({ ...c, text: c.value.toFixed(decimals) }));
  // Dark text on the bright end of viridis, white on the dark end, so every value stays legible.
  const vals = cells.map((c) => c.value);
  const mid = vals.length ? (Math.min(...vals) + Math.max(...vals)) / 2 : 0;
  const xs = [...new Set(cells.map((c) => c.x))];
  const ys = [...new Set(cells.map((c) => c.y))];
  const x = { field: 'x', type: 'ordinal', title: opts.xTitle ?? null, sort: xs, axis: { labelAngle: 0 } };
  const y = { field: 'y', type: 'ordinal', title: opts.yTitle ?? null, sort: ys };
  return renderVegaLite(
    {
      data: { values },
      layer: [
        { mark: 'rect', encoding: { x, y, color: { field: 'value', type: 'quantitative', title: null, scale: { scheme: 'viridis' } } } },
        {
          mark: { type: 'text', fontSize: 11 },
          encoding: {
            x,
            y,
            text: { field: 'text' },
            color: { condition: { test: `datum.value > ${mid}`, value: '#111' }, value: 'white' },
          },
        },
      ],
    },
    opts,
  );
}

/** Distribution of numbers in equal bins. */
export async function histogram(values: number[], opts: ChartOptions & { bins?: number; extent?: [number, number] } = {}): Promise<Buffer> {
  const bin = { maxbins: opts.bins ?? 20, ...(opts.extent ? { extent: opts.extent } : {}) };
  return renderVegaLite(
    {
      data: { values: values.map((v) => ({ v })) },
      mark: { type: 'bar', color: '#4c78a8' },
      encoding: {
        x: { field: 'v', type: 'quantitative', bin, title: opts.xTitle ?? 'value' },
        y: { aggregate: 'count', type: 'quantitative', title: opts.yTitle ?? 'count' },
      },
    },
    opts,
  );
}

/** Draws one request in this thread (the chart worker's whole job). */
export async function renderChart(request: ChartRequest): Promise<Buffer> {
  switch (request.kind) {
    case 'line':
      return lineChart(request.series, request.options);
    case 'bar':
      return barChart(request.bars, request.options);
    case 'heatmap':
      return heatmap(request.cells, request.options);
    case 'histogram':
      return histogram(request.values, request.options);
    case 'svg':
      return svgToPng(request.svg, request.scale);
  }
}

/** Charts drawn in the calling thread: for the evaluation CLIs and tests, never the bot's main thread. */
export const inProcessChartRenderer: ChartRenderer = { render: renderChart };
