/*
 * state.c — per-connection state of the CRDT engine: the site id, the
 * database version, transaction boundaries and the cache of CRR tables.
 *
 * db_version follows cr-sqlite 0.16 exactly: the committed version is the
 * maximum db_version found in any clock table (or the pre-compaction version
 * recorded by crsql_commit_alter), cached in memory and re-read when another
 * connection committed (PRAGMA data_version changed). Inside a write
 * transaction every change gets pending = max(db_version + 1, pending,
 * incoming version of a merged change); the commit hook makes pending the
 * committed version.
 *
 * Divided into: creation and teardown; site ids; db_version; the table cache.
 */
#include <string.h>

#include "crdt/crdt.h"

/* ------------------------------------------------------------ creation */

static int state_exec(sqlite3 *db, const char *sql, char **err) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    if (err) *err = sqlite3_mprintf("%s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
  }
  return rc;
}

/* A version-4 UUID, as cr-sqlite makes site ids. */
static void state_new_site_id(unsigned char *out) {
  sqlite3_randomness(BL_SITE_ID_LEN, out);
  out[6] = (unsigned char)((out[6] & 0x0f) + 0x40);
  out[8] = (unsigned char)((out[8] & 0x3f) + 0x80);
}

/* Creates crsql_master / crsql_site_id / crsql_tracked_peers when missing and
 * loads (or creates) this database's site id (ordinal 0). */
static int state_bootstrap(bl_crdt *st, char **err) {
  sqlite3 *db = st->db;
  sqlite3_stmt *stmt = NULL;
  int rc = state_exec(db,
                      "SAVEPOINT bl_bootstrap;"
                      "CREATE TABLE IF NOT EXISTS \"crsql_master\" (\"key\" TEXT PRIMARY KEY, \"value\" ANY);"
                      "CREATE TABLE IF NOT EXISTS \"crsql_site_id\" (site_id BLOB NOT NULL, ordinal INTEGER PRIMARY KEY);"
                      "CREATE UNIQUE INDEX IF NOT EXISTS crsql_site_id_site_id ON \"crsql_site_id\" (site_id);"
                      "CREATE TABLE IF NOT EXISTS crsql_tracked_peers (\"site_id\" BLOB NOT NULL, "
                      "\"version\" INTEGER NOT NULL, \"seq\" INTEGER DEFAULT 0, \"tag\" INTEGER, "
                      "\"event\" INTEGER, PRIMARY KEY (\"site_id\", \"tag\", \"event\")) STRICT;",
                      err);
  if (rc != SQLITE_OK) goto fail;

  rc = sqlite3_prepare_v2(db, "SELECT site_id FROM crsql_site_id WHERE ordinal = 0", -1, &stmt, NULL);
  if (rc != SQLITE_OK) goto fail_msg;
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == BL_SITE_ID_LEN) {
    memcpy(st->site_id, sqlite3_column_blob(stmt, 0), BL_SITE_ID_LEN);
    sqlite3_finalize(stmt);
    stmt = NULL;
  } else if (rc == SQLITE_DONE) {
    sqlite3_finalize(stmt);
    stmt = NULL;
    state_new_site_id(st->site_id);
    rc = sqlite3_prepare_v2(db, "INSERT INTO crsql_site_id (site_id, ordinal) VALUES (?, 0)", -1, &stmt, NULL);
    if (rc != SQLITE_OK) goto fail_msg;
    sqlite3_bind_blob(stmt, 1, st->site_id, BL_SITE_ID_LEN, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
      rc = SQLITE_ERROR;
      goto fail_msg;
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
  } else {
    if (rc == SQLITE_ROW) {
      rc = SQLITE_CORRUPT;
      if (err) *err = sqlite3_mprintf("crsql_site_id holds a site id that is not 16 bytes");
      goto fail;
    }
    goto fail_msg;
  }

  /* Record the version only when it is missing or older: a read-only
   * database whose metadata exists must still load, and even an INSERT that
   * inserts nothing needs a write transaction. */
  rc = sqlite3_prepare_v2(db, "SELECT 1 FROM crsql_master WHERE key = 'crsqlite_version' AND value >= ?", -1,
                          &stmt, NULL);
  if (rc != SQLITE_OK) goto fail_msg;
  sqlite3_bind_int(stmt, 1, BL_CRSQLITE_VERSION);
  int recorded = sqlite3_step(stmt) == SQLITE_ROW;
  sqlite3_finalize(stmt);
  stmt = NULL;
  if (!recorded) {
    rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO crsql_master VALUES ('crsqlite_version', ?)", -1, &stmt,
                            NULL);
    if (rc != SQLITE_OK) goto fail_msg;
    sqlite3_bind_int(stmt, 1, BL_CRSQLITE_VERSION);
    rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (rc != SQLITE_OK) goto fail_msg;
  }

  rc = sqlite3_prepare_v2(db, "SELECT value FROM crsql_master WHERE key = 'config.merge-equal-values'",
                          -1, &stmt, NULL);
  if (rc != SQLITE_OK) goto fail_msg;
  if (sqlite3_step(stmt) == SQLITE_ROW) st->merge_equal_values = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  stmt = NULL;

  return state_exec(db, "RELEASE bl_bootstrap", err);

