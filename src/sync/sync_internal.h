/*
 * sync_internal.h — what the files of src/sync share: the bl_db handle and
 * the helpers of each file.
 *
 *   open.c       bl_open / bl_close: init as the seed's Backless.init
 *   meta.c       _sync_meta and _sync_cursors, transactions
 *   schema_dir.c bl_schema_from_dir
 *   result.c     bl_sync_result lists and code names
 *   lock.c       the cross-process sync lock
 *   apply.c      applying one downloaded file in one transaction
 *   pull.c       the pull pass (bootstrap, snapshots, compaction recovery)
 *   push.c       the push pass (idempotent cs-N, snapshots, compaction)
 *   sync.c       bl_sync / bl_pull / bl_push, cloud paths
 *   clear.c      bl_clear_all_data, accounts
 */
#ifndef BL_SYNC_INTERNAL_H
#define BL_SYNC_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "backless.h"
#include "backless/remote.h"

struct bl_db {
  sqlite3 *db;
  const bl_schema *schema; /* borrowed */
  char *path;              /* as given; ":memory:" for in-memory */
  char *lock_path;         /* NULL when the database has no file */
  char device_id[37];
  unsigned char site_id[16];
  bl_mismatch mismatch;
  char *app_folder;
  int snapshot_threshold;
  int snapshot_grace;
  char *errmsg; /* last error, "" when none */
  /* media (src/media/) */
  const bl_media_schema *media; /* borrowed; NULL: no media sync */
  char *media_cache_dir;        /* NULL when none could be found */
  int media_gc_grace;
  int media_state_ready;        /* _bl_media exists (created once per handle) */
  /* encryption and compression (settings.c) */
  int compression_new;              /* bl_config.compression, for a new folder */
  bl_passphrase_fn passphrase;
  void *passphrase_payload;
  unsigned char *given_key;         /* sodium_malloc'ed copy of bl_config.key, or NULL */
  unsigned long long kdf_ops;
  size_t kdf_mem;
  int settings_loaded;              /* backless.json was read and adopted */
  int envelope;                     /* files are wrapped (settings version 2) */
  unsigned env_flags;               /* BL_ENV_ZSTD | BL_ENV_ENCRYPTED */
  unsigned char *data_key;          /* sodium_malloc'ed; set once the key is known */
};

