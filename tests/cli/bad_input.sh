# bad_input.sh — wrong command lines exit 2, bad files and bad schemas exit
# 1 with a clear message, and nothing is created or changed by mistake.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

todo_schema schema
mkdir cloud

step "usage errors: exit 2, message on stderr"
status 2 exec "SELECT 1"
has "--db FILE is required" err
status 2 status
status 2 sync --db a.db
has "--remote URL is required" err
status 2 clear
status 2 account
status 2 init --db a.db
has "--schema DIR is required" err
status 2 init --schema schema
status 2 exec --db
has "needs a value" err
status 2 init --db a.db --schema schema --bogus
status 2 sync --db a.db --remote cloud --on-mismatch sometimes
status 2 sync --db a.db --remote cloud --snapshot-threshold zero
status 2 sync --db a.db --remote cloud --snapshot-grace -1
status 2 sync --db a.db --remote cloud --pull-only --push-only
status 2 status --db a.db extra
status 2 clear --db a.db --json
[[ ! -e a.db ]] || fail "a usage error created a.db"

step "a missing database is not created"
status 1 exec --db nope.db "SELECT 1"
same "$err" "backless exec: nope.db is not a backless database; run 'backless init --db nope.db --schema DIR' first" "message"
[[ ! -e nope.db ]] || fail "nope.db was created"
status 1 exec --db nope.db --schema schema "SELECT 1"
[[ ! -e nope.db ]] || fail "nope.db was created with --schema"
for c in status clear account; do
  status 1 $c --db nope.db
  has "nope.db is not a backless database" err
done
status 1 sync --db nope.db --remote cloud
has "not a backless database" err

step "a SQLite file that backless never opened"
sqlite3 plain.db "CREATE TABLE x (y); INSERT INTO x VALUES (1)" 2>/dev/null ||
  python3 -c 'import sqlite3; c = sqlite3.connect("plain.db"); c.execute("CREATE TABLE x (y)"); c.commit()'
sum=$(cksum <plain.db)
status 1 status --db plain.db
has "plain.db is not a backless database; run 'backless init --db plain.db --schema DIR' first" err
same "$(cksum <plain.db)" "$sum" "plain.db changed"

step "a file that is not SQLite"
head -c 4096 /dev/urandom >garbage.db
printf 'hello, I am text\n' >>garbage.db
sum=$(cksum <garbage.db)
status 1 exec --db garbage.db "SELECT 1"
has "is not a SQLite database" err
status 1 init --db garbage.db --schema schema
has "is not a SQLite database" err
status 1 exec --db garbage.db --schema schema "SELECT 1"
has "is not a SQLite database" err
same "$(cksum <garbage.db)" "$sum" "garbage.db changed"

step "remotes: unknown scheme, missing folder, relative path"
ok init --db a.db --schema schema
status 1 sync --db a.db --remote ftp://example.com/x
has "ftp://example.com/x" err
status 1 sync --db a.db --remote "$work/no-such-folder"
status 1 sync --db a.db --remote no-such-folder
status 1 status --db a.db --remote gopher://x
ok status --db a.db --json
json 'd["cursors"] == []'

step "schema dir with a gap (1.sql, 3.sql)"
mkdir gap
echo "CREATE TABLE g (id INTEGER PRIMARY KEY NOT NULL);" >gap/1.sql
echo "CREATE TABLE h (id INTEGER PRIMARY KEY NOT NULL);" >gap/3.sql
status 1 init --db gap.db --schema gap
has "gap" err
[[ ! -e gap.db ]] || fail "a failed init left gap.db behind"

step "a misspelled synced table"
mkdir typo
printf -- "-- sync: todoz\nCREATE TABLE todos (id TEXT PRIMARY KEY NOT NULL, title TEXT);\n" >typo/1.sql
status 1 init --db typo.db --schema typo
has "Failed to enable CRDT for table 'todoz'" err
[[ ! -e typo.db ]] || fail "a failed init left typo.db behind"

step "a synced table without a NOT NULL primary key"
mkdir nopk
printf -- "-- sync: n\nCREATE TABLE n (id TEXT, v TEXT);\n" >nopk/1.sql
status 1 init --db nopk.db --schema nopk
has "'n'" err

step "a broken migration changes nothing"
ok exec --db a.db "INSERT INTO t (id) VALUES ('keep')"
echo "ALTER TABLE t ADD COLUMN oops TEXT; THIS IS NOT SQL;" >schema/2.sql
status 1 exec --db a.db "SELECT 1"
rm schema/2.sql
ok exec --db a.db --json "SELECT id FROM t" "SELECT count(*) AS n FROM pragma_table_info('t') WHERE name = 'oops'"
same "$out" '[[{"id":"keep"}],[{"n":0}]]' "after a failed migration"
echo "bad_input: all checks passed"