fail_msg:
  if (err && !*err) *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
fail:
  sqlite3_finalize(stmt);
  sqlite3_exec(db, "ROLLBACK TO bl_bootstrap; RELEASE bl_bootstrap", NULL, NULL, NULL);
  return rc == SQLITE_OK ? SQLITE_ERROR : rc;
}

int bl__state_new(sqlite3 *db, bl_crdt **out, char **err) {
  *out = NULL;
  bl_crdt *st = sqlite3_malloc(sizeof *st);
  if (!st) return SQLITE_NOMEM;
  memset(st, 0, sizeof *st);
  st->db = db;
  st->db_version = -1;
  st->pending = -1;
  st->schema_version = -1;
  int rc = state_bootstrap(st, err);
  if (rc != SQLITE_OK) {
    sqlite3_free(st);
    return rc;
  }
  *out = st;
  return SQLITE_OK;
}

static void state_free_tables(bl_crdt *st) {
  bl__merger_forget_stmts(st->merger); /* its statements name these tables */
  for (int i = 0; i < st->ntables; i++) bl__table_free(st->tables[i]);
  sqlite3_free(st->tables);
  st->tables = NULL;
  st->ntables = 0;
}

void bl__state_finalize_stmts(bl_crdt *st) {
  if (!st) return;
  bl__merger_forget_stmts(st->merger);
  for (int i = 0; i < st->ntables; i++) bl__table_finalize_stmts(st->tables[i]);
  sqlite3_stmt **stmts[] = {&st->st_data_version, &st->st_schema_version, &st->st_site_ordinal,
                            &st->st_site_insert, &st->st_db_version};
  for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
    sqlite3_finalize(*stmts[i]);
    *stmts[i] = NULL;
  }
}

void bl__state_free(bl_crdt *st) {
  if (!st) return;
  bl__state_finalize_stmts(st);
  bl__pending_free(st);
  bl__merger_free(st->merger);
  st->merger = NULL;
  state_free_tables(st);
  sqlite3_free(st);
}

void bl__state_tx_end(bl_crdt *st, int committed) {
  /* As cr-sqlite: a commit makes the pending version current; a pending of
   * -1 (no CRR write) forces the next read to go back to storage. */
  if (committed) st->db_version = st->pending;
  st->pending = -1;
  st->seq = 0;
  st->tables_checked_this_tx = 0;
  st->site_cache_len = 0;
}

int bl__prepare_cached(sqlite3 *db, sqlite3_stmt **stmt, const char *sql) {
  if (*stmt) return SQLITE_OK;
  if (!sql) return SQLITE_NOMEM;
  return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL);
}

/* ------------------------------------------------------------ site ids */

