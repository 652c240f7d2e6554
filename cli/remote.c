/*
 * remote.c — how the CLI opens a remote: the URL forms, where cloud
 * remotes get their access token (a command the user gives), and the
 * environment variables that point the backends at other service URLs.
 *
 * Divided into: the token command; opening.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli.h"

const char cli_remote_help[] =
    "Remote URLs:\n"
    "  /path, file:///path        a local folder (it must exist; one kept in sync by\n"
    "                             Dropbox, Syncthing, Nextcloud or a share works); a\n"
    "                             relative path to an existing folder is made absolute\n"
    "  webdav://host[:port]/path  a WebDAV collection (webdavs:// for https; plain\n"
    "                             http only to 127.0.0.1 / localhost); credentials\n"
    "                             as user:password@host or from the environment\n"
    "  gdrive://AppFolderName     Google Drive (the folder in My Drive)\n"
    "  onedrive://AppFolderName   OneDrive (the folder under the app's folder)\n"
    "The name in a gdrive:// or onedrive:// URL is the app folder; a database that\n"
    "has not synced yet adopts it.\n"
    "\n"
    "Cloud access:\n"
    "  --token-cmd CMD            a shell command printing an access token on stdout;\n"
    "                             run when a token is needed and again when the\n"
    "                             service rejects one (then BACKLESS_TOKEN_REFRESH=1\n"
    "                             is set for it). Default: $BACKLESS_TOKEN_CMD\n"
    "Environment:\n"
    "  BACKLESS_GDRIVE_API_URL    Drive API base (default https://www.googleapis.com)\n"
    "  BACKLESS_GRAPH_API_URL     Graph API base (default https://graph.microsoft.com/v1.0)\n"
    "  BACKLESS_WEBDAV_USER, BACKLESS_WEBDAV_PASSWORD   WebDAV basic auth\n";

/* ------------------------------------------------------------ token command */

/*
 * bl_token_fn running the user's command: its stdout, without surrounding
 * whitespace, is the token. The command's stderr passes through, so its
 * own complaints reach the user; a failure is explained on stderr too
 * (the library only learns "no token").
 */
static int remote_token_cmd(char *buf, size_t size, int refresh, void *payload) {
  const char *cmd = payload;
  if (refresh) setenv("BACKLESS_TOKEN_REFRESH", "1", 1);
  else unsetenv("BACKLESS_TOKEN_REFRESH");
  fflush(NULL);
  FILE *p = popen(cmd, "r");
  if (!p) {
    cli_error("token", "cannot run the token command");
    return -1;
  }
  size_t len = 0;
  int too_long = 0;
  for (;;) {
    char chunk[512];
    size_t k = fread(chunk, 1, sizeof chunk, p);
    if (k == 0) break;
    if (len + k >= size) {
      too_long = 1;
      continue; /* drain it so the command can exit */
    }
    memcpy(buf + len, chunk, k);
    len += k;
  }
  int status = pclose(p);
  unsetenv("BACKLESS_TOKEN_REFRESH");
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    cli_error("token", "the token command failed (%s %d)",
              status != -1 && WIFEXITED(status) ? "exit status" : "status", status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : status);
    return -1;
  }
  if (too_long) {
    cli_error("token", "the token command printed more than %zu bytes", size - 1);
    return -1;
  }
  while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t')) len--;
  buf[len] = '\0';
  size_t start = strspn(buf, " \t\r\n");
  if (start) memmove(buf, buf + start, len - start + 1);
  if (!buf[0]) {
    cli_error("token", "the token command printed nothing");
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ showing */

/* A URL longer than the buffer is shown cut (the return values are looked
 * at so that gcc -O2 does not warn about the cut). */
void cli_url_shown(const char *url, char *buf, size_t size) {
  const char *sep = strstr(url, "://");
  if (sep) {
    const char *auth = sep + 3;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', auth_len);
    if (at) {
      if (snprintf(buf, size, "%.*s***%s", (int)(auth - url), url, at) < 0 && size) buf[0] = '\0';
      return;
    }
  }
  if (snprintf(buf, size, "%s", url) < 0 && size) buf[0] = '\0';
}

/* ------------------------------------------------------------ opening */

int cli_remote_open(const char *command, const char *url, const char *token_cmd, bl_remote **out) {
  char abs[PATH_MAX];
  struct stat st;
  *out = NULL;
  if (url[0] != '/' && !strstr(url, "://") && stat(url, &st) == 0 && S_ISDIR(st.st_mode) && realpath(url, abs))
    url = abs;
  int gdrive = strncmp(url, "gdrive:", 7) == 0, onedrive = strncmp(url, "onedrive:", 9) == 0;
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  if (gdrive || onedrive) {
    if (!token_cmd || !*token_cmd) token_cmd = getenv("BACKLESS_TOKEN_CMD");
    if (!token_cmd || !*token_cmd) {
      cli_error(command, "%s needs an access token: give --token-cmd CMD (a command printing one) or set "
                         "BACKLESS_TOKEN_CMD",
                url);
      return -1;
    }
    o.token = remote_token_cmd;
    o.token_payload = (void *)token_cmd;
    const char *api = getenv(gdrive ? "BACKLESS_GDRIVE_API_URL" : "BACKLESS_GRAPH_API_URL");
    if (api && *api) o.api_url = api;
  } else if (token_cmd) {
    char shown[1024];
    cli_url_shown(url, shown, sizeof shown);
    cli_error(command, "--token-cmd is for gdrive:// and onedrive:// remotes, not '%s'", shown);
    return -1;
  }
  const char *user = getenv("BACKLESS_WEBDAV_USER"), *password = getenv("BACKLESS_WEBDAV_PASSWORD");
  if (user && *user) o.user = user;
  if (password && *password) o.password = password;
  if (bl_remote_open_ex(out, url, &o) != BL_OK) {
    cli_error(command, "%s", bl_errmsg(NULL));
    return -1;
  }
  return 0;
}
