/*
 * main.c — entry point of the backless command-line tool.
 *
 * Parses the global options (--help, --version), looks the command up in
 * cli_commands[] and runs it. Each command parses its own options and
 * answers --help itself (see cli.h). Unknown commands and options are usage
 * errors: a message on stderr and exit code 2.
 */
#include <stdio.h>
#include <string.h>

#include "backless.h"
#include "cli.h"

const char *cli_progname = "backless";

/* Every command, in the order `backless --help` lists them. */
static const cli_command *const cli_commands[] = {
    &cli_cmd_init,  &cli_cmd_exec,    &cli_cmd_sync, &cli_cmd_status,
    &cli_cmd_clear, &cli_cmd_account, &cli_cmd_media, &cli_cmd_passphrase, &cli_cmd_demo,
};

#define CLI_NCOMMANDS (sizeof cli_commands / sizeof cli_commands[0])

static void main_usage(FILE *out) {
  fprintf(out,
          "usage: %s [--help] [--version] <command> [<args>]\n"
          "\n"
          "Local-first SQLite that syncs through your own cloud storage.\n"
          "\n"
          "Commands:\n",
          cli_progname);
  for (size_t i = 0; i < CLI_NCOMMANDS; i++)
    fprintf(out, "  %-10s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
  fprintf(out,
          "\n"
          "Run '%s <command> --help' for the options of one command.\n",
          cli_progname);
}

static void main_version(void) {
  printf("%s %s (SQLite %s, CRDT engine compatible with cr-sqlite 0.16)\n", cli_progname,
         BL_VERSION_STRING, sqlite3_libversion());
}

static const cli_command *main_find(const char *name) {
  for (size_t i = 0; i < CLI_NCOMMANDS; i++)
    if (strcmp(cli_commands[i]->name, name) == 0) return cli_commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    main_usage(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *arg = argv[1];
  if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
    main_usage(stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
    main_version();
    return CLI_EXIT_OK;
  }
  if (strcmp(arg, "help") == 0) {
    /* `backless help <command>` is the same as `backless <command> --help`. */
    if (argc < 3) {
      main_usage(stdout);
      return CLI_EXIT_OK;
    }
    const cli_command *cmd = main_find(argv[2]);
    if (!cmd) {
      fprintf(stderr, "%s: unknown command '%s' (see '%s --help')\n", cli_progname, argv[2],
              cli_progname);
      return CLI_EXIT_USAGE;
    }
    fputs(cmd->usage, stdout);
    if (cmd->usage_tail) fputs(cmd->usage_tail, stdout);
    return CLI_EXIT_OK;
  }
  if (arg[0] == '-') {
    fprintf(stderr, "%s: unknown option '%s' (see '%s --help')\n", cli_progname, arg, cli_progname);
    return CLI_EXIT_USAGE;
  }
  const cli_command *cmd = main_find(arg);
  if (!cmd) {
    fprintf(stderr, "%s: unknown command '%s' (see '%s --help')\n", cli_progname, arg,
            cli_progname);
    return CLI_EXIT_USAGE;
  }
  if (cli_wants_help(argc - 1, argv + 1)) {
    fputs(cmd->usage, stdout);
    if (cmd->usage_tail) fputs(cmd->usage_tail, stdout);
    return CLI_EXIT_OK;
  }
  return cmd->run(argc - 1, argv + 1);
}
