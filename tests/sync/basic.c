/*
 * basic.c — the sync engine's contract, one property per test: init as the
 * seed's, two devices converging, idempotent push, sequences past 99999,
 * bootstrap recovery, snapshots and compaction, version mismatch, errors
 * per device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "helpers.h"
#include "remote/fault.h"

static char *dir;

static void write_file(const char *path, const char *text);

static void setup(void) { dir = th_tmpdir(); }
static void teardown(void) {
  th_rmtree(dir);
  free(dir);
}

/* The common end of a two- or three-device test: frees the result, the
 * remote and the devices (any may be NULL), then removes the folder. */
static void finish(bl_sync_result *res, bl_remote *r, bl_db *a, bl_db *b, bl_db *c) {
  bl_sync_result_free(res);
  bl_remote_free(r);
  bl_close(a);
  bl_close(b);
  bl_close(c);
  teardown();
}

/* ------------------------------------------------------------------- init */

static void test_sync_basic__init_tables_and_meta(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM _sync_meta WHERE key IN ('device_id','schema_version','last_push_db_version')"), 3);
  BL_CHECK_INT(th_int(a, "SELECT value FROM _sync_meta WHERE key = 'schema_version'"), 1);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM pragma_table_info('_sync_cursors') WHERE name IN ('device_id','last_sequence','last_sync_at')"), 3);
  BL_CHECK_INT(strlen(bl_device_id(a)), 36);
  /* The device id is the site id as a UUID, and it is stable. */
  char id[37];
  memcpy(id, bl_device_id(a), 37);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM sqlite_schema WHERE name = 'todos__crsql_clock'"), 1);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM sqlite_schema WHERE name = 'local_cache__crsql_clock'"), 0);
  bl_close(a);
  a = th_open(dir, "a.db", NULL);
  BL_CHECK_STR(bl_device_id(a), id);
  bl_close(a);
  teardown();
}

static void test_sync_basic__migrate_runs_once(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL);
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('x', 'before')");
  bl_close(a);
  th_opts o = {.schema_version = 2};
  a = th_open(dir, "a.db", &o);
  BL_CHECK_INT(th_int(a, "SELECT value FROM _sync_meta WHERE key = 'schema_version'"), 2);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM todos WHERE priority = 'normal'"), 1);
  bl_close(a);
  a = th_open(dir, "a.db", &o); /* no second migrate (it would fail: duplicate column) */
  bl_close(a);
  teardown();
}

static void test_sync_basic__older_app_refused(void) {
  setup();
  th_opts o = {.schema_version = 2};
  bl_db *a = th_open(dir, "a.db", &o);
  bl_close(a);
  char *path = NULL;
  BL_REQUIRE(asprintf(&path, "%s/a.db", dir) > 0);
  bl_config c = BL_CONFIG_INIT;
  c.schema = th_schema(1);
  c.database_path = path;
  BL_CHECK_INT(bl_open(&a, &c), BL_ESCHEMA);
  BL_CHECK(a == NULL);
  BL_CHECK(strstr(bl_errmsg(NULL), "newer than this app's schema") != NULL);
  free(path);
  teardown();
}

static void test_sync_basic__not_a_database(void) {
  setup();
  char *path = NULL;
  BL_REQUIRE(asprintf(&path, "%s/junk.db", dir) > 0);
  FILE *f = fopen(path, "wb");
  for (int i = 0; i < 4096; i++) fputc("not sqlite"[i % 10], f);
  fclose(f);
  bl_config c = BL_CONFIG_INIT;
  c.schema = th_schema(1);
  c.database_path = path;
  bl_db *a = NULL;
  BL_CHECK_INT(bl_open(&a, &c), BL_ECORRUPT);
  BL_CHECK(strstr(bl_errmsg(NULL), "is not a SQLite database") != NULL);
  /* Untouched. */
  struct stat st;
  BL_CHECK(stat(path, &st) == 0 && st.st_size == 4096);
  free(path);
  teardown();
}

static int bad_create(sqlite3 *db, void *p) {
  return sqlite3_exec(db, (const char *)p, NULL, NULL, NULL);
}

