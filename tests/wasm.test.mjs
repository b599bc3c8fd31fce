// The C tests of gort, built to wasm32 (build/wasm-debug by scripts/test.sh)
// and run under Node: one node:test test per C TEST(), each in its own Node
// process so that a crash names the test that caused it. Death tests must
// end their process with output that matches their pattern.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const program = fileURLToPath(new URL('../build/wasm-debug/gort_tests.js', import.meta.url));
const run = promisify(execFile);
const TEST_TIMEOUT_MS = 10 * 60 * 1000;

if (!existsSync(program)) {
  throw new Error(`${program} is missing: build it with scripts/build.sh wasm-debug`);
}

const entries = execFileSync(process.execPath, [program, '--list'], { encoding: 'utf8' })
  .split('\n')
  .filter(Boolean)
  .map((line) => {
    const m = /^(\S+) death (.*)$/.exec(line);
    return m ? { name: m[1], death: new RegExp(m[2]) } : { name: line, death: null };
  });

assert.ok(entries.length > 0, 'the wasm test binary lists no tests');

const options = { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: TEST_TIMEOUT_MS };

// V8's default, lazy and tiered, compilation. A gort program asks V8 to
// compile its module whole at the top tier (src/prim/wasm/node_pre.js), which
// keeps compilation out of the collector's pauses (the benchmarks measure
// those); for this 4.5 MB debug binary that is seconds of compiler threads in
// every test process, which the test of an idle runtime's CPU would count.
// Flags given on the command line are left as they are.
const V8_DEFAULT_COMPILATION = ['--wasm-lazy-compilation', '--wasm-dynamic-tiering'];

for (const { name, death } of entries) {
  test(`wasm: ${name}`, { timeout: TEST_TIMEOUT_MS }, async () => {
    let output;
    try {
      output = await run(process.execPath, [...V8_DEFAULT_COMPILATION, program, name], options);
    } catch (err) {
      const text = `${err.stdout ?? ''}${err.stderr ?? ''}`;
      if (death) {
        assert.match(text, death, `${name} died, but not as expected:\n${text}`);
        return;
      }
      assert.fail(`${name} failed (exit ${err.code ?? err.signal}):\n${text}`);
    }
    if (death) assert.fail(`${name} should have ended the process:\n${output.stdout}${output.stderr}`);
    assert.match(output.stdout, /^1 passed, 0 failed$/m, output.stdout + output.stderr);
  });
}
