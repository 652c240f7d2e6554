/*
 * changes_vtab.c — the crsql_changes virtual table (eponymous, like
 * cr-sqlite's): SELECT lists every clock entry of every CRR as a change,
 * INSERT merges a remote change (merge.c).
 *
 * Reading runs one SQL query: for every table and every entry (sentinel and
 * each column) a SELECT over the clock table joined with the base row, all
 * UNION ALL'ed, filtered by the pushed-down constraints and ordered by
 * (db_version, seq) unless the query asks for another order. A constraint
 * db_version > ? / >= ? / = ? is also applied to the per-row maximum
 * __crsql_dbv of each clock table and to its indexed bucket __crsql_dbvb, so
 * reading recent changes ranges over the index and never scans the table.
 *
 * Divided into: connect/disconnect; planning (xBestIndex); reading; writing.
 */
#include <string.h>

#include "crdt/clock.h"

enum { CH_TABLE, CH_PK, CH_CID, CH_VAL, CH_COL_VERSION, CH_DB_VERSION, CH_SITE_ID, CH_CL, CH_SEQ, CH_NCOLS };

static const char *const ch_colnames[CH_NCOLS] = {"tbl",        "pk",      "cid", "val", "col_version",
                                                  "db_version", "site_id", "cl",  "seq"};

typedef struct ch_vtab {
  sqlite3_vtab base;
  bl_crdt *st;
} ch_vtab;

typedef struct ch_cursor {
  sqlite3_vtab_cursor base;
  sqlite3_stmt *stmt;
  int eof;
  sqlite3_int64 rowid;
} ch_cursor;

/* ------------------------------------------------------------ connect */

static int ch_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err) {
  int rc = sqlite3_declare_vtab(
      db,
      "CREATE TABLE x([table] TEXT NOT NULL, [pk] BLOB NOT NULL, [cid] TEXT NOT NULL, [val] ANY, "
      "[col_version] INTEGER NOT NULL, [db_version] INTEGER NOT NULL, [site_id] BLOB NOT NULL, "
      "[cl] INTEGER NOT NULL, [seq] INTEGER NOT NULL)");
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("Could not define the table");
    return rc;
  }
  ch_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->st = (bl_crdt *)aux;
  *out = &v->base;
  return SQLITE_OK;
}

/* SQLite disconnects virtual tables before checking for unfinalized
 * statements at close, so this is where the engine's cached statements go:
 * closing a connection never fails because of them. They are re-prepared on
 * demand if the connection lives on. */
static int ch_disconnect(sqlite3_vtab *vtab) {
  ch_vtab *v = (ch_vtab *)vtab;
  bl__state_finalize_stmts(v->st);
  sqlite3_free(v);
  return SQLITE_OK;
}

/* ------------------------------------------------------------ planning */

/* idxStr encodes the usable constraints as "<col><op>," pairs (op is the
 * SQLITE_INDEX_CONSTRAINT_* number) followed by "|" and the ORDER BY terms
 * as "<col><a|d>,". Arguments arrive in constraint order. */
static const char *ch_op_sql(int op) {
  switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ: return "=";
    case SQLITE_INDEX_CONSTRAINT_GT: return ">";
    case SQLITE_INDEX_CONSTRAINT_LE: return "<=";
    case SQLITE_INDEX_CONSTRAINT_LT: return "<";
    case SQLITE_INDEX_CONSTRAINT_GE: return ">=";
    case SQLITE_INDEX_CONSTRAINT_NE: return "!=";
    case SQLITE_INDEX_CONSTRAINT_IS: return "IS";
    case SQLITE_INDEX_CONSTRAINT_ISNOT: return "IS NOT";
    case SQLITE_INDEX_CONSTRAINT_ISNULL: return "IS NULL";
    case SQLITE_INDEX_CONSTRAINT_ISNOTNULL: return "IS NOT NULL";
    case SQLITE_INDEX_CONSTRAINT_LIKE: return "LIKE";
    case SQLITE_INDEX_CONSTRAINT_GLOB: return "GLOB";
    default: return NULL;
  }
}

