/**
 * The loop's safety stage: prompts are sanitized and moderated before anything is rendered, and each
 * rendered image is moderated before it is stored, scored or posted. What moderation flags — or
 * could not check — is withheld with a neutral reason; the run goes on with the other candidates.
 */
import { InvalidPromptError } from '../errors';
import { sanitizePrompt } from '../text-safety';
import { isAbort, throwIfAborted } from './abort';
import type { CandidateRecord, LoopDeps, WithheldImage } from './loop-types';

export async function screenPrompts(
  candidates: CandidateRecord[],
  deps: LoopDeps,
  isInitial: boolean,
  signal?: AbortSignal,
): Promise<void> {
  for (const c of candidates) {
    // The person's prompt must pass as is; LLM-written prompts are trimmed to length instead of dropped.
    const r = sanitizePrompt(c.prompt, { ...deps.sanitize, truncate: !isInitial });
    if (!r.ok) {
      if (isInitial) throw new InvalidPromptError(`Your prompt can't be used: ${r.reason}.`);
      c.skippedReason = r.reason;
    } else {
      c.prompt = r.text;
    }
  }
  const open = candidates.filter((c) => !c.skippedReason);
  if (!deps.moderator || open.length === 0) return;
  throwIfAborted(signal);
  const results = await deps.moderator.check(
    open.map((c) => c.prompt),
    signal,
  );
  open.forEach((c, i) => {
    const r = results[i];
    if (r?.flagged) {
      const why = r.categories.length ? r.categories.join(', ') : 'unsafe content';
      if (isInitial) throw new InvalidPromptError(`Your prompt was flagged by moderation (${why}); nothing was generated.`);
      c.skippedReason = `flagged by moderation (${why})`;
    }
  });
}

export const UNCHECKED: WithheldImage = { kind: 'unchecked', reason: 'the image could not be checked by moderation' };

export function withhold(c: CandidateRecord, w: WithheldImage): void {
  c.imageId = null;
  c.withheld = w.kind;
  c.skippedReason = w.reason;
}

/** null when the image may be shown; otherwise why it is withheld. */
export async function screenImage(
  bytes: Buffer,
  deps: LoopDeps,
  opts: { signal?: AbortSignal; runId: string; userKey?: string },
): Promise<WithheldImage | null> {
  if (!deps.moderator) return null;
  throwIfAborted(opts.signal);
  try {
    const r = await deps.moderator.checkImage({ mime: sniffImageMime(bytes), bytes }, opts);
    if (!r.flagged) return null;
    const why = r.categories.length ? r.categories.join(', ') : 'unsafe content';
    return { kind: 'flagged', reason: `the image was flagged by moderation (${why})` };
  } catch (err) {
    if (isAbort(err, opts.signal)) throw err;
    // Fail closed: an image moderation could not vouch for (timeout, 5xx after the SDK's retries, a
    // malformed reply) is withheld like a flagged one — never stored, scored or posted unchecked —
    // with its own reason, and the run goes on with the other candidates.
    deps.onModerationError?.(err);
    return UNCHECKED;
  }
}

/** The MIME type of image bytes from their signature (what the data URL for moderation says). */
export function sniffImageMime(b: Buffer): string {
  if (b.length >= 8 && b[0] === 0x89 && b.subarray(1, 4).toString('latin1') === 'PNG') return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 12 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP')
    return 'image/webp';
  if (b.length >= 6 && b.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  // Unknown: the moderation endpoint rejects it, and the image is withheld (fail closed).
  return 'application/octet-stream';
}
