/*
 * cmd_media.c — `backless media`: attachments of a database whose schema
 * folder declares them with a line
 *     -- media: TABLE(HASH_COL[, FILENAME_COL[, MIME_COL]])
 * (the library's built-in media schema, loaded by cli_db_open).
 *
 *   media add          hash a file, cache it and insert its row
 *   media get          an attachment's bytes: from the cache, else downloaded
 *   media gc           a full sync (uploads and collection happen there) and
 *                      what the collection is waiting for
 *   media clear-cache  empty the database's cache dir
 *
 * Divided into: the usage text, shared helpers (hashes, opening the
 * database with a remote, copying a file atomically), one function per
 * subcommand, and the dispatch.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

static const char media_usage[] =
    "usage: backless media add         --db FILE [--name NAME] [--mime TYPE] FILE\n"
    "       backless media get         --db FILE --remote URL [-o OUT] [--name NAME] HASH\n"
    "       backless media gc          --db FILE --remote URL [--json] [--media-gc-grace N]\n"
    "       backless media clear-cache --db FILE\n"
    "  (each also takes [--media-cache DIR] [--schema DIR]; get and gc [--token-cmd CMD]\n"
    "   [--passphrase-file FILE])\n"
    "\n"
    "Attachments (images, documents) are files kept beside the database, named\n"
    "by the SHA-256 of their bytes: a synced table records them, one row per\n"
    "attachment, and the bytes travel through the remote's media/ folder.\n"
    "A database has attachments when a .sql file of its schema folder holds a\n"
    "line\n"
    "    -- media: TABLE(HASH_COL[, FILENAME_COL[, MIME_COL]])\n"
    "naming that table (which must also be in a '-- sync:' line) and its\n"
    "columns: the hash (64 lowercase hex characters), optionally the file name\n"
    "and the MIME type. For example:\n"
    "    -- sync: attachments\n"
    "    -- media: attachments(hash, filename, mime_type)\n"
    "    CREATE TABLE attachments (id TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL,\n"
    "                              filename TEXT, mime_type TEXT);\n"
    "\n"
    "'backless sync' uploads the attachments not uploaded yet and deletes from\n"
    "the remote those no device refers to any more (after the other devices\n"
    "pushed --media-gc-grace times since); it never downloads one.\n"
    "\n"
    "In an encrypted app folder (see 'backless sync --help') attachments are\n"
    "encrypted too, under names the cloud cannot link to their hash; get and gc\n"
    "then need the folder's passphrase.\n"
    "\n"
    "Subcommands:\n"
    "  add FILE      hashes FILE, copies it into the cache and inserts its row\n"
    "                (file name: --name, else FILE's last component; MIME type:\n"
    "                --mime, else guessed from the extension; a one-column\n"
    "                primary key that is none of the declared columns gets a\n"
    "                random UUID). Prints the hash; the next sync uploads it.\n"
    "  get HASH      the attachment's bytes, from the cache, else downloaded from\n"
    "                the remote, checked against the hash and cached. Prints the\n"
    "                cache entry's path, or with -o OUT copies the bytes to OUT\n"
    "                (written to a temporary file, then renamed; OUT may be an\n"
    "                existing folder, then the file inside is named --name or\n"
    "                HASH; '-o -' writes them to stdout). Says on stderr whether\n"
    "                they came from the cache, were downloaded, or replaced a\n"
    "                damaged cache entry. --name names the attachment in messages.\n"
    "  gc            a full sync (the collection is part of every sync), then the\n"
    "                attachments uploaded and deleted, and those waiting to be\n"
    "                deleted: no longer referred to, waiting for the other\n"
    "                devices' pushes. --json prints the sync result with a\n"
    "                \"media\" object.\n"
    "  clear-cache   deletes every entry of the cache dir (files that are not\n"
    "                cache entries stay) and prints the dir; 'get' downloads\n"
    "                again what is needed.\n"
    "\n"
    "Options:\n"
    "  --db FILE          a database made by 'backless init'\n"
    "  --remote URL       where the app folder lives (see 'backless sync --help')\n"
    "  --token-cmd CMD    cloud remotes: a command printing an access token\n"
    "  -o, --output OUT   get: where to write the bytes\n"
    "  --name NAME        add: the file name to record; get: the name to show\n"
    "  --mime TYPE        add: the MIME type to record\n"
    "  --json             gc: print one JSON object\n"
    "  --media-gc-grace N gc: other devices' pushes to wait for (default 2)\n"
    "  --schema DIR       use (and remember) this schema folder\n" CLI_MEDIA_CACHE_HELP
    CLI_PASSPHRASE_HELP
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0; 1 when the command failed (no '-- media:' line, a file that\n"
    "cannot be read, an attachment the remote does not have or whose bytes do\n"
    "not match its hash, sync errors); 2 for a wrong command line (a malformed\n"
    "HASH included).\n";

/* ------------------------------------------------------------ helpers */

