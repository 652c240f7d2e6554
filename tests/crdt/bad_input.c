/*
 * bad_input.c — changes that must be refused: a table that is not a CRR, a
 * column that does not exist, malformed or truncated packed keys, keys with
 * the wrong number or type of values, identifiers built to inject SQL, a
 * site id longer than 16 bytes, over-long names. Each must fail with an
 * error and leave the database exactly as it was: the check is a full dump
 * (schema, every table including clocks and crsql_* tables) before and
 * after, plus crsql_db_version().
 *
 * cr-sqlite 0.16 is more lenient than this in places (it accepts a key with
 * too few values, padding the rest with NULL, and trailing bytes after the
 * last value; it reports an unknown column as "SQL logic error"). The spec
 * (section 10) asks for a clear error and nothing half-applied, so these
 * tests pin the stricter behaviour; the comments say where it differs.
 */
#include "helpers.h"

#define DDL                                                                          \
  "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t');" \
  "CREATE TABLE k (x INTEGER NOT NULL, y TEXT NOT NULL, z, PRIMARY KEY (x, y));"      \
  "SELECT crsql_as_crr('k');"                                                         \
  "CREATE TABLE plain (id INTEGER PRIMARY KEY, a);"                                   \
  "INSERT INTO t VALUES (1, 'x', 'y'); INSERT INTO k VALUES (1, 'p', 'z');"           \
  "INSERT INTO plain VALUES (1, 'p')"

static sqlite3 *open_db(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, DDL);
  return db;
}

/* A change with the given table literal, pk literal and cid literal. */
#define CH(tbl, pk, cid) \
  "INSERT INTO crsql_changes VALUES (" tbl ", " pk ", " cid ", 'v', 5, 9, " CT_S1 ", 1, 0)"

/* Checks that `sql` fails (message containing `part`, if given) and leaves
 * the database and its db_version unchanged. */
#define CHECK_REFUSED(db, sql, part)                                          \
  do {                                                                        \
    static char before_[256 * 1024];                                          \
    snprintf(before_, sizeof before_, "%s", ct_dump((db), 0));                \
    sqlite3_int64 v_ = ct_int((db), "SELECT crsql_db_version()");             \
    CT_CHECK_FAILS((db), (sql), (part));                                      \
    BL_CHECK_STR(ct_dump((db), 0), before_);                                  \
    BL_CHECK_INT(ct_int((db), "SELECT crsql_db_version()"), v_);              \
  } while (0)

static void test_crdt_bad_input__table_not_crr(void) {
  sqlite3 *db = open_db();
  CHECK_REFUSED(db, CH("'nope'", "X'010901'", "'a'"), "nope");
  /* An existing table that was never upgraded is not merged into. */
  CHECK_REFUSED(db, CH("'plain'", "X'010901'", "'a'"), "plain");
  /* Nor are the engine's own tables. */
  CHECK_REFUSED(db, CH("'t__crsql_clock'", "X'010901'", "'a'"), "t__crsql_clock");
  CHECK_REFUSED(db, CH("NULL", "X'010901'", "'a'"), "");
  CHECK_REFUSED(db, CH("''", "X'010901'", "'a'"), "");
  ct_close(db);
}

static void test_crdt_bad_input__unknown_column(void) {
  sqlite3 *db = open_db();
  /* On an existing row and on a new one (which must not be created). */
  CHECK_REFUSED(db, CH("'t'", "X'010901'", "'nocol'"), "nocol");
  CHECK_REFUSED(db, CH("'t'", "X'010902'", "'nocol'"), "nocol");
  CHECK_REFUSED(db, CH("'t'", "X'010902'", "NULL"), "");
  CHECK_REFUSED(db, CH("'t'", "X'010902'", "''"), "");
  /* A pk column is not a column a change can set. */
  CHECK_REFUSED(db, CH("'t'", "X'010902'", "'id'"), "");
  CHECK_REFUSED(db, CH("'k'", "X'0209010B0170'", "'y'"), "");
  /* Nor are our clock columns. */
  CHECK_REFUSED(db, CH("'t'", "X'010901'", "'__crsql_cl'"), "");
  CHECK_REFUSED(db, CH("'t'", "X'010901'", "'a__crsql_v'"), "");
  ct_close(db);
}

