/*
 * scenario.c — convergence scenarios as data: runs every tests/sync/
 * scenarios/NNN-name.txt file (the folder is the first argument; further
 * arguments select files whose name contains one of them). Each file runs
 * in a fresh temporary folder with real databases and one folder remote.
 *
 * The language, one command per line ('#' starts a comment line):
 *
 *   threshold N | grace N | schema N | mismatch NAME
 *                        defaults for the devices declared after the line
 *                        (NAME: abort, skip, drop, apply_compatible)
 *   devices a b c        opens devices with the defaults
 *   device a [threshold=N] [grace=N] [schema=N] [mismatch=NAME]
 *   reopen a [key=value ...]     closes and reopens (a newer schema migrates)
 *   a: SQL               runs SQL on device a (an error fails the scenario)
 *   a:! SQL              runs SQL on device a, which must fail
 *   sync a b ...         each syncs in turn: BL_OK and no error required
 *   pull a ... | push a ...      the same with bl_pull / bl_push
 *   sync? a              syncs, errors allowed (check them with expect-error)
 *   sync-all [ROUNDS]    every device syncs in declaration order, ROUNDS
 *                        times (2 by default)
 *   clear a              bl_clear_all_data
 *   hide a FILE | unhide a FILE  moves a file of a's cloud folder out of
 *                        sight of listings and back (a lagging listing)
 *   truncate a FILE N    cuts the last N bytes of a file of a's folder
 *   expect a SQL = VALUE the query's rows (columns joined by '|', rows by
 *                        ','; NULL, X'..' for blobs) equal VALUE (split at
 *                        the last " = ")
 *   expect-same a b SQL  the query gives the same rows on both devices
 *   expect-converged [a b ...]   same rows and clocks (default: all)
 *   expect-files a PREFIX N      N files named PREFIX* in a's folder
 *   expect-cursor a b N  a's cursor for device b
 *   expect-result a key=N ...    a's last sync result; keys pulled, pushed,
 *                        files_pulled, files_pushed, warnings, errors;
 *                        "key>N" also works
 *   expect-warning a CODE [b]    a's last result has a warning CODE (a
 *                        bl_sync_code_name), about device b if given
 *   expect-no-warning a  a's last result has no warning at all
 *   expect-error a CODE [b]      the same for errors
 *
 * A failed expectation prints "file:line: ..." and the scenario goes on, so
 * one run shows every failed expectation of a file. Environment:
 * BL_TEST_VERBOSE=1 prints every sync's result, BL_SCENARIO_KEEP=1 keeps
 * each scenario's folder (databases and cloud) and prints its path.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

#define SC_MAX_DEVICES 16
#define SC_MAX_ARGS 32

typedef struct sc_dev {
  char name[32];
  char file[48];
  th_opts opts;
  bl_db *db;
  bl_sync_result last;
  int last_rc;
} sc_dev;

typedef struct sc_run {
  const char *file; /* the scenario's name, for messages */
  int line;
  char *dir;
  bl_remote *remote;
  sc_dev dev[SC_MAX_DEVICES];
  int ndev;
  th_opts dflt;
  int failures;
} sc_run;

/* ------------------------------------------------------------- reporting */

static void sc_fail(sc_run *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sc_fail(sc_run *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "  %s:%d: ", s->file, s->line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  s->failures++;
}

static void sc_print_issues(const sc_dev *d) {
  for (size_t i = 0; i < d->last.warnings_count; i++)
    fprintf(stderr, "      warning %s: %s\n", bl_sync_code_name(d->last.warnings[i].code),
            d->last.warnings[i].message);
  for (size_t i = 0; i < d->last.errors_count; i++)
    fprintf(stderr, "      error %s: %s\n", bl_sync_code_name(d->last.errors[i].code),
            d->last.errors[i].message);
}

/* ----------------------------------------------------------------- parsing */

/* Splits `line` in place at blanks into at most SC_MAX_ARGS words. */
static int sc_split(char *line, char **argv) {
  int argc = 0;
  for (char *p = line; *p && argc < SC_MAX_ARGS;) {
    while (*p == ' ' || *p == '\t') *p++ = '\0';
    if (!*p) break;
    argv[argc++] = p;
    while (*p && *p != ' ' && *p != '\t') p++;
  }
  return argc;
}

static int sc_number(sc_run *s, const char *text, long long *out) {
  char *end = NULL;
  *out = strtoll(text, &end, 10);
  if (!*text || *end) {
    sc_fail(s, "'%s' is not a number", text);
    return 0;
  }
  return 1;
}

static int sc_mismatch(sc_run *s, const char *name, bl_mismatch *out) {
  static const char *const names[] = {"abort", "skip", "drop", "apply_compatible"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, names[i])) {
      *out = (bl_mismatch)i;
      return 1;
    }
  sc_fail(s, "unknown mismatch behaviour '%s'", name);
  return 0;
}

