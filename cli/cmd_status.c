/*
 * cmd_status.c — `backless status`: what this database knows about its sync
 * state and, with --remote, what the remote holds next to it.
 *
 * The status is gathered once into a JSON document (status_gather,
 * status_remote), which --json prints as is and the text output renders, so
 * the two never disagree. Everything local is read in one read transaction.
 *
 * Divided into: small SQL helpers, the local state, the remote, text
 * rendering, the command.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backless/remote.h"
#include "cli.h"

static const char status_usage[] =
    "usage: backless status --db FILE [--remote URL [--token-cmd CMD]] [--json] [--schema DIR]\n"
    "                       [--media-cache DIR]\n"
    "\n"
    "Shows the device id, the schema version and folder, the app folder, the\n"
    "synced tables, the current db_version and the one last pushed, how many\n"
    "local changes wait for the next push, the cursors (the last changeset\n"
    "applied from each device) and the signed-in account.\n"
    "\n"
    "With --remote, also lists the device folders of the remote with the\n"
    "latest sequence each holds next to our cursor: what the next sync will\n"
    "pull, and the app folder's settings (backless.json): its format version,\n"
    "compression and whether it is encrypted (no passphrase is needed to see\n"
    "that). status only reads (opening the database still migrates it when the\n"
    "schema folder has gained N.sql files, as every command does).\n"
    "\n"
    "Options:\n"
    "  --db FILE     a database made by 'backless init'\n"
    "  --remote URL  a remote to compare with (see 'backless sync --help')\n"
    "  --token-cmd CMD  cloud remotes: a command printing an access token\n"
    "  --json        print one JSON object instead of text\n"
    "  --schema DIR  use (and remember) this schema folder\n"
    "  --media-cache DIR\n"
    "                the attachments cache (default: $BACKLESS_MEDIA_CACHE, else\n"
    "                $XDG_CACHE_HOME/backless/media or ~/.cache/backless/media)\n"
    "  -h, --help    show this help\n";

/* ------------------------------------------------------------ SQL helpers */

/* Runs `sql` (optionally binding `arg` as ?1) and returns its first column
 * as a new JSON value (null when there is no row). NULL on error, with the
 * message left on `db`. */
static json_t *status_value(sqlite3 *db, const char *sql, const json_t *arg) {
  sqlite3_stmt *st = NULL;
  json_t *v = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK && arg) {
    if (json_is_integer(arg))
      sqlite3_bind_int64(st, 1, json_integer_value(arg));
    else
      sqlite3_bind_text(st, 1, json_string_value(arg), -1, SQLITE_TRANSIENT);
  }
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    v = json_null();
  } else if (rc == SQLITE_ROW) {
    switch (sqlite3_column_type(st, 0)) {
      case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, 0)); break;
      case SQLITE_NULL: v = json_null(); break;
      default: v = json_string((const char *)sqlite3_column_text(st, 0)); break;
    }
  }
  sqlite3_finalize(st);
  return v;
}

/* A _sync_meta value as an integer (0 when missing or not a number). */
static json_t *status_meta_int(sqlite3 *db, const char *key) {
  json_t *k = json_string(key);
  json_t *v = k ? status_value(db,
                               "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM _sync_meta"
                               " WHERE key = ?1), 0)",
                               k)
                : NULL;
  json_decref(k);
  return v;
}

/* ------------------------------------------------------------ local state */

static json_t *status_cursors(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  json_t *a = json_array();
  int rc = sqlite3_prepare_v2(
      db, "SELECT device_id, last_sequence, last_sync_at FROM _sync_cursors ORDER BY device_id", -1,
      &st, NULL);
  if (!a) rc = SQLITE_NOMEM;
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *at = (const char *)sqlite3_column_text(st, 2);
    json_t *o = json_pack("{s:s,s:I,s:o}", "device", (const char *)sqlite3_column_text(st, 0),
                          "last_sequence", (json_int_t)sqlite3_column_int64(st, 1), "last_sync_at",
                          at ? json_string(at) : json_null());
    rc = o && json_array_append_new(a, o) == 0 ? SQLITE_OK : SQLITE_NOMEM;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    json_decref(a);
    return NULL;
  }
  return a;
}

