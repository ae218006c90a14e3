/**
 * What a platform adapter is to the process that starts it. The messages adapters translate and the
 * invocation they build for a command are the command kit's (commands/kit/types.ts).
 */
import type { Platform } from '../core/identity';

export interface ChatAdapter {
  readonly name: Platform;
  start(): Promise<void>;
  /** Stops taking new work and releases connections; resolves when done. */
  stop(): Promise<void>;
  /** Whether it is connected and taking work now (the /readyz check), with a word on why not. */
  health(): { ok: boolean; detail?: string };
}