/* Applies "key=value" options to o. */
static int sc_options(sc_run *s, char **argv, int argc, th_opts *o) {
  for (int i = 0; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    long long v = 0;
    if (!eq) {
      sc_fail(s, "option '%s' is not key=value", argv[i]);
      return 0;
    }
    *eq = '\0';
    const char *k = argv[i], *val = eq + 1;
    if (!strcmp(k, "mismatch")) {
      if (!sc_mismatch(s, val, &o->mismatch)) return 0;
      continue;
    }
    if (!sc_number(s, val, &v)) return 0;
    if (!strcmp(k, "threshold"))
      o->threshold = (int)v;
    else if (!strcmp(k, "grace"))
      o->grace = (int)v;
    else if (!strcmp(k, "schema"))
      o->schema_version = (int)v;
    else {
      sc_fail(s, "unknown option '%s'", k);
      return 0;
    }
  }
  return 1;
}

static sc_dev *sc_find(sc_run *s, const char *name) {
  for (int i = 0; i < s->ndev; i++)
    if (!strcmp(s->dev[i].name, name)) return &s->dev[i];
  sc_fail(s, "unknown device '%s'", name);
  return NULL;
}

/* ------------------------------------------------------------------ devices */

static void sc_open(sc_run *s, const char *name, char **opts, int nopts) {
  if (s->ndev == SC_MAX_DEVICES || strlen(name) >= sizeof s->dev[0].name) {
    sc_fail(s, "too many devices or name too long");
    return;
  }
  for (int i = 0; i < s->ndev; i++)
    if (!strcmp(s->dev[i].name, name)) {
      sc_fail(s, "device '%s' declared twice", name);
      return;
    }
  sc_dev *d = &s->dev[s->ndev];
  memset(d, 0, sizeof *d);
  snprintf(d->name, sizeof d->name, "%s", name);
  snprintf(d->file, sizeof d->file, "%s.db", name);
  d->opts = s->dflt;
  if (!sc_options(s, opts, nopts, &d->opts)) return;
  d->db = th_open(s->dir, d->file, &d->opts);
  s->ndev++;
}

static void sc_reopen(sc_run *s, sc_dev *d, char **opts, int nopts) {
  if (!sc_options(s, opts, nopts, &d->opts)) return;
  bl_close(d->db);
  d->db = th_open(s->dir, d->file, &d->opts);
}

/* ------------------------------------------------------------------ syncing */

enum { SC_SYNC, SC_PULL, SC_PUSH };

static void sc_sync(sc_run *s, sc_dev *d, int what, int allow_errors) {
  int rc;
  if (what == SC_PULL)
    rc = bl_pull(d->db, s->remote, &d->last);
  else if (what == SC_PUSH)
    rc = bl_push(d->db, s->remote, &d->last);
  else
    rc = bl_sync(d->db, s->remote, &d->last);
  d->last_rc = rc;
  if (getenv("BL_TEST_VERBOSE")) {
    fprintf(stderr, "    %s:%d %s %s: rc=%d pulled=%lld pushed=%lld files %lld/%lld\n", s->file,
            s->line,
            what == SC_PULL   ? "pull"
            : what == SC_PUSH ? "push"
                              : "sync",
            d->name, rc, (long long)d->last.pulled, (long long)d->last.pushed,
            (long long)d->last.files_pulled, (long long)d->last.files_pushed);
    sc_print_issues(d);
  }
  if (!allow_errors && (rc != BL_OK || d->last.errors_count > 0)) {
    sc_fail(s, "sync of %s failed: rc=%d (%s)", d->name, rc, bl_errmsg(d->db));
    sc_print_issues(d);
  }
}

