/*
 * sqlite_api.h — how CRDT engine sources reach SQLite.
 *
 * The same sources are compiled twice: into libbackless with SQLITE_CORE
 * defined (direct calls into the linked SQLite), and into the loadable
 * extension without it, where sqlite3ext.h routes every call through the
 * host's sqlite3_api routine table. Every file of src/crdt includes this
 * header instead of <sqlite3.h>.
 */
#ifndef BL_CRDT_SQLITE_API_H
#define BL_CRDT_SQLITE_API_H

#include <sqlite3ext.h>
#ifndef SQLITE_CORE
extern const sqlite3_api_routines *sqlite3_api;
#endif

#endif
