import type { MadeForYou } from '../src/core/made-for-you';
import { openTestCore } from './helpers/core';
import { openSlackHarness } from './helpers/slack-harness';
import { platformContract, type AdapterHarness } from './platform-contract';

platformContract(
  'slack (real Bolt HTTPReceiver + WebClient against the fake Slack API, real core on PGlite)',
  async (): Promise<AdapterHarness> => {
    const core = await openTestCore();
    const h = await openSlackHarness({ services: core.app.services, db: core.app.database.db, rating: core.rating });
    return {
      ...h,
      madeForYouTick: async () => void (await (core.app.services.madeForYou as MadeForYou).runDue()),
      close: async () => {
        await h.close();
        await core.close();
      },
    };
  },
);
