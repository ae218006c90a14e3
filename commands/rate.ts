/**
 * /rate [count] [mode] — posts images to rate, each its own message with the 1–10 rating controls; or,
 * with mode:pick, one message of four images in a 2×2 grid to pick the favourite of (rate-pick.ts).
 */
import { defineCommand } from './kit/usage';
import { postPick } from './rate-pick';
import { meterNote, readMeter } from './meter';

export const RATE_DEFAULT_COUNT = 5;

export const rate = defineCommand({
  name: 'rate',
  description: 'Rate a few images 1–10 so Tasteloop learns your taste',
  options: [
    { name: 'count', type: 'integer', description: 'How many images (1–10)', min: 1, max: 10, default: RATE_DEFAULT_COUNT },
    {
      name: 'mode',
      type: 'choice',
      description: 'rate each image 1–10, or pick your favourite of four',
      choices: ['rate', 'pick'],
    },
  ],
  async execute(ctx) {
    await ctx.defer();
    if (ctx.options.mode === 'pick') return postPick(ctx);
    const count = (ctx.options.count as number | undefined) ?? RATE_DEFAULT_COUNT;
    const userKey = await ctx.services.people.touch(ctx.person, ctx.scopeId);
    const images = await ctx.services.taste.nextToRate(userKey, count);
    // Right after a first start the starter images are still being drawn: offer what exists, and say so.
    const gallery = ctx.services.gallery?.status();
    const drawing = gallery !== undefined && (gallery.state === 'pending' || gallery.state === 'drawing');
    if (images.length === 0) {
      const text = drawing
        ? `The starter images are still being drawn (${gallery.ready} of ${gallery.total} ready) — try /rate again in a few seconds.`
        : 'There are no images to rate right now. Try again after an /optimize run.';
      await ctx.reply({ kind: 'info', text }, { ephemeral: true });
      return;
    }
    const more =
      drawing && images.length < count ? ` More are still being drawn (${gallery.ready} of ${gallery.total} starter images ready).` : '';
    // Reactions are stored without a reply, so the meter shows here, where the person starts rating.
    const meter = meterNote(await readMeter(ctx, userKey));
    await ctx.reply({
      kind: 'info',
      text: `Here ${images.length === 1 ? 'is 1 image' : `are ${images.length} images`} to rate: ${ctx.surface.rateHow} (1 = not for me, 10 = love it). Anyone here can rate; each rating is your own.${more}${meter}`,
    });
    for (const [i, image] of images.entries()) {
      await ctx.channel.post({ kind: 'rate', text: `Image ${i + 1}/${images.length}`, image: { imageId: image.id, rateable: true } });
    }
  },
});
