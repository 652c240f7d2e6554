/*
 * open.c — how every database command of the tool opens its database.
 *
 * `backless init --db FILE --schema DIR` stores the absolute schema dir and
 * the app folder name in _sync_meta (keys cli_schema_dir, cli_app_folder),
 * so later commands need only --db. Those commands first read the two keys
 * through a plain read-only SQLite connection: a typo in --db must give an
 * error, not create an empty database. Then they build the schema from the
 * dir and call bl_open, which migrates when the dir has gained newer N.sql
 * files. `--schema DIR` on any command overrides the stored dir and
 * replaces it.
 *
 * Media: a `-- media: TABLE(HASH[, FILENAME[, MIME]])` line in the schema
 * dir gives the database the library's built-in media schema. The cache
 * dir is not stored: it comes from --media-cache, else
 * $BACKLESS_MEDIA_CACHE, else the library's default, on every command.
 *
 * Commands that may sync (opt->keyed) also hand the library the passphrase
 * of an encrypted app folder and a new folder's compression (passphrase.c).
 *
 * Divided into: the read-only probe, writing the keys, cli_db_open, and
 * opening a remote.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define OPEN_KEY_SCHEMA_DIR "cli_schema_dir"
#define OPEN_KEY_APP_FOLDER "cli_app_folder"

static char *open_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

int cli_db_option(const char *command, int argc, char **argv, int *i, cli_db_options *opt) {
  int m = cli_opt_value(command, argc, argv, i, "--db", &opt->path);
  if (m == 0) m = cli_opt_value(command, argc, argv, i, "--schema", &opt->schema_dir);
  if (m == 0) m = cli_opt_value(command, argc, argv, i, "--media-cache", &opt->media_cache);
  if (m > 0 && opt->media_cache && !*opt->media_cache) {
    cli_usage_error(command, "--media-cache wants a directory, not ''");
    return -1;
  }
  return m;
}

/* ------------------------------------------------------------ the probe */

typedef enum open_probe_result {
  PROBE_FOUND,   /* the file holds both keys */
  PROBE_MISSING, /* no such file, or no _sync_meta, or no keys */
  PROBE_NOTADB,  /* the file exists but is not a SQLite database */
  PROBE_ERROR    /* anything else; *err holds SQLite's message */
} open_probe_result;

/*
 * Reads the stored keys of `path` without writing anything. On PROBE_FOUND
 * *schema_dir and *app_folder are malloc'ed; on PROBE_ERROR *err is a
 * malloc'ed message. Keys that are present are returned even when the other
 * is missing (PROBE_MISSING), so --schema can stand in for a lost dir.
 */
static open_probe_result open_probe(const char *path, char **schema_dir, char **app_folder,
                                    char **err) {
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  open_probe_result res = PROBE_MISSING;
  struct stat st;
  *schema_dir = *app_folder = *err = NULL;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return PROBE_MISSING;
    char *m = sqlite3_mprintf("cannot open '%s': %s", path, strerror(errno));
    *err = m ? open_strdup(m) : NULL;
    sqlite3_free(m);
    return PROBE_ERROR;
  }
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db,
                            "SELECT key, value FROM _sync_meta WHERE key IN ('" OPEN_KEY_SCHEMA_DIR
                            "', '" OPEN_KEY_APP_FOLDER "')",
                            -1, &stmt, NULL);
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const char *key = (const char *)sqlite3_column_text(stmt, 0);
      const char *value = (const char *)sqlite3_column_text(stmt, 1);
      if (!key || !value || !*value) continue;
      char **slot = strcmp(key, OPEN_KEY_SCHEMA_DIR) == 0 ? schema_dir : app_folder;
      free(*slot);
      *slot = open_strdup(value);
    }
    if (rc == SQLITE_DONE) {
      res = *schema_dir && *app_folder ? PROBE_FOUND : PROBE_MISSING;
      goto done;
    }
  }
  /* prepare fails with "no such table" on a SQLite file that was never
   * opened by backless; step or prepare fails with NOTADB on other files. */
  if ((rc & 0xff) == SQLITE_NOTADB) {
    res = PROBE_NOTADB;
  } else if (db && (rc & 0xff) == SQLITE_ERROR && strstr(sqlite3_errmsg(db), "no such table")) {
    res = PROBE_MISSING;
  } else {
    char *m =
        sqlite3_mprintf("cannot read '%s': %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    *err = m ? open_strdup(m) : NULL;
    sqlite3_free(m);
    res = PROBE_ERROR;
  }
done:
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  if (res != PROBE_FOUND && res != PROBE_MISSING) {
    free(*schema_dir);
    free(*app_folder);
    *schema_dir = *app_folder = NULL;
  }
  return res;
}

