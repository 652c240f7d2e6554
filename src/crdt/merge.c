/*
 * merge.c — merging remote changes (INSERT INTO crsql_changes, and the
 * batched bl_crdt_merge), by cr-sqlite 0.16's rules:
 *
 *   - a change whose causal length cl is below the local one is ignored;
 *   - an even cl above the local one deletes the row (sentinel = incoming);
 *   - a sentinel-only change with an odd cl above the local one resurrects
 *     the row (column entries kept but zeroed);
 *   - a column change with an odd cl above the local one resurrects first,
 *     then wins; with an equal cl the higher col_version wins, then the
 *     value order of bl__compare_values, then (merge-equal-values) site id;
 *   - the winning entry keeps the incoming col_version, site and seq, and
 *     gets db_version = max(local next version, incoming db_version).
 *
 * The rules act on an open row (merge_row): its clock record, loaded once,
 * and the base-table writes it needs, kept until the row is flushed — a
 * DELETE if the row was deleted, then one INSERT ... ON CONFLICT DO UPDATE
 * of every column written (or an INSERT OR IGNORE of the key alone). A
 * single change (crsql_changes) opens, applies and flushes a row: one base
 * write and one clock write, after every check, so a failing change leaves
 * nothing behind. A batch keeps the row open while consecutive changes name
 * it, so a row of k columns costs one base write and one clock write, not
 * k of each. Base-table writes run with the sync bit set so the local-write
 * triggers stay quiet.
 *
 * Divided into: the open row; the rules; validation; the two entry points.
 */
#include <string.h>

#include "crdt/clock.h"

#define MERGE_MAX_PK 64
#define MERGE_MASK_CACHE 8

/* A prepared upsert for one set of columns (batched rows write several). */
typedef struct merge_upsert {
  bl_table *t;
  int n;
  int *cols;
  sqlite3_stmt *stmt;
} merge_upsert;

/* The row being merged. */
typedef struct merge_row {
  bl_table *t; /* NULL when no row is open */
  unsigned char *pk; /* the packed key (owned copy): the row's identity */
  int pk_len;
  bl_pkval pks[MERGE_MAX_PK]; /* unpacked, pointing into pk */
  bl_clock *c;
  int clock_dirty;
  /* Base-table writes not made yet. */
  int deleted; /* DELETE the row first */
  int created; /* the row must exist afterwards (key only if nothing set) */
  int nset;
  int cap_set;
  sqlite3_value **set; /* [ncol]: value to write (borrowed), or NULL */
  int cap_pk;
  /* Optimistic rows (batches, see merge_run) start from an empty record
   * without reading the clock; the changes applied to the row are
   * changes[first .. first + count), replayed on the real record if the
   * guess was wrong. */
  int optimistic;
  size_t first, count;
  int impacted_at_open;
  sqlite3_int64 pending_at_open; /* versions taken by a wrong guess are given back */
} merge_row;

typedef struct bl_merger {
  merge_row row;
  merge_upsert cache[MERGE_MASK_CACHE];
  int next_cache;
  int last_row_new; /* the previous row of the batch had no clock record */
} bl_merger;

/* Returned inside merge.c when an optimistic row needs its real record. */
#define MERGE_MATERIALIZE (-1)

typedef struct merge_ctx {
  bl_crdt *st;
  sqlite3 *db;
  merge_row *r;
  const bl_change *changes; /* the whole batch */
  const bl_change *ch;      /* the change being applied */
  sqlite3_int64 site; /* ordinal of the change's site */
  char **err;
} merge_ctx;

static int merge_fail(merge_ctx *m, int rc, char *msg) {
  if (*m->err == NULL) *m->err = msg;
  else sqlite3_free(msg);
  return rc == SQLITE_OK ? SQLITE_ERROR : rc;
}

static int merge_sql_fail(merge_ctx *m, int rc) {
  return merge_fail(m, rc, sqlite3_mprintf("crsql - merge into %s failed: %s",
                                           m->r->t ? m->r->t->name : "a CRR", sqlite3_errmsg(m->db)));
}

