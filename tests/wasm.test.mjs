// The C tests of gort, built to wasm32 (build/wasm-debug by scripts/test.sh)
// and run under Node: one node:test test per C TEST(), each in its own Node
// process so that a crash names the test that caused it. Death tests must
// end their process with output that matches their pattern.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { program, runTest } from './wasm_program.mjs';

const TEST_TIMEOUT_MS = 10 * 60 * 1000;

const entries = execFileSync(process.execPath, [program, '--list'], { encoding: 'utf8' })
  .split('\n')
  .filter(Boolean)
  .map((line) => {
    const m = /^(\S+) death (.*)$/.exec(line);
    return m ? { name: m[1], death: new RegExp(m[2]) } : { name: line, death: null };
  });

assert.ok(entries.length > 0, 'the wasm test binary lists no tests');

const options = { maxBuffer: 64 * 1024 * 1024, timeout: TEST_TIMEOUT_MS };

for (const { name, death } of entries) {
  test(`wasm: ${name}`, { timeout: TEST_TIMEOUT_MS }, async () => {
    let output;
    try {
      output = await runTest(name, options);
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
