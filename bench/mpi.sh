#!/usr/bin/env bash
# mpi.sh - the nightly job on 1 and 2 MPI ranks of one machine (issue 20):
# wall time, peak memory per rank, bytes each rank gave to collectives per
# stage, and the check that both equal --shards 1 / --shards 2 byte for byte.
#   bash bench/mpi.sh                      100,000 customers x 7 snapshots
#   CUSTOMERS=1428572 SNAPSHOTS=7 bash bench/mpi.sh     (10M rows)
# Needs a build with -DOQ_MPI=ON (OQ_BIN, default build/offerq), mpirun and
# /usr/bin/time; writes bench/results/mpi.md (OUT to change).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${OQ_BIN:-build/offerq}
CUST=${CUSTOMERS:-100000}
SNAP=${SNAPSHOTS:-7}
OUT=${OUT:-bench/results/mpi.md}
T=${BENCH_DIR:-/tmp/offerq-bench-mpi}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$T"
log="$T/log-$CUST-$SNAP.csv"
[ -f "$log" ] || [ "${SUMMARY_ONLY:-0}" = 1 ] || "$BIN" gen --customers "$CUST" --snapshots "$SNAP" --seed 1 --quiet --out "$log"
rows=$(($(wc -l < "$log") - 1))
# run NAME THREADS CMD...: wall time and every process's peak RSS (/usr/bin/time)
run() {
  local name=$1 th=$2
  shift 2
  rm -rf "$T/$name" "$T/$name.runs"
  local t0 t1
  t0=$(date +%s.%N)
  OMP_NUM_THREADS=$th "$@" --out-dir "$T/$name" --quiet 2> "$T/$name.err"
  t1=$(date +%s.%N)
  echo "$t0 $t1" > "$T/$name.wall"
}
TIME=(/usr/bin/time -f "peak_rss_kib %M")
# under mpirun each rank's figure names the rank
RTIME=(bash -c '/usr/bin/time -f "rank $OMPI_COMM_WORLD_RANK peak_rss_kib %M" "$@"' _)
# RUNS: which of the four (default all; on a busy machine "s1 m2": one
# process and 2 ranks)
RUNS=${RUNS:-s1 s2 m1 m2}
# SUMMARY_ONLY=1: no runs, the table from what BENCH_DIR holds (NAME/, NAME.err,
# NAME.wall) of runs made before, e.g. by hand
[ "${SUMMARY_ONLY:-0}" = 1 ] && RUNLIST="" || RUNLIST=$RUNS
for r in $RUNLIST; do
  case $r in
  s1) run s1 2 "${TIME[@]}" "$BIN" run --log "$log" ;;
  s2) run s2 1 "${TIME[@]}" "$BIN" run --log "$log" --shards 2 ;;
  m1) run m1 2 mpirun -np 1 "${RTIME[@]}" "$BIN" run --log "$log" ;;
  m2) run m2 1 mpirun --oversubscribe -np 2 "${RTIME[@]}" "$BIN" run --log "$log" ;;
  esac
done
same() {
  case " $RUNS " in *" $1 "*) ;; *) echo "not run"; return ;; esac
  case " $RUNS " in *" $2 "*) ;; *) echo "not run"; return ;; esac
  for f in recommendations.csv qtable.ofq bgnbd.json params.json learning_curve.svg; do
    cmp -s "$T/$1/$f" "$T/$2/$f" || { echo no; return; }
  done
  echo yes
}
python3 - "$T" "$OUT" "$CUST" "$SNAP" "$rows" "$(same m1 s1)" "$(same m2 s2)" "$(nproc)" "$RUNS" <<'PY'
import json, re, sys
T, out, cust, snap, rows, same1, same2, cores, runs = sys.argv[1:10]
runs = runs.split()
def info(name):
    t0, t1 = map(float, open(f"{T}/{name}.wall").read().split())
    err = open(f"{T}/{name}.err").read()
    ranked = sorted((int(k), int(m)) for k, m in re.findall(r"rank (\d+) peak_rss_kib (\d+)", err))
    rss = [m for _, m in ranked] or [int(m) for m in re.findall(r"peak_rss_kib (\d+)", err)]
    rep = json.load(open(f"{T}/{name}/report.json"))
    return t1 - t0, rss, rep
rows_md = []
for name, what in (("s1", "`run` (one process, 2 OpenMP threads)"),
                   ("s2", "`run --shards 2` (2 parts as threads, 1 OpenMP thread each)"),
                   ("m1", "`mpirun -np 1 run` (2 OpenMP threads)"),
                   ("m2", "`mpirun -np 2 run` (2 ranks, 1 OpenMP thread each)")):
    if name not in runs:
        continue
    wall, rss, rep = info(name)
    t = rep["timings_s"]
    stages = " / ".join(f"{t[k]:.1f}" for k in ("ingest", "alive", "reward_fit", "reward_score", "value", "plan", "write"))
    rows_md.append(f"| {what} | {wall:.1f} | {stages} | {', '.join(f'{r/1024:.0f}' for r in rss)} |")
_, _, rep2 = info("m2")
bytes_md = []
for k, per in enumerate(rep2["parts"]["bytes_sent_per_stage"]):
    bytes_md.append(f"| rank {k} | " + " | ".join(f"{per[s]:,}" for s in ("ingest", "alive", "reward_fit", "reward_score", "value", "plan", "write")) + " |")
with open(out, "w") as f:
    f.write(f"""# MPI: the nightly job on 1 and 2 ranks of one machine

`bash bench/mpi.sh` (CUSTOMERS={cust} SNAPSHOTS={snap}): a generated log of {int(rows):,} rows
({int(cust):,} customers), default settings (400 trees, 4 Dyna-Q epochs of 20 planning
steps, no budget), on this {cores}-core machine, which other jobs share: wall times are
noisy, compare within one run of the script. Peak memory is each process's maximum
resident set (`/usr/bin/time`; for mpirun, one figure per rank: rank 0, rank 1).

| run | wall s | ingest / alive / reward_fit / reward_score / value / plan / write s (rank 0) | peak RSS MiB per process |
|---|---:|---|---|
""" + "\n".join(rows_md) + f"""

Byte-identical outputs (recommendations.csv, qtable.ofq, bgnbd.json, params.json,
learning_curve.svg): `mpirun -np 1` = `run`: **{same1}**; `mpirun -np 2` = `--shards 2`:
**{same2}**.

Bytes each rank gave to collectives, per stage (`report.json` "parts"; an allgather
delivers them to every rank, a gather to rank 0 only):

| rank | ingest | alive | reward_fit | reward_score | value | plan | write |
|---|---:|---:|---:|---:|---:|---:|---:|
""" + "\n".join(bytes_md) + """

What the bytes are: ingest, three numbers (rows, last day, budget level); alive, the
BG/NBD likelihood, gradient and Hessian (21 doubles) per Newton evaluation; reward_fit,
the gross-profit model's sums (20 sweeps of K category sums, the 504-cell category grid)
and the P(order) learner's training sample, each rank's rows of it (80 bytes a row,
capped at 1,000,000 rows over all ranks) gathered to rank 0, then the fitted trees sent
back; value, each rank's Q table (56 bytes a state); plan, the continuation's sums over
the merged table (40 bytes a state), the multiplier's bisection (one double a step) and the
plan's tail (48 bytes an upgrade that still fits after the multiplier); write, each
customer's line of the day's list merged to rank 0 in rounds of 4,096 rows a rank (72
bytes a customer, and 8 bytes a round from rank 0 saying whose rows it needs).
""")
print(open(out).read())
PY
