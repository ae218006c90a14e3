/**
 * Socket Mode connection state, as the SocketModeClient reports it: what readiness shows, and when a
 * socket that was down long enough should read reactions back.
 *
 * Slack retries an undelivered event only a few times within minutes, so a reaction given during a
 * longer drop (a network outage, the SDK's reconnect backing off) would otherwise be lost. Short gaps —
 * Slack recycles every connection every few hours — are left to those retries: a read-back costs one
 * reactions.get per recent message.
 */
export type SocketState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface SocketWatch {
  readonly state: SocketState;
}

export interface SocketWatchOptions {
  /** A socket back after at least this many ms down calls `onBackAfterGap`. */
  gapMs: number;
  onBackAfterGap: (downMs: number) => void;
  /** The SDK gave up (reconnects off): worth a warning unless we are the ones stopping. */
  onGaveUp: () => void;
  isStopping: () => boolean;
  now?: () => number;
}

/** The part of the SocketModeClient (an EventEmitter) this needs. */
export interface SocketEvents {
  on(event: 'connected' | 'close' | 'reconnecting' | 'disconnected', listener: () => void): unknown;
}

export function watchSocketMode(client: SocketEvents, opts: SocketWatchOptions): SocketWatch {
  const now = opts.now ?? Date.now;
  let state: SocketState = 'connecting';
  let connectedBefore = false;
  let downSince: number | null = null;
  const down = (s: 'reconnecting' | 'disconnected') => {
    state = s;
    downSince ??= now();
  };
  client.on('connected', () => {
    state = 'connected';
    const gap = downSince === null ? 0 : now() - downSince;
    downSince = null;
    if (!connectedBefore) {
      connectedBefore = true;
      return;
    }
    if (gap >= opts.gapMs) opts.onBackAfterGap(gap);
  });
  // 'close' is the socket dropping (the SDK then waits and reconnects); 'disconnected' is final.
  client.on('close', () => {
    if (!opts.isStopping()) down('reconnecting');
  });
  client.on('reconnecting', () => down('reconnecting'));
  client.on('disconnected', () => {
    down('disconnected');
    if (!opts.isStopping()) opts.onGaveUp();
  });
  return {
    get state() {
      return state;
    },
  };
}
