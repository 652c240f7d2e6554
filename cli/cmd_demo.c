/*
 * cmd_demo.c — `backless demo`: two devices keep one todo list in sync
 * through a cloud folder, with the library's real API.
 *
 * Everything lives in a fresh temporary folder, removed at the end: the
 * schema (1.sql, with a table of attachments declared by its '-- media:'
 * line), device A's and device B's database files and media caches, and
 * "cloud", the folder both sync through (bl_remote_folder; with Dropbox or
 * Syncthing it would be a folder those keep in sync). The script narrates
 * each step on stdout and checks its outcome; the demo exits 0 only when
 * every check holds and both devices end with the same rows and the same
 * CRDT metadata.
 *
 * Divided into: the temporary folder, device helpers (run SQL, sync, read
 * values), checks, printing tables side by side, and the script.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char demo_usage[] =
    "usage: backless demo [--quiet]\n"
    "\n"
    "Shows two devices, A and B, keeping one todo list in sync through a cloud\n"
    "folder (here a local folder, as a Dropbox or Syncthing folder would be):\n"
    "A adds todos and B receives them; A attaches a file to a todo, its sync\n"
    "uploads the bytes, and B downloads them on demand (then reads them from its\n"
    "cache); both edit different columns of one row\n"
    "at the same time and both edits survive; a delete reaches the other\n"
    "device; conflicting edits of one cell resolve to the edit with the higher\n"
    "col_version, the same way on both devices; A clears all its data, as on\n"
    "sign-out, and one sync restores everything without uploading it again.\n"
    "\n"
    "Everything happens in a temporary folder (under $TMPDIR, else /tmp) that\n"
    "is removed at the end.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet   print only the final verdict\n"
    "  -h, --help    show this help\n"
    "\n"
    "Exit status: 0 when every check holds and both devices converge, 1 otherwise.\n";

static const char demo_schema_sql[] =
    "-- sync: todos, attachments\n"
    "-- media: attachments(hash, filename, mime_type)\n"
    "CREATE TABLE todos (\n"
    "  id TEXT PRIMARY KEY NOT NULL,\n"
    "  title TEXT NOT NULL DEFAULT '',\n"
    "  done INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE attachments (\n"
    "  id TEXT PRIMARY KEY NOT NULL,\n"
    "  todo_id TEXT,\n"
    "  hash TEXT NOT NULL DEFAULT '',\n"
    "  filename TEXT,\n"
    "  mime_type TEXT\n"
    ");\n";

static int demo_quiet;
static int demo_failures;

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

/* ------------------------------------------------------------ the folder */

static int demo_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)type, (void)ftw;
  if (remove(path) != 0) cli_error("demo", "cannot remove %s: %s", path, strerror(errno));
  return 0; /* go on: remove as much as possible */
}

