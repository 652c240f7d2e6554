/*
 * helpers.c — implementation of the CRDT test helpers (see helpers.h).
 *
 * Divided into: string building and the result ring, opening and running
 * SQL, dumping a database, copying changes between databases, and the PRNG.
 */
#include "helpers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"

/* ------------------------------------------------------------ strings */

typedef struct ct_buf {
  char *p;
  size_t n, cap;
} ct_buf;

static void buf_add(ct_buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      fprintf(stderr, "out of memory\n");
      abort();
    }
    b->p = p;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

static void buf_str(ct_buf *b, const char *s) { buf_add(b, s, strlen(s)); }

/* Hands a built string to the ring; the ring frees it 32 calls later. */
static const char *ring_keep(ct_buf *b) {
  static char *ring[32];
  static int next;
  if (!b->p) buf_add(b, "", 0);
  free(ring[next]);
  ring[next] = b->p;
  next = (next + 1) % 32;
  return b->p;
}

static char last_error[4096];

static void set_error(const char *msg) {
  snprintf(last_error, sizeof last_error, "%s", msg ? msg : "(no message)");
}

const char *ct_last_error(void) { return last_error; }

/* ------------------------------------------------------------ opening, running */

static sqlite3 *open_with_engine(const char *path) {
  sqlite3 *db = NULL;
  char *err = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) {
    fprintf(stderr, "cannot open %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
    abort();
  }
  if (bl_crdt_register(db, &err) != SQLITE_OK) {
    fprintf(stderr, "bl_crdt_register failed: %s\n", err ? err : "(no message)");
    abort();
  }
  sqlite3_free(err);
  return db;
}

sqlite3 *ct_open(void) { return open_with_engine(":memory:"); }

sqlite3 *ct_open_file(const char *path) { return open_with_engine(path); }

void ct_close(sqlite3 *db) {
  if (!db) return;
  sqlite3_exec(db, "SELECT crsql_finalize()", NULL, NULL, NULL);
  sqlite3_close_v2(db);
}

int ct_exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc != SQLITE_OK) set_error(err ? err : sqlite3_errmsg(db));
  sqlite3_free(err);
  return rc;
}

/* Renders every row of an already prepared statement into b. Returns the
 * final step code. */
static int render_rows(sqlite3_stmt *st, ct_buf *b) {
  int rc, first = 1;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (!first) buf_str(b, "\n");
    first = 0;
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
      if (i) buf_str(b, "|");
      const unsigned char *t = sqlite3_column_text(st, i);
      if (sqlite3_column_type(st, i) == SQLITE_NULL || !t)
        buf_str(b, "NULL");
      else
        buf_add(b, (const char *)t, (size_t)sqlite3_column_bytes(st, i));
    }
  }
  return rc;
}

const char *ct_rows(sqlite3 *db, const char *sql) {
  ct_buf b = {0};
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    rc = render_rows(st, &b);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK) {
    set_error(sqlite3_errmsg(db));
    b.n = 0;
    buf_str(&b, "ERROR: ");
    buf_str(&b, sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  return ring_keep(&b);
}

sqlite3_int64 ct_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  sqlite3_int64 v = -999999;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  else
    set_error(sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return v;
}

/* ------------------------------------------------------------ dump */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the rows of table `name`, each rendered with quote() and sorted. */
static void dump_table(sqlite3 *db, const char *name, ct_buf *out) {
  ct_buf sel = {0};
  sqlite3_stmt *st = NULL;
  char *q = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q)", name);
  buf_str(&sel, "SELECT ");
  int ncol = 0;
  if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      char *c = sqlite3_mprintf("%squote(\"%w\")", ncol ? "||'|'||" : "",
                                (const char *)sqlite3_column_text(st, 0));
      buf_str(&sel, c);
      sqlite3_free(c);
      ncol++;
    }
  }
  sqlite3_finalize(st);
  sqlite3_free(q);
  char *from = sqlite3_mprintf(" FROM \"%w\"", name);
  buf_str(&sel, from);
  sqlite3_free(from);

  char **lines = NULL;
  size_t nl = 0, cap = 0;
  buf_str(out, "== ");
  buf_str(out, name);
  buf_str(out, "\n");
  if (ncol && sqlite3_prepare_v2(db, sel.p, -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      if (nl == cap) {
        cap = cap ? cap * 2 : 64;
        lines = realloc(lines, cap * sizeof *lines);
        if (!lines) abort();
      }
      const char *t = (const char *)sqlite3_column_text(st, 0);
      lines[nl++] = strdup(t ? t : "NULL");
    }
  } else {
    buf_str(out, "(unreadable)\n");
  }
  sqlite3_finalize(st);
  if (nl) qsort(lines, nl, sizeof *lines, cmp_str);
  for (size_t i = 0; i < nl; i++) {
    buf_str(out, lines[i]);
    buf_str(out, "\n");
    free(lines[i]);
  }
  free(lines);
  free(sel.p);
}

