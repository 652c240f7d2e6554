# cloud_lib.sh — end-to-end sync of several devices through a cloud remote
# with the CLI (sourced by cloud_<backend>.sh after lib.sh, never run).
#
# The script sets REMOTE (the URL every device syncs with) and, for the
# emulated services, EMU (the emulator's base URL, for its control
# endpoints), then calls the steps it wants.

emu_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../emulators" && pwd)
servers=()
cleanup_servers() {
  local pid
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup_servers EXIT

# start_emulator SCRIPT ARGS...: starts tests/emulators/SCRIPT on a free
# port; sets EMU to its base URL.
start_emulator() {
  local script=$1
  shift
  rm -f "$work/port"
  python3 "$emu_dir/$script" --port 0 --port-file "$work/port" "$@" 2>"$work/emulator.log" &
  servers+=($!)
  local i
  for ((i = 0; i < 500; i++)); do
    [[ -s $work/port ]] && break
    sleep 0.02
  done
  [[ -s $work/port ]] || { cat "$work/emulator.log" >&2; fail "$script did not start"; }
  EMU="http://127.0.0.1:$(cat "$work/port")"
}

# start_webdav: a real WebDAV server (`rclone serve webdav`) on a free port
# of 127.0.0.1 serving $work/dav, basic auth alice / 's3cret pass'. Sets
# $port and $REMOTE (webdav://.../sync/here, whose folder exists).
start_webdav() {
  command -v rclone >/dev/null || fail "rclone is not installed (scripts/install-deps.sh installs it)"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/dav/sync/here"
  rclone serve webdav "$work/dav" --addr "127.0.0.1:$port" --user alice --pass 's3cret pass' \
    --config "$work/rclone.conf" 2>"$work/rclone.log" &
  servers+=($!)
  local i
  for ((i = 0; i < 500; i++)); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null && break
    sleep 0.02
  done
  REMOTE="webdav://alice:s3cret%20pass@127.0.0.1:$port/sync/here"
}

# emu METHOD PATH [JSON]: a control request; the answer in $emu_out.
emu() {
  emu_out=$(python3 - "$1" "$EMU$2" "${3:-}" <<'PY'
import sys, urllib.request
m, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, data=body.encode() if body else (b"" if m == "POST" else None), method=m,
                             headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=30).read().decode())
PY
) || fail "emulator control $1 $2 failed"
}

# emu_stat EXPR: a Python expression over the emulator's stats `s`.
emu_stat() {
  emu GET /_emulator/stats
  python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$emu_out" "$1"
}

# A token command, as an app's would be: prints its cached token tok.<n>
# (accepted by the emulators started with --token tok) and only makes a
# new one, n + 1, when asked to refresh (BACKLESS_TOKEN_REFRESH=1): so a
# token lives across processes until the service says it expired. Counts
# the refreshes in $work/token.count.
make_token_cmd() {
  echo 0 >"$work/token.count"
  cat >"$work/token.sh" <<SH
#!/bin/sh
n=\$(cat "$work/token.count")
if [ "\$BACKLESS_TOKEN_REFRESH" = 1 ]; then
  n=\$((n + 1))
  echo \$n >"$work/token.count"
fi
echo "tok.\$n"
SH
  chmod +x "$work/token.sh"
  export BACKLESS_TOKEN_CMD="$work/token.sh"
}

# rows DB: the synced table as JSON (what a user compares).
rows() {
  ok exec --db "$1" --json "SELECT id, title, n FROM t ORDER BY id"
  printf '%s' "$out"
}

# converge DB...: every device syncs twice round-robin; all tables equal.
converge() {
  local db round
  for round in 1 2; do
    for db in "$@"; do ok sync --db "$db" --remote "$REMOTE"; done
  done
  local first
  first=$(rows "$1")
  for db in "${@:2}"; do same "$(rows "$db")" "$first" "$db against $1"; done
}

# The steps ----------------------------------------------------------------

step_three_devices() {
  step "three devices sync through $REMOTE and converge"
  todo_schema schema
  local db
  for db in a b c; do ok init --db $db.db --schema schema; done
  ok exec --db a.db "INSERT INTO t (id, title, n) VALUES ('a1', 'from A', 1), ('a2', 'also A', 2)"
  ok sync --db a.db --remote "$REMOTE" --json
  json 'd["pushed"] == 8 and d["files_pushed"] == 1 and d["errors"] == []'
  ok sync --db b.db --remote "$REMOTE" --json
  json 'd["pulled"] == 8 and d["files_pulled"] == 1 and d["errors"] == []'
  ok exec --db b.db "UPDATE t SET title = 'B edited' WHERE id = 'a1'" "INSERT INTO t (id, title) VALUES ('b1', 'from B')"
  ok exec --db c.db "INSERT INTO t (id, title, n) VALUES ('c1', 'from C', 3)"
  converge a.db b.db c.db
  ok exec --db c.db --json "SELECT title FROM t WHERE id = 'a1'"
  json 'd == [[{"title": "B edited"}]]'
  ok exec --db a.db --json "SELECT count(*) AS n FROM t"
  json 'd == [[{"n": 4}]]'
  ok status --db a.db --remote "$REMOTE" --json
  json 'len(d["remote"]["devices"]) == 3 and all(x["to_pull"] == 0 for x in d["remote"]["devices"])'
}