/* Copies `arg` into `out` as a hash (uppercase letters lowered). Returns 0,
 * or -1 when it is not 64 hexadecimal characters. */
static int media_parse_hash(const char *arg, char out[BL_MEDIA_HASH_LEN + 1]) {
  size_t n = strlen(arg);
  if (n != BL_MEDIA_HASH_LEN) return -1;
  for (size_t i = 0; i < n; i++) {
    char c = arg[i];
    if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return -1;
    out[i] = c;
  }
  out[n] = '\0';
  return 0;
}

/* Fails `command` when the database has no media schema. 0 or -1. */
static int media_require_schema(const char *command, const cli_db *d) {
  if (d->media) return 0;
  cli_error(command,
            "the schema folder %s declares no attachments: add a line\n"
            "  -- media: TABLE(HASH_COL[, FILENAME_COL[, MIME_COL]])\n"
            "to one of its .sql files (see 'backless media --help')",
            d->schema_dir);
  return -1;
}

/*
 * Opens the database of `opt` and the remote `url` for `command`, as
 * `backless sync` does (a gdrive:// or onedrive:// URL names the app
 * folder). Returns CLI_EXIT_OK with both open (the caller closes them), or
 * an exit code after printing why (nothing left open).
 */
static int media_open(const char *command, cli_db_options *opt, const char *url,
                      const char *token_cmd, cli_db *d, bl_remote **remote) {
  char app_folder[256];
  *remote = NULL;
  int named = bl_remote_url_app_folder(url, app_folder, sizeof app_folder);
  if (named < 0)
    return cli_usage_error(
        command, "'%s' does not name one app folder (expected gdrive://Name or onedrive://Name)",
        url);
  if (named > 0) opt->remote_app_folder = app_folder;
  int rc = cli_db_open(command, opt, d);
  opt->remote_app_folder = NULL; /* app_folder dies here */
  if (rc != CLI_EXIT_OK) return rc;
  if (cli_remote_open(command, url, token_cmd, remote) != 0) {
    cli_db_close(d);
    return CLI_EXIT_FAIL;
  }
  return CLI_EXIT_OK;
}

/* Writes every byte of `fd_in` to `fd_out`. 0, or -1 with errno set. */
static int media_copy_fd(int fd_in, int fd_out) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd_in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return 0;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(fd_out, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return -1;
      off += w;
    }
  }
}

/*
 * Copies the file `src` to `dst` atomically: into a temporary file beside
 * `dst`, flushed to disk, then renamed over it, so `dst` is either absent
 * (or its old self) or complete. The new file gets the usual 0666 & ~umask
 * permissions. 0, or -1 after printing why.
 */
