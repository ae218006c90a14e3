/**
 * What each platform looks like to a person (commands/kit/types.ts PlatformSurface): the dispatcher
 * hands the invoking platform's surface to the command, so /help and /rate say how rating works
 * there without knowing the platform.
 */
import type { PlatformSurface } from '../../commands/kit/types';
import type { Platform } from '../core/identity';

/** Discord and Slack both show the rating controls as 1️⃣…🔟 reactions (Slack's :one: … :keycap_ten:). */
const REACTIONS = { rateHow: 'react with 1️⃣ … 🔟', unrateHow: 'remove your reaction' } as const;

export const PLATFORM_SURFACES: Readonly<Record<Platform, PlatformSurface>> = {
  discord: { ...REACTIONS, italics: true },
  // Slack's markup turns *text* into bold, so no single-asterisk italics there.
  slack: { ...REACTIONS, italics: false },
  synthetic: { ...REACTIONS, italics: false },
  // Imported raters (npm run import:ratings) never see a surface; the entry only completes the table.
  import: { ...REACTIONS, italics: false },
  // The playground shows buttons 1–10 under each image and renders only **bold** and `code`.
  playground: { rateHow: 'click one of the buttons 1 … 10 under it', unrateHow: 'click your number again', italics: false },
};
