// What the node:test files share about the wasm build of the C tests
// (build/wasm-debug by scripts/test.sh): where it is, and how to run one of
// its tests in a Node process of its own.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const program = fileURLToPath(new URL('../build/wasm-debug/gort_tests.js', import.meta.url));

if (!existsSync(program)) {
  throw new Error(`${program} is missing: build it with scripts/build.sh wasm-debug`);
}

// V8's default, lazy and tiered, compilation. A gort program asks V8 to
// compile its module whole at the top tier (src/prim/wasm/node_pre.js), which
// keeps compilation out of the collector's pauses (the benchmarks measure
// those); for this 4.5 MB debug binary that is seconds of compiler threads in
// every test process, which the test of an idle runtime's CPU would count.
// Flags given on the command line are left as they are.
const V8_DEFAULT_COMPILATION = ['--wasm-lazy-compilation', '--wasm-dynamic-tiering'];

const execFileAsync = promisify(execFile);

// Runs the C test `name`; resolves with its output, rejects as execFile does
// (the error carries stdout, stderr and the exit code).
export function runTest(name, options = {}) {
  return execFileAsync(process.execPath, [...V8_DEFAULT_COMPILATION, program, name],
    { encoding: 'utf8', ...options });
}
