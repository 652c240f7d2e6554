/*
 * faults.c — the sync engine under a failing remote (src/remote/fault.h
 * around the folder remote).
 *
 *   - every call of a sync failing in turn: for three starting points (a
 *     steady device, a device pushing for the first time, a device
 *     restoring after clearAllData) the calls of a clean sync are counted,
 *     then for every N the N-th call fails, before it reaches the folder
 *     (nothing done) or after (done, but reported failed). Each time: the
 *     sync reports an error or a warning; nothing is half-applied (a
 *     device's cursor k means exactly the rows of its files 1..k are
 *     there); the device's unpushed changes are still there; and after the
 *     fault is gone, syncing converges, a fresh device joining gets
 *     everything, and every folder can be walked without a hole;
 *   - a lost upload response followed by new local writes;
 *   - a restore after clearAllData interrupted half-way, then a write;
 *   - torn writes of a changeset (an error for readers until the writer
 *     rewrites it) and of a snapshot;
 *   - stale listings (an eventually consistent store): nothing skipped;
 *   - request counts of an idle sync with 10 remote devices.
 *
 * The worlds (devices a, b, c; every file of device X adds a row "X<k>",
 * which is what makes "cursor k means rows 1..k" checkable) and the
 * invariants are in fixture.c. BL_FAULT_CALL=N replays only call N of the
 * every-call loops.
 *
 * Divided into: the every-call loop; single cases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "remote/fault.h"

/* -------------------------------------------------------- the every-call loop */

/* Fails the n-th call of a's sync from template t (after = 0: before it
 * reaches the folder; 1: after it was done), then checks; returns the
 * number of violations. */
static int fx_fail_one(const fx_tpl *t, unsigned n, int after, int failed_anyway) {
  fx f;
  fx_open(&f, t);
  fx_dev *a = &f.dev[0];
  char when[128];
  snprintf(when, sizeof when, "%s, call %u failing %s", fx_kind_names[t->kind], n,
           after ? "after" : "before");
  int bad = 0;
  if (after)
    bl__fault_fail_after(f.fault, BL__FAULT_ANY, n, BL_EIO);
  else
    bl__fault_fail(f.fault, BL__FAULT_ANY, n, BL_EIO);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  int rc = th_sync(a->db, f.fault, &res);
  if (rc == BL_OK && res.warnings_count == 0 && !(after && failed_anyway)) {
    fprintf(stderr, "  %s: the sync reported nothing\n", when);
    bad++;
  }
  bl_sync_result_free(&res);
  bl__fault_reset(f.fault);
  bad += fx_check_prefixes(&f, a, t->kind != FX_BOOTSTRAP, when);
  if (!fx_has_row(a->db, f.local)) {
    fprintf(stderr, "  %s: a's unpushed row %s is gone\n", when, f.local);
    bad++;
  }
  /* The others sync before a recovers: they see whatever reached the
   * folder. */
  bl_db *others[2] = {f.dev[1].db, f.dev[2].db};
  bad += th_sync_rounds(others, 2, f.folder, 1);
  for (int i = 1; i < f.ndev; i++) bad += fx_check_prefixes(&f, &f.dev[i], 1, when);
  bad += fx_recover(&f, when);
  fx_close(&f);
  return bad;
}

static void fx_every_call(int kind) {
  fx_tpl t;
  fx_template(&t, kind);
  unsigned char failed[REC_MAX];
  unsigned total = fx_count_calls(&t, failed);
  BL_REQUIRE(total >= 5);
  const char *only = getenv("BL_FAULT_CALL"); /* replay one call number */
  for (unsigned n = 1; n <= total; n++) {
    if (only && strtoul(only, NULL, 10) != n) continue;
    for (int after = 0; after <= 1; after++) {
      int bad = fx_fail_one(&t, n, after, failed[n - 1]);
      if (bad)
        fprintf(stderr,
                "  ^ %s: call %u of %u failing %s: %d violations (replay: BL_FAULT_CALL=%u)\n",
                fx_kind_names[kind], n, total, after ? "after" : "before", bad, n);
      BL_CHECK_INT(bad, 0);
    }
  }
  fx_template_free(&t);
}