/* Steps a statement with the sync bit set (base-table writes). */
static int merge_step_quiet(merge_ctx *m, sqlite3_stmt *stmt) {
  m->st->sync_bit = 1;
  int rc = sqlite3_step(stmt);
  m->st->sync_bit = 0;
  sqlite3_reset(stmt);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* ------------------------------------------------------------ the open row */

/* Pending values are borrowed from the changes being merged, which live
 * for the whole call (merge_run); nothing to free. */
static void merge_clear_set(merge_row *r) {
  if (r->set && r->nset)
    for (int i = 0; r->t && i < r->t->ncol; i++) r->set[i] = NULL;
  r->nset = 0;
}

/* Closes the row; its buffers stay allocated for the next one. */
static void merge_row_reset(merge_row *r) {
  merge_clear_set(r);
  r->t = NULL;
  r->deleted = r->created = r->clock_dirty = r->optimistic = 0;
  r->first = r->count = 0;
}

void bl__merger_free(bl_merger *mg) {
  if (!mg) return;
  merge_row_reset(&mg->row);
  sqlite3_free(mg->row.set);
  sqlite3_free(mg->row.pk);
  sqlite3_free(mg->row.c);
  for (int i = 0; i < MERGE_MASK_CACHE; i++) {
    sqlite3_finalize(mg->cache[i].stmt);
    sqlite3_free(mg->cache[i].cols);
  }
  sqlite3_free(mg);
}

void bl__merger_forget_stmts(bl_merger *mg) {
  if (!mg) return;
  merge_row_reset(&mg->row);
  for (int i = 0; i < MERGE_MASK_CACHE; i++) {
    sqlite3_finalize(mg->cache[i].stmt);
    sqlite3_free(mg->cache[i].cols);
    memset(&mg->cache[i], 0, sizeof mg->cache[i]);
  }
}

static bl_merger *merge_merger(bl_crdt *st) {
  if (!st->merger) {
    st->merger = sqlite3_malloc(sizeof(bl_merger));
    if (st->merger) memset(st->merger, 0, sizeof(bl_merger));
  }
  return st->merger;
}

static int merge_row_open(merge_ctx *m, bl_table *t, const unsigned char *pk, int pk_len, int optimistic) {
  merge_row *r = m->r;
  /* Buffers grow to the largest key / table seen and are reused. */
  if (r->cap_pk < pk_len) {
    unsigned char *grown = sqlite3_realloc64(r->pk, (sqlite3_uint64)pk_len);
    if (!grown) return SQLITE_NOMEM;
    r->pk = grown;
    r->cap_pk = pk_len;
  }
  if (r->cap_set < t->ncol) {
    sqlite3_value **grown = sqlite3_realloc64(r->set, sizeof(*grown) * (size_t)t->ncol);
    if (!grown) return SQLITE_NOMEM;
    r->set = grown;
    bl_clock *c = sqlite3_realloc64(r->c, sizeof(bl_clock) + sizeof(bl_entry) * (size_t)(t->ncol + 1));
    if (!c) return SQLITE_NOMEM;
    r->c = c;
    r->cap_set = t->ncol;
  }
  if (!r->c) {
    r->c = sqlite3_malloc64(sizeof(bl_clock) + sizeof(bl_entry) * (size_t)(t->ncol + 1));
    if (!r->c) return SQLITE_NOMEM;
  }
  if (r->cap_set) memset(r->set, 0, sizeof(*r->set) * (size_t)r->cap_set);
  memset(r->c, 0, sizeof(bl_clock) + sizeof(bl_entry) * (size_t)(t->ncol + 1));
  r->t = t;
  memcpy(r->pk, pk, (size_t)pk_len);
  r->pk_len = pk_len;
  int count = 0;
  const char *perr = NULL;
  bl__unpack(r->pk, pk_len, r->pks, MERGE_MAX_PK, &count, &perr); /* validated by the caller */
  r->impacted_at_open = m->st->rows_impacted;
  r->pending_at_open = m->st->pending;
  r->optimistic = optimistic;
  if (optimistic) return SQLITE_OK; /* empty record until proven otherwise */
  int rc = bl__clock_load_packed(m->db, t, r->pks, r->c);
  if (rc != SQLITE_OK) {
    rc = merge_sql_fail(m, rc);
    merge_row_reset(r);
  }
  return rc;
}

/* The statement writing the row's set columns (NULL-safe: every pending
 * value is bound). Single columns use the per-column statement. */
static int merge_upsert_stmt(merge_ctx *m, sqlite3_stmt **out) {
  merge_row *r = m->r;
  bl_table *t = r->t;
  int cols[r->nset > 0 ? r->nset : 1], n = 0;
  for (int i = 0; i < t->ncol; i++)
    if (r->set[i]) cols[n++] = i;
  if (n == 1 && t->cols[cols[0]].merge_upsert) {
    *out = t->cols[cols[0]].merge_upsert;
    return SQLITE_OK;
  }
  bl_merger *mg = m->st->merger;
  for (int k = 0; k < MERGE_MASK_CACHE; k++) {
    merge_upsert *u = &mg->cache[k];
    if (u->t == t && u->n == n && u->stmt && memcmp(u->cols, cols, sizeof(int) * (size_t)n) == 0) {
      *out = u->stmt;
      return SQLITE_OK;
    }
  }
  char *pks = bl__ident_list(t->pks, t->npk, NULL);
  sqlite3_str *s = sqlite3_str_new(m->db);
  sqlite3_str_appendf(s, "INSERT INTO \"%w\" (%s", t->name, pks);
  for (int i = 0; i < n; i++) sqlite3_str_appendf(s, ", \"%w\"", t->cols[cols[i]].name);
  sqlite3_str_appendall(s, ") VALUES (");
  for (int i = 0; i < t->npk + n; i++) sqlite3_str_appendf(s, "%s?%d", i ? ", " : "", i + 1);
  sqlite3_str_appendall(s, ") ON CONFLICT DO UPDATE SET ");
  for (int i = 0; i < n; i++)
    sqlite3_str_appendf(s, "%s\"%w\" = ?%d", i ? ", " : "", t->cols[cols[i]].name, t->npk + 1 + i);
  sqlite3_free(pks);
  char *sql = sqlite3_str_finish(s);
  sqlite3_stmt *stmt = NULL;
  int rc = sql ? sqlite3_prepare_v3(m->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  if (n == 1) {
    t->cols[cols[0]].merge_upsert = stmt;
  } else {
    merge_upsert *u = &mg->cache[mg->next_cache];
    mg->next_cache = (mg->next_cache + 1) % MERGE_MASK_CACHE;
    sqlite3_finalize(u->stmt);
    sqlite3_free(u->cols);
    u->cols = sqlite3_malloc64(sizeof(int) * (size_t)n);
    if (!u->cols) {
      sqlite3_finalize(stmt);
      memset(u, 0, sizeof *u);
      return SQLITE_NOMEM;
    }
    memcpy(u->cols, cols, sizeof(int) * (size_t)n);
    u->n = n;
    u->t = t;
    u->stmt = stmt;
  }
  *out = stmt;
  return SQLITE_OK;
}

/* Makes the pending base-table writes. */
static int merge_flush_base(merge_ctx *m) {
  merge_row *r = m->r;
  bl_table *t = r->t;
  int rc = SQLITE_OK;
  if (r->deleted) {
    if (!t->row_delete) {
      char *where = bl__where_list(t->pks, t->npk, NULL, 1);
      char *sql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE %s", t->name, where);
      sqlite3_free(where);
      rc = bl__prepare_cached(m->db, &t->row_delete, sql);
      sqlite3_free(sql);
      if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
    }
    rc = bl__clock_bind_pks_packed(t->row_delete, 1, r->pks, t->npk);
    if (rc == SQLITE_OK) rc = merge_step_quiet(m, t->row_delete);
    if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
    r->deleted = 0;
  }
  if (r->nset > 0) {
    sqlite3_stmt *stmt = NULL;
    rc = merge_upsert_stmt(m, &stmt);
    if (rc != SQLITE_OK) return rc;
    rc = bl__clock_bind_pks_packed(stmt, 1, r->pks, t->npk);
    int param = t->npk + 1;
    for (int i = 0; rc == SQLITE_OK && i < t->ncol; i++)
      if (r->set[i]) rc = sqlite3_bind_value(stmt, param++, r->set[i]);
    if (rc == SQLITE_OK) rc = merge_step_quiet(m, stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  } else if (r->created) {
    if (!t->row_insert_pk) {
      char *cols = bl__ident_list(t->pks, t->npk, NULL);
      sqlite3_str *s = sqlite3_str_new(m->db);
      sqlite3_str_appendf(s, "INSERT OR IGNORE INTO \"%w\" (%s) VALUES (", t->name, cols);
      for (int i = 0; i < t->npk; i++) sqlite3_str_appendf(s, "%s?%d", i ? ", " : "", i + 1);
      sqlite3_str_appendall(s, ")");
      sqlite3_free(cols);
      char *sql = sqlite3_str_finish(s);
      rc = bl__prepare_cached(m->db, &t->row_insert_pk, sql);
      sqlite3_free(sql);
      if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
    }
    rc = bl__clock_bind_pks_packed(t->row_insert_pk, 1, r->pks, t->npk);
    if (rc == SQLITE_OK) rc = merge_step_quiet(m, t->row_insert_pk);
    if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  }
  r->created = 0;
  merge_clear_set(r);
  return SQLITE_OK;
}

/* Makes every pending write of the open row and closes it. */
static int merge_replay(merge_ctx *m, size_t upto);

static int merge_row_close(merge_ctx *m) {
  merge_row *r = m->r;
  if (!r->t) return SQLITE_OK;
  bl_merger *mg = m->st->merger;
  if (r->optimistic) {
    /* Write the clock row first, as a probe: it only succeeds if the row
     * had no clock record, which is what the rules assumed. */
    int rc = bl__clock_store_packed(m->db, r->t, r->pks, r->c);
    if (rc == SQLITE_OK) {
      mg->last_row_new = 1;
      r->clock_dirty = 0;
    } else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      mg->last_row_new = 0;
      rc = merge_replay(m, r->first + r->count);
    } else {
      rc = merge_sql_fail(m, rc);
    }
    if (rc != SQLITE_OK) {
      merge_row_reset(r);
      return rc;
    }
  } else {
    mg->last_row_new = !r->c->stored;
  }
  int rc = merge_flush_base(m);
  if (rc == SQLITE_OK && r->clock_dirty) {
    rc = bl__clock_store_packed(m->db, r->t, r->pks, r->c);
    if (rc != SQLITE_OK) rc = merge_sql_fail(m, rc);
  }
  merge_row_reset(r);
  return rc;
}

/* ------------------------------------------------------------ the rules */

static int merge_stamp(merge_ctx *m, bl_entry *e, sqlite3_int64 v) {
  sqlite3_int64 dbv;
  int rc = bl__next_db_version(m->st, m->ch->db_version, &dbv);
  if (rc != SQLITE_OK) return rc;
  e->present = 1;
  e->v = v;
  e->dbv = dbv;
  e->site = m->site;
  e->seq = m->ch->seq;
  m->r->clock_dirty = 1;
  return SQLITE_OK;
}

static int merge_delete(merge_ctx *m) {
  merge_row *r = m->r;
  merge_clear_set(r);
  r->deleted = 1;
  r->created = 0;
  for (int i = 1; i <= r->t->ncol; i++) memset(&r->c->e[i], 0, sizeof r->c->e[i]);
  return merge_stamp(m, &r->c->e[0], m->ch->col_version);
}

/* Zeroes the column entries and sets the sentinel to causal length `cl`.
 * The row will exist afterwards (a column write that follows creates it). */
static int merge_resurrect(merge_ctx *m, sqlite3_int64 cl) {
  merge_row *r = m->r;
  r->created = 1;
  for (int i = 1; i <= r->t->ncol; i++) {
    bl_entry *e = &r->c->e[i];
    if (!e->present) continue;
    sqlite3_int64 dbv;
    int rc = bl__next_db_version(m->st, m->ch->db_version, &dbv);
    if (rc != SQLITE_OK) return rc;
    e->v = 0;
    e->dbv = dbv;
  }
  return merge_stamp(m, &r->c->e[0], cl);
}

/* Reads the local value of column `col` into *out (an unprotected value
 * owned by *stmt, valid until it is finalized): the pending value if the
 * open row has one, else the stored one (pending writes made first when
 * the row was deleted or created in this batch: its defaults live in SQL). */
static int merge_local_value(merge_ctx *m, int col, sqlite3_stmt **stmt, sqlite3_value **out) {
  merge_row *r = m->r;
  bl_table *t = r->t;
  if (r->set[col]) {
    *out = r->set[col];
    return SQLITE_OK;
  }
  if (r->optimistic) return MERGE_MATERIALIZE; /* needs the real row */
  if (r->deleted || r->created || r->nset) {
    int rc = merge_flush_base(m);
    if (rc != SQLITE_OK) return rc;
  }
  char *where = bl__where_list(t->pks, t->npk, NULL, 1);
  char *sql = sqlite3_mprintf("SELECT \"%w\" FROM \"%w\" WHERE %s", t->cols[col].name, t->name, where);
  sqlite3_free(where);
  if (!sql) return SQLITE_NOMEM;
  int rc = sqlite3_prepare_v2(m->db, sql, -1, stmt, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  rc = bl__clock_bind_pks_packed(*stmt, 1, r->pks, t->npk);
  if (rc == SQLITE_OK) rc = sqlite3_step(*stmt);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_value(*stmt, 0);
    return SQLITE_OK;
  }
  if (rc == SQLITE_DONE)
    return merge_fail(m, SQLITE_ERROR, sqlite3_mprintf("could not find row to merge with for tbl %s", t->name));
  return merge_sql_fail(m, rc);
}

static int merge_site_blob_cmp(merge_ctx *m, sqlite3_int64 ordinal, int *out) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(m->db, "SELECT site_id FROM crsql_site_id WHERE ordinal = ?", -1, &stmt, NULL);
  if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  sqlite3_bind_int64(stmt, 1, ordinal);
  rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(stmt);
    return merge_fail(m, SQLITE_ERROR,
                      sqlite3_mprintf("could not find site_id for previous change, cr-sqlite clock "
                                      "table might be corrupt for tbl %s",
                                      m->r->t->name));
  }
  const unsigned char *local = sqlite3_column_blob(stmt, 0);
  int nl = sqlite3_column_bytes(stmt, 0), ni = m->ch->site_id_len;
  int n = nl < ni ? nl : ni;
  int c = n > 0 ? memcmp(m->ch->site_id, local, (size_t)n) : 0;
  *out = c != 0 ? c : (ni < nl ? -1 : ni > nl ? 1 : 0);
  sqlite3_finalize(stmt);
  return SQLITE_OK;
}

