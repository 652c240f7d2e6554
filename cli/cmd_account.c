/*
 * cmd_account.c — `backless account`: read or store the signed-in account
 * (the seed's getActiveAccount / setActiveAccount).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char account_usage[] =
    "usage: backless account --db FILE [--set PROVIDER EMAIL] [--schema DIR]\n"
    "                        [--media-cache DIR]\n"
    "\n"
    "Prints the stored account as 'PROVIDER EMAIL', or 'no account' when none\n"
    "is stored (both exit 0). With --set, stores PROVIDER (such as google or\n"
    "microsoft) and EMAIL first. 'backless clear' removes the account.\n"
    "\n"
    "Options:\n"
    "  --db FILE              a database made by 'backless init'\n"
    "  --set PROVIDER EMAIL   store this account\n"
    "  --schema DIR           use (and remember) this schema folder\n"
    "  --media-cache DIR      the attachments cache (default: $BACKLESS_MEDIA_CACHE,\n"
    "                         else $XDG_CACHE_HOME/backless/media or\n"
    "                         ~/.cache/backless/media)\n"
    "  -h, --help             show this help\n";

static int account_run(int argc, char **argv) {
  cli_db_options opt = {0};
  cli_db d = {0};
  const char *set_provider = NULL, *set_email = NULL;
  char *provider = NULL, *email = NULL;
  int rc;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--set") == 0) {
      if (i + 2 >= argc) return cli_usage_error("account", "--set needs PROVIDER and EMAIL");
      set_provider = argv[++i];
      set_email = argv[++i];
      if (!*set_provider) return cli_usage_error("account", "the provider is empty");
      continue;
    }
    int m = cli_db_option("account", argc, argv, &i, &opt);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m == 0)
      return cli_usage_error("account", "%s '%s'",
                             argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
  }
  if (!opt.path) return cli_usage_error("account", "--db FILE is required");

  rc = cli_db_open("account", &opt, &d);
  if (rc != CLI_EXIT_OK) return rc;
  rc = CLI_EXIT_FAIL;
  if (set_provider && bl_set_active_account(d.db, set_provider, set_email) != BL_OK) {
    cli_error("account", "%s", bl_errmsg(d.db));
    goto done;
  }
  int got = bl_get_active_account(d.db, &provider, &email);
  if (got == BL_OK) {
    printf("%s %s\n", provider, email);
  } else if (got == BL_ENOTFOUND) {
    printf("no account\n");
  } else {
    cli_error("account", "%s", bl_errmsg(d.db));
    goto done;
  }
  rc = CLI_EXIT_OK;

done:
  free(provider);
  free(email);
  cli_db_close(&d);
  return rc;
}

const cli_command cli_cmd_account = {
    .name = "account",
    .summary = "show or set the signed-in account",
    .usage = account_usage,
    .run = account_run,
};
