/*
 * backless.h — public interface of libbackless.
 *
 * backless gives an application a local-first SQLite database that syncs
 * between a user's devices through the user's own cloud storage. This header
 * is the umbrella: it declares the error codes and the CRDT engine entry
 * points; module headers beside it (include/backless/...) hold the rest.
 *
 * Conventions: every fallible function returns an int, BL_OK (0) or a
 * negative BL_E* code. Codes are only ever added at the end.
 */
#ifndef BACKLESS_H
#define BACKLESS_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BL_VERSION_STRING "0.1.0"

/* Status codes. Never renumbered; new codes are added at the end. */
enum {
  BL_OK = 0,
  BL_ERROR = -1,        /* generic failure; see the message */
  BL_ENOMEM = -2,       /* out of memory */
  BL_EMISUSE = -3,      /* the API was used wrongly (NULL handle, bad option) */
  BL_ENOTFOUND = -4,    /* a named object does not exist */
  BL_ECORRUPT = -5,     /* input (a file, a change, a blob) is malformed */
  BL_ESCHEMA = -6,      /* schema problem: unknown table or column, version mismatch */
  BL_EAUTH = -7,        /* authentication failed or token expired */
  BL_ERATELIMIT = -8,   /* the service asked us to slow down */
  BL_EIO = -9,          /* local or remote I/O failed */
  BL_ESQLITE = -10,     /* SQLite reported an error */
  BL_ENET = -11,        /* the remote is unreachable or timed out; retry later */
  BL_EBUSY = -12        /* another process holds the database or the sync lock */
};

/* Static English text for a status code. Never NULL. */
const char *bl_strerror(int code);

/*
 * Registers the CRDT engine (cr-sqlite 0.16 compatible SQL functions and the
 * crsql_changes virtual table) on one connection. Returns an SQLite result
 * code (SQLITE_OK on success) and, on failure, sets *errmsg to a message the
 * caller frees with sqlite3_free (errmsg may be NULL).
 *
 * The connection must be closed only after running `SELECT crsql_finalize()`
 * or simply with sqlite3_close_v2: the engine frees its state when the
 * connection closes.
 */
int bl_crdt_register(sqlite3 *db, char **errmsg);

/*
 * Registers the CRDT engine on every connection opened after this call in
 * this process (sqlite3_auto_extension). Returns an SQLite result code.
 */
int bl_crdt_auto_register(void);

/*
 * One change, as the columns of crsql_changes describe it. Every pointer is
 * borrowed for the duration of the call that receives it. `val` is any
 * SQLite value (from sqlite3_column_value, or sqlite3_value_dup). Text
 * lengths are in bytes.
 */
typedef struct bl_crdt_change {
  const char *table;
  int table_len;
  const unsigned char *pk; /* packed primary key, crsql_pack_columns format */
  int pk_len;
  const char *cid; /* column name, or "-1" for the row sentinel */
  int cid_len;
  sqlite3_value *val;
  sqlite3_int64 col_version;
  sqlite3_int64 db_version;
  const unsigned char *site_id; /* 16 bytes, or NULL */
  int site_id_len;
  sqlite3_int64 cl;
  sqlite3_int64 seq;
} bl_crdt_change;

/*
 * Merges changes[0..n) into `db` (which has the engine registered), with
 * exactly the rules of `INSERT INTO crsql_changes`, but keeping consecutive
 * changes of one row together: a row of k columns costs one base-table
 * write and one clock write instead of k of each. Use it to apply a
 * changeset; group each row's changes together for speed.
 *
 * All or nothing: on error nothing of the call is applied, SQLITE_* is
 * returned and *errmsg (if not NULL) receives a message to sqlite3_free.
 */
int bl_crdt_merge(sqlite3 *db, const bl_crdt_change *changes, size_t n, char **errmsg);

/* ================================================================ sync API
 *
 * The seed's API in C. A bl_db is one open database with its sync state; it
 * is used from one thread at a time (as an sqlite3 connection is). Several
 * processes may open and sync the same database file at once.
 */

typedef struct bl_db bl_db;
typedef struct bl_remote bl_remote;
typedef struct bl_media_schema bl_media_schema; /* backless/media.h */

/* Snapshot compaction defaults (the seed's SNAPSHOT_THRESHOLD and
 * SNAPSHOT_GRACE): a snapshot every 100 pushes; the changesets it covers are
 * deleted 200 pushes after it. Both can be changed in bl_config. */
