/**
 * `npm run bench:reconcile [-- --messages 120 --reactors 5 --latency 60 --seed 1]`
 *
 * How long does reading reactions back after a restart take, and what does reading a few messages at
 * once buy? The real pass (src/platforms/reaction-read-back.ts) runs against the real app core (PGlite in a
 * temporary folder, the real ledger and its transactions); the platform's REST API is modeled as two
 * round trips per message of `--latency` ms each (GET the message, GET one emoji's users) — the part
 * of a pass a rate limiter cannot remove. Each configuration reconciles its own equal set of fresh
 * messages (the same ledger work), `--reactors` people per message with a random score each.
 *
 * Platforms add their own rate limits on top (Discord: per-route buckets, per channel), which this
 * does not model; it measures our side and the latency-bound part.
 *
 * Last stdout line: JSON {seq_s, conc4_s, speedup_conc4, db_only_messages_per_s, messages, reactors,
 * latency_ms, seed}.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp } from '../../app';
import { loadConfig } from '../../config';
import { images } from '../../db/schema';
import { createRng } from '../../core/random';
import type { ObservedVotes } from '../../core/reaction-sync';
import type { RateableMessage } from '../../core/services';
import { silentLogger } from '../../log';
import { reconcileRecentMessages } from '../../platforms/reaction-read-back';
import { runMain, parseArgs, progress } from '../cli';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), { messages: 120, reactors: 5, latency: 60, seed: 1 });
  const n = Number(args.messages);
  const reactors = Number(args.reactors);
  const latency = Number(args.latency);
  const rng = createRng(Number(args.seed));
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-bench-reconcile-'));
  const config = loadConfig({ DATA_DIR: dataDir, GALLERY: 'off', LOG_LEVEL: 'silent' });
  const app = await createApp(config, { log: silentLogger, seedGallery: false });
  await app.start();
  // What each message shows, fixed up front so every configuration reads the same kind of data.
  const shows = new Map<string, ObservedVotes[]>();

  async function prepare(tag: string): Promise<void> {
    const ids = Array.from({ length: n }, (_, i) => `bench-${tag}-${i}`);
    await app.database.db.insert(images).values(ids.map((id) => ({ id, width: 8, height: 8, bytes: 100, source: 'generated' })));
    for (const [i, id] of ids.entries()) {
      const messageId = `${tag}-${i}`;
      // Each configuration reads only its own messages: they are recorded under their own platform name.
      await app.services.messages.record({
        platform: `bench-${tag}`,
        messageId,
        channelId: `chan-${i % 12}`,
        scopeId: 'guild-1',
        imageId: id,
        kind: 'candidate',
      });
      shows.set(
        messageId,
        Array.from({ length: reactors }, (_, r) => ({
          person: { platform: 'discord', userId: `u${r}` },
          scores: new Set([1 + rng.int(10)]),
        })),
      );
    }
  }

  async function pass(tag: string, concurrency: number, restLatency: number): Promise<{ seconds: number; added: number }> {
    const t0 = performance.now();
    const report = await reconcileRecentMessages({
      platform: `bench-${tag}`,
      services: app.services,
      log: silentLogger,
      days: 7,
      concurrency,
      maxMessages: 100_000,
      read: async (m: RateableMessage) => {
        if (restLatency > 0) await new Promise((r) => setTimeout(r, 2 * restLatency));
        return shows.get(m.messageId) ?? [];
      },
    });
    return { seconds: (performance.now() - t0) / 1000, added: report.added };
  }

  // Equal, separate work per configuration: n fresh messages, `reactors` new votes each.
  await prepare('seq');
  const seq = await pass('seq', 1, latency);
  progress(`sequential: ${seq.seconds.toFixed(2)} s, ${seq.added} votes added`);
  await prepare('conc');
  const conc = await pass('conc', 4, latency);
  progress(`4 at once: ${conc.seconds.toFixed(2)} s, ${conc.added} votes added`);
  await prepare('db');
  const db = await pass('db', 4, 0);
  progress(`no REST latency (our side only): ${db.seconds.toFixed(2)} s, ${db.added} votes added`);
  await app.close();

  const seqPerMsg = seq.seconds / n;
  const concPerMsg = conc.seconds / n;
  const out = {
    messages: n,
    reactors,
    latency_ms: latency,
    seq_s: Number(seq.seconds.toFixed(3)),
    conc4_s: Number(conc.seconds.toFixed(3)),
    seq_ms_per_message: Number((seqPerMsg * 1000).toFixed(1)),
    conc4_ms_per_message: Number((concPerMsg * 1000).toFixed(1)),
    speedup_conc4: Number((seqPerMsg / concPerMsg).toFixed(2)),
    db_only_messages_per_s: Math.round(n / db.seconds),
    seed: Number(args.seed),
  };
  console.log(
    `| configuration | per message | ratio |\n|---|---|---|\n| sequential | ${out.seq_ms_per_message} ms | 1.00 |\n| 4 at once | ${out.conc4_ms_per_message} ms | ×${out.speedup_conc4} |\n| our side only (no REST latency) | ${(1000 / out.db_only_messages_per_s).toFixed(1)} ms | |`,
  );
  console.log(JSON.stringify(out));
}

runMain(import.meta.url, main);