/* Removes `dir` and everything in it, without following symbolic links. */
static void demo_rm_tree(const char *dir) {
  nftw(dir, demo_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes `text` to `path`. 0 or -1 (message printed). */
static int demo_write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
    cli_error("demo", "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ devices */

typedef struct demo_device {
  const char *name; /* "A" or "B" */
  char *path;       /* the database file */
  char *cache;      /* its media cache dir */
  bl_db *db;
} demo_device;

/* Runs SQL on a device, echoed as "A> ...". 0 or -1 (message printed). */
static int demo_exec(demo_device *d, const char *sql) {
  demo_say("  %s> %s\n", d->name, sql);
  char *err = NULL;
  if (sqlite3_exec(bl_sqlite(d->db), sql, NULL, NULL, &err) != SQLITE_OK) {
    cli_error("demo", "device %s: %s: %s", d->name, sql, err ? err : "error");
    sqlite3_free(err);
    return -1;
  }
  return 0;
}

/*
 * Syncs a device with the cloud folder and narrates the result. Returns 0
 * and fills *res (the caller frees it with bl_sync_result_free), or -1
 * when the sync reported errors (printed).
 */
static int demo_sync(demo_device *d, bl_remote *cloud, bl_sync_result *res) {
  int rc = bl_sync(d->db, cloud, res);
  demo_say("  %s syncs: pulled %lld change%s (%lld file%s), pushed %lld change%s (%lld file%s)\n",
           d->name, (long long)res->pulled, res->pulled == 1 ? "" : "s",
           (long long)res->files_pulled, res->files_pulled == 1 ? "" : "s", (long long)res->pushed,
           res->pushed == 1 ? "" : "s", (long long)res->files_pushed,
           res->files_pushed == 1 ? "" : "s");
  if (res->media_uploaded || res->media_deleted)
    demo_say("    media: uploaded %lld attachment%s, deleted %lld\n", (long long)res->media_uploaded,
             res->media_uploaded == 1 ? "" : "s", (long long)res->media_deleted);
  for (size_t i = 0; i < res->warnings_count; i++)
    demo_say("    warning [%s]: %s\n", bl_sync_code_name(res->warnings[i].code),
             res->warnings[i].message);
  if (rc == BL_OK) return 0;
  cli_error("demo", "device %s: sync failed: %s", d->name, bl_errmsg(d->db));
  return -1;
}

/* Syncs and forgets the result. 0 or -1. */
static int demo_sync_quiet_result(demo_device *d, bl_remote *cloud) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  int rc = demo_sync(d, cloud, &res);
  bl_sync_result_free(&res);
  return rc;
}

/* The first column of the first row of `sql` as text (sqlite3_malloc'ed;
 * "" when there is no row, NULL on error). */
static char *demo_value(demo_device *d, const char *sql) {
  sqlite3_stmt *st = NULL;
  char *v = NULL;
  int rc = sqlite3_prepare_v2(bl_sqlite(d->db), sql, -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st, 0);
    v = sqlite3_mprintf("%s", t ? (const char *)t : "NULL");
  } else if (rc == SQLITE_DONE) {
    v = sqlite3_mprintf("");
  } else {
    cli_error("demo", "device %s: %s: %s", d->name, sql, sqlite3_errmsg(bl_sqlite(d->db)));
  }
  sqlite3_finalize(st);
  return v;
}

/* ------------------------------------------------------------ checks */

/* Checks that `sql` gives `want` on device `d`; narrates `why`. */
static void demo_expect(demo_device *d, const char *sql, const char *want, const char *why) {
  char *got = demo_value(d, sql);
  int ok = got && strcmp(got, want) == 0;
  demo_say("  %s %s\n", ok ? "ok:  " : "FAIL:", why);
  if (!ok) {
    cli_error("demo", "device %s: expected %s to give '%s', got '%s'", d->name, sql, want,
              got ? got : "(error)");
    demo_failures++;
  }
  sqlite3_free(got);
}

/* Checks a count from a sync result: `got` must be `want`, or with
 * at_least set, at least `want`. */
static void demo_expect_count(const char *what, long long got, long long want, int at_least,
                              const char *why) {
  int ok = at_least ? got >= want : got == want;
  demo_say("  %s %s\n", ok ? "ok:  " : "FAIL:", why);
  if (!ok) {
    cli_error("demo", "expected %s %s %lld, got %lld", what, at_least ? ">=" : "=", want, got);
    demo_failures++;
  }
}

/* Appends every row of `sql` to `out`, one line per row. -1 on error. */
static int demo_dump(demo_device *d, const char *sql, sqlite3_str *out) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(bl_sqlite(d->db), sql, -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++)
      sqlite3_str_appendf(out, "%s%s", i ? "|" : "", sqlite3_column_text(st, i));
    sqlite3_str_appendchar(out, 1, '\n');
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    cli_error("demo", "device %s: %s", d->name, sqlite3_errmsg(bl_sqlite(d->db)));
    return -1;
  }
  return 0;
}

/* What must converge: the rows, and every column's CRDT metadata (value,
 * col_version, causal length, origin), but not db_version or seq, which
 * are local to each device. sqlite3_malloc'ed; NULL on error. */
