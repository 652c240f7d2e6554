/*
 * changes.c — reading crsql_changes and the small functions around it:
 * the columns, the default order, the filters (db_version and site_id
 * above all, as sync uses them), exact round trips of every SQLite type
 * through crsql_changes, the packed primary key format
 * (crsql_pack_columns), and crsql_site_id / crsql_db_version across a
 * reopen of a file database.
 *
 * Byte strings of packed keys were produced by cr-sqlite 0.16.
 */
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"

static void test_crdt_changes__columns(void) {
  sqlite3 *db = ct_open();
  CT_CHECK_ROWS(db, "SELECT group_concat(name, ',') FROM pragma_table_info('crsql_changes')",
                "table,pk,cid,val,col_version,db_version,site_id,cl,seq");
  CT_CHECK_ROWS(db, "SELECT count(*) FROM crsql_changes", "0");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 0);
  ct_close(db);
}

/* SQLite parses a decimal literal with long double arithmetic, which
 * valgrind emulates with less precision: a literal like 1e308 comes out one
 * bit different there. The real literals below (1e22 is exact in binary)
 * parse to the same double either way. */
static void test_crdt_changes__pack_columns_bytes(void) {
  static const struct {
    const char *args, *hex;
  } cases[] = {
      {"", "00"},
      {"0", "0101"},
      {"1", "010901"},
      {"-1", "0141FFFFFFFFFFFFFFFF"},
      {"127", "01097F"},
      {"128", "010980"},
      {"255", "0109FF"},
      {"256", "01110100"},
      {"32768", "01118000"},
      {"65535", "0111FFFF"},
      {"65536", "0119010000"},
      {"8388608", "0119800000"},
      {"2147483648", "012180000000"},
      {"4294967295", "0121FFFFFFFF"},
      {"4294967296", "01290100000000"},
      {"-5", "0141FFFFFFFFFFFFFFFB"},
      {"-9223372036854775808", "01418000000000000000"},
      {"9223372036854775807", "01417FFFFFFFFFFFFFFF"},
      {"0.0", "01020000000000000000"},
      {"-0.0", "01028000000000000000"},
      {"1.5", "01023FF8000000000000"},
      {"1e22", "01024480F0CF064DD592"},
      {"0.1", "01023FB999999999999A"},
      {"'a'", "010B0161"},
      {"''", "0103"},
      {"X''", "0104"},
      {"X'00FF'", "010C0200FF"},
      {"NULL", "0105"},
      {"'héllo'", "010B0668C3A96C6C6F"},
      {"1, 'a', X'01'", "0309010B01610C0101"},
      {"1, 'abc', x'01', 1.5, null, -1, 256, 9223372036854775807",
       "0809010B036162630C0101023FF80000000000000541FFFFFFFFFFFFFFFF110100417FFFFFFFFFFFFFFF"},
      {"'héllo', x'', '', 1e22, -0.0", "050B0668C3A96C6C6F0403024480F0CF064DD592028000000000000000"},
  };
  sqlite3 *db = ct_open();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT hex(crsql_pack_columns(%s))", cases[i].args);
    CT_CHECK_ROWS(db, sql, cases[i].hex);
  }
  /* Lengths that need 2 and 3 length bytes. */
  CT_CHECK_ROWS(db, "SELECT substr(hex(crsql_pack_columns(zeroblob(300))), 1, 8), "
                    "length(crsql_pack_columns(zeroblob(300)))",
                "0114012C|304");
  CT_CHECK_ROWS(db, "SELECT substr(hex(crsql_pack_columns(printf('%.*c', 70000, 'x'))), 1, 12), "
                    "length(crsql_pack_columns(printf('%.*c', 70000, 'x')))",
                "011B01117078|70005");
  ct_close(db);
}