static void test_sync_faults__every_call_steady(void) { fx_every_call(FX_STEADY); }
static void test_sync_faults__every_call_first_push(void) { fx_every_call(FX_FIRST_PUSH); }
static void test_sync_faults__every_call_bootstrap(void) { fx_every_call(FX_BOOTSTRAP); }

/* ------------------------------------------------------------- single cases */

/* The upload of cs-N reached the cloud but its response was lost (the push
 * is not recorded); another device pulls cs-N; then the device writes more
 * and syncs. Whatever the engine does (rewrite cs-N, or push the new
 * writes as cs-N+1), the device that already applied cs-N must get the
 * new writes. */
static void test_sync_faults__lost_response_then_new_writes(void) {
  char *dir = th_tmpdir();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL);
  bl_remote *r = th_remote(dir), *f = NULL;
  BL_REQUIRE(bl__remote_fault_new(&f, r) == BL_OK);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id) VALUES ('first')");
  BL_CHECK_INT(th_sync(a, f, &res), BL_OK);
  th_exec(a, "INSERT INTO todos (id) VALUES ('x')");
  bl__fault_fail_after(f, BL__FAULT_WRITE, 1, BL_ENET);
  BL_CHECK(th_sync(a, f, &res) != BL_OK);
  BL_CHECK(th_has_error(&res, BL_SYNC_PUSH));
  BL_CHECK_INT(th_count_files(dir, a, "cs-00002"), 1); /* it did reach the cloud */
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE id = 'x'"), 1);
  th_exec(a, "INSERT INTO todos (id) VALUES ('y')");
  BL_CHECK_INT(th_sync(a, f, &res), BL_OK);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE id = 'y'"), 1);
  bl_db *dbs[2] = {a, b};
  BL_CHECK(th_converged(dbs, 2, "lost response"));
  bl_sync_result_free(&res);
  bl_remote_free(f);
  bl_remote_free(r);
  bl_close(a);
  bl_close(b);
  th_rmtree(dir);
  free(dir);
}

/* clearAllData, then a restore that fails half-way (the own folder's second
 * file cannot be read), then a local write and a sync: the restore must
 * finish (every own row back), the new row must be pushed without
 * replacing any file the device had pushed before, and a device joining
 * later must get everything. */
static void test_sync_faults__bootstrap_interrupted(void) {
  char *dir = th_tmpdir();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL);
  bl_remote *r = th_remote(dir), *f = NULL;
  BL_REQUIRE(bl__remote_fault_new(&f, r) == BL_OK);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  for (int i = 1; i <= 3; i++) {
    th_execf(a, "INSERT INTO todos (id) VALUES ('a%d')", i);
    BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  }
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(bl_clear_all_data(a), BL_OK);
  /* Reads of this sync: backless.json is remembered, so read 1 is cs-1 and
   * read 2 is cs-2 of a's own folder. */
  bl__fault_fail(f, BL__FAULT_READ, 2, BL_ENET);
  BL_CHECK(th_sync(a, f, &res) != BL_OK);
  bl__fault_reset(f);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM todos"), 1);
  th_exec(a, "INSERT INTO todos (id) VALUES ('z')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM todos"), 4);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE id = 'z'"), 1);
  bl_db *c = th_open(dir, "c.db", NULL);
  BL_CHECK_INT(th_sync(c, r, &res), BL_OK);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos"), 4);
  bl_db *dbs[3] = {a, b, c};
  BL_CHECK(th_converged(dbs, 3, "interrupted bootstrap"));
  bl_sync_result_free(&res);
  bl_remote_free(f);
  bl_remote_free(r);
  bl_close(a);
  bl_close(b);
  bl_close(c);
  th_rmtree(dir);
  free(dir);
}

