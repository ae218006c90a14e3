// Worker-thread bootstrap of the MobileNet embedder (mobilenet.ts). Worker threads do not get the
// parent's tsx loader in Node 20, so this plain-JS entry registers it and then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./mobilenet-worker.ts');