static int media_copy_atomic(const char *command, const char *src, const char *dst) {
  int in = -1, out = -1, created = 0, rc = -1;
  char *tmp = sqlite3_mprintf("%s.tmp-XXXXXX", dst);
  if (!tmp) {
    cli_error(command, "out of memory");
    return -1;
  }
  in = open(src, O_RDONLY);
  if (in < 0) {
    cli_error(command, "cannot read the cache entry %s: %s", src, strerror(errno));
    goto done;
  }
  out = mkstemp(tmp);
  if (out < 0) {
    cli_error(command, "cannot write %s: %s", dst, strerror(errno));
    goto done;
  }
  created = 1;
  mode_t mask = umask(0);
  umask(mask);
  if (fchmod(out, 0666 & ~mask) != 0 || media_copy_fd(in, out) != 0 || fsync(out) != 0) {
    cli_error(command, "cannot write %s: %s", tmp, strerror(errno));
    goto done;
  }
  int c = close(out);
  out = -1;
  if (c != 0 || rename(tmp, dst) != 0) {
    cli_error(command, "cannot write %s: %s", dst, strerror(errno));
    goto done;
  }
  rc = 0;

done:
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  if (rc != 0 && created) unlink(tmp);
  sqlite3_free(tmp);
  return rc;
}

/* ------------------------------------------------------------ add */

static int media_add(int argc, char **argv) {
  const char *command = "media add";
  cli_db_options opt = {0};
  cli_db d = {0};
  const char *file = NULL, *name = NULL, *mime = NULL;
  int rc;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0 && i + 1 < argc && !file) {
      file = argv[++i];
      continue;
    }
    int m = cli_db_option(command, argc, argv, &i, &opt);
    if (m == 0) m = cli_opt_value(command, argc, argv, &i, "--name", &name);
    if (m == 0) m = cli_opt_value(command, argc, argv, &i, "--mime", &mime);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m > 0) continue;
    if (argv[i][0] == '-')
      return cli_usage_error(command, "unknown option '%s'", argv[i]);
    if (file) return cli_usage_error(command, "one FILE at a time ('%s' is a second one)", argv[i]);
    file = argv[i];
  }
  if (!opt.path) return cli_usage_error(command, "--db FILE is required");
  if (!file) return cli_usage_error(command, "which FILE? (backless media add --db DB FILE)");
  if (name && (!*name || strchr(name, '/')))
    return cli_usage_error(command, "--name wants a file name without '/', not '%s'", name);

  /* Checked first, so a typo costs nothing and says so plainly. */
  struct stat st;
  if (stat(file, &st) != 0) {
    cli_error(command, "cannot read %s: %s", file, strerror(errno));
    return CLI_EXIT_FAIL;
  }
  if (S_ISDIR(st.st_mode)) {
    cli_error(command, "%s is a folder; attach files one at a time", file);
    return CLI_EXIT_FAIL;
  }
  if (access(file, R_OK) != 0) {
    cli_error(command, "cannot read %s: %s", file, strerror(errno));
    return CLI_EXIT_FAIL;
  }

  rc = cli_db_open(command, &opt, &d);
  if (rc != CLI_EXIT_OK) return rc;
  rc = CLI_EXIT_FAIL;
  if (media_require_schema(command, &d) != 0) goto done;
  char hash[BL_MEDIA_HASH_LEN + 1];
  if (bl_media_add_file(d.db, file, name, mime, hash) != BL_OK) {
    cli_error(command, "%s: %s", file, bl_errmsg(d.db));
    goto done;
  }
  printf("%s\n", hash);
  fprintf(stderr, "attached %s (%lld byte%s); the next 'backless sync' uploads it\n", file,
          (long long)st.st_size, st.st_size == 1 ? "" : "s");
  rc = CLI_EXIT_OK;

done:
  cli_db_close(&d);
  return rc;
}

/* ------------------------------------------------------------ get */

static const char *media_source_text(int source) {
  switch (source) {
    case BL_MEDIA_FROM_CACHE: return "from the cache";
    case BL_MEDIA_DOWNLOADED: return "downloaded";
    case BL_MEDIA_REPAIRED: return "repaired: the cache entry was damaged, downloaded again";
    default: return "resolved";
  }
}

