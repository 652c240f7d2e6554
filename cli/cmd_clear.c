/*
 * cmd_clear.c — `backless clear`: the seed's clearAllData(), as on sign-out.
 *
 * What is about to be deleted is counted first so the command can say what
 * it did; the clear itself is one transaction inside the library.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char clear_usage[] =
    "usage: backless clear --db FILE [--schema DIR] [--media-cache DIR]\n"
    "\n"
    "Deletes all local data, as an app does on sign-out: every row of the\n"
    "synced tables and their CRDT clocks, every cursor and the stored account,\n"
    "in one transaction. The device id and the schema version are kept, and so\n"
    "are tables that do not sync. Nothing on the remote is touched: the next\n"
    "'backless sync' restores everything from it (bootstrap recovery) without\n"
    "uploading it again. What the database remembers about attachments (which\n"
    "were uploaded, which wait to be collected) is forgotten too; the media\n"
    "cache is kept ('backless media clear-cache' empties it).\n"
    "\n"
    "Options:\n"
    "  --db FILE     a database made by 'backless init'\n"
    "  --schema DIR  use (and remember) this schema folder\n"
    "  --media-cache DIR\n"
    "                the attachments cache (default: $BACKLESS_MEDIA_CACHE, else\n"
    "                $XDG_CACHE_HOME/backless/media or ~/.cache/backless/media)\n"
    "  -h, --help    show this help\n";

/* Runs a count query; -1 on error. */
static long long clear_count(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  long long n = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

static int clear_run(int argc, char **argv) {
  cli_db_options opt = {0};
  cli_db d = {0};
  char *provider = NULL, *email = NULL;
  long long *rows = NULL;
  int rc;
  for (int i = 1; i < argc; i++) {
    int m = cli_db_option("clear", argc, argv, &i, &opt);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m == 0)
      return cli_usage_error("clear", "%s '%s'",
                             argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
  }
  if (!opt.path) return cli_usage_error("clear", "--db FILE is required");

  rc = cli_db_open("clear", &opt, &d);
  if (rc != CLI_EXIT_OK) return rc;
  rc = CLI_EXIT_FAIL;
  sqlite3 *db = bl_sqlite(d.db);
  size_t nt = d.schema->synced_tables_count;
  rows = calloc(nt ? nt : 1, sizeof *rows);
  if (!rows) {
    cli_error("clear", "out of memory");
    goto done;
  }
  for (size_t i = 0; i < nt; i++) {
    char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", d.schema->synced_tables[i]);
    rows[i] = sql ? clear_count(db, sql) : -1;
    sqlite3_free(sql);
  }
  long long cursors = clear_count(db, "SELECT count(*) FROM _sync_cursors");
  int has_account = bl_get_active_account(d.db, &provider, &email) == BL_OK;

  if (bl_clear_all_data(d.db) != BL_OK) {
    cli_error("clear", "%s — nothing was changed", bl_errmsg(d.db));
    goto done;
  }
  printf("cleared %s\n", opt.path);
  for (size_t i = 0; i < nt; i++) {
    if (rows[i] >= 0)
      printf("  deleted %lld row%s of %s and their CRDT clock\n", rows[i], rows[i] == 1 ? "" : "s",
             d.schema->synced_tables[i]);
    else
      printf("  deleted the rows of %s and their CRDT clock\n", d.schema->synced_tables[i]);
  }
  if (cursors >= 0) printf("  deleted %lld cursor%s\n", cursors, cursors == 1 ? "" : "s");
  if (has_account)
    printf("  removed the account %s %s\n", provider, email);
  else
    printf("  no account was stored\n");
  printf("  kept device id %s and schema version %d\n", bl_device_id(d.db),
         d.schema->schema_version);
  printf("The next 'backless sync' restores everything from the remote.\n");
  rc = CLI_EXIT_OK;

done:
  free(rows);
  free(provider);
  free(email);
  cli_db_close(&d);
  return rc;
}

const cli_command cli_cmd_clear = {
    .name = "clear",
    .summary = "delete all local data and sync state (sign-out); sync restores it",
    .usage = clear_usage,
    .run = clear_run,
};
