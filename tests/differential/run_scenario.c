/*
 * run_scenario.c — runs a differential scenario on our CRDT engine and
 * prints the canonical output (the same format oracle.mjs prints for
 * cr-sqlite; see README.md for both formats).
 *
 *   run_scenario [-v] [-b|-B] scenario.txt
 *   run_scenario [-v] [-b|-B] -i        interactive: reads "@<line> <command>" lines on
 *                               stdin, answers each with its output lines and
 *                               a "%%END" line (driver.mjs hybrid mode)
 *
 * -b applies synced and merged changes with bl_crdt_merge (one call per
 * sync, in the order read) instead of INSERT INTO crsql_changes; -B does
 * the same with each row's changes grouped together.
 *
 * Exit status: 0 when the scenario ran (SQL errors are part of the output),
 * 2 for a malformed scenario or an environment failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "backless.h"

#define MAX_DEVICES 64
#define MAX_TABLES 64
#define MAX_ARGS 300

static int verbose;
/* How changes are applied: 0 INSERT INTO crsql_changes row by row, 1 one
 * bl_crdt_merge call per sync in the order read, 2 the same grouped by
 * (table, pk) (a stable sort: a row's changes keep their order). */
static int merge_mode;

/* ------------------------------------------------------------ output buffer */

typedef struct {
  char *p;
  size_t n, cap;
} buf_t;

static buf_t out;

static void buf_grow(buf_t *b, size_t add) {
  if (b->n + add + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->n + add + 1) cap *= 2;
  b->p = realloc(b->p, cap);
  if (!b->p) {
    fprintf(stderr, "run_scenario: out of memory\n");
    exit(2);
  }
  b->cap = cap;
}

static void buf_puts(buf_t *b, const char *s) {
  size_t l = strlen(s);
  buf_grow(b, l);
  memcpy(b->p + b->n, s, l);
  b->n += l;
  b->p[b->n] = 0;
}

static void buf_printf(buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int l = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  buf_grow(b, (size_t)l);
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, (size_t)l + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)l;
}

/* ------------------------------------------------------------ values */

typedef struct {
  int type; /* 'n' 'i' 'r' 't' 'b' */
  sqlite3_int64 i;
  double r;
  unsigned char *p; /* text / blob bytes (malloc'ed, may be NULL when n == 0) */
  int n;
} val_t;

static void val_free(val_t *v) {
  free(v->p);
  v->p = NULL;
  v->n = 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes one value token (see README.md). Returns 0 or -1. */
static int val_decode(const char *tok, size_t len, val_t *v) {
  memset(v, 0, sizeof *v);
  if (len == 1 && tok[0] == 'n') {
    v->type = 'n';
    return 0;
  }
  if (len < 2 || tok[1] != ':') return -1;
  const char *b = tok + 2;
  size_t bl = len - 2;
  switch (tok[0]) {
    case 'i': {
      char tmp[32];
      if (bl == 0 || bl >= sizeof tmp) return -1;
      memcpy(tmp, b, bl);
      tmp[bl] = 0;
      for (size_t k = 0; k < bl; k++)
        if (!((tmp[k] >= '0' && tmp[k] <= '9') || (k == 0 && tmp[k] == '-'))) return -1;
      /* Parse exactly, without strtoll's clamping hiding overflow. */
      int neg = tmp[0] == '-';
      uint64_t u = 0;
      for (size_t k = (size_t)neg; k < bl; k++) {
        uint64_t d = (uint64_t)(tmp[k] - '0');
        if (u > (UINT64_MAX - d) / 10) return -1;
        u = u * 10 + d;
      }
      if (neg) {
        if (u > (uint64_t)INT64_MAX + 1) return -1;
        v->i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
      } else {
        if (u > (uint64_t)INT64_MAX) return -1;
        v->i = (int64_t)u;
      }
      v->type = 'i';
      return 0;
    }
    case 'r': {
      if (bl != 16) return -1;
      uint64_t bits = 0;
      for (size_t k = 0; k < 16; k++) {
        int h = hexval(b[k]);
        if (h < 0) return -1;
        bits = bits << 4 | (uint64_t)h;
      }
      memcpy(&v->r, &bits, 8);
      v->type = 'r';
      return 0;
    }
    case 'b': {
      if (bl % 2) return -1;
      v->n = (int)(bl / 2);
      v->p = malloc(v->n ? (size_t)v->n : 1);
      for (int k = 0; k < v->n; k++) {
        int h = hexval(b[2 * k]), l = hexval(b[2 * k + 1]);
        if (h < 0 || l < 0) {
          val_free(v);
          return -1;
        }
        v->p[k] = (unsigned char)(h << 4 | l);
      }
      v->type = 'b';
      return 0;
    }
    case 't': {
      v->p = malloc(bl ? bl : 1);
      int n = 0;
      for (size_t k = 0; k < bl; k++) {
        unsigned char c = (unsigned char)b[k];
        if (c == '%') {
          if (k + 2 >= bl) {
            val_free(v);
            return -1;
          }
          int h = hexval(b[k + 1]), l = hexval(b[k + 2]);
          if (h < 0 || l < 0) {
            val_free(v);
            return -1;
          }
          v->p[n++] = (unsigned char)(h << 4 | l);
          k += 2;
        } else if (c >= 0x21 && c <= 0x7e) {
          v->p[n++] = c;
        } else {
          val_free(v);
          return -1;
        }
      }
      v->n = n;
      v->type = 't';
      return 0;
    }
  }
  return -1;
}

static void put_bytes_hex(buf_t *b, const unsigned char *p, int n) {
  static const char hx[] = "0123456789abcdef";
  buf_grow(b, (size_t)n * 2);
  for (int k = 0; k < n; k++) {
    b->p[b->n++] = hx[p[k] >> 4];
    b->p[b->n++] = hx[p[k] & 15];
  }
  b->p[b->n] = 0;
}

static void put_bytes_pct(buf_t *b, const unsigned char *p, int n) {
  static const char hx[] = "0123456789ABCDEF";
  buf_grow(b, (size_t)n * 3);
  for (int k = 0; k < n; k++) {
    unsigned char c = p[k];
    if (c >= 0x21 && c <= 0x7e && c != '%') {
      b->p[b->n++] = (char)c;
    } else {
      b->p[b->n++] = '%';
      b->p[b->n++] = hx[c >> 4];
      b->p[b->n++] = hx[c & 15];
    }
  }
  b->p[b->n] = 0;
}

/* Appends the token of column i of stmt. */
static void put_column(buf_t *b, sqlite3_stmt *stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_NULL:
      buf_puts(b, "n");
      break;
    case SQLITE_INTEGER:
      buf_printf(b, "i:%" PRId64, (int64_t)sqlite3_column_int64(stmt, i));
      break;
    case SQLITE_FLOAT: {
      double d = sqlite3_column_double(stmt, i);
      uint64_t bits;
      memcpy(&bits, &d, 8);
      buf_printf(b, "r:%016" PRIx64, bits);
      break;
    }
    case SQLITE_TEXT: {
      /* sqlite3_column_blob on a TEXT value gives its bytes unconverted. */
      const unsigned char *p = sqlite3_column_blob(stmt, i);
      int n = sqlite3_column_bytes(stmt, i);
      buf_puts(b, "t:");
      put_bytes_pct(b, p, n);
      break;
    }
    case SQLITE_BLOB: {
      const unsigned char *p = sqlite3_column_blob(stmt, i);
      int n = sqlite3_column_bytes(stmt, i);
      buf_puts(b, "b:");
      put_bytes_hex(b, p, n);
      break;
    }
  }
}

