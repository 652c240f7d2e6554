/*
 * local_writes.c — how local INSERT, UPDATE, DELETE, INSERT OR REPLACE,
 * UPSERT and primary-key changes show up in crsql_changes: col_version,
 * causal length (cl), sentinel rows (cid '-1'), db_version and seq.
 *
 * Every expected result was produced by cr-sqlite 0.16 on the same SQL.
 * Changes render as: table|hex(pk)|cid|quote(val)|col_version|db_version|
 * site ("local" for ours)|cl|seq.
 */
#include "helpers.h"

#define T_DDL                                                    \
  "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b, c);"   \
  "SELECT crsql_as_crr('t');"                                    \
  "CREATE TABLE k (x NOT NULL, y NOT NULL, PRIMARY KEY (x, y));" \
  "SELECT crsql_as_crr('k');"

static sqlite3 *open_tk(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, T_DDL);
  return db;
}

static void test_crdt_local_writes__insert_col_version_one(void) {
  sqlite3 *db = open_tk();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1', 'c1')");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|a|'a1'|1|1|local|1|0\n"
                "t|010901|b|'b1'|1|1|local|1|1\n"
                "t|010901|c|'c1'|1|1|local|1|2");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 1);
  ct_close(db);
}

static void test_crdt_local_writes__insert_no_sentinel(void) {
  sqlite3 *db = open_tk();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1', 'c1')");
  /* A table with non-pk columns records no '-1' row for a plain insert. */
  CT_CHECK_ROWS(db, "SELECT count(*) FROM crsql_changes WHERE cid = '-1'", "0");
  ct_close(db);
}

static void test_crdt_local_writes__insert_pk_only_sentinel(void) {
  sqlite3 *db = open_tk();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1', 'c1')");
  CT_EXEC(db, "INSERT INTO k VALUES (1, 'z')");
  /* A table made only of pk columns has nothing but the sentinel. */
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE \"table\" = 'k'" CT_ORDER,
                "k|0209010B017A|-1|NULL|1|2|local|1|0");
  ct_close(db);
}

static void test_crdt_local_writes__update_bumps_changed_only(void) {
  sqlite3 *db = open_tk();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1', 'c1')");
  CT_EXEC(db, "INSERT INTO k VALUES (1, 'z')");
  CT_EXEC(db, "UPDATE t SET b = 'b2' WHERE id = 1");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|a|'a1'|1|1|local|1|0\n"
                "t|010901|c|'c1'|1|1|local|1|2\n"
                "k|0209010B017A|-1|NULL|1|2|local|1|0\n"
                "t|010901|b|'b2'|2|3|local|1|0");
  CT_EXEC(db, "UPDATE t SET a = 'a3', c = 'c3' WHERE id = 1");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "k|0209010B017A|-1|NULL|1|2|local|1|0\n"
                "t|010901|b|'b2'|2|3|local|1|0\n"
                "t|010901|a|'a3'|2|4|local|1|0\n"
                "t|010901|c|'c3'|2|4|local|1|1");
  ct_close(db);
}

static void test_crdt_local_writes__update_same_value_no_change(void) {
  sqlite3 *db = open_tk();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 'y', NULL)");
  CT_EXEC(db, "UPDATE t SET a = 'x' WHERE id = 1");
  CT_EXEC(db, "UPDATE t SET a = 'x', b = 'y', c = NULL WHERE id = 1");
  /* Writing a column's current value records nothing. (cr-sqlite still
   * consumes a db_version for such an update; we do not pin that.) */
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|a|'x'|1|1|local|1|0\n"
                "t|010901|b|'y'|1|1|local|1|1\n"
                "t|010901|c|NULL|1|1|local|1|2");
  /* 1 and 1.0 are different values (integer vs real): that is a change. */
  CT_EXEC(db, "UPDATE t SET a = 1 WHERE id = 1");
  CT_EXEC(db, "UPDATE t SET a = 1.0 WHERE id = 1");
  CT_CHECK_ROWS(db, "SELECT cid, quote(val), col_version FROM crsql_changes WHERE cid = 'a'",
                "a|1.0|3");
  ct_close(db);
}

