#!/usr/bin/env bash
# cli_diskfull.sh - a full disk under every writer (issue 21, disk full): each
# command writes onto a small tmpfs mounted by the test (root only; skipped
# with the reason otherwise). Every one must exit 1 naming the file and
# "No space left on device", leave nothing behind (no partial file, no
# temporary, no half run folder), and a run that was already in place must
# stay whole and current.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
M="$T/mnt"
cleanup() {
  mountpoint -q "$M" 2>/dev/null && umount "$M"
  rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
mkdir -p "$M"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=64k tmpfs "$M" 2>/dev/null; then
  echo "cli_diskfull: SKIPPED (needs root and permission to mount a tmpfs)"
  exit 0
fi
umount "$M"
# mnt SIZE: a fresh tmpfs of SIZE at $M
mnt() { mountpoint -q "$M" && umount "$M"; mount -t tmpfs -o "size=$1" tmpfs "$M"; }
# full: fill what is left of $M but about 2 KB (the writer then fails midway)
full() {
  local avail; avail=$(df -B1 --output=avail "$M" | tail -1)
  if [ "$avail" -gt 6144 ]; then head -c $((avail - 2048)) /dev/zero > "$M/filler" 2>/dev/null; fi
  true
}
listing() { (cd "$M" && find . -mindepth 1 ! -name filler | sort); }
# refused NAME EXPECTED_LISTING CMD...: exit 1, ENOSPC named, the folder as expected
refused() {
  local name=$1 want=$2; shift 2
  "$@" > "$T/out" 2> "$T/err"; local rc=$?
  check "$name: exit 1 ($rc)" test "$rc" = 1
  check "  says 'No space left on device' with the file" grep -q "$M/.*No space left on device" "$T/err"
  check "  nothing left behind" test "$(listing)" = "$want"
}

"$BIN" gen --customers 300 --seed 4 --quiet --out "$T/log.csv" 2>/dev/null || die "gen"
printf 'a,b,c\na,b\nb,c\na,c\na,b,c\n' > "$T/baskets.csv"
printf 'item,price,cost,inventory\na,10,5,3\nb,12,6,3\nc,8,4,3\n' > "$T/items.csv"

mnt 64k
refused "gen" "" "$BIN" gen --customers 2000 --seed 4 --quiet --out "$M/log.csv"
mnt 64k; full
refused "run (no earlier run)" "" "$BIN" run --log "$T/log.csv" --out-dir "$M/run" --quiet
mnt 64k; full
refused "rules" "" "$BIN" rules --baskets "$T/baskets.csv" --min-support 0.01 --min-confidence 0.01 --out "$M/rules.csv"
mnt 64k; full
refused "itemsets" "" "$BIN" itemsets --baskets "$T/baskets.csv" --min-support 0.01 --out "$M/itemsets.csv"
mnt 64k; full
refused "crosssell learn" "" "$BIN" crosssell learn --items "$T/items.csv" --baskets "$T/baskets.csv" \
  --episodes 200 --quiet --out "$M/xs.oxq"
mnt 64k; full
refused "bgnbd fit" "" "$BIN" bgnbd fit --log "$T/log.csv" --out "$M/params.json"

# A run in place, then a second one onto a full disk: the first stays current and whole.
mnt 4m
"$BIN" run --log "$T/log.csv" --out-dir "$M/run" --quiet 2>/dev/null || die "first run"
before=$(cd "$M/run" && md5sum ./* | sort)
full
want=$(listing)
refused "run over an earlier run" "$want" "$BIN" run --log "$T/log.csv" --out-dir "$M/run" --seed 9 --quiet
check "  the earlier run is still current and unchanged" test "$(cd "$M/run" && md5sum ./* | sort)" = "$before"
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
