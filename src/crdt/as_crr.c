/*
 * as_crr.c — turning tables into CRRs and back, and schema changes of a CRR:
 * crsql_as_crr, crsql_as_table, crsql_begin_alter, crsql_commit_alter.
 *
 * crsql_as_crr checks the table by cr-sqlite's rules, creates its clock
 * table (layout in crdt.h) with an index on the per-row maximum db_version,
 * installs the three tracking triggers and backfills clock entries for rows
 * that already exist. It is idempotent. A table that cr-sqlite itself made
 * a CRR is converted to our layout first (crr_import_crsqlite).
 *
 * crsql_begin_alter drops the triggers inside a savepoint; the application
 * alters the table; crsql_commit_alter rebuilds the clock table for the new
 * column set (entries of dropped columns go, added columns start empty, a
 * changed primary key starts the clock over, as cr-sqlite does), drops the
 * entries of rows that no longer exist (keeping tombstones), backfills, and
 * reinstalls the triggers. From then on added columns are tracked.
 *
 * Divided into: DDL helpers; create_crr; the SQL functions.
 */
#include <string.h>

#include "crdt/clock.h"

static int crr_exec(sqlite3 *db, char *sql, char **err) {
  if (!sql) return SQLITE_NOMEM;
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  sqlite3_free(sql);
  if (rc != SQLITE_OK && err && !*err) *err = sqlite3_mprintf("%s", msg ? msg : sqlite3_errstr(rc));
  sqlite3_free(msg);
  return rc;
}

/* ------------------------------------------------------------ DDL helpers */

static char *crr_clock_ddl(const bl_table *t, const char *clock_name) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  sqlite3_str_appendf(s, "CREATE TABLE IF NOT EXISTS \"%w\" (", clock_name);
  if (t->pk_is_rowid) {
    sqlite3_str_appendf(s, "\"%w\" INTEGER PRIMARY KEY, ", t->pks[0].name);
  } else {
    for (int i = 0; i < t->npk; i++) sqlite3_str_appendf(s, "\"%w\", ", t->pks[i].name);
  }
  sqlite3_str_appendall(s, "\"__crsql_dbv\" INTEGER NOT NULL, \"__crsql_dbvb\" INTEGER NOT NULL");
  for (int e = 0; e <= t->ncol; e++) {
    for (int k = 0; k < 4; k++) {
      char *name = bl__clock_col_name(t, e, k);
      sqlite3_str_appendf(s, ", %s INTEGER", name);
      sqlite3_free(name);
    }
  }
  if (t->pk_is_rowid) {
    sqlite3_str_appendall(s, ")");
  } else {
    /* A rowid table with a unique key, not WITHOUT ROWID: clock rows are
     * wide, and keeping them in append order with a narrow key index makes
     * inserts (random keys, e.g. UUIDs) and the db_version index cheap. */
    char *pks = bl__ident_list(t->pks, t->npk, NULL);
    sqlite3_str_appendf(s, ", UNIQUE (%s))", pks);
    sqlite3_free(pks);
  }
  return sqlite3_str_finish(s);
}

static int crr_create_clock(sqlite3 *db, const bl_table *t, char **err) {
  char *clock = sqlite3_mprintf("%s__crsql_clk", t->name);
  if (!clock) return SQLITE_NOMEM;
  int rc = crr_exec(db, crr_clock_ddl(t, clock), err);
  sqlite3_free(clock);
  if (rc == SQLITE_OK)
    rc = crr_exec(db,
                  sqlite3_mprintf("CREATE INDEX IF NOT EXISTS \"%w__crsql_clk_dbvb_idx\" ON "
                                  "\"%w__crsql_clk\" (\"__crsql_dbvb\")",
                                  t->name, t->name),
                  err);
  return rc;
}

static int crr_drop_triggers(sqlite3 *db, const char *table, char **err) {
  return crr_exec(db,
                  sqlite3_mprintf("DROP TRIGGER IF EXISTS \"%w__crsql_itrig\";"
                                  "DROP TRIGGER IF EXISTS \"%w__crsql_utrig\";"
                                  "DROP TRIGGER IF EXISTS \"%w__crsql_pktrig\";"
                                  "DROP TRIGGER IF EXISTS \"%w__crsql_dtrig\";",
                                  table, table, table, table),
                  err);
}

/* The local-write triggers. INSERT is one upsert of the clock row in SQL
 * (no nested statement: a set-based INSERT runs it inside its own program;
 * measured against a C function stepping a cached INSERT, this costs less
 * there and a little more one row per statement); UPDATE and DELETE
 * call one function of local_writes.c each (a small trigger program keeps
 * the frame SQLite allocates per row small). local_writes.c documents the
 * rules. Nothing is recorded while merging (the sync bit). */
