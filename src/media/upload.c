/*
 * upload.c — the upload pass of a sync (before the changeset push, so that
 * other devices usually find an attachment's file before its reference).
 *
 * The media schema lists what is not uploaded yet. Each item's bytes go
 * into the cache first (from its reader or file; the hash is checked on the
 * way), then: a file already in the cloud is only marked uploaded (and
 * checked again later, see gc.c); a missing one is uploaded from the cache
 * entry, up to UPLOAD_BATCH at a time through bl_remote_write_many (in
 * parallel on the HTTP backends). Whatever fails is reported and stays
 * unmarked, so the next sync tries again.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backless/remote.h"
#include "format/envelope.h"
#include "media/media_internal.h"
#include "sync/sync_internal.h"

#define UPLOAD_BATCH 16

typedef struct up_item {
  char hash[BL_MEDIA_HASH_LEN + 1];
  char *filename; /* for messages; NULL when none */
  int marked;     /* marked uploaded during this pass */
} up_item;

typedef struct up_list {
  bl_sync_ctx *ctx;
  up_item *v;
  size_t n, cap;
} up_list;

/* "attachment <hash> ('name')" for messages. */
static const char *up_name(const up_item *it, char *buf, size_t size) {
  if (it->filename)
    snprintf(buf, size, "attachment %s ('%.200s')", it->hash, it->filename);
  else
    snprintf(buf, size, "attachment %s", it->hash);
  return buf;
}

static int up_emit(const bl_media_item *item, void *vctx) {
  up_list *L = vctx;
  bl_sync_ctx *ctx = L->ctx;
  if (!item || !bl__media_hash_valid(item->hash)) {
    bl__result_warn(ctx->res, NULL, BL_SYNC_MEDIA,
                    "the media schema reported an attachment%s%.200s%s whose hash '%.80s' is not 64 lowercase hex "
                    "characters; it is not uploaded",
                    item && item->filename ? " '" : "", item && item->filename ? item->filename : "",
                    item && item->filename ? "'" : "", item && item->hash ? item->hash : "(null)");
    return 0;
  }
  for (size_t i = 0; i < L->n; i++)
    if (strcmp(L->v[i].hash, item->hash) == 0) return 0;
  int rc = BL_OK;
  if (item->read)
    rc = bl__media_cache_put_reader(ctx->db, item->hash, item->read, item->read_payload);
  else if (item->path)
    rc = bl_media_cache_put(ctx->db, item->hash, item->path);
  if (rc == BL_ENOMEM) return rc;
  if (rc != BL_OK) {
    bl__result_warn(ctx->res, NULL, BL_SYNC_MEDIA, "attachment %s%s%.200s%s cannot be cached: %s; retried next sync",
                    item->hash, item->filename ? " ('" : "", item->filename ? item->filename : "",
                    item->filename ? "')" : "", bl_errmsg(ctx->db));
    return 0;
  }
  if (L->n == L->cap) {
    size_t cap = L->cap ? L->cap * 2 : 32;
    up_item *v = realloc(L->v, cap * sizeof *v);
    if (!v) return BL_ENOMEM;
    L->v = v;
    L->cap = cap;
  }
  up_item *it = &L->v[L->n];
  memcpy(it->hash, item->hash, sizeof it->hash);
  it->filename = item->filename ? strdup(item->filename) : NULL;
  it->marked = 0;
  if (item->filename && !it->filename) return BL_ENOMEM;
  L->n++;
  return 0;
}

/* mark_uploaded, and the note that a presence-skipped hash must be checked
 * again (verify = 'P'). Errors go to ctx. */
static int up_mark(bl_sync_ctx *ctx, const up_item *it, int skipped) {
  const bl_media_schema *ms = ctx->db->media;
  char nb[400];
  if (ms->mark_uploaded(ctx->db->db, it->hash, ms->payload) != 0) {
    bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, BL_ESCHEMA, "media schema mark_uploaded failed for %s: %s; retried next sync",
                  up_name(it, nb, sizeof nb), sqlite3_errmsg(ctx->db->db));
    return BL_ESCHEMA;
  }
  if (!skipped) return BL_OK;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(ctx->db->db,
                              "INSERT INTO _bl_media (hash, verify) VALUES (?, 'P')"
                              " ON CONFLICT (hash) DO UPDATE SET verify = 'P'",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, it->hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(ctx->db->db);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK)
    bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, bl__from_sqlite(rc), "media state: %s", sqlite3_errmsg(ctx->db->db));
  return rc == SQLITE_OK ? BL_OK : bl__from_sqlite(rc);
}

/* Ensures <app>/media/<xx> exists: nothing to do when this sync listed it
 * or made it already. */
