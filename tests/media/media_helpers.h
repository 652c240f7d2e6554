/*
 * media_helpers.h — the shared layer of the media sync tests (tests/media/).
 *
 * Divided into:
 *   - environments: one per test case and backend, a fresh temporary folder
 *     and a fresh, empty storage: a cloud folder (bl_remote_folder) or a
 *     collection on one real WebDAV server (`rclone serve webdav` on
 *     127.0.0.1, started on first use, stopped at exit);
 *   - devices: each one its own database file, its own media cache folder
 *     and its own remote object on the storage (as separate machines would
 *     have), wrapped in the fault remote so that calls can be counted,
 *     failed or interrupted; the built-in media schema
 *     (bl_media_schema_table on `attachments`) or a hand-written one;
 *   - files: PRNG files written in chunks, an independent SHA-256 (the
 *     oracle the library's hashes are checked against), comparisons;
 *   - the cloud as the test sees it, through its own remote;
 *   - sync results and recorded writes.
 *
 * The test schema (every device):
 *   attachments(id TEXT PRIMARY KEY NOT NULL, hash TEXT, filename TEXT,
 *               mime_type TEXT)                            synced
 *   notes(id TEXT PRIMARY KEY NOT NULL, body TEXT)         synced (edits)
 *   _media_status(hash TEXT PRIMARY KEY, uploaded INTEGER)  local, used by
 *   _media_src(hash TEXT PRIMARY KEY, path TEXT, how TEXT)  the hand-written
 *                                                          media schema
 *
 * Each test case runs once per backend: a file defines
 *     static void case_<x>(mh_env *e) { ... }
 * and MH_BOTH(test_media_<aspect>__<x>, case_<x>) makes the two test
 * functions test_media_<aspect>__<x>_folder and ..._webdav (listed with
 * MH_TESTS). Cases that use no storage end in "_local".
 */
#ifndef BL_TEST_MEDIA_HELPERS_H
#define BL_TEST_MEDIA_HELPERS_H

#include <stdint.h>
#include <stdio.h>

#include "backless.h"
#include "backless/remote.h"
#include "harness.h"
#include "remote/fault.h"

#define MH_APP "Backless"

enum { MH_FOLDER = 0, MH_WEBDAV = 1 };

#define MH_MAX_DEVS 8

typedef struct mh_dev mh_dev;

typedef struct mh_env {
  int backend;      /* MH_FOLDER or MH_WEBDAV */
  char *tmp;        /* this case's temporary folder (databases, caches, files) */
  char *cloud_url;  /* what each device's remote opens */
  bl_remote *probe; /* the test's own view of the cloud */
  mh_dev *devs[MH_MAX_DEVS];
  int ndevs;
  int files; /* counter for mh_file */
} mh_env;

/* Opens a fresh environment for `backend`; 0, or -1 explained on stderr
 * (rclone missing is a failure: CI installs it). */
int mh_env_open(mh_env *e, int backend);
/* Closes the devices still open, the probe, and removes the folder. */
void mh_env_close(mh_env *e);
/* A new remote object on the environment's storage (the caller frees it),
 * or NULL explained on stderr. */
bl_remote *mh_env_remote(mh_env *e);
/* "<tmp>/<name>", malloc'ed. */
char *mh_path(mh_env *e, const char *name);

/* Runs body(e) on a fresh environment of `backend`, then closes it. */
void mh_run(int backend, const char *name, void (*body)(mh_env *e));

#define MH_BOTH(test, body)                                          \
  static void test##_folder(void) { mh_run(MH_FOLDER, #test, body); } \
  static void test##_webdav(void) { mh_run(MH_WEBDAV, #test, body); }
#define MH_TESTS(test) BL_TEST(test##_folder), BL_TEST(test##_webdav)

