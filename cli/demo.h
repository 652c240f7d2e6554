/*
 * demo.h — what the two files of `backless demo` share: cmd_demo.c (the
 * command, the devices and the script) and demo_check.c (the checks the
 * script makes and what it prints). Nothing else includes it.
 */
#ifndef BL_CLI_DEMO_H
#define BL_CLI_DEMO_H

#include <stddef.h>

#include <sqlite3.h>

#include "backless.h"

/* Set by the command line (cmd_demo.c). */
extern int demo_quiet;     /* --quiet: only the verdict is printed */
extern int demo_encrypted; /* --encrypted */
/* Checks that failed so far; the demo fails when it is not 0. */
extern int demo_failures;

/* printf to stdout, unless --quiet. */
void demo_say(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

typedef struct demo_device {
  const char *name; /* "A" or "B" */
  char *path;       /* the database file */
  char *cache;      /* its media cache dir */
  bl_db *db;
} demo_device;

/* The first column of the first row of `sql` on `d` as text
 * (sqlite3_malloc'ed; "" when there is no row, NULL on error, printed). */
char *demo_value(demo_device *d, const char *sql);

/* ------------------------------------------------------------ demo_check.c */

/* Removes `dir` and everything in it, without following symbolic links. */
void demo_rm_tree(const char *dir);
/* Writes `text` to `path`. 0 or -1 (message printed). */
int demo_write_file(const char *path, const char *text);
/* Reads a whole file into a malloc'ed buffer (*len bytes). NULL on error
 * (message printed). */
unsigned char *demo_read_file(const char *path, size_t *len);

/* Each check narrates `why` with "ok:" or "FAIL:", and counts a failure
 * in demo_failures with the details on stderr. */
void demo_expect(demo_device *d, const char *sql, const char *want, const char *why);
void demo_expect_count(const char *what, long long got, long long want, int at_least,
                       const char *why);
void demo_expect_same_bytes(const char *a, const char *b, const char *why);
void demo_expect_source(const bl_media_file *f, int want, const char *why);

/* What must converge: the rows and the CRDT metadata of every column, as
 * text (sqlite3_malloc'ed; NULL on error). */
char *demo_state(demo_device *d);

/* A string the encrypted demo must not find in the cloud; a secret one is
 * shown as "the passphrase", never as itself. */
typedef struct demo_needle {
  const char *text;
  int secret;
} demo_needle;

/* Whether `needle` occurs in the n bytes at p. */
int demo_contains(const unsigned char *p, size_t n, const char *needle);

/*
 * Looks for every needle in the path (below `dir`) and the bytes of each
 * file under `dir`. Returns the number of files looked at, or -1 when the
 * folder cannot be walked (printed); *hits counts what was found (each
 * printed, a secret never shown) and files that could not be read.
 */
int demo_scan(const char *dir, const demo_needle *needles, size_t count, int *hits);

/* The encrypted demo's last checks: backless.json describes an encrypted,
 * compressed folder, and nothing the devices wrote nor `passphrase` is
 * readable in any name or byte under `cloud_dir`. */
void demo_expect_no_plaintext(const char *cloud_dir, const char *hash, const char *passphrase);

/* A device's todos as a table; both devices' next to each other. */
void demo_show(demo_device *d);
void demo_side_by_side(demo_device *a, demo_device *b);

#endif /* BL_CLI_DEMO_H */
