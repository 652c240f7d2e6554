/*
 * cmd_exec.c — `backless exec`: run SQL on a backless database in one
 * transaction and print what the queries return, as aligned tables or as
 * JSON.
 *
 * Every SQL argument may hold several statements. All of them run between
 * one BEGIN IMMEDIATE and one COMMIT; the first error rolls everything back
 * and nothing is printed but the error. Statements that would end that
 * transaction early (BEGIN, COMMIT, ROLLBACK, END) are refused when they
 * are prepared, through an authorizer, before they can run.
 *
 * Divided into: JSON values, running one statement, the command.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

static const char exec_usage[] =
    "usage: backless exec --db FILE [--json] [--schema DIR] [--media-cache DIR] SQL [SQL ...]\n"
    "\n"
    "Runs every SQL argument (each may hold several statements separated by\n"
    "';') in ONE transaction: either all of it is applied or, on the first\n"
    "error, none of it (the error goes to stderr, the exit status is 1).\n"
    "Writes to synced tables are recorded by the CRDT engine and sent by the\n"
    "next 'backless sync'. BEGIN / COMMIT / ROLLBACK are refused (SAVEPOINT\n"
    "works).\n"
    "\n"
    "The rows of every statement that returns rows are printed once the\n"
    "transaction has committed: as aligned tables (NULL as NULL, blobs as\n"
    "X'hex'), or with --json as one JSON array holding, per row-returning\n"
    "statement, an array of {\"column\": value} objects. In JSON, integers are\n"
    "exact 64-bit numbers, reals print with 17 significant digits (they read\n"
    "back exactly), text is a string, NULL is null, a blob is\n"
    "{\"base64\": \"...\"}, text that is not UTF-8 is {\"base64\": \"...\",\n"
    "\"type\": \"text\"} and an infinite real is {\"real\": \"Infinity\"} or\n"
    "{\"real\": \"-Infinity\"}.\n"
    "\n"
    "Options:\n"
    "  --db FILE     a database made by 'backless init'\n"
    "  --json        print JSON instead of tables\n"
    "  --schema DIR  use (and remember) this schema folder instead of the\n"
    "                stored one\n"
    "  --            what follows is SQL even if it starts with '-'\n"
    "  --media-cache DIR\n"
    "                the attachments cache (default: $BACKLESS_MEDIA_CACHE, else\n"
    "                $XDG_CACHE_HOME/backless/media or ~/.cache/backless/media)\n"
    "  -h, --help    show this help\n"
    "\n"
    "Example:\n"
    "  backless exec --db todos.db \\\n"
    "    \"INSERT INTO todos (id, title) VALUES ('t1', 'Buy milk')\" \\\n"
    "    \"SELECT * FROM todos\"\n";

/* ------------------------------------------------------------ JSON values */

/* An object {key: string}, the tagged form of values JSON cannot hold
 * plainly. NULL when out of memory. */
static json_t *exec_tagged(const char *key, char *owned_text, const char *type) {
  json_t *o = owned_text ? json_object() : NULL;
  if (o && json_object_set_new(o, key, json_string(owned_text)) != 0) {
    json_decref(o);
    o = NULL;
  }
  if (o && type && json_object_set_new(o, "type", json_string(type)) != 0) {
    json_decref(o);
    o = NULL;
  }
  free(owned_text);
  return o;
}

/* Column `c` of the current row of `st` as a new JSON value; NULL when out
 * of memory. */
