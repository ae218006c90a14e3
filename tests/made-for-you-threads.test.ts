/**
 * A made-for-you run has no thread when the weekly worker starts it: the process holding the run's
 * display claim posts the parent message, opens the thread on it and stores it on the run before
 * posting into it (platforms/run-thread.ts, run-display.ts). On PGlite and, with TEST_DATABASE_URL,
 * on real PostgreSQL:
 * - two processes racing to store a thread keep the first one's;
 * - two displays (two processes) on one database open exactly one thread, with every message once;
 * - a holder that opened the thread but never stored it (cut off) is replaced, and its successor finds
 *   the same parent and thread again instead of opening another;
 * - a channel that takes no posts gives the run up: cancelled, logged once with a reference, the
 *   person told once on their next /suggest, and never tried again.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { Conversation, OutMessage } from '../commands/kit/types';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import type { MadeForYou } from '../src/core/made-for-you';
import { recordRun, subscribe } from '../src/core/made-for-you-store';
import { attachRunThread } from '../src/core/run-feed';
import type { Services } from '../src/core/services';
import type { Database } from '../src/db/connection';
import { queryRows } from '../src/db/util';
import { recordPosted } from '../src/platforms/record';
import { RunDisplay } from '../src/platforms/run-display';
import type { ThreadOpener } from '../src/platforms/run-thread';
import { openTestCore, type TestCore } from './helpers/core';
import { testBackends } from './helpers/db';
import { captureLogger } from './helpers/log-capture';
import { waitFor } from './helpers/wait';
import { silentLogger } from '../src/log';

const PLATFORM = 'slack';
/** Long enough that a holder slowed down by a busy machine keeps its claim (handing over is not what these tests are about). */
const LEASE_MS = 6_000;

interface Posted {
  id: string;
  conversationId: string;
  text: string;
  key?: string;
}

let chats = 0;

/**
 * A chat platform in memory, shared by the displays as one platform is by several processes: a
 * thread hangs on its parent message (one per parent, as on Discord and Slack); channels in `gone`
 * take no posts.
 */
class FakeChat {
  readonly posts: Posted[] = [];
  readonly threads = new Map<string, string>();
  threadsOpened = 0;
  readonly gone = new Set<string>();
  private n = 0;
  /** Message ids are unique across the chats of one database (platform_messages is keyed by them). */
  private readonly prefix = `c${++chats}`;

  constructor(private readonly services: () => Services) {}

  conversation(id: string): Conversation {
    return {
      id,
      mention: id,
      post: async (msg: OutMessage) => {
        if (this.gone.has(id)) throw Object.assign(new Error('channel_not_found'), { code: 'gone' });
        const posted = { id: `${this.prefix}m${++this.n}`, conversationId: id, text: msg.text, key: msg.idempotencyKey };
        this.posts.push(posted);
        await recordPosted(this.services(), PLATFORM, { messageId: posted.id, channelId: id }, msg);
        return posted.id;
      },
      findPosted: async (msg) => {
        const found = this.posts.find((p) => p.conversationId === id && p.key === msg.idempotencyKey);
        if (found) await recordPosted(this.services(), PLATFORM, { messageId: found.id, channelId: id }, msg);
        return found?.id;
      },
      edit: () => Promise.resolve(),
      remove: () => Promise.resolve(),
    };
  }

  readonly opener: ThreadOpener = {
    threadOn: ({ messageId }) => {
      let thread = this.threads.get(messageId);
      if (!thread) {
        thread = `${this.prefix}t${++this.n}`;
        this.threads.set(messageId, thread);
        this.threadsOpened++;
      }
      return Promise.resolve(thread);
    },
    unreachable: (err) => (err as { code?: string }).code === 'gone',
  };

  inConversation(id: string): Posted[] {
    return this.posts.filter((p) => p.conversationId === id);
  }
}