/* ------------------------------------------------------------ expectations */

/* The rows of `sql` on d, rendered as the header describes, malloc'ed;
 * NULL (with a failure recorded) when the query fails. */
static char *sc_rows(sc_run *s, sc_dev *d, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(bl_sqlite(d->db), sql, -1, &st, NULL) != SQLITE_OK) {
    sc_fail(s, "%s: cannot prepare '%s': %s", d->name, sql, sqlite3_errmsg(bl_sqlite(d->db)));
    return NULL;
  }
  sqlite3_str *out = sqlite3_str_new(NULL);
  int rows = 0, rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (rows++) sqlite3_str_appendchar(out, 1, ',');
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      if (c) sqlite3_str_appendchar(out, 1, '|');
      switch (sqlite3_column_type(st, c)) {
        case SQLITE_NULL:
          sqlite3_str_appendall(out, "NULL");
          break;
        case SQLITE_BLOB: {
          const unsigned char *b = sqlite3_column_blob(st, c);
          int n = sqlite3_column_bytes(st, c);
          sqlite3_str_appendall(out, "X'");
          for (int i = 0; i < n; i++) sqlite3_str_appendf(out, "%02X", b[i]);
          sqlite3_str_appendchar(out, 1, '\'');
          break;
        }
        default:
          sqlite3_str_appendall(out, (const char *)sqlite3_column_text(st, c));
          break;
      }
    }
  }
  if (rc != SQLITE_DONE)
    sc_fail(s, "%s: '%s' failed: %s", d->name, sql, sqlite3_errmsg(bl_sqlite(d->db)));
  sqlite3_finalize(st);
  char *text = sqlite3_str_finish(out);
  char *r = strdup(text ? text : "");
  sqlite3_free(text);
  return r;
}

/* Checks one "key=N" / "key>N" term against d's last result. */
static void sc_expect_result(sc_run *s, sc_dev *d, char *term) {
  char *op = strpbrk(term, "=>");
  long long want = 0;
  if (!op) {
    sc_fail(s, "'%s' is not key=N or key>N", term);
    return;
  }
  char how = *op;
  *op = '\0';
  if (!sc_number(s, op + 1, &want)) return;
  long long got;
  const bl_sync_result *r = &d->last;
  if (!strcmp(term, "pulled"))
    got = r->pulled;
  else if (!strcmp(term, "pushed"))
    got = r->pushed;
  else if (!strcmp(term, "files_pulled"))
    got = r->files_pulled;
  else if (!strcmp(term, "files_pushed"))
    got = r->files_pushed;
  else if (!strcmp(term, "warnings"))
    got = (long long)r->warnings_count;
  else if (!strcmp(term, "errors"))
    got = (long long)r->errors_count;
  else {
    sc_fail(s, "unknown result key '%s'", term);
    return;
  }
  if (how == '=' ? got != want : got <= want) {
    sc_fail(s, "%s: %s is %lld, expected %c %lld", d->name, term, got, how, want);
    sc_print_issues(d);
  }
}

/* expect-warning / expect-error: a warning (errors = 0) or error of this
 * code, about device `about` when not NULL. */
static void sc_expect_issue(sc_run *s, sc_dev *d, const char *code, sc_dev *about, int errors) {
  const bl_sync_issue *list = errors ? d->last.errors : d->last.warnings;
  size_t n = errors ? d->last.errors_count : d->last.warnings_count;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(bl_sync_code_name(list[i].code), code) != 0) continue;
    if (about && (!list[i].device || strcmp(list[i].device, bl_device_id(about->db)) != 0))
      continue;
    return;
  }
  sc_fail(s, "%s: no %s '%s'%s%s in the last result", d->name, errors ? "error" : "warning", code,
          about ? " about " : "", about ? about->name : "");
  sc_print_issues(d);
}