static void test_crdt_local_writes__delete_single_sentinel_cl2(void) {
  sqlite3 *db = open_tk();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1', 'c1')");
  CT_EXEC(db, "INSERT INTO k VALUES (1, 'z')");
  CT_EXEC(db, "UPDATE t SET b = 'b2' WHERE id = 1");
  CT_EXEC(db, "UPDATE t SET a = 'a3', c = 'c3' WHERE id = 1");
  CT_EXEC(db, "DELETE FROM t WHERE id = 1");
  /* The row's column entries are gone; one sentinel with cl 2 remains. */
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "k|0209010B017A|-1|NULL|1|2|local|1|0\n"
                "t|010901|-1|NULL|2|5|local|2|0");
  ct_close(db);
}

static void test_crdt_local_writes__reinsert_after_delete_cl3(void) {
  sqlite3 *db = open_tk();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1', 'c1')");
  CT_EXEC(db, "DELETE FROM t WHERE id = 1");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', NULL, 'c1')");
  /* Re-insert: sentinel cl 3, every column starts again at col_version 1. */
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|3|3|local|3|0\n"
                "t|010901|a|'x'|1|3|local|3|1\n"
                "t|010901|b|NULL|1|3|local|3|2\n"
                "t|010901|c|'c1'|1|3|local|3|3");
  ct_close(db);
}

static void test_crdt_local_writes__delete_reinsert_cycle(void) {
  sqlite3 *db = open_tk();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1', 'c1')");
  CT_EXEC(db, "DELETE FROM t WHERE id = 1");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', NULL, 'c1')");
  CT_EXEC(db, "DELETE FROM t WHERE id = 1");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|-1|NULL|4|4|local|4|0");
  CT_EXEC(db, "INSERT INTO t (id) VALUES (1)");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|5|5|local|5|0\n"
                "t|010901|a|NULL|1|5|local|5|1\n"
                "t|010901|b|NULL|1|5|local|5|2\n"
                "t|010901|c|NULL|1|5|local|5|3");
  ct_close(db);
}

static void test_crdt_local_writes__pk_only_delete_reinsert(void) {
  sqlite3 *db = open_tk();
  CT_EXEC(db, "INSERT INTO k VALUES (1, 'z')");
  CT_EXEC(db, "DELETE FROM k");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "k|0209010B017A|-1|NULL|2|2|local|2|0");
  CT_EXEC(db, "INSERT INTO k VALUES (1, 'z')");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "k|0209010B017A|-1|NULL|3|3|local|3|0");
  ct_close(db);
}

static void test_crdt_local_writes__insert_or_replace(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1')");
  /* REPLACE of an existing row is a fresh insert of every column: each
   * col_version goes up, even for unchanged values. (seq 0 is used by the
   * attempt to bump a sentinel this row does not have.) */
  CT_EXEC(db, "INSERT OR REPLACE INTO t VALUES (1, 'a1', 'b1')");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|a|'a1'|2|2|local|1|1\n"
                "t|010901|b|'b1'|2|2|local|1|2");
  CT_EXEC(db, "INSERT OR REPLACE INTO t VALUES (1, 'a2', 'b1')");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|a|'a2'|3|3|local|1|1\n"
                "t|010901|b|'b1'|3|3|local|1|2");
  /* REPLACE of a new row is a plain insert. */
  CT_EXEC(db, "INSERT OR REPLACE INTO t VALUES (2, 'x', 'y')");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE pk = X'010902'" CT_ORDER,
                "t|010902|a|'x'|1|4|local|1|0\n"
                "t|010902|b|'y'|1|4|local|1|1");
  ct_close(db);
}

static void test_crdt_local_writes__insert_or_replace_after_resurrect(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1')");
  CT_EXEC(db, "DELETE FROM t WHERE id = 1");
  CT_EXEC(db, "INSERT OR REPLACE INTO t VALUES (1, 'a2', 'b2')");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|3|3|local|3|0\n"
                "t|010901|a|'a2'|1|3|local|3|1\n"
                "t|010901|b|'b2'|1|3|local|3|2");
  /* Replacing a live row that has a sentinel counts as delete + insert:
   * the causal length goes from 3 to 5. */
  CT_EXEC(db, "INSERT OR REPLACE INTO t VALUES (1, 'a3', 'b2')");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|5|4|local|5|0\n"
                "t|010901|a|'a3'|2|4|local|5|1\n"
                "t|010901|b|'b2'|2|4|local|5|2");
  ct_close(db);
}

