/*
 * state.c — _bl_media: what this database remembers about each attachment
 * hash, for the collection rule of docs/FORMAT.md. A local table (never
 * synced), one row per hash:
 *
 *   referenced  1 when the last collection pass saw the hash referenced
 *   seen        1 once this database has seen the hash referenced; only
 *               such hashes are ever condemned or pruned from the cache
 *   condemned   the anchor (other devices' cursors) when the hash was seen
 *               unreferenced; NULL when not condemned
 *   verify      a hash marked uploaded because its file was already in the
 *               cloud, still being checked: 'P' (its reference is not
 *               pushed yet), 'A' (pushed; anchor at the next pass), or the
 *               anchor; NULL when not checked
 *   checked_at, checked_cursors
 *               when an anchored check last looked, and the other devices'
 *               cursors then: a check is skipped while they have not moved
 *               and the last look is less than an hour old
 *   cached      1 when this database put the hash into the cache
 *
 * An anchor is "device=seq;device=seq;...": for every other device, the
 * sequence of its newest changeset this database had applied.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "media/media_internal.h"
#include "sync/sync_internal.h"

int bl__media_state_init(bl_db *db) {
  if (db->media_state_ready) return BL_OK;
  int rc = bl__exec(db,
                    "CREATE TABLE IF NOT EXISTS _bl_media ("
                    " hash TEXT PRIMARY KEY NOT NULL,"
                    " referenced INTEGER NOT NULL DEFAULT 0,"
                    " seen INTEGER NOT NULL DEFAULT 0,"
                    " condemned TEXT,"
                    " verify TEXT,"
                    " checked_at INTEGER,"
                    " checked_cursors TEXT,"
                    " cached INTEGER NOT NULL DEFAULT 0"
                    ") WITHOUT ROWID");
  if (rc == BL_OK) db->media_state_ready = 1;
  return rc;
}

/* Runs `sql` (an upsert of _bl_media with one parameter, the hash). */
static int state_upsert(bl_db *db, const char *sql, const char *hash) {
  int rc = bl__media_state_init(db);
  if (rc != BL_OK) return rc;
  sqlite3_stmt *st = NULL;
  rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db->db);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) return bl__db_error(db, bl__from_sqlite(rc), "media state: %s", sqlite3_errmsg(db->db));
  return BL_OK;
}

int bl__media_note_cached(bl_db *db, const char *hash) {
  return state_upsert(db,
                      "INSERT INTO _bl_media (hash, cached) VALUES (?, 1)"
                      " ON CONFLICT (hash) DO UPDATE SET cached = 1",
                      hash);
}

int bl__media_note_attached(bl_db *db, const char *hash) {
  return state_upsert(db,
                      "INSERT INTO _bl_media (hash, cached, verify) VALUES (?, 1, 'P')"
                      " ON CONFLICT (hash) DO UPDATE SET cached = 1, verify = coalesce(verify, 'P')",
                      hash);
}

int bl__media_anchor_now(bl_db *db, char **out) {
  *out = NULL;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->db,
                              "SELECT coalesce(group_concat(device_id || '=' || last_sequence, ';'), '')"
                              " FROM (SELECT device_id, last_sequence FROM _sync_cursors"
                              "       WHERE device_id != ? ORDER BY device_id)",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, db->device_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      const char *t = (const char *)sqlite3_column_text(st, 0);
      *out = strdup(t ? t : "");
      rc = *out ? SQLITE_OK : SQLITE_NOMEM;
    } else {
      rc = sqlite3_errcode(db->db);
    }
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) return bl__db_error(db, bl__from_sqlite(rc), "media state: %s", sqlite3_errmsg(db->db));
  return BL_OK;
}

/* The anchor's sequence for `device` (0 when absent). */
static int64_t state_anchor_seq(const char *anchor, const char *device) {
  size_t dl = strlen(device);
  for (const char *p = anchor; p && *p;) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > dl && strncmp(p, device, dl) == 0 && p[dl] == '=') return strtoll(p + dl + 1, NULL, 10);
    p = end ? end + 1 : NULL;
  }
  return 0;
}

int bl__media_anchor_met(bl_db *db, const char *anchor, int grace, int *met) {
  *met = 1;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->db, "SELECT device_id, last_sequence FROM _sync_cursors WHERE device_id != ?", -1,
                              &st, NULL);
  if (rc != SQLITE_OK) return bl__db_error(db, bl__from_sqlite(rc), "media state: %s", sqlite3_errmsg(db->db));
  sqlite3_bind_text(st, 1, db->device_id, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *dev = (const char *)sqlite3_column_text(st, 0);
    int64_t seq = sqlite3_column_int64(st, 1);
    if (dev && seq < state_anchor_seq(anchor, dev) + grace) {
      *met = 0;
      break;
    }
  }
  int done = rc == SQLITE_ROW || rc == SQLITE_DONE;
  sqlite3_finalize(st);
  if (!done) return bl__db_error(db, bl__from_sqlite(rc), "media state: %s", sqlite3_errmsg(db->db));
  return BL_OK;
}

/* Whether table `name` exists in the main schema. */
static int state_table_exists(bl_db *db, const char *name) {
  sqlite3_stmt *st = NULL;
  int found = 0;
  if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return found;
}

int bl__media_state_clear(bl_db *db) {
  int rc = BL_OK;
  /* The cache flags stay: the entries are still on disk and may be pruned
   * once the restored database references and then drops them again. */
  if (state_table_exists(db, "_bl_media"))
    rc = bl__exec(db,
                  "DELETE FROM _bl_media WHERE cached = 0;"
                  "UPDATE _bl_media SET referenced = 0, seen = 0, condemned = NULL, verify = NULL");
  if (rc == BL_OK && state_table_exists(db, "_bl_media_uploaded")) rc = bl__exec(db, "DELETE FROM _bl_media_uploaded");
  return rc;
}
