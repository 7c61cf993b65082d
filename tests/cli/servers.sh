# servers.sh - start and stop throwaway PostgreSQL and Redis servers for the
# production-path tests (sourced by tests/cli/cli_prod.sh; usable by hand:
#   source tests/cli/servers.sh; T=$(mktemp -d); pg_start $T; redis_start $T).
#
# PostgreSQL: initdb + pg_ctl in $T/pg on a free port, unix sockets in $T,
# listening on 127.0.0.1 only, trust authentication for the user "offerq",
# fsync off (a test cluster). initdb and postgres refuse to run as root, so
# as root (CI) the cluster is created and run by the unprivileged account
# "postgres" (created by Debian's postgresql-common; if it is missing we
# create a system user "offerq-pg") via runuser; $T is opened (chmod 755) so
# that account can reach its directory.
# Redis: redis-server on a free port, 127.0.0.1, no RDB, no AOF, daemonized.
# Each start function sets PG_URL / REDIS_URL; the stop functions are safe to
# call twice and from an EXIT trap.

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bindir() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

# Run a command as the cluster owner (root cannot own a cluster).
pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_OWNER" -- "$@"; else "$@"; fi
}

pg_start() { # pg_start DIR  -> sets PG_URL, PG_DIR
  local T=$1 bin port
  bin=$(pg_bindir)
  [ -x "$bin/initdb" ] || { echo "servers.sh: no PostgreSQL server binaries (install postgresql)" >&2; return 1; }
  PG_DIR=$T/pg
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    PG_OWNER=postgres
    if ! id "$PG_OWNER" >/dev/null 2>&1; then
      PG_OWNER=offerq-pg
      id "$PG_OWNER" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_OWNER"
    fi
    chmod 755 "$T"
    chown "$PG_OWNER" "$PG_DIR"
  fi
  pg_as_owner "$bin/initdb" -D "$PG_DIR/data" -U offerq --auth=trust -E UTF8 --locale=C -N \
    >"$T/initdb.log" 2>&1 || { cat "$T/initdb.log" >&2; return 1; }
  port=$(free_port)
  pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 20 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c full_page_writes=off" \
    start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
  PG_URL="postgresql://offerq@127.0.0.1:$port/postgres"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/data/postmaster.pid" ] &&
    pg_as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
  return 0
}

# Two servers for the sharded tests (cli_pg_shards.sh, cli_pg_raw.sh), set
# up as those tests need them: the scratch folder T (made here, opened for
# the cluster owner), an EXIT trap that stops both and removes T, lib.sh,
# one OpenMP thread, MPI=1 when an MPI build and mpirun are there, and
# A / B (URLs), DIR_A / DIR_B, PSQL.
pg_pair_stop() {
  PG_DIR=${DIR_A:-} pg_stop
  PG_DIR=${DIR_B:-} pg_stop
  rm -rf "$T"
}

pg_pair_setup() {
  T=$(mktemp -d /tmp/offerq-test-XXXXXX)
  chmod 755 "$T"
  DIR_A= DIR_B=
  trap pg_pair_stop EXIT
  # shellcheck source=lib.sh
  source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
  MPI=0
  if [ "${OQ_MPI:-0}" = 1 ] && command -v mpirun >/dev/null; then MPI=1; fi
  mkdir -p "$T/a" "$T/b"
  pg_start "$T/a" || die "PostgreSQL A"
  A=$PG_URL DIR_A=$PG_DIR
  pg_start "$T/b" || die "PostgreSQL B"
  B=$PG_URL DIR_B=$PG_DIR
  PSQL="$(pg_bindir)/psql"
}

redis_start() { # redis_start DIR  -> sets REDIS_URL, REDIS_PORT
  local T=$1
  command -v redis-server >/dev/null || { echo "servers.sh: redis-server not installed" >&2; return 1; }
  REDIS_PORT=$(free_port)
  REDIS_PIDFILE=$T/redis.pid
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$REDIS_PIDFILE" --dir "$T" --logfile "$T/redis.log" || return 1
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
  done
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
}