static json_t *exec_json_value(sqlite3_stmt *st, int c) {
  switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: return json_integer((json_int_t)sqlite3_column_int64(st, c));
    case SQLITE_FLOAT: {
      double d = sqlite3_column_double(st, c);
      if (isfinite(d)) return json_real(d);
      /* JSON has no infinity; SQLite cannot store NaN (it becomes NULL). */
      char *s = malloc(16);
      if (s) snprintf(s, 16, "%sInfinity", d < 0 ? "-" : "");
      return exec_tagged("real", s, NULL);
    }
    case SQLITE_TEXT: {
      const char *t = (const char *)sqlite3_column_text(st, c);
      size_t n = (size_t)sqlite3_column_bytes(st, c);
      json_t *s = json_stringn(t ? t : "", n);
      if (s) return s;
      /* jansson refuses text that is not UTF-8: keep its bytes. */
      return exec_tagged("base64", cli_base64((const unsigned char *)t, n), "text");
    }
    case SQLITE_BLOB: {
      const unsigned char *p = sqlite3_column_blob(st, c);
      size_t n = (size_t)sqlite3_column_bytes(st, c);
      return exec_tagged("base64", cli_base64(p ? p : (const unsigned char *)"", n), NULL);
    }
    default: return json_null();
  }
}

/* The current row of `st` as an object. Two columns of one name (SELECT 1
 * AS a, 2 AS a) keep both: the second becomes "a:2", and so on. NULL when
 * out of memory. */
static json_t *exec_json_row(sqlite3_stmt *st) {
  json_t *row = json_object();
  if (!row) return NULL;
  for (int c = 0; c < sqlite3_column_count(st); c++) {
    const char *name = sqlite3_column_name(st, c);
    char *key = sqlite3_mprintf("%s", name ? name : "");
    for (int k = 2; key && json_object_get(row, key); k++) {
      sqlite3_free(key);
      key = sqlite3_mprintf("%s:%d", name ? name : "", k);
    }
    json_t *v = key ? exec_json_value(st, c) : NULL;
    if (!v || json_object_set_new(row, key, v) != 0) {
      sqlite3_free(key);
      json_decref(row);
      return NULL;
    }
    sqlite3_free(key);
  }
  return row;
}

/* ------------------------------------------------------------ statements */

typedef struct exec_state {
  sqlite3 *db;
  int json;
  json_t *results; /* --json: one array per row-returning statement */
  FILE *tables;    /* otherwise: the printed tables, shown after COMMIT */
  int ntables;
  int refused; /* the authorizer refused a transaction statement */
} exec_state;

static int exec_authorize(void *payload, int action, const char *a, const char *b, const char *c,
                          const char *d) {
  (void)a, (void)b, (void)c, (void)d;
  if (action != SQLITE_TRANSACTION) return SQLITE_OK;
  ((exec_state *)payload)->refused = 1;
  return SQLITE_DENY;
}