static char *demo_state(demo_device *d) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  int rc = demo_dump(d, "SELECT quote(id), quote(title), quote(done) FROM todos ORDER BY id", s);
  sqlite3_str_appendall(s, "--\n");
  if (rc == 0)
    rc = demo_dump(d,
                   "SELECT \"table\", quote(pk), cid, quote(val), col_version, cl, quote(site_id)"
                   " FROM crsql_changes ORDER BY 1, 2, 3",
                   s);
  char *text = sqlite3_str_finish(s);
  if (rc != 0) {
    sqlite3_free(text);
    return NULL;
  }
  return text;
}

/* ------------------------------------------------------------ files */

/* Reads a whole file into a malloc'ed buffer (*len bytes). NULL on error
 * (message printed). */
static unsigned char *demo_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  size_t cap = 0;
  *len = 0;
  if (!f) goto fail;
  for (;;) {
    if (*len == cap) {
      size_t ncap = cap ? cap * 2 : 4096;
      unsigned char *n = realloc(buf, ncap);
      if (!n) goto fail;
      buf = n;
      cap = ncap;
    }
    size_t got = fread(buf + *len, 1, cap - *len, f);
    *len += got;
    if (got == 0) break;
  }
  if (ferror(f)) goto fail;
  fclose(f);
  return buf;
fail:
  cli_error("demo", "cannot read %s: %s", path, strerror(errno));
  if (f) fclose(f);
  free(buf);
  return NULL;
}

/* Checks that files `a` and `b` hold the same bytes; narrates `why`. */
static void demo_expect_same_bytes(const char *a, const char *b, const char *why) {
  size_t la = 0, lb = 0;
  unsigned char *pa = demo_read_file(a, &la), *pb = demo_read_file(b, &lb);
  int ok = pa && pb && la == lb && memcmp(pa, pb, la) == 0;
  demo_say("  %s %s\n", ok ? "ok:  " : "FAIL:", why);
  if (!ok) {
    cli_error("demo", "%s (%zu bytes) and %s (%zu bytes) differ", a, la, b, lb);
    demo_failures++;
  }
  free(pa);
  free(pb);
}

/* Checks where a resolved attachment came from; narrates `why`. */
static void demo_expect_source(const bl_media_file *f, int want, const char *why) {
  static const char *const names[] = {"?", "the cache", "a download", "a repair"};
  int ok = f->source == want;
  demo_say("  %s %s\n", ok ? "ok:  " : "FAIL:", why);
  if (!ok) {
    cli_error("demo", "expected the attachment from %s, got it from %s", names[want],
              f->source >= 1 && f->source <= 3 ? names[f->source] : "?");
    demo_failures++;
  }
}

/* ------------------------------------------------------------ tables */

static const char *const demo_todos_sql = "SELECT id, title, done FROM todos ORDER BY id";

/* The todos of a device as printed lines (sqlite3_malloc'ed text). */
static char *demo_render(demo_device *d) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  int rc = cli_print_query(f, bl_sqlite(d->db), demo_todos_sql, "");
  fclose(f);
  char *s = rc == SQLITE_OK && buf ? sqlite3_mprintf("%s", buf) : NULL;
  free(buf);
  if (rc != SQLITE_OK)
    cli_error("demo", "device %s: %s", d->name, sqlite3_errmsg(bl_sqlite(d->db)));
  return s;
}

static void demo_show(demo_device *d) {
  if (demo_quiet) return;
  char *t = demo_render(d);
  if (!t) return;
  printf("  todos on device %s:\n", d->name);
  for (char *line = t, *nl; *line; line = nl + 1) {
    nl = strchr(line, '\n');
    if (!nl) break;
    printf("    %.*s\n", (int)(nl - line), line);
  }
  sqlite3_free(t);
}

/* Width of one line in characters (UTF-8 continuation bytes not counted). */
static int demo_width(const char *s, size_t n) {
  int w = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) w++;
  return w;
}

