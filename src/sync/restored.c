/*
 * restored.c — the db_versions a bootstrap gave to changes restored from
 * this device's own folder. Those changes carry our own site id, like
 * changes the user makes, but they are in the cloud already: push skips
 * them. Kept in _sync_meta as "lo:hi,lo:hi,..." (sorted, disjoint,
 * adjacent ranges merged). Usually one range; one more per restored file
 * when the application writes between two restored files.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "sync/sync_internal.h"

/* At most this many ranges are kept; past it the oldest are merged (never
 * losing a restored version; at worst a local change written between two
 * restored files inside a merged gap would not be pushed — with thousands
 * of interleavings, which one restore never produces). */
#define RESTORED_MAX BL_RESTORED_MAX

int bl__restored_load(bl_db *db, bl_range *out, size_t cap, size_t *n) {
  *n = 0;
  char *text = NULL;
  int rc = bl__meta_get(db, BL_META_RESTORED_DB_VERSIONS, &text);
  if (rc == BL_ENOTFOUND) return BL_OK;
  if (rc != BL_OK) return rc;
  const char *p = text;
  while (*p && *n < cap) {
    char *end = NULL;
    long long lo = strtoll(p, &end, 10);
    if (end == p || *end != ':') break;
    p = end + 1;
    long long hi = strtoll(p, &end, 10);
    if (end == p) break;
    if (lo <= hi) {
      out[*n].lo = lo;
      out[*n].hi = hi;
      (*n)++;
    }
    p = *end == ',' ? end + 1 : end;
    if (*end != ',') break;
  }
  free(text);
  return BL_OK;
}

static int restored_store(bl_db *db, const bl_range *r, size_t n) {
  if (n == 0) return bl__meta_delete(db, BL_META_RESTORED_DB_VERSIONS);
  sqlite3_str *s = sqlite3_str_new(NULL);
  for (size_t i = 0; i < n; i++)
    sqlite3_str_appendf(s, "%s%lld:%lld", i ? "," : "", (long long)r[i].lo, (long long)r[i].hi);
  char *text = sqlite3_str_finish(s);
  if (!text) return bl__db_error(db, BL_ENOMEM, "out of memory");
  int rc = bl__meta_set(db, BL_META_RESTORED_DB_VERSIONS, text);
  sqlite3_free(text);
  return rc;
}

static int restored_cmp(const void *a, const void *b) {
  const bl_range *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int bl__restored_add(bl_db *db, int64_t lo, int64_t hi) {
  bl_range r[RESTORED_MAX + 1];
  size_t n = 0;
  int rc = bl__restored_load(db, r, RESTORED_MAX, &n);
  if (rc != BL_OK) return rc;
  r[n].lo = lo;
  r[n].hi = hi;
  n++;
  qsort(r, n, sizeof *r, restored_cmp);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (m > 0 && r[i].lo <= r[m - 1].hi + 1) {
      if (r[i].hi > r[m - 1].hi) r[m - 1].hi = r[i].hi;
    } else {
      r[m++] = r[i];
    }
  }
  while (m > RESTORED_MAX) { /* merge the two oldest */
    r[0].hi = r[1].hi;
    memmove(&r[1], &r[2], (m - 2) * sizeof *r);
    m--;
  }
  return restored_store(db, r, m);
}

int bl__restored_drop_upto(bl_db *db, int64_t upto) {
  bl_range r[RESTORED_MAX];
  size_t n = 0, m = 0;
  int rc = bl__restored_load(db, r, RESTORED_MAX, &n);
  if (rc != BL_OK || n == 0) return rc;
  for (size_t i = 0; i < n; i++)
    if (r[i].hi > upto) r[m++] = r[i];
  return m == n ? BL_OK : restored_store(db, r, m);
}

char *bl__restored_sql(const bl_range *r, size_t n) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  for (size_t i = 0; i < n; i++)
    sqlite3_str_appendf(s, " AND NOT (db_version BETWEEN %lld AND %lld)", (long long)r[i].lo, (long long)r[i].hi);
  return sqlite3_str_finish(s); /* NULL when empty or out of memory */
}