static void test_crdt_local_writes__upsert(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (2, 'x', 'y')");
  /* ON CONFLICT DO UPDATE on an existing row is an update. */
  CT_EXEC(db, "INSERT INTO t VALUES (2, 'q', 'r') ON CONFLICT (id) DO UPDATE SET b = excluded.b");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010902|a|'x'|1|1|local|1|0\n"
                "t|010902|b|'r'|2|2|local|1|0");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "2|x|r");
  /* ... and on a new row an insert. */
  CT_EXEC(db, "INSERT INTO t VALUES (3, 'q', 'r') ON CONFLICT (id) DO UPDATE SET b = excluded.b");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE pk = X'010903'" CT_ORDER,
                "t|010903|a|'q'|1|3|local|1|0\n"
                "t|010903|b|'r'|1|3|local|1|1");
  ct_close(db);
}

static void test_crdt_local_writes__upsert_do_nothing(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (3, 'q', 'r')");
  CT_EXEC(db, "INSERT INTO t VALUES (3, 'z', 'z') ON CONFLICT DO NOTHING");
  CT_EXEC(db, "INSERT OR IGNORE INTO t VALUES (3, 'z', 'z')");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010903|a|'q'|1|1|local|1|0\n"
                "t|010903|b|'r'|1|1|local|1|1");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 1);
  ct_close(db);
}

static void test_crdt_local_writes__pk_change(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1')");
  CT_EXEC(db, "UPDATE t SET id = 2 WHERE id = 1");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "2|a1|b1");
  /* The old key is deleted (cl 2), the new one created (cl 1), both at the
   * update's db_version, in that seq order. */
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE cid = '-1'" CT_ORDER,
                "t|010901|-1|NULL|2|2|local|2|0\n"
                "t|010902|-1|NULL|1|2|local|1|1");
  /* The column entries moved to the new key with their col_version. (Their
   * db_version is pinned by pk_change_reaches_incremental_peer, not here:
   * cr-sqlite keeps the old one, which loses them in incremental sync.) */
  CT_CHECK_ROWS(db, "SELECT hex(pk), cid, quote(val), col_version, cl FROM crsql_changes "
                    "WHERE cid != '-1' ORDER BY pk, cid",
                "010902|a|'a1'|1|1\n010902|b|'b1'|1|1");
  ct_close(db);
}

static void test_crdt_local_writes__pk_change_with_column(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'a1', 'b1')");
  CT_EXEC(db, "UPDATE t SET id = 2 WHERE id = 1");
  CT_EXEC(db, "UPDATE t SET id = 3, a = 'zz' WHERE id = 2");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE cid = '-1'" CT_ORDER,
                "t|010901|-1|NULL|2|2|local|2|0\n"
                "t|010902|-1|NULL|2|3|local|2|0\n"
                "t|010903|-1|NULL|1|3|local|1|1");
  /* The changed column is bumped on top of its moved version. */
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE cid = 'a'" CT_ORDER, "t|010903|a|'zz'|2|3|local|1|2");
  CT_CHECK_ROWS(db, "SELECT hex(pk), cid, quote(val), col_version, cl FROM crsql_changes "
                    "WHERE cid = 'b'",
                "010903|b|'b1'|1|1");
  /* Back to a key that was deleted: its causal length goes 2 -> 3. */
  CT_EXEC(db, "UPDATE t SET id = 1 WHERE id = 3");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE cid = '-1'" CT_ORDER,
                "t|010902|-1|NULL|2|3|local|2|0\n"
                "t|010903|-1|NULL|2|4|local|2|0\n"
                "t|010901|-1|NULL|3|4|local|3|1");
  CT_CHECK_ROWS(db, "SELECT hex(pk), cid, quote(val), col_version, cl FROM crsql_changes "
                    "WHERE cid != '-1' ORDER BY pk, cid",
                "010901|a|'zz'|2|3\n010901|b|'b1'|1|3");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|zz|b1");
  ct_close(db);
}