/* A restore after clearAllData whose listing of our own folder is stale (an
 * eventually consistent store that does not show our newest changeset
 * yet) must not end in a push over that changeset: the rows it holds would
 * be lost for every device. Found by test_sync_random__with_faults. */
static void test_sync_faults__bootstrap_with_stale_listing(void) {
  char *dir = th_tmpdir();
  bl_db *a = th_open(dir, "a.db", NULL);
  bl_remote *r = th_remote(dir), *f = NULL;
  BL_REQUIRE(bl__remote_fault_new(&f, r) == BL_OK);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id) VALUES ('a1')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  /* A restore through the wrapper: it remembers our folder with cs-1. */
  BL_CHECK_INT(bl_clear_all_data(a), BL_OK);
  BL_CHECK_INT(th_sync(a, f, &res), BL_OK);
  th_exec(a, "INSERT INTO todos (id) VALUES ('a2')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK); /* cs-2 */
  /* Signed out again; the next restore lists the changesets folder and our
   * folder as they were before cs-2. */
  BL_CHECK_INT(bl_clear_all_data(a), BL_OK);
  bl__fault_stale_lists(f, 2);
  th_sync(a, f, &res);
  bl__fault_reset(f);
  th_exec(a, "INSERT INTO todos (id) VALUES ('z')");
  th_sync(a, r, &res);
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM todos"), 3);
  bl_db *b = th_open(dir, "b.db", NULL);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE id IN ('a1', 'a2', 'z')"), 3);
  bl_db *dbs[2] = {a, b};
  BL_CHECK(th_converged(dbs, 2, "restore with a stale listing"));
  bl_sync_result_free(&res);
  bl_remote_free(f);
  bl_remote_free(r);
  bl_close(a);
  bl_close(b);
  th_rmtree(dir);
  free(dir);
}

/* A clean sync of a from the steady template pushes cs-4: its size. */
static int64_t fx_cs4_size(const fx_tpl *t) {
  fx f;
  fx_open(&f, t);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_sync(f.dev[0].db, f.folder, &res);
  bl_sync_result_free(&res);
  char path[4096];
  snprintf(path, sizeof path, "%s/cs-00004.json", th_device_folder(f.dir, f.dev[0].db));
  struct stat st;
  int64_t size = stat(path, &st) == 0 ? st.st_size : -1;
  fx_close(&f);
  return size;
}

/* A torn upload of cs-4 (only its first `keep` bytes reach the cloud; the
 * write reports an error): readers get an error for that device and apply
 * nothing of it; the writer's next push rewrites it whole; all converge. */
static void test_sync_faults__torn_changeset(void) {
  fx_tpl t;
  fx_template(&t, FX_STEADY);
  int64_t size = fx_cs4_size(&t);
  BL_REQUIRE(size > 16);
  /* Not size - 1: that only drops the final newline, leaving a complete
   * document (the lost-response case). */
  const int64_t keeps[] = {0, 1, 16, size / 2, size - 3, size - 2};
  for (size_t i = 0; i < sizeof keeps / sizeof keeps[0]; i++) {
    char when[64];
    snprintf(when, sizeof when, "cs-4 torn after %lld of %lld bytes", (long long)keeps[i],
             (long long)size);
    fx f;
    fx_open(&f, &t);
    fx_dev *a = &f.dev[0], *b = &f.dev[1];
    bl_sync_result res = BL_SYNC_RESULT_INIT;
    BL_CHECK_INT(th_sync(b->db, f.folder, &res), BL_OK); /* b has a's cs-1..3 */
    BL_CHECK_INT(bl__fault_tear_write(f.fault, 1, keeps[i], BL_EIO), BL_OK);
    BL_CHECK(th_sync(a->db, f.fault, &res) != BL_OK);
    BL_CHECK(th_has_error(&res, BL_SYNC_PUSH));
    BL_CHECK_INT(th_cursor(a->db, bl_device_id(a->db)), 3);
    char path[4096];
    snprintf(path, sizeof path, "%s/cs-00004.json", th_device_folder(f.dir, a->db));
    struct stat st;
    BL_CHECK(stat(path, &st) == 0 && st.st_size == keeps[i]);
    BL_CHECK(th_sync(b->db, f.folder, &res) != BL_OK);
    BL_CHECK(th_has_error(&res, BL_SYNC_CORRUPT) || th_has_error(&res, BL_SYNC_FORMAT));
    BL_CHECK_INT(th_cursor(b->db, bl_device_id(a->db)), 3);
    BL_CHECK(!fx_has_row(b->db, "p1"));
    BL_CHECK_INT(fx_check_prefixes(&f, b, 1, when), 0);
    /* The writer rewrites cs-4 whole. */
    BL_CHECK_INT(th_sync(a->db, f.folder, &res), BL_OK);
    BL_CHECK(stat(path, &st) == 0 && st.st_size >= size);
    BL_CHECK_INT(th_cursor(a->db, bl_device_id(a->db)), 4);
    BL_CHECK_INT(th_sync(b->db, f.folder, &res), BL_OK);
    BL_CHECK(fx_has_row(b->db, "p1"));
    BL_CHECK_INT(fx_recover(&f, when), 0);
    bl_sync_result_free(&res);
    fx_close(&f);
  }
  fx_template_free(&t);
}

