# lib.sh - helpers shared by the shell tests (sourced).
#   check "what" command...   run the command; count and print ok / FAIL
#   die "what"                print FAIL and stop the test
#   fail "what"               print FAIL: on stderr and stop the test
#   expect RC PATTERN CMD...  CMD exits RC and its stderr matches PATTERN
#                             (extended regex), else fail; uses $T for scratch
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