static int bind_val(sqlite3_stmt *stmt, int i, const val_t *v) {
  switch (v->type) {
    case 'n':
      return sqlite3_bind_null(stmt, i);
    case 'i':
      return sqlite3_bind_int64(stmt, i, v->i);
    case 'r':
      return sqlite3_bind_double(stmt, i, v->r);
    case 't':
      return sqlite3_bind_text(stmt, i, v->n ? (const char *)v->p : "", v->n, SQLITE_TRANSIENT);
    case 'b':
      return sqlite3_bind_blob(stmt, i, v->n ? (const void *)v->p : "", v->n, SQLITE_TRANSIENT);
  }
  return SQLITE_MISUSE;
}

/* ------------------------------------------------------------ devices */

typedef struct {
  sqlite3 *db;
  sqlite3 *raw; /* connection without the engine (import test), until "device" */
  unsigned char site[16];
} device_t;

typedef struct {
  char *name;
  char *order_by; /* quoted pk column list */
  char *pk_list;  /* the same, each prefixed with "p." */
} table_t;

static device_t devs[MAX_DEVICES];
static int ndevs; /* 1 + highest device index */
static table_t tables[MAX_TABLES];
static int ntables;
static sqlite3_int64 watermark[MAX_DEVICES][MAX_DEVICES];
static const char *scenario_path;

static void die(int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "run_scenario: %s:%d: ", scenario_path, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fwrite(out.p ? out.p : "", 1, out.n, stdout);
  exit(2);
}

/* Runs one statement with bindings. When rows_cb is non-NULL it is called
 * for each row. Returns the primary SQLite code (SQLITE_OK / an error). */
typedef void (*row_cb)(sqlite3_stmt *stmt, void *arg);

static int run_sql(sqlite3 *db, const char *sql, const val_t *args, int nargs, row_cb cb,
                   void *arg, int line) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK) {
    if (verbose) fprintf(stderr, "L%d: prepare: %s\n", line, sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return rc & 0xff;
  }
  if (!stmt) return SQLITE_OK;
  if (sqlite3_bind_parameter_count(stmt) != nargs) {
    sqlite3_finalize(stmt);
    die(line, "statement wants %d arguments, got %d", sqlite3_bind_parameter_count(stmt), nargs);
  }
  for (int k = 0; k < nargs; k++) {
    rc = bind_val(stmt, k + 1, &args[k]);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return rc & 0xff;
    }
  }
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
    if (cb) cb(stmt, arg);
  if (rc != SQLITE_DONE) {
    if (verbose) fprintf(stderr, "L%d: %s\n", line, sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return rc & 0xff;
  }
  rc = sqlite3_finalize(stmt);
  return rc & 0xff;
}

