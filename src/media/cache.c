/*
 * cache.c — the local media cache: a directory holding one file per
 * attachment, named by its SHA-256 (the seed's Cache API store
 * "backless-media").
 *
 * Entries are written to a temporary file in the same directory
 * (".tmp-XXXXXX") while being hashed, and renamed into place only when the
 * hash matches, so a reader never sees a partial or wrong entry, and a
 * crash leaves at most a temporary file (removed by bl_media_cache_clear).
 * Every read checks the hash again: a disk error or a hand edit is caught,
 * the entry removed and the caller told.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/media_internal.h"
#include "sync/sync_internal.h"
#include "util/errmsg.h"

#define CACHE_TMP_PREFIX ".tmp-"

char *bl__media_default_cache_dir(void) {
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  /* The XDG spec ignores a relative XDG_CACHE_HOME. */
  char *out = NULL;
  if (xdg && xdg[0] == '/')
    out = sqlite3_mprintf("%s/backless/media", xdg);
  else if (home && *home)
    out = sqlite3_mprintf("%s/.cache/backless/media", home);
  if (!out) return NULL;
  char *copy = strdup(out);
  sqlite3_free(out);
  return copy;
}

const char *bl_media_cache_dir(const bl_db *db) {
  return db && db->media_cache_dir ? db->media_cache_dir : "";
}

char *bl__media_cache_path(const bl_db *db, const char *hash) {
  size_t n = strlen(db->media_cache_dir) + 1 + BL_MEDIA_HASH_LEN + 1;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", db->media_cache_dir, hash);
  return p;
}

/* mkdir -p with mode 0700 (attachments are private). */
static int cache_mkdirs(bl_db *db) {
  if (!db->media_cache_dir)
    return bl__db_error(db, BL_EMISUSE,
                        "no media cache directory: set bl_config.media_cache_dir (neither XDG_CACHE_HOME nor HOME "
                        "is set)");
  char *path = strdup(db->media_cache_dir);
  if (!path) return bl__db_error(db, BL_ENOMEM, "out of memory");
  int rc = BL_OK;
  for (char *p = path + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char saved = *p;
    *p = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
      rc = bl__db_error(db, BL_EIO, "cannot create the media cache directory '%s': %s", path, strerror(errno));
      break;
    }
    *p = saved;
    if (saved == '\0') break;
  }
  free(path);
  return rc;
}

/* ------------------------------------------------------------------ writer */

int bl__media_writer_open(bl_db *db, bl__media_writer *w) {
  memset(w, 0, sizeof *w);
  int rc = cache_mkdirs(db);
  if (rc != BL_OK) return rc;
  size_t n = strlen(db->media_cache_dir) + sizeof "/" CACHE_TMP_PREFIX "XXXXXX";
  w->tmp_path = malloc(n);
  if (!w->tmp_path) return bl__db_error(db, BL_ENOMEM, "out of memory");
  snprintf(w->tmp_path, n, "%s/" CACHE_TMP_PREFIX "XXXXXX", db->media_cache_dir);
  int fd = mkstemp(w->tmp_path);
  if (fd < 0 || !(w->fp = fdopen(fd, "w+b"))) {
    rc = bl__db_error(db, BL_EIO, "cannot create a file in the media cache '%s': %s", db->media_cache_dir,
                      strerror(errno));
    if (fd >= 0) {
      close(fd);
      unlink(w->tmp_path);
    }
    free(w->tmp_path);
    w->tmp_path = NULL;
    return rc;
  }
  crypto_hash_sha256_init(&w->sha);
  return BL_OK;
}

int bl__media_writer_write(bl__media_writer *w, const void *data, size_t len) {
  if (len && fwrite(data, 1, len, w->fp) != len) return BL_EIO;
  crypto_hash_sha256_update(&w->sha, data, len);
  w->size += (int64_t)len;
  return BL_OK;
}

void bl__media_writer_abort(bl__media_writer *w) {
  if (w->fp) fclose(w->fp);
  if (w->tmp_path) {
    unlink(w->tmp_path);
    free(w->tmp_path);
  }
  memset(w, 0, sizeof *w);
}