static void sc_expect_converged(sc_run *s, sc_dev **devs, int n) {
  bl_db *dbs[SC_MAX_DEVICES];
  for (int i = 0; i < n; i++) dbs[i] = devs[i]->db;
  if (n > 1 && !th_converged(dbs, n, s->file)) {
    char names[256] = "";
    for (int i = 0; i < n; i++) {
      strncat(names, " ", sizeof names - strlen(names) - 1);
      strncat(names, devs[i]->name, sizeof names - strlen(names) - 1);
    }
    sc_fail(s, "devices%s have not converged (device 0 = %s)", names, devs[0]->name);
  }
}

/* "<dir>/cloud/Backless/changesets/device-<id>/<name>", static buffer. */
static const char *sc_cloud_file(sc_run *s, sc_dev *d, const char *name) {
  static char buf[8192];
  snprintf(buf, sizeof buf, "%s/%s", th_device_folder(s->dir, d->db), name);
  return buf;
}

static void sc_hide(sc_run *s, sc_dev *d, const char *name, int hide) {
  char visible[8192], hidden[8192];
  snprintf(visible, sizeof visible, "%s", sc_cloud_file(s, d, name));
  /* Listings of the folder remote skip ".<name>.tmp-..." (its temporary
   * files), which is what a file still on its way looks like. */
  snprintf(hidden, sizeof hidden, "%s/.%s.tmp-hidden", th_device_folder(s->dir, d->db), name);
  if (rename(hide ? visible : hidden, hide ? hidden : visible) != 0)
    sc_fail(s, "cannot %s %s of %s", hide ? "hide" : "unhide", name, d->name);
}

static void sc_truncate(sc_run *s, sc_dev *d, const char *name, long long cut) {
  const char *path = sc_cloud_file(s, d, name);
  struct stat st;
  if (stat(path, &st) != 0 || st.st_size < cut || truncate(path, st.st_size - cut) != 0)
    sc_fail(s, "cannot truncate %s of %s by %lld bytes", name, d->name, cut);
}

/* ------------------------------------------------------------------ a line */

