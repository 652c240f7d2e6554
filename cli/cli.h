/*
 * cli.h — shared declarations of the backless command-line tool.
 *
 * The tool is a table of commands (main.c). Each command lives in its own
 * file, cmd_<name>.c, and exports one cli_command describing it; adding a
 * command means writing that file and adding one line to the table in
 * main.c. Helpers every command may use (option checks, printing query
 * results) live in util.c.
 *
 * Exit codes follow the usual convention: 0 success, 1 the command failed,
 * 2 the command line was wrong (unknown command or option, missing value).
 */
#ifndef BL_CLI_H
#define BL_CLI_H

#include <stdio.h>

#include <sqlite3.h>

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

typedef struct cli_command {
  const char *name;
  const char *summary; /* one line, shown by `backless --help` */
  const char *usage;   /* full text, shown by `backless <name> --help` */
  /* Runs the command. argv[0] is the command name, as for main(). Returns
   * an exit code (CLI_EXIT_*). */
  int (*run)(int argc, char **argv);
} cli_command;

extern const cli_command cli_cmd_demo;

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

#endif /* BL_CLI_H */
