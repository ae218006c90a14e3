/**
 * A made-for-you week whose channel was deleted, end to end on Discord (real discord.js against the
 * fake Discord, real core): the worker starts the run, the bot's post answers Unknown Channel, and the
 * run is given up — cancelled, logged once with a reference, nothing retried — and the person hears
 * why on their next /suggest, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MadeForYou } from '../src/core/made-for-you';
import { readSubscription } from '../src/core/made-for-you';
import { openDiscordHarness, type DiscordHarness } from './helpers/discord-harness';
import { captureLogger } from './helpers/log-capture';
import { waitFor } from './helpers/wait';

describe('made for you on Discord: a deleted channel', () => {
  let h: DiscordHarness;
  const logs = captureLogger();

  beforeAll(async () => {
    h = await openDiscordHarness({ log: logs.logger });
  }, 180_000);
  afterAll(async () => {
    await h?.close();
  });

  it('gives the week up once and tells her on her next /suggest', async () => {
    await h.command('ora', 'rate', { count: 1 });
    const image = await waitFor(
      async () => (await h.messages()).find((m) => m.rateable && m.imageId && m.conversationId === h.channelId),
      'an image to rate',
    );
    await h.rate('ora', image.id, 9);
    await h.command('ora', 'suggest', { weekly: 'on' });
    // The channel she opted in from is deleted before the week comes.
    const channel = h.fake.channels.get(h.channelId)!;
    h.fake.channels.delete(h.channelId);
    const madeForYou = h.core.app.services.madeForYou as MadeForYou;
    const [week] = await madeForYou.runDue();
    expect(week && 'runId' in week).toBe(true);
    const runId = (week as { runId: string }).runId;
    await waitFor(() => h.core.app.services.messages.byEventKey('discord', `${runId}:end:done`), 'the run to be given up', 120_000);
    await waitFor(async () => {
      const s = (await h.core.app.runs.get(runId))?.status;
      return s === 'cancelled' || s === 'finished';
    }, 'the run to stop');
    await h.adapter.runDisplay.poll();
    const given = logs.lines().filter((l) => l.msg.includes('the channel takes no posts'));
    expect(given).toHaveLength(1);
    const referenceId = String(given[0]!.referenceId);
    expect(h.fake.threads()).toHaveLength(0);
    expect((await readSubscription(h.core.app.database.db, h.userKey('ora')))?.lastRunId).toBe(runId);

    // Her next /suggest says why, once (the harness types commands in that channel: it comes back for them).
    h.fake.channels.set(h.channelId, channel);
    const told = async () => (await h.messages()).filter((m) => m.ephemeral && m.text.includes('could not post it in the channel'));
    await h.command('ora', 'suggest');
    await h.command('ora', 'suggest');
    const answers = await told();
    expect(answers).toHaveLength(1);
    expect(answers[0]!.text).toContain(referenceId);
    expect(answers[0]!.text).toContain('/suggest weekly:on');
  }, 300_000);
});
