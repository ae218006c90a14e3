/**
 * What a run request must pass before RunService creates the run, and what its header says.
 * Checked in the core so no surface can skip it: the requester is recorded (a forgotten person
 * stops here), and a group run may use each member's scorer only when that member opted in and
 * shares the request's scope.
 */
import { randomBytes } from 'node:crypto';
import { ZodError } from 'zod';
import type { Config } from '../config';
import type { Db } from '../db/connection';
import { CommandInputError, InvalidPromptError } from './errors';
import type { UserKey } from './identity';
import { resolveRunParams, type RunParams } from './optimizer/params';
import { touchPerson } from './people';
import { assertCanUseProfile } from './privacy';
import { AUTO_MIN_RATINGS } from './scorer/auto';
import type { StartRunRequest } from './services';
import { sanitizePrompt } from './text-safety';
import { parseTasteCode, TasteCodeGroupError, type TasteCodeRuns } from './taste-codes';

/** Where a person's rating count comes from (the rating ledger). */
export interface RatingCounter {
  count(userKey: UserKey): Promise<number>;
}

/**
 * Records the requester, checks the group members' consent and returns the header note for a scorer
 * that is still learning (undefined once every member has enough ratings for a personal scorer), or
 * for a run scored with a taste code, which code (when the requester may use it).
 */
export async function checkRequester(
  db: Db,
  ratings: RatingCounter,
  req: StartRunRequest,
  tasteCodes?: Pick<TasteCodeRuns, 'authorize'>,
): Promise<string | undefined> {
  const requesterKey = await touchPerson(db, req.requester, req.scopeId);
  if (req.taste !== undefined) {
    if (req.members?.length) throw new TasteCodeGroupError();
    if (!tasteCodes) throw new CommandInputError('Taste codes are not available on this bot; leave out taste:.');
    return (await tasteCodes.authorize(requesterKey, req.taste)).note;
  }
  // Group runs use other people's scorers: each must have opted in and share this scope.
  for (const targetKey of new Set(req.members ?? [])) {
    await assertCanUseProfile(db, { requesterKey, targetKey, scopeId: req.scopeId });
  }
  // A scorer with few ratings still scores with the community's taste: say so in the header.
  const members = req.members?.length ? req.members : [requesterKey];
  const fewest = Math.min(...(await Promise.all(members.map((m) => ratings.count(m)))));
  return fewest < AUTO_MIN_RATINGS
    ? `Scores come mostly from the community's taste for now (${members.length > 1 ? 'a member has' : 'you have'} ${fewest} rating${fewest === 1 ? '' : 's'}; from ${AUTO_MIN_RATINGS} on the scorer becomes personal) — rate images with /rate or on this run.`
    : undefined;
}

export interface StartParamsOptions {
  config: Pick<Config, 'MAX_IMAGES_PER_RUN' | 'BANNED_WORDS' | 'OPTIMIZER' | 'IMAGE_SIZE'>;
  llmAvailable: boolean;
}

/**
 * The run's parameters from the request (defaults, caps, a random seed) with a clean prompt, and the
 * note about choices made for the person (e.g. the optimizer). Bad input becomes a message for them.
 */
export function resolveStartParams(
  req: StartRunRequest,
  members: UserKey[],
  opts: StartParamsOptions,
): { params: RunParams; note: string | undefined } {
  let params: RunParams;
  let note: string | undefined;
  try {
    ({ params, note } = resolveRunParams(
      {
        prompt: req.prompt,
        members,
        objective: req.objective ?? (members.length > 1 ? 'mean' : 'single'),
        iterations: req.iterations,
        candidates: req.candidates,
        feedback: req.feedback,
        optimizer: req.optimizer,
        seed: req.seed ?? randomBytes(4).readUInt32BE(0) % 2 ** 31,
        size: opts.config.IMAGE_SIZE,
        ...(req.taste !== undefined ? { taste: parseTasteCode(req.taste) ?? req.taste } : {}),
      },
      {
        llmAvailable: opts.llmAvailable,
        maxImagesPerRun: opts.config.MAX_IMAGES_PER_RUN,
        defaultOptimizer: opts.config.OPTIMIZER,
      },
    ));
  } catch (err) {
    if (err instanceof ZodError)
      throw new CommandInputError(
        `That run can't start: ${err.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}.`,
      );
    throw err;
  }
  const clean = sanitizePrompt(params.prompt, { bannedWords: opts.config.BANNED_WORDS });
  if (!clean.ok) throw new InvalidPromptError(`That prompt can't be used: ${clean.reason}.`);
  params.prompt = clean.text;
  return { params, note };
}