/* Steps `st` to the end, collecting its rows. Returns an SQLite code. */
static int exec_collect(exec_state *s, sqlite3_stmt *st) {
  if (sqlite3_column_count(st) == 0) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  if (!s->json) {
    if (s->ntables++) fputc('\n', s->tables);
    return cli_print_stmt(s->tables, st, "");
  }
  json_t *rows = json_array();
  if (!rows || json_array_append_new(s->results, rows) != 0) return SQLITE_NOMEM;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *row = exec_json_row(st);
    if (!row || json_array_append_new(rows, row) != 0) return SQLITE_NOMEM;
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Reports a failed statement: SQLite's message and where it happened.
 * `text` is the statement (or, when it did not prepare, the rest of the
 * argument). */
static void exec_report(exec_state *s, int rc, int arg, const char *text) {
  /* Enough of the statement to recognize it, on one line. */
  char shown[81];
  size_t o = 0, len = strlen(text);
  while (len && strchr(" \t\r\n", *text)) text++, len--;
  /* A refused BEGIN / COMMIT is a short statement of its own: show just it. */
  if (s->refused && strchr(text, ';')) len = (size_t)(strchr(text, ';') - text);
  while (len && strchr(" \t\r\n;", text[len - 1])) len--;
  for (size_t i = 0; i < len && o + 1 < sizeof shown; i++)
    shown[o++] = strchr("\t\r\n", text[i]) ? ' ' : text[i];
  if (len > o && o > 3) memcpy(shown + o - 3, "...", 3);
  shown[o] = '\0';
  if (s->refused)
    cli_error("exec",
              "%s: not allowed, exec runs all its SQL in one transaction (use SAVEPOINT)"
              " — nothing was changed",
              shown);
  else
    cli_error("exec", "%s (SQL argument %d: %s) — nothing was changed",
              rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(s->db), arg, shown);
}

/* Runs every statement of `sql`. Returns 0, or -1 after reporting. */
static int exec_run_sql(exec_state *s, const char *sql, int arg) {
  const char *p = sql;
  while (*p) {
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    s->refused = 0;
    sqlite3_set_authorizer(s->db, exec_authorize, s);
    int rc = sqlite3_prepare_v2(s->db, p, -1, &st, &tail);
    sqlite3_set_authorizer(s->db, NULL, NULL);
    if (rc == SQLITE_OK && st) rc = exec_collect(s, st);
    if (rc != SQLITE_OK) {
      exec_report(s, rc, arg, st ? sqlite3_sql(st) : p);
      sqlite3_finalize(st);
      return -1;
    }
    sqlite3_finalize(st);
    if (!tail || tail == p) break;
    p = tail;
  }
  return 0;
}

/* ------------------------------------------------------------ the command */

static int exec_run(int argc, char **argv) {
  cli_db_options opt = {0};
  cli_db d = {0};
  exec_state s = {0};
  char *buf = NULL;
  size_t buflen = 0;
  int json = 0, nsql = 0, rc = CLI_EXIT_FAIL, in_tx = 0, only_sql = 0;
  char **sql = calloc((size_t)argc + 1, sizeof *sql);
  if (!sql) {
    cli_error("exec", "out of memory");
    return CLI_EXIT_FAIL;
  }
  /* Options and SQL may come in any order; after "--" everything is SQL. */
  for (int i = 1; i < argc; i++) {
    if (only_sql || argv[i][0] != '-' || argv[i][1] == '\0') {
      sql[nsql++] = argv[i];
    } else if (strcmp(argv[i], "--") == 0) {
      only_sql = 1;
    } else if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else {
      int m = cli_db_option("exec", argc, argv, &i, &opt);
      if (m == 0) cli_usage_error("exec", "unknown option '%s'", argv[i]);
      if (m <= 0) {
        free(sql);
        return CLI_EXIT_USAGE;
      }
    }
  }
  if (!opt.path) {
    free(sql);
    return cli_usage_error("exec", "--db FILE is required");
  }
  if (nsql == 0) {
    free(sql);
    return cli_usage_error("exec", "no SQL given");
  }

  rc = cli_db_open("exec", &opt, &d);
  if (rc != CLI_EXIT_OK) goto done;
  rc = CLI_EXIT_FAIL;
  s.db = bl_sqlite(d.db);
  s.json = json;
  if (json) {
    s.results = json_array();
  } else {
    s.tables = open_memstream(&buf, &buflen);
  }
  if (json ? !s.results : !s.tables) {
    cli_error("exec", "out of memory");
    goto done;
  }
  if (sqlite3_exec(s.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    cli_error("exec", "cannot start a transaction: %s", sqlite3_errmsg(s.db));
    goto done;
  }
  in_tx = 1;
  for (int i = 0; i < nsql; i++)
    if (exec_run_sql(&s, sql[i], i + 1) != 0) goto done;
  if (sqlite3_exec(s.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    cli_error("exec", "COMMIT failed: %s — nothing was changed", sqlite3_errmsg(s.db));
    goto done;
  }
  in_tx = 0;

  if (json) {
    char *text = json_dumps(s.results, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text) {
      cli_error("exec", "out of memory (the SQL was committed)");
      goto done;
    }
    printf("%s\n", text);
    free(text);
  } else {
    fclose(s.tables);
    s.tables = NULL;
    fwrite(buf, 1, buflen, stdout);
  }
  rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;

done:
  if (in_tx) sqlite3_exec(s.db, "ROLLBACK", NULL, NULL, NULL);
  if (s.tables) fclose(s.tables);
  free(buf);
  json_decref(s.results);
  cli_db_close(&d);
  free(sql);
  return rc;
}

const cli_command cli_cmd_exec = {
    .name = "exec",
    .summary = "run SQL in one transaction and print the rows (tables or JSON)",
    .usage = exec_usage,
    .run = exec_run,
};