for (const backend of testBackends()) {
  describe(`made-for-you threads (${backend.name})`, () => {
    let database: Database;
    let core: TestCore;
    const displays: RunDisplay[] = [];
    let people = 0;

    beforeAll(async () => {
      database = await backend.open();
      core = await openTestCore({ database, seedGallery: false });
    }, 120_000);
    // A failed test leaves no display behind to show the next test's runs.
    afterEach(async () => {
      for (const d of displays.splice(0)) await d.stop();
    });
    afterAll(async () => {
      await core?.close();
      await database?.close();
    });

    const display = (chat: FakeChat, services: Services = core.app.services, log = silentLogger): RunDisplay => {
      const d = new RunDisplay({
        platform: PLATFORM,
        services,
        log,
        pollMs: 50,
        claimLeaseMs: LEASE_MS,
        conversation: (id) => chat.conversation(id),
        threads: chat.opener,
      });
      displays.push(d);
      return d;
    };

    /** A week's run as the worker starts it (core/made-for-you.ts): no thread yet. */
    const startWeek = async (channelId: string): Promise<{ runId: string; person: PersonRef }> => {
      const person: PersonRef = { platform: 'slack', workspaceId: 'T1', userId: `U${++people}`, displayName: `Nia ${people}` };
      const userKey = userKeyOf(person);
      const prompt = 'a lighthouse at dusk';
      const { runId } = await core.app.services.runs.start({
        requester: person,
        prompt,
        iterations: 1,
        candidates: 2,
        scopeId: 'T1',
        requestKey: `made-for-you:${userKey}:test`,
        destination: {
          platform: PLATFORM,
          channelId,
          scopeId: 'T1',
          threadId: null,
          title: `🎁 Made for you, ${person.displayName}`,
          madeForYou: { userKey, userId: person.userId, displayName: person.displayName, prompt },
        },
      });
      return { runId, person };
    };

    const ended = (runId: string) =>
      waitFor(async () => core.app.services.messages.byEventKey(PLATFORM, `${runId}:end:done`), 'the run’s display to end', 120_000);

    const expectEachKeyOnce = (chat: FakeChat) => {
      const keys = chat.posts.flatMap((p) => (p.key ? [p.key] : []));
      expect(keys.length).toBeGreaterThan(0);
      expect(new Set(keys).size).toBe(keys.length);
    };

    it('two processes storing a thread for one run at once: the first one stays, both read it back', async () => {
      const { runId, person } = await startWeek('C-race');
      const stored = await Promise.all([attachRunThread(database.db, runId, 'thread-a'), attachRunThread(database.db, runId, 'thread-b')]);
      expect(stored[0]).toBe(stored[1]);
      expect(['thread-a', 'thread-b']).toContain(stored[0]);
      expect(await attachRunThread(database.db, runId, 'thread-c')).toBe(stored[0]);
      await core.app.services.runs.cancel(userKeyOf(person), runId);
      // Out of the feed: the displays of the next tests have nothing to show of it.
      const done = `${runId}:end:done`;
      await core.app.services.messages.record({
        platform: PLATFORM,
        messageId: done,
        channelId: 'C-race',
        runId,
        kind: 'info',
        eventKey: done,
      });
    });

    it('two displays on one database: one parent message, one thread, every run message once', async () => {
      const chat = new FakeChat(() => core.app.services);
      const [a, b] = [display(chat), display(chat)];
      a.start();
      b.start();
      const { runId } = await startWeek('C-two');
      await ended(runId);
      const parents = chat.inConversation('C-two').filter((p) => p.text.startsWith('🎁'));
      expect(parents).toHaveLength(1);
      expect(parents[0]!.text).toMatch(/Made for you, Nia \d+\*\*: a short run from your top-rated image “a lighthouse at dusk”/);
      expect(chat.threadsOpened).toBe(1);
      const thread = chat.threads.get(parents[0]!.id)!;
      const rows = await queryRows<{ t: string }>(database.db, sql`select destination->>'threadId' as t from runs where id = ${runId}`);
      expect(rows[0]!.t).toBe(thread);
      const inThread = chat.inConversation(thread);
      expect(inThread[0]!.text).toContain('a lighthouse at dusk');
      expect(inThread.some((p) => p.text.includes('Run finished'))).toBe(true);
      expectEachKeyOnce(chat);
      await Promise.all([a.stop(), b.stop()]);
    }, 180_000);

    it('a holder cut off after opening the thread but before storing it: the next one finds the same parent and thread', async () => {
      const chat = new FakeChat(() => core.app.services);
      const messages = core.app.services.messages;
      // Process A cannot store the thread (it lost the database at that moment); everything else works.
      const cutOff: Services = {
        ...core.app.services,
        messages: { ...messages, attachRunThread: () => Promise.reject(new Error('cut off from the database (test)')) },
      };
      const a = display(chat, cutOff);
      a.start();
      const { runId } = await startWeek('C-cut');
      await waitFor(() => chat.threadsOpened === 1, 'A to post the parent and open the thread', 60_000);
      expect(chat.inConversation('C-cut')).toHaveLength(1);
      const b = display(chat);
      b.start();
      await a.stop(); // gives its claim up: B takes the run over
      await ended(runId);
      expect(chat.inConversation('C-cut').filter((p) => p.text.startsWith('🎁'))).toHaveLength(1);
      expect(chat.threadsOpened).toBe(1);
      const thread = [...chat.threads.values()][0]!;
      expect(chat.inConversation(thread).some((p) => p.text.includes('Run finished'))).toBe(true);
      expectEachKeyOnce(chat);
      await b.stop();
    }, 180_000);

    it('a channel that takes no posts: the run is given up, logged once with a reference, and she is told once', async () => {
      const chat = new FakeChat(() => core.app.services);
      chat.gone.add('C-gone');
      const logs = captureLogger();
      const d = display(chat, core.app.services, logs.logger);
      const { runId, person } = await startWeek('C-gone');
      const userKey = userKeyOf(person);
      await subscribe(
        database.db,
        { userKey, platform: PLATFORM, channelId: 'C-gone', scopeId: 'T1', displayName: person.displayName! },
        new Date(),
      );
      await recordRun(database.db, userKey, runId);
      d.start();
      await ended(runId);
      // Further passes find nothing to do: the done marker took the run out of the feed.
      for (let i = 0; i < 3; i++) await d.poll();
      const given = logs.lines().filter((l) => String(l.msg).includes('the channel takes no posts'));
      expect(given).toHaveLength(1);
      const referenceId = (given[0] as unknown as { referenceId: string }).referenceId;
      expect(referenceId).toMatch(/^E-[0-9A-F]{8}$/);
      expect(chat.posts).toHaveLength(0);
      const status = await waitFor(async () => {
        const s = (await core.app.runs.get(runId))?.status;
        return s === 'cancelled' || s === 'finished' ? s : null;
      }, 'the run to stop');
      expect(['cancelled', 'finished']).toContain(status);
      const madeForYou = core.app.services.madeForYou as MadeForYou;
      const told = await madeForYou.untoldSkip(userKey);
      expect(told).toContain('I could not post it in the channel where you turned it on');
      expect(told).toContain(referenceId);
      expect(await madeForYou.untoldSkip(userKey)).toBeUndefined();
      await d.stop();
    }, 180_000);
  });
}
