/*
 * local_writes.c — the functions behind the AFTER INSERT / UPDATE / DELETE
 * triggers of a CRR, recording local writes in the row's clock record by
 * cr-sqlite 0.16's rules:
 *
 *   insert  every non-pk column: col_version 1, or +1 if it had an entry;
 *           if the row had a clock record, the sentinel (if any) goes to the
 *           next odd causal length; a pk-only table gets a sentinel entry.
 *   update  every column whose value changed (type-aware comparison): +1;
 *           a primary-key change deletes the old key (sentinel +1), moves
 *           the old key's column entries to the new key and creates the new
 *           key (sentinel to the next odd length).
 *   delete  sentinel +1 (2 when absent), column entries dropped.
 *
 * Every change of a transaction gets the same db_version and the next seq.
 * Each function loads the record, applies the rule, stores it back.
 */
#include <string.h>

#include "crdt/clock.h"

typedef struct lw_ctx {
  bl_crdt *st;
  bl_table *t;
  sqlite3_int64 dbv;
} lw_ctx;

/* Common preamble: finds the table named by argv[0] and takes this
 * transaction's db_version. On failure returns an SQLite code and sets *err
 * (sqlite3_malloc'ed). */
static int lw_begin_core(bl_crdt *st, int argc, sqlite3_value **argv, lw_ctx *lw, char **err) {
  lw->st = st;
  *err = NULL;
  if (argc < 1) {
    *err = sqlite3_mprintf("expected at least 1 argument");
    return SQLITE_ERROR;
  }
  /* Changes held back by a crsql_changes insert of this statement come first. */
  int rc = bl__pending_count(st) ? bl__pending_flush(st, err) : SQLITE_OK;
  if (rc != SQLITE_OK) return rc;
  rc = bl__tables_refresh(lw->st, err);
  if (rc != SQLITE_OK) {
    if (!*err) *err = sqlite3_mprintf("failed to ensure table infos are up to date");
    return rc;
  }
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  lw->t = bl__table_find(lw->st, name, sqlite3_value_bytes(argv[0]));
  if (!lw->t) {
    *err = sqlite3_mprintf("table %s not found; if cr-sqlite created this database, run "
                           "SELECT crsql_as_crr('%s') once to convert its clock tables",
                           name ? name : "", name ? name : "");
    return SQLITE_ERROR;
  }
  rc = bl__next_db_version(lw->st, 0, &lw->dbv);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("Unable to determine the next db version");
    return rc;
  }
  return SQLITE_OK;
}

/* The same for an SQL function: returns 0 with the error set on ctx. */
static int lw_begin(sqlite3_context *ctx, int argc, sqlite3_value **argv, lw_ctx *lw) {
  char *err = NULL;
  if (lw_begin_core((bl_crdt *)sqlite3_user_data(ctx), argc, argv, lw, &err) == SQLITE_OK) return 1;
  sqlite3_result_error(ctx, err ? err : "out of memory", -1);
  sqlite3_free(err);
  return 0;
}

/* Ends an SQL function with rc and message err (freed). */
static void lw_finish_err(sqlite3_context *ctx, int rc, char *err) {
  if (rc == SQLITE_OK) {
    sqlite3_result_int64(ctx, 0);
  } else {
    sqlite3_result_error(ctx, err ? err : sqlite3_errstr(rc), -1);
    sqlite3_result_error_code(ctx, rc);
  }
  sqlite3_free(err);
}

static int lw_seq(lw_ctx *lw) { return lw->st->seq++; }

static void lw_stamp(lw_ctx *lw, bl_entry *e, sqlite3_int64 v) {
  e->present = 1;
  e->v = v;
  e->dbv = lw->dbv;
  e->site = 0;
  e->seq = lw_seq(lw);
}

/* Sentinel to the next odd causal length (1 when absent). */
static void lw_mark_created(lw_ctx *lw, bl_entry *s) {
  lw_stamp(lw, s, !s->present ? 1 : (s->v % 2 == 0 ? s->v + 1 : s->v + 2));
}

/* Sentinel to the next causal length (2 when absent). */
static void lw_mark_deleted(lw_ctx *lw, bl_entry *s) { lw_stamp(lw, s, s->present ? s->v + 1 : 2); }