static void sc_line(sc_run *s, char *line) {
  /* "a: SQL" and "a:! SQL" keep their SQL whole. */
  char *colon = strchr(line, ':');
  char *space = strpbrk(line, " \t");
  if (colon && (!space || colon < space)) {
    int must_fail = colon[1] == '!';
    *colon = '\0';
    sc_dev *d = sc_find(s, line);
    const char *sql = colon + 1 + must_fail;
    if (!d) return;
    char *err = NULL;
    int rc = sqlite3_exec(bl_sqlite(d->db), sql, NULL, NULL, &err);
    if (must_fail && rc == SQLITE_OK)
      sc_fail(s, "%s: '%s' succeeded, expected an error", d->name, sql);
    if (!must_fail && rc != SQLITE_OK) sc_fail(s, "%s: '%s' failed: %s", d->name, sql, err);
    sqlite3_free(err);
    return;
  }

  /* expect a SQL = VALUE: split before the generic word split. */
  if (!strncmp(line, "expect ", 7)) {
    char *p = line + 7;
    while (*p == ' ') p++;
    char *name = p;
    while (*p && *p != ' ') p++;
    if (*p) *p++ = '\0';
    sc_dev *d = sc_find(s, name);
    char *eq = NULL;
    for (char *q = strstr(p, " = "); q; q = strstr(q + 1, " = ")) eq = q;
    if (!d) return;
    if (!eq) {
      sc_fail(s, "expect needs 'SQL = VALUE'");
      return;
    }
    *eq = '\0';
    const char *want = eq + 3;
    char *got = sc_rows(s, d, p);
    if (got && strcmp(got, want) != 0)
      sc_fail(s, "%s: '%s' gave '%s', expected '%s'", d->name, p, got, want);
    free(got);
    return;
  }
  if (!strncmp(line, "expect-same ", 12)) {
    char *argv[3];
    char *p = line + 12;
    for (int i = 0; i < 2; i++) {
      while (*p == ' ') p++;
      argv[i] = p;
      while (*p && *p != ' ') p++;
      if (*p) *p++ = '\0';
    }
    sc_dev *a = sc_find(s, argv[0]), *b = sc_find(s, argv[1]);
    if (!a || !b) return;
    char *ra = sc_rows(s, a, p), *rb = sc_rows(s, b, p);
    if (ra && rb && strcmp(ra, rb) != 0)
      sc_fail(s, "'%s': %s has '%s', %s has '%s'", p, a->name, ra, b->name, rb);
    free(ra);
    free(rb);
    return;
  }

  char *argv[SC_MAX_ARGS];
  int argc = sc_split(line, argv);
  if (argc == 0) return;
  const char *cmd = argv[0];
  long long n = 0;

  if (!strcmp(cmd, "threshold") || !strcmp(cmd, "grace") || !strcmp(cmd, "schema")) {
    if (argc != 2 || !sc_number(s, argv[1], &n)) return;
    if (cmd[0] == 't')
      s->dflt.threshold = (int)n;
    else if (cmd[0] == 'g')
      s->dflt.grace = (int)n;
    else
      s->dflt.schema_version = (int)n;
  } else if (!strcmp(cmd, "mismatch")) {
    if (argc == 2) sc_mismatch(s, argv[1], &s->dflt.mismatch);
  } else if (!strcmp(cmd, "devices")) {
    for (int i = 1; i < argc; i++) sc_open(s, argv[i], NULL, 0);
  } else if (!strcmp(cmd, "device")) {
    if (argc >= 2) sc_open(s, argv[1], argv + 2, argc - 2);
  } else if (!strcmp(cmd, "reopen")) {
    sc_dev *d = argc >= 2 ? sc_find(s, argv[1]) : NULL;
    if (d) sc_reopen(s, d, argv + 2, argc - 2);
  } else if (!strcmp(cmd, "sync") || !strcmp(cmd, "pull") || !strcmp(cmd, "push") ||
             !strcmp(cmd, "sync?")) {
    int what = cmd[1] == 'u' ? (cmd[2] == 'l' ? SC_PULL : SC_PUSH) : SC_SYNC;
    for (int i = 1; i < argc; i++) {
      sc_dev *d = sc_find(s, argv[i]);
      if (d) sc_sync(s, d, what, cmd[4] == '?');
    }
  } else if (!strcmp(cmd, "sync-all")) {
    long long rounds = 2;
    if (argc == 2 && !sc_number(s, argv[1], &rounds)) return;
    for (long long k = 0; k < rounds; k++)
      for (int i = 0; i < s->ndev; i++) sc_sync(s, &s->dev[i], SC_SYNC, 0);
  } else if (!strcmp(cmd, "clear")) {
    sc_dev *d = argc == 2 ? sc_find(s, argv[1]) : NULL;
    if (d && bl_clear_all_data(d->db) != BL_OK)
      sc_fail(s, "clear %s failed: %s", d->name, bl_errmsg(d->db));
  } else if (!strcmp(cmd, "hide") || !strcmp(cmd, "unhide")) {
    sc_dev *d = argc == 3 ? sc_find(s, argv[1]) : NULL;
    if (d) sc_hide(s, d, argv[2], cmd[0] == 'h');
  } else if (!strcmp(cmd, "truncate")) {
    sc_dev *d = argc == 4 ? sc_find(s, argv[1]) : NULL;
    if (d && sc_number(s, argv[3], &n)) sc_truncate(s, d, argv[2], n);
  } else if (!strcmp(cmd, "expect-converged")) {
    sc_dev *devs[SC_MAX_DEVICES];
    int k = 0;
    if (argc == 1)
      for (int i = 0; i < s->ndev; i++) devs[k++] = &s->dev[i];
    for (int i = 1; i < argc; i++)
      if ((devs[k] = sc_find(s, argv[i])) != NULL) k++;
    sc_expect_converged(s, devs, k);
  } else if (!strcmp(cmd, "expect-files")) {
    sc_dev *d = argc == 4 ? sc_find(s, argv[1]) : NULL;
    if (!d || !sc_number(s, argv[3], &n)) {
      if (argc != 4) sc_fail(s, "expect-files DEVICE PREFIX N");
      return;
    }
    int got = th_count_files(s->dir, d->db, argv[2]);
    if (got != n)
      sc_fail(s, "%s: %d files '%s*' in its folder, expected %lld", d->name, got, argv[2], n);
  } else if (!strcmp(cmd, "expect-cursor")) {
    sc_dev *d = argc == 4 ? sc_find(s, argv[1]) : NULL, *o = argc == 4 ? sc_find(s, argv[2]) : NULL;
    if (!d || !o || !sc_number(s, argv[3], &n)) return;
    int64_t got = th_cursor(d->db, bl_device_id(o->db));
    if (got != n)
      sc_fail(s, "%s: cursor for %s is %lld, expected %lld", d->name, o->name, (long long)got, n);
  } else if (!strcmp(cmd, "expect-result")) {
    sc_dev *d = argc >= 2 ? sc_find(s, argv[1]) : NULL;
    for (int i = 2; d && i < argc; i++) sc_expect_result(s, d, argv[i]);
  } else if (!strcmp(cmd, "expect-warning") || !strcmp(cmd, "expect-error")) {
    sc_dev *d = argc >= 3 ? sc_find(s, argv[1]) : NULL,
           *about = argc == 4 ? sc_find(s, argv[3]) : NULL;
    if (d) sc_expect_issue(s, d, argv[2], about, cmd[7] == 'e');
  } else if (!strcmp(cmd, "expect-no-warning")) {
    sc_dev *d = argc == 2 ? sc_find(s, argv[1]) : NULL;
    if (d && d->last.warnings_count > 0) {
      sc_fail(s, "%s: %zu warnings in the last result, expected none", d->name,
              d->last.warnings_count);
      sc_print_issues(d);
    }
  } else {
    sc_fail(s, "unknown command '%s'", cmd);
  }
}

