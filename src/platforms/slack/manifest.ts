/**
 * The Slack app manifest, generated from the shared command declarations (commands/), so Slack's
 * slash commands never drift from Discord's and the playground's.
 *
 *   npm run slack:manifest                                  # deploy/slack-manifest.yml for https://tasteloop.example.com
 *   npm run slack:manifest -- --url https://bot.example.org # your public base URL (HTTP mode)
 *   npm run slack:manifest -- --socket                      # Socket Mode: no request URLs
 *   npm run slack:manifest -- --stdout                      # print instead of writing the file
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../../commands/index';
import type { CommandDefinition } from '../../../commands/types';
import { SLACK_EVENTS_PATH } from './context';
import { PACKAGE_ROOT } from '../../runtime-files';

/** What the app calls, and why: nothing more (least privilege). */
export const SLACK_BOT_SCOPES = [
  'commands', // slash commands
  'chat:write', // posts, thread replies, progress edits (chat.update), ephemeral answers
  'files:write', // files.uploadV2 of the images
  'files:read', // files.info: which message carries an uploaded image (so reactions find it)
  'reactions:read', // reaction_added / reaction_removed events, and reactions.get when reconciling after a restart
  'reactions:write', // the :one: … :keycap_ten: rating reactions under each image
  'users:read', // users.info: reactions by other apps' bots are ignored
  'im:write', // conversations.open: private files (profile charts, a data export) go by direct message
  // conversations.replies / .history: after a crash, a run message that was posted but never recorded is
  // found by its event key (message metadata) instead of being posted twice (public / private channels).
  'channels:history',
  'groups:history',
] as const;

export const SLACK_BOT_EVENTS = ['reaction_added', 'reaction_removed'] as const;

export interface ManifestOptions {
  /** Public base URL Slack reaches the app at (HTTP mode), e.g. https://bot.example.org. */
  baseUrl?: string;
  socketMode?: boolean;
  name?: string;
}

export const DEFAULT_BASE_URL = 'https://tasteloop.example.com';

export function renderSlackManifest(opts: ManifestOptions = {}): string {
  const socket = Boolean(opts.socketMode);
  const requestUrl = `${(opts.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '')}${SLACK_EVENTS_PATH}`;
  const name = opts.name ?? 'Tasteloop';
  const q = (s: string) => JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
  const lines = [
    '# Generated from commands/ by `npm run slack:manifest` — do not edit by hand.',
    '# Create the app at https://api.slack.com/apps → "Create New App" → "From an app manifest".',
    '_metadata:',
    '  major_version: 1',
    '  minor_version: 1',
    'display_information:',
    `  name: ${q(name)}`,
    `  description: ${q('Learns your visual taste from 1–10 ratings and optimizes image prompts for you.')}`,
    `  background_color: ${q('#2d2a4a')}`,
    'features:',
    '  bot_user:',
    `    display_name: ${q(name)}`,
    '    always_online: true',
    '  slash_commands:',
    ...COMMANDS.flatMap((c) => slashCommand(c, socket ? undefined : requestUrl, q)),
    'oauth_config:',
    '  scopes:',
    '    bot:',
    ...SLACK_BOT_SCOPES.map((s) => `      - ${s}`),
    'settings:',
    '  event_subscriptions:',
    ...(socket ? [] : [`    request_url: ${q(requestUrl)}`]),
    '    bot_events:',
    ...SLACK_BOT_EVENTS.map((e) => `      - ${e}`),
    '  interactivity:',
    '    is_enabled: false',
    '  org_deploy_enabled: false',
    `  socket_mode_enabled: ${socket}`,
    '  token_rotation_enabled: false',
  ];
  return `${lines.join('\n')}\n`;
}

function slashCommand(c: CommandDefinition, url: string | undefined, q: (s: string) => string): string[] {
  const hint = c.usage.replace(new RegExp(`^/${c.name}\\s*`), '');
  return [
    `    - command: ${q(`/${c.name}`)}`,
    ...(url ? [`      url: ${q(url)}`] : []),
    `      description: ${q(c.description)}`,
    ...(hint ? [`      usage_hint: ${q(hint)}`] : []),
    // Mentions arrive as <@U…|name>, so /profile user:@someone names a real person of the workspace.
    '      should_escape: true',
  ];
}

export const MANIFEST_PATH = path.join(PACKAGE_ROOT, 'deploy/slack-manifest.yml');

function main(argv: string[]): void {
  const arg = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const yml = renderSlackManifest({ baseUrl: arg('--url'), socketMode: argv.includes('--socket'), name: arg('--name') });
  if (argv.includes('--stdout')) {
    process.stdout.write(yml);
    return;
  }
  writeFileSync(MANIFEST_PATH, yml);
  console.log(`wrote ${path.relative(process.cwd(), MANIFEST_PATH)} (${COMMANDS.length} slash commands)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main(process.argv.slice(2));
