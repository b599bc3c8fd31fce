// build-cjs.mjs — run by build.sh: writes the CommonJS copy of the package's
// Node entry points into dist/ (dist/index.node.cjs for require('gort'),
// dist/worker.node.cjs for require('gort/worker')), made by esbuild from the
// same ES modules that dist/ holds as they are. Node 18, and Node 20 before
// 20.19, cannot require() an ES module.
//
// Each module becomes one .cjs file of the same name beside the ES module
// (runtime.js -> runtime.cjs), and its imports of the package's other modules
// become require() calls of their .cjs copies. One bundle per entry point
// would give require('gort') and require('gort/worker') two copies of every
// class (Channel, the errors), and instanceof would fail between them.
//
// Dual-package hazard, which this copy does not remove: a program that loads
// the package both ways (import in one file, require in another) has two
// instances of every module, so instanceof does not hold across them (an
// error thrown by the CommonJS copy is not an instance of the ES module
// copy's ChannelClosedError), and objects of one copy are foreign to the
// other (the ES module's select() refuses a channel made through require).
// Handles (rt.handle, ch.handle) are plain data and cross between the two.
//
// import.meta does not exist in CommonJS: every use of import.meta.url
// becomes the file URL of the .cjs file (from __filename), which sits in the
// same folder as the ES module it was made from, so `new URL('./wasm/node/',
// import.meta.url)` and createRequire(import.meta.url) name the same files
// in both copies. The Emscripten glue (dist/wasm/node/gort.js, already
// CommonJS) is loaded at run time through that require and is not bundled.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const srcDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(srcDir, '../..');
// The folder being built (build.sh builds a fresh one beside dist/ and swaps it in).
const distDir = resolve(process.argv[2] ?? join(repoDir, 'dist'));
const ENTRIES = ['index.node.js', 'worker.node.js'];
const IMPORT_META_URL = '__gort_import_meta_url';

// esbuild's inject: a file whose export replaces the identifier that the
// define below puts where import.meta.url was; bundled only into the files
// that use it.
const shimPath = join(srcDir, 'cjs-import-meta.mjs');

/**
 * Keeps every relative import of a package module external, as a require of
 * its .cjs copy, and records which modules were imported so that they are
 * converted too.
 */
function siblingsAsCjs(found) {
  return {
    name: 'gort-siblings-as-cjs',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const file = resolve(args.resolveDir, args.path);
        if (dirname(file) !== srcDir || !file.endsWith('.js') || !existsSync(file)) {
          return { errors: [{ text: `gort: ${args.importer} imports ${args.path}, which is not a module of src/js/` }] };
        }
        const name = file.slice(srcDir.length + 1);
        found.add(name);
        return { path: `./${name.replace(/\.js$/, '.cjs')}`, external: true };
      });
    },
  };
}

const converted = new Set();
let todo = ENTRIES;
while (todo.length > 0) {
  const found = new Set();
  await esbuild.build({
    // The files' comments name their sources relative to this, whatever the cwd.
    absWorkingDir: repoDir,
    entryPoints: todo.map((name) => join(srcDir, name)),
    outbase: srcDir,
    outdir: distDir,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node18',
    // Class names are API: an error's name is new.target.name.
    keepNames: true,
    // ES modules are strict code; a CommonJS file is strict only when it says so.
    banner: { js: '"use strict";' },
    define: { 'import.meta.url': IMPORT_META_URL },
    inject: [shimPath],
    plugins: [siblingsAsCjs(found)],
    logLevel: 'warning',
  });
  for (const name of todo) converted.add(name);
  todo = [...found].filter((name) => !converted.has(name));
}
console.log(`built the CommonJS copy: ${[...converted].map((n) => n.replace(/\.js$/, '.cjs')).sort().join(' ')}`);
