/*
 * bench_crdt.c — performance of the CRDT engine, as ratios against plain
 * SQLite measured in the same run (SPEC section 11; docs/PERFORMANCE.md).
 *
 * A benchmark program, never a timed test: it prints figures and, with
 * --check, exits non-zero when a target is missed.
 *
 * For each table shape (integer primary key, text uuid-like primary key),
 * each storage (a file in WAL mode with synchronous=NORMAL, and :memory:) and
 * each loop mode it measures, best of --repeat runs:
 *
 *   insert   N rows into a plain table        vs  into a CRR (crsql_as_crr)
 *   update   one column of every row, by pk   vs  the same on the CRR
 *   merge    every change of the CRR, read from crsql_changes into memory,
 *            inserted into a fresh CRR through crsql_changes; changes/s
 *            against the plain insert's rows/s
 *
 * Every timed phase is one transaction (BEGIN ... COMMIT included in the
 * time). Loop modes:
 *
 *   stmt   one prepared statement stepped once per row / change with bound
 *          parameters (how an application writes; the headline figures)
 *   sql    one set-based statement (INSERT ... SELECT from a recursive CTE,
 *          UPDATE without WHERE, INSERT INTO crsql_changes SELECT from a
 *          temp table): the "pure-SQL loops" the SPEC's reference numbers
 *          for cr-sqlite were measured with
 *
 * Also reported: clock metadata bytes per row (page_count * page_size of the
 * CRR database minus the plain one, after the insert and after the update)
 * and the peak RSS of the process (getrusage).
 *
 * The row data is generated with xorshift32 exactly as
 * bench/reference_crsqlite.mjs generates it, so both engines see the same rows.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "backless.h"

#define NOINLINE __attribute__((noinline))

#define TARGET_INSERT 2.0 /* CRR insert time / plain insert time, at most */
#define TARGET_UPDATE 3.0 /* CRR update time / plain update time, at most */
#define TARGET_MERGE 1.0  /* merge changes/s / plain insert rows/s, at least */

/* ------------------------------------------------------------------ options */

static struct {
  long rows;
  int repeat;
  int json;
  int check;
  int do_file, do_mem;
  int do_int, do_text;
  int do_stmt, do_sql;
  int cache_kib; /* 0: SQLite's default */
  const char *dir;
  const char *json_out;
  int quiet;
  const char *extension; /* load this extension instead of bl_crdt_register */
  const char *engine_name;
  int floor;
  int floor_variant; /* --floor-variant K: only the baseline and variant K */
  int profile_phase;  /* --profile-phase: 1 insert, 2 update, 3 merge (CRR side) */
  const char *pragmas[8]; /* --pragma, run on every connection */
  int npragmas;
} opt = {100000, 3, 0, 0, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, 0, NULL, NULL, 0, 0, 0, {NULL}, 0};

static char tmpdir[2048]; /* database files live here ("" for none) */
static int own_tmpdir;
static void cleanup_files(void);

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_crdt: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  cleanup_files();
  exit(2);
}

static void progress(const char *fmt, ...) {
  if (opt.quiet) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fflush(stderr);
}

/* ------------------------------------------------------------------ time */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Every timed phase brackets its work with t_start() / t_stop(). The wall
 * time (CLOCK_MONOTONIC) makes the figures; the process CPU time of the same
 * span is kept beside it (last_cpu) as a check on a loaded machine: it does
 * not count time spent waiting for a CPU or for the disk. */
static double t0_wall, t0_cpu, last_cpu;
static void t_start(void) {
  t0_wall = now_s();
  t0_cpu = cpu_s();
}
static double t_stop(void) {
  double w = now_s() - t0_wall;
  last_cpu = cpu_s() - t0_cpu;
  return w;
}

static long peak_rss_kib(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return ru.ru_maxrss; /* KiB on Linux */
}

/* ------------------------------------------------------------------ data */

typedef struct {
  sqlite3_int64 id_int;
  char id_text[40];
  char a[40];
  int b;
  double c;
  int b2; /* value the update writes */
} row_t;

static row_t *rows;

static uint32_t xs_state;
static uint32_t xs32(void) {
  uint32_t x = xs_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return xs_state = x;
}

/* Same generator and formats as reference_crsqlite.mjs. */
static void gen_rows(long n) {
  rows = calloc((size_t)n, sizeof *rows);
  if (!rows) die("out of memory for %ld rows", n);
  xs_state = 2463534242u;
  for (long i = 0; i < n; i++) {
    row_t *r = &rows[i];
    uint32_t u0 = xs32(), u1 = xs32(), u2 = xs32(), u3 = xs32();
    r->id_int = i + 1;
    snprintf(r->id_text, sizeof r->id_text, "%08x-%04x-4%03x-%04x-%08x%04x", u0, u1 >> 16,
             u1 & 0xfff, (u2 >> 16 & 0x3fff) | 0x8000, u3, u2 & 0xffff);
    snprintf(r->a, sizeof r->a, "todo item %ld %08x", i, xs32());
    r->b = (int)(xs32() & 0x7fffffff);
    r->c = (double)(xs32() % 1000000u) / 100.0 + 0.005;
    r->b2 = (int)(xs32() & 0x7fffffff);
  }
}

/* ------------------------------------------------------------------ sqlite */

typedef struct {
  const char *name; /* "int" / "text" */
  const char *ddl;
} shape_t;

static const shape_t SHAPES[2] = {
    {"int", "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a TEXT, b INTEGER, c REAL)"},
    {"text", "CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, a TEXT, b INTEGER, c REAL)"},
};

static void exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
    die("SQL failed: %s\n  in: %s", err ? err : sqlite3_errmsg(db), sql);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    die("prepare failed: %s\n  in: %s", sqlite3_errmsg(db), sql);
  return st;
}

static void step_done(sqlite3 *db, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    die("step failed (%d): %s\n  in: %s", rc, sqlite3_errmsg(db), sqlite3_sql(st));
  sqlite3_reset(st);
}

