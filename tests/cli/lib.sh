# lib.sh - helpers shared by the shell tests (sourced).
#   check "what" command...   run the command; count and print ok / FAIL
#   die "what"                print FAIL and stop the test
#   fail "what"               print FAIL: on stderr and stop the test
#   expect RC PATTERN CMD...  CMD exits RC and its stderr matches PATTERN
#                             (extended regex), else fail; uses $T for scratch
#   mpi_setup                 the environment mpirun needs in a test (root
#                             allowed, one OpenMP thread a rank); MPI=1 when
#                             CMake built with MPI (OQ_MPI=1) and mpirun is there
#   mpi_or_finish             without MPI: say so, print the counts and exit
# The caller prints "$passes passed, $fails failed" at the end.
fails=0
passes=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok   $what"; passes=$((passes + 1)); else echo "FAIL $what"; fails=$((fails + 1)); fi
}
die() { echo "FAIL $*"; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {
  local want=$1 pat=$2 rc
  shift 2
  set +e
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
  set -e
  [ $rc -eq "$want" ] || { cat "$T/err" >&2; fail "exit $rc, not $want: $*"; }
  grep -qE -- "$pat" "$T/err" || { cat "$T/err" >&2; fail "no /$pat/: $*"; }
}
mpi_setup() {
  # mpirun refuses root without these (CI runs as root); the ranks share the cores
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
  MPI=0
  if [ "${OQ_MPI:-0}" = 1 ] && command -v mpirun >/dev/null; then MPI=1; fi
}
mpi_or_finish() {
  [ "$MPI" = 1 ] && return 0
  echo "skip the mpirun half: not an MPI build (cmake -DOQ_MPI=ON) or no mpirun"
  echo "$passes passed, $fails failed"
  [ $fails -eq 0 ]
  exit
}
