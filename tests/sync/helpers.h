/*
 * helpers.h — shared helpers of the sync tests: temporary folders, devices
 * (databases opened with a small todo schema), a folder remote, and state
 * dumps to compare devices.
 */
#ifndef BL_TEST_SYNC_HELPERS_H
#define BL_TEST_SYNC_HELPERS_H

#include <stdint.h>

#include "backless.h"
#include "backless/remote.h"

/* A fresh temporary directory (mkdtemp); removed by th_rmtree. The string
 * is malloc'ed. */
char *th_tmpdir(void);
void th_rmtree(const char *path);

/* The test schema: version `version` (1 or 2) of
 *   todos(id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL DEFAULT '',
 *         done INTEGER NOT NULL DEFAULT 0 [, priority TEXT NOT NULL DEFAULT 'normal' in v2])
 *   notes(id INTEGER PRIMARY KEY NOT NULL, body TEXT, data BLOB)
 *   local_cache(k TEXT PRIMARY KEY, v)  -- not synced
 * Synced: todos, notes. */
const bl_schema *th_schema(int version);

typedef struct th_opts {
  int schema_version; /* 0 = 1 */
  int threshold;      /* 0 = default */
  int grace;
  bl_mismatch mismatch;
} th_opts;

/* Opens device database `file` inside `dir` ("<dir>/<file>"). */
/* The compression th_open gives a new app folder: the library's default
 * (zstd, so the envelope is exercised), or BL_COMPRESSION_NONE for tests
 * that read or forge the plain JSON of files (version 1 settings). */
extern int th_compression;
bl_db *th_open(const char *dir, const char *file, const th_opts *o);

/* A folder remote at "<dir>/cloud" (created). */
bl_remote *th_remote(const char *dir);

/* Runs SQL on the device; aborts the test program on error. */
void th_exec(bl_db *db, const char *sql);
/* printf-style th_exec. */
void th_execf(bl_db *db, const char *fmt, ...);
/* First column of the first row as int64 (0 when no row). */
int64_t th_int(bl_db *db, const char *sql);

/* The user-visible state of the synced tables, as one malloc'ed string. */
char *th_dump(bl_db *db);
/* The CRDT state: every crsql_changes row except db_version, sorted. */
char *th_dump_clock(bl_db *db);

/* bl_sync with a result; prints errors/warnings when verbose (env
 * BL_TEST_VERBOSE). Returns the status. */
int th_sync(bl_db *db, bl_remote *r, bl_sync_result *res);

/* Number of files named like `prefix*` in the cloud folder of device db. */
int th_count_files(const char *dir, bl_db *db, const char *prefix);
/* Path of the cloud folder of device db (static buffer). */
const char *th_device_folder(const char *dir, bl_db *db);

/* 1 when the result has a warning / error with this code. */
int th_has_warning(const bl_sync_result *r, int code);
int th_has_error(const bl_sync_result *r, int code);

/* ------------------------------------------------------------------------
 * Added for the scenario, random, fault, crash and concurrency tests.
 */

/* Cursor of `db` for remote device `device` (0 when none). */
int64_t th_cursor(bl_db *db, const char *device);

/* Sequence numbers of the files named `prefix`NNNNN.json (prefix "cs-" or
 * "snapshot-") in the cloud folder of device id `device` under
 * "<dir>/cloud/Backless/changesets", sorted ascending, into out[0..max).
 * Returns how many there are (possibly more than max). Temporary files and
 * other names are ignored. */
int th_cloud_seqs(const char *dir, const char *device, const char *prefix, int64_t *out, int max);

/* 1 when a reader can walk the device's folder: the cs files after its
 * latest snapshot S (after 0 when it has none) are exactly S+1 .. highest,
 * without a hole (older files that compaction left behind do not count).
 * On return *lo / *hi (either may be NULL) are the lowest and highest cs
 * sequence, 0 when none. */
int th_cs_contiguous(const char *dir, const char *device, int64_t *lo, int64_t *hi);

/* Copies the tree `src` to `dst` (which must not exist): regular files,
 * folders. Returns 0 on success. */
int th_copytree(const char *src, const char *dst);

/* Syncs dbs[0..n) in order, `rounds` times; returns the number of syncs that
 * did not return BL_OK (each printed to stderr). */
int th_sync_rounds(bl_db **dbs, int n, bl_remote *r, int rounds);

/* The CRDT state as far as converged devices must agree on it (docs/CRDT.md
 * section 6, "Properties"): every crsql_changes row's table, pk, cid, val,
 * col_version and cl, sorted. Left out: site_id (two devices that delete
 * one row, or write one value at one col_version, each keep their own
 * entry, as in cr-sqlite) and '-1' entries of cl 1 (recorded or not
 * depending on the order a row's changes were merged in). */
char *th_dump_clock_canon(bl_db *db);

/* 1 when every device of dbs[0..n) has the same th_dump and
 * th_dump_clock_canon;
 * otherwise prints the first difference (labelled with `what`) and
 * returns 0. */
int th_converged(bl_db **dbs, int n, const char *what);

#endif
