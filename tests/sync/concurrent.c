/*
 * concurrent.c — several processes syncing the same database file at once.
 *
 * Two children open the same device database and each runs 20 syncs with
 * local writes in between, against one folder, while a third child (another
 * device) writes and syncs too. Afterwards the device's folder holds
 * contiguous changesets, its own cursor is its highest file, and a device
 * that never synced before pulls everything and sees every row both
 * children inserted (no sequence was pushed twice with different content).
 * A second test starts two processes on a database file that does not
 * exist yet: both must end up with the same device id and sync.
 *
 * BL_CONCURRENT_SYNCS sets the syncs per child (default 20).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "helpers.h"

static const th_opts CC_OPTS = {.threshold = 3, .grace = 2};

static int cc_syncs(void) {
  const char *v = getenv("BL_CONCURRENT_SYNCS");
  return v && *v ? atoi(v) : 20;
}

/* A child: opens `file`, then `n` times writes a row "<tag>-<i>" (and
 * bumps a shared counter row) and syncs. Exits with the number of failed
 * syncs (capped), 100 when the database cannot be opened. */
static void cc_child(const char *dir, const char *file, const char *tag, int n,
                     const char *id_out) {
  bl_db *db = th_open(dir, file, &CC_OPTS);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  if (id_out) {
    FILE *f = fopen(id_out, "w");
    if (f) {
      fputs(bl_device_id(db), f);
      fclose(f);
    }
  }
  int bad = 0;
  for (int i = 0; i < n; i++) {
    th_execf(db, "INSERT INTO todos (id, title) VALUES ('%s-%d', 'written by %s')", tag, i, tag);
    th_execf(db,
             "INSERT INTO notes (id, body) VALUES (1, '%s') ON CONFLICT (id) DO UPDATE SET body = "
             "excluded.body",
             tag);
    int rc = bl_sync(db, r, &res);
    if (rc != BL_OK) {
      fprintf(stderr, "  %s: sync %d failed: %s\n", tag, i, bl_errmsg(db));
      bad++;
    }
  }
  bl_sync_result_free(&res);
  bl_remote_free(r);
  bl_close(db);
  _exit(bad > 99 ? 99 : bad);
}

static pid_t cc_spawn(const char *dir, const char *file, const char *tag, int n,
                      const char *id_out) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) cc_child(dir, file, tag, n, id_out);
  return pid;
}

/* Waits for `pid`; returns its exit status, or -1 when it did not exit. */
static int cc_wait(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

static void test_sync_concurrent__two_processes_one_database(void) {
  char *dir = th_tmpdir();
  int n = cc_syncs();
  /* The device exists before the children start. */
  bl_db *a = th_open(dir, "a.db", &CC_OPTS);
  char a_id[37];
  memcpy(a_id, bl_device_id(a), 37);
  bl_close(a);

  pid_t p1 = cc_spawn(dir, "a.db", "one", n, NULL);
  pid_t p2 = cc_spawn(dir, "a.db", "two", n, NULL);
  pid_t p3 = cc_spawn(dir, "b.db", "other", n, NULL);
  BL_REQUIRE(p1 > 0 && p2 > 0 && p3 > 0);
  BL_CHECK_INT(cc_wait(p1), 0);
  BL_CHECK_INT(cc_wait(p2), 0);
  BL_CHECK_INT(cc_wait(p3), 0);

  a = th_open(dir, "a.db", &CC_OPTS);
  bl_db *b = th_open(dir, "b.db", &CC_OPTS);
  bl_db *c = th_open(dir, "c.db", &CC_OPTS);
  bl_remote *r = th_remote(dir);
  BL_CHECK_STR(bl_device_id(a), a_id);
  /* Everything both processes committed was pushed by one of them. */
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM todos WHERE id LIKE 'one-%' OR id LIKE 'two-%'"),
               2 * n);
  int64_t lo = 0, hi = 0, snaps[64];
  BL_CHECK(th_cs_contiguous(dir, a_id, &lo, &hi));
  int ns = th_cloud_seqs(dir, a_id, "snapshot-", snaps, 64);
  int64_t top = ns && snaps[ns - 1] > hi ? snaps[ns - 1] : hi;
  BL_CHECK_INT(th_cursor(a, a_id), top);
  BL_CHECK(top >= 2);

  /* c never synced: it pulls everything from the cloud alone. */
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  BL_CHECK_INT(th_sync(c, r, &res), BL_OK);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos WHERE id LIKE 'one-%'"), n);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos WHERE id LIKE 'two-%'"), n);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos WHERE id LIKE 'other-%'"), n);
  /* Nothing new for a: whatever it had was pushed. */
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(res.pushed, 0);
  bl_db *dbs[3] = {a, b, c};
  BL_CHECK_INT(th_sync_rounds(dbs, 3, r, 2), 0);
  BL_CHECK(th_converged(dbs, 3, "two processes"));
  bl_sync_result_free(&res);
  bl_remote_free(r);
  bl_close(a);
  bl_close(b);
  bl_close(c);
  th_rmtree(dir);
  free(dir);
}

/* Two processes open a database file that does not exist yet, at once:
 * one initialises it (device id, schema), the other sees that; both sync. */
static void test_sync_concurrent__two_processes_create_one_database(void) {
  char *dir = th_tmpdir();
  char id1[4096], id2[4096];
  snprintf(id1, sizeof id1, "%s/id1", dir);
  snprintf(id2, sizeof id2, "%s/id2", dir);
  pid_t p1 = cc_spawn(dir, "new.db", "one", 3, id1);
  pid_t p2 = cc_spawn(dir, "new.db", "two", 3, id2);
  BL_REQUIRE(p1 > 0 && p2 > 0);
  BL_CHECK_INT(cc_wait(p1), 0);
  BL_CHECK_INT(cc_wait(p2), 0);
  char got1[64] = "", got2[64] = "";
  FILE *f = fopen(id1, "r");
  if (f) {
    if (!fgets(got1, sizeof got1, f)) got1[0] = '\0';
    fclose(f);
  }
  f = fopen(id2, "r");
  if (f) {
    if (!fgets(got2, sizeof got2, f)) got2[0] = '\0';
    fclose(f);
  }
  BL_CHECK_INT(strlen(got1), 36);
  BL_CHECK_STR(got1, got2);
  bl_db *a = th_open(dir, "new.db", &CC_OPTS), *c = th_open(dir, "c.db", &CC_OPTS);
  bl_remote *r = th_remote(dir);
  BL_CHECK_STR(bl_device_id(a), got1);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM _sync_meta WHERE key = 'device_id'"), 1);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  BL_CHECK_INT(th_sync(c, r, &res), BL_OK);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos"), 6);
  bl_db *dbs[2] = {a, c};
  BL_CHECK_INT(th_sync_rounds(dbs, 2, r, 2), 0);
  BL_CHECK(th_converged(dbs, 2, "created at once"));
  bl_sync_result_free(&res);
  bl_remote_free(r);
  bl_close(a);
  bl_close(c);
  th_rmtree(dir);
  free(dir);
}

static const bl_test_case cases[] = {
    BL_TEST(test_sync_concurrent__two_processes_one_database),
    BL_TEST(test_sync_concurrent__two_processes_create_one_database),
};

BL_TEST_MAIN(cases)