#define BL_SNAPSHOT_THRESHOLD 100
#define BL_SNAPSHOT_GRACE 200

/* What a pull does with a changeset written by a newer schema version. */
typedef enum bl_mismatch {
  BL_MISMATCH_ABORT = 0,                   /* stop the sync, report an error */
  BL_MISMATCH_SKIP_DEVICE_UNTIL_NEXT_SYNC, /* skip that device this time */
  BL_MISMATCH_DROP_CHANGESETS,             /* discard the file, advance the cursor */
  BL_MISMATCH_APPLY_COMPATIBLE             /* apply what exists locally, drop the rest */
} bl_mismatch;

/*
 * The application's schema (the seed's DatabaseSchema). Callbacks receive
 * the connection and `payload`; they return 0 on success and anything else
 * on failure (the library then reports sqlite3_errmsg(db) with the step
 * that failed). `clear` runs inside a transaction opened by
 * bl_clear_all_data and must not BEGIN one itself; when NULL, clear deletes
 * every row of every synced table.
 */
#define BL_SCHEMA_VERSION 1
typedef struct bl_schema {
  unsigned int version;             /* BL_SCHEMA_VERSION */
  int schema_version;               /* the app's schema version, >= 1 */
  const char *const *synced_tables; /* tables made CRRs and synced */
  size_t synced_tables_count;
  int (*create)(sqlite3 *db, void *payload);
  int (*migrate)(sqlite3 *db, int from, int to, void *payload);
  int (*clear)(sqlite3 *db, void *payload);
  void *payload;
} bl_schema;
#define BL_SCHEMA_INIT {BL_SCHEMA_VERSION, 1, NULL, 0, NULL, NULL, NULL, NULL}

/*
 * Builds a schema from a folder of numbered SQL files `1.sql`, `2.sql`, ...
 * (no gaps): version = the highest number; create runs them all in order;
 * migrate(from, to) runs from+1 .. to; a line `-- sync: t1, t2` in any file
 * declares synced tables; clear deletes every row of the synced tables.
 * On success *out is a schema the caller frees with bl_schema_free (after
 * the bl_db using it is closed). On failure *out is NULL and bl_errmsg(NULL)
 * tells why.
 */
int bl_schema_from_dir(bl_schema **out, const char *dir);
void bl_schema_free(bl_schema *schema);

/*
 * Gives the passphrase of an encrypted app folder: writes it NUL-terminated
 * into buf (size bytes) and returns 0, or non-zero when there is none (the
 * sync then fails with BL_EAUTH before anything is downloaded). Called when
 * a bl_db first needs the key (once, or twice when two devices create the
 * folder at the same moment or the passphrase was changed elsewhere); the
 * library wipes its copy as soon as the key is derived.
 */
typedef int (*bl_passphrase_fn)(char *buf, size_t size, void *payload);

/* What a new app folder's files are compressed with (bl_config.compression). */
#define BL_COMPRESSION_DEFAULT 0 /* zstd */
#define BL_COMPRESSION_NONE 1
#define BL_COMPRESSION_ZSTD 2

/* Options of bl_open. Start from BL_CONFIG_INIT; fields are only ever added
 * at the end (version 1 stops after snapshot_grace, version 2 after
 * media_gc_grace). Strings are copied; `schema` and `media` are borrowed
 * and must outlive the bl_db. */