static int ch_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  int argv_index = 1, has_dbv = 0, has_dbv_eq = 0, has_site = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (!c->usable || c->iColumn < CH_CID || c->iColumn == CH_VAL || !ch_op_sql(c->op)) continue;
    sqlite3_str_appendf(s, "%d:%d,", c->iColumn, c->op);
    if (c->op != SQLITE_INDEX_CONSTRAINT_ISNULL && c->op != SQLITE_INDEX_CONSTRAINT_ISNOTNULL)
      info->aConstraintUsage[i].argvIndex = argv_index++;
    info->aConstraintUsage[i].omit = 1;
    if (c->iColumn == CH_DB_VERSION) {
      if (c->op == SQLITE_INDEX_CONSTRAINT_EQ) has_dbv_eq = 1;
      if (c->op == SQLITE_INDEX_CONSTRAINT_GT || c->op == SQLITE_INDEX_CONSTRAINT_GE ||
          c->op == SQLITE_INDEX_CONSTRAINT_EQ)
        has_dbv = 1;
    }
    if (c->iColumn == CH_SITE_ID) has_site = 1;
  }
  sqlite3_str_appendchar(s, 1, '|');
  int consumed = 1;
  for (int i = 0; i < info->nOrderBy; i++) {
    int col = info->aOrderBy[i].iColumn;
    if (col < 0 || col == CH_VAL) {
      consumed = 0;
      break;
    }
    sqlite3_str_appendf(s, "%d%c,", col, info->aOrderBy[i].desc ? 'd' : 'a');
  }
  if (!consumed) {
    /* Keep the default order; SQLite sorts on top. */
    char *partial = sqlite3_str_finish(s);
    char *bar = partial ? strchr(partial, '|') : NULL;
    if (bar) bar[1] = '\0';
    info->idxStr = partial;
  } else {
    info->idxStr = sqlite3_str_finish(s);
  }
  if (!info->idxStr) return SQLITE_NOMEM;
  info->needToFreeIdxStr = 1;
  info->orderByConsumed = consumed;
  info->idxNum = (has_dbv ? 2 : 0) | (has_site ? 4 : 0);
  if (has_dbv_eq) {
    info->estimatedCost = 1.0;
    info->estimatedRows = 1;
  } else if (has_dbv) {
    info->estimatedCost = 10.0;
    info->estimatedRows = 10;
  } else {
    info->estimatedCost = 2147483647.0;
    info->estimatedRows = 2147483647;
  }
  return SQLITE_OK;
}

/* ------------------------------------------------------------ reading */

typedef struct ch_cons {
  int col, op, param;
} ch_cons;

static int ch_parse_idx(const char *idx, ch_cons *cons, int max, int *ncons, const char **order) {
  *ncons = 0;
  *order = "";
  const char *p = idx ? idx : "|";
  int param = 1;
  while (*p && *p != '|') {
    int col = 0, op = 0;
    while (*p >= '0' && *p <= '9') col = col * 10 + (*p++ - '0');
    if (*p++ != ':') return SQLITE_ERROR;
    while (*p >= '0' && *p <= '9') op = op * 10 + (*p++ - '0');
    if (*p++ != ',') return SQLITE_ERROR;
    if (*ncons >= max) return SQLITE_ERROR;
    int uses_arg = op != SQLITE_INDEX_CONSTRAINT_ISNULL && op != SQLITE_INDEX_CONSTRAINT_ISNOTNULL;
    cons[(*ncons)++] = (ch_cons){col, op, uses_arg ? param++ : 0};
  }
  if (*p == '|') *order = p + 1;
  return SQLITE_OK;
}

