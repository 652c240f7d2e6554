/*
 * fuzz_changes_merge.c — libFuzzer target for merging remote changes:
 * arbitrary table names, packed primary keys, cids, values, versions, site
 * ids and causal lengths go through INSERT INTO crsql_changes on a small
 * database with two CRRs.
 *
 * Each input runs on a fresh in-memory database (so a crash reproduces from
 * its input alone) holding
 *   t (a NOT NULL, b NOT NULL, c, d, PRIMARY KEY (a, b))   typeless pk
 *   u (id INTEGER PRIMARY KEY NOT NULL, x TEXT, y REAL)    rowid pk
 * with a few rows. Any change may be rejected with an error; what is
 * checked (abort() on violation) is:
 *   - no crash, no sanitizer report, no SQLITE_CORRUPT / SQLITE_INTERNAL,
 *     and every error comes with a message;
 *   - PRAGMA integrity_check stays "ok" and crsql_changes stays readable;
 *   - local writes still work afterwards (the triggers cope with the state);
 * and, when every accepted change is well-formed (below):
 *   - every row of t has a live entry (odd cl) in crsql_changes, and every
 *     live entry of t in crsql_changes has its row;
 *   - merging is idempotent: applying the accepted changes a second time
 *     leaves the rows and the CRDT metadata unchanged;
 *   - merging the accepted changes in one INSERT ... SELECT (held back and
 *     merged in batches, src/crdt/changes_pending.c) on a fresh copy of the
 *     database succeeds and leaves the same rows and metadata (unless a
 *     failing change ended the transaction of the one-by-one run).
 *
 * Well-formed: a change that is a sentinel (cid '-1') or a delete (even cl)
 * has col_version == cl, as every change cr-sqlite emits does. cr-sqlite
 * 0.16 stores such a change's col_version as the row's causal length, so a
 * malformed one (cl 3, col_version 2) leaves a live row whose causal length
 * reads as even; the engine mirrors that, and the checks above would flag
 * cr-sqlite's own behaviour. Malformed changes are still merged and checked
 * for everything else.
 *
 * Input format (missing bytes read as 0):
 *   byte 0        bit 0: apply all changes in one transaction
 *   then up to 16 changes, each:
 *     op          bits 0-1 table: 0,2 "t"; 1 "u"; 3 raw name (len%16, bytes)
 *                 bits 2-3 pk: 0,1 packed from values (two for t, one
 *                 otherwise); 2 raw bytes (len%64, bytes); 3 NULL
 *                 bits 4-6 cid: c d -1 x y a id, 7 raw (len%16, bytes)
 *                 bit 7    versions and cl are 8-byte integers, not 1 byte
 *     val         a value (below)
 *     col_version, db_version   integers
 *     site        0 site 1, 1 site 2, 2 NULL, 3 raw (len%20, bytes)
 *     cl          integer
 *     seq         1 byte
 *   value: type byte %6: 0 int8, 1 int64 (8 bytes), 2 real (8 bytes),
 *          3 text (len%32, bytes), 4 blob (len%32, bytes), 5 NULL
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"

#define FZ_MAX_CHANGES 16

/* BL_FUZZ_VERBOSE=1 in the environment prints every change and its result
 * (to write seeds, or to read a crash). */
static int fz_verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *v = getenv("BL_FUZZ_VERBOSE");
  fz_verbose = v && *v && *v != '0';
  return 0;
}

typedef struct fz_reader {
  const uint8_t *p;
  size_t n;
} fz_reader;

static void fz_fail(const char *what, sqlite3 *db) {
  fprintf(stderr, "fuzz_changes_merge: %s%s%s\n", what, db ? ": " : "",
          db ? sqlite3_errmsg(db) : "");
  abort();
}

static uint8_t fz_byte(fz_reader *r) {
  if (!r->n) return 0;
  r->n--;
  return *r->p++;
}

/* Up to len bytes of input; *got is how many there were. */
static const uint8_t *fz_bytes(fz_reader *r, size_t len, int *got) {
  const uint8_t *p = r->p;
  if (len > r->n) len = r->n;
  r->p += len;
  r->n -= len;
  *got = (int)len;
  return p;
}