# Many pushes from A, read by a new device D in one sync (several files,
# downloaded in a batch); D then pushes and everyone converges.
step_many_files() {
  step "a new device pulls many files at once"
  local i
  for i in 1 2 3 4 5 6 7 8; do
    ok exec --db a.db "INSERT INTO t (id, title, n) VALUES ('m$i', 'many', $i)"
    ok sync --db a.db --remote "$REMOTE"
  done
  ok init --db d.db --schema schema
  ok sync --db d.db --remote "$REMOTE" --json
  json 'd["files_pulled"] >= 10 and d["errors"] == []'
  converge a.db b.db c.db d.db
}

# Idle sync: with the device folders of many devices on the remote, a sync
# where nothing changed makes at most $1 requests.
step_idle() {
  local max=$1 extra=$2 i
  step "idle sync with $extra more devices costs <= $max requests"
  for ((i = 0; i < extra; i++)); do
    ok init --db x$i.db --schema schema
    ok exec --db x$i.db "INSERT INTO t (id, title) VALUES ('x$i', 'extra')"
    ok sync --db x$i.db --remote "$REMOTE"
  done
  ok sync --db a.db --remote "$REMOTE" --json # takes in the new devices
  json 'd["errors"] == []'
  ok sync --db a.db --remote "$REMOTE" --json
  json 'd["pulled"] == 0 and d["pushed"] == 0 and d["errors"] == [] and d["requests"] <= '"$max"
  echo "   idle sync: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$work/.out") requests"
  ok sync --db b.db --remote "$REMOTE" --json # b takes them in too
  ok sync --db b.db --remote "$REMOTE" --json
  json 'd["requests"] <= '"$max"
  # A change by one device is found by the next sync of another.
  ok exec --db x0.db "UPDATE t SET title = 'changed later' WHERE id = 'x0'"
  ok sync --db x0.db --remote "$REMOTE"
  ok sync --db a.db --remote "$REMOTE" --json
  json 'd["pulled"] == 1 and d["errors"] == []'
  ok exec --db a.db --json "SELECT title FROM t WHERE id = 'x0'"
  json 'd == [[{"title": "changed later"}]]'
}

# Tokens now expire after 15 uses (a OneDrive download may be two: the 302
# and the bytes; with 4 transfers in flight a retried request always finds
# a live token). The token every step so far used is past that: the next
# sync is refused at once, asks the token command for a new one and goes
# on; the sync after it (over 15 requests) outlives that one mid-way. Nothing lost or duplicated,
# and the result says what happened.
step_token_expiry() {
  step "a token that expires mid-sync is refreshed through --token-cmd"
  emu POST /_emulator/config '{"expire_after": 15}'
  local before
  before=$(cat "$work/token.count")
  ok exec --db b.db "INSERT INTO t (id, title) VALUES ('t1', 'token'), ('t2', 'token')"
  ok sync --db b.db --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["pushed"] > 0'
  json 'any(w["code"] == "retried" and "token was rejected and renewed" in w["message"] for w in d["warnings"])'
  ok init --db e.db --schema schema
  ok sync --db e.db --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["files_pulled"] >= 3 and d["requests"] > 15'
  json 'any(w["code"] == "retried" and "token was rejected and renewed" in w["message"] for w in d["warnings"])'
  local after
  after=$(cat "$work/token.count")
  ((after - before >= 2)) || fail "the token command refreshed $((after - before)) times; expected 2 or more"
  emu POST /_emulator/config '{"expire_after": 0}'
  converge a.db b.db e.db
}

# The service answers 429 and 503 for a while: retried, the sync succeeds,
# no file is written twice.
step_throttled() {
  step "429 / 503 for a while: retried, nothing lost or duplicated"
  emu POST /_emulator/config '{"retry_after": 0}'
  ok exec --db c.db "INSERT INTO t (id, title) VALUES ('r1', 'retried')"
  emu POST /_emulator/config '{"fail_next": [429, 503, 503, 429, 500, 503]}'
  ok sync --db c.db --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["pushed"] > 0 and d["files_pushed"] == 1'
  json '[w["code"] for w in d["warnings"]] == ["retried"] and "rate-limited (HTTP 429)" in d["warnings"][0]["message"] and "failed (HTTP 5xx" in d["warnings"][0]["message"]'
  [[ $(emu_stat 's["faults"]["scripted"]') -ge 6 ]] || fail "the scripted faults were not all served"
  converge a.db b.db c.db
  ok exec --db a.db --json "SELECT count(*) AS n FROM t WHERE id = 'r1'"
  json 'd == [[{"n": 1}]]'
  ok status --db a.db --remote "$REMOTE" --json
  # No snapshots yet: one file per sequence, none twice (Drive would list
  # a duplicate name as a second file).
  json 'all(x["files"] == x["latest_sequence"] for x in d["remote"]["devices"])'
}

# A service down for good: the sync fails with a clear error, and succeeds
# later with nothing lost.
step_outage() {
  step "an outage: a clear error, then recovery"
  emu POST /_emulator/config '{"fail_rate": 1.0, "retry_after": 0}'
  ok exec --db a.db "INSERT INTO t (id, title) VALUES ('o1', 'outage')"
  status 1 sync --db a.db --remote "$REMOTE" --json
  # Each error says what failed, with the HTTP status and the service's words.
  json 'len(d["errors"]) >= 1 and d["pushed"] == 0 and all("HTTP 50" in e["message"] for e in d["errors"])'
  emu POST /_emulator/config '{"fail_rate": 0.0}'
  ok sync --db a.db --remote "$REMOTE" --json
  json 'd["errors"] == [] and d["pushed"] > 0'
  converge a.db b.db c.db
}
