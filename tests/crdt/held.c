/*
 * held.c — changes held back by crsql_changes (src/crdt/changes_pending.c).
 *
 * A statement inserting several changes (INSERT ... SELECT, multi-row
 * VALUES) has its second and later changes merged in batches when the
 * statement ends; changes a trigger inserts are merged one at a time (SQLite
 * adds each trigger run's changes to the change count). Whatever the shape of the statement, the result
 * must equal inserting the same changes one statement at a time; nothing
 * may be invisible to the next statement; a failing statement leaves
 * nothing behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define NDEV 3

static const char *held_schema = CT_WORLD_SCHEMA;

static void held_random_write(ct_rng *r, sqlite3 *db) { ct_world_write(r, db, 0); }

/* Copies changes order[0..n) into temp.staged(n, <the 9 columns>). */
static void held_stage(sqlite3 *db, const ct_changes *c, const int *order) {
  CT_EXEC(db, "DROP TABLE IF EXISTS temp.staged;"
              "CREATE TEMP TABLE staged (n INTEGER PRIMARY KEY, tbl, pk, cid, val, col_version, "
              "db_version, site_id, cl, seq)");
  sqlite3_stmt *s = NULL;
  BL_REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO temp.staged VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &s,
                                NULL) == SQLITE_OK);
  for (int i = 0; i < c->n; i++) {
    sqlite3_bind_int(s, 1, i);
    for (int j = 0; j < 9; j++) sqlite3_bind_value(s, j + 2, c->v[9 * (order ? order[i] : i) + j]);
    BL_CHECK_INT(sqlite3_step(s), SQLITE_DONE);
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
}

#define HELD_COLS "tbl, pk, cid, val, col_version, db_version, site_id, cl, seq"

/* The ways a statement can insert many changes at once. */
enum { V_TX_SELECT, V_AUTOCOMMIT_SELECT, V_SAVEPOINT_CHUNKS, V_TRIGGER_FEED, V_USER_TRIGGER, V_NVARIANTS };
static const char *const held_variant_names[] = {"INSERT..SELECT in a transaction", "INSERT..SELECT alone",
                                                 "chunks in a savepoint", "fed by a trigger",
                                                 "with a user trigger on t"};

static int held_apply_variant(sqlite3 *db, int variant, int n) {
  char sql[512];
  switch (variant) {
    case V_TX_SELECT:
      return ct_exec(db, "BEGIN; INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged ORDER BY n; COMMIT");
    case V_AUTOCOMMIT_SELECT:
    case V_USER_TRIGGER:
      return ct_exec(db, "INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged ORDER BY n");
    case V_SAVEPOINT_CHUNKS: {
      int rc = ct_exec(db, "BEGIN; SAVEPOINT s");
      for (int lo = 0; rc == SQLITE_OK && lo < n; lo += 7) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged WHERE n >= %d AND n < %d ORDER BY n",
                 lo, lo + 7);
        rc = ct_exec(db, sql);
      }
      return rc == SQLITE_OK ? ct_exec(db, "RELEASE s; COMMIT") : rc;
    }
    default: /* V_TRIGGER_FEED */
      return ct_exec(db,
                     "CREATE TEMP TABLE inbox (n, tbl, pk, cid, val, col_version, db_version, site_id, cl, seq);"
                     "CREATE TEMP TRIGGER inbox_apply AFTER INSERT ON inbox BEGIN "
                     "INSERT INTO crsql_changes VALUES (NEW.tbl, NEW.pk, NEW.cid, NEW.val, NEW.col_version, "
                     "NEW.db_version, NEW.site_id, NEW.cl, NEW.seq); END;"
                     "BEGIN; INSERT INTO temp.inbox SELECT * FROM temp.staged ORDER BY n; COMMIT;"
                     "DROP TABLE temp.inbox");
  }
}