static void test_crdt_changes__pk_format_per_type(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE p (i INTEGER NOT NULL, r REAL NOT NULL, s TEXT NOT NULL, "
              "bl BLOB NOT NULL, v, PRIMARY KEY (i, r, s, bl)); SELECT crsql_as_crr('p');"
              "INSERT INTO p VALUES (-1, 1.5, 'héllo', X'00FF', 'v1');"
              "INSERT INTO p VALUES (9223372036854775807, -0.0, '', X'', 'v2');"
              "INSERT INTO p VALUES (-9223372036854775808, 1e22, 'a', X'01', 'v3');"
              "CREATE TABLE tx (id TEXT PRIMARY KEY NOT NULL, v); SELECT crsql_as_crr('tx');"
              "INSERT INTO tx VALUES ('k', 1);"
              "CREATE TABLE tb (id BLOB PRIMARY KEY NOT NULL, v); SELECT crsql_as_crr('tb');"
              "INSERT INTO tb VALUES (X'0102', 1);"
              "CREATE TABLE tr (id REAL PRIMARY KEY NOT NULL, v); SELECT crsql_as_crr('tr');"
              "INSERT INTO tr VALUES (0.1, 1);"
              "CREATE TABLE ti (id INTEGER PRIMARY KEY NOT NULL, v); SELECT crsql_as_crr('ti');"
              "INSERT INTO ti VALUES (0, 1)");
  /* Composite keys pack in PRIMARY KEY order; -0.0 in a REAL column is
   * stored (and so packed) as 0.0. */
  CT_CHECK_ROWS(db, "SELECT \"table\", hex(pk) FROM crsql_changes ORDER BY db_version",
                "p|0441FFFFFFFFFFFFFFFF023FF80000000000000B0668C3A96C6C6F0C0200FF\n"
                "p|04417FFFFFFFFFFFFFFF0200000000000000000304\n"
                "p|04418000000000000000024480F0CF064DD5920B01610C0101\n"
                "tx|010B016B\n"
                "tb|010C020102\n"
                "tr|01023FB999999999999A\n"
                "ti|0101");
  ct_close(db);
}

/* Values whose type and bytes must survive local write -> crsql_changes ->
 * merge into another database. Rendered through typeof() and the packed
 * bytes, which hold a real's IEEE bits exactly. */
static const char *round_trip_values[] = {
    "0", "-1", "1", "255", "256", "9223372036854775807", "-9223372036854775808",
    "4294967296", "-4294967297", "0.1", "-0.0", "0.0", "1e308", "-1e308", "5e-324",
    "2.2250738585072014e-308", "0.30000000000000004", "1.0/3", "9e999", "-9e999", "X''",
    "X'00'", "X'00FF00'", "zeroblob(1000)", "randomblob(100000)", "''", "'héllo wörld ✓ 😀'",
    "'a''b\"c'", "printf('%.*c', 100000, 'y')", "NULL", "char(1,2,3,127,128,2047,65535,1114111)",
};

#define VALUES_RENDER "SELECT id, typeof(x), x FROM v ORDER BY id"

/* Checks that `sql` gives exactly the same values on both databases. */
#define CHECK_SAME(a, b, sql)                                              \
  do {                                                                     \
    char why_[512];                                                        \
    if (!ct_same_rows((a), (b), (sql), why_, sizeof why_)) {               \
      fprintf(stderr, "  %s:%d: %s: %s\n", __FILE__, __LINE__, (sql), why_); \
      bl_test_failed_checks++;                                             \
    }                                                                      \
  } while (0)

