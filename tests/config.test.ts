import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';

describe('config', () => {
  it('works offline with no settings at all', () => {
    const c = loadConfig({});
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.EMBEDDER).toBe('features');
    expect(c.IMAGEGEN).toBe('sketch');
    expect(c.discordEnabled).toBe(false);
    expect(c.slackEnabled).toBe(false);
    expect(c.playgroundEnabled).toBe(true);
    expect(c.llmEnabled).toBe(false);
    expect(c.dataDir.endsWith('data')).toBe(true);
  });

  it('reports every invalid variable together, naming each and what was expected', () => {
    let err: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        EMBEDDER: 'vgg',
        DATABASE_URL: 'not a url',
        IMAGEGEN: 'replicate',
        REPLICATE_INPUT: '[1,2]',
        REACTION_RECONCILE_DAYS: '-1',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/PORT: expected a whole number/);
    expect(problems).toMatch(/EMBEDDER:/);
    expect(problems).toMatch(/DATABASE_URL: expected an absolute URL/);
    expect(problems).toMatch(/REPLICATE_API_TOKEN: required when IMAGEGEN=replicate/);
    expect(problems).toMatch(/REPLICATE_INPUT: expected a JSON object/);
    expect(problems).toMatch(/REACTION_RECONCILE_DAYS: expected at least 0/);
    expect((err as ConfigError).problems.length).toBe(6);
    expect((err as Error).message).toMatch(/README/);
  });

  it('never echoes secret values in its errors', () => {
    try {
      // Built at run time so no token-shaped literal sits in the repository (secret scanners flag them).
      loadConfig({ DISCORD_TOKEN: ['MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0', 'abcdef', 'secretsecretsecretsecretsecret12'].join('.') });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/DISCORD_APPLICATION_ID: required when DISCORD_TOKEN is set/);
      expect((e as Error).message).not.toMatch(/secretsecret/);
    }
    try {
      loadConfig({ DATABASE_URL: 'postgres://u:hunter2@' });
    } catch (e) {
      expect((e as Error).message).not.toMatch(/hunter2/);
    }
  });

  it('enables platforms from their settings; the playground runs beside them unless off', () => {
    const c = loadConfig({ DISCORD_TOKEN: 'x', DISCORD_APPLICATION_ID: '1' });
    expect(c.discordEnabled).toBe(true);
    expect(c.slackEnabled).toBe(false);
    expect(c.playgroundEnabled).toBe(true);
    expect(loadConfig({ DISCORD_TOKEN: 'x', DISCORD_APPLICATION_ID: '1', PLAYGROUND: 'off' }).playgroundEnabled).toBe(false);
    expect(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }).slackEnabled).toBe(true);
    expect(() => loadConfig({ SLACK_SIGNING_SECRET: 's' })).toThrow(/SLACK_BOT_TOKEN/);
  });

  it('turns on the LLM optimizer only with a key', () => {
    expect(loadConfig({ OPENAI_API_KEY: 'k' }).llmEnabled).toBe(true);
    expect(loadConfig({ OPENAI_API_KEY: 'k', OPTIMIZER: 'genetic' }).llmEnabled).toBe(false);
    expect(() => loadConfig({ OPTIMIZER: 'llm' })).toThrow(/OPENAI_API_KEY: required when OPTIMIZER=llm/);
  });
});
