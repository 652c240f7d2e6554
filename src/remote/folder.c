/*
 * folder.c — the folder backend: a remote that is a local directory (which
 * may itself be synced by Dropbox, Syncthing or Nextcloud, or be a network
 * share).
 *
 * Writes are atomic: the content goes to a temporary file beside the target,
 * is fsync'ed, renamed over the target, and the directory is fsync'ed, so a
 * reader (or a crash) sees the old file or the new one, never a part.
 * Temporary files are named ".<name>.tmp-<pid>-<random>"; listings skip
 * every name that starts with '.' and contains ".tmp-" further on, so a
 * temporary file left by a crash never shows up as data.
 *
 * The backend keeps no mutable state besides the root path, so separate
 * remotes on one folder can be used from separate threads and processes.
 *
 * Divided into: paths and errors; list; read; write; remove; mkdir; open.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backless.h"
#include "backless/remote.h"
#include "util/errmsg.h"

/* Reads and writes move this much at a time. */
#define FOLDER_CHUNK (64 * 1024)

typedef struct folder_remote {
  bl_remote base;
  char *root; /* absolute, without a trailing '/'; "" for the filesystem root */
} folder_remote;

/* ------------------------------------------------------- paths and errors */

/* "<root>/<rel[0..len)>" (the root itself for len == 0), malloc'ed; NULL
 * when memory runs out. */
static char *folder_join(const folder_remote *fr, const char *rel, size_t len) {
  size_t root_len = strlen(fr->root);
  char *p = malloc(root_len + 1 + len + 1);
  if (!p) return NULL;
  memcpy(p, fr->root, root_len);
  p[root_len] = '/';
  memcpy(p + root_len + 1, rel, len);
  /* The root alone is "<root>", or "/" for the filesystem root. */
  p[len || !root_len ? root_len + 1 + len : root_len] = '\0';
  return p;
}

static int folder_code(int e) {
  switch (e) {
    case ENOENT:
    case ENOTDIR: return BL_ENOTFOUND;
    case ENOMEM: return BL_ENOMEM;
    default: return BL_EIO;
  }
}

/* 1 when the root folder itself is no longer a folder: an unmounted drive,
 * a moved or deleted sync folder. */
static int folder_root_gone(const folder_remote *fr) {
  struct stat st;
  return stat(*fr->root ? fr->root : "/", &st) != 0 || !S_ISDIR(st.st_mode);
}

/* A vanished root is an unreachable remote (BL_ENET), not an empty one:
 * BL_ENOTFOUND from a listing would read as "nobody has pushed yet". */
static int folder_gone(bl_remote *r) {
  const folder_remote *fr = (const folder_remote *)r;
  return bl_remote_set_error(r, BL_ENET, "remote folder '%s' does not exist (unmounted, moved or deleted?)",
                             *fr->root ? fr->root : "/");
}

/* Records the failure `e` (an errno) of `what` on local path `path`. */
static int folder_fail(bl_remote *r, int e, const char *what, const char *path) {
  if ((e == ENOENT || e == ENOTDIR) && folder_root_gone((const folder_remote *)r)) return folder_gone(r);
  char text[256];
  if (strerror_r(e, text, sizeof text) != 0) snprintf(text, sizeof text, "error %d", e);
  return bl_remote_set_error(r, folder_code(e), "%s '%s': %s", what, path, text);
}

static int folder_nomem(bl_remote *r) { return bl_remote_set_error(r, BL_ENOMEM, "out of memory"); }

/* Our temporary files: '.' first and ".tmp-" after it. */
static int folder_is_temp(const char *name) {
  return name[0] == '.' && strstr(name + 1, ".tmp-") != NULL;
}

/* fsync of a directory, so that a rename or a new entry in it survives a
 * crash. File systems that cannot sync a directory say EINVAL. */
static int folder_sync_dir(bl_remote *r, const char *dir) {
  int fd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
  if (fd < 0) return folder_fail(r, errno, "opening folder", dir);
  int rc = BL_OK;
  if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP)
    rc = folder_fail(r, errno, "syncing folder", dir);
  close(fd);
  return rc;
}

/* ------------------------------------------------------------------- list */

