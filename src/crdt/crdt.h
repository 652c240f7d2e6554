/*
 * crdt.h — internal interface of the CRDT engine (src/crdt).
 *
 * The engine is SQL-compatible with cr-sqlite 0.16: same functions, same
 * crsql_changes virtual table, same merge rules, same packed primary keys.
 * Its storage differs for speed: cr-sqlite keeps one clock row per (row,
 * column) plus a primary-key lookaside table; we keep ONE clock row per base
 * row, keyed by the row's primary key, with the metadata of every column in
 * columns of that row. cr-sqlite's layout remains visible as the views
 * "<t>__crsql_clock" and "<t>__crsql_pks" (as_crr.c). The layout of our
 * storage table "<t>__crsql_clk" (a rowid table: the key is its INTEGER
 * PRIMARY KEY when the base table's key is one, otherwise a UNIQUE
 * constraint over the key columns):
 *
 *   <pk columns>            same names as the base table's primary key
 *                           (no declared type: values are stored exactly as
 *                           cr-sqlite's lookaside stores them)
 *   __crsql_dbv             max db_version over the row's entries
 *   __crsql_dbvb            its bucket, __crsql_dbv >> BL_DBV_BUCKET_SHIFT
 *                           (indexed: "db_version > ?" reads range over
 *                           buckets and filter on __crsql_dbv; a write
 *                           that leaves the bucket alone leaves the index
 *                           alone). Absent in the legacy layout of clocks
 *                           written before it existed (bl_table.legacy);
 *                           crsql_as_crr upgrades those.
 *   __crsql_cl, __crsql_cl_dbv, __crsql_cl_site, __crsql_cl_seq
 *                           the sentinel entry (cid '-1'): col_version is
 *                           the causal length; NULL when cr-sqlite would
 *                           have no sentinel row
 *   "<c>__crsql_v", "<c>__crsql_dbv", "<c>__crsql_site", "<c>__crsql_seq"
 *                           the entry of non-primary-key column c; NULL
 *                           col_version when cr-sqlite would have no row
 *
 * Site ids are stored as ordinals of crsql_site_id (0 = this database), as
 * cr-sqlite does. See docs/CRDT.md for the rules.
 *
 * Files:
 *   pack.c          crsql_pack_columns format, value comparison
 *   state.c         per-connection state, db_version, site id, hooks
 *   tableinfo.c     table introspection, compatibility checks, statements
 *   as_crr.c        crsql_as_crr / as_table / begin_alter / commit_alter
 *   local_writes.c  trigger functions tracking local INSERT/UPDATE/DELETE
 *   merge.c         INSERT INTO crsql_changes (remote change merge)
 *   changes_vtab.c  the crsql_changes virtual table
 *   functions.c     registration of every SQL function
 *   fractindex.c    crsql_fract_as_ordered and fractional index keys
 *   ext_entry.c     loadable-extension entry points (extension build only)
 */
#ifndef BL_CRDT_H
#define BL_CRDT_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/sqlite_api.h"
#include "backless.h"

#define BL_SITE_ID_LEN 16
#define BL_SENTINEL "-1"
#define BL_MAX_NAME_LEN 2048
#define BL_CRSQLITE_VERSION 160300 /* the cr-sqlite version we mirror: 0.16.3 */
/* Clock rows are indexed by __crsql_dbv >> BL_DBV_BUCKET_SHIFT (crdt.h). */
#define BL_DBV_BUCKET_SHIFT 6
#define BL_LW_CACHE 8 /* cached local-update statements per table */

/* ------------------------------------------------------------ pack.c */

/* SQLite fundamental type codes, as cr-sqlite's pack format uses them. */
enum { BL_T_INTEGER = 1, BL_T_FLOAT = 2, BL_T_TEXT = 3, BL_T_BLOB = 4, BL_T_NULL = 5 };

/* One value unpacked from a packed-columns blob. Text and blob point into
 * the packed buffer (borrowed; valid while the buffer is). */
typedef struct bl_pkval {
  int type;
  sqlite3_int64 i;
  double r;
  const unsigned char *p;
  int n;
} bl_pkval;

