/**
 * A person's scorer as plain data, so it can leave memory and come back (ScorerService.snapshot and
 * restore), and what a held person costs beyond their typed arrays.
 */
import type { ScorerQuality } from '../records';
import type { MethodName, ScorerMethod } from './auto';

/**
 * A person's fit beside their ratings, enough to give the same predictions without refitting: Δ at λ
 * and the cached evaluation (method chosen, quality, k, noise). `delta` null: the fit was out of date
 * (a new community prior), so only the ratings carry over and the fit is redone on use.
 */
export interface PersonFit {
  method: ScorerMethod;
  lambda: number;
  nAtSelection: number;
  delta: Float64Array | null;
  changed: boolean;
  evalN: number;
  chosen: MethodName;
  quality: ScorerQuality;
  knnK: number;
  noiseVar: number;
}

/** A person's scorer as data: the ratings in row order (image ids, scores) and the fit. */
export interface PersonSnapshot {
  imageIds: string[];
  scores: number[];
  fit: PersonFit;
}

/**
 * Bytes a person costs beyond their typed arrays, estimated: each rating's image id string (a 64-hex
 * sha256) twice (the store's ids and the caller's held map) with their Map/array slots, and the
 * per-person objects (state, fit, caches, map entries).
 */
export const BYTES_PER_RATING_OVERHEAD = 2 * (64 + 32) + 64;
export const BYTES_PER_PERSON_OVERHEAD = 1024;