static sqlite3_int64 query_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = prepare(db, sql);
  sqlite3_int64 v = 0;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  else if (rc != SQLITE_DONE) die("query failed: %s\n  in: %s", sqlite3_errmsg(db), sql);
  sqlite3_finalize(st);
  return v;
}

static void remove_db_files(const char *path);

static void cleanup_files(void) {
  if (!tmpdir[0]) return;
  const char *names[] = {"plain", "crr", "merged", "merged_api"};
  for (int k = 0; k < 4; k++) {
    char path[2100];
    snprintf(path, sizeof path, "%s/%s.db", tmpdir, names[k]);
    remove_db_files(path);
  }
  if (own_tmpdir) rmdir(tmpdir);
  tmpdir[0] = 0;
}

static void remove_db_files(const char *path) {
  char buf[2200];
  unlink(path);
  snprintf(buf, sizeof buf, "%s-wal", path);
  unlink(buf);
  snprintf(buf, sizeof buf, "%s-shm", path);
  unlink(buf);
  snprintf(buf, sizeof buf, "%s-journal", path);
  unlink(buf);
}


/* Opens a fresh database: a new file in the temp dir (removed first), or
 * :memory:. crr: registers the engine on the connection. */
static sqlite3 *open_db(int file, const char *name, int crr, const shape_t *shape) {
  char path[2100];
  sqlite3 *db = NULL;
  if (file) {
    snprintf(path, sizeof path, "%s/%s.db", tmpdir, name);
    remove_db_files(path);
  } else {
    snprintf(path, sizeof path, ":memory:");
  }
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
    die("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
  if (file) exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  if (opt.cache_kib > 0) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d", opt.cache_kib);
    exec(db, sql);
  }
  for (int k = 0; k < opt.npragmas; k++) {
    char sql[512];
    snprintf(sql, sizeof sql, "PRAGMA %s", opt.pragmas[k]);
    exec(db, sql);
  }
  if (crr && opt.extension) {
    char *err = NULL;
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL);
    if (sqlite3_load_extension(db, opt.extension, NULL, &err) != SQLITE_OK)
      die("cannot load %s: %s", opt.extension, err ? err : sqlite3_errmsg(db));
  } else if (crr) {
    char *err = NULL;
    int rc = bl_crdt_register(db, &err);
    if (rc != SQLITE_OK) die("bl_crdt_register failed (%d): %s", rc, err ? err : "?");
  }
  exec(db, shape->ddl);
  if (crr) exec(db, "SELECT crsql_as_crr('t')");
  return db;
}

static void close_db(sqlite3 *db, int crr) {
  if (crr) sqlite3_exec(db, "SELECT crsql_finalize()", NULL, NULL, NULL);
  if (sqlite3_close_v2(db) != SQLITE_OK) die("close failed");
}

static sqlite3_int64 db_bytes(sqlite3 *db) {
  return query_int(db, "PRAGMA page_count") * query_int(db, "PRAGMA page_size");
}

/* ------------------------------------------------------------------ phases */

/* The statement of the stmt-mode insert (--floor also times OR REPLACE). */
static const char *insert_sql = "INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)";
/* Each timed phase is its own non-inlined function so a profiler's call
 * graph separates them (perf report --children). */

static NOINLINE double phase_insert_stmt(sqlite3 *db, int text_pk) {
  sqlite3_stmt *st = prepare(db, insert_sql);
  t_start();
  exec(db, "BEGIN");
  for (long i = 0; i < opt.rows; i++) {
    const row_t *r = &rows[i];
    if (text_pk) sqlite3_bind_text(st, 1, r->id_text, -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, 1, r->id_int);
    sqlite3_bind_text(st, 2, r->a, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, r->b);
    sqlite3_bind_double(st, 4, r->c);
    step_done(db, st);
  }
  exec(db, "COMMIT");
  double t = t_stop();
  sqlite3_finalize(st);
  return t;
}

static NOINLINE double phase_update_stmt(sqlite3 *db, int text_pk) {
  sqlite3_stmt *st = prepare(db, "UPDATE t SET b = ? WHERE id = ?");
  t_start();
  exec(db, "BEGIN");
  for (long i = 0; i < opt.rows; i++) {
    const row_t *r = &rows[i];
    sqlite3_bind_int(st, 1, r->b2);
    if (text_pk) sqlite3_bind_text(st, 2, r->id_text, -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, 2, r->id_int);
    step_done(db, st);
  }
  exec(db, "COMMIT");
  double t = t_stop();
  sqlite3_finalize(st);
  return t;
}

/* Set-based forms. The text id is a uuid-like string whose first group is a
 * bijection of i, so ids are unique and arrive in scattered key order. */
static NOINLINE double phase_insert_sql(sqlite3 *db, int text_pk) {
  char sql[1024];
  snprintf(sql, sizeof sql,
           "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %ld) "
           "INSERT INTO t (id, a, b, c) SELECT %s, 'todo item ' || i || ' ' || "
           "printf('%%08x', (i * 40503) %% 4294967296), (i * 2654435761) %% 2147483648, "
           "((i * 7919) %% 1000000) / 100.0 + 0.005 FROM s",
           opt.rows - 1,
           text_pk ? "printf('%08x-%04x-4%03x-%04x-%012x', (i * 2654435761) % 4294967296, "
                     "(i * 40503) % 65536, (i * 977) % 4096, 32768 + (i * 7919) % 16384, "
                     "(i * 2246822519) % 281474976710656)"
                   : "i + 1");
  t_start();
  exec(db, "BEGIN");
  exec(db, sql);
  exec(db, "COMMIT");
  return t_stop();
}

static NOINLINE double phase_update_sql(sqlite3 *db, int text_pk) {
  (void)text_pk;
  t_start();
  exec(db, "BEGIN");
  exec(db, "UPDATE t SET b = b + 1");
  exec(db, "COMMIT");
  return t_stop();
}

/* ------------------------------------------------------------------ changes */

typedef struct {
  int type;
  sqlite3_int64 i;
  double r;
  void *p;
  int n;
} val_t;

