/**
 * ONE contract every chat adapter must honour, run against each through a small harness
 * (tests/contract-discord.test.ts, contract-discord-proxy, contract-playground, contract-slack) —
 * always on the REAL core (tests/helpers/core.ts: createApp with the offline backends on PGlite);
 * ratings are read back from the database.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { waitFor } from './helpers/wait';
import type { ReconcileReport } from '../src/platforms/reaction-read-back';

export interface HarnessMessage {
  id: string;
  conversationId: string;
  text: string;
  /** Image the platform message carries, as recorded in services.messages. */
  imageId: string | null;
  /** Rating controls offered (Discord: the bot's 10 reactions; playground: buttons). */
  rateable: boolean;
  /** Visible only to the invoker. */
  ephemeral: boolean;
  edits: number;
  /** Names of the files shown with the message (a run grid's picture, a summary's chart). */
  files?: string[];
  /** Image ids of a run grid's tiles that carry controls (rate, more like this, bigger). */
  tiles?: string[];
  /** What the message's Details toggle shows (where the platform renders one). */
  details?: string;
  /** How many pick controls the message has (a /rate mode:pick message: one per image). */
  picks?: number;
}

export interface AdapterHarness {
  /** `user`'s effective rating of the image, from the real core's database (null = none). */
  rating(user: string, imageId: string): Promise<number | null>;
  /** The channel commands are typed in. */
  channelId: string;
  /** Runs a command as `user` and resolves once its handler finished. */
  command(user: string, name: string, options?: Record<string, string | number>): Promise<void>;
  messages(): Promise<HarnessMessage[]>;
  threadIds(): Promise<string[]>;
  rate(user: string, messageId: string, score: number): Promise<void>;
  unrate(user: string, messageId: string, score: number): Promise<void>;
  /**
   * Optional (platforms whose run grids have tile controls): `user` picks `choice` (r1…r10, more, big)
   * on the tile of `imageId` in the grid message, and it resolves once the click was answered.
   */
  tile?(user: string, messageId: string, imageId: string, choice: string): Promise<void>;
  /** Optional (platforms with pick messages): `user` picks image `number` of the message; resolves to the private answer. */
  pick?(user: string, messageId: string, number: number): Promise<string | undefined>;
  /** Optional, with pick: `user`'s stored picks from the real core (winner and losers as image ids). */
  picksOf?(user: string): Promise<{ winner: string; losers: string[] }[]>;
  /** Optional: opens the message's Details toggle as `user` and resolves to what it shows (undefined: none). */
  details?(user: string, messageId: string): Promise<string | undefined>;
  userKey(user: string): string;
  /** Optional: one pass of the weekly "made for you" worker now (MadeForYou.runDue), instead of waiting for its timer. */
  madeForYouTick?(): Promise<void>;
  /** The adapter's own health() (what /readyz reports for it). */
  health(): { ok: boolean; detail?: string };
  /**
   * Optional (chat platforms whose reactions live on the platform): the bot stops, `during` changes
   * reactions that never reach it, the bot starts again and resolves once it has reconciled.
   */
  away?(during: (platform: AwayControls) => Promise<void> | void): Promise<ReconcileReport>;
  close(): Promise<void>;
}

export interface AwayControls {
  rate(user: string, messageId: string, score: number): void;
  unrate(user: string, messageId: string, score: number): void;
  deleteMessage(messageId: string): void;
}

