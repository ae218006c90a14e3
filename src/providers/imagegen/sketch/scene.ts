/**
 * The scene description the `sketch` generator paints: what a prompt's words mean as a picture.
 * Evaluations treat it as the hidden ground truth of what an image shows, so it carries
 * interpretable numbers (warmth, brightness, saturation, detail) as well as the discrete choices.
 */
import { createHash } from 'node:crypto';

export type Subject =
  'mountains' | 'sea' | 'city' | 'forest' | 'figure' | 'abstract' | 'sun' | 'moon' | 'flowers' | 'stars' | 'clouds' | 'desert';
/**
 * Things and animals a prompt names, each drawn as a silhouette in front of the scene. Kept apart
 * from `subjects` (the scenery the evaluations' judge reads) so naming a cat never changes what the
 * judge sees of a landscape.
 */
export type Prop = 'boat' | 'lighthouse' | 'house' | 'tree' | 'cat' | 'dog' | 'bird' | 'horse' | 'fish';
export type Composition = 'centered' | 'symmetric' | 'minimal' | 'busy' | 'balanced';
export type Medium = 'flat' | 'watercolor' | 'ink' | 'pixel' | 'oil';
export type Lighting = 'day' | 'golden' | 'night' | 'neon' | 'overcast' | 'dawn';

export interface Hsl {
  h: number; // 0..360
  s: number; // 0..1
  l: number; // 0..1
}

export interface SceneSpec {
  /** Normalized prompt text (lower case, single spaces). */
  prompt: string;
  /** Color words found, in order. */
  colorWords: string[];
  /** Mood / lighting words found. */
  moodWords: string[];
  lighting: Lighting;
  /** -1 (cool) … +1 (warm). */
  warmth: number;
  /** -1 (dark) … +1 (bright). */
  brightness: number;
  /** 0 (grey) … 1 (vivid). */
  saturation: number;
  /** 0 (minimal) … 1 (busy). */
  detail: number;
  composition: Composition;
  medium: Medium;
  subjects: Subject[];
  /** Things and animals named in the prompt, drawn as silhouettes (first named = the main one). */
  props: Prop[];
  /** Whether the subjects were named in the prompt (false = picked from the word hash). */
  subjectsExplicit: boolean;
  /** Horizon height as a fraction of the image from the top. */
  horizon: number;
  /** Words not understood; they still steer the picture through `variation`. */
  unknownWords: string[];
  /** Hash-derived knobs in [0,1): hue jitter, layout, shapes. Depend on every word. */
  variation: number[];
  palette: {
    skyTop: Hsl;
    skyBottom: Hsl;
    far: Hsl;
    near: Hsl;
    ground: Hsl;
    accent: Hsl;
    accent2: Hsl;
    light: Hsl;
  };
}

/**
 * The hash every deterministic knob of a scene comes from (its variation, layout and noise seeds), so
 * the same words always give the same picture.
 */
export function hashWords(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
