/*
 * fractindex.c — tests of the fractional index functions (src/crdt/fractindex.c).
 *
 * Most expectations are generated from cr-sqlite 0.16 by gen_expected.mjs
 * into fractindex_expected.h: single key_between cases, key sequences
 * (append, prepend, repeated inserts toward one key, random inserts) and SQL
 * scenarios of crsql_fract_as_ordered and its view. The tests at the end
 * cover the places where we deliberately differ from cr-sqlite (it crashes
 * or builds broken SQL there) and properties that hold for any key.
 *
 * Connections get the whole engine (bl_crdt_register), as applications do;
 * nothing here uses crsql_as_crr, so only plain tables are ordered.
 */
#include <sqlite3.h>

#include "backless.h"
#include "harness.h"

#include "fractindex/fractindex_expected.h"

static sqlite3 *open_db(void) {
  sqlite3 *db = NULL;
  char *err = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK || bl_crdt_register(db, &err) != SQLITE_OK) {
    fprintf(stderr, "  cannot open a database with the engine: %s\n", err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

/* Runs every statement of `sql`; returns rows as "v|v;v|v" (NULL as NULL)
 * or "ERR: <message>", the format gen_expected.mjs prints. Caller frees. */
static char *run(sqlite3 *db, const char *sql) {
  sqlite3_str *out = sqlite3_str_new(db);
  int first_row = 1;
  while (sql && *sql) {
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
    if (rc == SQLITE_OK && st) {
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!first_row) sqlite3_str_appendchar(out, 1, ';');
        first_row = 0;
        for (int i = 0; i < sqlite3_column_count(st); i++) {
          if (i) sqlite3_str_appendchar(out, 1, '|');
          switch (sqlite3_column_type(st, i)) {
          case SQLITE_NULL: sqlite3_str_appendall(out, "NULL"); break;
          case SQLITE_INTEGER: sqlite3_str_appendf(out, "%lld", sqlite3_column_int64(st, i)); break;
          case SQLITE_FLOAT:
            sqlite3_str_appendf(out, "%!.15g", sqlite3_column_double(st, i));
            break;
          default:
            sqlite3_str_append(out, (const char *)sqlite3_column_text(st, i),
                               sqlite3_column_bytes(st, i));
          }
        }
      }
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
      sqlite3_str_reset(out);
      sqlite3_str_appendf(out, "ERR: %s", sqlite3_errmsg(db));
      break;
    }
    sql = tail;
  }
  char *s = sqlite3_str_finish(out);
  return s ? s : sqlite3_mprintf("%s", "");
}

static void check_run(sqlite3 *db, const char *sql, const char *expect) {
  char *got = run(db, sql);
  if (!got || strcmp(got, expect) != 0) {
    fprintf(stderr, "  SQL: %s\n  got:      %s\n  expected: %s\n", sql, got ? got : "(null)",
            expect);
    bl_test_failed_checks++;
  }
  sqlite3_free(got);
}

/* key_between through SQL; a or b NULL is the open end. Returns the key or
 * "ERR: message" (caller frees). */
static char *between(sqlite3 *db, const char *a, const char *b) {
  sqlite3_stmt *st = NULL;
  char *r = NULL;
  if (sqlite3_prepare_v2(db, "SELECT crsql_fract_key_between(?, ?)", -1, &st, NULL) != SQLITE_OK)
    return NULL;
  if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW)
    r = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
  else
    r = sqlite3_mprintf("ERR: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return r;
}

static void test_fractindex_keys__reference_cases(void) {
  sqlite3 *db = open_db();
  BL_REQUIRE(db);
  for (size_t i = 0; i < sizeof fi_key_cases / sizeof fi_key_cases[0]; i++) {
    char *got = between(db, fi_key_cases[i].a, fi_key_cases[i].b);
    if (!got || strcmp(got, fi_key_cases[i].expect) != 0) {
      fprintf(stderr, "  key_between(%s, %s) = \"%s\", expected \"%s\"\n",
              fi_key_cases[i].a ? fi_key_cases[i].a : "NULL",
              fi_key_cases[i].b ? fi_key_cases[i].b : "NULL", got ? got : "(null)",
              fi_key_cases[i].expect);
      bl_test_failed_checks++;
    }
    sqlite3_free(got);
  }
  sqlite3_close(db);
}