static void check_bad_table(const char *create, const char *table) {
  setup();
  static const char *tables[1];
  tables[0] = table;
  bl_schema s = BL_SCHEMA_INIT;
  s.synced_tables = tables;
  s.synced_tables_count = 1;
  s.create = bad_create;
  s.payload = (void *)create;
  char *path = NULL;
  BL_REQUIRE(asprintf(&path, "%s/a.db", dir) > 0);
  bl_config c = BL_CONFIG_INIT;
  c.schema = &s;
  c.database_path = path;
  bl_db *a = NULL;
  BL_CHECK_INT(bl_open(&a, &c), BL_ESCHEMA);
  char want[256];
  snprintf(want, sizeof want,
           "Failed to enable CRDT for table '%s'. Make sure the table is created in schema.create() / "
           "schema.migrate() and has a non-nullable primary key.",
           table);
  BL_CHECK(strstr(bl_errmsg(NULL), want) != NULL);
  if (!strstr(bl_errmsg(NULL), want)) fprintf(stderr, "  got: %s\n", bl_errmsg(NULL));
  /* Nothing half-done: the create was rolled back with the rest (only the
   * engine's own bookkeeping tables, made when it was registered, remain). */
  sqlite3 *raw = NULL;
  sqlite3_open(path, &raw);
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(raw, "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'crsql%' AND name NOT LIKE 'sqlite_autoindex_crsql%'", -1, &st, NULL);
  BL_CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0);
  sqlite3_finalize(st);
  sqlite3_close(raw);
  free(path);
  teardown();
}

static void test_sync_basic__misspelled_table(void) {
  check_bad_table("CREATE TABLE events (id TEXT PRIMARY KEY NOT NULL)", "evnets");
}

static void test_sync_basic__nullable_primary_key(void) {
  check_bad_table("CREATE TABLE t (id TEXT PRIMARY KEY, x)", "t");
}

static void test_sync_basic__no_primary_key(void) {
  check_bad_table("CREATE TABLE t (id TEXT, x)", "t");
}

/* ------------------------------------------------------------ two devices */

static void test_sync_basic__two_devices_converge(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('1', 'Buy milk'), ('2', 'Walk dog')");
  th_exec(a, "INSERT INTO notes VALUES (9223372036854775807, 'max', x'00ff00')");
  th_exec(a, "INSERT INTO local_cache VALUES ('k', 'not synced')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(res.pulled, 0);
  BL_CHECK(res.pushed > 0);
  BL_CHECK_INT(res.files_pushed, 1);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK(res.pulled > 0);
  BL_CHECK_INT(res.pushed, 0); /* merged changes are not ours to push */
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM local_cache"), 0);

  /* Concurrent edits of different columns merge per column. */
  th_exec(a, "UPDATE todos SET title = 'Buy oat milk' WHERE id = '1'");
  th_exec(b, "UPDATE todos SET done = 1 WHERE id = '1'");
  th_exec(b, "DELETE FROM todos WHERE id = '2'");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  char *da = th_dump(a), *db = th_dump(b);
  BL_CHECK_STR(da, db);
  BL_CHECK(strstr(da, "'Buy oat milk' 1") != NULL);
  BL_CHECK(strstr(da, "Walk dog") == NULL);
  char *ca = th_dump_clock(a), *cb = th_dump_clock(b);
  BL_CHECK_STR(ca, cb);
  free(da), free(db), free(ca), free(cb);
  /* An idle sync changes nothing. */
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(res.pulled + res.pushed + res.files_pulled + res.files_pushed, 0);
  finish(&res, r, a, b, NULL);
}

/* --------------------------------------------------------- idempotent push */

/* A crash or a lost response after cs-2 reached the cloud but before it was
 * recorded: the next push writes cs-2 again (same name, same window: a
 * reader may have consumed the first upload) and the newer change as cs-3;
 * never a second file for one sequence, never a change lost. */
static void test_sync_basic__push_rewrites_same_sequence(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL);
  bl_remote *r = th_remote(dir), *f = NULL;
  BL_REQUIRE(bl__remote_fault_new(&f, r) == BL_OK);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id) VALUES ('1')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  th_exec(a, "INSERT INTO todos (id) VALUES ('2')");
  BL_REQUIRE(bl__fault_fail_after(f, BL__FAULT_WRITE, 1, BL_ENET) == BL_OK);
  BL_CHECK_INT(th_sync(a, f, &res), BL_ENET); /* cs-2 is in the cloud, unrecorded */
  BL_CHECK(th_has_error(&res, BL_SYNC_PUSH));
  BL_CHECK_INT(th_count_files(dir, a, "cs-"), 2);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK); /* b reads that first cs-2 */
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos"), 2);
  th_exec(a, "INSERT INTO todos (id) VALUES ('3')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(res.files_pushed, 2); /* cs-2 again, then cs-3 */
  BL_CHECK_INT(th_count_files(dir, a, "cs-"), 3);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos"), 3);
  bl_db *c = th_open(dir, "c.db", NULL);
  BL_CHECK_INT(th_sync(c, r, &res), BL_OK);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos"), 3);
  bl_sync_result_free(&res);
  bl_remote_free(f);
  bl_remote_free(r);
  bl_close(a);
  bl_close(b);
  bl_close(c);
  teardown();
}

