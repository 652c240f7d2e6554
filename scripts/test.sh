#!/usr/bin/env bash
# test.sh — installs what is missing, builds, and runs every test of backless.
# This is the README's test command and what .ci/run calls.
#
# Stages (each runs even if an earlier one failed; the exit status is 0 only
# when all pass):
#   1. deps      scripts/install-deps.sh
#   2. build     gcc, -Werror, in build/; ctest, every label
#   3. asan      gcc, AddressSanitizer + UBSan, in build-asan/; ctest
#   4. valgrind  the "unit" tests of build/ under valgrind memcheck
#   5. fuzz      clang + libFuzzer (+ ASan/UBSan), in build-fuzz/; each target
#                runs for BL_FUZZ_SECONDS on a copy of its seed corpus
#
# Environment (all optional):
#   BL_BUILD, BL_BUILD_ASAN, BL_BUILD_FUZZ   build directories
#   BL_JOBS               parallel jobs (default: nproc)
#   BL_WERROR=OFF         do not treat warnings as errors
#   BL_ASAN_EXCLUDE       ctest label regex left out of the ASan run
#                         (default: none; e.g. "differential" to save time)
#   BL_FUZZ_SECONDS       seconds per fuzz target (default 20)
#   BL_VALGRIND_PROPERTY_ITERS  iterations of seeded property tests under
#                         valgrind (default 3; the normal runs use their own)
#   BL_SKIP="asan fuzz"   stages to skip (deps build asan valgrind fuzz)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

build=${BL_BUILD:-build}
build_asan=${BL_BUILD_ASAN:-build-asan}
build_fuzz=${BL_BUILD_FUZZ:-build-fuzz}
jobs=${BL_JOBS:-$(nproc 2>/dev/null || echo 2)}
werror=${BL_WERROR:-ON}
fuzz_seconds=${BL_FUZZ_SECONDS:-20}
skip=" ${BL_SKIP:-} "

summary=()         # one line per stage
failed_stages=()
total_pass=0 total_fail=0 total_skip=0
status=0
start=$SECONDS