static int media_get(int argc, char **argv) {
  const char *command = "media get";
  cli_db_options opt = {0};
  cli_db d = {0};
  bl_remote *remote = NULL;
  bl_media_file file = {0};
  const char *url = NULL, *token_cmd = NULL, *out = NULL, *name = NULL, *hash_arg = NULL;
  char *target = NULL;
  char hash[BL_MEDIA_HASH_LEN + 1];
  int rc;
  opt.keyed = 1;
  for (int i = 1; i < argc; i++) {
    int m = cli_db_option(command, argc, argv, &i, &opt);
    if (m == 0) m = cli_key_option(command, argc, argv, &i, &opt);
    if (m == 0) m = cli_opt_value(command, argc, argv, &i, "--remote", &url);
    if (m == 0) m = cli_opt_value(command, argc, argv, &i, "--token-cmd", &token_cmd);
    if (m == 0) m = cli_opt_value(command, argc, argv, &i, "-o", &out);
    if (m == 0) m = cli_opt_value(command, argc, argv, &i, "--output", &out);
    if (m == 0) m = cli_opt_value(command, argc, argv, &i, "--name", &name);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m > 0) continue;
    if (argv[i][0] == '-') return cli_usage_error(command, "unknown option '%s'", argv[i]);
    if (hash_arg) return cli_usage_error(command, "one HASH at a time ('%s' is a second one)", argv[i]);
    hash_arg = argv[i];
  }
  if (!opt.path) return cli_usage_error(command, "--db FILE is required");
  if (!url) return cli_usage_error(command, "--remote URL is required");
  if (!hash_arg) return cli_usage_error(command, "which HASH? (as 'backless media add' printed it)");
  if (media_parse_hash(hash_arg, hash) != 0)
    return cli_usage_error(command, "'%s' is not a hash (64 hexadecimal characters)", hash_arg);
  if (out && !*out) return cli_usage_error(command, "-o wants a file name");
  if (name && !*name) name = NULL;

  /* Where the bytes go, checked before anything is downloaded. */
  int to_stdout = out && strcmp(out, "-") == 0;
  if (out && !to_stdout) {
    struct stat st;
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
      if (name && strchr(name, '/'))
        return cli_usage_error(command, "--name '%s' cannot name a file in %s", name, out);
      target = sqlite3_mprintf("%s/%s", out, name ? name : hash);
    } else {
      target = sqlite3_mprintf("%s", out);
    }
    if (!target) {
      cli_error(command, "out of memory");
      return CLI_EXIT_FAIL;
    }
    /* The folder it goes into must exist ("/" for "/name"). */
    const char *slash = strrchr(target, '/');
    char *dir = slash ? sqlite3_mprintf("%.*s", (int)(slash - target) + (slash == target), target)
                      : sqlite3_mprintf(".");
    const char *why = NULL;
    if (!dir)
      why = "out of memory";
    else if (stat(dir, &st) != 0)
      why = strerror(errno);
    else if (!S_ISDIR(st.st_mode))
      why = "Not a directory";
    if (why) cli_error(command, "cannot write %s: %s: %s", target, dir ? dir : "", why);
    sqlite3_free(dir);
    if (why) {
      sqlite3_free(target);
      return CLI_EXIT_FAIL;
    }
  }

  rc = media_open(command, &opt, url, token_cmd, &d, &remote);
  if (rc != CLI_EXIT_OK) goto done;
  rc = CLI_EXIT_FAIL;
  const char *shown = name ? name : hash;
  int r = bl_media_resolve(d.db, remote, hash, name, &file);
  if (r == BL_ENOTFOUND) {
    cli_error(command,
              "attachment %s is not in the remote (not uploaded yet, or collected since): %s",
              shown, bl_errmsg(d.db));
    goto done;
  }
  if (r == BL_ECORRUPT) {
    cli_error(command, "attachment %s: the remote's copy does not match its hash (nothing kept): %s",
              shown, bl_errmsg(d.db));
    goto done;
  }
  if (r == BL_EAUTH && strstr(bl_errmsg(d.db), "passphrase")) {
    /* The folder's 'key' error (resolve reads its settings first). */
    char src[1024];
    if (d.pass.text)
      cli_error(command, "attachment %s: %s (the passphrase came from %s)", shown,
                bl_errmsg(d.db), cli_passphrase_source(&d.pass, src, sizeof src));
    else
      cli_error(command,
                "attachment %s: the app folder '%s' is encrypted and no passphrase was given: "
                "pass --passphrase-file FILE or set BACKLESS_PASSPHRASE (nothing was downloaded)",
                shown, d.app_folder);
    goto done;
  }
  if (r != BL_OK) {
    cli_error(command, "attachment %s: %s", shown, bl_errmsg(d.db));
    goto done;
  }

  if (to_stdout) {
    int fd = open(file.path, O_RDONLY);
    int failed = fd < 0 || media_copy_fd(fd, STDOUT_FILENO) != 0;
    if (failed) cli_error(command, "cannot copy %s to stdout: %s", file.path, strerror(errno));
    if (fd >= 0) close(fd);
    if (failed) goto done;
  } else if (target) {
    if (media_copy_atomic(command, file.path, target) != 0) goto done;
  } else {
    printf("%s\n", file.path);
  }
  fprintf(stderr, "%s: %s (%lld byte%s)%s%s\n", shown, media_source_text(file.source),
          (long long)file.size, file.size == 1 ? "" : "s", target ? ", written to " : "",
          target ? target : "");
  rc = CLI_EXIT_OK;

