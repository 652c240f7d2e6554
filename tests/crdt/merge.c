/*
 * merge.c — merging remote changes (INSERT INTO crsql_changes) within one
 * causal length: per-column last-writer-wins by col_version, the value
 * tie-break, the 'merge-equal-values' site-id tie-break, the db_version a
 * merged change gets, the origin site id it keeps, crsql_rows_impacted().
 * Causal-length rules (deletes, resurrection) are in causal.c.
 *
 * Expected values come from cr-sqlite 0.16 on the same SQL, except the
 * merge-equal-values cases: the cr-sqlite wasm build used as oracle lacks
 * crsql_config_set, so those follow cr-sqlite's source (did_cid_win in
 * changes_vtab_write.rs) and its test_merge_same_w_tie_breaker.
 */
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"

#define T_DDL "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t')"

/* A change to t, pk integer `pk`, from site `site`. */
#define CHANGE(pk, cid, val, cv, dbv, site, cl, seq)                                          \
  "INSERT INTO crsql_changes VALUES ('t', crsql_pack_columns(" #pk "), '" cid "', " val ", " #cv \
  ", " #dbv ", " site ", " #cl ", " #seq ")"

static void test_crdt_merge__copies_rows(void) {
  sqlite3 *a = ct_open(), *b = ct_open();
  CT_EXEC(a, T_DDL);
  CT_EXEC(b, T_DDL);
  CT_EXEC(a, "INSERT INTO t VALUES (1, 'a1', 'b1')");
  CT_EXEC(b, "INSERT INTO t VALUES (9, 'x', 'y'); INSERT INTO t VALUES (8, 'x', 'y');"
             "UPDATE t SET a = 'z'");
  BL_CHECK_INT(ct_int(b, "SELECT crsql_db_version()"), 3);
  BL_CHECK_INT(ct_sync(a, b, NULL), 2);
  CT_CHECK_ROWS(b, "SELECT id, a, b FROM t ORDER BY id", "1|a1|b1\n8|z|y\n9|z|y");
  ct_close(a);
  ct_close(b);
}

static void test_crdt_merge__keeps_origin_site_id(void) {
  sqlite3 *a = ct_open(), *b = ct_open();
  CT_EXEC(a, T_DDL);
  CT_EXEC(b, T_DDL);
  CT_EXEC(a, "INSERT INTO t VALUES (1, 'a1', 'b1')");
  CT_EXEC(b, "INSERT INTO t VALUES (9, 'x', 'y')");
  BL_CHECK_INT(ct_sync(a, b, NULL), 2);
  char a_site[64];
  snprintf(a_site, sizeof a_site, "%s", ct_rows(a, "SELECT hex(crsql_site_id())"));
  char expect[256];
  snprintf(expect, sizeof expect, "%s\n%s", a_site, a_site);
  CT_CHECK_ROWS(b, "SELECT hex(site_id) FROM crsql_changes WHERE pk = X'010901' ORDER BY cid",
                expect);
  /* b's own change still carries b's site id. */
  CT_CHECK_ROWS(b, "SELECT count(*) FROM crsql_changes WHERE pk = X'010909' AND "
                   "site_id = crsql_site_id()",
                "2");
  /* ... and a site id that is not ours is never reported as ours. */
  CT_CHECK_ROWS(b, "SELECT count(*) FROM crsql_changes WHERE site_id IS NULL", "0");
  ct_close(a);
  ct_close(b);
}

static void test_crdt_merge__new_local_db_version(void) {
  sqlite3 *a = ct_open(), *b = ct_open();
  CT_EXEC(a, T_DDL);
  CT_EXEC(b, T_DDL);
  CT_EXEC(a, "INSERT INTO t VALUES (1, 'a1', 'b1')");
  CT_EXEC(b, "INSERT INTO t VALUES (9, 'x', 'y'); INSERT INTO t VALUES (8, 'x', 'y');"
             "UPDATE t SET a = 'z'");
  BL_CHECK_INT(ct_sync(a, b, NULL), 2);
  /* Incoming db_version 1 < b's 3: the merge is b's db_version 4; col
   * versions, cl and seq are the incoming ones. */
  CT_CHECK_ROWS(b, "SELECT cid, quote(val), col_version, db_version, cl, seq FROM crsql_changes "
                   "WHERE pk = X'010901' ORDER BY cid",
                "a|'a1'|1|4|1|0\nb|'b1'|1|4|1|1");
  BL_CHECK_INT(ct_int(b, "SELECT crsql_db_version()"), 4);
  ct_close(a);
  ct_close(b);
}

