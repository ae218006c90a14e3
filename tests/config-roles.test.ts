/**
 * TASTELOOP_ROLES as src/config.ts reads it: a comma list of gateway, worker, web (all three when
 * unset), and a startup error naming the variable for an unknown role or an empty list. Which chat
 * surfaces each role runs comes from the same config (src/platforms/start.ts planSurfaces).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { planSurfaces } from '../src/platforms/start';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('TASTELOOP_ROLES', () => {
  it('runs every role when unset', () => {
    const c = loadConfig({});
    expect(c.TASTELOOP_ROLES).toEqual(['gateway', 'worker', 'web']);
    expect(c.roles).toEqual({ gateway: true, worker: true, web: true });
  });

  it('reads a comma list: spaces, case and repeats do not matter, order is canonical', () => {
    const c = loadConfig({ TASTELOOP_ROLES: ' Web , worker,web ' });
    expect(c.TASTELOOP_ROLES).toEqual(['worker', 'web']);
    expect(c.roles).toEqual({ gateway: false, worker: true, web: true });
    expect(loadConfig({ TASTELOOP_ROLES: 'worker' }).roles).toEqual({ gateway: false, worker: true, web: false });
  });

  it('an unknown role is a startup error naming the variable, the role and the valid ones', () => {
    const problems = problemsOf({ TASTELOOP_ROLES: 'gateway,wrker' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^TASTELOOP_ROLES: unknown role "wrker": expected a comma list of gateway, worker, web/);
    expect(problemsOf({ TASTELOOP_ROLES: 'api,jobs' })[0]).toMatch(/unknown roles "api", "jobs"/);
  });

  it('an empty list is a startup error, not "all roles"', () => {
    for (const v of ['', ' ', ',', ' , ,']) {
      const problems = problemsOf({ TASTELOOP_ROLES: v });
      expect(problems, JSON.stringify(v)).toHaveLength(1);
      expect(problems[0]).toMatch(/^TASTELOOP_ROLES: expected at least one of gateway, worker, web/);
    }
  });

  it('is reported together with the other bad variables', () => {
    const problems = problemsOf({ TASTELOOP_ROLES: 'nope', PORT: 'eighty' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['PORT', 'TASTELOOP_ROLES']);
  });
});

describe('surfaces per role', () => {
  const discord = { DISCORD_TOKEN: 'x', DISCORD_APPLICATION_ID: '1' };
  const plan = (env: Record<string, string>) => planSurfaces(loadConfig(env));

  it('all roles: every configured surface, the playground by default', () => {
    expect(plan({})).toEqual({ here: ['playground'], elsewhere: [] });
    expect(plan({ ...discord, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }).here).toEqual(['discord', 'slack', 'playground']);
  });

  it('PLAYGROUND=off with no platform configured starts nothing (no playground fallback)', () => {
    expect(plan({ PLAYGROUND: 'off' })).toEqual({ here: [], elsewhere: [] });
  });

  it('gateway: Discord and Slack Socket Mode; web: the playground and Slack HTTP; worker: none', () => {
    const socket = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' };
    const http = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };
    expect(plan({ ...discord, ...socket, TASTELOOP_ROLES: 'gateway' })).toEqual({
      here: ['discord', 'slack'],
      elsewhere: [{ surface: 'playground', role: 'web' }],
    });
    expect(plan({ ...discord, ...http, TASTELOOP_ROLES: 'gateway' }).here).toEqual(['discord']);
    expect(plan({ ...discord, ...http, TASTELOOP_ROLES: 'web' })).toEqual({
      here: ['slack', 'playground'],
      elsewhere: [{ surface: 'discord', role: 'gateway' }],
    });
    expect(plan({ ...discord, ...http, TASTELOOP_ROLES: 'worker' }).here).toEqual([]);
  });
});
