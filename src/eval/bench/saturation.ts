/**
 * `npm run bench:saturation [-- --seed 1 --rater uniform|generous --ratings 20 --prompt "a lighthouse on a cliff" --timeout 900]`
 *
 * How many candidates a default playground run shows as "10.0/10", measured as a person meets the
 * product: `npm start` offline (./startup-process.ts: fresh DATA_DIR, free ports, no platform settings,
 * so the playground), one person who rates the onboarding images with buttons, then `/optimize` with
 * its default iterations and candidates. Every candidate's tile line in the run's thread carries its
 * displayed score; those reading 10.0/10 are counted (countShownAtTen).
 *
 * The person rates with a seeded rule: `uniform` = whole scores 1–10 at random; `generous` = 6–10 (a
 * person who likes most of what they see, whose predictions run past 10 most easily).
 *
 * Last stdout line: JSON {candidates, shown_at_10, share, ratings, rater, seed, prompt, seconds}.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRng } from '../../core/random';
import { parseArgs, progress, runMain, UsageError } from '../cli';
import { startMain, withTimeout } from './startup-process';

/**
 * A shown candidate's tile line in a run grid message: "3 · 9.4/10 — “prompt”", "3 · –/10 — …" when it
 * has no score (run-grid-message.ts). Skipped and withheld tiles show no image, so they are not counted.
 */
const TILE_LINE = /^\s*\d+ · (\d+(?:\.\d)?|–)\/10(?:\s|$)/;

/** Candidates in a run's grid messages and how many of them display 10.0/10. */
export function countShownAtTen(gridTexts: readonly string[]): { candidates: number; shown_at_10: number; share: number } {
  const scores = gridTexts.flatMap((t) => t.split('\n').flatMap((l) => TILE_LINE.exec(l)?.[1] ?? []));
  // formatScore rounds to one decimal, so "10.0" is anything from 9.95 up: what a person reads as ten.
  const atTen = scores.filter((s) => s !== '–' && Number(s) >= 10).length;
  return { candidates: scores.length, shown_at_10: atTen, share: scores.length ? Math.round((atTen / scores.length) * 1e4) / 1e4 : 0 };
}

interface Message {
  id: string;
  conversationId: string;
  kind?: string;
  imageId?: string;
  text: string;
  rateable: boolean;
  ephemeralFor?: string;
  author: { bot: boolean };
}
interface Snapshot {
  messages: Message[];
  threads: { id: string }[];
}

/** The playground page as a browser holds it: one session cookie, requests from the page's origin. */
class Page {
  private cookie = '';
  constructor(private readonly base: string) {}

  private async call(p: string, init: RequestInit = {}): Promise<Response> {
    const headers = { origin: this.base, 'sec-fetch-site': 'same-origin', ...(this.cookie ? { cookie: this.cookie } : {}) };
    const res = await fetch(`${this.base}${p}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } });
    for (const c of res.headers.getSetCookie()) if (c.startsWith('tl_session')) this.cookie = c.split(';')[0]!;
    return res;
  }

  async post(p: string, body: unknown): Promise<void> {
    const res = await this.call(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 200) throw new Error(`${p} ${JSON.stringify(body)} answered ${res.status}: ${await res.text()}`);
  }

  /** The first event of /events: what this person sees now. */
  async snapshot(): Promise<Snapshot> {
    const ac = new AbortController();
    const res = await this.call('/events', { signal: ac.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const end = buf.indexOf('\n\n');
        if (end >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (!/^event: snapshot$/m.test(block)) continue;
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          return JSON.parse(data) as Snapshot;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the event stream ended before its snapshot');
        buf += decoder.decode(value, { stream: true });
      }
    } finally {
      ac.abort();
    }
  }
}

/** Polls `probe` until it returns a value (not undefined/false), every second, up to `ms`. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), {
    seed: 1,
    rater: 'uniform',
    ratings: 20,
    prompt: 'a lighthouse on a cliff',
    timeout: 900,
  });
  const rater = String(args.rater);
  if (rater !== 'uniform' && rater !== 'generous') throw new UsageError(`--rater must be uniform or generous, got "${rater}"`);
  const wanted = Number(args.ratings);
  const ms = Number(args.timeout) * 1000;
  const rng = createRng(Number(args.seed));
  const score = () => (rater === 'uniform' ? 1 : 6) + Math.floor(rng.next() * (rater === 'uniform' ? 10 : 5));
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-bench-saturation-'));
  const t0 = performance.now();
  const started = await startMain(dataDir, ms, 0);
  try {
    await withTimeout(started.ready, ms, 'npm start ready');
    await withTimeout(started.galleryDone, ms, 'the starter gallery');
    const page = new Page(`http://127.0.0.1:${started.port}`);
    await page.post('/api/session', { person: 'bench' });
    const rated = new Set<string>();
    while (rated.size < wanted) {
      const before = new Set((await page.snapshot()).messages.map((m) => m.id));
      await page.post('/api/command', { text: `/rate count:${Math.min(10, wanted - rated.size)}` });
      const fresh = await until('the images of /rate', ms, async () => {
        const imgs = (await page.snapshot()).messages.filter((m) => !before.has(m.id) && m.kind === 'rate' && m.rateable);
        return imgs.length ? imgs : undefined;
      });
      for (const m of fresh.filter((x) => !rated.has(x.id)).slice(0, wanted - rated.size)) {
        await page.post('/api/rate', { messageId: m.id, score: score() });
        rated.add(m.id);
      }
    }
    progress(`rated ${rated.size} onboarding images (${rater}, seed ${String(args.seed)})`);
    const threadsBefore = new Set((await page.snapshot()).threads.map((t) => t.id));
    await page.post('/api/command', { text: `/optimize prompt:"${String(args.prompt)}"` });
    const thread = await until('the thread of /optimize', ms, async () =>
      (await page.snapshot()).threads.find((t) => !threadsBefore.has(t.id)),
    );
    const texts = await until('the final summary of /optimize', ms, async () => {
      const msgs = (await page.snapshot()).messages.filter((m) => m.conversationId === thread.id);
      return msgs.some((m) => m.text.includes('Run finished')) ? msgs.map((m) => m.text) : undefined;
    });
    const counted = countShownAtTen(texts);
    const seconds = Math.round((performance.now() - t0) / 100) / 10;
    console.log(`${counted.shown_at_10} of ${counted.candidates} candidates displayed as 10.0/10 (${(counted.share * 100).toFixed(1)}%)`);
    console.log(JSON.stringify({ ...counted, ratings: rated.size, rater, seed: Number(args.seed), prompt: String(args.prompt), seconds }));
  } finally {
    await started.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runMain(import.meta.url, main);
