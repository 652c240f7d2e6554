/*
 * open.c — bl_open and bl_close: the seed's Backless.init in C.
 *
 * bl_open opens (or creates) the file, registers the CRDT engine, and in ONE
 * transaction creates _sync_meta / _sync_cursors, the device id, runs the
 * schema's create (fresh file) or migrate (older file) and makes every
 * synced table a CRR. Any failure rolls all of it back, so a database is
 * never left half-initialised.
 *
 * Divided into: errors; option checks; the init transaction; open/close.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "media/media_internal.h"
#include "sync/sync_internal.h"
#include "util/errmsg.h"

/* ------------------------------------------------------------------ errors */

int bl__db_error(bl_db *db, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (msg) {
    sqlite3_free(db->errmsg);
    db->errmsg = msg;
  }
  return code;
}

int bl__from_sqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_OK: return BL_OK;
    case SQLITE_NOMEM: return BL_ENOMEM;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return BL_ECORRUPT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return BL_EBUSY;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY: return BL_EIO;
    default: return BL_ESQLITE;
  }
}

const char *bl_errmsg(const bl_db *db) {
  if (!db) return bl__tls_errmsg();
  return db->errmsg ? db->errmsg : "";
}

sqlite3 *bl_sqlite(bl_db *db) { return db ? db->db : NULL; }

const char *bl_device_id(const bl_db *db) { return db ? db->device_id : ""; }

/* ------------------------------------------------------------ option checks */

static int open_check_config(const bl_config *c) {
  if (!c) return bl__set_tls_error(BL_EMISUSE, "bl_open: config is NULL");
  if (c->version < 1 || c->version > BL_CONFIG_VERSION)
    return bl__set_tls_error(BL_EMISUSE, "bl_open: config version %u is not 1..%d (use BL_CONFIG_INIT)",
                             c->version, BL_CONFIG_VERSION);
  const bl_schema *s = c->schema;
  if (!s) return bl__set_tls_error(BL_EMISUSE, "bl_open: config.schema is required");
  if (s->version != BL_SCHEMA_VERSION)
    return bl__set_tls_error(BL_EMISUSE, "bl_open: schema struct version %u is not %d (use BL_SCHEMA_INIT)",
                             s->version, BL_SCHEMA_VERSION);
  if (s->schema_version < 1)
    return bl__set_tls_error(BL_EMISUSE, "bl_open: schema version must be >= 1 (got %d)", s->schema_version);
  if (s->synced_tables_count > 0 && !s->synced_tables)
    return bl__set_tls_error(BL_EMISUSE, "bl_open: synced_tables is NULL but synced_tables_count is %zu",
                             s->synced_tables_count);
  for (size_t i = 0; i < s->synced_tables_count; i++)
    if (!s->synced_tables[i] || !s->synced_tables[i][0])
      return bl__set_tls_error(BL_EMISUSE, "bl_open: synced table %zu has no name", i);
  if ((unsigned)c->version_mismatch > BL_MISMATCH_APPLY_COMPATIBLE)
    return bl__set_tls_error(BL_EMISUSE, "bl_open: unknown version_mismatch %d", (int)c->version_mismatch);
  if (c->snapshot_threshold < 0 || c->snapshot_grace < 0)
    return bl__set_tls_error(BL_EMISUSE, "bl_open: snapshot threshold and grace must be >= 0 (0 = default)");
  if (c->app_folder_name) {
    const char *n = c->app_folder_name;
    if (!n[0] || strchr(n, '/') || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
      return bl__set_tls_error(BL_EMISUSE, "bl_open: app folder name '%s' must be one folder name", n);
  }
  if (c->version >= 2) {
    const bl_media_schema *m = c->media;
    if (m && m->version != BL_MEDIA_SCHEMA_VERSION)
      return bl__set_tls_error(BL_EMISUSE, "bl_open: media schema version %u is not %d (use BL_MEDIA_SCHEMA_INIT)",
                               m->version, BL_MEDIA_SCHEMA_VERSION);
    if (m && (!m->unuploaded || !m->all_hashes || !m->mark_uploaded))
      return bl__set_tls_error(BL_EMISUSE,
                               "bl_open: the media schema needs all three callbacks (unuploaded, all_hashes, "
                               "mark_uploaded)");
    if (c->media_gc_grace < 0) return bl__set_tls_error(BL_EMISUSE, "bl_open: media_gc_grace must be >= 0 (0 = default)");
    if (c->media_cache_dir && !c->media_cache_dir[0])
      return bl__set_tls_error(BL_EMISUSE, "bl_open: media_cache_dir is empty");
  }
  if (c->version >= 3) {
    if (c->compression < BL_COMPRESSION_DEFAULT || c->compression > BL_COMPRESSION_ZSTD)
      return bl__set_tls_error(BL_EMISUSE, "bl_open: unknown compression %d", c->compression);
    if (c->kdf_opslimit && (c->kdf_opslimit < crypto_pwhash_OPSLIMIT_MIN || c->kdf_opslimit > 64))
      return bl__set_tls_error(BL_EMISUSE, "bl_open: kdf_opslimit must be %llu..64",
                               (unsigned long long)crypto_pwhash_OPSLIMIT_MIN);
    if (c->kdf_memlimit && (c->kdf_memlimit < crypto_pwhash_MEMLIMIT_MIN || c->kdf_memlimit > ((size_t)4 << 30)))
      return bl__set_tls_error(BL_EMISUSE, "bl_open: kdf_memlimit must be %zu bytes .. 4 GiB",
                               (size_t)crypto_pwhash_MEMLIMIT_MIN);
  }
  return BL_OK;
}

/* ------------------------------------------------------- the init transaction */

static int open_create_tables(bl_db *db) {
  return bl__exec(db,
                  "CREATE TABLE IF NOT EXISTS _sync_meta ("
                  " key TEXT PRIMARY KEY NOT NULL, value TEXT);"
                  "CREATE TABLE IF NOT EXISTS _sync_cursors ("
                  " device_id TEXT PRIMARY KEY NOT NULL,"
                  " last_sequence INTEGER NOT NULL DEFAULT 0,"
                  " last_sync_at TEXT);");
}

/* Formats 16 bytes as a lowercase 8-4-4-4-12 UUID. */
static void open_format_uuid(const unsigned char *b, char out[37]) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hex[b[i] >> 4];
    out[o++] = hex[b[i] & 15];
  }
  out[o] = '\0';
}