static sqlite3 *open_conn(const char *uri, int line) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                           NULL);
  if (rc != SQLITE_OK) die(line, "cannot open %s: %s", uri, db ? sqlite3_errmsg(db) : "?");
  char *err = NULL;
  rc = bl_crdt_register(db, &err);
  if (rc != SQLITE_OK) die(line, "bl_crdt_register failed (%d): %s", rc, err ? err : "?");
  return db;
}

static void get_site_cb(sqlite3_stmt *stmt, void *arg) {
  unsigned char *site = arg;
  if (sqlite3_column_bytes(stmt, 0) == 16) memcpy(site, sqlite3_column_blob(stmt, 0), 16);
}

/* The engine-less connection of device d (a database "written by another
 * program": the import test loads what cr-sqlite wrote into it). */
static sqlite3 *raw_conn(int d, int line) {
  if (d >= MAX_DEVICES || devs[d].db) die(line, "raw: device %d is already open with the engine", d);
  if (!devs[d].raw) {
    char uri[128];
    snprintf(uri, sizeof uri, "file:/bl_ours_%d?vfs=memdb", d);
    if (sqlite3_open_v2(uri, &devs[d].raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL) !=
        SQLITE_OK)
      die(line, "cannot open %s", uri);
  }
  return devs[d].raw;
}

static void open_device(int d, const unsigned char site[16], int line) {
  char uri[128];
  snprintf(uri, sizeof uri, "file:/bl_ours_%d?vfs=memdb", d);
  /* Deterministic site id: the engine loads it from crsql_site_id (ordinal
   * 0) when a connection opens, as cr-sqlite does. A first connection
   * creates the tables, we set the id, a second connection loads it. */
  sqlite3 *a = open_conn(uri, line);
  val_t v = {.type = 'b', .p = (unsigned char *)site, .n = 16};
  int rc = run_sql(a, "UPDATE crsql_site_id SET site_id = ? WHERE ordinal = 0", &v, 1, NULL, NULL,
                   line);
  if (rc != SQLITE_OK) die(line, "cannot set the site id (%d): %s", rc, sqlite3_errmsg(a));
  sqlite3 *db = open_conn(uri, line);
  run_sql(a, "SELECT crsql_finalize()", NULL, 0, NULL, NULL, line);
  sqlite3_close_v2(a);
  if (devs[d].raw) {
    sqlite3_close_v2(devs[d].raw);
    devs[d].raw = NULL;
  }
  unsigned char got[16] = {0};
  rc = run_sql(db, "SELECT crsql_site_id()", NULL, 0, get_site_cb, got, line);
  if (rc != SQLITE_OK || memcmp(got, site, 16) != 0)
    die(line, "site id not applied on device %d", d);
  devs[d].db = db;
  memcpy(devs[d].site, site, 16);
  if (d + 1 > ndevs) ndevs = d + 1;
}

/* ------------------------------------------------------------ commands */

static const char *CHANGES_COLS =
    "\"table\", pk, cid, val, col_version, db_version, site_id, cl, seq";

static void print_row_cb(sqlite3_stmt *stmt, void *arg) {
  buf_puts(&out, (const char *)arg);
  int n = sqlite3_column_count(stmt);
  for (int k = 0; k < n; k++) {
    buf_puts(&out, " ");
    put_column(&out, stmt, k);
  }
  buf_puts(&out, "\n");
}

/* Collected change rows of a sync. */
typedef struct {
  val_t v[9];
} change_t;

typedef struct {
  change_t *rows;
  int n, cap;
} changes_t;

static void collect_cb(sqlite3_stmt *stmt, void *arg) {
  changes_t *c = arg;
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 64;
    c->rows = realloc(c->rows, sizeof(change_t) * (size_t)c->cap);
  }
  change_t *r = &c->rows[c->n++];
  for (int k = 0; k < 9; k++) {
    val_t *v = &r->v[k];
    memset(v, 0, sizeof *v);
    switch (sqlite3_column_type(stmt, k)) {
      case SQLITE_NULL:
        v->type = 'n';
        break;
      case SQLITE_INTEGER:
        v->type = 'i';
        v->i = sqlite3_column_int64(stmt, k);
        break;
      case SQLITE_FLOAT:
        v->type = 'r';
        v->r = sqlite3_column_double(stmt, k);
        break;
      default: {
        v->type = sqlite3_column_type(stmt, k) == SQLITE_TEXT ? 't' : 'b';
        const void *p = sqlite3_column_blob(stmt, k);
        v->n = sqlite3_column_bytes(stmt, k);
        v->p = malloc(v->n ? (size_t)v->n : 1);
        if (v->n) memcpy(v->p, p, (size_t)v->n);
      }
    }
  }
}

static const char *MERGE_SQL =
    "INSERT INTO crsql_changes (\"table\", pk, cid, val, col_version, db_version, site_id, cl, "
    "seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

static const change_t *sort_rows;

static int cmp_bytes(const val_t *a, const val_t *b) {
  int n = a->n < b->n ? a->n : b->n;
  int c = n ? memcmp(a->p, b->p, (size_t)n) : 0;
  return c ? c : (a->n > b->n) - (a->n < b->n);
}

