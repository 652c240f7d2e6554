# sync.sh — two databases init'ed from one schema dir converge through a
# folder; status shows pending changes going to 0 and the remote's devices.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

todo_schema schema
mkdir cloud
ok init --db a.db --schema schema
ok init --db b.db --schema schema
dev_a=$(sqlite3 a.db "SELECT value FROM _sync_meta WHERE key = 'device_id'" 2>/dev/null) ||
  dev_a=$("$BL" status --db a.db --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["device_id"])')

snapshot() { # DB: the table as JSON, the way a user compares devices
  ok exec --db "$1" --json "SELECT * FROM t ORDER BY id"
  printf '%s' "$out"
}

step "status before any sync: pending changes, no cursors"
ok exec --db a.db "INSERT INTO t (id, title, n, r, b) VALUES
  ('a1', 'from A', 9223372036854775807, 0.1, X'0001'), ('a2', 'also A', -1, NULL, NULL)"
ok status --db a.db
has "device id        $dev_a"
has "schema version   1 ($work/schema)"
has "synced tables    t"
has "pending changes  "
hasnt "pending changes  0 "
has "cursors          none"
has "account          none"
ok status --db a.db --json
json 'd["pending_changes"] > 0 and d["last_push_db_version"] == 0 and d["db_version"] >= 1'
json 'd["cursors"] == [] and d["account"] is None and d["synced_tables"] == ["t"]'
json 'd["device_id"] == "'"$dev_a"'" and d["app_folder"] == "Backless"'

step "status --remote on an empty remote"
ok status --db a.db --remote "$work/cloud"
has "no device has pushed yet"

step "A syncs"
ok sync --db a.db --remote "$work/cloud"
[[ $out =~ ^pulled\ 0\ changes\ \(0\ files\),\ pushed\ [1-9][0-9]*\ changes\ \(1\ file\)$ ]] ||
  fail "sync summary: $out"
[[ -z $err ]] || fail "sync wrote to stderr without a terminal"
[[ -d cloud/Backless/changesets/device-$dev_a ]] || fail "no device folder in the cloud"

step "status after the sync: nothing pending"
ok status --db a.db
has "pending changes  0 local changes not pushed yet"
has "(this device: last pushed)"
ok status --db a.db --json
json 'd["pending_changes"] == 0 and d["last_push_db_version"] == d["db_version"]'
json 'd["cursors"][0]["device"] == "'"$dev_a"'" and d["cursors"][0]["last_sequence"] == 1'

step "B's status --remote shows A's changeset to pull"
ok status --db b.db --remote cloud
has "$dev_a  latest 1, cursor 0: 1 changeset to pull"
ok status --db b.db --remote cloud --json
json 'd["remote"]["devices"] == [{"device": "'"$dev_a"'", "this_device": False, "files": 1, "latest_sequence": 1, "latest_snapshot": 0, "cursor": 0, "to_pull": 1}]'

step "B syncs (relative remote path, JSON result)"
ok sync --db b.db --remote ./cloud --json
json 'd["pulled"] > 0 and d["pushed"] == 0 and d["files_pulled"] == 1 and d["files_pushed"] == 0'
json 'd["warnings"] == [] and d["errors"] == [] and d["media_uploaded"] == 0 and d["media_deleted"] == 0'
same "$(snapshot b.db)" "$(snapshot a.db)" "B after pulling"
ok status --db b.db --remote cloud
has "$dev_a  latest 1, cursor 1: up to date"

step "both edit, both sync, they converge"
ok exec --db a.db "UPDATE t SET title = 'A was here' WHERE id = 'a1'" \
  "INSERT INTO t (id, n, b) VALUES ('a3', 42, randomblob(32))"
ok exec --db b.db "UPDATE t SET n = 7 WHERE id = 'a1'" "DELETE FROM t WHERE id = 'a2'" \
  "INSERT INTO t (id, title, r) VALUES ('b1', 'from B', 1e-300)"
ok status --db b.db --json
json 'd["pending_changes"] > 0'
ok sync --db a.db --remote cloud
ok sync --db b.db --remote cloud
ok sync --db a.db --remote cloud
same "$(snapshot b.db)" "$(snapshot a.db)" "after both synced"
ok exec --db a.db --json "SELECT title, n FROM t WHERE id = 'a1'"
same "$out" '[[{"title":"A was here","n":7}]]' "column-level merge"
ok exec --db a.db --json "SELECT count(*) AS n FROM t WHERE id = 'a2'"
same "$out" '[[{"n":0}]]' "delete reached A"
for db in a.db b.db; do
  ok status --db $db --json
  json 'd["pending_changes"] == 0'
done

step "--push-only and --pull-only"
ok exec --db a.db "INSERT INTO t (id) VALUES ('p1')"
ok sync --db a.db --remote cloud --pull-only --json
json 'd["pushed"] == 0'
ok sync --db a.db --remote cloud --push-only --json
json 'd["pushed"] > 0 and d["pulled"] == 0'
ok sync --db b.db --remote cloud --push-only --json
json 'd["pulled"] == 0'
ok sync --db b.db --remote "file://$work/cloud" --pull-only --json
json 'd["pulled"] > 0 and d["pushed"] == 0'
same "$(snapshot b.db)" "$(snapshot a.db)" "after push-only / pull-only"

step "a snapshot with --snapshot-threshold 1; a third device starts from it"
ok exec --db a.db "INSERT INTO t (id) VALUES ('s1')"
ok sync --db a.db --remote cloud --snapshot-threshold 1 --snapshot-grace 1 --json
json 'd["files_pushed"] >= 2'
ls cloud/Backless/changesets/device-"$dev_a" | grep -q '^snapshot-' || fail "no snapshot file"
ok init --db c.db --schema schema
ok sync --db c.db --remote cloud --on-mismatch compatible
ok sync --db b.db --remote cloud
same "$(snapshot c.db)" "$(snapshot a.db)" "third device"
same "$(snapshot b.db)" "$(snapshot a.db)" "B after the snapshot"

step "sync errors: a corrupt changeset is reported, the other devices still sync"
ok status --db b.db --json
dev_b=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$work/.out")
ok exec --db b.db "INSERT INTO t (id) VALUES ('b9')"
ok sync --db b.db --remote cloud
ok exec --db a.db "INSERT INTO t (id) VALUES ('a9')"
ok sync --db a.db --remote cloud
last=$(ls cloud/Backless/changesets/device-"$dev_b"/cs-* | sort | tail -n 1)
printf 'this is not a changeset' >"$last"
status 1 sync --db c.db --remote cloud
has "error [" out
has "device $dev_b" out
ok exec --db c.db --json "SELECT count(*) AS n FROM t WHERE id = 'a9'"
same "$out" '[[{"n":1}]]' "A's change still arrived"
status 1 sync --db c.db --remote cloud --json
json 'len(d["errors"]) == 1 and d["errors"][0]["device"] == "'"$dev_b"'"'
echo "sync: all checks passed"