static sqlite3_int64 fz_int(fz_reader *r, int wide) {
  if (!wide) return (int8_t)fz_byte(r);
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | fz_byte(r);
  return (sqlite3_int64)v;
}

/* Reads a value and binds it to parameter idx. */
static void fz_bind_value(fz_reader *r, sqlite3_stmt *stmt, int idx) {
  int n;
  const uint8_t *p;
  switch (fz_byte(r) % 6) {
    case 0: sqlite3_bind_int64(stmt, idx, fz_int(r, 0)); break;
    case 1: sqlite3_bind_int64(stmt, idx, fz_int(r, 1)); break;
    case 2: {
      uint64_t bits = (uint64_t)fz_int(r, 1);
      double d;
      memcpy(&d, &bits, sizeof d);
      sqlite3_bind_double(stmt, idx, d);
      break;
    }
    case 3:
      p = fz_bytes(r, fz_byte(r) % 32, &n);
      sqlite3_bind_text(stmt, idx, (const char *)p, n, SQLITE_TRANSIENT);
      break;
    case 4:
      p = fz_bytes(r, fz_byte(r) % 32, &n);
      sqlite3_bind_blob(stmt, idx, n ? (const void *)p : "", n, SQLITE_TRANSIENT);
      break;
    default: sqlite3_bind_null(stmt, idx); break;
  }
}

static const unsigned char fz_site1[16] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                           0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};
static const unsigned char fz_site2[16] = {0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
                                           0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

static void fz_exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "fuzz_changes_merge: %s: %s\n", sql, err ? err : "?");
    abort();
  }
}

/* The starting database, built once and serialized: each input gets a
 * fresh copy (deserialized, then the engine registered as when an existing
 * file is opened), which is much faster than creating the CRRs each time. */
static unsigned char *fz_image;
static sqlite3_int64 fz_image_len;

static void fz_build_image(void) {
  sqlite3 *db = NULL;
  char *err = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) fz_fail("open", db);
  if (bl_crdt_register(db, &err) != SQLITE_OK) {
    fprintf(stderr, "fuzz_changes_merge: register: %s\n", err ? err : "?");
    abort();
  }
  fz_exec(db,
          "CREATE TABLE t (a NOT NULL, b NOT NULL, c, d, PRIMARY KEY (a, b));"
          "CREATE TABLE u (id INTEGER PRIMARY KEY NOT NULL, x TEXT, y REAL);"
          "SELECT crsql_as_crr('t');"
          "SELECT crsql_as_crr('u');"
          "INSERT INTO t VALUES (1, 'one', 'c1', NULL), (2, 'two', NULL, x'00ff');"
          "INSERT INTO u VALUES (1, 'x', 1.5), (2, NULL, NULL);"
          "UPDATE t SET d = 4 WHERE a = 1;"
          "DELETE FROM u WHERE id = 2;");
  fz_image = sqlite3_serialize(db, "main", &fz_image_len, 0);
  if (!fz_image) fz_fail("serialize", db);
  sqlite3_close(db);
}

static sqlite3 *fz_open(void) {
  sqlite3 *db = NULL;
  char *err = NULL;
  if (!fz_image) fz_build_image();
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) fz_fail("open", db);
  unsigned char *copy = sqlite3_malloc64((sqlite3_uint64)fz_image_len);
  if (!copy) fz_fail("out of memory", NULL);
  memcpy(copy, fz_image, (size_t)fz_image_len);
  if (sqlite3_deserialize(db, "main", copy, fz_image_len, fz_image_len,
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) !=
      SQLITE_OK)
    fz_fail("deserialize", db);
  if (bl_crdt_register(db, &err) != SQLITE_OK) {
    fprintf(stderr, "fuzz_changes_merge: register: %s\n", err ? err : "?");
    abort();
  }
  return db;
}

/* Error codes that mean the engine broke something, not that it rejected
 * a bad change. */