done:
  bl_media_file_free(&file);
  bl_remote_free(remote);
  cli_db_close(&d);
  sqlite3_free(target);
  return rc;
}

/* ------------------------------------------------------------ gc */

/*
 * What the library remembers about each hash, in its local table _bl_media
 * (src/media/state.c): `referenced` (the last collection pass saw it
 * referenced), `seen` (it was referenced once; only such hashes are ever
 * deleted), `condemned` (NULL, or the anchor "device=seq;..." of the other
 * devices' cursors when it was seen unreferenced), `verify` (non-NULL while
 * a file found already in the cloud is re-checked), `cached` (this database
 * put it into the cache). A hash is deleted once every other device's
 * cursor reaches its anchor + grace.
 */

/* The sequence `device` has in `anchor` (0 when absent, as the library
 * counts it). */
static long long media_anchor_seq(const char *anchor, const char *device) {
  size_t dl = strlen(device);
  for (const char *p = anchor; p && *p;) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > dl && strncmp(p, device, dl) == 0 && p[dl] == '=')
      return strtoll(p + dl + 1, NULL, 10);
    p = end ? end + 1 : NULL;
  }
  return 0;
}

/*
 * The media state of `d` as a JSON object {known, referenced, cached,
 * verifying, grace, condemned: [{hash, anchor: {device: seq}, waiting_for:
 * {device: pushes still needed}}]} (a new reference), or NULL on error with
 * the message left on the connection. A database without the table yet
 * has all zeroes.
 */
static json_t *media_state(cli_db *d, int grace) {
  sqlite3 *db = bl_sqlite(d->db);
  sqlite3_stmt *st = NULL, *cur = NULL;
  json_t *o = json_pack("{s:i,s:i,s:i,s:i,s:i,s:[]}", "known", 0, "referenced", 0, "cached", 0,
                        "verifying", 0, "grace", grace, "condemned");
  if (!o) return NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT count(*), total(referenced != 0), total(cached != 0),"
                              " total(verify IS NOT NULL) FROM _bl_media",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(st);
    if (strstr(sqlite3_errmsg(db), "no such table")) return o; /* nothing synced yet */
    json_decref(o);
    return NULL;
  }
  static const char *const keys[] = {"known", "referenced", "cached", "verifying"};
  if ((rc = sqlite3_step(st)) == SQLITE_ROW)
    for (int c = 0; c < 4; c++)
      json_object_set_new(o, keys[c], json_integer((json_int_t)sqlite3_column_int64(st, c)));
  sqlite3_finalize(st);
  st = NULL;
  if (rc != SQLITE_ROW) goto fail;

  rc = sqlite3_prepare_v2(db, "SELECT hash, condemned FROM _bl_media WHERE condemned IS NOT NULL"
                              " ORDER BY hash", -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db, "SELECT device_id, last_sequence FROM _sync_cursors"
                                " WHERE device_id != ?1 ORDER BY device_id", -1, &cur, NULL);
  if (rc != SQLITE_OK) goto fail;
  sqlite3_bind_text(cur, 1, bl_device_id(d->db), -1, SQLITE_STATIC);
  json_t *list = json_object_get(o, "condemned");
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *hash = (const char *)sqlite3_column_text(st, 0);
    const char *anchor = (const char *)sqlite3_column_text(st, 1);
    json_t *anchors = json_object(), *waiting = json_object();
    json_t *item = json_pack("{s:s,s:o,s:o}", "hash", hash ? hash : "", "anchor", anchors,
                             "waiting_for", waiting);
    if (!item || json_array_append_new(list, item) != 0) goto fail;
    sqlite3_reset(cur);
    while ((rc = sqlite3_step(cur)) == SQLITE_ROW) {
      const char *dev = (const char *)sqlite3_column_text(cur, 0);
      if (!dev) continue;
      long long seq = media_anchor_seq(anchor, dev);
      long long need = seq + grace - sqlite3_column_int64(cur, 1);
      json_object_set_new(anchors, dev, json_integer(seq));
      json_object_set_new(waiting, dev, json_integer(need > 0 ? need : 0));
    }
    if (rc != SQLITE_DONE) goto fail;
  }
  if (rc != SQLITE_DONE) goto fail;
  sqlite3_finalize(st);
  sqlite3_finalize(cur);
  return o;