/* A torn upload of snapshot-4 (the write reports an error: a warning of the
 * sync). A device joining right after starts from the latest snapshot: it
 * must not be stuck on the torn one, nor miss what the snapshot covers. */
static void test_sync_faults__torn_snapshot(void) {
  fx_tpl t;
  fx_template(&t, FX_STEADY);
  fx f;
  fx_open(&f, &t);
  fx_dev *a = &f.dev[0];
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  BL_CHECK_INT(bl__fault_tear_write(f.fault, 2, 40, BL_EIO), BL_OK); /* write 1 is cs-4 */
  int rc = th_sync(a->db, f.fault, &res);
  BL_CHECK(rc != BL_OK || res.warnings_count > 0);
  BL_CHECK_INT(th_cursor(a->db, bl_device_id(a->db)), 4);
  bl_db *late = th_open(f.dir, "late.db", &FX_OPTS);
  rc = th_sync(late, f.folder, &res);
  if (rc != BL_OK && res.errors_count)
    fprintf(stderr, "  torn snapshot: a device joining gets: %s\n", res.errors[0].message);
  BL_CHECK_INT(rc, BL_OK);
  for (int j = 1; j <= 3; j++) {
    char id[8];
    snprintf(id, sizeof id, "a%d", j);
    BL_CHECK(fx_has_row(late, id));
  }
  BL_CHECK(fx_has_row(late, "p1"));
  bl_close(late);
  BL_CHECK_INT(fx_recover(&f, "torn snapshot"), 0);
  bl_sync_result_free(&res);
  fx_close(&f);
  fx_template_free(&t);
}

/* A snapshot whose upload failed (torn: the name is in the folder, the
 * content is not whole) must not be what compaction relies on: with a
 * grace shorter than the threshold, compaction at S + grace would delete
 * every changeset the torn snapshot S was meant to cover, leaving their
 * rows nowhere readable until the next snapshot. A device joining then
 * must still get every row. */