static int folder_list(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count) {
  folder_remote *fr = (folder_remote *)r;
  int rc = BL_OK;
  bl_remote_entry *entries = NULL;
  size_t n = 0, cap = 0;
  DIR *d = NULL;
  char *dir = folder_join(fr, path, strlen(path));
  if (!dir) return folder_nomem(r);

  d = opendir(dir);
  if (!d) {
    rc = folder_fail(r, errno, "listing", dir);
    goto done;
  }
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (!de) {
      if (errno) rc = folder_fail(r, errno, "listing", dir);
      break;
    }
    const char *name = de->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..") || folder_is_temp(name)) continue;
    struct stat st;
    if (fstatat(dirfd(d), name, &st, 0) != 0) {
      /* Removed since readdir, or a dangling symbolic link: not there. */
      if (errno == ENOENT) continue;
      rc = folder_fail(r, errno, "reading the entry of", dir);
      break;
    }
    /* Devices, pipes and sockets are no data of ours (reading a pipe would
     * block). */
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 32;
      bl_remote_entry *grown = realloc(entries, ncap * sizeof *grown);
      if (!grown) {
        rc = folder_nomem(r);
        break;
      }
      entries = grown;
      cap = ncap;
    }
    bl_remote_entry *e = &entries[n];
    e->name = strdup(name);
    if (!e->name) {
      rc = folder_nomem(r);
      break;
    }
    n++;
    e->is_folder = S_ISDIR(st.st_mode);
    e->size = e->is_folder ? -1 : (int64_t)st.st_size;
    e->mtime = (int64_t)st.st_mtime;
  }

done:
  if (d) closedir(d);
  free(dir);
  if (rc) {
    bl_remote_entries_free(entries, n);
    return rc;
  }
  *out = entries;
  *count = n;
  return BL_OK;
}

/* ------------------------------------------------------------------- read */

static int folder_read(bl_remote *r, const char *path, bl_remote_sink sink, void *payload) {
  folder_remote *fr = (folder_remote *)r;
  int rc = BL_OK, fd = -1;
  unsigned char *buf = NULL;
  char *file = folder_join(fr, path, strlen(path));
  if (!file) return folder_nomem(r);

  fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    rc = folder_fail(r, errno, "reading", file);
    goto done;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    rc = folder_fail(r, errno, "reading", file);
    goto done;
  }
  if (S_ISDIR(st.st_mode)) {
    rc = bl_remote_set_error(r, BL_EIO, "reading '%s': it is a folder, not a file", file);
    goto done;
  }
  buf = malloc(FOLDER_CHUNK);
  if (!buf) {
    rc = folder_nomem(r);
    goto done;
  }
  for (;;) {
    ssize_t got = read(fd, buf, FOLDER_CHUNK);
    if (got < 0) {
      if (errno == EINTR) continue;
      rc = folder_fail(r, errno, "reading", file);
      break;
    }
    if (got == 0) break;
    int v = sink(buf, (size_t)got, payload);
    if (v != 0) {
      rc = bl_remote_set_error(r, v, "reading '%s': stopped by the receiver (%d)", file, v);
      break;
    }
  }

done:
  if (fd >= 0) close(fd);
  free(buf);
  free(file);
  return rc;
}

/* ------------------------------------------------------------------ write */

static int folder_write_all(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* A random-looking 64-bit value for a temporary name. Uniqueness comes from
 * O_EXCL (with retries); this only makes collisions rare, without global
 * state: the time, the address of a local (distinct per thread) and the
 * attempt number, mixed by the splitmix64 finalizer. */
static uint64_t folder_nonce(unsigned attempt) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)&ts ^
               ((uint64_t)attempt << 52);
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/*
 * Creates the temporary file for target name `name` in folder `dir`: on
 * BL_OK *fd is open for writing and *tmp is its malloc'ed path.
 */