/* Sets db's last error (printf-style) and returns `code`. */
int bl__db_error(bl_db *db, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Maps an SQLite result code to a BL_E* code. */
int bl__from_sqlite(int rc);

/* ------------------------------------------------------------------ meta.c */

/* Keys of _sync_meta (the seed's, then ours). */
#define BL_META_DEVICE_ID "device_id"
#define BL_META_SCHEMA_VERSION "schema_version"
#define BL_META_LAST_PUSH_DB_VERSION "last_push_db_version"
#define BL_META_LAST_SNAPSHOT_SEQUENCE "last_snapshot_sequence"
#define BL_META_ACTIVE_PROVIDER "active_provider"
#define BL_META_ACCOUNT_EMAIL "account_email"
/* db_versions given to changes restored from this device's own folder
 * (bootstrap): "lo:hi,lo:hi,..." (restored.c). They are not pushed again. */
#define BL_META_RESTORED_DB_VERSIONS "restored_db_versions"
/* The highest sequence found in our own folder when a bootstrap began;
 * pushing waits until our cursor reaches it (a push before would write a
 * sequence that holds changes we have not restored). */
#define BL_META_RESTORE_TARGET "restore_target"
/* The highest sequence of our own this device has pushed or seen in its
 * folder. Survives bl_clear_all_data (like device_id): a restore whose
 * listing is stale (an eventually consistent store) still knows how far it
 * must get before pushing. */
#define BL_META_OWN_SEQUENCE "own_sequence"
/* Snapshots of ours whose upload succeeded, "S,S,..." (the last 16):
 * compaction relies only on those. */
#define BL_META_SNAPSHOTS_UPLOADED "snapshots_uploaded"
/* "refetch:<device>" = the cursor to rewind that device to after the next
 * schema upgrade: files from it were applied with changes dropped
 * (APPLY_COMPATIBLE), which the upgraded schema can now take. */
#define BL_META_REFETCH_PREFIX "refetch:"
/* The remote's change-feed token (bl_remote_changes_since) after the last
 * pull that completed; with it an idle pull asks "anything new?" once
 * instead of listing every device folder. Deleted whenever cursors move
 * back (clear, schema upgrade), so the next pull lists everything. */
#define BL_META_CHANGES_TOKEN "changes_token"
/* Unix time of the last pull that listed every device folder: one is done
 * at least every BL_FULL_LISTING_INTERVAL seconds even with a change feed,
 * in case a listing lagged behind the feed. */
#define BL_META_LAST_FULL_LISTING "last_full_listing"
#define BL_FULL_LISTING_INTERVAL 3600

/* Runs SQL without results; on error sets db's message. */
int bl__exec(bl_db *db, const char *sql);

/* Reads meta `key`: BL_OK with *out malloc'ed, BL_ENOTFOUND (*out NULL). */
int bl__meta_get(bl_db *db, const char *key, char **out);
/* Reads meta `key` as an integer; `dflt` when missing or not a number. */
int bl__meta_get_int(bl_db *db, const char *key, int64_t dflt, int64_t *out);
int bl__meta_set(bl_db *db, const char *key, const char *value);
int bl__meta_set_int(bl_db *db, const char *key, int64_t value);
int bl__meta_delete(bl_db *db, const char *key);

/* The last applied sequence from device `device` (0 when none). */
int bl__cursor_get(bl_db *db, const char *device, int64_t *seq);
/* Sets it, with last_sync_at = now (ISO 8601 UTC). */
int bl__cursor_set(bl_db *db, const char *device, int64_t seq);

/* crsql_db_version(). */
int bl__sync_db_version(bl_db *db, int64_t *out);

/* --------------------------------------------------------------- restored.c */

typedef struct bl_range {
  int64_t lo, hi; /* inclusive */
} bl_range;

/* Loads up to cap ranges of restored db_versions. */
int bl__restored_load(bl_db *db, bl_range *out, size_t cap, size_t *n);
/* Adds [lo, hi] (merging). */
int bl__restored_add(bl_db *db, int64_t lo, int64_t hi);
/* Forgets the ranges that lie entirely at or below `upto`. */
int bl__restored_drop_upto(bl_db *db, int64_t upto);
/* " AND NOT (db_version BETWEEN lo AND hi)" per range, sqlite3_malloc'ed;
 * NULL when there is none. */
char *bl__restored_sql(const bl_range *r, size_t n);
#define BL_RESTORED_MAX 256

/* ----------------------------------------------------------------- result.c */

void bl__result_reset(bl_sync_result *r);
/* Appends a warning / error (device may be NULL). Out of memory is
 * swallowed: the counts stay right and the entry is lost. */
void bl__result_warn(bl_sync_result *r, const char *device, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void bl__result_error(bl_sync_result *r, const char *device, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Drops the errors after the first n (an error replaced by a fallback). */
void bl__result_truncate_errors(bl_sync_result *r, size_t n);

/* ------------------------------------------------------------------- lock.c */

typedef struct bl_sync_lock {
  int fd;
} bl_sync_lock;

/* Takes the exclusive sync lock of `db` (waiting up to a while for another
 * process). BL_EBUSY when it stays taken. No-op for in-memory databases. */
int bl__lock_acquire(bl_db *db, bl_sync_lock *lock);
void bl__lock_release(bl_sync_lock *lock);

/* ------------------------------------------------------------------ sync.c */

/* Cloud paths, relative to the remote root; snprintf into buf, BL_EMISUSE if
 * too long. */
int bl__path_changesets(bl_db *db, char *buf, size_t size);
int bl__path_device(bl_db *db, const char *device, char *buf, size_t size);
int bl__path_file(bl_db *db, const char *device, const char *name, char *buf, size_t size);

/* Crash points for the crash-test harness: when the environment variable
 * BL_TEST_CRASH_AT equals `name` (optionally "name:N" for its Nth passage),
 * the process kills itself with SIGKILL there. Costs one getenv per call. */
void bl__crash_point(const char *name);

/* -------------------------------------------------------- pull.c / push.c */

typedef struct bl_sync_ctx {
  bl_db *db;
  bl_remote *remote;
  bl_sync_result *res;
  int first_error;     /* BL_E* code of the first error, BL_OK when none */
  int abort_all;       /* set by ABORT on a newer schema: stop everything */
  int pull_complete;   /* set by bl__pull: nothing was left for later */
} bl_sync_ctx;

/* Records an error in the result and remembers the first code. */
void bl__ctx_error(bl_sync_ctx *ctx, const char *device, int sync_code, int bl_code, const char *fmt,
                   ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* -------------------------------------------------------------- settings.c */

/* Reads (or, for a new app folder, writes) backless.json and adopts it:
 * db->envelope, db->env_flags and, for an encrypted folder, db->data_key.
 * BL_OK, or an error recorded in ctx (nothing may be downloaded then). */
int bl__sync_settings(bl_sync_ctx *ctx);
/* The same; with create = 0 a folder without backless.json is read as a
 * plain one and nothing is written or remembered (readers such as
 * bl_media_resolve). */
int bl__sync_settings_ex(bl_sync_ctx *ctx, int create);

/* The identity bound to a file of device `device` named `name` (the
 * canonical file name): "changesets/device-<id>/<name>". */
int bl__settings_identity(const char *device, const char *name, char *buf, size_t size);

/* Wraps plain (from its start) into a new temporary file positioned at its
 * start, *size its length; NULL with err set on failure. */
FILE *bl__settings_wrap(bl_db *db, FILE *plain, const char *identity, int64_t *size, char *err, size_t errsize);

/* Unwraps `wrapped` (from its start) into a new temporary file positioned
 * at its start; NULL with *rc (BL_ECORRUPT for a refused file) and err set. */
FILE *bl__settings_unwrap_file(bl_db *db, FILE *wrapped, const char *identity, int *rc, char *err, size_t errsize);

int bl__pull(bl_sync_ctx *ctx);
/* Pulls one device's folder (errors and warnings go to ctx). */
void bl__pull_device(bl_sync_ctx *ctx, const char *device);
int bl__push(bl_sync_ctx *ctx);

/* ------------------------------------------------------------------ apply.c */

typedef enum bl_apply_outcome {
  BL_APPLIED = 0,    /* changes merged and cursor advanced */
  BL_APPLY_DROPPED,  /* newer schema, DROP_CHANGESETS: cursor advanced only */
  BL_APPLY_SKIPPED,  /* newer schema, SKIP / ABORT: nothing done */
  BL_APPLY_FAILED    /* error recorded in ctx; nothing done */
} bl_apply_outcome;

/*
 * Applies file `name` (kind and sequence already parsed from it) of device
 * `device`, downloaded into `fp`, in one transaction together with the
 * cursor advance to `seq`. Checks the header against the name and folder.
 */
bl_apply_outcome bl__apply_file(bl_sync_ctx *ctx, const char *device, const char *name, int kind,
                                int64_t seq, FILE *fp);

#endif /* BL_SYNC_INTERNAL_H */
