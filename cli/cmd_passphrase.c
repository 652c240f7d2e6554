/*
 * cmd_passphrase.c — `backless passphrase change`: a new passphrase for an
 * encrypted app folder (bl_passphrase_change). The data key is wrapped
 * again; no file of the history is re-encrypted.
 */
#include <string.h>

#include "cli.h"

static const char passphrase_usage[] =
    "usage: backless passphrase change --db FILE --remote URL --new-passphrase-file FILE\n"
    "                                 [--passphrase-file FILE] [--token-cmd CMD]\n"
    "                                 [--schema DIR] [--media-cache DIR]\n"
    "\n"
    "Changes the passphrase of the encrypted app folder this database syncs with.\n"
    "The current passphrase (--passphrase-file, else $BACKLESS_PASSPHRASE) opens\n"
    "the folder's data key; the key is wrapped again under the new passphrase\n"
    "(Argon2id, a fresh salt) and backless.json is rewritten. The history is not\n"
    "re-encrypted, so this is quick. Devices that join from now on need the new\n"
    "passphrase; devices that synced before keep working (the data key is the\n"
    "same: a passphrase change is not a revocation; start a new app folder to\n"
    "shut a device out). If anything fails, the old passphrase still works.\n"
    "\n"
    "Options:\n"
    "  --db FILE          a database made by 'backless init' that has synced\n"
    "  --remote URL       where the app folder is (see 'backless sync --help')\n"
    "  --new-passphrase-file FILE\n"
    "                     the new passphrase: the first line of FILE, readable by\n"
    "                     its owner only\n"
    CLI_PASSPHRASE_HELP
    "  --token-cmd CMD    prints an access token (Drive, OneDrive)\n"
    "  --schema DIR       use (and remember) this schema folder\n"
    CLI_MEDIA_CACHE_HELP
    "  -h, --help         show this help\n";

static int passphrase_run(int argc, char **argv) {
  cli_db_options opt = {0};
  cli_db d = {0};
  cli_passphrase fresh = {0};
  bl_remote *remote = NULL;
  const char *url = NULL, *token_cmd = NULL, *new_file = NULL;
  if (argc < 2 || strcmp(argv[1], "change") != 0) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
      fputs(passphrase_usage, stdout);
      return CLI_EXIT_OK;
    }
    return cli_usage_error("passphrase", "the only subcommand is 'change'");
  }
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(passphrase_usage, stdout);
      return CLI_EXIT_OK;
    }
    int m = cli_db_option("passphrase", argc, argv, &i, &opt);
    if (m == 0) m = cli_key_option("passphrase", argc, argv, &i, &opt);
    if (m == 0) m = cli_opt_value("passphrase", argc, argv, &i, "--remote", &url);
    if (m == 0) m = cli_opt_value("passphrase", argc, argv, &i, "--token-cmd", &token_cmd);
    if (m == 0) m = cli_opt_value("passphrase", argc, argv, &i, "--new-passphrase-file", &new_file);
    if (m < 0) return CLI_EXIT_USAGE;
    if (m == 0)
      return cli_usage_error("passphrase", "%s '%s'", argv[i][0] == '-' ? "unknown option" : "unexpected argument",
                             argv[i]);
  }
  if (!opt.path) return cli_usage_error("passphrase", "--db FILE is required");
  if (!url) return cli_usage_error("passphrase", "--remote URL is required");
  if (!new_file) return cli_usage_error("passphrase", "--new-passphrase-file FILE is required");
  /* The new one first: a refused file changes nothing. */
  int rc = cli_passphrase_load("passphrase", new_file, &fresh);
  if (rc != CLI_EXIT_OK) return rc;
  opt.keyed = 1;
  rc = cli_db_open("passphrase", &opt, &d);
  if (rc != CLI_EXIT_OK) goto done;
  rc = CLI_EXIT_FAIL;
  if (!d.pass.text) {
    cli_error("passphrase", "the current passphrase is needed: pass --passphrase-file FILE or set BACKLESS_PASSPHRASE");
    goto done;
  }
  if (cli_remote_open("passphrase", url, token_cmd, &remote) != 0) goto done;
  if (bl_passphrase_change(d.db, remote, fresh.text) != BL_OK) {
    cli_error("passphrase", "%s", bl_errmsg(d.db));
    goto done;
  }
  printf("changed the passphrase of app folder '%s'\n", d.app_folder);
  printf("  the data key was wrapped again; no file of the history was rewritten\n");
  printf("  devices that join from now on need the new passphrase\n");
  rc = CLI_EXIT_OK;
done:
  bl_remote_free(remote);
  cli_db_close(&d);
  cli_passphrase_wipe(&fresh);
  return rc;
}

const cli_command cli_cmd_passphrase = {
    .name = "passphrase",
    .summary = "change the passphrase of an encrypted app folder",
    .usage = passphrase_usage,
    .run = passphrase_run,
};