static void state_cache_site(bl_crdt *st, const unsigned char *site, int len, sqlite3_int64 ordinal) {
  if (len > BL_SITE_ID_LEN) return;
  memcpy(st->site_cache, site, (size_t)len);
  st->site_cache_len = len;
  st->site_cache_ordinal = ordinal;
}

int bl__site_ordinal(bl_crdt *st, const unsigned char *site, int len, sqlite3_int64 *out) {
  if (!site || len == 0 || (len == BL_SITE_ID_LEN && memcmp(site, st->site_id, BL_SITE_ID_LEN) == 0)) {
    *out = 0;
    return SQLITE_OK;
  }
  if (st->site_cache_len == len && memcmp(st->site_cache, site, (size_t)len) == 0) {
    *out = st->site_cache_ordinal;
    return SQLITE_OK;
  }
  int rc = bl__prepare_cached(st->db, &st->st_site_ordinal,
                              "SELECT ordinal FROM crsql_site_id WHERE site_id = ?");
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_blob(st->st_site_ordinal, 1, site, len, SQLITE_STATIC);
  rc = sqlite3_step(st->st_site_ordinal);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st->st_site_ordinal, 0);
    sqlite3_reset(st->st_site_ordinal);
    state_cache_site(st, site, len, *out);
    return SQLITE_OK;
  }
  sqlite3_reset(st->st_site_ordinal);
  if (rc != SQLITE_DONE) return rc;

  rc = bl__prepare_cached(st->db, &st->st_site_insert,
                          "INSERT INTO crsql_site_id (site_id) VALUES (?) RETURNING ordinal");
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_blob(st->st_site_insert, 1, site, len, SQLITE_STATIC);
  rc = sqlite3_step(st->st_site_insert);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st->st_site_insert, 0);
    state_cache_site(st, site, len, *out);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_ERROR;
  }
  sqlite3_reset(st->st_site_insert);
  return rc;
}

/* ------------------------------------------------------------ db_version */

/* Builds the statement computing the committed db_version from storage. */
static int state_prepare_db_version(bl_crdt *st) {
  sqlite3_str *s = sqlite3_str_new(st->db);
  sqlite3_str_appendall(s, "SELECT max(v) FROM (");
  for (int i = 0; i < st->ntables; i++)
    if (st->tables[i]->legacy)
      sqlite3_str_appendf(s, "SELECT max(__crsql_dbv) AS v FROM \"%w__crsql_clk\" UNION ALL ",
                          st->tables[i]->name);
    else /* the maximum lies in the top bucket */
      sqlite3_str_appendf(s, "SELECT max(__crsql_dbv) AS v FROM \"%w__crsql_clk\" WHERE __crsql_dbvb = "
                             "(SELECT max(__crsql_dbvb) FROM \"%w__crsql_clk\") UNION ALL ",
                          st->tables[i]->name, st->tables[i]->name);
  sqlite3_str_appendall(s, "SELECT value AS v FROM crsql_master WHERE key = 'pre_compact_dbversion')");
  char *sql = sqlite3_str_finish(s);
  int rc = bl__prepare_cached(st->db, &st->st_db_version, sql);
  sqlite3_free(sql);
  return rc;
}

static int state_data_version_changed(bl_crdt *st, int *changed) {
  int rc = bl__prepare_cached(st->db, &st->st_data_version, "PRAGMA data_version");
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st->st_data_version);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st->st_data_version);
    return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
  }
  int v = sqlite3_column_int(st->st_data_version, 0);
  sqlite3_reset(st->st_data_version);
  *changed = v != st->data_version;
  st->data_version = v;
  return SQLITE_OK;
}

int bl__db_version(bl_crdt *st, sqlite3_int64 *out) {
  int changed = 0;
  int rc = state_data_version_changed(st, &changed);
  if (rc != SQLITE_OK) return rc;
  if (st->db_version != -1 && !changed) {
    *out = st->db_version;
    return SQLITE_OK;
  }
  char *err = NULL;
  rc = bl__tables_refresh(st, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return rc;
  rc = state_prepare_db_version(st);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st->st_db_version);
  if (rc == SQLITE_ROW) {
    st->db_version = sqlite3_column_int64(st->st_db_version, 0);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    st->db_version = 0;
    rc = SQLITE_OK;
  }
  sqlite3_reset(st->st_db_version);
  *out = st->db_version;
  return rc;
}