static int crr_create_triggers(sqlite3 *db, const bl_table *t, char **err) {
  char *pk_new = bl__ident_list(t->pks, t->npk, "NEW."), *pk_old = bl__ident_list(t->pks, t->npk, "OLD.");
  char *col_new = bl__ident_list(t->cols, t->ncol, "NEW."), *col_old = bl__ident_list(t->cols, t->ncol, "OLD.");
  char *pks = bl__ident_list(t->pks, t->npk, NULL);
  const char *nd = "crsql_next_db_version()", *sq = "crsql_increment_and_get_seq()";
  int rc = SQLITE_NOMEM;
  if (!pk_new || !pk_old || !col_new || !col_old || !pks) goto done;

  /* INSERT: fresh row -> every column version 1 (pk-only table: sentinel 1),
   * seqs s, s + 1, ... Known row (re-insert, INSERT OR REPLACE) -> columns
   * +1, sentinel to the next odd length with the first seq, columns after
   * it (one more seq). */
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendf(s, "CREATE TRIGGER IF NOT EXISTS \"%w__crsql_itrig\" AFTER INSERT ON \"%w\" "
                         "WHEN crsql_internal_sync_bit() = 0 BEGIN INSERT INTO \"%w__crsql_clk\" (%s, \"__crsql_dbv\", "
                         "\"__crsql_dbvb\"",
                      t->name, t->name, t->name, pks);
  bl__clock_entry_cols(s, t, NULL);
  /* VALUES calls the functions once per use, which costs less than a
   * subquery taking them once (SQLite runs it as a coroutine). */
  sqlite3_str_appendf(s, ") VALUES (%s, %s, %s >> %d", pk_new, nd, nd, BL_DBV_BUCKET_SHIFT);
  if (t->ncol == 0) sqlite3_str_appendf(s, ", 1, %s, 0, %s", nd, sq);
  else sqlite3_str_appendall(s, ", NULL, NULL, NULL, NULL");
  for (int i = 0; i < t->ncol; i++) sqlite3_str_appendf(s, ", 1, %s, 0, %s", nd, sq);
  sqlite3_str_appendall(s, ") ON CONFLICT DO UPDATE SET ");
  if (t->ncol == 0) {
    sqlite3_str_appendall(s,
                          "\"__crsql_dbv\" = excluded.\"__crsql_dbv\", \"__crsql_dbvb\" = excluded.\"__crsql_dbvb\", "
                          "\"__crsql_cl\" = CASE WHEN \"__crsql_cl\" IS NULL THEN 1 WHEN \"__crsql_cl\" % 2 = 0 "
                          "THEN \"__crsql_cl\" + 1 ELSE \"__crsql_cl\" + 2 END, "
                          "\"__crsql_cl_dbv\" = excluded.\"__crsql_dbv\", \"__crsql_cl_site\" = 0, "
                          "\"__crsql_cl_seq\" = excluded.\"__crsql_cl_seq\"");
  } else {
    char *seq0 = bl__clock_col_name(t, 1, 3);
    sqlite3_str_appendf(s,
                        "\"__crsql_dbv\" = excluded.\"__crsql_dbv\" + 0 * %s, "
                        "\"__crsql_dbvb\" = excluded.\"__crsql_dbvb\", "
                        "\"__crsql_cl\" = CASE WHEN \"__crsql_cl\" IS NULL THEN NULL WHEN \"__crsql_cl\" %% 2 = 0 "
                        "THEN \"__crsql_cl\" + 1 ELSE \"__crsql_cl\" + 2 END, "
                        "\"__crsql_cl_dbv\" = CASE WHEN \"__crsql_cl\" IS NULL THEN NULL ELSE excluded.\"__crsql_dbv\" END, "
                        "\"__crsql_cl_site\" = CASE WHEN \"__crsql_cl\" IS NULL THEN NULL ELSE 0 END, "
                        "\"__crsql_cl_seq\" = CASE WHEN \"__crsql_cl\" IS NULL THEN NULL ELSE excluded.%s END",
                        sq, seq0);
    sqlite3_free(seq0);
    for (int i = 1; i <= t->ncol; i++) {
      char *v = bl__clock_col_name(t, i, 0), *d = bl__clock_col_name(t, i, 1);
      char *st = bl__clock_col_name(t, i, 2), *q = bl__clock_col_name(t, i, 3);
      sqlite3_str_appendf(s, ", %s = coalesce(%s, 0) + 1, %s = excluded.\"__crsql_dbv\", %s = 0, %s = excluded.%s + 1",
                          v, v, d, st, q, q);
      sqlite3_free(v);
      sqlite3_free(d);
      sqlite3_free(st);
      sqlite3_free(q);
    }
  }
  sqlite3_str_appendall(s, "; END;");
  rc = crr_exec(db, sqlite3_str_finish(s), err);
  if (rc != SQLITE_OK) goto done;

  /* UPDATE through the table-valued function when the values fit (see
   * local_writes.c: no statement journal for the UPDATE). */
  int tvf = 1 + 2 * t->npk + 2 * t->ncol <= BL_LW_TVF_MAX_ARGS;
  rc = crr_exec(db,
                sqlite3_mprintf("CREATE TRIGGER IF NOT EXISTS \"%w__crsql_utrig\" AFTER UPDATE ON \"%w\" BEGIN "
                                "SELECT %s('%q', %s, %s%s%s%s%s)%s; END;"
                                "CREATE TRIGGER IF NOT EXISTS \"%w__crsql_dtrig\" AFTER DELETE ON \"%w\" BEGIN "
                                "SELECT bl_lw_delete('%q', %s); END;",
                                t->name, t->name, tvf ? "1 FROM bl_lw_update_t" : "bl_lw_update", t->name,
                                pk_new, pk_old, t->ncol ? ", " : "", col_new, t->ncol ? ", " : "", col_old,
                                tvf ? " AS u" : "", t->name, t->name, t->name, pk_old),
                err);
done:
  sqlite3_free(pk_new);
  sqlite3_free(pk_old);
  sqlite3_free(col_new);
  sqlite3_free(col_old);
  sqlite3_free(pks);
  return rc;
}

/* cr-sqlite's own layout, as views over ours, for code (and cr-sqlite's
 * tests) that read or write the clock tables directly:
 *   "<t>__crsql_clock" (key, col_name, col_version, db_version, site_id, seq)
 *                      one row per entry, ordered by (key, col_name); DELETE,
 *                      INSERT and UPDATE act on the entry (so the seed's
 *                      `DELETE FROM t__crsql_clock` clears the clock state)
 *   "<t>__crsql_pks"   (__crsql_key, <pk columns>)
 * key is the rowid of our clock row (the key itself for an INTEGER key). */
