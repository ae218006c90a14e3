/**
 * Reads a prompt into the scene the `sketch` generator paints. Evaluations treat
 * `parseSketchPrompt(prompt)` as the hidden ground truth of what an image shows.
 *
 * The reading runs in a fixed order — words, then the hash-derived variation, then tone, subjects and
 * layout — and the tone sums are accumulated in exactly that order, so the same prompt always gives
 * the same numbers.
 */
import { clamp, hueWarmth } from './color';
import { buildPalette } from './palette';
import { type Composition, type Lighting, type Medium, type Prop, type SceneSpec, type Subject, hashWords } from './scene';
import {
  COLOR_HUES,
  COMPOSITION_WORDS,
  MEDIUM_WORDS,
  MOODS,
  PHRASES,
  PROP_SETTINGS,
  PROP_WORDS,
  STOP_WORDS,
  SUBJECT_WORDS,
} from './vocabulary';

/** What the words say on their own, before defaults, clamping and the hash-derived nudges. */
interface WordReading {
  colorWords: string[];
  moodWords: string[];
  subjects: Subject[];
  props: Prop[];
  unknownWords: string[];
  composition: Composition | undefined;
  medium: Medium | undefined;
  lighting: Lighting | undefined;
  warmth: number;
  brightness: number;
  saturation: number;
  detail: number;
  /** "Blue hour" paints its own sky, distinct from a plain dawn. */
  bluehour: boolean;
}

