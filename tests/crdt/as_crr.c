/*
 * as_crr.c — crsql_as_crr: which tables can become CRRs (with cr-sqlite
 * 0.16's exact messages), idempotence, backfill of existing rows, and the
 * "<t>__crsql_clock" table the seed's clear() deletes from.
 *
 * Expected values were taken from cr-sqlite 0.16 (the wasm build) running
 * the same SQL.
 */
#include "helpers.h"

/* Checks that as_crr on `table` fails with `msg` and changes nothing. */
#define CHECK_REJECTED(db, table, msg)                                 \
  do {                                                                 \
    char before_[64 * 1024];                                           \
    snprintf(before_, sizeof before_, "%s", ct_dump(db, 0));           \
    CT_CHECK_FAILS_EXACT(db, "SELECT crsql_as_crr('" table "')", msg); \
    BL_CHECK_STR(ct_dump(db, 0), before_);                             \
  } while (0)

static void test_crdt_as_crr__returns_ok(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a)");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('t')", "OK");
  /* Names are matched as SQLite matches them: case-insensitively. */
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('T')", "OK");
  /* The two-argument form names the schema. */
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('main', 't')", "OK");
  ct_close(db);
}

static void test_crdt_as_crr__idempotent(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b);"
              "INSERT INTO t VALUES (1, 'x', 'y'), (2, 'z', NULL)");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('t')", "OK");
  const char *after_first = ct_dump(db, 0);
  char saved[64 * 1024];
  snprintf(saved, sizeof saved, "%s", after_first);
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('t')", "OK");
  /* The second call changes nothing: no second backfill, no new version. */
  BL_CHECK_STR(ct_dump(db, 0), saved);
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 1);
  /* Triggers are not installed twice: one update bumps col_version once. */
  CT_EXEC(db, "UPDATE t SET a = 'x2' WHERE id = 1");
  CT_EXEC(db, "INSERT INTO t VALUES (3, 'n', 'n')");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|b|'y'|1|1|local|1|1\n"
                "t|010902|a|'z'|1|1|local|1|2\n"
                "t|010902|b|NULL|1|1|local|1|3\n"
                "t|010901|a|'x2'|2|2|local|1|0\n"
                "t|010903|a|'n'|1|3|local|1|0\n"
                "t|010903|b|'n'|1|3|local|1|1");
  ct_close(db);
}

static void test_crdt_as_crr__backfills_existing_rows(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b);"
              "INSERT INTO t VALUES (1, 'x', 'y'), (2, 'z', NULL);"
              "CREATE TABLE k (id TEXT PRIMARY KEY NOT NULL);"
              "INSERT INTO k VALUES ('a'), ('b')");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('t')", "OK");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('k')", "OK");
  /* Each existing row gets col_version 1 per non-pk column; a pk-only table
   * gets sentinels. Each as_crr is its own db_version. */
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|a|'x'|1|1|local|1|0\n"
                "t|010901|b|'y'|1|1|local|1|1\n"
                "t|010902|a|'z'|1|1|local|1|2\n"
                "t|010902|b|NULL|1|1|local|1|3\n"
                "k|010B0161|-1|NULL|1|2|local|1|0\n"
                "k|010B0162|-1|NULL|1|2|local|1|1");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 2);
  ct_close(db);
}

static void test_crdt_as_crr__missing_table(void) {
  sqlite3 *db = ct_open();
  char before[64 * 1024];
  snprintf(before, sizeof before, "%s", ct_dump(db, 0));
  /* cr-sqlite says "Table nope has no primary key or primary key is
   * nullable. ..."; a clearer "does not exist" is allowed. Either way the
   * message names the table. */
  CT_CHECK_FAILS(db, "SELECT crsql_as_crr('nope')", "nope");
  BL_CHECK_STR(ct_dump(db, 0), before);
  ct_close(db);
}

static void test_crdt_as_crr__no_pk(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t3 (a, b)");
  CHECK_REJECTED(db, "t3",
                 "Table t3 has no primary key or primary key is nullable. CRRs must have a non "
                 "nullable primary key");
  ct_close(db);
}

