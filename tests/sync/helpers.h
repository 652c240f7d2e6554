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

#endif