/* Prints one line saying what is checked next (stdout). */
void mh_step(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* ---------------------------------------------------------------- devices */

typedef struct mh_opts {
  int grace;  /* bl_config.media_gc_grace; 0 = the default */
  int custom; /* 1: the hand-written media schema instead of the built-in */
  const char *cache_dir; /* NULL: "<tmp>/<name>-cache" */
  const bl_schema *schema;      /* NULL: the test schema */
  const bl_media_schema *media; /* set: this media schema (borrowed) */
  const char *passphrase;       /* set: the app folder is (or becomes) encrypted
                                   with it (cheapest Argon2id) */
} mh_opts;

struct mh_dev {
  mh_env *env;
  char name[16];
  char *db_path;
  char *cache_dir;
  bl_media_schema *builtin; /* the built-in schema, NULL when custom */
  bl_media_schema custom;   /* the hand-written one (payload = this device) */
  bl_db *db;
  bl_remote *inner;  /* the device's own remote on the storage */
  bl_remote *remote; /* a fault wrapper around it: the one to sync through */
  int edits;         /* notes written so far */
  int rows;          /* attachment rows inserted by the helpers */
  /* hand-written schema: calls seen */
  int cs_unuploaded_calls, cs_all_hashes_calls, cs_marks, cs_read_calls;
};

/* Opens device `name` (database "<tmp>/<name>.db", cache
 * "<tmp>/<name>-cache") on e's storage; tracked by e. NULL (test failed)
 * when it cannot. */
mh_dev *mh_dev_new(mh_env *e, const char *name, const mh_opts *o);
/* The test schema every device opens with. */
const bl_schema *mh_schema_get(void);
/* Closes and forgets the device (mh_env_close does it for those left). */
void mh_dev_close(mh_dev *d);

/* bl_sync through d->remote into *res (reset first); prints the result
 * when BL_TEST_VERBOSE is set. Returns the status. */
int mh_sync(mh_dev *d, bl_sync_result *res);
/* A synced local edit (a new notes row), so that the next sync pushes. */
void mh_edit(mh_dev *d);
/* mh_edit then mh_sync; BL_CHECKs that the sync succeeded and pushed. */
int mh_edit_sync(mh_dev *d, bl_sync_result *res);

/* bl_media_add_file(d, path) with the hash into out; the status. */
int mh_attach(mh_dev *d, const char *path, char out[BL_MEDIA_HASH_LEN + 1]);
/* Inserts an attachment row for `hash` (nothing put in the cache). */
void mh_insert_row(mh_dev *d, const char *hash, const char *filename);
/* Deletes every attachment row of `hash`. */
void mh_delete_rows(mh_dev *d, const char *hash);
/* Attachment rows of `hash` (NULL: all). */
int mh_count_rows(mh_dev *d, const char *hash);
/* Runs SQL; the test binary exits on error (a broken fixture). */
void mh_exec(mh_dev *d, const char *sql);
int64_t mh_int(mh_dev *d, const char *sql);

/* Hand-written schema: records the attachment at `path` (hash computed by
 * the test's SHA-256 into out) with its bytes to be given as a path
 * (how = "path") or by a read callback over the file (how = "read");
 * nothing is put in the cache. */
void mh_custom_attach(mh_dev *d, const char *path, const char *how,
                      char out[BL_MEDIA_HASH_LEN + 1]);
/* Hand-written schema: 1 when `hash` is marked uploaded in _media_status. */
int mh_custom_uploaded(mh_dev *d, const char *hash);

/* bl_media_resolve through d->remote; BL_CHECKs nothing. */
int mh_resolve(mh_dev *d, const char *hash, bl_media_file *out);
/* Resolves `hash` on d and checks: BL_OK, source `want_source`, the file's
 * bytes equal those of `original`, size right. 1 when all held. */
int mh_resolve_check(mh_dev *d, const char *hash, const char *original, int want_source);
/* 1 when bl_media_cache_get finds an intact entry for hash. */
int mh_cached(mh_dev *d, const char *hash);
/* 1 when some file below d's cache folder has `hash` in its name. */
int mh_cache_has_file(mh_dev *d, const char *hash);
/* Regular files below a folder (0 when it does not exist). */
int mh_count_files(const char *dir);

/* Calls of kind op seen by d's fault wrapper so far. */
uint64_t mh_calls(mh_dev *d, bl__fault_op op);
/* HTTP requests of d's remote so far (0 for a folder). */
uint64_t mh_requests(mh_dev *d);

/* ------------------------------------------------------------------ files */

/* Writes `size` PRNG bytes (seeded) to path in 1 MiB chunks, hashing them
 * on the way (out may be NULL). 0, or -1 explained on stderr. */
int mh_write_prng(const char *path, uint64_t seed, int64_t size, char out[BL_MEDIA_HASH_LEN + 1]);
/* A new PRNG file "<tmp>/src-<n>.bin" of `size` bytes (its path returned,
 * malloc'ed), its hash into out. Exits on failure. */
char *mh_file(mh_env *e, int64_t size, char out[BL_MEDIA_HASH_LEN + 1]);
int mh_write_bytes(const char *path, const void *data, size_t len);
/* Copies file src to dst. 0, or -1. */
int mh_copy_file(const char *src, const char *dst);
/* 1 when both files exist and hold the same bytes. */
int mh_files_equal(const char *a, const char *b);
/* The test's own SHA-256 (not the library's). 0, or -1 when unreadable. */
int mh_sha256_file(const char *path, char out[BL_MEDIA_HASH_LEN + 1]);
void mh_sha256_buf(const void *data, size_t len, char out[BL_MEDIA_HASH_LEN + 1]);
/* Flips one byte of a file at `offset` (makes it writable first if
 * needed). 0, or -1. */
int mh_flip_byte(const char *path, int64_t offset);

/* ------------------------------------------------------------------ cloud */

/* "Backless/media/<2 hex>/<hash>" (static buffer). */
const char *mh_media_path(const char *hash);
/* 1 when the cloud holds media file `hash`, 0 when not, -1 on error. */
int mh_cloud_has(mh_env *e, const char *hash);
/* 1 when the cloud file `hash` exists and equals file `original`. */
int mh_cloud_equals(mh_env *e, const char *hash, const char *original);
/* Writes `len` bytes as cloud media file `hash` (making its folder). */
int mh_cloud_put(mh_env *e, const char *hash, const void *data, size_t len);

/* ----------------------------------------------------------------- results */

/* Warnings (which = 'w'), errors ('e') or both ('*') with `code` whose
 * message contains `substr` (NULL: any). */
int mh_issues(const bl_sync_result *r, int which, int code, const char *substr);
/* Prints a result's issues to stderr (when a check about them failed). */
void mh_print_result(const char *who, int rc, const bl_sync_result *r);

/* The paths of the next writes (up to 8) through d's fault wrapper,
 * recorded by crash callbacks that return. */
typedef struct mh_rec {
  char paths[BL__FAULT_MAX_TRIGGERS][512];
  int n;
} mh_rec;
void mh_record_writes(mh_dev *d, mh_rec *rec);
/* Disarms the recording (bl__fault_reset): call it before rec goes. */
void mh_record_stop(mh_dev *d);
/* Recorded writes whose path starts with "Backless/media/". */
int mh_rec_media(const mh_rec *rec);

/* 1 when built with AddressSanitizer. */
int mh_asan(void);

#endif
