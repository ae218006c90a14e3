// Worker-thread bootstrap of runPiaaProtocolParallel (parallel.ts): worker threads do not get the parent's
// tsx loader in Node 20, so this plain-JS entry registers it and then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