fail:
  sqlite3_finalize(st);
  sqlite3_finalize(cur);
  json_decref(o);
  return NULL;
}

/* Prints the state (media_state) as text. */
static void media_print_state(const json_t *state) {
  long long known = json_integer_value(json_object_get(state, "known"));
  long long refd = json_integer_value(json_object_get(state, "referenced"));
  long long verifying = json_integer_value(json_object_get(state, "verifying"));
  const json_t *list = json_object_get(state, "condemned");
  printf("media state: %lld attachment%s known, %lld referenced, %zu waiting to be deleted\n", known,
         known == 1 ? "" : "s", refd, json_array_size(list));
  if (verifying)
    printf("  %lld found already in the remote when uploaded, re-checked at the next syncs\n",
           verifying);
  size_t i;
  const json_t *item;
  json_array_foreach(list, i, item) {
    const char *hash = json_string_value(json_object_get(item, "hash"));
    const json_t *waiting = json_object_get(item, "waiting_for");
    printf("  %s  no longer referenced; ", hash ? hash : "?");
    const char *dev;
    const json_t *n;
    int any = 0;
    json_object_foreach((json_t *)waiting, dev, n) {
      long long k = json_integer_value(n);
      if (k <= 0) continue;
      printf("%s%lld more push%s from device %s", any ? ", " : "waits for ", k, k == 1 ? "" : "es",
             dev);
      any = 1;
    }
    printf("%s\n", any ? "" : "deleted at the next sync");
  }
}

