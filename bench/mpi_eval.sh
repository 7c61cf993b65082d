#!/usr/bin/env bash
# mpi_eval.sh - `offerq eval --run` in one process, in 2 parts (--shards 2)
# and on 2 MPI ranks of one machine (issue 20 item 5): wall time, peak
# memory per process or rank, bytes each part gave to collectives per
# stage, and whether mpirun -np 2 wrote eval --shards 2's eval.json.
#   bash bench/mpi_eval.sh                  50,000 customers x 7 snapshots
# Needs a build with -DOQ_MPI=ON (OQ_BIN, default build/offerq), mpirun and
# /usr/bin/time; writes bench/results/mpi-eval.md (OUT to change).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${OQ_BIN:-build/offerq}
CUST=${CUSTOMERS:-50000}
SNAP=${SNAPSHOTS:-7}
OUT=${OUT:-bench/results/mpi-eval.md}
T=${BENCH_DIR:-/tmp/offerq-bench-mpi-eval}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$T"
log="$T/log-$CUST-$SNAP.csv"
[ -f "$log" ] || "$BIN" gen --customers "$CUST" --snapshots "$SNAP" --seed 1 --quiet --out "$log"
rows=$(($(wc -l < "$log") - 1))
[ -e "$T/run" ] || OMP_NUM_THREADS=2 "$BIN" run --log "$log" --out-dir "$T/run" --quiet
# ev NAME THREADS SHARDS CMD...: `CMD eval --shards SHARDS`: wall time, peak RSS per
# process (/usr/bin/time), stderr; a layout already measured in BENCH_DIR is kept
ev() {
  local name=$1 th=$2 shards=$3
  shift 3
  [ -s "$T/$name.wall" ] && return
  local t0 t1
  t0=$(date +%s.%N)
  OMP_NUM_THREADS=$th "$@" eval --log "$log" --run "$T/run" --json "$T/$name.json" \
    --shards "$shards" > "$T/$name.txt" 2> "$T/$name.err"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' > "$T/$name.wall"
}
TIME=(/usr/bin/time -f "rank 0 peak_rss_kib %M")
RTIME=(bash -c '/usr/bin/time -f "rank $OMPI_COMM_WORLD_RANK peak_rss_kib %M" "$@"' _)
ev e1 2 1 "${TIME[@]}" "$BIN"
ev s2 2 2 "${TIME[@]}" "$BIN"
ev m2 1 2 mpirun --oversubscribe -np 2 "${RTIME[@]}" "$BIN"
same=$(cmp -s "$T/m2.json" "$T/s2.json" && cmp -s "$T/m2.txt" "$T/s2.txt" && echo yes || echo no)
python3 - "$T" "$OUT" "$CUST" "$SNAP" "$rows" "$same" <<'PY'
import re, sys
T, out, cust, snap, rows, same = sys.argv[1:7]
lines = [f"# `offerq eval` in parts: {int(cust):,} customers x {snap} snapshots ({int(rows):,} rows)",
         "", "`bash bench/mpi_eval.sh` on this machine "
         f"(2 cores shared with other jobs); eval of one `offerq run` of the default job.", "",
         "| layout | wall s | peak RSS per process or rank (MiB) |", "|---|---:|---|"]
names = {"e1": "one process (2 OpenMP threads)", "s2": "`--shards 2` (threads, 1 each)",
         "m2": "`mpirun -np 2` (1 thread each)"}
for n in ("e1", "s2", "m2"):
    err = open(f"{T}/{n}.err").read()
    rss = sorted((int(a), int(b)) for a, b in re.findall(r"rank (\d+) peak_rss_kib (\d+)", err))
    wall = float(open(f"{T}/{n}.wall").read())
    lines.append(f"| {names[n]} | {wall:.1f} | " + ", ".join(f"rank {r}: {k / 1024:.0f}" for r, k in rss) + " |")
lines += ["", f"`mpirun -np 2` wrote `eval --shards 2`'s eval.json and table byte for byte: {same}.", "",
          "Bytes each part gave to collectives, per stage (`mpirun -np 2`; --shards 2 gives the same):", "",
          "| part | rerun | policies | models | ope |", "|---|---:|---:|---:|---:|"]
for m in re.finditer(r"part (\d+): rerun (\d+) policies (\d+) models (\d+) ope (\d+)", open(f"{T}/m2.err").read()):
    lines.append("| " + " | ".join([m.group(1)] + [f"{int(x):,}" for x in m.groups()[1:]]) + " |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
