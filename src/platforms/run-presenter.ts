/**
 * Shows one optimization run in a Conversation (a thread): subscribes to the core's live run events,
 * renders them (render-run.ts) and applies the operations in order — posts, one progress message
 * edited in place, and a closing notice for the channel the command came from.
 *
 * The subscription starts *before* the run does, so the run's first events are never missed; events
 * of other runs are ignored. Event keys dedupe redeliveries within this process.
 */
import type { Logger } from 'pino';
import { userKeyOf } from '../core/identity';
import type { RunEvent } from '../core/optimizer/events';
import type { Services, StartRunRequest } from '../core/services';
import type { Conversation, Notify, RunFollower, RunOutcome, StartedRun } from '../../commands/kit/types';
import { renderRunEvent, type RenderOp } from './render-run';
import { withRunPictures } from './run-pictures';

export interface PresentRunOptions {
  services: Services;
  /** Opened only once the run has really started, so a refused run leaves no empty thread. */
  openThread: () => Promise<Conversation>;
  request: StartRunRequest;
  log: Logger;
  /** Tells the command's channel how the run ended (Discord: the interaction, Slack: the channel). */
  notify?: Notify;
  /**
   * The platform's durable display (run-display.ts). With it the run's thread is stored on the run
   * and its messages come from the outbox (restarts continue in the same thread); without it this
   * process shows the live events it sees.
   */
  display?: RunFollower;
}

export interface PresentedRun extends StartedRun {
  /** Resolves when the run ended and its last message is out. */
  done: Promise<RunOutcome>;
}

export async function startRunInThread(opts: PresentRunOptions): Promise<PresentedRun> {
  if (opts.display) return startDurableRun(opts, opts.display);
  const { services, log } = opts;
  let threadPromise: Promise<Conversation> | null = null;
  const thread = (): Promise<Conversation> => (threadPromise ??= opts.openThread());
  let runId: string | null = null;
  const early: RunEvent[] = [];
  const seen = new Set<string>();
  /** The progress message shown now; a new one (posted after an iteration's grid) replaces it. */
  let progress: { key: string; id: string } | null = null;
  let chain: Promise<void> = Promise.resolve();
  let resolveDone!: (o: RunOutcome) => void;
  const done = new Promise<RunOutcome>((r) => (resolveDone = r));

  const apply = async (op: RenderOp): Promise<void> => {
    if (seen.has(op.key)) return;
    seen.add(op.key);
    try {
      if (op.op === 'post') {
        await (await thread()).post(await withRunPictures(services, op.message, log));
      } else if (op.op === 'progress') {
        const t = await thread();
        if (progress?.key === op.key) await t.edit(progress.id, op.message);
        else {
          const old = progress;
          progress = { key: op.key, id: await t.post(op.message) };
          // Kept last in the thread: the older progress message goes (blanked where it cannot be removed).
          if (old) await (t.remove ? t.remove(old.id) : t.edit(old.id, { kind: 'progress', text: '⋯' }));
        }
      } else {
        unsubscribe();
        if (opts.notify)
          await opts.notify(op.notice).catch((err: unknown) => log.warn({ err, runId }, 'could not post the run outcome notice'));
        resolveDone(op.outcome);
      }
    } catch (err) {
      // One lost post must not stop the rest of the run's messages.
      log.error({ err, runId, key: op.key }, 'posting a run message failed');
    }
  };
  const handle = (event: RunEvent): void => {
    for (const op of renderRunEvent(event)) chain = chain.then(() => apply(op));
  };

  const unsubscribe = services.runs.subscribe((event) => {
    if (runId === null) early.push(event);
    else if (event.runId === runId) handle(event);
  });
  try {
    ({ runId } = await services.runs.start(opts.request));
  } catch (err) {
    unsubscribe();
    throw err;
  }
  for (const e of early.splice(0)) if (e.runId === runId) handle(e);
  let opened: Conversation;
  try {
    opened = await thread();
  } catch (err) {
    // Without a thread nobody would see the run: stop it rather than spend images in the dark.
    unsubscribe();
    await services.runs.cancel(userKeyOf(opts.request.requester), runId).catch(() => null);
    throw err;
  }
  return { runId, thread: opened, done };
}

/**
 * The durable path: start the run, open its thread, store the thread on the run, and let the
 * platform's RunDisplay show it from the outbox (here now, or in whichever process runs later).
 */
async function startDurableRun(opts: PresentRunOptions, display: RunFollower): Promise<PresentedRun> {
  const { services } = opts;
  const { runId } = await services.runs.start(opts.request);
  let thread: Conversation;
  try {
    thread = await opts.openThread();
    await services.runs.setDestination(runId, { threadId: thread.id });
  } catch (err) {
    // Without a thread nobody would see the run: stop it rather than spend images in the dark.
    await services.runs.cancel(userKeyOf(opts.request.requester), runId).catch(() => null);
    throw err;
  }
  return { runId, thread, done: display.follow(runId, opts.notify) };
}
