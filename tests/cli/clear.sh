# clear.sh — clear then sync restores every row and the following sync
# pushes nothing; accounts are stored, read and removed by clear.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

todo_schema schema
mkdir cloud
ok init --db a.db --schema schema

step "account: none, set, get"
ok account --db a.db
same "$out" "no account" "account before --set"
ok account --db a.db --set google someone@example.com
same "$out" "google someone@example.com" "account --set"
ok account --db a.db
same "$out" "google someone@example.com" "account after --set"
ok status --db a.db --json
json 'd["account"] == {"provider": "google", "email": "someone@example.com"}'
status 2 account --db a.db --set google
status 2 account --db a.db --bogus

step "rows, then sync"
ok exec --db a.db "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 50)
  INSERT INTO t (id, title, n) SELECT printf('id%03d', i), 'row ' || i, i * 1000000000000 FROM k"
ok exec --db a.db "UPDATE t SET title = 'edited' WHERE id = 'id007'" "DELETE FROM t WHERE id = 'id008'"
ok exec --db a.db "INSERT INTO local_notes VALUES ('keep', 'me')"
ok sync --db a.db --remote cloud
ok exec --db a.db --json "SELECT * FROM t ORDER BY id"
before=$out

step "clear"
ok clear --db a.db
has "cleared a.db"
has "deleted 49 rows of t"
has "removed the account google someone@example.com"
ok exec --db a.db --json "SELECT count(*) AS n FROM t"
same "$out" '[[{"n":0}]]' "rows after clear"
ok exec --db a.db --json "SELECT v FROM local_notes"
same "$out" '[[{"v":"me"}]]' "tables that do not sync are kept"
ok account --db a.db
same "$out" "no account" "account after clear"
ok status --db a.db --json
json 'd["cursors"] == [] and d["pending_changes"] == 0 and d["account"] is None'

step "sync restores everything and pushes nothing"
ok sync --db a.db --remote cloud --json
json 'd["pulled"] > 0 and d["pushed"] == 0 and d["files_pushed"] == 0 and d["errors"] == []'
ok exec --db a.db --json "SELECT * FROM t ORDER BY id"
same "$out" "$before" "restored rows"
ok sync --db a.db --remote cloud --json
json 'd["pulled"] == 0 and d["pushed"] == 0'
ok status --db a.db --json
json 'd["pending_changes"] == 0'

step "after the restore, new changes push as usual"
ok exec --db a.db "UPDATE t SET title = 'after restore' WHERE id = 'id001'"
ok sync --db a.db --remote cloud --json
json 'd["pushed"] == 1'
ok init --db b.db --schema schema
ok sync --db b.db --remote cloud
ok exec --db b.db --json "SELECT * FROM t ORDER BY id"
b_rows=$out
ok exec --db a.db --json "SELECT * FROM t ORDER BY id"
same "$b_rows" "$out" "a new device sees the same rows"

step "clear on a database that was never synced"
ok init --db fresh.db --schema schema
ok clear --db fresh.db
has "no account was stored"
echo "clear: all checks passed"
