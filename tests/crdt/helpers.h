/*
 * helpers.h — shared helpers for the CRDT engine tests (the .c files beside it).
 *
 * Every test binary links helpers.c. The helpers open in-memory (or file)
 * databases with the engine registered, run SQL, render query results as
 * strings so a test can compare a whole result set with one expected
 * literal, copy changes between databases through crsql_changes, and dump a
 * whole database so a test can prove that a failed statement changed
 * nothing.
 *
 * Rendering: ct_rows() joins the columns of a row with '|' and rows with
 * '\n'; a NULL column renders as "NULL". Write the query with quote()/hex()
 * where the type matters. Strings returned by ct_rows()/ct_dump() live in a
 * small ring of buffers owned by the helpers: valid until 32 further calls,
 * never freed by the caller.
 *
 * The CT_* macros report failures at the caller's file and line through the
 * harness's failure counter.
 */
#ifndef BL_TESTS_CRDT_HELPERS_H
#define BL_TESTS_CRDT_HELPERS_H

#include <sqlite3.h>

#include "harness.h"

/* The query tests use to look at crsql_changes. Local site ids render as
 * "local" so expected strings do not depend on the random site id. */
#define CT_CHANGES_COLS                                                                      \
  "\"table\", hex(pk), cid, quote(val), col_version, db_version, "                          \
  "CASE WHEN site_id = crsql_site_id() THEN 'local' ELSE hex(site_id) END, cl, seq"
#define CT_CHANGES "SELECT " CT_CHANGES_COLS " FROM crsql_changes "
#define CT_ORDER " ORDER BY db_version, seq, \"table\", pk, cid"

/* Site ids used for changes that come "from elsewhere". */
#define CT_S1 "X'11111111111111111111111111111111'"
#define CT_S2 "X'22222222222222222222222222222222'"
#define CT_S3 "X'33333333333333333333333333333333'"
#define CT_S1_HEX "11111111111111111111111111111111"
#define CT_S2_HEX "22222222222222222222222222222222"
#define CT_S3_HEX "33333333333333333333333333333333"

/* Opens an in-memory database with the engine registered. Never NULL: a
 * failure to open aborts the test binary (nothing can be tested then). */
sqlite3 *ct_open(void);
/* The same for a file database. */
sqlite3 *ct_open_file(const char *path);
/* Runs crsql_finalize() and closes. Accepts NULL. */
void ct_close(sqlite3 *db);

/* Runs one or more statements. Returns the SQLite code; on failure stores
 * the message for ct_last_error(). */
int ct_exec(sqlite3 *db, const char *sql);
/* Message of the last failed ct_exec()/ct_rows() ("" if none). */
const char *ct_last_error(void);

/* Runs one query (a single statement) and renders all its rows. On error
 * returns "ERROR: <message>". */
const char *ct_rows(sqlite3 *db, const char *sql);
/* First column of the first row as an integer (-999999 if no row/error). */
sqlite3_int64 ct_int(sqlite3 *db, const char *sql);

/* Renders a whole database: the schema (sqlite_master) and every table's
 * rows in a canonical order. Two databases (or one database before and after
 * something) with equal dumps hold the same data. `base_only` limits the
 * dump to tables whose names contain neither "crsql" nor start with
 * "sqlite_". */
const char *ct_dump(sqlite3 *db, int base_only);

/* Copies the changes `SELECT * FROM crsql_changes <where>` of `from` into
 * `to` (one transaction on `to`, values bound exactly). Returns the number
 * of changes copied, or -1 on error (message in ct_last_error()). */
int ct_sync(sqlite3 *from, sqlite3 *to, const char *where);

/* A snapshot of all changes of a database, to re-apply later in any order. */
typedef struct ct_changes {
  int n;
  sqlite3_value **v; /* n * 9 values (sqlite3_value_dup'ed) */
} ct_changes;
int ct_changes_read(sqlite3 *db, const char *where, ct_changes *out);
/* Appends `src` to `dst`. */
int ct_changes_append(ct_changes *dst, const ct_changes *src);
/* Applies changes order[0..n) (indices into `c`; NULL = natural order)
 * inside one transaction. Returns SQLITE_OK or the failing code. */
int ct_changes_apply(sqlite3 *db, const ct_changes *c, const int *order);
void ct_changes_free(ct_changes *c);

/* Runs `sql` on both databases and checks that they return the same rows
 * with the same values: same types, same bytes (a real's bits exactly).
 * Returns 1 if equal; otherwise 0 with a description in why[0..n). */
int ct_same_rows(sqlite3 *a, sqlite3 *b, const char *sql, char *why, size_t n);

/* Small deterministic PRNG (splitmix64) for property tests. */
typedef struct ct_rng {
  unsigned long long s;
} ct_rng;
unsigned long long ct_rng_next(ct_rng *r);
/* Uniform in [0, n). */
int ct_rng_below(ct_rng *r, int n);

/* The tables of the random worlds of batch.c and held.c: t (integer key),
 * k (composite key); CT_WORLD_SCHEMA_P adds p (key only). */