static void test_sync_basic__sequence_past_99999(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id) VALUES ('1')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  /* Jump both sides to 99998 (as if 99998 pushes happened), then rename. */
  th_execf(a, "UPDATE _sync_cursors SET last_sequence = 99998 WHERE device_id = '%s'", bl_device_id(a));
  th_execf(b, "UPDATE _sync_cursors SET last_sequence = 99998 WHERE device_id = '%s'", bl_device_id(a));
  for (int i = 0; i < 3; i++) {
    th_execf(a, "INSERT INTO todos (id) VALUES ('n%d')", i);
    BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/cs-100001.json", th_device_folder(dir, a));
  struct stat st;
  BL_CHECK(stat(path, &st) == 0);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(res.files_pulled, 3);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos"), 4);
  BL_CHECK_INT(th_int(b, "SELECT last_sequence FROM _sync_cursors WHERE last_sequence > 99999"), 100001);
  finish(&res, r, a, b, NULL);
}

/* ---------------------------------------------------------------- bootstrap */

static void test_sync_basic__clear_then_sync_restores(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('1', 'a'), ('2', 'b')");
  th_exec(a, "INSERT INTO notes VALUES (1, 'n', NULL)");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  th_exec(b, "INSERT INTO todos (id, title) VALUES ('3', 'from b')");
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  th_exec(a, "UPDATE todos SET done = 1 WHERE id = '1'");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  char *before = th_dump(a), *clock_before = th_dump_clock(a);
  BL_CHECK_INT(bl_set_active_account(a, "google", "me@example.com"), BL_OK);

  BL_CHECK_INT(bl_clear_all_data(a), BL_OK);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM todos"), 0);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM _sync_cursors"), 0);
  char *p = NULL, *e = NULL;
  BL_CHECK_INT(bl_get_active_account(a, &p, &e), BL_ENOTFOUND);
  int files = th_count_files(dir, a, "cs-");

  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(res.pushed, 0); /* nothing re-uploaded */
  BL_CHECK_INT(th_count_files(dir, a, "cs-"), files);
  char *after = th_dump(a), *clock_after = th_dump_clock(a);
  BL_CHECK_STR(after, before);
  BL_CHECK_STR(clock_after, clock_before);
  /* And the next local change is pushed as the next sequence. */
  th_exec(a, "INSERT INTO todos (id) VALUES ('4')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK(res.pushed > 0);
  BL_CHECK_INT(th_count_files(dir, a, "cs-"), files + 1);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos"), 4);
  free(before), free(after), free(clock_before), free(clock_after);
  finish(&res, r, a, b, NULL);
}

static void test_sync_basic__writes_after_clear_are_pushed(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('1', 'a')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(bl_clear_all_data(a), BL_OK);
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('new', 'written while signed out')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK(res.pushed > 0);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM todos"), 2);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos"), 2);
  finish(&res, r, a, b, NULL);
}

static int nested_begin_clear(sqlite3 *db, void *p) {
  (void)p;
  return sqlite3_exec(db, "BEGIN; DELETE FROM todos; COMMIT;", NULL, NULL, NULL);
}

