/**
 * TEST DOUBLE — an in-memory `Services` for tests of pure platform translation only. The contract
 * suite, the Discord end-to-end tests and the playground browser test run on the real core
 * (tests/helpers/core.ts); keep this for unit tests that check how an adapter maps its API. It keeps the
 * semantics platforms rely on: ratings keyed by (person, image) with "latest remaining vote wins",
 * message lookup by id, one active run per person, request-key dedupe, and a scripted run that
 * emits RunEvents (each step waits on `gate`, so tests control timing without sleeping).
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { userKeyOf, type PersonRef, type UserKey } from '../../src/core/identity';
import { ForgottenError, InvalidScoreError, LimitReachedError, ProfileNotAvailableError, UnknownImageError } from '../../src/core/errors';
import { applyVoteEvent, isValidScore, type Vote } from '../../src/core/vote-rules';
import type { ImageRecord, RatingChange, RatingContext } from '../../src/core/records';
import type { ProfileSummary, Services, StartRunRequest } from '../../src/core/services';
import type { CandidateView, RunEvent, RunMetricsView } from '../../src/core/optimizer/events';
import { reconcileMessage } from '../../src/core/reaction-sync';

export interface FakeServicesOptions {
  galleryImages?: number;
  /** Awaited before each run step ("started", then each iteration): lets a test hold or advance a run. */
  gate?: (runId: string, step: number) => Promise<void>;
}

export interface FakeServices extends Services {
  /** Effective ratings: `${userKey}|${imageId}` → score. */
  ratingsMap: Map<string, number>;
  /** Every rate/unrate call, in order (for replay/duplicate assertions). */
  ratingCalls: { kind: 'rate' | 'unrate'; userKey: UserKey; imageId: string; score: number; ctx: RatingContext; changed: boolean }[];
  messagesMap: Map<string, { imageId: string | null; runId: string | null; kind: string; channelId: string; scopeId?: string | null }>;
  events: RunEvent[];
  runs: Services['runs'] & { active: Map<string, { runId: string; cancelled: boolean }> };
  addImage(bytes: Buffer, meta?: Partial<ImageRecord>): Promise<ImageRecord>;
  /** Puts an image first in line for /rate. */
  addToGallery(bytes: Buffer): Promise<ImageRecord>;
  /** Resolves when every run started so far has ended. */
  idle(): Promise<void>;
}

