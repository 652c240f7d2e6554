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
 * With --encrypted, the same script runs through an encrypted app folder
 * (a fixed demo passphrase unless --passphrase-file or $BACKLESS_PASSPHRASE
 * gives one; Argon2id at its cheapest cost, since the folder lives for
 * seconds), and two more checks look at the cloud's bytes: the attachment
 * is stored under a name that is not its hash, and no todo title, table or
 * column name, attachment text, hash or the passphrase appears in any
 * cloud file, name or content.
 *
 * The checks and the tables it prints live in demo_check.c (demo.h).
 *
 * Divided into: device helpers (run SQL, sync, read values), the script,
 * and the command.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "demo.h"

static const char demo_usage[] =
    "usage: backless demo [--quiet] [--encrypted [--passphrase-file FILE]]\n"
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
    "With --encrypted the cloud folder is encrypted (see 'backless sync --help'),\n"
    "and the demo then checks that no todo title, table or column name,\n"
    "attachment text or hash, nor the passphrase, appears in any cloud file.\n"
    "The passphrase is a fixed demo one, unless --passphrase-file FILE or\n"
    "$BACKLESS_PASSPHRASE gives one (never printed); its Argon2id cost is the\n"
    "minimum, which is weak but fine for a folder removed seconds later.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet               print only the final verdict\n"
    "  --encrypted               sync through an encrypted folder\n"
    "  --passphrase-file FILE    with --encrypted: the passphrase, the first line\n"
    "                            of FILE (accessible by its owner only)\n"
    "  -h, --help                show this help\n"
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

int demo_quiet;
int demo_failures;
int demo_encrypted;

/* The passphrase of the encrypted demo when none is given: not a secret. */
static char demo_fixed_passphrase[] = "correct horse battery staple";

void demo_say(const char *fmt, ...) {
  if (demo_quiet) return;
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------ devices */


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
char *demo_value(demo_device *d, const char *sql) {
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
                           const char *receipt, char hash[BL_MEDIA_HASH_LEN + 1]) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  bl_media_file f1 = {0}, f2 = {0};
  int rc = -1;

  demo_say(
      "\nStep 3. A attaches a receipt to todo t1: bl_media_add_file hashes the file\n"
      "        (SHA-256), copies it into A's media cache and inserts a row into\n"
      "        attachments, the table the schema's '-- media:' line names. A syncs:\n");
  if (demo_encrypted)
    demo_say(
        "        the bytes go encrypted to cloud/TodoDemo/media/<2 hex>/<name>, where\n"
        "        <name> is a keyed hash of the file's hash (the cloud cannot tell which\n"
        "        file it is); the row goes with A's changeset.\n");
  else
    demo_say(
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
  if (demo_encrypted) {
    /* One file, and nothing in the media folder shows the hash. */
    char *media_dir = sqlite3_mprintf("%s/TodoDemo/media", cloud_dir);
    demo_needle needle = {hash, 0};
    int hits = 0, files = media_dir ? demo_scan(media_dir, &needle, 1, &hits) : -1;
    int ok = files == 1 && hits == 0;
    demo_say("  %s The cloud holds one file under TodoDemo/media/, neither named by nor\n"
             "        holding the hash %.12s...\n",
             ok ? "ok:  " : "FAIL:", hash);
    if (!ok) {
      if (files >= 0) cli_error("demo", "%d file(s) under %s, %d holding the hash", files,
                                media_dir, hits);
      demo_failures++;
    }
    sqlite3_free(media_dir);
  } else {
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
  }

  demo_say(
      "\nStep 4. B syncs: it receives the row, not the bytes (a sync never downloads\n"
      "        attachments). B opens the attachment with bl_media_resolve: not in\n"
      "        its cache, so it is downloaded,%s checked against its hash and\n"
      "        cached. The second time it comes from B's cache.\n",
      demo_encrypted ? " decrypted," : "");
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
                       const char *receipt, char hash[BL_MEDIA_HASH_LEN + 1]) {
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

  if (demo_attachment(a, b, cloud, cloud_dir, receipt, hash) != 0) goto done;

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

/* ------------------------------------------------------------ the command */

static int demo_run(int argc, char **argv) {
  demo_device a = {.name = "A"}, b = {.name = "B"};
  bl_schema *schema = NULL;
  bl_media_schema *media = NULL;
  bl_remote *cloud = NULL;
  char *root = NULL, *schema_dir = NULL, *cloud_dir = NULL, *receipt = NULL, *sa = NULL,
       *sb = NULL;
  const char *passphrase_file = NULL;
  cli_passphrase given = {0}, fixed = {demo_fixed_passphrase, NULL};
  char hash[BL_MEDIA_HASH_LEN + 1] = "";
  int rc = CLI_EXIT_FAIL;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
      demo_quiet = 1;
      continue;
    }
    if (strcmp(argv[i], "--encrypted") == 0) {
      demo_encrypted = 1;
      continue;
    }
    int m = cli_opt_value("demo", argc, argv, &i, "--passphrase-file", &passphrase_file);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m == 0) return cli_usage_error("demo", "unknown option '%s'", argv[i]);
  }
  if (passphrase_file && !demo_encrypted)
    return cli_usage_error("demo", "--passphrase-file goes with --encrypted");
  if (demo_encrypted && cli_passphrase_load("demo", passphrase_file, &given) != CLI_EXIT_OK)
    return CLI_EXIT_FAIL;
  cli_passphrase *pass = given.text ? &given : &fixed;

  const char *tmp = getenv("TMPDIR");
  root = sqlite3_mprintf("%s/backless-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!root || !mkdtemp(root)) {
    cli_error("demo", "cannot create a temporary folder: %s", strerror(errno));
    sqlite3_free(root);
    cli_passphrase_wipe(&given);
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
  if (demo_encrypted && given.text)
    demo_say("The cloud folder is encrypted with the passphrase from %s.\n",
             passphrase_file ? passphrase_file : "$BACKLESS_PASSPHRASE");
  else if (demo_encrypted)
    demo_say("The cloud folder is encrypted with the demo passphrase '%s'.\n",
             demo_fixed_passphrase);
  if (demo_encrypted)
    demo_say(
        "The first sync writes cloud/TodoDemo/backless.json: a random data key, wrapped\n"
        "under a key derived from the passphrase by Argon2id (at its minimum cost here:\n"
        "weak, but this folder lives for seconds). Every file the devices write is\n"
        "compressed, then encrypted with the data key.\n");

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
    if (demo_encrypted) {
      cli_passphrase_config(pass, &cfg);
      cfg.kdf_opslimit = crypto_pwhash_OPSLIMIT_MIN;
      cfg.kdf_memlimit = crypto_pwhash_MEMLIMIT_MIN;
    }
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

  if (demo_script(&a, &b, cloud, cloud_dir, receipt, hash) != 0) goto done;
  if (demo_encrypted) {
    demo_say("\nStep 10. What the cloud holds, byte by byte.\n");
    demo_expect_no_plaintext(cloud_dir, hash, pass->text);
  }

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
  printf("%sConverged: devices A and B hold identical todos, attachments and CRDT metadata%s.\n",
         demo_quiet ? "" : "\n", demo_encrypted ? "; the cloud holds none of it in the clear" : "");
  rc = CLI_EXIT_OK;

done:
  sqlite3_free(sa);
  sqlite3_free(sb);
  bl_remote_free(cloud);
  bl_close(a.db);
  bl_close(b.db);
  cli_passphrase_wipe(&given);
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
