/*
 * merge.c — merging one remote change (INSERT INTO crsql_changes), by
 * cr-sqlite 0.16's rules:
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
 * The change is validated (table, column, primary key) before anything is
 * written and makes at most one base-table write followed by one clock
 * write, so a failing change leaves nothing behind. Base-table writes run with the sync bit set so the
 * local-write triggers stay quiet.
 */
#include <string.h>

#include "crdt/clock.h"

#define MERGE_MAX_PK 64

typedef struct merge_ctx {
  bl_crdt *st;
  sqlite3 *db;
  bl_table *t;
  const bl_change *ch;
  bl_pkval pks[MERGE_MAX_PK];
  bl_clock *c;
  sqlite3_int64 site; /* ordinal of the change's site */
  char **err;
} merge_ctx;

static int merge_fail(merge_ctx *m, int rc, char *msg) {
  if (*m->err == NULL) *m->err = msg;
  else sqlite3_free(msg);
  return rc == SQLITE_OK ? SQLITE_ERROR : rc;
}

static int merge_sql_fail(merge_ctx *m, int rc) {
  return merge_fail(m, rc, sqlite3_mprintf("crsql - merge into %s failed: %s", m->t->name,
                                           sqlite3_errmsg(m->db)));
}

/* Steps a statement with the sync bit set (base-table writes). */
static int merge_step_quiet(merge_ctx *m, sqlite3_stmt *stmt) {
  m->st->sync_bit = 1;
  int rc = sqlite3_step(stmt);
  m->st->sync_bit = 0;
  sqlite3_reset(stmt);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int merge_stamp(merge_ctx *m, bl_entry *e, sqlite3_int64 v) {
  sqlite3_int64 dbv;
  int rc = bl__next_db_version(m->st, m->ch->db_version, &dbv);
  if (rc != SQLITE_OK) return rc;
  e->present = 1;
  e->v = v;
  e->dbv = dbv;
  e->site = m->site;
  e->seq = m->ch->seq;
  return SQLITE_OK;
}

static int merge_delete(merge_ctx *m) {
  bl_table *t = m->t;
  if (!t->row_delete) {
    char *where = bl__where_list(t->pks, t->npk, NULL, 1);
    char *sql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE %s", t->name, where);
    sqlite3_free(where);
    int rc = bl__prepare_cached(m->db, &t->row_delete, sql);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  }
  int rc = bl__clock_bind_pks_packed(t->row_delete, 1, m->pks, t->npk);
  if (rc == SQLITE_OK) rc = merge_step_quiet(m, t->row_delete);
  if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  rc = merge_stamp(m, &m->c->e[0], m->ch->col_version);
  for (int i = 1; i <= t->ncol; i++) memset(&m->c->e[i], 0, sizeof m->c->e[i]);
  return rc;
}

/* Zeroes the column entries and sets the sentinel to causal length `cl`;
 * creates the row (primary key only) when `create_row` — otherwise the
 * column write that follows creates it. */
static int merge_resurrect(merge_ctx *m, sqlite3_int64 cl, int create_row) {
  bl_table *t = m->t;
  int rc;
  if (create_row) {
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
    rc = bl__clock_bind_pks_packed(t->row_insert_pk, 1, m->pks, t->npk);
    if (rc == SQLITE_OK) rc = merge_step_quiet(m, t->row_insert_pk);
    if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  }
  for (int i = 1; i <= t->ncol; i++) {
    bl_entry *e = &m->c->e[i];
    if (!e->present) continue;
    sqlite3_int64 dbv;
    rc = bl__next_db_version(m->st, m->ch->db_version, &dbv);
    if (rc != SQLITE_OK) return rc;
    e->v = 0;
    e->dbv = dbv;
  }
  return merge_stamp(m, &m->c->e[0], cl);
}

/* Reads the local value of column `col` into *out (an unprotected value
 * owned by the statement, valid until it is reset). */
static int merge_local_value(merge_ctx *m, int col, sqlite3_stmt **stmt, sqlite3_value **out) {
  bl_table *t = m->t;
  char *where = bl__where_list(t->pks, t->npk, NULL, 1);
  char *sql = sqlite3_mprintf("SELECT \"%w\" FROM \"%w\" WHERE %s", t->cols[col].name, t->name, where);
  sqlite3_free(where);
  if (!sql) return SQLITE_NOMEM;
  int rc = sqlite3_prepare_v2(m->db, sql, -1, stmt, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  rc = bl__clock_bind_pks_packed(*stmt, 1, m->pks, t->npk);
  if (rc == SQLITE_OK) rc = sqlite3_step(*stmt);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_value(*stmt, 0);
    return SQLITE_OK;
  }
  if (rc == SQLITE_DONE)
    return merge_fail(m, SQLITE_ERROR,
                      sqlite3_mprintf("could not find row to merge with for tbl %s", t->name));
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
                                      m->t->name));
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
  bl_entry *e = &m->c->e[col + 1];
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
  bl_table *t = m->t;
  bl_col *c = &t->cols[col];
  if (!c->merge_upsert) {
    char *pks = bl__ident_list(t->pks, t->npk, NULL);
    sqlite3_str *s = sqlite3_str_new(m->db);
    sqlite3_str_appendf(s, "INSERT INTO \"%w\" (%s, \"%w\") VALUES (", t->name, pks, c->name);
    for (int i = 0; i <= t->npk; i++) sqlite3_str_appendf(s, "%s?%d", i ? ", " : "", i + 1);
    sqlite3_str_appendf(s, ") ON CONFLICT DO UPDATE SET \"%w\" = ?%d", c->name, t->npk + 1);
    sqlite3_free(pks);
    char *sql = sqlite3_str_finish(s);
    int rc = bl__prepare_cached(m->db, &c->merge_upsert, sql);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  }
  int rc = bl__clock_bind_pks_packed(c->merge_upsert, 1, m->pks, t->npk);
  if (rc == SQLITE_OK) rc = sqlite3_bind_value(c->merge_upsert, t->npk + 1, m->ch->val);
  if (rc == SQLITE_OK) rc = merge_step_quiet(m, c->merge_upsert);
  if (rc != SQLITE_OK) return merge_sql_fail(m, rc);
  return merge_stamp(m, &m->c->e[col + 1], m->ch->col_version);
}

