/*
 * cli.h — shared declarations of the backless command-line tool.
 *
 * The tool is a table of commands (main.c). Each command lives in its own
 * file, cmd_<name>.c, and exports one cli_command describing it; adding a
 * command means writing that file and adding one line to the table in
 * main.c. Helpers every command may use (option parsing, error messages,
 * printing query results, base64) live in util.c; opening a database the
 * way every command but `demo` does (the schema dir and app folder stored by
 * `init`) lives in open.c.
 *
 * Exit codes follow the usual convention: 0 success, 1 the command failed,
 * 2 the command line was wrong (unknown command or option, missing value).
 */
#ifndef BL_CLI_H
#define BL_CLI_H

#include <stdio.h>

#include <sqlite3.h>

#include "backless.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

typedef struct cli_command {
  const char *name;
  const char *summary; /* one line, shown by `backless --help` */
  const char *usage;   /* full text, shown by `backless <name> --help` */
  const char *usage_tail; /* printed after usage when not NULL (shared texts
                             such as cli_remote_help) */
  /* Runs the command. argv[0] is the command name, as for main(). Returns
   * an exit code (CLI_EXIT_*). */
  int (*run)(int argc, char **argv);
} cli_command;

extern const cli_command cli_cmd_init;
extern const cli_command cli_cmd_exec;
extern const cli_command cli_cmd_sync;
extern const cli_command cli_cmd_status;
extern const cli_command cli_cmd_clear;
extern const cli_command cli_cmd_account;
extern const cli_command cli_cmd_media;
extern const cli_command cli_cmd_demo;
extern const cli_command cli_cmd_passphrase;

/* The program name used in messages ("backless"). */
extern const char *cli_progname;

/* Returns 1 when argv[1..argc) holds -h or --help (before any "--"). */
int cli_wants_help(int argc, char **argv);

