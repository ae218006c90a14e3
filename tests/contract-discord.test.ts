import { openDiscordHarness } from './helpers/discord-harness';
import { platformContract } from './platform-contract';

platformContract('discord (real discord.js against the fake Discord, real core on PGlite)', () => openDiscordHarness());