static int crr_drop_compat_views(sqlite3 *db, const char *table, char **err) {
  return crr_exec(db,
                  sqlite3_mprintf("DROP VIEW IF EXISTS \"%w__crsql_clock\"; DROP VIEW IF EXISTS \"%w__crsql_pks\";",
                                  table, table),
                  err);
}

/* ", <col> = CASE WHEN <sel> THEN <val k> ELSE <col> END" for each metadata
 * column of every entry, where vals[k] (k = 0 v, 1 dbv, 2 site, 3 seq) is
 * the new value when the entry named by `name_expr` is the one. */
static void crr_entry_case(sqlite3_str *s, const bl_table *t, const char *name_expr, const char *const vals[4]) {
  for (int e = 0; e <= t->ncol; e++) {
    char *lit = e == 0 ? sqlite3_mprintf("'-1'") : sqlite3_mprintf("'%q'", t->cols[e - 1].name);
    for (int k = 0; k < 4; k++) {
      char *c = bl__clock_col_name(t, e, k);
      sqlite3_str_appendf(s, "%s%s = CASE WHEN %s = %s THEN %s ELSE %s END", e == 0 && k == 0 ? "" : ", ", c,
                          name_expr, lit, vals[k], c);
      sqlite3_free(c);
    }
    sqlite3_free(lit);
  }
}

/* "<no entry is present>": a clock row in this state is deleted. */
static void crr_empty_expr(sqlite3_str *s, const bl_table *t) {
  sqlite3_str_appendall(s, "\"__crsql_cl\" IS NULL");
  for (int i = 1; i <= t->ncol; i++) {
    char *v = bl__clock_col_name(t, i, 0);
    sqlite3_str_appendf(s, " AND %s IS NULL", v);
    sqlite3_free(v);
  }
}

/* The highest db_version of the row's entries (__crsql_dbv's value). */
static void crr_maxdbv_expr(sqlite3_str *s, const bl_table *t) {
  sqlite3_str_appendall(s, "max(0, coalesce(\"__crsql_cl_dbv\", 0)");
  for (int i = 1; i <= t->ncol; i++) {
    char *d = bl__clock_col_name(t, i, 1);
    sqlite3_str_appendf(s, ", coalesce(%s, 0)", d);
    sqlite3_free(d);
  }
  sqlite3_str_appendall(s, ")");
}

/* "__crsql_dbv" = <max>, "__crsql_dbvb" = <max> >> shift. */
static void crr_set_maxdbv(sqlite3_str *s, const bl_table *t) {
  sqlite3_str_appendall(s, "\"__crsql_dbv\" = ");
  crr_maxdbv_expr(s, t);
  sqlite3_str_appendall(s, ", \"__crsql_dbvb\" = ");
  crr_maxdbv_expr(s, t);
  sqlite3_str_appendf(s, " >> %d", BL_DBV_BUCKET_SHIFT);
}

static int crr_create_compat_views(sqlite3 *db, const bl_table *t, char **err) {
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendf(s, "CREATE VIEW IF NOT EXISTS \"%w__crsql_clock\" (key, col_name, col_version, db_version, "
                         "site_id, seq) AS SELECT * FROM (",
                      t->name);
  for (int e = 0; e <= t->ncol; e++) {
    char *v = bl__clock_col_name(t, e, 0), *d = bl__clock_col_name(t, e, 1);
    char *st = bl__clock_col_name(t, e, 2), *q = bl__clock_col_name(t, e, 3);
    char *lit = e == 0 ? sqlite3_mprintf("'-1'") : sqlite3_mprintf("'%q'", t->cols[e - 1].name);
    sqlite3_str_appendf(s, "%sSELECT rowid AS k, %s AS n, %s, %s, %s, %s FROM \"%w__crsql_clk\" WHERE %s IS NOT NULL",
                        e ? " UNION ALL " : "", lit, v, d, st, q, t->name, v);
    sqlite3_free(v); sqlite3_free(d); sqlite3_free(st); sqlite3_free(q); sqlite3_free(lit);
  }
  sqlite3_str_appendall(s, ") ORDER BY 1, 2;");

  /* DELETE: drop the entry; a row with no entry left goes. */
  static const char *const nulls[4] = {"NULL", "NULL", "NULL", "NULL"};
  sqlite3_str_appendf(s, "CREATE TRIGGER IF NOT EXISTS \"%w__crsql_clock_delete\" INSTEAD OF DELETE ON "
                         "\"%w__crsql_clock\" BEGIN UPDATE \"%w__crsql_clk\" SET ",
                      t->name, t->name, t->name);
  crr_entry_case(s, t, "OLD.col_name", nulls);
  sqlite3_str_appendf(s, " WHERE rowid = OLD.key; DELETE FROM \"%w__crsql_clk\" WHERE rowid = OLD.key AND ",
                      t->name);
  crr_empty_expr(s, t);
  sqlite3_str_appendf(s, "; UPDATE \"%w__crsql_clk\" SET ", t->name);
  crr_set_maxdbv(s, t);
  sqlite3_str_appendall(s, " WHERE rowid = OLD.key; END;");

  /* INSERT / UPDATE: set the entry of an existing row. */
  static const char *const news[4] = {"NEW.col_version", "NEW.db_version", "NEW.site_id", "NEW.seq"};
  for (int upd = 0; upd < 2; upd++) {
    sqlite3_str_appendf(s, "CREATE TRIGGER IF NOT EXISTS \"%w__crsql_clock_%s\" INSTEAD OF %s ON "
                           "\"%w__crsql_clock\" BEGIN UPDATE \"%w__crsql_clk\" SET ",
                        t->name, upd ? "update" : "insert", upd ? "UPDATE" : "INSERT", t->name, t->name);
    crr_entry_case(s, t, "NEW.col_name", news);
    sqlite3_str_appendf(s, " WHERE rowid = NEW.key; UPDATE \"%w__crsql_clk\" SET ", t->name);
    crr_set_maxdbv(s, t);
    sqlite3_str_appendall(s, " WHERE rowid = NEW.key; END;");
  }

  char *pks = bl__ident_list(t->pks, t->npk, NULL);
  sqlite3_str_appendf(s, "CREATE VIEW IF NOT EXISTS \"%w__crsql_pks\" AS SELECT rowid AS __crsql_key, %s FROM "
                         "\"%w__crsql_clk\" ORDER BY 1;",
                      t->name, pks ? pks : "", t->name);
  sqlite3_free(pks);
  return crr_exec(db, sqlite3_str_finish(s), err);
}