static int cmp_row_index(const void *pa, const void *pb) {
  int a = *(const int *)pa, b = *(const int *)pb;
  int c = cmp_bytes(&sort_rows[a].v[0], &sort_rows[b].v[0]);
  if (!c) c = cmp_bytes(&sort_rows[a].v[1], &sort_rows[b].v[1]);
  return c ? c : (a > b) - (a < b);
}

/* Applies rows[0..n) with one bl_crdt_merge call (merge_mode 1 or 2).
 * Returns the primary SQLite code. */
static int merge_batch(sqlite3 *db, const change_t *rows, int n, int line) {
  if (n == 0) return SQLITE_OK;
  bl_crdt_change *ch = calloc((size_t)n, sizeof *ch);
  sqlite3_value **vals = calloc((size_t)n, sizeof *vals);
  int *order = malloc(sizeof(int) * (size_t)n);
  if (!ch || !vals || !order) die(line, "out of memory");
  for (int k = 0; k < n; k++) order[k] = k;
  if (merge_mode == 2) {
    sort_rows = rows;
    qsort(order, (size_t)n, sizeof(int), cmp_row_index);
  }
  sqlite3_stmt *sel = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT ?", -1, &sel, NULL);
  for (int k = 0; rc == SQLITE_OK && k < n; k++) {
    const val_t *v = rows[order[k]].v;
    rc = bind_val(sel, 1, &v[3]);
    if (rc == SQLITE_OK && sqlite3_step(sel) == SQLITE_ROW) {
      vals[k] = sqlite3_value_dup(sqlite3_column_value(sel, 0));
      if (!vals[k]) rc = SQLITE_NOMEM;
    }
    sqlite3_reset(sel);
    bl_crdt_change *c = &ch[k];
    c->table = v[0].n ? (const char *)v[0].p : "";
    c->table_len = v[0].n;
    c->pk = v[1].p;
    c->pk_len = v[1].n;
    c->cid = v[2].n ? (const char *)v[2].p : "";
    c->cid_len = v[2].n;
    c->val = vals[k];
    c->col_version = v[4].i;
    c->db_version = v[5].i;
    c->site_id = v[6].type == 'n' ? NULL : v[6].p;
    c->site_id_len = v[6].type == 'n' ? 0 : v[6].n;
    c->cl = v[7].i;
    c->seq = v[8].i;
  }
  sqlite3_finalize(sel);
  if (rc == SQLITE_OK) {
    char *err = NULL;
    rc = bl_crdt_merge(db, ch, (size_t)n, &err);
    if (rc != SQLITE_OK && verbose) fprintf(stderr, "L%d: bl_crdt_merge: %s\n", line, err ? err : "?");
    sqlite3_free(err);
  }
  for (int k = 0; k < n; k++) sqlite3_value_free(vals[k]);
  free(vals);
  free(ch);
  free(order);
  return rc & 0xff;
}

/* mode: 0 full, 1 incremental, 2 range (lo, hi]. */
static void cmd_sync(int line, int from, int to, int incr, sqlite3_int64 lo, sqlite3_int64 hi) {
  changes_t c = {0};
  char sql[256];
  int rc;
  if (incr == 0) {
    snprintf(sql, sizeof sql, "SELECT %s FROM crsql_changes WHERE db_version > 0", CHANGES_COLS);
    rc = run_sql(devs[from].db, sql, NULL, 0, collect_cb, &c, line);
  } else if (incr == 2) {
    val_t a[2] = {{.type = 'i', .i = lo}, {.type = 'i', .i = hi}};
    snprintf(sql, sizeof sql, "SELECT %s FROM crsql_changes WHERE db_version > ? AND db_version <= ?",
             CHANGES_COLS);
    rc = run_sql(devs[from].db, sql, a, 2, collect_cb, &c, line);
  } else {
    val_t a[2] = {{.type = 'i', .i = watermark[from][to]},
                  {.type = 'b', .p = devs[to].site, .n = 16}};
    snprintf(sql, sizeof sql,
             "SELECT %s FROM crsql_changes WHERE db_version > ? AND site_id IS NOT ?",
             CHANGES_COLS);
    rc = run_sql(devs[from].db, sql, a, 2, collect_cb, &c, line);
  }
  if (rc != SQLITE_OK) {
    buf_printf(&out, "error L%d sync-read code=%d\n", line, rc);
  } else {
    sqlite3 *db = devs[to].db;
    /* Into a device inside an open transaction: merge within it. */
    int own = sqlite3_get_autocommit(db) != 0;
    rc = own ? run_sql(db, "BEGIN", NULL, 0, NULL, NULL, line) : SQLITE_OK;
    if (rc == SQLITE_OK && merge_mode) rc = merge_batch(db, c.rows, c.n, line);
    for (int k = 0; rc == SQLITE_OK && !merge_mode && k < c.n; k++)
      rc = run_sql(db, MERGE_SQL, c.rows[k].v, 9, NULL, NULL, line);
    if (rc == SQLITE_OK && own) rc = run_sql(db, "COMMIT", NULL, 0, NULL, NULL, line);
    if (rc != SQLITE_OK) {
      buf_printf(&out, "error L%d sync code=%d\n", line, rc);
      if (own && !sqlite3_get_autocommit(db)) run_sql(db, "ROLLBACK", NULL, 0, NULL, NULL, line);
    } else if (incr == 1 && own) {
      sqlite3_int64 wm = watermark[from][to];
      for (int k = 0; k < c.n; k++)
        if (c.rows[k].v[5].type == 'i' && c.rows[k].v[5].i > wm) wm = c.rows[k].v[5].i;
      watermark[from][to] = wm;
    }
  }
  for (int k = 0; k < c.n; k++)
    for (int j = 0; j < 9; j++) val_free(&c.rows[k].v[j]);
  free(c.rows);
}