static void test_crdt_merge__db_version_at_least_incoming(void) {
  sqlite3 *c = ct_open();
  CT_EXEC(c, T_DDL);
  CT_EXEC(c, CHANGE(5, "a", "'hi'", 1, 100, CT_S1, 1, 0));
  CT_CHECK_ROWS(c, CT_CHANGES CT_ORDER, "t|010905|a|'hi'|1|100|" CT_S1_HEX "|1|0");
  CT_CHECK_ROWS(c, "SELECT * FROM t", "5|hi|NULL");
  BL_CHECK_INT(ct_int(c, "SELECT crsql_db_version()"), 100);
  /* In one transaction: each merge takes max(db_version + 1, the highest
   * version already used in this transaction, the incoming version). */
  CT_EXEC(c, "BEGIN");
  CT_EXEC(c, CHANGE(6, "a", "'hi'", 1, 50, CT_S1, 1, 0));
  CT_EXEC(c, CHANGE(7, "a", "'hi'", 1, 200, CT_S1, 1, 0));
  CT_EXEC(c, CHANGE(8, "a", "'hi'", 1, 3, CT_S1, 1, 7));
  CT_EXEC(c, "COMMIT");
  CT_CHECK_ROWS(c, CT_CHANGES CT_ORDER,
                "t|010905|a|'hi'|1|100|" CT_S1_HEX "|1|0\n"
                "t|010906|a|'hi'|1|101|" CT_S1_HEX "|1|0\n"
                "t|010907|a|'hi'|1|200|" CT_S1_HEX "|1|0\n"
                "t|010908|a|'hi'|1|200|" CT_S1_HEX "|1|7");
  BL_CHECK_INT(ct_int(c, "SELECT crsql_db_version()"), 200);
  /* Local writes continue after the merged versions. */
  CT_EXEC(c, "INSERT INTO t VALUES (10, 1, 1)");
  CT_CHECK_ROWS(c, CT_CHANGES "WHERE db_version > 200" CT_ORDER,
                "t|01090A|a|1|1|201|local|1|0\n"
                "t|01090A|b|1|1|201|local|1|1");
  ct_close(c);
}

static void test_crdt_merge__higher_col_version_wins(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, T_DDL);
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1)");
  CT_EXEC(db, "UPDATE t SET a = 'y'"); /* a: col_version 2 */
  /* A higher col_version wins whatever the value. */
  CT_EXEC(db, CHANGE(1, "a", "'a'", 3, 1, CT_S1, 1, 0));
  CT_CHECK_ROWS(db, "SELECT a, b FROM t", "a|1");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE cid = 'a'", "t|010901|a|'a'|3|3|" CT_S1_HEX "|1|0");
  ct_close(db);
}

static void test_crdt_merge__lower_col_version_loses(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, T_DDL);
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1)");
  CT_EXEC(db, "UPDATE t SET a = 'y'");
  CT_EXEC(db, "UPDATE t SET a = 'z'"); /* a: col_version 3 */
  CT_EXEC(db, CHANGE(1, "a", "'zzzz'", 2, 50, CT_S1, 1, 0));
  CT_CHECK_ROWS(db, "SELECT a, b FROM t", "z|1");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE cid = 'a'", "t|010901|a|'z'|3|3|local|1|0");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 3);
  ct_close(db);
}

static void test_crdt_merge__columns_independent(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, T_DDL);
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 'y')");
  CT_EXEC(db, "UPDATE t SET b = 'y2'"); /* a: cv 1, b: cv 2 */
  CT_EXEC(db, CHANGE(1, "a", "'A'", 2, 1, CT_S1, 1, 0));
  CT_EXEC(db, CHANGE(1, "b", "'B'", 1, 1, CT_S1, 1, 1));
  /* a won, b lost: a row can hold values from different writers. */
  CT_CHECK_ROWS(db, "SELECT a, b FROM t", "A|y2");
  ct_close(db);
}

