#!/usr/bin/env bash
# bench/run.sh — builds bench_crdt (Release, own build dir build-bench), runs
# it and the cr-sqlite 0.16 reference (wasm, via node), and prints the ratios
# side by side. Results (JSON + the side-by-side table) go to
# build-bench/bench-results/ (or $BL_BENCH_OUT).
#
# usage: bench/run.sh [--rows N] [--repeat R] [--shape int|text|all]
#                     [--mode stmt|sql|all] [--storage file|memory|all]
#                     [--no-reference] [--markdown] [-- extra bench_crdt args]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build-bench"
out="${BL_BENCH_OUT:-$build/bench-results}"

common=()      # passed to both programs
ours_only=()   # passed to bench_crdt only
reference=1
markdown=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rows|--repeat|--shape|--mode) common+=("$1" "$2"); shift 2 ;;
    --storage) ours_only+=("$1" "$2"); shift 2 ;;
    --no-reference) reference=0; shift ;;
    --markdown) markdown=(--markdown); shift ;;
    --) shift; ours_only+=("$@"); break ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

# Tests are not needed here (and a broken test tree must not stop the bench).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBL_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target bench_crdt >/dev/null
mkdir -p "$out"

echo "== machine"
date -u '+%Y-%m-%d %H:%M UTC'
echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified)')"
uname -a
lscpu 2>/dev/null | grep -E '^(Model name|CPU\(s\)|L2 cache|L3 cache)' || true
echo

echo "== ours: bench_crdt"
"$build/bench/bench_crdt" ${common[@]+"${common[@]}"} ${ours_only[@]+"${ours_only[@]}"} \
  --json-out "$out/backless.json"
echo

ref_json=()
if [ "$reference" = 1 ]; then
  if command -v node >/dev/null 2>&1; then
    echo "== reference: cr-sqlite 0.16 (wasm)"
    node "$root/bench/reference_crsqlite.mjs" ${common[@]+"${common[@]}"} \
      --json-out "$out/crsqlite-wasm.json"
    ref_json=("$out/crsqlite-wasm.json")
    echo
  else
    echo "== reference skipped: node not found" >&2
  fi
fi

if command -v node >/dev/null 2>&1; then
  echo "== side by side (ratios against plain SQLite in the same run)"
  node "$root/bench/compare.mjs" "$out/backless.json" ${ref_json[@]+"${ref_json[@]}"} \
    ${markdown[@]+"${markdown[@]}"} | tee "$out/side-by-side.txt"
fi
