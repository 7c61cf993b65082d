# lib.sh - helpers shared by the shell tests (sourced).
#   check "what" command...   run the command; count and print ok / FAIL
#   die "what"                print FAIL and stop the test
# The caller prints "$passes passed, $fails failed" at the end.
fails=0
passes=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok   $what"; passes=$((passes + 1)); else echo "FAIL $what"; fails=$((fails + 1)); fi
}
die() { echo "FAIL $*"; exit 1; }