static int fz_is_bug(int rc) {
  rc &= 0xff;
  return rc == SQLITE_CORRUPT || rc == SQLITE_INTERNAL || rc == SQLITE_MISUSE;
}

/*
 * Parses the input and merges its changes. With `only` NULL every change is
 * tried and *accepted gets a bit per change that merged without error;
 * otherwise only the changes whose bit is set in *only are applied. Sets
 * *malformed (when not NULL) if an accepted change is not well-formed.
 */
static void fz_apply(sqlite3 *db, const uint8_t *data, size_t size, const uint32_t *only,
                     uint32_t *accepted, int *malformed, sqlite3_stmt *log, int *lost) {
  fz_reader r = {data, size};
  sqlite3_stmt *ins = NULL, *vals = NULL, *pack1 = NULL, *pack2 = NULL;
  static const char *const cids[] = {"c", "d", "-1", "x", "y", "a", "id"};
  int tx = fz_byte(&r) & 1;
  if (accepted) *accepted = 0;
  if (malformed) *malformed = 0;
  if (lost) *lost = 0;

  if (sqlite3_prepare_v2(db,
                         "INSERT INTO crsql_changes (\"table\", pk, cid, val, col_version,"
                         " db_version, site_id, cl, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         -1, &ins, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9", -1, &vals, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT crsql_pack_columns(?1)", -1, &pack1, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT crsql_pack_columns(?1, ?2)", -1, &pack2, NULL) != SQLITE_OK)
    fz_fail("prepare", db);
  if (tx) fz_exec(db, "BEGIN");

  for (int k = 0; k < FZ_MAX_CHANGES && r.n > 0; k++) {
    uint8_t op = fz_byte(&r);
    int wide = op >> 7, n;
    const uint8_t *p;

    const char *table = (op & 3) == 1 ? "u" : "t";
    if ((op & 3) == 3) {
      p = fz_bytes(&r, fz_byte(&r) % 16, &n);
      sqlite3_bind_text(vals, 1, (const char *)p, n, SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_text(vals, 1, table, -1, SQLITE_STATIC);
    }

    switch ((op >> 2) & 3) {
      case 0:
      case 1: {
        sqlite3_stmt *pk = (op & 3) == 0 || (op & 3) == 2 ? pack2 : pack1;
        fz_bind_value(&r, pk, 1);
        if (pk == pack2) fz_bind_value(&r, pk, 2);
        if (sqlite3_step(pk) == SQLITE_ROW)
          sqlite3_bind_value(vals, 2, sqlite3_column_value(pk, 0));
        else
          sqlite3_bind_null(vals, 2);
        sqlite3_reset(pk);
        break;
      }
      case 2:
        p = fz_bytes(&r, fz_byte(&r) % 64, &n);
        sqlite3_bind_blob(vals, 2, n ? (const void *)p : "", n, SQLITE_TRANSIENT);
        break;
      default: sqlite3_bind_null(vals, 2); break;
    }

    int c = (op >> 4) & 7, sentinel;
    if (c < 7) {
      sqlite3_bind_text(vals, 3, cids[c], -1, SQLITE_STATIC);
      sentinel = c == 2;
    } else {
      p = fz_bytes(&r, fz_byte(&r) % 16, &n);
      sqlite3_bind_text(vals, 3, (const char *)p, n, SQLITE_TRANSIENT);
      sentinel = n == 2 && memcmp(p, "-1", 2) == 0;
    }

    fz_bind_value(&r, vals, 4);
    sqlite3_int64 col_version = fz_int(&r, wide);
    sqlite3_bind_int64(vals, 5, col_version);
    sqlite3_bind_int64(vals, 6, fz_int(&r, wide));
    switch (fz_byte(&r) % 4) {
      case 0: sqlite3_bind_blob(vals, 7, fz_site1, 16, SQLITE_STATIC); break;
      case 1: sqlite3_bind_blob(vals, 7, fz_site2, 16, SQLITE_STATIC); break;
      case 2: sqlite3_bind_null(vals, 7); break;
      default:
        p = fz_bytes(&r, fz_byte(&r) % 20, &n);
        sqlite3_bind_blob(vals, 7, n ? (const void *)p : "", n, SQLITE_TRANSIENT);
        break;
    }
    sqlite3_int64 cl = fz_int(&r, wide);
    sqlite3_bind_int64(vals, 8, cl);
    sqlite3_bind_int64(vals, 9, fz_byte(&r));

    /* The change's nine values, parsed once, go to the merge and the log. */
    if (sqlite3_step(vals) != SQLITE_ROW) fz_fail("values", db);
    for (int i = 0; i < 9; i++) sqlite3_bind_value(ins, i + 1, sqlite3_column_value(vals, i));
    if (!only || (*only >> k & 1)) {
      int rc = sqlite3_step(ins);
      if (fz_verbose) {
        char *sql = sqlite3_expanded_sql(ins);
        fprintf(stderr, "%s change %d: %s\n  -> %s\n", only ? "again" : "merge", k,
                sql ? sql : "?", rc == SQLITE_DONE ? "ok" : sqlite3_errmsg(db));
        sqlite3_free(sql);
      }
      if (rc == SQLITE_DONE) {
        if (accepted) *accepted |= 1u << k;
        if (log) {
          sqlite3_bind_int(log, 1, k);
          for (int i = 0; i < 9; i++) sqlite3_bind_value(log, i + 2, sqlite3_column_value(vals, i));
          if (sqlite3_step(log) != SQLITE_DONE) fz_fail("log", NULL);
          sqlite3_reset(log);
        }
        if (malformed && (sentinel || cl % 2 == 0) && col_version != cl) *malformed = 1;
      } else {
        rc = sqlite3_extended_errcode(db);
        const char *msg = sqlite3_errmsg(db);
        if (fz_is_bug(rc)) fz_fail("merge failed with a corruption/internal/misuse code", db);
        if (!msg || !*msg) fz_fail("merge failed without a message", NULL);
        /* A failure that ended the transaction took earlier changes along. */
        if (lost && tx && sqlite3_get_autocommit(db)) *lost = 1;
      }
    }
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    sqlite3_reset(vals);
    sqlite3_clear_bindings(vals);
  }
  /* A failed merge may have ended the transaction (SQLite rolls back on
   * some errors); commit only what is still open. */
  if (tx && !sqlite3_get_autocommit(db)) fz_exec(db, "COMMIT");
  sqlite3_finalize(ins);
  sqlite3_finalize(vals);
  sqlite3_finalize(pack1);
  sqlite3_finalize(pack2);
}

/* The single integer result of `sql`. */
static sqlite3_int64 fz_int_query(sqlite3 *db, const char *sql) {
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) fz_fail(sql, db);
  if (sqlite3_step(stmt) != SQLITE_ROW) fz_fail(sql, db);
  sqlite3_int64 v = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return v;
}