int bl__media_writer_commit(bl_db *db, bl__media_writer *w, const char *hash, const char *what, char **path_out) {
  if (path_out) *path_out = NULL;
  unsigned char digest[crypto_hash_sha256_BYTES];
  char got[BL_MEDIA_HASH_LEN + 1];
  crypto_hash_sha256_final(&w->sha, digest);
  bl__media_hex(digest, got);
  int rc = BL_OK;
  /* fsync before rename: a crash must not leave a renamed, empty entry. */
  if (fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0) {
    rc = bl__db_error(db, BL_EIO, "cannot write to the media cache '%s': %s", db->media_cache_dir, strerror(errno));
    bl__media_writer_abort(w);
    return rc;
  }
  if (strcmp(got, hash) != 0) {
    rc = bl__db_error(db, BL_ECORRUPT, "%s: its bytes hash to %s, not %s; nothing was cached", what, got, hash);
    bl__media_writer_abort(w);
    return rc;
  }
  char *dest = bl__media_cache_path(db, hash);
  if (!dest) {
    bl__media_writer_abort(w);
    return bl__db_error(db, BL_ENOMEM, "out of memory");
  }
  fclose(w->fp);
  w->fp = NULL;
  if (rename(w->tmp_path, dest) != 0) {
    rc = bl__db_error(db, BL_EIO, "cannot store %s in the media cache: %s", dest, strerror(errno));
    free(dest);
    bl__media_writer_abort(w);
    return rc;
  }
  free(w->tmp_path);
  w->tmp_path = NULL;
  if (path_out)
    *path_out = dest;
  else
    free(dest);
  bl__media_note_cached(db, hash); /* best effort: only pruning depends on it */
  return BL_OK;
}

/* ---------------------------------------------------------------- put/get */

/* Whether the entry for `hash` exists and is intact (a damaged one is
 * removed). BL_OK with *intact set, or an I/O error. */
static int cache_check(bl_db *db, const char *hash, int *intact, int *was_corrupt) {
  *intact = 0;
  if (was_corrupt) *was_corrupt = 0;
  char *path = bl__media_cache_path(db, hash);
  if (!path) return bl__db_error(db, BL_ENOMEM, "out of memory");
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    int err = errno;
    free(path);
    if (err == ENOENT || err == ENOTDIR) return BL_OK;
    return bl__db_error(db, BL_EIO, "cannot open the media cache entry %s: %s", hash, strerror(err));
  }
  char got[BL_MEDIA_HASH_LEN + 1];
  int rc = bl__media_hash_stream(fp, got, NULL);
  fclose(fp);
  if (rc == BL_OK && strcmp(got, hash) == 0) {
    *intact = 1;
  } else if (rc == BL_OK || rc == BL_EIO) {
    /* Damaged (or unreadable): never hand it out. */
    unlink(path);
    if (was_corrupt) *was_corrupt = 1;
    rc = BL_OK;
  }
  free(path);
  return rc == BL_ENOMEM ? bl__db_error(db, rc, "out of memory") : rc;
}

/* The application put `hash` into the cache: it is making an attachment,
 * whose cloud file this device checks at its next syncs (gc.c, step 2).
 * Only pruning and that check depend on the note, so it is best effort. */
static int cache_attached(bl_db *db, const char *hash, int rc) {
  if (rc == BL_OK) bl__media_note_attached(db, hash);
  return rc;
}

int bl_media_cache_put(bl_db *db, const char *hash, const char *path) {
  if (!db) return bl__set_tls_error(BL_EMISUSE, "bl_media_cache_put: the database handle is NULL");
  int rc = bl__media_check_hash(db, "bl_media_cache_put", hash);
  if (rc != BL_OK) return rc;
  if (!path) return bl__db_error(db, BL_EMISUSE, "bl_media_cache_put: no file given");
  int intact = 0;
  if ((rc = cache_check(db, hash, &intact, NULL)) != BL_OK) return rc;
  if (intact) return cache_attached(db, hash, BL_OK);
  FILE *src = fopen(path, "rb");
  if (!src) return bl__db_error(db, BL_EIO, "cannot open '%s': %s", path, strerror(errno));
  bl__media_writer w;
  rc = bl__media_writer_open(db, &w);
  if (rc != BL_OK) {
    fclose(src);
    return rc;
  }
  enum { CHUNK = 64 * 1024 };
  unsigned char *buf = malloc(CHUNK);
  size_t n = 0;
  if (!buf) rc = bl__db_error(db, BL_ENOMEM, "out of memory");
  while (rc == BL_OK && (n = fread(buf, 1, CHUNK, src)) > 0)
    if (bl__media_writer_write(&w, buf, n) != BL_OK)
      rc = bl__db_error(db, BL_EIO, "cannot write to the media cache '%s': %s", db->media_cache_dir, strerror(errno));
  if (rc == BL_OK && ferror(src)) rc = bl__db_error(db, BL_EIO, "cannot read '%s': %s", path, strerror(errno));
  free(buf);
  fclose(src);
  if (rc != BL_OK) {
    bl__media_writer_abort(&w);
    return rc;
  }
  char what[64 + 1024];
  snprintf(what, sizeof what, "'%s'", path);
  return cache_attached(db, hash, bl__media_writer_commit(db, &w, hash, what, NULL));
}