static void test_crdt_changes__value_round_trip(void) {
  sqlite3 *a = ct_open(), *b = ct_open();
  const char *ddl = "CREATE TABLE v (id INTEGER PRIMARY KEY NOT NULL, x); SELECT crsql_as_crr('v')";
  CT_EXEC(a, ddl);
  CT_EXEC(b, ddl);
  size_t n = sizeof round_trip_values / sizeof round_trip_values[0];
  for (size_t i = 0; i < n; i++) {
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO v VALUES (%zu, %s)", i, round_trip_values[i]);
    CT_EXEC(a, sql);
  }
  /* crsql_changes.val is the column's value, exactly. */
  CT_CHECK_ROWS(a, "SELECT count(*) FROM crsql_changes c JOIN v ON c.pk = crsql_pack_columns(v.id) "
                   "WHERE c.cid = 'x' AND typeof(c.val) = typeof(v.x) AND "
                   "crsql_pack_columns(c.val) = crsql_pack_columns(v.x)",
                "31");
  BL_CHECK_INT(ct_sync(a, b, NULL), (int)n);
  CHECK_SAME(a, b, VALUES_RENDER);
  CHECK_SAME(a, b, "SELECT count(*) FROM v");
  /* And back again through b's crsql_changes into a third database. */
  sqlite3 *c = ct_open();
  CT_EXEC(c, ddl);
  BL_CHECK_INT(ct_sync(b, c, NULL), (int)n);
  CHECK_SAME(a, c, VALUES_RENDER);
  /* crsql_changes itself reads the same on all three. */
  CHECK_SAME(a, c, "SELECT pk, cid, val, col_version, cl FROM crsql_changes ORDER BY pk");
  /* Spot checks that the rendering is not vacuous. */
  CT_CHECK_ROWS(b, "SELECT typeof(x), quote(x) FROM v WHERE id IN (5, 6, 20) ORDER BY id",
                "integer|9223372036854775807\ninteger|-9223372036854775808\nblob|X''");
  CT_CHECK_ROWS(b, "SELECT hex(crsql_pack_columns(x)) FROM v WHERE id = 10", "01028000000000000000");
  ct_close(a);
  ct_close(b);
  ct_close(c);
}

static void test_crdt_changes__pk_round_trip(void) {
  sqlite3 *a = ct_open(), *b = ct_open();
  const char *ddl = "CREATE TABLE p (i INTEGER NOT NULL, r REAL NOT NULL, s TEXT NOT NULL, "
                    "bl BLOB NOT NULL, v, PRIMARY KEY (i, r, s, bl)); SELECT crsql_as_crr('p');"
                    "CREATE TABLE tx (id TEXT PRIMARY KEY NOT NULL, v); SELECT crsql_as_crr('tx');"
                    "CREATE TABLE tb (id BLOB PRIMARY KEY NOT NULL); SELECT crsql_as_crr('tb')";
  CT_EXEC(a, ddl);
  CT_EXEC(b, ddl);
  CT_EXEC(a, "INSERT INTO p VALUES (-1, 1.5, 'héllo', X'00FF', 'v1');"
             "INSERT INTO p VALUES (9223372036854775807, 5e-324, '', X'', 'v2');"
             "INSERT INTO p VALUES (-9223372036854775808, 1e308, '😀', X'01', 'v3');"
             "INSERT INTO p VALUES (0, 0.1, 'a''b\"c', randomblob(300), 'v4');"
             "INSERT INTO tx VALUES ('x\"; DROP TABLE tx; --', 1), ('', 2), ('ü', 3);"
             "INSERT INTO tb VALUES (X''), (X'00'), (zeroblob(70000))");
  BL_CHECK(ct_sync(a, b, NULL) > 0);
  CHECK_SAME(a, b, "SELECT i, r, s, bl, v FROM p ORDER BY v");
  CHECK_SAME(a, b, "SELECT count(*) FROM p");
  CT_CHECK_ROWS(b, "SELECT hex(id), v FROM tx ORDER BY v", "78223B2044524F50205441424C452074783B202D2D|1\n|2\nC3BC|3");
  CT_CHECK_ROWS(b, "SELECT typeof(id), length(id) FROM tb ORDER BY length(id)",
                "blob|0\nblob|1\nblob|70000");
  /* Deleting through a merged key finds the same row. */
  CT_EXEC(a, "DELETE FROM p; DELETE FROM tx; DELETE FROM tb");
  BL_CHECK(ct_sync(a, b, NULL) > 0);
  CT_CHECK_ROWS(b, "SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM tx) + "
                   "(SELECT count(*) FROM tb)",
                "0");
  ct_close(a);
  ct_close(b);
}

/* Builds a database with local and merged changes over several versions and
 * two tables, for the filter tests. */