static void test_sync_basic__clear_with_begin_fails_cleanly(void) {
  setup();
  bl_schema s = *th_schema(1);
  s.clear = nested_begin_clear;
  char *path = NULL;
  BL_REQUIRE(asprintf(&path, "%s/a.db", dir) > 0);
  bl_config c = BL_CONFIG_INIT;
  c.schema = &s;
  c.database_path = path;
  bl_db *a = NULL;
  BL_REQUIRE(bl_open(&a, &c) == BL_OK);
  th_exec(a, "INSERT INTO todos (id) VALUES ('1')");
  BL_CHECK_INT(bl_set_active_account(a, "microsoft", "x@y"), BL_OK);
  BL_CHECK_INT(bl_clear_all_data(a), BL_ESCHEMA);
  BL_CHECK(strstr(bl_errmsg(a), "do not BEGIN") != NULL);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM todos"), 1);
  char *p = NULL, *e = NULL;
  BL_CHECK_INT(bl_get_active_account(a, &p, &e), BL_OK);
  BL_CHECK_STR(p, "microsoft");
  BL_CHECK_STR(e, "x@y");
  free(p), free(e), free(path);
  bl_close(a);
  teardown();
}

/* -------------------------------------------------------------- snapshots */

static void test_sync_basic__snapshots_and_compaction(void) {
  setup();
  th_opts o = {.threshold = 3, .grace = 2};
  bl_db *a = th_open(dir, "a.db", &o);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  for (int i = 1; i <= 8; i++) {
    th_execf(a, "INSERT INTO todos (id, title) VALUES ('%d', 't%d')", i, i);
    BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  }
  /* Snapshots at 3 and 6; at push 5 (= 3 + grace) cs-1..3 went; at push 8
   * cs-4..6 and snapshot 3 went. */
  BL_CHECK_INT(th_count_files(dir, a, "snapshot-"), 1);
  BL_CHECK_INT(th_count_files(dir, a, "cs-"), 2);
  BL_CHECK_INT(th_int(a, "SELECT value FROM _sync_meta WHERE key = 'last_snapshot_sequence'"), 6);

  /* A new device starts from the snapshot: 1 snapshot + cs-7, cs-8. */
  bl_db *b = th_open(dir, "b.db", &o);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(res.files_pulled, 3);
  char *da = th_dump(a), *db = th_dump(b);
  BL_CHECK_STR(da, db);
  free(da), free(db);
  finish(&res, r, a, b, NULL);
}

static void test_sync_basic__behind_compacted_remote(void) {
  setup();
  th_opts o = {.threshold = 2, .grace = 2};
  bl_db *a = th_open(dir, "a.db", &o), *b = th_open(dir, "b.db", &o);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('0', 'first')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK); /* b's cursor for a: 1 */
  th_exec(b, "INSERT INTO todos (id, title) VALUES ('b', 'unpushed on b')");
  th_exec(b, "UPDATE todos SET title = 'b edits first' WHERE id = '0'");
  for (int i = 1; i <= 6; i++) {
    th_execf(a, "INSERT INTO todos (id) VALUES ('a%d')", i);
    BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  }
  BL_CHECK_INT(th_count_files(dir, a, "cs-00002"), 0); /* compacted */
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK(th_has_warning(&res, BL_SYNC_COMPACTED));
  BL_CHECK(res.pushed > 0); /* b's own changes kept and pushed */
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  char *da = th_dump(a), *db = th_dump(b);
  BL_CHECK_STR(da, db);
  BL_CHECK(strstr(da, "unpushed on b") && strstr(da, "b edits first"));
  free(da), free(db);
  finish(&res, r, a, b, NULL);
}

/* --------------------------------------------------------- version mismatch */

static void mismatch_case(bl_mismatch m, int expect_rc, int expect_code, int64_t expect_rows, int64_t cursor) {
  setup();
  th_opts o2 = {.schema_version = 2};
  th_opts o1 = {.schema_version = 1, .mismatch = m};
  bl_db *a = th_open(dir, "a.db", &o2), *b = th_open(dir, "b.db", &o1);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title, priority) VALUES ('1', 'new app', 'high')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  th_exec(b, "INSERT INTO todos (id, title) VALUES ('b', 'old app')");
  int rc = th_sync(b, r, &res);
  BL_CHECK_INT(rc, expect_rc);
  BL_CHECK(expect_rc == BL_OK ? th_has_warning(&res, expect_code) : th_has_error(&res, expect_code));
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos"), expect_rows);
  char q[256];
  snprintf(q, sizeof q, "SELECT coalesce((SELECT last_sequence FROM _sync_cursors WHERE device_id = '%s'), 0)",
           bl_device_id(a));
  BL_CHECK_INT(th_int(b, q), cursor);
  /* ABORT stops the whole sync: b pushed nothing. */
  BL_CHECK_INT(res.pushed > 0, m != BL_MISMATCH_ABORT);
  finish(&res, r, a, b, NULL);
}

