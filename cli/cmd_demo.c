/*
 * cmd_demo.c — `backless demo`: two devices edit one todo list concurrently
 * and converge through the CRDT engine.
 *
 * Until the sync engine and its storage backends exist, both "devices" are
 * in-memory databases in this process and changes travel between them the
 * way any cr-sqlite sync moves them: SELECT from crsql_changes on one side,
 * INSERT INTO crsql_changes on the other. The demo exits 0 when both devices
 * end with the same table and the same CRDT metadata, and 1 otherwise.
 *
 * The file is divided into: device helpers (open, run and echo SQL), the
 * exchange of changes, the convergence check, and the narrated script.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backless.h"
#include "cli.h"

static const char demo_usage[] =
    "usage: backless demo [--quiet]\n"
    "\n"
    "Shows two devices, A and B, editing the same todo list while offline and\n"
    "converging once they exchange changes: edits of different columns of one\n"
    "row both survive, edits of the same column resolve the same way on both\n"
    "devices, and a delete wins over a concurrent edit.\n"
    "\n"
    "Both devices are in-memory SQLite databases with the CRDT engine loaded\n"
    "(the table becomes a CRR with SELECT crsql_as_crr('todos')); changes are\n"
    "carried from one to the other through the crsql_changes virtual table.\n"
    "(Syncing through a cloud folder comes with the sync engine.)\n"
    "\n"
    "Options:\n"
    "  -q, --quiet   print only the final verdict\n"
    "  -h, --help    show this help\n"
    "\n"
    "Exit status: 0 when both devices converge to the same state, 1 otherwise.\n";

typedef struct demo_device {
  const char *name; /* "A" or "B" */
  sqlite3 *db;
  unsigned char site[16];
  sqlite3_int64 sent; /* highest local db_version already sent to the peer */
} demo_device;

static int demo_quiet;

static void demo_say(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void demo_say(const char *fmt, ...) {
  if (demo_quiet) return;
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
}

static int demo_sql_error(demo_device *d, const char *what) {
  cli_error("demo", "device %s: %s: %s", d->name, what, sqlite3_errmsg(d->db));
  return -1;
}

/* Runs SQL on a device, echoing it as "device A> ..." when `echo` is set. */
static int demo_exec(demo_device *d, const char *sql, int echo) {
  if (echo) demo_say("  device %s> %s\n", d->name, sql);
  char *err = NULL;
  if (sqlite3_exec(d->db, sql, NULL, NULL, &err) != SQLITE_OK) {
    cli_error("demo", "device %s: %s: %s", d->name, sql, err ? err : "error");
    sqlite3_free(err);
    return -1;
  }
  return 0;
}

static int demo_show(demo_device *d) {
  if (demo_quiet) return 0;
  printf("  todos on device %s:\n", d->name);
  if (cli_print_query(stdout, d->db, "SELECT id, title, done FROM todos ORDER BY id", "    ") !=
      SQLITE_OK)
    return demo_sql_error(d, "reading todos");
  return 0;
}

/* Opens an in-memory database, registers the CRDT engine on it, creates
 * the todos table and upgrades it to a CRR. */
static int demo_open(demo_device *d) {
  char *err = NULL;
  if (sqlite3_open(":memory:", &d->db) != SQLITE_OK) return demo_sql_error(d, "opening");
  if (bl_crdt_register(d->db, &err) != SQLITE_OK) {
    cli_error("demo", "device %s: loading the CRDT engine: %s", d->name, err ? err : "error");
    sqlite3_free(err);
    return -1;
  }
  if (demo_exec(d,
                "CREATE TABLE todos (id INTEGER PRIMARY KEY NOT NULL, "
                "title TEXT NOT NULL DEFAULT '', done INTEGER NOT NULL DEFAULT 0)",
                0) != 0)
    return -1;
  if (demo_exec(d, "SELECT crsql_as_crr('todos')", 0) != 0) return -1;

  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(d->db, "SELECT crsql_site_id()", -1, &stmt, NULL);
  if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW &&
      sqlite3_column_bytes(stmt, 0) == (int)sizeof d->site) {
    memcpy(d->site, sqlite3_column_blob(stmt, 0), sizeof d->site);
    rc = SQLITE_OK;
  } else {
    rc = SQLITE_ERROR;
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK) return demo_sql_error(d, "reading crsql_site_id()");
  return 0;
}

/* ------------------------------------------------------------ exchange */

/* Names the device whose site id is `p`, for the narration. */
static const char *demo_site_name(const demo_device *a, const demo_device *b, const void *p,
                                  int n) {
  if (n == (int)sizeof a->site && memcmp(p, a->site, sizeof a->site) == 0) return a->name;
  if (n == (int)sizeof b->site && memcmp(p, b->site, sizeof b->site) == 0) return b->name;
  return "?";
}

