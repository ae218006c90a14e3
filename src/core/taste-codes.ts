/**
 * Taste codes: a short code (`tl-7Q4K-M2XA`) naming an immutable snapshot of a person's scorer, so a
 * run can optimize for the taste as it was then (`/optimize taste:<code>`) and a person can hand their
 * taste to others (only when they opted in to sharing, see ./taste-codes-service).
 *
 * This module is the pure part: the code's alphabet and spelling, the frozen scorer as data and its
 * predictions, the errors a person sees. The codes are 40 random bits in Crockford's base32 (no I, L,
 * O or U, so nothing reads as another character); input is case-insensitive, hyphens and the `tl-`
 * prefix optional, and the look-alikes a person may type (O for 0, I or L for 1) read as Crockford does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { NotAllowedError, UserError } from './errors';
import type { PersonRef, UserKey } from './identity';
import type { MethodName } from './scorer/auto';
import { RatingStore } from './scorer/data';
import { knnPredict } from './scorer/knn';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Characters of a code after its prefix: 8 × 5 = 40 random bits. */
const CODE_CHARS = 8;
const PREFIX = 'tl-';
/** What a code looks like, for the replies that explain one. */
const CODE_EXAMPLE = 'tl-7Q4K-M2XA';

/** A fresh random code in its canonical spelling. */
export function newTasteCode(random: (n: number) => Uint8Array = randomBytes): string {
  const bytes = random(5);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let chars = '';
  for (let i = CODE_CHARS - 1; i >= 0; i--) chars += ALPHABET[Number((bits >> BigInt(5 * i)) & 31n)];
  return canonical(chars);
}

/** The canonical spelling of what a person typed, or null when it cannot be a taste code. */
export function parseTasteCode(input: string): string | null {
  let t = input
    .trim()
    .toUpperCase()
    .replace(/[-\s_]/g, '');
  // The prefix is optional: a bare code is 8 characters, one with its prefix 10.
  if (t.length === CODE_CHARS + 2 && t.startsWith('TL')) t = t.slice(2);
  t = t.replace(/O/g, '0').replace(/[IL]/g, '1');
  if (t.length !== CODE_CHARS || ![...t].every((c) => ALPHABET.includes(c))) return null;
  return canonical(t);
}

function canonical(chars: string): string {
  return `${PREFIX}${chars.slice(0, 4)}-${chars.slice(4)}`;
}

/** What a retired (forgotten) code is remembered by: a hash, kept apart from everything that named its owner. */
export function hashTasteCode(code: string): string {
  return createHash('sha256').update(`tasteloop-taste-code:${code}`).digest('hex');
}

/**
 * A person's scorer frozen as data: the linear model its method uses (weights and bias, null for knn),
 * and for knn and blend the rated vectors and scores with the neighbour count. It predicts exactly as
 * the scorer did when frozen, whatever the person or the community rates afterwards.
 */
export interface FrozenScorer {
  method: MethodName;
  dim: number;
  linear: { w: Float64Array; bias: number } | null;
  neighbours: { vectors: Float32Array; scores: number[]; k: number } | null;
}

/** Predicted 1–10 ratings of embeddings with a frozen scorer (ScorerService.predict's rules). */
export function predictFrozen(scorer: FrozenScorer, X: readonly ArrayLike<number>[]): number[] {
  const { dim, linear, neighbours } = scorer;
  const store = neighbours ? storeOf(neighbours, dim) : null;
  return X.map((x) => {
    if (x.length !== dim) throw new TasteCodeModelError(`a ${dim}-number image description`, `${x.length} numbers`);
    const lin = linear ? dot(linear.w, x) + linear.bias : NaN;
    if (!store || !neighbours) return clamp(lin);
    const kn = knnPredict(store, neighbours.k, x);
    return clamp(linear ? 0.5 * (kn + lin) : kn);
  });
}

function storeOf(neighbours: NonNullable<FrozenScorer['neighbours']>, dim: number): RatingStore {
  const n = neighbours.scores.length;
  const store = new RatingStore(dim, Math.max(1, n));
  for (let i = 0; i < n; i++) store.add(neighbours.vectors.subarray(i * dim, (i + 1) * dim), neighbours.scores[i]!);
  return store;
}

function dot(w: Float64Array, x: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < w.length; j++) s += w[j]! * (x[j] as number);
  return s;
}

