/*
 * clock.h — one row's clock record (see clock.c and the layout in crdt.h).
 */
#ifndef BL_CRDT_CLOCK_H
#define BL_CRDT_CLOCK_H

#include "crdt/crdt.h"

/* One entry: what cr-sqlite keeps as one clock-table row. */
typedef struct bl_entry {
  int present;
  sqlite3_int64 v;    /* col_version (the causal length for the sentinel) */
  sqlite3_int64 dbv;  /* db_version */
  sqlite3_int64 site; /* ordinal in crsql_site_id, 0 = this database */
  sqlite3_int64 seq;
} bl_entry;

/* e[0] is the sentinel, e[i + 1] the entry of t->cols[i]. */
typedef struct bl_clock {
  int stored; /* a clock row exists in storage */
  sqlite3_int64 stored_dbv; /* its __crsql_dbv when stored */
  bl_entry e[];
} bl_clock;

/* Allocates an empty record for table t (sqlite3_free it). */
bl_clock *bl__clock_new(const bl_table *t);
/* Loads the record of the row whose primary key is pks (absent = empty). */
int bl__clock_load_values(sqlite3 *db, bl_table *t, sqlite3_value **pks, bl_clock *c);
int bl__clock_load_packed(sqlite3 *db, bl_table *t, const bl_pkval *pks, bl_clock *c);
/* Stores the record (deleting the clock row when no entry is left). */
int bl__clock_store_values(sqlite3 *db, bl_table *t, sqlite3_value **pks, bl_clock *c);
int bl__clock_store_packed(sqlite3 *db, bl_table *t, const bl_pkval *pks, bl_clock *c);
/* 1 when some entry is present (cr-sqlite: a clock row exists for the key). */
int bl__clock_any(const bl_table *t, const bl_clock *c);

int bl__clock_bind_pks_values(sqlite3_stmt *stmt, int first, sqlite3_value **pks, int npk);
int bl__clock_bind_pks_packed(sqlite3_stmt *stmt, int first, const bl_pkval *pks, int npk);

/* Appends ", <prefix>"<entry col>"" for every metadata column, in storage
 * order (sentinel first, then columns; v, dbv, site, seq each). */
void bl__clock_entry_cols(sqlite3_str *s, const bl_table *t, const char *prefix);
/* The quoted name of metadata column k (0 v, 1 dbv, 2 site, 3 seq) of an
 * entry (sqlite3_free it). */
char *bl__clock_col_name(const bl_table *t, int entry, int k);

#endif