/* Packs argc values exactly as cr-sqlite's crsql_pack_columns. On success
 * *out is a sqlite3_malloc'ed buffer of *out_len bytes owned by the caller.
 * Returns SQLITE_OK, SQLITE_NOMEM, or SQLITE_ABORT for more than 255 values. */
int bl__pack_values(int argc, sqlite3_value **argv, unsigned char **out, int *out_len);

/* Unpacks a packed-columns blob into out[0..max). Sets *count. Returns
 * SQLITE_OK or SQLITE_ERROR with *err set to a static message for a
 * truncated or malformed blob, or one with more than max values. */
int bl__unpack(const unsigned char *buf, int len, bl_pkval *out, int max, int *count,
               const char **err);

/* Binds an unpacked value to parameter idx (text and blob SQLITE_TRANSIENT). */
int bl__bind_pkval(sqlite3_stmt *stmt, int idx, const bl_pkval *v);

/* Compares two values as cr-sqlite does for merge tie-breaks: values of
 * different types order by type (NULL lowest, then blob, text, real,
 * integer highest); same types compare by value (bytes for text and blob).
 * Returns <0, 0 or >0. */
int bl__compare_values(sqlite3_value *l, sqlite3_value *r);

/* ------------------------------------------------------------ tableinfo.c */

typedef struct bl_col {
  char *name;
  /* Cached statements, prepared lazily (see tableinfo.c). */
  sqlite3_stmt *merge_upsert;   /* INSERT (pks, c) ... ON CONFLICT DO UPDATE SET c */
} bl_col;

typedef struct bl_table {
  char *name;
  int npk;
  bl_col *pks; /* in PRIMARY KEY order */
  int ncol;
  bl_col *cols; /* non-pk columns in table order */
  int pk_is_rowid; /* single INTEGER PRIMARY KEY aliasing the rowid */
  int legacy;      /* clock without __crsql_dbvb (written by an older engine) */

  /* Cached statements (NULL until first use). */
  sqlite3_stmt *clock_select;  /* SELECT all clock columns WHERE pk */
  sqlite3_stmt *clock_write;   /* INSERT a whole clock row */
  sqlite3_stmt *clock_update;  /* UPDATE a whole clock row in place (and its bucket) */
  sqlite3_stmt *clock_update_same; /* same, bucket unchanged (not in the SET list) */
  sqlite3_stmt *clock_delete;  /* DELETE the clock row WHERE pk */
  sqlite3_stmt *row_select;    /* SELECT non-pk columns of the base row */
  sqlite3_stmt *row_delete;    /* DELETE base row WHERE pk */
  sqlite3_stmt *row_insert_pk; /* INSERT OR IGNORE base row (pks only) */
  sqlite3_stmt *local_insert;  /* clock row of a fresh local insert (ON CONFLICT DO NOTHING) */
  /* In-place clock updates of local UPDATEs, by the mask of changed
   * columns: [0] for a row whose bucket stays, [1] moving it. */
  struct {
    sqlite3_uint64 mask;
    sqlite3_stmt *stmt[2];
  } lw_update[BL_LW_CACHE];
  int lw_next;
  /* Clock-row INSERTs whose present entries share db_version and site, by
   * the mask of present entries (clock.c). */
  struct {
    sqlite3_uint64 mask;
    sqlite3_stmt *stmt;
  } clock_ins[BL_LW_CACHE];
  int clock_ins_next;
} bl_table;

/* Number of clock columns for a table: npk + 1 + 4 * (ncol + 1). */
#define BL_CLOCK_NCOLS(t) ((t)->npk + 1 + 4 * ((t)->ncol + 1))

struct bl_crdt;

/* Loads the description of table `name` (must exist). On failure returns an
 * SQLite code and sets *err (sqlite3_malloc'ed). */
int bl__table_load(sqlite3 *db, const char *name, bl_table **out, char **err);
void bl__table_free(bl_table *t);
/* Sets t->legacy: 1 when the table's clock lacks __crsql_dbvb. */
int bl__table_check_layout(sqlite3 *db, bl_table *t);
void bl__table_finalize_stmts(bl_table *t);