static char *crr_pk_join(const bl_table *t, const char *a, const char *b) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  for (int i = 0; i < t->npk; i++)
    sqlite3_str_appendf(s, "%s%s.\"%w\" = %s.\"%w\"", i ? " AND " : "", a, t->pks[i].name, b, t->pks[i].name);
  return sqlite3_str_finish(s);
}

/* Gives clock entries to rows that have none (version 1 per column, or a
 * sentinel for a pk-only table), then to columns of known rows that lack an
 * entry and hold a non-default value — cr-sqlite's backfill. */
static int crr_backfill(sqlite3 *db, const bl_table *t, int is_commit_alter, char **err) {
  const char *dbv = is_commit_alter ? "crsql_db_version()" : "crsql_next_db_version()";
  char *pks = bl__ident_list(t->pks, t->npk, NULL), *tpks = bl__ident_list(t->pks, t->npk, "t.");
  char *join = crr_pk_join(t, "c", "t");
  int rc = SQLITE_NOMEM;
  if (!pks || !tpks || !join) goto done;

  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendf(s, "INSERT INTO \"%w__crsql_clk\" (%s, \"__crsql_dbv\", \"__crsql_dbvb\"", t->name, pks);
  bl__clock_entry_cols(s, t, NULL);
  sqlite3_str_appendf(s, ") SELECT %s, %s, %s >> %d", tpks, dbv, dbv, BL_DBV_BUCKET_SHIFT);
  if (t->ncol == 0)
    sqlite3_str_appendf(s, ", 1, %s, 0, crsql_increment_and_get_seq()", dbv);
  else
    sqlite3_str_appendall(s, ", NULL, NULL, NULL, NULL");
  for (int i = 0; i < t->ncol; i++) sqlite3_str_appendf(s, ", 1, %s, 0, crsql_increment_and_get_seq()", dbv);
  sqlite3_str_appendf(s, " FROM \"%w\" AS t WHERE NOT EXISTS (SELECT 1 FROM \"%w__crsql_clk\" AS c WHERE %s)",
                      t->name, t->name, join);
  rc = crr_exec(db, sqlite3_str_finish(s), err);

  for (int i = 0; rc == SQLITE_OK && i < t->ncol; i++) {
    sqlite3_stmt *stmt = NULL;
    char *dflt = NULL;
    rc = sqlite3_prepare_v2(db, "SELECT dflt_value, \"notnull\" FROM pragma_table_info(?) WHERE name = ?", -1,
                            &stmt, NULL);
    if (rc != SQLITE_OK) break;
    sqlite3_bind_text(stmt, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, t->cols[i].name, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      /* A nullable column without a DEFAULT defaults to NULL, as cr-sqlite
       * reasons: NULLs need no backfill either. */
      if (sqlite3_column_type(stmt, 0) != SQLITE_NULL)
        dflt = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(stmt, 0));
      else if (sqlite3_column_int(stmt, 1) == 0)
        dflt = sqlite3_mprintf("NULL");
    }
    sqlite3_finalize(stmt);
    char *v = bl__clock_col_name(t, i + 1, 0), *d = bl__clock_col_name(t, i + 1, 1);
    char *st = bl__clock_col_name(t, i + 1, 2), *q = bl__clock_col_name(t, i + 1, 3);
    /* The default is SQL text from the table's own schema, as in cr-sqlite. */
    char *dflt_cond = dflt ? sqlite3_mprintf(" AND t.\"%w\" IS NOT %s", t->cols[i].name, dflt) : sqlite3_mprintf("");
    rc = crr_exec(db,
                  sqlite3_mprintf("UPDATE \"%w__crsql_clk\" AS c SET %s = 1, %s = %s, %s = 0, %s = "
                                  "crsql_increment_and_get_seq(), \"__crsql_dbv\" = max(c.\"__crsql_dbv\", %s), "
                                  "\"__crsql_dbvb\" = max(c.\"__crsql_dbv\", %s) >> %d "
                                  "FROM \"%w\" AS t WHERE %s AND c.%s IS NULL%s",
                                  t->name, v, d, dbv, st, q, dbv, dbv, BL_DBV_BUCKET_SHIFT, t->name, join, v,
                                  dflt_cond ? dflt_cond : ""),
                  err);
    sqlite3_free(dflt_cond);
    sqlite3_free(dflt);
    sqlite3_free(v);
    sqlite3_free(d);
    sqlite3_free(st);
    sqlite3_free(q);
  }
