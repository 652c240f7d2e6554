# lib.sh — helpers shared by the CLI test scripts (sourced, never run).
#
# Each script is run by CTest as `bash SCRIPT BACKLESS`, where BACKLESS is
# the built tool. It works in a fresh temporary folder (removed at exit),
# and stops at the first failed check with "FAIL: ..." on stderr, showing
# what the last command printed.
set -euo pipefail

BL=${1:?usage: $0 PATH_TO_BACKLESS}
[[ $BL == /* ]] || BL=$PWD/$BL
work=$(mktemp -d "${TMPDIR:-/tmp}/backless-cli-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  if [[ -f "$work/.out" ]]; then
    printf -- '--- stdout of the last command:\n' >&2
    cat "$work/.out" >&2
    printf -- '--- stderr of the last command:\n' >&2
    cat "$work/.err" >&2
  fi
  exit 1
}

step() { printf '== %s\n' "$*"; }

# run ARGS...: runs the tool; sets $rc, $out (stdout) and $err (stderr).
run() {
  set +e
  "$BL" "$@" >"$work/.out" 2>"$work/.err"
  rc=$?
  set -e
  out=$(cat "$work/.out")
  err=$(cat "$work/.err")
}

# ok ARGS...: runs the tool and requires exit status 0.
ok() {
  run "$@"
  [[ $rc == 0 ]] || fail "backless $* exited with $rc (expected 0)"
}

# status N ARGS...: runs the tool and requires exit status N and, for N > 0,
# a message on stderr and, for N == 2, nothing on stdout.
status() {
  local want=$1
  shift
  run "$@"
  [[ $rc == "$want" ]] || fail "backless $* exited with $rc (expected $want)"
  if [[ $want != 0 ]]; then
    [[ -n $err ]] || fail "backless $*: no message on stderr"
  fi
  if [[ $want == 2 ]]; then
    [[ -z $out ]] || fail "backless $*: a usage error printed on stdout"
  fi
}

# has TEXT WHAT: requires $out (or, with WHAT=err, $err) to contain TEXT.
has() {
  local text=$1 where=${2:-out}
  local hay=$out
  [[ $where == err ]] && hay=$err
  [[ $hay == *"$text"* ]] || fail "expected $where to contain: $text"
}

# hasnt TEXT WHAT: the opposite.
hasnt() {
  local text=$1 where=${2:-out}
  local hay=$out
  [[ $where == err ]] && hay=$err
  [[ $hay != *"$text"* ]] || fail "expected $where NOT to contain: $text"
}

# same A B WHAT: requires two strings to be equal.
same() {
  [[ "$1" == "$2" ]] || fail "$3: '$1' != '$2'"
}

# json PYTHON_EXPR: evaluates a Python expression over `d`, the JSON that
# the last command printed; fails unless it is true. Python's json keeps
# integers exact.
json() {
  python3 - "$1" "$work/.out" <<'PY' || fail "JSON check failed: $1"
import json, sys
d = json.load(open(sys.argv[2]))
ok = eval(sys.argv[1], {"d": d})
if not ok:
    print("JSON was: " + json.dumps(d)[:2000], file=sys.stderr)
    sys.exit(1)
PY
}

# todo_schema DIR: a schema folder with one synced table t.
todo_schema() {
  mkdir -p "$1"
  cat >"$1/1.sql" <<'SQL'
-- sync: t
CREATE TABLE t (
  id TEXT PRIMARY KEY NOT NULL,
  title TEXT NOT NULL DEFAULT '',
  n INTEGER,
  r REAL,
  b BLOB
);
-- a table that does not sync
CREATE TABLE local_notes (k TEXT PRIMARY KEY, v TEXT);
SQL
}
