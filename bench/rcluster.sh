#!/usr/bin/env bash
# rcluster.sh - `offerq publish` of an N-user list to one redis-server and to a
# 3-master Redis Cluster on loopback (tests/cli/servers.sh), 3 publishes each
# (median wall time), and the Redis memory of one version's list
# (MEMORY USAGE ... SAMPLES 0: every field counted). Prints a markdown table.
#   bash bench/rcluster.sh build/offerq [USERS=100000]
set -eu
BIN=$(readlink -f "${1:?usage: bench/rcluster.sh OFFERQ [USERS]}")
N=${2:-100000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/offerq-bench-XXXXXX)
source "$SRC/tests/cli/servers.sh"
trap 'rcluster_stop; redis_stop; rm -rf "$T"' EXIT
mkdir -p "$T/run"
awk -v n="$N" 'BEGIN { print "user_id,snapshot_date,state,coupon,expected_profit,p_alive";
  split("none 5 10 20", c, " ");
  for (u = 1; u <= n; u++) printf "%d,2025-03-01,s%d,%s,%.2f,%.3f\n", u, u % 7, c[u % 4 + 1], u * 0.5, (u % 10) / 10 }' \
  >"$T/run/recommendations.csv"
mkqtable "$T/run/qtable.ofq" 1 60
redis_start "$T" >/dev/null
rcluster_start "$T" 3 0 >/dev/null
median_publish() { # median_publish URL: seconds of the middle of 3 publishes
  local i s
  for i in 1 2 3; do
    s=$(date +%s.%N)
    "$BIN" publish --redis "$1" "$T/run" >/dev/null 2>&1
    echo "$(date +%s.%N) - $s" | bc
  done | sort -n | sed -n 2p
}
single=$(median_publish "$REDIS_URL")
cluster=$(median_publish "$RCLUSTER_URL")
v=$(redis-cli -p "$REDIS_PORT" get offerq:current)
mem_single=$(redis-cli -p "$REDIS_PORT" memory usage "offerq:v:$v:list" samples 0)
own=
for p in "${RCLUSTER_PORTS[@]}"; do
  [ "$(redis-cli -p "$p" exists '{offerq}:current')" = 1 ] && own=$p
done
v=$(redis-cli -p "$own" get '{offerq}:current')
mem_cluster=$(redis-cli -p "$own" memory usage "{offerq}:v:$v:list" samples 0)
echo "| $N users | one redis-server | 3-master cluster |"
echo "|---|---|---|"
echo "| publish, median of 3 (s) | $single | $cluster |"
echo "| one version's list in Redis (bytes) | $mem_single | $mem_cluster |"
echo "| bytes per user | $((mem_single / N)) | $((mem_cluster / N)) |"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