/* Prints both devices' todos next to each other. */
static void demo_side_by_side(demo_device *a, demo_device *b) {
  if (demo_quiet) return;
  char *ta = demo_render(a), *tb = demo_render(b);
  if (ta && tb) {
    int wa = 0;
    for (char *p = ta, *nl; (nl = strchr(p, '\n')); p = nl + 1)
      if (demo_width(p, (size_t)(nl - p)) > wa) wa = demo_width(p, (size_t)(nl - p));
    printf("    %-*s    %s\n", wa, "device A", "device B");
    char *pa = ta, *pb = tb;
    while (*pa || *pb) {
      char *na = strchr(pa, '\n'), *nb = strchr(pb, '\n');
      size_t la = na ? (size_t)(na - pa) : strlen(pa), lb = nb ? (size_t)(nb - pb) : strlen(pb);
      printf("    %.*s%*s    %.*s\n", (int)la, pa, wa - demo_width(pa, la), "", (int)lb, pb);
      pa = na ? na + 1 : pa + la;
      pb = nb ? nb + 1 : pb + lb;
    }
  }
  sqlite3_free(ta);
  sqlite3_free(tb);
}

/* ------------------------------------------------------------ the script */

/* col_version of todo t3's title on a device, for the narration. */
static char *demo_t3_version(demo_device *d) {
  return demo_value(d,
                    "SELECT col_version FROM crsql_changes WHERE \"table\" = 'todos'"
                    " AND pk = crsql_pack_columns('t3') AND cid = 'title'");
}

/*
 * Steps 3 and 4: A attaches the file `receipt` to todo t1 and syncs (the
 * bytes are uploaded into `cloud_dir`, the folder behind `cloud`); B syncs (the row arrives, not the bytes), resolves
 * the attachment (downloaded), and again (from its cache). 0, or -1 when
 * a call failed (printed); failed checks are counted.
 */
static int demo_attachment(demo_device *a, demo_device *b, bl_remote *cloud, const char *cloud_dir,
                           const char *receipt) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  bl_media_file f1 = {0}, f2 = {0};
  char hash[BL_MEDIA_HASH_LEN + 1];
  int rc = -1;

  demo_say(
      "\nStep 3. A attaches a receipt to todo t1: bl_media_add_file hashes the file\n"
      "        (SHA-256), copies it into A's media cache and inserts a row into\n"
      "        attachments, the table the schema's '-- media:' line names. A syncs:\n"
      "        the bytes go to cloud/TodoDemo/media/<2 hex>/<hash>, the row goes\n"
      "        with A's changeset.\n");
  if (bl_media_add_file(a->db, receipt, NULL, NULL, hash) != BL_OK) {
    cli_error("demo", "device A: attach %s: %s", receipt, bl_errmsg(a->db));
    goto done;
  }
  demo_say("  A> bl_media_add_file(\"receipt.txt\") = %.12s...\n", hash);
  char *sql = sqlite3_mprintf("UPDATE attachments SET todo_id = 't1' WHERE hash = '%s'", hash);
  if (!sql || demo_exec(a, sql) != 0) {
    sqlite3_free(sql);
    goto done;
  }
  sqlite3_free(sql);
  if (demo_sync(a, cloud, &res) != 0) goto done;
  demo_expect_count("media_uploaded", res.media_uploaded, 1, 0, "A uploaded the receipt.");
  char *in_cloud = sqlite3_mprintf("%s/TodoDemo/media/%.2s/%s", cloud_dir, hash, hash);
  struct stat st;
  int there = in_cloud && stat(in_cloud, &st) == 0;
  demo_say("  %s The cloud holds it as TodoDemo/media/%.2s/%.12s...\n", there ? "ok:  " : "FAIL:",
           hash, hash);
  if (!there) {
    cli_error("demo", "%s: %s", in_cloud ? in_cloud : "out of memory", strerror(errno));
    demo_failures++;
  }
  sqlite3_free(in_cloud);

  demo_say(
      "\nStep 4. B syncs: it receives the row, not the bytes (a sync never downloads\n"
      "        attachments). B opens the attachment with bl_media_resolve: not in\n"
      "        its cache, so it is downloaded, checked against its hash and cached.\n"
      "        The second time it comes from B's cache.\n");
  if (demo_sync(b, cloud, &res) != 0) goto done;
  demo_expect(b, "SELECT filename || ', ' || mime_type || ', todo ' || todo_id FROM attachments",
              "receipt.txt, text/plain, todo t1", "B has the attachment's row.");
  if (bl_media_resolve(b->db, cloud, hash, "receipt.txt", &f1) != BL_OK) {
    cli_error("demo", "device B: resolve: %s", bl_errmsg(b->db));
    goto done;
  }
  demo_say("  B> bl_media_resolve(%.12s...) = %s\n", hash, f1.path);
  demo_expect_source(&f1, BL_MEDIA_DOWNLOADED, "B downloaded it into its cache.");
  if (bl_media_resolve(b->db, cloud, hash, "receipt.txt", &f2) != BL_OK) {
    cli_error("demo", "device B: resolve: %s", bl_errmsg(b->db));
    goto done;
  }
  demo_expect_source(&f2, BL_MEDIA_FROM_CACHE, "The second time, B read it from its cache.");
  demo_expect_same_bytes(receipt, f2.path, "B's bytes are identical to the file A attached.");
  rc = 0;

