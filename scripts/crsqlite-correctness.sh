#!/usr/bin/env bash
# scripts/crsqlite-correctness.sh — runs cr-sqlite's own Python correctness
# suite (py/correctness in a checkout of github.com/vlcn-io/cr-sqlite)
# against our loadable extension, the way cr-sqlite runs it against its own.
#
# usage: scripts/crsqlite-correctness.sh CRSQLITE_CHECKOUT [EXTENSION] [pytest args...]
#   CRSQLITE_CHECKOUT  a cr-sqlite source tree (tag v0.16.3 is the version we
#                      mirror); it is only read
#   EXTENSION          our extension without its suffix (default:
#                      build/crsqlite, built by scripts/test.sh or cmake)
#
# Not part of CI: the suite is not packaged by Debian or npm, and tests may
# only install packages from those. It needs Debian's Python with
# python3-pytest and python3-hypothesis (extension loading works there; the
# pyenv python3 on PATH cannot load extensions). The suite's sources are
# copied to a temporary directory and its extension path is pointed at ours;
# nothing is written into the checkout or this repository.
#
# Result at v0.16.3 (2026-11-25): 148 passed. One test depends on the random
# site ids: test_sync.py::test_merge_same_w_tie_breaker fails whenever the
# third database's site id is the largest of the three (about 1 run in 3),
# because by cr-sqlite's own rule (did_cid_win with merge-equal-values: the
# greater site id wins a tie) that database's entry wins again in the
# test's "stability" round. Measured: failed in 105 of 300 runs, each time
# and only when the third site id was the largest (docs/CRDT.md, section 10).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,26p' "$0"
  exit 2
fi
checkout=$(cd "$1" && pwd)
shift
ext="$root/build/crsqlite"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  ext=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
  shift
fi
suite="$checkout/py/correctness"
[ -d "$suite/tests" ] || { echo "no py/correctness/tests under $checkout" >&2; exit 2; }
[ -f "$ext.so" ] || { echo "extension $ext.so not found (build first)" >&2; exit 2; }
py=/usr/bin/python3
"$py" -c 'import pytest, hypothesis' 2>/dev/null ||
  { echo "needs Debian's python3-pytest and python3-hypothesis" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$suite/src" "$suite/tests" "$work/"
[ -d "$suite/prior-dbs" ] && cp -r "$suite/prior-dbs" "$work/"
init="$work/src/crsql_correctness/__init__.py"
grep -q "^extension = " "$init" || { echo "unexpected layout of $init" >&2; exit 2; }
# The suite names its extension in one line; point it at ours.
EXT="$ext" "$py" - "$init" <<'EOF'
import os, re, sys
path = sys.argv[1]
text = open(path).read()
text = re.sub(r"^extension = .*$", "extension = %r" % os.environ["EXT"], text, count=1, flags=re.M)
open(path, "w").write(text)
EOF
cd "$work"
PYTHONPATH="$work/src" "$py" -m pytest tests -q -p no:cacheprovider "$@"
