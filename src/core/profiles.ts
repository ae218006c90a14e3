/**
 * Taste profiles, as pure computations over embeddings and predictions (no database, no platform):
 *
 * - Named taste directions: unit vectors in embedding space with a human name. With the built-in
 *   `features` embedder they are built from its named feature groups ("warm palettes" = warmth dims +
 *   warm hue bins − cool hue bins, …). With CLIP they are the text embeddings of ~150 descriptor
 *   phrases, obtained through the `TextEmbedder` interface (CLIP's text tower is not available
 *   offline, so that path is pluggable and the features path is the tested default).
 * - A person's response to a direction: how their predicted rating moves along it over a reference
 *   set of images (the slope, in rating points per standard deviation of the images' position on the
 *   direction). For a linear scorer that is the person's weights projected onto the direction through
 *   the reference images' covariance; measured through predictions it works for every scorer method
 *   (kNN and blend too). "Likes more than the community does" = the same slope for the person's
 *   predictions minus the community (global) model's predictions, i.e. the weight DIFFERENCE.
 * - The charts: a score-distribution bar chart (drawn by the ChartRenderer it is handed) and a grid
 *   of top-rated and predicted-favorite images composed with sharp.
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { ChartRenderer } from './ports';
import { FEATURE_DIM, FEATURE_GROUPS, FEATURES_MODEL_ID } from '../providers/embedder/features';

// ---------------------------------------------------------------- directions

export interface TasteDirection {
  /** Stable id, e.g. "warm" or "phrase:watercolor painting". */
  id: string;
  /** Words for liking the positive end ("warm palettes"). */
  positive: string;
  /** Words for liking the negative end ("cool palettes"); for single-pole phrases, null. */
  negative: string | null;
  /** Unit vector in the embedding space. */
  vector: Float64Array;
}

/** One ingredient of a feature direction: a group's dims (all or some), with a signed weight. */
interface Part {
  group: string;
  /** Indices within the group; all when omitted. */
  dims?: number[];
  weight: number;
}

interface FeatureDirectionSpec {
  id: string;
  positive: string;
  /** null: one-sided (hues) — leaning away reads as a dislike, not as a taste of its own. */
  negative: string | null;
  parts: Part[];
}

// hueHist: 12 soft bins of 30°, centers at 15°, 45°, … (0 = red, 1–2 orange/yellow, 3–4 green,
// 5–6 cyan/teal, 7–8 blue, 9–10 purple/magenta, 11 pink-red).
export const FEATURE_DIRECTION_SPECS: readonly FeatureDirectionSpec[] = [
  {
    id: 'warm',
    positive: 'warm palettes',
    negative: 'cool palettes',
    parts: [
      { group: 'warmth', weight: 1 },
      { group: 'hueHist', dims: [0, 1, 2, 11], weight: 0.5 },
      { group: 'hueHist', dims: [6, 7, 8], weight: -0.5 },
    ],
  },
  {
    id: 'contrast',
    positive: 'high contrast',
    negative: 'low-contrast, gentle tones',
    parts: [
      { group: 'contrast', weight: 1 },
      { group: 'brightness', dims: [1], weight: 0.7 },
    ],
  },
  {
    id: 'busy',
    positive: 'busy, detailed compositions',
    negative: 'calm, minimal compositions',
    parts: [
      { group: 'edges', weight: 1 },
      { group: 'entropy', weight: 0.6 },
      { group: 'edgeGrid', weight: 0.4 },
    ],
  },
  {
    id: 'saturated',
    positive: 'saturated colour',
    negative: 'muted, desaturated colour',
    parts: [
      { group: 'saturation', weight: 1 },
      { group: 'colorfulness', weight: 1 },
      { group: 'satHist', dims: [5, 6, 7], weight: 0.5 },
      { group: 'satHist', dims: [0, 1], weight: -0.5 },
    ],
  },
  {
    id: 'dark',
    positive: 'dark scenes',
    negative: 'bright, airy scenes',
    parts: [
      { group: 'brightness', dims: [0], weight: -1 },
      { group: 'lumHist', dims: [0, 1, 2], weight: 0.5 },
      { group: 'lumHist', dims: [5, 6, 7], weight: -0.5 },
    ],
  },
  { id: 'symmetry', positive: 'symmetry', negative: 'asymmetric layouts', parts: [{ group: 'symmetry', weight: 1 }] },
  { id: 'sharp', positive: 'crisp detail', negative: 'soft, blurry textures', parts: [{ group: 'sharpness', weight: 1 }] },
  { id: 'centered', positive: 'centered subjects', negative: 'off-center subjects', parts: [{ group: 'centerBorder', weight: 1 }] },
  {
    id: 'thirds',
    positive: 'rule-of-thirds compositions',
    negative: 'compositions off the thirds',
    parts: [{ group: 'thirds', weight: 1 }],
  },
  { id: 'reds', positive: 'reds and oranges', negative: null, parts: [{ group: 'hueHist', dims: [0, 1, 11], weight: 1 }] },
  { id: 'greens', positive: 'greens', negative: null, parts: [{ group: 'hueHist', dims: [3, 4], weight: 1 }] },
  { id: 'blues', positive: 'blues and teals', negative: null, parts: [{ group: 'hueHist', dims: [5, 6, 7, 8], weight: 1 }] },
  { id: 'purples', positive: 'purples and magentas', negative: null, parts: [{ group: 'hueHist', dims: [9, 10], weight: 1 }] },
];

