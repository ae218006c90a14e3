/**
 * A usage record: one per provider call (after its retries), written to the `usage` table by
 * whoever owns the sink. Attempts count the client's own retries so the ledger is attempts × price
 * when every attempt is billed: a retried call costs every attempt it made, not one.
 */
export type UsageKind = 'chat' | 'feedback' | 'image' | 'moderation' | 'embed';

export interface UsageRecord {
  provider: string; // openai | replicate
  model: string;
  kind: UsageKind;
  tokensIn: number;
  tokensOut: number;
  images: number;
  /** HTTP attempts made, including the client's retries (1 = no retry). */
  attempts: number;
  /** Estimated cost in USD (src/providers/pricing.ts). */
  costUsd: number;
  runId?: string;
  userKey?: string;
  /** false when the call ultimately failed (still recorded: failed attempts may be billed). */
  ok: boolean;
}

export type UsageSink = (record: UsageRecord) => void | Promise<void>;

/** Delivers a record without letting a broken sink fail the provider call. */
export async function emitUsage(sink: UsageSink | undefined, record: UsageRecord): Promise<void> {
  if (!sink) return;
  try {
    await sink(record);
  } catch {
    // A ledger failure must not turn a paid, successful generation into an error; the sink logs its own problems.
  }
}