/* Describes a packed primary key for the narration: "id=N" for a single
 * integer (the todos key), hex otherwise. Format: count byte, then a type
 * byte (low 3 bits type, high 5 bits byte length) and a big-endian value. */
static char *demo_pk_text(const unsigned char *p, int n) {
  if (n >= 2 && p[0] == 1 && (p[1] & 7) == 1 && (p[1] >> 3) == n - 2 && n - 2 <= 8) {
    unsigned long long v = 0;
    for (int i = 2; i < n; i++) v = (v << 8) | p[i];
    return sqlite3_mprintf("id=%lld", (long long)v);
  }
  char *hex = cli_hex(p, n);
  char *s = hex ? sqlite3_mprintf("pk=X'%s'", hex) : NULL;
  sqlite3_free(hex);
  return s;
}

static void demo_describe(const demo_device *a, const demo_device *b, sqlite3_stmt *sel,
                          sqlite3_str *out) {
  char *pk = demo_pk_text(sqlite3_column_blob(sel, 1), sqlite3_column_bytes(sel, 1));
  const char *cid = (const char *)sqlite3_column_text(sel, 2);
  const char *origin =
      demo_site_name(a, b, sqlite3_column_blob(sel, 6), sqlite3_column_bytes(sel, 6));
  long long colv = sqlite3_column_int64(sel, 4), cl = sqlite3_column_int64(sel, 7);
  if (cid && strcmp(cid, "-1") == 0) {
    sqlite3_str_appendf(out, "      %s %-6s row %s (causal length %lld) from %s\n",
                        sqlite3_column_text(sel, 0), pk ? pk : "?", cl % 2 ? "exists" : "deleted",
                        cl, origin);
  } else {
    char *val = sqlite3_column_type(sel, 3) == SQLITE_TEXT
                    ? sqlite3_mprintf("'%q'", sqlite3_column_text(sel, 3))
                    : cli_format_value(sel, 3);
    sqlite3_str_appendf(out, "      %s %-6s %s = %s (col_version %lld) from %s\n",
                        sqlite3_column_text(sel, 0), pk ? pk : "?", cid ? cid : "?",
                        val ? val : "?", colv, origin);
    sqlite3_free(val);
  }
  sqlite3_free(pk);
}

/*
 * Sends `from`'s changes that `to` has not seen: those with a db_version
 * above what was last sent, except changes that came from `to` itself.
 * They are merged into `to` in one transaction. Sets *count to the number
 * of changes sent and, when `listing` is not NULL, appends a line per
 * change to it. Returns 0 or -1 (message printed).
 */
static int demo_send(demo_device *from, demo_device *to, demo_device *a, demo_device *b,
                     sqlite3_str *listing, int *count) {
  sqlite3_stmt *sel = NULL, *ins = NULL;
  int rc = -1, n = 0;
  sqlite3_int64 high = from->sent;
  *count = 0;
  if (sqlite3_prepare_v2(from->db,
                         "SELECT \"table\", pk, cid, val, col_version, db_version, site_id, cl, seq"
                         " FROM crsql_changes WHERE db_version > ?1 AND site_id IS NOT ?2"
                         " ORDER BY db_version, seq",
                         -1, &sel, NULL) != SQLITE_OK) {
    demo_sql_error(from, "reading crsql_changes");
    goto done;
  }
  sqlite3_bind_int64(sel, 1, from->sent);
  sqlite3_bind_blob(sel, 2, to->site, sizeof to->site, SQLITE_STATIC);
  if (sqlite3_prepare_v2(to->db,
                         "INSERT INTO crsql_changes (\"table\", pk, cid, val, col_version,"
                         " db_version, site_id, cl, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         -1, &ins, NULL) != SQLITE_OK) {
    demo_sql_error(to, "preparing INSERT INTO crsql_changes");
    goto done;
  }
  if (demo_exec(to, "BEGIN", 0) != 0) goto done;
  int step;
  while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
    for (int i = 0; i < 9; i++) sqlite3_bind_value(ins, i + 1, sqlite3_column_value(sel, i));
    if (sqlite3_step(ins) != SQLITE_DONE) {
      demo_sql_error(to, "merging a change");
      sqlite3_exec(to->db, "ROLLBACK", NULL, NULL, NULL);
      goto done;
    }
    sqlite3_reset(ins);
    if (listing) demo_describe(a, b, sel, listing);
    sqlite3_int64 v = sqlite3_column_int64(sel, 5);
    if (v > high) high = v;
    n++;
  }
  if (step != SQLITE_DONE) {
    demo_sql_error(from, "reading crsql_changes");
    sqlite3_exec(to->db, "ROLLBACK", NULL, NULL, NULL);
    goto done;
  }
  if (demo_exec(to, "COMMIT", 0) != 0) goto done;
  from->sent = high;
  *count = n;
  rc = 0;
done:
  sqlite3_finalize(sel);
  sqlite3_finalize(ins);
  return rc;
}

