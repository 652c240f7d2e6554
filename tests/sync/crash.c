/*
 * crash.c — the crash harness: a child process syncs device "a" and is
 * killed with SIGKILL in the middle; the parent then reopens the database
 * and checks recovery.
 *
 *   - every crash point of the engine (BL_TEST_CRASH_AT=name:N, see
 *     bl__crash_point in src/sync), for N = 1, 2, ... until the child gets
 *     through its sync without reaching it, from three starting points
 *     (fixture.h: steady, first push, bootstrap after clearAllData);
 *   - the fault wrapper's crash mode: the process dies right before or
 *     right after each call of the sync reaches the folder (e.g. a write
 *     that reached the cloud but never returned);
 *   - killed after an upload, then a peer pulls and the device writes more;
 *   - kills at random times (1-50 ms) while the child writes and syncs
 *     large batches in a loop, 20 times in a row, with another device
 *     pushing in between.
 *
 * After each crash: the database opens and passes integrity_check;
 * nothing is half-applied (a cursor k means exactly the rows of files
 * 1..k); the unpushed local changes are there; the next sync applies
 * exactly the files after the cursors (nothing twice: its files_pulled is
 * the count of files past the cursors); then everyone converges, a fresh
 * device gets every row, every folder can be walked without a hole and no
 * cursor points past the highest file (fixture.c: fx_recover).
 *
 * BL_CRASH_KILLS sets the number of timed kills (default 20).
 *
 * Divided into: the child; the checks after a crash; crash points; the
 * fault wrapper's crash mode; timed kills.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "remote/fault.h"

/* ------------------------------------------------------------------ the child */

enum { CR_DIED = 1, CR_EXITED = 2, CR_OTHER = 3 };

static void cr_die(bl__fault_op op, const char *path, void *payload) {
  (void)op, (void)path, (void)payload;
  kill(getpid(), SIGKILL);
}

/* How the child should sync: with BL_TEST_CRASH_AT = crash_at, or through
 * a fault wrapper that kills it at call `call` (before or after it). */
typedef struct cr_how {
  const char *crash_at;
  unsigned call;
  int when;
} cr_how;

/* Forks a child that opens a in f->dir and syncs it as `how` says; waits
 * for it. Returns CR_DIED (killed by SIGKILL), CR_EXITED (finished the
 * sync), or CR_OTHER (printed). */
static int cr_run_child(fx *f, const cr_how *how) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return CR_OTHER;
  }
  if (pid == 0) {
    if (how->crash_at) setenv("BL_TEST_CRASH_AT", how->crash_at, 1);
    bl_db *a = fx_open_db(f->dir, "a.db");
    bl_remote *r = th_remote(f->dir), *w = NULL;
    if (how->call) {
      if (bl__remote_fault_new(&w, r) != BL_OK) _exit(3);
      bl__fault_crash(w, BL__FAULT_ANY, how->call, how->when, cr_die, NULL);
    }
    bl_sync_result res = BL_SYNC_RESULT_INIT;
    bl_sync(a, w ? w : r, &res);
    bl_sync_result_free(&res);
    bl_remote_free(w);
    bl_remote_free(r);
    bl_close(a);
    _exit(0);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) {
    perror("waitpid");
    return CR_OTHER;
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return CR_DIED;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return CR_EXITED;
  fprintf(stderr, "  the child ended with status 0x%x\n", status);
  return CR_OTHER;
}

/* ------------------------------------------------- the checks after a crash */

/* The files device `dev` still has to apply with cursor k, among those of
 * sequence <= limit: walks the folder as a reader must (a snapshot first
 * when k is 0, a snapshot over a compacted gap, else cs-(k+1), cs-(k+2),
 * ...). */
static int cr_files_due(const char *dir, const char *dev, int64_t k, int64_t limit) {
  int64_t cs[256], snaps[64];
  int ncs = th_cloud_seqs(dir, dev, "cs-", cs, 256),
      ns = th_cloud_seqs(dir, dev, "snapshot-", snaps, 64);
  while (ncs > 0 && cs[ncs - 1] > limit) ncs--;
  while (ns > 0 && snaps[ns - 1] > limit) ns--;
  int64_t s = ns ? snaps[ns - 1] : 0, last = ncs && cs[ncs - 1] > s ? cs[ncs - 1] : s;
  int due = 0;
  for (int64_t next = k + 1; next <= last;) {
    int have = 0;
    for (int i = 0; i < ncs; i++) have |= cs[i] == next;
    if ((k == 0 && s >= next) || (!have && s >= next)) {
      due++;
      k = s;
      next = s + 1;
    } else if (have) {
      due++;
      k = next++;
    } else {
      break;
    }
  }
  return due;
}