static void test_crdt_as_crr__nullable_pk(void) {
  sqlite3 *db = ct_open();
  /* A non-INTEGER PRIMARY KEY column is nullable in SQLite unless declared
   * NOT NULL; so is an INTEGER PRIMARY KEY in cr-sqlite's check. */
  CT_EXEC(db, "CREATE TABLE t1 (a PRIMARY KEY, b); CREATE TABLE t9 (a INTEGER PRIMARY KEY, b)");
  CHECK_REJECTED(db, "t1",
                 "Table t1 has no primary key or primary key is nullable. CRRs must have a non "
                 "nullable primary key");
  CHECK_REJECTED(db, "t9",
                 "Table t9 has no primary key or primary key is nullable. CRRs must have a non "
                 "nullable primary key");
  ct_close(db);
}

static void test_crdt_as_crr__nullable_composite_pk(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t4 (a NOT NULL, b, PRIMARY KEY (a, b))");
  CHECK_REJECTED(db, "t4",
                 "Table t4 has composite primary key part of which is nullable. CRRs must have a "
                 "non nullable primary key");
  ct_close(db);
}

static void test_crdt_as_crr__unique_index(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t2 (a INTEGER PRIMARY KEY NOT NULL, b UNIQUE);"
              "CREATE TABLE t2b (a INTEGER PRIMARY KEY NOT NULL, b);"
              "CREATE UNIQUE INDEX t2bu ON t2b (b)");
  /* "besidesthe" is cr-sqlite's spelling (a lost space in its source). */
  CHECK_REJECTED(db, "t2",
                 "Table t2 has unique indices besidesthe primary key. This is not allowed for CRRs");
  CHECK_REJECTED(db, "t2b",
                 "Table t2b has unique indices besidesthe primary key. This is not allowed for CRRs");
  ct_close(db);
}

static void test_crdt_as_crr__plain_index_allowed(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE ix (id INTEGER PRIMARY KEY NOT NULL, b); CREATE INDEX ixb ON ix (b)");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('ix')", "OK");
  ct_close(db);
}

static void test_crdt_as_crr__checked_foreign_key(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE p (id INTEGER PRIMARY KEY NOT NULL);"
              "CREATE TABLE t6 (a INTEGER PRIMARY KEY NOT NULL, b REFERENCES p (id))");
  CHECK_REJECTED(db, "t6",
                 "Table t6 has checked foreign key constraints. CRRs may have foreign keys but "
                 "must not have checked foreign key constraints as they can be violated by row "
                 "level security or replication.");
  ct_close(db);
}

static void test_crdt_as_crr__not_null_without_default(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t7 (a INTEGER PRIMARY KEY NOT NULL, b NOT NULL)");
  CHECK_REJECTED(db, "t7",
                 "Table t7 has a NOT NULL column without a DEFAULT VALUE. This is not allowed as "
                 "it prevents forwards and backwards compatibility between schema versions. Make "
                 "the column nullable or assign a default value to it.");
  /* With a default it is fine. */
  CT_EXEC(db, "CREATE TABLE t8 (a INTEGER PRIMARY KEY NOT NULL, b NOT NULL DEFAULT 1)");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('t8')", "OK");
  ct_close(db);
}

static void test_crdt_as_crr__autoincrement(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t5 (a INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, b)");
  CHECK_REJECTED(db, "t5",
                 "t5 has auto-increment primary keys. This is likely a mistake as two concurrent "
                 "nodes will assign unrelated rows the same primary key. Either use a primary key "
                 "that represents the identity of your row or use a database friendly UUID such "
                 "as UUIDv7");
  ct_close(db);
}

static void test_crdt_as_crr__without_rowid(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE wr (a INTEGER NOT NULL, b TEXT NOT NULL, c, PRIMARY KEY (a, b)) "
              "WITHOUT ROWID");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('wr')", "OK");
  CT_EXEC(db, "INSERT INTO wr VALUES (1, 'x', 3)");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "wr|0209010B0178|c|3|1|1|local|1|0");
  ct_close(db);
}