/* The value order on equal col_version: NULL < blob < text < real <
 * integer; blobs and text compare bytewise (memcmp, then length), numbers
 * numerically. Measured on cr-sqlite 0.16: row i is the local value, column j
 * the incoming one, 'W' where the incoming value wins. */
static void test_crdt_merge__equal_version_value_order(void) {
  static const char *vals[] = {"NULL",  "X''",   "X'00'", "X'FF'", "''",  "'a'",
                               "'ab'",  "'b'",   "'é'",   "'z'",   "-1.5", "1.0",
                               "2.5",   "-5",    "1",     "2"};
  static const char *expect[] = {
      ".WWWWWWWWWWWWWWW", "..WWWWWWWWWWWWWW", "...WWWWWWWWWWWWW", "....WWWWWWWWWWWW",
      ".....WWWWWWWWWWW", "......WWWWWWWWWW", ".......WWWWWWWWW", "........WWWWWWWW",
      "..........WWWWWW", "........W.WWWWWW", "...........WWWWW", "............WWWW",
      ".............WWW", "..............WW", "...............W", "................",
  };
  enum { N = sizeof vals / sizeof vals[0] };
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a); SELECT crsql_as_crr('t')");
  int id = 0;
  for (int i = 0; i < N; i++) {
    char got[N + 1];
    for (int j = 0; j < N; j++) {
      id++;
      char sql[512];
      snprintf(sql, sizeof sql,
               "INSERT INTO crsql_changes VALUES ('t', crsql_pack_columns(%d), 'a', %s, 1, 1, "
               CT_S1 ", 1, 0)",
               id, vals[i]);
      CT_EXEC(db, sql);
      snprintf(sql, sizeof sql,
               "INSERT INTO crsql_changes VALUES ('t', crsql_pack_columns(%d), 'a', %s, 1, 2, "
               CT_S2 ", 1, 0)",
               id, vals[j]);
      CT_EXEC(db, sql);
      snprintf(sql, sizeof sql,
               "SELECT hex(site_id) = '" CT_S2_HEX "' FROM crsql_changes "
               "WHERE pk = crsql_pack_columns(%d) AND cid = 'a'",
               id);
      got[j] = ct_int(db, sql) == 1 ? 'W' : '.';
    }
    got[N] = 0;
    if (strcmp(got, expect[i]) != 0) {
      fprintf(stderr, "  local %s: got %s expected %s\n", vals[i], got, expect[i]);
      bl_test_failed_checks++;
    }
  }
  ct_close(db);
}

static void test_crdt_merge__equal_value_tie_keeps_local(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a); SELECT crsql_as_crr('t')");
  CT_EXEC(db, CHANGE(1, "a", "'x'", 1, 1, CT_S2, 1, 0));
  /* Same col_version, same value: without merge-equal-values nothing
   * happens, whatever the site ids. */
  CT_EXEC(db, CHANGE(1, "a", "'x'", 1, 5, CT_S3, 1, 0));
  CT_EXEC(db, CHANGE(1, "a", "'x'", 1, 5, CT_S1, 1, 0));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|a|'x'|1|1|" CT_S2_HEX "|1|0");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 1);
  CT_EXEC(db, "INSERT INTO t VALUES (2, 'L')");
  CT_EXEC(db, CHANGE(2, "a", "'L'", 1, 5, "X'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'", 1, 0));
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE pk = X'010902'", "t|010902|a|'L'|1|2|local|1|0");
  ct_close(db);
}

