# migrate.sh — adding N.sql to the schema dir migrates the database on the
# next command; --schema points a database at another dir (and is stored).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

todo_schema schema
mkdir cloud
ok init --db a.db --schema schema
ok init --db b.db --schema schema
ok exec --db a.db "INSERT INTO t (id, title) VALUES ('x', 'before')"
ok sync --db a.db --remote cloud
ok sync --db b.db --remote cloud

step "2.sql adds a column; any command migrates"
echo "ALTER TABLE t ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';" >schema/2.sql
ok status --db a.db --json
json 'd["schema_version"] == 2'
ok exec --db a.db --json "SELECT id, priority FROM t"
same "$out" '[[{"id":"x","priority":"normal"}]]' "the new column on A"

step "the new column is written and syncs"
ok exec --db a.db "UPDATE t SET priority = 'high' WHERE id = 'x'" \
  "INSERT INTO t (id, title, priority) VALUES ('y', 'after', 'low')"
ok sync --db a.db --remote cloud
ok sync --db b.db --remote cloud
ok exec --db b.db --json "SELECT id, title, priority FROM t ORDER BY id"
same "$out" '[[{"id":"x","title":"before","priority":"high"},{"id":"y","title":"after","priority":"low"}]]' \
  "B migrated and received the new column"

step "--schema overrides the stored dir and is remembered"
cp -r schema schema2
echo "CREATE TABLE extra (id INTEGER PRIMARY KEY NOT NULL);" >schema2/3.sql
ok status --db a.db --schema schema2 --json
json 'd["schema_version"] == 3 and d["schema_dir"] == "'"$work/schema2"'"'
ok status --db a.db --json
json 'd["schema_dir"] == "'"$work/schema2"'"'

step "a database newer than its schema dir is refused, unchanged"
status 1 exec --db a.db --schema schema "SELECT 1"
has "newer" err
ok status --db a.db --json
json 'd["schema_version"] == 3 and d["schema_dir"] == "'"$work/schema2"'"'

step "a moved schema dir gives a clear error"
mv schema2 moved
status 1 status --db a.db
has "schema2" err
has "--schema" err
ok status --db a.db --schema moved
echo "migrate: all checks passed"