static void test_crdt_as_crr__clock_table_exists(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a)");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 't__crsql_clock'"), 0);
  CT_EXEC(db, "SELECT crsql_as_crr('t')");
  /* Our storage is a table; cr-sqlite's layout is a view over it. */
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                          "name = 't__crsql_clk'"),
               1);
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND "
                          "name IN ('t__crsql_clock', 't__crsql_pks')"),
               2);
  CT_EXEC(db, "INSERT INTO t VALUES (7, 'x')");
  CT_CHECK_ROWS(db, "SELECT * FROM t__crsql_clock", "7|a|1|1|0|0");
  CT_CHECK_ROWS(db, "SELECT * FROM t__crsql_pks", "7|7");
  CT_EXEC(db, "UPDATE t__crsql_clock SET col_version = 5 WHERE key = 7 AND col_name = 'a'");
  CT_CHECK_ROWS(db, "SELECT cid, col_version FROM crsql_changes", "a|5");
  ct_close(db);
}

static void test_crdt_as_crr__delete_from_clock_clears(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b);"
              "CREATE TABLE k (id TEXT PRIMARY KEY NOT NULL);"
              "SELECT crsql_as_crr('t'); SELECT crsql_as_crr('k');"
              "INSERT INTO t VALUES (1, 'x', 'y'), (2, 'z', NULL);"
              "INSERT INTO k VALUES ('a');"
              "UPDATE t SET b = 'y2' WHERE id = 1");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 3);
  /* The seed's clear(): the clock goes, the rows stay, other tables keep
   * their clocks. */
  CT_EXEC(db, "DELETE FROM t__crsql_clock");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "k|010B0161|-1|NULL|1|2|local|1|0");
  CT_CHECK_ROWS(db, "SELECT count(*) FROM crsql_changes WHERE \"table\" = 't'", "0");
  CT_CHECK_ROWS(db, "SELECT id, a, b FROM t ORDER BY id", "1|x|y2\n2|z|NULL");
  /* db_version is the highest version left in the clocks. */
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 2);
  /* Tracking starts afresh: the next update is col_version 1. */
  CT_EXEC(db, "UPDATE t SET a = 'new' WHERE id = 2");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "k|010B0161|-1|NULL|1|2|local|1|0\n"
                "t|010902|a|'new'|1|3|local|1|0");
  ct_close(db);
}

static void test_crdt_as_crr__quoted_identifiers(void) {
  /* cr-sqlite 0.16 fails ("SQL logic error") on a table name containing a
   * double quote; the spec requires identifiers to be quoted everywhere, so
   * we require it to work, end to end. */
  sqlite3 *a = ct_open(), *b = ct_open();
  const char *ddl = "CREATE TABLE \"we\"\"ird 'tbl'\" (id TEXT PRIMARY KEY NOT NULL, \"c\"\"ol\", "
                    "\"sp ace\" DEFAULT 'd');"
                    "SELECT crsql_as_crr('we\"ird ''tbl''')";
  CT_EXEC(a, ddl);
  CT_EXEC(b, ddl);
  CT_EXEC(a, "INSERT INTO \"we\"\"ird 'tbl'\" VALUES ('k1', 'v1', 'v2')");
  CT_CHECK_ROWS(a, "SELECT \"table\", cid, quote(val) FROM crsql_changes ORDER BY seq",
                "we\"ird 'tbl'|c\"ol|'v1'\nwe\"ird 'tbl'|sp ace|'v2'");
  BL_CHECK_INT(ct_sync(a, b, NULL), 2);
  CT_CHECK_ROWS(b, "SELECT * FROM \"we\"\"ird 'tbl'\"", "k1|v1|v2");
  ct_close(a);
  ct_close(b);
}