/* The highest sequence in a's folder of the world f (a not open yet). */
static int64_t cr_own_top(fx *f) {
  bl_db *a = th_open(f->dir, "a.db", &FX_OPTS);
  int64_t cs[256], snaps[64];
  int ncs = th_cloud_seqs(f->dir, bl_device_id(a), "cs-", cs, 256);
  int ns = th_cloud_seqs(f->dir, bl_device_id(a), "snapshot-", snaps, 64);
  bl_close(a);
  int64_t top = ncs ? cs[ncs - 1] : 0;
  return ns && snaps[ns - 1] > top ? snaps[ns - 1] : top;
}

/* After a's sync ended (killed or not): opens the world and checks it;
 * returns the number of violations. own_top is the highest sequence of a's
 * folder before that sync: a restore after clearAllData must reach it. */
static int cr_check(fx *f, const char *when, int64_t own_top) {
  fx_open_devices(f);
  fx_dev *a = &f->dev[0];
  int bad = 0;
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(bl_sqlite(a->db), "PRAGMA integrity_check", -1, &st, NULL);
  if (sqlite3_step(st) != SQLITE_ROW ||
      strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
    fprintf(stderr, "  %s: integrity_check fails\n", when);
    bad++;
  }
  sqlite3_finalize(st);
  bad += fx_check_prefixes(f, a, f->exempt == NULL, when);
  if (!fx_has_row(a->db, f->local)) {
    fprintf(stderr, "  %s: a's unpushed row %s is gone\n", when, f->local);
    bad++;
  }
  /* The next sync applies each remaining file of the others once. */
  int due = 0;
  for (int i = 1; i < f->ndev; i++) {
    const char *id = bl_device_id(f->dev[i].db);
    due += cr_files_due(f->dir, id, th_cursor(a->db, id), INT64_MAX);
  }
  /* Our own folder: all of it with our cursor at 0 (a bootstrap, or a
   * first push whose record was lost); after a restore was interrupted,
   * what it still has to restore. A file past own_top is a push in flight,
   * which is rewritten, not pulled. */
  int64_t own = th_cursor(a->db, bl_device_id(a->db));
  int own_due = own == 0            ? cr_files_due(f->dir, bl_device_id(a->db), 0, INT64_MAX)
                : f->exempt != NULL ? cr_files_due(f->dir, bl_device_id(a->db), own, own_top)
                                    : 0;
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  if (th_sync(a->db, f->folder, &res) != BL_OK) {
    fprintf(stderr, "  %s: the sync after the crash fails: %s\n", when, bl_errmsg(a->db));
    bad++;
  } else if (res.files_pulled != due + own_due) {
    fprintf(stderr, "  %s: the sync after the crash applied %lld files, %d were due\n", when,
            (long long)res.files_pulled, due + own_due);
    bad++;
  }
  bl_sync_result_free(&res);
  bad += fx_recover(f, when);
  if (f->exempt) { /* bootstrap: every own row is back on a */
    for (int j = 1; j <= a->files; j++) {
      char id[16];
      snprintf(id, sizeof id, "a%d", j);
      if (!fx_has_row(a->db, id)) {
        fprintf(stderr, "  %s: a's own row %s did not come back\n", when, id);
        bad++;
      }
    }
  }
  return bad;
}

/* --------------------------------------------------------------- crash points */

static const char *const cr_points[] = {"push-before-upload",  "push-after-upload",
                                        "push-recorded",       "pull-downloaded",
                                        "apply-before-commit", "apply-after-commit"};
#define CR_NPOINTS (sizeof cr_points / sizeof cr_points[0])
#define CR_MAX_PASSES 12