/* ------------------------------------------------------------------ a file */

/* Runs one scenario file; returns its number of failures. */
static int sc_run_file(const char *folder, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", folder, name);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "  %s: cannot open\n", path);
    return 1;
  }
  sc_run s;
  memset(&s, 0, sizeof s);
  s.file = name;
  s.dir = th_tmpdir();
  s.remote = th_remote(s.dir);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int commands = 0;
  while ((len = getline(&line, &cap, f)) >= 0) {
    s.line++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
      line[--len] = '\0';
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') continue;
    commands++;
    sc_line(&s, p);
  }
  free(line);
  fclose(f);
  if (commands == 0) {
    s.line = 0;
    sc_fail(&s, "no commands");
  }
  for (int i = 0; i < s.ndev; i++) {
    bl_sync_result_free(&s.dev[i].last);
    bl_close(s.dev[i].db);
  }
  bl_remote_free(s.remote);
  if (getenv("BL_SCENARIO_KEEP"))
    fprintf(stderr, "  %s: kept in %s\n", name, s.dir);
  else
    th_rmtree(s.dir);
  free(s.dir);
  return s.failures;
}

static int sc_cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SCENARIO_FOLDER [NAME ...]\n", argv[0]);
    return 2;
  }
  DIR *d = opendir(argv[1]);
  if (!d) {
    perror(argv[1]);
    return 2;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0) continue;
    names = realloc(names, (n + 1) * sizeof *names);
    if (!names || !(names[n++] = strdup(e->d_name))) return 2;
  }
  closedir(d);
  qsort(names, n, sizeof *names, sc_cmp_names);
  int passed = 0, failed = 0;
  for (size_t i = 0; i < n; i++) {
    int selected = argc < 3;
    for (int a = 2; a < argc; a++)
      if (strstr(names[i], argv[a])) selected = 1;
    if (selected) {
      int bad = sc_run_file(argv[1], names[i]);
      printf("%s %s\n", bad ? "FAIL" : "ok  ", names[i]);
      if (bad)
        failed++;
      else
        passed++;
    }
    free(names[i]);
  }
  free(names);
  printf("%d passed, %d failed\n", passed, failed);
  if (passed + failed == 0) {
    fprintf(stderr, "no scenario ran\n");
    return 1;
  }
  return failed ? 1 : 0;
}