static void test_crdt_as_crr__reserved_looking_names(void) {
  /* Column names that look like the engine's own bookkeeping are accepted
   * as long as they cannot collide with the clock's metadata columns. */
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE w2 (id INTEGER PRIMARY KEY NOT NULL, \"__crsql_cl\", "
              "\"a__crsql_v\", a)");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('w2')", "OK");
  CT_EXEC(db, "INSERT INTO w2 VALUES (1, 2, 3, 4)");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "w2|010901|__crsql_cl|2|1|1|local|1|0\n"
                "w2|010901|a__crsql_v|3|1|1|local|1|1\n"
                "w2|010901|a|4|1|1|local|1|2");
  CT_EXEC(db, "CREATE TABLE w4 (k INTEGER PRIMARY KEY NOT NULL, \"x__crsql_v\", x)");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('w4')", "OK");
  CT_EXEC(db, "INSERT INTO w4 VALUES (1, 2, 3)");
  CT_EXEC(db, "BEGIN; UPDATE w4 SET x = 4; UPDATE w2 SET a = 5, \"__crsql_cl\" = 6; COMMIT");
  CT_CHECK_ROWS(db, "SELECT \"table\", cid, col_version FROM crsql_changes WHERE db_version = 3 "
                    "ORDER BY seq",
                "w4|x|2\nw2|__crsql_cl|2\nw2|a|2");
  /* Deliberate difference from cr-sqlite: a primary key named exactly like
   * a clock metadata column is refused with a clear error, nothing created. */
  CT_EXEC(db, "CREATE TABLE w5 (\"__crsql_dbv\" INTEGER PRIMARY KEY NOT NULL, a)");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('w5')",
                "ERROR: Table w5 cannot be a CRR: its column names collide with the clock metadata "
                "column __crsql_dbv; rename the column");
  CT_EXEC(db, "CREATE TABLE w6 (\"x__crsql_v\" INTEGER PRIMARY KEY NOT NULL, x)");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('w6')",
                "ERROR: Table w6 cannot be a CRR: its column names collide with the clock metadata "
                "column x__crsql_v; rename the column");
  CT_CHECK_ROWS(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'w5%' OR name LIKE 'w6%'", "2");
  ct_close(db);
}

static void test_crdt_as_crr__quoted_pk_name(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE w5 (\"i\"\"d\" INTEGER PRIMARY KEY NOT NULL, b)");
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('w5')", "OK");
  CT_EXEC(db, "INSERT INTO w5 VALUES (1, 2); UPDATE w5 SET \"i\"\"d\" = 3; DELETE FROM w5");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "w5|010901|-1|NULL|2|2|local|2|0\n"
                "w5|010903|-1|NULL|2|3|local|2|0");
  ct_close(db);
}

static void test_crdt_as_crr__wide_table(void) {
  /* 62 non-pk columns is the most cr-sqlite 0.16 handles with one pk column
   * (its update trigger passes 1 + 2 * (pks + columns) function arguments,
   * at most 127); we must handle at least that. */
  sqlite3 *db = ct_open();
  char ddl[4096] = "CREATE TABLE wide (id INTEGER PRIMARY KEY NOT NULL";
  size_t len = strlen(ddl);
  for (int i = 0; i < 62; i++) len += (size_t)snprintf(ddl + len, sizeof ddl - len, ", c%d", i);
  snprintf(ddl + len, sizeof ddl - len, ")");
  CT_EXEC(db, ddl);
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('wide')", "OK");
  CT_EXEC(db, "INSERT INTO wide (id, c0) VALUES (1, 'x')");
  CT_EXEC(db, "UPDATE wide SET c61 = 'y'");
  CT_CHECK_ROWS(db, "SELECT count(*), max(col_version), max(seq) FROM crsql_changes", "62|2|60");
  sqlite3 *b = ct_open();
  CT_EXEC(b, ddl);
  CT_EXEC(b, "SELECT crsql_as_crr('wide')");
  BL_CHECK_INT(ct_sync(db, b, NULL), 62);
  CT_CHECK_ROWS(b, "SELECT id, c0, c1, c61 FROM wide", "1|x|NULL|y");
  ct_close(db);
  ct_close(b);
}

