/*
 * cmd_init.c — `backless init`: create (or open and migrate) a database from
 * a folder of numbered SQL files, and remember that folder and the app
 * folder name so the other commands need only --db.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char init_usage[] =
    "usage: backless init --db FILE --schema DIR [--app-folder NAME] [--media-cache DIR]\n"
    "\n"
    "Creates the database FILE, or opens an existing one and migrates it, from\n"
    "the schema folder DIR: 1.sql, 2.sql, ... N.sql (no gaps). A new database\n"
    "runs them all in order; an older one runs the ones it has not run yet.\n"
    "A line '-- sync: t1, t2' in any file declares the tables that sync; they\n"
    "must exist and have a NOT NULL primary key. A line '-- media: TABLE(HASH_COL\n"
    "[, FILENAME_COL[, MIME_COL]])' declares a table of attachments (see\n"
    "'backless media --help').\n"
    "\n"
    "The absolute path of DIR and the app folder name are stored in the\n"
    "database, so the other commands need only --db (and pick up new N.sql\n"
    "files added to DIR later).\n"
    "\n"
    "Options:\n"
    "  --db FILE          the database file (created when missing)\n"
    "  --schema DIR       the folder of numbered SQL files\n"
    "  --app-folder NAME  the folder inside the remote that holds this app's\n"
    "                     data (default: the stored name, else Backless)\n"
    CLI_MEDIA_CACHE_HELP
    "  -h, --help         show this help\n"
    "\n"
    "Prints the device id, the schema version, the synced tables and, when the\n"
    "schema declares attachments, the media cache dir.\n";

/* Removes a database file and the journal files SQLite may have left. */
static void init_remove(const char *path) {
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    char *p = sqlite3_mprintf("%s%s", path, suffixes[i]);
    if (p) unlink(p);
    sqlite3_free(p);
  }
}

static int init_run(int argc, char **argv) {
  cli_db_options opt = {0};
  cli_db d;
  opt.init = 1;
  for (int i = 1; i < argc; i++) {
    int m = cli_db_option("init", argc, argv, &i, &opt);
    if (m == 0) m = cli_opt_value("init", argc, argv, &i, "--app-folder", &opt.app_folder);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m == 0) return cli_usage_error("init", "unexpected argument '%s'", argv[i]);
  }
  if (!opt.path) return cli_usage_error("init", "--db FILE is required");
  if (!opt.schema_dir) return cli_usage_error("init", "--schema DIR is required");

  struct stat st;
  int existed = !(stat(opt.path, &st) != 0 && errno == ENOENT);
  int rc = cli_db_open("init", &opt, &d);
  if (rc != CLI_EXIT_OK) {
    /* bl_open changed nothing in the file, but it did create it: a failed
     * init leaves no empty database behind to be mistaken for one. */
    if (!existed) init_remove(opt.path);
    return rc;
  }
  printf("initialized %s\n", opt.path);
  printf("  device id       %s\n", bl_device_id(d.db));
  printf("  schema version  %d (%s)\n", d.schema->schema_version, d.schema_dir);
  printf("  app folder      %s\n", d.app_folder);
  printf("  synced tables   ");
  for (size_t i = 0; i < d.schema->synced_tables_count; i++)
    printf("%s%s", i ? ", " : "", d.schema->synced_tables[i]);
  printf("%s\n", d.schema->synced_tables_count ? "" : "(none)");
  if (d.media) printf("  media cache     %s\n", bl_media_cache_dir(d.db));
  cli_db_close(&d);
  return CLI_EXIT_OK;
}

const cli_command cli_cmd_init = {
    .name = "init",
    .summary = "create or migrate a database from a folder of N.sql files",
    .usage = init_usage,
    .run = init_run,
};