static void test_crdt_merge__merge_equal_values_site_tiebreak(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a); SELECT crsql_as_crr('t')");
  CT_CHECK_ROWS(db, "SELECT crsql_config_get('merge-equal-values')", "0");
  CT_CHECK_ROWS(db, "SELECT crsql_config_set('merge-equal-values', 1)", "1");
  CT_CHECK_ROWS(db, "SELECT crsql_config_get('merge-equal-values')", "1");
  CT_EXEC(db, CHANGE(1, "a", "'x'", 1, 1, CT_S2, 1, 0));
  /* Equal values: the greater site id (bytewise) wins. S1 < S2: no-op. */
  CT_EXEC(db, CHANGE(1, "a", "'x'", 1, 5, CT_S1, 1, 0));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|a|'x'|1|1|" CT_S2_HEX "|1|0");
  /* S3 > S2: the change is taken, with its site, seq and a new version. */
  CT_EXEC(db, CHANGE(1, "a", "'x'", 1, 5, CT_S3, 1, 4));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|a|'x'|1|5|" CT_S3_HEX "|1|4");
  /* Stable: the same change again changes nothing (no new db_version). */
  CT_EXEC(db, CHANGE(1, "a", "'x'", 1, 6, CT_S3, 1, 4));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|a|'x'|1|5|" CT_S3_HEX "|1|4");
  /* Against a local write: all-zero loses to our random site id, all-0xFF
   * wins. */
  CT_EXEC(db, "INSERT INTO t VALUES (2, 'L')");
  CT_EXEC(db, CHANGE(2, "a", "'L'", 1, 5, "X'00000000000000000000000000000000'", 1, 0));
  CT_CHECK_ROWS(db, "SELECT CASE WHEN site_id = crsql_site_id() THEN 'local' ELSE hex(site_id) "
                    "END FROM crsql_changes WHERE pk = X'010902'",
                "local");
  CT_EXEC(db, CHANGE(2, "a", "'L'", 1, 5, "X'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'", 1, 0));
  CT_CHECK_ROWS(db, "SELECT hex(site_id) FROM crsql_changes WHERE pk = X'010902'",
                "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF");
  /* Different values still compare by value, not by site. */
  CT_EXEC(db, CHANGE(2, "a", "'A'", 1, 9, "X'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'", 1, 0));
  CT_CHECK_ROWS(db, "SELECT a FROM t WHERE id = 2", "L");
  ct_close(db);
}

static void test_crdt_merge__config_persists(void) {
  char path[] = "/tmp/bl_crdt_cfg_XXXXXX";
  int fd = mkstemp(path);
  BL_REQUIRE(fd >= 0);
  close(fd);
  sqlite3 *db = ct_open_file(path);
  CT_CHECK_ROWS(db, "SELECT crsql_config_set('merge-equal-values', 1)", "1");
  CT_CHECK_ROWS(db, "SELECT value FROM crsql_master WHERE key = 'config.merge-equal-values'", "1");
  CT_CHECK_FAILS(db, "SELECT crsql_config_set('no-such-setting', 1)", "Unknown setting name");
  ct_close(db);
  db = ct_open_file(path);
  CT_CHECK_ROWS(db, "SELECT crsql_config_get('merge-equal-values')", "1");
  ct_close(db);
  unlink(path);
}

static void test_crdt_merge__rows_impacted(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b DEFAULT 7);"
              "SELECT crsql_as_crr('t')");
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1); INSERT INTO t VALUES (2, 'y', 2)");
  CT_EXEC(db, "BEGIN");
  CT_EXEC(db, CHANGE(1, "a", "'w'", 5, 3, CT_S1, 1, 0)); /* wins */
  CT_EXEC(db, CHANGE(1, "b", "0", 1, 3, CT_S1, 1, 1));   /* 0 < 1: loses */
  CT_EXEC(db, CHANGE(2, "a", "'w'", 1, 3, CT_S1, 1, 1)); /* 'w' < 'y': loses */
  BL_CHECK_INT(ct_int(db, "SELECT crsql_rows_impacted()"), 1);
  CT_EXEC(db, CHANGE(1, "a", "'w'", 5, 3, CT_S1, 1, 0)); /* already there */
  BL_CHECK_INT(ct_int(db, "SELECT crsql_rows_impacted()"), 1);
  CT_EXEC(db, "COMMIT");
  /* The count is per transaction. */
  BL_CHECK_INT(ct_int(db, "SELECT crsql_rows_impacted()"), 0);
  CT_EXEC(db, "BEGIN");
  /* An unknown row arriving with cl 3: its sentinel and its column, 2. */
  CT_EXEC(db, CHANGE(3, "a", "'w'", 1, 3, CT_S1, 3, 1));
  BL_CHECK_INT(ct_int(db, "SELECT crsql_rows_impacted()"), 2);
  CT_EXEC(db, CHANGE(2, "-1", "NULL", 2, 3, CT_S1, 2, 1)); /* delete */
  BL_CHECK_INT(ct_int(db, "SELECT crsql_rows_impacted()"), 3);
  CT_EXEC(db, CHANGE(4, "-1", "NULL", 1, 3, CT_S1, 1, 1)); /* create */
  BL_CHECK_INT(ct_int(db, "SELECT crsql_rows_impacted()"), 4);
  CT_EXEC(db, "COMMIT");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_rows_impacted()"), 0);
  ct_close(db);
}

