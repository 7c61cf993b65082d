#!/usr/bin/env bash
# lint.sh - clang-format (config: .clang-format) over every tracked C file,
# then cppcheck and clang-tidy (config: .clang-tidy) over the library and the
# CLI. Any finding fails the run. Needs a configured build/ (compile
# commands); creates one if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
# Format first: it is the cheapest check and the one a newcomer trips on.
unformatted=""
for f in $(git ls-files '*.c' '*.h'); do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then unformatted="$unformatted $f"; fi
done
if [ -n "$unformatted" ]; then
  echo "lint: not clang-formatted (run: clang-format -i FILE):$unformatted"
  exit 1
fi
files=$(git ls-files 'src/*.c')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# --std=c11: the newest standard cppcheck 2.10 (Debian 12) knows; the build is C17,
# which adds no syntax over C11.
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