static void lw_finish(sqlite3_context *ctx, int rc) {
  if (rc == SQLITE_OK) {
    sqlite3_result_int64(ctx, 0);
  } else {
    sqlite3_result_error(ctx, sqlite3_errstr(rc), -1);
    sqlite3_result_error_code(ctx, rc);
  }
}

/* Shared body of the insert and delete functions: argv holds the table
 * name and the row's primary key; `apply` changes the loaded record. */
static void lw_single_row(sqlite3_context *ctx, int argc, sqlite3_value **argv, const char *fn,
                          void (*apply)(lw_ctx *, bl_clock *)) {
  lw_ctx lw;
  if (!lw_begin(ctx, argc, argv, &lw)) return;
  bl_table *t = lw.t;
  if (argc != 1 + t->npk) {
    char *msg = sqlite3_mprintf("%s: wrong number of arguments", fn);
    sqlite3_result_error(ctx, msg ? msg : fn, -1);
    sqlite3_free(msg);
    return;
  }
  sqlite3_value **pks = argv + 1;
  bl_clock *c = bl__clock_new(t);
  if (!c) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  int rc = bl__clock_load_values(lw.st->db, t, pks, c);
  if (rc == SQLITE_OK) {
    apply(&lw, c);
    rc = bl__clock_store_values(lw.st->db, t, pks, c);
  }
  sqlite3_free(c);
  lw_finish(ctx, rc);
}

static void lw_apply_insert(lw_ctx *lw, bl_clock *c) {
  bl_table *t = lw->t;
  if (t->ncol == 0) {
    lw_mark_created(lw, &c->e[0]);
    return;
  }
  if (c->stored) {
    /* cr-sqlite: a known key re-created; the seq is taken even when there
     * is no sentinel to move. */
    int seq = lw_seq(lw);
    if (c->e[0].present) {
      bl_entry *s = &c->e[0];
      s->v = s->v % 2 == 0 ? s->v + 1 : s->v + 2;
      s->dbv = lw->dbv;
      s->site = 0;
      s->seq = seq;
    }
  }
  for (int i = 1; i <= t->ncol; i++) lw_stamp(lw, &c->e[i], c->e[i].present ? c->e[i].v + 1 : 1);
}

static void lw_apply_delete(lw_ctx *lw, bl_clock *c) {
  lw_mark_deleted(lw, &c->e[0]);
  for (int i = 1; i <= lw->t->ncol; i++) memset(&c->e[i], 0, sizeof c->e[i]);
}

/* crsql_after_insert('t', new pk values...). The installed triggers do this
 * in SQL; the function remains for triggers written against cr-sqlite. */
void bl__fn_after_insert(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  lw_single_row(ctx, argc, argv, "crsql_after_insert", lw_apply_insert);
}

/* crsql_after_delete('t', old pk values...), likewise. */
void bl__fn_after_delete(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  lw_single_row(ctx, argc, argv, "crsql_after_delete", lw_apply_delete);
}