done:
  bl_media_file_free(&f1);
  bl_media_file_free(&f2);
  bl_sync_result_free(&res);
  return rc;
}

static int demo_script(demo_device *a, demo_device *b, bl_remote *cloud, const char *cloud_dir,
                       const char *receipt) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  int rc = -1;

  demo_say(
      "\nStep 1. A adds three todos and syncs: its changes go to its folder in the\n"
      "        cloud, cloud/TodoDemo/changesets/device-<A's id>/cs-00001.json.\n");
  if (demo_exec(a,
                "INSERT INTO todos (id, title) VALUES ('t1', 'Buy milk'), "
                "('t2', 'Call mom'), ('t3', 'Fix bike')") != 0 ||
      demo_sync(a, cloud, &res) != 0)
    goto done;
  demo_expect_count("pushed", res.pushed, 1, 1, "A pushed its changes.");

  demo_say("\nStep 2. B syncs: it lists the device folders and merges what is new.\n");
  if (demo_sync(b, cloud, &res) != 0) goto done;
  demo_show(b);
  demo_expect(b, "SELECT count(*) FROM todos", "3", "B has A's three todos.");

  if (demo_attachment(a, b, cloud, cloud_dir, receipt) != 0) goto done;

  demo_say("\nStep 5. Offline, A renames todo t1 while B marks it done; then both sync.\n");
  if (demo_exec(a, "UPDATE todos SET title = 'Buy oat milk' WHERE id = 't1'") != 0 ||
      demo_exec(b, "UPDATE todos SET done = 1 WHERE id = 't1'") != 0 ||
      demo_sync_quiet_result(a, cloud) != 0 || demo_sync_quiet_result(b, cloud) != 0 ||
      demo_sync_quiet_result(a, cloud) != 0)
    goto done;
  demo_show(a);
  demo_expect(a, "SELECT title || ', done=' || done FROM todos WHERE id = 't1'",
              "Buy oat milk, done=1",
              "A: t1 has A's title and B's done flag (column-level merge).");
  demo_expect(b, "SELECT title || ', done=' || done FROM todos WHERE id = 't1'",
              "Buy oat milk, done=1", "B: the same.");

  demo_say("\nStep 6. B deletes todo t2 and syncs; A syncs.\n");
  if (demo_exec(b, "DELETE FROM todos WHERE id = 't2'") != 0 ||
      demo_sync_quiet_result(b, cloud) != 0 || demo_sync_quiet_result(a, cloud) != 0)
    goto done;
  demo_expect(a, "SELECT count(*) FROM todos WHERE id = 't2'", "0", "t2 is gone on A too.");

  demo_say(
      "\nStep 7. Both edit the title of t3: A twice, B once. Each edit of a cell\n"
      "        raises its col_version; the higher col_version wins, whatever the\n"
      "        order in which the devices sync.\n");
  if (demo_exec(a, "UPDATE todos SET title = 'Fix the bike' WHERE id = 't3'") != 0 ||
      demo_exec(a, "UPDATE todos SET title = 'Fix bike brakes' WHERE id = 't3'") != 0 ||
      demo_exec(b, "UPDATE todos SET title = 'Repair bike' WHERE id = 't3'") != 0)
    goto done;
  char *va = demo_t3_version(a), *vb = demo_t3_version(b);
  demo_say("  col_version of t3.title: %s on A, %s on B\n", va ? va : "?", vb ? vb : "?");
  sqlite3_free(va);
  sqlite3_free(vb);
  if (demo_sync_quiet_result(b, cloud) != 0 || demo_sync_quiet_result(a, cloud) != 0 ||
      demo_sync_quiet_result(b, cloud) != 0)
    goto done;
  demo_expect(a, "SELECT title FROM todos WHERE id = 't3'", "Fix bike brakes",
              "A keeps its title although B synced first (higher col_version).");
  demo_expect(b, "SELECT title FROM todos WHERE id = 't3'", "Fix bike brakes",
              "B takes A's title.");

  demo_say(
      "\nStep 8. A signs out: bl_clear_all_data deletes its todos, their clocks,\n"
      "        its cursors and account (device id and schema version stay).\n");
  if (bl_clear_all_data(a->db) != BL_OK) {
    cli_error("demo", "device A: clear: %s", bl_errmsg(a->db));
    goto done;
  }
  demo_expect(a, "SELECT count(*) FROM todos", "0", "A's todo list is empty.");
  demo_say(
      "        A signs in again and syncs: its own cursor is 0, so it pulls its own\n"
      "        folder too, and knows that what it restored is already in the cloud\n"
      "        (the receipt's file is there already, so it is not uploaded again).\n");
  if (demo_sync(a, cloud, &res) != 0) goto done;
  demo_expect_count("pulled", res.pulled, 1, 1, "A pulled everything back.");
  demo_expect_count("pushed", res.pushed, 0, 0, "A pushed nothing (pushed = 0).");
  demo_expect_count("media_uploaded", res.media_uploaded, 0, 0,
                    "A uploaded no attachment again (media_uploaded = 0).");
  demo_show(a);

  demo_say("\nStep 9. One more sync on each: nothing new anywhere.\n");
  if (demo_sync(b, cloud, &res) != 0) goto done;
  long long moved = res.pulled + res.pushed + res.media_uploaded + res.media_deleted;
  if (demo_sync(a, cloud, &res) != 0) goto done;
  moved += res.pulled + res.pushed + res.media_uploaded + res.media_deleted;
  demo_expect_count("changes and attachments moved", moved, 0, 0,
                    "no change and no attachment moved.");
  rc = 0;

