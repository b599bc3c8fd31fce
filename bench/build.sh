#!/usr/bin/env bash
# bench/build.sh — builds what `npm run bench` measures: gort's benchmark
# programs, optimized, natively (build/bench-native) and as wasm
# (build/bench-wasm), and the Go peers of bench/go natively and as js/wasm
# (build/bench-go/native, build/bench-go/wasm). Debian's golang-go is
# installed when no `go` is on PATH. When Go cannot be had, the reason is
# written to build/bench-go/ABSENT and the bench's Go columns say so; gort's
# programs are built either way. --go-only builds only the Go peers (npm
# test runs gort's programs as it builds them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh

jobs=$(nproc 2>/dev/null || echo 2)
targets=(gort_bench_malloc gort_bench_proc gort_bench_chan gort_bench_gc gort_bench_syncmap)

build_gort() {
  cmake -S . -B build/bench-native -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/bench-native -j "$jobs" --target "${targets[@]}" >/dev/null
  # emcmake echoes its configure line on stderr; keep errors only.
  emcmake cmake -S . -B build/bench-wasm -DCMAKE_BUILD_TYPE=Release > /dev/null 2> >(grep -v "^configure: " >&2)
  cmake --build build/bench-wasm -j "$jobs" --target "${targets[@]}" 2>&1 >/dev/null |
    grep -v -e "Asyncify removelist contained a non-existing function" -e "GLOB mismatch" >&2 || true
  for t in "${targets[@]}"; do
    if [ ! -x "build/bench-native/$t" ] || [ ! -f "build/bench-wasm/$t.js" ]; then
      echo "bench/build.sh: $t was not built" >&2
      exit 1
    fi
  done
}
[ "${1:-}" = --go-only ] || build_gort

out=build/bench-go
rm -rf "$out/native" "$out/wasm" "$out/ABSENT"
mkdir -p "$out"
if ! command -v go >/dev/null 2>&1; then
  echo "bench: installing golang-go (the Go peers)" >&2
  if ! (gort_apt_install golang-go) || ! command -v go >/dev/null 2>&1; then
    echo "golang-go could not be installed: no go on PATH" > "$out/ABSENT"
    echo "bench: $(cat "$out/ABSENT"); the Go columns stay empty" >&2
    exit 0
  fi
fi
# One main package per workload; the runner finds them by directory name.
(cd bench/go && go build -o "../../$out/native/" ./...)
(cd bench/go && GOOS=js GOARCH=wasm go build -o "../../$out/wasm/" ./...)
go version > "$out/VERSION"
# Go's loader for Node is CommonJS; the package's "type": "module" would make it ESM.
cp "$(go env GOROOT)/misc/wasm/wasm_exec_node.js" "$(go env GOROOT)/misc/wasm/wasm_exec.js" "$out/"
echo '{ "type": "commonjs" }' > "$out/package.json"
