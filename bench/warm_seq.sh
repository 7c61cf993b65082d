#!/bin/bash
# The sequence model's warm start in the nightly job (issue 16): for each
# seed, a generated log of N days (`offerq gen` defaults: 10,000 customers x
# 7 rows, 2025-01-01 to 06-30); "yesterday" = a cold run on its first N-7
# days (the log, events and orders up to then); then on the whole log a cold
# run and a warm run from yesterday's model.ofq. Wall time of each run and
# the true next-day % of the oracle's uplift of each (`offerq eval`).
#   bash bench/warm_seq.sh BIN SEED... [> table]
# Environment: CUSTOMERS (10000), T (work folder, default a temporary one),
# OUT (bench/results/warm_seq.md), OUT_JSON (bench/results/warm_seq.json),
# HELDOUT (seeds never used for tuning: "101"), DAYS_BACK (7), REUSE=1 (keep
# the logs, yesterday's and the cold runs already in T: only the warm runs
# again). Threads: the caller's OMP_NUM_THREADS.
set -euo pipefail
B=$(realpath "$1")
shift
D=$(cd "$(dirname "$0")" && pwd)
N=${CUSTOMERS:-10000}
BACK=${DAYS_BACK:-7}
OUT=${OUT:-$D/results/warm_seq.md}
OUT_JSON=${OUT_JSON:-$D/results/warm_seq.json}
HELDOUT=${HELDOUT:-101}
T=${T:-$(mktemp -d)}
mkdir -p "$T"
now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }
L0=$(load)
for s in "$@"; do
  W="$T/s$s"
  mkdir -p "$W/y"
  run() { # name log args...: wall, CPU (user + sys) and load average
    local name=$1 log=$2
    shift 2
    local t0 l0
    t0=$(now)
    l0=$(load)
    /usr/bin/time -f "%U %S" -o "$W/$name.cpu" \
      "$B" run --log "$log" --out-dir "$W/$name" --reward sequence --seed "$s" --quiet "$@"
    echo "$(now) $t0 $l0 $(load) $(awk '{ print $1 + $2 }' "$W/$name.cpu")" >"$W/$name.time"
  }
  if [ "${REUSE:-0}" != 1 ] || [ ! -s "$W/cold.time" ]; then
    "$B" gen --customers "$N" --seed "$s" --out "$W/log.csv" --quiet
    last=$(tail -n +2 "$W/log.csv" | cut -d, -f2 | sort | tail -1)
    cut=$(date -u -d "$last - $BACK days" +%F)
    for f in log log.events log.orders; do
      awk -F, -v c="$cut" 'NR == 1 || $2 <= c' "$W/$f.csv" >"$W/y/$f.csv"
    done
    run yesterday "$W/y/log.csv"
    run cold "$W/log.csv"
  fi
  rm -rf "$W/warm" "$W/warm.runs"
  run warm "$W/log.csv" --warm-start "$W/yesterday"
  for r in cold warm; do
    "$B" eval --log "$W/log.csv" --run "$W/$r" --quiet --json "$W/e-$r.json" >/dev/null
  done
  echo "seed $s done ($(date -u +%T))" >&2
done
L1=$(load)
/usr/bin/python3 - "$T" "$OUT" "$OUT_JSON" "$N" "$BACK" "$HELDOUT" "$L0" "$L1" \
  "${OMP_NUM_THREADS:-unset}" "$@" <<'PY'
import json, sys, statistics as st
t, out, out_json, n, back, held, l0, l1, omp = sys.argv[1:10]
seeds = sys.argv[10:]
held = held.split()
data = {}
for s in seeds:
    d = data.setdefault(s, {})
    for r in ("yesterday", "cold", "warm"):
        x = open(f"{t}/s{s}/{r}.time").read().split()
        t1, t0, a, b = map(float, x[:4])
        cpu = float(x[4]) if len(x) > 4 else float("nan")
        rep = json.load(open(f"{t}/s{s}/{r}/report.json"))
        sm = rep["sequence_model"]
        d[r] = {"wall_s": t1 - t0, "cpu_s": cpu, "reward_fit_s": rep["timings_s"]["reward_fit"],
                "load": [a, b], "best_epoch": sm["best_epoch"],
                "epochs": len(sm["epochs"]), "warm_start": sm.get("warm_start")}
        if r != "yesterday":
            e = json.load(open(f"{t}/s{s}/e-{r}.json"))
            p = {q["name"]: q for q in e["policies"]}
            d[r]["pct_of_oracle_uplift"] = p["offerq"]["pct_of_oracle_uplift"]
