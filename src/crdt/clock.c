/*
 * clock.c — reading and writing one row's clock record.
 *
 * A record holds, for the sentinel (entry 0) and each non-primary-key column
 * (entry i + 1), the entry cr-sqlite would keep as one clock-table row:
 * col_version, db_version, site ordinal and seq, or "absent". Local writes
 * and merges load a record, change it in memory by cr-sqlite's rules and
 * store it back in one statement (an in-place UPDATE when the row exists);
 * a record with no entry left is deleted.
 *
 * Divided into: column naming; the cached statements; load; store.
 */
#include <string.h>

#include "crdt/clock.h"

/* Suffixes of the four metadata columns of an entry. */
static const char *const clock_suffix[4] = {"v", "dbv", "site", "seq"};

void bl__clock_entry_cols(sqlite3_str *s, const bl_table *t, const char *prefix) {
  for (int e = 0; e <= t->ncol; e++) {
    for (int k = 0; k < 4; k++) {
      if (e == 0)
        sqlite3_str_appendf(s, ", %s\"__crsql_cl%s%s\"", prefix ? prefix : "", k ? "_" : "",
                            k ? clock_suffix[k] : "");
      else
        sqlite3_str_appendf(s, ", %s\"%w__crsql_%s\"", prefix ? prefix : "", t->cols[e - 1].name,
                            clock_suffix[k]);
    }
  }
}

char *bl__clock_col_name(const bl_table *t, int entry, int k) {
  if (entry == 0)
    return sqlite3_mprintf("\"__crsql_cl%s%s\"", k ? "_" : "", k ? clock_suffix[k] : "");
  return sqlite3_mprintf("\"%w__crsql_%s\"", t->cols[entry - 1].name, clock_suffix[k]);
}

static int clock_prepare_select(sqlite3 *db, bl_table *t) {
  if (t->clock_select) return SQLITE_OK;
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendall(s, "SELECT __crsql_dbv");
  bl__clock_entry_cols(s, t, NULL);
  char *where = bl__where_list(t->pks, t->npk, NULL, 1);
  sqlite3_str_appendf(s, " FROM \"%w__crsql_clk\" WHERE %s", t->name, where ? where : "0");
  sqlite3_free(where);
  char *sql = sqlite3_str_finish(s);
  int rc = bl__prepare_cached(db, &t->clock_select, sql);
  sqlite3_free(sql);
  return rc;
}

/* Parameters of the writes: primary key at 1..npk, __crsql_dbv at npk + 1,
 * then the four columns of every entry, then (except in the legacy layout)
 * the bucket __crsql_dbvb. `kind`: 0 INSERT, 1 UPDATE keeping the bucket
 * (it is not in the SET list, so its index is left alone), 2 UPDATE
 * setting it. */
static int clock_prepare_write(sqlite3 *db, bl_table *t, int kind) {
  if (t->legacy && kind == 1) kind = 2;
  sqlite3_stmt **stmt = kind == 0 ? &t->clock_write : kind == 1 ? &t->clock_update_same : &t->clock_update;
  if (*stmt) return SQLITE_OK;
  sqlite3_str *s = sqlite3_str_new(db);
  int n = BL_CLOCK_NCOLS(t);
  if (kind) {
    sqlite3_str_appendf(s, "UPDATE \"%w__crsql_clk\" SET \"__crsql_dbv\" = ?%d", t->name, t->npk + 1);
    int param = t->npk + 2;
    for (int e = 0; e <= t->ncol; e++)
      for (int k = 0; k < 4; k++) {
        char *c = bl__clock_col_name(t, e, k);
        sqlite3_str_appendf(s, ", %s = ?%d", c, param++);
        sqlite3_free(c);
      }
    if (kind == 2 && !t->legacy) sqlite3_str_appendf(s, ", \"__crsql_dbvb\" = ?%d", n + 1);
    char *where = bl__where_list(t->pks, t->npk, NULL, 1);
    sqlite3_str_appendf(s, " WHERE %s", where);
    sqlite3_free(where);
  } else {
    char *pks = bl__ident_list(t->pks, t->npk, NULL);
    sqlite3_str_appendf(s, "INSERT INTO \"%w__crsql_clk\" (%s, __crsql_dbv", t->name, pks ? pks : "");
    sqlite3_free(pks);
    bl__clock_entry_cols(s, t, NULL);
    if (!t->legacy) sqlite3_str_appendall(s, ", __crsql_dbvb");
    sqlite3_str_appendall(s, ") VALUES (");
    for (int i = 0; i < n + !t->legacy; i++) sqlite3_str_appendf(s, "%s?%d", i ? ", " : "", i + 1);
    sqlite3_str_appendall(s, ")");
  }
  char *sql = sqlite3_str_finish(s);
  int rc = bl__prepare_cached(db, stmt, sql);
  sqlite3_free(sql);
  return rc;
}