/* crsql_after_update('t', new pks..., old pks..., new cols..., old cols...) */
static int lw_after_update_core(bl_crdt *st, int argc, sqlite3_value **argv, char **err) {
  lw_ctx lw;
  int rc = lw_begin_core(st, argc, argv, &lw, err);
  if (rc != SQLITE_OK) return rc;
  bl_table *t = lw.t;
  if (argc != 1 + 2 * t->npk + 2 * t->ncol) {
    *err = sqlite3_mprintf("expected %d values, got %d", 1 + 2 * t->npk + 2 * t->ncol, argc);
    return SQLITE_ERROR;
  }
  sqlite3 *db = lw.st->db;
  sqlite3_value **new_pks = argv + 1, **old_pks = argv + 1 + t->npk;
  sqlite3_value **new_cols = argv + 1 + 2 * t->npk, **old_cols = new_cols + t->ncol;

  int pk_changed = 0;
  for (int i = 0; i < t->npk; i++)
    if (bl__compare_values(new_pks[i], old_pks[i]) != 0) pk_changed = 1;
  int any_col = 0;
  for (int i = 0; i < t->ncol; i++)
    if (bl__compare_values(new_cols[i], old_cols[i]) != 0) any_col = 1;
  if (!pk_changed && !any_col) return SQLITE_OK; /* the version was still taken, as in cr-sqlite */

  bl_clock *c = bl__clock_new(t), *old = pk_changed ? bl__clock_new(t) : NULL;
  rc = (!c || (pk_changed && !old)) ? SQLITE_NOMEM : SQLITE_OK;
  if (rc == SQLITE_OK) rc = bl__clock_load_values(db, t, new_pks, c);
  if (rc == SQLITE_OK && pk_changed) {
    rc = bl__clock_load_values(db, t, old_pks, old);
    if (rc == SQLITE_OK) {
      lw_mark_deleted(&lw, &old->e[0]);
      /* Column entries move to the new key unchanged (db_version, site and
       * seq kept), replacing what was there — exactly as cr-sqlite 0.16.
       * A peer that syncs with a db_version cursor therefore does not see
       * them as new; the backless sync engine compensates by sending whole
       * rows for keys created in a push (see docs/CRDT.md). */
      for (int i = 1; i <= t->ncol; i++) {
        if (!old->e[i].present) continue;
        c->e[i] = old->e[i];
        memset(&old->e[i], 0, sizeof old->e[i]);
      }
      lw_mark_created(&lw, &c->e[0]);
      rc = bl__clock_store_values(db, t, old_pks, old);
    }
  }
  for (int i = 0; rc == SQLITE_OK && i < t->ncol; i++) {
    if (bl__compare_values(new_cols[i], old_cols[i]) == 0) continue;
    bl_entry *e = &c->e[i + 1];
    lw_stamp(&lw, e, e->present ? e->v + 1 : 1);
  }
  if (rc == SQLITE_OK) rc = bl__clock_store_values(db, t, new_pks, c);
  sqlite3_free(c);
  sqlite3_free(old);
  return rc;
}

void bl__fn_after_update(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  char *err = NULL;
  int rc = lw_after_update_core((bl_crdt *)sqlite3_user_data(ctx), argc, argv, &err);
  lw_finish_err(ctx, rc, err);
}

/* ------------------------------------------------------------ installed triggers
 *
 * The UPDATE and DELETE triggers crsql_as_crr installs call one function
 * each, with a small trigger program (SQLite allocates and zeroes a frame
 * sized by the program for every row); the INSERT trigger is an upsert in
 * SQL (as_crr.c). The common cases take one cached statement:
 *
 *   bl_lw_insert('t', pks...)       (not installed; kept for clocks whose
 *                                   triggers call it) a fresh key: INSERT
 *                                   of the clock row (every column version
 *                                   1) ON CONFLICT DO NOTHING; a known key
 *                                   falls back to the full rule above.
 *   bl_lw_update('t', new pks..., old pks..., new cols..., old cols...)
 *                                   no key change: one in-place UPDATE of
 *                                   the changed columns' entries, which
 *                                   leaves __crsql_dbvb (and its index)
 *                                   alone while the row stays in its
 *                                   bucket; anything else (a key change,
 *                                   no clock row) takes the full rule.
 *   bl_lw_delete('t', old pks...)   the full rule.
 *
 * They do nothing while the sync bit is set (merges write base rows). */

