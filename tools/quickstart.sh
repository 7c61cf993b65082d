#!/usr/bin/env bash
# quickstart.sh - install dependencies, build, and run the main job on a
# generated example log (example/log.csv and its sidecars).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
mkdir -p example
./build/offerq gen --seed 1 --out example/log.csv
./build/offerq summary example/log.csv
