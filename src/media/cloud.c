/*
 * cloud.c — the media folder of the app folder: names (the content hash,
 * or in an encrypted folder a keyed hash of it), paths, and a per-sync
 * memory of shard listings (<app>/media/<xx>, xx = the hash's first two hex
 * characters), so that finding out which of N attachments are already in
 * the cloud costs at most one listing per shard, not one request per file.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "format/envelope.h"
#include "media/media_internal.h"
#include "sync/sync_internal.h"

typedef struct shard_file {
  char hash[BL_MEDIA_HASH_LEN + 1];
  int present;  /* 0: deleted during this sync */
  int64_t size; /* -1 when the listing gave none */
} shard_file;

typedef struct shard {
  int listed;
  shard_file *files;
  size_t n, cap;
} shard;

struct bl__media_shards {
  const bl_db *db;           /* for cloud names */
  int media_listed;          /* <app>/media was listed this sync */
  unsigned char exists[256]; /* which shard folders exist (or were made) */
  shard s[256];
};

static int cloud_hexval(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

static shard *cloud_shard(bl__media_shards *sh, const char *hash) {
  return &sh->s[cloud_hexval(hash[0]) * 16 + cloud_hexval(hash[1])];
}

void bl__media_cloud_name(const bl_db *db, const char *hash, char out[BL_MEDIA_HASH_LEN + 1]) {
  if (!(db->env_flags & BL_ENV_ENCRYPTED) || !db->data_key) {
    memcpy(out, hash, BL_MEDIA_HASH_LEN + 1);
    return;
  }
  /* A keyed hash of the content hash: the cloud cannot tell which known
   * file a user stores, and equal attachments still share one name. */
  unsigned char name_key[crypto_generichash_KEYBYTES], digest[crypto_hash_sha256_BYTES];
  crypto_kdf_derive_from_key(name_key, sizeof name_key, 1, "blmedia_", db->data_key);
  crypto_generichash(digest, sizeof digest, (const unsigned char *)hash, BL_MEDIA_HASH_LEN, name_key,
                     sizeof name_key);
  sodium_memzero(name_key, sizeof name_key);
  bl__media_hex(digest, out);
}

int64_t bl__media_cloud_bytes(const bl_db *db, int64_t plain) {
  return (db->env_flags & BL_ENV_ENCRYPTED) ? bl_env_size_uncompressed(plain, BL_ENV_ENCRYPTED) : plain;
}

int bl__media_cloud_path(const bl_db *db, const char *hash, char *buf, size_t size) {
  char name[BL_MEDIA_HASH_LEN + 1];
  bl__media_cloud_name(db, hash, name);
  int n = snprintf(buf, size, "%s/media/%.2s/%s", db->app_folder, name, name);
  return n < 0 || (size_t)n >= size ? BL_EMISUSE : BL_OK;
}

static int cloud_add(shard *s, const char *hash, int present, int64_t size) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->files[i].hash, hash) == 0) {
      s->files[i].present = present;
      s->files[i].size = size;
      return BL_OK;
    }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    shard_file *f = realloc(s->files, cap * sizeof *f);
    if (!f) return BL_ENOMEM;
    s->files = f;
    s->cap = cap;
  }
  memcpy(s->files[s->n].hash, hash, BL_MEDIA_HASH_LEN + 1);
  s->files[s->n].present = present;
  s->files[s->n++].size = size;
  return BL_OK;
}