static int folder_create_temp(bl_remote *r, const char *dir, const char *name, const char *target,
                              int *fd, char **tmp) {
  /* At most 100 bytes of the name, so that the temporary name stays within
   * NAME_MAX (255) for any name that fits itself. */
  size_t name_len = strlen(name);
  int shown = (int)(name_len > 100 ? 100 : name_len);
  size_t cap = strlen(dir) + shown + 64;
  char *p = malloc(cap);
  if (!p) return folder_nomem(r);
  for (unsigned attempt = 0;; attempt++) {
    snprintf(p, cap, "%s/.%.*s.tmp-%ld-%012llx", dir, shown, name, (long)getpid(),
             (unsigned long long)(folder_nonce(attempt) & 0xffffffffffffULL));
    *fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (*fd >= 0) break;
    if ((errno == EEXIST || errno == EINTR) && attempt < 100) continue;
    int e = errno;
    free(p);
    if ((e == ENOENT || e == ENOTDIR) && folder_root_gone((const folder_remote *)r)) return folder_gone(r);
    if (e == ENOENT || e == ENOTDIR)
      return bl_remote_set_error(r, BL_ENOTFOUND, "writing '%s': folder '%s' does not exist",
                                 target, dir);
    return folder_fail(r, e, "writing a temporary file in", dir);
  }
  *tmp = p;
  return BL_OK;
}

static int folder_write(bl_remote *r, const char *path, FILE *src, int64_t size) {
  folder_remote *fr = (folder_remote *)r;
  int rc = BL_OK, fd = -1;
  char *target = NULL, *dir = NULL, *tmp = NULL;
  unsigned char *buf = NULL;
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;

  target = folder_join(fr, path, strlen(path));
  dir = folder_join(fr, path, slash ? (size_t)(slash - path) : 0);
  buf = malloc(FOLDER_CHUNK);
  if (!target || !dir || !buf) {
    rc = folder_nomem(r);
    goto done;
  }
  rc = folder_create_temp(r, dir, name, target, &fd, &tmp);
  if (rc) goto done;

  for (int64_t done_bytes = 0; done_bytes < size;) {
    size_t want = size - done_bytes < FOLDER_CHUNK ? (size_t)(size - done_bytes) : FOLDER_CHUNK;
    size_t got = fread(buf, 1, want, src);
    if (got > 0 && folder_write_all(fd, buf, got) != 0) {
      rc = folder_fail(r, errno, "writing", tmp);
      goto done;
    }
    done_bytes += (int64_t)got;
    if (got < want) {
      if (ferror(src))
        rc = bl_remote_set_error(r, BL_EIO,
                                 "writing '%s': reading the source failed after %lld bytes", target,
                                 (long long)done_bytes);
      else
        rc = bl_remote_set_error(r, BL_EIO,
                                 "writing '%s': the source ended after %lld of %lld bytes", target,
                                 (long long)done_bytes, (long long)size);
      goto done;
    }
  }
  if (fsync(fd) != 0) {
    rc = folder_fail(r, errno, "syncing", tmp);
    goto done;
  }
  int closed = close(fd);
  fd = -1;
  if (closed != 0) {
    rc = folder_fail(r, errno, "writing", tmp);
    goto done;
  }
  if (rename(tmp, target) != 0) {
    rc = folder_fail(r, errno, "replacing", target);
    goto done;
  }
  free(tmp);
  tmp = NULL; /* renamed: nothing left to clean up */
  rc = folder_sync_dir(r, dir);

done:
  if (fd >= 0) close(fd);
  if (tmp) unlink(tmp);
  free(tmp);
  free(buf);
  free(dir);
  free(target);
  return rc;
}

/* ----------------------------------------------------------------- remove */

static int folder_remove(bl_remote *r, const char *path) {
  folder_remote *fr = (folder_remote *)r;
  char *file = folder_join(fr, path, strlen(path));
  if (!file) return folder_nomem(r);
  int rc = BL_OK;
  if (unlink(file) != 0) rc = folder_fail(r, errno, "removing", file);
  free(file);
  return rc;
}

/* ------------------------------------------------------------------ mkdir */

/* Creates folder `dir` (whose parent exists) unless it is there already; a
 * new folder's entry is synced into its parent. */