const char *ct_dump(sqlite3 *db, int base_only) {
  ct_buf out = {0};
  sqlite3_stmt *st = NULL;
  buf_add(&out, "", 0);
  if (!base_only) {
    /* The schema itself, so a dropped or created object shows. */
    if (sqlite3_prepare_v2(db,
                           "SELECT type || ' ' || name || ' ' || ifnull(sql, '') FROM sqlite_master "
                           "ORDER BY type, name",
                           -1, &st, NULL) == SQLITE_OK)
      render_rows(st, &out);
    sqlite3_finalize(st);
    buf_str(&out, "\n");
  }
  char **names = NULL;
  size_t n = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                         "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND "
                         "ifnull(sql, '') NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
                         -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *name = (const char *)sqlite3_column_text(st, 0);
      if (base_only && strstr(name, "crsql")) continue;
      names = realloc(names, (n + 1) * sizeof *names);
      if (!names) abort();
      names[n++] = strdup(name);
    }
  }
  sqlite3_finalize(st);
  for (size_t i = 0; i < n; i++) {
    dump_table(db, names[i], &out);
    free(names[i]);
  }
  free(names);
  return ring_keep(&out);
}

/* ------------------------------------------------------------ copying changes */

#define CT_SELECT_CHANGES                                                            \
  "SELECT \"table\", pk, cid, val, col_version, db_version, site_id, cl, seq FROM " \
  "crsql_changes "
#define CT_INSERT_CHANGE "INSERT INTO crsql_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"

int ct_sync(sqlite3 *from, sqlite3 *to, const char *where) {
  ct_changes c = {0};
  if (ct_changes_read(from, where, &c) != SQLITE_OK) return -1;
  int rc = ct_changes_apply(to, &c, NULL);
  int n = c.n;
  ct_changes_free(&c);
  return rc == SQLITE_OK ? n : -1;
}

int ct_changes_read(sqlite3 *db, const char *where, ct_changes *out) {
  out->n = 0;
  out->v = NULL;
  char *sql = sqlite3_mprintf("%s%s", CT_SELECT_CHANGES, where ? where : "");
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  int cap = 0;
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (out->n == cap) {
        cap = cap ? cap * 2 : 64;
        sqlite3_value **v = realloc(out->v, (size_t)cap * 9 * sizeof *v);
        if (!v) abort();
        out->v = v;
      }
      for (int i = 0; i < 9; i++) out->v[out->n * 9 + i] = sqlite3_value_dup(sqlite3_column_value(st, i));
      out->n++;
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK) set_error(sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc;
}

int ct_changes_append(ct_changes *dst, const ct_changes *src) {
  sqlite3_value **v = realloc(dst->v, (size_t)(dst->n + src->n) * 9 * sizeof *v + 1);
  if (!v) abort();
  dst->v = v;
  for (int i = 0; i < src->n * 9; i++) dst->v[dst->n * 9 + i] = sqlite3_value_dup(src->v[i]);
  dst->n += src->n;
  return SQLITE_OK;
}