static int up_mkdir(bl_sync_ctx *ctx, bl__media_shards *shards, const char *hash, char *err, size_t errsize) {
  if (bl__media_shard_exists(shards, hash)) return BL_OK;
  char path[1024], name[BL_MEDIA_HASH_LEN + 1];
  bl__media_cloud_name(ctx->db, hash, name);
  int n = snprintf(path, sizeof path, "%s/media/%.2s", ctx->db->app_folder, name);
  if (n < 0 || (size_t)n >= sizeof path) return BL_EMISUSE;
  int rc = bl_remote_mkdir(ctx->remote, path);
  if (rc != BL_OK) {
    snprintf(err, errsize, "cannot create %s: %s", path, bl_remote_errmsg(ctx->remote));
    return rc;
  }
  bl__media_shard_made(shards, hash);
  return BL_OK;
}

FILE *bl__media_upload_source(const bl_db *db, const char *hash, const char *path, int64_t *size, char *err,
                              size_t errsize) {
  if (errsize) err[0] = '\0';
  FILE *fp = fopen(path, "rb");
  struct stat sb;
  if (!fp || fstat(fileno(fp), &sb) != 0) {
    snprintf(err, errsize, "cannot open the cache entry %s: %s", path, strerror(errno));
    if (fp) fclose(fp);
    return NULL;
  }
  if (!(db->env_flags & BL_ENV_ENCRYPTED)) {
    *size = (int64_t)sb.st_size;
    return fp;
  }
  char name[BL_MEDIA_HASH_LEN + 1], id[16 + BL_MEDIA_HASH_LEN];
  bl__media_cloud_name(db, hash, name);
  snprintf(id, sizeof id, "media/%s", name);
  FILE *out = tmpfile();
  bl_env_opts o = {BL_ENV_ENCRYPTED, db->data_key, 0};
  int rc = out ? bl_env_encode(fp, out, &o, id, err, errsize) : BL_EIO;
  fclose(fp);
  long end = rc == BL_OK ? ftell(out) : -1;
  if (end < 0) {
    if (!err[0]) snprintf(err, errsize, "cannot encrypt the cache entry %s into a temporary file", path);
    if (out) fclose(out);
    return NULL;
  }
  *size = end;
  rewind(out);
  return out;
}

int bl__media_upload_one(bl_sync_ctx *ctx, bl__media_shards *shards, const char *hash, char *err, size_t errsize) {
  char *path = NULL;
  int rc = bl_media_cache_get(ctx->db, hash, &path);
  if (rc != BL_OK) {
    snprintf(err, errsize, "%s", bl_errmsg(ctx->db));
    return rc;
  }
  char dest[1024];
  FILE *fp = NULL;
  int64_t size = 0;
  rc = bl__media_cloud_path(ctx->db, hash, dest, sizeof dest);
  if (rc == BL_OK) rc = up_mkdir(ctx, shards, hash, err, errsize);
  if (rc == BL_OK && !(fp = bl__media_upload_source(ctx->db, hash, path, &size, err, errsize))) rc = BL_EIO;
  if (rc == BL_OK) {
    rc = bl_remote_write(ctx->remote, dest, fp, size);
    if (rc != BL_OK)
      snprintf(err, errsize, "cannot upload %s: %s", dest, bl_remote_errmsg(ctx->remote));
    else
      bl__media_cloud_set(shards, hash, 1, size);
  }
  if (fp) fclose(fp);
  free(path);
  return rc;
}

/* Uploads items[0..n) (all absent from the cloud, all in the cache) as one
 * batch. */