/* Checks that `name` can be a CRR, with cr-sqlite's conditions and messages.
 * Returns SQLITE_OK, or SQLITE_ERROR with *err set (sqlite3_malloc'ed). */
int bl__table_check_compatible(sqlite3 *db, const char *name, char **err);

/* Returns the table description for a CRR, refreshing the cache when the
 * schema changed. NULL when `name` is not a CRR. */
int bl__tables_refresh(struct bl_crdt *st, char **err);
bl_table *bl__table_find(struct bl_crdt *st, const char *name, int len);

/* Prepares `sql` (persistent) into *stmt unless already prepared. */
int bl__prepare_cached(sqlite3 *db, sqlite3_stmt **stmt, const char *sql);

/* ------------------------------------------------------------ state.c */

typedef struct bl_crdt {
  sqlite3 *db;
  unsigned char site_id[BL_SITE_ID_LEN];
  sqlite3_int64 db_version;  /* committed db_version, -1 when unknown */
  sqlite3_int64 pending;     /* db_version of the open transaction, -1 if none */
  int seq;                   /* next seq in the open transaction */
  int sync_bit;              /* 1 while merging: local-write triggers stay quiet */
  int rows_impacted;
  int merge_equal_values;    /* crsql_config 'merge-equal-values' */
  int data_version;          /* PRAGMA data_version at last db_version read */
  int tables_checked_this_tx;
  int schema_version;        /* PRAGMA schema_version the table cache matches */
  int ntables;
  bl_table **tables;
  sqlite3_stmt *st_data_version;
  sqlite3_stmt *st_schema_version;
  sqlite3_stmt *st_site_ordinal;   /* SELECT ordinal FROM crsql_site_id WHERE site_id = ? */
  sqlite3_stmt *st_site_insert;    /* INSERT INTO crsql_site_id (site_id) ... RETURNING ordinal */
  sqlite3_stmt *st_db_version;     /* max db_version over all clock tables */
  /* The last site looked up (merges arrive in runs from one site). Cleared
   * at the end of every transaction, since a rollback may undo an ordinal. */
  unsigned char site_cache[BL_SITE_ID_LEN];
  int site_cache_len;
  sqlite3_int64 site_cache_ordinal;
  struct bl_merger *merger; /* merge.c's row buffer, created on first merge */
  /* Changes held back by crsql_changes (changes_pending.c). */
  struct bl_pending *pend;
  int pend_flushing;          /* writing them: savepoint calls are the flush's own */
  int sp_depth;               /* savepoints open, as xSavepoint/xRelease told the vtab */
  int run_valid;              /* run_mark is set (an insert ended, same transaction) */
  sqlite3_int64 run_mark;     /* sqlite3_total_changes64() when the last insert ended */
  int run_depth;              /* sp_depth then */
} bl_crdt;

/* Creates the per-connection state: crsql_master, crsql_site_id and the
 * site id. */
int bl__state_new(sqlite3 *db, bl_crdt **out, char **err);
void bl__state_free(bl_crdt *st);
/* Finalizes every cached statement (they are re-prepared on demand). */
void bl__state_finalize_stmts(bl_crdt *st);
/* Marks the table cache stale (after our own DDL). */
void bl__state_invalidate_tables(bl_crdt *st);
/* Makes the next use re-check the schema version (cheap). */
void bl__state_invalidate_tables_soft(bl_crdt *st);

/* The committed db_version (reads storage if another connection wrote). */
int bl__db_version(bl_crdt *st, sqlite3_int64 *out);
/* The db_version for the open transaction: max(db_version + 1, pending,
 * merging). Sets pending. */
int bl__next_db_version(bl_crdt *st, sqlite3_int64 merging, sqlite3_int64 *out);
/* Ordinal for a site id (0 for ours), creating one if needed. */
int bl__site_ordinal(bl_crdt *st, const unsigned char *site, int len, sqlite3_int64 *out);