static void test_crdt_as_crr__alter_add_column(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a); SELECT crsql_as_crr('t');"
              "INSERT INTO t VALUES (1, 'x'), (2, 'y')");
  CT_CHECK_ROWS(db, "SELECT crsql_begin_alter('t')", "OK");
  CT_EXEC(db, "ALTER TABLE t ADD COLUMN b DEFAULT 'dflt'");
  /* Writes between begin and commit are not tracked as writes ... */
  CT_EXEC(db, "UPDATE t SET b = 'set' WHERE id = 1; UPDATE t SET a = 'x2' WHERE id = 1");
  CT_EXEC(db, "SELECT crsql_commit_alter('t')");
  /* ... but commit_alter backfills every value of a column that differs
   * from its default and has no clock entry, at col_version 1 and the
   * current db_version. (a was already tracked, so stays col_version 1.) */
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|a|'x2'|1|1|local|1|0\n"
                "t|010901|b|'set'|1|1|local|1|0\n"
                "t|010902|a|'y'|1|1|local|1|1");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 1);
  /* The new column is tracked like the others afterwards. */
  CT_EXEC(db, "INSERT INTO t VALUES (3, 'z', 'q'); UPDATE t SET b = 'n' WHERE id = 2");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE db_version > 1" CT_ORDER,
                "t|010903|a|'z'|1|2|local|1|0\n"
                "t|010903|b|'q'|1|2|local|1|1\n"
                "t|010902|b|'n'|1|3|local|1|0");
  ct_close(db);
}

static void test_crdt_as_crr__alter_drop_column(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b DEFAULT 'dflt');"
              "SELECT crsql_as_crr('t');"
              "INSERT INTO t VALUES (1, 'x', 'set'); INSERT INTO t VALUES (2, 'y', 'n')");
  CT_CHECK_ROWS(db, "SELECT crsql_begin_alter('t')", "OK");
  CT_EXEC(db, "ALTER TABLE t DROP COLUMN a");
  CT_EXEC(db, "SELECT crsql_commit_alter('t')");
  /* The dropped column's entries are gone; the rest is untouched. */
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|b|'set'|1|1|local|1|1\n"
                "t|010902|b|'n'|1|2|local|1|1");
  CT_EXEC(db, "UPDATE t SET b = 'm' WHERE id = 1");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE db_version > 2", "t|010901|b|'m'|2|3|local|1|0");
  /* Changes naming the dropped column are refused. */
  CT_CHECK_FAILS(db, "INSERT INTO crsql_changes VALUES ('t', X'010901', 'a', 'v', 9, 9, " CT_S1
                     ", 1, 0)",
                 "");
  ct_close(db);
}

/* A table that cr-sqlite 0.16 itself made a CRR (its clock and lookaside
 * tables, its triggers) is converted by crsql_as_crr: same changes, same
 * versions, sites and seqs, entries of dropped columns gone, and tracking
 * goes on. */
