/**
 * `npm run commands:deploy`: registers (bulk-overwrites) the slash commands from commands/ — to
 * DISCORD_GUILD_ID when set (instant), else globally. The bot does the same on every connect.
 */
import { REST } from 'discord.js';
import { loadConfig } from '../../config';
import { createLogger } from '../../log';
import { discordRestOptions, registerCommands } from './adapter';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  if (!config.DISCORD_TOKEN || !config.DISCORD_APPLICATION_ID) {
    log.error('Set DISCORD_TOKEN and DISCORD_APPLICATION_ID to deploy the Discord commands.');
    process.exitCode = 1;
    return;
  }
  const rest = new REST(discordRestOptions(config)).setToken(config.DISCORD_TOKEN);
  const n = await registerCommands({ rest }, config.DISCORD_APPLICATION_ID, config.DISCORD_GUILD_ID);
  log.info({ commands: n, scope: config.DISCORD_GUILD_ID ? `guild ${config.DISCORD_GUILD_ID}` : 'global' }, 'discord commands deployed');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
