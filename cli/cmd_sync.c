/*
 * cmd_sync.c — `backless sync`: pull the other devices' changesets from a
 * remote and push this device's new changes, then print the result (the
 * seed's SyncResult) as text or JSON.
 *
 * Divided into: printing the result, the command.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

static const char sync_usage[] =
    "usage: backless sync --db FILE --remote URL [--json] [--pull-only | --push-only]\n"
    "                     [--token-cmd CMD] [--snapshot-threshold N] [--snapshot-grace N]\n"
    "                     [--on-mismatch abort|skip|drop|compatible] [--schema DIR]\n"
    "                     [--media-cache DIR] [--media-gc-grace N]\n"
    "                     [--passphrase-file FILE] [--compression zstd|none]\n"
    "\n"
    "Pulls what the other devices pushed to the remote since the last sync and\n"
    "merges it (CRDT: last writer wins per column), then pushes this device's\n"
    "new changes as one changeset file. Every N pushes a snapshot is written,\n"
    "and the changesets it covers are deleted a grace of pushes later.\n"
    "\n"
    "When the schema folder declares attachments (a line '-- media: TABLE(HASH_COL\n"
    "[, FILENAME_COL[, MIME_COL]])', see 'backless media --help'), the sync also\n"
    "uploads the attachments not uploaded yet (before the push) and, after a\n"
    "pull without errors, deletes from the remote the attachments no device\n"
    "refers to any more. Nothing is downloaded: 'backless media get' does that.\n"
    "\n"
    "URL: a local folder, '/path' or 'file:///path' (it must exist; a folder\n"
    "kept in sync by Dropbox, Syncthing, Nextcloud or a network share works);\n"
    "a relative path to an existing folder is made absolute.\n"
    "\n"
    "Encryption: the first device to sync creates the app folder's settings,\n"
    "backless.json. Given a passphrase, the new folder is encrypted: every file\n"
    "the devices write there (changesets, snapshots, attachments) is compressed,\n"
    "then encrypted (XChaCha20-Poly1305) with a random key, kept in backless.json\n"
    "wrapped under a key derived from the passphrase (Argon2id). The cloud sees\n"
    "no row, no table or column name: only file names, sizes and times. Every\n"
    "device syncing the folder needs the same passphrase: without it, or with a\n"
    "wrong one, the sync stops with a 'key' error before anything is downloaded,\n"
    "applied or uploaded. A folder created without a passphrase stays\n"
    "unencrypted, and a passphrase given for it is refused (so nothing goes up\n"
    "in the clear by mistake). The passphrase is never printed nor stored.\n"
    "\n"
    "Options:\n"
    "  --db FILE                a database made by 'backless init'\n"
    "  --remote URL             where the app folder lives (see below)\n"
    "  --token-cmd CMD          cloud remotes: a command printing an access token\n"
    "  --json                   print the result as a JSON object\n"
    "  --pull-only              only pull\n"
    "  --push-only              only push\n"
    "  --snapshot-threshold N   write a snapshot every N pushes (default 100)\n"
    "  --snapshot-grace N       delete covered changesets N pushes after their\n"
    "                           snapshot (default 200)\n"
    "  --on-mismatch WHAT       a changeset written by a newer schema version:\n"
    "                           abort the sync (default), skip that device until\n"
    "                           the next sync, drop such changesets, or apply the\n"
    "                           compatible part (columns and tables known here)\n"
    "  --media-gc-grace N       delete an attachment no device refers to only\n"
    "                           after every other device pushed N times since\n"
    "                           this one saw it unreferenced (default 2)\n"
    "  --schema DIR             use (and remember) this schema folder\n"
    "  --media-cache DIR        the attachments cache of this database (default:\n"
    "                           $BACKLESS_MEDIA_CACHE, else the library's:\n"
    "                           $XDG_CACHE_HOME/backless/media, else\n"
    "                           ~/.cache/backless/media); use the same one for\n"
    "                           every command on a database\n"
    "  --passphrase-file FILE   the passphrase of an encrypted app folder (a new\n"
    "                           folder gets encrypted with it): the first line\n"
    "                           of FILE, which must be accessible by its owner\n"
    "                           only (chmod 600), as ssh wants of a key\n"
    "  --compression WHAT       a new app folder's files: zstd (default) or none;\n"
    "                           an existing folder keeps what its backless.json says\n"
    "  -h, --help               show this help\n"
    "\n"
    "Prints 'pulled N changes (F files), pushed N changes (F files)', the HTTP\n"
    "requests made (cloud remotes), 'media: uploaded N attachments, deleted M'\n"
    "when either is not zero, then one line per warning or error. --json\n"
    "prints {pulled, pushed, files_pulled, files_pushed, media_uploaded,\n"
    "media_deleted, requests, warnings, errors}. Exit status: 0, or 1 when the\n"
    "result holds errors (the devices without errors were still synced).\n"
    "A missing or wrong passphrase is the error 'key' (exit status 1).\n"
    "\n"
    "Environment:\n"
    "  BACKLESS_PASSPHRASE   the passphrase when --passphrase-file is not given\n"
    "                        (removed from the environment of child processes)\n"
    "  BACKLESS_KDF_FAST=1   a test knob: a new encrypted folder gets Argon2id's\n"
    "                        minimum cost, which makes its passphrase WEAK (cheap\n"
    "                        to guess from backless.json); never for real data\n"
    "\n";

/* ------------------------------------------------------------ the result */