done:
  sqlite3_free(pks);
  sqlite3_free(tpks);
  sqlite3_free(join);
  return rc;
}

static int crr_is_crr(sqlite3 *db, const char *table, int *out) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                              -1, &stmt, NULL);
  if (rc != SQLITE_OK) return rc;
  char *name = sqlite3_mprintf("%s__crsql_itrig", table);
  sqlite3_bind_text(stmt, 1, name, -1, sqlite3_free);
  rc = sqlite3_step(stmt);
  *out = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) > 0;
  sqlite3_finalize(stmt);
  return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* ------------------------------------------------------------ create_crr */

/* The clock table holds the primary key columns under their own names and
 * the metadata columns named after the other columns ("<c>__crsql_v", ...).
 * Any column name is allowed as long as the two sets do not collide (SQLite
 * compares names case-insensitively). */
static int crr_check_clock_names(sqlite3 *db, const bl_table *t, char **err) {
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendall(s, "SELECT n FROM (SELECT '__crsql_dbv' AS n UNION ALL SELECT '__crsql_dbvb'");
  for (int i = 0; i < t->npk; i++) sqlite3_str_appendf(s, " UNION ALL SELECT '%q'", t->pks[i].name);
  static const char *const fixed[] = {"__crsql_cl", "__crsql_cl_dbv", "__crsql_cl_site", "__crsql_cl_seq"};
  for (size_t i = 0; i < 4; i++) sqlite3_str_appendf(s, " UNION ALL SELECT '%s'", fixed[i]);
  static const char *const suffix[] = {"v", "dbv", "site", "seq"};
  for (int i = 0; i < t->ncol; i++)
    for (int k = 0; k < 4; k++) sqlite3_str_appendf(s, " UNION ALL SELECT '%q__crsql_%s'", t->cols[i].name, suffix[k]);
  sqlite3_str_appendall(s, ") GROUP BY n COLLATE NOCASE HAVING count(*) > 1 LIMIT 1");
  char *sql = sqlite3_str_finish(s);
  if (!sql) return SQLITE_NOMEM;
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return rc;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    *err = sqlite3_mprintf("Table %s cannot be a CRR: its column names collide with the clock metadata "
                           "column %s; rename the column",
                           t->name, (const char *)sqlite3_column_text(stmt, 0));
    rc = SQLITE_ERROR;
  }
  sqlite3_finalize(stmt);
  return rc;
}

/* A table made a CRR by cr-sqlite itself has cr-sqlite's clock layout: a
 * "<t>__crsql_clock" table (key, col_name, col_version, db_version, site_id,
 * seq) and a "<t>__crsql_pks" lookaside. Converts it to ours, keeping every
 * entry of a column that still exists (versions, db_versions, site
 * ordinals and seqs unchanged, so peers see no difference), and removes
 * cr-sqlite's tables and triggers. *imported is set when it did. */
static int crr_import_crsqlite(bl_crdt *st, const char *table, int *imported, char **err) {
  sqlite3 *db = st->db;
  *imported = 0;
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 || '__crsql_clock' "
                              "AND EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 || "
                              "'__crsql_pks') AND NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?1 || "
                              "'__crsql_clk')",
                              -1, &stmt, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
  int found = sqlite3_step(stmt) == SQLITE_ROW;
  sqlite3_finalize(stmt);
  if (!found) return SQLITE_OK;

  bl_table *t = NULL;
  rc = bl__table_load(db, table, &t, err);
  if (rc != SQLITE_OK) return rc;
  rc = crr_check_clock_names(db, t, err);
  if (rc == SQLITE_OK) rc = crr_create_clock(db, t, err);
  if (rc == SQLITE_OK) {
    sqlite3_str *s = sqlite3_str_new(db);
    char *pks = bl__ident_list(t->pks, t->npk, NULL), *ppks = bl__ident_list(t->pks, t->npk, "p.");
    sqlite3_str_appendf(s, "INSERT INTO \"%w__crsql_clk\" (%s, \"__crsql_dbv\", \"__crsql_dbvb\"", t->name, pks);
    bl__clock_entry_cols(s, t, NULL);
    sqlite3_str_appendf(s, ") SELECT %s, max(c.db_version), max(c.db_version) >> %d", ppks, BL_DBV_BUCKET_SHIFT);
    static const char *const field[4] = {"col_version", "db_version", "site_id", "seq"};
    sqlite3_str *names = sqlite3_str_new(db);
    sqlite3_str_appendall(names, "'-1'");
    for (int e = 0; e <= t->ncol; e++) {
      char *lit = e == 0 ? sqlite3_mprintf("'-1'") : sqlite3_mprintf("'%q'", t->cols[e - 1].name);
      for (int k = 0; k < 4; k++)
        sqlite3_str_appendf(s, ", max(CASE WHEN c.col_name = %s THEN c.%s END)", lit, field[k]);
      if (e > 0) sqlite3_str_appendf(names, ", %s", lit);
      sqlite3_free(lit);
    }
    char *in = sqlite3_str_finish(names);
    sqlite3_str_appendf(s, " FROM \"%w__crsql_clock\" AS c JOIN \"%w__crsql_pks\" AS p ON p.__crsql_key = c.key "
                           "WHERE c.col_name IN (%s) GROUP BY c.key ORDER BY c.key",
                        t->name, t->name, in);
    sqlite3_free(in);
    sqlite3_free(pks);
    sqlite3_free(ppks);
    rc = crr_exec(db, sqlite3_str_finish(s), err);
  }
  if (rc == SQLITE_OK)
    rc = crr_exec(db, sqlite3_mprintf("DROP TABLE \"%w__crsql_clock\"; DROP TABLE \"%w__crsql_pks\";", t->name, t->name),
                  err);
  if (rc == SQLITE_OK) rc = crr_drop_triggers(db, table, err);
  for (int i = 0; rc == SQLITE_OK && i < t->npk; i++) /* older cr-sqlite per-pk triggers */
    rc = crr_exec(db, sqlite3_mprintf("DROP TRIGGER IF EXISTS \"%w_%w__crsql_utrig\"", t->name, t->pks[i].name), err);
  bl__table_free(t);
  bl__state_invalidate_tables(st);
  if (rc == SQLITE_OK) *imported = 1;
  return rc;
}

