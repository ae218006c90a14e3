/**
 * `npm run bench`: runs every benchmark in its own process (so one's heap does not skew another's
 * memory figures), streams their human-readable output, and prints one combined JSON object as the
 * last stdout line: { "<bench>": <that bench's JSON>, ... }.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BENCHES = ['scorer', 'loop', 'reconcile', 'discord-rest', 'startup'] as const;

function runBench(name: string, args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, `${name}.ts`), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench:${name} exited with code ${code}`));
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`bench:${name} did not end with a JSON line`));
      }
    });
  });
}

// Each benchmark has its own flags; one flag for all of them would be unknown to most.
if (process.argv.length > 2) {
  console.error(
    `error: npm run bench takes no flags; give them to one benchmark, e.g. npm run bench:reconcile -- --seed 2 (${BENCHES.map((b) => `bench:${b}`).join(', ')})`,
  );
  process.exit(2);
}
const results: Record<string, unknown> = {};
for (const name of BENCHES) {
  process.stderr.write(`\n== bench:${name}\n`);
  results[name] = await runBench(name, []);
}
console.log(JSON.stringify(results));