static void cmd_check(int line) {
  buf_printf(&out, "check L%d\n", line);
  for (int d = 0; d < ndevs; d++) {
    if (!devs[d].db) continue;
    for (int t = 0; t < ntables; t++) {
      char *sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY %s", tables[t].name,
                                  tables[t].order_by);
      char prefix[300];
      snprintf(prefix, sizeof prefix, "row d%d %s", d, tables[t].name);
      int rc = run_sql(devs[d].db, sql, NULL, 0, print_row_cb, prefix, line);
      if (rc != SQLITE_OK)
        buf_printf(&out, "error L%d check d%d %s code=%d\n", line, d, tables[t].name, rc);
      sqlite3_free(sql);
    }
  }
}

static void cmd_changes(int line) {
  buf_printf(&out, "changes L%d\n", line);
  for (int d = 0; d < ndevs; d++) {
    if (!devs[d].db) continue;
    char prefix[64], sql[256];
    snprintf(prefix, sizeof prefix, "dbversion d%d", d);
    int rc = run_sql(devs[d].db, "SELECT crsql_db_version()", NULL, 0, print_row_cb, prefix, line);
    if (rc == SQLITE_OK) {
      snprintf(prefix, sizeof prefix, "change d%d", d);
      snprintf(sql, sizeof sql,
               "SELECT %s FROM crsql_changes ORDER BY db_version, seq, \"table\", pk, cid",
               CHANGES_COLS);
      rc = run_sql(devs[d].db, sql, NULL, 0, print_row_cb, prefix, line);
    }
    if (rc != SQLITE_OK) buf_printf(&out, "error L%d changes d%d code=%d\n", line, d, rc);
  }
}

/* cr-sqlite's metadata layouts (views in our engine): <t>__crsql_clock and
 * <t>__crsql_pks of every table. */
static void cmd_clocks(int line) {
  buf_printf(&out, "clocks L%d\n", line);
  for (int d = 0; d < ndevs; d++) {
    if (!devs[d].db) continue;
    for (int t = 0; t < ntables; t++) {
      /* Keys of the lookaside and site ordinals are local numbers: rows are
       * shown with primary key values (table_t.pk_list: p."a", p."b") and
       * site ids instead. */
      for (int k = 0; k < 2; k++) {
        const char *pk = tables[t].pk_list;
        char *sql = k == 0 ? sqlite3_mprintf("SELECT %s, c.col_name, c.col_version, c.db_version, "
                                             "(SELECT s.site_id FROM crsql_site_id AS s WHERE s.ordinal = c.site_id), c.seq "
                                             "FROM \"%w__crsql_clock\" AS c LEFT JOIN \"%w__crsql_pks\" AS p "
                                             "ON p.__crsql_key = c.key ORDER BY %s, c.col_name",
                                             pk, tables[t].name, tables[t].name, pk)
                           : sqlite3_mprintf("SELECT %s FROM \"%w__crsql_pks\" AS p ORDER BY %s", pk, tables[t].name, pk);
        char prefix[300];
        snprintf(prefix, sizeof prefix, "%s d%d %s", k == 0 ? "clock" : "lookaside", d, tables[t].name);
        int rc = run_sql(devs[d].db, sql, NULL, 0, print_row_cb, prefix, line);
        if (rc != SQLITE_OK)
          buf_printf(&out, "error L%d %s d%d %s code=%d\n", line, k == 0 ? "clock" : "lookaside", d, tables[t].name, rc);
        sqlite3_free(sql);
      }
    }
  }
}

static void cmd_pks(int line) {
  buf_printf(&out, "pks L%d\n", line);
  for (int d = 0; d < ndevs; d++) {
    if (!devs[d].db) continue;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "pk d%d", d);
    int rc = run_sql(devs[d].db,
                     "SELECT DISTINCT \"table\", pk FROM crsql_changes ORDER BY \"table\", pk",
                     NULL, 0, print_row_cb, prefix, line);
    if (rc != SQLITE_OK) buf_printf(&out, "error L%d pks d%d code=%d\n", line, d, rc);
  }
}