static int folder_mkdir_one(bl_remote *r, char *dir) {
  if (mkdir(dir, 0777) == 0) {
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    int rc = folder_sync_dir(r, *dir ? dir : "/");
    *slash = '/';
    return rc;
  }
  if (errno != EEXIST) return folder_fail(r, errno, "creating folder", dir);
  /* Something of that name: a folder (or a link to one) is fine; a file,
   * or a link to nothing, is in the way. */
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return bl_remote_set_error(r, BL_EIO, "creating folder '%s': a file of that name is in the way",
                               dir);
  return BL_OK;
}

/* mkdir -p below the root; the root itself must exist. */
static int folder_mkdir(bl_remote *r, const char *path) {
  folder_remote *fr = (folder_remote *)r;
  int rc = BL_OK;
  char *dir = folder_join(fr, path, strlen(path));
  if (!dir) return folder_nomem(r);

  if (folder_root_gone(fr)) {
    rc = folder_gone(r);
    goto done;
  }
  for (char *c = dir + strlen(fr->root) + 1; *path && *c;) {
    c += strcspn(c, "/");
    char saved = *c;
    *c = '\0';
    rc = folder_mkdir_one(r, dir);
    *c = saved;
    if (rc) goto done;
    if (saved) c++;
  }

done:
  free(dir);
  return rc;
}

/* ------------------------------------------------------------------- open */

static void folder_free(bl_remote *r) {
  folder_remote *fr = (folder_remote *)r;
  free(fr->root);
  free(fr);
}

/* `path` made absolute (against the current directory, so that a later
 * chdir does not move the remote) and without trailing '/'. */
static char *folder_absolute(const char *path) {
  char *abs = NULL;
  if (path[0] == '/') {
    abs = strdup(path);
  } else {
    for (size_t cap = 256; !abs && cap <= 65536; cap *= 2) {
      char *cwd = malloc(cap);
      if (!cwd) return NULL;
      if (getcwd(cwd, cap)) {
        size_t n = strlen(cwd) + 1 + strlen(path) + 1;
        abs = malloc(n);
        if (abs) snprintf(abs, n, "%s/%s", strcmp(cwd, "/") ? cwd : "", path);
        free(cwd);
        if (!abs) return NULL;
      } else {
        int e = errno;
        free(cwd);
        if (e != ERANGE) return NULL;
      }
    }
  }
  if (!abs) return NULL;
  size_t n = strlen(abs);
  while (n > 0 && abs[n - 1] == '/') abs[--n] = '\0';
  return abs;
}

int bl_remote_folder(bl_remote **out, const char *path) {
  if (!out) return bl__set_tls_error(BL_EMISUSE, "bl_remote_folder: out is NULL");
  *out = NULL;
  bl__set_tls_error(BL_OK, "%s", "");
  if (!path || !*path) return bl__set_tls_error(BL_EMISUSE, "bl_remote_folder: no path");

  char *root = folder_absolute(path);
  if (!root)
    return bl__set_tls_error(BL_EIO, "remote folder '%s': cannot make the path absolute", path);
  const char *shown = *root ? root : "/";
  struct stat st;
  int rc = BL_OK;
  if (stat(shown, &st) != 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      rc = bl__set_tls_error(BL_ENOTFOUND, "remote folder '%s' does not exist", shown);
    else {
      char text[256];
      if (strerror_r(e, text, sizeof text) != 0) snprintf(text, sizeof text, "error %d", e);
      rc = bl__set_tls_error(folder_code(e), "remote folder '%s': %s", shown, text);
    }
    goto fail;
  }
  if (!S_ISDIR(st.st_mode)) {
    rc = bl__set_tls_error(BL_ENOTFOUND, "remote folder '%s' does not exist (it is a file)", shown);
    goto fail;
  }
  folder_remote *fr = calloc(1, sizeof *fr);
  if (!fr) {
    rc = bl__set_tls_error(BL_ENOMEM, "out of memory");
    goto fail;
  }
  fr->base.version = BL_REMOTE_VERSION;
  fr->base.list = folder_list;
  fr->base.read = folder_read;
  fr->base.write = folder_write;
  fr->base.remove = folder_remove;
  fr->base.mkdir = folder_mkdir;
  fr->base.free = folder_free;
  fr->root = root;
  *out = &fr->base;
  return BL_OK;

fail:
  free(root);
  return rc;
}
