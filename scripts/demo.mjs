// `npm start`: builds the optimized wasm target if needed and runs the demo
// program (scripts/demo.c) under Node: goroutines building trees on the gort
// heap, then the heap's and the scheduler's statistics and a map of the
// heap's first arena.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const program = `${root}build/wasm-release/gort_demo.js`;

execFileSync('bash', [`${root}scripts/build.sh`, 'wasm-release'], { stdio: 'inherit' });
if (!existsSync(program)) throw new Error(`${program} was not built`);
execFileSync(process.execPath, [program], { stdio: 'inherit' });