static void test_sync_basic__mismatch_abort(void) {
  mismatch_case(BL_MISMATCH_ABORT, BL_ESCHEMA, BL_SYNC_SCHEMA_NEWER, 1, 0);
}
static void test_sync_basic__mismatch_skip(void) {
  mismatch_case(BL_MISMATCH_SKIP_DEVICE_UNTIL_NEXT_SYNC, BL_OK, BL_SYNC_SCHEMA_NEWER, 1, 0);
}
static void test_sync_basic__mismatch_drop(void) {
  mismatch_case(BL_MISMATCH_DROP_CHANGESETS, BL_OK, BL_SYNC_DROPPED, 1, 1);
}
static void test_sync_basic__mismatch_apply_compatible(void) {
  mismatch_case(BL_MISMATCH_APPLY_COMPATIBLE, BL_OK, BL_SYNC_PARTIAL, 2, 1);
}

/* An old app (v1, APPLY_COMPATIBLE) drops the new column's values; once
 * upgraded to v2 it fetches those files again and converges. */
static void test_sync_basic__upgrade_refetches_dropped_columns(void) {
  setup();
  th_opts o2 = {.schema_version = 2};
  th_opts o1 = {.schema_version = 1, .mismatch = BL_MISMATCH_APPLY_COMPATIBLE};
  bl_db *a = th_open(dir, "a.db", &o2), *b = th_open(dir, "b.db", &o1);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title, priority) VALUES ('1', 'x', 'high')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK(th_has_warning(&res, BL_SYNC_PARTIAL));
  bl_close(b);
  th_opts up = {.schema_version = 2, .mismatch = BL_MISMATCH_APPLY_COMPATIBLE};
  b = th_open(dir, "b.db", &up);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE priority = 'normal'"), 1);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(res.files_pulled, 1);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE priority = 'high'"), 1);
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  char *da = th_dump(a), *db = th_dump(b);
  BL_CHECK_STR(da, db);
  free(da), free(db);
  finish(&res, r, a, b, NULL);
}

/* -------------------------------------------------------- errors per device */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  fputs(text, f);
  fclose(f);
}

static void test_sync_basic__bad_device_does_not_stop_others(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL), *c = th_open(dir, "c.db", NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id) VALUES ('from a')");
  th_exec(b, "INSERT INTO todos (id) VALUES ('from b')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  /* Corrupt b's cs-00001 (truncate it). */
  char path[4096];
  snprintf(path, sizeof path, "%s/cs-00001.json", th_device_folder(dir, b));
  FILE *f = fopen(path, "rb");
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  f = fopen(path, "wb");
  fwrite(buf, 1, n - 5, f);
  fclose(f);
  /* And a folder that is not a device. */
  char junk[4096];
  snprintf(junk, sizeof junk, "%s/cloud/Backless/changesets/not-a-device", dir);
  mkdir(junk, 0755);

  int rc = th_sync(c, r, &res);
  BL_CHECK(rc != BL_OK);
  BL_CHECK(th_has_error(&res, BL_SYNC_CORRUPT));
  BL_CHECK(th_has_warning(&res, BL_SYNC_BAD_NAME));
  BL_CHECK_STR(res.errors[0].device, bl_device_id(b));
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos WHERE id = 'from a'"), 1);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos WHERE id = 'from b'"), 0);
  BL_CHECK(res.pushed == 0); /* c has nothing */
  finish(&res, r, a, b, c);
}

