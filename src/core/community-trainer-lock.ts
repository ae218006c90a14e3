/**
 * Which process trains the community models: a lock only one holder at a time passes (on PostgreSQL a
 * session advisory lock, src/db/advisory-lock; in one process the local one here).
 */
/** Decides which process trains. `acquire` also confirms a hold, which a lost connection ends. */
export interface TrainerLock {
  /** True when this process is (now, or still) the trainer; false while another one is. */
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}

const localHolders = new WeakMap<object, object>();

/** The trainer lock among the services of one process sharing `scope` (an embedded database). */
export function localTrainerLock(scope: object): TrainerLock {
  const me = {};
  return {
    acquire: () => {
      if (!localHolders.has(scope)) localHolders.set(scope, me);
      return Promise.resolve(localHolders.get(scope) === me);
    },
    release: () => {
      if (localHolders.get(scope) === me) localHolders.delete(scope);
      return Promise.resolve();
    },
  };
}

/** Always the trainer: a service that keeps its models to itself. */
export const soleTrainer: TrainerLock = { acquire: () => Promise.resolve(true), release: () => Promise.resolve() };
