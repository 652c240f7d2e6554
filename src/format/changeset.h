/*
 * changeset.h — the changeset / snapshot file format (docs/FORMAT.md):
 * a streaming writer and a streaming reader.
 *
 * A file is one JSON object. The header keys come first and the "changes"
 * array last (only "count" may follow it), so a reader can check the header
 * before touching any change and then handle the changes in batches with
 * memory that does not grow with the file:
 *
 *   {"format":"backless","version":1,"kind":"changeset",
 *    "device":"<uuid>","sequence":12,"schema_version":2,
 *    "db_versions":[5,9],
 *    "changes":[
 *      ["todos","<pk base64>","title","Buy milk",1,5,"<site hex>",1,0],
 *      ["todos","<pk base64>","done",1,2,6,0,1,1],
 *      ...],
 *    "count":2}
 *
 * A change is [table, pk, cid, val, col_version, db_version, site, cl, seq].
 * site is the 32-hex-digit site id the first time a site appears in the
 * file, afterwards its index (0, 1, ... in order of first appearance).
 * val: null; a JSON string for valid UTF-8 text; a JSON integer for
 * integers in [-(2^53-1), 2^53-1]; {"i":"<decimal>"} for other integers;
 * {"r":"<%.17g>"} for reals ("inf", "-inf" included); {"t":"<base64>"} for
 * text that is not valid UTF-8; {"b":"<base64>"} for blobs.
 *
 * The format layer knows nothing of SQLite connections: values are plain
 * typed structs (bl_cs_value); src/sync turns them into sqlite3_values.
 */
#ifndef BL_FORMAT_CHANGESET_H
#define BL_FORMAT_CHANGESET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BL_FORMAT_NAME "backless"
#define BL_FORMAT_VERSION 1

typedef enum bl_cs_kind { BL_CS_CHANGESET = 1, BL_CS_SNAPSHOT = 2 } bl_cs_kind;

typedef struct bl_cs_header {
  int format_version;      /* BL_FORMAT_VERSION */
  bl_cs_kind kind;
  char device[37];         /* lowercase UUID, NUL-terminated */
  int64_t sequence;        /* >= 1 */
  int64_t schema_version;  /* >= 1 */
  int64_t db_version_min;  /* the local db_versions covered: (min, max] */
  int64_t db_version_max;
} bl_cs_header;

/* A value with its SQLite type (SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT,
 * SQLITE_BLOB, SQLITE_NULL). p/n hold text or blob bytes (borrowed). */
typedef struct bl_cs_value {
  int type;
  int64_t i;
  double f;
  const unsigned char *p;
  int n;
} bl_cs_value;

/* One change. Pointers are borrowed. */
typedef struct bl_cs_change {
  const char *table;
  int table_len;
  const unsigned char *pk;
  int pk_len;
  const char *cid;
  int cid_len;
  bl_cs_value val;
  int64_t col_version;
  int64_t db_version;
  const unsigned char *site_id; /* 16 bytes */
  int64_t cl;
  int64_t seq;
} bl_cs_change;

/* ------------------------------------------------------------------ writer */

typedef struct bl_cs_writer bl_cs_writer;

/* Starts a file on `out` (borrowed, must stay open until finish) with
 * header `h` (copied). Returns BL_OK, BL_ENOMEM, BL_EIO, or BL_EMISUSE for
 * a header a reader would refuse (format_version other than
 * BL_FORMAT_VERSION, a device that is not a lowercase UUID, sequence or
 * schema_version < 1, db_versions not 0 <= min <= max). The writer's
 * messages go to the thread's last error, bl_errmsg(NULL). */
int bl_cs_writer_open(bl_cs_writer **out, FILE *fp, const bl_cs_header *h);

/* Appends one change. BL_EMISUSE for a change that cannot be written (a
 * NULL table, a site id that is not 16 bytes, a negative counter; table
 * and cid must be non-empty UTF-8 without NUL, pk non-empty, a real not
 * NaN); nothing of a refused change is written. BL_EIO once a write failed
 * (sticky), BL_ENOMEM. */
int bl_cs_writer_add(bl_cs_writer *w, const bl_cs_change *c);

/* Closes the array, writes "count" and flushes. BL_EIO when a write
 * failed (at any point since open). */
int bl_cs_writer_finish(bl_cs_writer *w);

/* Number of changes added so far. */
int64_t bl_cs_writer_count(const bl_cs_writer *w);

void bl_cs_writer_free(bl_cs_writer *w);

/* ------------------------------------------------------------------ reader */

typedef struct bl_cs_reader_cb {
  /* Called once, when the header is complete (at the "changes" key), after
   * it was validated. Return BL_OK to go on; any other code stops the read
   * and bl_cs_read returns it. May be NULL. */
  int (*on_header)(const bl_cs_header *h, void *payload);
  /* Called with consecutive batches of 1..batch changes in file order.
   * Pointers are valid only during the call. Same return convention.
   * table and cid are NUL-terminated (table[table_len] == '\0'); text and
   * blob values have p != NULL (NUL after the bytes) even when n == 0. */
  int (*on_changes)(const bl_cs_change *changes, size_t n, void *payload);
  void *payload;
} bl_cs_reader_cb;

/*
 * Reads a whole file from `fp`, streaming: memory stays bounded by `batch`
 * changes (plus their values) whatever the file's size. Validates
 * everything (syntax, header fields, every change's shape and types, site
 * references, "count", nothing after the object) and returns BL_OK,
 * BL_ECORRUPT (with *errmsg set, malloc'ed, to a one-line message naming
 * the problem and, when it helps, the change's index), BL_ENOMEM, BL_EIO,
 * or the code a callback returned. Because changes are delivered before the
 * end of the file is checked, a caller must apply them inside a transaction
 * it rolls back unless BL_OK is returned. errmsg may be NULL.
 *
 * A file whose "version" is above BL_FORMAT_VERSION returns BL_ESCHEMA
 * (not BL_ECORRUPT), with the message "changeset format version N is newer
 * than this build supports (1)", even when it also has keys or values this
 * build does not know: the caller can tell "update the app" from "broken
 * file". BL_EMISUSE for fp == NULL or batch == 0. *errmsg is set (to a
 * malloc'ed line the caller frees) for every return other than BL_OK, and
 * is NULL on BL_OK; change indexes in messages count from 0.
 */
int bl_cs_read(FILE *fp, const bl_cs_reader_cb *cb, size_t batch, char **errmsg);

/* ------------------------------------------------------------------ names */

/* Parses "cs-<digits>.json" / "snapshot-<digits>.json" (at least 5 digits,
 * value 1 .. 10^15): returns 1 and sets *kind and *seq, or 0. Only the
 * name bl_cs_format_name gives is accepted (no extra leading zeros:
 * "cs-000012.json" is refused), so each sequence has one name. */
int bl_cs_parse_name(const char *name, bl_cs_kind *kind, int64_t *seq);

/* Writes the name of file `seq` of `kind` ("cs-00012.json") into buf.
 * Returns BL_OK or BL_EMISUSE when it does not fit (or seq is outside
 * 1 .. 10^15, or kind is unknown). */
int bl_cs_format_name(char *buf, size_t size, bl_cs_kind kind, int64_t seq);

/* Parses a device folder name "device-<uuid>" (lowercase 8-4-4-4-12 hex):
 * returns 1 and copies the uuid into uuid[37], or 0. */
int bl_cs_parse_device_folder(const char *name, char uuid[37]);

#endif /* BL_FORMAT_CHANGESET_H */