static void test_crdt_bad_input__malformed_pk(void) {
  sqlite3 *db = open_db();
  static const char *pks[] = {
      "X''",                    /* empty */
      "NULL",                   /* not a blob at all */
      "X'0109'",                /* integer announced with 1 byte, none follows */
      "X'02090109'",            /* second value truncated */
      "X'010F01'",              /* type 7 does not exist */
      "X'010001'",              /* type 0 does not exist */
      "X'010B05616263'",        /* text of 5 bytes, 3 present */
      "X'0102000000'",          /* real with 4 of its 8 bytes */
      "X'01'",                  /* count only */
      "X'0109010902'",          /* trailing bytes (cr-sqlite ignores them) */
      "X'01390100000000000000'" /* integer with a 7-byte length, 9 follow */,
      "X'016B01'",              /* text with a 13-byte length field */
      "'not a blob'",
      "42",
  };
  for (size_t i = 0; i < sizeof pks / sizeof pks[0]; i++) {
    char sql[512];
    snprintf(sql, sizeof sql, CH("'t'", "%s", "'a'"), pks[i]);
    CHECK_REFUSED(db, sql, "");
    snprintf(sql, sizeof sql, CH("'t'", "%s", "'-1'"), pks[i]);
    CHECK_REFUSED(db, sql, "");
  }
  ct_close(db);
}

static void test_crdt_bad_input__pk_value_count(void) {
  sqlite3 *db = open_db();
  /* Two values for a one-column key. */
  CHECK_REFUSED(db, CH("'t'", "X'0209010902'", "'a'"), "");
  /* One value for a two-column key (cr-sqlite would insert (1, NULL)). */
  CHECK_REFUSED(db, CH("'k'", "X'010901'", "'z'"), "");
  CHECK_REFUSED(db, CH("'k'", "X'010901'", "'-1'"), "");
  /* Zero values. */
  CHECK_REFUSED(db, CH("'t'", "X'00'", "'a'"), "");
  /* Three for two. */
  CHECK_REFUSED(db, CH("'k'", "crsql_pack_columns(1, 'p', 3)", "'z'"), "");
  /* A NULL inside a key (keys are NOT NULL). */
  CHECK_REFUSED(db, CH("'k'", "crsql_pack_columns(1, NULL)", "'z'"), "");
  CHECK_REFUSED(db, CH("'t'", "crsql_pack_columns(NULL)", "'a'"), "");
  ct_close(db);
}

static void test_crdt_bad_input__pk_wrong_type(void) {
  sqlite3 *db = open_db();
  /* An INTEGER PRIMARY KEY cannot hold text or a real that is not an
   * integer: SQLite refuses the row, and the change with it. */
  CHECK_REFUSED(db, CH("'t'", "crsql_pack_columns('abc')", "'a'"), "");
  CHECK_REFUSED(db, CH("'t'", "crsql_pack_columns(1.5)", "'a'"), "");
  CHECK_REFUSED(db, CH("'t'", "crsql_pack_columns(X'01')", "'-1'"), "");
  ct_close(db);
}

static void test_crdt_bad_input__injection_in_names(void) {
  sqlite3 *db = open_db();
  static const char *tables[] = {
      "'x\"; DROP TABLE t; --'",
      "'t\"; DROP TABLE t; --'",
      "'t'' OR 1=1; --'",
      "'t]; DROP TABLE t; --'",
      "'t` ; DROP TABLE t; --'",
      "'main\".\"t'",
      "'t__crsql_clock\"; DELETE FROM t; --'",
  };
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    char sql[512];
    snprintf(sql, sizeof sql, CH("%s", "X'010901'", "'a'"), tables[i]);
    CHECK_REFUSED(db, sql, "");
  }
  static const char *cids[] = {
      "'a\"; DROP TABLE t; --'",
      "'a'' = 1; DROP TABLE t; --'",
      "'a\" = 1, \"b'",
      "'a\", \"b'",
      "'a] = 1; DROP TABLE t; --'",
      "'a = (SELECT 1); --'",
      "'-1\"; DROP TABLE t; --'",
  };
  for (size_t i = 0; i < sizeof cids / sizeof cids[0]; i++) {
    char sql[512];
    snprintf(sql, sizeof sql, CH("'t'", "X'010901'", "%s"), cids[i]);
    CHECK_REFUSED(db, sql, "");
    snprintf(sql, sizeof sql, CH("'t'", "X'010905'", "%s"), cids[i]);
    CHECK_REFUSED(db, sql, "");
  }
  /* Everything still there. */
  CT_CHECK_ROWS(db, "SELECT * FROM t", "1|x|y");
  CT_CHECK_ROWS(db, "SELECT * FROM k", "1|p|z");
  ct_close(db);
}

static void test_crdt_bad_input__site_id_too_long(void) {
  sqlite3 *db = open_db();
  CHECK_REFUSED(db,
                "INSERT INTO crsql_changes VALUES ('t', X'010901', 'a', 'v', 5, 9, "
                "X'1111111111111111111111111111111111', 1, 0)",
                "site id");
  CHECK_REFUSED(db,
                "INSERT INTO crsql_changes VALUES ('t', X'010903', '-1', NULL, 1, 9, "
                "zeroblob(1000), 1, 0)",
                "site id");
  ct_close(db);
}