#define BL_CONFIG_VERSION 3
typedef struct bl_config {
  unsigned int version;          /* BL_CONFIG_VERSION */
  const bl_schema *schema;       /* required */
  const char *database_path;     /* default "backless.db"; ":memory:" works */
  bl_mismatch version_mismatch;  /* default BL_MISMATCH_ABORT */
  const char *app_folder_name;   /* default "Backless" */
  int snapshot_threshold;        /* 0 = BL_SNAPSHOT_THRESHOLD */
  int snapshot_grace;            /* 0 = BL_SNAPSHOT_GRACE */
  /* ---- version 2 */
  const bl_media_schema *media;  /* NULL: no media sync (backless/media.h) */
  const char *media_cache_dir;   /* NULL: $XDG_CACHE_HOME/backless/media,
                                    else $HOME/.cache/backless/media */
  int media_gc_grace;            /* 0 = BL_MEDIA_GC_GRACE */
  /* ---- version 3: encryption and compression (docs/SECURITY.md). The
   * first device to sync an app folder writes its settings (backless.json)
   * from these; every other device reads them. */
  int compression;               /* a new folder: BL_COMPRESSION_DEFAULT (zstd) or _NONE */
  bl_passphrase_fn passphrase;   /* the key of an encrypted folder; a new folder is
                                    encrypted when a passphrase or a key is given */
  void *passphrase_payload;
  const unsigned char *key;      /* instead of a passphrase: 32 random bytes (copied,
                                    wiped at bl_close) */
  unsigned long long kdf_opslimit; /* a new encrypted folder's Argon2id cost;
                                    0 = crypto_pwhash_OPSLIMIT_MODERATE */
  size_t kdf_memlimit;           /* 0 = crypto_pwhash_MEMLIMIT_MODERATE (256 MiB) */
} bl_config;
#define BL_CONFIG_INIT {BL_CONFIG_VERSION, NULL, NULL, BL_MISMATCH_ABORT, NULL, 0, 0, NULL, NULL, 0, \
                        BL_COMPRESSION_DEFAULT, NULL, NULL, NULL, 0, 0}

/*
 * Opens (or creates) the database as the seed's Backless.init does: creates
 * _sync_meta and _sync_cursors, a stable device id, runs schema create on a
 * fresh file or migrate on an older one, then crsql_as_crr on every synced
 * table. On success *out is a handle closed with bl_close. On failure *out
 * is NULL, nothing was changed (creation and migration are one
 * transaction), and bl_errmsg(NULL) tells why: BL_ESCHEMA for a missing
 * synced table or one without a NOT NULL primary key, or a database whose
 * schema version is newer than config->schema; BL_ECORRUPT for a file that
 * is not a SQLite database; BL_EMISUSE for a bad config.
 */
int bl_open(bl_db **out, const bl_config *config);

/* Closes the database. NULL is fine. */
void bl_close(bl_db *db);

/* The SQLite connection (borrowed; valid until bl_close). Use it for every
 * read and write; the CRDT engine is registered on it. */
sqlite3 *bl_sqlite(bl_db *db);

/* The last error message of `db` (borrowed, valid until the next call on
 * `db`), or, for db == NULL, the last error of a call without a handle on
 * this thread (bl_open, bl_schema_from_dir, bl_remote_open). Never NULL. */
const char *bl_errmsg(const bl_db *db);

/* This database's device id (a lowercase UUID; borrowed). */
const char *bl_device_id(const bl_db *db);

/* Stable codes of sync warnings and errors (bl_sync_code_name gives their
 * names). Never renumbered; new codes are added at the end. */
typedef enum bl_sync_code {
  BL_SYNC_REMOTE = 1,        /* the remote failed (I/O, network, auth) */
  BL_SYNC_CORRUPT,           /* a file failed to parse; nothing of it applied */
  BL_SYNC_WRONG_DEVICE,      /* a file names a device other than its folder */
  BL_SYNC_WRONG_SEQUENCE,    /* a file's sequence does not match its name */
  BL_SYNC_BAD_NAME,          /* a folder or file name is not understood */
  BL_SYNC_SCHEMA_NEWER,      /* a changeset needs a newer schema (abort / skip) */
  BL_SYNC_DROPPED,           /* newer-schema changesets dropped (DROP_CHANGESETS) */
  BL_SYNC_PARTIAL,           /* unknown tables or columns dropped (APPLY_COMPATIBLE) */
  BL_SYNC_COMPACTED,         /* history was compacted; its snapshot was merged */
  BL_SYNC_GAP,               /* a changeset is missing; stopped before it */
  BL_SYNC_APPLY,             /* merging failed (unknown table, bad value); nothing applied */
  BL_SYNC_PUSH,              /* the push failed; it is retried next sync */
  BL_SYNC_FORMAT,            /* a file of an unknown format version */
  BL_SYNC_RETRIED,           /* warning: the service throttled, failed or
                                rejected the token, and the requests were
                                retried (nothing lost) */
  BL_SYNC_MEDIA,             /* media: an attachment could not be uploaded
                                (not in the cache, unreadable, wrong hash,
                                upload failed) and is retried next sync, or
                                one was uploaded again after another
                                device's collection */
  BL_SYNC_KEY                /* the app folder is encrypted and no passphrase
                                was given, or it is wrong: nothing was
                                downloaded, applied or uploaded */
} bl_sync_code;

