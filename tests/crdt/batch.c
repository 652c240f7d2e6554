/*
 * batch.c — bl_crdt_merge, the batched merge: for any sequence of changes it
 * must leave exactly the state that inserting the same changes one by one
 * into crsql_changes leaves (rows, clocks, db_versions, rows impacted), and
 * it is all or nothing.
 *
 * The equivalence test builds random worlds (several devices writing and
 * syncing), takes the union of their change sets in a random order — some
 * runs grouped by row, as a changeset would be — and applies it to two
 * targets that hold the same local edits: one through crsql_changes, one
 * through bl_crdt_merge.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"
#include "helpers.h"

#define NDEV 3

static const char *batch_schema = CT_WORLD_SCHEMA_P;

static void batch_random_write(ct_rng *r, sqlite3 *db) { ct_world_write(r, db, 1); }

/* Applies c through bl_crdt_merge in the order `order`. */
static int batch_apply(sqlite3 *db, const ct_changes *c, const int *order, char **err) {
  bl_crdt_change *chs = calloc((size_t)c->n + 1, sizeof *chs);
  if (!chs) return SQLITE_NOMEM;
  for (int i = 0; i < c->n; i++) {
    sqlite3_value **v = c->v + 9 * (order ? order[i] : i);
    bl_crdt_change *ch = &chs[i];
    ch->table = (const char *)sqlite3_value_text(v[0]);
    ch->table_len = sqlite3_value_bytes(v[0]);
    ch->pk = sqlite3_value_blob(v[1]);
    ch->pk_len = sqlite3_value_bytes(v[1]);
    ch->cid = (const char *)sqlite3_value_text(v[2]);
    ch->cid_len = sqlite3_value_bytes(v[2]);
    ch->val = v[3];
    ch->col_version = sqlite3_value_int64(v[4]);
    ch->db_version = sqlite3_value_int64(v[5]);
    ch->site_id = sqlite3_value_blob(v[6]);
    ch->site_id_len = sqlite3_value_bytes(v[6]);
    ch->cl = sqlite3_value_int64(v[7]);
    ch->seq = sqlite3_value_int64(v[8]);
  }
  int rc = bl_crdt_merge(db, chs, (size_t)c->n, err);
  free(chs);
  return rc;
}

static int batch_cmp_row(const void *x, const void *y, void *changes);

/* Orders change indices so that each row's changes are adjacent (stable). */
static const ct_changes *batch_sort_changes;
static int batch_cmp(const void *x, const void *y) { return batch_cmp_row(x, y, (void *)batch_sort_changes); }

static int batch_cmp_row(const void *x, const void *y, void *changes) {
  const ct_changes *c = changes;
  int i = *(const int *)x, j = *(const int *)y;
  sqlite3_value **a = c->v + 9 * i, **b = c->v + 9 * j;
  int k = strcmp((const char *)sqlite3_value_text(a[0]), (const char *)sqlite3_value_text(b[0]));
  if (k) return k;
  int na = sqlite3_value_bytes(a[1]), nb = sqlite3_value_bytes(b[1]);
  k = memcmp(sqlite3_value_blob(a[1]), sqlite3_value_blob(b[1]), (size_t)(na < nb ? na : nb));
  if (k) return k;
  if (na != nb) return na - nb;
  return i - j;
}

