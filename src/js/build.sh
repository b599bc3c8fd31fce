#!/usr/bin/env bash
# src/js/build.sh — builds the npm package into dist/: the module (both
# flavours of glue, one .wasm) in release mode, and the package's ES modules.
# Run by `npm pack` (prepack) and by the tests; needs the toolchain that
# scripts/toolchain.sh installs.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/toolchain.sh

dir=build/wasm-release
# One build at a time in this folder (tests and npm pack may start it together).
mkdir -p build
exec 9> build/.js-build.lock
flock 9
emcmake cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release > /dev/null 2> >(grep -v "^configure: " >&2)
cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" --target gort_js_node gort_js_web 2>&1 |
  grep -v "Asyncify removelist contained a non-existing function" | grep -iE "error|warning" >&2 || true
test -f "$dir/src/js/node/gort.wasm" -a -f "$dir/src/js/web/gort.wasm"

rm -rf dist
mkdir -p dist/wasm/node dist/wasm/web
for f in src/js/*.js src/js/*.d.ts; do
  case "$(basename "$f")" in lib.js|pre.js) continue ;; esac
  cp "$f" dist/
done
cp "$dir"/src/js/node/gort.js "$dir"/src/js/node/gort.worker.js "$dir"/src/js/node/gort.wasm \
   "$dir"/src/js/node/package.json dist/wasm/node/
cp "$dir"/src/js/web/gort.mjs "$dir"/src/js/web/gort.worker.js "$dir"/src/js/web/gort.wasm dist/wasm/web/
echo "built dist/"
