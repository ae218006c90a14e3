/** How one eval:piaa run is set up: the protocol's knobs and the defaults of the full and quick runs. */

export interface PiaaConfig {
  seed: number;
  shots: number[];
  /** Held-out test images per person (fewer when a person has fewer ratings). */
  testSize: number;
  /** A person takes part in a shot count only if at least this many ratings remain for testing. */
  minTest: number;
  /** Ratings each community member contributes to the community models (of non-fresh images). */
  communityPerRater: number;
  /**
   * Share of images per fold kept away from the community models; test images are drawn from them.
   * 0 = no split, test images may be ones the community rated (a diagnostic only: see the protocol note in protocol.ts).
   */
  freshShare: number;
  methods: string[];
  activeCounts: number[];
  activeStart: number;
  /** Images added per active-selection step (1 = fully sequential). */
  activeBatch: number;
  /** Candidate pool size for active selection (random subset of the person's non-test images). */
  activeCandidates: number;
  /** Random orders the random arm is averaged over, per person (default 1). */
  randomOrders?: number;
  /** Draws of (candidates, start set) per person that both arms are averaged over (default 1). */
  activeReplicates?: number;
  /** Interaction counts of the picks arm (picks.ts: k picks vs k ratings); the arm runs only when set (--picks). */
  pickCounts?: readonly number[];
  /** Also measure the quality figure and the confidence meter against the truth (calibration.ts; --calibration). */
  calibration?: boolean;
  /** At most this many test people per fold (all when undefined). */
  maxTestPeople?: number;
  onProgress?: (msg: string) => void;
}

/** Random orders per person behind the random arm of active vs random (see evaluatePerson in protocol.ts). */
export const RANDOM_ORDERS = 4;
/** Draws of (candidates, start set) per person behind both arms of active vs random (see evaluatePerson in protocol.ts). */
export const ACTIVE_REPLICATES = 4;

export const FULL_CONFIG = { people: 100, pool: 1000, testSize: 100, communityPerRater: 100, activeCandidates: 400 };
export const QUICK_CONFIG = { people: 100, pool: 400, testSize: 60, communityPerRater: 60, activeCandidates: 200 };

export function defaultConfig(seed: number, quick: boolean, methods: string[]): PiaaConfig {
  const c = quick ? QUICK_CONFIG : FULL_CONFIG;
  return {
    seed,
    shots: [10, 50, 100],
    testSize: c.testSize,
    minTest: 20,
    communityPerRater: c.communityPerRater,
    freshShare: 0.25,
    methods,
    activeCounts: [10, 20, 50],
    activeStart: 5,
    activeBatch: quick ? 5 : 1,
    activeCandidates: c.activeCandidates,
    randomOrders: RANDOM_ORDERS,
    activeReplicates: ACTIVE_REPLICATES,
  };
}
