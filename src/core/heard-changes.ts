/**
 * The people other processes announced changes of (LISTEN on the ledger's channel), gathered for a
 * short window so one version read covers all of them: at a thousand ratings a second, a read per
 * notification would cost more than the ratings themselves.
 *
 * Each window's people are checked together by `check` (which compares their ledger versions with the
 * scorers held and refits only the stale ones); windows never overlap, so a person heard during a
 * check is checked again in the next window.
 */
import type { Logger } from 'pino';
import type { UserKey } from './identity';

export class HeardChanges {
  private readonly heard = new Set<UserKey>();
  private timer: NodeJS.Timeout | null = null;
  /** The window being checked; set before `check` runs, so anyone it hears meanwhile waits for the next. */
  private checking: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly windowMs: number,
    private readonly check: (userKeys: UserKey[]) => Promise<void>,
    private readonly log: Logger,
  ) {}

  add(userKey: UserKey): void {
    if (this.stopped) return;
    this.heard.add(userKey);
    // While a window is being checked its end arms the next one, so windows never overlap.
    if (!this.checking) this.arm();
  }

  /** Resolves once everyone heard so far has been checked (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.timer || this.checking) {
      if (this.timer && !this.checking) this.checkNow();
      await this.checking;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.heard.clear();
  }

  /** At most one timer: a second would start a window of nobody that never ends (see checkNow). */
  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.checkNow(), this.windowMs);
    this.timer.unref();
  }

  private checkNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const people = [...this.heard];
    this.heard.clear();
    // `checking` is set before `check` runs and cleared in a callback, which always runs later: a check
    // that ends at once (nobody heard, or a synchronous throw) still clears it, instead of leaving a
    // settled promise that idle() would await forever and that would keep add() from arming again.
    let done: Promise<void> | null = null;
    const finish = (): void => {
      if (this.checking === done) this.checking = null;
      if (this.heard.size > 0 && !this.stopped && !this.checking) this.arm();
    };
    this.checking = done = Promise.resolve()
      .then(() => (people.length > 0 ? this.check(people) : undefined))
      .catch((err: unknown) => {
        // Their scorers stay as they are until the version check before their next use refits them.
        this.log.warn({ err, people: people.length }, 'could not check the people other processes changed');
      })
      .then(finish);
  }
}
