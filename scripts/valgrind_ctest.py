#!/usr/bin/env python3
"""valgrind_ctest.py — runs the CTest tests of one label under valgrind memcheck.

    valgrind_ctest.py BUILD_DIR [LABEL]      (LABEL defaults to "unit")

`ctest -T memcheck` needs a CTest dashboard configuration the project does
not have; this reads the test list from `ctest --show-only=json-v1` and runs
each command under valgrind itself, with the test's working directory and
environment. Prints one line per test and, last, "P passed, F failed".
Exits 1 when a test fails or valgrind reports an error or a definite leak.
"""
import json
import os
import subprocess
import sys

build = sys.argv[1]
label = sys.argv[2] if len(sys.argv) > 2 else "unit"
listing = subprocess.run(
    ["ctest", "--test-dir", build, "-L", label, "--show-only=json-v1"],
    check=True, capture_output=True, text=True).stdout
tests = json.loads(listing).get("tests", [])

passed = failed = 0
for t in tests:
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    if props.get("DISABLED"):
        continue
    env = dict(os.environ)
    for kv in props.get("ENVIRONMENT", []):
        k, _, v = kv.partition("=")
        env[k] = v
    cwd = props.get("WORKING_DIRECTORY", build)
    timeout = float(props.get("TIMEOUT", 0) or 0) * 20 or 3600
    cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
           "--errors-for-leak-kinds=definite", "--track-origins=yes"] + t["command"]
    try:
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                           errors="replace", timeout=timeout)
        rc, out = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        rc, out = -1, "timed out after %ds" % timeout
    skip = props.get("SKIP_RETURN_CODE")
    if skip is not None and rc == int(skip):
        print("   skip  %s" % t["name"])
    elif rc == 0:
        passed += 1
        print("   ok    %s" % t["name"])
    else:
        failed += 1
        print("   FAIL  %s (exit %d)" % (t["name"], rc))
        print("\n".join(out.splitlines()[-40:]))
    sys.stdout.flush()

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