#define NCHCOL 9
typedef struct {
  val_t v[NCHCOL];
} change_t;

static change_t *changes;
static long nchanges, capchanges;

static void free_changes(void) {
  for (long k = 0; k < nchanges; k++)
    for (int j = 0; j < NCHCOL; j++) free(changes[k].v[j].p);
  nchanges = 0;
}

/* Reads every change of the CRR into memory (untimed). */
static void read_changes(sqlite3 *db) {
  free_changes();
  sqlite3_stmt *st = prepare(db, "SELECT \"table\", pk, cid, val, col_version, db_version, "
                                 "site_id, cl, seq FROM crsql_changes");
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (nchanges == capchanges) {
      capchanges = capchanges ? capchanges * 2 : 4096;
      changes = realloc(changes, (size_t)capchanges * sizeof *changes);
      if (!changes) die("out of memory for changes");
    }
    change_t *c = &changes[nchanges++];
    for (int j = 0; j < NCHCOL; j++) {
      val_t *v = &c->v[j];
      memset(v, 0, sizeof *v);
      v->type = sqlite3_column_type(st, j);
      switch (v->type) {
        case SQLITE_INTEGER: v->i = sqlite3_column_int64(st, j); break;
        case SQLITE_FLOAT: v->r = sqlite3_column_double(st, j); break;
        case SQLITE_TEXT:
        case SQLITE_BLOB: {
          const void *src = v->type == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, j)
                                                   : sqlite3_column_blob(st, j);
          v->n = sqlite3_column_bytes(st, j);
          v->p = malloc((size_t)v->n + 1);
          if (!v->p) die("out of memory");
          if (v->n) memcpy(v->p, src, (size_t)v->n);
          ((char *)v->p)[v->n] = 0;
          break;
        }
        default: break;
      }
    }
  }
  if (rc != SQLITE_DONE) die("reading crsql_changes failed: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
}

static void bind_val(sqlite3_stmt *st, int idx, const val_t *v) {
  switch (v->type) {
    case SQLITE_INTEGER: sqlite3_bind_int64(st, idx, v->i); break;
    case SQLITE_FLOAT: sqlite3_bind_double(st, idx, v->r); break;
    case SQLITE_TEXT: sqlite3_bind_text(st, idx, v->p, v->n, SQLITE_STATIC); break;
    case SQLITE_BLOB: sqlite3_bind_blob(st, idx, v->p, v->n, SQLITE_STATIC); break;
    default: sqlite3_bind_null(st, idx); break;
  }
}

