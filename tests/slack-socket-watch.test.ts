/** The Socket Mode state machine (src/platforms/slack/socket-watch.ts) on a plain emitter and a fake clock. */
import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { watchSocketMode } from '../src/platforms/slack/socket-watch';

const setup = (opts: { stopping?: boolean } = {}) => {
  const client = new EventEmitter();
  let t = 1_000;
  const backs: number[] = [];
  let gaveUp = 0;
  const watch = watchSocketMode(client, {
    gapMs: 60_000,
    now: () => t,
    isStopping: () => Boolean(opts.stopping),
    onBackAfterGap: (ms) => backs.push(ms),
    onGaveUp: () => gaveUp++,
  });
  return { client, watch, backs, advance: (ms: number) => (t += ms), gaveUp: () => gaveUp };
};

describe('Socket Mode watch', () => {
  it('the first connect is not a comeback; a drop is "reconnecting" until the socket is back', () => {
    const s = setup();
    expect(s.watch.state).toBe('connecting');
    s.client.emit('connected');
    expect(s.watch.state).toBe('connected');
    s.client.emit('close');
    expect(s.watch.state).toBe('reconnecting');
    s.advance(2_000);
    s.client.emit('reconnecting'); // the SDK's own event after its back-off: the gap still counts from the drop
    s.advance(3_000);
    s.client.emit('connected');
    expect(s.watch.state).toBe('connected');
    expect(s.backs).toEqual([]); // 5 s: left to Slack's retries
  });

  it('a gap of the threshold or more reports how long the socket was down, once', () => {
    const s = setup();
    s.client.emit('connected');
    s.client.emit('close');
    s.advance(59_999);
    s.client.emit('close'); // a failed reconnect attempt closes again: still the same gap
    s.advance(1);
    s.client.emit('connected');
    s.client.emit('connected');
    expect(s.backs).toEqual([60_000]);
  });

  it('"disconnected" is final: readiness says so, and only an unexpected one is reported', () => {
    const s = setup();
    s.client.emit('connected');
    s.client.emit('disconnected');
    expect(s.watch.state).toBe('disconnected');
    expect(s.gaveUp()).toBe(1);
    const stopping = setup({ stopping: true });
    stopping.client.emit('connected');
    stopping.client.emit('close');
    stopping.client.emit('disconnected');
    expect(stopping.gaveUp()).toBe(0);
  });
});
