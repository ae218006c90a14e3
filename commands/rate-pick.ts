/**
 * /rate mode:pick — four images the person has not seen, chosen so that their pick teaches their
 * scorer most (src/core/picks.ts), as one message: a 2×2 grid picture of numbered tiles and a pick
 * control per tile. A pick says "this one over each of the others" (three preferences); anyone here
 * may pick, each pick is their own, and picking again on the same message replaces it.
 */
import type { CommandContext, OutFile } from './kit/types';

export async function postPick(ctx: CommandContext): Promise<void> {
  // A forgotten person stops here with the usual reply (ForgottenError).
  const userKey = await ctx.services.people.touch(ctx.person, ctx.scopeId);
  const picks = ctx.services.picks;
  if (!picks) {
    await ctx.reply(
      { kind: 'info', text: 'Picking one of four is not available on this bot: use /rate to rate images 1–10.' },
      { ephemeral: true },
    );
    return;
  }
  const offer = await picks.offer(userKey);
  if (!offer) {
    const text = 'There are not enough images you have not seen to pick from right now. Try again after an /optimize run.';
    await ctx.reply({ kind: 'info', text }, { ephemeral: true });
    return;
  }
  const imageIds = offer.images.map((i) => i.id);
  const files: OutFile[] = [];
  if (ctx.services.pictures) {
    const tiles = imageIds.map((imageId, i) => ({ number: i + 1, imageId, score: null }));
    files.push({ name: 'pick.png', contentType: 'image/png', data: await ctx.services.pictures.grid(tiles) });
  }
  await ctx.reply({
    kind: 'info',
    text: `Which of these ${imageIds.length} do you like most? Press its number under the picture. Anyone here can pick; each pick is your own, and picking again changes it.`,
  });
  await ctx.channel.post({
    kind: 'pick',
    text: `**Pick one** · ${imageIds.map((_, i) => `${i + 1}`).join(' · ')}`,
    files,
    pick: { offerId: offer.offerId, imageIds },
  });
}