/* cr-sqlite's did_cid_win, for equal causal lengths. */
static int merge_cid_wins(merge_ctx *m, int col, int *wins) {
  bl_entry *e = &m->r->c->e[col + 1];
  if (!e->present || m->ch->col_version > e->v) {
    *wins = 1;
    return SQLITE_OK;
  }
  if (m->ch->col_version < e->v) {
    *wins = 0;
    return SQLITE_OK;
  }
  sqlite3_stmt *stmt = NULL;
  sqlite3_value *local = NULL;
  int rc = merge_local_value(m, col, &stmt, &local);
  if (rc == SQLITE_OK) {
    int cmp = bl__compare_values(m->ch->val, local);
    if (cmp == 0 && m->st->merge_equal_values == 1) rc = merge_site_blob_cmp(m, e->site, &cmp);
    *wins = cmp > 0;
  }
  sqlite3_finalize(stmt);
  return rc;
}

static int merge_write_column(merge_ctx *m, int col) {
  merge_row *r = m->r;
  if (!r->set[col]) r->nset++;
  r->set[col] = m->ch->val;
  return merge_stamp(m, &r->c->e[col + 1], m->ch->col_version);
}

/* Applies one change to the open row. */
static int merge_apply(merge_ctx *m, int col) {
  const bl_change *ch = m->ch;
  bl_clock *c = m->r->c;
  sqlite3_int64 local_cl = c->e[0].present ? c->e[0].v : (bl__clock_any(m->r->t, c) ? 1 : 0);
  if (ch->cl < local_cl) return SQLITE_OK;

  int is_delete = ch->cl % 2 == 0;
  int needs_resurrect = ch->cl > local_cl && ch->cl % 2 == 1;
  int exists_locally = local_cl != 0;
  int rc;

  if (is_delete) {
    if (ch->cl == local_cl) return SQLITE_OK;
    rc = merge_delete(m);
    if (rc == SQLITE_OK) m->st->rows_impacted++;
    return rc;
  }
  if (col < 0) { /* sentinel only */
    if (ch->cl == local_cl) return SQLITE_OK;
    rc = merge_resurrect(m, ch->col_version);
    if (rc == SQLITE_OK) m->st->rows_impacted++;
    return rc;
  }
  if (needs_resurrect && (exists_locally || ch->cl > 1)) {
    rc = merge_resurrect(m, ch->cl);
    if (rc != SQLITE_OK) return rc;
    m->st->rows_impacted++;
  }
  int wins = 1;
  if (!needs_resurrect && exists_locally) {
    rc = merge_cid_wins(m, col, &wins);
    if (rc != SQLITE_OK) return rc;
  }
  if (!wins) return SQLITE_OK;
  rc = merge_write_column(m, col);
  if (rc == SQLITE_OK) m->st->rows_impacted++;
  return rc;
}

