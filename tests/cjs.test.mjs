// require('gort') and require('gort/worker'): the CommonJS copy that
// src/js/build.sh makes with esbuild (dist/*.cjs), reached through the
// "require" conditions of package.json's exports. tests/cjs/main.cjs is a
// CommonJS program inside the package that requires it by its own name,
// starts a runtime, sends, receives and selects, has a CommonJS
// worker_threads worker attach, closes the runtime and must exit 0 by itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
for (const name of ['index.node.cjs', 'worker.node.cjs']) {
  const file = fileURLToPath(new URL(`../dist/${name}`, import.meta.url));
  if (!existsSync(file)) throw new Error(`${file} is missing: build it with src/js/build.sh`);
}

function runMain(nodeFlags) {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeFlags, 'tests/cjs/main.cjs'], { cwd: repo, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code ?? err.signal : 0, stdout, stderr }));
  });
}

test('a CommonJS program and a CommonJS worker use the package through require()', async () => {
  const { code, stdout, stderr } = await runMain([]);
  assert.equal(code, 0, `tests/cjs/main.cjs failed:\n${stdout}${stderr}`);
  assert.match(stdout, /gort from require: ok/);
});

// Node 20.19+ and 22.12+ can require() an ES module, Node 18 and older 20s
// cannot: turning that off here stands in for them (main.cjs also checks
// that require resolved to the .cjs files, not to the ES modules).
const canTurnOffRequireEsm = process.allowedNodeEnvironmentFlags.has('--experimental-require-module');
test('the same program where require() cannot load ES modules (as on Node 18)',
  { skip: !canTurnOffRequireEsm && 'this Node has no --no-experimental-require-module (it cannot require ES modules anyway)' },
  async () => {
    const { code, stdout, stderr } = await runMain(['--no-experimental-require-module']);
    assert.equal(code, 0, `tests/cjs/main.cjs failed:\n${stdout}${stderr}`);
    assert.match(stdout, /gort from require: ok/);
  });
