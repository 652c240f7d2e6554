/*
 * backless/media.h — media sync: attachments (images, documents) stored by
 * content hash beside the changesets, uploaded during sync, downloaded on
 * demand, collected when no device needs them any more. Included by
 * backless.h; applications include that.
 *
 * The pieces, as the seed's "Media sync":
 *
 *   - The application records attachments in its own (synced) table, by
 *     the SHA-256 of their bytes, and tells the library about them through
 *     a bl_media_schema given in bl_config (or the built-in one for a table,
 *     bl_media_schema_table / bl_media_schema_from_dir).
 *   - A local cache directory holds one file per hash (bl_config
 *     media_cache_dir; default $XDG_CACHE_HOME/backless/media, else
 *     ~/.cache/backless/media). Entries are written atomically and their
 *     hash is checked whenever one is handed out: a damaged entry is
 *     removed and reported, never returned.
 *   - bl_sync uploads what the schema reports as not uploaded to
 *     <app folder>/media/<first 2 hex>/<hash>, skipping what is already
 *     there, and deletes cloud files no device needs any more under the
 *     rule of docs/FORMAT.md ("Media garbage collection"): a file is only
 *     collected after this device saw its hash referenced, then saw it
 *     unreferenced, and every other device pushed `media_gc_grace` times
 *     since. Nothing is downloaded during sync.
 *   - bl_media_resolve gives an attachment's bytes: from the cache, else
 *     downloaded, verified and cached.
 *
 * Hashes are 64 lowercase hexadecimal characters; every function taking one
 * refuses anything else with BL_EMISUSE.
 */
#ifndef BACKLESS_MEDIA_H
#define BACKLESS_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "../backless.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Length of a hash in hexadecimal, without the terminating NUL. */
#define BL_MEDIA_HASH_LEN 64

/* Other devices' pushes that must follow an unreference before the cloud
 * file is collected (bl_config.media_gc_grace; docs/FORMAT.md). */
#define BL_MEDIA_GC_GRACE 2

/*
 * Reads the next bytes of an attachment into buf (at most size): returns
 * the count, 0 at the end, or a negative value on error.
 */
typedef long long (*bl_media_read_fn)(void *buf, size_t size, void *payload);

/*
 * One attachment to upload, as the schema reports it. Every pointer is
 * borrowed for the duration of the emit call that receives the item; the
 * library copies what it keeps. Where the bytes come from, first match:
 *   read  a reader, called during the emit call only (the bytes are
 *         streamed into the cache there, hash checked);
 *   path  a file holding the bytes (copied into the cache, hash checked);
 *   else  the cache entry for `hash` (bl_media_cache_put put it there).
 */
typedef struct bl_media_item {
  const char *hash;      /* required: SHA-256 of the bytes, lowercase hex */
  const char *filename;  /* for messages; may be NULL */
  const char *mime_type; /* may be NULL */
  const char *path;
  bl_media_read_fn read;
  void *read_payload;
} bl_media_item;

/* Receivers the library passes to the schema's callbacks. They return 0 to
 * go on; anything else asks the schema to stop and return that value. */
typedef int (*bl_media_item_fn)(const bl_media_item *item, void *ctx);
typedef int (*bl_media_hash_fn)(const char *hash, void *ctx);

/*
 * The application's media schema (the seed's MediaSchema). Each callback
 * gets the database connection and `payload`, and returns 0 on success
 * (anything else fails the media step of the sync with that step named):
 *   unuploaded     emits every attachment not yet marked uploaded;
 *   all_hashes     emits the hash of every attachment the database refers
 *                  to now (duplicates are fine);
 *   mark_uploaded  records that `hash` is in the cloud.
 * They run on the thread calling bl_sync, outside any transaction.
 */
#define BL_MEDIA_SCHEMA_VERSION 1
typedef struct bl_media_schema {
  unsigned int version; /* BL_MEDIA_SCHEMA_VERSION */
  int (*unuploaded)(sqlite3 *db, bl_media_item_fn emit, void *ctx, void *payload);
  int (*all_hashes)(sqlite3 *db, bl_media_hash_fn emit, void *ctx, void *payload);
  int (*mark_uploaded)(sqlite3 *db, const char *hash, void *payload);
  void *payload;
} bl_media_schema;
#define BL_MEDIA_SCHEMA_INIT {BL_MEDIA_SCHEMA_VERSION, NULL, NULL, NULL, NULL}

/*
 * The built-in media schema for an attachments table: `table` holds one
 * attachment per row, its hash in column `hash_column`, optionally its file
 * name and MIME type in `filename_column` / `mime_column` (NULL: none).
 * Which hashes were uploaded is kept in a local table _bl_media_uploaded
 * (created when first needed, emptied by bl_clear_all_data). Names are
 * copied and always quoted in SQL. Free with bl_media_schema_free (after
 * the bl_db using it is closed).
 */