static void test_crdt_local_writes__pk_change_composite_and_pk_only(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE c (x INTEGER NOT NULL, y TEXT NOT NULL, v, PRIMARY KEY (x, y));"
              "SELECT crsql_as_crr('c');"
              "CREATE TABLE k (x NOT NULL, y NOT NULL, PRIMARY KEY (x, y));"
              "SELECT crsql_as_crr('k')");
  CT_EXEC(db, "INSERT INTO c VALUES (1, 'p', 0.5)");
  CT_EXEC(db, "UPDATE c SET y = 'r' WHERE x = 1 AND y = 'p'");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE cid = '-1'" CT_ORDER,
                "c|0209010B0170|-1|NULL|2|2|local|2|0\n"
                "c|0209010B0172|-1|NULL|1|2|local|1|1");
  CT_CHECK_ROWS(db, "SELECT hex(pk), cid, quote(val), col_version, cl FROM crsql_changes "
                    "WHERE cid = 'v'",
                "0209010B0172|v|0.5|1|1");
  CT_EXEC(db, "INSERT INTO k VALUES (1, 'p')");
  CT_EXEC(db, "UPDATE k SET y = 'r'");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE \"table\" = 'k'" CT_ORDER,
                "k|0209010B0170|-1|NULL|2|4|local|2|0\n"
                "k|0209010B0172|-1|NULL|1|4|local|1|1");
  ct_close(db);
}

static void test_crdt_local_writes__pk_change_reaches_incremental_peer(void) {
  /* cr-sqlite 0.16 (which we match) moves column entries to the new key
   * with their old db_version, so a cursor-based sync alone leaves the peer
   * with (1, 'r', NULL) while the origin has (1, 'r', 0.5). Sending the whole
   * row of every key created since the cursor (the backless sync engine's
   * rule) converges. */
  sqlite3 *c = ct_open(), *a = ct_open();
  const char *ddl = "CREATE TABLE tc (x INTEGER NOT NULL, y TEXT NOT NULL, v, PRIMARY KEY (x, y));"
                    "SELECT crsql_as_crr('tc')";
  CT_EXEC(c, ddl);
  CT_EXEC(a, ddl);
  CT_EXEC(c, "INSERT OR REPLACE INTO tc VALUES (1, 'p', 0.5)");
  BL_CHECK_INT(ct_sync(c, a, NULL), 1);
  sqlite3_int64 cursor = ct_int(c, "SELECT crsql_db_version()");
  CT_EXEC(c, "UPDATE tc SET y = 'r' WHERE x = 1 AND y = 'p'");
  char where[256];
  snprintf(where, sizeof where, "WHERE db_version > %lld", (long long)cursor);
  BL_CHECK_INT(ct_sync(c, a, where), 2);
  CT_CHECK_ROWS(c, "SELECT x, y, quote(v) FROM tc", "1|r|0.5");
  CT_CHECK_ROWS(a, "SELECT x, y, quote(v) FROM tc", "1|r|NULL");
  snprintf(where, sizeof where,
           "WHERE db_version <= %lld AND (\"table\", pk) IN (SELECT \"table\", pk FROM crsql_changes "
           "WHERE db_version > %lld AND cid = '-1' AND cl %% 2 = 1)",
           (long long)cursor, (long long)cursor);
  BL_CHECK_INT(ct_sync(c, a, where), 1);
  CT_CHECK_ROWS(a, "SELECT x, y, quote(v) FROM tc", "1|r|0.5");
  ct_close(c);
  ct_close(a);
}

