/*
 * fixture.h — the worlds of the fault and crash tests (faults.c, crash.c):
 * devices a (the one under test), b and c on one folder remote, whose
 * files each add one row, so that "a cursor k means rows 1..k" can be
 * checked; templates copied for each run; the invariants checked after a
 * failure and after recovery. And a recording pass-through remote.
 */
#ifndef BL_TEST_SYNC_FIXTURE_H
#define BL_TEST_SYNC_FIXTURE_H

#include <stdio.h>

#include "helpers.h"

/* A pass-through remote that records the status of each call reaching
 * it (rc[i] for call i + 1), to tell which calls of a clean sync failed by
 * themselves. Freed with bl_remote_free (the inner remote is borrowed). */
#define REC_MAX 512
typedef struct rec_remote {
  bl_remote base;
  bl_remote *inner;
  int rc[REC_MAX];
  size_t n;
} rec_remote;

/* One device of a fixture and what its files hold. */
typedef struct fx_dev {
  const char *name; /* row prefix and database file "<name>.db" */
  int files;        /* its pushes: file k adds row <name><k> */
  bl_db *db;
} fx_dev;

typedef struct fx {
  char *base;    /* temporary folder holding `dir` */
  char *dir;     /* the world: databases and cloud */
  fx_dev dev[3]; /* dev[0] ("a") is the device under test */
  int ndev;
  const char *local;  /* a's unpushed row ("p1", "p2"), NULL when none */
  int b1_edit;        /* a set done = 1 on row b1 */
  const char *exempt; /* a row a may hold whatever its cursors say (it
                       * came with a's own snapshot), NULL when none */
  bl_remote *folder;  /* the folder remote at "<dir>/cloud" */
  bl_remote *rec;     /* records the calls reaching the folder */
  bl_remote *fault;   /* a fault wrapper around rec */
} fx;

enum { FX_STEADY, FX_FIRST_PUSH, FX_BOOTSTRAP, FX_KINDS };
extern const char *const fx_kind_names[];

/* What a template looks like, to open copies of it. */
typedef struct fx_tpl {
  char *dir;
  int kind;
  int files[3];
} fx_tpl;

/* Options of every fixture device: snapshot threshold 2, grace 2. */
extern const th_opts FX_OPTS;

bl_remote *rec_new(bl_remote *inner);

/* Device d pushes `n` files (bl_push: it never pulls, so its snapshots
 * only hold its own rows), each adding its next row. */
void fx_push_rows(fx_dev *d, bl_remote *r, int n);
/* th_open with FX_OPTS, then PRAGMA synchronous = OFF: these tests kill
 * processes, they do not cut the power, and what a killed process wrote
 * is in the OS's cache whether it was synced or not; the fsyncs only cost
 * time. */
bl_db *fx_open_db(const char *dir, const char *file);
/* Opens devices a, b, c in f->dir and the remotes. */
void fx_open_devices(fx *f);
/* A new, empty world (devices open). */
void fx_new(fx *f);
/* Closes what is open and removes the world's folder. */
void fx_close(fx *f);
/* Sets local / b1_edit / exempt as template kind `kind` leaves them. */
void fx_set_kind(fx *f, int kind);
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
void fx_template(fx_tpl *t, int kind);
void fx_template_free(fx_tpl *t);
/* Copies template t into a new world without opening anything (its
 * kind and file counts are set; fx_open_devices opens it). */
void fx_copy(fx *f, const fx_tpl *t);
/* fx_copy, then fx_open_devices. */
void fx_open(fx *f, const fx_tpl *t);
/* 1 when todos has a row with this id. */
int fx_has_row(bl_db *db, const char *id);
/*
 * Nothing half-applied, nothing applied without its cursor: on device x,
 * for every device d of the fixture, x's cursor for d is k and rows
 * d1..dk are there and d(k+1).. are not. x's own rows are its own writes
 * when own_local (only "present" is checked then). Returns the number of
 * violations (each printed).
 */
int fx_check_prefixes(fx *f, fx_dev *x, int own_local, const char *when);
/* Every device's folder can be walked (th_cs_contiguous); no cursor of the
 * devices dbs[0..n) points beyond the highest file of the folder it is
 * for; each fixture device's own cursor is its highest file. Returns
 * violations. */
int fx_check_folders(fx *f, bl_db **dbs, int n, const char *when);
/* The fault is gone: everyone syncs once, a first, then a fresh device joins: all
 * must be equal and hold every row of every file, and a's unpushed
 * changes. Returns violations. */
int fx_recover(fx *f, const char *when);
/* Calls of a clean sync of a from template t (0 when the clean sync
 * fails); failed[i] = 1 when call i+1 failed by itself (e.g. listing a
 * folder that does not exist yet). */
unsigned fx_count_calls(const fx_tpl *t, unsigned char failed[REC_MAX]);

#endif
