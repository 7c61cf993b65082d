#!/usr/bin/env bash
# lint.sh - cppcheck and clang-tidy (config: .clang-tidy) over the library and
# the CLI. Any finding fails the run. Needs a configured build/ (compile
# commands); creates one if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
files=$(ls src/*.c src/util/*.c src/cli/*.c)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cppcheck --enable=warning,performance,portability --std=c11 --inline-suppr --quiet \
  --error-exitcode=0 -I include -I src $files 2> "$out" || true
# One file at a time: a clang-tidy that dies must fail the run, not pass silently.
for f in $files; do
  if ! clang-tidy -p build --quiet "$f" > "$out.one" 2>/dev/null; then
    echo "$f: clang-tidy failed" >> "$out"
  fi
  grep -E '(warning|error):' "$out.one" >> "$out" || true
done
rm -f "$out.one"
if [ -s "$out" ]; then
  cat "$out"
  echo "lint: $(grep -cE '(warning|error)' "$out") findings"
  exit 1
fi
echo "lint: cppcheck and clang-tidy clean ($(echo "$files" | wc -l) files)"