static void test_sync_basic__wrong_device_and_sequence(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL), *c = th_open(dir, "c.db", NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id) VALUES ('x')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  /* Copy a's cs-00001 into b's folder (names device a) and as a's cs-00002
   * (holds sequence 1). */
  char src[4096], dst[4096], cmd[20000];
  snprintf(src, sizeof src, "%s/cs-00001.json", th_device_folder(dir, a));
  snprintf(dst, sizeof dst, "%s", th_device_folder(dir, b));
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/cs-00001.json' && cp '%s' '%s/cs-00002.json'", dst, src, dst,
           src, th_device_folder(dir, a));
  BL_REQUIRE(system(cmd) == 0);
  BL_CHECK(th_sync(c, r, &res) != BL_OK);
  BL_CHECK(th_has_error(&res, BL_SYNC_WRONG_DEVICE));
  BL_CHECK(th_has_error(&res, BL_SYNC_WRONG_SEQUENCE));
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos"), 1); /* a's cs-1 applied */
  (void)write_file;
  finish(&res, r, a, b, c);
}

static void test_sync_basic__unknown_table_applies_nothing(void) {
  setup();
  th_compression = BL_COMPRESSION_NONE; /* the test edits the plain JSON */
  bl_db *a = th_open(dir, "a.db", NULL), *c = th_open(dir, "c.db", NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id) VALUES ('x'), ('y')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  /* Rename the table of the second change to one with a quote in it. */
  char path[4096], cmd[9000];
  snprintf(path, sizeof path, "%s/cs-00001.json", th_device_folder(dir, a));
  snprintf(cmd, sizeof cmd, "sed -i '0,/\\[\"todos\"/! s/\\[\"todos\"/[\"to\\\\\"dos; DROP TABLE notes; --\"/' '%s'", path);
  BL_REQUIRE(system(cmd) == 0);
  BL_CHECK(th_sync(c, r, &res) != BL_OK);
  BL_CHECK(th_has_error(&res, BL_SYNC_APPLY));
  if (res.errors_count) fprintf(stderr, "  (message: %s)\n", res.errors[0].message);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos"), 0);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM sqlite_schema WHERE name = 'notes'"), 1);
  finish(&res, r, a, c, NULL);
  th_compression = BL_COMPRESSION_DEFAULT;
}

static void test_sync_basic__accounts(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL);
  char *p = NULL, *e = NULL;
  BL_CHECK_INT(bl_get_active_account(a, &p, &e), BL_ENOTFOUND);
  BL_CHECK(p == NULL && e == NULL);
  BL_CHECK_INT(bl_set_active_account(a, "google", "someone@example.com"), BL_OK);
  bl_close(a);
  a = th_open(dir, "a.db", NULL);
  BL_CHECK_INT(bl_get_active_account(a, &p, &e), BL_OK);
  BL_CHECK_STR(p, "google");
  BL_CHECK_STR(e, "someone@example.com");
  free(p), free(e);
  BL_CHECK_INT(bl_set_active_account(a, NULL, "x"), BL_EMISUSE);
  bl_close(a);
  teardown();
}

static void test_sync_basic__schema_from_dir(void) {
  setup();
  char sd[4096], f[4200];
  snprintf(sd, sizeof sd, "%s/schema", dir);
  mkdir(sd, 0755);
  snprintf(f, sizeof f, "%s/1.sql", sd);
  write_file(f, "-- sync: items\nCREATE TABLE items (id INTEGER PRIMARY KEY NOT NULL, name TEXT);\n");
  snprintf(f, sizeof f, "%s/2.sql", sd);
  write_file(f, "-- sync: tags, items\nCREATE TABLE tags (name TEXT PRIMARY KEY NOT NULL);\n");
  bl_schema *s = NULL;
  BL_REQUIRE(bl_schema_from_dir(&s, sd) == BL_OK);
  BL_CHECK_INT(s->schema_version, 2);
  BL_CHECK_INT(s->synced_tables_count, 2);
  BL_CHECK_STR(s->synced_tables[0], "items");
  BL_CHECK_STR(s->synced_tables[1], "tags");
  char path[4200];
  snprintf(path, sizeof path, "%s/x.db", dir);
  bl_config c = BL_CONFIG_INIT;
  c.schema = s;
  c.database_path = path;
  bl_db *a = NULL;
  BL_REQUIRE(bl_open(&a, &c) == BL_OK);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM sqlite_schema WHERE name IN ('items__crsql_clock','tags__crsql_clock')"), 2);
  bl_close(a);
  bl_schema_free(s);
  /* A gap is an error. */
  snprintf(f, sizeof f, "%s/4.sql", sd);
  write_file(f, "SELECT 1;\n");
  BL_CHECK_INT(bl_schema_from_dir(&s, sd), BL_ESCHEMA);
  BL_CHECK(strstr(bl_errmsg(NULL), "without gaps") != NULL);
  teardown();
}