/* A CRR whose clock an older engine wrote (no "__crsql_dbvb", an index on
 * "__crsql_dbv", triggers with the rules in SQL) is brought to the current
 * layout: the bucket column is added and filled, the index moves to it,
 * and the triggers and views are replaced. Entries are untouched, so
 * crsql_changes lists exactly what it listed before. */
static int crr_upgrade_legacy(bl_crdt *st, const char *table, char **err) {
  sqlite3 *db = st->db;
  bl_table *t = NULL;
  int rc = bl__table_load(db, table, &t, err);
  if (rc == SQLITE_OK) rc = bl__table_check_layout(db, t);
  if (rc != SQLITE_OK || !t->legacy) {
    bl__table_free(t);
    return rc;
  }
  rc = crr_exec(db,
                sqlite3_mprintf("ALTER TABLE \"%w__crsql_clk\" ADD COLUMN \"__crsql_dbvb\" INTEGER NOT NULL DEFAULT 0;"
                                "UPDATE \"%w__crsql_clk\" SET \"__crsql_dbvb\" = \"__crsql_dbv\" >> %d;"
                                "DROP INDEX IF EXISTS \"%w__crsql_clk_dbv_idx\";",
                                t->name, t->name, BL_DBV_BUCKET_SHIFT, t->name),
                err);
  if (rc == SQLITE_OK) rc = crr_create_clock(db, t, err);
  if (rc == SQLITE_OK) rc = crr_drop_triggers(db, table, err);
  if (rc == SQLITE_OK) rc = crr_create_triggers(db, t, err);
  if (rc == SQLITE_OK) rc = crr_drop_compat_views(db, table, err);
  if (rc == SQLITE_OK) rc = crr_create_compat_views(db, t, err);
  bl__table_free(t);
  bl__state_invalidate_tables(st);
  return rc;
}

static int crr_create(bl_crdt *st, const char *table, int is_commit_alter, char **err) {
  sqlite3 *db = st->db;
  int rc = bl__table_check_compatible(db, table, err);
  if (rc != SQLITE_OK) return rc;
  int imported = 0;
  rc = crr_import_crsqlite(st, table, &imported, err);
  if (rc != SQLITE_OK) return rc;
  int is_crr = 0;
  rc = crr_is_crr(db, table, &is_crr);
  if (rc != SQLITE_OK) return rc;
  if (is_crr) return crr_upgrade_legacy(st, table, err);

  bl_table *t = NULL;
  rc = bl__table_load(db, table, &t, err);
  if (rc != SQLITE_OK) return rc;
  rc = crr_check_clock_names(db, t, err);
  if (rc == SQLITE_OK) rc = crr_create_clock(db, t, err);
  if (rc == SQLITE_OK) rc = crr_drop_triggers(db, table, err);
  if (rc == SQLITE_OK) rc = crr_create_triggers(db, t, err);
  if (rc == SQLITE_OK) rc = crr_create_compat_views(db, t, err);
  bl__state_invalidate_tables(st);
  if (rc == SQLITE_OK) rc = crr_backfill(db, t, is_commit_alter, err);
  bl__table_free(t);
  return rc;
}

/* Rebuilds the clock table of `t` (already reloaded with its new columns)
 * after an alteration; see the file comment. */