static void test_crdt_local_writes__tx_shares_db_version(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "BEGIN;"
              "INSERT INTO t VALUES (1, 'x', 'y');"
              "INSERT INTO t VALUES (2, 'x', 'y');"
              "UPDATE t SET a = 'q' WHERE id = 1;"
              "DELETE FROM t WHERE id = 2;"
              "COMMIT");
  /* One db_version for the whole transaction; seq numbers every write in
   * order (0..5), so the surviving entries keep seq 1, 4 and 5. */
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|b|'y'|1|1|local|1|1\n"
                "t|010901|a|'q'|2|1|local|1|4\n"
                "t|010902|-1|NULL|2|1|local|2|5");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 1);
  /* The next transaction starts seq at 0 again. */
  CT_EXEC(db, "INSERT INTO t VALUES (6, 'x', 'y')");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE db_version > 1" CT_ORDER,
                "t|010906|a|'x'|1|2|local|1|0\n"
                "t|010906|b|'y'|1|2|local|1|1");
  ct_close(db);
}

static void test_crdt_local_writes__rollback_leaves_no_version(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 'y')");
  CT_EXEC(db, "BEGIN; INSERT INTO t VALUES (5, 'x', 'y'); ROLLBACK");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 1);
  CT_CHECK_ROWS(db, "SELECT count(*) FROM crsql_changes WHERE pk = X'010905'", "0");
  CT_EXEC(db, "INSERT INTO t VALUES (6, 'x', 'y')");
  CT_CHECK_ROWS(db, "SELECT DISTINCT db_version FROM crsql_changes WHERE pk = X'010906'", "2");
  ct_close(db);
}

static void test_crdt_local_writes__next_db_version(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b DEFAULT 7);"
              "SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1)");
  CT_EXEC(db, "BEGIN");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_next_db_version()"), 2);
  BL_CHECK_INT(ct_int(db, "SELECT crsql_next_db_version()"), 2);
  /* With an argument: at least that version, for the rest of the tx. */
  BL_CHECK_INT(ct_int(db, "SELECT crsql_next_db_version(10)"), 10);
  BL_CHECK_INT(ct_int(db, "SELECT crsql_next_db_version()"), 10);
  CT_EXEC(db, "INSERT INTO t VALUES (2, 'y', 2)");
  CT_EXEC(db, "COMMIT");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|a|'x'|1|1|local|1|0\n"
                "t|010901|b|1|1|1|local|1|1\n"
                "t|010902|a|'y'|1|10|local|1|0\n"
                "t|010902|b|2|1|10|local|1|1");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 10);
  ct_close(db);
}

static void test_crdt_local_writes__savepoint_rollback(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "BEGIN; INSERT INTO t VALUES (1, 'x'); SAVEPOINT s; INSERT INTO t VALUES (2, 'y');"
              "ROLLBACK TO s; INSERT INTO t VALUES (3, 'z'); COMMIT");
  /* The rolled-back write leaves no change. (cr-sqlite does not give its
   * seq back: row 3 gets seq 2; a gap is harmless, so only order is pinned.) */
  CT_CHECK_ROWS(db, "SELECT hex(pk), cid, quote(val), col_version, db_version, cl "
                    "FROM crsql_changes ORDER BY seq",
                "010901|a|'x'|1|1|1\n010903|a|'z'|1|1|1");
  CT_CHECK_ROWS(db, "SELECT (SELECT seq FROM crsql_changes WHERE pk = X'010903') > "
                    "(SELECT seq FROM crsql_changes WHERE pk = X'010901')",
                "1");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 1);
  ct_close(db);
}

static void test_crdt_local_writes__merge_and_local_in_one_tx(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x')");
  /* A merge raised this transaction's version to 50: local writes after it
   * in the same transaction share it. */
  CT_EXEC(db, "BEGIN;"
              "INSERT INTO crsql_changes VALUES ('t', X'010905', 'a', 'm', 1, 50, " CT_S1 ", 1, 0);"
              "INSERT INTO t VALUES (6, 'l');"
              "COMMIT");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE db_version > 1" CT_ORDER,
                "t|010905|a|'m'|1|50|" CT_S1_HEX "|1|0\n"
                "t|010906|a|'l'|1|50|local|1|0");
  /* A local write first takes db_version + 1; a later merge with a higher
   * incoming version takes that. */
  CT_EXEC(db, "BEGIN;"
              "INSERT INTO t VALUES (7, 'l');"
              "INSERT INTO crsql_changes VALUES ('t', X'010908', 'a', 'm', 1, 80, " CT_S1 ", 1, 0);"
              "COMMIT");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE db_version > 50" CT_ORDER,
                "t|010907|a|'l'|1|51|local|1|0\n"
                "t|010908|a|'m'|1|80|" CT_S1_HEX "|1|0");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 80);
  ct_close(db);
}

