/*
 * functions.c — registration of the CRDT engine on a connection, and the
 * small SQL functions that need no file of their own.
 *
 * One bl_crdt state per connection is shared (as user data) by every
 * function and by the crsql_changes module; the module's destructor frees it
 * when the connection closes.
 */
#include <string.h>

#include "backless.h"
#include "crdt/crdt.h"

static bl_crdt *fn_state(sqlite3_context *ctx) { return (bl_crdt *)sqlite3_user_data(ctx); }

static void fn_pack_columns(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  unsigned char *buf;
  int n;
  int rc = bl__pack_values(argc, argv, &buf, &n);
  if (rc != SQLITE_OK) {
    sqlite3_result_error(ctx, "Failed to pack columns", -1);
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  sqlite3_result_blob(ctx, buf, n, sqlite3_free);
}

static void fn_site_id(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_blob(ctx, fn_state(ctx)->site_id, BL_SITE_ID_LEN, SQLITE_TRANSIENT);
}

static void fn_db_version(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_int64 v;
  if (!bl__pending_flush_fn(ctx, fn_state(ctx))) return;
  if (bl__db_version(fn_state(ctx), &v) != SQLITE_OK) {
    sqlite3_result_error(ctx, "failed to fill db version", -1);
    return;
  }
  sqlite3_result_int64(ctx, v);
}

static void fn_next_db_version(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_int64 merging = argc == 1 ? sqlite3_value_int64(argv[0]) : 0, v;
  if (!bl__pending_flush_fn(ctx, fn_state(ctx))) return;
  if (bl__next_db_version(fn_state(ctx), merging, &v) != SQLITE_OK) {
    sqlite3_result_error(ctx, "Unable to determine the next db version", -1);
    return;
  }
  sqlite3_result_int64(ctx, v);
}

static void fn_get_seq(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_int(ctx, fn_state(ctx)->seq);
}

static void fn_increment_and_get_seq(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt *st = fn_state(ctx);
  sqlite3_result_int(ctx, st->seq);
  st->seq++;
}

/* bl_lw_seq(n): the next seq, reserving n (the insert trigger's block). */
static void fn_lw_seq(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt *st = fn_state(ctx);
  sqlite3_result_int(ctx, st->seq);
  st->seq += sqlite3_value_int(argv[0]);
}

static void fn_rows_impacted(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_int(ctx, fn_state(ctx)->rows_impacted);
}

static void fn_sync_bit(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt *st = fn_state(ctx);
  if (argc == 1) st->sync_bit = sqlite3_value_int(argv[0]);
  sqlite3_result_int(ctx, st->sync_bit);
}

static void fn_finalize(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl__state_finalize_stmts(fn_state(ctx));
  sqlite3_result_text(ctx, "finalized", -1, SQLITE_STATIC);
}

static void fn_sha(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_text(ctx, "backless-" BL_VERSION_STRING, -1, SQLITE_STATIC);
}

static void fn_version(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_int64(ctx, BL_CRSQLITE_VERSION);
}

/* crsql_config_set(name, value): only 'merge-equal-values' exists, as in
 * cr-sqlite; the setting is persisted in crsql_master as 'config.<name>'. */
static void fn_config_set(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt *st = fn_state(ctx);
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  if (!name || strcmp(name, "merge-equal-values") != 0) {
    sqlite3_result_error(ctx, "Unknown setting name", -1);
    return;
  }
  st->merge_equal_values = sqlite3_value_int(argv[1]);
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(st->db,
                              "INSERT OR REPLACE INTO crsql_master VALUES (?, ?) RETURNING value",
                              -1, &stmt, NULL);
  if (rc == SQLITE_OK) {
    char *key = sqlite3_mprintf("config.%s", name);
    sqlite3_bind_text(stmt, 1, key, -1, sqlite3_free);
    sqlite3_bind_value(stmt, 2, argv[1]);
    rc = sqlite3_step(stmt);
  }
  if (rc == SQLITE_ROW)
    sqlite3_result_value(ctx, sqlite3_column_value(stmt, 0));
  else
    sqlite3_result_error(ctx, "Could not persist config in database", -1);
  sqlite3_finalize(stmt);
}

static void fn_config_get(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  if (!name || strcmp(name, "merge-equal-values") != 0) {
    sqlite3_result_error(ctx, "Unknown setting name", -1);
    return;
  }
  sqlite3_result_int(ctx, fn_state(ctx)->merge_equal_values);
}

/* crsql_internal_state(P): stores this connection's engine state into the
 * pointer P (bound with sqlite3_bind_pointer, type "bl_crdt_out"). How the
 * C API finds the state of a connection. */
static void fn_internal_state(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  bl_crdt **out = sqlite3_value_pointer(argv[0], "bl_crdt_out");
  if (out) *out = fn_state(ctx);
  sqlite3_result_null(ctx);
}

static int fn_commit_hook(void *p) {
  bl__state_tx_end((bl_crdt *)p, 1);
  return 0;
}

static void fn_rollback_hook(void *p) { bl__state_tx_end((bl_crdt *)p, 0); }

typedef struct fn_def {
  const char *name;
  int nargs;
  int flags;
  void (*fn)(sqlite3_context *, int, sqlite3_value **);
} fn_def;

#define BL_DET (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)
#define BL_VOL (SQLITE_UTF8)
#define BL_DIRECT (SQLITE_UTF8 | SQLITE_DIRECTONLY)

static const fn_def fn_defs[] = {
    {"crsql_pack_columns", -1, BL_DET, fn_pack_columns},
    {"crsql_site_id", 0, BL_DET, fn_site_id},
    {"crsql_db_version", 0, BL_VOL, fn_db_version},
    {"crsql_next_db_version", 0, BL_VOL, fn_next_db_version},
    {"crsql_next_db_version", 1, BL_VOL, fn_next_db_version},
    {"crsql_get_seq", 0, BL_VOL, fn_get_seq},
    {"crsql_increment_and_get_seq", 0, BL_VOL, fn_increment_and_get_seq},
    {"crsql_rows_impacted", 0, BL_VOL, fn_rows_impacted},
    {"crsql_internal_sync_bit", 0, BL_VOL, fn_sync_bit},
    {"crsql_internal_sync_bit", 1, BL_DIRECT, fn_sync_bit},
    {"crsql_finalize", 0, BL_DIRECT, fn_finalize},
    {"crsql_sha", 0, BL_DET, fn_sha},
    {"crsql_version", 0, BL_DET, fn_version},
    {"crsql_config_set", 2, BL_DIRECT, fn_config_set},
    {"crsql_config_get", 1, BL_VOL, fn_config_get},
    {"crsql_as_crr", 1, BL_DIRECT, bl__fn_as_crr},
    {"crsql_as_crr", 2, BL_DIRECT, bl__fn_as_crr},
    {"crsql_as_table", 1, BL_DIRECT, bl__fn_as_table},
    {"crsql_begin_alter", 1, BL_DIRECT, bl__fn_begin_alter},
    {"crsql_begin_alter", 2, BL_DIRECT, bl__fn_begin_alter},
    {"crsql_commit_alter", 1, BL_DIRECT, bl__fn_commit_alter},
    {"crsql_commit_alter", 2, BL_DIRECT, bl__fn_commit_alter},
    /* Called from the triggers the engine installs (so not DIRECTONLY). */
    {"crsql_after_insert", -1, BL_VOL, bl__fn_after_insert},
    {"crsql_after_update", -1, BL_VOL, bl__fn_after_update},
    {"crsql_after_delete", -1, BL_VOL, bl__fn_after_delete},
    {"bl_lw_insert", -1, BL_VOL, bl__fn_lw_insert},
    {"bl_lw_seq", 1, BL_VOL, fn_lw_seq},
    {"bl_lw_update", -1, BL_VOL, bl__fn_lw_update},
    {"bl_lw_delete", -1, BL_VOL, bl__fn_lw_delete},
    {"crsql_internal_state", 1, BL_DIRECT, fn_internal_state},
};

int bl__crdt_init(sqlite3 *db, char **errmsg) {
  bl_crdt *st = NULL;
  char *err = NULL;
  int rc = bl__state_new(db, &st, &err);
  if (rc != SQLITE_OK) {
    if (errmsg) *errmsg = err ? err : sqlite3_mprintf("failed to initialize the CRDT engine");
    else sqlite3_free(err);
    return rc;
  }
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof fn_defs / sizeof fn_defs[0]; i++) {
    const fn_def *d = &fn_defs[i];
    rc = sqlite3_create_function_v2(db, d->name, d->nargs, d->flags, st, d->fn, NULL, NULL, NULL);
  }
  /* The module owns the state: its destructor runs when the connection closes. */
  if (rc == SQLITE_OK) rc = bl__changes_vtab_register(db, st);
  else bl__state_free(st);
  if (rc == SQLITE_OK) rc = bl__fractindex_register(db);
  if (rc == SQLITE_OK) rc = bl__lw_register(db, st);
  if (rc == SQLITE_OK) {
    sqlite3_commit_hook(db, fn_commit_hook, st);
    sqlite3_rollback_hook(db, fn_rollback_hook, st);
  }
  if (rc != SQLITE_OK && errmsg && !*errmsg)
    *errmsg = sqlite3_mprintf("failed to register the CRDT engine: %s", sqlite3_errstr(rc));
  return rc;
}