/* The device id is the CRDT site id as a UUID, so a device's folder and the
 * site_id of the changes it writes name the same thing. Stored in
 * _sync_meta the first time; the stored value wins afterwards. */
static int open_device_id(bl_db *db) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db->db, "SELECT crsql_site_id()", -1, &stmt, NULL);
  if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == 16) {
    memcpy(db->site_id, sqlite3_column_blob(stmt, 0), 16);
  } else {
    rc = rc == SQLITE_OK ? SQLITE_ERROR : rc;
    sqlite3_finalize(stmt);
    return bl__db_error(db, BL_ESQLITE, "cannot read the site id: %s", sqlite3_errmsg(db->db));
  }
  sqlite3_finalize(stmt);

  char *stored = NULL;
  rc = bl__meta_get(db, BL_META_DEVICE_ID, &stored);
  if (rc == BL_OK) {
    if (strlen(stored) != 36) {
      free(stored);
      return bl__db_error(db, BL_ECORRUPT, "_sync_meta holds a device_id that is not a UUID");
    }
    memcpy(db->device_id, stored, 37);
    free(stored);
    return BL_OK;
  }
  if (rc != BL_ENOTFOUND) return rc;
  open_format_uuid(db->site_id, db->device_id);
  return bl__meta_set(db, BL_META_DEVICE_ID, db->device_id);
}

/* The seed's message for a synced table that cannot become a CRR, followed
 * by the engine's reason. */