static int media_gc(int argc, char **argv) {
  const char *command = "media gc";
  cli_db_options opt = {0};
  cli_db d = {0};
  bl_remote *remote = NULL;
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  json_t *state = NULL, *o = NULL;
  const char *url = NULL, *token_cmd = NULL, *grace = NULL;
  int json = 0, rc;
  opt.keyed = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
      continue;
    }
    int m = cli_db_option(command, argc, argv, &i, &opt);
    if (m == 0) m = cli_key_option(command, argc, argv, &i, &opt);
    if (m == 0) m = cli_opt_value(command, argc, argv, &i, "--remote", &url);
    if (m == 0) m = cli_opt_value(command, argc, argv, &i, "--token-cmd", &token_cmd);
    if (m == 0) m = cli_opt_value(command, argc, argv, &i, "--media-gc-grace", &grace);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m == 0)
      return cli_usage_error(command, "%s '%s'",
                             argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
  }
  if (!opt.path) return cli_usage_error(command, "--db FILE is required");
  if (!url) return cli_usage_error(command, "--remote URL is required");
  if (grace) {
    long long v;
    if (cli_parse_int(grace, 1, INT_MAX, &v) != 0)
      return cli_usage_error(command, "--media-gc-grace wants a number >= 1, not '%s'", grace);
    opt.media_gc_grace = (int)v;
  }

  rc = media_open(command, &opt, url, token_cmd, &d, &remote);
  if (rc != CLI_EXIT_OK) return rc;
  rc = CLI_EXIT_FAIL;
  if (media_require_schema(command, &d) != 0) goto done;
  uint64_t before = bl_remote_request_count(remote);
  int src = bl_sync(d.db, remote, &res);
  uint64_t requests = bl_remote_request_count(remote) - before;
  state = media_state(&d, opt.media_gc_grace ? opt.media_gc_grace : BL_MEDIA_GC_GRACE);
  if (!state) {
    cli_error(command, "cannot read the media state: %s", sqlite3_errmsg(bl_sqlite(d.db)));
    goto done;
  }

  if (json) {
    o = cli_sync_json(&res, requests);
    char *text = NULL;
    if (o && json_object_set_new(state, "cache_dir", json_string(bl_media_cache_dir(d.db))) == 0 &&
        json_object_set(o, "media", state) == 0)
      text = json_dumps(o, JSON_COMPACT);
    if (!text) {
      cli_error(command, "out of memory");
      goto done;
    }
    printf("%s\n", text);
    free(text);
  } else {
    cli_sync_print_text(&res, requests);
    if (!res.media_uploaded && !res.media_deleted)
      printf("media: uploaded 0 attachments, deleted 0\n");
    media_print_state(state);
  }
  if (cli_key_error(command, &res, &d)) goto done;
  if (res.errors_count > 0) {
    cli_error(command, "%zu error%s (see above); nothing was collected", res.errors_count,
              res.errors_count == 1 ? "" : "s");
    goto done;
  }
  if (src != BL_OK) {
    cli_error(command, "%s", bl_errmsg(d.db));
    goto done;
  }
  rc = CLI_EXIT_OK;

done:
  json_decref(o);
  json_decref(state);
  bl_sync_result_free(&res);
  bl_remote_free(remote);
  cli_db_close(&d);
  return rc;
}

/* ------------------------------------------------------------ clear-cache */

static int media_clear_cache(int argc, char **argv) {
  const char *command = "media clear-cache";
  cli_db_options opt = {0};
  cli_db d = {0};
  for (int i = 1; i < argc; i++) {
    int m = cli_db_option(command, argc, argv, &i, &opt);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m == 0)
      return cli_usage_error(command, "%s '%s'",
                             argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
  }
  if (!opt.path) return cli_usage_error(command, "--db FILE is required");
  int rc = cli_db_open(command, &opt, &d);
  if (rc != CLI_EXIT_OK) return rc;
  if (bl_media_cache_clear(d.db) != BL_OK) {
    cli_error(command, "%s: %s", bl_media_cache_dir(d.db), bl_errmsg(d.db));
    rc = CLI_EXIT_FAIL;
  } else {
    printf("cleared the media cache %s\n", bl_media_cache_dir(d.db));
  }
  cli_db_close(&d);
  return rc;
}

/* ------------------------------------------------------------ dispatch */

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
} media_subcommands[] = {
    {"add", media_add},
    {"get", media_get},
    {"gc", media_gc},
    {"clear-cache", media_clear_cache},
};

static int media_run(int argc, char **argv) {
  if (argc < 2)
    return cli_usage_error("media", "which subcommand? add, get, gc or clear-cache");
  for (size_t k = 0; k < sizeof media_subcommands / sizeof media_subcommands[0]; k++)
    if (strcmp(argv[1], media_subcommands[k].name) == 0)
      return media_subcommands[k].run(argc - 1, argv + 1);
  return cli_usage_error("media", "unknown subcommand '%s' (add, get, gc or clear-cache)", argv[1]);
}

const cli_command cli_cmd_media = {
    .name = "media",
    .summary = "attachments: add, get (download), gc (collect), clear-cache",
    .usage = media_usage,
    .usage_tail = cli_remote_help,
    .run = media_run,
};
