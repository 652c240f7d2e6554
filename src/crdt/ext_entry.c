/*
 * ext_entry.c — entry points of the loadable extension (backless_crdt.so).
 *
 * SQLite derives the default entry point from the file name:
 * "backless_crdt.so" -> sqlite3_backlesscrdt_init. The same file, copied to
 * crsqlite.so, is a drop-in for cr-sqlite and is entered through
 * sqlite3_crsqlite_init. sqlite3_extension_init is the generic fallback.
 * Only this file defines the sqlite3_api routine table.
 */
#include "crdt/crdt.h"

SQLITE_EXTENSION_INIT1

#define BL_EXPORT __attribute__((visibility("default")))

static int ext_init(sqlite3 *db, char **errmsg, const sqlite3_api_routines *api) {
  SQLITE_EXTENSION_INIT2(api);
  return bl__crdt_init(db, errmsg);
}

BL_EXPORT int sqlite3_backlesscrdt_init(sqlite3 *db, char **errmsg,
                                        const sqlite3_api_routines *api) {
  return ext_init(db, errmsg, api);
}

BL_EXPORT int sqlite3_crsqlite_init(sqlite3 *db, char **errmsg,
                                    const sqlite3_api_routines *api) {
  return ext_init(db, errmsg, api);
}

BL_EXPORT int sqlite3_extension_init(sqlite3 *db, char **errmsg,
                                     const sqlite3_api_routines *api) {
  return ext_init(db, errmsg, api);
}