static int open_make_crrs(bl_db *db) {
  const bl_schema *s = db->schema;
  for (size_t i = 0; i < s->synced_tables_count; i++) {
    const char *t = s->synced_tables[i];
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db->db, "SELECT crsql_as_crr(?)", -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(stmt, 1, t, -1, SQLITE_STATIC);
      rc = sqlite3_step(stmt);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      int code = rc == SQLITE_NOMEM ? BL_ENOMEM : BL_ESCHEMA;
      bl__db_error(db, code,
                   "Failed to enable CRDT for table '%s'. Make sure the table is created in "
                   "schema.create() / schema.migrate() and has a non-nullable primary key. (%s)",
                   t, sqlite3_errmsg(db->db));
      sqlite3_finalize(stmt);
      return code;
    }
    sqlite3_finalize(stmt);
  }
  return BL_OK;
}

/* 1 when table `t` exists and is already a CRR. */
static int open_is_crr(bl_db *db, const char *t) {
  sqlite3_stmt *stmt = NULL;
  int yes = 0;
  if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM sqlite_schema WHERE name = ?1 || '__crsql_clock'", -1, &stmt, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, t, -1, SQLITE_STATIC);
    yes = sqlite3_step(stmt) == SQLITE_ROW;
  }
  sqlite3_finalize(stmt);
  return yes;
}

static int open_alter(bl_db *db, const char *fn, const char *t) {
  char *sql = sqlite3_mprintf("SELECT %s(%Q)", fn, t);
  if (!sql) return bl__db_error(db, BL_ENOMEM, "out of memory");
  char *err = NULL;
  int rc = sqlite3_exec(db->db, sql, NULL, NULL, &err);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) {
    bl__db_error(db, BL_ESCHEMA, "schema.migrate: %s('%s') failed: %s", fn, t, err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return BL_ESCHEMA;
  }
  return BL_OK;
}

/* Runs the schema's migrate between crsql_begin_alter and
 * crsql_commit_alter of every synced table that is already a CRR, as
 * cr-sqlite requires for ALTER TABLE on a CRR: the seed's migrate is a plain
 * "ALTER TABLE todos ADD COLUMN ...", and the added column is tracked from
 * then on. (A migrate that wraps its ALTERs itself works too: the calls
 * nest harmlessly, the outer commit_alter finding nothing left to do.) */
static int open_migrate(bl_db *db, int64_t from) {
  const bl_schema *s = db->schema;
  unsigned char *altering = calloc(s->synced_tables_count ? s->synced_tables_count : 1, 1);
  if (!altering) return bl__db_error(db, BL_ENOMEM, "out of memory");
  int rc = BL_OK;
  for (size_t i = 0; rc == BL_OK && i < s->synced_tables_count; i++)
    if (open_is_crr(db, s->synced_tables[i])) {
      rc = open_alter(db, "crsql_begin_alter", s->synced_tables[i]);
      altering[i] = rc == BL_OK;
    }
  if (rc == BL_OK && s->migrate && s->migrate(db->db, (int)from, s->schema_version, s->payload) != 0)
    rc = bl__db_error(db, BL_ESCHEMA, "schema.migrate(%lld, %d) failed: %s", (long long)from, s->schema_version,
                      sqlite3_errmsg(db->db));
  /* A table the migration dropped has nothing to commit. */
  for (size_t i = 0; rc == BL_OK && i < s->synced_tables_count; i++)
    if (altering[i] && open_is_crr(db, s->synced_tables[i]))
      rc = open_alter(db, "crsql_commit_alter", s->synced_tables[i]);
  free(altering);
  return rc;
}

/* After an upgrade: rewinds the cursors of devices whose changes were
 * dropped by APPLY_COMPATIBLE, so the next sync fetches them again. */
static int open_rewind_refetch(bl_db *db) {
  return bl__exec(db,
                  "UPDATE _sync_cursors SET last_sequence = (SELECT min(last_sequence, CAST(m.value AS INTEGER))"
                  " FROM _sync_meta m WHERE m.key = '" BL_META_REFETCH_PREFIX "' || _sync_cursors.device_id)"
                  " WHERE EXISTS (SELECT 1 FROM _sync_meta m WHERE m.key = '" BL_META_REFETCH_PREFIX
                  "' || _sync_cursors.device_id);"
                  "DELETE FROM _sync_meta WHERE key LIKE '" BL_META_REFETCH_PREFIX "%';"
                  "DELETE FROM _sync_meta WHERE key = '" BL_META_CHANGES_TOKEN "';");
}