static void test_crdt_held__same_as_one_by_one(void) {
  const char *env = getenv("BL_PROPERTY_ITERS");
  int iters = env ? (int)strtol(env, NULL, 10) : 40;
  if (iters < V_NVARIANTS) iters = V_NVARIANTS;
  for (int iter = 0; iter < iters; iter++) {
    ct_rng r = {0x4e1dULL + (unsigned long long)iter * 104729};
    ct_changes all = {0, NULL};
    int *order = ct_random_world(&r, held_schema, held_random_write, NDEV, 40, &all);
    BL_REQUIRE(order != NULL);
    /* Two targets with the same local history: one gets a statement per
     * change, the other whole statements. */
    sqlite3 *one = ct_open(), *many = ct_open();
    ct_rng lr = {0xfeedULL + (unsigned long long)iter};
    ct_rng lr2 = lr;
    CT_EXEC(one, held_schema);
    CT_EXEC(many, held_schema);
    int variant = iter % V_NVARIANTS;
    if (variant == V_USER_TRIGGER) {
      static const char *log = "CREATE TABLE log (id); CREATE TRIGGER t_log AFTER INSERT ON t BEGIN "
                               "INSERT INTO log VALUES (NEW.id); END;";
      CT_EXEC(one, log);
      CT_EXEC(many, log);
    }
    for (int i = 0; i < 20; i++) {
      held_random_write(&lr, one);
      held_random_write(&lr2, many);
    }
    /* Both stage the changes: a commit without a CRR write makes the
     * engine read crsql_db_version() back from storage (as cr-sqlite). */
    held_stage(one, &all, order);
    held_stage(many, &all, order);
    BL_CHECK_INT(ct_changes_apply(one, &all, order), SQLITE_OK);
    int rc = held_apply_variant(many, variant, all.n);
    if (rc != SQLITE_OK) fprintf(stderr, "  %s: %s\n", held_variant_names[variant], ct_last_error());
    BL_CHECK_INT(rc, SQLITE_OK);
    if (getenv("HELD_DEBUG") && iter == atoi(getenv("HELD_DEBUG"))) {
      fprintf(stderr, "STAGED:\n%s\nONE:\n%s\nMANY:\n%s\n",
              ct_rows(many, "SELECT n, tbl, hex(pk), cid, quote(val), col_version, db_version, hex(site_id), cl, seq FROM temp.staged"),
              ct_rows(one, CT_CHANGES_STATE_SQL), ct_rows(many, CT_CHANGES_STATE_SQL));
    }
    if (!ct_same_world(one, many, 0)) {
      fprintf(stderr, "  iteration %d (%s, %d changes)\n", iter, held_variant_names[variant], all.n);
      bl_test_failed_checks++;
    }
    if (variant == V_USER_TRIGGER) {
      char why[512];
      BL_CHECK(ct_same_rows(one, many, "SELECT id, count(*) FROM log GROUP BY id ORDER BY id", why, sizeof why));
    }
    free(order);
    ct_changes_free(&all);
    ct_close(one);
    ct_close(many);
  }
}

/* More changes than one batch holds (2048): flushed in the middle of the
 * statement and at its end, the same as one by one. */
static void test_crdt_held__many_batches(void) {
  sqlite3 *src = ct_open(), *one = ct_open(), *many = ct_open();
  CT_EXEC(src, held_schema);
  CT_EXEC(one, held_schema);
  CT_EXEC(many, held_schema);
  CT_EXEC(src, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) "
               "INSERT INTO t SELECT i, i * 3, 'b' || i FROM n");
  CT_EXEC(src, "UPDATE t SET a = a + 1 WHERE id % 3 = 0; DELETE FROM t WHERE id % 7 = 0");
  CT_EXEC(one, "INSERT INTO t VALUES (3, 'local', 'x'), (5000, 'mine', 'y')");
  CT_EXEC(many, "INSERT INTO t VALUES (3, 'local', 'x'), (5000, 'mine', 'y')");
  ct_changes c = {0, NULL};
  BL_REQUIRE(ct_changes_read(src, "ORDER BY db_version, seq", &c) == SQLITE_OK);
  BL_CHECK(c.n > 4096);
  held_stage(one, &c, NULL);
  held_stage(many, &c, NULL);
  BL_CHECK_INT(ct_changes_apply(one, &c, NULL), SQLITE_OK);
  CT_EXEC(many, "BEGIN; INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged ORDER BY n");
  /* Visible to the next statement of the transaction. */
  BL_CHECK_INT(ct_int(many, "SELECT count(*) FROM t"), ct_int(one, "SELECT count(*) FROM t"));
  CT_EXEC(many, "COMMIT");
  BL_CHECK(ct_same_world(one, many, 0));
  ct_changes_free(&c);
  ct_close(src);
  ct_close(one);
  ct_close(many);
}

