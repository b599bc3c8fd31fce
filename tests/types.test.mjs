// The package's TypeScript declarations (dist/, built by src/js/build.sh),
// checked by tsc (typescript, a dev dependency) the way a user's strict
// project sees them: tests/types/usage.ts uses every declaration of 'gort'
// and 'gort/worker' and holds misuse they must reject (@ts-expect-error),
// tests/types/require.cts the types of require(), and a file made here the
// heap map reader's handle and openHeapMap. They resolve the package
// through its own name, so the "types" conditions of package.json's exports
// are what is checked. A file made here also holds the declarations' value
// exports to what each JS entry point really exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
if (!existsSync(tsc)) throw new Error('typescript is missing: run npm ci (it is a dev dependency)');
const declarations = ['index.d.ts', 'worker.d.ts', 'index.d.cts', 'worker.d.cts'];
for (const name of declarations) {
  const file = fileURLToPath(new URL(`../dist/${name}`, import.meta.url));
  if (!existsSync(file)) throw new Error(`${file} is missing: build it with src/js/build.sh`);
}

/** The names of the values a module exports, sorted. */
const namesOf = (module) => Object.keys(module).filter((k) => k !== 'default' && k !== '__esModule').sort();

/**
 * The value exports of an entry point, the same from every file its
 * "exports" name: Node's ES module and CommonJS copy, and the browser's.
 */
async function exportsOf(subpath, browserFile) {
  const esm = namesOf(await import(`gort${subpath}`));
  const cjs = namesOf(createRequire(import.meta.url)(`gort${subpath}`));
  const browser = namesOf(await import(new URL(`../dist/${browserFile}`, import.meta.url)));
  assert.deepEqual(cjs, esm, `require('gort${subpath}') and import differ`);
  assert.deepEqual(browser, esm, `the browser's and Node's 'gort${subpath}' differ`);
  return esm;
}

/**
 * TypeScript that compiles only when the value exports declared for the
 * module imported as `binding` are exactly `names`; an error names what is
 * missing or extra.
 */
function exportsCheck(binding, names) {
  const union = names.map((n) => `'${n}'`).join(' | ');
  return [
    `type ${binding}Names = ${union};`,
    `// What the JS exports and the declarations lack (never when none).`,
    `export const ${binding}Undeclared: [Exclude<${binding}Names, keyof typeof ${binding}>] extends [never] ? true : Exclude<${binding}Names, keyof typeof ${binding}> = true;`,
    `// What the declarations promise and the JS does not export.`,
    `export const ${binding}NotExported: [Exclude<keyof typeof ${binding}, ${binding}Names>] extends [never] ? true : Exclude<keyof typeof ${binding}, ${binding}Names> = true;`,
  ].join('\n');
}

test('tsc accepts the typed usage, rejects the misuse, and the declared exports are the real ones', async () => {
  const index = await exportsOf('', 'index.browser.js');
  const worker = await exportsOf('/worker', 'worker.browser.js');
  assert.ok(index.includes('start') && !worker.includes('start'), 'gort/worker should export all of gort but start');

  // Generated files go in build/ (inside the package, so that 'gort' still
  // resolves to the package itself), in a folder of this run's own.
  await mkdir(new URL('../build', import.meta.url), { recursive: true });
  const dir = await mkdtemp(fileURLToPath(new URL('../build/types-test-', import.meta.url)));
  try {
    await writeFile(`${dir}/exports.ts`, [
      `import * as index from 'gort';`,
      `import * as worker from 'gort/worker';`,
      exportsCheck('index', index),
      exportsCheck('worker', worker),
    ].join('\n') + '\n');
    await writeFile(`${dir}/exports.cts`, [
      `import index = require('gort');`,
      `import worker = require('gort/worker');`,
      exportsCheck('index', index),
      exportsCheck('worker', worker),
    ].join('\n') + '\n');
    // A heap map reader's handle crosses to a worker, whose openHeapMap reads
    // the same heap: only such a handle is taken, from either entry point.
    await writeFile(`${dir}/heapmap.ts`, [
      `import { start, openHeapMap, type HeapMapHandle, type HeapMapReader } from 'gort';`,
      `import { openHeapMap as openInWorker } from 'gort/worker';`,
      `export async function readElsewhere(): Promise<number> {`,
      `  const rt = await start();`,
      `  const handle: HeapMapHandle = rt.heapMap().handle;`,
      `  const memory: WebAssembly.Memory = handle.memory;`,
      `  const header: number | undefined = handle.layout['heapmapHeader'];`,
      `  const reader: HeapMapReader = openInWorker(structuredClone(handle));`,
      `  // @ts-expect-error a runtime's handle is not a heap map reader's`,
      `  openHeapMap(rt.handle);`,
      `  // @ts-expect-error the layout is read only`,
      `  handle.layout['heapmapHeader'] = 0;`,
      `  return reader.read().arenas.length + memory.buffer.byteLength + (header ?? 0) + openHeapMap(handle).pageSize;`,
      `}`,
    ].join('\n') + '\n');
    await writeFile(`${dir}/tsconfig.json`, JSON.stringify({
      extends: '../../tests/types/tsconfig.json',
      include: ['../../tests/types/*.ts', '../../tests/types/*.cts', './exports.ts', './exports.cts', './heapmap.ts'],
    }, null, 2));

    const { code, output } = await new Promise((resolve) => {
      execFile(process.execPath, [tsc, '-p', `${dir}/tsconfig.json`, '--listFiles'], { cwd: repo, timeout: 120_000 },
        (err, stdout, stderr) => resolve({ code: err ? err.code ?? err.signal : 0, output: stdout + stderr }));
    });
    const errors = output.split('\n').filter((line) => /error TS\d+/.test(line) || /^\s/.test(line)).join('\n');
    assert.equal(code, 0, `tsc failed:\n${errors || output}`);
    // The files that 'gort' and 'gort/worker' resolved to: the ES module
    // declarations for import, the CommonJS ones for require.
    const files = output.split('\n').map((line) => line.trim().replaceAll('\\', '/'));
    for (const name of declarations) {
      assert.ok(files.some((f) => f.endsWith(`/dist/${name}`)), `tsc did not read dist/${name}`);
    }
    for (const name of ['tests/types/usage.ts', 'tests/types/require.cts', 'exports.ts', 'exports.cts', 'heapmap.ts']) {
      assert.ok(files.some((f) => f.endsWith(`/${name}`)), `tsc did not check ${name}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