/* Runs create or migrate as the stored schema_version says. */
static int open_schema(bl_db *db) {
  const bl_schema *s = db->schema;
  int64_t stored = 0;
  char *text = NULL;
  int rc = bl__meta_get(db, BL_META_SCHEMA_VERSION, &text);
  if (rc != BL_OK && rc != BL_ENOTFOUND) return rc;
  if (rc == BL_OK) {
    char *end = NULL;
    stored = strtoll(text, &end, 10);
    int bad = !*text || *end || stored < 1;
    free(text);
    if (bad) return bl__db_error(db, BL_ECORRUPT, "_sync_meta holds a schema_version that is not a number >= 1");
  }
  if (stored > s->schema_version)
    return bl__db_error(db, BL_ESCHEMA,
                        "the database's schema version (%lld) is newer than this app's schema (%d); "
                        "update the app",
                        (long long)stored, s->schema_version);
  if (stored == 0) {
    if (s->create && s->create(db->db, s->payload) != 0)
      return bl__db_error(db, BL_ESCHEMA, "schema.create failed: %s", sqlite3_errmsg(db->db));
  } else if (stored < s->schema_version) {
    rc = open_migrate(db, stored);
    if (rc == BL_OK) rc = open_rewind_refetch(db);
    if (rc != BL_OK) return rc;
  }
  if (stored != s->schema_version) {
    rc = bl__meta_set_int(db, BL_META_SCHEMA_VERSION, s->schema_version);
    if (rc != BL_OK) return rc;
  }
  return BL_OK;
}