/* Single-row inserts are never held: the next statement sees them, inside
 * savepoints too (where xSavepoint calls look like a statement's). */
static void test_crdt_held__single_rows_visible_at_once(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, held_schema);
  static const char *ins1 = "INSERT INTO crsql_changes VALUES ('t', crsql_pack_columns(1), 'a', 'one', 1, 1, "
                            CT_S1 ", 1, 0)";
  static const char *ins2 = "INSERT INTO crsql_changes VALUES ('t', crsql_pack_columns(2), 'a', 'two', 1, 1, "
                            CT_S1 ", 1, 0)";
  static const char *ins3 = "INSERT INTO crsql_changes VALUES ('t', crsql_pack_columns(3), 'a', 'three', 1, 2, "
                            CT_S1 ", 1, 0)";
  /* The vtab joins the transaction inside a user savepoint. */
  CT_EXEC(db, "BEGIN; SAVEPOINT a");
  CT_EXEC(db, ins1);
  CT_CHECK_ROWS(db, "SELECT id, a FROM t ORDER BY id", "1|one");
  CT_EXEC(db, ins2);
  CT_CHECK_ROWS(db, "SELECT id, a FROM t ORDER BY id", "1|one\n2|two");
  /* A savepoint opened once the vtab is in the transaction. */
  CT_EXEC(db, "SAVEPOINT b");
  CT_EXEC(db, ins3);
  CT_CHECK_ROWS(db, "SELECT id, a FROM t ORDER BY id", "1|one\n2|two\n3|three");
  CT_EXEC(db, "RELEASE b; RELEASE a; COMMIT");
  /* After a multi-row statement, a single-row one is visible at once too. */
  CT_EXEC(db, "BEGIN");
  CT_EXEC(db, "INSERT INTO crsql_changes VALUES "
              "('t', crsql_pack_columns(4), 'a', 'four', 1, 3, " CT_S2 ", 1, 0), "
              "('t', crsql_pack_columns(4), 'b', 'bee', 1, 3, " CT_S2 ", 1, 1), "
              "('t', crsql_pack_columns(5), 'a', 'five', 1, 3, " CT_S2 ", 1, 2)");
  CT_CHECK_ROWS(db, "SELECT id, a, b FROM t WHERE id >= 4 ORDER BY id", "4|four|bee\n5|five|d");
  CT_EXEC(db, "INSERT INTO crsql_changes VALUES ('t', crsql_pack_columns(6), 'a', 'six', 1, 4, " CT_S2 ", 1, 0)");
  CT_CHECK_ROWS(db, "SELECT id, a FROM t WHERE id = 6", "6|six");
  CT_EXEC(db, "INSERT INTO crsql_changes VALUES ('t', crsql_pack_columns(6), 'b', 'sea', 1, 4, " CT_S2 ", 1, 1)");
  CT_CHECK_ROWS(db, "SELECT id, a, b FROM t WHERE id = 6", "6|six|sea");
  CT_EXEC(db, "COMMIT");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM t"), 6);
  /* A multi-row statement failing after its first change (rolled back, so
   * it adds nothing to the change count) is over all the same: the next
   * single-row statement is not taken for its continuation. */
  CT_EXEC(db, "BEGIN; SAVEPOINT a");
  CT_CHECK_FAILS(db,
                 "INSERT INTO crsql_changes SELECT 't', crsql_pack_columns(7 + value), 'a', "
                 "CASE WHEN value = 1 THEN abs(-9223372036854775807 - 1) ELSE 'seven' END, 1, 5, " CT_S3 ", 1, 0 "
                 "FROM (SELECT 0 AS value UNION ALL SELECT 1)",
                 "integer overflow");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM t WHERE id >= 7"), 0);
  CT_EXEC(db, "INSERT INTO crsql_changes VALUES ('t', crsql_pack_columns(9), 'a', 'nine', 1, 5, " CT_S3 ", 1, 0)");
  CT_CHECK_ROWS(db, "SELECT id, a FROM t WHERE id >= 7", "9|nine");
  CT_EXEC(db, "RELEASE a; COMMIT");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM crsql_changes WHERE site_id = " CT_S2), 5);
  ct_close(db);
}