/* FNV-1a 64 of the keys joined by '\n', as gen_expected.mjs computes it. */
static unsigned long long fnv_keys(char **keys, int n) {
  unsigned long long h = 0xcbf29ce484222325ULL;
  for (int i = 0; i < n; i++) {
    if (i) h = (h ^ '\n') * 0x100000001b3ULL;
    for (const unsigned char *p = (const unsigned char *)keys[i]; *p; p++)
      h = (h ^ *p) * 0x100000001b3ULL;
  }
  return h;
}

/* Replays one sequence recipe (see gen_expected.mjs) and checks the count,
 * hash, last key and final error, and that every key lands strictly between
 * its neighbours. */
static void check_sequence(sqlite3 *db, const struct fi_seq_case *c) {
  char **keys = calloc((size_t)c->steps, sizeof(char *));
  char *last = NULL, *err = NULL;
  int n = 0;
  uint32_t x = 2463534242u;
  if (!keys) {
    bl_test_failed_checks++;
    return;
  }
  for (int i = 0; i < c->steps; i++) {
    const char *a = NULL, *b = NULL;
    int p = 0;
    switch (c->kind) {
    case 0: a = last; break;
    case 1: b = last; break;
    case 2:
      a = c->lo;
      b = last ? last : c->hi;
      break;
    case 3:
      a = last ? last : c->lo;
      b = c->hi;
      break;
    default:
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      p = (int)(x % (uint32_t)(n + 1));
      a = p > 0 ? keys[p - 1] : NULL;
      b = p < n ? keys[p] : NULL;
    }
    char *k = between(db, a, b);
    BL_REQUIRE(k);
    if (strncmp(k, "ERR: ", 5) == 0) {
      err = k;
      break;
    }
    if ((a && strcmp(a, k) >= 0) || (b && strcmp(k, b) >= 0)) {
      fprintf(stderr, "  %s: key \"%s\" not between \"%s\" and \"%s\"\n", c->name, k,
              a ? a : "NULL", b ? b : "NULL");
      bl_test_failed_checks++;
    }
    if (c->kind == 4)
      memmove(keys + p + 1, keys + p, sizeof(char *) * (size_t)(n - p));
    else
      p = n;
    keys[p] = k;
    n++;
    last = k;
  }
  BL_CHECK_INT(n, c->produced);
  if (fnv_keys(keys, n) != c->hash) {
    fprintf(stderr, "  %s: hash of the keys differs\n", c->name);
    bl_test_failed_checks++;
  }
  BL_CHECK_STR(last, c->last);
  if (c->err)
    BL_CHECK_STR(err, c->err);
  else
    BL_CHECK(err == NULL);
  for (int i = 0; i < n; i++) sqlite3_free(keys[i]);
  free(keys);
  sqlite3_free(err);
}

static void test_fractindex_keys__reference_sequences(void) {
  sqlite3 *db = open_db();
  BL_REQUIRE(db);
  for (size_t i = 0; i < sizeof fi_seq_cases / sizeof fi_seq_cases[0]; i++)
    check_sequence(db, &fi_seq_cases[i]);
  sqlite3_close(db);
}

static void test_fractindex_sql__reference_scenarios(void) {
  for (size_t i = 0; i < sizeof fi_scenarios / sizeof fi_scenarios[0]; i++) {
    sqlite3 *db = open_db();
    BL_REQUIRE(db);
    int before = bl_test_failed_checks;
    for (size_t s = 0; s < fi_scenarios[i].n; s++)
      check_run(db, fi_scenarios[i].steps[s].sql, fi_scenarios[i].steps[s].expect);
    if (bl_test_failed_checks != before)
      fprintf(stderr, "  (in scenario %s)\n", fi_scenarios[i].name);
    sqlite3_close(db);
  }
}

/* cr-sqlite crashes (a WebAssembly trap, a panic natively) on equal or empty
 * keys, and on keys that are not ASCII where it slices strings; we report
 * errors instead. */
