// A wasm program's exit after main returns (src/prim/wasm/exit_lib.js): under
// load, main's thread used to check its stack cookie after the exiting thread
// had freed its stack, and the program aborted with 'Stack cookie has been
// overwritten' although main had returned 0. Two programs at a time, as the
// race needs a loaded machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTest } from './wasm_program.mjs';

const ROUNDS = 12;
const AT_ONCE = 2;

test('wasm: programs exit cleanly after main returns, two at a time', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const outputs = await Promise.all(Array.from({ length: AT_ONCE }, () =>
      runTest('chan_async_waiters').catch((err) =>
        ({ stdout: err.stdout ?? '', stderr: `${err.stderr ?? ''}\n(exit ${err.code})` }))));
    for (const { stdout, stderr } of outputs) {
      assert.match(stdout, /^1 passed, 0 failed$/m, stdout + stderr);
      assert.doesNotMatch(stdout + stderr, /Aborted|Stack cookie|exit \d/, stdout + stderr);
    }
  }
});
