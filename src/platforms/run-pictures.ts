/**
 * Draws the pictures a run message asks for right before it is posted: an iteration's grid
 * (`OutMessage.grid`) and a summary's score chart (`OutMessage.scoreChart`), attached as files.
 * Drawing is the last step before the post, never stored: a message posted again after a restart is
 * drawn again from the same images. A picture that cannot be drawn is left out (the text and the
 * controls still say everything) rather than holding the run's messages up.
 */
import type { Logger } from 'pino';
import type { Services } from '../core/services';
import type { OutFile, OutMessage } from '../../commands/kit/types';

export async function withRunPictures(services: Services, msg: OutMessage, log: Logger): Promise<OutMessage> {
  const pictures = services.pictures;
  if (!pictures || (!msg.grid && !msg.scoreChart)) return msg;
  const files: OutFile[] = [...(msg.files ?? [])];
  try {
    if (msg.grid?.tiles.length) {
      const first = msg.grid.tiles[0]!.number;
      const data = await pictures.grid(msg.grid.tiles);
      files.push({ name: `iteration-${msg.grid.iteration}-${first}.png`, contentType: 'image/png', data });
    }
    if (msg.scoreChart?.length) {
      files.push({ name: 'scores.png', contentType: 'image/png', data: await pictures.scoreChart(msg.scoreChart) });
    }
  } catch (err) {
    log.warn({ err, runId: msg.runId }, 'could not draw a run picture; posting the message without it');
  }
  return files.length ? { ...msg, files } : msg;
}