int bl_media_schema_table(bl_media_schema **out, const char *table, const char *hash_column,
                          const char *filename_column, const char *mime_column);

/*
 * The built-in media schema declared in a schema folder (bl_schema_from_dir)
 * by a line
 *     -- media: TABLE(HASH_COLUMN[, FILENAME_COLUMN[, MIME_COLUMN]])
 * in any of its .sql files. BL_ENOTFOUND (and *out NULL) when no file has
 * one; BL_ESCHEMA for a malformed line or two lines; bl_errmsg(NULL) says
 * which file and line.
 */
int bl_media_schema_from_dir(bl_media_schema **out, const char *dir);

/* Frees a schema made by the two functions above. NULL is fine. Never pass
 * a schema the application built itself. */
void bl_media_schema_free(bl_media_schema *schema);

/*
 * Attaches a file with the built-in schema: hashes it, stores it in the
 * cache and inserts a row (hash, file name = the last component of `path`
 * or `filename` when not NULL, MIME type = `mime_type` or one guessed from
 * the extension) into the schema's table; a single-column primary key that
 * is none of those columns gets a random UUID. The row syncs like any
 * other; the next bl_sync uploads the file. out_hash (may be NULL) receives
 * the hash, NUL-terminated. BL_EMISUSE when db's media schema is not a
 * built-in one.
 */
int bl_media_add_file(bl_db *db, const char *path, const char *filename, const char *mime_type,
                      char out_hash[BL_MEDIA_HASH_LEN + 1]);

/* ------------------------------------------------------------------ cache */

/* SHA-256 of a file's bytes, streamed, into out (lowercase hex, NUL-ended).
 * BL_EIO (message in bl_errmsg(NULL)) when it cannot be read. */
int bl_media_hash_file(const char *path, char out[BL_MEDIA_HASH_LEN + 1]);

/* The cache directory db uses (borrowed; created when first written). */
const char *bl_media_cache_dir(const bl_db *db);

/*
 * Stores a copy of file `path` (or of `len` bytes at `data`) in the cache
 * under `hash`, atomically (a temporary file renamed into place). The bytes
 * must hash to `hash`: BL_ECORRUPT otherwise, and nothing is stored. An
 * entry already present and intact is kept.
 */
int bl_media_cache_put(bl_db *db, const char *hash, const char *path);
int bl_media_cache_put_buf(bl_db *db, const char *hash, const void *data, size_t len);

/*
 * Looks `hash` up in the cache, checking the entry's bytes against it. On
 * BL_OK *path_out (may be NULL) is the entry's path, malloc'ed. BL_ENOTFOUND
 * when absent; BL_ECORRUPT when the entry was damaged: it has been deleted
 * and the message says so (the next resolve downloads it again).
 */
int bl_media_cache_get(bl_db *db, const char *hash, char **path_out);

/* Deletes every entry of the cache directory (the seed's clearMediaCache;
 * call it with bl_clear_all_data on sign-out). Files that are not cache
 * entries are left alone. */
int bl_media_cache_clear(bl_db *db);

/* ---------------------------------------------------------------- resolve */

/* Where a resolved attachment came from. */
typedef enum bl_media_source {
  BL_MEDIA_FROM_CACHE = 1, /* a cache hit; nothing downloaded */
  BL_MEDIA_DOWNLOADED,     /* not in the cache: downloaded and cached */
  BL_MEDIA_REPAIRED        /* the cache entry was damaged: dropped, downloaded again */
} bl_media_source;

typedef struct bl_media_file {
  char *path;     /* the verified cache entry (malloc'ed); read it, do not modify it */
  int64_t size;   /* bytes */
  int source;     /* bl_media_source */
} bl_media_file;

/*
 * The seed's resolveMedia: the attachment `hash` from the cache, or else
 * downloaded from <app folder>/media/<2 hex>/<hash> through `remote`
 * (streamed to a temporary file, hash checked, then moved into the cache).
 * `filename` only names the attachment in messages (may be NULL). On BL_OK
 * fill *out, freed with bl_media_file_free. BL_ENOTFOUND when the cloud
 * has no such file (not uploaded yet, or collected); BL_ECORRUPT when the
 * downloaded bytes do not match the hash (nothing cached).
 */
int bl_media_resolve(bl_db *db, bl_remote *remote, const char *hash, const char *filename,
                     bl_media_file *out);
void bl_media_file_free(bl_media_file *file);

#ifdef __cplusplus
}
#endif

#endif /* BACKLESS_MEDIA_H */
