/** The shared command layer: option validation/parsing, wording, and run rendering (pure parts). */
import { describe, expect, it } from 'vitest';
import { COMMANDS, findCommand } from '../commands/index';
import { parseOptionText, validateOptions } from '../commands/options';
import { renderProfile } from '../commands/profile';
import { lowMeterWarning, meterNote } from '../commands/meter';
import { helpText } from '../commands/help';
import { PLATFORM_SURFACES } from '../src/platforms/surfaces';
import { CommandInputError } from '../src/core/errors';
import { cleanUserText, formatScore, plural, progressBar } from '../commands/kit/format';
import { renderRunEvent } from '../src/platforms/render-run';
import type { ProfileSummary } from '../src/core/services';

const optimize = findCommand('optimize')!;
const rate = findCommand('rate')!;
const person = (raw: string) => ({ platform: 'playground' as const, userId: raw.replace(/^@/, '') });

describe('command declarations', () => {
  it('declare exactly the specified options', () => {
    const names = Object.fromEntries(COMMANDS.map((c) => [c.name, c.options.map((o) => o.name)]));
    expect(names).toEqual({
      rate: ['count', 'mode'],
      optimize: ['prompt', 'iterations', 'candidates', 'feedback', 'optimizer', 'for', 'objective', 'taste'],
      cancel: [],
      profile: ['user', 'show'],
      suggest: ['count', 'weekly'],
      compare: ['users'],
      privacy: ['share', 'action', 'confirm'],
      help: [],
    });
    expect(rate.options[0]).toMatchObject({ type: 'integer', min: 1, max: 10, default: 5 });
    expect(optimize.options[0]).toMatchObject({ type: 'string', required: true, maxLength: 500 });
  });
});

describe('usage lines', () => {
  it('are written from the declared options: required bare, optional in brackets', () => {
    expect(Object.fromEntries(COMMANDS.map((c) => [c.name, c.usage]))).toEqual({
      rate: '/rate [count:1-10] [mode:rate|pick]',
      optimize:
        '/optimize prompt:<text> [iterations:1-10] [candidates:1-8] [feedback:none|s+p|s+p+f|s+p+f+I] [optimizer:llm|genetic|random] [for:@a @b …] [objective:mean|min] [taste:<text>]',
      cancel: '/cancel',
      profile: '/profile [user:@someone] [show:profile|history]',
      suggest: '/suggest [count:1-10] [weekly:on|off]',
      compare: '/compare users:@a @b …',
      privacy: '/privacy [share:on|off] [action:status|export|forget|resume] [confirm:yes]',
      help: '/help',
    });
  });
});

