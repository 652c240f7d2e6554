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
 *     everything, and every folder holds contiguous changesets;
 *   - a lost upload response followed by new local writes;
 *   - torn writes of a changeset (an error for readers until the writer
 *     rewrites it) and of a snapshot;
 *   - stale listings (an eventually consistent store): nothing skipped;
 *   - request counts of an idle sync with 10 remote devices.
 *
 * Every file of device X adds a row "X<k>" to todos (k = the file's
 * sequence; a snapshot k holds rows 1..k), which is what makes "cursor k
 * means rows 1..k" checkable.
 *
 * Divided into: fixtures; invariants; the every-call loop; single cases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "helpers.h"
#include "remote/fault.h"

/* ----------------------------------------------------------------- recorder */

/* A pass-through remote that records each call's status, to tell which
 * calls of a clean sync failed by themselves (a "fail after" injected into
 * such a call changes nothing, so nothing needs reporting). */
#define REC_MAX 512
typedef struct rec_remote {
  bl_remote base;
  bl_remote *inner;
  int rc[REC_MAX];
  size_t n;
} rec_remote;

static int rec_note(rec_remote *r, int rc) {
  if (r->n < REC_MAX) r->rc[r->n] = rc;
  r->n++;
  if (rc != BL_OK) bl_remote_set_error(&r->base, rc, "%s", bl_remote_errmsg(r->inner));
  return rc;
}
static int rec_list(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count) {
  return rec_note((rec_remote *)r, bl_remote_list(((rec_remote *)r)->inner, path, out, count));
}
static int rec_read(bl_remote *r, const char *path, bl_remote_sink sink, void *payload) {
  return rec_note((rec_remote *)r, bl_remote_read(((rec_remote *)r)->inner, path, sink, payload));
}
static int rec_write(bl_remote *r, const char *path, FILE *src, int64_t size) {
  return rec_note((rec_remote *)r, bl_remote_write(((rec_remote *)r)->inner, path, src, size));
}
static int rec_remove(bl_remote *r, const char *path) {
  return rec_note((rec_remote *)r, bl_remote_remove(((rec_remote *)r)->inner, path));
}
static int rec_mkdir(bl_remote *r, const char *path) {
  return rec_note((rec_remote *)r, bl_remote_mkdir(((rec_remote *)r)->inner, path));
}
static void rec_free(bl_remote *r) { free(r); }

static bl_remote *rec_new(bl_remote *inner) {
  rec_remote *r = calloc(1, sizeof *r);
  if (!r) exit(2);
  r->base.version = BL_REMOTE_VERSION;
  r->base.list = rec_list;
  r->base.read = rec_read;
  r->base.write = rec_write;
  r->base.remove = rec_remove;
  r->base.mkdir = rec_mkdir;
  r->base.free = rec_free;
  r->inner = inner;
  return &r->base;
}

/* ---------------------------------------------------------------- fixtures */

static const th_opts FX_OPTS = {.threshold = 2, .grace = 2};

/* One device of a fixture and what its files hold. */
typedef struct fx_dev {
  const char *name; /* row prefix and database file "<name>.db" */
  int files;        /* its pushes: file k adds row <name><k> */
  bl_db *db;
} fx_dev;

typedef struct fx {
  char *base;          /* temporary folder holding `dir` */
  char *dir;           /* the world: databases and cloud */
  fx_dev dev[3];       /* dev[0] ("a") is the device under test */
  int ndev;
  const char *local;   /* a's unpushed row ("p1", "p2"), NULL when none */
  int b1_edit;         /* a set done = 1 on row b1 */
  const char *exempt;  /* a row a may hold whatever its cursors say (it
                        * came with a's own snapshot), NULL when none */
  bl_remote *folder;
  bl_remote *rec;   /* records the calls reaching the folder */
  bl_remote *fault; /* wraps rec */
} fx;

enum { FX_STEADY, FX_FIRST_PUSH, FX_BOOTSTRAP, FX_KINDS };
static const char *const fx_kind_names[] = {"steady", "first push", "bootstrap"};

/* What a template looks like, to open copies of it. */
typedef struct fx_tpl {
  char *dir;
  int kind;
  int files[3];
} fx_tpl;

/* Device d pushes `n` files (bl_push: it never pulls, so its snapshots
 * only hold its own rows), each adding its next row. */
