/*
 * backless.h — public interface of libbackless.
 *
 * backless gives an application a local-first SQLite database that syncs
 * between a user's devices through the user's own cloud storage. This header
 * is the umbrella: it declares the error codes and the CRDT engine entry
 * points; module headers beside it (include/backless/...) hold the rest.
 *
 * Conventions: every fallible function returns an int, BL_OK (0) or a
 * negative BL_E* code. Codes are only ever added at the end.
 */
#ifndef BACKLESS_H
#define BACKLESS_H

#include <stddef.h>
#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BL_VERSION_STRING "0.1.0"

/* Status codes. Never renumbered; new codes are added at the end. */
enum {
  BL_OK = 0,
  BL_ERROR = -1,        /* generic failure; see the message */
  BL_ENOMEM = -2,       /* out of memory */
  BL_EMISUSE = -3,      /* the API was used wrongly (NULL handle, bad option) */
  BL_ENOTFOUND = -4,    /* a named object does not exist */
  BL_ECORRUPT = -5,     /* input (a file, a change, a blob) is malformed */
  BL_ESCHEMA = -6,      /* schema problem: unknown table or column, version mismatch */
  BL_EAUTH = -7,        /* authentication failed or token expired */
  BL_ERATELIMIT = -8,   /* the service asked us to slow down */
  BL_EIO = -9,          /* local or remote I/O failed */
  BL_ESQLITE = -10      /* SQLite reported an error */
};

/* Static English text for a status code. Never NULL. */
const char *bl_strerror(int code);

/*
 * Registers the CRDT engine (cr-sqlite 0.16 compatible SQL functions and the
 * crsql_changes virtual table) on one connection. Returns an SQLite result
 * code (SQLITE_OK on success) and, on failure, sets *errmsg to a message the
 * caller frees with sqlite3_free (errmsg may be NULL).
 *
 * The connection must be closed only after running `SELECT crsql_finalize()`
 * or simply with sqlite3_close_v2: the engine frees its state when the
 * connection closes.
 */
int bl_crdt_register(sqlite3 *db, char **errmsg);

/*
 * Registers the CRDT engine on every connection opened after this call in
 * this process (sqlite3_auto_extension). Returns an SQLite result code.
 */
int bl_crdt_auto_register(void);

/*
 * One change, as the columns of crsql_changes describe it. Every pointer is
 * borrowed for the duration of the call that receives it. `val` is any
 * SQLite value (from sqlite3_column_value, or sqlite3_value_dup). Text
 * lengths are in bytes.
 */
typedef struct bl_crdt_change {
  const char *table;
  int table_len;
  const unsigned char *pk; /* packed primary key, crsql_pack_columns format */
  int pk_len;
  const char *cid; /* column name, or "-1" for the row sentinel */
  int cid_len;
  sqlite3_value *val;
  sqlite3_int64 col_version;
  sqlite3_int64 db_version;
  const unsigned char *site_id; /* 16 bytes, or NULL */
  int site_id_len;
  sqlite3_int64 cl;
  sqlite3_int64 seq;
} bl_crdt_change;

/*
 * Merges changes[0..n) into `db` (which has the engine registered), with
 * exactly the rules of `INSERT INTO crsql_changes`, but keeping consecutive
 * changes of one row together: a row of k columns costs one base-table
 * write and one clock write instead of k of each. Use it to apply a
 * changeset; group each row's changes together for speed.
 *
 * All or nothing: on error nothing of the call is applied, SQLITE_* is
 * returned and *errmsg (if not NULL) receives a message to sqlite3_free.
 */
int bl_crdt_merge(sqlite3 *db, const bl_crdt_change *changes, size_t n, char **errmsg);

#ifdef __cplusplus
}
#endif

#endif /* BACKLESS_H */