/* Appends one SELECT producing the changes of entry `e` of table t. */
static void ch_append_entry_select(sqlite3_str *s, const bl_table *t, int ti, int e, const ch_cons *cons,
                                   int ncons) {
  char *v = bl__clock_col_name(t, e, 0), *dbv = bl__clock_col_name(t, e, 1);
  char *site = bl__clock_col_name(t, e, 2), *seq = bl__clock_col_name(t, e, 3);
  char *pks = bl__ident_list(t->pks, t->npk, "c.");
  sqlite3_str_appendf(s, "SELECT '%q' AS tbl, crsql_pack_columns(%s) AS pk, ", t->name, pks);
  if (e == 0) {
    sqlite3_str_appendf(s, "'-1' AS cid, NULL AS val, ");
  } else {
    /* cr-sqlite reports a column entry whose row is gone as a '-1' change
     * with no value. */
    sqlite3_str_appendf(s, "CASE WHEN b.\"%w\" IS NULL THEN '-1' ELSE '%q' END AS cid, b.\"%w\" AS val, ",
                        t->pks[0].name, t->cols[e - 1].name, t->cols[e - 1].name);
  }
  sqlite3_str_appendf(s,
                      "c.%s AS col_version, c.%s AS db_version, s.site_id AS site_id, "
                      "COALESCE(c.\"__crsql_cl\", 1) AS cl, c.%s AS seq, %d AS _ti, c.rowid AS _key "
                      "FROM \"%w__crsql_clk\" AS c ",
                      v, dbv, seq, ti, t->name);
  if (e != 0) {
    sqlite3_str_appendf(s, "LEFT JOIN \"%w\" AS b ON ", t->name);
    for (int i = 0; i < t->npk; i++)
      sqlite3_str_appendf(s, "%sb.\"%w\" = c.\"%w\"", i ? " AND " : "", t->pks[i].name, t->pks[i].name);
    sqlite3_str_appendchar(s, 1, ' ');
  }
  sqlite3_str_appendf(s, "LEFT JOIN crsql_site_id AS s ON s.ordinal = c.%s WHERE c.%s IS NOT NULL", site, v);
  for (int i = 0; i < ncons; i++) {
    if (cons[i].col != CH_DB_VERSION) continue;
    const char *op = cons[i].op == SQLITE_INDEX_CONSTRAINT_EQ   ? ">="
                     : cons[i].op == SQLITE_INDEX_CONSTRAINT_GT ? ">"
                     : cons[i].op == SQLITE_INDEX_CONSTRAINT_GE ? ">="
                                                                : NULL;
    if (!op) continue;
    /* The row maximum bounds every entry of the row, and its bucket bounds
     * the maximum: a range of the bucket index. */
    if (!t->legacy)
      sqlite3_str_appendf(s, " AND c.\"__crsql_dbvb\" >= (?%d >> %d)", cons[i].param, BL_DBV_BUCKET_SHIFT);
    sqlite3_str_appendf(s, " AND c.\"__crsql_dbv\" %s ?%d AND c.%s %s ?%d", op, cons[i].param, dbv,
                        ch_op_sql(cons[i].op), cons[i].param);
  }
  sqlite3_free(v);
  sqlite3_free(dbv);
  sqlite3_free(site);
  sqlite3_free(seq);
  sqlite3_free(pks);
}

