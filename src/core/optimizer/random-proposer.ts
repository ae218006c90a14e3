/**
 * The random baseline: every prompt is the subject plus a fresh random keyword set; scores are
 * ignored. Whatever an optimizer gains over this at the same image budget is what its search buys.
 */
import type { PromptProposer, ProposeContext, ScoredPrompt } from './proposer';
import { diverseInitialPrompts, formatPrompt, parsePrompt, randomKeywordSet } from './keywords';
import { randInt, type UniformSource } from './rng';

export class RandomProposer implements PromptProposer {
  readonly kind = 'random' as const;
  readonly wantsFeedback = false;

  initial(prompt: string, n: number, rng: UniformSource): Promise<string[]> {
    return Promise.resolve(diverseInitialPrompts(prompt, n, rng, new Set([prompt])));
  }

  next(history: ScoredPrompt[], n: number, rng: UniformSource, ctx: ProposeContext): Promise<string[]> {
    const subject = parsePrompt(ctx.initialPrompt).subject;
    const seen = new Set(history.map((h) => h.prompt));
    const out: string[] = [];
    for (let attempt = 0; out.length < n && attempt < n * 30; attempt++) {
      const text = formatPrompt({ subject, keywords: randomKeywordSet(rng, 1 + randInt(rng, 5)) });
      if (!seen.has(text)) {
        seen.add(text);
        out.push(text);
      }
    }
    return Promise.resolve(out);
  }
}
