/*
 * causal.c — row existence by causal length (cl): odd = alive, even =
 * deleted. A change with a lower cl than ours is ignored, a higher even cl
 * deletes the row, a higher odd cl resurrects it (and makes every column of
 * the incoming change win), an equal cl falls back to the per-column rules
 * of merge.c. The sentinel cid '-1' carries the cl of a row.
 *
 * Every expected result was produced by cr-sqlite 0.16 on the same SQL.
 * Table t (id, a, b DEFAULT 7) throughout.
 */
#include "helpers.h"

#define T_DDL                                                             \
  "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b DEFAULT 7);"     \
  "SELECT crsql_as_crr('t')"

#define CHANGE(pk, cid, val, cv, dbv, site, cl, seq)                                          \
  "INSERT INTO crsql_changes VALUES ('t', crsql_pack_columns(" #pk "), '" cid "', " val ", " #cv \
  ", " #dbv ", " site ", " #cl ", " #seq ")"

static sqlite3 *open_t(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, T_DDL);
  return db;
}

static void test_crdt_causal__delete_removes_row(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1)");
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 2, 5, CT_S1, 2, 3));
  CT_CHECK_ROWS(db, "SELECT count(*) FROM t", "0");
  /* Only the sentinel remains, with the deleter's site, version and seq. */
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|-1|NULL|2|5|" CT_S1_HEX "|2|3");
  ct_close(db);
}

static void test_crdt_causal__equal_delete_noop(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1)");
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 2, 5, CT_S1, 2, 3));
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 2, 6, CT_S2, 2, 0));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|-1|NULL|2|5|" CT_S1_HEX "|2|3");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 5);
  ct_close(db);
}

static void test_crdt_causal__lower_cl_ignored_on_deleted_row(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1)");
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 2, 5, CT_S1, 2, 3));
  /* A column write from before the delete, however high its col_version. */
  CT_EXEC(db, CHANGE(1, "a", "'late'", 9, 6, CT_S2, 1, 0));
  CT_CHECK_ROWS(db, "SELECT count(*) FROM t", "0");
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|-1|NULL|2|5|" CT_S1_HEX "|2|3");
  ct_close(db);
}

static void test_crdt_causal__lower_cl_ignored_on_live_row(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1); DELETE FROM t; INSERT INTO t VALUES (1, 'x', 1)");
  /* Our row is at cl 3: neither a cl-1 write nor a cl-2 delete touch it. */
  CT_EXEC(db, CHANGE(1, "a", "'inc'", 10, 9, CT_S1, 1, 0));
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 2, 9, CT_S1, 2, 0));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|3|3|local|3|0\n"
                "t|010901|a|'x'|1|3|local|3|1\n"
                "t|010901|b|1|1|3|local|3|2");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|x|1");
  ct_close(db);
}

static void test_crdt_causal__resurrect_via_column(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1)");
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 2, 5, CT_S1, 2, 3));
  /* A column change with odd cl 3 > 2 brings the row back; the sentinel is
   * written from that change (cl as col_version, its site and seq). */
  CT_EXEC(db, CHANGE(1, "a", "'back'", 1, 7, CT_S2, 3, 4));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|3|7|" CT_S2_HEX "|3|4\n"
                "t|010901|a|'back'|1|7|" CT_S2_HEX "|3|4");
  /* Columns that did not arrive take their defaults. */
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|back|7");
  ct_close(db);
}

static void test_crdt_causal__resurrect_via_sentinel(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1); DELETE FROM t");
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 3, 9, CT_S1, 3, 2));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|-1|NULL|3|9|" CT_S1_HEX "|3|2");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|NULL|7");
  ct_close(db);
}

static void test_crdt_causal__higher_cl_beats_higher_col_version(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1); UPDATE t SET a = 'y'; UPDATE t SET a = 'z'");
  /* Ours: a at col_version 3, cl 1. Incoming: col_version 1 but cl 3 (the
   * sender deleted and re-created the row): it wins. Our other column is
   * kept but its clock is zeroed (col_version 0) at the merge's version, so
   * any write of it from the new life wins. */
  CT_EXEC(db, CHANGE(1, "a", "'inc'", 1, 9, CT_S1, 3, 0));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|3|9|" CT_S1_HEX "|3|0\n"
                "t|010901|a|'inc'|1|9|" CT_S1_HEX "|3|0\n"
                "t|010901|b|1|0|9|local|3|1");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|inc|1");
  ct_close(db);
}

static void test_crdt_causal__missed_delete_zeroes_other_columns(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1)");
  CT_EXEC(db, CHANGE(1, "a", "'r'", 1, 9, CT_S1, 3, 0));
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|r|1");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE cid = 'b'", "t|010901|b|1|0|9|local|3|1");
  /* The zeroed column loses to any col_version >= 1 of the same cl, even
   * with a smaller value. */
  CT_EXEC(db, CHANGE(1, "b", "0", 1, 10, CT_S1, 3, 1));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|3|9|" CT_S1_HEX "|3|0\n"
                "t|010901|a|'r'|1|9|" CT_S1_HEX "|3|0\n"
                "t|010901|b|0|1|10|" CT_S1_HEX "|3|1");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|r|0");
  ct_close(db);
}

static void test_crdt_causal__sentinel_resurrect_of_live_row(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1)");
  /* A bare sentinel with a higher odd cl on a live row: the row stays, every
   * column clock is zeroed. */
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 3, 9, CT_S1, 3, 0));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|3|9|" CT_S1_HEX "|3|0\n"
                "t|010901|a|'x'|0|9|local|3|0\n"
                "t|010901|b|1|0|9|local|3|1");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|x|1");
  ct_close(db);
}