/* Sets key `k` of `o` to `v` (stolen). When v is NULL (its query failed)
 * or memory runs out, keeps the first failure's message in *err
 * (sqlite3_malloc'ed) and returns 1; 0 otherwise. */
static int status_set(json_t *o, const char *k, json_t *v, sqlite3 *db, char **err) {
  if (v && json_object_set_new(o, k, v) == 0) return 0;
  if (!*err) *err = sqlite3_mprintf("%s: %s", k, v ? "out of memory" : sqlite3_errmsg(db));
  return 1;
}

/*
 * Gathers the local state of `d` into a new object. NULL on error, after
 * printing it.
 */
static json_t *status_gather(cli_db *d, const char *path) {
  sqlite3 *db = bl_sqlite(d->db);
  json_t *o = json_object(), *tables = json_array();
  char *provider = NULL, *email = NULL, *err = NULL;
  int bad = !o || !tables;
  for (size_t i = 0; !bad && i < d->schema->synced_tables_count; i++)
    bad = json_array_append_new(tables, json_string(d->schema->synced_tables[i])) != 0;
  if (!bad && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    bad = 1;
    err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  }
  if (!bad) {
    bad |= status_set(o, "database", json_string(path), db, &err);
    bad |= status_set(o, "device_id", json_string(bl_device_id(d->db)), db, &err);
    bad |= status_set(o, "schema_version", status_meta_int(db, "schema_version"), db, &err);
    bad |= status_set(o, "schema_dir", json_string(d->schema_dir), db, &err);
    bad |= status_set(o, "app_folder", json_string(d->app_folder), db, &err);
    bad |= status_set(o, "synced_tables", json_incref(tables), db, &err);
    bad |=
        status_set(o, "db_version", status_value(db, "SELECT crsql_db_version()", NULL), db, &err);
    bad |= status_set(o, "last_push_db_version", status_meta_int(db, "last_push_db_version"), db,
                      &err);
    bad |= status_set(o, "pending_changes",
                      status_value(db,
                                   "SELECT count(*) FROM crsql_changes"
                                   " WHERE site_id = crsql_site_id() AND db_version > ?1",
                                   json_object_get(o, "last_push_db_version")),
                      db, &err);
    bad |= status_set(o, "cursors", status_cursors(db), db, &err);
    int arc = bl_get_active_account(d->db, &provider, &email);
    if (arc == BL_OK)
      bad |= status_set(o, "account", json_pack("{s:s,s:s}", "provider", provider, "email", email),
                        db, &err);
    else if (arc == BL_ENOTFOUND)
      bad |= status_set(o, "account", json_null(), db, &err);
    else if (!bad) {
      bad = 1;
      err = sqlite3_mprintf("account: %s", bl_errmsg(d->db));
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  }
  free(provider);
  free(email);
  json_decref(tables);
  if (bad) {
    cli_error("status", "cannot read the sync state: %s", err ? err : "out of memory");
    sqlite3_free(err);
    json_decref(o);
    return NULL;
  }
  return o;
}

/* ------------------------------------------------------------ the remote */

/* Parses "<prefix><digits>.<anything>" ("cs-00003.json"); 1 and *seq when it
 * matches. Sequences are numbers, never compared as strings. */
static int status_parse_file(const char *name, const char *prefix, long long *seq) {
  size_t n = strlen(prefix);
  if (strncmp(name, prefix, n) != 0) return 0;
  const char *p = name + n, *q = p;
  while (*q >= '0' && *q <= '9') q++;
  if (q == p || q - p > 18 || *q != '.') return 0;
  long long v = 0;
  for (; p < q; p++) v = v * 10 + (*p - '0');
  *seq = v;
  return 1;
}

/* The last sequence we hold from `device` (0 when none). */
static long long status_cursor_of(const json_t *status, const char *device) {
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(status, "cursors"), i, c) {
    if (strcmp(json_string_value(json_object_get(c, "device")), device) == 0)
      return json_integer_value(json_object_get(c, "last_sequence"));
  }
  return 0;
}