done:
  bl_sync_result_free(&res);
  return rc;
}

static int demo_run(int argc, char **argv) {
  demo_device a = {.name = "A"}, b = {.name = "B"};
  bl_schema *schema = NULL;
  bl_media_schema *media = NULL;
  bl_remote *cloud = NULL;
  char *root = NULL, *schema_dir = NULL, *cloud_dir = NULL, *receipt = NULL, *sa = NULL,
       *sb = NULL;
  int rc = CLI_EXIT_FAIL;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
      demo_quiet = 1;
    else
      return cli_usage_error("demo", "unknown option '%s'", argv[i]);
  }

  const char *tmp = getenv("TMPDIR");
  root = sqlite3_mprintf("%s/backless-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!root || !mkdtemp(root)) {
    cli_error("demo", "cannot create a temporary folder: %s", strerror(errno));
    sqlite3_free(root);
    return CLI_EXIT_FAIL;
  }
  schema_dir = sqlite3_mprintf("%s/schema", root);
  cloud_dir = sqlite3_mprintf("%s/cloud", root);
  char *schema_file = sqlite3_mprintf("%s/schema/1.sql", root);
  receipt = sqlite3_mprintf("%s/receipt.txt", root);
  a.path = sqlite3_mprintf("%s/a.db", root);
  b.path = sqlite3_mprintf("%s/b.db", root);
  a.cache = sqlite3_mprintf("%s/cache-a", root);
  b.cache = sqlite3_mprintf("%s/cache-b", root);
  int setup = schema_dir && cloud_dir && schema_file && receipt && a.path && b.path && a.cache &&
              b.cache && mkdir(schema_dir, 0700) == 0 && mkdir(cloud_dir, 0700) == 0;
  if (!setup) cli_error("demo", "cannot set up %s: %s", root, strerror(errno));
  if (setup) setup = demo_write_file(schema_file, demo_schema_sql) == 0;
  if (setup) {
    /* The attachment: a small receipt, made up here. */
    sqlite3_str *r = sqlite3_str_new(NULL);
    sqlite3_str_appendall(r, "RECEIPT - Corner Bike Shop\n");
    for (int i = 1; i <= 20; i++)
      sqlite3_str_appendf(r, "%2d x brake pad, model %03d   %3d.%02d EUR\n", i % 3 + 1, i * 7,
                          4 + i, (i * 37) % 100);
    sqlite3_str_appendall(r, "Thank you!\n");
    char *text = sqlite3_str_finish(r);
    setup = text && demo_write_file(receipt, text) == 0;
    sqlite3_free(text);
  }
  sqlite3_free(schema_file);
  if (!setup) goto done;

  demo_say("backless demo: two devices, one todo list, a cloud folder, no server.\n\n");
  demo_say(
      "In %s:\n"
      "  schema/1.sql   the schema both devices open their database with:\n",
      root);
  for (const char *p = demo_schema_sql, *nl; (nl = strchr(p, '\n')); p = nl + 1)
    demo_say("                   %.*s\n", (int)(nl - p), p);
  demo_say(
      "  a.db, b.db     the databases of device A and device B\n"
      "  cache-a/, cache-b/\n"
      "                 their media caches (attachments by hash)\n"
      "  receipt.txt    a file A attaches to a todo\n"
      "  cloud/         the shared folder they sync through\n");

  if (bl_schema_from_dir(&schema, schema_dir) != BL_OK ||
      bl_media_schema_from_dir(&media, schema_dir) != BL_OK) {
    cli_error("demo", "%s", bl_errmsg(NULL));
    goto done;
  }
  for (int i = 0; i < 2; i++) {
    demo_device *d = i ? &b : &a;
    bl_config cfg = BL_CONFIG_INIT;
    cfg.schema = schema;
    cfg.database_path = d->path;
    cfg.app_folder_name = "TodoDemo";
    cfg.media = media;
    cfg.media_cache_dir = d->cache;
    if (bl_open(&d->db, &cfg) != BL_OK) {
      cli_error("demo", "device %s: %s", d->name, bl_errmsg(NULL));
      goto done;
    }
    demo_say("  device %s has device id %s\n", d->name, bl_device_id(d->db));
  }
  if (bl_remote_folder(&cloud, cloud_dir) != BL_OK) {
    cli_error("demo", "%s", bl_errmsg(NULL));
    goto done;
  }

  if (demo_script(&a, &b, cloud, cloud_dir, receipt) != 0) goto done;

  demo_say("\nFinally, side by side:\n");
  demo_side_by_side(&a, &b);
  sa = demo_state(&a);
  sb = demo_state(&b);
  if (!sa || !sb) goto done;
  if (strcmp(sa, sb) != 0) {
    cli_error("demo", "the devices did NOT converge.\n--- device A:\n%s--- device B:\n%s", sa, sb);
    goto done;
  }
  if (demo_failures) {
    cli_error("demo", "%d check%s failed", demo_failures, demo_failures == 1 ? "" : "s");
    goto done;
  }
  printf("%sConverged: devices A and B hold identical todos, attachments and CRDT metadata.\n",
         demo_quiet ? "" : "\n");
  rc = CLI_EXIT_OK;

done:
  sqlite3_free(sa);
  sqlite3_free(sb);
  bl_remote_free(cloud);
  bl_close(a.db);
  bl_close(b.db);
  bl_schema_free(schema);
  bl_media_schema_free(media);
  demo_rm_tree(root);
  sqlite3_free(a.path);
  sqlite3_free(b.path);
  sqlite3_free(a.cache);
  sqlite3_free(b.cache);
  sqlite3_free(receipt);
  sqlite3_free(schema_dir);
  sqlite3_free(cloud_dir);
  sqlite3_free(root);
  return rc;
}

const cli_command cli_cmd_demo = {
    .name = "demo",
    .summary = "two devices keep a todo list in sync through a cloud folder",
    .usage = demo_usage,
    .run = demo_run,
};
