/*
 * resolve.c — bl_media_resolve, the seed's resolveMedia: the cache first,
 * else the cloud file streamed into a cache writer (hashed on the way,
 * renamed into place only when the hash matches). Never called by sync.
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
#include "util/errmsg.h"

static int resolve_sink(const void *data, size_t len, void *payload) {
  return bl__media_writer_write(payload, data, len) == BL_OK ? 0 : BL_EIO;
}

static int resolve_tmp_sink(const void *data, size_t len, void *payload) {
  return fwrite(data, 1, len, payload) == len ? 0 : BL_EIO;
}

/* Downloads the envelope at `cloud` into a temporary file and decrypts it
 * into the cache writer (whose hash check follows in the caller). BL_OK or
 * an error set on db. */
static int resolve_encrypted(bl_db *db, bl_remote *remote, const char *hash, const char *cloud, const char *name,
                             bl__media_writer *w) {
  FILE *enc = tmpfile(), *plain = tmpfile();
  int rc = enc && plain ? BL_OK : bl__db_error(db, BL_EIO, "cannot create a temporary file");
  if (rc == BL_OK) {
    rc = bl_remote_read(remote, cloud, resolve_tmp_sink, enc);
    if (rc == BL_ENOTFOUND)
      bl__db_error(db, rc, "%s is not in the cloud (%s): not uploaded yet, or deleted", name, cloud);
    else if (rc != BL_OK)
      bl__db_error(db, rc, "cannot download %s: %s", name, bl_remote_errmsg(remote));
  }
  if (rc == BL_OK) {
    char cn[BL_MEDIA_HASH_LEN + 1], id[16 + BL_MEDIA_HASH_LEN], err[256] = "";
    bl__media_cloud_name(db, hash, cn);
    snprintf(id, sizeof id, "media/%s", cn);
    bl_env_opts o = {BL_ENV_ENCRYPTED, db->data_key, 0};
    rewind(enc);
    rc = bl_env_decode(enc, plain, &o, id, 0, err, sizeof err);
    if (rc != BL_OK) bl__db_error(db, rc, "the cloud file of %s (%s) cannot be opened: %s; nothing was cached", name, cloud, err);
  }
  if (rc == BL_OK) {
    unsigned char buf[65536];
    size_t n;
    rewind(plain);
    while (rc == BL_OK && (n = fread(buf, 1, sizeof buf, plain)) > 0)
      if (bl__media_writer_write(w, buf, n) != BL_OK)
        rc = bl__db_error(db, BL_EIO, "cannot write to the media cache '%s'", db->media_cache_dir);
    sodium_memzero(buf, sizeof buf);
  }
  if (enc) fclose(enc);
  if (plain) fclose(plain);
  return rc;
}

static int resolve_fill(bl_db *db, bl_media_file *out, char *path, int source) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    int rc = bl__db_error(db, BL_EIO, "cannot stat %s: %s", path, strerror(errno));
    free(path);
    return rc;
  }
  out->path = path;
  out->size = (int64_t)sb.st_size;
  out->source = source;
  return BL_OK;
}

int bl_media_resolve(bl_db *db, bl_remote *remote, const char *hash, const char *filename, bl_media_file *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!db) return bl__set_tls_error(BL_EMISUSE, "bl_media_resolve: the database handle is NULL");
  if (!out) return bl__db_error(db, BL_EMISUSE, "bl_media_resolve: no output given");
  int rc = bl__media_check_hash(db, "bl_media_resolve", hash);
  if (rc != BL_OK) return rc;
  char name[400];
  if (filename)
    snprintf(name, sizeof name, "attachment %s ('%.200s')", hash, filename);
  else
    snprintf(name, sizeof name, "attachment %s", hash);

  char *path = NULL;
  int repaired = 0;
  if (db->media_cache_dir) {
    rc = bl_media_cache_get(db, hash, &path);
    if (rc == BL_OK) return resolve_fill(db, out, path, BL_MEDIA_FROM_CACHE);
    if (rc == BL_ECORRUPT)
      repaired = 1;
    else if (rc != BL_ENOTFOUND)
      return rc;
  }
  if (!remote) return bl__db_error(db, BL_EMISUSE, "%s is not in the media cache and no remote was given", name);

  /* The folder's settings (known after a sync; read here otherwise): an
   * encrypted folder names and wraps its media files. */
  if (!db->settings_loaded) {
    bl_sync_result res = BL_SYNC_RESULT_INIT;
    bl_sync_ctx ctx = {db, remote, &res, BL_OK, 0, 0};
    rc = bl__sync_settings_ex(&ctx, 0);
    if (rc != BL_OK) {
      if (res.errors_count)
        bl__db_error(db, rc, "%s", res.errors[0].message);
      bl_sync_result_free(&res);
      return rc;
    }
    bl_sync_result_free(&res);
  }
  char cloud[1024];
  if (bl__media_cloud_path(db, hash, cloud, sizeof cloud) != BL_OK)
    return bl__db_error(db, BL_EMISUSE, "the app folder name is too long");
  bl__media_writer w;
  if ((rc = bl__media_writer_open(db, &w)) != BL_OK) return rc;
  if (db->env_flags & BL_ENV_ENCRYPTED) {
    rc = resolve_encrypted(db, remote, hash, cloud, name, &w);
    if (rc != BL_OK) {
      bl__media_writer_abort(&w);
      return rc;
    }
  } else {
    rc = bl_remote_read(remote, cloud, resolve_sink, &w);
  }
  if (rc != BL_OK) {
    int io = rc == BL_EIO && w.fp && ferror(w.fp);
    bl__media_writer_abort(&w);
    if (io) return bl__db_error(db, BL_EIO, "cannot write to the media cache '%s'", db->media_cache_dir);
    if (rc == BL_ENOTFOUND)
      return bl__db_error(db, rc, "%s is not in the cloud (%s): not uploaded yet, or deleted", name, cloud);
    return bl__db_error(db, rc, "cannot download %s: %s", name, bl_remote_errmsg(remote));
  }
  char what[1100];
  snprintf(what, sizeof what, "the cloud file %s", cloud);
  rc = bl__media_writer_commit(db, &w, hash, what, &path);
  if (rc != BL_OK) return rc;
  return resolve_fill(db, out, path, repaired ? BL_MEDIA_REPAIRED : BL_MEDIA_DOWNLOADED);
}

void bl_media_file_free(bl_media_file *file) {
  if (!file) return;
  free(file->path);
  memset(file, 0, sizeof *file);
}