function groupOffsets(): Map<string, { offset: number; dims: number }> {
  const out = new Map<string, { offset: number; dims: number }>();
  let o = 0;
  for (const g of FEATURE_GROUPS) {
    out.set(g.name, { offset: o, dims: g.dims });
    o += g.dims;
  }
  return out;
}

function unit(v: Float64Array): Float64Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  if (n < 1e-12) return v;
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}

/** The named directions of the features-v1 embedding (built from FEATURE_GROUPS, so they follow its layout). */
export function featureDirections(): TasteDirection[] {
  const groups = groupOffsets();
  return FEATURE_DIRECTION_SPECS.map((spec) => {
    const v = new Float64Array(FEATURE_DIM);
    for (const p of spec.parts) {
      const g = groups.get(p.group);
      if (!g) throw new Error(`feature direction ${spec.id}: unknown feature group ${p.group}`);
      const dims = p.dims ?? Array.from({ length: g.dims }, (_, i) => i);
      // Spread the weight over the dims so a 12-bin group does not outweigh a 1-dim group.
      for (const d of dims) v[g.offset + d] = (v[g.offset + d] ?? 0) + p.weight / Math.sqrt(dims.length);
    }
    return { id: spec.id, positive: spec.positive, negative: spec.negative, vector: unit(v) };
  });
}

/** Text embeddings in the same space as the image embeddings (CLIP's text tower). */
export interface TextEmbedder {
  /** Must equal the image embedder's model id: text and image vectors of different models never mix. */
  readonly modelId: string;
  embedText(texts: string[]): Promise<Float32Array[]>;
}

/** ~150 descriptor phrases (styles, media, moods, subjects, colours) for CLIP-based descriptions. */
export const DESCRIPTOR_PHRASES: Readonly<Record<'styles' | 'media' | 'moods' | 'subjects' | 'colors' | 'composition', readonly string[]>> =
  {
    styles: [
      'minimalism',
      'maximalism',
      'surrealism',
      'impressionism',
      'expressionism',
      'art nouveau',
      'art deco',
      'bauhaus design',
      'pop art',
      'cubism',
      'baroque painting',
      'renaissance painting',
      'ukiyo-e',
      'cyberpunk',
      'steampunk',
      'synthwave',
      'vaporwave',
      'fantasy art',
      'science fiction art',
      'gothic art',
      'retro futurism',
      'anime style',
      'comic book style',
      'photorealism',
      'abstract art',
      'geometric art',
      'psychedelic art',
      'folk art',
      'concept art',
      'low poly',
    ],
    media: [
      'watercolor painting',
      'oil painting',
      'acrylic painting',
      'ink drawing',
      'charcoal sketch',
      'pencil drawing',
      'pixel art',
      'vector illustration',
      'flat design',
      '3d render',
      'claymation',
      'collage',
      'woodcut print',
      'screen print',
      'photograph',
      'film photograph',
      'polaroid photo',
      'long exposure photograph',
      'macro photograph',
      'aerial photograph',
      'digital painting',
      'pastel drawing',
      'stained glass',
      'mosaic',
      'embroidery',
    ],
    moods: [
      'calm',
      'serene',
      'cozy',
      'moody',
      'melancholic',
      'dreamy',
      'whimsical',
      'eerie',
      'ominous',
      'joyful',
      'playful',
      'romantic',
      'nostalgic',
      'epic',
      'mysterious',
      'lonely',
      'peaceful',
      'energetic',
      'dramatic',
      'gloomy',
      'cheerful',
      'elegant',
      'chaotic',
      'tranquil',
      'magical',
    ],
    subjects: [
      'mountains',
      'the sea',
      'a city skyline',
      'a forest',
      'a portrait',
      'animals',
      'flowers',
      'the night sky',
      'the desert',
      'a lake',
      'architecture',
      'ruins',
      'a street scene',
      'food',
      'cars',
      'robots',
      'spaceships',
      'castles',
      'a garden',
      'clouds',
      'the sun',
      'the moon',
      'waterfalls',
      'snow',
      'rain',
      'islands',
      'interiors',
      'people',
      'cats',
      'birds',
    ],
    colors: [
      'warm colors',
      'cool colors',
      'pastel colors',
      'neon colors',
      'earth tones',
      'black and white',
      'monochrome',
      'vibrant colors',
      'muted colors',
      'red',
      'orange',
      'gold',
      'yellow',
      'green',
      'teal',
      'blue',
      'purple',
      'pink',
      'brown',
      'silver',
      'golden hour light',
      'blue hour light',
      'dark shadows',
      'bright daylight',
    ],
    composition: [
      'symmetry',
      'centered composition',
      'rule of thirds',
      'wide landscape',
      'close-up',
      'negative space',
      'busy detail',
      'clean lines',
      'soft focus',
      'sharp focus',
      'high contrast',
      'low contrast',
      'silhouettes',
      'reflections',
      'patterns',
      'textures',
      'depth of field',
    ],
  };