/* Prints `fmt` to stderr prefixed by "<progname> <command>: ". */
void cli_error(const char *command, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints `fmt` to stderr as cli_error does, then a hint to run
 * `backless <command> --help`, and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * Matches argv[*i] against option `name` ("--db"), which takes a value
 * given either as the next argument ("--db FILE") or after '='
 * ("--db=FILE"). Returns 1 when it matches (*value set, *i left on the last
 * argument consumed), 0 when argv[*i] is something else, and -1 when the
 * value is missing (a usage error has been printed for `command`).
 */
int cli_opt_value(const char *command, int argc, char **argv, int *i, const char *name,
                  const char **value);

/* Parses a whole decimal integer in [min, max]. Returns 0 and sets *out,
 * or -1 when `s` is not such a number. */
int cli_parse_int(const char *s, long long min, long long max, long long *out);

/* Steps the prepared statement `stmt` to the end and prints its rows as an
 * aligned table (see cli_print_query). Returns an SQLite result code; the
 * statement is left for the caller to finalize. */
int cli_print_stmt(FILE *out, sqlite3_stmt *stmt, const char *indent);

/*
 * Runs `sql` on `db` and prints the rows as an aligned table to `out`, each
 * line prefixed by `indent`. Text prints as is, NULL as "NULL", blobs as
 * X'hex'. Returns an SQLite result code; on error nothing is printed and the
 * message is left on `db` (sqlite3_errmsg).
 */
int cli_print_query(FILE *out, sqlite3 *db, const char *sql, const char *indent);

/*
 * Returns the value of column `col` of the current row of `stmt` as display
 * text (see cli_print_query), allocated with sqlite3_malloc; the caller
 * frees it with sqlite3_free. NULL when out of memory.
 */
char *cli_format_value(sqlite3_stmt *stmt, int col);

/* Returns `n` bytes as lowercase hex in a sqlite3_malloc'ed string (the
 * caller sqlite3_free's it), NULL when out of memory. */
char *cli_hex(const unsigned char *p, int n);

/* Returns `n` bytes as standard base64 (with padding) in a malloc'ed
 * string the caller frees, NULL when out of memory. */
char *cli_base64(const unsigned char *p, size_t n);

/* ------------------------------------------------------------ open.c */

/* What a command asks of cli_db_open. Zero it, then fill what applies. */
typedef struct cli_db_options {
  const char *path;       /* --db FILE (required) */
  const char *schema_dir; /* --schema DIR; NULL = the one `init` stored */
  const char *app_folder; /* --app-folder NAME (init only); NULL = stored or default */
  const char *remote_app_folder; /* the app folder a gdrive:// or onedrive:// URL
                                    names: adopted by a database that has not
                                    synced yet, an error if it differs otherwise */
  int init;               /* 1 for `init`: the file may be new or plain SQLite */
  bl_mismatch mismatch;   /* passed to bl_open */
  int snapshot_threshold; /* passed to bl_open (0 = default) */
  int snapshot_grace;     /* passed to bl_open (0 = default) */
  const char *media_cache; /* --media-cache DIR; NULL = $BACKLESS_MEDIA_CACHE,
                              else the library's default */
  int media_gc_grace;     /* passed to bl_open (0 = default) */
  int keyed;              /* 1: the command may sync, so it takes the passphrase
                             (--passphrase-file, else $BACKLESS_PASSPHRASE) and
                             honours BACKLESS_KDF_FAST */
  const char *passphrase_file; /* --passphrase-file FILE (cli_key_option) */
  int compression;        /* a new app folder's (BL_COMPRESSION_*; 0 = default) */
} cli_db_options;

/* A passphrase the tool read (passphrase.c). */
typedef struct cli_passphrase {
  char *text;       /* sodium_malloc'ed, NUL-terminated; NULL: none given */
  const char *file; /* the --passphrase-file it came from (borrowed); NULL:
                       $BACKLESS_PASSPHRASE */
} cli_passphrase;

/* An open database and what it was opened with. */
typedef struct cli_db {
  bl_db *db;
  bl_schema *schema;
  char *schema_dir; /* absolute path, malloc'ed */
  char *app_folder; /* malloc'ed */
  bl_media_schema *media; /* the schema dir's '-- media:' line; NULL: none */
  cli_passphrase pass;    /* opt->keyed: the passphrase given, if any; wiped
                             by cli_db_close right after bl_close */
} cli_db;

/* The option lines every database command's --help shows for
 * --media-cache (aligned for an option column of 18 characters). */
#define CLI_MEDIA_CACHE_HELP                                                              \
  "  --media-cache DIR  the attachments cache of this database (default:\n"            \
  "                     $BACKLESS_MEDIA_CACHE, else $XDG_CACHE_HOME/backless/media,\n"  \
  "                     else ~/.cache/backless/media); use the same one for every\n"    \
  "                     command on a database\n"


/*
 * Matches the options every database command takes, --db FILE,
 * --schema DIR and --media-cache DIR, at argv[*i], filling `opt`. Same
 * returns as cli_opt_value.
 */
int cli_db_option(const char *command, int argc, char **argv, int *i, cli_db_options *opt);

/*
 * Opens the database of `opt` for `command`. Except for `init`, first reads
 * the schema dir and app folder that `init` stored in _sync_meta (through a
 * read-only connection, so nothing is created by mistake), then builds the
 * schema and calls bl_open, which migrates when the dir has gained files.
 * A '-- media: TABLE(...)' line in the dir turns media sync on
 * (bl_media_schema_from_dir; out->media), with the cache dir of
 * opt->media_cache, else $BACKLESS_MEDIA_CACHE, else the library's default.
 * Afterwards the keys are (re)written when they changed. Returns
 * CLI_EXIT_OK with `out` filled (close it with cli_db_close), or an exit
 * code after printing the reason on stderr. With opt->keyed, the passphrase
 * is read first (cli_passphrase_load; a refused passphrase file opens
 * nothing) and given to bl_open with the compression and the KDF knob.
 */
int cli_db_open(const char *command, const cli_db_options *opt, cli_db *out);

/* Closes what cli_db_open opened (the database, then its schemas); a
 * zeroed cli_db is fine. */
void cli_db_close(cli_db *d);

/* ------------------------------------------------------------ passphrase.c */

/* The option lines of --passphrase-file for an option column of 18
 * characters (media); sync and demo write their own. */
#define CLI_PASSPHRASE_HELP                                                               \
  "  --passphrase-file FILE\n"                                                           \
  "                     the passphrase of an encrypted app folder: the first\n"          \
  "                     line of FILE, readable by its owner only (default:\n"            \
  "                     $BACKLESS_PASSPHRASE; see 'backless sync --help')\n"

/* Matches --passphrase-file FILE at argv[*i] into opt->passphrase_file.
 * Same returns as cli_opt_value. */
int cli_key_option(const char *command, int argc, char **argv, int *i, cli_db_options *opt);

/* Parses --compression's value: zstd or none. CLI_EXIT_OK with *out set
 * (BL_COMPRESSION_*), or CLI_EXIT_USAGE after printing why. */
int cli_compression_parse(const char *command, const char *s, int *out);

/*
 * Reads the passphrase: the first line of `file` (without its newline, or
 * a CR before it) when `file` is not NULL, else $BACKLESS_PASSPHRASE, which
 * is then removed from the environment. A file that its group or others
 * may access, an empty first line, or one longer than 1023 bytes is
 * refused. Returns CLI_EXIT_OK with out->text set (NULL when neither was
 * given), or CLI_EXIT_FAIL after printing why (never the passphrase).
 * out is wiped with cli_passphrase_wipe.
 */
int cli_passphrase_load(const char *command, const char *file, cli_passphrase *out);

/* Zeroes and frees p->text; p is left zeroed. */
void cli_passphrase_wipe(cli_passphrase *p);

/* "--passphrase-file FILE" or "$BACKLESS_PASSPHRASE", into buf. */
const char *cli_passphrase_source(const cli_passphrase *p, char *buf, size_t size);

/* Sets cfg's passphrase callback to hand over p (borrowed: p must stay put
 * until bl_close) when p holds one, and applies cli_kdf_config. */
void cli_passphrase_config(cli_passphrase *p, bl_config *cfg);

/* BACKLESS_KDF_FAST=1 (tests only): a new encrypted folder gets
 * Argon2id's minimum cost (crypto_pwhash_OPSLIMIT_MIN / MEMLIMIT_MIN). */
void cli_kdf_config(bl_config *cfg);

/* When `r` holds a 'key' error, explains it on stderr for `command` (no
 * passphrase given, or the one from where it came was refused) and
 * returns 1; else returns 0. */
int cli_key_error(const char *command, const bl_sync_result *r, const cli_db *d);

/* ------------------------------------------------------------ cmd_sync.c */

/*
 * The result of a sync as a JSON object {pulled, pushed, files_pulled,
 * files_pushed, media_uploaded, media_deleted, requests, warnings,
 * errors} (a new reference; NULL when out of memory), and as text on
 * stdout ('pulled N changes (F files), pushed ...', then the requests, the
 * media counts when not zero, one line per warning and error).
 */
struct json_t *cli_sync_json(const bl_sync_result *r, uint64_t requests);
void cli_sync_print_text(const bl_sync_result *r, uint64_t requests);

/* ------------------------------------------------------------ remote.c */

/*
 * Opens the remote `url` for `command`: a local folder (a relative path
 * naming an existing folder is made absolute), webdav(s)://, gdrive:// or
 * onedrive://. Cloud remotes take their access token from `token_cmd`
 * (--token-cmd) or $BACKLESS_TOKEN_CMD, run through /bin/sh whenever a
 * token is needed and again after a 401; the API base URLs from
 * $BACKLESS_GDRIVE_API_URL / $BACKLESS_GRAPH_API_URL (tests point them at
 * the emulators); WebDAV credentials from the URL or $BACKLESS_WEBDAV_USER /
 * $BACKLESS_WEBDAV_PASSWORD. Returns 0, or -1 after printing why.
 */
int cli_remote_open(const char *command, const char *url, const char *token_cmd, bl_remote **out);

/* `url` as it may be shown: any user:password@ of its authority becomes
 * ***@ (command lines and messages must not echo a password). */
void cli_url_shown(const char *url, char *buf, size_t size);

/* The help text describing remote URLs and their settings, shared by the
 * commands that take --remote. */
extern const char cli_remote_help[];

#endif /* BL_CLI_H */