/* Sends changes from one device to the other and narrates it; with `list`
 * every change is shown. Returns the number of changes, or -1. */
static int demo_sync(demo_device *from, demo_device *to, demo_device *a, demo_device *b,
                     int list) {
  int n;
  sqlite3_str *listing = list ? sqlite3_str_new(NULL) : NULL;
  int rc = demo_send(from, to, a, b, listing, &n);
  char *text = listing ? sqlite3_str_finish(listing) : NULL;
  if (rc == 0) {
    demo_say("  %s -> %s: %d change%s merged%s\n", from->name, to->name, n, n == 1 ? "" : "s",
             text && n ? ":" : "");
    if (text) demo_say("%s", text);
  }
  sqlite3_free(text);
  return rc == 0 ? n : -1;
}

/* ------------------------------------------------------------ checks */

/* Appends every row of `sql` to `out`, values quoted, one row per line. */
static int demo_dump(demo_device *d, const char *sql, sqlite3_str *out) {
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2(d->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    return demo_sql_error(d, "reading state");
  int step;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(stmt); i++)
      sqlite3_str_appendf(out, "%s%s", i ? "|" : "", sqlite3_column_text(stmt, i));
    sqlite3_str_appendchar(out, 1, '\n');
  }
  sqlite3_finalize(stmt);
  if (step != SQLITE_DONE) return demo_sql_error(d, "reading state");
  return 0;
}

/* The state that must converge: the rows, and the CRDT metadata of every
 * column (value, version, causal length, origin), but not db_version or
 * seq, which are local to each device. */
static char *demo_state(demo_device *d) {
  sqlite3_str *s = sqlite3_str_new(d->db);
  int rc = demo_dump(d, "SELECT quote(id), quote(title), quote(done) FROM todos ORDER BY id", s);
  sqlite3_str_appendall(s, "--\n");
  if (rc == 0)
    rc = demo_dump(d,
                   "SELECT quote(\"table\"), quote(pk), quote(cid), quote(val), col_version, cl,"
                   " quote(site_id) FROM crsql_changes ORDER BY 1, 2, 3",
                   s);
  char *text = sqlite3_str_finish(s);
  if (rc != 0) {
    sqlite3_free(text);
    return NULL;
  }
  return text;
}