export function allDescriptorPhrases(): string[] {
  return Object.values(DESCRIPTOR_PHRASES).flat();
}

/**
 * Directions from descriptor phrases: each phrase's text embedding minus the mean over all phrases
 * (what every caption shares — "an image of…" — says nothing about taste), normalized.
 */
export async function phraseDirections(text: TextEmbedder, phrases: readonly string[] = allDescriptorPhrases()): Promise<TasteDirection[]> {
  const vecs = await text.embedText([...phrases]);
  if (vecs.length !== phrases.length) throw new Error(`text embedder returned ${vecs.length} vectors for ${phrases.length} phrases`);
  const dim = vecs[0]?.length ?? 0;
  const mean = new Float64Array(dim);
  for (const v of vecs) for (let j = 0; j < dim; j++) mean[j] = mean[j]! + v[j]! / vecs.length;
  return phrases.map((phrase, i) => {
    const v = Float64Array.from(vecs[i]!, (x, j) => x - mean[j]!);
    return { id: `phrase:${phrase}`, positive: phrase, negative: null, vector: unit(v) };
  });
}

/** Directions for an embedding model: named feature directions for features-v1, phrases (when a text embedder exists) otherwise. */
export async function directionsFor(modelId: string, text?: TextEmbedder): Promise<TasteDirection[]> {
  if (modelId === FEATURES_MODEL_ID) return featureDirections();
  if (text && text.modelId === modelId) return phraseDirections(text);
  return [];
}

// ---------------------------------------------------------------- responses

export interface DirectionResponse {
  direction: TasteDirection;
  /** Person: rating points per SD along the direction, over the reference set. */
  slope: number;
  /** Person minus community: how much more (or less) they respond than the community does. */
  relative: number;
}

/** Position of each reference image on a direction (x·d). */
export function positions(X: readonly ArrayLike<number>[], d: Float64Array): Float64Array {
  return Float64Array.from(X, (x) => {
    let s = 0;
    for (let j = 0; j < d.length; j++) s += (x[j] as number) * d[j]!;
    return s;
  });
}

/** cov(y, s) / sd(s): change of y per standard deviation of s (0 when s does not vary). */
export function slopePerSd(y: ArrayLike<number>, s: ArrayLike<number>): number {
  const n = s.length;
  if (n < 2 || y.length !== n) return 0;
  let my = 0;
  let ms = 0;
  for (let i = 0; i < n; i++) {
    my += y[i] as number;
    ms += s[i] as number;
  }
  my /= n;
  ms /= n;
  let cov = 0;
  let vs = 0;
  for (let i = 0; i < n; i++) {
    const ds = (s[i] as number) - ms;
    cov += ((y[i] as number) - my) * ds;
    vs += ds * ds;
  }
  if (vs <= 1e-18) return 0;
  return cov / n / Math.sqrt(vs / n);
}

