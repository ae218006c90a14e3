/**
 * The welcome a person gets the first time they open the playground: a real message in #general, for
 * them only, saying in plain words what to do first.
 *
 * Kept on the server, in the conversation (and its state file), not in the browser's localStorage:
 * "first visit" is per person, and the page acts as several people from one browser (the switcher)
 * while one person may open it from several browsers. A welcome message already in the state for the
 * person means they were welcomed; a restart replays the state, so it is never repeated. A person who
 * asked to be forgotten gets it as a transient message (shown, never written), like their commands.
 */
import type { Logger } from 'pino';
import type { Services } from '../../core/services';
import { BOT, personFor } from './context';
import { isForgotten } from './forget';
import { CHANNEL_ID, type PlaygroundState } from './state';

/** The `kind` of the welcome message (the page and the tests find it by it). */
export const WELCOME_KIND = 'welcome';

export function welcomeText(name: string): string {
  return [
    `👋 **Welcome to Tasteloop, ${name}!** I learn what pictures you like, then make new ones for you.`,
    '',
    '**1.** Type `/rate` and press Enter. I post a few images: rate each one with the buttons under it, from 1 (not for me) to 10 (love it).',
    '**2.** After five or so ratings, type `/optimize prompt:a quiet harbor at dawn` (any idea of yours). I open a thread and keep redrawing your idea, guided by your ratings, until the images are ones you like.',
    '',
    '`/profile` shows what I have learned about your taste, `/help` explains the rest. Only you see this message.',
  ].join('\n');
}

/** Welcomes a person (a page person id) once; later calls for them do nothing. */
export type Welcome = (personId: string) => Promise<void>;

export function createWelcome(deps: { services: Services; state: PlaygroundState; log: Logger }): Welcome {
  const { services, state, log } = deps;
  /** Asked already in this process: two requests of one new person at once welcome them once. */
  const asked = new Set<string>();
  return async (personId) => {
    if (asked.has(personId)) return;
    asked.add(personId);
    for (const m of state.messages.values()) if (m.kind === WELCOME_KIND && m.ephemeralFor === personId) return;
    const person = personFor(personId);
    const transient = await isForgotten(services, person).catch((err: unknown) => {
      // Unsure whether they were forgotten: show it without writing it down.
      log.warn({ err }, 'playground: could not check whether a person was forgotten before welcoming them');
      return true;
    });
    state.addMessage(
      {
        conversationId: CHANNEL_ID,
        author: BOT,
        text: welcomeText(person.displayName ?? person.userId),
        rateable: false,
        kind: WELCOME_KIND,
        ephemeralFor: person.userId,
      },
      { transient },
    );
  };
}
