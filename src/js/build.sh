#!/usr/bin/env bash
# src/js/build.sh — builds the npm package into dist/: the module (both
# flavours of glue, one .wasm) in release mode, the package's ES modules and
# their CommonJS copy, and the type declarations.
# Run by `npm pack` (prepack) and by the tests; needs the toolchain that
# scripts/toolchain.sh installs and the npm dev dependencies (npm ci).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/toolchain.sh
# Checked before anything is built or dist/ is removed (used by the CommonJS copy below).
if [ ! -d node_modules/esbuild ]; then
  echo "src/js/build.sh: esbuild is missing: run npm ci (it is a dev dependency)" >&2
  exit 1
fi

dir=build/wasm-release
# One build at a time in this folder (tests and npm pack may start it together).
mkdir -p build
exec 9> build/.js-build.lock
flock 9
emcmake cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release > /dev/null 2> >(grep -v "^configure: " >&2)
# Only errors and warnings are shown; a failed build stops here (the last
# good module would otherwise go into dist/ as if it were this one).
log="$dir/module-build.log"
if ! cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" --target gort_js_node gort_js_web > "$log" 2>&1; then
  grep -iE "error|warning" "$log" >&2 || cat "$log" >&2
  echo "src/js/build.sh: the module did not build" >&2
  exit 1
fi
grep -iE "error|warning" "$log" >&2 || true
test -f "$dir/src/js/gort/node/gort.wasm" -a -f "$dir/src/js/gort/web/gort.wasm"

# The new dist/ is made beside the old one and swapped in at the end: tests
# that run while npm pack rebuilds it never see it half made.
next=build/dist-next
rm -rf "$next"
mkdir -p "$next"/wasm/node "$next"/wasm/web
for f in src/js/*.js src/js/*.d.ts; do
  case "$(basename "$f")" in lib.js|pre.js) continue ;; esac
  cp "$f" "$next"/
done
cp "$dir"/src/js/gort/node/gort.js "$dir"/src/js/gort/node/gort.worker.js "$dir"/src/js/gort/node/gort.wasm \
   "$dir"/src/js/gort/node/package.json "$next"/wasm/node/
cp "$dir"/src/js/gort/web/gort.mjs "$dir"/src/js/gort/web/gort.worker.js "$dir"/src/js/gort/web/gort.wasm "$next"/wasm/web/

# The CommonJS copy of the Node entry points, for require('gort') and
# require('gort/worker') (package.json's "require" conditions): esbuild (a dev
# dependency) turns each ES module above into a .cjs file beside it
# (build-cjs.mjs). A program that both imports and requires the package loads
# two copies of every module (the dual-package hazard): instanceof does not
# hold between them (a ChannelClosedError thrown by one copy is not an
# instance of the other's), and a channel of one is refused by the other's
# select(). Handles (rt.handle, ch.handle) are plain data and cross freely.
node src/js/build-cjs.mjs "$next"
# Their types: the same declarations as .d.cts files, which TypeScript reads
# as CommonJS, as the "types" conditions under "require" name them (a .d.ts
# in this "type": "module" package would declare an ES module, which
# TypeScript does not let a CommonJS file require under module node16).
cp src/js/index.d.ts "$next"/index.d.cts
sed "s#from './index.js'#from './index.cjs'#" src/js/worker.d.ts > "$next"/worker.d.cts
if grep -q "from './index.js'" "$next"/worker.d.cts || ! grep -q "from './index.cjs'" "$next"/worker.d.cts; then
  echo "src/js/build.sh: worker.d.ts no longer imports from './index.js' the way dist/worker.d.cts is made from it" >&2
  exit 1
fi
rm -rf build/dist-old
if [ -d dist ]; then mv dist build/dist-old; fi
mv "$next" dist
rm -rf build/dist-old
echo "built dist/"
