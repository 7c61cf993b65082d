#!/usr/bin/env bash
# dashboard_load.sh - issue 21 item 5: /v1/dashboard.json of a 200,000-user list
# in --redis mode under clients that never read, against /v1/recommend's
# latency and the server's memory. A real redis-server on loopback.
#   bash bench/dashboard_load.sh [BIN [REF_BIN]]   (default build/offerq)
# REF_BIN (e.g. a build of an older commit) is measured the same way in the
# same command, side by side. Writes bench/results/dashboard_load.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(readlink -f "${1:-build/offerq}")
REF=${2:+$(readlink -f "$2")}
T=$(mktemp -d /tmp/offerq-dash-XXXXXX)
RPID=; SPID=
RPORT=
stop_all() {
  if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null || true; fi
  [ -n "$RPORT" ] && redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
  SPID=; RPORT=
}
cleanup() { stop_all; rm -rf "$T"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
"$BIN" gen --customers 300 --quiet --seed 4 --out "$T/log.csv" 2>/dev/null
"$BIN" run --log "$T/log.csv" --out-dir "$T/small" --quiet 2>/dev/null
# 200,000 users: the small run's rows repeated under new ids (the dashboard's cap)
mkdir -p "$T/big"
cp "$T"/small/* "$T/big/"
python3 - "$T/small/recommendations.csv" "$T/big/recommendations.csv" <<'PY'
import sys
rows = open(sys.argv[1]).read().splitlines()
with open(sys.argv[2], "w") as f:
    f.write(rows[0] + "\n")
    body = rows[1:]
    for i in range(200000):
        f.write(str(i + 1) + body[i % len(body)][body[i % len(body)].index(","):] + "\n")
PY
# measure BIN: one line "size_kib t_ms rss0 rss1 med0 max0 med1 max1 builds"
measure() {
  local B=$1
  RPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$T/redis.pid" --dir "$T" --logfile "$T/redis.log"
  for _ in $(seq 100); do redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
  "$B" publish --redis "redis://127.0.0.1:$RPORT" "$T/big" >/dev/null 2>&1
  PORT=$(free_port)
  "$B" serve --port "$PORT" --redis "redis://127.0.0.1:$RPORT" 2>"$T/serve.log" &
  SPID=$!
  for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
  rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$SPID/status"; }
  lat() { # median and max of 20 /v1/recommend latencies, ms (30 s timeout)
    for _ in $(seq 20); do curl -s -o /dev/null -m 30 -w '%{time_total}\n' "http://127.0.0.1:$PORT/v1/recommend/17"; done |
      sort -n | awk '{a[NR] = $1 * 1000} END {printf "%.1f %.1f", a[int((NR + 1) / 2)], a[NR]}'
  }
  local size t1 rss0 lat0 rss1 lat1 builds
  size=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$PORT/v1/dashboard.json")
  t1=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/v1/dashboard.json")
  rss0=$(rss); lat0=$(lat)
  # 40 clients that ask for the dashboard and never read the answer
  python3 - "$PORT" 40 > /dev/null <<'PY' &
import socket, sys, time
socks = []
for _ in range(int(sys.argv[2])):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /v1/dashboard.json HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
time.sleep(20)
PY
  local slow=$!
  sleep 8
  rss1=$(rss); lat1=$(lat)
  wait $slow
  builds=$(curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^offerq_table_dashboard_builds_total //p')
  echo "$((size / 1024)) $(awk -v t="$t1" 'BEGIN {printf "%.0f", t * 1000}') $rss0 $rss1 $lat0 $lat1 ${builds:-n/a}"
  stop_all
}
read -r -a N <<< "$(measure "$BIN")"
R=(- - - - - - - - -)
[ -n "$REF" ] && read -r -a R <<< "$(measure "$REF")"
mkdir -p bench/results
{
  echo "# /v1/dashboard.json under clients that never read (bench/dashboard_load.sh)"
  echo
  echo "$(date -u +%F), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg) (other work running); a 200,000-user list in --redis mode."
  echo "this: $("$BIN" --version | head -1)${REF:+; reference: $REF}"
  echo
  echo "| figure | this build | reference |"
  echo "|---|---:|---:|"
  echo "| dashboard.json size (KiB) | ${N[0]} | ${R[0]} |"
  echo "| one dashboard.json request (ms) | ${N[1]} | ${R[1]} |"
  echo "| serve RSS idle (MB) | ${N[2]} | ${R[2]} |"
  echo "| serve RSS with 40 non-reading dashboard clients (MB) | ${N[3]} | ${R[3]} |"
  echo "| /v1/recommend median / max of 20, idle (ms) | ${N[4]} / ${N[5]} | ${R[4]} / ${R[5]} |"
  echo "| /v1/recommend median / max of 20, with the 40 clients (ms) | ${N[6]} / ${N[7]} | ${R[6]} / ${R[7]} |"
  echo "| dashboard documents built (offerq_table_dashboard_builds_total) | ${N[8]} | ${R[8]} |"
} | tee bench/results/dashboard_load.md