static void test_crdt_batch__same_as_one_by_one(void) {
  /* BL_PROPERTY_ITERS lowers the count (valgrind runs). */
  const char *env = getenv("BL_PROPERTY_ITERS");
  int iters = env ? (int)strtol(env, NULL, 10) : 60;
  for (int iter = 0; iter < iters; iter++) {
    ct_rng r = {0x5eedULL + (unsigned long long)iter * 7919};
    ct_changes all = {0, NULL};
    int *order = ct_random_world(&r, batch_schema, batch_random_write, NDEV, 40, &all);
    BL_REQUIRE(order != NULL);
    if (iter % 2 == 0) {
      batch_sort_changes = &all;
      qsort(order, (size_t)all.n, sizeof *order, batch_cmp);
    }

    /* Two targets with the same local history. */
    sqlite3 *one = ct_open(), *many = ct_open();
    ct_rng lr = {0xabcULL + (unsigned long long)iter};
    ct_rng lr2 = lr;
    CT_EXEC(one, batch_schema);
    CT_EXEC(many, batch_schema);
    for (int i = 0; i < 20; i++) {
      batch_random_write(&lr, one);
      batch_random_write(&lr2, many);
    }
    BL_CHECK_INT(ct_changes_apply(one, &all, order), SQLITE_OK);
    char *err = NULL;
    CT_EXEC(many, "BEGIN");
    int rc = batch_apply(many, &all, order, &err);
    if (rc != SQLITE_OK) fprintf(stderr, "  bl_crdt_merge: %s\n", err ? err : "?");
    BL_CHECK_INT(rc, SQLITE_OK);
    sqlite3_free(err);
    BL_CHECK_INT(ct_int(many, "SELECT crsql_rows_impacted() >= 0"), 1);
    CT_EXEC(many, "COMMIT");
    if (!ct_same_world(one, many, 1)) {
      fprintf(stderr, "  iteration %d (%s order, %d changes)\n", iter, iter % 2 ? "shuffled" : "row-grouped", all.n);
      bl_test_failed_checks++;
    }
    free(order);
    ct_changes_free(&all);
    ct_close(one);
    ct_close(many);
  }
}

static void test_crdt_batch__all_or_nothing(void) {
  sqlite3 *a = ct_open(), *b = ct_open();
  CT_EXEC(a, batch_schema);
  CT_EXEC(b, batch_schema);
  CT_EXEC(a, "INSERT INTO t VALUES (1, 'x', 'y'), (2, 'z', 'w')");
  CT_EXEC(b, "INSERT INTO t VALUES (9, 'local', 'row')");
  ct_changes c = {0, NULL};
  BL_REQUIRE(ct_changes_read(a, "", &c) == SQLITE_OK);
  /* Poison the last change: a table that is not a CRR. */
  sqlite3 *tmp = ct_open();
  sqlite3_stmt *s = NULL;
  BL_REQUIRE(sqlite3_prepare_v2(tmp, "SELECT 'nope'", -1, &s, NULL) == SQLITE_OK);
  BL_REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  sqlite3_value_free(c.v[9 * (c.n - 1)]);
  c.v[9 * (c.n - 1)] = sqlite3_value_dup(sqlite3_column_value(s, 0));
  sqlite3_finalize(s);
  const char *before = ct_dump(b, 0);
  char *saved = strdup(before);
  char *err = NULL;
  BL_CHECK(batch_apply(b, &c, NULL, &err) != SQLITE_OK);
  BL_CHECK(err && strstr(err, "could not find the schema information for table nope"));
  sqlite3_free(err);
  BL_CHECK_STR(ct_dump(b, 0), saved);
  free(saved);
  ct_changes_free(&c);
  ct_close(tmp);
  ct_close(a);
  ct_close(b);
}

static void test_crdt_batch__not_registered(void) {
  sqlite3 *db = NULL;
  BL_REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  char *err = NULL;
  bl_crdt_change ch;
  memset(&ch, 0, sizeof ch);
  BL_CHECK_INT(bl_crdt_merge(db, &ch, 1, &err), SQLITE_MISUSE);
  BL_CHECK(err && strstr(err, "not registered"));
  sqlite3_free(err);
  sqlite3_close(db);
}

/* Large batches run with SQLite's triggers switched off when only the
 * engine's own exist (functions.c): the result is the same, triggers are on
 * again afterwards (also after a failed batch), statements prepared before
 * keep working, and a user trigger keeps firing for merged rows. */