static void test_crdt_bad_input__names_too_long(void) {
  sqlite3 *db = open_db();
  /* cr-sqlite: "crsql - table name exceeded max length" (2048 bytes). */
  CHECK_REFUSED(db,
                "INSERT INTO crsql_changes VALUES (printf('%.*c', 3000, 't'), X'010901', 'a', 'v', "
                "5, 9, " CT_S1 ", 1, 0)",
                "");
  CHECK_REFUSED(db,
                "INSERT INTO crsql_changes VALUES ('t', X'010901', printf('%.*c', 3000, 'a'), 'v', "
                "5, 9, " CT_S1 ", 1, 0)",
                "");
  ct_close(db);
}

static void test_crdt_bad_input__statement_is_atomic(void) {
  sqlite3 *db = open_db();
  /* Two good changes then a bad one, in one statement: none applied. */
  CHECK_REFUSED(db,
                "INSERT INTO crsql_changes VALUES "
                "('t', X'010905', 'a', 'v5', 1, 1, " CT_S1 ", 1, 0), "
                "('t', X'010901', 'a', 'v1', 9, 1, " CT_S1 ", 1, 1), "
                "('nope', X'010903', 'a', 1, 1, 1, " CT_S1 ", 1, 2)",
                "nope");
  CHECK_REFUSED(db,
                "INSERT INTO crsql_changes VALUES "
                "('t', X'010905', 'a', 'v5', 1, 1, " CT_S1 ", 1, 0), "
                "('t', X'010906', '-1', NULL, 2, 1, " CT_S1 ", 2, 1), "
                "('t', X'0109', 'a', 1, 1, 1, " CT_S1 ", 1, 2)",
                "");
  ct_close(db);
}

static void test_crdt_bad_input__failed_change_in_transaction(void) {
  sqlite3 *db = open_db();
  CT_EXEC(db, "BEGIN");
  CT_EXEC(db, "INSERT INTO crsql_changes VALUES ('t', X'010904', 'a', 'ok', 1, 1, " CT_S1
              ", 1, 0)");
  CT_CHECK_FAILS(db,
                 "INSERT INTO crsql_changes VALUES "
                 "('t', X'010905', 'a', 'v5', 1, 1, " CT_S1 ", 1, 0), "
                 "('t', X'010905', 'nocol', 1, 1, 1, " CT_S1 ", 1, 1)",
                 "nocol");
  /* The transaction is still usable; only the failed statement is undone. */
  CT_EXEC(db, "INSERT INTO crsql_changes VALUES ('t', X'010906', 'a', 'ok', 1, 1, " CT_S1
              ", 1, 0)");
  CT_EXEC(db, "COMMIT");
  CT_CHECK_ROWS(db, "SELECT id, a FROM t ORDER BY id", "1|x\n4|ok\n6|ok");
  CT_CHECK_ROWS(db, "SELECT count(*) FROM crsql_changes WHERE pk = X'010905'", "0");
  ct_close(db);
}

static void test_crdt_bad_input__local_write_after_refusal(void) {
  /* A refused change leaves no state behind that would disturb the next
   * local write (cached statements, pending db_version, sync bit). */
  sqlite3 *db = open_db();
  CT_CHECK_FAILS(db, CH("'t'", "X'010902'", "'nocol'"), "");
  CT_CHECK_FAILS(db, CH("'t'", "X'0109'", "'a'"), "");
  CT_EXEC(db, "INSERT INTO t VALUES (7, 'l', 'm')");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE pk = X'010907'" CT_ORDER,
                "t|010907|a|'l'|1|3|local|1|0\n"
                "t|010907|b|'m'|1|3|local|1|1");
  CT_EXEC(db, CH("'t'", "X'010902'", "'a'"));
  CT_CHECK_ROWS(db, "SELECT id, a FROM t WHERE id = 2", "2|v");
  ct_close(db);
}

static const bl_test_case cases[] = {
    BL_TEST(test_crdt_bad_input__table_not_crr),
    BL_TEST(test_crdt_bad_input__unknown_column),
    BL_TEST(test_crdt_bad_input__malformed_pk),
    BL_TEST(test_crdt_bad_input__pk_value_count),
    BL_TEST(test_crdt_bad_input__pk_wrong_type),
    BL_TEST(test_crdt_bad_input__injection_in_names),
    BL_TEST(test_crdt_bad_input__site_id_too_long),
    BL_TEST(test_crdt_bad_input__names_too_long),
    BL_TEST(test_crdt_bad_input__statement_is_atomic),
    BL_TEST(test_crdt_bad_input__failed_change_in_transaction),
    BL_TEST(test_crdt_bad_input__local_write_after_refusal),
};

BL_TEST_MAIN(cases)
