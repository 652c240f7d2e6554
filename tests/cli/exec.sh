# exec.sh — init, then exec: table and JSON output, exact int64 and reals,
# blobs, several statements per argument, one transaction for everything.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

todo_schema schema

step "init"
ok init --db a.db --schema schema
has "initialized a.db"
has "schema version  1 ($work/schema)"
has "synced tables   t"
has "app folder      Backless"
[[ $out =~ device\ id\ +[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} ]] ||
  fail "init: no device id"
device=${BASH_REMATCH[0]##* }

step "init again: same device, nothing lost"
ok init --db a.db --schema schema
has "$device"

step "exec: insert, then select as a table"
ok exec --db a.db \
  "INSERT INTO t (id, title, n, r, b) VALUES ('a', 'Buy milk', 9223372036854775807, 0.1, X'00ff10')" \
  "INSERT INTO t (id, title, n, r, b) VALUES ('b', 'Call mom', -9223372036854775808, -2.5e-300, NULL);
   INSERT INTO t (id) VALUES ('c')" \
  "SELECT id, title, n, b FROM t ORDER BY id"
expected="id  title     n                     b
--  --------  --------------------  ---------
a   Buy milk  9223372036854775807   X'00ff10'
b   Call mom  -9223372036854775808  NULL
c             NULL                  NULL"
same "$out" "$expected" "table output"

step "exec: a query with no rows, and two queries in one argument"
ok exec --db a.db "SELECT id FROM t WHERE 0; SELECT count(*) AS n FROM t"
expected="id
--
(no rows)

n
-
3"
same "$out" "$expected" "two tables"

step "exec: statements without rows print nothing"
ok exec --db a.db "UPDATE t SET title = title"
same "$out" "" "UPDATE output"

step "exec --json: one array per row-returning statement"
ok exec --db a.db --json "SELECT * FROM t ORDER BY id" "UPDATE t SET r = r" \
  "SELECT 1 AS one, 1.5 AS half, 'x' AS s, NULL AS z"
json 'len(d) == 2 and len(d[0]) == 3 and d[1] == [{"one": 1, "half": 1.5, "s": "x", "z": None}]'
json 'd[0][0] == {"id": "a", "title": "Buy milk", "n": 9223372036854775807, "r": 0.1, "b": {"base64": "AP8Q"}}'
json 'd[0][1]["n"] == -9223372036854775808 and d[0][1]["r"] == -2.5e-300 and d[0][1]["b"] is None'
json 'list(d[0][0].keys()) == ["id", "title", "n", "r", "b"]'
has "9223372036854775807"
has "-9223372036854775808"

step "exec --json: reals round-trip exactly"
ok exec --db a.db --json "SELECT 0.1 + 0.2 AS x, 1e308 AS big, 5e-324 AS tiny, 3.0 AS three"
json 'd[0][0]["x"] == 0.1 + 0.2 and d[0][0]["big"] == 1e308 and d[0][0]["tiny"] == 5e-324'
json 'isinstance(d[0][0]["three"], float)'

step "exec --json: blobs, empty blobs, text with NUL and non-ASCII, duplicate names"
ok exec --db a.db --json "SELECT X'' AS e, randomblob(0) AS e2, X'fffe' AS ff, 'ü€' AS u, char(97, 0, 98) AS nul, 1 AS k, 2 AS k"
json 'd[0][0]["e"] == {"base64": ""} and d[0][0]["ff"] == {"base64": "//4="}'
json 'd[0][0]["u"] == "ü€" and d[0][0]["nul"] == "a\u0000b"'
json 'd[0][0]["k"] == 1 and d[0][0]["k:2"] == 2'

step "exec --json: a query returning no rows is an empty array"
ok exec --db a.db --json "SELECT * FROM t WHERE 0"
same "$out" "[[]]" "empty result"

step "exec: options after the SQL, and -- before SQL starting with '-'"
ok exec --db a.db "SELECT count(*) AS n FROM t" --json
same "$out" '[[{"n":3}]]' "options after SQL"
ok exec --db a.db --json -- "-- a comment
SELECT 7 AS seven"
same "$out" '[[{"seven":7}]]' "SQL after --"

step "exec: an error in the second statement rolls back the first"
status 1 exec --db a.db "INSERT INTO t (id) VALUES ('d')" "INSERT INTO t (id) VALUES ('a')"
has "UNIQUE constraint failed" err
has "SQL argument 2" err
[[ $err == "backless exec: "* ]] || fail "error not prefixed"
status 1 exec --db a.db "INSERT INTO t (id) VALUES ('e'); SELEC 1"
has "syntax error" err
ok exec --db a.db --json "SELECT count(*) AS n FROM t WHERE id IN ('d', 'e')"
same "$out" '[[{"n":0}]]' "rolled back"

step "exec: nothing is printed when the transaction fails"
status 1 exec --db a.db "SELECT id FROM t" "SELECT nope FROM t"
same "$out" "" "stdout on failure"

step "exec: BEGIN / COMMIT / ROLLBACK are refused before they run"
status 1 exec --db a.db "INSERT INTO t (id) VALUES ('f'); COMMIT; INSERT INTO t (id) VALUES ('g')"
has "one transaction" err
status 1 exec --db a.db "BEGIN"
status 1 exec --db a.db "INSERT INTO t (id) VALUES ('h')" "ROLLBACK"
ok exec --db a.db --json "SELECT count(*) AS n FROM t WHERE id IN ('f', 'g', 'h')"
same "$out" '[[{"n":0}]]' "refused transaction statements"
ok exec --db a.db "SAVEPOINT s; INSERT INTO t (id) VALUES ('s'); ROLLBACK TO s; RELEASE s"
ok exec --db a.db --json "SELECT count(*) AS n FROM t WHERE id = 's'"
same "$out" '[[{"n":0}]]' "savepoints work"

step "exec: writes are recorded by the CRDT engine"
ok exec --db a.db --json "SELECT count(*) > 0 AS yes FROM crsql_changes WHERE \"table\" = 't'"
same "$out" '[[{"yes":1}]]' "crsql_changes"

step "exec: tables that do not sync work as plain SQLite"
ok exec --db a.db "INSERT INTO local_notes VALUES ('k', 'v')" "SELECT v FROM local_notes"
has "v"

step "exec from another directory: the stored schema dir is absolute"
mkdir elsewhere
(cd elsewhere && "$BL" exec --db ../a.db "SELECT count(*) FROM t" >/dev/null) ||
  fail "exec from another directory"
echo "exec: all checks passed"