/* Static name of a code ("compacted", ...); "unknown" for others. */
const char *bl_sync_code_name(int code);

typedef struct bl_sync_issue {
  char *device;  /* the remote device's id, NULL when not about one device */
  int code;      /* bl_sync_code */
  char *message; /* English, one line */
} bl_sync_issue;

/* What a sync did (the seed's SyncResult). Zero it (or use
 * BL_SYNC_RESULT_INIT) before the first use; free with bl_sync_result_free,
 * which resets it for reuse. */
typedef struct bl_sync_result {
  int64_t pulled;          /* changes merged from other devices (or restored) */
  int64_t pushed;          /* changes uploaded */
  int64_t media_uploaded;
  int64_t media_deleted;
  int64_t files_pulled;    /* changeset and snapshot files applied */
  int64_t files_pushed;    /* changeset and snapshot files written */
  bl_sync_issue *warnings;
  size_t warnings_count;
  bl_sync_issue *errors;
  size_t errors_count;
} bl_sync_result;
#define BL_SYNC_RESULT_INIT {0, 0, 0, 0, 0, 0, NULL, 0, NULL, 0}
void bl_sync_result_free(bl_sync_result *result);

/*
 * bl_sync = bl_pull then bl_push through `remote` (borrowed), as the seed's
 * sync(). `result` (may be NULL) receives counts, warnings and errors; it
 * is reset first. Returns BL_OK when nothing went into result->errors,
 * otherwise the BL_E* code of the first error (every other device was
 * still synced). Holds an exclusive sync lock beside the database file for
 * its duration, so two processes never push the same sequence or apply a
 * changeset twice.
 */
int bl_sync(bl_db *db, bl_remote *remote, bl_sync_result *result);
int bl_pull(bl_db *db, bl_remote *remote, bl_sync_result *result);
int bl_push(bl_db *db, bl_remote *remote, bl_sync_result *result);

/*
 * Changes the passphrase of an encrypted app folder. The data key (opened
 * with this database's passphrase or key from bl_config) is wrapped again
 * under a key derived from `new_passphrase` (Argon2id, a fresh salt, the
 * folder's costs) and backless.json is rewritten — the only time it is;
 * no file of the history is touched. A device joining from then on needs
 * the new passphrase; a device that synced before keeps the settings it
 * read and keeps working with either (the data key itself is unchanged:
 * a passphrase change is not a revocation, docs/SECURITY.md). BL_EMISUSE
 * for a folder that is not encrypted, BL_EAUTH when this
 * database's passphrase does not open the folder; on any failure the old
 * passphrase still works. The new passphrase is not kept.
 */
int bl_passphrase_change(bl_db *db, bl_remote *remote, const char *new_passphrase);

/* The seed's clearAllData(): in one transaction, runs schema clear, deletes
 * the synced tables' clock state, every cursor and the account, and resets
 * push state. device_id and schema_version are kept. The next sync restores
 * everything from the cloud (bootstrap recovery). */
int bl_clear_all_data(bl_db *db);

/* Stores the signed-in account (copied). */
int bl_set_active_account(bl_db *db, const char *provider, const char *email);

/* Reads the account: on BL_OK *provider and *email are malloc'ed strings the
 * caller frees; BL_ENOTFOUND when none is stored (both set to NULL). */
int bl_get_active_account(bl_db *db, char **provider, char **email);

/* ---------------------------------------------------------------- remotes */

/*
 * Where each remote's root is (the app folder, bl_config.app_folder_name,
 * lives inside it):
 *   "/path", "file:///path"         a local folder, which must exist
 *   "webdav://host[:port]/path"     a WebDAV collection over http (loopback
 *   "webdavs://host[:port]/path"    hosts only) or https; "user:pass@host"
 *                                   gives basic auth (percent-encoded)
 *   "gdrive://AppFolderName"        Google Drive: the root of My Drive
 *   "onedrive://AppFolderName"      OneDrive: the app's folder
 *                                   (/me/drive/special/approot)
 * For gdrive:// and onedrive:// the URL's name is the app folder the
 * application must use (see bl_remote_url_app_folder); they need a token
 * callback, so open them with bl_remote_open_ex or bl_remote_gdrive /
 * bl_remote_onedrive.
 */

