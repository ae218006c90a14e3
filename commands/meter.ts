/** The confidence meter as commands show it: read once, never failing the command that shows it. */
import type { UserKey } from '../src/core/identity';
import { METER_LOW, meterBar, meterLine, type ConfidenceReading } from '../src/core/scorer/confidence';
import type { CommandContext } from './kit/types';

/** The person's meter, or undefined where the services do not compute one or it could not be read (logged). */
export async function readMeter(ctx: CommandContext, userKey: UserKey): Promise<ConfidenceReading | undefined> {
  try {
    // Inside the try: services built for one command (tests, tools) may have no taste service at all.
    const confidence = ctx.services.taste.confidence?.bind(ctx.services.taste);
    if (!confidence) return undefined;
    return await confidence(userKey);
  } catch (err) {
    // The meter is a hint beside the command's real answer: a failure to read it must not cost that answer.
    ctx.log.warn({ err }, 'could not read the confidence meter');
    return undefined;
  }
}

/** The meter's line, for /rate's intro. */
export function meterNote(r: ConfidenceReading | undefined): string {
  return r ? `\n${meterLine(r)}` : '';
}

/** /optimize's warning while the meter is low: predictions aim at a taste the bot barely knows yet. */
export function lowMeterWarning(r: ConfidenceReading | undefined): string {
  if (!r || r.predicted >= METER_LOW) return '';
  const more = r.toTarget ? ` (about ${r.toTarget} more to reach ${r.target.toFixed(1)})` : '';
  return (
    `\n⚠️ I barely know your taste yet (${meterBar(r.predicted)}), so the scores in this run are rough guesses. ` +
    `Rate a few images with /rate${more} and your next run will aim better.`
  );
}