static sqlite3 *open_filter_db(void) {
  sqlite3 *other = ct_open(), *db = ct_open();
  const char *ddl = "CREATE TABLE item (id PRIMARY KEY NOT NULL, x INTEGER, y INTEGER, d TEXT);"
                    "SELECT crsql_as_crr('item');"
                    "CREATE TABLE tag (name TEXT PRIMARY KEY NOT NULL);"
                    "SELECT crsql_as_crr('tag')";
  CT_EXEC(other, ddl);
  CT_EXEC(db, ddl);
  CT_EXEC(other, "INSERT INTO item VALUES (900, 1, 2, 'remote'); INSERT INTO tag VALUES ('r')");
  CT_EXEC(db, "INSERT INTO item VALUES (123, 0, 0, 'The bestest thing');"
              "INSERT INTO item VALUES (321, 10, 10, 'The okest thing')");
  CT_EXEC(db, "UPDATE item SET x = 1000 WHERE id = 123; INSERT INTO item VALUES (411, -1, -1, "
              "'The worst thing'); INSERT INTO tag VALUES ('a')");
  CT_EXEC(db, "DELETE FROM item WHERE id = 411");
  ct_sync(other, db, NULL);
  CT_EXEC(db, "INSERT INTO crsql_changes VALUES ('item', crsql_pack_columns(77), 'd', 'x', 1, 3, "
              CT_S1 ", 1, 0)");
  CT_EXEC(db, "UPDATE item SET y = 5 WHERE id = 900; INSERT INTO tag VALUES ('b')");
  ct_close(other);
  /* A plain copy to compare the virtual table's filtering with. */
  CT_EXEC(db, "CREATE TEMP TABLE allch AS SELECT * FROM crsql_changes");
  return db;
}

#define FILTER_COLS \
  "SELECT \"table\", hex(pk), cid, quote(val), col_version, db_version, hex(site_id), cl, seq FROM "
#define FILTER_ORDER " ORDER BY db_version, seq, \"table\", pk, cid"

static void check_filter(sqlite3 *db, const char *where) {
  char vt[1024], plain[1024];
  snprintf(vt, sizeof vt, FILTER_COLS "crsql_changes %s" FILTER_ORDER, where);
  snprintf(plain, sizeof plain, FILTER_COLS "allch %s" FILTER_ORDER, where);
  char want[32 * 1024];
  snprintf(want, sizeof want, "%s", ct_rows(db, plain));
  CT_CHECK_ROWS(db, vt, want);
}

static void test_crdt_changes__filter_db_version(void) {
  sqlite3 *db = open_filter_db();
  sqlite3_int64 max = ct_int(db, "SELECT max(db_version) FROM allch");
  BL_CHECK(max >= 5);
  for (sqlite3_int64 v = -1; v <= max + 1; v++) {
    static const char *ops[] = {">", "=", "<", ">=", "<=", "!=", "IS", "IS NOT"};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
      char where[128];
      snprintf(where, sizeof where, "WHERE db_version %s %lld", ops[o], (long long)v);
      check_filter(db, where);
    }
  }
  check_filter(db, "WHERE db_version > 2 AND db_version <= 4");
  check_filter(db, "WHERE db_version BETWEEN 2 AND 3");
  check_filter(db, "WHERE db_version > NULL");
  ct_close(db);
}

static void test_crdt_changes__filter_db_version_bound(void) {
  sqlite3 *db = open_filter_db();
  /* As sync does it: a prepared statement with the cursor bound. */
  sqlite3_stmt *vt = NULL, *pl = NULL;
  BL_REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM crsql_changes WHERE db_version > ?", -1,
                                &vt, NULL) == SQLITE_OK);
  BL_REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM allch WHERE db_version > ?", -1, &pl,
                                NULL) == SQLITE_OK);
  for (int v = 0; v < 8; v++) {
    sqlite3_bind_int(vt, 1, v);
    sqlite3_bind_int(pl, 1, v);
    BL_CHECK_INT(sqlite3_step(vt), SQLITE_ROW);
    BL_CHECK_INT(sqlite3_step(pl), SQLITE_ROW);
    BL_CHECK_INT(sqlite3_column_int(vt, 0), sqlite3_column_int(pl, 0));
    sqlite3_reset(vt);
    sqlite3_reset(pl);
  }
  sqlite3_finalize(vt);
  sqlite3_finalize(pl);
  ct_close(db);
}