static void test_fractindex_keys__where_crsqlite_crashes(void) {
  sqlite3 *db = open_db();
  BL_REQUIRE(db);
  check_run(db, "SELECT crsql_fract_key_between('a0', 'a0')",
            "ERR: key_between - a must be before b");
  check_run(db, "SELECT crsql_fract_key_between('a0V', 'a0V')",
            "ERR: key_between - a must be before b");
  check_run(db, "SELECT crsql_fract_key_between('', NULL)", "ERR: head is out of range");
  check_run(db, "SELECT crsql_fract_key_between(NULL, '')", "ERR: head is out of range");
  check_run(db, "SELECT crsql_fract_key_between('', 'a0')", "ERR: head is out of range");
  check_run(db, "SELECT crsql_fract_key_between('a' || char(200), NULL)", "ERR: invalid digit");
  check_run(db, "SELECT crsql_fract_key_between(NULL, x'')", "ERR: head is out of range");
  sqlite3_close(db);
}

/* cr-sqlite joins composite primary key predicates with ", AND" and aliases
 * the collection subquery as t, so fixing a conflict fails for composite
 * keys and for a table named t; ours works. Expected keys follow the same
 * rule as the single-key case (todo_list scenario). */
static void test_fractindex_sql__conflicts_crsqlite_cannot_fix(void) {
  sqlite3 *db = open_db();
  BL_REQUIRE(db);
  check_run(db,
            "CREATE TABLE cp (a, b, pos, v, PRIMARY KEY (a, b));"
            "SELECT crsql_fract_as_ordered('cp', 'pos');"
            "INSERT INTO cp VALUES (1, 1, 'a0', 'x'), (1, 2, 'a0', 'y'), (0, 0, 'Z~', 'z');"
            "INSERT INTO cp_fractindex (a, b, v, after_a, after_b) VALUES (2, 1, 'w', 1, 1);"
            "SELECT a, b, pos FROM cp ORDER BY pos, a, b",
            "NULL;0|0|Z~;1|1|a ;2|1|a!;1|2|a0");
  check_run(db,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, l, pos, v);"
            "SELECT crsql_fract_as_ordered('t', 'pos', 'l');"
            "INSERT INTO t VALUES (1, 1, 'a ', 'a'), (2, 1, 'a ', 'b'), (3, 2, 'Z}', 'c');"
            "INSERT INTO t_fractindex (id, l, v, after_id) VALUES (4, 1, 'd', 1);"
            "SELECT id, l, pos FROM t ORDER BY l, pos, id",
            "NULL;1|1|Z~;4|1|Z~P;2|1|a ;3|2|Z}");
  sqlite3_close(db);
}

/* Names containing '"' break cr-sqlite's SQL (it pastes some unescaped);
 * every name is quoted here. */
static void test_fractindex_sql__names_with_double_quotes(void) {
  sqlite3 *db = open_db();
  BL_REQUIRE(db);
  check_run(db,
            "CREATE TABLE \"a\"\"b\" (\"i\"\"d\" INTEGER PRIMARY KEY, \"l\"\"s\", \"p\"\"o\", v);"
            "SELECT crsql_fract_as_ordered('a\"b', 'p\"o', 'l\"s');"
            "INSERT INTO \"a\"\"b\" VALUES (1, 'x', 1, 'a'), (2, 'x', 1, 'b'), (3, 'x', -1, 'c');"
            "INSERT INTO \"a\"\"b_fractindex\" (\"i\"\"d\", \"l\"\"s\", v, \"after_i\"\"d\") "
            "VALUES (4, 'x', 'd', 1);"
            "UPDATE \"a\"\"b\" SET \"p\"\"o\" = 1 WHERE \"i\"\"d\" = 3;"
            "SELECT \"i\"\"d\", \"p\"\"o\" FROM \"a\"\"b\" ORDER BY 2",
            "NULL;1|a ;4|a P;2|a!;3|a\"");
  sqlite3_close(db);
}