banner() { printf '\n==================== %s\n' "$*"; }
elapsed() { local s=$((SECONDS - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
skipped() { [[ "$skip" == *" $1 "* ]]; }
record() { # record STAGE OK|FAIL TEXT
  summary+=("$(printf '%-9s %-4s %s' "$1" "$2" "$3")")
  [[ "$2" == OK ]] || { status=1; failed_stages+=("$1"); }
}

# Counts passed / failed / skipped tests from a CTest JUnit file, adds them
# to the totals and sets junit_counts to "P passed, F failed, S skipped".
# (Not called in $(...): the totals must change in this shell.)
count_junit() {
  local counts
  counts=$(/usr/bin/python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
p = f = s = 0
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 0 0"); sys.exit()
for tc in root.iter("testcase"):
    st = tc.get("status", "")
    if tc.find("failure") is not None or tc.find("error") is not None or st == "fail":
        f += 1
    elif tc.find("skipped") is not None or st in ("notrun", "disabled", "skipped"):
        s += 1
    else:
        p += 1
print(p, f, s)
PY
)
  read -r p f s <<<"$counts"
  total_pass=$((total_pass + p)) total_fail=$((total_fail + f)) total_skip=$((total_skip + s))
  junit_counts="$p passed, $f failed, $s skipped"
}

configure_build() { # configure_build DIR cmake-args...  (log in DIR/build.log)
  local dir=$1 log=$1/build.log
  shift
  mkdir -p "$dir"
  echo "cmake -S . -B $dir $*"
  if ! cmake -S . -B "$dir" "$@" >"$log" 2>&1; then
    tail -n 40 "$log"
    return 1
  fi
  echo "cmake --build $dir -j$jobs"
  if ! cmake --build "$dir" -j"$jobs" >>"$log" 2>&1; then
    grep -E -B2 -A8 'error|Error' "$log" | head -n 80
    return 1
  fi
}

run_ctest() { # run_ctest STAGE DIR ctest-args...
  local stage=$1 dir=$2
  shift 2
  local junit=$dir/ctest-junit.xml
  rm -f "$junit"
  echo "ctest --test-dir $dir $*"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 1800 \
    --output-junit "$(pwd)/$junit" "$@"
  local rc=$?
  count_junit "$junit"
  if [[ $rc -eq 0 ]]; then record "$stage" OK "ctest $dir: $junit_counts"; else
    record "$stage" FAIL "ctest $dir: $junit_counts"; fi
}

# ------------------------------------------------------------------ 1. deps
if ! skipped deps; then
  banner "deps"
  if bash scripts/install-deps.sh; then record deps OK "scripts/install-deps.sh"; else
    record deps FAIL "scripts/install-deps.sh"
    printf '%s\n' "${summary[@]}"
    exit 1
  fi
fi

# ------------------------------------------------------------------ 2. build
if ! skipped build; then
  banner "build: gcc in $build/ ($(elapsed))"
  if configure_build "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBL_WERROR="$werror"; then
    run_ctest build "$build"
  else
    record build FAIL "build failed (see $build/build.log)"
  fi
fi

# ------------------------------------------------------------------ 3. asan
if ! skipped asan; then
  banner "asan: ASan + UBSan in $build_asan/ ($(elapsed))"
  export ASAN_OPTIONS=detect_leaks=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  asan_args=()
  if [[ -n "${BL_ASAN_EXCLUDE:-}" ]]; then asan_args=(-LE "$BL_ASAN_EXCLUDE"); fi
  if configure_build "$build_asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBL_SANITIZE=ON -DBL_BENCH=OFF -DBL_WERROR="$werror"; then
    run_ctest asan "$build_asan" "${asan_args[@]}"
  else
    record asan FAIL "build failed (see $build_asan/build.log)"
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# ------------------------------------------------------------------ 4. valgrind
# Each "unit" test of the normal build under memcheck (scripts/valgrind_ctest.py).
if ! skipped valgrind; then
  banner "valgrind: unit tests of $build/ ($(elapsed))"
  if [[ ! -f "$build/CTestTestfile.cmake" ]]; then
    record valgrind FAIL "no $build/ (build failed)"
  else
    vg_log=$build/valgrind.log
    # Seeded property tests run fewer iterations: valgrind is ~50x slower.
    BL_PROPERTY_ITERS=${BL_VALGRIND_PROPERTY_ITERS:-3} \
      /usr/bin/python3 scripts/valgrind_ctest.py "$build" unit "$jobs" | tee "$vg_log"
    vg_rc=${PIPESTATUS[0]}
    read -r vg_pass _ vg_fail _ < <(tail -n 1 "$vg_log")
    vg_pass=${vg_pass:-0} vg_fail=${vg_fail:-1}
    total_pass=$((total_pass + vg_pass)) total_fail=$((total_fail + vg_fail))
    if [[ $vg_rc -eq 0 ]]; then record valgrind OK "$vg_pass passed, $vg_fail failed"; else
      record valgrind FAIL "$vg_pass passed, $vg_fail failed"; fi
  fi
fi

# ------------------------------------------------------------------ 5. fuzz
if ! skipped fuzz; then
  banner "fuzz: clang + libFuzzer in $build_fuzz/, ${fuzz_seconds}s per target ($(elapsed))"
  clang=$(command -v clang-14 || command -v clang || true)
  if [[ -z "$clang" ]]; then
    record fuzz FAIL "no clang (apt-get install clang-14 libclang-rt-14-dev)"
  elif configure_build "$build_fuzz" -DCMAKE_C_COMPILER="$clang" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBL_FUZZ=ON -DBL_SANITIZE=ON -DBL_TESTS=OFF \
    -DBL_BENCH=OFF; then
    fz_pass=0 fz_fail=0
    export ASAN_OPTIONS=detect_leaks=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    for seeds in fuzz/corpus/*/; do
      t=$(basename "$seeds")
      bin=$build_fuzz/fuzz/$t
      [[ -x "$bin" ]] || { echo "   FAIL  $t (not built)"; fz_fail=$((fz_fail + 1)); continue; }
      mkdir -p "$build_fuzz/corpus/$t" "$build_fuzz/artifacts/$t"
      log=$build_fuzz/fuzz-$t.log
      if "$bin" -max_total_time="$fuzz_seconds" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build_fuzz/artifacts/$t/" \
        "$build_fuzz/corpus/$t" "$seeds" >"$log" 2>&1; then
        runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
        echo "   ok    $t (${runs:-?} inputs)"
        fz_pass=$((fz_pass + 1))
      else
        echo "   FAIL  $t — artifacts in $build_fuzz/artifacts/$t/"
        grep -v '^#' "$log" | tail -n 60
        fz_fail=$((fz_fail + 1))
      fi
    done
    unset ASAN_OPTIONS UBSAN_OPTIONS
    total_pass=$((total_pass + fz_pass)) total_fail=$((total_fail + fz_fail))
    if [[ $fz_fail -eq 0 && $fz_pass -gt 0 ]]; then record fuzz OK "$fz_pass targets clean"; else
      record fuzz FAIL "$fz_pass targets clean, $fz_fail failed"; fi
  else
    record fuzz FAIL "build failed (see $build_fuzz/build.log)"
  fi
fi

# ------------------------------------------------------------------ summary
banner "summary ($(elapsed))"
printf '%s\n' "${summary[@]}"
verdict=PASSED
[[ $status -eq 0 ]] || verdict="FAILED (${failed_stages[*]})"
echo
echo "$total_pass passed, $total_fail failed, $total_skip skipped — $verdict"
exit $status