/* Steps a write and reports whether it changed a row. */
static int lw_step_changed(sqlite3 *db, sqlite3_stmt *stmt, int *changed) {
  int rc = sqlite3_step(stmt);
  *changed = rc == SQLITE_DONE && sqlite3_changes(db) > 0;
  sqlite3_reset(stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int lw_prepare_insert(sqlite3 *db, bl_table *t) {
  if (t->local_insert) return SQLITE_OK;
  /* ?1..?npk the key, ?N dbv, ?N+1 its bucket, ?N+2 the first seq. */
  int p = t->npk + 1;
  char *pks = bl__ident_list(t->pks, t->npk, NULL);
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendf(s, "INSERT INTO \"%w__crsql_clk\" (%s, \"__crsql_dbv\", \"__crsql_dbvb\"", t->name,
                      pks ? pks : "");
  bl__clock_entry_cols(s, t, NULL);
  sqlite3_str_appendall(s, ") VALUES (");
  for (int i = 0; i < t->npk; i++) sqlite3_str_appendf(s, "?%d, ", i + 1);
  sqlite3_str_appendf(s, "?%d, ?%d", p, p + 1);
  if (t->ncol == 0) sqlite3_str_appendf(s, ", 1, ?%d, 0, ?%d", p, p + 2);
  else sqlite3_str_appendall(s, ", NULL, NULL, NULL, NULL");
  for (int i = 0; i < t->ncol; i++) sqlite3_str_appendf(s, ", 1, ?%d, 0, ?%d + %d", p, p + 2, i);
  sqlite3_str_appendall(s, ") ON CONFLICT DO NOTHING");
  sqlite3_free(pks);
  char *sql = sqlite3_str_finish(s);
  int rc = bl__prepare_cached(db, &t->local_insert, sql);
  sqlite3_free(sql);
  return rc;
}

void bl__fn_lw_insert(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt *st = (bl_crdt *)sqlite3_user_data(ctx);
  if (st->sync_bit) return;
  lw_ctx lw;
  if (!lw_begin(ctx, argc, argv, &lw)) return;
  bl_table *t = lw.t;
  if (argc != 1 + t->npk) {
    sqlite3_result_error(ctx, "bl_lw_insert: wrong number of arguments", -1);
    return;
  }
  int changed = 0, rc = SQLITE_OK;
  if (!t->legacy) {
    rc = lw_prepare_insert(st->db, t);
    if (rc == SQLITE_OK) {
      sqlite3_stmt *s = t->local_insert;
      int p = t->npk + 1;
      rc = bl__clock_bind_pks_values(s, 1, argv + 1, t->npk);
      sqlite3_bind_int64(s, p, lw.dbv);
      sqlite3_bind_int64(s, p + 1, lw.dbv >> BL_DBV_BUCKET_SHIFT);
      sqlite3_bind_int64(s, p + 2, st->seq);
      if (rc == SQLITE_OK) rc = lw_step_changed(st->db, s, &changed);
      else sqlite3_reset(s);
    }
    if (rc == SQLITE_OK && changed) {
      st->seq += t->ncol ? t->ncol : 1;
      sqlite3_result_int64(ctx, 0);
      return;
    }
    if (rc != SQLITE_OK) {
      lw_finish(ctx, rc);
      return;
    }
  }
  lw_single_row(ctx, argc, argv, "bl_lw_insert", lw_apply_insert);
}

void bl__fn_lw_delete(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt *st = (bl_crdt *)sqlite3_user_data(ctx);
  if (st->sync_bit) return;
  lw_single_row(ctx, argc, argv, "bl_lw_delete", lw_apply_delete);
}

/* The in-place update for the changed columns `mask` (columns 0..63);
 * `move` sets the bucket, otherwise the row must be in bucket ?N+1.
 * ?1..?npk the key, ?N dbv, ?N+1 bucket, ?N+2 the first seq. */
static int lw_prepare_update(sqlite3 *db, bl_table *t, sqlite3_uint64 mask, int move, sqlite3_stmt **out) {
  int slot = -1;
  for (int i = 0; i < BL_LW_CACHE; i++)
    if (t->lw_update[i].mask == mask && (t->lw_update[i].stmt[0] || t->lw_update[i].stmt[1])) slot = i;
  if (slot < 0) {
    slot = t->lw_next;
    t->lw_next = (t->lw_next + 1) % BL_LW_CACHE;
    sqlite3_finalize(t->lw_update[slot].stmt[0]);
    sqlite3_finalize(t->lw_update[slot].stmt[1]);
    t->lw_update[slot].stmt[0] = t->lw_update[slot].stmt[1] = NULL;
    t->lw_update[slot].mask = mask;
  }
  sqlite3_stmt **stmt = &t->lw_update[slot].stmt[move];
  if (!*stmt) {
    int p = t->npk + 1;
    sqlite3_str *s = sqlite3_str_new(db);
    sqlite3_str_appendf(s, "UPDATE \"%w__crsql_clk\" SET \"__crsql_dbv\" = ?%d", t->name, p);
    int k = 0;
    for (int i = 0; i < t->ncol; i++) {
      if (!(mask & ((sqlite3_uint64)1 << i))) continue;
      char *v = bl__clock_col_name(t, i + 1, 0), *d = bl__clock_col_name(t, i + 1, 1);
      char *st = bl__clock_col_name(t, i + 1, 2), *q = bl__clock_col_name(t, i + 1, 3);
      sqlite3_str_appendf(s, ", %s = coalesce(%s, 0) + 1, %s = ?%d, %s = 0, %s = ?%d + %d", v, v, d, p, st, q,
                          p + 2, k++);
      sqlite3_free(v);
      sqlite3_free(d);
      sqlite3_free(st);
      sqlite3_free(q);
    }
    if (move) sqlite3_str_appendf(s, ", \"__crsql_dbvb\" = ?%d", p + 1);
    char *where = bl__where_list(t->pks, t->npk, NULL, 1);
    sqlite3_str_appendf(s, " WHERE %s", where ? where : "0");
    if (!move) sqlite3_str_appendf(s, " AND \"__crsql_dbvb\" = ?%d", p + 1);
    sqlite3_free(where);
    char *sql = sqlite3_str_finish(s);
    int rc = bl__prepare_cached(db, stmt, sql);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return rc;
  }
  *out = *stmt;
  return SQLITE_OK;
}

/* The body of bl_lw_update (SQL function and table-valued function). */
static int lw_update_core(bl_crdt *st, int argc, sqlite3_value **argv, char **err) {
  *err = NULL;
  if (st->sync_bit) return SQLITE_OK;
  bl_table *t = NULL;
  if (argc >= 1) {
    /* Cheap checks before lw_begin takes a version: the argument count. */
    if (bl__tables_refresh(st, err) == SQLITE_OK)
      t = bl__table_find(st, (const char *)sqlite3_value_text(argv[0]), sqlite3_value_bytes(argv[0]));
    sqlite3_free(*err);
    *err = NULL;
  }
  if (!t || t->legacy || t->ncol > 64 || argc != 1 + 2 * t->npk + 2 * t->ncol)
    return lw_after_update_core(st, argc, argv, err);
  sqlite3_value **new_pks = argv + 1, **old_pks = argv + 1 + t->npk;
  sqlite3_value **new_cols = argv + 1 + 2 * t->npk, **old_cols = new_cols + t->ncol;
  for (int i = 0; i < t->npk; i++)
    if (bl__compare_values(new_pks[i], old_pks[i]) != 0) return lw_after_update_core(st, argc, argv, err);
  sqlite3_uint64 mask = 0;
  int n = 0;
  for (int i = 0; i < t->ncol; i++)
    if (bl__compare_values(new_cols[i], old_cols[i]) != 0) {
      mask |= (sqlite3_uint64)1 << i;
      n++;
    }
  /* The table is known (found above): only the version is left to take. */
  lw_ctx lw = {st, t, 0};
  int rc = bl__next_db_version(st, 0, &lw.dbv);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("Unable to determine the next db version");
    return rc;
  }
  if (mask == 0) return SQLITE_OK; /* no change: the version was still taken, as in cr-sqlite */
  int changed = 0;
  for (int move = 0; rc == SQLITE_OK && !changed && move < 2; move++) {
    sqlite3_stmt *s = NULL;
    rc = lw_prepare_update(st->db, t, mask, move, &s);
    if (rc != SQLITE_OK) break;
    int p = t->npk + 1;
    rc = bl__clock_bind_pks_values(s, 1, new_pks, t->npk);
    sqlite3_bind_int64(s, p, lw.dbv);
    sqlite3_bind_int64(s, p + 1, lw.dbv >> BL_DBV_BUCKET_SHIFT);
    sqlite3_bind_int64(s, p + 2, st->seq);
    if (rc == SQLITE_OK) rc = lw_step_changed(st->db, s, &changed);
    else sqlite3_reset(s);
  }
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("crsql - could not record the update of %s: %s", t->name, sqlite3_errmsg(st->db));
    return rc;
  }
  if (changed) {
    st->seq += n;
    return SQLITE_OK;
  }
  /* No clock row (e.g. the clock was cleared): the full rule creates it. */
  return lw_after_update_core(st, argc, argv, err);
}