static int clock_prepare_delete(sqlite3 *db, bl_table *t) {
  if (t->clock_delete) return SQLITE_OK;
  char *where = bl__where_list(t->pks, t->npk, NULL, 1);
  char *sql = sqlite3_mprintf("DELETE FROM \"%w__crsql_clk\" WHERE %s", t->name, where);
  sqlite3_free(where);
  int rc = bl__prepare_cached(db, &t->clock_delete, sql);
  sqlite3_free(sql);
  return rc;
}

int bl__clock_bind_pks_values(sqlite3_stmt *stmt, int first, sqlite3_value **pks, int npk) {
  int rc = SQLITE_OK;
  for (int i = 0; rc == SQLITE_OK && i < npk; i++) rc = sqlite3_bind_value(stmt, first + i, pks[i]);
  return rc;
}

int bl__clock_bind_pks_packed(sqlite3_stmt *stmt, int first, const bl_pkval *pks, int npk) {
  int rc = SQLITE_OK;
  for (int i = 0; rc == SQLITE_OK && i < npk; i++) rc = bl__bind_pkval(stmt, first + i, &pks[i]);
  return rc;
}

bl_clock *bl__clock_new(const bl_table *t) {
  size_t size = sizeof(bl_clock) + sizeof(bl_entry) * (size_t)(t->ncol + 1);
  bl_clock *c = sqlite3_malloc64(size);
  if (c) memset(c, 0, size);
  return c;
}

/* Reads the record from the prepared clock_select (pks already bound). */
static int clock_read(bl_table *t, bl_clock *c) {
  sqlite3_stmt *s = t->clock_select;
  int rc = sqlite3_step(s);
  memset(c->e, 0, sizeof(bl_entry) * (size_t)(t->ncol + 1));
  c->stored = 0;
  if (rc == SQLITE_ROW) {
    c->stored = 1;
    c->stored_dbv = sqlite3_column_int64(s, 0);
    for (int e = 0; e <= t->ncol; e++) {
      int col = 1 + 4 * e;
      bl_entry *en = &c->e[e];
      en->present = sqlite3_column_type(s, col) != SQLITE_NULL;
      if (!en->present) continue;
      en->v = sqlite3_column_int64(s, col);
      en->dbv = sqlite3_column_int64(s, col + 1);
      en->site = sqlite3_column_int64(s, col + 2);
      en->seq = sqlite3_column_int64(s, col + 3);
    }
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  }
  sqlite3_reset(s);
  return rc;
}

int bl__clock_load_values(sqlite3 *db, bl_table *t, sqlite3_value **pks, bl_clock *c) {
  int rc = clock_prepare_select(db, t);
  if (rc != SQLITE_OK) return rc;
  rc = bl__clock_bind_pks_values(t->clock_select, 1, pks, t->npk);
  if (rc != SQLITE_OK) {
    sqlite3_reset(t->clock_select);
    return rc;
  }
  return clock_read(t, c);
}