/* ----------------------------------------------------------- backless.json */

static void test_sync_basic__settings_file(void) {
  setup();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  char path[4096];
  snprintf(path, sizeof path, "%s/cloud/Backless/backless.json", dir);
  FILE *f = fopen(path, "rb");
  BL_REQUIRE(f != NULL);
  char text[256] = {0};
  BL_CHECK(fread(text, 1, sizeof text - 1, f) > 0);
  fclose(f);
  /* A new folder: version 2, compressed, not encrypted (no passphrase). */
  BL_CHECK(strstr(text, "\"format\":\"backless\"") && strstr(text, "\"version\":2"));
  BL_CHECK(strstr(text, "\"compression\":\"zstd\"") && strstr(text, "\"encryption\":null"));
  /* A newer format stops the sync of a device that has not seen it yet. */
  write_file(path, "{\"format\":\"backless\",\"version\":3}");
  th_exec(b, "INSERT INTO todos (id) VALUES ('x')");
  BL_CHECK_INT(th_sync(b, r, &res), BL_ESCHEMA);
  BL_CHECK(th_has_error(&res, BL_SYNC_FORMAT));
  BL_CHECK(strstr(res.errors[0].message, "update the app") != NULL);
  BL_CHECK_INT(res.pushed, 0);
  /* A torn first upload of the settings is finished by the next device. */
  write_file(path, "{\"format\":\"backl");
  bl_db *c = th_open(dir, "c.db", NULL);
  BL_CHECK_INT(th_sync(c, r, &res), BL_OK);
  f = fopen(path, "rb");
  memset(text, 0, sizeof text);
  BL_CHECK(fread(text, 1, sizeof text - 1, f) > 0);
  fclose(f);
  BL_CHECK_STR(text, "{\"format\":\"backless\",\"version\":1}\n");
  bl_close(c);
  write_file(path, "not json");
  BL_CHECK_INT(th_sync(b, r, &res), BL_ECORRUPT);
  BL_CHECK(th_has_error(&res, BL_SYNC_CORRUPT));
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM _sync_cursors"), 0);
  finish(&res, r, a, b, NULL);
}

static const bl_test_case cases[] = {
    BL_TEST(test_sync_basic__settings_file),
    BL_TEST(test_sync_basic__init_tables_and_meta),
    BL_TEST(test_sync_basic__migrate_runs_once),
    BL_TEST(test_sync_basic__older_app_refused),
    BL_TEST(test_sync_basic__not_a_database),
    BL_TEST(test_sync_basic__misspelled_table),
    BL_TEST(test_sync_basic__nullable_primary_key),
    BL_TEST(test_sync_basic__no_primary_key),
    BL_TEST(test_sync_basic__two_devices_converge),
    BL_TEST(test_sync_basic__push_rewrites_same_sequence),
    BL_TEST(test_sync_basic__sequence_past_99999),
    BL_TEST(test_sync_basic__clear_then_sync_restores),
    BL_TEST(test_sync_basic__writes_after_clear_are_pushed),
    BL_TEST(test_sync_basic__clear_with_begin_fails_cleanly),
    BL_TEST(test_sync_basic__snapshots_and_compaction),
    BL_TEST(test_sync_basic__behind_compacted_remote),
    BL_TEST(test_sync_basic__mismatch_abort),
    BL_TEST(test_sync_basic__mismatch_skip),
    BL_TEST(test_sync_basic__mismatch_drop),
    BL_TEST(test_sync_basic__mismatch_apply_compatible),
    BL_TEST(test_sync_basic__upgrade_refetches_dropped_columns),
    BL_TEST(test_sync_basic__bad_device_does_not_stop_others),
    BL_TEST(test_sync_basic__wrong_device_and_sequence),
    BL_TEST(test_sync_basic__unknown_table_applies_nothing),
    BL_TEST(test_sync_basic__accounts),
    BL_TEST(test_sync_basic__schema_from_dir),
};

BL_TEST_MAIN(cases)
