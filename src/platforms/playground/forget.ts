/**
 * The playground's part of `/privacy action:forget` (core/privacy.ts, ForgetHook): its conversation
 * log (DATA_DIR/playground.jsonl) and its files (DATA_DIR/playground-files: charts, grids, exports)
 * live outside the database, so the core calls this once the database has forgotten the person.
 *
 * What goes:
 *  - of a playground person: the commands they typed, every private reply to them (with its files:
 *    their data export, their charts) and their clicks on every message (`ratings[id]`);
 *  - of anyone (a Discord person's generated image can be offered in the playground's /rate too):
 *    the threads and messages of their runs, messages showing an image that was deleted with them,
 *    and public bot messages that quote one of their prompts (the "Run started — follow it in the
 *    thread “🎨 …”" answer carries no run id).
 * Then the log is rewritten from memory (PlaygroundState.compact), so no removed line survives in it.
 * Browsers already open keep showing what they had until they reload.
 *
 * A person who is forgotten leaves nothing behind afterwards either: the adapter writes their
 * commands and the answers to them as transient messages (shown, never written), see `isForgotten`.
 */
import type { Logger } from 'pino';
import { RUN_TITLE_PROMPT_CHARS } from '../../../commands/optimize';
import { isForgottenError } from '../../core/errors';
import type { PersonRef } from '../../core/identity';
import type { ForgottenPerson } from '../../core/privacy';
import type { Services } from '../../core/services';
import type { RunDisplay } from '../run-display';
import type { PlaygroundFileStore } from './files';
import type { PlaygroundMessage, PlaygroundState } from './state';

export interface PlaygroundForgetDeps {
  services: Services;
  state: PlaygroundState;
  files: PlaygroundFileStore;
  /** Posts of a run in flight are awaited first, so none lands after the removal. */
  runDisplay?: RunDisplay;
  log: Logger;
}

/** Registers the playground's stores with the core's forget; returns the unregister function. */
export function registerPlaygroundForget(deps: PlaygroundForgetDeps): () => void {
  const off = deps.services.privacy?.onForget({
    name: 'playground',
    forget: async (p) => {
      // The run's last events may be on their way into its thread right now: let that pass finish
      // (the outbox rows are gone, so the next pass reads nothing of theirs).
      await deps.runDisplay?.poll();
      const removed = forgetInState(deps.state, p);
      for (const id of removed.files) await deps.files.delete(id);
      deps.state.compact();
      deps.log.info(
        { messages: removed.messages.length, threads: removed.threads.length, files: removed.files.length },
        'playground: removed what belonged to a forgotten person',
      );
    },
  });
  return off ?? (() => {});
}

/**
 * Whether the person asked to be forgotten (then the adapter writes their command's messages as
 * transient). False when the services have no privacy part.
 */
export async function isForgotten(services: Services, person: PersonRef): Promise<boolean> {
  return (await services.privacy?.isForgotten(person)) ?? false;
}

/** For calls that must not fail for a forgotten person (e.g. recording the scope before a command). */
export function ignoreForgotten(err: unknown): void {
  if (!isForgottenError(err)) throw err;
}

/** Takes out of the maps what belongs to the person or quotes their prompts. Returns what went. */
export function forgetInState(state: PlaygroundState, p: ForgottenPerson): { messages: string[]; threads: string[]; files: string[] } {
  const playgroundId = p.person.platform === 'playground' ? p.person.userId : undefined;
  const runIds = new Set(p.runIds);
  const imageIds = new Set(p.imageIds);
  // A whole prompt as whole words; a long one also by the start a thread title quotes (cut mid-word maybe).
  const whole = p.prompts
    .map(normalize)
    .filter(Boolean)
    .map((q) => ` ${q} `);
  const prefixes = p.prompts
    .filter((t) => t.length > PROMPT_PREFIX)
    .map((t) => normalize(t.slice(0, PROMPT_PREFIX)))
    .filter(Boolean)
    .map((q) => ` ${q}`);
  const quotesPrompt = (text: string) => {
    const t = ` ${normalize(text)} `;
    return whole.some((q) => t.includes(q)) || prefixes.some((q) => t.includes(q));
  };

  const gone = new Set<string>();
  for (const m of state.messages.values()) {
    const mine = playgroundId !== undefined && ((!m.author.bot && m.author.id === playgroundId) || m.ephemeralFor === playgroundId);
    const shows = (m.runId !== undefined && runIds.has(m.runId)) || (m.imageId !== undefined && imageIds.has(m.imageId));
    // Bot messages with an image of someone else (/rate offers) are never taken for their wording.
    const quotes = m.author.bot && m.imageId === undefined && quotesPrompt(m.text);
    if (mine || shows || quotes) gone.add(m.id);
  }
  // Their runs' threads, with everything in them.
  const threads = new Set<string>();
  for (const t of state.threads.values()) {
    if (gone.has(t.parentId) || quotesPrompt(t.title)) threads.add(t.id);
  }
  for (const m of state.messages.values()) {
    if (threads.has(m.conversationId) || (m.runId !== undefined && runIds.has(m.runId))) gone.add(m.id);
    if (gone.has(m.id) && m.threadId) threads.add(m.threadId);
  }
  for (const m of state.messages.values()) if (threads.has(m.conversationId)) gone.add(m.id);

  const files: string[] = [];
  for (const id of gone) {
    const m = state.messages.get(id)!;
    for (const f of m.files ?? []) files.push(f.id);
    state.messages.delete(id);
  }
  for (const [fileId, entry] of state.files)
    if (gone.has(entry.messageId)) {
      state.files.delete(fileId);
      if (!files.includes(fileId)) files.push(fileId);
    }
  for (const id of threads) state.threads.delete(id);
  // Their clicks on everyone else's messages.
  if (playgroundId !== undefined) for (const m of state.messages.values()) dropRating(m, playgroundId);
  return { messages: [...gone], threads: [...threads], files };
}

/** Thread titles quote the start of a prompt: matching on that prefix finds those too. */
const PROMPT_PREFIX = RUN_TITLE_PROMPT_CHARS;

/** Letters and digits only, lower case, single spaces: markdown, quotes and emoji do not hide a quote. */
function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

function dropRating(m: PlaygroundMessage, userId: string): void {
  if (!(userId in m.ratings)) return;
  const ratings = { ...m.ratings };
  delete ratings[userId];
  m.ratings = ratings;
}
