// A project outside gort's tree, as the README tells a new user to make it:
// examples/module (a C file of two exported goroutines and its CMakeLists)
// copied into a scratch folder with gort beside it as gort/, plus a C program
// with main() linked by gort_wasm_program. Both are built with Debian's emcc
// through add_subdirectory(gort); the program runs under Node, the module is
// driven by the example's Node script and by its page in Chromium (a
// screenshot goes to build/screenshots/module-page.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serve } from './browser/server.mjs';
import { launchChromium, skipBrowser } from './browser/chromium.mjs';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const example = join(root, 'examples/module');
const screenshots = join(root, 'build/screenshots');
const BUILD_TIMEOUT_MS = 20 * 60 * 1000;
const RUN_TIMEOUT_MS = 60 * 1000;

if (!existsSync(join(root, 'dist/index.node.js'))) throw new Error('dist/ is missing: build it with src/js/build.sh');

// What the README tells users of Debian's emcc to set.
const env = { ...process.env, NODE_PATH: ['/usr/share/nodejs', process.env.NODE_PATH].filter(Boolean).join(':') };

const HELLO_C = `#include <stdio.h>
#include <gort/gort.h>

static void answer(void *arg) {
    int v = 42;
    gort_chan_send(arg, &v);
}

static void body(void *arg) {
    gort_chan *c = gort_chan_make_bytes(sizeof(int), 0);
    gort_go(answer, c);
    int v = 0;
    gort_chan_recv(c, &v, NULL);
    printf("received %d from goroutine\\n", v);
}

int main(void) { return gort_main(NULL, body, NULL); }
`;

let project;

before(async () => {
  project = mkdtempSync(join(tmpdir(), 'gort-module-'));
  cpSync(example, project, { recursive: true, filter: (src) => !src.includes(`${example}/build`) });
  symlinkSync(root, join(project, 'gort'));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(root, join(project, 'node_modules/gort')); // what npm install gort gives
  writeFileSync(join(project, 'hello.c'), HELLO_C);
  appendFileSync(join(project, 'CMakeLists.txt'),
    '\nadd_executable(hello hello.c)\ntarget_link_libraries(hello PRIVATE gort)\ngort_wasm_program(hello)\n');
  const build = join(project, 'build');
  await run('emcmake', ['cmake', '-S', project, '-B', build, '-DCMAKE_BUILD_TYPE=Release'], { env, timeout: BUILD_TIMEOUT_MS });
  await run('cmake', ['--build', build, '-j', '2'], { env, timeout: BUILD_TIMEOUT_MS, maxBuffer: 64 << 20 });
});

after(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

test('a program outside gort\'s tree links with gort_wasm_program and runs under Node', async () => {
  const { stdout } = await run(process.execPath, [join(project, 'build/hello.js')], { timeout: RUN_TIMEOUT_MS });
  assert.match(stdout, /^received 42 from goroutine$/m);
});

test('a module outside gort\'s tree (gort_wasm_module) is driven by the example\'s Node script', async () => {
  const { stdout } = await run(process.execPath, [join(project, 'main.mjs')], { timeout: RUN_TIMEOUT_MS });
  assert.equal(stdout.trim(), '9 words, 35 letters');
});

test('the same module in Chromium, from the example\'s page', { skip: skipBrowser }, async () => {
  const server = await serve(project, { folders: ['web', 'build/wordcount/web', 'node_modules/gort/dist'] });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 800, height: 360 } });
    const problems = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${server.origin}/web/index.html`);
    const result = page.locator('#result');
    await page.waitForFunction(() => document.querySelector('#result').textContent !== '…', null, { timeout: 30_000 });
    assert.equal(await result.textContent(), '9 words, 35 letters');
    await page.fill('#text', 'one two  three');
    await page.click('#go');
    await page.waitForFunction(() => document.querySelector('#result').textContent.startsWith('3 words'), null, { timeout: 10_000 });
    assert.equal(await result.textContent(), '3 words, 11 letters');
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'module-page.png') });
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
