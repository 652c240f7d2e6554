/*
 * fixture.c — see fixture.h.
 *
 * Divided into: the recording remote; building and opening worlds; the
 * invariants.
 */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "remote/fault.h"

/* ----------------------------------------------------------------- recorder */

/* A pass-through remote that records each call's status, to tell which
 * calls of a clean sync failed by themselves (a "fail after" injected into
 * such a call changes nothing, so nothing needs reporting). */
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

bl_remote *rec_new(bl_remote *inner) {
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

const th_opts FX_OPTS = {.threshold = 2, .grace = 2};
const char *const fx_kind_names[] = {"steady", "first push", "bootstrap"};

/* Device d pushes `n` files (bl_push: it never pulls, so its snapshots
 * only hold its own rows), each adding its next row. */
void fx_push_rows(fx_dev *d, bl_remote *r, int n) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  for (int i = 0; i < n; i++) {
    d->files++;
    th_execf(d->db, "INSERT INTO todos (id, title) VALUES ('%s%d', 'row %d of %s')", d->name,
             d->files, d->files, d->name);
    if (bl_push(d->db, r, &res) != BL_OK || res.files_pushed < 1) {
      fprintf(stderr, "fixture: push of %s failed: %s\n", d->name, bl_errmsg(d->db));
      exit(2);
    }
  }
  bl_sync_result_free(&res);
}

/* Opens devices a, b, c in f->dir and the remotes. */
bl_db *fx_open_db(const char *dir, const char *file) {
  bl_db *db = th_open(dir, file, &FX_OPTS);
  th_exec(db, "PRAGMA synchronous = OFF");
  return db;
}

void fx_open_devices(fx *f) {
  static const char *const names[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    char file[16];
    snprintf(file, sizeof file, "%s.db", names[i]);
    f->dev[i].name = names[i];
    f->dev[i].db = fx_open_db(f->dir, file);
  }
  f->ndev = 3;
  f->folder = th_remote(f->dir);
  f->rec = rec_new(f->folder);
  if (bl__remote_fault_new(&f->fault, f->rec) != BL_OK) exit(2);
}

/* A new, empty world. */
void fx_new(fx *f) {
  memset(f, 0, sizeof *f);
  f->base = th_tmpdir();
  if (asprintf(&f->dir, "%s/w", f->base) < 0) exit(2);
  mkdir(f->dir, 0755);
  fx_open_devices(f);
}

void fx_close(fx *f) {
  for (int i = 0; i < f->ndev; i++) bl_close(f->dev[i].db);
  bl_remote_free(f->fault);
  bl_remote_free(f->rec);
  bl_remote_free(f->folder);
  th_rmtree(f->base);
  free(f->base);
  free(f->dir);
}

void fx_set_kind(fx *f, int kind) {
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
void fx_template(fx_tpl *t, int kind) {
  fx f;
  fx_new(&f);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  fx_dev *a = &f.dev[0], *b = &f.dev[1], *c = &f.dev[2];
  fx_push_rows(b, f.folder, 1);
  if (kind != FX_FIRST_PUSH) {
    fx_push_rows(a, f.folder, 3);
    if (bl_pull(a->db, f.folder, &res) != BL_OK || th_cursor(a->db, bl_device_id(b->db)) != 1)
      exit(2);
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

void fx_template_free(fx_tpl *t) {
  char *slash = strrchr(t->dir, '/');
  *slash = '\0';
  th_rmtree(t->dir);
  free(t->dir);
}

void fx_copy(fx *f, const fx_tpl *t) {
  memset(f, 0, sizeof *f);
  f->base = th_tmpdir();
  if (asprintf(&f->dir, "%s/w", f->base) < 0) exit(2);
  if (th_copytree(t->dir, f->dir) != 0) {
    fprintf(stderr, "cannot copy %s\n", t->dir);
    exit(2);
  }
  static const char *const names[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    f->dev[i].name = names[i];
    f->dev[i].files = t->files[i];
  }
  fx_set_kind(f, t->kind);
}

void fx_open(fx *f, const fx_tpl *t) {
  fx_copy(f, t);
  fx_open_devices(f);
}

/* -------------------------------------------------------------- invariants */

int fx_has_row(bl_db *db, const char *id) {
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
int fx_check_prefixes(fx *f, fx_dev *x, int own_local, const char *when) {
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
        fprintf(stderr, "  %s: on %s the cursor for %s is %lld but row %s is %s\n", when, x->name,
                d->name, (long long)k, id, have ? "there" : "missing");
        bad++;
      }
    }
  }
  return bad;
}

/* Every device's folder can be walked (th_cs_contiguous); no cursor of the
 * devices dbs[0..n) points beyond the highest file of the folder it is
 * for; each fixture device's own cursor is its highest file. Returns
 * violations. */
int fx_check_folders(fx *f, bl_db **dbs, int n, const char *when) {
  int bad = 0;
  for (int i = 0; i < f->ndev; i++) {
    const char *id = bl_device_id(f->dev[i].db);
    int64_t lo = 0, hi = 0, snaps[64];
    if (!th_cs_contiguous(f->dir, id, &lo, &hi)) {
      fprintf(stderr, "  %s: the folder of %s has a hole between cs-%lld and cs-%lld\n", when,
              f->dev[i].name, (long long)lo, (long long)hi);
      bad++;
    }
    int ns = th_cloud_seqs(f->dir, id, "snapshot-", snaps, 64);
    int64_t top = ns > 0 && snaps[ns - 1] > hi ? snaps[ns - 1] : hi;
    for (int j = 0; j < n; j++) {
      int64_t k = th_cursor(dbs[j], id);
      if (k > top) {
        fprintf(stderr, "  %s: a cursor for %s is %lld, beyond its highest file %lld\n", when,
                f->dev[i].name, (long long)k, (long long)top);
        bad++;
      }
    }
    int64_t own = th_cursor(f->dev[i].db, id);
    if (own != top) {
      fprintf(stderr, "  %s: %s's own cursor is %lld, its highest file %lld\n", when,
              f->dev[i].name, (long long)own, (long long)top);
      bad++;
    }
  }
  return bad;
}

/* The fault is gone: everyone syncs once, a first, then a fresh device joins: all
 * must be equal and hold every row of every file, and a's unpushed
 * changes. Returns violations. */
int fx_recover(fx *f, const char *when) {
  bl_db *dbs[4];
  for (int i = 0; i < f->ndev; i++) dbs[i] = f->dev[i].db;
  /* One round is enough: only a has changes of its own to push, and it goes
   * first. */
  int bad = th_sync_rounds(dbs, f->ndev, f->folder, 1);
  bl_db *fresh = fx_open_db(f->dir, "fresh.db");
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
  if (f->b1_edit &&
      (!fx_has_row(fresh, "p1") || th_int(fresh, "SELECT done FROM todos WHERE id = 'b1'") != 1)) {
    fprintf(stderr, "  %s: after recovery a's edits (p1, b1.done) are missing\n", when);
    bad++;
  }
  bad += fx_check_folders(f, dbs, f->ndev + 1, when);
  bl_close(fresh);
  return bad;
}

/* Calls of a clean sync of a from template t (0 when the clean sync
 * fails); failed[i] = 1 when call i+1 failed by itself (e.g. listing a
 * folder that does not exist yet). */
unsigned fx_count_calls(const fx_tpl *t, unsigned char failed[REC_MAX]) {
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
