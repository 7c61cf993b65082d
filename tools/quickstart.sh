#!/usr/bin/env bash
# quickstart.sh - install dependencies, build, and run the main job on a
# generated example log: generate (example/log.csv + sidecars), validate and
# summarise, run the nightly coupon job (example/run/), and evaluate its plan
# against the generator's truth (example/run/eval.json, where the dashboard
# of `offerq serve --dir example/run` finds it).
#   bash tools/quickstart.sh                 install Debian packages first (apt-get)
#   bash tools/quickstart.sh --skip-install  the packages are already there
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  --skip-install) ;;
  "") bash tools/install-deps.sh ;;
  *) echo "usage: bash tools/quickstart.sh [--skip-install]" >&2; exit 2 ;;
esac
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
./build/offerq gen --seed 1 --out example/log.csv
./build/offerq summary example/log.csv
./build/offerq run --log example/log.csv --out-dir example/run --budget 5000
./build/offerq eval --log example/log.csv --run example/run --json example/run/eval.json
