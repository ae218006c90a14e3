/**
 * How each platform writes a person in text (commands/kit/types.ts MentionStyle): the dispatcher
 * hands the invoking platform's style to the command, so commands read mentions without knowing the
 * platform.
 */
import type { MentionStyle } from '../../commands/kit/types';
import type { Platform } from '../core/identity';

/**
 * What Discord puts into a string option for a typed @-mention (`<@id>`, `<@!id>`) and what Slack
 * delivers with "Escape channels, users, and links" on (`<@U123|name>`).
 */
const CHAT_TAG: MentionStyle = { pattern: /^<@!?([A-Za-z0-9]+)(?:\|([^>]*))?>$/ };

export const MENTION_STYLES: Readonly<Record<Platform, MentionStyle>> = {
  discord: CHAT_TAG,
  slack: CHAT_TAG,
  synthetic: CHAT_TAG,
  // Imported raters (npm run import:ratings) never write commands; the entry only completes the table.
  import: CHAT_TAG,
  // The playground's people are names typed in the page: `@ann` or `ann`.
  playground: { pattern: /^@?([A-Za-z0-9_-]{1,32})$/, typedNames: true },
};
