/**
 * What the `sketch` renderer leaves out of a prompt: the words it does not draw (not a color, mood,
 * subject, thing, composition or medium it knows, and not a filler word). People see them in the run
 * header, so a "windmill" that never appears is explained rather than a mystery.
 */
import { parseSketchPrompt } from './parse';

/** How many undrawn words a note names before it says "and N more". */
const MAX_NAMED = 8;

/** The prompt's words the sketch renderer does not draw, each once, in prompt order. Pure. */
export function undrawnWords(prompt: string): string[] {
  return [...new Set(parseSketchPrompt(prompt).unknownWords)];
}

/** One sentence naming the undrawn words and how to get real images; undefined when every word is drawn. */
export function undrawnWordsNote(prompt: string): string | undefined {
  const words = undrawnWords(prompt);
  if (!words.length) return undefined;
  const named = words.slice(0, MAX_NAMED).join(', ');
  const more = words.length > MAX_NAMED ? ` and ${words.length - MAX_NAMED} more` : '';
  return (
    `The offline sketch renderer does not draw: ${named}${more}. ` +
    'For real images set IMAGEGEN=openai (with OPENAI_API_KEY) or IMAGEGEN=replicate (with REPLICATE_API_TOKEN).'
  );
}