static void cr_every_point(int kind) {
  fx_tpl t;
  fx_template(&t, kind);
  for (size_t p = 0; p < CR_NPOINTS; p++) {
    int reached = 0;
    for (int n = 1; n <= CR_MAX_PASSES; n++) {
      char spec[64], when[96];
      snprintf(spec, sizeof spec, "%s:%d", cr_points[p], n);
      snprintf(when, sizeof when, "%s, killed at %s", fx_kind_names[kind], spec);
      fx f;
      fx_copy(&f, &t);
      int64_t own_top = cr_own_top(&f);
      cr_how how = {spec, 0, 0};
      int how_ended = cr_run_child(&f, &how);
      BL_CHECK(how_ended != CR_OTHER);
      int bad = cr_check(&f, when, own_top);
      if (bad) fprintf(stderr, "  ^ %s: %d violations\n", when, bad);
      BL_CHECK_INT(bad, 0);
      fx_close(&f);
      if (how_ended != CR_DIED) break;
      reached = n;
    }
    /* Every point is passed at least once by these syncs (the first push
     * pulls, too; only a sync with nothing to push skips the push points). */
    if (!reached) fprintf(stderr, "  %s: %s never reached\n", fx_kind_names[kind], cr_points[p]);
    BL_CHECK(reached > 0);
  }
  fx_template_free(&t);
}

static void test_sync_crash__points_steady(void) { cr_every_point(FX_STEADY); }
static void test_sync_crash__points_first_push(void) { cr_every_point(FX_FIRST_PUSH); }
static void test_sync_crash__points_bootstrap(void) { cr_every_point(FX_BOOTSTRAP); }

/* ---------------------------------------------- the fault wrapper's crash mode */

static void cr_every_call(int kind) {
  fx_tpl t;
  fx_template(&t, kind);
  unsigned char failed[REC_MAX];
  unsigned total = fx_count_calls(&t, failed);
  BL_REQUIRE(total >= 5);
  for (unsigned n = 1; n <= total; n++) {
    for (int when = BL__FAULT_BEFORE; when <= BL__FAULT_AFTER; when++) {
      char what[96];
      snprintf(what, sizeof what, "%s, killed %s call %u of %u", fx_kind_names[kind],
               when == BL__FAULT_BEFORE ? "before" : "after", n, total);
      fx f;
      fx_copy(&f, &t);
      int64_t own_top = cr_own_top(&f);
      cr_how how = {NULL, n, when};
      BL_CHECK_INT(cr_run_child(&f, &how), CR_DIED);
      int bad = cr_check(&f, what, own_top);
      if (bad) fprintf(stderr, "  ^ %s: %d violations\n", what, bad);
      BL_CHECK_INT(bad, 0);
      fx_close(&f);
    }
  }
  fx_template_free(&t);
}

static void test_sync_crash__remote_calls_steady(void) { cr_every_call(FX_STEADY); }
static void test_sync_crash__remote_calls_first_push(void) { cr_every_call(FX_FIRST_PUSH); }
static void test_sync_crash__remote_calls_bootstrap(void) { cr_every_call(FX_BOOTSTRAP); }

/* The SPEC's idempotent push: killed after cs-N reached the cloud, before
 * it was recorded. Another device pulls cs-N meanwhile; the device writes
 * more before its next sync. That device must still get the new writes,
 * whether the next push rewrites cs-N or writes cs-N+1. */
static void test_sync_crash__after_upload_then_new_writes(void) {
  char *dir = th_tmpdir();
  bl_db *a = th_open(dir, "a.db", NULL), *b = th_open(dir, "b.db", NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id) VALUES ('first')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  th_exec(a, "INSERT INTO todos (id) VALUES ('x')");
  bl_close(a);
  fflush(NULL);
  pid_t pid = fork();
  BL_REQUIRE(pid >= 0);
  if (pid == 0) {
    setenv("BL_TEST_CRASH_AT", "push-after-upload", 1);
    bl_db *ca = th_open(dir, "a.db", NULL);
    bl_remote *cr = th_remote(dir);
    bl_sync_result cres = BL_SYNC_RESULT_INIT;
    bl_sync(ca, cr, &cres);
    _exit(0);
  }
  int status = 0;
  BL_REQUIRE(waitpid(pid, &status, 0) == pid);
  BL_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE id = 'x'"), 1); /* cs-2 was there */
  a = th_open(dir, "a.db", NULL);
  th_exec(a, "INSERT INTO todos (id) VALUES ('y')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE id = 'y'"), 1);
  bl_db *dbs[2] = {a, b};
  BL_CHECK(th_converged(dbs, 2, "after upload, then new writes"));
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(b);
  bl_remote_free(r);
  th_rmtree(dir);
  free(dir);
}