/* ------------------------------------------------------------ the keys */

/* Writes one key when its stored value differs. 0 or -1 (message printed). */
static int open_store_key(const char *command, bl_db *db, const char *key, const char *value) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(bl_sqlite(db),
                              "INSERT INTO _sync_meta (key, value) VALUES (?1, ?2)"
                              " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                              " WHERE value IS NOT excluded.value",
                              -1, &stmt, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) {
    cli_error(command, "cannot store %s in _sync_meta: %s", key, sqlite3_errmsg(bl_sqlite(db)));
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ open */

/*
 * Asks the library why `path` cannot be opened when the probe found it is
 * not a SQLite database, so the user sees the library's own message. The
 * schema is empty on purpose: bl_open checks the file before it writes
 * anything, so it fails there. Returns CLI_EXIT_FAIL.
 */
/* Whether the database at `path` has synced (holds a cursor), read through
 * a read-only connection. */
static int open_has_cursors(const char *path) {
  sqlite3 *db = NULL;
  int found = 0;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM _sync_cursors LIMIT 1", -1, &st, NULL) == SQLITE_OK)
      found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return found;
}

static int open_report_notadb(const char *command, const char *path) {
  bl_schema empty = BL_SCHEMA_INIT;
  bl_config cfg = BL_CONFIG_INIT;
  bl_db *db = NULL;
  cfg.schema = &empty;
  cfg.database_path = path;
  if (bl_open(&db, &cfg) == BL_OK) {
    /* The file changed under us; say what the probe saw. */
    bl_close(db);
    cli_error(command, "'%s' is not a SQLite database", path);
  } else {
    cli_error(command, "%s", bl_errmsg(NULL));
  }
  return CLI_EXIT_FAIL;
}

int cli_db_open(const char *command, const cli_db_options *opt, cli_db *out) {
  char *stored_dir = NULL, *stored_app = NULL, *err = NULL;
  int rc = CLI_EXIT_FAIL;
  memset(out, 0, sizeof *out);
  if (!opt->path || !*opt->path) return cli_usage_error(command, "--db FILE is required");
  /* First, so a refused passphrase file stops the command before anything
   * is opened. */
  if (opt->keyed && (rc = cli_passphrase_load(command, opt->passphrase_file, &out->pass)) !=
                        CLI_EXIT_OK)
    return rc;
  rc = CLI_EXIT_FAIL;

  open_probe_result probe = open_probe(opt->path, &stored_dir, &stored_app, &err);
  if (probe == PROBE_ERROR) {
    cli_error(command, "%s", err ? err : "out of memory");
    goto done;
  }
  if (probe == PROBE_NOTADB) {
    /* With --schema the normal path below reaches the same check. */
    if (!opt->schema_dir) {
      rc = open_report_notadb(command, opt->path);
      goto done;
    }
  } else if (!opt->init) {
    struct stat st;
    int exists = stat(opt->path, &st) == 0;
    /* --schema stands in for a missing dir key, never for a missing file:
     * a typo in --db must not create a database. */
    if (!exists || (probe == PROBE_MISSING && !(opt->schema_dir && stored_app))) {
      cli_error(command,
                "%s is not a backless database; run 'backless init --db %s --schema DIR' first",
                opt->path, opt->path);
      goto done;
    }
  }

  const char *dir = opt->schema_dir ? opt->schema_dir : stored_dir;
  if (!dir) {
    cli_usage_error(command, "--schema DIR is required");
    rc = CLI_EXIT_USAGE;
    goto done;
  }
  /* Stored absolute, so later commands work from any working directory. */
  char abs[PATH_MAX];
  if (!realpath(dir, abs)) {
    cli_error(command, "schema dir '%s': %s%s", dir, strerror(errno),
              opt->schema_dir ? "" : " (stored by 'backless init'; pass --schema DIR if it moved)");
    goto done;
  }
  out->schema_dir = open_strdup(abs);
  const char *app = opt->app_folder ? opt->app_folder : stored_app ? stored_app : "Backless";
  if (opt->remote_app_folder && strcmp(opt->remote_app_folder, app) != 0) {
    /* A cloud URL names the app folder. A database that has synced with
     * another one keeps it: its cursors count that folder's files, and
     * reading another folder with them would skip changes. */
    if (probe == PROBE_FOUND && open_has_cursors(opt->path)) {
      cli_error(command,
                "this database syncs with app folder '%s', but the remote URL names '%s'; a database "
                "syncs with one app folder (use the URL with '%s', a new database, or 'backless clear' "
                "first)",
                app, opt->remote_app_folder, app);
      goto done;
    }
    app = opt->remote_app_folder;
  }
  out->app_folder = open_strdup(app);
  if (!out->schema_dir || !out->app_folder) {
    cli_error(command, "out of memory");
    goto done;
  }

  if (bl_schema_from_dir(&out->schema, out->schema_dir) != BL_OK) {
    cli_error(command, "%s", bl_errmsg(NULL));
    goto done;
  }
  int mrc = bl_media_schema_from_dir(&out->media, out->schema_dir);
  if (mrc != BL_OK && mrc != BL_ENOTFOUND) {
    cli_error(command, "%s", bl_errmsg(NULL));
    goto done;
  }
  const char *cache = opt->media_cache;
  if (!cache) {
    cache = getenv("BACKLESS_MEDIA_CACHE");
    if (cache && !*cache) cache = NULL;
  }
  bl_config cfg = BL_CONFIG_INIT;
  cfg.schema = out->schema;
  cfg.media = out->media;
  cfg.media_cache_dir = cache;
  cfg.media_gc_grace = opt->media_gc_grace;
  cfg.database_path = opt->path;
  cfg.app_folder_name = out->app_folder;
  cfg.version_mismatch = opt->mismatch;
  cfg.snapshot_threshold = opt->snapshot_threshold;
  cfg.snapshot_grace = opt->snapshot_grace;
  cfg.compression = opt->compression;
  if (opt->keyed) cli_passphrase_config(&out->pass, &cfg);
  if (bl_open(&out->db, &cfg) != BL_OK) {
    cli_error(command, "%s", bl_errmsg(NULL));
    goto done;
  }
  if (open_store_key(command, out->db, OPEN_KEY_SCHEMA_DIR, out->schema_dir) != 0 ||
      open_store_key(command, out->db, OPEN_KEY_APP_FOLDER, out->app_folder) != 0)
    goto done;
  rc = CLI_EXIT_OK;

done:
  free(stored_dir);
  free(stored_app);
  free(err);
  if (rc != CLI_EXIT_OK) cli_db_close(out);
  return rc;
}

void cli_db_close(cli_db *d) {
  bl_close(d->db);
  cli_passphrase_wipe(&d->pass);
  bl_schema_free(d->schema);
  bl_media_schema_free(d->media);
  free(d->schema_dir);
  free(d->app_folder);
  memset(d, 0, sizeof *d);
}