static char *ch_build_query(bl_crdt *st, const ch_cons *cons, int ncons, const char *order) {
  sqlite3_str *s = sqlite3_str_new(st->db);
  sqlite3_str_appendall(s, "SELECT tbl, pk, cid, val, col_version, db_version, site_id, cl, seq FROM (");
  int first = 1;
  for (int i = 0; i < st->ntables; i++) {
    for (int e = 0; e <= st->tables[i]->ncol; e++) {
      if (!first) sqlite3_str_appendall(s, " UNION ALL ");
      first = 0;
      ch_append_entry_select(s, st->tables[i], i, e, cons, ncons);
    }
  }
  sqlite3_str_appendall(s, ")");
  for (int i = 0; i < ncons; i++) {
    sqlite3_str_appendf(s, "%s%s %s", i ? " AND " : " WHERE ", ch_colnames[cons[i].col], ch_op_sql(cons[i].op));
    if (cons[i].param) sqlite3_str_appendf(s, " ?%d", cons[i].param);
  }
  if (!*order) {
    /* Ties (equal db_version and seq) resolve as cr-sqlite's scan order
     * does: table creation order, then row key, then column name. */
    sqlite3_str_appendall(s, " ORDER BY db_version, seq, _ti, _key, cid");
  } else {
    sqlite3_str_appendall(s, " ORDER BY ");
    const char *p = order;
    int n = 0;
    while (*p) {
      int col = 0;
      while (*p >= '0' && *p <= '9') col = col * 10 + (*p++ - '0');
      char dir = *p ? *p++ : 'a';
      if (*p == ',') p++;
      if (col < 0 || col >= CH_NCOLS) continue;
      sqlite3_str_appendf(s, "%s%s %s", n++ ? ", " : "", ch_colnames[col], dir == 'd' ? "DESC" : "ASC");
    }
  }
  return sqlite3_str_finish(s);
}

static int ch_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out) {
  ch_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->eof = 1;
  *out = &c->base;
  return SQLITE_OK;
}

static int ch_close(sqlite3_vtab_cursor *cur) {
  ch_cursor *c = (ch_cursor *)cur;
  sqlite3_finalize(c->stmt);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int ch_next(sqlite3_vtab_cursor *cur) {
  ch_cursor *c = (ch_cursor *)cur;
  if (!c->stmt) {
    c->eof = 1;
    return SQLITE_OK;
  }
  int rc = sqlite3_step(c->stmt);
  if (rc == SQLITE_ROW) {
    c->rowid++;
    return SQLITE_OK;
  }
  c->eof = 1;
  if (rc == SQLITE_DONE) return SQLITE_OK;
  ch_vtab *v = (ch_vtab *)cur->pVtab;
  sqlite3_free(v->base.zErrMsg);
  v->base.zErrMsg = sqlite3_mprintf("crsql_changes: %s", sqlite3_errmsg(v->st->db));
  return rc;
}

static int ch_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                     sqlite3_value **argv) {
  ch_cursor *c = (ch_cursor *)cur;
  ch_vtab *v = (ch_vtab *)cur->pVtab;
  bl_crdt *st = v->st;
  sqlite3_finalize(c->stmt);
  c->stmt = NULL;
  c->eof = 1;
  c->rowid = 0;

  /* Changes held back by an insert of this statement are read too. */
  char *err = NULL;
  int rc = bl__pending_flush(st, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(v->base.zErrMsg);
    v->base.zErrMsg = err ? err : sqlite3_mprintf("crsql_changes: merge failed");
    return rc;
  }
  /* Reads always check the schema: another connection may have changed it. */
  bl__state_invalidate_tables_soft(st);
  rc = bl__tables_refresh(st, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(v->base.zErrMsg);
    v->base.zErrMsg = err ? err : sqlite3_mprintf("Could not update table infos");
    return rc;
  }
  if (st->ntables == 0) return SQLITE_OK;

  ch_cons cons[64];
  int ncons;
  const char *order;
  if (ch_parse_idx(idx_str, cons, 64, &ncons, &order) != SQLITE_OK) return SQLITE_ERROR;
  char *sql = ch_build_query(st, cons, ncons, order);
  if (!sql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(st->db, sql, -1, &c->stmt, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) {
    sqlite3_free(v->base.zErrMsg);
    v->base.zErrMsg = sqlite3_mprintf("crsql_changes: %s", sqlite3_errmsg(st->db));
    return rc;
  }
  for (int i = 0; i < argc; i++) {
    rc = sqlite3_bind_value(c->stmt, i + 1, argv[i]);
    if (rc != SQLITE_OK) return rc;
  }
  c->eof = 0;
  return ch_next(cur);
}

static int ch_eof(sqlite3_vtab_cursor *cur) { return ((ch_cursor *)cur)->eof; }

static int ch_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  ch_cursor *c = (ch_cursor *)cur;
  if (i >= 0 && i < CH_NCOLS) sqlite3_result_value(ctx, sqlite3_column_value(c->stmt, i));
  return SQLITE_OK;
}