static void test_crdt_merge__idempotent(void) {
  sqlite3 *a = ct_open(), *b = ct_open();
  CT_EXEC(a, T_DDL);
  CT_EXEC(b, T_DDL);
  CT_EXEC(a, "INSERT INTO t VALUES (1, 'x', 'y'), (2, 'p', 'q'), (3, 'r', 's');"
             "UPDATE t SET a = 'x2' WHERE id = 1; DELETE FROM t WHERE id = 2;"
             "DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (3, 'R', 'S')");
  CT_EXEC(b, "INSERT INTO t VALUES (1, 'bx', 'by'), (4, 'u', 'v')");
  BL_CHECK(ct_sync(a, b, NULL) > 0);
  char once[64 * 1024];
  snprintf(once, sizeof once, "%s", ct_dump(b, 0));
  sqlite3_int64 v = ct_int(b, "SELECT crsql_db_version()");
  /* The same changes again, and b's own changes fed back to itself: no
   * difference anywhere, not even a new db_version. */
  BL_CHECK(ct_sync(a, b, NULL) > 0);
  BL_CHECK(ct_sync(b, b, NULL) > 0);
  BL_CHECK_STR(ct_dump(b, 0), once);
  BL_CHECK_INT(ct_int(b, "SELECT crsql_db_version()"), v);
  ct_close(a);
  ct_close(b);
}

static void test_crdt_merge__commutative_two_writers(void) {
  /* Two devices edit the same rows; merging a into b and b into a gives the
   * same table (the property tests do this at scale). */
  sqlite3 *a = ct_open(), *b = ct_open();
  CT_EXEC(a, T_DDL);
  CT_EXEC(b, T_DDL);
  CT_EXEC(a, "INSERT INTO t VALUES (1, 'x', 'y'), (2, 'p', 'q'); UPDATE t SET a = 'x2'");
  CT_EXEC(b, "INSERT INTO t VALUES (1, 'bx', 'by'), (2, 'P', 'Q'); DELETE FROM t WHERE id = 2");
  ct_changes ca = {0}, cb = {0};
  BL_REQUIRE(ct_changes_read(a, NULL, &ca) == SQLITE_OK);
  BL_REQUIRE(ct_changes_read(b, NULL, &cb) == SQLITE_OK);
  BL_CHECK_INT(ct_changes_apply(a, &cb, NULL), SQLITE_OK);
  BL_CHECK_INT(ct_changes_apply(b, &ca, NULL), SQLITE_OK);
  char ta[4096];
  snprintf(ta, sizeof ta, "%s", ct_dump(a, 1));
  BL_CHECK_STR(ct_dump(b, 1), ta);
  /* Row 1: 'x2' (col_version 2) beats 'bx'; for b, both at col_version 1,
   * 'y' > 'by' so 'y' stays. Row 2: b's delete (cl 2) beats cl 1. */
  CT_CHECK_ROWS(a, "SELECT * FROM t ORDER BY id", "1|x2|y");
  ct_changes_free(&ca);
  ct_changes_free(&cb);
  ct_close(a);
  ct_close(b);
}

static const bl_test_case cases[] = {
    BL_TEST(test_crdt_merge__copies_rows),
    BL_TEST(test_crdt_merge__keeps_origin_site_id),
    BL_TEST(test_crdt_merge__new_local_db_version),
    BL_TEST(test_crdt_merge__db_version_at_least_incoming),
    BL_TEST(test_crdt_merge__higher_col_version_wins),
    BL_TEST(test_crdt_merge__lower_col_version_loses),
    BL_TEST(test_crdt_merge__columns_independent),
    BL_TEST(test_crdt_merge__equal_version_value_order),
    BL_TEST(test_crdt_merge__equal_value_tie_keeps_local),
    BL_TEST(test_crdt_merge__merge_equal_values_site_tiebreak),
    BL_TEST(test_crdt_merge__config_persists),
    BL_TEST(test_crdt_merge__rows_impacted),
    BL_TEST(test_crdt_merge__idempotent),
    BL_TEST(test_crdt_merge__commutative_two_writers),
};

BL_TEST_MAIN(cases)