static int open_init(bl_db *db) {
  int rc = bl__exec(db, "BEGIN IMMEDIATE");
  if (rc != BL_OK) return rc;
  rc = open_create_tables(db);
  if (rc == BL_OK) rc = open_device_id(db);
  if (rc == BL_OK) rc = open_schema(db);
  if (rc == BL_OK) rc = open_make_crrs(db);
  if (rc == BL_OK) {
    int64_t v = 0;
    rc = bl__meta_get_int(db, BL_META_LAST_PUSH_DB_VERSION, -1, &v);
    if (rc == BL_OK && v < 0) rc = bl__meta_set_int(db, BL_META_LAST_PUSH_DB_VERSION, 0);
  }
  if (rc == BL_OK) rc = bl__exec(db, "COMMIT");
  if (rc != BL_OK) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* --------------------------------------------------------------- open/close */

static char *open_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* Opens the connection and checks that the file is a SQLite database before
 * anything writes to it. */
static int open_connection(bl_db *db) {
  int rc = sqlite3_open_v2(db->path, &db->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL);
  if (rc != SQLITE_OK)
    return bl__db_error(db, bl__from_sqlite(rc), "cannot open database '%s': %s", db->path,
                        db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
  sqlite3_extended_result_codes(db->db, 1);
  sqlite3_busy_timeout(db->db, 10000);
  rc = sqlite3_exec(db->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    int code = bl__from_sqlite(rc);
    if ((rc & 0xff) == SQLITE_NOTADB)
      return bl__db_error(db, BL_ECORRUPT, "'%s' is not a SQLite database", db->path);
    return bl__db_error(db, code, "cannot read database '%s': %s", db->path, sqlite3_errmsg(db->db));
  }
  /* WAL: the app keeps reading while a sync applies changes. In-memory and
   * temporary databases keep their own journal mode. */
  if (db->lock_path) {
    /* Switching needs an exclusive lock, and SQLite does not call the busy
     * handler for it when that could deadlock (another process creating
     * the same new database): wait here instead, as long as the busy
     * timeout would. */
    for (int waited = 0;; waited += 20) {
      rc = sqlite3_exec(db->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
      if ((rc & 0xff) != SQLITE_BUSY || waited >= 10000) break;
      sqlite3_sleep(20);
    }
    if (rc != SQLITE_OK)
      return bl__db_error(db, bl__from_sqlite(rc), "cannot set WAL mode on '%s': %s", db->path,
                          sqlite3_errmsg(db->db));
  }
  sqlite3_exec(db->db, "PRAGMA temp_store=MEMORY", NULL, NULL, NULL);
  char *err = NULL;
  rc = bl_crdt_register(db->db, &err);
  if (rc != SQLITE_OK) {
    bl__db_error(db, bl__from_sqlite(rc), "cannot register the CRDT engine: %s", err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return bl__from_sqlite(rc);
  }
  return BL_OK;
}

static int open_is_file(const char *path) {
  if (!path[0] || strcmp(path, ":memory:") == 0) return 0;
  if (strncmp(path, "file:", 5) == 0 && strstr(path, "mode=memory")) return 0;
  return 1;
}

int bl_open(bl_db **out, const bl_config *config) {
  if (!out) return bl__set_tls_error(BL_EMISUSE, "bl_open: out is NULL");
  *out = NULL;
  int rc = open_check_config(config);
  if (rc != BL_OK) return rc;

  bl_db *db = calloc(1, sizeof *db);
  if (!db) return bl__set_tls_error(BL_ENOMEM, "out of memory");
  db->schema = config->schema;
  db->mismatch = config->version_mismatch;
  db->snapshot_threshold = config->snapshot_threshold ? config->snapshot_threshold : BL_SNAPSHOT_THRESHOLD;
  db->snapshot_grace = config->snapshot_grace ? config->snapshot_grace : BL_SNAPSHOT_GRACE;
  db->path = open_strdup(config->database_path ? config->database_path : "backless.db");
  db->app_folder = open_strdup(config->app_folder_name ? config->app_folder_name : "Backless");
  db->media_gc_grace = BL_MEDIA_GC_GRACE;
  if (config->version >= 2) {
    db->media = config->media;
    if (config->media_gc_grace) db->media_gc_grace = config->media_gc_grace;
    db->media_cache_dir = config->media_cache_dir ? open_strdup(config->media_cache_dir) : NULL;
    if (config->media_cache_dir && !db->media_cache_dir) {
      bl_close(db);
      return bl__set_tls_error(BL_ENOMEM, "out of memory");
    }
  }
  if (!db->media_cache_dir) db->media_cache_dir = bl__media_default_cache_dir();
  if (sodium_init() < 0) {
    bl_close(db);
    return bl__set_tls_error(BL_ERROR, "libsodium cannot be initialised");
  }
  if (config->version >= 3) {
    db->compression_new = config->compression;
    db->passphrase = config->passphrase;
    db->passphrase_payload = config->passphrase_payload;
    db->kdf_ops = config->kdf_opslimit;
    db->kdf_mem = config->kdf_memlimit;
    if (config->key) {
      if (!(db->given_key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES))) {
        bl_close(db);
        return bl__set_tls_error(BL_ENOMEM, "out of memory");
      }
      memcpy(db->given_key, config->key, crypto_secretstream_xchacha20poly1305_KEYBYTES);
    }
  }
  if (!db->path || !db->app_folder) {
    bl_close(db);
    return bl__set_tls_error(BL_ENOMEM, "out of memory");
  }
  if (open_is_file(db->path)) {
    size_t n = strlen(db->path) + sizeof "-sync.lock";
    db->lock_path = malloc(n);
    if (!db->lock_path) {
      bl_close(db);
      return bl__set_tls_error(BL_ENOMEM, "out of memory");
    }
    snprintf(db->lock_path, n, "%s-sync.lock", db->path);
  }

  rc = open_connection(db);
  if (rc == BL_OK) rc = open_init(db);
  if (rc != BL_OK) {
    bl__set_tls_error(rc, "%s", bl_errmsg(db));
    bl_close(db);
    return rc;
  }
  *out = db;
  return BL_OK;
}

void bl_close(bl_db *db) {
  if (!db) return;
  if (db->db) sqlite3_close_v2(db->db);
  sqlite3_free(db->errmsg);
  free(db->path);
  free(db->lock_path);
  free(db->app_folder);
  free(db->media_cache_dir);
  if (db->given_key) sodium_free(db->given_key); /* zeroes it */
  if (db->data_key) sodium_free(db->data_key);
  free(db);
}