static int ch_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((ch_cursor *)cur)->rowid;
  return SQLITE_OK;
}

/* ------------------------------------------------------------ writing */

static int ch_set_error(sqlite3_vtab *vtab, char *msg) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = msg;
  return SQLITE_ERROR;
}

static int ch_update(sqlite3_vtab *vtab, int argc, sqlite3_value **argv, sqlite3_int64 *rowid) {
  ch_vtab *v = (ch_vtab *)vtab;
  if (argc <= 1 || sqlite3_value_type(argv[0]) != SQLITE_NULL) {
    ch_set_error(vtab, sqlite3_mprintf(
                           "Only INSERT and SELECT statements are allowed against the crsql changes table"));
    return SQLITE_MISUSE;
  }
  sqlite3_value **col = argv + 2;
  if (sqlite3_value_type(col[CH_TABLE]) != SQLITE_TEXT)
    return ch_set_error(vtab, sqlite3_mprintf("crsql_changes: \"table\" must be text"));
  if (sqlite3_value_type(col[CH_PK]) != SQLITE_BLOB)
    return ch_set_error(vtab, sqlite3_mprintf("crsql_changes: pk must be a blob (a packed primary key)"));
  if (sqlite3_value_type(col[CH_CID]) != SQLITE_TEXT)
    return ch_set_error(vtab, sqlite3_mprintf("crsql_changes: cid must be text"));
  static const int int_cols[] = {CH_COL_VERSION, CH_DB_VERSION, CH_CL, CH_SEQ};
  for (size_t i = 0; i < sizeof int_cols / sizeof int_cols[0]; i++) {
    if (sqlite3_value_type(col[int_cols[i]]) != SQLITE_INTEGER)
      return ch_set_error(vtab, sqlite3_mprintf("crsql_changes: %s must be an integer",
                                                ch_colnames[int_cols[i]]));
  }
  int site_type = sqlite3_value_type(col[CH_SITE_ID]);
  if (site_type != SQLITE_BLOB && site_type != SQLITE_NULL)
    return ch_set_error(vtab, sqlite3_mprintf("crsql_changes: site_id must be a blob"));

  bl_change ch;
  memset(&ch, 0, sizeof ch);
  ch.table = (const char *)sqlite3_value_text(col[CH_TABLE]);
  ch.table_len = sqlite3_value_bytes(col[CH_TABLE]);
  ch.pk = sqlite3_value_blob(col[CH_PK]);
  ch.pk_len = sqlite3_value_bytes(col[CH_PK]);
  ch.cid = (const char *)sqlite3_value_text(col[CH_CID]);
  ch.cid_len = sqlite3_value_bytes(col[CH_CID]);
  ch.val = col[CH_VAL];
  ch.col_version = sqlite3_value_int64(col[CH_COL_VERSION]);
  ch.db_version = sqlite3_value_int64(col[CH_DB_VERSION]);
  ch.site_id = site_type == SQLITE_BLOB ? sqlite3_value_blob(col[CH_SITE_ID]) : NULL;
  ch.site_id_len = site_type == SQLITE_BLOB ? sqlite3_value_bytes(col[CH_SITE_ID]) : 0;
  ch.cl = sqlite3_value_int64(col[CH_CL]);
  ch.seq = sqlite3_value_int64(col[CH_SEQ]);
  if (ch.cl < 0 || ch.col_version < 0)
    return ch_set_error(vtab, sqlite3_mprintf("crsql_changes: cl and col_version must not be negative"));

  /* The second and later changes of one statement are held back and merged
   * in batches (changes_pending.c); the first is merged at once. */
  bl_crdt *st = v->st;
  char *err = NULL;
  int rc = bl__pending_add(st, &ch, &err);
  if (rc == SQLITE_DONE) {
    rc = bl__pending_flush(st, &err);
    if (rc == SQLITE_OK) rc = bl__merge_change(st, &ch, &err);
  }
  if (rc != SQLITE_OK) {
    bl__pending_discard(st);
    ch_set_error(vtab, err ? err : sqlite3_mprintf("crsql_changes: merge failed"));
    return rc;
  }
  bl__pending_mark_run(st);
  *rowid = 0;
  return SQLITE_OK;
}

