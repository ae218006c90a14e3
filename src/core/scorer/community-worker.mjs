// Worker-thread bootstrap of CommunityThread (community-thread.ts). Worker threads do not get the
// parent's tsx loader in Node 20 (not even with `--import tsx` in their execArgv), so this plain-JS
// entry registers it and then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./community-worker.ts');
