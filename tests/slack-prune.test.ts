/**
 * processed_events pruning (Slack retry dedupe): old rows go, recent ones stay, and the Slack
 * adapter prunes at start and then on its timer (unref'd, stopped on stop()).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/connection';
import { processedEvents } from '../src/db/schema';
import { silentLogger } from '../src/log';
import { createSlackAdapter } from '../src/platforms/slack/adapter';
import { dbEventClaimer, pruneProcessedEvents } from '../src/platforms/slack/event-dedupe';
import { FakeSlack } from './fakes/slack-server';
import { testBackends } from './helpers/db';
import { createFakeServices } from './helpers/services';
import { waitFor } from './helpers/wait';

const DAY = 24 * 60 * 60 * 1000;

for (const backend of testBackends()) {
  describe(`processed_events pruning (${backend.name})`, () => {
    let database: Database;
    beforeAll(async () => {
      database = await backend.open();
    });
    afterAll(async () => {
      await database?.close();
    });
    beforeEach(async () => {
      await database.db.delete(processedEvents);
    });

    const insert = (key: string, ageMs: number) =>
      database.db.insert(processedEvents).values({ eventKey: key, userKey: null, createdAt: new Date(Date.now() - ageMs) });
    const keys = async () => (await database.db.select({ k: processedEvents.eventKey }).from(processedEvents)).map((r) => r.k).sort();

    it('deletes rows older than the cutoff and keeps newer ones', async () => {
      await insert('slack:event:old-30d', 30 * DAY);
      await insert('slack:event:old-8d', 8 * DAY);
      await insert('slack:event:new-6d', 6 * DAY);
      await insert('slack:event:new-1m', 60_000);
      expect(await pruneProcessedEvents(database.db, 7)).toBe(2);
      expect(await keys()).toEqual(['slack:event:new-1m', 'slack:event:new-6d']);
      // Idempotent, and a shorter window takes more.
      expect(await pruneProcessedEvents(database.db, 7)).toBe(0);
      expect(await pruneProcessedEvents(database.db, 1)).toBe(1);
      expect(await keys()).toEqual(['slack:event:new-1m']);
    });

    it('a pruned key can be claimed again, a kept one cannot (dedupe still works after pruning)', async () => {
      const claimer = dbEventClaimer(database.db);
      await insert('slack:event:Ev-OLD', 10 * DAY);
      expect(await claimer.claim('slack:event:Ev-NEW')).toBe(true);
      await pruneProcessedEvents(database.db);
      expect(await claimer.claim('slack:event:Ev-NEW')).toBe(false);
      expect(await claimer.claim('slack:event:Ev-OLD')).toBe(true);
    });

    it('the Slack adapter prunes at start and then on its schedule', async () => {
      const fake = new FakeSlack();
      await fake.start();
      const adapter = createSlackAdapter({
        config: {
          SLACK_BOT_TOKEN: fake.token,
          SLACK_SIGNING_SECRET: 'secret-0123456789',
          SLACK_API_URL: fake.apiUrl,
          SLACK_PORT: 0,
          HOST: '127.0.0.1',
        },
        services: await createFakeServices(),
        log: silentLogger,
        db: database.db,
        // A short period stands in for "daily" so the test sees a scheduled run.
        pruneProcessedEvents: { days: 7, everyMs: 40 },
      });
      try {
        await insert('slack:event:before-start', 9 * DAY);
        await insert('slack:event:recent', 60_000);
        await adapter.start();
        // start() waits for the first prune.
        expect(await keys()).toEqual(['slack:event:recent']);
        await insert('slack:event:while-running', 20 * DAY);
        await waitFor(async () => !(await keys()).includes('slack:event:while-running'), 'the scheduled prune');
        expect(await keys()).toEqual(['slack:event:recent']);
      } finally {
        await adapter.stop();
        await fake.stop();
      }
    });
  });
}