static NOINLINE double phase_merge_stmt(sqlite3 *db) {
  sqlite3_stmt *st = prepare(db, "INSERT INTO crsql_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  t_start();
  exec(db, "BEGIN");
  for (long k = 0; k < nchanges; k++) {
    for (int j = 0; j < NCHCOL; j++) bind_val(st, j + 1, &changes[k].v[j]);
    step_done(db, st);
  }
  exec(db, "COMMIT");
  double t = t_stop();
  sqlite3_finalize(st);
  return t;
}

/* Stages the changes in a temp table (untimed), then times one
 * INSERT INTO crsql_changes SELECT. */
static NOINLINE double phase_merge_sql(sqlite3 *db) {
  exec(db, "CREATE TEMP TABLE ch (\"table\", pk, cid, val, col_version, db_version, site_id, "
           "cl, seq)");
  sqlite3_stmt *st = prepare(db, "INSERT INTO temp.ch VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  exec(db, "BEGIN");
  for (long k = 0; k < nchanges; k++) {
    for (int j = 0; j < NCHCOL; j++) bind_val(st, j + 1, &changes[k].v[j]);
    step_done(db, st);
  }
  exec(db, "COMMIT");
  sqlite3_finalize(st);
  t_start();
  exec(db, "BEGIN");
  exec(db, "INSERT INTO crsql_changes SELECT * FROM temp.ch");
  exec(db, "COMMIT");
  double t = t_stop();
  exec(db, "DROP TABLE temp.ch");
  return t;
}

/* Orders changes by (table, pk), then by (db_version, seq). */
static int api_cmp_row(const void *x, const void *y) {
  const bl_crdt_change *a = x, *b = y;
  int n = a->table_len < b->table_len ? a->table_len : b->table_len;
  int c = memcmp(a->table, b->table, (size_t)n);
  if (c || a->table_len != b->table_len) return c ? c : a->table_len - b->table_len;
  n = a->pk_len < b->pk_len ? a->pk_len : b->pk_len;
  c = memcmp(a->pk, b->pk, (size_t)n);
  if (c || a->pk_len != b->pk_len) return c ? c : a->pk_len - b->pk_len;
  if (a->db_version != b->db_version) return a->db_version < b->db_version ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The batched C API (bl_crdt_merge): the changes become bl_crdt_change
 * records (untimed), then one call in one transaction is timed. Only with
 * the built-in engine: a loadable extension has no C API. */
static NOINLINE double phase_merge_api(sqlite3 *db) {
  bl_crdt_change *chs = calloc((size_t)nchanges + 1, sizeof *chs);
  sqlite3_value **vals = calloc((size_t)nchanges + 1, sizeof *vals);
  if (!chs || !vals) die("out of memory for the merge batch");
  sqlite3_stmt *mk = prepare(db, "SELECT ?");
  for (long k = 0; k < nchanges; k++) {
    const val_t *v = changes[k].v;
    bind_val(mk, 1, &v[3]);
    if (sqlite3_step(mk) != SQLITE_ROW) die("making a value failed: %s", sqlite3_errmsg(db));
    vals[k] = sqlite3_value_dup(sqlite3_column_value(mk, 0));
    if (!vals[k]) die("out of memory");
    sqlite3_reset(mk);
    bl_crdt_change *c = &chs[k];
    c->table = v[0].p;
    c->table_len = v[0].n;
    c->pk = v[1].p;
    c->pk_len = v[1].n;
    c->cid = v[2].p;
    c->cid_len = v[2].n;
    c->val = vals[k];
    c->col_version = v[4].i;
    c->db_version = v[5].i;
    c->site_id = v[6].p;
    c->site_id_len = v[6].n;
    c->cl = v[7].i;
    c->seq = v[8].i;
  }
  sqlite3_finalize(mk);
  /* A changeset lists each row's changes together (merging is commutative,
   * so any order gives the same state); crsql_changes lists them by
   * db_version, so group them here, untimed. */
  qsort(chs, (size_t)nchanges, sizeof *chs, api_cmp_row);
  char *err = NULL;
  t_start();
  exec(db, "BEGIN");
  if (bl_crdt_merge(db, chs, (size_t)nchanges, &err) != SQLITE_OK) die("bl_crdt_merge: %s", err ? err : "?");
  exec(db, "COMMIT");
  double t = t_stop();
  for (long k = 0; k < nchanges; k++) sqlite3_value_free(vals[k]);
  free(vals);
  free(chs);
  return t;
}

/* ------------------------------------------------------------------ runs */

static double minf(double a, double b) { return a < b ? a : b; }


typedef struct {
  const char *shape, *storage, *mode;
  double plain_insert, crr_insert, plain_update, crr_update, merge; /* best seconds */
  double c_plain_insert, c_crr_insert, c_plain_update, c_crr_update, c_merge; /* best CPU s */
  double merge_api, c_merge_api; /* bl_crdt_merge; 0 when not measured */
  long nchanges;
  sqlite3_int64 plain_bytes_ins, crr_bytes_ins, plain_bytes_upd, crr_bytes_upd;
  long rss_kib;
} result_t;

static void checksum(sqlite3 *db, char *out, size_t n) {
  /* Summed in key order: a REAL total depends on the order of the terms,
   * and a merge may insert rows in another order than the source. */
  sqlite3_stmt *st = prepare(db, "SELECT count(*), total(b), total(c), total(length(a)), "
                                 "total(length(id)) FROM (SELECT * FROM t ORDER BY id)");
  if (sqlite3_step(st) != SQLITE_ROW) die("checksum failed: %s", sqlite3_errmsg(db));
  snprintf(out, n, "%lld/%.17g/%.17g/%.17g/%.17g", (long long)sqlite3_column_int64(st, 0),
           sqlite3_column_double(st, 1), sqlite3_column_double(st, 2),
           sqlite3_column_double(st, 3), sqlite3_column_double(st, 4));
  sqlite3_finalize(st);
}


/* The plain and CRR runs of a phase go through different frames so that a
 * profile (perf report --children, bench/profile.sh) tells them apart. */
typedef double (*phase_fn)(sqlite3 *, int);
/* The empty asm after the call keeps it from becoming a tail call; the
 * stores keep the compiler from folding the two identical functions. */
static volatile int profiled_side;
static NOINLINE double on_plain(phase_fn f, sqlite3 *db, int text_pk) {
  profiled_side = 1;
  double t = f(db, text_pk);
  __asm__ volatile("" ::: "memory");
  return t;
}
static NOINLINE double on_crr(phase_fn f, sqlite3 *db, int text_pk) {
  profiled_side = 2;
  double t = f(db, text_pk);
  __asm__ volatile("" ::: "memory");
  return t;
}
typedef double (*phase_fn_wrap)(phase_fn, sqlite3 *, int);

/* --profile-phase: the chosen CRR phase runs under this frame alone, for
 * valgrind --tool=callgrind --toggle-collect=profiled* (bench/profile.sh). */
static NOINLINE double profiled(phase_fn f, sqlite3 *db, int text_pk) {
  profiled_side = 3;
  double t = f(db, text_pk);
  __asm__ volatile("" ::: "memory");
  return t;
}
static NOINLINE double profiled_merge(int sql_mode, sqlite3 *db) {
  profiled_side = 4;
  double t = sql_mode ? phase_merge_sql(db) : phase_merge_stmt(db);
  __asm__ volatile("" ::: "memory");
  return t;
}

static void run_config(const shape_t *shape, int file, int sql_mode, result_t *res) {
  int text_pk = shape == &SHAPES[1];
  phase_fn ins = sql_mode ? phase_insert_sql : phase_insert_stmt;
  phase_fn upd = sql_mode ? phase_update_sql : phase_update_stmt;
  memset(res, 0, sizeof *res);
  res->shape = shape->name;
  res->storage = file ? "file" : "memory";
  res->mode = sql_mode ? "sql" : "stmt";
  res->plain_insert = res->crr_insert = res->plain_update = res->crr_update = res->merge = 1e300;
  res->c_plain_insert = res->c_crr_insert = res->c_plain_update = res->c_crr_update = res->c_merge = 1e300;

  for (int r = 0; r < opt.repeat; r++) {
    progress("  %s-pk %s %s run %d/%d:", shape->name, res->storage, res->mode, r + 1, opt.repeat);
    char sum_plain[256], sum_crr[256], sum_merged[256];

    /* plain */
    sqlite3 *db = open_db(file, "plain", 0, shape);
    double t = on_plain(ins, db, text_pk);
    res->plain_insert = minf(res->plain_insert, t);
    res->c_plain_insert = minf(res->c_plain_insert, last_cpu);
    res->plain_bytes_ins = db_bytes(db);
    progress(" plain-ins %.0fms", t * 1e3);
    t = on_plain(upd, db, text_pk);
    res->plain_update = minf(res->plain_update, t);
    res->c_plain_update = minf(res->c_plain_update, last_cpu);
    res->plain_bytes_upd = db_bytes(db);
    progress(" plain-upd %.0fms", t * 1e3);
    checksum(db, sum_plain, sizeof sum_plain);
    close_db(db, 0);

    /* CRR */
    db = open_db(file, "crr", 1, shape);
    t = (opt.profile_phase == 1 ? profiled : on_crr)(ins, db, text_pk);
    res->crr_insert = minf(res->crr_insert, t);
    res->c_crr_insert = minf(res->c_crr_insert, last_cpu);
    res->crr_bytes_ins = db_bytes(db);
    progress(" crr-ins %.0fms", t * 1e3);
    t = (opt.profile_phase == 2 ? profiled : on_crr)(upd, db, text_pk);
    res->crr_update = minf(res->crr_update, t);
    res->c_crr_update = minf(res->c_crr_update, last_cpu);
    res->crr_bytes_upd = db_bytes(db);
    progress(" crr-upd %.0fms", t * 1e3);
    checksum(db, sum_crr, sizeof sum_crr);
    if (strcmp(sum_plain, sum_crr) != 0)
      die("CRR table differs from the plain one: %s vs %s", sum_crr, sum_plain);
    read_changes(db);
    close_db(db, 1);
    res->nchanges = nchanges;

    /* merge into a fresh CRR */
    db = open_db(file, "merged", 1, shape);
    t = opt.profile_phase == 3 ? profiled_merge(sql_mode, db)
        : sql_mode             ? phase_merge_sql(db)
                               : phase_merge_stmt(db);
    res->merge = minf(res->merge, t);
    res->c_merge = minf(res->c_merge, last_cpu);
    progress(" merge %.0fms (%ld changes)\n", t * 1e3, nchanges);
    checksum(db, sum_merged, sizeof sum_merged);
    if (strcmp(sum_merged, sum_crr) != 0)
      die("merged table differs from its source: %s vs %s", sum_merged, sum_crr);
    close_db(db, 1);

    /* the same changes through the batched C API */
    if (!opt.extension) {
      db = open_db(file, "merged_api", 1, shape);
      t = phase_merge_api(db);
      res->merge_api = res->merge_api > 0 ? minf(res->merge_api, t) : t;
      res->c_merge_api = res->c_merge_api > 0 ? minf(res->c_merge_api, last_cpu) : last_cpu;
      checksum(db, sum_merged, sizeof sum_merged);
      if (strcmp(sum_merged, sum_crr) != 0)
        die("table merged by bl_crdt_merge differs from its source: %s vs %s", sum_merged, sum_crr);
      close_db(db, 1);
    }
    free_changes();
  }
  res->rss_kib = peak_rss_kib();
}

/* ------------------------------------------------------------------ floor */
/* --floor: what a trigger-based design costs before it does any work of its
 * own, on plain SQLite (no engine), same rows and loops as the stmt figures.
 * A table with an AFTER trigger makes every INSERT/UPDATE a "multi-write"
 * statement, so inside a transaction SQLite opens a statement journal for it
 * and copies each page it first touches; INSERT OR REPLACE cannot abort and
 * needs none, which separates the two costs. The side tables are written
 * with upserts, as the engine's triggers do: in a trigger, `WHERE k = NEW.id`
 * on an untyped key column cannot use its index (NEW.id carries the INTEGER
 * affinity of t.id, the key column has none) and scans the table. */
typedef struct {
  const char *name;
  const char *ddl;     /* run after CREATE TABLE t; NULL: plain */
  const char *insert;  /* insert statement */
} floor_t;

static const floor_t FLOORS[] = {
    {"plain", NULL, "INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)"},
    {"AFTER trigger, body SELECT 1",
     "CREATE TRIGGER ti AFTER INSERT ON t BEGIN SELECT 1; END;"
     "CREATE TRIGGER tu AFTER UPDATE ON t BEGIN SELECT 1; END;",
     "INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)"},
    {"same, statement is INSERT OR REPLACE (no stmt journal)",
     "CREATE TRIGGER ti AFTER INSERT ON t BEGIN SELECT 1; END;",
     "INSERT OR REPLACE INTO t (id, a, b, c) VALUES (?, ?, ?, ?)"},
    {"trigger writes 1 narrow row (rowid side table)",
     "CREATE TABLE s (k INTEGER PRIMARY KEY, v INTEGER);"
     "CREATE TRIGGER ti AFTER INSERT ON t BEGIN INSERT INTO s (k, v) VALUES (NEW.rowid, 1); END;"
     "CREATE TRIGGER tu AFTER UPDATE ON t BEGIN INSERT INTO s (k, v) VALUES (NEW.rowid, 1) "
     "ON CONFLICT DO UPDATE SET v = v + 1; END;",
     "INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)"},
    {"trigger writes 1 row keyed by pk (WITHOUT ROWID side table)",
     "CREATE TABLE s (k PRIMARY KEY, v INTEGER) WITHOUT ROWID;"
     "CREATE TRIGGER ti AFTER INSERT ON t BEGIN INSERT INTO s (k, v) VALUES (NEW.id, 1); END;"
     "CREATE TRIGGER tu AFTER UPDATE ON t BEGIN INSERT INTO s (k, v) VALUES (NEW.id, 1) "
     "ON CONFLICT DO UPDATE SET v = v + 1; END;",
     "INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)"},
    {"same + index on v (like a db_version index)",
     "CREATE TABLE s (k PRIMARY KEY, v INTEGER) WITHOUT ROWID; CREATE INDEX sv ON s (v);"
     "CREATE TRIGGER ti AFTER INSERT ON t BEGIN INSERT INTO s (k, v) VALUES (NEW.id, 1); END;"
     "CREATE TRIGGER tu AFTER UPDATE ON t BEGIN INSERT INTO s (k, v) VALUES (NEW.id, 1) "
     "ON CONFLICT DO UPDATE SET v = v + 1; END;",
     "INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)"},
};
#define NFLOORS (int)(sizeof FLOORS / sizeof FLOORS[0])

static void run_floor(const shape_t *shape, int file) {
  int text_pk = shape == &SHAPES[1];
  /* stmt loops, then the set-based (sql) loops of the same variants */
  double ins[NFLOORS], upd[NFLOORS], ins_sql[NFLOORS], upd_sql[NFLOORS];
  for (int k = 0; k < NFLOORS; k++) ins[k] = upd[k] = ins_sql[k] = upd_sql[k] = 1e300;
  for (int r = 0; r < opt.repeat; r++) {
    progress("  floor %s-pk %s run %d/%d\n", shape->name, file ? "file" : "memory", r + 1,
             opt.repeat);
    for (int k = 0; k < NFLOORS; k++) {
      if (opt.floor_variant > 0 && k != 0 && k != opt.floor_variant) continue;
      sqlite3 *db = open_db(file, "plain", 0, shape);
      if (FLOORS[k].ddl) exec(db, FLOORS[k].ddl);
      insert_sql = FLOORS[k].insert;
      /* variants run through on_crr so a profile tells them from the baseline */
      phase_fn_wrap wrap = k == 0 ? on_plain : on_crr;
      ins[k] = minf(ins[k], wrap(phase_insert_stmt, db, text_pk));
      upd[k] = minf(upd[k], wrap(phase_update_stmt, db, text_pk));
      close_db(db, 0);
      if (k == 2) continue; /* OR REPLACE: the set-based insert has no such form */
      db = open_db(file, "plain", 0, shape);
      if (FLOORS[k].ddl) exec(db, FLOORS[k].ddl);
      ins_sql[k] = minf(ins_sql[k], wrap(phase_insert_sql, db, text_pk));
      upd_sql[k] = minf(upd_sql[k], wrap(phase_update_sql, db, text_pk));
      close_db(db, 0);
    }
  }
  insert_sql = FLOORS[0].insert;
  printf("\nfloor: %s pk, %s, %ld rows, best of %d (plain SQLite, no engine)\n", shape->name,
         file ? "file (WAL, synchronous=NORMAL)" : ":memory:", opt.rows, opt.repeat);
  printf("  %-62s %12s %12s %12s %12s\n", "variant", "insert stmt", "update stmt", "insert sql",
         "update sql");
  for (int k = 0; k < NFLOORS; k++) {
    if (opt.floor_variant > 0 && k != 0 && k != opt.floor_variant) continue;
    if (k == 2) /* OR REPLACE: the update is the same as the row above */
      printf("  %-62s %11.2fx %12s %12s %12s\n", FLOORS[k].name, ins[k] / ins[0], "-", "-", "-");
    else
      printf("  %-62s %11.2fx %11.2fx %11.2fx %11.2fx\n", FLOORS[k].name, ins[k] / ins[0], upd[k] / upd[0],
             ins_sql[k] / ins_sql[0], upd_sql[k] / upd_sql[0]);
  }
}

/* ------------------------------------------------------------------ output */

static int pass_insert(const result_t *r) { return r->crr_insert / r->plain_insert <= TARGET_INSERT; }
static int pass_update(const result_t *r) { return r->crr_update / r->plain_update <= TARGET_UPDATE; }
static double merge_ratio(const result_t *r) {
  return ((double)r->nchanges / r->merge) / ((double)opt.rows / r->plain_insert);
}
static int pass_merge(const result_t *r) { return merge_ratio(r) >= TARGET_MERGE; }
static double cpu_merge_ratio(const result_t *r) {
  return ((double)r->nchanges / r->c_merge) / ((double)opt.rows / r->c_plain_insert);
}

static void fmt_rate(char *buf, size_t n, double per_s, const char *unit) {
  if (per_s >= 1e6) snprintf(buf, n, "%.2fM %s/s", per_s / 1e6, unit);
  else snprintf(buf, n, "%.0fk %s/s", per_s / 1e3, unit);
}

static void print_table(const result_t *res, int nres) {
  printf("\n%s vs plain SQLite %s — %ld rows, best of %d\n",
         opt.engine_name ? opt.engine_name : opt.extension ? opt.extension : "backless CRDT engine",
         sqlite3_libversion(), opt.rows, opt.repeat);
  printf("file: WAL, synchronous=NORMAL; memory: :memory:; cache_size: %s\n",
         opt.cache_kib ? "custom" : "SQLite default (2 MiB)");
  for (int k = 0; k < opt.npragmas; k++) printf("every connection: PRAGMA %s\n", opt.pragmas[k]);
  printf("stmt: prepared statement per row; sql: one set-based statement\n\n");
  printf("%-6s %-6s %-4s %-8s %18s %18s %8s %8s  %-6s %s\n", "pk", "store", "mode", "figure",
         "plain", "CRR", "ratio", "target", "result", "(ratio by CPU time)");
  int fails = 0;
  for (int k = 0; k < nres; k++) {
    const result_t *r = &res[k];
    char p[64], c[64];
    double n = (double)opt.rows;
    fmt_rate(p, sizeof p, n / r->plain_insert, "rows");
    fmt_rate(c, sizeof c, n / r->crr_insert, "rows");
    printf("%-6s %-6s %-4s %-8s %18s %18s %7.2fx %8s  %-6s (%.2fx)\n", r->shape, r->storage,
           r->mode, "insert", p, c, r->crr_insert / r->plain_insert, "<= 2.0x",
           pass_insert(r) ? "PASS" : "FAIL", r->c_crr_insert / r->c_plain_insert);
    fmt_rate(p, sizeof p, n / r->plain_update, "rows");
    fmt_rate(c, sizeof c, n / r->crr_update, "rows");
    printf("%-6s %-6s %-4s %-8s %18s %18s %7.2fx %8s  %-6s (%.2fx)\n", r->shape, r->storage,
           r->mode, "update", p, c, r->crr_update / r->plain_update, "<= 3.0x",
           pass_update(r) ? "PASS" : "FAIL", r->c_crr_update / r->c_plain_update);
    fmt_rate(p, sizeof p, n / r->plain_insert, "rows");
    fmt_rate(c, sizeof c, (double)r->nchanges / r->merge, "chg");
    printf("%-6s %-6s %-4s %-8s %18s %18s %7.2fx %8s  %-6s (%.2fx)\n", r->shape, r->storage,
           r->mode, "merge", p, c, merge_ratio(r), ">= 1.0x", pass_merge(r) ? "PASS" : "FAIL",
           cpu_merge_ratio(r));
    if (r->merge_api > 0) {
      double api = ((double)r->nchanges / r->merge_api) / (n / r->plain_insert);
      double capi = ((double)r->nchanges / r->c_merge_api) / (n / r->c_plain_insert);
      fmt_rate(c, sizeof c, (double)r->nchanges / r->merge_api, "chg");
      printf("%-6s %-6s %-4s %-8s %18s %18s %7.2fx %8s  %-6s (%.2fx)\n", r->shape, r->storage, r->mode,
             "merge-api", p, c, api, ">= 1.0x", api >= TARGET_MERGE ? "PASS" : "FAIL", capi);
    }
    printf("%-6s %-6s %-4s %-8s %18.1f %18.1f %8s %8s  (%ld changes; after update: +%.1f B/row)\n",
           r->shape, r->storage, r->mode, "B/row", (double)r->plain_bytes_ins / n,
           (double)r->crr_bytes_ins / n, "", "",
           r->nchanges, (double)(r->crr_bytes_upd - r->plain_bytes_upd) / n);
    fails += !pass_insert(r) + !pass_update(r) + !pass_merge(r);
  }
  printf("\nclock metadata: CRR bytes - plain bytes after the insert, per row (B/row line)\n");
  printf("peak RSS: %ld KiB\n", peak_rss_kib());
  printf("%s: %d of %d figures miss their target\n", fails ? "FAIL" : "PASS", fails, nres * 3);
}

static void write_json(FILE *f, const result_t *res, int nres) {
  struct utsname u;
  uname(&u);
  if (opt.engine_name) fprintf(f, "{\n  \"engine\": \"%s\",\n", opt.engine_name);
  else if (opt.extension) fprintf(f, "{\n  \"engine\": \"extension %s\",\n", opt.extension);
  else fprintf(f, "{\n  \"engine\": \"backless %s\",\n", BL_VERSION_STRING);
  fprintf(f, "  \"sqlite_version\": \"%s\",\n", sqlite3_libversion());
  fprintf(f, "  \"machine\": \"%s %s %s\",\n", u.sysname, u.release, u.machine);
  fprintf(f, "  \"rows\": %ld,\n  \"repeat\": %d,\n  \"peak_rss_kib\": %ld,\n", opt.rows,
          opt.repeat, peak_rss_kib());
  fprintf(f, "  \"targets\": {\"insert\": %.1f, \"update\": %.1f, \"merge\": %.1f},\n",
          TARGET_INSERT, TARGET_UPDATE, TARGET_MERGE);
  fprintf(f, "  \"results\": [\n");
  for (int k = 0; k < nres; k++) {
    const result_t *r = &res[k];
    double n = (double)opt.rows;
    fprintf(f,
            "    {\"shape\": \"%s\", \"storage\": \"%s\", \"mode\": \"%s\",\n"
            "     \"plain_insert_s\": %.6f, \"crr_insert_s\": %.6f, \"insert_ratio\": %.3f,\n"
            "     \"plain_update_s\": %.6f, \"crr_update_s\": %.6f, \"update_ratio\": %.3f,\n"
            "     \"merge_s\": %.6f, \"changes\": %ld, \"merge_changes_per_s\": %.0f,\n"
            "     \"plain_insert_rows_per_s\": %.0f, \"merge_ratio\": %.3f,\n"
            "     \"plain_bytes\": %lld, \"crr_bytes\": %lld, \"meta_bytes_per_row\": %.2f,\n"
            "     \"meta_bytes_per_row_after_update\": %.2f, \"peak_rss_kib\": %ld,\n"
            "     \"cpu\": {\"plain_insert_s\": %.6f, \"crr_insert_s\": %.6f, \"insert_ratio\": %.3f,\n"
            "             \"plain_update_s\": %.6f, \"crr_update_s\": %.6f, \"update_ratio\": %.3f,\n"
            "             \"merge_s\": %.6f, \"merge_ratio\": %.3f, \"merge_api_s\": %.6f,\n"
            "             \"merge_api_ratio\": %.3f},\n"
            "     \"merge_api_s\": %.6f, \"merge_api_ratio\": %.3f,\n"
            "     \"pass\": {\"insert\": %s, \"update\": %s, \"merge\": %s}}%s\n",
            r->shape, r->storage, r->mode, r->plain_insert, r->crr_insert,
            r->crr_insert / r->plain_insert, r->plain_update, r->crr_update,
            r->crr_update / r->plain_update, r->merge, r->nchanges,
            (double)r->nchanges / r->merge, n / r->plain_insert, merge_ratio(r),
            (long long)r->plain_bytes_ins, (long long)r->crr_bytes_ins,
            (double)(r->crr_bytes_ins - r->plain_bytes_ins) / n,
            (double)(r->crr_bytes_upd - r->plain_bytes_upd) / n, r->rss_kib,
            r->c_plain_insert, r->c_crr_insert, r->c_crr_insert / r->c_plain_insert,
            r->c_plain_update, r->c_crr_update, r->c_crr_update / r->c_plain_update, r->c_merge,
            cpu_merge_ratio(r), r->c_merge_api,
            r->c_merge_api > 0 ? ((double)r->nchanges / r->c_merge_api) / (n / r->c_plain_insert) : 0.0,
            r->merge_api, r->merge_api > 0 ? ((double)r->nchanges / r->merge_api) / (n / r->plain_insert) : 0.0,
            pass_insert(r) ? "true" : "false", pass_update(r) ? "true" : "false",
            pass_merge(r) ? "true" : "false", k + 1 < nres ? "," : "");
  }
  fprintf(f, "  ]\n}\n");
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f) {
  fprintf(f,
          "usage: bench_crdt [options]\n"
          "  --rows N         rows per table (default 100000)\n"
          "  --repeat R       runs per figure, the best is kept (default 3)\n"
          "  --storage S      file, memory or all (default all)\n"
          "  --shape S        int, text or all (default all)\n"
          "  --mode M         stmt, sql or all (default all)\n"
          "  --cache-kib K    PRAGMA cache_size=-K on every connection (default: SQLite's)\n"
          "  --pragma P       run PRAGMA P on every connection (plain and CRR alike),\n"
          "                   e.g. --pragma temp_store=MEMORY; repeatable\n"
          "  --dir D          directory for the database files (default: a new temp dir)\n"
          "  --json           print JSON instead of the table\n"
          "  --json-out F     also write the JSON to file F\n"
          "  --check          exit 1 when a figure misses its target\n"
          "  --extension P    benchmark the loadable extension P (e.g. a native crsqlite.so)\n"
          "                   instead of the built-in engine (bl_crdt_register)\n"
          "  --engine-name N  name of the engine in the output\n"
          "  --floor          instead of the figures, time what triggers alone cost on\n"
          "                   plain SQLite (the floor of a trigger-based engine)\n"
          "  --floor-variant K  --floor with only the baseline and variant K (1-5)\n"
          "  --profile-phase P  run the CRR phase P (insert, update, merge) under its own\n"
          "                   frame, for callgrind --toggle-collect='profiled*'\n"
          "  --quiet          no progress on stderr\n");
}

static int parse_sel(const char *v, const char *a, const char *b, int *da, int *db) {
  if (!strcmp(v, a)) *da = 1, *db = 0;
  else if (!strcmp(v, b)) *da = 0, *db = 1;
  else if (!strcmp(v, "all")) *da = 1, *db = 1;
  else return 0;
  return 1;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() \
  do {          \
    if (!v) die("%s needs a value", a); \
    i++;        \
  } while (0)
    if (!strcmp(a, "--rows")) { NEEDV(); opt.rows = atol(v); }
    else if (!strcmp(a, "--repeat")) { NEEDV(); opt.repeat = atoi(v); }
    else if (!strcmp(a, "--storage")) { NEEDV(); if (!parse_sel(v, "file", "memory", &opt.do_file, &opt.do_mem)) die("bad --storage %s", v); }
    else if (!strcmp(a, "--shape")) { NEEDV(); if (!parse_sel(v, "int", "text", &opt.do_int, &opt.do_text)) die("bad --shape %s", v); }
    else if (!strcmp(a, "--mode")) { NEEDV(); if (!parse_sel(v, "stmt", "sql", &opt.do_stmt, &opt.do_sql)) die("bad --mode %s", v); }
    else if (!strcmp(a, "--cache-kib")) { NEEDV(); opt.cache_kib = atoi(v); }
    else if (!strcmp(a, "--dir")) { NEEDV(); opt.dir = v; }
    else if (!strcmp(a, "--json")) opt.json = 1;
    else if (!strcmp(a, "--json-out")) { NEEDV(); opt.json_out = v; }
    else if (!strcmp(a, "--check")) opt.check = 1;
    else if (!strcmp(a, "--floor")) opt.floor = 1;
    else if (!strcmp(a, "--profile-phase")) {
      NEEDV();
      opt.profile_phase = !strcmp(v, "insert") ? 1 : !strcmp(v, "update") ? 2 : !strcmp(v, "merge") ? 3 : 0;
      if (!opt.profile_phase) die("bad --profile-phase %s", v);
    }
    else if (!strcmp(a, "--floor-variant")) { NEEDV(); opt.floor = 1; opt.floor_variant = atoi(v); }
    else if (!strcmp(a, "--pragma")) {
      NEEDV();
      if (opt.npragmas == 8) die("too many --pragma");
      opt.pragmas[opt.npragmas++] = v;
    }
    else if (!strcmp(a, "--extension")) { NEEDV(); opt.extension = v; }
    else if (!strcmp(a, "--engine-name")) { NEEDV(); opt.engine_name = v; }
    else if (!strcmp(a, "--quiet")) opt.quiet = 1;
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
    else { usage(stderr); die("unknown option %s", a); }
#undef NEEDV
  }
  if (opt.rows < 1 || opt.repeat < 1) die("--rows and --repeat must be positive");

  if (opt.do_file) {
    if (opt.dir) {
      snprintf(tmpdir, sizeof tmpdir, "%s", opt.dir);
      if (mkdir(tmpdir, 0700) != 0 && errno != EEXIST) die("cannot create %s", tmpdir);
    } else {
      const char *base = getenv("TMPDIR");
      snprintf(tmpdir, sizeof tmpdir, "%s/bl-bench-XXXXXX", base && *base ? base : "/tmp");
      if (!mkdtemp(tmpdir)) die("cannot create a temp dir: %s", strerror(errno));
      own_tmpdir = 1;
    }
  }

  gen_rows(opt.rows);
  progress("bench_crdt: %ld rows, best of %d, SQLite %s%s%s\n", opt.rows, opt.repeat,
           sqlite3_libversion(), opt.do_file ? ", files in " : "", opt.do_file ? tmpdir : "");

  if (opt.floor) {
    for (int storage = 0; storage < 2; storage++) {
      if (storage == 0 ? !opt.do_file : !opt.do_mem) continue;
      for (int sh = 0; sh < 2; sh++)
        if (sh == 0 ? opt.do_int : opt.do_text) run_floor(&SHAPES[sh], storage == 0);
    }
    cleanup_files();
    free(rows);
    return 0;
  }

  result_t res[8];
  int nres = 0;
  for (int storage = 0; storage < 2; storage++) {
    int file = storage == 0;
    if (file ? !opt.do_file : !opt.do_mem) continue;
    for (int s = 0; s < 2; s++) {
      if (s == 0 ? !opt.do_int : !opt.do_text) continue;
      for (int m = 0; m < 2; m++) {
        if (m == 0 ? !opt.do_stmt : !opt.do_sql) continue;
        run_config(&SHAPES[s], file, m, &res[nres++]);
      }
    }
  }

  cleanup_files();

  if (opt.json) write_json(stdout, res, nres);
  else print_table(res, nres);
  if (opt.json_out) {
    FILE *f = fopen(opt.json_out, "w");
    if (!f) die("cannot write %s", opt.json_out);
    write_json(f, res, nres);
    fclose(f);
  }

  int fails = 0;
  for (int k = 0; k < nres; k++)
    fails += !pass_insert(&res[k]) + !pass_update(&res[k]) + !pass_merge(&res[k]);
  free(rows);
  free(changes);
  return opt.check && fails ? 1 : 0;
}