/* Finds the column named by the change: -1 for the sentinel, -2 if unknown. */
static int merge_find_col(const bl_table *t, const char *cid, int len) {
  if (len == 2 && memcmp(cid, BL_SENTINEL, 2) == 0) return -1;
  for (int i = 0; i < t->ncol; i++)
    if ((int)strlen(t->cols[i].name) == len && memcmp(t->cols[i].name, cid, (size_t)len) == 0) return i;
  return -2;
}

/* ------------------------------------------------------------ validation */

/* Checks a change and finds its table and column (col -1 = sentinel). */
static int merge_check(bl_crdt *st, const bl_change *ch, bl_table **out_t, int *out_col, char **err) {
  if (!ch->table || ch->table_len > BL_MAX_NAME_LEN) {
    *err = sqlite3_mprintf("crsql - table name exceeded max length");
    return SQLITE_ERROR;
  }
  if (!ch->cid || ch->cid_len > BL_MAX_NAME_LEN) {
    *err = sqlite3_mprintf(ch->cid ? "crsql - column name exceeded max length"
                                   : "crsql - the change has no column name (cid)");
    return SQLITE_ERROR;
  }
  if (ch->site_id_len > BL_SITE_ID_LEN) {
    *err = sqlite3_mprintf("crsql - site id exceeded max length");
    return SQLITE_ERROR;
  }
  if (!ch->val) {
    *err = sqlite3_mprintf("crsql - the change has no value");
    return SQLITE_MISUSE;
  }
  bl_table *t = bl__table_find(st, ch->table, ch->table_len);
  if (!t) {
    *err = sqlite3_mprintf("crsql - could not find the schema information for table %.*s", ch->table_len,
                           ch->table);
    return SQLITE_ERROR;
  }
  int col = merge_find_col(t, ch->cid, ch->cid_len);
  if (col == -2) {
    *err = sqlite3_mprintf("crsql - could not find column %.*s in table %s", ch->cid_len, ch->cid, t->name);
    return SQLITE_ERROR;
  }
  bl_pkval pks[MERGE_MAX_PK];
  int npk = 0;
  const char *perr = NULL;
  if (bl__unpack(ch->pk, ch->pk_len, pks, MERGE_MAX_PK, &npk, &perr) != SQLITE_OK) {
    *err = sqlite3_mprintf("crsql - invalid primary key for table %s: %s", t->name, perr);
    return SQLITE_ERROR;
  }
  if (npk != t->npk) {
    *err = sqlite3_mprintf("crsql - primary key for table %s has %d values, expected %d", t->name, npk, t->npk);
    return SQLITE_ERROR;
  }
  for (int i = 0; i < npk; i++) {
    if (pks[i].type == BL_T_NULL) {
      *err = sqlite3_mprintf("crsql - primary key for table %s contains NULL", t->name);
      return SQLITE_ERROR;
    }
  }
  *out_t = t;
  *out_col = col;
  return SQLITE_OK;
}