/* A bad change anywhere in a statement fails that statement with its own
 * message; none of the statement's changes stay, earlier statements of the
 * transaction do, and the transaction goes on. */
static void test_crdt_held__bad_change_fails_the_statement(void) {
  for (int autocommit = 0; autocommit <= 1; autocommit++) {
    sqlite3 *db = ct_open();
    CT_EXEC(db, held_schema);
    CT_EXEC(db, "INSERT INTO t VALUES (9, 'local', 'row')");
    CT_EXEC(db, "CREATE TEMP TABLE staged (n INTEGER PRIMARY KEY, tbl, pk, cid, val, col_version, db_version, "
                "site_id, cl, seq);"
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) "
                "INSERT INTO staged SELECT i, 't', crsql_pack_columns(100 + i / 2), "
                "CASE WHEN i % 2 THEN 'a' ELSE 'b' END, 'v' || i, 1, 5, " CT_S1 ", 1, i FROM n;"
                "UPDATE staged SET cid = 'nope' WHERE n = 33");
    const char *before = ct_dump(db, 0);
    char *saved = strdup(before);
    if (!autocommit) CT_EXEC(db, "BEGIN; INSERT INTO t VALUES (10, 'in', 'tx')");
    CT_CHECK_FAILS(db, "INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged ORDER BY n",
                   "could not find column nope in table t");
    BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM t WHERE id >= 100"), 0);
    if (!autocommit) {
      BL_CHECK_INT(sqlite3_get_autocommit(db), 0);
      CT_CHECK_ROWS(db, "SELECT id, a FROM t ORDER BY id", "9|local\n10|in");
      CT_EXEC(db, "ROLLBACK");
    }
    BL_CHECK_STR(ct_dump(db, 0), saved);
    free(saved);
    /* A statement failing after some of its changes were accepted (the
     * SELECT raises an error at row 30) leaves nothing behind either. */
    if (!autocommit) CT_EXEC(db, "BEGIN; INSERT INTO t VALUES (10, 'in', 'tx')");
    CT_CHECK_FAILS(db,
                   "INSERT INTO crsql_changes SELECT tbl, pk, cid, "
                   "CASE WHEN n = 30 THEN abs(-9223372036854775807 - 1) ELSE val END, "
                   "col_version, db_version, site_id, cl, seq FROM temp.staged WHERE n < 33 ORDER BY n",
                   "integer overflow");
    BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM t WHERE id >= 100"), 0);
    if (!autocommit) {
      BL_CHECK_INT(sqlite3_get_autocommit(db), 0);
      CT_EXEC(db, "COMMIT");
      CT_CHECK_ROWS(db, "SELECT id, a FROM t ORDER BY id", "9|local\n10|in");
      CT_EXEC(db, "DELETE FROM t WHERE id = 10");
    }
    BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM t WHERE id >= 100"), 0);
    /* The same statement without the bad change then merges every row. */
    CT_EXEC(db, "UPDATE temp.staged SET cid = 'a' WHERE n = 33;"
                "INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged ORDER BY n");
    BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM t WHERE id >= 100"), 21);
    CT_CHECK_ROWS(db, "SELECT a, b FROM t WHERE id = 116", "v33|v32");
    ct_close(db);
  }
}

/* ROLLBACK TO a savepoint holding a multi-row insert undoes all of it, and
 * the held changes do not come back later. */
