#!/usr/bin/env bash
# valgrind.sh - run the cmocka unit tests (build/test_*) and the corpus
# replays (build/replay_*) under valgrind memcheck: invalid reads/writes,
# uninitialised values, definite leaks. Uses the normal build (not ASan).
#   bash tools/valgrind.sh [TEST...]     (default: all)
# Not in CI: the suite takes several minutes under valgrind (see
# docs/readme/hardening.md).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${OQ_BUILD:-build}
[ -x "$B/offerq" ] || { cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && make -C "$B" -j2 >/dev/null; }
export OQ_SHARED=${OQ_SHARED:-$(cd .. && pwd)/shared} OQ_SOURCE=$PWD OQ_BIN=$PWD/$B/offerq
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  for t in "$B"/test_* "$B"/replay_*; do [ -x "$t" ] && tests+=("$(basename "$t")"); done
fi
failed=0
for t in "${tests[@]}"; do
  args=(); case $t in replay_*) args=(tests/fuzz/corpus/"${t#replay_}");; esac
  start=$(date +%s)
  if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
       --show-leak-kinds=definite --track-origins=yes "$B/$t" "${args[@]}" >"$B/valgrind-$t.log" 2>&1; then
    echo "valgrind: $t clean ($(( $(date +%s) - start )) s)"
  else
    echo "valgrind: $t FAILED (see $B/valgrind-$t.log)"; failed=$((failed + 1))
  fi
done
[ $failed -eq 0 ] && echo "valgrind: all clean" || { echo "valgrind: $failed failed"; exit 1; }