/* Random inserts anywhere keep the list strictly sorted. */
static void test_fractindex_keys__random_moves_stay_sorted(void) {
  sqlite3 *db = open_db();
  BL_REQUIRE(db);
  check_run(db,
            "CREATE TABLE l (id INTEGER PRIMARY KEY, pos);"
            "SELECT crsql_fract_as_ordered('l', 'pos');"
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)"
            " INSERT INTO l SELECT i, 1 FROM n;",
            "NULL");
  uint32_t x = 12345;
  for (int i = 0; i < 500; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    char *sql = sqlite3_mprintf("UPDATE l_fractindex SET after_id = %u WHERE id = %u", x % 22,
                                (x >> 8) % 20 + 1);
    check_run(db, sql, "");
    sqlite3_free(sql);
  }
  check_run(db, "SELECT count(DISTINCT pos), count(*) FROM l WHERE pos NOT IN (-1, 1)", "20|20");
  sqlite3_close(db);
}

/* Allocation failures (SQLite's malloc fault idea): every allocation from
 * the Nth on fails, for each N until a run completes. Each run must end in
 * success or an error, never a crash or a leak (the sanitizer build checks),
 * and leave the connection usable. */
static sqlite3_mem_methods oom_orig;
static int oom_countdown = -1; /* -1: no failures */

static int oom_fail(void) {
  if (oom_countdown < 0) return 0;
  if (oom_countdown == 0) return 1;
  oom_countdown--;
  return 0;
}
static void *oom_malloc(int n) { return oom_fail() ? NULL : oom_orig.xMalloc(n); }
static void *oom_realloc(void *p, int n) { return oom_fail() ? NULL : oom_orig.xRealloc(p, n); }

static void test_fractindex_sql__allocation_failures(void) {
  sqlite3_mem_methods m;
  BL_REQUIRE(sqlite3_shutdown() == SQLITE_OK);
  BL_REQUIRE(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &oom_orig) == SQLITE_OK);
  m = oom_orig;
  m.xMalloc = oom_malloc;
  m.xRealloc = oom_realloc;
  BL_REQUIRE(sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK);
  BL_REQUIRE(sqlite3_initialize() == SQLITE_OK);
  int completed = 0;
  for (int n = 0; n < 5000 && !completed; n++) {
    sqlite3 *db = open_db();
    BL_REQUIRE(db);
    sqlite3_exec(db,
                 "CREATE TABLE t (id INTEGER PRIMARY KEY, l, pos, v);"
                 "INSERT INTO t VALUES (1, 1, 'a0', 'x'), (2, 1, 'a0', 'y'), (3, 1, 'a1', 'z');",
                 NULL, NULL, NULL);
    oom_countdown = n;
    int rc = sqlite3_exec(db,
                          "SELECT crsql_fract_as_ordered('t', 'pos', 'l');"
                          "INSERT INTO t VALUES (4, 1, 1, 'w');"
                          "INSERT INTO t_fractindex (id, l, v, after_id) VALUES (5, 1, 'u', 1);"
                          "UPDATE t_fractindex SET after_id = 3 WHERE id = 2;"
                          "SELECT crsql_fract_key_between('a0V', 'a1');",
                          NULL, NULL, NULL);
    completed = oom_countdown > 0;
    oom_countdown = -1;
    if (completed) {
      BL_CHECK_INT(rc, SQLITE_OK);
      check_run(db, "SELECT id, pos FROM t ORDER BY pos, id", "1|a/;5|a/P;3|a1;2|a1P;4|a2");
    }
    check_run(db, "SELECT count(*) > 0 FROM t", "1");
    sqlite3_close(db);
  }
  BL_CHECK(completed);
  sqlite3_shutdown();
  sqlite3_config(SQLITE_CONFIG_MALLOC, &oom_orig);
  sqlite3_initialize();
}

static const bl_test_case cases[] = {
    BL_TEST(test_fractindex_keys__reference_cases),
    BL_TEST(test_fractindex_keys__reference_sequences),
    BL_TEST(test_fractindex_sql__reference_scenarios),
    BL_TEST(test_fractindex_keys__where_crsqlite_crashes),
    BL_TEST(test_fractindex_sql__conflicts_crsqlite_cannot_fix),
    BL_TEST(test_fractindex_sql__names_with_double_quotes),
    BL_TEST(test_fractindex_keys__random_moves_stay_sorted),
    BL_TEST(test_fractindex_sql__allocation_failures),
};

BL_TEST_MAIN(cases)
