/*
 * tableinfo.c — what the engine knows about one CRR table: its primary key
 * and other columns, cr-sqlite's compatibility rules (with cr-sqlite's exact
 * messages), and the SQL of the statements the engine caches per table.
 *
 * Every identifier that reaches SQL text goes through "%w" (double-quote
 * escaping) and every string literal through '%q'; names that arrive in
 * changes are first matched against this description, so a name that is
 * not a known table or column never reaches SQL at all.
 */
#include <string.h>
#include <strings.h>

#include "crdt/crdt.h"

/* ------------------------------------------------------------ loading */

static void table_free_cols(bl_col *cols, int n) {
  if (!cols) return;
  for (int i = 0; i < n; i++) {
    sqlite3_finalize(cols[i].merge_upsert);
    sqlite3_free(cols[i].name);
  }
  sqlite3_free(cols);
}

void bl__table_finalize_stmts(bl_table *t) {
  if (!t) return;
  sqlite3_stmt **stmts[] = {&t->clock_select, &t->clock_write,   &t->clock_update, &t->clock_update_same,
                            &t->clock_delete, &t->row_select,    &t->row_delete,   &t->row_insert_pk,
                            &t->local_insert};
  for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
    sqlite3_finalize(*stmts[i]);
    *stmts[i] = NULL;
  }
  for (int i = 0; i < t->ncol; i++) {
    sqlite3_finalize(t->cols[i].merge_upsert);
    t->cols[i].merge_upsert = NULL;
  }
  for (int i = 0; i < BL_LW_CACHE; i++) {
    sqlite3_finalize(t->lw_update[i].stmt[0]);
    sqlite3_finalize(t->lw_update[i].stmt[1]);
    t->lw_update[i].stmt[0] = t->lw_update[i].stmt[1] = NULL;
    t->lw_update[i].mask = 0;
    sqlite3_finalize(t->clock_ins[i].stmt);
    t->clock_ins[i].stmt = NULL;
    t->clock_ins[i].mask = 0;
  }
}

void bl__table_free(bl_table *t) {
  if (!t) return;
  bl__table_finalize_stmts(t);
  table_free_cols(t->pks, t->npk);
  table_free_cols(t->cols, t->ncol);
  sqlite3_free(t->name);
  sqlite3_free(t);
}

int bl__table_load(sqlite3 *db, const char *name, bl_table **out, char **err) {
  *out = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc = SQLITE_NOMEM;
  bl_table *t = sqlite3_malloc(sizeof *t);
  if (!t) return SQLITE_NOMEM;
  memset(t, 0, sizeof *t);
  t->name = sqlite3_mprintf("%s", name);
  if (!t->name) goto done;

  rc = sqlite3_prepare_v2(db,
                          "SELECT name, pk, type FROM pragma_table_info(?) ORDER BY pk, cid", -1,
                          &stmt, NULL);
  if (rc != SQLITE_OK) goto done;
  sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
  int ncols = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) ncols++;
  sqlite3_reset(stmt);
  t->pks = sqlite3_malloc64(sizeof(bl_col) * (size_t)(ncols + 1));
  t->cols = sqlite3_malloc64(sizeof(bl_col) * (size_t)(ncols + 1));
  if (!t->pks || !t->cols) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  memset(t->pks, 0, sizeof(bl_col) * (size_t)(ncols + 1));
  memset(t->cols, 0, sizeof(bl_col) * (size_t)(ncols + 1));
  const char *pk_type = NULL;
  char *pk_type_copy = NULL;
  /* ORDER BY pk, cid lists non-pk columns (pk = 0) in table order first,
   * then primary key columns in PRIMARY KEY order. */
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    char *col = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(stmt, 0));
    if (!col) {
      rc = SQLITE_NOMEM;
      break;
    }
    if (sqlite3_column_int(stmt, 1) > 0) {
      t->pks[t->npk++].name = col;
      pk_type = (const char *)sqlite3_column_text(stmt, 2);
      sqlite3_free(pk_type_copy);
      pk_type_copy = sqlite3_mprintf("%s", pk_type ? pk_type : "");
    } else {
      t->cols[t->ncol++].name = col;
    }
  }
  sqlite3_finalize(stmt);
  stmt = NULL;
  if (rc != SQLITE_DONE) {
    sqlite3_free(pk_type_copy);
    goto done;
  }
  if (t->npk == 0) {
    sqlite3_free(pk_type_copy);
    if (err) *err = sqlite3_mprintf("crr %s is missing primary keys", name);
    rc = SQLITE_ERROR;
    goto done;
  }

  /* A single INTEGER primary key of a rowid table aliases the rowid; the
   * clock then uses an INTEGER PRIMARY KEY too (appends are cheap). */
  t->pk_is_rowid = 0;
  if (t->npk == 1 && pk_type_copy && sqlite3_stricmp(pk_type_copy, "INTEGER") == 0) {
    rc = sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_index_list(?) WHERE origin = 'pk'", -1,
                            &stmt, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
      t->pk_is_rowid = sqlite3_step(stmt) == SQLITE_DONE;
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
  }
  sqlite3_free(pk_type_copy);
  rc = SQLITE_OK;

done:
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK) {
    bl__table_free(t);
    return rc;
  }
  *out = t;
  return SQLITE_OK;
}

