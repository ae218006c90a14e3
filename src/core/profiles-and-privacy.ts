/**
 * The `profiles` and `privacy` sections of `Services` (src/core/services.ts), built from the core
 * services. src/app.ts plugs them in:
 *
 *   const { profiles, privacy } = createProfilesAndPrivacy({ db, charts, taste, images, ledger, embeddings, embedder, runs, log });
 *
 * Everything that reads another person's data goes through assertCanUseProfile first.
 */
import { inArray, or } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { platformMessages, users } from '../db/schema';
import { silentLogger, type Logger } from '../log';
import {
  compareTastes,
  MATCH_SCALE,
  matchCells,
  MAX_MEMBERS,
  MIN_MEMBERS,
  uniqueNames,
  type CompareMember,
  type CompareResult,
} from './compare';
import type { EmbeddingService } from './embeddings';
import type { ChartRenderer, Embedder } from './ports';
import { CommandInputError, ForgottenError, ProfileNotAvailableError, TasteloopError } from './errors';
import { exportFileName } from './export-file-name';
import { galleryImageIds, onboardingImageIds } from './gallery';
import { parseUserKey, userKeyOf, type PersonRef, type UserKey } from './identity';
import type { ImageStore } from './images';
import { isForgotten, resumePerson, touchPerson } from './people';
import {
  assertCanUseProfile,
  canUseProfile,
  exportPerson,
  forgetPerson,
  isSharing,
  setSharing,
  tombstonePerson,
  type ForgetHook,
} from './privacy';
import { directionsFor, type TasteDirection, type TextEmbedder } from './profile-directions';
import { imageGrid, ratingDistributionChart, type GridRow } from './profile-pictures';
import { describeTaste, separatingSentence } from './profile-words';
import { directionResponses, type DirectionResponse } from './profiles';
import type { RatingLedger } from './ratings';
import type { CompareView, ForgetSummary, PrivacyApi, ProfilesApi, ProfileView } from './services';
import type { TasteService } from './taste-service';

export interface ProfilesAndPrivacyDeps {
  db: Db;
  /** Draws the distribution chart, the image grid's captions and the /compare heatmap. */
  charts: ChartRenderer;
  taste: TasteService;
  images: ImageStore;
  ledger: RatingLedger;
  embeddings: EmbeddingService;
  /** The embedder behind `embeddings`: its named feature groups, when it has them, become the taste directions. */
  embedder: Pick<Embedder, 'modelId' | 'featureGroups'>;
  /** CLIP text tower, when available: descriptions from ~150 phrases instead of feature directions. */
  text?: TextEmbedder;
  /** To stop a forgotten person's active run, and wait for it, before their rows go. */
  runs?: {
    cancel(userKey: UserKey, runId?: string): Promise<string | null>;
    waitStopped?(userKey: UserKey, opts?: { timeoutMs?: number }): Promise<boolean>;
  };
  /** How long forget waits for the person's run to stop (default 30 s). */
  forgetRunWaitMs?: number;
  log?: Logger;
  /** Reference images for descriptions and comparisons (default 300). */
  referenceLimit?: number;
}

export interface ProfilesAndPrivacy {
  profiles: ProfilesApi;
  privacy: PrivacyApi;
}

export function createProfilesAndPrivacy(deps: ProfilesAndPrivacyDeps): ProfilesAndPrivacy {
  const ctx = profileContext(deps);
  return {
    profiles: {
      view: (args) => viewProfile(deps, ctx, args),
      compare: (args) => compareProfiles(deps, ctx, args),
    },
    privacy: createPrivacyApi(deps),
  };
}

/** What /profile and /compare share: the taste directions, the reference set, responses and names. */
interface ProfileContext {
  referenceIds(extraFrom?: UserKey[]): Promise<string[]>;
  responsesFor(keys: UserKey[], refIds: string[]): Promise<Map<UserKey, DirectionResponse[]>>;
  namesOf(keys: UserKey[], hints?: PersonRef[]): Promise<Map<UserKey, string>>;
}