int bl__next_db_version(bl_crdt *st, sqlite3_int64 merging, sqlite3_int64 *out) {
  /* Inside a write transaction no other connection can commit, so once a
   * pending version exists the stored version need not be checked again. */
  if (st->pending == -1 || st->db_version == -1) {
    sqlite3_int64 ignored;
    int rc = bl__db_version(st, &ignored);
    if (rc != SQLITE_OK) return rc;
  }
  sqlite3_int64 ret = st->db_version + 1;
  if (ret < st->pending) ret = st->pending;
  if (ret < merging) ret = merging;
  st->pending = ret;
  *out = ret;
  return SQLITE_OK;
}

/* ------------------------------------------------------------ table cache */

void bl__state_invalidate_tables(bl_crdt *st) {
  st->schema_version = -1;
  st->tables_checked_this_tx = 0;
}

void bl__state_invalidate_tables_soft(bl_crdt *st) { st->tables_checked_this_tx = 0; }

static int state_schema_version(bl_crdt *st, int *out) {
  int rc = bl__prepare_cached(st->db, &st->st_schema_version, "PRAGMA schema_version");
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st->st_schema_version);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int(st->st_schema_version, 0);
    rc = SQLITE_OK;
  }
  sqlite3_reset(st->st_schema_version);
  return rc;
}

int bl__tables_refresh(bl_crdt *st, char **err) {
  if (st->tables_checked_this_tx && st->schema_version != -1) return SQLITE_OK;
  int version = -1;
  int rc = state_schema_version(st, &version);
  if (rc != SQLITE_OK) return rc;
  if (version == st->schema_version) {
    st->tables_checked_this_tx = 1;
    return SQLITE_OK;
  }

  /* The schema changed: rebuild every table description. */
  state_free_tables(st);
  sqlite3_finalize(st->st_db_version);
  st->st_db_version = NULL;
  sqlite3_stmt *stmt = NULL;
  rc = sqlite3_prepare_v2(st->db,
                          "SELECT substr(c.name, 1, length(c.name) - 11) FROM sqlite_master AS c "
                          "WHERE c.type = 'table' AND c.name LIKE '%\\_\\_crsql\\_clk' ESCAPE '\\' "
                          "AND EXISTS (SELECT 1 FROM sqlite_master AS b WHERE b.type = 'table' "
                          "AND b.name = substr(c.name, 1, length(c.name) - 11)) ORDER BY c.rowid",
                          -1, &stmt, NULL);
  while (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(stmt, 0);
    bl_table *t = NULL;
    rc = bl__table_load(st->db, name, &t, err);
    if (rc != SQLITE_OK) break;
    rc = bl__table_check_layout(st->db, t);
    if (rc != SQLITE_OK) {
      bl__table_free(t);
      break;
    }
    bl_table **grown = sqlite3_realloc64(st->tables, sizeof(*grown) * (size_t)(st->ntables + 1));
    if (!grown) {
      bl__table_free(t);
      rc = SQLITE_NOMEM;
      break;
    }
    st->tables = grown;
    st->tables[st->ntables++] = t;
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK) {
    state_free_tables(st);
    return rc;
  }
  st->schema_version = version;
  st->tables_checked_this_tx = 1;
  return SQLITE_OK;
}

bl_table *bl__table_find(bl_crdt *st, const char *name, int len) {
  if (!name) return NULL;
  if (len < 0) len = (int)strlen(name);
  for (int i = 0; i < st->ntables; i++) {
    const char *n = st->tables[i]->name;
    if ((int)strlen(n) == len && memcmp(n, name, (size_t)len) == 0) return st->tables[i];
  }
  return NULL;
}