/* ------------------------------------------------------------ transactions
 * The savepoint calls say where a statement ends (changes_pending.c). */

static int ch_begin(sqlite3_vtab *vtab) {
  bl__pending_tx_boundary(((ch_vtab *)vtab)->st);
  return SQLITE_OK;
}

static int ch_sync(sqlite3_vtab *vtab) {
  char *err = NULL;
  int rc = bl__pending_flush(((ch_vtab *)vtab)->st, &err);
  if (rc != SQLITE_OK) ch_set_error(vtab, err ? err : sqlite3_mprintf("crsql_changes: merge failed"));
  else sqlite3_free(err);
  return rc;
}

static int ch_commit(sqlite3_vtab *vtab) {
  bl_crdt *st = ((ch_vtab *)vtab)->st;
  bl__pending_tx_boundary(st);
  st->rows_impacted = 0;
  return SQLITE_OK;
}

static int ch_rollback(sqlite3_vtab *vtab) {
  bl_crdt *st = ((ch_vtab *)vtab)->st;
  bl__pending_tx_boundary(st);
  st->rows_impacted = 0;
  return SQLITE_OK;
}

static int ch_savepoint(sqlite3_vtab *vtab, int n) {
  bl__pending_savepoint(((ch_vtab *)vtab)->st, n);
  return SQLITE_OK;
}

static int ch_release(sqlite3_vtab *vtab, int n) {
  char *err = NULL;
  int rc = bl__pending_release(((ch_vtab *)vtab)->st, n, &err);
  if (rc != SQLITE_OK) ch_set_error(vtab, err ? err : sqlite3_mprintf("crsql_changes: merge failed"));
  else sqlite3_free(err);
  return rc;
}

static int ch_rollback_to(sqlite3_vtab *vtab, int n) {
  bl__pending_rollback_to(((ch_vtab *)vtab)->st, n);
  return SQLITE_OK;
}

static sqlite3_module ch_module = {
    .iVersion = 2,
    .xCreate = NULL, /* eponymous-only */
    .xConnect = ch_connect,
    .xBestIndex = ch_best_index,
    .xDisconnect = ch_disconnect,
    .xDestroy = ch_disconnect,
    .xOpen = ch_open,
    .xClose = ch_close,
    .xFilter = ch_filter,
    .xNext = ch_next,
    .xEof = ch_eof,
    .xColumn = ch_column,
    .xRowid = ch_rowid,
    .xUpdate = ch_update,
    .xBegin = ch_begin,
    .xSync = ch_sync,
    .xCommit = ch_commit,
    .xRollback = ch_rollback,
    .xSavepoint = ch_savepoint,
    .xRelease = ch_release,
    .xRollbackTo = ch_rollback_to,
};

static void ch_destroy_state(void *p) { bl__state_free((bl_crdt *)p); }

int bl__changes_vtab_register(sqlite3 *db, bl_crdt *st) {
  int rc = sqlite3_create_module_v2(db, "crsql_changes", &ch_module, st, ch_destroy_state);
  if (rc != SQLITE_OK) return rc;
  /* Connect the eponymous table now so that its xDisconnect runs at close
   * (see ch_disconnect). Failure here (e.g. a busy schema) is harmless. */
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM crsql_changes LIMIT 0", -1, &stmt, NULL) == SQLITE_OK)
    sqlite3_finalize(stmt);
  return SQLITE_OK;
}