static void cmd_pack(int line, val_t *args, int nargs) {
  sqlite3 *db = NULL;
  for (int d = 0; d < ndevs && !db; d++) db = devs[d].db;
  if (!db) die(line, "pack needs a device");
  buf_t sql = {0};
  buf_puts(&sql, "SELECT crsql_pack_columns(");
  for (int k = 0; k < nargs; k++) buf_puts(&sql, k ? ", ?" : "?");
  buf_puts(&sql, ")");
  char prefix[64];
  snprintf(prefix, sizeof prefix, "pack L%d", line);
  int rc = run_sql(db, sql.p, args, nargs, print_row_cb, prefix, line);
  if (rc != SQLITE_OK) buf_printf(&out, "pack L%d error code=%d\n", line, rc);
  free(sql.p);
}

/* ------------------------------------------------------------ parsing */

/* Next whitespace-separated token of *s; returns its length (0 at the end). */
static size_t next_tok(const char **s, const char **tok) {
  const char *p = *s;
  while (*p == ' ' || *p == '\t') p++;
  const char *q = p;
  while (*q && *q != ' ' && *q != '\t') q++;
  *tok = p;
  *s = q;
  return (size_t)(q - p);
}

static int tok_int(const char *t, size_t n, int line) {
  if (n == 0 || n > 6) die(line, "expected a number");
  int v = 0;
  for (size_t k = 0; k < n; k++) {
    if (t[k] < '0' || t[k] > '9') die(line, "expected a number");
    v = v * 10 + (t[k] - '0');
  }
  return v;
}

static int tok_dev(const char *t, size_t n, int line) {
  int d = tok_int(t, n, line);
  if (d >= MAX_DEVICES || !devs[d].db) die(line, "device %d not declared", d);
  return d;
}

static int tok_is(const char *t, size_t n, const char *w) {
  return n == strlen(w) && memcmp(t, w, n) == 0;
}

/* Parses nargs value tokens from *s into args. */
static void parse_args(const char **s, val_t *args, int nargs, int line) {
  if (nargs > MAX_ARGS) die(line, "too many arguments");
  for (int k = 0; k < nargs; k++) {
    const char *t;
    size_t n = next_tok(s, &t);
    if (!n || val_decode(t, n, &args[k]) != 0) die(line, "bad value token %d", k + 1);
  }
}

