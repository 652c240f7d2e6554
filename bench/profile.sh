#!/usr/bin/env bash
# bench/profile.sh — where the time goes in the CRR insert / update / merge
# paths. Builds a profiling bench_crdt (-O3 -g -fno-omit-frame-pointer, the
# engine compiled in) into build-bench/profile/, records it with perf
# (frame-pointer call graphs) and splits the samples by phase with
# perf_phases.mjs. Without perf it falls back to valgrind --tool=callgrind.
#
# With SQLITE_AMALGAMATION=<dir holding sqlite3.c and sqlite3.h> SQLite is
# compiled in as well (with the Debian build's main options), so its internal
# functions have names in the profile; otherwise the system libsqlite3 is
# used and its internals show as [libsqlite3.so...].
#
# usage: bench/profile.sh [--callgrind] [bench_crdt args...]
#   default args: --rows 50000 --repeat 1 --storage memory --mode stmt
#   --callgrind: instead of perf, count instructions per row of each phase
#   with valgrind (noise-free on a loaded machine); default args then
#   --rows 10000 --repeat 1 --storage memory --mode stmt --shape int
set -euo pipefail

use_callgrind=0
if [ "${1:-}" = "--callgrind" ]; then use_callgrind=1; shift; fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/build-bench/profile"
mkdir -p "$out"
if [ $# -eq 0 ]; then
  if [ "$use_callgrind" = 1 ]; then set -- --rows 10000 --repeat 1 --storage memory --mode stmt --shape int
  else set -- --rows 50000 --repeat 1 --storage memory --mode stmt; fi
fi

srcs=()
for f in "$root"/src/crdt/*.c; do
  case "$f" in */ext_entry.c) ;; *) srcs+=("$f") ;; esac
done
cflags=(-std=gnu11 -O3 -g -fno-omit-frame-pointer -DNDEBUG -DSQLITE_CORE=1
        -I"$root/include" -I"$root/src")
libs=(-lpthread -ldl -lm)
if [ -n "${SQLITE_AMALGAMATION:-}" ]; then
  cflags=(-I"$SQLITE_AMALGAMATION" "${cflags[@]}"
          -DSQLITE_THREADSAFE=1 -DSQLITE_SECURE_DELETE -DSQLITE_OMIT_LOOKASIDE
          -DSQLITE_DEFAULT_RECURSIVE_TRIGGERS -DSQLITE_ENABLE_PREUPDATE_HOOK
          -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_TEMP_STORE=1
          -DSQLITE_MAX_VARIABLE_NUMBER=250000 -DSQLITE_ENABLE_MATH_FUNCTIONS)
  if [ ! -f "$out/sqlite3.o" ] || [ "$SQLITE_AMALGAMATION/sqlite3.c" -nt "$out/sqlite3.o" ]; then
    echo "compiling $SQLITE_AMALGAMATION/sqlite3.c ..." >&2
    gcc "${cflags[@]}" -c "$SQLITE_AMALGAMATION/sqlite3.c" -o "$out/sqlite3.o"
  fi
  libs=("$out/sqlite3.o" "${libs[@]}")
else
  libs=(-lsqlite3 "${libs[@]}")
fi
gcc "${cflags[@]}" -o "$out/bench_prof" "$root/bench/bench_crdt.c" "${srcs[@]}" "${libs[@]}"

# Names of the engine's functions, so the report can list them apart.
: > "$out/engine-syms.txt"
for f in "${srcs[@]}"; do
  gcc "${cflags[@]}" -c "$f" -o "$out/tmp.o" && nm "$out/tmp.o" | awk '$2 ~ /^[tT]$/ {print $3}' >> "$out/engine-syms.txt"
done
rm -f "$out/tmp.o"

if [ "$use_callgrind" = 1 ]; then
  valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" "$out/bench_prof" --quiet "$@" \
    --json-out "$out/bench.json" > "$out/bench.txt" 2> "$out/valgrind.log"
  node "$root/bench/callgrind_phases.mjs" "$out/callgrind.out" "$out/bench.json" | tee "$out/instructions.txt"
  echo "details: callgrind_annotate --inclusive=yes $out/callgrind.out" >&2
elif command -v perf >/dev/null 2>&1; then
  perf record -q -o "$out/perf.data" -F 4000 -g -- "$out/bench_prof" --quiet "$@" > "$out/bench.txt"
  perf script -i "$out/perf.data" 2>/dev/null |
    node "$root/bench/perf_phases.mjs" --engine-syms "$out/engine-syms.txt" --top 20 | tee "$out/phases.txt"
  echo "figures of the profiled run: $out/bench.txt; raw: perf report -i $out/perf.data" >&2
else
  valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" "$out/bench_prof" --quiet "$@" > "$out/bench.txt"
  callgrind_annotate --inclusive=yes "$out/callgrind.out" | head -80 | tee "$out/phases.txt"
fi
