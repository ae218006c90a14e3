/**
 * Polls until `check` returns a truthy value (a guard against hangs, not a timing assertion). The
 * default deadline is generous, for a loaded machine, yet below vitest's 60 s test timeout so a hang
 * still names what it was waiting for.
 */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 45_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${describeError(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An Error as `Name: message`, a string as itself, anything else as JSON. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return String(err);
  return typeof err === 'string' ? err : JSON.stringify(err);
}
