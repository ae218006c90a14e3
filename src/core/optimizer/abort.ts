/** How the loop notices a cancelled run: the run's AbortSignal, or a provider call that was aborted. */
import { CancelledError } from '../errors';

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new CancelledError();
}

/** True when `err` is (or was caused by) the run's cancellation. */
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (err instanceof CancelledError) return true;
  if (signal?.aborted) return true;
  return err instanceof Error && err.name === 'AbortError';
}
