/*
 * clear.c — bl_clear_all_data (the seed's clearAllData) and the active
 * account (setActiveAccount / getActiveAccount).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "media/media_internal.h"
#include "sync/sync_internal.h"

/* Deletes the clock state of every synced table, whatever schema.clear did:
 * leftover clock entries (tombstones of the rows clear deleted) would
 * otherwise be pushed as deletes, or win over the data a bootstrap
 * restores. */
static int clear_clocks(bl_db *db) {
  const bl_schema *s = db->schema;
  for (size_t i = 0; i < s->synced_tables_count; i++) {
    char *sql = sqlite3_mprintf("DELETE FROM \"%w__crsql_clock\"", s->synced_tables[i]);
    if (!sql) return bl__db_error(db, BL_ENOMEM, "out of memory");
    int rc = bl__exec(db, sql);
    sqlite3_free(sql);
    if (rc != BL_OK) return rc;
  }
  return BL_OK;
}

/* Deletes every row of every synced table: the clear of a schema without
 * its own. */
static int clear_default(bl_db *db) {
  const bl_schema *s = db->schema;
  for (size_t i = 0; i < s->synced_tables_count; i++) {
    char *sql = sqlite3_mprintf("DELETE FROM \"%w\"", s->synced_tables[i]);
    if (!sql) return bl__db_error(db, BL_ENOMEM, "out of memory");
    int rc = bl__exec(db, sql);
    sqlite3_free(sql);
    if (rc != BL_OK) return rc;
  }
  return BL_OK;
}

int bl_clear_all_data(bl_db *db) {
  if (!db) return BL_EMISUSE;
  int rc = bl__exec(db, "BEGIN IMMEDIATE");
  if (rc != BL_OK) return bl__db_error(db, rc, "clear: cannot start a transaction: %s", bl_errmsg(db));
  const bl_schema *s = db->schema;
  if (s->clear) {
    if (s->clear(db->db, s->payload) != 0) {
      const char *why = sqlite3_errmsg(db->db);
      rc = bl__db_error(db, BL_ESCHEMA, "schema.clear failed: %s%s", why,
                        strstr(why, "within a transaction")
                            ? " (clear runs inside the transaction of bl_clear_all_data: do not BEGIN in it)"
                            : "");
    }
  } else {
    rc = clear_default(db);
  }
  if (rc == BL_OK) rc = clear_clocks(db);
  if (rc == BL_OK) rc = bl__exec(db, "DELETE FROM _sync_cursors");
  if (rc == BL_OK) rc = bl__media_state_clear(db);
  if (rc == BL_OK) rc = bl__exec(db, "DELETE FROM _sync_meta WHERE key LIKE '" BL_META_REFETCH_PREFIX "%'");
  if (rc == BL_OK)
    rc = bl__exec(db, "DELETE FROM _sync_meta WHERE key IN ('" BL_META_ACTIVE_PROVIDER "', '" BL_META_ACCOUNT_EMAIL
                      "', '" BL_META_LAST_SNAPSHOT_SEQUENCE "', '" BL_META_RESTORED_DB_VERSIONS "', '" BL_META_RESTORE_TARGET
                      "', 'push_in_flight', '" BL_META_SNAPSHOTS_UPLOADED "', '" BL_META_CHANGES_TOKEN "')");
  /* Every clock is empty now: the next local change is new whatever its
   * db_version. */
  if (rc == BL_OK) rc = bl__meta_set_int(db, BL_META_LAST_PUSH_DB_VERSION, 0);
  if (rc == BL_OK) rc = bl__exec(db, "COMMIT");
  if (rc != BL_OK) {
    char *keep = sqlite3_mprintf("%s", bl_errmsg(db));
    sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    if (keep) {
      bl__db_error(db, rc, "%s", keep);
      sqlite3_free(keep);
    }
  }
  return rc;
}

int bl_set_active_account(bl_db *db, const char *provider, const char *email) {
  if (!db) return BL_EMISUSE;
  if (!provider || !*provider || !email)
    return bl__db_error(db, BL_EMISUSE, "set_active_account: provider and email are required");
  int rc = bl__exec(db, "SAVEPOINT bl_account");
  if (rc != BL_OK) return rc;
  rc = bl__meta_set(db, BL_META_ACTIVE_PROVIDER, provider);
  if (rc == BL_OK) rc = bl__meta_set(db, BL_META_ACCOUNT_EMAIL, email);
  if (rc == BL_OK) return bl__exec(db, "RELEASE bl_account");
  sqlite3_exec(db->db, "ROLLBACK TO bl_account; RELEASE bl_account", NULL, NULL, NULL);
  return rc;
}

int bl_get_active_account(bl_db *db, char **provider, char **email) {
  if (!db || !provider || !email) return BL_EMISUSE;
  *provider = *email = NULL;
  int rc = bl__meta_get(db, BL_META_ACTIVE_PROVIDER, provider);
  if (rc != BL_OK) return rc;
  rc = bl__meta_get(db, BL_META_ACCOUNT_EMAIL, email);
  if (rc != BL_OK) {
    free(*provider);
    *provider = NULL;
  }
  return rc;
}