static void test_crdt_held__rollback_to(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, held_schema);
  CT_EXEC(db, "CREATE TEMP TABLE staged (n INTEGER PRIMARY KEY, tbl, pk, cid, val, col_version, db_version, "
              "site_id, cl, seq);"
              "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) "
              "INSERT INTO staged SELECT i, 't', crsql_pack_columns(i), 'a', 'v' || i, 1, 2, " CT_S1 ", 1, 0 FROM n");
  CT_EXEC(db, "BEGIN; SAVEPOINT s; INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged ORDER BY n");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM t"), 30);
  CT_EXEC(db, "ROLLBACK TO s; RELEASE s");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM t"), 0);
  CT_EXEC(db, "INSERT INTO t VALUES (500, 'local', 'x'); COMMIT");
  CT_CHECK_ROWS(db, "SELECT id FROM t", "500");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM crsql_changes WHERE site_id = " CT_S1), 0);
  /* A rolled back transaction as well. */
  CT_EXEC(db, "BEGIN; INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged ORDER BY n; ROLLBACK");
  CT_CHECK_ROWS(db, "SELECT id FROM t", "500");
  CT_EXEC(db, "INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged WHERE n <= 3 ORDER BY n");
  CT_CHECK_ROWS(db, "SELECT id, a FROM t ORDER BY id", "1|v1\n2|v2\n3|v3\n500|local");
  ct_close(db);
}

/* A write of the base table can still fail when the held changes are
 * written at the end of the statement (here a CHECK constraint): the
 * statement fails and SQLite rolls back the whole transaction, so nothing
 * is half-applied (docs/CRDT.md). */
static void test_crdt_held__late_failure_rolls_back_the_transaction(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, "CREATE TABLE c (id INTEGER PRIMARY KEY NOT NULL, a TEXT CHECK (a IS NULL OR a <> 'bad'));"
              "SELECT crsql_as_crr('c');"
              "INSERT INTO c VALUES (1, 'committed')");
  CT_EXEC(db, "CREATE TEMP TABLE staged (n INTEGER PRIMARY KEY, tbl, pk, cid, val, col_version, db_version, "
              "site_id, cl, seq);"
              "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) "
              "INSERT INTO staged SELECT i, 'c', crsql_pack_columns(10 + i), 'a', "
              "CASE WHEN i = 7 THEN 'bad' ELSE 'ok' END, 1, 2, " CT_S1 ", 1, 0 FROM n");
  const char *before = ct_dump(db, 0);
  char *saved = strdup(before);
  for (int autocommit = 0; autocommit <= 1; autocommit++) {
    if (!autocommit) CT_EXEC(db, "BEGIN; INSERT INTO c VALUES (2, 'in the transaction')");
    BL_CHECK(ct_exec(db, "INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged ORDER BY n") !=
             SQLITE_OK);
    BL_CHECK_INT(sqlite3_get_autocommit(db), 1);
    BL_CHECK_STR(ct_dump(db, 0), saved);
  }
  free(saved);
  /* Single-row statements fail alone, as in cr-sqlite. */
  CT_EXEC(db, "BEGIN; INSERT INTO c VALUES (2, 'in the transaction')");
  CT_CHECK_FAILS(db, "INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged WHERE n = 7", "CHECK");
  BL_CHECK_INT(sqlite3_get_autocommit(db), 0);
  CT_EXEC(db, "COMMIT");
  CT_CHECK_ROWS(db, "SELECT id, a FROM c ORDER BY id", "1|committed\n2|in the transaction");
  ct_close(db);
}

/* changes_now(): counts crsql_changes with a query of its own, on the same
 * connection: a read in the middle of the statement that calls it. */
static void held_changes_now(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(sqlite3_context_db_handle(ctx), "SELECT count(*) FROM crsql_changes", -1, &s, NULL) !=
          SQLITE_OK ||
      sqlite3_step(s) != SQLITE_ROW) {
    sqlite3_result_error(ctx, sqlite3_errmsg(sqlite3_context_db_handle(ctx)), -1);
  } else {
    sqlite3_result_int64(ctx, sqlite3_column_int64(s, 0));
  }
  sqlite3_finalize(s);
}

