#!/usr/bin/env bash
# scripts/fuzz.sh — runs gort's fuzz targets (`npm run fuzz`): the libFuzzer
# targets of fuzz/ (built natively with clang in build/fuzz, under ASan and
# UBSan with its integer and alignment checks) and the seeded fuzzer of the
# npm package's codecs (tests/codec_fuzz.test.mjs under node --test).
#
#   scripts/fuzz.sh [--seconds N] [--check] [TARGET...]
#
#   --seconds N   how long each target runs (default 60)
#   --check       the bounded run of `npm test`: every seed input of the
#                 corpus replays, then N seconds of fuzzing from a scratch
#                 corpus; the libFuzzer targets only (the codec fuzzer runs
#                 with the other node tests)
#   TARGET        chan_select, gc, context_syncmap, codec (default: all)
#
# New inputs worth keeping land in build/fuzz/corpus/TARGET (merge them into
# fuzz/corpus/TARGET with `build/fuzz/fuzz/fuzz_TARGET -merge=1 fuzz/corpus/TARGET
# build/fuzz/corpus/TARGET`); an input that fails is written to
# build/fuzz/artifacts/ and the script fails. Such an input goes into
# fuzz/corpus/TARGET with a regression test in tests/test_fuzz_found.c.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh

seconds=60
check=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#--seconds=}"; shift ;;
    --minutes) seconds=$(( $2 * 60 )); shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
native_targets=(chan_select gc context_syncmap)
if [ ${#targets[@]} -eq 0 ]; then
  targets=("${native_targets[@]}")
  [ $check = 1 ] || targets+=(codec)
fi

# libFuzzer ships with clang's runtime libraries (libclang-rt-14-dev on
# Debian 12).
clang_rt_ok() {
  command -v clang >/dev/null 2>&1 &&
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
      clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1
}
if ! clang_rt_ok; then
  echo "fuzz: installing clang and its runtime libraries"
  gort_apt_install clang
  clang_rt_ok || gort_apt_install "libclang-rt-$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p')-dev"
fi

dir=build/fuzz
if [[ " ${targets[*]} " != " codec " ]]; then
  cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DGORT_FUZZ=ON -DGORT_BUILD_TESTS=OFF >/dev/null
  cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
fi
mkdir -p "$dir/artifacts"

status=0
for t in "${targets[@]}"; do
  if [ "$t" = codec ]; then
    [ -f dist/index.node.js ] || src/js/build.sh
    echo "fuzz: codec for ${seconds}s per test (tests/codec_fuzz.test.mjs)"
    GORT_FUZZ_SECONDS="$seconds" GORT_FUZZ_SEED="${GORT_FUZZ_SEED:-$RANDOM$RANDOM}" \
      node --test tests/codec_fuzz.test.mjs || status=1
    continue
  fi
  bin="$dir/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  seeds="fuzz/corpus/$t"
  if [ $check = 1 ]; then
    scratch=$(mktemp -d)
  else
    scratch="$dir/corpus/$t"
    mkdir -p "$scratch"
  fi
  log="$dir/fuzz_$t.log"
  echo "fuzz: $t for ${seconds}s ($(ls "$seeds" | wc -l) seed inputs)"
  if "$bin" "$scratch" "$seeds" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 \
      -artifact_prefix="$dir/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+ +DONE' "$log" | tail -2 | sed 's/^/    /'
  else
    status=1
    echo "fuzz: $t FAILED; the input and the report:" >&2
    grep -E 'Test unit written to|^fuzz: |runtime error|ERROR: ' "$log" | head -5 >&2
    echo "    (the whole log: $log)" >&2
  fi
  [ $check = 1 ] && rm -rf "$scratch"
done
exit $status
