#!/usr/bin/env bash
# deps-check.sh - list the Debian packages the build, the linters and the tests
# actually use, and fail when tools/install-deps.sh does not install one of them.
#   headers:  every source in build/compile_commands.json preprocessed with -M by
#             gcc (the build) and by clang (clang-tidy's view: it finds <omp.h>
#             only through libomp-14-dev), each header mapped with dpkg -S;
#   programs: every word of the scripts CI runs (.ci/run, tools/*.sh they call,
#             tests/cli/*.sh) that names a program on this machine, mapped with
#             dpkg -S.
# Packages that every Debian system has (Essential: yes, Priority: required)
# are left out. Configures build/ with compile commands; needs the packages
# installed, so that dpkg knows their files.
#   bash tools/deps-check.sh          check; prints what it found
#   DEPS_LIST=1 bash tools/deps-check.sh   print the package list only
set -euo pipefail
cd "$(dirname "$0")/.."
db=build/compile_commands.json
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# 1. headers, through both compilers
python3 - "$db" > "$tmp/cmds" <<'PY'
import json, shlex, sys
for e in json.load(open(sys.argv[1])):
    args = shlex.split(e["command"]) if "command" in e else e["arguments"]
    keep, skip = [], False
    for a in args[1:]:
        if skip: skip = False; continue
        if a in ("-o", "-c"): skip = a == "-o"; continue
        keep.append(a)
    print(e["directory"] + "\t" + " ".join(shlex.quote(a) for a in keep))
PY
while IFS=$'\t' read -r dir flags; do
  for cc in gcc clang; do
    (cd "$dir" && eval "$cc -M -w $flags -fopenmp" 2>/dev/null) || true
  done
done < "$tmp/cmds" | tr ' \\' '\n\n' | grep '^/' | sort -u > "$tmp/headers"
# 2. programs named by the scripts CI runs
scripts=".ci/run tools/test.sh tools/lint.sh tools/fuzz.sh tools/deps-check.sh $(ls tests/cli/*.sh)"
python3 - $scripts > "$tmp/words" <<'PY'
# Words in command position: a line's first word, or the first word after
# | ; & ( $( ! or a keyword (then, do, if, while, exec, timeout N, command -v).
import re, sys
pos = re.compile(r"(?:^|[|;&(!]|\$\(|\b(?:then|do|if|elif|while|until|exec|else|command -v|timeout [0-9.]+[a-z]?))"
                 r"\s*([A-Za-z][A-Za-z0-9_.+-]*)(?![=A-Za-z0-9_.+-])")  # not VAR=value
words = set()
for path in sys.argv[1:]:
    for line in open(path, errors="replace"):
        line = re.sub(r"(^|\s)#.*$", "", line)
        line = re.sub(r"'[^']*'|\"[^\"$]*\"", " ", line)  # plain strings are not commands
        words.update(pos.findall(line))
print("\n".join(sorted(words)))
PY
while read -r w; do
  for d in /usr/bin /usr/sbin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/$w" ] && [ ! -d "$d/$w" ]; then readlink -f "$d/$w"; echo "$d/$w"; fi
  done
done < "$tmp/words" | sort -u > "$tmp/programs"
# 3. files -> packages, minus what every Debian system has
cat "$tmp/headers" "$tmp/programs" | while read -r f; do
  dpkg -S "$f" 2>/dev/null | sed 's/:.*//; s/, /\n/g' || true
done | sed 's/:amd64$//; s/:[a-z0-9]*$//' | sort -u > "$tmp/pkgs"
: > "$tmp/needed"
while read -r p; do
  info=$(dpkg-query -W -f='${Essential} ${Priority}' "$p" 2>/dev/null || true)
  case "$info" in yes\ * | *required) ;; *) echo "$p" >> "$tmp/needed" ;; esac
done < "$tmp/pkgs"
if [ "${DEPS_LIST:-0}" = 1 ]; then cat "$tmp/needed"; exit 0; fi
# 4. each needed package must be installed by install-deps.sh itself or come
#    with one it installs (a dependency: dpkg knows them only when installed).
listed=$(sed -n '/^PKGS=(/,/^)/p' tools/install-deps.sh | sed 's/#.*//' | tr -s ' \t' '\n' |
  grep -vE '^(PKGS=\(|\)|)$' | sort -u)
closure=$(echo "$listed" | xargs apt-cache depends --recurse --no-recommends --no-suggests \
  --no-conflicts --no-breaks --no-replaces --no-enhances 2>/dev/null |
  grep -oE '^[a-z0-9][a-z0-9.+-]*|Depends: [a-z0-9][a-z0-9.+-]*' | sed 's/.*: //' | sort -u)
missing=""
while read -r p; do
  # a here-string, not echo | grep -q: grep -q may exit before echo is done,
  # and under pipefail the SIGPIPE to echo would count as "missing"
  grep -qx "$p" <<< "$closure" || missing="$missing $p"
done < "$tmp/needed"
echo "deps-check: $(wc -l < "$tmp/headers") headers, $(wc -l < "$tmp/programs") programs," \
     "$(wc -l < "$tmp/needed") packages beyond a minimal Debian"
if [ -n "$missing" ]; then
  echo "deps-check: used by the build, lint or tests but not installed by tools/install-deps.sh:$missing"
  exit 1
fi
echo "deps-check: every package is installed by tools/install-deps.sh (or comes with one it installs)"