static int crr_compact_post_alter(bl_crdt *st, const bl_table *t, char **err) {
  sqlite3 *db = st->db;
  sqlite3_int64 dbv = 0;
  int rc = bl__db_version(st, &dbv);
  if (rc != SQLITE_OK) return rc;

  /* Did the primary key change? Compare the clock's key with the table's. */
  sqlite3_stmt *stmt = NULL;
  char *clock = sqlite3_mprintf("%s__crsql_clk", t->name);
  if (!clock) return SQLITE_NOMEM;
  /* The clock's key: its INTEGER PRIMARY KEY, or the columns of its UNIQUE
   * constraint (see crr_clock_ddl). */
  rc = sqlite3_prepare_v2(db,
                          "SELECT name, type FROM pragma_table_info(?1) WHERE pk > 0 "
                          "UNION ALL SELECT ii.name, 'unique' FROM pragma_index_list(?1) AS il, "
                          "pragma_index_info(il.name) AS ii WHERE il.origin = 'u' AND il.\"unique\" = 1 "
                          "AND NOT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE pk > 0)",
                          -1, &stmt, NULL);
  int same_pk = 1, n = 0, clock_rowid = 0;
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, clock, -1, SQLITE_STATIC);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const char *name = (const char *)sqlite3_column_text(stmt, 0);
      const char *type = (const char *)sqlite3_column_text(stmt, 1);
      if (n >= t->npk || !name || strcmp(name, t->pks[n].name) != 0) same_pk = 0;
      clock_rowid = type && sqlite3_stricmp(type, "INTEGER") == 0;
      n++;
    }
    if (n != t->npk) same_pk = 0;
    if (n != 1) clock_rowid = 0;
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK) goto done;

  if (!same_pk) {
    /* New row identities: start the clock over, as cr-sqlite does. */
    rc = crr_exec(db, sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\"", clock), err);
    goto record;
  }

  /* Copy entries of surviving columns into a clock of the new layout. */
  char *tmp = sqlite3_mprintf("%s__crsql_clk_new", t->name);
  bl_table layout = *t;
  layout.pk_is_rowid = clock_rowid && t->pk_is_rowid;
  rc = crr_exec(db, sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\"", tmp), err);
  if (rc == SQLITE_OK) rc = crr_exec(db, crr_clock_ddl(&layout, tmp), err);
  if (rc == SQLITE_OK) {
    sqlite3_str *cols = sqlite3_str_new(db);
    char *pks = bl__ident_list(t->pks, t->npk, NULL);
    sqlite3_str_appendf(cols, "%s, \"__crsql_dbv\", \"__crsql_cl\", \"__crsql_cl_dbv\", \"__crsql_cl_site\", "
                              "\"__crsql_cl_seq\"", pks);
    sqlite3_free(pks);
    /* Only columns present in the old clock can be copied. */
    for (int i = 0; i < t->ncol; i++) {
      /* Ask the schema: an unknown double-quoted name would silently be a
       * string literal in a SELECT. */
      char *v = sqlite3_mprintf("%s__crsql_v", t->cols[i].name);
      int present = 0;
      if (v && sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", -1, &stmt, NULL) == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, clock, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, v, -1, SQLITE_STATIC);
        present = sqlite3_step(stmt) == SQLITE_ROW;
      }
      sqlite3_finalize(stmt);
      stmt = NULL;
      if (present)
        for (int k = 0; k < 4; k++) {
          char *c = bl__clock_col_name(t, i + 1, k);
          sqlite3_str_appendf(cols, ", %s", c);
          sqlite3_free(c);
        }
      sqlite3_free(v);
    }
    char *list = sqlite3_str_finish(cols);
    rc = crr_exec(db,
                  sqlite3_mprintf("INSERT INTO \"%w\" (%s, \"__crsql_dbvb\") SELECT %s, \"__crsql_dbv\" >> %d FROM \"%w\"",
                                  tmp, list, list, BL_DBV_BUCKET_SHIFT, clock),
                  err);
    sqlite3_free(list);
  }
  if (rc == SQLITE_OK) rc = crr_exec(db, sqlite3_mprintf("DROP TABLE \"%w\"", clock), err);
  if (rc == SQLITE_OK) rc = crr_exec(db, sqlite3_mprintf("ALTER TABLE \"%w\" RENAME TO \"%w\"", tmp, clock), err);
  sqlite3_free(tmp);
  if (rc != SQLITE_OK) goto done;

  /* Rows that no longer exist keep only their tombstone (even cl). */
  {
    char *join = crr_pk_join(t, "b", "c");
    sqlite3_str *s = sqlite3_str_new(db);
    sqlite3_str_appendf(s, "UPDATE \"%w\" AS c SET \"__crsql_cl\" = CASE WHEN \"__crsql_cl\" %% 2 = 0 THEN "
                           "\"__crsql_cl\" END", clock);
    for (int k = 1; k < 4; k++)
      sqlite3_str_appendf(s, ", \"__crsql_cl_%s\" = CASE WHEN \"__crsql_cl\" %% 2 = 0 THEN \"__crsql_cl_%s\" END",
                          k == 1 ? "dbv" : k == 2 ? "site" : "seq", k == 1 ? "dbv" : k == 2 ? "site" : "seq");
    for (int i = 0; i < t->ncol; i++)
      for (int k = 0; k < 4; k++) {
        char *c = bl__clock_col_name(t, i + 1, k);
        sqlite3_str_appendf(s, ", %s = NULL", c);
        sqlite3_free(c);
      }
    sqlite3_str_appendf(s, " WHERE NOT EXISTS (SELECT 1 FROM \"%w\" AS b WHERE %s)", t->name, join);
    sqlite3_free(join);
    rc = crr_exec(db, sqlite3_str_finish(s), err);
  }
  if (rc == SQLITE_OK) {
    sqlite3_str *empty = sqlite3_str_new(db), *maxdbv = sqlite3_str_new(db);
    crr_empty_expr(empty, t);
    crr_set_maxdbv(maxdbv, t);
    char *e = sqlite3_str_finish(empty), *m = sqlite3_str_finish(maxdbv);
    rc = crr_exec(db, sqlite3_mprintf("DELETE FROM \"%w\" WHERE %s; UPDATE \"%w\" SET %s;",
                                      clock, e, clock, m),
                  err);
    sqlite3_free(e);
    sqlite3_free(m);
  }
  if (rc == SQLITE_OK)
    rc = crr_exec(db,
                  sqlite3_mprintf("CREATE INDEX IF NOT EXISTS \"%w__crsql_clk_dbvb_idx\" ON \"%w\" (\"__crsql_dbvb\")",
                                  t->name, clock),
                  err);

record:
  if (rc == SQLITE_OK)
    rc = crr_exec(db,
                  sqlite3_mprintf("INSERT OR REPLACE INTO crsql_master (key, value) VALUES "
                                  "('pre_compact_dbversion', %lld)",
                                  dbv),
                  err);
done:
  sqlite3_free(clock);
  bl__state_invalidate_tables(st);
  return rc;
}

/* ------------------------------------------------------------ SQL functions */