static void fx_push_rows(fx_dev *d, bl_remote *r, int n) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  for (int i = 0; i < n; i++) {
    d->files++;
    th_execf(d->db, "INSERT INTO todos (id, title) VALUES ('%s%d', 'row %d of %s')", d->name, d->files, d->files,
             d->name);
    if (bl_push(d->db, r, &res) != BL_OK || res.files_pushed < 1) {
      fprintf(stderr, "fixture: push of %s failed: %s\n", d->name, bl_errmsg(d->db));
      exit(2);
    }
  }
  bl_sync_result_free(&res);
}

/* Opens devices a, b, c in f->dir and the remotes. */
static void fx_open_devices(fx *f) {
  static const char *const names[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    char file[16];
    snprintf(file, sizeof file, "%s.db", names[i]);
    f->dev[i].name = names[i];
    f->dev[i].db = th_open(f->dir, file, &FX_OPTS);
  }
  f->ndev = 3;
  f->folder = th_remote(f->dir);
  f->rec = rec_new(f->folder);
  if (bl__remote_fault_new(&f->fault, f->rec) != BL_OK) exit(2);
}

/* A new, empty world. */
static void fx_new(fx *f) {
  memset(f, 0, sizeof *f);
  f->base = th_tmpdir();
  if (asprintf(&f->dir, "%s/w", f->base) < 0) exit(2);
  mkdir(f->dir, 0755);
  fx_open_devices(f);
}

static void fx_close(fx *f) {
  for (int i = 0; i < f->ndev; i++) bl_close(f->dev[i].db);
  bl_remote_free(f->fault);
  bl_remote_free(f->rec);
  bl_remote_free(f->folder);
  th_rmtree(f->base);
  free(f->base);
  free(f->dir);
}

static void fx_set_kind(fx *f, int kind) {
  f->local = kind == FX_BOOTSTRAP ? "p2" : "p1";
  f->b1_edit = kind != FX_FIRST_PUSH;
  f->exempt = kind == FX_BOOTSTRAP ? "b1" : NULL;
}

/*
 * Builds starting point `kind` and closes it into a template. In all of
 * them b pushed 3 files (snapshot 2) and c 5 (snapshots 2, 4; cs-1, cs-2
 * compacted), without ever pulling.
 *   steady:     a pushed 3 (cs-1..3, snapshot 2), then pulled b's first
 *               file, then wrote 'p1' and done = 1 on 'b1': its sync pulls
 *               4 files, pushes cs-4 + snapshot-4 and compacts.
 *   first push: a never synced; it wrote 'p1': its sync creates its folder.
 *   bootstrap:  as steady, then a pushed twice more (a4 with p1 and the b1
 *               edit, a5: snapshots 2, 4, cs-3..5), cleared its data and
 *               wrote 'p2': its sync restores its own folder (snapshot-4,
 *               cs-5) and then b's and c's.
 */
static void fx_template(fx_tpl *t, int kind) {
  fx f;
  fx_new(&f);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  fx_dev *a = &f.dev[0], *b = &f.dev[1], *c = &f.dev[2];
  fx_push_rows(b, f.folder, 1);
  if (kind != FX_FIRST_PUSH) {
    fx_push_rows(a, f.folder, 3);
    if (bl_pull(a->db, f.folder, &res) != BL_OK || th_cursor(a->db, bl_device_id(b->db)) != 1) exit(2);
  }
  fx_push_rows(b, f.folder, 2);
  fx_push_rows(c, f.folder, 5);
  th_exec(a->db, "INSERT INTO todos (id, title) VALUES ('p1', 'unpushed')");
  if (kind != FX_FIRST_PUSH) th_exec(a->db, "UPDATE todos SET done = 1 WHERE id = 'b1'");
  if (kind == FX_BOOTSTRAP) {
    fx_push_rows(a, f.folder, 2);
    if (bl_clear_all_data(a->db) != BL_OK) exit(2);
    th_exec(a->db, "INSERT INTO todos (id, title) VALUES ('p2', 'written after the sign-out')");
  }
  bl_sync_result_free(&res);
  t->kind = kind;
  for (int i = 0; i < 3; i++) t->files[i] = f.dev[i].files;
  for (int i = 0; i < 3; i++) bl_close(f.dev[i].db);
  f.ndev = 0;
  /* Keep the world: move it out of f's base before fx_close removes it. */
  char *keep = th_tmpdir();
  if (asprintf(&t->dir, "%s/w", keep) < 0 || th_copytree(f.dir, t->dir) != 0) exit(2);
  free(keep);
  fx_close(&f);
}