/* Applies the change to the row; the caller stores the record. Sets
 * *changed when the record must be stored. */
static int merge_apply(merge_ctx *m, int col, int *changed) {
  const bl_change *ch = m->ch;
  bl_clock *c = m->c;
  *changed = 0;
  sqlite3_int64 local_cl = c->e[0].present ? c->e[0].v : (bl__clock_any(m->t, c) ? 1 : 0);
  if (ch->cl < local_cl) return SQLITE_OK;

  int is_delete = ch->cl % 2 == 0;
  int needs_resurrect = ch->cl > local_cl && ch->cl % 2 == 1;
  int exists_locally = local_cl != 0;
  int rc;

  if (is_delete) {
    if (ch->cl == local_cl) return SQLITE_OK;
    rc = merge_delete(m);
    if (rc == SQLITE_OK) {
      m->st->rows_impacted++;
      *changed = 1;
    }
    return rc;
  }
  if (col < 0) { /* sentinel only */
    if (ch->cl == local_cl) return SQLITE_OK;
    rc = merge_resurrect(m, ch->col_version, 1);
    if (rc == SQLITE_OK) {
      m->st->rows_impacted++;
      *changed = 1;
    }
    return rc;
  }
  if (needs_resurrect && (exists_locally || ch->cl > 1)) {
    /* The column always wins after a resurrection; its upsert creates the
     * row, so the change costs a single base-table write. */
    rc = merge_resurrect(m, ch->cl, 0);
    if (rc != SQLITE_OK) return rc;
    m->st->rows_impacted++;
    *changed = 1;
  }
  int wins = 1;
  if (!needs_resurrect && exists_locally) {
    rc = merge_cid_wins(m, col, &wins);
    if (rc != SQLITE_OK) return rc;
  }
  if (!wins) return SQLITE_OK;
  rc = merge_write_column(m, col);
  if (rc == SQLITE_OK) {
    m->st->rows_impacted++;
    *changed = 1;
  }
  return rc;
}