/* ------------------------------------------------------------ entry points */

/* Applies changes[0..n) in order. With `batch`, consecutive changes of one
 * row share one base write and one clock write; otherwise each change is
 * flushed on its own. */
/* Applies one change of the batch to the open row (opening it if needed). */
static int merge_one(merge_ctx *m, size_t i, int batch) {
  const bl_change *ch = &m->changes[i];
  bl_table *t = NULL;
  int col = 0;
  int rc = merge_check(m->st, ch, &t, &col, m->err);
  if (rc != SQLITE_OK) return rc;
  merge_row *r = m->r;
  /* Close the previous row first: closing may replay its changes, which
   * sets m->ch and m->site. */
  if (r->t && (r->t != t || r->pk_len != ch->pk_len || memcmp(r->pk, ch->pk, (size_t)ch->pk_len) != 0))
    rc = merge_row_close(m);
  if (rc != SQLITE_OK) return rc;
  m->ch = ch;
  rc = bl__site_ordinal(m->st, ch->site_id, ch->site_id_len, &m->site);
  if (rc != SQLITE_OK)
    return merge_fail(m, rc, sqlite3_mprintf("crsql - could not record the site id: %s", sqlite3_errmsg(m->db)));
  if (!r->t) {
    rc = merge_row_open(m, t, ch->pk, ch->pk_len, batch && m->st->merger->last_row_new);
    r->first = i;
  }
  if (rc != SQLITE_OK) return rc;
  r->count = i + 1 - r->first;
  rc = merge_apply(m, col);
  if (rc == MERGE_MATERIALIZE) rc = merge_replay(m, i + 1);
  return rc;
}