/* Reads one text value of the todos table on a device; "" when absent. */
static char *demo_value(demo_device *d, const char *sql) {
  sqlite3_stmt *stmt = NULL;
  char *v = NULL;
  if (sqlite3_prepare_v2(d->db, sql, -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW)
    v = sqlite3_mprintf("%s", sqlite3_column_text(stmt, 0));
  else
    v = sqlite3_mprintf("");
  sqlite3_finalize(stmt);
  return v;
}

/* Checks one expected outcome on device A and prints the explanation. */
static int demo_expect(demo_device *d, const char *sql, const char *want, const char *why) {
  char *got = demo_value(d, sql);
  int ok = got && strcmp(got, want) == 0;
  demo_say("  %s %s\n", ok ? "ok: " : "FAIL:", why);
  if (!ok) {
    cli_error("demo", "expected %s to give '%s', got '%s'", sql, want, got ? got : "?");
  }
  sqlite3_free(got);
  return ok ? 0 : -1;
}

/* ------------------------------------------------------------ script */

static int demo_run(int argc, char **argv) {
  demo_device a = {.name = "A"}, b = {.name = "B"};
  int rc = CLI_EXIT_FAIL, failures = 0;
  char *sa = NULL, *sb = NULL;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
      demo_quiet = 1;
    } else {
      cli_error("demo", "unknown option '%s' (see 'backless demo --help')", argv[i]);
      return CLI_EXIT_USAGE;
    }
  }

  demo_say("backless demo: two devices, one todo list, no server.\n\n");
  demo_say("Step 1. Devices A and B each open a database, load the CRDT engine and run\n"
           "          CREATE TABLE todos (id INTEGER PRIMARY KEY NOT NULL,\n"
           "            title TEXT NOT NULL DEFAULT '', done INTEGER NOT NULL DEFAULT 0);\n"
           "          SELECT crsql_as_crr('todos');\n");
  if (demo_open(&a) != 0 || demo_open(&b) != 0) goto done;
  for (int i = 0; i < 2; i++) {
    demo_device *d = i ? &b : &a;
    char *hex = cli_hex(d->site, sizeof d->site);
    demo_say("  device %s has site id %s\n", d->name, hex ? hex : "?");
    sqlite3_free(hex);
  }

  demo_say("\nStep 2. A adds three todos.\n");
  if (demo_exec(&a,
                "INSERT INTO todos (id, title) VALUES (1, 'Buy milk'), (2, 'Call mom'), "
                "(3, 'Fix bike')",
                1) != 0)
    goto done;

  demo_say("\nStep 3. A sends its changes to B (SELECT ... FROM crsql_changes on A,\n"
           "        INSERT INTO crsql_changes on B).\n");
  if (demo_sync(&a, &b, &a, &b, 0) < 0 || demo_show(&b) != 0) goto done;

  demo_say("\nStep 4. Both go offline and edit the same todos at the same time.\n");
  if (demo_exec(&a, "UPDATE todos SET title = 'Buy oat milk' WHERE id = 1", 1) != 0 ||
      demo_exec(&b, "UPDATE todos SET done = 1 WHERE id = 1", 1) != 0 ||
      demo_exec(&a, "UPDATE todos SET title = 'Call mum' WHERE id = 2", 1) != 0 ||
      demo_exec(&b, "UPDATE todos SET title = 'Call mother' WHERE id = 2", 1) != 0 ||
      demo_exec(&a, "DELETE FROM todos WHERE id = 3", 1) != 0 ||
      demo_exec(&b, "UPDATE todos SET done = 1 WHERE id = 3", 1) != 0 ||
      demo_exec(&b, "INSERT INTO todos (id, title) VALUES (4, 'Water plants')", 1) != 0)
    goto done;
  if (demo_show(&a) != 0 || demo_show(&b) != 0) goto done;

  demo_say("\nStep 5. Back online, they exchange changes both ways.\n");
  if (demo_sync(&a, &b, &a, &b, 1) < 0 || demo_sync(&b, &a, &a, &b, 1) < 0) goto done;

  demo_say("\nStep 6. Both devices now hold the same todos.\n");
  if (demo_show(&a) != 0 || demo_show(&b) != 0) goto done;
  demo_say("\n");
  failures += demo_expect(&a, "SELECT title || ', done=' || done FROM todos WHERE id = 1",
                          "Buy oat milk, done=1",
                          "todo 1 keeps A's new title and B's done flag:\n"
                          "       edits of different columns of one row both survive.") != 0;
  failures += demo_expect(&a, "SELECT title FROM todos WHERE id = 2", "Call mum",
                          "todo 2: both changed the title once (equal col_version):\n"
                          "       the tie is broken by value, the same way on both devices.") != 0;
  failures += demo_expect(&a, "SELECT count(*) FROM todos WHERE id = 3", "0",
                          "todo 3 stays deleted: the delete raised the row's causal length,\n"
                          "       which outranks B's concurrent edit.") != 0;
  failures += demo_expect(&a, "SELECT title FROM todos WHERE id = 4", "Water plants",
                          "todo 4, added on B, reached A.") != 0;

  demo_say("\nStep 7. Exchanging again sends nothing new: merging is idempotent.\n");
  int n1 = demo_sync(&a, &b, &a, &b, 0), n2 = n1 < 0 ? -1 : demo_sync(&b, &a, &a, &b, 0);
  if (n1 < 0 || n2 < 0) goto done;
  if (n1 + n2 != 0) {
    cli_error("demo", "a second exchange sent %d changes; expected none", n1 + n2);
    failures++;
  }

  sa = demo_state(&a);
  sb = demo_state(&b);
  if (!sa || !sb) goto done;
  if (strcmp(sa, sb) != 0) {
    cli_error("demo", "the devices did NOT converge.\n--- device A:\n%s--- device B:\n%s", sa,
              sb);
    goto done;
  }
  if (failures) {
    cli_error("demo", "the devices converged, but %d outcome%s differed from cr-sqlite's rules",
              failures, failures == 1 ? "" : "s");
    goto done;
  }
  printf("%sConverged: devices A and B hold identical todos and CRDT metadata.\n",
         demo_quiet ? "" : "\n");
  rc = CLI_EXIT_OK;

done:
  sqlite3_free(sa);
  sqlite3_free(sb);
  sqlite3_close_v2(a.db);
  sqlite3_close_v2(b.db);
  return rc;
}

const cli_command cli_cmd_demo = {
    .name = "demo",
    .summary = "two devices edit one todo list offline and converge",
    .usage = demo_usage,
    .run = demo_run,
};