/*
 * Gives an access token for a cloud remote: writes a NUL-terminated token
 * into buf (size bytes). refresh is 1 when the previous token was rejected
 * (HTTP 401) and a fresh one is wanted. Returns 0, or non-zero when no
 * token can be had (the operation then fails with BL_EAUTH). Called on the
 * thread using the remote, never concurrently for one remote.
 */
typedef int (*bl_token_fn)(char *buf, size_t size, int refresh, void *payload);

/* Options of the HTTP remotes; zeroes mean the defaults. */
typedef struct bl_remote_options {
  unsigned int version;     /* BL_REMOTE_OPTIONS_VERSION */
  bl_token_fn token;        /* gdrive / onedrive: required */
  void *token_payload;
  const char *user;         /* webdav: basic auth; overrides the URL's */
  const char *password;
  const char *api_url;      /* the service's base URL; NULL: the real one
                               (https://www.googleapis.com,
                               https://graph.microsoft.com/v1.0) */
  int max_in_flight;        /* parallel transfers of a batch; 0: 4 */
  int max_attempts;         /* tries of one request; 0: 5 */
  long max_retry_ms;        /* no retry starts this long after the first
                               try; 0: 120000 */
  long connect_timeout_ms;  /* 0: 10000 */
} bl_remote_options;

#define BL_REMOTE_OPTIONS_VERSION 1
#define BL_REMOTE_OPTIONS_INIT {BL_REMOTE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0}

/*
 * Opens a remote by URL (see the table above) with default options. On
 * success *out is freed with bl_remote_free; on failure *out is NULL and
 * bl_errmsg(NULL) tells why.
 */
int bl_remote_open(bl_remote **out, const char *url);

/* Opens a remote by URL with options (NULL: the defaults); strings are
 * copied. */
int bl_remote_open_ex(bl_remote **out, const char *url, const bl_remote_options *opts);

/* Opens a local folder (which must exist) as a remote. */
int bl_remote_folder(bl_remote **out, const char *path);

/* Google Drive (root: My Drive) and OneDrive (root: the app folder) with a
 * token callback and the real service URLs. */
int bl_remote_gdrive(bl_remote **out, bl_token_fn token, void *payload);
int bl_remote_onedrive(bl_remote **out, bl_token_fn token, void *payload);

/* A WebDAV collection: url is "http(s)://host[:port]/path" or the webdav(s)
 * form; user/password may be NULL (then the URL's, if any). */
int bl_remote_webdav(bl_remote **out, const char *url, const char *user, const char *password);

/*
 * The app folder named by a gdrive:// or onedrive:// URL, percent-decoded,
 * into buf. Returns 1 when the URL names one, 0 when it does not (other
 * schemes, or "gdrive://" alone), -1 when it does not fit or is not a single
 * valid folder name.
 */
int bl_remote_url_app_folder(const char *url, char *buf, size_t size);

/* HTTP requests the remote has sent so far (0 for a local folder). */
uint64_t bl_remote_request_count(const bl_remote *remote);

/* What a remote lived through so far (all zero for a local folder). */
typedef struct bl_remote_stats {
  uint64_t requests;        /* HTTP requests sent, every attempt counted */
  uint64_t rate_limited;    /* answers 429 / rate-limit 403 that were retried */
  uint64_t server_errors;   /* 5xx answers and network failures that were retried */
  uint64_t token_refreshes; /* tokens rejected (401) and asked for again */
} bl_remote_stats;

/* Fills *out (zeroes for a backend that keeps no figures). */
void bl_remote_get_stats(const bl_remote *remote, bl_remote_stats *out);

/* Frees a remote. NULL is fine. */
void bl_remote_free(bl_remote *remote);

/* The remote's last error message (borrowed). Never NULL. For remote ==
 * NULL, the thread's last error of a call without a handle, as
 * bl_errmsg(NULL) (so a failed bl_remote_open can be explained). A remote
 * is used by one thread at a time. */
const char *bl_remote_errmsg(const bl_remote *remote);

#ifdef __cplusplus
}
#endif

#include "backless/media.h" /* media sync: bl_media_schema, cache, resolve */

#endif /* BACKLESS_H */
