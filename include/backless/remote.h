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
 *   BL_ENET        the service is unreachable or timed out (a folder
 *                  remote: its root folder is gone, e.g. unmounted)
 *   BL_EIO         any other failure of the storage
 *   BL_ENOMEM      out of memory
 */
#ifndef BACKLESS_REMOTE_H
#define BACKLESS_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../backless.h" /* bl_remote_stats; it declares no backend API */

#ifdef __cplusplus
extern "C" {
#endif

/* Version 1: list, read, write, remove, mkdir, free. Version 2 adds the
 * optional read_many, write_many, changes and stats members at the
 * end; a version-1 backend simply stops before them. */
#define BL_REMOTE_VERSION 2

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

/* One download of a batch (read_many). `path`, `sink` and `payload` are
 * inputs; `rc` and `errmsg` are filled by the backend for this file alone
 * (BL_OK and "" on success). */
typedef struct bl_remote_read_job {
  const char *path;
  bl_remote_sink sink;
  void *payload;
  int rc;
  char errmsg[256];
} bl_remote_read_job;

/* One upload of a batch (write_many): `size` bytes from `src`, as write
 * takes them. `rc` and `errmsg` are filled per file. */
typedef struct bl_remote_write_job {
  const char *path;
  FILE *src;
  int64_t size;
  int rc;
  char errmsg[256];
} bl_remote_write_job;

/* What changed below a folder since a token (the changes member). */
typedef struct bl_remote_changes {
  char *token;       /* malloc'ed: pass it as `since` next time */
  int all;           /* 1: the backend cannot tell; assume everything changed */
  char **folders;    /* when all == 0: malloc'ed paths (relative to the root,
                        malloc'ed each) of the folders in which a file was
                        created or replaced since `since`; no duplicates */
  size_t nfolders;
} bl_remote_changes;

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

  /* ---- version 2; each member is optional (NULL: the dispatcher falls
   * back on the version-1 operations). */

  /* Runs n reads, concurrently where the backend can (a bounded number in
   * flight); each job's sink gets its own file's bytes, in order, and is
   * called on the caller's thread. Fills every job's rc and errmsg and
   * returns BL_OK when all succeeded, else the rc of the first failed job
   * (by index), whose message is also the remote's last error. */
  int (*read_many)(bl_remote *r, bl_remote_read_job *jobs, size_t n);

  /* Runs n writes (distinct paths, parents existing), concurrently where
   * the backend can. Same reporting as read_many. */
  int (*write_many)(bl_remote *r, bl_remote_write_job *jobs, size_t n);

  /* Tells cheaply what changed below folder `path` since `since`, a token
   * an earlier call returned for the same path (NULL: none yet). The new
   * token is taken BEFORE anything is reported, so a change made while the
   * caller acts on the answer shows up again next time. out->all = 1 on a
   * first call, an expired or foreign token, or whenever the backend cannot
   * map a change to a folder; the caller then lists everything. Deletions
   * may be left out. Free out with bl_remote_changes_clear. */
  int (*changes)(bl_remote *r, const char *path, const char *since, bl_remote_changes *out);

  /* What the backend lived through so far (bl_remote_stats, backless.h):
   * requests sent (every HTTP attempt counts), retried rate limits and
   * server errors, refreshed tokens. */
  void (*stats)(bl_remote *r, bl_remote_stats *out);
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

/* Version-2 dispatchers. bl_remote_read_many / bl_remote_write_many check
 * every path, then call the backend's batch operation or, without one, the
 * single operation once per job, in order. bl_remote_changes answers
 * out->all = 1 with a NULL token when the backend has no change feed.
 * (bl_remote_get_stats and bl_remote_request_count, in backless.h, give
 * zeroes for a backend that keeps no figures: local folders make no
 * requests.) */
int bl_remote_read_many(bl_remote *r, bl_remote_read_job *jobs, size_t n);
int bl_remote_write_many(bl_remote *r, bl_remote_write_job *jobs, size_t n);
int bl_remote_changes_since(bl_remote *r, const char *path, const char *since, bl_remote_changes *out);
void bl_remote_changes_clear(bl_remote_changes *c);

/* Convenience: writes `len` bytes from memory (through a temporary FILE). */
int bl_remote_write_buf(bl_remote *r, const char *path, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* BACKLESS_REMOTE_H */