static void run_line(char *line, int lineno) {
  const char *s = line, *t;
  size_t n = next_tok(&s, &t);
  if (n == 0 || t[0] == '#') return;
  static val_t args[MAX_ARGS];
  if (tok_is(t, n, "device")) {
    n = next_tok(&s, &t);
    int d = tok_int(t, n, lineno);
    if (d >= MAX_DEVICES || devs[d].db) die(lineno, "bad or duplicate device %d", d);
    n = next_tok(&s, &t);
    if (n != 32) die(lineno, "expected a 32-hex-digit site id");
    unsigned char site[16];
    for (int k = 0; k < 16; k++) {
      int h = hexval(t[2 * k]), l = hexval(t[2 * k + 1]);
      if (h < 0 || l < 0) die(lineno, "bad site id");
      site[k] = (unsigned char)(h << 4 | l);
    }
    open_device(d, site, lineno);
  } else if (tok_is(t, n, "schema")) {
    while (*s == ' ' || *s == '\t') s++;
    for (int d = 0; d < ndevs; d++) {
      if (!devs[d].db) continue;
      int rc = run_sql(devs[d].db, s, NULL, 0, NULL, NULL, lineno);
      if (rc != SQLITE_OK) buf_printf(&out, "error L%d schema d%d code=%d\n", lineno, d, rc);
    }
  } else if (tok_is(t, n, "table")) {
    if (ntables == MAX_TABLES) die(lineno, "too many tables");
    n = next_tok(&s, &t);
    if (!n) die(lineno, "expected a table name");
    table_t *tb = &tables[ntables++];
    tb->name = strndup(t, n);
    buf_t ob = {0}, pl = {0};
    while ((n = next_tok(&s, &t)) != 0) {
      char *col = strndup(t, n);
      char *q = sqlite3_mprintf("%s\"%w\"", ob.n ? ", " : "", col);
      buf_puts(&ob, q);
      sqlite3_free(q);
      q = sqlite3_mprintf("%sp.\"%w\"", pl.n ? ", " : "", col);
      buf_puts(&pl, q);
      sqlite3_free(q);
      free(col);
    }
    if (!ob.n) die(lineno, "expected primary key columns");
    tb->order_by = ob.p;
    tb->pk_list = pl.p;
  } else if (tok_is(t, n, "exec")) {
    n = next_tok(&s, &t);
    int d = tok_dev(t, n, lineno);
    n = next_tok(&s, &t);
    int nargs = tok_int(t, n, lineno);
    parse_args(&s, args, nargs, lineno);
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) die(lineno, "missing SQL");
    int rc = run_sql(devs[d].db, s, args, nargs, NULL, NULL, lineno);
    if (rc != SQLITE_OK) buf_printf(&out, "error L%d exec code=%d\n", lineno, rc);
    for (int k = 0; k < nargs; k++) val_free(&args[k]);
  } else if (tok_is(t, n, "reopen")) {
    /* A new connection to the same database, then the old one closed. */
    n = next_tok(&s, &t);
    int d = tok_dev(t, n, lineno);
    char uri[128];
    snprintf(uri, sizeof uri, "file:/bl_ours_%d?vfs=memdb", d);
    sqlite3 *db = open_conn(uri, lineno);
    run_sql(devs[d].db, "SELECT crsql_finalize()", NULL, 0, NULL, NULL, lineno);
    sqlite3_close_v2(devs[d].db);
    devs[d].db = db;
  } else if (tok_is(t, n, "raw")) {
    /* raw <dev> <text token holding one SQL statement> */
    n = next_tok(&s, &t);
    int d = tok_int(t, n, lineno);
    val_t sqlv;
    n = next_tok(&s, &t);
    if (!n || val_decode(t, n, &sqlv) != 0 || sqlv.type != 't') die(lineno, "bad SQL token");
    char *sql = strndup(sqlv.n ? (const char *)sqlv.p : "", (size_t)sqlv.n);
    int rc = run_sql(raw_conn(d, lineno), sql, NULL, 0, NULL, NULL, lineno);
    if (rc != SQLITE_OK) buf_printf(&out, "error L%d raw code=%d\n", lineno, rc);
    free(sql);
    val_free(&sqlv);
  } else if (tok_is(t, n, "rawinsert")) {
    /* rawinsert <dev> <table token> <n> <values> */
    n = next_tok(&s, &t);
    int d = tok_int(t, n, lineno);
    val_t name;
    n = next_tok(&s, &t);
    if (!n || val_decode(t, n, &name) != 0 || name.type != 't') die(lineno, "bad table token");
    n = next_tok(&s, &t);
    int nargs = tok_int(t, n, lineno);
    parse_args(&s, args, nargs, lineno);
    buf_t sql = {0};
    /* name.p is not NUL-terminated. */
    char *tn = strndup(name.n ? (const char *)name.p : "", (size_t)name.n);
    char *q = sqlite3_mprintf("INSERT INTO \"%w\" VALUES (", tn);
    buf_puts(&sql, q);
    sqlite3_free(q);
    free(tn);
    for (int k = 0; k < nargs; k++) buf_puts(&sql, k ? ", ?" : "?");
    buf_puts(&sql, ")");
    int rc = run_sql(raw_conn(d, lineno), sql.p, args, nargs, NULL, NULL, lineno);
    if (rc != SQLITE_OK) buf_printf(&out, "error L%d rawinsert code=%d\n", lineno, rc);
    free(sql.p);
    val_free(&name);
    for (int k = 0; k < nargs; k++) val_free(&args[k]);
  } else if (tok_is(t, n, "query")) {
    n = next_tok(&s, &t);
    int d = tok_dev(t, n, lineno);
    n = next_tok(&s, &t);
    int nargs = tok_int(t, n, lineno);
    parse_args(&s, args, nargs, lineno);
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) die(lineno, "missing SQL");
    char prefix[64];
    snprintf(prefix, sizeof prefix, "query L%d", lineno);
    int rc = run_sql(devs[d].db, s, args, nargs, print_row_cb, prefix, lineno);
    if (rc != SQLITE_OK) buf_printf(&out, "error L%d query code=%d\n", lineno, rc);
    for (int k = 0; k < nargs; k++) val_free(&args[k]);
  } else if (tok_is(t, n, "merge")) {
    n = next_tok(&s, &t);
    int d = tok_dev(t, n, lineno);
    parse_args(&s, args, 9, lineno);
    if (next_tok(&s, &t)) die(lineno, "trailing tokens");
    change_t one;
    memcpy(one.v, args, sizeof one.v);
    int rc = merge_mode ? merge_batch(devs[d].db, &one, 1, lineno)
                        : run_sql(devs[d].db, MERGE_SQL, args, 9, NULL, NULL, lineno);
    if (rc != SQLITE_OK) buf_printf(&out, "error L%d merge code=%d\n", lineno, rc);
    for (int k = 0; k < 9; k++) val_free(&args[k]);
  } else if (tok_is(t, n, "sync")) {
    n = next_tok(&s, &t);
    int from = tok_dev(t, n, lineno);
    n = next_tok(&s, &t);
    int to = tok_dev(t, n, lineno);
    n = next_tok(&s, &t);
    int incr = 0;
    sqlite3_int64 lo = 0, hi = 0;
    if (tok_is(t, n, "full")) {
      incr = 0;
    } else if (tok_is(t, n, "incr")) {
      incr = 1;
    } else if (tok_is(t, n, "range")) {
      incr = 2;
      n = next_tok(&s, &t);
      lo = tok_int(t, n, lineno);
      n = next_tok(&s, &t);
      hi = tok_int(t, n, lineno);
    } else {
      die(lineno, "expected full, incr or range <lo> <hi>");
    }
    if (next_tok(&s, &t)) die(lineno, "trailing tokens");
    cmd_sync(lineno, from, to, incr, lo, hi);
  } else if (tok_is(t, n, "txbegin") || tok_is(t, n, "txend")) {
    /* Used by the driver's hybrid mode around merges it sends one by one:
     * BEGIN unless a transaction is open; COMMIT only what txbegin began. */
    static int tx_own[MAX_DEVICES];
    int begin = tok_is(t, n, "txbegin");
    n = next_tok(&s, &t);
    int d = tok_dev(t, n, lineno);
    if (begin) {
      tx_own[d] = sqlite3_get_autocommit(devs[d].db) != 0;
      int rc = tx_own[d] ? run_sql(devs[d].db, "BEGIN", NULL, 0, NULL, NULL, lineno) : SQLITE_OK;
      if (rc != SQLITE_OK) buf_printf(&out, "error L%d txbegin code=%d\n", lineno, rc);
    } else {
      if (tx_own[d]) {
        int rc = run_sql(devs[d].db, "COMMIT", NULL, 0, NULL, NULL, lineno);
        if (rc != SQLITE_OK) {
          buf_printf(&out, "error L%d txend code=%d\n", lineno, rc);
          if (!sqlite3_get_autocommit(devs[d].db)) run_sql(devs[d].db, "ROLLBACK", NULL, 0, NULL, NULL, lineno);
        }
      }
      tx_own[d] = 0;
    }
  } else if (tok_is(t, n, "check")) {
    cmd_check(lineno);
  } else if (tok_is(t, n, "changes")) {
    cmd_changes(lineno);
  } else if (tok_is(t, n, "pks")) {
    cmd_pks(lineno);
  } else if (tok_is(t, n, "clocks")) {
    cmd_clocks(lineno);
  } else if (tok_is(t, n, "pack")) {
    n = next_tok(&s, &t);
    int nargs = tok_int(t, n, lineno);
    parse_args(&s, args, nargs, lineno);
    if (next_tok(&s, &t)) die(lineno, "trailing tokens");
    cmd_pack(lineno, args, nargs);
    for (int k = 0; k < nargs; k++) val_free(&args[k]);
  } else {
    die(lineno, "unknown command");
  }
}