/** Lower case, letters and digits only, single spaces; hyphenated words split in two. */
function normalizePrompt(prompt: string): string {
  return prompt
    .toLowerCase()
    .replace(/[^a-z0-9\s-]/g, ' ')
    .replace(/-/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The words to read, with multi-word phrases ("golden hour", "pixel art") joined into one. */
function promptWords(normalized: string): string[] {
  let text = normalized;
  for (const [phrase, rep] of PHRASES) text = text.split(phrase).join(rep);
  return text.split(' ').filter(Boolean);
}

/** The two hour phrases set lighting outright, and are read as nothing else. */
function readHourPhrase(r: WordReading, w: string): boolean {
  if (w === 'goldenhour') {
    r.moodWords.push('golden hour');
    r.warmth += 0.9;
    r.brightness += 0.05;
    r.lighting = 'golden';
    return true;
  }
  if (w === 'bluehour') {
    r.moodWords.push('blue hour');
    r.warmth -= 0.7;
    r.brightness -= 0.3;
    r.lighting = 'dawn';
    r.bluehour = true;
    return true;
  }
  return false;
}

/** Applies a mood word's nudges; whether `w` is one. */
function readMood(r: WordReading, w: string): boolean {
  const mood = MOODS[w];
  if (!mood) return false;
  r.moodWords.push(w);
  r.warmth += mood.warmth ?? 0;
  r.brightness += mood.brightness ?? 0;
  r.saturation += mood.saturation ?? 0;
  r.detail += mood.detail ?? 0;
  // A "neon night" stays neon: night is the weaker lighting.
  if (mood.lighting && !(r.lighting === 'neon' && mood.lighting === 'night')) r.lighting = mood.lighting;
  return true;
}

/** One word can be several things at once ("portrait" is a subject and a composition). */
function readWord(r: WordReading, w: string): void {
  if (readHourPhrase(r, w)) return;
  let known = false;
  if (COLOR_HUES[w]) {
    r.colorWords.push(w);
    known = true;
  }
  if (readMood(r, w)) known = true;
  const subj = SUBJECT_WORDS[w];
  if (subj) {
    if (!r.subjects.includes(subj)) r.subjects.push(subj);
    known = true;
  }
  const prop = PROP_WORDS[w];
  if (prop) {
    if (!r.props.includes(prop)) r.props.push(prop);
    known = true;
  }
  const comp = COMPOSITION_WORDS[w];
  // "portrait" only means centered when nothing else chose the composition.
  if (comp && !(comp === 'centered' && w === 'portrait' && r.composition)) {
    r.composition = comp;
    known = true;
  }
  const med = MEDIUM_WORDS[w];
  if (med) {
    r.medium = med;
    known = true;
  }
  if (!known && !STOP_WORDS.has(w) && w.length > 1) r.unknownWords.push(w);
}

function readWords(words: string[]): WordReading {
  const r: WordReading = {
    colorWords: [],
    moodWords: [],
    subjects: [],
    props: [],
    unknownWords: [],
    composition: undefined,
    medium: undefined,
    lighting: undefined,
    warmth: 0,
    brightness: 0,
    saturation: 0.6,
    detail: 0.5,
    bluehour: false,
  };
  for (const w of words) readWord(r, w);
  for (const prop of r.props) {
    const setting = PROP_SETTINGS[prop];
    if (setting && !r.subjects.includes(setting)) r.subjects.push(setting);
  }
  // A sketch of a "sketch" prompt is ink; "gold"/"golden" alone are colors, not lighting.
  if (r.subjects.includes('stars') && !r.lighting) r.lighting = 'night';
  if (r.subjects.includes('moon') && !r.lighting) r.lighting = 'night';
  return r;
}

/** Every word (known or not) steers the hash-derived knobs, so synonyms and unknown words still matter. */
function variationOf(words: string[]): number[] {
  const h = hashWords(words.join(' '));
  return Array.from({ length: 16 }, (_, i) => h.readUInt16BE(i * 2) / 65536);
}

/** Settles detail, warmth, brightness, saturation and lighting from the words and the variation. */
function settleTone(r: WordReading, v: (i: number) => number): { lighting: Lighting } {
  if (r.composition === 'minimal') r.detail -= 0.35;
  if (r.composition === 'busy') r.detail += 0.4;
  r.detail = clamp(r.detail + (v(0) - 0.5) * 0.2, 0, 1);

  // Color words shift warmth too: a "red" picture is warmer than a "teal" one.
  for (const c of r.colorWords) {
    const hc = COLOR_HUES[c]!;
    r.warmth += 0.35 * hueWarmth(hc.h) * hc.s;
    r.brightness += (hc.l - 0.5) * 0.5;
  }
  if (r.medium === 'ink') r.saturation -= 0.5;
  if (r.medium === 'watercolor') {
    r.saturation -= 0.1;
    r.brightness += 0.2;
  }
  if (r.unknownWords.length && !r.moodWords.length) {
    // Unknown words nudge the mood a little, deterministically.
    r.warmth += (v(1) - 0.5) * 0.6;
    r.brightness += (v(2) - 0.5) * 0.4;
  }
  r.warmth = clamp(r.warmth, -1, 1);
  r.brightness = clamp(r.brightness, -1, 1);
  r.saturation = clamp(r.saturation, 0, 1);
  return { lighting: r.lighting ?? (r.brightness < -0.45 ? 'night' : 'day') };
}

/** Scenes that name no subject: picked from the word hash, so different prompts get different scenes. */
const FALLBACK_SUBJECTS: Subject[][] = [
  ['mountains', 'sun'],
  ['sea', 'sun'],
  ['city'],
  ['forest', 'mountains'],
  ['abstract'],
  ['flowers', 'clouds'],
  ['desert', 'sun'],
  ['sea', 'moon'],
  ['figure', 'mountains'],
  ['abstract', 'sun'],
];

/** Horizon height as a fraction from the top: the sea lowers it, mountains raise it. */
function horizonFor(subjects: Subject[], v: (i: number) => number): number {
  return clamp(
    0.5 + (v(4) - 0.5) * 0.25 + (subjects.includes('sea') ? 0.05 : 0) + (subjects.includes('mountains') ? -0.03 : 0),
    0.35,
    0.72,
  );
}

/** Reads a prompt into a scene. Pure and deterministic. */
export function parseSketchPrompt(prompt: string): SceneSpec {
  const normalized = normalizePrompt(prompt);
  const words = promptWords(normalized);
  const r = readWords(words);
  const variation = variationOf(words);
  const v = (i: number) => variation[i] ?? 0.5;
  const { lighting } = settleTone(r, v);

  const subjects = r.subjects;
  const subjectsExplicit = subjects.length > 0;
  // A named cat or house stands on plain ground: scenery picked from the hash would upstage it.
  if (!subjectsExplicit && !r.props.length) subjects.push(...FALLBACK_SUBJECTS[Math.floor(v(3) * FALLBACK_SUBJECTS.length)]!);
  const composition = r.composition ?? (subjects.includes('figure') ? 'centered' : 'balanced');
  const medium = r.medium ?? 'flat';
  const { colorWords, warmth, brightness, saturation } = r;

  const palette = buildPalette({ colorWords, lighting, warmth, brightness, saturation, medium, variation, bluehour: r.bluehour });
  return {
    prompt: normalized,
    colorWords,
    moodWords: r.moodWords,
    lighting,
    warmth,
    brightness,
    saturation,
    detail: r.detail,
    composition,
    medium,
    subjects,
    props: r.props,
    subjectsExplicit,
    horizon: horizonFor(subjects, v),
    unknownWords: r.unknownWords,
    variation,
    palette,
  };
}