static void test_sync_faults__torn_snapshot_then_compaction(void) {
  char *dir = th_tmpdir();
  th_opts o = {.threshold = 4, .grace = 2};
  bl_db *a = th_open(dir, "a.db", &o);
  bl_remote *r = th_remote(dir), *f = NULL;
  BL_REQUIRE(bl__remote_fault_new(&f, r) == BL_OK);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  for (int i = 1; i <= 6; i++) {
    th_execf(a, "INSERT INTO todos (id) VALUES ('a%d')", i);
    if (i == 4) BL_CHECK_INT(bl__fault_tear_write(f, 2, 40, BL_EIO), BL_OK); /* snapshot-4 */
    int rc = th_sync(a, f, &res);
    BL_CHECK(rc == BL_OK || i == 4);
    if (i == 4) BL_CHECK(rc != BL_OK || res.warnings_count > 0);
  }
  bl_db *b = th_open(dir, "b.db", &o);
  int rc = th_sync(b, r, &res);
  if (rc != BL_OK && res.errors_count) fprintf(stderr, "  joining: %s\n", res.errors[0].message);
  BL_CHECK_INT(rc, BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos"), 6);
  bl_db *dbs[2] = {a, b};
  BL_CHECK(th_converged(dbs, 2, "torn snapshot, then compaction"));
  bl_sync_result_free(&res);
  bl_remote_free(f);
  bl_remote_free(r);
  bl_close(a);
  bl_close(b);
  th_rmtree(dir);
  free(dir);
}

/* Stale listings: for the next m list calls, b's remote answers with the
 * listing it gave last time (m = 1: only the changesets folder is stale;
 * more: device folders too). b must never skip a file (its cursor k
 * always means rows 1..k), must cope with listed files that compaction
 * removed meanwhile, and converges once listings are fresh again. */
static void test_sync_faults__stale_listings(void) {
  for (unsigned m = 1; m <= 4; m++) {
    fx f;
    fx_new(&f);
    fx_dev *a = &f.dev[0], *b = &f.dev[1], *c = &f.dev[2];
    bl_sync_result res = BL_SYNC_RESULT_INIT;
    char when[64];
    snprintf(when, sizeof when, "%u stale listings", m);

    /* New files not listed yet. */
    fx_push_rows(a, f.folder, 1);
    BL_CHECK_INT(th_sync(b->db, f.fault, &res), BL_OK); /* the wrapper remembers a with cs-1 */
    fx_push_rows(a, f.folder, 2);
    fx_push_rows(c, f.folder, 1); /* a folder b's stale listing does not show */
    bl__fault_stale_lists(f.fault, m);
    th_sync(b->db, f.fault, &res);
    BL_CHECK_INT(fx_check_prefixes(&f, b, 1, when), 0);
    bl__fault_stale_lists(f.fault, 0); /* fresh again, however many the sync used */
    BL_CHECK_INT(th_sync(b->db, f.fault, &res), BL_OK);
    BL_CHECK_INT(fx_check_prefixes(&f, b, 1, when), 0);
    BL_CHECK_INT(th_cursor(b->db, bl_device_id(a->db)), 3);

    /* Listed files that compaction removed: b lists a's folder (cs-4,
     * cs-5 there) but cannot read them; then a compacts them away. */
    fx_push_rows(a, f.folder, 2);
    bl__fault_fail_from(f.fault, BL__FAULT_READ, 1, BL_ENET);
    BL_CHECK(th_sync(b->db, f.fault, &res) != BL_OK);
    bl__fault_reset(f.fault);
    BL_CHECK_INT(th_cursor(b->db, bl_device_id(a->db)), 3);
    fx_push_rows(a, f.folder, 3); /* 8 pushes: snapshots 6, 8, cs-7, cs-8 */
    BL_CHECK_INT(th_count_files(f.dir, a->db, "cs-00005"), 0);
    bl__fault_stale_lists(f.fault, m);
    th_sync(b->db, f.fault, &res);
    BL_CHECK_INT(fx_check_prefixes(&f, b, 1, when), 0);
    bl__fault_stale_lists(f.fault, 0);
    BL_CHECK_INT(th_sync(b->db, f.fault, &res), BL_OK);
    BL_CHECK_INT(fx_check_prefixes(&f, b, 1, when), 0);
    BL_CHECK_INT(th_cursor(b->db, bl_device_id(a->db)), 8);
    BL_CHECK_INT(th_cursor(b->db, bl_device_id(c->db)), 1);
    BL_CHECK_INT(fx_recover(&f, when), 0);
    bl_sync_result_free(&res);
    fx_close(&f);
  }
}

/* An idle sync with 10 remote devices on the folder backend costs one
 * listing of the changesets folder plus at most one per remote device (the
 * folder backend has no change feed), and no read, write, delete or mkdir.
 * A sync with one new file among them reads exactly that file. */
static void test_sync_faults__idle_request_count(void) {
  char *dir = th_tmpdir();
  bl_remote *r = th_remote(dir), *f = NULL;
  BL_REQUIRE(bl__remote_fault_new(&f, r) == BL_OK);
  enum { REMOTES = 10 };
  bl_db *dev[REMOTES];
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  for (int i = 0; i < REMOTES; i++) {
    char file[16];
    snprintf(file, sizeof file, "d%d.db", i);
    dev[i] = th_open(dir, file, NULL);
    th_execf(dev[i], "INSERT INTO notes (id, body) VALUES (%d, 'from %d')", i, i);
    BL_CHECK_INT(th_sync(dev[i], r, &res), BL_OK);
  }
  bl_db *me = th_open(dir, "me.db", NULL);
  th_exec(me, "INSERT INTO todos (id) VALUES ('mine')");
  BL_CHECK_INT(th_sync(me, f, &res), BL_OK);
  BL_CHECK_INT(res.files_pulled, REMOTES);

  bl__fault_reset_calls(f);
  BL_CHECK_INT(th_sync(me, f, &res), BL_OK);
  BL_CHECK_INT(res.pulled + res.pushed + res.files_pulled + res.files_pushed, 0);
  uint64_t lists = bl__fault_calls(f, BL__FAULT_LIST);
  if (getenv("BL_TEST_VERBOSE"))
    fprintf(stderr, "  idle sync, %d remote devices: %llu lists, %llu reads, %llu writes\n",
            REMOTES, (unsigned long long)lists,
            (unsigned long long)bl__fault_calls(f, BL__FAULT_READ),
            (unsigned long long)bl__fault_calls(f, BL__FAULT_WRITE));
  BL_CHECK(lists >= 1);
  BL_CHECK(lists <= 1 + REMOTES);
  BL_CHECK_INT(bl__fault_calls(f, BL__FAULT_READ), 0);
  BL_CHECK_INT(bl__fault_calls(f, BL__FAULT_WRITE), 0);
  BL_CHECK_INT(bl__fault_calls(f, BL__FAULT_REMOVE), 0);
  BL_CHECK_INT(bl__fault_calls(f, BL__FAULT_MKDIR), 0);

  /* One new changeset somewhere: one read. */
  th_exec(dev[3], "UPDATE notes SET body = 'changed' WHERE id = 3");
  BL_CHECK_INT(th_sync(dev[3], r, &res), BL_OK);
  bl__fault_reset_calls(f);
  BL_CHECK_INT(th_sync(me, f, &res), BL_OK);
  BL_CHECK_INT(res.files_pulled, 1);
  BL_CHECK_INT(bl__fault_calls(f, BL__FAULT_READ), 1);
  BL_CHECK(bl__fault_calls(f, BL__FAULT_LIST) <= 1 + REMOTES);
  BL_CHECK_INT(bl__fault_calls(f, BL__FAULT_WRITE), 0);

  bl_sync_result_free(&res);
  for (int i = 0; i < REMOTES; i++) bl_close(dev[i]);
  bl_close(me);
  bl_remote_free(f);
  bl_remote_free(r);
  th_rmtree(dir);
  free(dir);
}

static const bl_test_case cases[] = {
    BL_TEST(test_sync_faults__every_call_steady),
    BL_TEST(test_sync_faults__every_call_first_push),
    BL_TEST(test_sync_faults__every_call_bootstrap),
    BL_TEST(test_sync_faults__lost_response_then_new_writes),
    BL_TEST(test_sync_faults__bootstrap_interrupted),
    BL_TEST(test_sync_faults__bootstrap_with_stale_listing),
    BL_TEST(test_sync_faults__torn_changeset),
    BL_TEST(test_sync_faults__torn_snapshot),
    BL_TEST(test_sync_faults__torn_snapshot_then_compaction),
    BL_TEST(test_sync_faults__stale_listings),
    BL_TEST(test_sync_faults__idle_request_count),
};

BL_TEST_MAIN(cases)
