/** Every rating emoji variant maps to exactly 1..10; everything else to null, so a stray reaction is never a vote. */
import { describe, expect, it } from 'vitest';
import { emojiToRating, isCancelEmoji, RATING_EMOJI, RATING_SLACK_NAMES } from '../src/platforms/emoji';

const keycap = (d: number, vs = true) => `${d}${vs ? '\uFE0F' : ''}\u20E3`;

describe('emojiToRating', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9])('%i️⃣ with and without U+FE0F', (d) => {
    expect(emojiToRating(keycap(d))).toBe(d);
    expect(emojiToRating(keycap(d, false))).toBe(d);
    expect(emojiToRating({ name: keycap(d), id: null })).toBe(d);
  });
  it('🔟 (with a stray variation selector too) is 10', () => {
    expect(emojiToRating('\u{1F51F}')).toBe(10);
    expect(emojiToRating('\u{1F51F}\uFE0F')).toBe(10);
  });
  it('Slack short names, with or without colons and skin tones', () => {
    const names = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'keycap_ten'];
    names.forEach((n, i) => {
      expect(emojiToRating(n)).toBe(i + 1);
      expect(emojiToRating(`:${n}:`)).toBe(i + 1);
      expect(emojiToRating(`${n}::skin-tone-3`)).toBe(i + 1);
    });
  });
  it('skin-tone modifiers are stripped from Unicode', () => {
    expect(emojiToRating(`${keycap(4)}\u{1F3FD}`)).toBe(4);
  });
  it('custom emoji never rate, even when named like a rating', () => {
    expect(emojiToRating({ name: 'one', id: '123456789' })).toBeNull();
    expect(emojiToRating({ name: keycap(5), id: '42' })).toBeNull();
  });
  it.each([
    ['0️⃣', '0\uFE0F\u20E3'],
    ['#️⃣', '#\uFE0F\u20E3'],
    ['*️⃣', '*\uFE0F\u20E3'],
    ['plain digit', '7'],
    ['👍', '\u{1F44D}'],
    ['👍🏽', '\u{1F44D}\u{1F3FD}'],
    ['❌', '\u274C'],
    ['zero', 'zero'],
    ['ten', 'ten'],
    ['thumbsup', ':thumbsup:'],
    ['empty', ''],
    ['two keycaps', `${keycap(1)}${keycap(2)}`],
    ['null', null],
    ['undefined', undefined],
  ])('%s is not a rating', (_label, e) => {
    expect(emojiToRating(e)).toBeNull();
  });
  it('the bot offers exactly the ten rating emoji, in order, on both platforms', () => {
    expect(RATING_EMOJI.map((e) => emojiToRating(e))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(RATING_SLACK_NAMES.map((e) => emojiToRating(e))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

describe('isCancelEmoji', () => {
  it('❌ and :x: cancel; others and custom emoji do not', () => {
    expect(isCancelEmoji('\u274C')).toBe(true);
    expect(isCancelEmoji('\u274C\uFE0F')).toBe(true);
    expect(isCancelEmoji(':x:')).toBe(true);
    expect(isCancelEmoji('x')).toBe(true);
    expect(isCancelEmoji({ name: 'x', id: '9' })).toBe(false);
    expect(isCancelEmoji(keycap(1))).toBe(false);
    expect(isCancelEmoji('\u2716')).toBe(false);
  });
});