redis_stop() {
  if [ -n "${REDIS_PIDFILE:-}" ] && [ -f "$REDIS_PIDFILE" ]; then
    local pid
    pid=$(cat "$REDIS_PIDFILE")
    kill -CONT "$pid" 2>/dev/null # a test may have frozen it
    kill "$pid" 2>/dev/null
    # Wait for the exit: it writes its log while shutting down, and the
    # caller's rm -rf of the directory would race with that.
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$REDIS_PIDFILE"
  fi
  return 0
}

# mkqtable PATH SEED [N]: a valid Q table file (dynaq.h format, CRC included)
# of N entries (default 40) with values that depend on SEED, for publish tests
# (publish refuses a Q table its loader refuses).
mkqtable() {
  python3 - "$1" "$2" "${3:-40}" <<'PY'
import struct, sys, zlib
path, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
b = b"OFQTABLE" + struct.pack("<II", 1, 0) + struct.pack("<4d", 10, 2, 20, 10) + struct.pack("<Q", n)
for i in range(n):
    b += struct.pack("<Q", i + 1) + struct.pack("<4d", *[seed + i + a / 4 for a in range(4)]) + struct.pack("<4I", 1, 1, 1, 1)
open(path, "wb").write(b + struct.pack("<I", zlib.crc32(b)))
PY
}

# rcluster_start DIR MASTERS REPLICAS_PER_MASTER -> sets RCLUSTER_URL (a
# redis+cluster:// URL naming every node) and RCLUSTER_PORTS (the ports, in
# start order). A real Redis Cluster: MASTERS*(1+REPLICAS) redis-server
# processes with --cluster-enabled yes on free loopback ports, each in its own
# directory under DIR/rc/PORT (nodes.conf, log, pid), no RDB, no AOF, a short
# cluster-node-timeout (a dead master is failed over in a few seconds), made
# into a cluster by `redis-cli --cluster create ... --cluster-yes`. Waits until
# every node says cluster_state:ok and sees every replica.
rcluster_start() {
  local T=$1 masters=$2 reps=$3 n port hosts=() i
  command -v redis-server >/dev/null || { echo "servers.sh: redis-server not installed" >&2; return 1; }
  n=$((masters * (1 + reps)))
  RCLUSTER_PORTS=()
  RCLUSTER_DIR=$T/rc
  for i in $(seq "$n"); do
    port=$(rcluster_free_port)
    mkdir -p "$RCLUSTER_DIR/$port"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --daemonize yes --pidfile "$RCLUSTER_DIR/$port/pid" --dir "$RCLUSTER_DIR/$port" \
      --logfile "$RCLUSTER_DIR/$port/log" || return 1
    RCLUSTER_PORTS+=("$port")
    hosts+=("127.0.0.1:$port")
  done
  for port in "${RCLUSTER_PORTS[@]}"; do
    for _ in $(seq 200); do
      [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
      sleep 0.05
    done
  done
  redis-cli --cluster create "${hosts[@]}" --cluster-replicas "$reps" --cluster-yes \
    >"$RCLUSTER_DIR/create.log" 2>&1 || { cat "$RCLUSTER_DIR/create.log" >&2; return 1; }
  # every node sees the cluster whole: state ok and, through gossip, every
  # replica as a replica
  for port in "${RCLUSTER_PORTS[@]}"; do
    for _ in $(seq 600); do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' &&
        [ "$(redis-cli -p "$port" cluster nodes 2>/dev/null | grep -c slave)" = $((masters * reps)) ] && break
      sleep 0.05
    done
  done
  RCLUSTER_URL="redis+cluster://$(IFS=,; echo "${hosts[*]}")"
}

# rcluster_free_port: a free loopback port P <= 55535 with P + 10000 free too
# (a cluster node listens on its port and on port + 10000, the cluster bus).
rcluster_free_port() {
  python3 -c '
import random, socket
for _ in range(1000):
    p = random.randint(20000, 45000)
    try:
        for q in (p, p + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
    except OSError:
        continue
    print(p); break'
}

# rcluster_pid PORT: pid of the cluster node on PORT
rcluster_pid() { cat "$RCLUSTER_DIR/$1/pid" 2>/dev/null; }

rcluster_stop() {
  [ -n "${RCLUSTER_DIR:-}" ] || return 0
  local f pid
  for f in "$RCLUSTER_DIR"/*/pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -CONT "$pid" 2>/dev/null
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$f"
  done
  return 0
}