function profileContext(deps: ProfilesAndPrivacyDeps): ProfileContext {
  const { db, taste, ledger } = deps;
  const log = deps.log ?? silentLogger;
  const limit = deps.referenceLimit ?? 300;
  let directions: Promise<TasteDirection[]> | null = null;
  const getDirections = () =>
    (directions ??= directionsFor(deps.embedder, deps.text).catch((err: unknown) => {
      directions = null;
      log.warn({ err }, 'taste directions unavailable; profiles go without a description');
      return [];
    }));

  /** The shared reference set: onboarding first, then the gallery; rated images fill in a thin gallery. */
  async function referenceIds(extraFrom: UserKey[] = []): Promise<string[]> {
    const ids = [...new Set([...(await onboardingImageIds(db)), ...(await galleryImageIds(db))])].slice(0, limit);
    if (ids.length < 20) {
      for (const k of extraFrom) for (const r of await ledger.listRatings(k)) if (!ids.includes(r.imageId)) ids.push(r.imageId);
    }
    return ids.slice(0, limit);
  }

  async function responsesFor(keys: UserKey[], refIds: string[]): Promise<Map<UserKey, DirectionResponse[]>> {
    const out = new Map<UserKey, DirectionResponse[]>();
    const dirs = await getDirections();
    if (!dirs.length || refIds.length < 3) return out;
    const vectors = await deps.embeddings.embed(refIds);
    const X = refIds.map((id) => vectors.get(id)!);
    // Right after a restart the community model is still the neutral prior until the load ends.
    await taste.loaded();
    const g = taste.scorer.getGlobal();
    const community = X.map((x) => {
      let s = g.bias;
      for (let j = 0; j < g.dim; j++) s += g.w[j]! * (x[j] as number);
      return s;
    });
    for (const k of keys) out.set(k, directionResponses(X, await taste.predict(k, refIds), community, dirs));
    return out;
  }

  async function namesOf(keys: UserKey[], hints: PersonRef[] = []): Promise<Map<UserKey, string>> {
    const rows = keys.length
      ? await db.select({ k: users.userKey, n: users.displayName }).from(users).where(inArray(users.userKey, keys))
      : [];
    const out = new Map<UserKey, string>();
    for (const k of keys) {
      const hint = hints.find((h) => userKeyOf(h) === k)?.displayName;
      out.set(k, hint || rows.find((r) => r.k === k)?.n || parseUserKey(k).userId);
    }
    return out;
  }

  return { referenceIds, responsesFor, namesOf };
}

/** The image rows of a profile: the person's top-rated images and, once they rated, the predicted favorites. */
async function profileGrid(deps: ProfilesAndPrivacyDeps, summary: ProfileView['summary']): Promise<Buffer | null> {
  const rows: GridRow[] = [];
  const tiles = async (items: { id: string; caption: string }[]) => {
    const out = [];
    for (const it of items) {
      const png = await deps.images.readBytes(it.id).catch(() => null);
      if (png) out.push({ png, caption: it.caption });
    }
    return out;
  };
  const top = await tiles(summary.topImages.map((t) => ({ id: t.image.id, caption: `rated ${t.score}/10` })));
  if (top.length) rows.push({ label: 'Top rated', tiles: top });
  const fav = await tiles(summary.predictedFavorites.map((t) => ({ id: t.image.id, caption: `predicted ${formatScore(t.predicted)}` })));
  if (fav.length && (summary.ratings > 0 || (summary.picks ?? 0) > 0))
    rows.push({ label: 'Predicted favorites (not rated yet)', tiles: fav });
  return rows.length ? await imageGrid(deps.charts, rows) : null;
}

