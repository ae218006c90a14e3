/**
 * Block Kit for a run's grid and summary: one actions block per tile with a static_select whose
 * options are the tile's choices (rate 1–10, more like this, bigger: one gesture), each option's value
 * carrying the choice and the image id, so the click needs no cache (action-handler.ts); and a
 * "Details" button under a summary, whose value is the run id.
 */
import type { OutGrid, OutPick } from '../../../commands/kit/types';
import { pickNumbers } from '../pick-actions';
import { TILE_CHOICES } from '../tile-actions';

export const TILE_ACTION_ID = 'tl_tile';
export const DETAILS_ACTION_ID = 'tl_details';
/** A pick button's action id: `tl_pick_<number>` (action ids are unique within a block). */
export const PICK_ACTION_ID = /^tl_pick_\d+$/;

export interface ActionsBlock {
  type: 'actions';
  block_id: string;
  elements: Record<string, unknown>[];
}

const plain = (text: string) => ({ type: 'plain_text' as const, text, emoji: true });

/** One actions block per tile that shows an image. */
export function tileBlocks(grid: OutGrid): ActionsBlock[] {
  return grid.tiles.flatMap((t) =>
    t.imageId
      ? [
          {
            type: 'actions' as const,
            block_id: `tl_tile_${grid.iteration}_${t.number}`,
            elements: [
              {
                type: 'static_select',
                action_id: TILE_ACTION_ID,
                placeholder: plain(`Tile ${t.number}: rate, more like this, bigger`),
                options: TILE_CHOICES.map((c) => ({ text: plain(c.label), value: `${c.value}|${t.imageId}` })),
              },
            ],
          },
        ]
      : [],
  );
}

/** One button per image of a pick message (/rate mode:pick), each value `<offer id>|<number>`. */
export function pickBlock(pick: OutPick): ActionsBlock {
  return {
    type: 'actions',
    block_id: 'tl_pick',
    elements: pickNumbers(pick.imageIds.length).map((n) => ({
      type: 'button',
      action_id: `tl_pick_${n}`,
      text: plain(`${n}`),
      value: `${pick.offerId}|${n}`,
    })),
  };
}

export function detailsBlock(runId: string): ActionsBlock {
  return {
    type: 'actions',
    block_id: 'tl_details',
    elements: [{ type: 'button', action_id: DETAILS_ACTION_ID, text: plain('Details'), value: runId }],
  };
}

/** "r7|<image id>" → its parts (undefined when malformed). */
export function parseTileValue(value: string): { choice: string; imageId: string } | undefined {
  const [choice, imageId] = value.split('|');
  return choice && imageId ? { choice, imageId } : undefined;
}