int bl__clock_load_packed(sqlite3 *db, bl_table *t, const bl_pkval *pks, bl_clock *c) {
  int rc = clock_prepare_select(db, t);
  if (rc != SQLITE_OK) return rc;
  rc = bl__clock_bind_pks_packed(t->clock_select, 1, pks, t->npk);
  if (rc != SQLITE_OK) {
    sqlite3_reset(t->clock_select);
    return rc;
  }
  return clock_read(t, c);
}

int bl__clock_any(const bl_table *t, const bl_clock *c) {
  for (int e = 0; e <= t->ncol; e++)
    if (c->e[e].present) return 1;
  return 0;
}

/* A new clock row whose present entries share db_version and site (every
 * fresh row a merge or a local write creates): an INSERT with those bound
 * once and NULL literals for absent entries, about half the parameters of
 * clock_write. *done is 0 when the record does not qualify. */
static int clock_insert_uniform(sqlite3 *db, bl_table *t, bl_clock *c,
                                int (*bind_pks)(sqlite3_stmt *, int, const void *, int), const void *pks,
                                int *done) {
  *done = 0;
  if (t->legacy || t->ncol + 1 > 64) return SQLITE_OK;
  sqlite3_uint64 mask = 0;
  const bl_entry *first = NULL;
  for (int e = 0; e <= t->ncol; e++) {
    const bl_entry *en = &c->e[e];
    if (!en->present) continue;
    if (!first) first = en;
    else if (en->dbv != first->dbv || en->site != first->site) return SQLITE_OK;
    mask |= (sqlite3_uint64)1 << e;
  }
  if (!first) return SQLITE_OK;
  int slot = -1;
  for (int i = 0; i < BL_LW_CACHE; i++)
    if (t->clock_ins[i].stmt && t->clock_ins[i].mask == mask) slot = i;
  if (slot < 0) {
    slot = t->clock_ins_next;
    t->clock_ins_next = (t->clock_ins_next + 1) % BL_LW_CACHE;
    sqlite3_finalize(t->clock_ins[slot].stmt);
    t->clock_ins[slot].stmt = NULL;
    /* ?1..?npk the key, ?D db_version, ?D+1 site, then (v, seq) of each
     * present entry. */
    int d = t->npk + 1, p = d + 2;
    char *cols = bl__ident_list(t->pks, t->npk, NULL);
    sqlite3_str *s = sqlite3_str_new(db);
    sqlite3_str_appendf(s, "INSERT INTO \"%w__crsql_clk\" (%s, \"__crsql_dbv\", \"__crsql_dbvb\"", t->name,
                        cols ? cols : "");
    sqlite3_free(cols);
    bl__clock_entry_cols(s, t, NULL);
    sqlite3_str_appendall(s, ") VALUES (");
    for (int i = 0; i < t->npk; i++) sqlite3_str_appendf(s, "?%d, ", i + 1);
    sqlite3_str_appendf(s, "?%d, ?%d >> %d", d, d, BL_DBV_BUCKET_SHIFT);
    for (int e = 0; e <= t->ncol; e++) {
      if (mask & ((sqlite3_uint64)1 << e)) {
        sqlite3_str_appendf(s, ", ?%d, ?%d, ?%d, ?%d", p, d, d + 1, p + 1);
        p += 2;
      } else {
        sqlite3_str_appendall(s, ", NULL, NULL, NULL, NULL");
      }
    }
    sqlite3_str_appendall(s, ")");
    char *sql = sqlite3_str_finish(s);
    int rc = bl__prepare_cached(db, &t->clock_ins[slot].stmt, sql);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return rc;
    t->clock_ins[slot].mask = mask;
  }
  sqlite3_stmt *s = t->clock_ins[slot].stmt;
  int d = t->npk + 1, p = d + 2;
  int rc = bind_pks(s, 1, pks, t->npk);
  sqlite3_bind_int64(s, d, first->dbv);
  sqlite3_bind_int64(s, d + 1, first->site);
  for (int e = 0; rc == SQLITE_OK && e <= t->ncol; e++) {
    if (!c->e[e].present) continue;
    sqlite3_bind_int64(s, p++, c->e[e].v);
    rc = sqlite3_bind_int64(s, p++, c->e[e].seq);
  }
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return rc;
  c->stored = 1;
  c->stored_dbv = first->dbv;
  *done = 1;
  return SQLITE_OK;
}

