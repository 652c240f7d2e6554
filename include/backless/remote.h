/*
 * backless/remote.h — the storage backend interface, for backend authors.
 *
 * A remote is a cloud folder seen through five operations that only move
 * bytes by path: list a folder, read a file, write a file (create or
 * replace), delete a file, ensure a folder exists. Sync logic never lives
 * in a backend; retries, backoff and token refresh live in src/net/.
 *
 * An implementation embeds `bl_remote` as its FIRST member, fills the
 * function pointers and `version`, and hands the object out as a
 * `bl_remote *`. Applications only use the functions of backless.h
 * (bl_remote_open, bl_remote_folder, bl_remote_free, ...).
 *
 * Paths are relative to the remote's root, use '/' as separator, never
 * start or end with '/', and never contain "." or ".." components or empty
 * components; "" is the root itself. The sync engine only uses names made
 * of [A-Za-z0-9._-].
 *
 * A remote is used by one thread at a time (its last error message is per
 * remote); backends keep no global mutable state, so separate remotes, even
 * of one folder, may be used from separate threads or processes.
 *
 * Every operation returns BL_OK or a negative BL_E* code and, on failure,
 * records a message with bl_remote_set_error (never containing a token):
 *   BL_ENOTFOUND   the file or folder does not exist (list, read, remove;
 *                  write when the parent folder is missing)
 *   BL_EAUTH       credentials rejected even after one refresh
 *   BL_ERATELIMIT  still rate limited after the retries
 *   BL_ENET        the service is unreachable or timed out
 *   BL_EIO         any other failure of the storage
 *   BL_ENOMEM      out of memory
 */
#ifndef BACKLESS_REMOTE_H
#define BACKLESS_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BL_REMOTE_VERSION 1

typedef struct bl_remote bl_remote;

/* One entry of a folder listing. */
typedef struct bl_remote_entry {
  char *name;      /* file or folder name (no '/'), malloc'ed */
  int is_folder;   /* 1 for a folder, 0 for a file */
  int64_t size;    /* bytes, -1 when unknown or a folder */
  int64_t mtime;   /* modification time, seconds since 1970, 0 when unknown */
} bl_remote_entry;

/* Receives the bytes of a file being read, in order, in pieces of any size.
 * Returns 0 to go on; any other value aborts the read, which then returns
 * that value. */
typedef int (*bl_remote_sink)(const void *data, size_t len, void *payload);

struct bl_remote {
  unsigned int version; /* BL_REMOTE_VERSION */

  /* Lists the entries directly inside folder `path`, every page of them.
   * On success *out (malloc'ed array, freed with bl_remote_entries_free)
   * holds *count entries in no particular order. A name may appear twice
   * on services that allow duplicate names (Google Drive). */
  int (*list)(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count);

  /* Streams file `path` to `sink`. On a duplicate name, reads the most
   * recently modified. */
  int (*read)(bl_remote *r, const char *path, bl_remote_sink sink, void *payload);

  /* Creates or replaces file `path` with `size` bytes read from `src`
   * (positioned at its start; the backend may seek it back to the start to
   * retry). Atomic where the storage allows: readers see the old file or
   * the new one, never a part. The parent folder must exist. Never creates
   * a second file of the same name. */
  int (*write)(bl_remote *r, const char *path, FILE *src, int64_t size);

  /* Deletes file `path` (every copy of a duplicate name). */
  int (*remove)(bl_remote *r, const char *path);

  /* Ensures folder `path` and its parents exist; BL_OK if they already do. */
  int (*mkdir)(bl_remote *r, const char *path);

  /* Releases the backend (mandatory): whatever it holds and the memory of
   * the struct that embeds this bl_remote. Only bl_remote_free calls it,
   * after freeing errmsg itself, so it must not touch errmsg. */
  void (*free)(bl_remote *r);

  /* Owned by the library: the last error message (see bl_remote_set_error).
   * Backends never write it directly. */
  char *errmsg;
};

/*
 * Records `code` and a printf-style message as the remote's last error and
 * returns `code`, so a backend can write `return bl_remote_set_error(...)`.
 * The arguments may point into the current message. When memory runs out
 * the message is left empty; `code` is still returned.
 */
int bl_remote_set_error(bl_remote *r, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Frees an array returned by list (NULL is fine). */
void bl_remote_entries_free(bl_remote_entry *entries, size_t count);

/* Dispatchers used by the sync engine: they clear the last error, check the
 * path, and call the backend. Same contracts as the members above; a path
 * breaking the rules above (or "" where a file is meant), a NULL argument
 * or a negative size gives BL_EMISUSE without calling the backend. */
int bl_remote_list(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count);
int bl_remote_read(bl_remote *r, const char *path, bl_remote_sink sink, void *payload);
int bl_remote_write(bl_remote *r, const char *path, FILE *src, int64_t size);
int bl_remote_remove(bl_remote *r, const char *path);
int bl_remote_mkdir(bl_remote *r, const char *path);

/* Convenience: writes `len` bytes from memory (through a temporary FILE). */
int bl_remote_write_buf(bl_remote *r, const char *path, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* BACKLESS_REMOTE_H */