static void up_batch(bl_sync_ctx *ctx, bl__media_shards *shards, up_item **items, size_t n) {
  bl_remote_write_job jobs[UPLOAD_BATCH];
  char paths[UPLOAD_BATCH][1024];
  int use[UPLOAD_BATCH];
  char nb[400], err[512];
  size_t nj = 0;
  for (size_t i = 0; i < n; i++) {
    use[i] = -1;
    char *cpath = NULL;
    int rc = bl_media_cache_get(ctx->db, items[i]->hash, &cpath);
    if (rc != BL_OK) {
      bl__result_warn(ctx->res, NULL, BL_SYNC_MEDIA, "%s is not uploaded: %s; retried next sync",
                      up_name(items[i], nb, sizeof nb), bl_errmsg(ctx->db));
      continue;
    }
    int64_t size = 0;
    FILE *fp = bl__media_upload_source(ctx->db, items[i]->hash, cpath, &size, err, sizeof err);
    if (!fp) {
      bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, BL_EIO, "%s: %s; retried next sync", up_name(items[i], nb, sizeof nb),
                    err);
      free(cpath);
      continue;
    }
    free(cpath);
    if ((rc = up_mkdir(ctx, shards, items[i]->hash, err, sizeof err)) != BL_OK ||
        (rc = bl__media_cloud_path(ctx->db, items[i]->hash, paths[nj], sizeof paths[nj])) != BL_OK) {
      bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, rc, "%s is not uploaded: %s; retried next sync",
                    up_name(items[i], nb, sizeof nb), rc == BL_EMISUSE ? "the app folder name is too long" : err);
      fclose(fp);
      continue;
    }
    memset(&jobs[nj], 0, sizeof jobs[nj]);
    jobs[nj].path = paths[nj];
    jobs[nj].src = fp;
    jobs[nj].size = size;
    use[i] = (int)nj++;
  }
  if (nj) bl_remote_write_many(ctx->remote, jobs, nj);
  for (size_t i = 0; i < n; i++) {
    if (use[i] < 0) continue;
    bl_remote_write_job *j = &jobs[use[i]];
    fclose(j->src);
    if (j->rc != BL_OK) {
      bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, j->rc, "cannot upload %s: %s; retried next sync",
                    up_name(items[i], nb, sizeof nb), j->errmsg[0] ? j->errmsg : bl_strerror(j->rc));
      continue;
    }
    bl__media_cloud_set(shards, items[i]->hash, 1, j->size);
    if (up_mark(ctx, items[i], 0) == BL_OK) {
      ctx->res->media_uploaded++;
      items[i]->marked = 1;
    }
  }
}

void bl__media_upload(bl_sync_ctx *ctx, bl__media_shards **shards) {
  bl_db *db = ctx->db;
  const bl_media_schema *ms = db->media;
  if (!ms || !ms->unuploaded) return;
  if (bl__media_state_init(db) != BL_OK) {
    bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, BL_ESQLITE, "media state: %s", bl_errmsg(db));
    return;
  }
  if (bl__exec(db,
               "CREATE TEMP TABLE IF NOT EXISTS _bl_media_unmarked (hash TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;"
               "DELETE FROM temp._bl_media_unmarked") != BL_OK) {
    bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, BL_ESQLITE, "media state: %s", bl_errmsg(db));
    return;
  }
  up_list L = {ctx, NULL, 0, 0};
  int rc = ms->unuploaded(db->db, up_emit, &L, ms->payload);
  if (rc != 0) {
    bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, rc == BL_ENOMEM ? BL_ENOMEM : BL_ESCHEMA,
                  "media schema unuploaded failed: %s; no attachment was uploaded",
                  rc == BL_ENOMEM ? "out of memory" : sqlite3_errmsg(db->db));
    goto done;
  }

  up_item *batch[UPLOAD_BATCH];
  size_t nb = 0;
  char name[400];
  for (size_t i = 0; i < L.n && !ctx->abort_all; i++) {
    up_item *it = &L.v[i];
    int present = 0;
    int64_t size = -1;
    rc = bl__media_cloud_lookup(ctx, shards, it->hash, &present, &size);
    if (rc != BL_OK) {
      bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, rc, "cannot look for %s in the cloud: %s; retried next sync",
                    up_name(it, name, sizeof name),
                    rc == BL_ENOMEM ? "out of memory" : bl_remote_errmsg(ctx->remote));
      continue;
    }
    if (present) {
      /* A size that differs from our bytes is a torn upload (a store
       * without atomic writes): upload again over it. */
      char *cpath = NULL;
      struct stat sb;
      int same = size < 0 || bl_media_cache_get(db, it->hash, &cpath) != BL_OK ||
                 (stat(cpath, &sb) == 0 && bl__media_cloud_bytes(db, (int64_t)sb.st_size) == size);
      free(cpath);
      if (same) {
        it->marked = up_mark(ctx, it, 1) == BL_OK;
        continue;
      }
    }
    batch[nb++] = it;
    if (nb == UPLOAD_BATCH) {
      up_batch(ctx, *shards, batch, nb);
      nb = 0;
    }
  }
  if (nb) up_batch(ctx, *shards, batch, nb);

  /* What stays unuploaded is this pass's business (retried next sync), not
   * the collection pass's check of files gone missing (gc.c). */
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db->db, "INSERT OR IGNORE INTO temp._bl_media_unmarked (hash) VALUES (?)", -1, &st, NULL) ==
      SQLITE_OK) {
    for (size_t i = 0; i < L.n; i++) {
      if (L.v[i].marked) continue;
      sqlite3_bind_text(st, 1, L.v[i].hash, -1, SQLITE_STATIC);
      sqlite3_step(st);
      sqlite3_reset(st);
    }
  }
  sqlite3_finalize(st);

done:
  for (size_t i = 0; i < L.n; i++) free(L.v[i].filename);
  free(L.v);
}