static void test_crdt_changes__filter_site_id(void) {
  sqlite3 *db = open_filter_db();
  /* Local changes carry our site id (never NULL), merged ones their
   * origin's. */
  BL_CHECK(ct_int(db, "SELECT count(*) FROM allch WHERE site_id = crsql_site_id()") > 0);
  BL_CHECK(ct_int(db, "SELECT count(*) FROM allch WHERE site_id IS NOT crsql_site_id()") > 1);
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM allch WHERE site_id IS NULL"), 0);
  check_filter(db, "WHERE site_id = crsql_site_id()");
  check_filter(db, "WHERE site_id IS crsql_site_id()");
  check_filter(db, "WHERE site_id != crsql_site_id()");
  check_filter(db, "WHERE site_id IS NOT crsql_site_id()");
  check_filter(db, "WHERE site_id = " CT_S1);
  check_filter(db, "WHERE site_id IS NOT " CT_S1);
  check_filter(db, "WHERE site_id IS NULL");
  check_filter(db, "WHERE site_id IS NOT NULL");
  check_filter(db, "WHERE site_id = X'00'");
  /* Combined, as a push reads its own new changes. */
  check_filter(db, "WHERE db_version > 2 AND site_id = crsql_site_id()");
  check_filter(db, "WHERE db_version > 1 AND site_id IS NOT crsql_site_id()");
  check_filter(db, "WHERE site_id = crsql_site_id() AND db_version = 3");
  ct_close(db);
}

static void test_crdt_changes__filter_other_columns(void) {
  sqlite3 *db = open_filter_db();
  static const char *wheres[] = {
      "WHERE \"table\" = 'item'", "WHERE \"table\" != 'item'", "WHERE \"table\" = 'nope'",
      "WHERE cid = 'x'", "WHERE cid != 'x'", "WHERE cid = '-1'",
      "WHERE pk = crsql_pack_columns(123)", "WHERE pk != crsql_pack_columns(123)",
      "WHERE seq = 0", "WHERE seq > 1", "WHERE seq < 2", "WHERE col_version > 1",
      "WHERE col_version = 1", "WHERE cl = 2", "WHERE cl > 1", "WHERE cl IS 1",
      "WHERE val = 1000", "WHERE val IS NULL", "WHERE \"table\" = 'item' AND cid = 'd' AND seq >= 0",
      "WHERE db_version >= 2 OR cid = 'x'",
  };
  for (size_t i = 0; i < sizeof wheres / sizeof wheres[0]; i++) check_filter(db, wheres[i]);
  ct_close(db);
}

static void test_crdt_changes__default_order(void) {
  sqlite3 *db = open_filter_db();
  /* Without ORDER BY, changes come in (db_version, seq) order, which is
   * what a reader streaming changes relies on. */
  sqlite3_stmt *st = NULL;
  BL_REQUIRE(sqlite3_prepare_v2(db, "SELECT db_version, seq FROM crsql_changes", -1, &st, NULL) ==
             SQLITE_OK);
  sqlite3_int64 pv = -1, ps = -1;
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    sqlite3_int64 v = sqlite3_column_int64(st, 0), s = sqlite3_column_int64(st, 1);
    BL_CHECK(v > pv || (v == pv && s >= ps));
    pv = v;
    ps = s;
    n++;
  }
  sqlite3_finalize(st);
  BL_CHECK_INT(n, ct_int(db, "SELECT count(*) FROM allch"));
  /* An explicit descending order is honoured too. */
  char want[32 * 1024];
  snprintf(want, sizeof want, "%s",
           ct_rows(db, "SELECT db_version FROM allch ORDER BY db_version DESC"));
  CT_CHECK_ROWS(db, "SELECT db_version FROM crsql_changes ORDER BY db_version DESC", want);
  ct_close(db);
}