static void close_devices(void) {
  for (int d = 0; d < MAX_DEVICES; d++)
    if (devs[d].raw) {
      sqlite3_close_v2(devs[d].raw);
      devs[d].raw = NULL;
    }
  for (int d = 0; d < ndevs; d++) {
    if (!devs[d].db) continue;
    run_sql(devs[d].db, "SELECT crsql_finalize()", NULL, 0, NULL, NULL, 0);
    sqlite3_close_v2(devs[d].db);
    devs[d].db = NULL;
  }
  for (int t = 0; t < ntables; t++) {
    free(tables[t].name);
    free(tables[t].order_by);
    free(tables[t].pk_list);
  }
  ntables = 0;
}

static int interactive(void) {
  scenario_path = "<stdin>";
  buf_puts(&out, "");
  size_t cap = 1 << 16;
  char *line = malloc(cap);
  for (;;) {
    /* Read one line of any length. */
    size_t len = 0;
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
      if (len + 2 > cap) {
        cap *= 2;
        line = realloc(line, cap);
      }
      line[len++] = (char)c;
    }
    if (c == EOF && len == 0) break;
    line[len] = 0;
    if (len && line[len - 1] == '\r') line[--len] = 0;
    int lineno = 0;
    char *cmd = line;
    if (line[0] == '@') {
      lineno = atoi(line + 1);
      cmd = strchr(line, ' ');
      cmd = cmd ? cmd + 1 : line + len;
    }
    out.n = 0;
    out.p[0] = 0;
    run_line(cmd, lineno);
    fwrite(out.p, 1, out.n, stdout);
    fputs("%%END\n", stdout);
    fflush(stdout);
  }
  free(line);
  close_devices();
  free(out.p);
  return 0;
}

int main(int argc, char **argv) {
  int inter = 0;
  for (int k = 1; k < argc; k++) {
    if (strcmp(argv[k], "-v") == 0)
      verbose = 1;
    else if (strcmp(argv[k], "-i") == 0)
      inter = 1;
    else if (strcmp(argv[k], "-b") == 0)
      merge_mode = 1;
    else if (strcmp(argv[k], "-B") == 0)
      merge_mode = 2;
    else
      scenario_path = argv[k];
  }
  if (inter) return interactive();
  if (!scenario_path) {
    fprintf(stderr, "usage: run_scenario [-v] [-b|-B] scenario.txt | run_scenario [-v] [-b|-B] -i\n");
    return 2;
  }
  FILE *f = fopen(scenario_path, "rb");
  if (!f) {
    perror(scenario_path);
    return 2;
  }
  buf_t text = {0};
  char chunk[65536];
  size_t r;
  while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
    buf_grow(&text, r);
    memcpy(text.p + text.n, chunk, r);
    text.n += r;
    text.p[text.n] = 0;
  }
  fclose(f);
  if (!text.p) buf_puts(&text, "");
  buf_puts(&out, "");
  char *p = text.p;
  int lineno = 0;
  while (*p) {
    char *e = strchr(p, '\n');
    if (e) *e = 0;
    lineno++;
    size_t l = strlen(p);
    if (l && p[l - 1] == '\r') p[l - 1] = 0;
    run_line(p, lineno);
    if (!e) break;
    p = e + 1;
  }
  close_devices();
  fwrite(out.p, 1, out.n, stdout);
  free(text.p);
  free(out.p);
  return 0;
}