static void test_crdt_as_crr__imports_crsqlite_layout(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db,
          "CREATE TABLE foo (id INTEGER PRIMARY KEY NOT NULL, a, b);"
          "INSERT INTO foo VALUES (5, 'x', 'y'), (7, 'z', NULL);"
          "CREATE TABLE foo__crsql_clock (key INTEGER NOT NULL, col_name TEXT NOT NULL, col_version "
          "INTEGER NOT NULL, db_version INTEGER NOT NULL, site_id INTEGER NOT NULL DEFAULT 0, seq INTEGER "
          "NOT NULL, PRIMARY KEY (key, col_name)) WITHOUT ROWID, STRICT;"
          "CREATE INDEX foo__crsql_clock_dbv_idx ON foo__crsql_clock (db_version);"
          "CREATE TABLE foo__crsql_pks (__crsql_key INTEGER PRIMARY KEY, id);"
          "CREATE UNIQUE INDEX foo__crsql_pks_pks ON foo__crsql_pks (id);"
          "INSERT INTO foo__crsql_pks VALUES (1, 5), (2, 7), (3, 9);"
          "INSERT INTO crsql_site_id (site_id, ordinal) VALUES (" CT_S1 ", 1);"
          "INSERT INTO foo__crsql_clock VALUES (1, 'a', 2, 3, 0, 0), (1, 'b', 1, 1, 0, 1), "
          "(2, 'a', 1, 1, 1, 2), (2, 'b', 1, 1, 0, 3), (3, '-1', 2, 4, 0, 0), (1, 'gone', 1, 1, 0, 5);"
          "CREATE TRIGGER foo__crsql_itrig AFTER INSERT ON foo WHEN crsql_internal_sync_bit() = 0 "
          "BEGIN VALUES (crsql_after_insert('foo', NEW.id)); END;");
  /* Before conversion, a write names a table the engine does not know. */
  const char *err = ct_rows(db, "INSERT INTO foo VALUES (11, 'n', 'm') RETURNING id");
  BL_CHECK(strstr(err, "run SELECT crsql_as_crr('foo') once") != NULL);
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('foo')", "OK");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "foo|010905|b|'y'|1|1|local|1|1\n"
                "foo|010907|a|'z'|1|1|" CT_S1_HEX "|1|2\n"
                "foo|010907|b|NULL|1|1|local|1|3\n"
                "foo|010905|a|'x'|2|3|local|1|0\n"
                "foo|010909|-1|NULL|2|4|local|2|0");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 4);
  CT_CHECK_ROWS(db, "SELECT type FROM sqlite_master WHERE name IN ('foo__crsql_clock', 'foo__crsql_pks') "
                    "ORDER BY name",
                "view\nview");
  CT_EXEC(db, "INSERT INTO foo VALUES (11, 'n', 'm'); UPDATE foo SET a = 'x2' WHERE id = 5");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE db_version > 4" CT_ORDER,
                "foo|01090B|a|'n'|1|5|local|1|0\n"
                "foo|01090B|b|'m'|1|5|local|1|1\n"
                "foo|010905|a|'x2'|3|6|local|1|0");
  ct_close(db);
}

/* A clock written by an engine before the bucket column (__crsql_dbv
 * indexed, no __crsql_dbvb, triggers calling crsql_after_*) keeps working,
 * and crsql_as_crr upgrades it to the current layout with crsql_changes
 * unchanged. */