int ct_changes_apply(sqlite3 *db, const ct_changes *c, const int *order) {
  sqlite3_stmt *ins = NULL;
  int rc = ct_exec(db, "BEGIN");
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_prepare_v2(db, CT_INSERT_CHANGE, -1, &ins, NULL);
  for (int k = 0; rc == SQLITE_OK && k < c->n; k++) {
    int r = order ? order[k] : k;
    for (int i = 0; i < 9; i++) sqlite3_bind_value(ins, i + 1, c->v[r * 9 + i]);
    rc = sqlite3_step(ins);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    sqlite3_reset(ins);
  }
  if (rc != SQLITE_OK) {
    set_error(sqlite3_errmsg(db));
    sqlite3_finalize(ins);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  sqlite3_finalize(ins);
  return ct_exec(db, "COMMIT");
}

void ct_changes_free(ct_changes *c) {
  for (int i = 0; i < c->n * 9; i++) sqlite3_value_free(c->v[i]);
  free(c->v);
  c->v = NULL;
  c->n = 0;
}

/* ------------------------------------------------------------ exact comparison */

static int same_value(sqlite3_stmt *x, sqlite3_stmt *y, int i) {
  int t = sqlite3_column_type(x, i);
  if (t != sqlite3_column_type(y, i)) return 0;
  switch (t) {
    case SQLITE_INTEGER: return sqlite3_column_int64(x, i) == sqlite3_column_int64(y, i);
    case SQLITE_FLOAT: {
      double a = sqlite3_column_double(x, i), b = sqlite3_column_double(y, i);
      return memcmp(&a, &b, sizeof a) == 0;
    }
    case SQLITE_NULL: return 1;
    default: {
      const void *a = t == SQLITE_TEXT ? (const void *)sqlite3_column_text(x, i)
                                       : sqlite3_column_blob(x, i);
      const void *b = t == SQLITE_TEXT ? (const void *)sqlite3_column_text(y, i)
                                       : sqlite3_column_blob(y, i);
      int na = sqlite3_column_bytes(x, i), nb = sqlite3_column_bytes(y, i);
      return na == nb && (na == 0 || memcmp(a, b, (size_t)na) == 0);
    }
  }
}

int ct_same_rows(sqlite3 *a, sqlite3 *b, const char *sql, char *why, size_t n) {
  sqlite3_stmt *x = NULL, *y = NULL;
  int ok = 0, row = 0;
  snprintf(why, n, "ok");
  if (sqlite3_prepare_v2(a, sql, -1, &x, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(b, sql, -1, &y, NULL) != SQLITE_OK) {
    snprintf(why, n, "prepare failed: %s / %s", sqlite3_errmsg(a), sqlite3_errmsg(b));
    goto done;
  }
  for (;; row++) {
    int rx = sqlite3_step(x), ry = sqlite3_step(y);
    if (rx != ry) {
      snprintf(why, n, "row %d: one side has %s", row, rx == SQLITE_ROW ? "more rows" : "fewer rows");
      goto done;
    }
    if (rx == SQLITE_DONE) break;
    if (rx != SQLITE_ROW) {
      snprintf(why, n, "step failed: %s", sqlite3_errmsg(a));
      goto done;
    }
    for (int i = 0; i < sqlite3_column_count(x); i++) {
      if (!same_value(x, y, i)) {
        snprintf(why, n, "row %d column %d differs: %.60s (%d) vs %.60s (%d)", row, i,
                 (const char *)sqlite3_column_text(x, i), sqlite3_column_type(x, i),
                 (const char *)sqlite3_column_text(y, i), sqlite3_column_type(y, i));
        goto done;
      }
    }
  }
  ok = 1;
done:
  sqlite3_finalize(x);
  sqlite3_finalize(y);
  return ok;
}

/* ------------------------------------------------------------ PRNG */

unsigned long long ct_rng_next(ct_rng *r) {
  unsigned long long z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int ct_rng_below(ct_rng *r, int n) { return n <= 1 ? 0 : (int)(ct_rng_next(r) % (unsigned)n); }

void ct_world_write(ct_rng *r, sqlite3 *db, int with_p) {
  char sql[256];
  int id = ct_rng_below(r, ct_rng_below(r, 2) ? 6 : 30), v = ct_rng_below(r, 4);
  switch (ct_rng_below(r, with_p ? 9 : 7)) {
    case 0: snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO t VALUES (%d, %d, 'b%d')", id, v, v); break;
    case 1: snprintf(sql, sizeof sql, "INSERT INTO t (id, a) VALUES (%d, %d) ON CONFLICT DO UPDATE SET a = %d", id, v, v); break;
    case 2: snprintf(sql, sizeof sql, "UPDATE t SET b = 'u%d' WHERE id = %d", v, id); break;
    case 3: snprintf(sql, sizeof sql, "DELETE FROM t WHERE id = %d", id); break;
    case 4: snprintf(sql, sizeof sql, "UPDATE OR REPLACE t SET id = %d WHERE id = %d", (id + 1) % 30, id); break;
    case 5: snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO k VALUES ('x%d', %d, %d)", id % 3, v % 2, id); break;
    case 6: snprintf(sql, sizeof sql, "DELETE FROM k WHERE x = 'x%d'", id % 3); break;
    case 7: snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO p VALUES ('p%d')", id % 3); break;
    default: snprintf(sql, sizeof sql, "DELETE FROM p WHERE id = 'p%d'", id % 3); break;
  }
  ct_exec(db, sql);
}

int ct_same_world(sqlite3 *a, sqlite3 *b, int with_p) {
  static const char *const queries[] = {"SELECT * FROM t ORDER BY id", "SELECT * FROM k ORDER BY x, y",
                                        "SELECT crsql_db_version()", CT_CHANGES_STATE_SQL,
                                        "SELECT * FROM p ORDER BY id"};
  char why[512];
  for (size_t i = 0; i < sizeof queries / sizeof queries[0] - (with_p ? 0 : 1); i++) {
    if (!ct_same_rows(a, b, queries[i], why, sizeof why)) {
      fprintf(stderr, "  %s: %s\n", queries[i], why);
      return 0;
    }
  }
  return 1;
}

int *ct_random_world(ct_rng *r, const char *schema, void (*write)(ct_rng *, sqlite3 *), int ndev, int steps,
                     ct_changes *all) {
  sqlite3 *dev[8];
  if (ndev < 1 || ndev > 8) return NULL;
  int ok = 1;
  for (int d = 0; d < ndev; d++) {
    dev[d] = ct_open();
    if (ct_exec(dev[d], schema) != SQLITE_OK) ok = 0;
  }
  for (int step = 0; step < steps; step++) {
    int d = ct_rng_below(r, ndev);
    if (ct_rng_below(r, 4) == 0) {
      int to = ct_rng_below(r, ndev);
      if (to != d) ct_sync(dev[d], dev[to], NULL);
    } else {
      write(r, dev[d]);
    }
  }
  all->n = 0;
  all->v = NULL;
  for (int d = 0; d < ndev; d++) {
    ct_changes c = {0, NULL};
    if (ct_changes_read(dev[d], "", &c) != SQLITE_OK || ct_changes_append(all, &c) != SQLITE_OK) ok = 0;
    ct_changes_free(&c);
  }
  for (int d = 0; d < ndev; d++) ct_close(dev[d]);
  int *order = ok ? malloc(sizeof(int) * (size_t)(all->n + 1)) : NULL;
  if (!order) return NULL;
  for (int i = 0; i < all->n; i++) order[i] = i;
  for (int i = all->n - 1; i > 0; i--) {
    int j = ct_rng_below(r, i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
