#!/usr/bin/env bash
# scripts/test.sh — the whole test suite (`npm test`): installs missing tools,
# builds gort natively under AddressSanitizer+UBSan and ThreadSanitizer, as
# wasm and as the npm package (dist/), runs the C tests natively (ctest) and as
# wasm, and the package's tests, under `node --test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh

# The browser tests drive Debian's Chromium through playwright-core; the
# package's build needs esbuild (its CommonJS copy) and the tests typescript
# (its declarations): all are installed when missing.
[ -x /usr/bin/chromium ] || [ -n "${GORT_CHROMIUM:-}" ] || gort_apt_install chromium
for dev in playwright-core esbuild typescript; do
  if [ ! -d "node_modules/$dev" ]; then npm ci --no-audit --no-fund; break; fi
done

scripts/build.sh native-asan native-tsan wasm-debug
src/js/build.sh

echo "== native tests (ASan + UBSan)"
ctest --test-dir build/native-asan --output-on-failure -j 2

# ThreadSanitizer cannot map its shadow memory under the kernel's widest
# address randomization; running without ASLR is the documented remedy.
echo "== native tests (TSan)"
if setarch "$(uname -m)" -R true 2>/dev/null; then
  setarch "$(uname -m)" -R ctest --test-dir build/native-tsan --output-on-failure -j 2
else
  ctest --test-dir build/native-tsan --output-on-failure -j 2
fi

echo "== fuzz targets (libFuzzer, ASan + UBSan): their corpora, then seconds each; a 1-minute soak"
scripts/fuzz.sh --check --seconds 5
scripts/soak.sh --minutes 1

echo "== wasm and JS package tests (node --test)"
node --test tests/

# The benchmark programs (gort's, as built above, and their Go peers) must not
# break unseen: one small workload per area, once, quick; no timing asserted.
echo "== benchmark programs (npm run bench, quick: one small workload per area)"
node bench/run.mjs --quick --runs=1 --debug-builds --out=build/bench-smoke \
  pingpong spawn alloc binary_trees_d14 syncmap cores_contended js_roundtrip js_codec js_browser page_frames