/* Reads through the engine in the middle of a statement see the changes
 * the statement already inserted, held or not. Each row of the SELECT
 * counts crsql_changes before it is inserted; the count must grow by one a
 * row, as it does when every change is merged at once; a held change
 * missing from it would stop every row after it. (A SELECT reading
 * crsql_changes directly is materialized by SQLite before any insert, so a
 * function does the reading.) A trigger applying an inbox row by row sees
 * the same. */
static void test_crdt_held__reads_see_held_changes(void) {
  sqlite3 *db = ct_open();
  CT_EXEC(db, held_schema);
  BL_REQUIRE(sqlite3_create_function(db, "changes_now", 1, SQLITE_UTF8, NULL, held_changes_now, NULL, NULL) ==
             SQLITE_OK);
  CT_EXEC(db, "CREATE TEMP TABLE staged (n INTEGER PRIMARY KEY, tbl, pk, cid, val, col_version, db_version, "
              "site_id, cl, seq);"
              "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6) "
              "INSERT INTO staged SELECT i, 't', crsql_pack_columns(i), 'a', 'v' || i, 1, 4, " CT_S1 ", 1, 0 FROM n");
  CT_EXEC(db, "BEGIN; INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged AS s "
              "WHERE changes_now(s.n) = s.n - 1 ORDER BY n; COMMIT");
  CT_CHECK_ROWS(db, "SELECT id, a FROM t ORDER BY id", "1|v1\n2|v2\n3|v3\n4|v4\n5|v5\n6|v6");
  /* crsql_db_version() in the middle of the statement, likewise. */
  CT_EXEC(db, "BEGIN; UPDATE temp.staged SET pk = crsql_pack_columns(10 + n), db_version = 9");
  CT_EXEC(db, "INSERT INTO crsql_changes SELECT " HELD_COLS " FROM temp.staged AS s "
              "WHERE changes_now(s.n) = s.n + 5 ORDER BY n");
  CT_EXEC(db, "COMMIT");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM t"), 12);

  CT_EXEC(db, "DELETE FROM t; UPDATE temp.staged SET pk = crsql_pack_columns(20 + n), db_version = 11;"
              "CREATE TEMP TABLE seen (n, changes);"
              "CREATE TEMP TABLE inbox (n, tbl, pk, cid, val, col_version, db_version, site_id, cl, seq);"
              "CREATE TEMP TRIGGER inbox_apply AFTER INSERT ON inbox BEGIN "
              "INSERT INTO crsql_changes VALUES (NEW.tbl, NEW.pk, NEW.cid, NEW.val, NEW.col_version, "
              "NEW.db_version, NEW.site_id, NEW.cl, NEW.seq);"
              "INSERT INTO seen SELECT NEW.n, (SELECT count(*) FROM crsql_changes WHERE cid = 'a'); END;");
  CT_EXEC(db, "BEGIN; INSERT INTO temp.inbox SELECT * FROM temp.staged ORDER BY n; COMMIT");
  CT_CHECK_ROWS(db, "SELECT n, changes FROM temp.seen ORDER BY n", "1|1\n2|2\n3|3\n4|4\n5|5\n6|6");
  BL_CHECK_INT(ct_int(db, "SELECT count(*) FROM t"), 6);
  ct_close(db);
}

static const bl_test_case cases[] = {
    BL_TEST(test_crdt_held__same_as_one_by_one),
    BL_TEST(test_crdt_held__many_batches),
    BL_TEST(test_crdt_held__single_rows_visible_at_once),
    BL_TEST(test_crdt_held__bad_change_fails_the_statement),
    BL_TEST(test_crdt_held__rollback_to),
    BL_TEST(test_crdt_held__late_failure_rolls_back_the_transaction),
    BL_TEST(test_crdt_held__reads_see_held_changes),
};

BL_TEST_MAIN(cases)