int bl__media_cloud_lookup(bl_sync_ctx *ctx, bl__media_shards **shards, const char *content_hash, int *present,
                           int64_t *size) {
  *present = 0;
  *size = -1;
  if (!*shards && !(*shards = calloc(1, sizeof **shards))) return BL_ENOMEM;
  bl__media_shards *sh = *shards;
  sh->db = ctx->db;
  char hash[BL_MEDIA_HASH_LEN + 1]; /* the name in the cloud */
  bl__media_cloud_name(ctx->db, content_hash, hash);
  shard *s = cloud_shard(sh, hash);
  if (!sh->media_listed) {
    /* One listing of media/ tells which shards exist: a missing shard
     * needs no listing of its own (and, for an upload, a mkdir). */
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/media", ctx->db->app_folder);
    if (n < 0 || (size_t)n >= sizeof path) return BL_EMISUSE;
    bl_remote_entry *e = NULL;
    size_t count = 0;
    int rc = bl_remote_list(ctx->remote, path, &e, &count);
    if (rc != BL_OK && rc != BL_ENOTFOUND) return rc;
    for (size_t i = 0; i < count; i++) {
      const char *nm = e[i].name;
      if (e[i].is_folder && strlen(nm) == 2 &&
          ((nm[0] >= '0' && nm[0] <= '9') || (nm[0] >= 'a' && nm[0] <= 'f')) &&
          ((nm[1] >= '0' && nm[1] <= '9') || (nm[1] >= 'a' && nm[1] <= 'f')))
        sh->exists[cloud_hexval(nm[0]) * 16 + cloud_hexval(nm[1])] = 1;
    }
    bl_remote_entries_free(e, count);
    sh->media_listed = 1;
  }
  if (!s->listed && !sh->exists[cloud_hexval(hash[0]) * 16 + cloud_hexval(hash[1])]) s->listed = 1;
  if (!s->listed) {
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/media/%.2s", ctx->db->app_folder, hash);
    if (n < 0 || (size_t)n >= sizeof path) return BL_EMISUSE;
    bl_remote_entry *e = NULL;
    size_t count = 0;
    int rc = bl_remote_list(ctx->remote, path, &e, &count);
    if (rc != BL_OK && rc != BL_ENOTFOUND) return rc;
    for (size_t i = 0; i < count && rc != BL_ENOMEM; i++)
      /* Only names that are hashes of this shard; anything else is not ours. */
      if (!e[i].is_folder && bl__media_hash_valid(e[i].name) && strncmp(e[i].name, hash, 2) == 0)
        rc = cloud_add(s, e[i].name, 1, e[i].size);
    bl_remote_entries_free(e, count);
    if (rc == BL_ENOMEM) return rc;
    s->listed = 1;
  }
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->files[i].hash, hash) == 0) {
      *present = s->files[i].present;
      *size = s->files[i].size;
      break;
    }
  return BL_OK;
}

void bl__media_cloud_set(bl__media_shards *shards, const char *content_hash, int present, int64_t size) {
  if (!shards || !shards->db) return;
  char hash[BL_MEDIA_HASH_LEN + 1];
  bl__media_cloud_name(shards->db, content_hash, hash);
  shard *s = cloud_shard(shards, hash);
  /* Out of memory only loses the memo: the next lookup lists again. */
  if (s->listed && cloud_add(s, hash, present, size) != BL_OK) s->listed = 0;
}

int bl__media_shard_exists(const bl__media_shards *shards, const char *content_hash) {
  if (!shards || !shards->db || !shards->media_listed) return 0;
  char hash[BL_MEDIA_HASH_LEN + 1];
  bl__media_cloud_name(shards->db, content_hash, hash);
  return shards->exists[cloud_hexval(hash[0]) * 16 + cloud_hexval(hash[1])];
}

void bl__media_shard_made(bl__media_shards *shards, const char *content_hash) {
  if (!shards || !shards->db) return;
  char hash[BL_MEDIA_HASH_LEN + 1];
  bl__media_cloud_name(shards->db, content_hash, hash);
  shards->exists[cloud_hexval(hash[0]) * 16 + cloud_hexval(hash[1])] = 1;
}

void bl__media_shards_free(bl__media_shards *shards) {
  if (!shards) return;
  for (size_t i = 0; i < 256; i++) free(shards->s[i].files);
  free(shards);
}