async function solidPng(i: number, size = 64): Promise<Buffer> {
  const r = (i * 67) % 256,
    g = (i * 131) % 256,
    b = (i * 199) % 256;
  return sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

export async function createFakeServices(opts: FakeServicesOptions = {}): Promise<FakeServices> {
  const images = new Map<string, { rec: ImageRecord; bytes: Buffer }>();
  const gallery: string[] = [];
  // Votes per (user, image), one per score, present or a tombstone.
  const votes = new Map<string, (Vote & { source: string; messageId: string | null })[]>();
  const sharing = new Set<UserKey>();
  const forgotten = new Set<UserKey>();
  const ratingsMap = new Map<string, number>();
  const ratingCalls: FakeServices['ratingCalls'] = [];
  const messagesMap: FakeServices['messagesMap'] = new Map();
  const listeners = new Set<(e: RunEvent) => void>();
  const events: RunEvent[] = [];
  const active = new Map<string, { runId: string; cancelled: boolean }>();
  const requestKeys = new Map<string, string>();
  const destinations = new Map<string, Record<string, unknown>>();
  const eventKeys = new Map<string, { messageId: string; channelId: string }>();
  const running = new Set<Promise<void>>();
  let runSeq = 0;
  const gate = opts.gate ?? (() => new Promise<void>((r) => setImmediate(r)));

  const addImage = async (bytes: Buffer, meta: Partial<ImageRecord> = {}): Promise<ImageRecord> => {
    const png = await sharp(bytes).png().toBuffer();
    const m = await sharp(png).metadata();
    const id = createHash('sha256').update(png).digest('hex');
    const rec: ImageRecord = {
      id,
      width: m.width ?? 0,
      height: m.height ?? 0,
      bytes: png.length,
      source: 'gallery',
      prompt: null,
      generator: null,
      seed: null,
      ownerKey: null,
      createdAt: new Date(),
      ...meta,
    };
    images.set(id, { rec, bytes: png });
    return rec;
  };
  for (let i = 0; i < (opts.galleryImages ?? 12); i++) gallery.push((await addImage(await solidPng(i), { source: 'onboarding' })).id);

  const emit = (e: RunEvent) => {
    events.push(e);
    for (const l of listeners) l(e);
  };

  // The ledger's own vote rules (core/vote-rules.ts) over in-memory votes, so the double cannot drift from them.
  const applyVote = (
    kind: 'rate' | 'unrate',
    person: PersonRef,
    imageId: string,
    score: number,
    ctx: RatingContext,
    at?: Date,
  ): RatingChange => {
    if (!isValidScore(score)) throw new InvalidScoreError(score);
    if (!images.has(imageId)) throw new UnknownImageError(imageId);
    const userKey = userKeyOf(person);
    if (forgotten.has(userKey) && kind === 'rate') throw new ForgottenError();
    const k = `${userKey}|${imageId}`;
    const mine = votes.get(k) ?? [];
    const outcome = applyVoteEvent(mine, { kind: kind === 'rate' ? 'add' : 'remove', score, eventTime: at ?? new Date() });
    if (outcome.applied) {
      const next = mine.filter((v) => v.score !== score);
      next.push({ ...outcome.vote, source: ctx.source, messageId: ctx.messageId ?? null });
      votes.set(k, next);
    }
    const before = outcome.before?.score ?? null;
    const after = outcome.after?.score ?? null;
    if (after === null) ratingsMap.delete(k);
    else ratingsMap.set(k, after);
    ratingCalls.push({ kind, userKey, imageId, score, ctx, changed: outcome.changed });
    return { userKey, imageId, before, after, changed: outcome.changed };
  };

  const standingOn = (imageId: string) =>
    [...votes].flatMap(([k, v]) =>
      k.endsWith(`|${imageId}`)
        ? v
            .filter((x) => x.present)
            .map((x) => ({ userKey: k.slice(0, -imageId.length - 1), score: x.score, source: x.source, messageId: x.messageId }))
        : [],
    );

  const countFor = (userKey: UserKey) => [...ratingsMap.keys()].filter((k) => k.startsWith(`${userKey}|`)).length;

  async function script(runId: string, userKey: UserKey, req: StartRunRequest, slot: { cancelled: boolean }): Promise<void> {
    const K = req.iterations ?? 2;
    const n = req.candidates ?? 2;
    let best = 0,
      init = 0,
      kStar = 0,
      imagesUsed = 0,
      bestImageId: string | null = null,
      bestPrompt: string | null = null;
    const metrics = (): RunMetricsView => ({
      init,
      max: best,
      maxMinusInit: best - init,
      kStar,
      maxSim: 0.5,
      scoreOfMostSim: 5,
      imagesUsed,
      costUsd: 0,
      bestImageId,
      bestPrompt,
    });
    try {
      await gate(runId, 0);
      emit({
        type: 'run.started',
        key: `${runId}:started`,
        runId,
        params: {
          prompt: req.prompt,
          iterations: K,
          candidates: n,
          feedback: req.feedback ?? 's+p',
          optimizer: req.optimizer ?? 'genetic',
          objective: 'single',
          members: [userKey],
          seed: 1,
          generator: 'fake',
          llm: null,
          scorer: 'fake scorer',
        },
      });
      // Like the core's loop: iteration 0 scores the initial prompt alone, iterations 1..K render N candidates.
      for (let it = 0; it <= K; it++) {
        await gate(runId, it + 1);
        if (slot.cancelled) {
          emit({ type: 'run.cancelled', key: `${runId}:cancelled`, runId, metrics: imagesUsed ? metrics() : null });
          return;
        }
        const cands: CandidateView[] = [];
        for (let c = 0; c < (it === 0 ? 1 : n); c++) {
          const prompt = it === 0 ? req.prompt : `${req.prompt} v${it}.${c}`;
          const rec = await addImage(await solidPng(1000 + runSeq * 100 + it * 10 + c), { source: 'generated', prompt });
          const score = 5 + it * 0.7 + c * 0.3;
          imagesUsed++;
          if (it === 0 && c === 0) init = score;
          if (score > best) {
            best = score;
            kStar = it;
            bestImageId = rec.id;
            bestPrompt = prompt;
          }
          cands.push({ iteration: it, idx: c, prompt, imageId: rec.id, score });
        }
        emit({ type: 'iteration.images', key: `${runId}:it${it}:images`, runId, iteration: it, candidates: cands });
        emit({
          type: 'iteration.summary',
          key: `${runId}:it${it}:summary`,
          runId,
          iteration: it,
          bestSoFar: best,
          bestThisIteration: cands.at(-1)!.score,
          feedbackDigest: 'brighter colors',
          scorerN: countFor(userKey),
        });
        emit({ type: 'run.progress', key: `${runId}:it${it}:progress`, runId, iteration: it, iterations: K, imagesUsed, costUsd: 0 });
      }
      emit({ type: 'run.finished', key: `${runId}:finished`, runId, metrics: metrics(), stopReason: 'iterations done' });
    } finally {
      active.delete(userKey);
    }
  }

  const services: FakeServices = {
    backends: { images: 'fake', llm: 'none', embedder: 'fake', database: 'memory' },
    ratingsMap,
    ratingCalls,
    messagesMap,
    events,
    addImage,
    addToGallery: async (bytes) => {
      const rec = await addImage(bytes, { source: 'onboarding' });
      gallery.unshift(rec.id);
      return rec;
    },
    // Run pictures without a chart renderer: a plain square per picture (what a platform posts is under test, not the drawing).
    pictures: { grid: () => solidPng(200, 96), scoreChart: () => solidPng(201, 48) },
    images: {
      get: async (id) => images.get(id)?.rec,
      readBytes: async (id) => {
        const i = images.get(id);
        if (!i) throw new UnknownImageError(id);
        return i.bytes;
      },
      ingest: async (bytes, meta) => addImage(bytes, { source: meta.source, ownerKey: meta.ownerKey ?? null }),
    },
    people: {
      touch: async (p) => {
        if (forgotten.has(userKeyOf(p))) throw new ForgottenError();
        return userKeyOf(p);
      },
    },
    gallery: { status: () => ({ state: 'done', ready: gallery.length, total: gallery.length }) },
    // Profiles need scorers, charts and a database: tests of /profile and /compare run on the real core
    // (tests/helpers/core.ts). This double keeps only the privacy rule in front of them (someone else's
    // profile only when they share it) and says so instead of inventing a profile.
    profiles: {
      view: async (req) => {
        if (req.target && userKeyOf(req.target) !== userKeyOf(req.viewer) && !sharing.has(userKeyOf(req.target)))
          throw new ProfileNotAvailableError();
        throw new Error('profiles are not simulated by the Services double: use openTestCore');
      },
      compare: () => Promise.reject(new Error('comparisons are not simulated by the Services double: use openTestCore')),
    },
    privacy: {
      setSharing: async (p, share) => {
        if (share) sharing.add(userKeyOf(p));
        else sharing.delete(userKeyOf(p));
      },
      isSharing: async (p) => sharing.has(userKeyOf(p)),
      authorizeMembers: async (requester, members) => {
        const keys = members.map((m) => userKeyOf(m));
        if (keys.some((k) => k !== userKeyOf(requester) && !sharing.has(k))) throw new ProfileNotAvailableError();
        return keys;
      },
      forget: async (p) => {
        const key = userKeyOf(p);
        forgotten.add(key);
        sharing.delete(key);
        const mine = [...ratingsMap.keys()].filter((k) => k.startsWith(`${key}|`));
        for (const k of mine) ratingsMap.delete(k);
        for (const k of [...votes.keys()]) if (k.startsWith(`${key}|`)) votes.delete(k);
        return { ratings: mine.length, runs: 0, images: 0 };
      },
      isForgotten: async (p) => forgotten.has(userKeyOf(p)),
      resume: async (p) => forgotten.delete(userKeyOf(p)),
      onForget: () => () => {},
      export: async (p) => {
        if (forgotten.has(userKeyOf(p))) throw new ForgottenError();
        const key = userKeyOf(p);
        const ratings = [...ratingsMap]
          .filter(([k]) => k.startsWith(`${key}|`))
          .map(([k, score]) => ({ imageId: k.slice(key.length + 1), score }));
        return { filename: 'tasteloop-export.json', json: JSON.stringify({ userKey: key, ratings }, null, 2) };
      },
    },
    ratings: {
      rate: async (p, id, s, ctx, t) => applyVote('rate', p, id, s, ctx, t),
      unrate: async (p, id, s, ctx, t) => applyVote('unrate', p, id, s, ctx, t),
      standing: async (p, imageId) =>
        standingOn(imageId)
          .filter((v) => v.userKey === userKeyOf(p))
          .map((v) => v.score),
      // The real planning (core/reaction-sync.ts) over this in-memory ledger.
      reconcile: (m) =>
        reconcileMessage(
          {
            standingVotes: async (imageId) => standingOn(imageId),
            rate: async (person, imageId, score, ctx, at) => applyVote('rate', person, imageId, score, ctx, at),
            unrate: async (person, imageId, score, ctx, at) => applyVote('unrate', person, imageId, score, ctx, at),
          },
          m,
        ),
      count: async (k) => countFor(k),
    },
    taste: {
      nextToRate: async (k, n) =>
        gallery
          .filter((id) => !ratingsMap.has(`${k}|${id}`))
          .slice(0, n)
          .map((id) => images.get(id)!.rec),
      profile: async (k): Promise<ProfileSummary> => {
        const mine = [...ratingsMap]
          .filter(([key]) => key.startsWith(`${k}|`))
          .map(([key, score]) => ({ image: images.get(key.split('|')[1]!)!.rec, score }));
        mine.sort((a, b) => b.score - a.score);
        return {
          userKey: k,
          ratings: mine.length,
          method: mine.length >= 5 ? 'finetune' : 'global',
          quality: { n: mine.length, srocc: mine.length >= 5 ? 0.5 : null, mse: null, mae: mine.length >= 5 ? 1.2 : null },
          topImages: mine.slice(0, 3),
          predictedFavorites: [],
        };
      },
      predict: async (_k, ids) => ids.map(() => 5.5),
    },
    runs: {
      active,
      start: async (req) => {
        const userKey = userKeyOf(req.requester);
        if (req.requestKey && requestKeys.has(req.requestKey)) return { runId: requestKeys.get(req.requestKey)! };
        if (active.has(userKey)) throw new LimitReachedError('You already have a run in progress; /cancel it or wait for it to finish.');
        const runId = `run${++runSeq}`;
        if (req.requestKey) requestKeys.set(req.requestKey, runId);
        if (req.destination) destinations.set(runId, { ...req.destination });
        const slot = { runId, cancelled: false };
        active.set(userKey, slot);
        const p = script(runId, userKey, req, slot);
        running.add(p);
        void p.finally(() => running.delete(p));
        return { runId };
      },
      cancel: async (userKey, runId) => {
        const slot = active.get(userKey);
        if (!slot || (runId && slot.runId !== runId)) return null;
        slot.cancelled = true;
        return slot.runId;
      },
      subscribe: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      setDestination: async (runId, dest) => {
        destinations.set(runId, { ...destinations.get(runId), ...dest });
      },
      // The event log stands in for the outbox (ids = positions), with the same filters as run-feed.ts.
      feed: async (platform, cursors) =>
        events
          .map((event, i) => ({ id: i + 1, runId: event.runId, destination: destinations.get(event.runId) ?? {}, event }))
          .filter(
            (e) =>
              e.destination.platform === platform &&
              e.destination.threadId &&
              !eventKeys.has(`${platform}|${e.runId}:end:done`) &&
              e.id > (cursors[e.runId] ?? 0),
          ),
    },
    messages: {
      record: async (m) => {
        messagesMap.set(`${m.platform}|${m.messageId}`, {
          imageId: m.imageId ?? null,
          runId: m.runId ?? null,
          kind: m.kind,
          channelId: m.channelId,
          scopeId: m.scopeId ?? null,
        });
        if (m.eventKey && !eventKeys.has(`${m.platform}|${m.eventKey}`))
          eventKeys.set(`${m.platform}|${m.eventKey}`, { messageId: m.messageId, channelId: m.channelId });
      },
      lookup: async (platform, id) => {
        const m = messagesMap.get(`${platform}|${id}`);
        return m && { imageId: m.imageId, runId: m.runId, kind: m.kind, channelId: m.channelId };
      },
      recentRateable: async (platform, _since, limit) =>
        [...messagesMap]
          .filter(([k, m]) => k.startsWith(`${platform}|`) && m.imageId)
          .reverse()
          .slice(0, limit)
          .map(([k, m]) => ({
            messageId: k.slice(platform.length + 1),
            channelId: m.channelId,
            scopeId: m.scopeId ?? null,
            imageId: m.imageId as string,
          })),
      byEventKey: async (platform, key) => eventKeys.get(`${platform}|${key}`),
      // One process in these tests: every read-back runs (the shared rule is tested on the real database).
      claimReadBack: async () => 'claimed' as const,
      finishReadBack: async () => {},
      // One process: every run's display is this one's (the shared rule is tested on the real database).
      claimRunDisplay: async () => ({ ours: true, over: false, othersExpireInMs: null }),
      releaseRunDisplay: async () => {},
    },
    idle: async () => {
      while (running.size) await Promise.all([...running]);
    },
  };
  return services;
}
