import { openDiscordHarness } from './helpers/discord-harness';
import { platformContract } from './platform-contract';

// The whole contract again with the bot's REST going through `npm run discord:rest-proxy`, as in a
// multi-process deployment: interaction callbacks, image uploads (multipart), URL-encoded emoji routes,
// threads, the read-back — everything the bot sends to Discord passes the proxy.
platformContract('discord through the shared REST proxy (real discord.js → rest-proxy → fake Discord, real core on PGlite)', () =>
  openDiscordHarness({ restProxy: true }),
);
