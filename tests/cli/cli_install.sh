#!/usr/bin/env bash
# cli_install.sh - the library as a user installs it: `cmake --install` into a
# temporary prefix, a small program that fits BG/NBD to CDNOW built with
# nothing but `pkg-config --cflags --libs offerq`, linked against the coupon
# and core layers only (no PostgreSQL, Redis or HTTP libraries), and the
# published fit (FHL 2005: r 0.243, alpha 4.414, a 0.793, b 2.426); and the
# deployment files: systemd units (checked with systemd-analyze verify when it
# is installed), the example config, the cron line.
set -u
BUILD=${OQ_BUILD:?OQ_BUILD must point at the build directory}
SHARED=${OQ_SHARED:?OQ_SHARED must point at ../shared}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
passes=0 fails=0
check() { local what=$1; shift
  if "$@"; then echo "ok   $what"; passes=$((passes + 1)); else echo "FAIL $what"; fails=$((fails + 1)); fi; }

P=$T/prefix
cmake --install "$BUILD" --prefix "$P" > "$T/install.out" 2>&1
check "cmake --install into a fresh prefix" test $? -eq 0
libdir=$(dirname "$(find "$P" -name offerq.pc | head -1)")/..
check "pkg-config files installed for every layer" \
  test -f "$libdir/pkgconfig/offerq.pc" -a -f "$libdir/pkgconfig/offerq-core.pc" \
  -a -f "$libdir/pkgconfig/offerq-xsell.pc"
check "headers installed per layer" test -f "$P/include/offerq/coupon/bgnbd.h" \
  -a -f "$P/include/offerq/core/error.h" -a -f "$P/include/offerq/version.h" \
  -a -f "$P/include/offerq/offerq.h"
check "shared and static libraries installed" \
  test -e "$libdir/libofferq-coupon.so" -a -e "$libdir/libofferq-core.a"
# Deployment files (docs/readme/prod.md, "The nightly job"), with this
# prefix's paths in them.
U=$P/lib/systemd/system
check "systemd units installed (offerq-nightly.service, .timer, offerq.service)" \
  test -f "$U/offerq-nightly.service" -a -f "$U/offerq-nightly.timer" -a -f "$U/offerq.service"
check "example config and cron line installed in share/offerq" \
  test -f "$P/share/offerq/offerq.conf.example" -a -f "$P/share/offerq/offerq.cron"
check "the units start this prefix's program" \
  grep -qx "ExecStart=$P/bin/offerq nightly --config $P/etc/offerq/offerq.conf" "$U/offerq-nightly.service"
check "the cron line runs offerq nightly as the user offerq" \
  grep -qE "^30 2 \* \* \* offerq $P/bin/offerq nightly --config $P/etc/offerq/offerq.conf" \
  "$P/share/offerq/offerq.cron"
# systemd-analyze verify: unknown keys, bad values, a program that is not
# there, a timer without its service. It prints only what is wrong, and exits
# 0 on warnings (an unknown key), so its output must be empty too.
if command -v systemd-analyze >/dev/null; then
  out=$(cd "$U" && systemd-analyze verify ./offerq-nightly.service ./offerq-nightly.timer \
    ./offerq.service 2>&1); rc=$?
  [ -n "$out" ] && echo "$out"
  check "systemd-analyze verify: the three units parse, no warning (exit $rc)" \
    test $rc -eq 0 -a -z "$out"
else
  echo "skip systemd-analyze verify: systemd-analyze is not installed (Debian package systemd)"
fi
# the example parses (its servers are not here: PostgreSQL is the first to fail, exit 5, not 3)
"$P/bin/offerq" nightly --config "$P/share/offerq/offerq.conf.example" --check > "$T/check.out" 2>&1
rc=$?
check "the example config is a valid config (--check fails on its servers, exit $rc, not 3)" test $rc -eq 5
grep -q "PostgreSQL.*cannot connect\|FAIL PostgreSQL" "$T/check.out" || cat "$T/check.out"

export PKG_CONFIG_PATH=$libdir/pkgconfig
v=$(pkg-config --modversion offerq 2>/dev/null)
check "pkg-config knows the installed version ($v)" \
  bash -c '[ -n "$1" ] && grep -q "OFFERQ_VERSION \"$1\"" "$2"' _ "$v" "$P/include/offerq/version.h"

cat > "$T/fit.c" <<'C'
#include <offerq/coupon/bgnbd.h>
#include <offerq/version.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    oq_error err = {0};
    oq_bgnbd_summary *s = NULL;
    oq_bgnbd_data *d = NULL;
    oq_bgnbd_fit_report rep;
    if (argc != 2 || oq_bgnbd_summary_read(argv[1], &s, &err) ||
        oq_bgnbd_data_new(s->x, s->tx, s->T, NULL, s->n, &d, &err) ||
        oq_bgnbd_fit(d, NULL, &rep, &err)) {
        fprintf(stderr, "fit: %s\n", err.msg);
        return 1;
    }
    printf("offerq %s: r %.3f alpha %.3f a %.3f b %.3f converged %d\n", OFFERQ_VERSION,
           rep.p.r, rep.p.alpha, rep.p.a, rep.p.b, rep.converged);
    oq_bgnbd_data_free(d);
    oq_bgnbd_summary_free(s);
    return 0;
}
C
extra=""
[ "${OQ_SANITIZE:-0}" = 1 ] && extra="-fsanitize=address,undefined"
# shellcheck disable=SC2046,SC2086
cc -std=c17 -Wall -Wextra -Werror $extra -o "$T/fit" "$T/fit.c" $(pkg-config --cflags --libs offerq) \
  > "$T/cc.out" 2>&1
check "a program builds with pkg-config --cflags --libs offerq" test $? -eq 0
cat "$T/cc.out"
deps=$(LD_LIBRARY_PATH=$libdir ldd "$T/fit" 2>&1)
check "it links the coupon and core layers" \
  bash -c 'grep -q libofferq-coupon <<< "$1" && grep -q libofferq-core <<< "$1"' _ "$deps"
check "and none of PostgreSQL, Redis or microhttpd" \
  bash -c '! grep -Eq "libpq|hiredis|microhttpd|libofferq-prod" <<< "$1"' _ "$deps"
out=$(LD_LIBRARY_PATH=$libdir "$T/fit" "$SHARED/data/cdnow_summary.csv" 2>&1)
echo "$out"
check "it fits CDNOW to the published parameters" \
  grep -q 'r 0.243 alpha 4.414 a 0.793 b 2.426 converged 1' <<< "$out"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
