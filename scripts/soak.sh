#!/usr/bin/env bash
# scripts/soak.sh — the soak program (scripts/soak.c) natively under ASan and
# UBSan and as debug wasm under Node, and the JavaScript parties' soak
# (scripts/soak.mjs: the npm package's main thread, workers and goroutines on
# the same channels), all at once (`npm run soak`):
#
#   scripts/soak.sh [--minutes N | --seconds N] [--native | --wasm | --js]...
#
# Each prints a line a second (jobs, goroutines, heap, cycles, the longest
# pause) into build/soak/{native,wasm,js}.log; the script fails when any
# program reports a loss, a leak or a stall, or does not end in time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh

seconds=60
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) seconds=$(( $2 * 60 )); shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --native) variants+=(native); shift ;;
    --wasm) variants+=(wasm); shift ;;
    --js) variants+=(js); shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#variants[@]} -gt 0 ] || variants=(native wasm js)

builds=()
for v in "${variants[@]}"; do
  case "$v" in
    native) builds+=(native-asan) ;;
    wasm) builds+=(wasm-debug) ;;
    js)
      # The package (dist/), rebuilt when a source of it is newer.
      if [ ! -f dist/worker.node.js ] || [ -n "$(find src/js -newer dist/worker.node.js -print -quit)" ]; then
        src/js/build.sh >/dev/null
      fi ;;
  esac
done
[ ${#builds[@]} -eq 0 ] || scripts/build.sh "${builds[@]}" >/dev/null
mkdir -p build/soak

# A run that outlives its time by this much has stalled for good.
grace=120
pids=()
for v in "${variants[@]}"; do
  log="build/soak/$v.log"
  if [ "$v" = native ]; then
    ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0 UBSAN_OPTIONS=halt_on_error=1 \
      timeout $(( seconds + grace )) build/native-asan/gort_soak --seconds "$seconds" >"$log" 2>&1 &
  elif [ "$v" = wasm ]; then
    timeout $(( seconds + grace )) node build/wasm-debug/gort_soak.js --seconds "$seconds" >"$log" 2>&1 &
  else
    timeout $(( seconds + grace )) node scripts/soak.mjs --seconds "$seconds" >"$log" 2>&1 &
  fi
  pids+=($!)
  echo "soak: $v for ${seconds}s ($log)"
done

status=0
for i in "${!variants[@]}"; do
  v=${variants[$i]}
  if wait "${pids[$i]}"; then
    echo "soak: $v: $(grep '^soak: done' "build/soak/$v.log")"
  else
    status=1
    echo "soak: $v FAILED:" >&2
    grep -v '^Pthread' "build/soak/$v.log" | tail -15 >&2
  fi
done
exit $status