/* ------------------------------------------------------------- timed kills */

/* The child: writes batches of rows "k<pid>-<batch>-<j>" and syncs, until
 * it is killed. */
static void cr_batch_child(const char *dir) {
  bl_db *a = fx_open_db(dir, "a.db");
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  for (int batch = 0; batch < 1000; batch++) {
    th_exec(a, "BEGIN");
    for (int j = 0; j < 200; j++)
      th_execf(a, "INSERT INTO todos (id, title) VALUES ('k%d-%d-%d', 'batch row')", (int)getpid(),
               batch, j);
    th_exec(a,
            "UPDATE todos SET done = done + 1 WHERE id IN (SELECT id FROM todos ORDER BY random() "
            "LIMIT 20)");
    th_exec(a, "COMMIT");
    bl_sync(a, r, &res);
  }
  bl_sync_result_free(&res);
  bl_remote_free(r);
  bl_close(a);
}

static void test_sync_crash__timed_kills(void) {
  const char *env = getenv("BL_CRASH_KILLS");
  int kills = env && *env ? atoi(env) : 20;
  char *dir = th_tmpdir();
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  /* a exists before the first child (its database and device id). */
  bl_db *a = th_open(dir, "a.db", &FX_OPTS);
  char a_id[37];
  memcpy(a_id, bl_device_id(a), 37);
  bl_close(a);
  bl_db *b = th_open(dir, "b.db", &FX_OPTS);
  srand((unsigned)time(NULL));
  int died = 0;
  for (int k = 0; k < kills; k++) {
    /* b pushes a batch the child will pull. */
    th_exec(b, "BEGIN");
    for (int j = 0; j < 100; j++)
      th_execf(b, "INSERT INTO notes (id, body) VALUES (%d, 'from b')", k * 100 + j);
    th_exec(b, "COMMIT");
    BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
    fflush(NULL);
    pid_t pid = fork();
    BL_REQUIRE(pid >= 0);
    if (pid == 0) {
      cr_batch_child(dir);
      _exit(0);
    }
    struct timespec ts = {0, (long)(1 + rand() % 50) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    BL_REQUIRE(waitpid(pid, &status, 0) == pid);
    died += WIFSIGNALED(status);
  }
  BL_CHECK(died > 0);

  /* Recovery: a opens cleanly, syncs, and everyone converges. */
  a = th_open(dir, "a.db", &FX_OPTS);
  BL_CHECK_INT(
      th_int(a, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);
  int64_t rows_a = th_int(a, "SELECT count(*) FROM todos");
  bl_db *c = th_open(dir, "c.db", &FX_OPTS);
  bl_db *dbs[3] = {a, b, c};
  BL_CHECK_INT(th_sync_rounds(dbs, 3, r, 2), 0);
  BL_CHECK(th_converged(dbs, 3, "timed kills"));
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos"), rows_a); /* nothing a committed was lost */
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM notes"), 100 * kills);
  int64_t lo = 0, hi = 0, snaps[64];
  BL_CHECK(th_cs_contiguous(dir, a_id, &lo, &hi));
  int ns = th_cloud_seqs(dir, a_id, "snapshot-", snaps, 64);
  int64_t top = ns && snaps[ns - 1] > hi ? snaps[ns - 1] : hi;
  BL_CHECK_INT(th_cursor(a, a_id), top);
  BL_CHECK(th_cursor(b, a_id) <= top && th_cursor(c, a_id) <= top);
  if (getenv("BL_TEST_VERBOSE"))
    fprintf(stderr, "  %d kills (%d by the signal), a committed %lld rows, pushed up to %lld\n",
            kills, died, (long long)rows_a, (long long)top);
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(b);
  bl_close(c);
  bl_remote_free(r);
  th_rmtree(dir);
  free(dir);
}

static const bl_test_case cases[] = {
    BL_TEST(test_sync_crash__points_steady),
    BL_TEST(test_sync_crash__points_first_push),
    BL_TEST(test_sync_crash__points_bootstrap),
    BL_TEST(test_sync_crash__remote_calls_steady),
    BL_TEST(test_sync_crash__remote_calls_first_push),
    BL_TEST(test_sync_crash__remote_calls_bootstrap),
    BL_TEST(test_sync_crash__after_upload_then_new_writes),
    BL_TEST(test_sync_crash__timed_kills),
};

BL_TEST_MAIN(cases)
