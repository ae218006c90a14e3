/**
 * Keeps a run's progress message the last one in its thread. A message cannot be moved on Discord or
 * Slack, so after each iteration the progress message is posted anew under that iteration's key and
 * the ones before it are removed (or blanked where a platform cannot remove). Each progress key is
 * posted at most once, by the same exactly-once path as every run message (run-display.ts); a removal
 * is recorded (`<key>:removed`), so repeating a pass after a restart neither removes twice nor
 * resurrects an old progress message.
 */
import type { Services } from '../core/services';
import type { Conversation } from '../../commands/kit/types';

export class ProgressTrail {
  /** run id → the progress keys this process saw for the run, oldest first (a restart re-reads them from the feed). */
  private readonly seen = new Map<string, string[]>();

  constructor(
    private readonly services: Services,
    private readonly platform: string,
  ) {}

  /** Notes a progress key of the run (applied or passed over), so the next one knows what to replace. */
  note(runId: string, key: string): void {
    const keys = this.seen.get(runId) ?? [];
    if (!keys.includes(key)) keys.push(key);
    this.seen.set(runId, keys);
  }

  /**
   * After `current` was posted: removes the run's earlier progress messages (`replaces` and those
   * noted here). `findLost` finds one an earlier process posted without recording it (while a run is
   * caught up with after a restart), so that one goes too.
   */
  async retire(
    runId: string,
    thread: Conversation,
    current: string,
    replaces: readonly string[] = [],
    findLost?: (key: string) => Promise<string | undefined>,
  ): Promise<void> {
    const keys = new Set([...(this.seen.get(runId) ?? []), ...replaces]);
    keys.delete(current);
    for (const key of keys) await this.removeOne(runId, thread, key, findLost);
    this.seen.set(runId, [current]);
  }

  /** Whether the progress message of `key` was removed already (a newer one replaced it): it is not shown again. */
  async removed(key: string): Promise<boolean> {
    return Boolean(await this.services.messages.byEventKey(this.platform, `${key}:removed`));
  }

  /** The run's display ended: nothing more to remember. */
  forget(runId: string): void {
    this.seen.delete(runId);
  }

  private async removeOne(
    runId: string,
    thread: Conversation,
    key: string,
    findLost?: (key: string) => Promise<string | undefined>,
  ): Promise<void> {
    const { services, platform } = this;
    const marker = `${key}:removed`;
    if (await services.messages.byEventKey(platform, marker)) return;
    // findLost records what it finds, so the next line sees it.
    const messageId = (await services.messages.byEventKey(platform, key))?.messageId ?? (await findLost?.(key));
    if (!messageId) return;
    if (thread.remove) await thread.remove(messageId);
    else await thread.edit(messageId, { kind: 'progress', runId, text: '⋯' });
    const channelId = (await services.messages.byEventKey(platform, key))?.channelId ?? thread.id;
    await services.messages.record({ platform, messageId: marker, channelId, runId, kind: 'info', eventKey: marker });
  }
}

/** The progress operations of a batch, newest last: only the last is applied, replacing the others' keys. */
export interface ProgressLike {
  op: string;
  key: string;
  replaces?: string[];
}

/**
 * Within one batch only the newest progress text matters (catching up after a restart, or a display
 * running behind its run, would otherwise replay every older state). It is applied twice: at once, at
 * the place of the batch's first progress operation and under that one's key (so the message people
 * see is current while the batch's grids go out), and at the place of the last one, under its own key
 * (posted there, the thread's last), replacing every progress key the others named or replaced.
 */
export function collapseProgressOps<T extends ProgressLike>(ops: T[]): T[] {
  const idx = ops.map((o, i) => (o.op === 'progress' ? i : -1)).filter((i) => i >= 0);
  if (idx.length <= 1) return ops;
  const firstIdx = idx[0]!;
  const lastIdx = idx.at(-1)!;
  const last = ops[lastIdx]!;
  const replaced = new Set<string>(last.replaces ?? []);
  for (const i of idx.slice(0, -1)) {
    const o = ops[i]!;
    replaced.add(o.key);
    for (const k of o.replaces ?? []) replaced.add(k);
  }
  replaced.delete(last.key);
  const early = { ...last, key: ops[firstIdx]!.key, replaces: [] };
  return ops.flatMap((o, i) =>
    o.op !== 'progress' ? [o] : i === firstIdx ? [early] : i === lastIdx ? [{ ...last, replaces: [...replaced] }] : [],
  );
}