int bl__table_check_layout(sqlite3 *db, bl_table *t) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?) WHERE name = '__crsql_dbvb'", -1, &stmt,
                              NULL);
  if (rc != SQLITE_OK) return rc;
  char *clock = sqlite3_mprintf("%s__crsql_clk", t->name);
  if (!clock) {
    sqlite3_finalize(stmt);
    return SQLITE_NOMEM;
  }
  sqlite3_bind_text(stmt, 1, clock, -1, sqlite3_free);
  rc = sqlite3_step(stmt);
  t->legacy = rc != SQLITE_ROW;
  sqlite3_finalize(stmt);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ------------------------------------------------------------ compatibility */

static int table_count(sqlite3 *db, const char *sql, int *out) {
  sqlite3_stmt *stmt = NULL;
  if (!sql) return SQLITE_NOMEM;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int(stmt, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(stmt);
  return rc;
}

/* Runs a counting query built with sqlite3_mprintf and frees the SQL. */
static int table_count_f(sqlite3 *db, char *sql, int *out) {
  int rc = table_count(db, sql, out);
  sqlite3_free(sql);
  return rc;
}

int bl__table_check_compatible(sqlite3 *db, const char *name, char **err) {
  int n = 0, valid = 0, total = 0, rc;

  rc = table_count_f(db,
                     sqlite3_mprintf("SELECT count(*) FROM pragma_index_list('%q') "
                                     "WHERE \"origin\" != 'pk' AND \"unique\" = 1",
                                     name),
                     &n);
  if (rc != SQLITE_OK) return rc;
  if (n != 0) {
    /* cr-sqlite's message, including its missing space. */
    *err = sqlite3_mprintf(
        "Table %s has unique indices besidesthe primary key. This is not allowed for CRRs", name);
    return SQLITE_ERROR;
  }

  rc = table_count_f(db,
                     sqlite3_mprintf("SELECT count(*) FROM pragma_table_info('%q') "
                                     "WHERE \"pk\" > 0 AND \"notnull\" > 0",
                                     name),
                     &valid);
  if (rc != SQLITE_OK) return rc;
  if (valid == 0) {
    int exists = 0;
    rc = table_count_f(db,
                       sqlite3_mprintf("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                       "AND name = '%q'",
                                       name),
                       &exists);
    if (rc != SQLITE_OK) return rc;
    *err = sqlite3_mprintf(
        "Table %s has no primary key or primary key is nullable. CRRs must have a non nullable "
        "primary key%s",
        name, exists ? "" : " (the table does not exist)");
    return SQLITE_ERROR;
  }

  rc = table_count_f(db, sqlite3_mprintf("SELECT count(*) FROM pragma_table_info('%q') WHERE \"pk\" > 0", name),
                     &total);
  if (rc != SQLITE_OK) return rc;
  if (total != valid) {
    *err = sqlite3_mprintf(
        "Table %s has composite primary key part of which is nullable. CRRs must have a non "
        "nullable primary key",
        name);
    return SQLITE_ERROR;
  }

  rc = table_count_f(db,
                     sqlite3_mprintf("SELECT count(*) FROM sqlite_master WHERE name = '%q' AND type = "
                                     "'table' AND sql LIKE '%%autoincrement%%'",
                                     name),
                     &n);
  if (rc != SQLITE_OK) return rc;
  if (n != 0) {
    *err = sqlite3_mprintf(
        "%s has auto-increment primary keys. This is likely a mistake as two concurrent nodes will "
        "assign unrelated rows the same primary key. Either use a primary key that represents the "
        "identity of your row or use a database friendly UUID such as UUIDv7",
        name);
    return SQLITE_ERROR;
  }

  rc = table_count_f(db, sqlite3_mprintf("SELECT count(*) FROM pragma_foreign_key_list('%q')", name), &n);
  if (rc != SQLITE_OK) return rc;
  if (n != 0) {
    *err = sqlite3_mprintf(
        "Table %s has checked foreign key constraints. CRRs may have foreign keys but must not have "
        "checked foreign key constraints as they can be violated by row level security or "
        "replication.",
        name);
    return SQLITE_ERROR;
  }

  rc = table_count_f(db,
                     sqlite3_mprintf("SELECT count(*) FROM pragma_table_xinfo('%q') WHERE \"notnull\" "
                                     "= 1 AND \"dflt_value\" IS NULL AND \"pk\" = 0",
                                     name),
                     &n);
  if (rc != SQLITE_OK) return rc;
  if (n != 0) {
    *err = sqlite3_mprintf(
        "Table %s has a NOT NULL column without a DEFAULT VALUE. This is not allowed as it prevents "
        "forwards and backwards compatibility between schema versions. Make the column nullable or "
        "assign a default value to it.",
        name);
    return SQLITE_ERROR;
  }

  return SQLITE_OK;
}

/* ------------------------------------------------------------ SQL builders */

char *bl__ident_list(const bl_col *cols, int n, const char *prefix) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  for (int i = 0; i < n; i++)
    sqlite3_str_appendf(s, "%s%s\"%w\"", i ? ", " : "", prefix ? prefix : "", cols[i].name);
  char *out = sqlite3_str_finish(s);
  /* An empty list is "", not NULL (sqlite3_str_finish gives NULL for ""). */
  return out || n > 0 ? out : sqlite3_mprintf("");
}

char *bl__where_list(const bl_col *cols, int n, const char *prefix, int first_param) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  for (int i = 0; i < n; i++)
    sqlite3_str_appendf(s, "%s%s\"%w\" = ?%d", i ? " AND " : "", prefix ? prefix : "",
                        cols[i].name, first_param + i);
  return sqlite3_str_finish(s);
}