/* Everything that must not change when changes are applied again. */
static char *fz_state(sqlite3 *db) {
  static const char *const queries[] = {
      "SELECT quote(a), quote(b), quote(c), quote(d) FROM t ORDER BY 1, 2",
      "SELECT quote(id), quote(x), quote(y) FROM u ORDER BY 1",
      ("SELECT \"table\", quote(pk), quote(cid), quote(val), col_version, cl, quote(site_id)"
       " FROM crsql_changes ORDER BY 1, 2, 3"),
  };
  sqlite3_str *s = sqlite3_str_new(db);
  for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, queries[q], -1, &stmt, NULL) != SQLITE_OK) fz_fail(queries[q], db);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(stmt); i++)
        sqlite3_str_appendf(s, "%s|", sqlite3_column_text(stmt, i));
      sqlite3_str_appendchar(s, 1, '\n');
    }
    if (rc != SQLITE_DONE) fz_fail(queries[q], db);
    sqlite3_finalize(stmt);
    sqlite3_str_appendall(s, "--\n");
  }
  char *text = sqlite3_str_finish(s);
  if (!text) fz_fail("out of memory", NULL);
  return text;
}

/* Checks the database; the causal-length checks only when `liveness`. */
static void fz_check_consistent(sqlite3 *db, int liveness) {
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL) != SQLITE_OK ||
      sqlite3_step(stmt) != SQLITE_ROW ||
      strcmp((const char *)sqlite3_column_text(stmt, 0), "ok") != 0)
    fz_fail("integrity_check failed", db);
  sqlite3_finalize(stmt);
  fz_int_query(db, "SELECT count(*) FROM (SELECT * FROM crsql_changes)");
  if (!liveness) return;

  if (fz_int_query(db, "SELECT count(*) FROM t WHERE NOT EXISTS (SELECT 1 FROM crsql_changes c"
                       " WHERE c.\"table\" = 't' AND c.pk = crsql_pack_columns(t.a, t.b)"
                       " AND c.cl % 2 = 1)") != 0)
    fz_fail("a row of t has no live entry in crsql_changes", NULL);
  if (fz_int_query(db, "SELECT count(*) FROM crsql_changes c WHERE c.\"table\" = 't'"
                       " AND c.cl % 2 = 1 AND NOT EXISTS (SELECT 1 FROM t"
                       " WHERE crsql_pack_columns(t.a, t.b) = c.pk)") != 0)
    fz_fail("a live entry of t in crsql_changes has no row", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  sqlite3 *db = fz_open();
  uint32_t accepted = 0;
  int malformed = 0;

  /* The accepted changes are logged into a second database, which then
   * merges them all with one INSERT ... SELECT (the batched path of
   * src/crdt/changes_pending.c): it must reach the same state. */
  sqlite3 *batched = fz_open();
  sqlite3_stmt *log = NULL;
  fz_exec(batched, "CREATE TEMP TABLE staged (k INTEGER PRIMARY KEY, tbl, pk, cid, val, col_version, "
                   "db_version, site_id, cl, seq)");
  if (sqlite3_prepare_v2(batched, "INSERT INTO temp.staged VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &log,
                         NULL) != SQLITE_OK)
    fz_fail("prepare log", batched);
  int lost = 0;
  fz_apply(db, data, size, NULL, &accepted, &malformed, log, &lost);
  sqlite3_finalize(log);
  fz_check_consistent(db, !malformed);
  if (!lost) {
    char *err = NULL;
    if (sqlite3_exec(batched,
                     "INSERT INTO crsql_changes SELECT tbl, pk, cid, val, col_version, db_version, site_id, "
                     "cl, seq FROM temp.staged ORDER BY k",
                     NULL, NULL, &err) != SQLITE_OK) {
      fprintf(stderr, "fuzz_changes_merge: the accepted changes failed in one statement: %s\n", err ? err : "?");
      abort();
    }
    char *one = fz_state(db), *many = fz_state(batched);
    if (strcmp(one, many) != 0) {
      fprintf(stderr, "--- one statement per change:\n%s--- one statement:\n%s", one, many);
      fz_fail("merging in one statement differs from one statement per change", NULL);
    }
    sqlite3_free(one);
    sqlite3_free(many);
    fz_check_consistent(batched, !malformed);
  }
  sqlite3_close(batched);

  if (!malformed) {
    char *before = fz_state(db);
    fz_apply(db, data, size, &accepted, NULL, NULL, NULL, NULL);
    char *after = fz_state(db);
    if (strcmp(before, after) != 0) {
      fprintf(stderr, "--- after one merge:\n%s--- after merging again:\n%s", before, after);
      fz_fail("merging the same changes twice changed the state", NULL);
    }
    sqlite3_free(before);
    sqlite3_free(after);
  }

  /* Local writes on whatever state the merges left. */
  fz_exec(db, "INSERT OR REPLACE INTO t VALUES (99, 'z', 'local', 1);"
              "UPDATE t SET c = 'edited' WHERE a = 1 AND b = 'one';"
              "DELETE FROM t WHERE a = 2 AND b = 'two';"
              "INSERT OR REPLACE INTO u VALUES (7, 'local', 2.5);");
  fz_check_consistent(db, !malformed);

  sqlite3_close(db);
  return 0;
}
