/*
 * passphrase.c — what the tool tells the library about an app folder's
 * encryption and compression: the passphrase, the compression of a new
 * folder, the Argon2id cost knob of the tests, and how a 'key' error of a
 * sync is explained to the user.
 *
 * The passphrase comes from --passphrase-file FILE (its first line), else
 * from $BACKLESS_PASSPHRASE; never from the command line itself, which
 * every user of the machine may read (ps). Like ssh with a private key, the
 * tool refuses a passphrase file that anyone but its owner may access.
 *
 * The tool's copy lives in sodium_malloc'ed memory (guard pages, locked out
 * of swap where the system allows it), is handed to the library through a
 * bl_passphrase_fn that copies it into the library's own buffer, and is
 * wiped and freed right after the database is closed (cli_db_close). It is
 * never printed: messages say where it came from, never what it is. Once
 * read, $BACKLESS_PASSPHRASE is removed from the environment, so the token
 * command (--token-cmd) and any other child does not inherit it.
 *
 * Divided into: reading it, handing it over, the other settings of a new
 * folder, and explaining a 'key' error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

/* The library asks with a buffer of 1024 bytes, the NUL included. */
#define PASS_MAX 1023

/* ------------------------------------------------------------ reading */

/*
 * Reads the first line of `file` into buf (PASS_MAX + 2 bytes) without the
 * newline (nor a CR before it), NUL-terminated. Returns 0, or -1 after
 * printing why; what was read is left in buf for the caller to wipe. The
 * file is read with read(2), never through stdio, so no copy stays in a
 * FILE buffer.
 */
static int pass_read_file(const char *command, const char *file, char *buf) {
  int fd = open(file, O_RDONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    cli_error(command, "--passphrase-file %s: %s", file, strerror(errno));
    return -1;
  }
  int rc = -1;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    cli_error(command, "--passphrase-file %s: %s", file, strerror(errno));
    goto done;
  }
  if (S_ISDIR(st.st_mode)) {
    cli_error(command, "--passphrase-file %s is a folder", file);
    goto done;
  }
  if (st.st_mode & 077) {
    cli_error(command,
              "--passphrase-file %s: permissions %04o are too open; a passphrase file must be "
              "accessible by its owner only (chmod 600 %s); it was not read",
              file, (unsigned)(st.st_mode & 07777), file);
    goto done;
  }
  size_t n = 0;
  int line_end = 0;
  while (!line_end && n < PASS_MAX + 1) {
    ssize_t got = read(fd, buf + n, PASS_MAX + 1 - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      cli_error(command, "--passphrase-file %s: %s", file, strerror(errno));
      goto done;
    }
    if (got == 0) break;
    char *nl = memchr(buf + n, '\n', (size_t)got);
    n += (size_t)got;
    if (nl) {
      n = (size_t)(nl - buf);
      line_end = 1;
    }
  }
  if (!line_end && n > PASS_MAX) {
    cli_error(command, "--passphrase-file %s: the first line is longer than %d bytes", file,
              PASS_MAX);
    goto done;
  }
  if (n > 0 && buf[n - 1] == '\r') n--;
  if (memchr(buf, '\0', n)) {
    cli_error(command, "--passphrase-file %s: the first line holds a NUL byte", file);
    goto done;
  }
  if (n == 0) {
    cli_error(command, "--passphrase-file %s: the first line is empty", file);
    goto done;
  }
  buf[n] = '\0';
  rc = 0;

done:
  close(fd);
  return rc;
}