void bl__fn_lw_update(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  char *err = NULL;
  int rc = lw_update_core((bl_crdt *)sqlite3_user_data(ctx), argc, argv, &err);
  lw_finish_err(ctx, rc, err);
}

/* ------------------------------------------------------------ bl_lw_update_t
 *
 * The same as bl_lw_update, as a table-valued function: the UPDATE trigger
 * is "SELECT 1 FROM bl_lw_update_t('t', NEW..., OLD...)". A function call
 * in a trigger makes SQLite open a statement journal (a savepoint copying
 * every page the statement touches) for each UPDATE, because a function may
 * fail after the row was written; reading a virtual table does not. So the
 * statement needs no journal unless something else of it may abort (a
 * constraint on a column it sets, for instance), as for a table without
 * triggers. Without that journal SQLite cannot undo just the statement,
 * so a failure here is reported as an I/O error (SQLITE_IOERR, with the
 * cause in the message), which makes SQLite roll back the whole
 * transaction: a base-table write is never kept without its clock entry.
 * Out of memory and I/O errors already do that. */

typedef struct lw_vtab {
  sqlite3_vtab base;
  bl_crdt *st;
} lw_vtab;

static int lw_tvf_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                          char **err) {
  (void)argc;
  (void)argv;
  (void)err;
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendall(s, "CREATE TABLE x(r");
  for (int i = 0; i < BL_LW_TVF_MAX_ARGS; i++) sqlite3_str_appendf(s, ", a%d HIDDEN", i);
  sqlite3_str_appendall(s, ")");
  char *sql = sqlite3_str_finish(s);
  int rc = sql ? sqlite3_declare_vtab(db, sql) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return rc;
  lw_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->st = (bl_crdt *)aux;
  *out = &v->base;
  return SQLITE_OK;
}

