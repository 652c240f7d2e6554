/*
 * media_internal.h — what the files of src/media share, and what the sync
 * engine calls.
 *
 *   hash.c          SHA-256 (libsodium), streamed; hash syntax
 *   cache.c         the local cache directory: put, get, clear, entry paths
 *   state.c         _bl_media, this database's memory of each hash
 *   schema_table.c  the built-in schema for an attachments table
 *   cloud.c         cloud paths, shard listings remembered for one sync
 *   upload.c        the upload pass of a sync
 *   gc.c            the collection pass of a sync (docs/FORMAT.md)
 *   resolve.c       bl_media_resolve
 */
#ifndef BL_MEDIA_INTERNAL_H
#define BL_MEDIA_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include <sodium.h>

#include "backless.h"

typedef struct bl_sync_ctx bl_sync_ctx;

/* ------------------------------------------------------------------ hash.c */

/* 1 when `hash` is 64 lowercase hex characters, else 0. */
int bl__media_hash_valid(const char *hash);

/* Checks a hash argument: BL_OK, or BL_EMISUSE with db's (or the thread's)
 * message naming `what`. */
int bl__media_check_hash(bl_db *db, const char *what, const char *hash);

/* Lowercase hex of a digest. */
void bl__media_hex(const unsigned char digest[crypto_hash_sha256_BYTES], char out[BL_MEDIA_HASH_LEN + 1]);

/* SHA-256 of the rest of `fp`, streamed; *size (may be NULL) gets the byte
 * count. BL_EIO on a read error (errno kept). */
int bl__media_hash_stream(FILE *fp, char out[BL_MEDIA_HASH_LEN + 1], int64_t *size);

/* ----------------------------------------------------------------- cache.c */

/* The default cache directory (malloc'ed), or NULL when neither
 * XDG_CACHE_HOME nor HOME is set. */
char *bl__media_default_cache_dir(void);

/* <cache dir>/<hash>, malloc'ed; NULL when out of memory. */
char *bl__media_cache_path(const bl_db *db, const char *hash);

/* A writer of one cache entry: bytes go to a temporary file in the cache
 * directory while being hashed; commit checks the hash and renames the file
 * into place (atomic), abort removes it. */
typedef struct bl__media_writer {
  FILE *fp;
  char *tmp_path;
  crypto_hash_sha256_state sha;
  int64_t size;
} bl__media_writer;

int bl__media_writer_open(bl_db *db, bl__media_writer *w);
int bl__media_writer_write(bl__media_writer *w, const void *data, size_t len);
/* BL_OK (entry stored, *path_out malloc'ed if not NULL), BL_ECORRUPT when
 * the bytes do not hash to `hash` (nothing stored; message names `what`),
 * BL_EIO. The writer is closed either way. */
int bl__media_writer_commit(bl_db *db, bl__media_writer *w, const char *hash, const char *what, char **path_out);
void bl__media_writer_abort(bl__media_writer *w);

/* Stores the bytes `read` gives (a bl_media_item reader) under `hash`. */
int bl__media_cache_put_reader(bl_db *db, const char *hash, bl_media_read_fn read, void *payload);

/* ----------------------------------------------------------------- state.c */

/* Creates _bl_media if needed (once per handle). */
int bl__media_state_init(bl_db *db);

/* Records that this database put `hash` into the cache (so it may prune it
 * once it saw the hash referenced and then unreferenced). */
int bl__media_note_cached(bl_db *db, const char *hash);

/* Records that the application added `hash` to the cache (an attachment
 * being made): cached, and its cloud file to be checked (verify 'P'). */
int bl__media_note_attached(bl_db *db, const char *hash);

/* "device=seq;device=seq" of every other device's cursor, malloc'ed. */
int bl__media_anchor_now(bl_db *db, char **out);

/* Whether every other device's cursor is at least anchor + grace (a device
 * missing from the anchor counts from 0). *met = 1 / 0. */
int bl__media_anchor_met(bl_db *db, const char *anchor, int grace, int *met);

/* Forgets what bl_clear_all_data forgets: references seen, condemnations,
 * checks, uploaded marks of the built-in schema. Runs inside its
 * transaction. */
int bl__media_state_clear(bl_db *db);

/* ---------------------------------------------------------- schema_table.c */

/* 1 when `s` was made by bl_media_schema_table / _from_dir. */
int bl__media_schema_is_builtin(const bl_media_schema *s);

/* -------------------------------------------------------- upload.c / gc.c */

/* A per-sync memory of cloud shard listings (media/<xx>), so each shard is
 * listed at most once per sync. */
typedef struct bl__media_shards bl__media_shards;

/* Looks `hash` up in the cloud: *present, and *size (-1 when the listing
 * gave none). Lists its shard the first time (*shards allocated then).
 * BL_OK or the remote's error. */
int bl__media_cloud_lookup(bl_sync_ctx *ctx, bl__media_shards **shards, const char *hash, int *present,
                           int64_t *size);
/* Records that `hash` now exists with `size` bytes (after an upload) or
 * not (present 0, after a delete). */
void bl__media_cloud_set(bl__media_shards *shards, const char *hash, int present, int64_t size);
void bl__media_shards_free(bl__media_shards *shards);
/* Whether hash's shard folder is known to exist (listed or made this sync);
 * bl__media_shard_made records that it was made. */
int bl__media_shard_exists(const bl__media_shards *shards, const char *hash);
void bl__media_shard_made(bl__media_shards *shards, const char *hash);

/* The name of hash's file in the cloud: the hash itself, or in an
 * encrypted folder BLAKE2b(hash) keyed with a key derived from the data
 * key (docs/FORMAT.md section 13). */
void bl__media_cloud_name(const bl_db *db, const char *hash, char out[BL_MEDIA_HASH_LEN + 1]);

/* The size in the cloud of an attachment of `plain` bytes (its envelope's
 * in an encrypted folder). */
int64_t bl__media_cloud_bytes(const bl_db *db, int64_t plain);

/* Opens a temporary file holding what is uploaded for cache entry `path`:
 * the entry itself (a FILE on it), or its envelope in an encrypted folder
 * (bound to "media/<cloud name>"). *size = its length. NULL with err set. */
FILE *bl__media_upload_source(const bl_db *db, const char *hash, const char *path, int64_t *size, char *err,
                              size_t errsize);

/* <app folder>/media/<2 hex>/<cloud name> into buf; BL_EMISUSE if too long. */
int bl__media_cloud_path(const bl_db *db, const char *hash, char *buf, size_t size);

/* Uploads hash's cache entry to the cloud (one file). BL_OK, BL_ENOTFOUND
 * when the cache lacks it, or the remote's error (message in ctx's result
 * left to the caller). */
int bl__media_upload_one(bl_sync_ctx *ctx, bl__media_shards *shards, const char *hash, char *err, size_t errsize);

/* The upload pass (before the changeset push). */
void bl__media_upload(bl_sync_ctx *ctx, bl__media_shards **shards);

/* The pass after the push: references, checks, collection, cache pruning.
 * Collection and condemnation only when `pull_complete`. */
void bl__media_collect(bl_sync_ctx *ctx, bl__media_shards **shards, int pull_complete, int push_ok);

#endif /* BL_MEDIA_INTERNAL_H */