json.dump({"customers": int(n), "days_back": int(back), "seeds": seeds, "heldout": held,
           "omp_num_threads": omp, "load": [float(l0), float(l1)], "runs": data},
          open(out_json, "w"), indent=1)
L = [f"# The sequence model's warm start (`offerq run --reward sequence --warm-start`)", "",
     f"`offerq gen --customers {n} --seed S` (7 rows per customer, 2025-01-01 to 06-30); "
     f"yesterday = a cold run on the log, events and orders up to {back} days before the "
     f"log's last day; then on the whole log a cold run and a warm run from yesterday's "
     f"model.ofq. Wall time of `offerq run` (the whole job), the reward fit's share, and the "
     f"true next-day % of the oracle's uplift over no coupon (`offerq eval`). "
     f"OMP_NUM_THREADS={omp}; load average {l0} at the start, {l1} at the end (a shared "
     f"2-core machine). Held-out seeds (never used for tuning): {', '.join(held) or 'none'}.", "",
     "| seed | cold: wall s (fit s), CPU s | cold epochs (kept) | cold % | warm: wall s "
     "(fit s), CPU s | warm epochs (kept) | fresh + replay rows | warm % | warm - cold |",
     "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
def cpu(r):
    return "-" if r["cpu_s"] != r["cpu_s"] else f"{r['cpu_s']:.1f}"
def mean_cpu(r):
    x = [data[s][r]["cpu_s"] for s in seeds if data[s][r]["cpu_s"] == data[s][r]["cpu_s"]]
    return f"{st.mean(x):.1f}" if x else "-"
for s in seeds:
    c, w = data[s]["cold"], data[s]["warm"]
    ws = w["warm_start"] or {}
    L.append(f"| {s}{' (held out)' if s in held else ''} | {c['wall_s']:.1f} "
             f"({c['reward_fit_s']:.1f}), {cpu(c)} | {c['epochs']} ({c['best_epoch']}) | "
             f"{c['pct_of_oracle_uplift']:.1f} | {w['wall_s']:.1f} ({w['reward_fit_s']:.1f}), "
             f"{cpu(w)} | "
             f"{w['epochs'] - 1} ({w['best_epoch']}) | {ws.get('fresh_rows')} + "
             f"{ws.get('replay_rows')} | {w['pct_of_oracle_uplift']:.1f} | "
             f"{w['pct_of_oracle_uplift'] - c['pct_of_oracle_uplift']:+.1f} |")
mc = st.mean(data[s]["cold"]["pct_of_oracle_uplift"] for s in seeds)
mw = st.mean(data[s]["warm"]["pct_of_oracle_uplift"] for s in seeds)
L.append(f"| mean | {st.mean(data[s]['cold']['wall_s'] for s in seeds):.1f}, "
         f"{mean_cpu('cold')} | | {mc:.1f} | "
         f"{st.mean(data[s]['warm']['wall_s'] for s in seeds):.1f}, "
         f"{mean_cpu('warm')} | | | {mw:.1f} | "
         f"{mw - mc:+.1f} |")
L += ["", "Yesterday's cold runs (on the shorter log): " + ", ".join(
    f"seed {s} {data[s]['yesterday']['wall_s']:.1f} s" for s in seeds) + ".",
      "Warm epochs: epoch 0 is yesterday's model as it came (kept = 0: unchanged). CPU s: "
      "user + system seconds of the process (`/usr/bin/time`), what the run costs whatever "
      "the machine's load; with one thread it is the wall time on a free core (- : not "
      "recorded, runs made before the script measured it).", "",
      "Command: `OMP_NUM_THREADS=" + omp + " bash bench/warm_seq.sh build/offerq "
      + " ".join(seeds) + "` (from the source tree)"]
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
