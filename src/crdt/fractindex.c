/*
 * fractindex.c — crsql_fract_as_ordered and fractional index keys.
 * (Placeholder being replaced by the full implementation.)
 */
#include "crdt/crdt.h"

int bl__fractindex_register(sqlite3 *db) { (void)db; return SQLITE_OK; }