/* Describes one device folder `name` ("device-<uuid>") of the remote. */
static json_t *status_device(bl_remote *r, const char *folder, const char *name,
                             const json_t *status) {
  bl_remote_entry *e = NULL;
  size_t n = 0;
  const char *uuid = name + strlen("device-");
  const char *self = json_string_value(json_object_get(status, "device_id"));
  int this_device = strcmp(uuid, self) == 0;
  char *path = sqlite3_mprintf("%s/%s", folder, name);
  if (!path) return NULL;
  int rc = bl_remote_list(r, path, &e, &n);
  sqlite3_free(path);
  if (rc != BL_OK)
    return json_pack("{s:s,s:b,s:s}", "device", uuid, "this_device", this_device, "error",
                     bl_remote_errmsg(r));
  long long latest = 0, snapshot = 0, files = 0, seq;
  for (size_t i = 0; i < n; i++) {
    if (e[i].is_folder) continue;
    if (status_parse_file(e[i].name, "snapshot-", &seq)) {
      if (seq > snapshot) snapshot = seq;
    } else if (!status_parse_file(e[i].name, "cs-", &seq)) {
      continue;
    }
    files++;
    if (seq > latest) latest = seq;
  }
  bl_remote_entries_free(e, n);
  long long cursor = status_cursor_of(status, uuid);
  /* Our own folder is only pulled back after clear (own cursor 0); for it
   * the cursor is the last sequence we pushed. */
  long long to_pull = this_device       ? (cursor == 0 ? latest : 0)
                      : latest > cursor ? latest - cursor
                                        : 0;
  return json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I}", "device", uuid, "this_device", this_device,
                   "files", (json_int_t)files, "latest_sequence", (json_int_t)latest,
                   "latest_snapshot", (json_int_t)snapshot, "cursor", (json_int_t)cursor, "to_pull",
                   (json_int_t)to_pull);
}

typedef struct status_buf {
  char data[4096];
  size_t len;
} status_buf;

