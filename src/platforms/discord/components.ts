/**
 * Message components of run messages: one string select per grid tile (Discord allows five action
 * rows, which is why a grid message has at most five tiles: run-grid-message.ts) whose options are the
 * tile's choices — rate 1–10, more like this, bigger: one gesture — and a "Details" button under a
 * summary. The custom_id carries what a click needs without any cache: `tl:tile:<image id>` (73 of
 * Discord's 100 characters) or `tl:details:<run id>`.
 */
import type { OutMessage } from '../../../commands/kit/types';
import { pickNumbers } from '../pick-actions';
import { TILE_CHOICES } from '../tile-actions';

const TILE_PREFIX = 'tl:tile:';
/** `tl:pick:<offer id>:<number>` (46 characters): a pick of one image (/rate mode:pick). */
const PICK_PREFIX = 'tl:pick:';
const DETAILS_PREFIX = 'tl:details:';

/** Raw API components (action rows) for a message, or undefined when it has no controls. */
export function componentsFor(msg: OutMessage): Record<string, unknown>[] | undefined {
  const rows: Record<string, unknown>[] = [];
  for (const t of msg.grid?.tiles ?? []) {
    if (!t.imageId) continue;
    rows.push({
      type: 1,
      components: [
        {
          type: 3,
          custom_id: `${TILE_PREFIX}${t.imageId}`,
          placeholder: `Tile ${t.number}: rate, more like this, bigger`,
          options: TILE_CHOICES.map((c) => ({ label: c.label, value: c.value })),
        },
      ],
    });
  }
  if (msg.pick)
    rows.push({
      type: 1,
      components: pickNumbers(msg.pick.imageIds.length).map((n) => ({
        type: 2,
        style: 1,
        label: `${n}`,
        custom_id: `${PICK_PREFIX}${msg.pick!.offerId}:${n}`,
      })),
    });
  if (msg.details && msg.runId)
    rows.push({ type: 1, components: [{ type: 2, style: 2, label: 'Details', custom_id: `${DETAILS_PREFIX}${msg.runId}` }] });
  return rows.length ? rows.slice(0, 5) : undefined;
}

/** What a component's custom_id asks for (undefined: not one of the bot's run controls). */
export function parseCustomId(customId: string): { tile: string } | { details: string } | { pick: string; number: number } | undefined {
  const pick = customId.startsWith(PICK_PREFIX) ? /^([^:]+):(\d+)$/.exec(customId.slice(PICK_PREFIX.length)) : null;
  if (pick) return { pick: pick[1]!, number: Number(pick[2]) };
  if (customId.startsWith(TILE_PREFIX)) return { tile: customId.slice(TILE_PREFIX.length) };
  if (customId.startsWith(DETAILS_PREFIX)) return { details: customId.slice(DETAILS_PREFIX.length) };
  return undefined;
}