describe('an unknown command', () => {
  it('is answered in one wording that suggests the closest command and /help', async () => {
    const { unknownCommand } = await import('../src/platforms/dispatch');
    expect(unknownCommand('optimise').message).toBe("I don't know /optimise. Did you mean /optimize? Try /help for the list of commands.");
    expect(unknownCommand('rat', '/tl-rat').message).toMatch(/^I don't know \/tl-rat\. Did you mean \/rate\?/);
    expect(unknownCommand('hlep').message).toMatch(/Did you mean \/help\?/);
    expect(unknownCommand('frobnicate').message).toBe("I don't know /frobnicate. Try /help for the list of commands.");
  });
  it('is refused before its options are read; known commands come back checked', async () => {
    const { prepareCommand } = await import('../src/platforms/dispatch');
    let read = 0;
    const readOptions = () => (read++, { count: '3' });
    expect(() => prepareCommand('rat', readOptions)).toThrow(/Did you mean \/rate\?/);
    expect(read).toBe(0);
    expect(prepareCommand('rate', readOptions)).toEqual({ count: 3 });
    expect(() => prepareCommand('rate', () => ({ count: '0' }))).toThrow(/count must be from 1 to 10[\s\S]*Usage: \/rate/);
  });
});

describe('validateOptions', () => {
  it('applies defaults and converts numbers given as text', () => {
    expect(validateOptions(rate, {})).toEqual({ count: 5 });
    expect(validateOptions(rate, { count: '7' })).toEqual({ count: 7 });
  });
  it.each([
    [{ count: 0 }, /count must be from 1 to 10/],
    [{ count: 11 }, /from 1 to 10/],
    [{ count: '2.5' }, /whole number/],
    [{ bogus: 1 }, /^Unknown option `bogus`\. Options of \/rate: count, mode\.\nUsage: \/rate \[count:1-10\] \[mode:rate\|pick\]$/],
  ])('rejects %j', (raw, msg) => {
    expect(() => validateOptions(rate, raw as never)).toThrow(CommandInputError);
    expect(() => validateOptions(rate, raw as never)).toThrow(msg);
  });
  it('checks prompt presence and length, and choices', () => {
    expect(() => validateOptions(optimize, {})).toThrow(/needs prompt/);
    expect(() => validateOptions(optimize, { prompt: 'x'.repeat(501) })).toThrow(/at most 500/);
    expect(() => validateOptions(optimize, { prompt: 'ok', feedback: 'all' })).toThrow(/none, s\+p, s\+p\+f, s\+p\+f\+I/);
    expect(validateOptions(optimize, { prompt: ' ok ', feedback: 's+p+f+I', optimizer: 'GENETIC' })).toMatchObject({
      prompt: 'ok',
      feedback: 's+p+f+I',
      optimizer: 'genetic',
    });
  });
});

describe('parseOptionText (Slack and playground)', () => {
  it('splits key:value pairs whose values contain spaces and colons', () => {
    expect(parseOptionText(optimize, 'prompt:a fox: red, at dusk iterations:3 feedback:s+p', person)).toEqual({
      prompt: 'a fox: red, at dusk',
      iterations: '3',
      feedback: 's+p',
    });
  });
  it('gives leading text to the required text option', () => {
    expect(parseOptionText(optimize, 'a lighthouse candidates:2', person)).toEqual({ prompt: 'a lighthouse', candidates: '2' });
    expect(parseOptionText(rate, '', person)).toEqual({});
  });
  it("names an unknown option and lists the command's options (from its declaration)", () => {
    expect(() => parseOptionText(optimize, 'prompt:"a red fox" color:red', person)).toThrow(
      /^Unknown option `color`\. Options of \/optimize: prompt, iterations, candidates, feedback, optimizer, for, objective, taste\.\nUsage: \/optimize/,
    );
    expect(() => parseOptionText(rate, 'colour:3', person)).toThrow(/^Unknown option `colour`\. Options of \/rate: count, mode\./);
    expect(() => parseOptionText(findCommand('help')!, 'verbose:yes', person)).toThrow(
      /^Unknown option `verbose`\. \/help takes no options\./,
    );
    // Words that are not shaped like an option say what went wrong and how to quote.
    expect(() => parseOptionText(optimize, 'prompt:"a fox" at dusk', person)).toThrow(
      /“at dusk” is for: prompt is already given\. Put a value with spaces in quotes/,
    );
    // Colons inside a prompt stay part of it.
    expect(parseOptionText(optimize, 'a fox, style:ink', person)).toEqual({ prompt: 'a fox, style:ink' });
  });
  it('resolves people through the platform', () => {
    expect(parseOptionText(findCommand('profile')!, 'user:@ann', person)).toEqual({ user: { platform: 'playground', userId: 'ann' } });
  });
});

describe('wording', () => {
  const summary = (n: number): ProfileSummary => ({
    userKey: 'k',
    ratings: n,
    method: 'finetune',
    quality: { n, srocc: n > 4 ? 0.61 : null, mse: null, mae: n > 4 ? 1.234 : null },
    topImages: [],
    predictedFavorites: [],
  });
  it('/profile counts ratings as "1 rating" / "0 ratings"', () => {
    expect(renderProfile(summary(1), 'Your')).toContain('— 1 rating\n');
    expect(renderProfile(summary(0), 'Your')).toContain('— 0 ratings\n');
    expect(renderProfile(summary(12), 'Your')).toMatch(
      /12 ratings[\s\S]*Prediction quality: .*correlation of 0\.61 \(SROCC; 1 = perfect, 0 = guessing\) and is off by 1\.23 points on average \(MAE\), tested on 12 ratings\. Method: finetune\./,
    );
  });
  it('/profile gives the quality with its interval, or "not enough ratings to tell" while it spans zero, and the meter', () => {
    const withCi = (srocc: number, lo: number, hi: number): ProfileSummary => ({
      ...summary(12),
      quality: { n: 12, srocc, mse: null, mae: 1.234, sroccLow: lo, sroccHigh: hi },
      confidence: { ratings: 12, predicted: 0.42, target: 0.6, toTarget: 30 },
    });
    const sure = renderProfile(withCi(0.61, 0.21, 0.84), 'Your');
    expect(sure).toMatch(
      /correlation of 0\.61 \(SROCC; 1 = perfect, 0 = guessing; 95% interval 0\.21 to 0\.84\) and is off by 1\.23 points/,
    );
    expect(sure).toContain('How well I know your taste: ▰▰▰▰▱▱▱▱▱▱ 0.42 — about 30 more ratings to reach 0.6.');
    const unsure = renderProfile(withCi(0.21, -0.49, 0.75), 'Your');
    expect(unsure).toMatch(
      /Prediction quality: not enough ratings to tell yet .*0\.21 .*anything from -0\.49 to 0\.75 fits \(95% interval\)/,
    );
    expect(unsure).not.toMatch(/in the right order/);
    expect(renderProfile(withCi(0.21, -0.49, 0.75), 'Ann’s')).toContain('How well I know Ann’s taste:');
  });
  it('/optimize warns while the meter is low and suggests /rate; /rate shows the meter', () => {
    const low = { ratings: 6, predicted: 0.18, target: 0.6, toTarget: 45 };
    expect(lowMeterWarning(low)).toMatch(/I barely know your taste yet \(▰▰▱▱▱▱▱▱▱▱ 0\.18\).*\/rate \(about 45 more to reach 0\.6\)/);
    expect(lowMeterWarning({ ...low, predicted: 0.55, toTarget: 10 })).toBe('');
    expect(lowMeterWarning(undefined)).toBe('');
    expect(meterNote(low)).toBe('\nHow well I know your taste: ▰▰▱▱▱▱▱▱▱▱ 0.18 — about 45 more ratings to reach 0.6.');
  });
  it('scores look like 6.4/10', () => {
    expect(formatScore(6.4321)).toBe('6.4/10');
    expect(formatScore(10)).toBe('10.0/10');
    expect(formatScore(null)).toBe('–/10');
    expect(plural(1, 'image')).toBe('1 image');
    expect(progressBar(3, 10)).toBe('▰▰▰▱▱▱▱▱▱▱');
  });
  it('/help covers what it does, the scale and privacy', () => {
    for (const surface of Object.values(PLATFORM_SURFACES)) {
      expect(helpText(surface)).toMatch(/1 = not for me, 10 = love it/);
      expect(helpText(surface)).toMatch(/\*\*Privacy:\*\*/);
    }
  });
  it('user text loses invisible characters', () => {
    expect(cleanUserText('a\u200Bb\u202Ec  d')).toBe('abc d');
  });
});

describe('renderRunEvent', () => {
  it('makes one progress op per progress event and ends with a done op', () => {
    const m = {
      init: 5,
      max: 7.25,
      maxMinusInit: 2.25,
      kStar: 2,
      maxSim: 0.9,
      scoreOfMostSim: 6,
      imagesUsed: 9,
      costUsd: 0.12,
      bestImageId: 'img',
      bestPrompt: 'p',
    };
    const ops = renderRunEvent({ type: 'run.finished', key: 'r:f', runId: 'r', metrics: m, stopReason: 'completed' });
    expect(ops.map((o) => o.op)).toEqual(['post', 'progress', 'done']);
    const summary = ops[0]!.op === 'post' ? ops[0]!.message : { text: '', details: '' };
    expect(summary.text).toContain('from 5.0/10 to 7.3/10 (predicted for you) in 2 iterations.');
    // The method's measures are the summary's Details part, apart from its main text.
    expect(summary.details).toMatch(/^\*\*Details\*\*\n/);
    for (const metric of [
      'max 7.3/10 — ',
      'max − init +2.3 — ',
      'K* 2 — ',
      'max sim 0.90 — ',
      'score of most sim 6.0/10 — ',
      '9 images made · cost $0.12',
    ]) {
      expect(summary.details, metric).toContain(metric);
      expect(summary.text, metric).not.toContain(metric);
    }
    expect(ops[0]!.op === 'post' && ops[0]!.message.image).toEqual({ imageId: 'img', rateable: true });
  });
});

describe('dispatchCommand', () => {
  it('answers a mistake privately and an unexpected failure with a reference id, and counts each outcome for /metrics', async () => {
    const { dispatchCommand } = await import('../src/platforms/dispatch');
    const { commandsTotal, valueOf } = await import('../src/prometheus-metrics');
    const { silentLogger } = await import('../src/log');
    const replies: { text: string; ephemeral: boolean }[] = [];
    // Any use of the services is a failure nobody planned for.
    const services = new Proxy(
      {},
      {
        get: () => {
          throw new Error('database is on fire');
        },
      },
    );
    const base = {
      platform: 'playground',
      person: person('ann'),
      channel: {},
      invocationId: 'i1',
      services,
      log: silentLogger,
      reply: async (m: { text: string }, o?: { ephemeral?: boolean }) =>
        void replies.push({ text: m.text, ephemeral: Boolean(o?.ephemeral) }),
      defer: async () => {},
      openThread: async () => ({}),
      runDisplay: {},
    } as unknown as Parameters<typeof dispatchCommand>[2];
    const count = (command: string, outcome: string) => valueOf(commandsTotal, { platform: 'playground', command, outcome });
    const before = await Promise.all([count('rate', 'user_error'), count('unknown', 'user_error'), count('profile', 'error')]);
    await dispatchCommand('rate', { count: 50 }, base);
    await dispatchCommand('frobnicate', {}, base);
    await dispatchCommand('profile', {}, base);
    expect(replies.map((r) => r.ephemeral)).toEqual([true, true, true]);
    expect(replies[0]!.text).toMatch(/count must be from 1 to 10/);
    expect(replies[1]!.text).toMatch(/I don't know \/frobnicate/);
    expect(replies[2]!.text).toMatch(/reference \*\*E-[0-9A-F]{8}\*\*/);
    expect(
      (await Promise.all([count('rate', 'user_error'), count('unknown', 'user_error'), count('profile', 'error')])).map(
        (v, i) => v - before[i]!,
      ),
    ).toEqual([1, 1, 1]);
  });
});