static void fx_template_free(fx_tpl *t) {
  char *slash = strrchr(t->dir, '/');
  *slash = '\0';
  th_rmtree(t->dir);
  free(t->dir);
}

/* Opens a copy of template t. */
static void fx_open(fx *f, const fx_tpl *t) {
  memset(f, 0, sizeof *f);
  f->base = th_tmpdir();
  if (asprintf(&f->dir, "%s/w", f->base) < 0) exit(2);
  if (th_copytree(t->dir, f->dir) != 0) {
    fprintf(stderr, "cannot copy %s\n", t->dir);
    exit(2);
  }
  fx_open_devices(f);
  for (int i = 0; i < 3; i++) f->dev[i].files = t->files[i];
  fx_set_kind(f, t->kind);
}

/* -------------------------------------------------------------- invariants */

static int fx_has_row(bl_db *db, const char *id) {
  char *sql = sqlite3_mprintf("SELECT count(*) FROM todos WHERE id = %Q", id);
  int64_t n = th_int(db, sql);
  sqlite3_free(sql);
  return n == 1;
}

/*
 * Nothing half-applied, nothing applied without its cursor: on device x,
 * for every device d of the fixture, x's cursor for d is k and rows
 * d1..dk are there and d(k+1).. are not. x's own rows are its own writes
 * when own_local (only "present" is checked then). Returns the number of
 * violations (each printed).
 */
static int fx_check_prefixes(fx *f, fx_dev *x, int own_local, const char *when) {
  int bad = 0;
  for (int i = 0; i < f->ndev; i++) {
    fx_dev *d = &f->dev[i];
    int64_t k = th_cursor(x->db, bl_device_id(d->db));
    for (int j = 1; j <= d->files; j++) {
      char id[32];
      snprintf(id, sizeof id, "%s%d", d->name, j);
      int have = fx_has_row(x->db, id);
      int exempt = x == &f->dev[0] && f->exempt && !strcmp(id, f->exempt);
      if ((j <= k || (d == x && own_local)) ? !have : (have && !exempt)) {
        fprintf(stderr, "  %s: on %s the cursor for %s is %lld but row %s is %s\n", when, x->name, d->name,
                (long long)k, id, have ? "there" : "missing");
        bad++;
      }
    }
  }
  return bad;
}

/* Every device's folder holds contiguous cs files; no cursor of the
 * devices dbs[0..n) points beyond the highest file of the folder it is
 * for; each fixture device's own cursor is its highest file. Returns
 * violations. */
static int fx_check_folders(fx *f, bl_db **dbs, int n, const char *when) {
  int bad = 0;
  for (int i = 0; i < f->ndev; i++) {
    const char *id = bl_device_id(f->dev[i].db);
    int64_t lo = 0, hi = 0, snaps[64];
    if (!th_cs_contiguous(f->dir, id, &lo, &hi)) {
      fprintf(stderr, "  %s: the folder of %s has a hole between cs-%lld and cs-%lld\n", when, f->dev[i].name,
              (long long)lo, (long long)hi);
      bad++;
    }
    int ns = th_cloud_seqs(f->dir, id, "snapshot-", snaps, 64);
    int64_t top = ns > 0 && snaps[ns - 1] > hi ? snaps[ns - 1] : hi;
    for (int j = 0; j < n; j++) {
      int64_t k = th_cursor(dbs[j], id);
      if (k > top) {
        fprintf(stderr, "  %s: a cursor for %s is %lld, beyond its highest file %lld\n", when, f->dev[i].name,
                (long long)k, (long long)top);
        bad++;
      }
    }
    int64_t own = th_cursor(f->dev[i].db, id);
    if (own != top) {
      fprintf(stderr, "  %s: %s's own cursor is %lld, its highest file %lld\n", when, f->dev[i].name, (long long)own,
              (long long)top);
      bad++;
    }
  }
  return bad;
}

/* The fault is gone: everyone syncs twice, then a fresh device joins: all
 * must be equal and hold every row of every file, and a's unpushed
 * changes. Returns violations. */