static void test_crdt_local_writes__delete_after_clock_cleared(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a); SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x'); DELETE FROM t__crsql_clock");
  /* With no clock left the row's history restarts: a delete is cl 2 ... */
  CT_EXEC(db, "DELETE FROM t WHERE id = 1");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|-1|NULL|2|1|local|2|0");
  /* ... and a re-insert cl 3. */
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x')");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|3|2|local|3|0\n"
                "t|010901|a|'x'|1|2|local|3|1");
  ct_close(db);
}

/* The engine installs SQL triggers; crsql_after_insert / crsql_after_delete
 * remain for triggers written the cr-sqlite way and must record the same
 * clocks. Two identical tables, one with cr-sqlite-style triggers. */
static void test_crdt_local_writes__c_trigger_functions_match(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE s (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('s');"
              "CREATE TABLE c (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('c');"
              "CREATE TABLE k (id TEXT PRIMARY KEY NOT NULL); SELECT crsql_as_crr('k');"
              "CREATE TABLE kc (id TEXT PRIMARY KEY NOT NULL); SELECT crsql_as_crr('kc');"
              "DROP TRIGGER c__crsql_itrig; DROP TRIGGER c__crsql_dtrig;"
              "CREATE TRIGGER c__crsql_itrig AFTER INSERT ON c WHEN crsql_internal_sync_bit() = 0 "
              "BEGIN VALUES (crsql_after_insert('c', NEW.id)); END;"
              "CREATE TRIGGER c__crsql_dtrig AFTER DELETE ON c WHEN crsql_internal_sync_bit() = 0 "
              "BEGIN VALUES (crsql_after_delete('c', OLD.id)); END;"
              "DROP TRIGGER kc__crsql_itrig; DROP TRIGGER kc__crsql_dtrig;"
              "CREATE TRIGGER kc__crsql_itrig AFTER INSERT ON kc WHEN crsql_internal_sync_bit() = 0 "
              "BEGIN VALUES (crsql_after_insert('kc', NEW.id)); END;"
              "CREATE TRIGGER kc__crsql_dtrig AFTER DELETE ON kc WHEN crsql_internal_sync_bit() = 0 "
              "BEGIN VALUES (crsql_after_delete('kc', OLD.id)); END;");
  static const char *const ops[] = {
      "INSERT INTO %s VALUES (1, 'a', 'b'), (2, 'c', 'd')", "DELETE FROM %s WHERE id = 1",
      "INSERT INTO %s VALUES (1, 'e', 'f')", "INSERT OR REPLACE INTO %s VALUES (2, 'g', 'h')",
      "DELETE FROM %s", "INSERT INTO %s VALUES (1, 'i', 'j')"};
  static const char *const kops[] = {"INSERT INTO %s VALUES ('x'), ('y')", "DELETE FROM %s WHERE id = 'x'",
                                     "INSERT INTO %s VALUES ('x')", "INSERT OR REPLACE INTO %s VALUES ('y')"};
  char sql[256];
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    snprintf(sql, sizeof sql, ops[i], "s");
    CT_EXEC(db, sql);
    snprintf(sql, sizeof sql, ops[i], "c");
    CT_EXEC(db, sql);
  }
  for (size_t i = 0; i < sizeof kops / sizeof kops[0]; i++) {
    snprintf(sql, sizeof sql, kops[i], "k");
    CT_EXEC(db, sql);
    snprintf(sql, sizeof sql, kops[i], "kc");
    CT_EXEC(db, sql);
  }
  char *sql_sql = strdup(ct_rows(db, "SELECT hex(pk), cid, quote(val), col_version, cl FROM crsql_changes "
                                     "WHERE \"table\" = 's' ORDER BY pk, cid"));
  CT_CHECK_ROWS(db, "SELECT hex(pk), cid, quote(val), col_version, cl FROM crsql_changes "
                    "WHERE \"table\" = 'c' ORDER BY pk, cid",
                sql_sql);
  free(sql_sql);
  char *k_sql = strdup(ct_rows(db, "SELECT hex(pk), cid, col_version, cl FROM crsql_changes "
                                   "WHERE \"table\" = 'k' ORDER BY pk, cid"));
  CT_CHECK_ROWS(db, "SELECT hex(pk), cid, col_version, cl FROM crsql_changes "
                    "WHERE \"table\" = 'kc' ORDER BY pk, cid",
                k_sql);
  free(k_sql);
  ct_close(db);
}