/* Whether the schema holds no trigger but the engine's own (whose work is
 * skipped while merging anyway). */
int bl__only_engine_triggers(sqlite3 *db) {
  sqlite3_stmt *stmt = NULL;
  int only = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT count(*) FROM (SELECT name, tbl_name, type FROM sqlite_master UNION ALL "
                         "SELECT name, tbl_name, type FROM sqlite_temp_master) WHERE type = 'trigger' "
                         "AND name NOT IN (tbl_name || '__crsql_itrig', tbl_name || '__crsql_utrig', "
                         "tbl_name || '__crsql_dtrig') AND NOT (tbl_name LIKE '%\\_\\_crsql\\_clock' ESCAPE '\\' "
                         "AND name IN (tbl_name || '_delete', tbl_name || '_insert', tbl_name || '_update'))",
                         -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW)
    only = sqlite3_column_int(stmt, 0) == 0;
  sqlite3_finalize(stmt);
  return only;
}

#ifdef SQLITE_CORE
int bl_crdt_register(sqlite3 *db, char **errmsg) {
  if (errmsg) *errmsg = NULL;
  return bl__crdt_init(db, errmsg);
}

static int fn_auto_entry(sqlite3 *db, char **errmsg, const struct sqlite3_api_routines *api) {
  (void)api;
  return bl__crdt_init(db, errmsg);
}

