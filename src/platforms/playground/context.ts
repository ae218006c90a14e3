/**
 * What the playground's parts share: its fixed identity (platform name, bot author, the one scope),
 * how a page's person id becomes a PersonRef, and the context object the adapter builds once and hands
 * to the command handler, the rating clicks and the HTTP routes instead of letting them share closures.
 */
import type { Logger } from 'pino';
import type { Conversation } from '../../../commands/kit/types';
import type { PersonRef } from '../../core/identity';
import type { Services } from '../../core/services';
import type { RunDisplay } from '../run-display';
import type { PlaygroundFileStore } from './files';
import type { PlaygroundState } from './state';

export const PLATFORM = 'playground';
export const BOT = { id: 'tasteloop', name: 'Tasteloop', bot: true };
/**
 * The playground's server/workspace id: everyone acting in the page is "in" it (people.touch records
 * it for each of them). Fixed by the adapter like a guild id from a verified event — never from text.
 * No Discord guild (numeric) or Slack team (T…) id can collide with it.
 */
export const PLAYGROUND_SCOPE = 'playground';

export function personFor(userId: string): PersonRef {
  const id =
    userId
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '')
      .slice(0, 32) || 'guest';
  return { platform: 'playground', userId: id, displayName: id.charAt(0).toUpperCase() + id.slice(1) };
}

/** The adapter's shared state, built once in createPlaygroundAdapter. */
export interface PlaygroundContext {
  services: Services;
  log: Logger;
  clock: () => number;
  state: PlaygroundState;
  /** Where the bytes of files shown with messages are kept. */
  files: PlaygroundFileStore;
  runDisplay: RunDisplay;
  /** #general. */
  channel: Conversation;
  /** The bot's side of a channel or thread (`label` is how a person is pointed at it). */
  conversation(id: string, label: string): Conversation;
}