async function viewProfile(
  deps: ProfilesAndPrivacyDeps,
  ctx: ProfileContext,
  { viewer, target, scopeId }: Parameters<ProfilesApi['view']>[0],
): Promise<ProfileView> {
  const { db, taste, ledger } = deps;
  const viewerKey = await touchPerson(db, viewer, scopeId);
  const targetKey = target ? userKeyOf(target) : viewerKey;
  const self = targetKey === viewerKey;
  await assertCanUseProfile(db, { requesterKey: viewerKey, targetKey, scopeId });
  const summary = await taste.profile(targetKey, { top: 4 });
  const name = (await ctx.namesOf([targetKey], target ? [target] : [viewer])).get(targetKey)!;
  const refIds = await ctx.referenceIds([targetKey]);
  const responses = summary.ratings > 0 ? (await ctx.responsesFor([targetKey], refIds)).get(targetKey) : undefined;
  const description = responses
    ? describeTaste(responses, { subject: self ? 'You' : name })
    : {
        likes: [],
        dislikes: [],
        moreThanCommunity: [],
        lessThanCommunity: [],
        text: self ? 'Rate some images with /rate and I will describe your taste.' : `${name} has no ratings yet.`,
      };
  const scores = (await ledger.listRatings(targetKey)).map((r) => r.score);
  const distributionChart = scores.length
    ? await ratingDistributionChart(deps.charts, scores, { title: `${self ? 'Your' : `${name}'s`} ratings (${scores.length})` })
    : null;
  const grid = await profileGrid(deps, summary);
  return {
    summary,
    name,
    self,
    description: description.text,
    likes: description.likes,
    dislikes: description.dislikes,
    moreThanCommunity: description.moreThanCommunity,
    lessThanCommunity: description.lessThanCommunity,
    distributionChart,
    grid,
  };
}

async function compareProfiles(
  deps: ProfilesAndPrivacyDeps,
  ctx: ProfileContext,
  { requester, people, scopeId }: Parameters<ProfilesApi['compare']>[0],
): Promise<CompareView> {
  const { db, taste, ledger } = deps;
  const requesterKey = await touchPerson(db, requester, scopeId);
  let keys = [...new Set(people.map(userKeyOf))];
  if (keys.length === 1 && keys[0] !== requesterKey) keys = [requesterKey, ...keys];
  if (keys.length < MIN_MEMBERS || keys.length > MAX_MEMBERS) {
    throw new CommandInputError(
      `Compare ${MIN_MEMBERS} to ${MAX_MEMBERS} different people (you named ${keys.length}).`,
      '/compare users:@a @b [@c …]',
    );
  }
  await assertCanUseProfiles(db, requesterKey, keys, scopeId);
  const names = await ctx.namesOf(keys, [requester, ...people]);
  const refIds = await ctx.referenceIds(keys);
  if (refIds.length < 2)
    throw new CommandInputError('There are not enough shared images to compare tastes yet; try again once the gallery is ready.');
  const members: CompareMember[] = [];
  for (const k of keys) {
    members.push({
      key: k,
      name: names.get(k)!,
      predictions: await taste.predict(k, refIds),
      ratings: new Map((await ledger.listRatings(k)).map((r) => [r.imageId, r.score])),
    });
  }
  const result = compareTastes(members, refIds);
  const fa = members[result.farthest.a]!;
  const fb = members[result.farthest.b]!;
  const responses = await ctx.responsesFor([fa.key, fb.key], refIds);
  const ra = responses.get(fa.key);
  const rb = responses.get(fb.key);
  const separation = ra && rb ? separatingSentence({ name: fa.name, responses: ra }, { name: fb.name, responses: rb }) : null;
  const counts = members.map((m) => m.ratings.size);
  const text = renderCompare(result, separation, counts);
  const heat =
    members.length >= 3
      ? await deps.charts.render({
          kind: 'heatmap',
          cells: matchCells(result),
          options: { title: 'Taste match (%)', decimals: 0, width: 120 + 70 * members.length, height: 80 + 50 * members.length },
        })
      : null;
  return {
    members: result.members,
    pairs: result.pairs.map((p) => ({ a: members[p.a]!.name, b: members[p.b]!.name, percent: p.percent, explanation: p.explanation })),
    text,
    heatmap: heat,
    consensusImageId: result.consensus.imageId,
    divisiveImageId: result.divisive.imageId,
  };
}

/** Refuses (one wording for every reason) unless every one of `keys` may be used; says which were refused. */
async function assertCanUseProfiles(db: Db, requesterKey: UserKey, keys: readonly UserKey[], scopeId: string | undefined): Promise<void> {
  const refusedKeys: UserKey[] = [];
  for (const k of keys) if (!(await canUseProfile(db, { requesterKey, targetKey: k, scopeId }))) refusedKeys.push(k);
  if (refusedKeys.length) throw new ProfileNotAvailableError({ refusedKeys });
}

function createPrivacyApi(deps: ProfilesAndPrivacyDeps): PrivacyApi {
  const { db } = deps;
  /** Platforms' stores outside the database (PrivacyApi.onForget). */
  const forgetHooks = new Set<ForgetHook>();
  return {
    async setSharing(person, share, scopeId) {
      const key = await touchPerson(db, person, scopeId);
      await setSharing(db, key, share);
    },
    isSharing: (person) => isSharing(db, userKeyOf(person)),
    async authorizeMembers(requester, members, scopeId) {
      const requesterKey = await touchPerson(db, requester, scopeId);
      const keys = [...new Set(members.map(userKeyOf))];
      if (keys.length > MAX_MEMBERS)
        throw new CommandInputError(`A group run takes at most ${MAX_MEMBERS} people (you named ${keys.length}).`);
      await assertCanUseProfiles(db, requesterKey, keys, scopeId);
      return keys;
    },
    forget: (person) => forgetEverywhere(deps, forgetHooks, person),
    isForgotten: (person) => isForgotten(db, userKeyOf(person)),
    resume: (person) => resumePerson(db, userKeyOf(person)),
    onForget(hook) {
      forgetHooks.add(hook);
      return () => void forgetHooks.delete(hook);
    },
    async export(person) {
      const key = userKeyOf(person);
      if (await isForgotten(db, key)) throw new ForgottenError();
      const data = await exportPerson(db, key);
      return { filename: exportFileName(person, data.exportedAt), json: JSON.stringify(data, null, 2) };
    },
  };
}

/** PrivacyApi.forget: the person's rows, their run, the models they shaped, and the platforms' copies. */
async function forgetEverywhere(
  deps: ProfilesAndPrivacyDeps,
  forgetHooks: ReadonlySet<ForgetHook>,
  person: PersonRef,
): Promise<ForgetSummary> {
  const { db, taste } = deps;
  const log = deps.log ?? silentLogger;
  const key = userKeyOf(person);
  // 1. From now on nothing new is stored for them (every entry point checks the tombstone).
  await tombstonePerson(db, key);
  // 2. Their run stops first: a run still executing could store an image after the deletes.
  if (deps.runs) {
    await deps.runs.cancel(key).catch((err: unknown) => log.warn({ err }, 'could not cancel the run of a person being forgotten'));
    const stopped = (await deps.runs.waitStopped?.(key, { timeoutMs: deps.forgetRunWaitMs ?? 30_000 })) ?? true;
    if (!stopped) log.warn('the run of a person being forgotten did not stop in time; deleting it anyway');
  }
  // A refit in flight must not write their scorer summary back after the deletes.
  await taste.scheduler.settled(key);
  // 3. One transaction; image files after commit.
  const report = await forgetPerson(db, key, { deleteImage: (id) => deps.images.deleteBytes(id) });
  taste.forget(key);
  // Others lost their ratings of the deleted images; the community model lost this person.
  for (const k of report.affectedPeople) taste.scheduler.request(k);
  void taste.retrainCommunity().catch((err: unknown) => log.error({ err }, 'community retrain after forget failed'));
  // 4. What platforms keep outside the database (the playground's conversation log and files).
  const failed: string[] = [];
  for (const hook of [...forgetHooks]) {
    try {
      await hook.forget(report);
    } catch (err) {
      failed.push(hook.name);
      log.error({ err, hook: hook.name }, 'a platform could not forget a person');
    }
  }
  // A platform still showing one of their runs may have recorded a message for it meanwhile.
  await db
    .delete(platformMessages)
    .where(or(inArray(platformMessages.runId, report.runIds), inArray(platformMessages.imageId, report.imageIds)));
  log.info(
    { ratings: report.ratings, runs: report.runs, images: report.images, affected: report.affectedPeople.length },
    'a person was forgotten',
  );
  // The database part is done and the person stays forgotten; asking again repeats the rest.
  if (failed.length) throw new TasteloopError(`forget: ${failed.join(', ')} could not remove their copies`);
  return { ratings: report.ratings, runs: report.runs, images: report.images };
}

/** `6.4/10` (the core does not import the platforms' formatters). */
function formatScore(s: number): string {
  return `${s.toFixed(1)}/10`;
}

/** The /compare answer in words: every pair explained, the closest pair, consensus, divisive, separation. */
export function renderCompare(result: CompareResult, separation: string | null, ratingCounts: number[]): string {
  const names = uniqueNames(result.members.map((m) => m.name));
  const lines = [`**Taste match** (${result.members.length} people, ${result.referenceSize} shared reference images)`];
  for (const p of [...result.pairs].sort((x, y) => y.percent - x.percent)) {
    lines.push(
      `• ${p.explanation.replace(`${result.members[p.a]!.name} and ${result.members[p.b]!.name}`, `**${names[p.a]} & ${names[p.b]}**`)}`,
    );
  }
  lines.push(MATCH_SCALE);
  if (result.pairs.length > 1)
    lines.push(`Closest pair: **${names[result.closest.a]} & ${names[result.closest.b]}** (${result.closest.percent}%).`);
  const per = (scores: number[]) => scores.map((s, i) => `${names[i]} ${formatScore(s)}`).join(', ');
  lines.push(`The image that brings you together (the one whose lowest predicted score is highest): ${per(result.consensus.scores)}.`);
  lines.push(`The image you disagree about most (after allowing for who rates generously): ${per(result.divisive.scores)}.`);
  if (separation) lines.push(separation);
  const thin = names.filter((_, i) => (ratingCounts[i] ?? 0) < 10);
  if (thin.length)
    lines.push(`_Few ratings so far for ${thin.join(', ')}: their numbers lean on the community's taste and will sharpen as they rate._`);
  return lines.join('\n');
}