function clamp(v: number): number {
  return Number.isNaN(v) ? 5.5 : v < 1 ? 1 : v > 10 ? 10 : v;
}

/** Little-endian float64 bytes: exact, so a frozen model predicts to the last bit. */
export function packFloat64(v: Float64Array): Uint8Array {
  const out = new Uint8Array(v.length * 8);
  const view = new DataView(out.buffer);
  v.forEach((x, i) => view.setFloat64(i * 8, x, true));
  return out;
}

export function unpackFloat64(bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(Math.floor(bytes.byteLength / 8));
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/** Little-endian float32 bytes (embeddings are float32 already: nothing is lost). */
export function packFloat32(v: Float32Array): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const view = new DataView(out.buffer);
  v.forEach((x, i) => view.setFloat32(i * 4, x, true));
  return out;
}

export function unpackFloat32(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(Math.floor(bytes.byteLength / 4));
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** A code as /profile shows it. */
export interface TasteCodeView {
  code: string;
  /** Embedding model id the scorer was fitted on. */
  model: string;
  /** Ratings the frozen scorer was fitted on. */
  ratings: number;
  method: MethodName;
  createdAt: Date;
}

/** What commands may call (Services.tasteCodes). */
export interface TasteCodesApi {
  /**
   * The code of the viewer's (or `target`'s, when they share their profile in `scopeId`) scorer as it is
   * now: a new snapshot when it changed since the last one. Null while they have no ratings.
   */
  current(req: { viewer: PersonRef; target?: PersonRef; scopeId?: string }): Promise<TasteCodeView | null>;
  /** The person's own codes, newest first (at most `limit`, default 20). */
  history(person: PersonRef, opts?: { scopeId?: string; limit?: number }): Promise<TasteCodeView[]>;
  /** Throws the friendly refusal when the person may not use the code (a run's start checks again). */
  check(person: PersonRef, code: string, scopeId?: string): Promise<void>;
}

/** What a run needs of a taste code: the check at its start, and the frozen scores while it runs. */
export interface TasteCodeRuns {
  /** The code's canonical spelling and the run header's note; a friendly UserError when the requester may not use it. */
  authorize(requesterKey: UserKey, input: string): Promise<{ code: string; note: string }>;
  /** Predicted 1–10 ratings of images with the code's frozen scorer (TasteCodeGoneError once its owner was forgotten). */
  predict(code: string, imageIds: string[]): Promise<number[]>;
  /** Ratings the code's scorer was fitted on. */
  ratingCount(code: string): Promise<number>;
}

// ---------------------------------------------------------------- what a person is told

/** Text that is no taste code at all. */
export class TasteCodeInputError extends UserError {
  constructor(input: string) {
    super(`"${input.slice(0, 40)}" is not a taste code: they look like ${CODE_EXAMPLE} (see yours with /profile).`);
  }
}

/** A code a forget deleted (its owner asked Tasteloop to forget them). */
export class TasteCodeGoneError extends UserError {
  static readonly MESSAGE = 'This taste code no longer exists. Run /optimize without taste: to optimize for your own taste.';
  constructor() {
    super(TasteCodeGoneError.MESSAGE);
  }
}

/**
 * Someone else's code whose owner has not opted in to sharing, or a code that never existed: ONE wording
 * for both, so trying codes tells nobody which exist.
 */
export class TasteCodeNotAvailableError extends NotAllowedError {
  static readonly MESSAGE =
    "I can't use that taste code: it is not one of yours, and nobody shares a code like it (check the spelling). People let others use their taste codes with `/privacy share:on`.";
  constructor() {
    super(TasteCodeNotAvailableError.MESSAGE);
  }
}

/** A code frozen on another image model than the one this bot describes images with now. */
export class TasteCodeModelError extends UserError {
  constructor(codeModel: string, nowModel: string) {
    super(
      `That taste code was made with the image model ${codeModel}, and this bot now describes images with ${nowModel}, so it cannot score with it. Get a current code with /profile.`,
    );
  }
}

/** A group run names its members' own tastes: a taste code is for runs of one person. */
export class TasteCodeGroupError extends UserError {
  constructor() {
    super('A taste code optimizes for one taste: use taste: without for:, or for: without taste:.');
  }
}