int bl_media_cache_put_buf(bl_db *db, const char *hash, const void *data, size_t len) {
  if (!db) return bl__set_tls_error(BL_EMISUSE, "bl_media_cache_put_buf: the database handle is NULL");
  int rc = bl__media_check_hash(db, "bl_media_cache_put_buf", hash);
  if (rc != BL_OK) return rc;
  if (!data && len) return bl__db_error(db, BL_EMISUSE, "bl_media_cache_put_buf: NULL data");
  int intact = 0;
  if ((rc = cache_check(db, hash, &intact, NULL)) != BL_OK) return rc;
  if (intact) return cache_attached(db, hash, BL_OK);
  bl__media_writer w;
  if ((rc = bl__media_writer_open(db, &w)) != BL_OK) return rc;
  if (bl__media_writer_write(&w, data, len) != BL_OK) {
    rc = bl__db_error(db, BL_EIO, "cannot write to the media cache '%s': %s", db->media_cache_dir, strerror(errno));
    bl__media_writer_abort(&w);
    return rc;
  }
  return cache_attached(db, hash, bl__media_writer_commit(db, &w, hash, "the buffer", NULL));
}

int bl__media_cache_put_reader(bl_db *db, const char *hash, bl_media_read_fn read, void *payload) {
  int intact = 0;
  int rc = cache_check(db, hash, &intact, NULL);
  if (rc != BL_OK) return rc;
  if (intact) {
    bl__media_note_cached(db, hash);
    return BL_OK;
  }
  bl__media_writer w;
  if ((rc = bl__media_writer_open(db, &w)) != BL_OK) return rc;
  enum { CHUNK = 64 * 1024 };
  unsigned char *buf = malloc(CHUNK);
  if (!buf) rc = bl__db_error(db, BL_ENOMEM, "out of memory");
  while (rc == BL_OK) {
    long long n = read(buf, CHUNK, payload);
    if (n == 0) break;
    if (n < 0 || n > CHUNK) {
      rc = bl__db_error(db, BL_EIO, "the read callback of attachment %s failed (returned %lld)", hash, n);
      break;
    }
    if (bl__media_writer_write(&w, buf, (size_t)n) != BL_OK)
      rc = bl__db_error(db, BL_EIO, "cannot write to the media cache '%s': %s", db->media_cache_dir, strerror(errno));
  }
  free(buf);
  if (rc != BL_OK) {
    bl__media_writer_abort(&w);
    return rc;
  }
  return bl__media_writer_commit(db, &w, hash, "the bytes of the read callback", NULL);
}

int bl_media_cache_get(bl_db *db, const char *hash, char **path_out) {
  if (path_out) *path_out = NULL;
  if (!db) return bl__set_tls_error(BL_EMISUSE, "bl_media_cache_get: the database handle is NULL");
  int rc = bl__media_check_hash(db, "bl_media_cache_get", hash);
  if (rc != BL_OK) return rc;
  if (!db->media_cache_dir) return bl__db_error(db, BL_ENOTFOUND, "no media cache directory");
  int intact = 0, corrupt = 0;
  if ((rc = cache_check(db, hash, &intact, &corrupt)) != BL_OK) return rc;
  if (corrupt)
    return bl__db_error(db, BL_ECORRUPT,
                        "the media cache entry %s was damaged (its bytes no longer match the hash); it was removed",
                        hash);
  if (!intact) return bl__db_error(db, BL_ENOTFOUND, "attachment %s is not in the media cache", hash);
  if (path_out && !(*path_out = bl__media_cache_path(db, hash))) return bl__db_error(db, BL_ENOMEM, "out of memory");
  return BL_OK;
}

/* Whether `name` is a cache entry or one of our temporary files. */
static int cache_owned_name(const char *name) {
  return bl__media_hash_valid(name) || strncmp(name, CACHE_TMP_PREFIX, strlen(CACHE_TMP_PREFIX)) == 0;
}

int bl_media_cache_clear(bl_db *db) {
  if (!db) return bl__set_tls_error(BL_EMISUSE, "bl_media_cache_clear: the database handle is NULL");
  if (!db->media_cache_dir) return BL_OK;
  DIR *d = opendir(db->media_cache_dir);
  if (!d) {
    if (errno == ENOENT) return BL_OK;
    return bl__db_error(db, BL_EIO, "cannot open the media cache '%s': %s", db->media_cache_dir, strerror(errno));
  }
  int rc = BL_OK;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!cache_owned_name(e->d_name)) continue;
    size_t n = strlen(db->media_cache_dir) + 1 + strlen(e->d_name) + 1;
    char *p = malloc(n);
    if (!p) {
      rc = bl__db_error(db, BL_ENOMEM, "out of memory");
      break;
    }
    snprintf(p, n, "%s/%s", db->media_cache_dir, e->d_name);
    if (unlink(p) != 0 && errno != ENOENT && rc == BL_OK)
      rc = bl__db_error(db, BL_EIO, "cannot delete %s: %s", p, strerror(errno));
    free(p);
  }
  closedir(d);
  if (rc == BL_OK && bl__media_state_init(db) == BL_OK)
    rc = bl__exec(db, "UPDATE _bl_media SET cached = 0 WHERE cached != 0");
  return rc;
}