/* The optimistic guess was wrong: reload the row's real clock record and
 * apply its changes [first, upto) again from the start. */
static int merge_replay(merge_ctx *m, size_t upto) {
  merge_row *r = m->r;
  const bl_change *saved = m->ch;
  sqlite3_int64 saved_site = m->site;
  merge_clear_set(r);
  r->deleted = r->created = r->clock_dirty = 0;
  r->optimistic = 0;
  m->st->rows_impacted = r->impacted_at_open;
  m->st->pending = r->pending_at_open;
  int rc = bl__clock_load_packed(m->db, r->t, r->pks, r->c);
  if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  for (size_t i = r->first; rc == SQLITE_OK && i < upto; i++) {
    const bl_change *ch = &m->changes[i];
    bl_table *t = NULL;
    int col = 0;
    rc = merge_check(m->st, ch, &t, &col, m->err);
    if (rc == SQLITE_OK) rc = bl__site_ordinal(m->st, ch->site_id, ch->site_id_len, &m->site);
    m->ch = ch;
    if (rc == SQLITE_OK) rc = merge_apply(m, col);
  }
  m->ch = saved;
  m->site = saved_site;
  return rc;
}

/* Applies changes[0..n) in order. With `batch`, consecutive changes of one
 * row share one base write and one clock write, and a row is assumed new
 * (its clock is not read first) while the previous row was; otherwise each
 * change is flushed on its own. */