/* The UPDATE trigger runs without a statement journal (local_writes.c,
 * bl_lw_update_t), so a failure to record an update rolls back the whole
 * transaction rather than keep a base-table write without its clock. */
static void test_crdt_local_writes__update_failure_rolls_back(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t');"
              "CREATE TABLE other (x); INSERT INTO t VALUES (1, 'x', 'y');");
  CT_EXEC(db, "BEGIN; INSERT INTO other VALUES (1); UPDATE t SET a = 'x2' WHERE id = 1;");
  CT_CHECK_ROWS(db, "SELECT cid, col_version FROM crsql_changes ORDER BY cid", "a|2\nb|1");
  /* Break the engine's view of t: its clock table is gone. */
  CT_EXEC(db, "DROP VIEW t__crsql_clock; DROP VIEW t__crsql_pks; DROP TABLE t__crsql_clk;");
  BL_CHECK(ct_exec(db, "UPDATE t SET a = 'x3' WHERE id = 1") != SQLITE_OK);
  BL_CHECK(strstr(ct_last_error(), "could not record the update of t: no such table") != NULL || (fprintf(stderr, "  got: %s\n", ct_last_error()), 0));
  BL_CHECK_INT(sqlite3_get_autocommit(db), 1); /* rolled back */
  CT_CHECK_ROWS(db, "SELECT a FROM t", "x");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM other"), 0);
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 't__crsql_clk'"), 1);
  ct_close(db);
}

static const bl_test_case cases[] = {
    BL_TEST(test_crdt_local_writes__update_failure_rolls_back),
    BL_TEST(test_crdt_local_writes__c_trigger_functions_match),
    BL_TEST(test_crdt_local_writes__insert_col_version_one),
    BL_TEST(test_crdt_local_writes__insert_no_sentinel),
    BL_TEST(test_crdt_local_writes__insert_pk_only_sentinel),
    BL_TEST(test_crdt_local_writes__update_bumps_changed_only),
    BL_TEST(test_crdt_local_writes__update_same_value_no_change),
    BL_TEST(test_crdt_local_writes__delete_single_sentinel_cl2),
    BL_TEST(test_crdt_local_writes__reinsert_after_delete_cl3),
    BL_TEST(test_crdt_local_writes__delete_reinsert_cycle),
    BL_TEST(test_crdt_local_writes__pk_only_delete_reinsert),
    BL_TEST(test_crdt_local_writes__insert_or_replace),
    BL_TEST(test_crdt_local_writes__insert_or_replace_after_resurrect),
    BL_TEST(test_crdt_local_writes__upsert),
    BL_TEST(test_crdt_local_writes__upsert_do_nothing),
    BL_TEST(test_crdt_local_writes__pk_change),
    BL_TEST(test_crdt_local_writes__pk_change_with_column),
    BL_TEST(test_crdt_local_writes__pk_change_composite_and_pk_only),
    BL_TEST(test_crdt_local_writes__pk_change_reaches_incremental_peer),
    BL_TEST(test_crdt_local_writes__tx_shares_db_version),
    BL_TEST(test_crdt_local_writes__rollback_leaves_no_version),
    BL_TEST(test_crdt_local_writes__next_db_version),
    BL_TEST(test_crdt_local_writes__savepoint_rollback),
    BL_TEST(test_crdt_local_writes__merge_and_local_in_one_tx),
    BL_TEST(test_crdt_local_writes__delete_after_clock_cleared),
};

BL_TEST_MAIN(cases)