static void test_crdt_causal__unknown_row_column_with_cl3(void) {
  sqlite3 *db = open_t();
  /* A row we never saw, arriving in its second life: a sentinel records
   * cl 3 (otherwise cl 1 would be assumed). */
  CT_EXEC(db, CHANGE(1, "a", "'v'", 4, 9, CT_S1, 3, 2));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|-1|NULL|3|9|" CT_S1_HEX "|3|2\n"
                "t|010901|a|'v'|4|9|" CT_S1_HEX "|3|2");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|v|7");
  ct_close(db);
}

static void test_crdt_causal__unknown_row_column_cl1_no_sentinel(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, CHANGE(1, "b", "5", 1, 9, CT_S1, 1, 0));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|b|5|1|9|" CT_S1_HEX "|1|0");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|NULL|5");
  ct_close(db);
}

static void test_crdt_causal__unknown_row_sentinel_cl1(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 1, 9, CT_S1, 1, 0));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|-1|NULL|1|9|" CT_S1_HEX "|1|0");
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|NULL|7");
  ct_close(db);
}

static void test_crdt_causal__unknown_row_delete(void) {
  sqlite3 *db = open_t();
  /* A delete of a row we never had is remembered (so a late insert of the
   * first life cannot bring it back). */
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 2, 9, CT_S1, 2, 2));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|-1|NULL|2|9|" CT_S1_HEX "|2|2");
  CT_CHECK_ROWS(db, "SELECT count(*) FROM t", "0");
  CT_EXEC(db, CHANGE(1, "a", "'v'", 4, 10, CT_S1, 1, 2));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|-1|NULL|2|9|" CT_S1_HEX "|2|2");
  CT_CHECK_ROWS(db, "SELECT count(*) FROM t", "0");
  ct_close(db);
}

static void test_crdt_causal__higher_delete_over_delete(void) {
  sqlite3 *db = open_t();
  CT_EXEC(db, "INSERT INTO t VALUES (1, 'x', 1); DELETE FROM t");
  CT_EXEC(db, CHANGE(1, "-1", "NULL", 4, 9, CT_S1, 4, 0));
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "t|010901|-1|NULL|4|9|" CT_S1_HEX "|4|0");
  CT_CHECK_ROWS(db, "SELECT count(*) FROM t", "0");
  ct_close(db);
}

static void test_crdt_causal__pk_only_table(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE k (x NOT NULL, y NOT NULL, PRIMARY KEY (x, y));"
              "SELECT crsql_as_crr('k')");
  const char *create = "INSERT INTO crsql_changes VALUES ('k', X'0209010B017A', '-1', NULL, 1, 3, "
                       CT_S1 ", 1, 0)";
  const char *del = "INSERT INTO crsql_changes VALUES ('k', X'0209010B017A', '-1', NULL, 2, 4, "
                    CT_S1 ", 2, 0)";
  const char *again = "INSERT INTO crsql_changes VALUES ('k', X'0209010B017A', '-1', NULL, 3, 5, "
                      CT_S2 ", 3, 0)";
  CT_EXEC(db, create);
  CT_CHECK_ROWS(db, "SELECT * FROM k", "1|z");
  CT_EXEC(db, del);
  CT_CHECK_ROWS(db, "SELECT count(*) FROM k", "0");
  CT_EXEC(db, again);
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER, "k|0209010B017A|-1|NULL|3|5|" CT_S2_HEX "|3|0");
  CT_CHECK_ROWS(db, "SELECT * FROM k", "1|z");
  ct_close(db);
}

static void test_crdt_causal__local_delete_then_remote_update_same_life(void) {
  /* Device a deletes a row while b updates it (both in life 1): the delete
   * wins on both sides in either order. */
  sqlite3 *a = open_t(), *b = open_t();
  CT_EXEC(a, "INSERT INTO t VALUES (1, 'x', 1)");
  BL_CHECK_INT(ct_sync(a, b, NULL), 2);
  CT_EXEC(a, "DELETE FROM t WHERE id = 1");
  CT_EXEC(b, "UPDATE t SET a = 'edited' WHERE id = 1; UPDATE t SET a = 'again' WHERE id = 1");
  BL_CHECK(ct_sync(b, a, NULL) > 0);
  BL_CHECK(ct_sync(a, b, NULL) > 0);
  CT_CHECK_ROWS(a, "SELECT count(*) FROM t", "0");
  CT_CHECK_ROWS(b, "SELECT count(*) FROM t", "0");
  ct_close(a);
  ct_close(b);
}

static const bl_test_case cases[] = {
    BL_TEST(test_crdt_causal__delete_removes_row),
    BL_TEST(test_crdt_causal__equal_delete_noop),
    BL_TEST(test_crdt_causal__lower_cl_ignored_on_deleted_row),
    BL_TEST(test_crdt_causal__lower_cl_ignored_on_live_row),
    BL_TEST(test_crdt_causal__resurrect_via_column),
    BL_TEST(test_crdt_causal__resurrect_via_sentinel),
    BL_TEST(test_crdt_causal__higher_cl_beats_higher_col_version),
    BL_TEST(test_crdt_causal__missed_delete_zeroes_other_columns),
    BL_TEST(test_crdt_causal__sentinel_resurrect_of_live_row),
    BL_TEST(test_crdt_causal__unknown_row_column_with_cl3),
    BL_TEST(test_crdt_causal__unknown_row_column_cl1_no_sentinel),
    BL_TEST(test_crdt_causal__unknown_row_sentinel_cl1),
    BL_TEST(test_crdt_causal__unknown_row_delete),
    BL_TEST(test_crdt_causal__higher_delete_over_delete),
    BL_TEST(test_crdt_causal__pk_only_table),
    BL_TEST(test_crdt_causal__local_delete_then_remote_update_same_life),
};

BL_TEST_MAIN(cases)