static void test_crdt_batch__large_batch_triggers(void) {
  static const char *schema = "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b); SELECT crsql_as_crr('t');";
  sqlite3 *a = ct_open(), *b = ct_open(), *c = ct_open();
  CT_EXEC(a, schema);
  CT_EXEC(a, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
             "INSERT INTO t SELECT i, 'a' || i, i * 7 FROM n");
  CT_EXEC(b, schema);
  CT_EXEC(c, schema);
  CT_EXEC(c, "CREATE TABLE log (id); CREATE TRIGGER t_log AFTER INSERT ON t BEGIN INSERT INTO log VALUES (NEW.id); END;");
  ct_changes ch = {0, NULL};
  BL_REQUIRE(ct_changes_read(a, "", &ch) == SQLITE_OK);
  BL_REQUIRE(ch.n == 400);
  sqlite3_stmt *ins = NULL;
  BL_REQUIRE(sqlite3_prepare_v2(b, "INSERT INTO t VALUES (?, 'local', 'row')", -1, &ins, NULL) == SQLITE_OK);

  /* A failing batch (last change names no CRR) restores the setting too. */
  sqlite3_value *saved = ch.v[9 * (ch.n - 1)];
  sqlite3_stmt *s = NULL;
  BL_REQUIRE(sqlite3_prepare_v2(b, "SELECT 'nope'", -1, &s, NULL) == SQLITE_OK);
  BL_REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  ch.v[9 * (ch.n - 1)] = sqlite3_value_dup(sqlite3_column_value(s, 0));
  sqlite3_finalize(s);
  char *err = NULL;
  BL_CHECK(batch_apply(b, &ch, NULL, &err) != SQLITE_OK);
  sqlite3_free(err);
  err = NULL;
  BL_CHECK(batch_apply(c, &ch, NULL, &err) != SQLITE_OK); /* the same history on c */
  sqlite3_free(err);
  sqlite3_value_free(ch.v[9 * (ch.n - 1)]);
  ch.v[9 * (ch.n - 1)] = saved;
  int on = -1;
  sqlite3_db_config(b, SQLITE_DBCONFIG_ENABLE_TRIGGER, -1, &on);
  BL_CHECK_INT(on, 1);
  BL_CHECK_INT(ct_int(b, "SELECT count(*) FROM t"), 0);

  err = NULL;
  BL_CHECK_INT(batch_apply(b, &ch, NULL, &err), SQLITE_OK);
  BL_CHECK_INT(batch_apply(c, &ch, NULL, &err), SQLITE_OK);
  sqlite3_free(err);
  char why[512];
  BL_CHECK(ct_same_rows(a, b, "SELECT * FROM t ORDER BY id", why, sizeof why));
  BL_CHECK(ct_same_rows(a, c, "SELECT * FROM t ORDER BY id", why, sizeof why));
  BL_CHECK(ct_same_rows(b, c, CT_CHANGES_STATE_SQL, why, sizeof why) || (fprintf(stderr, "%s\n", why), 0));
  BL_CHECK_INT(ct_int(c, "SELECT count(*) FROM log"), 200);
  sqlite3_db_config(b, SQLITE_DBCONFIG_ENABLE_TRIGGER, -1, &on);
  BL_CHECK_INT(on, 1);
  /* Local writes are tracked again, through a statement prepared before. */
  sqlite3_bind_int(ins, 1, 500);
  BL_CHECK_INT(sqlite3_step(ins), SQLITE_DONE);
  sqlite3_finalize(ins);
  CT_CHECK_ROWS(b,
                "SELECT cid, db_version = crsql_db_version(), site_id = crsql_site_id() FROM crsql_changes "
                "WHERE pk = crsql_pack_columns(500) ORDER BY cid",
                "a|1|1\nb|1|1");
  ct_changes_free(&ch);
  ct_close(a);
  ct_close(b);
  ct_close(c);
}

static const bl_test_case cases[] = {
    BL_TEST(test_crdt_batch__large_batch_triggers),
    BL_TEST(test_crdt_batch__same_as_one_by_one),
    BL_TEST(test_crdt_batch__all_or_nothing),
    BL_TEST(test_crdt_batch__not_registered),
};

BL_TEST_MAIN(cases)
