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
# Every target must exist, start, run to its time limit and find nothing;
# anything else fails the run (a fuzz phase that fuzzed nothing is a failure).
summary=()
for t in "${targets[@]}"; do
  bin=$B/fuzz_$t
  if [ ! -f "tests/fuzz/fuzz_$t.c" ]; then echo "fuzz: no target '$t' (tests/fuzz/fuzz_$t.c)"; exit 1; fi
  if [ ! -x "$bin" ]; then echo "fuzz: $bin was not built"; exit 1; fi
  work=$B/work/$t findings=$B/findings/$t log=$B/work/$t.log
  rm -rf "$work" "$findings"; mkdir -p "$work" "$findings"
  cp tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  dict=(); [ -f tests/fuzz/"$t".dict ] && dict=(-dict=tests/fuzz/"$t".dict)
  [ -n "${FUZZ_RUNS:-}" ] && dict+=(-runs="$FUZZ_RUNS")
  echo "fuzz: $t for ${secs}s"
  rc=0
  "$bin" "$work" "${dict[@]}" -max_total_time="$secs" -max_len=4096 \
     -timeout=25 -artifact_prefix="$findings/" -print_final_stats=1 > "$log" 2>&1 || rc=$?
  grep -E 'stat::peak_rss|ERROR|SUMMARY' "$log" || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ -n "$(find "$findings" -type f 2>/dev/null | head -1)" ] || [ "$rc" -ne 0 ]; then
    tail -40 "$log"
    echo "fuzz: $t FAILED (exit $rc): see $findings and $log"; exit 1
  fi
  if [ -z "$execs" ] || [ "$execs" -eq 0 ]; then
    tail -20 "$log"; echo "fuzz: $t ran no input"; exit 1
  fi
  summary+=("$t $execs")
done
echo "fuzz: executions per target:"
printf '  %s\n' "${summary[@]}"
echo "fuzz: all ${#targets[@]} targets ran clean"