int cli_passphrase_load(const char *command, const char *file, cli_passphrase *out) {
  memset(out, 0, sizeof *out);
  const char *env = file ? NULL : getenv("BACKLESS_PASSPHRASE");
  if (!file && (!env || !*env)) return CLI_EXIT_OK; /* none given */
  if (sodium_init() < 0) {
    cli_error(command, "libsodium cannot be initialized");
    return CLI_EXIT_FAIL;
  }
  char *buf = sodium_malloc(PASS_MAX + 2);
  if (!buf) {
    cli_error(command, "out of memory");
    return CLI_EXIT_FAIL;
  }
  memset(buf, 0, PASS_MAX + 2);
  if (file) {
    if (pass_read_file(command, file, buf) != 0) {
      sodium_free(buf); /* zeroes it */
      return CLI_EXIT_FAIL;
    }
    out->file = file;
  } else {
    size_t n = strlen(env);
    if (n > PASS_MAX) {
      sodium_free(buf);
      cli_error(command, "$BACKLESS_PASSPHRASE is longer than %d bytes", PASS_MAX);
      return CLI_EXIT_FAIL;
    }
    memcpy(buf, env, n + 1);
    unsetenv("BACKLESS_PASSPHRASE");
  }
  out->text = buf;
  return CLI_EXIT_OK;
}

void cli_passphrase_wipe(cli_passphrase *p) {
  if (p->text) sodium_free(p->text); /* zeroes it */
  memset(p, 0, sizeof *p);
}

const char *cli_passphrase_source(const cli_passphrase *p, char *buf, size_t size) {
  if (p->file)
    snprintf(buf, size, "--passphrase-file %s", p->file);
  else
    snprintf(buf, size, "$BACKLESS_PASSPHRASE");
  return buf;
}

/* ------------------------------------------------------------ handing it over */

/* bl_passphrase_fn: payload is the cli_passphrase. The library wipes its
 * buffer as soon as the key is derived. */
static int pass_give(char *buf, size_t size, void *payload) {
  const cli_passphrase *p = payload;
  if (!p || !p->text) return -1;
  size_t n = strlen(p->text);
  if (n + 1 > size) return -1;
  memcpy(buf, p->text, n + 1);
  return 0;
}

void cli_passphrase_config(cli_passphrase *p, bl_config *cfg) {
  /* Without a passphrase the callback stays NULL: a callback that has
   * nothing to give would make a new folder encrypted with no key. */
  if (p->text) {
    cfg->passphrase = pass_give;
    cfg->passphrase_payload = p;
  }
  cli_kdf_config(cfg);
}

/* ------------------------------------------------------------ new folders */

void cli_kdf_config(bl_config *cfg) {
  const char *fast = getenv("BACKLESS_KDF_FAST");
  if (fast && strcmp(fast, "1") == 0) {
    cfg->kdf_opslimit = crypto_pwhash_OPSLIMIT_MIN;
    cfg->kdf_memlimit = crypto_pwhash_MEMLIMIT_MIN;
  }
}

int cli_compression_parse(const char *command, const char *s, int *out) {
  if (strcmp(s, "zstd") == 0)
    *out = BL_COMPRESSION_ZSTD;
  else if (strcmp(s, "none") == 0)
    *out = BL_COMPRESSION_NONE;
  else
    return cli_usage_error(command, "--compression wants zstd or none, not '%s'", s);
  return CLI_EXIT_OK;
}

int cli_key_option(const char *command, int argc, char **argv, int *i, cli_db_options *opt) {
  int m = cli_opt_value(command, argc, argv, i, "--passphrase-file", &opt->passphrase_file);
  if (m > 0 && !*opt->passphrase_file) {
    cli_usage_error(command, "--passphrase-file wants a file, not ''");
    return -1;
  }
  return m;
}

/* ------------------------------------------------------------ 'key' errors */

int cli_key_error(const char *command, const bl_sync_result *r, const cli_db *d) {
  const bl_sync_issue *key = NULL;
  for (size_t i = 0; !key && i < r->errors_count; i++)
    if (r->errors[i].code == BL_SYNC_KEY) key = &r->errors[i];
  if (!key) return 0;
  if (!d->pass.text) {
    cli_error(command,
              "the app folder '%s' is encrypted and no passphrase was given: pass "
              "--passphrase-file FILE or set BACKLESS_PASSPHRASE (nothing was downloaded, "
              "applied or uploaded)",
              d->app_folder);
  } else {
    char src[1024];
    cli_error(command, "%s (the passphrase came from %s)", key->message ? key->message : "",
              cli_passphrase_source(&d->pass, src, sizeof src));
  }
  return 1;
}