int bl_crdt_auto_register(void) {
  return sqlite3_auto_extension((void (*)(void))fn_auto_entry);
}

static bl_crdt *fn_find_state(sqlite3 *db) {
  bl_crdt *st = NULL;
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2(db, "SELECT crsql_internal_state(?1)", -1, &stmt, NULL) == SQLITE_OK) {
    sqlite3_bind_pointer(stmt, 1, &st, "bl_crdt_out", NULL);
    sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  return st;
}

/* Large batches run with triggers disabled (SQLITE_DBCONFIG_ENABLE_TRIGGER)
 * when the schema has no trigger but the engine's own: those do nothing
 * while merging anyway, and a table with triggers makes every base write
 * enter a trigger frame and keep a statement journal. Changing the setting
 * expires the connection's prepared statements (SQLite re-prepares them on
 * their next run), so small batches do not bother. User triggers, which
 * cr-sqlite fires during merges, keep every batch on the normal path. */
#define FN_QUIET_MERGE_MIN 256


int bl_crdt_merge(sqlite3 *db, const bl_crdt_change *changes, size_t n, char **errmsg) {
  if (errmsg) *errmsg = NULL;
  bl_crdt *st = db ? fn_find_state(db) : NULL;
  if (!st) {
    if (errmsg) *errmsg = sqlite3_mprintf("the CRDT engine is not registered on this connection");
    return SQLITE_MISUSE;
  }
  if (n == 0) return SQLITE_OK;
  char *err = NULL;
  int rc = bl__pending_flush(st, &err);
  if (rc != SQLITE_OK) {
    if (errmsg) *errmsg = err;
    else sqlite3_free(err);
    return rc;
  }
  rc = sqlite3_exec(db, "SAVEPOINT bl_crdt_merge", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    if (errmsg) *errmsg = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    return rc;
  }
  int impacted = st->rows_impacted;
  int triggers_on = 0, quiet = 0;
  if (n >= FN_QUIET_MERGE_MIN && sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, -1, &triggers_on) == SQLITE_OK &&
      triggers_on && bl__only_engine_triggers(db))
    quiet = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &triggers_on) == SQLITE_OK;
  rc = bl__merge_batch(st, changes, n, &err);
  if (quiet) sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 1, &triggers_on);
  if (rc == SQLITE_OK) {
    rc = sqlite3_exec(db, "RELEASE bl_crdt_merge", NULL, NULL, NULL);
  } else {
    st->rows_impacted = impacted;
    sqlite3_exec(db, "ROLLBACK TO bl_crdt_merge; RELEASE bl_crdt_merge", NULL, NULL, NULL);
  }
  if (errmsg) *errmsg = err;
  else sqlite3_free(err);
  return rc;
}
#endif