static int lw_tvf_disconnect(sqlite3_vtab *vt) {
  sqlite3_free(vt);
  return SQLITE_OK;
}

/* Every argument is an equality constraint on a hidden column a0, a1, ...:
 * they become xFilter's argv in that order. */
static int lw_tvf_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  (void)vt;
  int n = 0, max = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->iColumn < 1) continue;
    if (!c->usable || c->op != SQLITE_INDEX_CONSTRAINT_EQ) return SQLITE_CONSTRAINT;
    info->aConstraintUsage[i].argvIndex = c->iColumn;
    info->aConstraintUsage[i].omit = 1;
    n++;
    if (c->iColumn > max) max = c->iColumn;
  }
  if (n != max) return SQLITE_CONSTRAINT;
  info->idxNum = n;
  info->estimatedCost = 1;
  info->estimatedRows = 1;
  return SQLITE_OK;
}

static int lw_tvf_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  (void)vt;
  sqlite3_vtab_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = c;
  return SQLITE_OK;
}

static int lw_tvf_close(sqlite3_vtab_cursor *c) {
  sqlite3_free(c);
  return SQLITE_OK;
}

static int lw_tvf_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc, sqlite3_value **argv) {
  (void)idx;
  (void)idx_str;
  lw_vtab *v = (lw_vtab *)cur->pVtab;
  char *err = NULL;
  int rc = lw_update_core(v->st, argc, argv, &err);
  if (rc != SQLITE_OK) {
    int prim = rc & 0xff;
    sqlite3_free(v->base.zErrMsg);
    v->base.zErrMsg = sqlite3_mprintf("%s", err ? err : sqlite3_errstr(rc));
    if (prim != SQLITE_NOMEM && prim != SQLITE_IOERR && prim != SQLITE_FULL) rc = SQLITE_IOERR;
  }
  sqlite3_free(err);
  return rc;
}

static int lw_tvf_next(sqlite3_vtab_cursor *c) {
  (void)c;
  return SQLITE_OK;
}

static int lw_tvf_eof(sqlite3_vtab_cursor *c) {
  (void)c;
  return 1; /* no rows: the work is done in xFilter */
}

static int lw_tvf_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int i) {
  (void)c;
  (void)i;
  sqlite3_result_null(ctx);
  return SQLITE_OK;
}

static int lw_tvf_rowid(sqlite3_vtab_cursor *c, sqlite3_int64 *out) {
  (void)c;
  *out = 0;
  return SQLITE_OK;
}

static const sqlite3_module lw_tvf_module = {
    .iVersion = 0,
    .xConnect = lw_tvf_connect,
    .xBestIndex = lw_tvf_best_index,
    .xDisconnect = lw_tvf_disconnect,
    .xOpen = lw_tvf_open,
    .xClose = lw_tvf_close,
    .xFilter = lw_tvf_filter,
    .xNext = lw_tvf_next,
    .xEof = lw_tvf_eof,
    .xColumn = lw_tvf_column,
    .xRowid = lw_tvf_rowid,
};

int bl__lw_register(sqlite3 *db, bl_crdt *st) {
  return sqlite3_create_module_v2(db, "bl_lw_update_t", &lw_tvf_module, st, NULL);
}
