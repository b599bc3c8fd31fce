#!/usr/bin/env bash
# scripts/build.sh VARIANT... — configures and builds gort in build/VARIANT:
#   native-asan     debug, AddressSanitizer + UndefinedBehaviorSanitizer
#   native-tsan     debug, ThreadSanitizer
#   native-release  optimized, for benchmarks
#   wasm-debug      debug wasm (assertions, stack-overflow checks), for tests
#   wasm-release    optimized wasm, for benchmarks and the demo
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh

jobs=$(nproc 2>/dev/null || echo 2)
for variant in "$@"; do
  dir="build/$variant"
  case "$variant" in
    native-asan) args=(-DCMAKE_BUILD_TYPE=Debug -DGORT_SANITIZE=address,undefined) ;;
    native-tsan) args=(-DCMAKE_BUILD_TYPE=Debug -DGORT_SANITIZE=thread) ;;
    native-release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
    wasm-debug) args=(-DCMAKE_BUILD_TYPE=Debug) ;;
    wasm-release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
    *) echo "build.sh: unknown variant $variant" >&2; exit 2 ;;
  esac
  if [[ $variant == wasm-* ]]; then
    # emcmake echoes its configure line on stderr; keep errors only.
    emcmake cmake -S . -B "$dir" "${args[@]}" > /dev/null 2> >(grep -v "^configure: " >&2)
  else
    cmake -S . -B "$dir" "${args[@]}" >/dev/null
  fi
  cmake --build "$dir" -j "$jobs" >/dev/null
  echo "built $dir"
done