/**
 * Responses of a person to each direction over reference images X, given the person's predicted
 * ratings and the community model's predicted ratings of the same images.
 */
export function directionResponses(
  X: readonly ArrayLike<number>[],
  person: ArrayLike<number>,
  community: ArrayLike<number>,
  directions: readonly TasteDirection[],
): DirectionResponse[] {
  if (person.length !== X.length || community.length !== X.length)
    throw new RangeError('predictions and reference images differ in length');
  const diff = Float64Array.from(person, (p, i) => p - (community[i] as number));
  return directions.map((direction) => {
    const s = positions(X, direction.vector);
    return { direction, slope: slopePerSd(person, s), relative: slopePerSd(diff, s) };
  });
}

// ---------------------------------------------------------------- words

/** Below this many rating points per SD a direction is not worth mentioning. */
export const NOTABLE_SLOPE = 0.15;

export interface TasteDescription {
  likes: string[];
  dislikes: string[];
  /** Things they like more than the community does. */
  moreThanCommunity: string[];
  /** Things they like less than the community does. */
  lessThanCommunity: string[];
  text: string;
}

/** Which words describe leaning towards a direction with this sign. */
function phraseFor(d: TasteDirection, sign: number): string {
  return sign >= 0 ? d.positive : (d.negative ?? d.positive);
}

