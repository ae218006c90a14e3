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
    if (!this.timer && !this.checking) this.arm();
  }

  /** Resolves once everyone heard so far has been checked (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.timer || this.checking) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
        this.checking = this.run();
      }
      await this.checking;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.heard.clear();
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.checking = this.run();
    }, this.windowMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const people = [...this.heard];
    this.heard.clear();
    try {
      if (people.length > 0) await this.check(people);
    } catch (err) {
      // Their scorers stay as they are until the version check before their next use refits them.
      this.log.warn({ err, people: people.length }, 'could not check the people other processes changed');
    } finally {
      this.checking = null;
      if (this.heard.size > 0 && !this.stopped) this.arm();
    }
  }
}
