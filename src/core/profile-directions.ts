/**
 * Named taste directions: unit vectors in embedding space with a human name. With the built-in
 * `features` embedder they are built from the named feature groups it declares (Embedder.featureGroups:
 * "warm palettes" = warmth dims + warm hue bins − cool hue bins, …). With CLIP they are the text
 * embeddings of ~150 descriptor phrases (src/core/profile-phrases.ts), obtained through the
 * `TextEmbedder` interface (CLIP's text tower is not available offline, so that path is pluggable and
 * the features path is the tested default).
 */
import { allDescriptorPhrases } from './profile-phrases';
import type { Embedder, FeatureGroup } from './ports';

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

function groupOffsets(groups: readonly FeatureGroup[]): Map<string, { offset: number; dims: number }> {
  const out = new Map<string, { offset: number; dims: number }>();
  let o = 0;
  for (const g of groups) {
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

/**
 * The named directions of an embedding whose dimensions come in named groups (Embedder.featureGroups of
 * the features embedder), built from that layout so they follow it.
 */
export function featureDirections(featureGroups: readonly FeatureGroup[]): TasteDirection[] {
  const groups = groupOffsets(featureGroups);
  const dim = featureGroups.reduce((a, g) => a + g.dims, 0);
  return FEATURE_DIRECTION_SPECS.map((spec) => {
    const v = new Float64Array(dim);
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

/**
 * Directions for an embedder: named feature directions when its dimensions have names (the features
 * embedder), phrases when a text embedder of the same model exists (CLIP), none otherwise.
 */
export async function directionsFor(embedder: Pick<Embedder, 'modelId' | 'featureGroups'>, text?: TextEmbedder): Promise<TasteDirection[]> {
  if (embedder.featureGroups) return featureDirections(embedder.featureGroups);
  if (text && text.modelId === embedder.modelId) return phraseDirections(text);
  return [];
}