/* Stores the record; `bind_pks` binds the primary key at parameter 1. */
static int clock_store(sqlite3 *db, bl_table *t, bl_clock *c,
                       int (*bind_pks)(sqlite3_stmt *, int, const void *, int), const void *pks) {
  int rc;
  if (!bl__clock_any(t, c)) {
    if (!c->stored) return SQLITE_OK;
    rc = clock_prepare_delete(db, t);
    if (rc != SQLITE_OK) return rc;
    rc = bind_pks(t->clock_delete, 1, pks, t->npk);
    if (rc == SQLITE_OK) rc = sqlite3_step(t->clock_delete);
    sqlite3_reset(t->clock_delete);
    if (rc == SQLITE_DONE) c->stored = 0;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  /* In place when the row exists: cheaper than a replace, and the bucket
   * index entry only moves when the row's maximum left its bucket. */
  sqlite3_int64 maxdbv = 0;
  for (int e = 0; e <= t->ncol; e++)
    if (c->e[e].present && c->e[e].dbv > maxdbv) maxdbv = c->e[e].dbv;
  if (!c->stored) {
    int done = 0;
    rc = clock_insert_uniform(db, t, c, bind_pks, pks, &done);
    if (rc != SQLITE_OK || done) return rc;
  }
  int kind = !c->stored ? 0
             : (maxdbv >> BL_DBV_BUCKET_SHIFT) == (c->stored_dbv >> BL_DBV_BUCKET_SHIFT) ? 1
                                                                                          : 2;
  rc = clock_prepare_write(db, t, kind);
  if (rc != SQLITE_OK) return rc;
  sqlite3_stmt *s = kind == 0 ? t->clock_write : kind == 1 && !t->legacy ? t->clock_update_same : t->clock_update;
  rc = bind_pks(s, 1, pks, t->npk);
  int col = t->npk + 2;
  for (int e = 0; rc == SQLITE_OK && e <= t->ncol; e++, col += 4) {
    const bl_entry *en = &c->e[e];
    if (!en->present) {
      for (int k = 0; k < 4; k++) sqlite3_bind_null(s, col + k);
      continue;
    }
    sqlite3_bind_int64(s, col, en->v);
    sqlite3_bind_int64(s, col + 1, en->dbv);
    sqlite3_bind_int64(s, col + 2, en->site);
    rc = sqlite3_bind_int64(s, col + 3, en->seq);
  }
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, t->npk + 1, maxdbv);
  if (rc == SQLITE_OK && kind != 1 && !t->legacy)
    rc = sqlite3_bind_int64(s, BL_CLOCK_NCOLS(t) + 1, maxdbv >> BL_DBV_BUCKET_SHIFT);
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc == SQLITE_DONE) {
    c->stored = 1;
    c->stored_dbv = maxdbv;
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int clock_bind_values_cb(sqlite3_stmt *s, int first, const void *pks, int npk) {
  return bl__clock_bind_pks_values(s, first, (sqlite3_value **)pks, npk);
}

static int clock_bind_packed_cb(sqlite3_stmt *s, int first, const void *pks, int npk) {
  return bl__clock_bind_pks_packed(s, first, (const bl_pkval *)pks, npk);
}

int bl__clock_store_values(sqlite3 *db, bl_table *t, sqlite3_value **pks, bl_clock *c) {
  return clock_store(db, t, c, clock_bind_values_cb, pks);
}

int bl__clock_store_packed(sqlite3 *db, bl_table *t, const bl_pkval *pks, bl_clock *c) {
  return clock_store(db, t, c, clock_bind_packed_cb, pks);
}
