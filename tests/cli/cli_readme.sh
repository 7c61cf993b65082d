#!/usr/bin/env bash
# cli_readme.sh - every command of README.md's Usage section and every example
# of `offerq <command> --help` runs as written, from the repository root, after
# the quick start (issue 22): README first (it holds the quick start's
# commands and db init / db load), then each command's examples in the order
# of `offerq --help`. Each must exit 0.
# The root is a scratch folder with examples/ linked from the source tree and
# ../shared beside it, so nothing lands in the checkout. The test starts its
# own PostgreSQL (with a database "offerq") and Redis on free ports and
# rewrites only the ports: 127.0.0.1:5432, 127.0.0.1:6379 and 8080. `offerq
# serve` runs in the background until the next serve or the end; the curl
# lines then query it.
# examples/baskets.csv was drawn with (seed 7, 1,500 baskets):
#   awk 'BEGIN { srand(7); for (i = 0; i < 1500; i++) { s = "";
#     m = rand() < 0.5; b = rand() < 0.4; u = b && rand() < 0.8; e = !m && rand() < 0.5;
#     g = rand() < 0.3; if (m) s = s ",milk"; if (b) s = s ",bread"; if (u) s = s ",butter";
#     if (g) s = s ",eggs"; if (e || s == "") s = s ",beer"; print substr(s, 2) } }'
# Under the sanitizers (OQ_SANITIZE=1) it is skipped (exit 77): it checks the
# documentation, which the normal build's run covers.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:?OQ_SOURCE must point at the source tree}
SHARED=${OQ_SHARED:-$SRC/../shared}
[ "${OQ_SANITIZE:-0}" = 1 ] && { echo "skipped under the sanitizers"; exit 77; }
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  pg_stop; redis_stop; rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=servers.sh
source "$(dirname "$0")/servers.sh"
pg_start "$T" || { echo "FAIL: PostgreSQL did not start"; exit 1; }
redis_start "$T" || { echo "FAIL: Redis did not start"; exit 1; }
psql -q "$PG_URL" -c 'CREATE DATABASE offerq' >/dev/null || { echo "FAIL: create database"; exit 1; }
pg_port=${PG_URL#*127.0.0.1:}; pg_port=${pg_port%%/*}
http_port=$(free_port)
mkdir -p "$T/root" "$T/bin"
ln -s "$SRC/examples" "$T/root/examples"
ln -s "$(cd "$SHARED" && pwd)" "$T/shared"
ln -s "$BIN" "$T/bin/offerq"
export PATH="$T/bin:$PATH"

# The commands, one a line (continuations joined).
python3 - "$SRC/README.md" "$BIN" > "$T/cmds" <<'PY' || { echo "FAIL: extracting the commands"; exit 1; }
import re, subprocess, sys
readme, binary = sys.argv[1], sys.argv[2]
def joined(lines):
    out, cur = [], ""
    for l in lines:
        if cur:
            cur += " " + l.strip()
        elif re.match(r"\s*(offerq|curl) ", l):
            cur = l.strip()
        else:
            continue
        if cur.endswith("\\"):
            cur = cur[:-1].rstrip()
        else:
            out.append(cur); cur = ""
    return out
text = open(readme).read()
usage = text.split("\n## Usage\n", 1)[1].split("\n## ", 1)[0]
cmds = joined(l for l in usage.splitlines() if l.startswith("    "))
assert len(cmds) >= 15, cmds
top = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
names = re.findall(r"^  ([a-z]+)  ", top.split("Commands:", 1)[1], re.M)
assert len(names) >= 10, names
helps = [top] + [subprocess.run([binary, n, "--help"], capture_output=True, text=True).stdout
                 for n in names]
for h in helps:
    m = re.search(r"^Examples?:\n", h, re.M)
    assert m, h[:200]
    cmds += joined(h[m.end():].splitlines())
print("\n".join(cmds))
PY
n=$(wc -l < "$T/cmds")
pass=0 fail=0
while IFS= read -r cmd; do
  run=${cmd//127.0.0.1:5432/127.0.0.1:$pg_port}
  run=${run//127.0.0.1:6379/127.0.0.1:$REDIS_PORT}
  run=${run//127.0.0.1:8080/127.0.0.1:$http_port}
  run=${run//--port 8080/--port $http_port}
  if [[ $cmd == "offerq serve "* ]]; then
    [ -n "$serve_pid" ] && { kill "$serve_pid"; wait "$serve_pid" 2>/dev/null; }
    (cd "$T/root" && exec bash -c "exec $run") > "$T/serve.log" 2>&1 < /dev/null &
    serve_pid=$!
    ok=0
    for _ in $(seq 200); do
      curl -fs "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1 && { ok=1; break; }
      kill -0 "$serve_pid" 2>/dev/null || break
      sleep 0.1
    done
  else
    ok=0
    (cd "$T/root" && timeout 900 bash -c "set -o pipefail; $run" > "$T/out" 2>&1 < /dev/null) && ok=1
    # curl -f is not in the examples: an HTTP error must fail too
    if [ $ok = 1 ] && [[ $cmd == "curl "* ]] && grep -q '"error"' "$T/out"; then ok=0; fi
  fi
  if [ $ok = 1 ]; then
    pass=$((pass + 1)); echo "ok   $cmd"
  else
    fail=$((fail + 1)); echo "FAIL $cmd"
    if [[ $cmd == "offerq serve "* ]]; then tail -5 "$T/serve.log"; else tail -5 "$T/out"; fi
  fi
done < "$T/cmds"
echo "$n commands from README.md and the --help texts"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