static void test_crdt_changes__site_id(void) {
  sqlite3 *a = ct_open(), *b = ct_open();
  CT_CHECK_ROWS(a, "SELECT typeof(crsql_site_id()), length(crsql_site_id())", "blob|16");
  /* Stable within a connection, different between databases. */
  BL_CHECK_INT(ct_int(a, "SELECT crsql_site_id() = crsql_site_id()"), 1);
  char sa[64];
  snprintf(sa, sizeof sa, "%s", ct_rows(a, "SELECT hex(crsql_site_id())"));
  BL_CHECK(strcmp(sa, ct_rows(b, "SELECT hex(crsql_site_id())")) != 0);
  ct_close(a);
  ct_close(b);
}

static void test_crdt_changes__reopen_file(void) {
  char path[] = "/tmp/bl_crdt_reopen_XXXXXX";
  int fd = mkstemp(path);
  BL_REQUIRE(fd >= 0);
  close(fd);
  sqlite3 *db = ct_open_file(path);
  char site[64];
  snprintf(site, sizeof site, "%s", ct_rows(db, "SELECT hex(crsql_site_id())"));
  BL_CHECK_INT(strlen(site), 32);
  CT_EXEC(db, "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a); SELECT crsql_as_crr('t');"
              "INSERT INTO t VALUES (1, 'x'); INSERT INTO t VALUES (2, 'y');"
              "INSERT INTO crsql_changes VALUES ('t', X'010903', 'a', 'z', 1, 7, " CT_S1 ", 1, 0)");
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 7);
  ct_close(db);

  db = ct_open_file(path);
  CT_CHECK_ROWS(db, "SELECT hex(crsql_site_id())", site);
  BL_CHECK_INT(ct_int(db, "SELECT crsql_db_version()"), 7);
  CT_CHECK_ROWS(db, CT_CHANGES CT_ORDER,
                "t|010901|a|'x'|1|1|local|1|0\n"
                "t|010902|a|'y'|1|2|local|1|0\n"
                "t|010903|a|'z'|1|7|" CT_S1_HEX "|1|0");
  /* Triggers still track after the reopen, continuing the version. */
  CT_EXEC(db, "UPDATE t SET a = 'x2' WHERE id = 1");
  CT_CHECK_ROWS(db, CT_CHANGES "WHERE db_version > 7", "t|010901|a|'x2'|2|8|local|1|0");
  ct_close(db);

  /* A second connection on the same file sees the same site id and the
   * version the first one committed. */
  sqlite3 *c1 = ct_open_file(path), *c2 = ct_open_file(path);
  CT_CHECK_ROWS(c2, "SELECT hex(crsql_site_id())", site);
  BL_CHECK_INT(ct_int(c2, "SELECT crsql_db_version()"), 8);
  CT_EXEC(c1, "INSERT INTO t VALUES (4, 'w')");
  BL_CHECK_INT(ct_int(c2, "SELECT crsql_db_version()"), 9);
  CT_EXEC(c2, "INSERT INTO t VALUES (5, 'v')");
  CT_CHECK_ROWS(c1, "SELECT DISTINCT db_version FROM crsql_changes WHERE pk = X'010905'", "10");
  ct_close(c1);
  ct_close(c2);
  unlink(path);
}

static const bl_test_case cases[] = {
    BL_TEST(test_crdt_changes__columns),
    BL_TEST(test_crdt_changes__pack_columns_bytes),
    BL_TEST(test_crdt_changes__pk_format_per_type),
    BL_TEST(test_crdt_changes__value_round_trip),
    BL_TEST(test_crdt_changes__pk_round_trip),
    BL_TEST(test_crdt_changes__filter_db_version),
    BL_TEST(test_crdt_changes__filter_db_version_bound),
    BL_TEST(test_crdt_changes__filter_site_id),
    BL_TEST(test_crdt_changes__filter_other_columns),
    BL_TEST(test_crdt_changes__default_order),
    BL_TEST(test_crdt_changes__site_id),
    BL_TEST(test_crdt_changes__reopen_file),
};

BL_TEST_MAIN(cases)