static int merge_run(bl_crdt *st, const bl_change *changes, size_t n, int batch, char **err) {
  *err = NULL;
  bl_merger *mg = merge_merger(st);
  if (!mg) return SQLITE_NOMEM;
  merge_ctx m;
  memset(&m, 0, sizeof m);
  m.st = st;
  m.db = st->db;
  m.r = &mg->row;
  m.err = err;
  m.changes = changes;
  mg->last_row_new = 1;
  /* Once per call: a refresh frees table descriptions an open row uses. */
  int rc = bl__tables_refresh(st, err);
  if (rc != SQLITE_OK) {
    if (!*err) *err = sqlite3_mprintf("Failed to update CRR table information");
    return rc;
  }
  for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
    rc = merge_one(&m, i, batch);
    if (rc == SQLITE_OK && !batch) rc = merge_row_close(&m);
  }
  if (rc == SQLITE_OK) rc = merge_row_close(&m);
  else merge_row_reset(m.r);
  st->sync_bit = 0;
  return rc;
}

int bl__merge_change(bl_crdt *st, const bl_change *ch, char **err) {
  int impacted = st->rows_impacted;
  sqlite3_int64 pending = st->pending;
  int rc = merge_run(st, ch, 1, 0, err);
  if (rc != SQLITE_OK) {
    /* Nothing was written (checks come first, then one base write, then one
     * clock write): undo the in-memory effects too. */
    st->rows_impacted = impacted;
    st->pending = pending;
  }
  return rc;
}

int bl__merge_validate(bl_crdt *st, const bl_change *ch, char **err) {
  *err = NULL;
  int rc = bl__tables_refresh(st, err);
  if (rc != SQLITE_OK) {
    if (!*err) *err = sqlite3_mprintf("Failed to update CRR table information");
    return rc;
  }
  bl_table *t = NULL;
  int col = 0;
  return merge_check(st, ch, &t, &col, err);
}

int bl__merge_batch(bl_crdt *st, const bl_change *changes, size_t n, char **err) {
  return merge_run(st, changes, n, 1, err);
}