/* Finds the column named by the change: -1 for the sentinel, -2 if unknown. */
static int merge_find_col(const bl_table *t, const char *cid, int len) {
  if (len == 2 && memcmp(cid, BL_SENTINEL, 2) == 0) return -1;
  for (int i = 0; i < t->ncol; i++)
    if ((int)strlen(t->cols[i].name) == len && memcmp(t->cols[i].name, cid, (size_t)len) == 0) return i;
  return -2;
}

int bl__merge_change(bl_crdt *st, const bl_change *ch, char **err) {
  merge_ctx m;
  memset(&m, 0, sizeof m);
  m.st = st;
  m.db = st->db;
  m.ch = ch;
  m.err = err;
  *err = NULL;

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
  int rc = bl__tables_refresh(st, err);
  if (rc != SQLITE_OK) {
    if (!*err) *err = sqlite3_mprintf("Failed to update CRR table information");
    return rc;
  }
  m.t = bl__table_find(st, ch->table, ch->table_len);
  if (!m.t) {
    *err = sqlite3_mprintf("crsql - could not find the schema information for table %.*s",
                           ch->table_len, ch->table);
    return SQLITE_ERROR;
  }
  int col = merge_find_col(m.t, ch->cid, ch->cid_len);
  if (col == -2) {
    *err = sqlite3_mprintf("crsql - could not find column %.*s in table %s", ch->cid_len, ch->cid,
                           m.t->name);
    return SQLITE_ERROR;
  }
  int npk = 0;
  const char *perr = NULL;
  if (bl__unpack(ch->pk, ch->pk_len, m.pks, MERGE_MAX_PK, &npk, &perr) != SQLITE_OK) {
    *err = sqlite3_mprintf("crsql - invalid primary key for table %s: %s", m.t->name, perr);
    return SQLITE_ERROR;
  }
  if (npk != m.t->npk) {
    *err = sqlite3_mprintf("crsql - primary key for table %s has %d values, expected %d", m.t->name,
                           npk, m.t->npk);
    return SQLITE_ERROR;
  }
  for (int i = 0; i < npk; i++) {
    if (m.pks[i].type == BL_T_NULL) {
      *err = sqlite3_mprintf("crsql - primary key for table %s contains NULL", m.t->name);
      return SQLITE_ERROR;
    }
  }

  rc = bl__site_ordinal(st, ch->site_id, ch->site_id_len, &m.site);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("crsql - could not record the site id: %s", sqlite3_errmsg(m.db));
    return rc;
  }
  m.c = bl__clock_new(m.t);
  if (!m.c) return SQLITE_NOMEM;

  /* A change makes at most one base-table write, then one clock write, and
   * is checked before either: a failing change leaves nothing behind. */
  int impacted = st->rows_impacted;
  sqlite3_int64 pending = st->pending;
  rc = bl__clock_load_packed(m.db, m.t, m.pks, m.c);
  if (rc != SQLITE_OK) rc = merge_sql_fail(&m, rc);
  int changed = 0;
  if (rc == SQLITE_OK) rc = merge_apply(&m, col, &changed);
  if (rc == SQLITE_OK && changed) {
    rc = bl__clock_store_packed(m.db, m.t, m.pks, m.c);
    if (rc != SQLITE_OK) rc = merge_sql_fail(&m, rc);
  }
  if (rc != SQLITE_OK) {
    st->sync_bit = 0;
    st->rows_impacted = impacted;
    st->pending = pending;
  }
  sqlite3_free(m.c);
  return rc;
}
