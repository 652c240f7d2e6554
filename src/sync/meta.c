/*
 * meta.c — the seed's two state tables: _sync_meta (key/value) and
 * _sync_cursors (one row per device synced from), plus small SQL helpers.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sync/sync_internal.h"

int bl__exec(bl_db *db, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(db->db, sql, NULL, NULL, &err);
  if (rc != SQLITE_OK) {
    bl__db_error(db, bl__from_sqlite(rc), "%s", err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return bl__from_sqlite(rc);
  }
  return BL_OK;
}

static int meta_fail(bl_db *db, sqlite3_stmt *stmt, int rc) {
  bl__db_error(db, bl__from_sqlite(rc), "sync state: %s", sqlite3_errmsg(db->db));
  sqlite3_finalize(stmt);
  return bl__from_sqlite(rc);
}

int bl__meta_get(bl_db *db, const char *key, char **out) {
  *out = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db->db, "SELECT value FROM _sync_meta WHERE key = ?", -1, &stmt, NULL);
  if (rc != SQLITE_OK) return meta_fail(db, stmt, rc);
  sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE || (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) == SQLITE_NULL)) {
    sqlite3_finalize(stmt);
    return BL_ENOTFOUND;
  }
  if (rc != SQLITE_ROW) return meta_fail(db, stmt, rc);
  const unsigned char *v = sqlite3_column_text(stmt, 0);
  size_t n = (size_t)sqlite3_column_bytes(stmt, 0);
  *out = malloc(n + 1);
  if (!*out) {
    sqlite3_finalize(stmt);
    return bl__db_error(db, BL_ENOMEM, "out of memory");
  }
  memcpy(*out, v, n);
  (*out)[n] = '\0';
  sqlite3_finalize(stmt);
  return BL_OK;
}

int bl__meta_get_int(bl_db *db, const char *key, int64_t dflt, int64_t *out) {
  char *text = NULL;
  *out = dflt;
  int rc = bl__meta_get(db, key, &text);
  if (rc == BL_ENOTFOUND) return BL_OK;
  if (rc != BL_OK) return rc;
  char *end = NULL;
  long long v = strtoll(text, &end, 10);
  if (*text && !*end) *out = v;
  free(text);
  return BL_OK;
}

int bl__meta_set(bl_db *db, const char *key, const char *value) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db->db, "INSERT OR REPLACE INTO _sync_meta (key, value) VALUES (?, ?)", -1,
                              &stmt, NULL);
  if (rc != SQLITE_OK) return meta_fail(db, stmt, rc);
  sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
  rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return meta_fail(db, stmt, rc);
  sqlite3_finalize(stmt);
  return BL_OK;
}

int bl__meta_set_int(bl_db *db, const char *key, int64_t value) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)value);
  return bl__meta_set(db, key, buf);
}

int bl__meta_delete(bl_db *db, const char *key) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db->db, "DELETE FROM _sync_meta WHERE key = ?", -1, &stmt, NULL);
  if (rc != SQLITE_OK) return meta_fail(db, stmt, rc);
  sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return meta_fail(db, stmt, rc);
  sqlite3_finalize(stmt);
  return BL_OK;
}

int bl__cursor_get(bl_db *db, const char *device, int64_t *seq) {
  *seq = 0;
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db->db, "SELECT last_sequence FROM _sync_cursors WHERE device_id = ?", -1,
                              &stmt, NULL);
  if (rc != SQLITE_OK) return meta_fail(db, stmt, rc);
  sqlite3_bind_text(stmt, 1, device, -1, SQLITE_STATIC);
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) *seq = sqlite3_column_int64(stmt, 0);
  else if (rc != SQLITE_DONE) return meta_fail(db, stmt, rc);
  sqlite3_finalize(stmt);
  return BL_OK;
}

int bl__cursor_set(bl_db *db, const char *device, int64_t seq) {
  char now[32];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db->db,
                              "INSERT OR REPLACE INTO _sync_cursors (device_id, last_sequence, last_sync_at) "
                              "VALUES (?, ?, ?)",
                              -1, &stmt, NULL);
  if (rc != SQLITE_OK) return meta_fail(db, stmt, rc);
  sqlite3_bind_text(stmt, 1, device, -1, SQLITE_STATIC);
  sqlite3_bind_int64(stmt, 2, seq);
  sqlite3_bind_text(stmt, 3, now, -1, SQLITE_STATIC);
  rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return meta_fail(db, stmt, rc);
  sqlite3_finalize(stmt);
  return BL_OK;
}

int bl__sync_db_version(bl_db *db, int64_t *out) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db->db, "SELECT crsql_db_version()", -1, &stmt, NULL);
  if (rc != SQLITE_OK) return meta_fail(db, stmt, rc);
  rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) return meta_fail(db, stmt, rc);
  *out = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return BL_OK;
}