/* Transaction boundaries (commit / rollback hooks). */
void bl__state_tx_end(bl_crdt *st, int committed);

/* ------------------------------------------------------------ local_writes.c */
void bl__fn_after_insert(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void bl__fn_after_update(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void bl__fn_after_delete(sqlite3_context *ctx, int argc, sqlite3_value **argv);
/* The functions the installed triggers call (see local_writes.c). */
void bl__fn_lw_insert(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void bl__fn_lw_update(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void bl__fn_lw_delete(sqlite3_context *ctx, int argc, sqlite3_value **argv);
/* Registers the table-valued function bl_lw_update_t (the UPDATE trigger's;
 * for tables whose trigger passes at most BL_LW_TVF_MAX_ARGS values). */
#define BL_LW_TVF_MAX_ARGS 200
int bl__lw_register(sqlite3 *db, bl_crdt *st);

/* ------------------------------------------------------------ as_crr.c */
void bl__fn_as_crr(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void bl__fn_as_table(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void bl__fn_begin_alter(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void bl__fn_commit_alter(sqlite3_context *ctx, int argc, sqlite3_value **argv);

/* ------------------------------------------------------------ merge.c */

/* One change as crsql_changes columns describe it (the public
 * bl_crdt_change of backless.h). */
typedef bl_crdt_change bl_change;

/* Merges one remote change. Returns an SQLite code; on error *err is set
 * (sqlite3_malloc'ed) and nothing of the change is applied. */
int bl__merge_change(bl_crdt *st, const bl_change *ch, char **err);

/* Merges changes[0..n) in order, keeping consecutive changes of one row
 * together (one base write and one clock write per row). On error *err is
 * set and the changes before the failing one may be applied: the caller
 * runs it inside a savepoint (bl_crdt_merge does). */
int bl__merge_batch(bl_crdt *st, const bl_change *changes, size_t n, char **err);

/* Checks a change as a merge would (table, column, key), writing nothing. */
int bl__merge_validate(bl_crdt *st, const bl_change *ch, char **err);

/* Changes held back by crsql_changes until their statement ends
 * (changes_pending.c). bl__pending_add returns SQLITE_DONE when the change
 * must be merged at once. */
typedef struct bl_pending bl_pending;
int bl__pending_add(bl_crdt *st, const bl_change *ch, char **err);
int bl__pending_flush(bl_crdt *st, char **err);
/* The same before an SQL function's work: 0 with the error set on ctx. */
int bl__pending_flush_fn(sqlite3_context *ctx, bl_crdt *st);
size_t bl__pending_count(const bl_crdt *st);
void bl__pending_discard(bl_crdt *st);
void bl__pending_free(bl_crdt *st);
void bl__pending_mark_run(bl_crdt *st);
void bl__pending_savepoint(bl_crdt *st, int n);
int bl__pending_release(bl_crdt *st, int n, char **err);
void bl__pending_rollback_to(bl_crdt *st, int n);
void bl__pending_tx_boundary(bl_crdt *st);
int bl__only_engine_triggers(sqlite3 *db);

struct bl_merger;
void bl__merger_free(struct bl_merger *mg);
/* Finalizes the merger's statements and drops any open row. */
void bl__merger_forget_stmts(struct bl_merger *mg);

/* ------------------------------------------------------------ changes_vtab.c */
int bl__changes_vtab_register(sqlite3 *db, bl_crdt *st);

/* ------------------------------------------------------------ fractindex.c */
int bl__fractindex_register(sqlite3 *db);

/* ------------------------------------------------------------ functions.c */

/* Registers everything on a connection (the body of every entry point). */
int bl__crdt_init(sqlite3 *db, char **errmsg);

/* ------------------------------------------------------------ util */

/* sqlite3_mprintf-built identifier helpers: "%w" quoting is used everywhere;
 * identifiers taken from changes or files are never pasted unquoted. */
char *bl__ident_list(const bl_col *cols, int n, const char *prefix);
char *bl__where_list(const bl_col *cols, int n, const char *prefix, int first_param);

#endif /* BL_CRDT_H */