static void test_crdt_as_crr__upgrades_legacy_layout(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db,
          "CREATE TABLE foo (id INTEGER PRIMARY KEY NOT NULL, a, b);"
          "SELECT crsql_as_crr('foo');"
          "INSERT INTO foo VALUES (1, 'x', 'y'), (2, 'z', NULL);"
          "UPDATE foo SET a = 'x2' WHERE id = 1;"
          "DELETE FROM foo WHERE id = 2;");
  char before[4096];
  snprintf(before, sizeof before, "%s", ct_rows(db, CT_CHANGES CT_ORDER));
  /* Make it the legacy layout. */
  CT_EXEC(db,
          "DROP VIEW foo__crsql_clock; DROP VIEW foo__crsql_pks;"
          "DROP TRIGGER foo__crsql_itrig; DROP TRIGGER foo__crsql_utrig; DROP TRIGGER foo__crsql_dtrig;"
          "DROP INDEX foo__crsql_clk_dbvb_idx;"
          "ALTER TABLE foo__crsql_clk DROP COLUMN __crsql_dbvb;"
          "CREATE INDEX foo__crsql_clk_dbv_idx ON foo__crsql_clk (__crsql_dbv);"
          "CREATE TRIGGER foo__crsql_itrig AFTER INSERT ON foo WHEN crsql_internal_sync_bit() = 0 "
          "BEGIN VALUES (crsql_after_insert('foo', NEW.id)); END;"
          "CREATE TRIGGER foo__crsql_utrig AFTER UPDATE ON foo WHEN crsql_internal_sync_bit() = 0 "
          "BEGIN VALUES (crsql_after_update('foo', NEW.id, OLD.id, NEW.a, NEW.b, OLD.a, OLD.b)); END;"
          "CREATE TRIGGER foo__crsql_dtrig AFTER DELETE ON foo WHEN crsql_internal_sync_bit() = 0 "
          "BEGIN VALUES (crsql_after_delete('foo', OLD.id)); END;");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, before);
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 3);
  /* Local writes and merges still work on it. */
  CT_EXEC(db, "INSERT INTO foo VALUES (3, 'n', 'm'); UPDATE foo SET b = 'y2' WHERE id = 1");
  sqlite3 *peer = ct_open();
  CT_EXEC(peer, "CREATE TABLE foo (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('foo');"
                "INSERT INTO foo VALUES (4, 'p', 'q')");
  char site[64], want[1024];
  snprintf(site, sizeof site, "%s", ct_rows(peer, "SELECT hex(crsql_site_id())"));
  BL_CHECK_INT(ct_sync(peer, db, ""), 2);
  snprintf(want, sizeof want,
           "foo|010903|a|'n'|1|4|local|1|0\n"
           "foo|010903|b|'m'|1|4|local|1|1\n"
           "foo|010901|b|'y2'|2|5|local|1|0\n"
           "foo|010904|a|'p'|1|6|%s|1|0\n"
           "foo|010904|b|'q'|1|6|%s|1|1",
           site, site);
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE db_version > 3" CT_ORDER, want);
  snprintf(before, sizeof before, "%s", ct_rows(db, CT_CHANGES CT_ORDER));
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('foo')", "OK");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, before);
  snprintf(want, sizeof want, "foo|010904|a|'p'|1|6|%s|1|0\nfoo|010904|b|'q'|1|6|%s|1|1", site, site);
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE db_version >= 6" CT_ORDER, want);
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 6);
  CT_CHECK_ROWS(db, "SELECT name FROM sqlite_master WHERE tbl_name = 'foo__crsql_clk' AND type = 'index' "
                    "AND name NOT LIKE 'sqlite_%'",
                "foo__crsql_clk_dbvb_idx");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM foo__crsql_clk WHERE __crsql_dbvb != __crsql_dbv >> 6"), 0);
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'foo' "
                          "AND (sql LIKE '%bl_lw_%' OR sql LIKE '%__crsql_dbvb%')"),
               3);
  CT_EXEC(db, "UPDATE foo SET a = 'n2' WHERE id = 3; DELETE FROM foo__crsql_clock WHERE key = 4 AND col_name = 'b'");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE db_version > 6" CT_ORDER, "foo|010903|a|'n2'|2|7|local|1|0");
  snprintf(want, sizeof want, "foo|010904|a|'p'|1|6|%s|1|0", site);
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE pk = X'010904'" CT_ORDER, want);
  CT_CHECK_ROWS(db, "SELECT crsql_as_crr('foo')", "OK"); /* idempotent */
  ct_close(peer);
  ct_close(db);
}

static const bl_test_case cases[] = {
    BL_TEST(test_crdt_as_crr__upgrades_legacy_layout),
    BL_TEST(test_crdt_as_crr__imports_crsqlite_layout),
    BL_TEST(test_crdt_as_crr__returns_ok),
    BL_TEST(test_crdt_as_crr__idempotent),
    BL_TEST(test_crdt_as_crr__backfills_existing_rows),
    BL_TEST(test_crdt_as_crr__missing_table),
    BL_TEST(test_crdt_as_crr__no_pk),
    BL_TEST(test_crdt_as_crr__nullable_pk),
    BL_TEST(test_crdt_as_crr__nullable_composite_pk),
    BL_TEST(test_crdt_as_crr__unique_index),
    BL_TEST(test_crdt_as_crr__plain_index_allowed),
    BL_TEST(test_crdt_as_crr__checked_foreign_key),
    BL_TEST(test_crdt_as_crr__not_null_without_default),
    BL_TEST(test_crdt_as_crr__autoincrement),
    BL_TEST(test_crdt_as_crr__without_rowid),
    BL_TEST(test_crdt_as_crr__clock_table_exists),
    BL_TEST(test_crdt_as_crr__delete_from_clock_clears),
    BL_TEST(test_crdt_as_crr__quoted_identifiers),
    BL_TEST(test_crdt_as_crr__reserved_looking_names),
    BL_TEST(test_crdt_as_crr__quoted_pk_name),
    BL_TEST(test_crdt_as_crr__wide_table),
    BL_TEST(test_crdt_as_crr__alter_add_column),
    BL_TEST(test_crdt_as_crr__alter_drop_column),
};

BL_TEST_MAIN(cases)
