/**
 * Slack has no nonce, so a run message posted just before a crash, and never recorded, is found again
 * by the event key it carries: message metadata (chat.postMessage) or the block_id of an image share's
 * text (files.uploadV2 cannot carry metadata). In process, against the fake Slack (real Bolt app and
 * WebClient) with in-memory services: the "crash" is a record that never happens — the display stops
 * right there, as a killed process would — then a new adapter shows the rest of the run. Every event
 * key is then in Slack exactly once. The child-process version with a real SIGKILL is in
 * tests/crash-exactly-once.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../src/core/services';
import { RATING_SLACK_NAMES } from '../src/platforms/emoji';
import { EVENT_METADATA_TYPE, eventBlockId, PostedIndex } from '../src/platforms/slack/event-marks';
import type { FakeSlack, FakeSlackMessage } from './fakes/slack-server';
import { captureLogger } from './helpers/log-capture';
import type { FakeServices } from './helpers/services';
import { openSlackHarness, slackEventKey, type SlackHarness } from './helpers/slack-harness';
import { waitFor } from './helpers/wait';

type RecordArg = Parameters<Services['messages']['record']>[0];

async function api(fake: FakeSlack, method: string, args: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch(`${fake.apiUrl}${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${fake.token}` },
    body: new URLSearchParams(args).toString(),
  });
  return (await res.json()) as Record<string, unknown>;
}

describe('the fake Slack keeps metadata and blocks like Slack', () => {
  let h: SlackHarness;
  beforeAll(async () => {
    h = await openSlackHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('returns metadata only with include_all_metadata, keeps block_ids, and pages replies and history', async () => {
    const { fake } = h;
    const parent = await api(fake, 'chat.postMessage', { channel: fake.channelId, text: 'parent' });
    const ts = String(parent.ts);
    for (let i = 0; i < 3; i++) {
      await api(fake, 'chat.postMessage', {
        channel: fake.channelId,
        thread_ts: ts,
        text: `reply ${i}`,
        metadata: JSON.stringify({ event_type: 'tasteloop_event', event_payload: { event_key: `k${i}` } }),
      });
    }
    await api(fake, 'chat.postMessage', {
      channel: fake.channelId,
      thread_ts: ts,
      text: 'x',
      blocks: JSON.stringify([{ type: 'section', block_id: 'b1', text: { type: 'mrkdwn', text: 'in a block' } }]),
    });
    expect(
      await api(fake, 'chat.postMessage', { channel: fake.channelId, text: 'bad', metadata: JSON.stringify({ nope: 1 }) }),
    ).toMatchObject({ ok: false, error: 'invalid_metadata_format' });

    const plain = (await api(fake, 'conversations.replies', { channel: fake.channelId, ts })) as {
      messages: { metadata?: unknown; text: string }[];
    };
    expect(plain.messages.map((m) => m.text)).toEqual(['parent', 'reply 0', 'reply 1', 'reply 2', 'x']);
    expect(plain.messages.some((m) => m.metadata)).toBe(false);

    const pages: { metadata?: { event_payload: { event_key: string } }; blocks?: { block_id: string }[] }[][] = [];
    let cursor = '';
    do {
      const page = (await api(fake, 'conversations.replies', {
        channel: fake.channelId,
        ts,
        include_all_metadata: 'true',
        limit: '2',
        ...(cursor ? { cursor } : {}),
      })) as {
        messages: (typeof pages)[number];
        has_more: boolean;
        response_metadata: { next_cursor: string };
      };
      pages.push(page.messages);
      cursor = page.has_more ? page.response_metadata.next_cursor : '';
    } while (cursor);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((m) => m.metadata?.event_payload.event_key)).toEqual([undefined, 'k0', 'k1', 'k2', undefined]);
    expect(pages.flat().at(-1)!.blocks![0]!.block_id).toBe('b1');

    // History: top-level messages only (the thread parent, not its replies), newest first, from `oldest`.
    await api(fake, 'chat.postMessage', {
      channel: fake.channelId,
      text: 'later',
      metadata: JSON.stringify({ event_type: 'tasteloop_event', event_payload: { event_key: 'k-later' } }),
    });
    const hist = (await api(fake, 'conversations.history', {
      channel: fake.channelId,
      oldest: ts,
      inclusive: 'true',
      include_all_metadata: 'true',
    })) as { messages: { text: string; reply_count?: number; metadata?: unknown }[] };
    expect(hist.messages.map((m) => m.text)).toEqual(['later', 'parent']);
    expect(hist.messages[1]!.reply_count).toBe(4);
    expect(hist.messages[0]!.metadata).toEqual({ event_type: 'tasteloop_event', event_payload: { event_key: 'k-later' } });
    const exclusive = (await api(fake, 'conversations.history', { channel: fake.channelId, oldest: ts })) as {
      messages: { text: string; metadata?: unknown }[];
    };
    expect(exclusive.messages.map((m) => m.text)).toEqual(['later']);
    expect(exclusive.messages[0]!.metadata).toBeUndefined();
  });

  it('PostedIndex: own messages only, metadata or block_id, the oldest of two', () => {
    const index = new PostedIndex();
    const own = (m: { user?: string }) => m.user === 'UBOT';
    index.add(
      [
        { ts: '1700000009.000002', user: 'UBOT', metadata: { event_type: EVENT_METADATA_TYPE, event_payload: { event_key: 'a' } } },
        { ts: '1700000009.000001', user: 'UBOT', metadata: { event_type: EVENT_METADATA_TYPE, event_payload: { event_key: 'a' } } },
        { ts: '1700000010.000000', user: 'UOTHER', metadata: { event_type: EVENT_METADATA_TYPE, event_payload: { event_key: 'b' } } },
        { ts: '1700000011.000000', user: 'UBOT', metadata: { event_type: 'someone_else', event_payload: { event_key: 'c' } } },
        { ts: '1700000012.000000', user: 'UBOT', blocks: [{ block_id: eventBlockId('d') }] },
      ],
      own,
    );
    expect(index.find('a')).toBe('1700000009.000001');
    expect(index.find('b')).toBeUndefined();
    expect(index.find('c')).toBeUndefined();
    expect(index.find('d')).toBe('1700000012.000000');
    expect(eventBlockId('x'.repeat(300))).toMatch(/^tasteloop_event#[0-9a-f]{64}$/);
  });
});

describe('slack: a crash between a run post and its record leaves no copy', () => {
  let h: SlackHarness;
  const logs = captureLogger();
  beforeAll(async () => {
    h = await openSlackHarness({ log: logs.logger });
  });
  afterAll(async () => {
    await h?.close();
  });

  const services = () => h.services as FakeServices;

  /**
   * Starts a run; when the record picked by `pick` comes (the post is on Slack already), the process
   * "dies": that record and every later one never happen and the display stops. Then a new adapter
   * (a restart) shows the run to its end. Returns the run's thread messages and the key killed at.
   */
  async function crashAt(prompt: string, pick: (m: RecordArg, seen: RecordArg[]) => boolean) {
    const original = h.services.messages.record;
    const seen: RecordArg[] = [];
    let killedAt: RecordArg | undefined;
    h.services.messages.record = async (m) => {
      if (killedAt) throw new Error('the process is dead');
      if (m.eventKey && pick(m, seen)) {
        killedAt = m;
        void h.adapter.runDisplay.stop();
        throw new Error('killed between the post and its record');
      }
      if (m.eventKey) seen.push(m);
      return original(m);
    };
    const threadsBefore = (await h.threadIds()).length;
    await h.slash('ann', 'optimize', `prompt:"${prompt}" iterations:2 candidates:2`);
    await waitFor(() => killedAt, 'the crash point');
    await h.away(() => {
      h.services.messages.record = original;
    });
    const runId = services()
      .events.filter((e) => e.type === 'run.started')
      .at(-1)!.runId;
    await waitFor(
      async () => (await h.services.messages.byEventKey('slack', `${runId}:end:done`)) !== undefined,
      'the run shown to its end after the restart',
    );
    await h.adapter.idle();
    const threads = await h.threadIds();
    expect(threads).toHaveLength(threadsBefore + 1);
    const threadTs = threads.at(-1)!.split('/')[1]!;
    const inThread = h.fake.messages.filter((m) => m.threadTs === threadTs && !m.ephemeralFor);
    return { runId, killedAt: killedAt!, inThread, threadTs };
  }

  /** Each event key once in Slack, each one recorded; each iteration's grid once; one progress message, the thread's last. */
  async function expectEachOnce(runId: string, inThread: FakeSlackMessage[], threadTs: string) {
    const keys = inThread.map(slackEventKey).filter((k): k is string => Boolean(k));
    expect(new Set(keys).size).toBe(keys.length);
    // header + progress (the older ones deleted) + (1 + 2 grids) + 3 summaries + the final summary
    expect(keys).toHaveLength(1 + 1 + 3 + 3 + 1);
    expect(inThread.filter((m) => /^(⏳ Iteration|✅ Done)/.test(m.text))).toHaveLength(1);
    expect(inThread.at(-1)!.text).toMatch(/^✅ Done/);
    for (const k of keys)
      expect((await h.services.messages.byEventKey('slack', k))?.messageId, k).toBe(
        `${h.fake.channelId}:${inThread.find((m) => slackEventKey(m) === k)!.ts}`,
      );
    const labels = inThread.map((m) => /^\*(Your prompt|Iteration \d+)\*/.exec(m.text)?.[1]).filter(Boolean);
    expect(labels.sort()).toEqual(['Iteration 1', 'Iteration 2', 'Your prompt']);
    // Every candidate once, as a tile line of its iteration's grid.
    expect(inThread.flatMap((m) => (labels.length ? m.text.split('\n').filter((l) => /^\d+ · /.test(l)) : []))).toHaveLength(5);
    // The closing notice, once, in the channel after the thread.
    const notices = h.fake.messages.filter(
      (m) => !m.threadTs && !m.ephemeralFor && m.text.startsWith('✅ Run finished') && Number(m.ts) > Number(threadTs),
    );
    expect(notices).toHaveLength(1);
    expect(slackEventKey(notices[0]!)).toBe(`${runId}:end:done`);
    // Every image of the thread (the summary's best image; grids are rated through their menus) has all
    // ten rating reactions (also the one found again).
    for (const m of inThread.filter((x) => x.files.length && x.text.includes('Run finished')))
      expect(RATING_SLACK_NAMES.every((n) => m.reactions.get(n)?.has(h.fake.botUserId))).toBe(true);
  }

  const recovered = (key: string) =>
    logs.lines().filter((l) => /posted before a restart but never recorded/.test(l.msg) && (l as { key?: string }).key === key);

  it('a grid image (file share marked by its block_id)', async () => {
    const replies = h.fake.callsOf('conversations.replies').length;
    const { runId, killedAt, inThread, threadTs } = await crashAt(
      'a lighthouse',
      (m, seen) => m.kind === 'grid' && seen.filter((s) => s.kind === 'grid').length === 1,
    );
    const killed = inThread.find((m) => slackEventKey(m) === killedAt.eventKey)!;
    expect(killed.files).toHaveLength(1);
    expect(killed.metadata).toBeUndefined(); // a share cannot carry metadata: the mark is in its block
    expect(killed.blocks![0]!.block_id).toBe(`tasteloop_event:${killedAt.eventKey}`);
    expect(killed.text).toMatch(/^\*Iteration 1\*/);
    await expectEachOnce(runId, inThread, threadTs);
    expect(recovered(killedAt.eventKey!)).toHaveLength(1);
    // Looked for in the thread with metadata, once (one read per run caught up with, not per message).
    const reads = h.fake.callsOf('conversations.replies').slice(replies);
    expect(reads.length).toBeGreaterThanOrEqual(1);
    expect(reads.every((c) => c.body.include_all_metadata === 'true' && c.body.ts === threadTs)).toBe(true);
  });

  it('a text message (metadata): an iteration summary', async () => {
    const { runId, killedAt, inThread, threadTs } = await crashAt(
      'a harbor',
      (m) => m.kind === 'iteration' && m.eventKey!.endsWith(':it1:summary'),
    );
    const killed = inThread.find((m) => slackEventKey(m) === killedAt.eventKey)!;
    expect(killed.metadata).toEqual({ event_type: 'tasteloop_event', event_payload: { event_key: killedAt.eventKey } });
    await expectEachOnce(runId, inThread, threadTs);
    expect(recovered(killedAt.eventKey!)).toHaveLength(1);
  });

  it('the progress message: found again, and removed once a newer one is the thread’s last', async () => {
    const { runId, killedAt, inThread, threadTs } = await crashAt('a meadow', (m) => m.kind === 'progress');
    await expectEachOnce(runId, inThread, threadTs);
    const progress = inThread.filter((m) => /^(⏳ Iteration|✅ Done)/.test(m.text));
    expect(progress).toHaveLength(1);
    expect(progress[0]!.text).toMatch(/^✅ Done/);
    expect(recovered(killedAt.eventKey!)).toHaveLength(1);
  });

  it('the closing notice in the channel (conversations.history from the thread on)', async () => {
    const history = h.fake.callsOf('conversations.history').length;
    const { runId, killedAt, inThread, threadTs } = await crashAt('a canyon', (m) => m.eventKey!.endsWith(':end:done'));
    await expectEachOnce(runId, inThread, threadTs);
    expect(recovered(killedAt.eventKey!)).toHaveLength(1);
    const reads = h.fake.callsOf('conversations.history').slice(history);
    expect(reads.length).toBeGreaterThanOrEqual(1);
    expect(
      reads.every((c) => c.body.include_all_metadata === 'true' && c.body.oldest === threadTs && c.body.channel === h.fake.channelId),
    ).toBe(true);
  });

  it('a run shown by the process that started it reads no history at all', async () => {
    const reads = () => h.fake.callsOf('conversations.replies').length + h.fake.callsOf('conversations.history').length;
    const before = reads();
    await h.slash('bea', 'optimize', 'prompt:"a quiet run" iterations:1 candidates:1');
    const runId = services()
      .events.filter((e) => e.type === 'run.started')
      .at(-1)!.runId;
    await waitFor(async () => (await h.services.messages.byEventKey('slack', `${runId}:end:done`)) !== undefined, 'the run to end');
    await h.adapter.idle();
    expect(reads()).toBe(before);
  });

  it('without the history scopes: says what to add, once, and posts as before', async () => {
    h.fake.refusing.set('conversations.replies', 'missing_scope');
    h.fake.refusing.set('conversations.history', 'missing_scope');
    try {
      const { killedAt, inThread } = await crashAt('a glacier', (m) => m.kind === 'iteration');
      // Nothing could be looked up: the one message in the window is there twice (the old behavior).
      expect(inThread.filter((m) => slackEventKey(m) === killedAt.eventKey)).toHaveLength(2);
      const warned = logs.lines().filter((l) => l.level === 'warn' && /channels:history and groups:history/.test(l.msg));
      expect(warned).toHaveLength(1);
    } finally {
      h.fake.refusing.clear();
    }
  });
});