static void sync_print_issues(const char *kind, const bl_sync_issue *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    printf("%s [%s]", kind, bl_sync_code_name(v[i].code));
    if (v[i].device) printf(" device %s", v[i].device);
    printf(": %s\n", v[i].message ? v[i].message : "");
  }
}

static json_t *sync_json_issues(const bl_sync_issue *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    json_t *o = json_pack(
        "{s:o,s:s,s:s}", "device", v[i].device ? json_string(v[i].device) : json_null(), "code",
        bl_sync_code_name(v[i].code), "message", v[i].message ? v[i].message : "");
    if (!o || json_array_append_new(a, o) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

void cli_sync_print_text(const bl_sync_result *r, uint64_t requests) {
  printf("pulled %lld change%s (%lld file%s), pushed %lld change%s (%lld file%s)\n",
         (long long)r->pulled, r->pulled == 1 ? "" : "s", (long long)r->files_pulled,
         r->files_pulled == 1 ? "" : "s", (long long)r->pushed, r->pushed == 1 ? "" : "s",
         (long long)r->files_pushed, r->files_pushed == 1 ? "" : "s");
  if (requests)
    printf("%llu HTTP request%s\n", (unsigned long long)requests, requests == 1 ? "" : "s");
  if (r->media_uploaded || r->media_deleted)
    printf("media: uploaded %lld attachment%s, deleted %lld\n", (long long)r->media_uploaded,
           r->media_uploaded == 1 ? "" : "s", (long long)r->media_deleted);
  sync_print_issues("warning", r->warnings, r->warnings_count);
  sync_print_issues("error", r->errors, r->errors_count);
}

json_t *cli_sync_json(const bl_sync_result *r, uint64_t requests) {
  return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "pulled", (json_int_t)r->pulled,
                   "pushed", (json_int_t)r->pushed, "files_pulled", (json_int_t)r->files_pulled,
                   "files_pushed", (json_int_t)r->files_pushed, "media_uploaded",
                   (json_int_t)r->media_uploaded, "media_deleted", (json_int_t)r->media_deleted,
                   "requests", (json_int_t)requests, "warnings",
                   sync_json_issues(r->warnings, r->warnings_count), "errors",
                   sync_json_issues(r->errors, r->errors_count));
}

/* Prints `r` and the request count to stdout. Returns 0, or -1 when out
 * of memory. */
static int sync_print(const bl_sync_result *r, uint64_t requests, int json) {
  if (!json) {
    cli_sync_print_text(r, requests);
    return 0;
  }
  json_t *o = cli_sync_json(r, requests);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (!text) return -1;
  printf("%s\n", text);
  free(text);
  return 0;
}

/* ------------------------------------------------------------ the command */

static const struct {
  const char *name;
  bl_mismatch value;
} sync_mismatch_names[] = {
    {"abort", BL_MISMATCH_ABORT},
    {"skip", BL_MISMATCH_SKIP_DEVICE_UNTIL_NEXT_SYNC},
    {"drop", BL_MISMATCH_DROP_CHANGESETS},
    {"compatible", BL_MISMATCH_APPLY_COMPATIBLE},
};

static int sync_run(int argc, char **argv) {
  cli_db_options opt = {0};
  cli_db d = {0};
  bl_remote *remote = NULL;
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  const char *url = NULL, *threshold = NULL, *grace = NULL, *mismatch = NULL, *token_cmd = NULL,
             *media_grace = NULL, *compression = NULL;
  int json = 0, pull_only = 0, push_only = 0, rc;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
      continue;
    }
    if (strcmp(argv[i], "--pull-only") == 0) {
      pull_only = 1;
      continue;
    }
    if (strcmp(argv[i], "--push-only") == 0) {
      push_only = 1;
      continue;
    }
    int m = cli_db_option("sync", argc, argv, &i, &opt);
    if (m == 0) m = cli_key_option("sync", argc, argv, &i, &opt);
    if (m == 0) m = cli_opt_value("sync", argc, argv, &i, "--compression", &compression);
    if (m == 0) m = cli_opt_value("sync", argc, argv, &i, "--remote", &url);
    if (m == 0) m = cli_opt_value("sync", argc, argv, &i, "--token-cmd", &token_cmd);
    if (m == 0) m = cli_opt_value("sync", argc, argv, &i, "--snapshot-threshold", &threshold);
    if (m == 0) m = cli_opt_value("sync", argc, argv, &i, "--snapshot-grace", &grace);
    if (m == 0) m = cli_opt_value("sync", argc, argv, &i, "--on-mismatch", &mismatch);
    if (m == 0) m = cli_opt_value("sync", argc, argv, &i, "--media-gc-grace", &media_grace);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m == 0)
      return cli_usage_error("sync", "%s '%s'",
                             argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
  }
  if (!opt.path) return cli_usage_error("sync", "--db FILE is required");
  if (!url) return cli_usage_error("sync", "--remote URL is required");
  if (pull_only && push_only)
    return cli_usage_error("sync", "--pull-only and --push-only exclude each other");
  opt.keyed = 1;
  if (compression && cli_compression_parse("sync", compression, &opt.compression) != CLI_EXIT_OK)
    return CLI_EXIT_USAGE;
  long long v;
  if (threshold) {
    if (cli_parse_int(threshold, 1, INT_MAX, &v) != 0)
      return cli_usage_error("sync", "--snapshot-threshold wants a number >= 1, not '%s'",
                             threshold);
    opt.snapshot_threshold = (int)v;
  }
  if (grace) {
    if (cli_parse_int(grace, 1, INT_MAX, &v) != 0)
      return cli_usage_error("sync", "--snapshot-grace wants a number >= 1, not '%s'", grace);
    opt.snapshot_grace = (int)v;
  }
  if (media_grace) {
    if (cli_parse_int(media_grace, 1, INT_MAX, &v) != 0)
      return cli_usage_error("sync", "--media-gc-grace wants a number >= 1, not '%s'",
                             media_grace);
    opt.media_gc_grace = (int)v;
  }
  if (mismatch) {
    size_t k, n = sizeof sync_mismatch_names / sizeof sync_mismatch_names[0];
    for (k = 0; k < n && strcmp(sync_mismatch_names[k].name, mismatch) != 0; k++) {
    }
    if (k == n)
      return cli_usage_error(
          "sync", "--on-mismatch wants abort, skip, drop or compatible, not '%s'", mismatch);
    opt.mismatch = sync_mismatch_names[k].value;
  }

  char app_folder[256];
  int named = bl_remote_url_app_folder(url, app_folder, sizeof app_folder);
  if (named < 0)
    return cli_usage_error("sync", "'%s' does not name one app folder (expected gdrive://Name or onedrive://Name)",
                           url);
  if (named > 0) opt.remote_app_folder = app_folder;

  rc = cli_db_open("sync", &opt, &d);
  if (rc != CLI_EXIT_OK) return rc;
  rc = CLI_EXIT_FAIL;
  if (cli_remote_open("sync", url, token_cmd, &remote) != 0) goto done;
  uint64_t requests_before = bl_remote_request_count(remote);

  /* The library reports no progress; a line on a terminal says what we are
   * waiting for, and is erased once the result is in. */
  int tty = isatty(STDERR_FILENO);
  if (tty) {
    char shown[1024];
    cli_url_shown(url, shown, sizeof shown);
    fprintf(stderr, "%s %s ...",
            pull_only   ? "pulling from"
            : push_only ? "pushing to"
                        : "syncing with",
            shown);
    fflush(stderr);
  }
  int src = pull_only   ? bl_pull(d.db, remote, &res)
            : push_only ? bl_push(d.db, remote, &res)
                        : bl_sync(d.db, remote, &res);
  if (tty) fputs("\r\033[K", stderr);

  if (sync_print(&res, bl_remote_request_count(remote) - requests_before, json) != 0) {
    cli_error("sync", "out of memory");
    goto done;
  }
  if (cli_key_error("sync", &res, &d)) goto done;
  if (res.errors_count > 0) {
    /* Errors about one device leave the others synced; one without a
     * device (the remote unreachable, the push) stopped more. */
    int per_device = 1;
    for (size_t i = 0; i < res.errors_count; i++) per_device &= res.errors[i].device != NULL;
    cli_error("sync", "%zu error%s (see above)%s", res.errors_count, res.errors_count == 1 ? "" : "s",
              per_device ? "; the other devices were synced" : "");
    goto done;
  }
  if (src != BL_OK) {
    cli_error("sync", "%s", bl_errmsg(d.db));
    goto done;
  }
  rc = CLI_EXIT_OK;

done:
  bl_sync_result_free(&res);
  bl_remote_free(remote);
  cli_db_close(&d);
  return rc;
}

const cli_command cli_cmd_sync = {
    .name = "sync",
    .summary = "pull the other devices' changes from a remote, push ours",
    .usage = sync_usage,
    .usage_tail = cli_remote_help,
    .run = sync_run,
};
