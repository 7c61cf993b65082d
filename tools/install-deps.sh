#!/usr/bin/env bash
# install-deps.sh - install offerq's build and test dependencies (Debian 12).
# The package list is the README's "Dependencies" table; tools/deps-check.sh
# (run by CI) fails when the build, lint or tests use a package missing here.
set -euo pipefail
PKGS=(
  cmake make gcc pkg-config   # build
  libcsv-dev                  # CSV parsing (RFC 4180)
  libgsl-dev                  # special functions, optimisers, random variates
  libopenblas-openmp-dev      # cblas matrix products (OpenMP build)
  libjansson-dev              # JSON
  libcmocka-dev               # unit tests
  libxgboost-dev              # gradient-boosted trees (response model's P(order))
  libopenmpi-dev openmpi-bin  # MPI: `mpirun -np N offerq run` (-DOQ_MPI=ON; tests/cli/cli_mpi.sh)
  clang libclang-rt-14-dev    # libFuzzer targets (tools/fuzz.sh)
  clang-tidy cppcheck         # static analysis (tools/lint.sh)
  clang-format git            # tools/lint.sh: format check over `git ls-files`
  libomp-14-dev               # <omp.h> for clang-tidy (the compile commands carry -fopenmp)
  libpq-dev                   # PostgreSQL client (offerq db)
  libhiredis-dev              # Redis client (offerq publish, serve --redis)
  libmicrohttpd-dev           # embedded HTTP server (offerq serve)
  libinih-dev                 # INI parser: offerq nightly's config file
  systemd                     # tests/cli/cli_install.sh: systemd-analyze verify of the units
                              # (installs in a container; nothing is started)
  postgresql redis-server     # real servers for tests/cli/cli_prod.sh
  redis-tools                 # redis-cli: the tests' checks, `--cluster create` (cli_redis_cluster.sh)
  curl python3 chromium       # tests/cli/cli_prod.sh: HTTP checks and the headless dashboard test
)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
echo "install-deps: ${#PKGS[@]} packages present"
