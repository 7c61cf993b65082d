#!/usr/bin/env bash
# test.sh - configure, build and run the whole test suite with CTest.
#   bash tools/test.sh                 normal build in build/
#   OQ_SANITIZE=1 bash tools/test.sh   AddressSanitizer + UBSan build in build-asan/
# The normal build is configured with -DOQ_MPI=ON when Open MPI's compiler
# wrapper (mpicc) is installed, so `mpirun -np N offerq run` is built and
# tests/cli/cli_mpi.sh checks it against --shards N (OQ_MPI=0 turns it off).
# The sanitizer build leaves MPI out (Open MPI's own allocations are not
# leak-clean); it still runs the --shards half of that test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${OQ_SANITIZE:-0}" = 1 ]; then
  dir=build-asan
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOQ_SANITIZE=ON >/dev/null
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
  dir=build
  mpi=OFF
  if [ "${OQ_MPI:-1}" = 1 ] && command -v mpicc >/dev/null; then mpi=ON; fi
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOQ_MPI=$mpi >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"
cd "$dir" && ctest --output-on-failure