static int status_sink(const void *data, size_t len, void *payload) {
  status_buf *b = payload;
  if (len > sizeof b->data - 1 - b->len) return BL_ECORRUPT; /* not a settings file */
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

/*
 * The app folder's settings, <app>/backless.json, as {version, compression,
 * encrypted, kdf} (compression "none" and encrypted false for version 1;
 * kdf null unless encrypted), JSON null when the folder has none yet, or
 * {error} when it cannot be read or understood. A new reference; NULL when
 * out of memory.
 */
static json_t *status_settings(bl_remote *r, const char *app) {
  status_buf *b = calloc(1, sizeof *b);
  char *path = sqlite3_mprintf("%s/backless.json", app);
  json_t *out = NULL, *doc = NULL;
  if (!b || !path) goto done;
  int rc = bl_remote_read(r, path, status_sink, b);
  if (rc == BL_ENOTFOUND) {
    out = json_null();
    goto done;
  }
  if (rc != BL_OK) {
    out = json_pack("{s:s}", "error", rc == BL_ECORRUPT ? "too large for a settings file"
                                                         : bl_remote_errmsg(r));
    goto done;
  }
  doc = json_loadb(b->data, b->len, 0, NULL);
  json_t *version = json_object_get(doc, "version"), *enc = json_object_get(doc, "encryption");
  json_t *comp = json_object_get(doc, "compression");
  if (!json_is_object(doc) || !json_is_integer(version)) {
    out = json_pack("{s:s}", "error", "not a backless settings file");
    goto done;
  }
  int encrypted = json_is_object(enc);
  const char *kdf = encrypted ? json_string_value(json_object_get(enc, "kdf")) : NULL;
  out = json_pack("{s:I,s:s,s:b,s:o}", "version", (json_int_t)json_integer_value(version),
                  "compression", json_is_string(comp) ? json_string_value(comp) : "none",
                  "encrypted", encrypted, "kdf", kdf ? json_string(kdf) : json_null());

done:
  json_decref(doc);
  sqlite3_free(path);
  free(b);
  return out;
}

static int status_cmp_device(const void *a, const void *b) {
  const bl_remote_entry *x = a, *y = b;
  return strcmp(x->name, y->name);
}

/* Lists the remote's device folders into status["remote"]. Returns 0, or
 * -1 after printing the error. */
static int status_remote(json_t *status, const char *url, bl_remote *r) {
  bl_remote_entry *e = NULL;
  size_t n = 0;
  char *folder =
      sqlite3_mprintf("%s/changesets", json_string_value(json_object_get(status, "app_folder")));
  json_t *devices = json_array();
  json_t *remote =
      folder ? json_pack("{s:s,s:s,s:O}", "url", url, "folder", folder, "devices", devices) : NULL;
  if (!remote || json_object_set_new(status, "remote", remote) != 0) goto oom;
  json_t *settings = status_settings(r, json_string_value(json_object_get(status, "app_folder")));
  if (!settings || json_object_set_new(remote, "settings", settings) != 0) goto oom;
  int rc = bl_remote_list(r, folder, &e, &n);
  if (rc == BL_ENOTFOUND) goto ok; /* nobody has pushed yet */
  if (rc != BL_OK) {
    cli_error("status", "cannot list %s on the remote: %s", folder, bl_remote_errmsg(r));
    sqlite3_free(folder);
    json_decref(devices);
    return -1;
  }
  qsort(e, n, sizeof *e, status_cmp_device);
  for (size_t i = 0; i < n; i++) {
    if (!e[i].is_folder || strncmp(e[i].name, "device-", 7) != 0) continue;
    if (i > 0 && strcmp(e[i].name, e[i - 1].name) == 0) continue; /* duplicate names */
    json_t *dev = status_device(r, folder, e[i].name, status);
    if (!dev || json_array_append_new(devices, dev) != 0) {
      bl_remote_entries_free(e, n);
      goto oom;
    }
  }
  bl_remote_entries_free(e, n);
ok:
  sqlite3_free(folder);
  json_decref(devices);
  return 0;
oom:
  cli_error("status", "out of memory");
  sqlite3_free(folder);
  json_decref(devices);
  return -1;
}

/* ------------------------------------------------------------ text */

static long long status_int(const json_t *o, const char *k) {
  return (long long)json_integer_value(json_object_get(o, k));
}

static const char *status_str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static void status_print_text(const json_t *s) {
  size_t i;
  json_t *v;
  printf("database         %s\n", status_str(s, "database"));
  printf("device id        %s\n", status_str(s, "device_id"));
  printf("schema version   %lld (%s)\n", status_int(s, "schema_version"),
         status_str(s, "schema_dir"));
  printf("app folder       %s\n", status_str(s, "app_folder"));
  printf("synced tables    ");
  json_array_foreach(json_object_get(s, "synced_tables"), i, v) {
    printf("%s%s", i ? ", " : "", json_string_value(v));
  }
  printf("%s\n", json_array_size(json_object_get(s, "synced_tables")) ? "" : "(none)");
  printf("db_version       %lld\n", status_int(s, "db_version"));
  printf("last push        at db_version %lld\n", status_int(s, "last_push_db_version"));
  long long pending = status_int(s, "pending_changes");
  printf("pending changes  %lld local change%s not pushed yet\n", pending, pending == 1 ? "" : "s");
  json_t *acc = json_object_get(s, "account");
  if (json_is_object(acc))
    printf("account          %s %s\n", status_str(acc, "provider"), status_str(acc, "email"));
  else
    printf("account          none\n");

  const char *self = status_str(s, "device_id");
  json_t *cursors = json_object_get(s, "cursors");
  if (json_array_size(cursors) == 0) {
    printf("cursors          none (nothing pulled or pushed yet)\n");
  } else {
    printf("cursors          last changeset applied from each device:\n");
    json_array_foreach(cursors, i, v) {
      int mine = strcmp(status_str(v, "device"), self) == 0;
      printf(
          "  %s  %6lld  %s%s\n", status_str(v, "device"), status_int(v, "last_sequence"),
          json_is_string(json_object_get(v, "last_sync_at")) ? status_str(v, "last_sync_at") : "-",
          mine ? "  (this device: last pushed)" : "");
    }
  }

  json_t *remote = json_object_get(s, "remote");
  if (!remote) return;
  json_t *devices = json_object_get(remote, "devices");
  printf("remote           %s (%s)\n", status_str(remote, "url"), status_str(remote, "folder"));
  json_t *set = json_object_get(remote, "settings");
  if (json_object_get(set, "error"))
    printf("  settings: cannot read backless.json: %s\n", status_str(set, "error"));
  else if (json_is_object(set))
    printf("  settings: version %lld, compression %s, %s%s%s\n", status_int(set, "version"),
           status_str(set, "compression"),
           json_is_true(json_object_get(set, "encrypted")) ? "encrypted" : "not encrypted",
           json_is_string(json_object_get(set, "kdf")) ? ", key from " : "",
           json_is_string(json_object_get(set, "kdf"))
               ? (strcmp(status_str(set, "kdf"), "raw") == 0 ? "a raw key" : "a passphrase")
               : "");
  else
    printf("  settings: none yet (the first sync writes backless.json)\n");
  if (json_array_size(devices) == 0) printf("  no device has pushed yet\n");
  json_array_foreach(devices, i, v) {
    printf("  %s  ", status_str(v, "device"));
    if (json_object_get(v, "error")) {
      printf("cannot list: %s\n", status_str(v, "error"));
      continue;
    }
    long long latest = status_int(v, "latest_sequence"), snap = status_int(v, "latest_snapshot");
    long long cursor = status_int(v, "cursor"), to_pull = status_int(v, "to_pull");
    printf("latest %lld", latest);
    if (snap) printf(" (snapshot %lld)", snap);
    if (json_is_true(json_object_get(v, "this_device"))) {
      if (to_pull)
        printf(", this device: %lld changeset%s to restore (after clear)\n", to_pull,
               to_pull == 1 ? "" : "s");
      else
        printf(", this device: pushed %lld\n", cursor);
    } else if (to_pull) {
      printf(", cursor %lld: %lld changeset%s to pull\n", cursor, to_pull, to_pull == 1 ? "" : "s");
    } else {
      printf(", cursor %lld: up to date\n", cursor);
    }
  }
}

/* ------------------------------------------------------------ the command */

static int status_run(int argc, char **argv) {
  cli_db_options opt = {0};
  cli_db d = {0};
  bl_remote *remote = NULL;
  json_t *status = NULL;
  const char *url = NULL, *token_cmd = NULL;
  int json = 0, rc;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
      continue;
    }
    int m = cli_db_option("status", argc, argv, &i, &opt);
    if (m == 0) m = cli_opt_value("status", argc, argv, &i, "--remote", &url);
    if (m == 0) m = cli_opt_value("status", argc, argv, &i, "--token-cmd", &token_cmd);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m == 0)
      return cli_usage_error("status", "%s '%s'",
                             argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
  }
  if (!opt.path) return cli_usage_error("status", "--db FILE is required");
  char app_folder[256];
  int named = url ? bl_remote_url_app_folder(url, app_folder, sizeof app_folder) : 0;
  if (named < 0)
    return cli_usage_error("status", "'%s' does not name one app folder (expected gdrive://Name or onedrive://Name)",
                           url);
  if (named > 0) opt.remote_app_folder = app_folder;

  char shown_url[1024] = "";
  if (url) cli_url_shown(url, shown_url, sizeof shown_url);
  rc = cli_db_open("status", &opt, &d);
  if (rc != CLI_EXIT_OK) return rc;
  rc = CLI_EXIT_FAIL;
  status = status_gather(&d, opt.path);
  if (!status) goto done;
  if (url &&
      (cli_remote_open("status", url, token_cmd, &remote) != 0 || status_remote(status, shown_url, remote) != 0))
    goto done;
  if (json) {
    char *text = json_dumps(status, JSON_INDENT(2));
    if (!text) {
      cli_error("status", "out of memory");
      goto done;
    }
    printf("%s\n", text);
    free(text);
  } else {
    status_print_text(status);
  }
  rc = CLI_EXIT_OK;

done:
  json_decref(status);
  bl_remote_free(remote);
  cli_db_close(&d);
  return rc;
}

const cli_command cli_cmd_status = {
    .name = "status",
    .summary = "show the sync state (device, versions, pending changes, cursors)",
    .usage = status_usage,
    .usage_tail = cli_remote_help,
    .run = status_run,
};