static int fx_recover(fx *f, const char *when) {
  bl_db *dbs[4];
  for (int i = 0; i < f->ndev; i++) dbs[i] = f->dev[i].db;
  int bad = th_sync_rounds(dbs, f->ndev, f->folder, 2);
  bl_db *fresh = th_open(f->dir, "fresh.db", &FX_OPTS);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  if (th_sync(fresh, f->folder, &res) != BL_OK) {
    fprintf(stderr, "  %s: a fresh device cannot sync: %s\n", when, bl_errmsg(fresh));
    bad++;
  }
  bl_sync_result_free(&res);
  dbs[f->ndev] = fresh;
  if (!th_converged(dbs, f->ndev + 1, when)) bad++;
  for (int i = 0; i < f->ndev; i++)
    for (int j = 1; j <= f->dev[i].files; j++) {
      char id[32];
      snprintf(id, sizeof id, "%s%d", f->dev[i].name, j);
      if (!fx_has_row(fresh, id)) {
        fprintf(stderr, "  %s: after recovery row %s is missing\n", when, id);
        bad++;
      }
    }
  if (f->local && !fx_has_row(fresh, f->local)) {
    fprintf(stderr, "  %s: after recovery a's unpushed row %s is missing\n", when, f->local);
    bad++;
  }
  if (f->b1_edit && (!fx_has_row(fresh, "p1") || th_int(fresh, "SELECT done FROM todos WHERE id = 'b1'") != 1)) {
    fprintf(stderr, "  %s: after recovery a's edits (p1, b1.done) are missing\n", when);
    bad++;
  }
  bad += fx_check_folders(f, dbs, f->ndev + 1, when);
  bl_close(fresh);
  return bad;
}

/* -------------------------------------------------------- the every-call loop */

/* Calls of a clean sync of a from template t (0 when the clean sync
 * fails); failed[i] = 1 when call i+1 failed by itself (e.g. listing a
 * folder that does not exist yet). */
static unsigned fx_count_calls(const fx_tpl *t, unsigned char failed[REC_MAX]) {
  fx f;
  fx_open(&f, t);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  int rc = th_sync(f.dev[0].db, f.fault, &res);
  unsigned n = (unsigned)bl__fault_calls(f.fault, BL__FAULT_ANY);
  rec_remote *r = (rec_remote *)f.rec;
  if (rc != BL_OK || n != r->n || n > REC_MAX) {
    fprintf(stderr, "  clean sync failed: %s\n", bl_errmsg(f.dev[0].db));
    n = 0;
  }
  for (unsigned i = 0; i < n; i++) failed[i] = r->rc[i] != BL_OK;
  bl_sync_result_free(&res);
  fx_close(&f);
  return n;
}

/* Fails the n-th call of a's sync from template t (after = 0: before it
 * reaches the folder; 1: after it was done), then checks; returns the
 * number of violations. */
static int fx_fail_one(const fx_tpl *t, unsigned n, int after, int failed_anyway) {
  fx f;
  fx_open(&f, t);
  fx_dev *a = &f.dev[0];
  char when[128];
  snprintf(when, sizeof when, "%s, call %u failing %s", fx_kind_names[t->kind], n, after ? "after" : "before");
  int bad = 0;
  if (after) bl__fault_fail_after(f.fault, BL__FAULT_ANY, n, BL_EIO);
  else bl__fault_fail(f.fault, BL__FAULT_ANY, n, BL_EIO);
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
        fprintf(stderr, "  ^ %s: call %u of %u failing %s: %d violations (replay: BL_FAULT_CALL=%u)\n",
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
    snprintf(when, sizeof when, "cs-4 torn after %lld of %lld bytes", (long long)keeps[i], (long long)size);
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
    fprintf(stderr, "  idle sync, %d remote devices: %llu lists, %llu reads, %llu writes\n", REMOTES,
            (unsigned long long)lists, (unsigned long long)bl__fault_calls(f, BL__FAULT_READ),
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
    BL_TEST(test_sync_faults__torn_changeset),
    BL_TEST(test_sync_faults__torn_snapshot),
    BL_TEST(test_sync_faults__stale_listings),
    BL_TEST(test_sync_faults__idle_request_count),
};

BL_TEST_MAIN(cases)