/* The table argument: ('t') or ('schema', 't'). */
static const char *crr_table_arg(int argc, sqlite3_value **argv) {
  if (argc < 1) return NULL;
  return (const char *)sqlite3_value_text(argv[argc == 2 ? 1 : 0]);
}

static void crr_fail(sqlite3_context *ctx, sqlite3 *db, const char *savepoint, char *err,
                     const char *fallback, int rc) {
  sqlite3_result_error(ctx, err ? err : fallback, -1);
  if (rc != SQLITE_OK && rc != SQLITE_ERROR) sqlite3_result_error_code(ctx, rc);
  sqlite3_free(err);
  char *sql = sqlite3_mprintf("ROLLBACK TO \"%w\"; RELEASE \"%w\";", savepoint, savepoint);
  if (sql) sqlite3_exec(db, sql, NULL, NULL, NULL);
  sqlite3_free(sql);
}

void bl__fn_as_crr(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt *st = (bl_crdt *)sqlite3_user_data(ctx);
  if (!bl__pending_flush_fn(ctx, st)) return;
  const char *table = crr_table_arg(argc, argv);
  if (!table) {
    sqlite3_result_error(ctx,
                         "Wrong number of args provided to crsql_as_crr. Provide the schema name and "
                         "table name or just the table name.",
                         -1);
    return;
  }
  if (sqlite3_exec(st->db, "SAVEPOINT as_crr", NULL, NULL, NULL) != SQLITE_OK) {
    sqlite3_result_error(ctx, "failed to start as_crr savepoint", -1);
    return;
  }
  char *err = NULL;
  int rc = crr_create(st, table, 0, &err);
  if (rc != SQLITE_OK) {
    crr_fail(ctx, st->db, "as_crr", err, "failed to create the crr", rc);
    return;
  }
  if (sqlite3_exec(st->db, "RELEASE as_crr", NULL, NULL, NULL) != SQLITE_OK) {
    sqlite3_result_error(ctx, "failed to release as_crr savepoint", -1);
    return;
  }
  sqlite3_result_text(ctx, "OK", -1, SQLITE_STATIC);
}

void bl__fn_as_table(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt *st = (bl_crdt *)sqlite3_user_data(ctx);
  if (!bl__pending_flush_fn(ctx, st)) return;
  const char *table = crr_table_arg(argc, argv);
  if (!table || sqlite3_exec(st->db, "SAVEPOINT as_table", NULL, NULL, NULL) != SQLITE_OK) {
    sqlite3_result_error(ctx, "failed to start as_table savepoint", -1);
    return;
  }
  char *err = NULL;
  int rc = crr_drop_compat_views(st->db, table, &err);
  if (rc == SQLITE_OK) rc = crr_exec(st->db, sqlite3_mprintf("DROP TABLE IF EXISTS \"%w__crsql_clk\"", table), &err);
  if (rc == SQLITE_OK) rc = crr_drop_triggers(st->db, table, &err);
  bl__state_invalidate_tables(st);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    crr_fail(ctx, st->db, "as_table", NULL, "failed to downgrade the crr", rc);
    return;
  }
  sqlite3_exec(st->db, "RELEASE as_table", NULL, NULL, NULL);
  sqlite3_result_null(ctx);
}

void bl__fn_begin_alter(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt *st = (bl_crdt *)sqlite3_user_data(ctx);
  if (!bl__pending_flush_fn(ctx, st)) return;
  const char *table = crr_table_arg(argc, argv);
  if (!table) {
    sqlite3_result_error(ctx,
                         "Wrong number of args provided to crsql_begin_alter. Provide the schema name "
                         "and table name or just the table name.",
                         -1);
    return;
  }
  if (sqlite3_exec(st->db, "SAVEPOINT alter_crr", NULL, NULL, NULL) != SQLITE_OK) {
    sqlite3_result_error(ctx, "failed to start alter_crr savepoint", -1);
    return;
  }
  char *err = NULL;
  int rc = crr_drop_triggers(st->db, table, &err);
  if (rc != SQLITE_OK) {
    crr_fail(ctx, st->db, "alter_crr", err, "failed to drop the crr triggers", rc);
    return;
  }
  bl__state_invalidate_tables(st);
  sqlite3_result_text(ctx, "OK", -1, SQLITE_STATIC);
}

void bl__fn_commit_alter(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt *st = (bl_crdt *)sqlite3_user_data(ctx);
  if (!bl__pending_flush_fn(ctx, st)) return;
  const char *table = crr_table_arg(argc, argv);
  if (!table) {
    sqlite3_result_error(ctx,
                         "Wrong number of args provided to crsql_commit_alter. Provide the schema "
                         "name and table name or just the table name.",
                         -1);
    return;
  }
  char *err = NULL;
  bl_table *t = NULL;
  int rc = bl__table_load(st->db, table, &t, &err);
  /* The views name clock columns that the rebuild may drop. */
  if (rc == SQLITE_OK) rc = crr_drop_compat_views(st->db, table, &err);
  if (rc == SQLITE_OK) rc = crr_compact_post_alter(st, t, &err);
  bl__table_free(t);
  if (rc == SQLITE_OK) rc = crr_create(st, table, 1, &err);
  if (rc == SQLITE_OK) rc = sqlite3_exec(st->db, "RELEASE alter_crr", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    char *msg = sqlite3_mprintf("failed compacting tables post alteration%s%s", err ? ": " : "", err ? err : "");
    sqlite3_free(err);
    crr_fail(ctx, st->db, "alter_crr", msg, "failed compacting tables post alteration", rc);
    return;
  }
  bl__state_invalidate_tables(st);
  sqlite3_result_null(ctx);
}