#define CT_WORLD_SCHEMA                                                        \
  "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL, a, b TEXT DEFAULT 'd');" \
  "SELECT crsql_as_crr('t');"                                                \
  "CREATE TABLE k (x TEXT NOT NULL, y INTEGER NOT NULL, v, PRIMARY KEY (x, y));" \
  "SELECT crsql_as_crr('k');"
#define CT_WORLD_SCHEMA_P \
  CT_WORLD_SCHEMA "CREATE TABLE p (id TEXT PRIMARY KEY NOT NULL);SELECT crsql_as_crr('p');"

/* One random local write on those tables (p too when `with_p`). Keys come
 * from a small space (conflicts) or a larger one (new rows, which a batch
 * handles optimistically and must replay when wrong). */
void ct_world_write(ct_rng *r, sqlite3 *db, int with_p);

/* Every change of a database with its clock (db_version included), site
 * ids shown as 'local' for the database's own. */
#define CT_CHANGES_STATE_SQL                                                  \
  "SELECT \"table\", hex(pk), cid, quote(val), col_version, db_version, "   \
  "CASE WHEN site_id = crsql_site_id() THEN 'local' ELSE hex(site_id) END, cl, seq " \
  "FROM crsql_changes ORDER BY \"table\", pk, cid"

/* 1 when a and b hold the same rows of t, k (and p when `with_p`), the same
 * changes (CT_CHANGES_STATE_SQL) and the same crsql_db_version(); else
 * prints the first difference to stderr and returns 0. */
int ct_same_world(sqlite3 *a, sqlite3 *b, int with_p);

/* A random world: `ndev` (at most 8) devices created with `schema` take
 * `steps` random steps, each a local write by `write` or, one time in
 * four, a sync from one device to another. The union of every device's
 * changes goes to *all; returns a random order of them (malloc'ed; free
 * it), or NULL if the schema or a read failed. The devices are closed. */
int *ct_random_world(ct_rng *r, const char *schema, void (*write)(ct_rng *, sqlite3 *), int ndev, int steps,
                     ct_changes *all);

/* Prints the SQL and the message of a failing ct_exec at the caller. */
#define CT_EXEC(db, sql)                                                                     \
  do {                                                                                       \
    const char *ct__sql = (sql);                                                             \
    if (ct_exec((db), ct__sql) != SQLITE_OK) {                                               \
      fprintf(stderr, "  %s:%d: SQL failed: %s\n    error: %s\n", __FILE__, __LINE__, ct__sql, \
              ct_last_error());                                                              \
      bl_test_failed_checks++;                                                               \
    }                                                                                        \
  } while (0)

/* Checks that the rendered rows of `sql` equal `expected`. */
#define CT_CHECK_ROWS(db, sql, expected)                                                      \
  do {                                                                                        \
    const char *ct__sql = (sql);                                                              \
    const char *ct__got = ct_rows((db), ct__sql), *ct__exp = (expected);                      \
    if (strcmp(ct__got, ct__exp) != 0) {                                                      \
      fprintf(stderr, "  %s:%d: query: %.2000s\n    got:\n%.4000s\n    expected:\n%.4000s\n",     \
              __FILE__, __LINE__, ct__sql, ct__got, ct__exp);                                 \
      bl_test_failed_checks++;                                                                \
    }                                                                                         \
  } while (0)

/* Checks that `sql` fails and that its message contains `part` (NULL or ""
 * accepts any message). */
#define CT_CHECK_FAILS(db, sql, part)                                                        \
  do {                                                                                       \
    const char *ct__sql = (sql), *ct__part = (part);                                         \
    if (ct_exec((db), ct__sql) == SQLITE_OK) {                                               \
      fprintf(stderr, "  %s:%d: expected an error from: %s\n", __FILE__, __LINE__, ct__sql); \
      bl_test_failed_checks++;                                                               \
    } else if (ct__part && *ct__part && !strstr(ct_last_error(), ct__part)) {                \
      fprintf(stderr, "  %s:%d: error from: %s\n    was: %s\n    expected it to contain: %s\n", \
              __FILE__, __LINE__, ct__sql, ct_last_error(), ct__part);                       \
      bl_test_failed_checks++;                                                               \
    }                                                                                        \
  } while (0)

/* Checks that `sql` fails with exactly the message `msg`. */
#define CT_CHECK_FAILS_EXACT(db, sql, msg)                                                   \
  do {                                                                                       \
    const char *ct__sql = (sql), *ct__msg = (msg);                                           \
    if (ct_exec((db), ct__sql) == SQLITE_OK) {                                               \
      fprintf(stderr, "  %s:%d: expected an error from: %s\n", __FILE__, __LINE__, ct__sql); \
      bl_test_failed_checks++;                                                               \
    } else if (strcmp(ct_last_error(), ct__msg) != 0) {                                      \
      fprintf(stderr, "  %s:%d: error from: %s\n    was:      %s\n    expected: %s\n",        \
              __FILE__, __LINE__, ct__sql, ct_last_error(), ct__msg);                        \
      bl_test_failed_checks++;                                                               \
    }                                                                                        \
  } while (0)

#endif
