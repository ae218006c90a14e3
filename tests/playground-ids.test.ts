/**
 * Playground message and thread ids are unique across processes and restarts: platform_messages rows
 * (ratings, run threads) are keyed by them in a database several processes or a fresh DATA_DIR may
 * share, so two playground states — two processes, or one before and after losing its state file —
 * must never hand out the same id. Ids keep the shape the rate route accepts (`m` + up to 20 of
 * [0-9a-z]) and that the page puts in data attributes; a state file written by an older version
 * (counter ids, a `seq` line) still loads.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHANNEL_ID, PlaygroundState } from '../src/platforms/playground/state';

/** The rate route's rule (http-routes.ts MESSAGE_ID). */
const MESSAGE_ID = /^m[0-9a-z]{1,20}$/;
const THREAD_ID = /^t[0-9a-z]{1,20}$/;
const author = { id: 'ann', name: 'ann', bot: false };

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function post(state: PlaygroundState, text = 'hi') {
  return state.addMessage({ conversationId: CHANNEL_ID, author, text, rateable: true });
}

describe('playground ids', () => {
  it('two states (two processes on one database) at the same clock never hand out the same id', () => {
    // Made in the same milliseconds: only the random part of the id tells them apart.
    const a = new PlaygroundState(() => 1);
    const b = new PlaygroundState(() => 1);
    const ids = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      for (const state of [a, b]) {
        const m = post(state);
        expect(m.id).toMatch(MESSAGE_ID);
        ids.add(m.id);
        const t = state.addThread(m.id, 'thread');
        expect(t.id).toMatch(THREAD_ID);
        ids.add(t.id);
      }
    }
    expect(ids.size).toBe(20_000);
  });

  it('a restart without the state file (a fresh DATA_DIR on a shared database) makes new ids, not the old ones again', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tl-playground-ids-'));
    dirs.push(dir);
    const before = new PlaygroundState(Date.now, { file: path.join(dir, 'a.jsonl') });
    const first = [post(before).id, post(before).id];
    const after = new PlaygroundState(Date.now, { file: path.join(dir, 'b.jsonl') });
    const second = [post(after).id, post(after).id];
    expect(second.filter((id) => first.includes(id))).toEqual([]);
  });

  it('loads a state file an older version wrote (counter ids and a seq line) and adds new ids beside them', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tl-playground-ids-'));
    dirs.push(dir);
    const file = path.join(dir, 'playground.jsonl');
    const old = { id: 'm0002', conversationId: CHANNEL_ID, author, text: 'old', rateable: true, ratings: {}, edits: 0, createdAt: 1 };
    const lines = [
      { type: 'seq', seq: 5 },
      { type: 'message', message: old },
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);

    const state = new PlaygroundState(Date.now, { file });
    expect(state.messages.get('m0002')?.text).toBe('old');
    const added = post(state, 'new');
    expect(added.id).toMatch(MESSAGE_ID);
    expect(added.id).not.toBe('m0002');
    state.compact();
    const reloaded = new PlaygroundState(Date.now, { file });
    expect([...reloaded.messages.keys()]).toEqual(['m0002', added.id]);
  });
});