function listWords(items: string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * Words for a set of responses. Two-pole directions (features) turn a negative slope into a like of
 * the other pole ("cool palettes"); single-pole phrases (CLIP) into a dislike.
 */
export function describeTaste(
  responses: readonly DirectionResponse[],
  opts: { max?: number; threshold?: number; subject?: string } = {},
): TasteDescription {
  const max = opts.max ?? 3;
  const t = opts.threshold ?? NOTABLE_SLOPE;
  const bySlope = [...responses].sort((a, b) => Math.abs(b.slope) - Math.abs(a.slope)).filter((r) => Math.abs(r.slope) >= t);
  const likes: string[] = [];
  const dislikes: string[] = [];
  for (const r of bySlope) {
    if (r.direction.negative !== null) {
      if (likes.length < max) likes.push(phraseFor(r.direction, r.slope));
    } else if (r.slope > 0) {
      if (likes.length < max) likes.push(r.direction.positive);
    } else if (dislikes.length < max) dislikes.push(r.direction.positive);
  }
  // Two-pole words already carry both ends; "not keen on" lists the poles they lean away from most.
  for (const r of bySlope) {
    if (dislikes.length >= Math.min(2, max)) break;
    if (r.direction.negative !== null) {
      const away = phraseFor(r.direction, -r.slope);
      if (!dislikes.includes(away)) dislikes.push(away);
    }
  }
  const byRel = [...responses].sort((a, b) => Math.abs(b.relative) - Math.abs(a.relative)).filter((r) => Math.abs(r.relative) >= t);
  const more: string[] = [];
  const less: string[] = [];
  for (const r of byRel) {
    const single = r.direction.negative === null;
    if (r.relative > 0 || !single) {
      if (more.length < max) more.push(phraseFor(r.direction, r.relative));
    } else if (less.length < max) less.push(r.direction.positive);
  }
  const who = opts.subject ?? 'You';
  const sentences: string[] = [];
  if (likes.length) sentences.push(`${who} lean${who === 'You' ? '' : 's'} towards ${listWords(likes)}.`);
  if (dislikes.length) sentences.push(`Less keen on ${listWords(dislikes)}.`);
  if (more.length)
    sentences.push(`Compared with the community: more into ${listWords(more)}${less.length ? `, less into ${listWords(less)}` : ''}.`);
  if (!sentences.length) sentences.push('No clear leanings yet: rate a few more images with different looks.');
  return { likes, dislikes, moreThanCommunity: more, lessThanCommunity: less, text: sentences.join(' ') };
}

/**
 * The direction that separates two people most (largest difference of their slopes), as a sentence:
 * "Ann leans towards warm palettes while Bob leans towards cool palettes."
 */
export function separatingSentence(
  a: { name: string; responses: readonly DirectionResponse[] },
  b: { name: string; responses: readonly DirectionResponse[] },
): string | null {
  let best: { d: TasteDirection; sa: number; sb: number } | null = null;
  for (const ra of a.responses) {
    const rb = b.responses.find((r) => r.direction.id === ra.direction.id);
    if (!rb) continue;
    if (!best || Math.abs(ra.slope - rb.slope) > Math.abs(best.sa - best.sb)) best = { d: ra.direction, sa: ra.slope, sb: rb.slope };
  }
  if (!best || Math.abs(best.sa - best.sb) < NOTABLE_SLOPE) return null;
  const [hi, lo, shi, slo] = best.sa >= best.sb ? [a.name, b.name, best.sa, best.sb] : [b.name, a.name, best.sb, best.sa];
  const gap = (shi - slo).toFixed(1);
  if (best.d.negative !== null) {
    return `What separates ${hi} and ${lo} most: ${hi} leans towards ${best.d.positive} while ${lo} leans towards ${best.d.negative} (a gap of ${gap} rating points per step).`;
  }
  return `What separates ${hi} and ${lo} most: ${hi} likes ${best.d.positive} much more than ${lo} does (a gap of ${gap} rating points per step).`;
}

// ---------------------------------------------------------------- pictures

/** Bar chart of how often a person gave each score 1..10 (a charting library draws it). */
export async function ratingDistributionChart(
  charts: ChartRenderer,
  scores: readonly number[],
  opts: { title?: string; width?: number; height?: number } = {},
): Promise<Buffer> {
  const counts = new Array<number>(10).fill(0);
  for (const s of scores) if (Number.isInteger(s) && s >= 1 && s <= 10) counts[s - 1]!++;
  return charts.render({
    kind: 'bar',
    bars: counts.map((value, i) => ({ label: String(i + 1), value })),
    options: {
      title: opts.title ?? `Ratings given (${scores.length})`,
      xTitle: 'score',
      yTitle: 'ratings',
      integerY: true,
      width: opts.width ?? 480,
      height: opts.height ?? 280,
    },
  });
}

export interface GridTile {
  png: Buffer;
  caption: string;
}
export interface GridRow {
  label: string;
  tiles: GridTile[];
}

const GRID_TILE = 192;
const GRID_GAP = 8;
const GRID_LABEL_H = 28;
const GRID_CAPTION_H = 22;

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A text strip rendered by resvg (the same font handling as the charts). */
function textStrip(charts: ChartRenderer, text: string, width: number, height: number, size: number, bold = false): Promise<Buffer> {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>` +
    `<text x="4" y="${Math.round(height * 0.72)}" font-family="DejaVu Sans, sans-serif" font-size="${size}"${bold ? ' font-weight="bold"' : ''} fill="#222">${escapeXml(text)}</text></svg>`;
  return charts.render({ kind: 'svg', svg });
}

/**
 * Rows of square thumbnails with a caption under each and a label above each row, on white.
 * Width = columns × (tile + gap) + gap; every row takes label + tile + caption height.
 */
export async function imageGrid(charts: ChartRenderer, rows: readonly GridRow[], opts: { tile?: number } = {}): Promise<Buffer> {
  const tile = opts.tile ?? GRID_TILE;
  const cols = Math.max(1, ...rows.map((r) => r.tiles.length));
  const width = GRID_GAP + cols * (tile + GRID_GAP);
  const rowH = GRID_LABEL_H + tile + GRID_CAPTION_H + GRID_GAP;
  const height = GRID_GAP + rows.length * rowH;
  const layers: OverlayOptions[] = [];
  for (const [r, row] of rows.entries()) {
    const top = GRID_GAP + r * rowH;
    layers.push({ input: await textStrip(charts, row.label, width - 2 * GRID_GAP, GRID_LABEL_H, 15, true), left: GRID_GAP, top });
    for (const [c, t] of row.tiles.entries()) {
      const left = GRID_GAP + c * (tile + GRID_GAP);
      const thumb = await sharp(t.png).resize(tile, tile, { fit: 'cover' }).png().toBuffer();
      layers.push({ input: thumb, left, top: top + GRID_LABEL_H });
      layers.push({ input: await textStrip(charts, t.caption, tile, GRID_CAPTION_H, 13), left, top: top + GRID_LABEL_H + tile });
    }
  }
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .png()
    .toBuffer();
}

export function gridSize(rows: readonly GridRow[], tile = GRID_TILE): { width: number; height: number } {
  const cols = Math.max(1, ...rows.map((r) => r.tiles.length));
  return { width: GRID_GAP + cols * (tile + GRID_GAP), height: GRID_GAP + rows.length * (GRID_LABEL_H + tile + GRID_CAPTION_H + GRID_GAP) };
}
