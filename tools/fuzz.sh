#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer targets with clang and run each for N seconds.
#   bash tools/fuzz.sh [SECONDS] [TARGET...]     (default 60 s, all targets)
# New crashing inputs land in build-fuzz/findings/<target>/; copy them into
# tests/fuzz/corpus/<target>/ after fixing, so every build replays them.
# Long runs: bash tools/fuzz.sh 3600 log. An input that takes over 25 s is a
# finding too (a hang would otherwise stall CI).
# Environment: FUZZ_JOBS (build parallelism, default nproc), FUZZ_BUILD_DIR
# (default build-fuzz), FUZZ_NOBUILD=1 (run the binaries already built),
# FUZZ_RUNS=N (stop each target after N executions, or SECONDS if sooner):
#   FUZZ_RUNS=10000000 bash tools/fuzz.sh 1200 reco
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
B=${FUZZ_BUILD_DIR:-build-fuzz}
if [ "${FUZZ_NOBUILD:-0}" != 1 ]; then
  CC=clang cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOQ_FUZZ=ON -DOQ_OPENMP=OFF >/dev/null
  cmake --build "$B" -j "${FUZZ_JOBS:-$(nproc)}" >/dev/null
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in "${targets[@]}"; do
  work=$B/work/$t findings=$B/findings/$t
  rm -rf "$work" "$findings"; mkdir -p "$work" "$findings"
  cp tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  dict=(); [ -f tests/fuzz/"$t".dict ] && dict=(-dict=tests/fuzz/"$t".dict)
  [ -n "${FUZZ_RUNS:-}" ] && dict+=(-runs="$FUZZ_RUNS")
  echo "fuzz: $t for ${secs}s"
  "$B"/fuzz_"$t" "$work" "${dict[@]}" -max_total_time="$secs" -max_len=4096 \
     -timeout=25 -artifact_prefix="$findings/" -print_final_stats=1 2>&1 | grep -E 'stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY' || true
  if [ -n "$(find "$findings" -type f 2>/dev/null | head -1)" ]; then
    echo "fuzz: $t FOUND A FAILURE: see $findings"; exit 1
  fi
done
echo "fuzz: all targets ran clean"