export function platformContract(name: string, open: () => Promise<AdapterHarness>): void {
  describe(`platform contract: ${name}`, () => {
    let h: AdapterHarness;
    beforeAll(async () => {
      h = await open();
    });
    afterAll(async () => {
      await h?.close();
    });

    const rateable = async () => (await h.messages()).filter((m) => m.rateable && m.imageId && m.conversationId === h.channelId);
    // What several tests need is made once, by whichever test asks first, so every test can also run
    // alone (vitest -t) or in another order.
    let rated: Promise<HarnessMessage[]> | undefined;
    const ratedImages = () =>
      (rated ??= (async () => {
        await h.command('ann', 'rate', { count: 3 });
        return waitFor(async () => ((await rateable()).length >= 3 ? rateable() : null), 'three rateable images');
      })());
    let run: Promise<{ thread: string; messages: HarnessMessage[] }> | undefined;
    const finishedRun = () =>
      (run ??= (async () => {
        const before = new Set(await h.threadIds());
        await h.command('ann', 'optimize', { prompt: 'a lighthouse at dusk', iterations: 2, candidates: 2 });
        const thread = await waitFor(async () => (await h.threadIds()).find((t) => !before.has(t)), 'a new thread');
        const inThread = async () => (await h.messages()).filter((m) => m.conversationId === thread);
        await waitFor(async () => (await inThread()).some((m) => m.text.includes('Run finished')), 'the final summary');
        // The closing notice in the command's channel comes after the thread's last edit.
        await waitFor(
          async () => (await h.messages()).some((m) => m.conversationId === h.channelId && m.text.startsWith('✅ Run finished:')),
          'the outcome notice',
        );
        return { thread, messages: await inThread() };
      })());
    // A run shows each iteration as grid messages: a picture of numbered tiles, the prompts in the text.
    const isGrid = (m: HarnessMessage) => /^\*{1,2}(Your prompt|Iteration \d+)\*{1,2}/.test(m.text);
    const isSummary = (m: HarnessMessage) => m.text.includes('Run finished');

    it('reports itself healthy once started (what /readyz shows)', () => {
      const health = h.health();
      expect(health.ok).toBe(true);
      expect(health.detail).toBeTruthy();
    });

    it('/rate posts rateable images, one message each', async () => {
      const imgs = await ratedImages();
      expect(imgs).toHaveLength(3);
      expect(new Set(imgs.map((m) => m.imageId)).size).toBe(3);
      expect(imgs.every((m) => !m.ephemeral)).toBe(true);
    });

    it('a rating is stored for the rating person; changing it keeps one rating; unrating removes it', async () => {
      const [img] = await ratedImages();
      const ben = () => h.rating('ben', img!.imageId!);
      await h.rate('ben', img!.id, 7);
      expect(await ben()).toBe(7);
      await h.rate('ben', img!.id, 9);
      expect(await ben()).toBe(9);
      await h.unrate('ben', img!.id, 9);
      await h.unrate('ben', img!.id, 7);
      expect(await ben()).toBeNull();
      await h.rate('ben', img!.id, 4);
      expect(await ben()).toBe(4);
      expect(await h.rating('ann', img!.imageId!)).toBeNull();
    });

    it('/profile says "1 rating" and "0 ratings"', async () => {
      const [img] = await ratedImages();
      await h.rate('ivy', img!.id, 5);
      await h.command('ivy', 'profile');
      await h.command('cat', 'profile');
      const texts = (await h.messages()).filter((m) => m.ephemeral).map((m) => m.text);
      expect(texts.some((t) => /— 1 rating\b/.test(t))).toBe(true);
      expect(texts.some((t) => /— 0 ratings\b/.test(t))).toBe(true);
    });

    it('/optimize opens a thread with the header, one grid message per iteration, progress and a final summary', async () => {
      const { messages: msgs } = await finishedRun();
      expect(msgs[0]!.text).toContain('a lighthouse at dusk');
      // One grid message per iteration (the initial prompt, then 2 iterations), not one message per candidate.
      const grids = msgs.filter(isGrid);
      expect(grids).toHaveLength(1 + 2);
      expect(grids.map((g) => g.text.split('\n').filter((l) => /^\d+ · /.test(l)).length)).toEqual([1, 2, 2]);
      if (grids[0]!.files) expect(grids.every((g) => g.files!.some((f) => /^iteration-\d+-1\.png$/.test(f)))).toBe(true);
      // No candidate is posted as an image of its own any more.
      expect(msgs.filter((m) => m.imageId && !isSummary(m))).toHaveLength(0);
      const progress = msgs.filter((m) => /^(⏳ Iteration \d+\/\d+|✅ Done)/.test(m.text));
      expect(progress).toHaveLength(1);
      expect(progress[0]!.text).toMatch(/^✅ Done/);
      // The progress message is the thread's last: posted anew after each iteration, the older ones removed.
      expect(msgs.filter((m) => m.text !== '⋯').at(-1)!.id).toBe(progress[0]!.id);
      // Bold is `**` in markdown, `*` in Slack's mrkdwn.
      expect(msgs.filter((m) => /^📊 \*{1,2}\S/.test(m.text))).toHaveLength(3);
      const summary = msgs.find((m) => m.text.includes('Run finished'))!;
      // The outcome in plain words; the measures are the summary's Details part (bold is `*` in Slack's mrkdwn).
      expect(summary.text).toMatch(
        /Run finished\*{1,2}: (from \d+\.\d\/10 to \d+\.\d\/10 \(predicted for you\) in \d+ iterations?|your own prompt stayed the best at \d+\.\d\/10 \(predicted for you\))/,
      );
      // The method's measures, each explained, behind the summary's Details toggle (inline where there is none).
      const details = (await h.details?.('ann', summary.id)) ?? summary.details ?? summary.text;
      expect(details).toMatch(/Details\*{1,2}\n• max \d+\.\d\/10 — [^\n]+\n• max − init \+\d\.\d — [^\n]+\n• K\* \d — /);
      // The score chart: with the summary, or (Slack: one file per message) the message right after it.
      const withChart = [summary, msgs[msgs.indexOf(summary) + 1]].filter((m) => m?.files);
      if (withChart.length) expect(withChart.some((m) => m!.files!.includes('scores.png'))).toBe(true);
      // the run's best image is rateable like any other image
      await h.rate('ann', summary.id, 8);
      expect(await h.rating('ann', summary.imageId!)).toBe(8);
    });

    it('a grid tile’s controls rate it, show it bigger, and start a run like it', async (ctx) => {
      if (!h.tile) return ctx.skip(); // this platform's grid has no tile controls yet
      const { thread, messages: msgs } = await finishedRun();
      const grid = msgs.filter(isGrid).at(-1)!;
      expect(grid.tiles).toHaveLength(2);
      const [first, second] = grid.tiles! as [string, string];
      // A rating through a tile control is one vote per person per image, set outright.
      await h.tile('lee', grid.id, first, 'r6');
      await h.tile('lee', grid.id, first, 'r9');
      expect(await h.rating('lee', first)).toBe(9);
      expect(await h.rating('lee', second)).toBeNull();
      // Bigger: the tile's image full size in the thread, rateable there.
      await h.tile('lee', grid.id, second, 'big');
      const big = await waitFor(
        async () => (await h.messages()).find((m) => m.conversationId === thread && m.imageId === second && m.rateable),
        'the bigger image',
      );
      await h.rate('mo', big.id, 3);
      expect(await h.rating('mo', second)).toBe(3);
      // More like this: a new run (a new thread) through /optimize, from the tile's prompt.
      const before = new Set(await h.threadIds());
      await h.tile('lee', grid.id, first, 'more');
      const next = await waitFor(async () => (await h.threadIds()).find((t) => !before.has(t)), 'a new run thread');
      const header = await waitFor(async () => (await h.messages()).find((m) => m.conversationId === next), 'the new run header');
      expect(header.text).toContain('Optimizing');
    });

    it('/rate mode:pick posts a grid of four to pick from; a pick is stored, acknowledged privately, and replaced by a second pick', async (ctx) => {
      if (!h.pick || !h.picksOf) return ctx.skip(); // this platform has no pick controls
      const before = new Set((await h.messages()).map((m) => m.id));
      await h.command('kim', 'rate', { mode: 'pick' });
      const msg = await waitFor(async () => (await h.messages()).find((m) => !before.has(m.id) && (m.picks ?? 0) > 0), 'a pick message');
      expect(msg.picks).toBe(4);
      expect(msg.ephemeral).toBe(false);
      expect(msg.conversationId).toBe(h.channelId);
      // The 2×2 grid picture rides with the message.
      expect(msg.files).toHaveLength(1);
      expect(await h.pick('kim', msg.id, 2)).toMatch(/You picked 2/);
      const first = await h.picksOf('kim');
      expect(first).toHaveLength(1);
      expect(first[0]!.losers).toHaveLength(3);
      expect(first[0]!.losers).not.toContain(first[0]!.winner);
      // Picking again on the same message replaces the pick: still one, now the third image.
      expect(await h.pick('kim', msg.id, 3)).toMatch(/You picked 3/);
      const second = await h.picksOf('kim');
      expect(second).toHaveLength(1);
      expect(second[0]!.winner).not.toBe(first[0]!.winner);
      expect(second[0]!.losers).toContain(first[0]!.winner);
      // Somebody else's pick on the same message is their own.
      await h.pick('lee', msg.id, 1);
      expect(await h.picksOf('lee')).toHaveLength(1);
      expect(await h.picksOf('kim')).toHaveLength(1);
    });

    it('reactions added and removed while the bot was down are read back when it returns', async (ctx) => {
      if (!h.away) return ctx.skip(); // the playground has no reactions outside the running bot
      const [a, b, c] = (await ratedImages()) as [HarnessMessage, HarnessMessage, HarnessMessage];
      const candidate = (await finishedRun()).messages.find((m) => isSummary(m) && m.imageId)!;
      // Before: eve 6 on a, fay 2 on b (live), gus 5 on c; jon 4 on a and kim 8 on a run's candidate stay untouched.
      await h.rate('jon', a.id, 4);
      await h.rate('kim', candidate.id, 8);
      await h.rate('eve', a.id, 6);
      await h.rate('fay', b.id, 2);
      await h.rate('gus', c.id, 5);
      const report = await h.away((p) => {
        p.unrate('eve', a.id, 6); // taken back while away
        p.rate('eve', a.id, 9);
        p.rate('hal', a.id, 3); // a new person
        p.rate('fay', b.id, 8); // a second vote: the newest wins
        p.deleteMessage(c.id); // deleting the message is not taking gus's rating back
      });
      expect(await h.rating('eve', a.imageId!)).toBe(9);
      expect(await h.rating('hal', a.imageId!)).toBe(3);
      expect(await h.rating('fay', b.imageId!)).toBe(8);
      expect(await h.rating('gus', c.imageId!)).toBe(5);
      // Ratings nobody touched while away stand, in the channel and in a run's thread alike.
      expect(await h.rating('jon', a.imageId!)).toBe(4);
      expect(await h.rating('kim', candidate.imageId!)).toBe(8);
      expect(report).toMatchObject({ added: 3, removed: 1, failed: 0 });
      expect(report.gone).toBeGreaterThanOrEqual(1);
      // The bot works as before after coming back: live reactions still count, and taking the newest
      // vote back falls back to the one left.
      await h.unrate('fay', b.id, 8);
      expect(await h.rating('fay', b.imageId!)).toBe(2);
      // A second return with nothing changed changes nothing.
      const again = await h.away(() => {});
      expect(again).toMatchObject({ added: 0, removed: 0, failed: 0 });
      expect(await h.rating('eve', a.imageId!)).toBe(9);
    });

    it('/suggest replies with rateable images she has not seen, each with its reason; rating one stores it', async () => {
      const privately = async (text: string) => (await h.messages()).filter((m) => m.ephemeral && m.text.includes(text));
      await h.command('sue', 'suggest');
      expect(await privately("I don't know your taste yet — rate a few images with /rate first")).toHaveLength(1);
      await h.command('zed', 'privacy', { action: 'forget', confirm: 'yes' });
      await h.command('zed', 'suggest');
      expect(await privately('You asked Tasteloop to forget you')).toHaveLength(1);
      // Sue rates five images (a scorer of her own); Kim rates three more here, which Sue has not seen.
      const known = new Set((await h.messages()).map((m) => m.id));
      await h.command('sue', 'rate', { count: 8 });
      const posted = await waitFor(async () => {
        const fresh = (await rateable()).filter((m) => !known.has(m.id));
        return fresh.length >= 8 ? fresh : null;
      }, 'eight rateable images');
      for (const [i, m] of posted.slice(0, 5).entries()) await h.rate('sue', m.id, 5 + i);
      for (const m of posted.slice(5)) await h.rate('kim', m.id, 8);
      const seen = new Set(posted.slice(0, 5).map((m) => m.imageId));
      const before = new Set((await h.messages()).map((m) => m.id));
      await h.command('sue', 'suggest', { count: 2 });
      const answer = async () => (await h.messages()).filter((m) => !before.has(m.id));
      const suggested = await waitFor(async () => {
        const imgs = (await answer()).filter((m) => m.rateable && m.imageId);
        return imgs.length >= 2 ? imgs : null;
      }, 'two suggestions');
      expect(suggested).toHaveLength(2);
      for (const m of suggested) {
        expect(seen.has(m.imageId)).toBe(false);
        expect(m.text).toMatch(/Suggestion [12]\/2 · predicted \d+\.\d\/10 · \S/);
      }
      expect((await answer()).some((m) => m.text.includes('Suggestions for'))).toBe(true);
      await h.rate('sue', suggested[0]!.id, 9);
      expect(await h.rating('sue', suggested[0]!.imageId!)).toBe(9);
    });

    it('/suggest weekly:on|off answers privately: rate first, then what will happen and how to stop', async () => {
      const start = new Set((await h.messages()).map((m) => m.id));
      const privately = async (text: string) => (await h.messages()).filter((m) => m.ephemeral && m.text.includes(text));
      await h.command('wes', 'suggest', { weekly: 'on' });
      expect(await privately('Rate a few images first')).toHaveLength(1);
      const known = new Set((await h.messages()).map((m) => m.id));
      await h.command('wes', 'rate', { count: 1 });
      const [image] = await waitFor(async () => {
        const fresh = (await rateable()).filter((m) => !known.has(m.id));
        return fresh.length >= 1 ? fresh : null;
      }, 'an image to rate');
      await h.rate('wes', image!.id, 9);
      await h.command('wes', 'suggest', { weekly: 'on' });
      const [on] = await privately("You're in");
      expect(on?.text).toMatch(/every 7 days .*Made for you.*Stop with \/suggest weekly:off/);
      await h.command('wes', 'suggest', { weekly: 'off' });
      expect(await privately('no more weekly "made for you" runs')).toHaveLength(1);
      // Nothing of it went to the channel.
      expect(
        (await h.messages()).some((m) => !start.has(m.id) && !m.ephemeral && /Made for you|Rate a few images first/.test(m.text)),
      ).toBe(false);
    });

    it('the weekly worker’s run is posted where she opted in: a parent message, a thread with the grids and the summary, once each', async (ctx) => {
      if (!h.madeForYouTick) return ctx.skip();
      const known = new Set((await h.messages()).map((m) => m.id));
      await h.command('nia', 'rate', { count: 1 });
      const [image] = await waitFor(async () => {
        const fresh = (await rateable()).filter((m) => !known.has(m.id));
        return fresh.length >= 1 ? fresh : null;
      }, 'an image to rate');
      await h.rate('nia', image!.id, 9);
      await h.command('nia', 'suggest', { weekly: 'on' });
      const threadsBefore = new Set(await h.threadIds());
      const notices = async () =>
        (await h.messages()).filter((m) => m.conversationId === h.channelId && m.text.startsWith('✅ Run finished:')).length;
      const noticesBefore = await notices();
      await h.madeForYouTick();
      const thread = await waitFor(
        async () => (await h.threadIds()).find((t) => !threadsBefore.has(t)),
        'the made-for-you thread',
        120_000,
      );
      const inThread = async () => (await h.messages()).filter((m) => m.conversationId === thread);
      await waitFor(async () => (await inThread()).some(isSummary), 'the made-for-you run’s summary', 180_000);
      await waitFor(async () => ((await notices()) > noticesBefore ? true : null), 'the outcome notice in the channel', 60_000);
      // A second pass of the worker within the week starts nothing more.
      await h.madeForYouTick();
      const parents = (await h.messages()).filter((m) => !known.has(m.id) && m.conversationId === h.channelId && m.text.startsWith('🎁'));
      expect(parents).toHaveLength(1);
      expect(parents[0]!.ephemeral).toBe(false);
      expect(parents[0]!.text).toMatch(/Made for you, .*top-rated image “.+” — rate the results .*\/suggest weekly:off/);
      expect((await h.threadIds()).filter((t) => !threadsBefore.has(t))).toEqual([thread]);
      const msgs = await inThread();
      expect(msgs[0]!.text).toContain('Made for you');
      // The initial prompt, then 2 iterations of 4: one grid message each, and one summary.
      expect(msgs.filter(isGrid)).toHaveLength(1 + 2);
      expect(msgs.filter(isSummary)).toHaveLength(1);
      expect(await notices()).toBe(noticesBefore + 1);
    }, 300_000);

    it('taste codes: /profile shows one, /optimize taste: runs with it, others need it shared, forget retires it', async () => {
      const [a, b] = await ratedImages();
      await h.rate('tia', a!.id, 9);
      await h.rate('tia', b!.id, 3);
      const fresh = async (since: Set<string>) => (await h.messages()).filter((m) => !since.has(m.id));
      const privately = async (user: string, name: string, o: Record<string, string | number>, text: string) => {
        const before = new Set((await h.messages()).map((m) => m.id));
        await h.command(user, name, o);
        return waitFor(async () => (await fresh(before)).find((m) => m.ephemeral && m.text.includes(text)), `a private "${text}"`);
      };
      const profile = await privately('tia', 'profile', {}, 'Your taste code:');
      const code = /tl-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}/.exec(profile.text)![0];
      expect((await privately('tia', 'profile', { show: 'history' }, code)).text).toMatch(/2 ratings/);
      // Her run is scored by the code (typed loosely): its header names it.
      const threads = new Set(await h.threadIds());
      await h.command('tia', 'optimize', { prompt: 'a quiet harbour', iterations: 1, candidates: 1, taste: code.toLowerCase() });
      const thread = await waitFor(async () => (await h.threadIds()).find((t) => !threads.has(t)), 'the taste run thread');
      const inThread = async () => (await h.messages()).filter((m) => m.conversationId === thread);
      await waitFor(async () => (await inThread()).some((m) => m.text.includes(`taste code ${code}`)), 'the header naming the code');
      await waitFor(async () => (await inThread()).some((m) => m.text.includes('Run finished')), 'the taste run to finish');
      // Someone else may not use it while she does not share: a private, friendly refusal, and no run.
      const before = new Set(await h.threadIds());
      const refused = await privately('uma', 'optimize', { prompt: 'a cat', taste: code }, "I can't use that taste code");
      expect(refused.text).not.toMatch(/reference/i);
      expect((await h.threadIds()).filter((t) => !before.has(t))).toHaveLength(0);
      await h.command('tia', 'privacy', { action: 'forget', confirm: 'yes' });
      await privately('uma', 'optimize', { prompt: 'a cat', taste: code }, 'This taste code no longer exists');
    });

    it('a person’s mistake gets a private, friendly reply', async () => {
      await h.command('dan', 'rate', { count: 50 });
      const errs = (await h.messages()).filter((m) => m.ephemeral && m.text.includes('count must be from 1 to 10'));
      expect(errs).toHaveLength(1);
      expect(errs[0]!.text).not.toMatch(/reference/i);
    });
  });
}
