/**
 * The sketch renderer draws the things and animals a prompt names (boats, lighthouses, houses, trees,
 * cats, dogs, birds, horses, fish) and says which words it does not draw.
 */
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { undrawnWords, undrawnWordsNote } from '../src/providers/imagegen/sketch/limits';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';
import { renderSketch } from '../src/providers/imagegen/sketch/render';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';
import { PROP_WORDS } from '../src/providers/imagegen/sketch/vocabulary';
import type { Prop, SceneSpec } from '../src/providers/imagegen/sketch/scene';

const SIZE = 96;

/** Share of pixels that differ noticeably between two renders of the same size. */
async function changedShare(a: Buffer, b: Buffer): Promise<number> {
  const raw = async (png: Buffer) => (await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true })).data;
  const [pa, pb] = [await raw(a), await raw(b)];
  let n = 0;
  for (let i = 0; i < pa.length; i += 3)
    if (Math.abs(pa[i]! - pb[i]!) + Math.abs(pa[i + 1]! - pb[i + 1]!) + Math.abs(pa[i + 2]! - pb[i + 2]!) > 30) n++;
  return n / (pa.length / 3);
}

/** How much of the picture the props take: the scene rendered with and without them. */
async function propShare(spec: SceneSpec, seed = 1): Promise<number> {
  return changedShare(await renderSketch(spec, { seed, size: SIZE }), await renderSketch({ ...spec, props: [] }, { seed, size: SIZE }));
}

describe('sketch props', () => {
  it('reads "a lighthouse at dusk" as a lighthouse on the sea, with no word left undrawn', () => {
    const s = parseSketchPrompt('a lighthouse at dusk');
    expect(s.props).toEqual(['lighthouse']);
    expect(s.subjects).toContain('sea');
    expect(s.lighting).toBe('dawn');
    expect(undrawnWords('a lighthouse at dusk')).toEqual([]);
    expect(undrawnWordsNote('a lighthouse at dusk')).toBeUndefined();
  });

  it('"a lighthouse at dusk" is a different picture from "dusk": the lighthouse takes a visible part of it', async () => {
    const lighthouse = await renderSketch(parseSketchPrompt('a lighthouse at dusk'), { seed: 1, size: SIZE });
    const dusk = await renderSketch(parseSketchPrompt('dusk'), { seed: 1, size: SIZE });
    expect(lighthouse.equals(dusk)).toBe(false);
    expect(await propShare(parseSketchPrompt('a lighthouse at dusk'))).toBeGreaterThan(0.02);
  });

  it('draws every prop visibly, by day, at night and in ink', async () => {
    const props = [...new Set(Object.values(PROP_WORDS))] as Prop[];
    expect(props.sort()).toEqual(['bird', 'boat', 'cat', 'dog', 'fish', 'horse', 'house', 'lighthouse', 'tree']);
    for (const prop of props) {
      for (const mood of ['sunny', 'night', 'ink sketch of']) {
        const prompt = `${mood} ${prop}`;
        const spec = parseSketchPrompt(prompt);
        expect(spec.props, prompt).toEqual([prop]);
        expect(await propShare(spec), prompt).toBeGreaterThan(0.008);
      }
    }
  });

  it('the undrawn-word list shrinks to the words it really cannot draw', () => {
    expect(undrawnWords('a windmill at dusk')).toEqual(['windmill']);
    expect(undrawnWords('a quiet harbor with a lighthouse and a sleeping cat')).toEqual(['quiet', 'sleeping']);
    expect(undrawnWords('horses, dogs and birds by the water')).toEqual([]);
    for (const word of Object.keys(PROP_WORDS)) expect(undrawnWords(`a ${word} zorblax`), word).toEqual(['zorblax']);
    // Said once each, in prompt order.
    expect(undrawnWords('zorblax quux zorblax')).toEqual(['zorblax', 'quux']);
  });

  it('the generator names what it cannot draw and how to get real images', () => {
    const gen = new SketchGenerator();
    const note = gen.describeLimits('a windmill and a tractor at dusk');
    expect(note).toBe(
      'The offline sketch renderer does not draw: windmill, tractor. For real images set IMAGEGEN=openai (with OPENAI_API_KEY) or IMAGEGEN=replicate (with REPLICATE_API_TOKEN).',
    );
    expect(gen.describeLimits('a cat and a dog in a meadow')).toBeUndefined();
    const long = gen.describeLimits('one two three four five six seven eight nine ten');
    expect(long).toMatch(/: one, two, three, four, five, six, seven, eight and 2 more\./);
  });

  it('a named prop replaces the scenery picked from the hash, and scenes without props keep their picture', async () => {
    expect(parseSketchPrompt('a cat').subjects).toEqual([]);
    expect(parseSketchPrompt('a cat').subjectsExplicit).toBe(false);
    const plain = parseSketchPrompt('misty mountains at golden hour');
    expect(plain.props).toEqual([]);
    expect(await propShare(plain)).toBe(0);
    const p = 'a harbor with small boats';
    expect(
      (await renderSketch(parseSketchPrompt(p), { seed: 4, size: 64 })).equals(
        await renderSketch(parseSketchPrompt(p), { seed: 4, size: 64 }),
      ),
    ).toBe(true);
  });
});
