/*
 * remote.c — what every remote shares: the dispatchers the sync engine calls
 * (bl_remote_list, ...), the last error message, and opening a remote by URL.
 *
 * The dispatchers are the one place where the path rules of
 * backless/remote.h are enforced, so no backend has to check them and no
 * backend ever sees "/x", "a//b" or "..".
 *
 * Divided into: error messages; path checks; dispatchers; opening by URL (a
 * table of schemes, each with its opener; a new backend adds one row).
 */
#define _POSIX_C_SOURCE 200809L

#include "backless/remote.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backless.h"
#include "net/http.h"
#include "remote/remote_internal.h"
#include "util/errmsg.h"

/* ------------------------------------------------------------ error messages */

int bl_remote_set_error(bl_remote *r, int code, const char *fmt, ...) {
  if (!r || !fmt) return code;
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  /* Formatted before the old message is freed: an argument may point
   * into it (a wrapper passing a message on). */
  char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (msg) vsnprintf(msg, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  free(r->errmsg);
  r->errmsg = msg;
  return code;
}

/* For remote == NULL this is the thread's last error of a call without a
 * handle, as bl_errmsg(NULL) gives it: after a failed bl_remote_open the
 * caller has no remote to ask. */
const char *bl_remote_errmsg(const bl_remote *remote) {
  if (!remote) return bl__tls_errmsg();
  return remote->errmsg ? remote->errmsg : "";
}

void bl_remote_entries_free(bl_remote_entry *entries, size_t count) {
  if (!entries) return;
  for (size_t i = 0; i < count; i++) free(entries[i].name);
  free(entries);
}

void bl_remote_free(bl_remote *remote) {
  if (!remote) return;
  /* The backend's free releases the struct itself, so the message (owned
   * by the library) goes first. */
  free(remote->errmsg);
  remote->errmsg = NULL;
  if (remote->free) remote->free(remote);
}

/* ---------------------------------------------------------------- path checks */

/*
 * Checks `path` against the rules of backless/remote.h for operation `op`
 * ("list", ...). `root_ok`: whether "" (the root) is acceptable. Returns
 * BL_OK, or BL_EMISUSE with a message naming the rule broken.
 */
static int remote_check_path(bl_remote *r, const char *op, const char *path, int root_ok) {
  if (!path) return bl_remote_set_error(r, BL_EMISUSE, "remote %s: the path is NULL", op);
  if (!*path) {
    if (root_ok) return BL_OK;
    return bl_remote_set_error(r, BL_EMISUSE,
                               "remote %s: the path is empty (the root is not a file)", op);
  }
  if (path[0] == '/')
    return bl_remote_set_error(r, BL_EMISUSE,
                               "remote %s: path '%s' starts with '/' (paths are relative to the "
                               "remote's root)",
                               op, path);
  if (path[strlen(path) - 1] == '/')
    return bl_remote_set_error(r, BL_EMISUSE, "remote %s: path '%s' ends with '/'", op, path);
  for (const char *c = path; *c;) {
    size_t len = strcspn(c, "/");
    if (len == 0)
      return bl_remote_set_error(r, BL_EMISUSE, "remote %s: path '%s' has an empty component", op,
                                 path);
    if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
      return bl_remote_set_error(r, BL_EMISUSE, "remote %s: path '%s' has a '%.*s' component", op,
                                 path, (int)len, c);
    c += len;
    if (*c == '/') c++;
  }
  return BL_OK;
}

/* ---------------------------------------------------------------- dispatchers */

/*
 * Common start of every dispatcher: a usable remote, its last error
 * cleared, and a valid path. Returns BL_OK or BL_EMISUSE (for a NULL
 * remote, with the thread's message).
 */
static int remote_begin(bl_remote *r, const char *op, const char *path, int root_ok) {
  if (!r) return bl__set_tls_error(BL_EMISUSE, "remote %s: the remote is NULL", op);
  free(r->errmsg);
  r->errmsg = NULL;
  if (r->version < 1 || r->version > BL_REMOTE_VERSION)
    return bl_remote_set_error(r, BL_EMISUSE,
                               "remote %s: the backend has interface version %u, this library "
                               "knows 1 to %d",
                               op, r->version, BL_REMOTE_VERSION);
  return remote_check_path(r, op, path, root_ok);
}

static int remote_unimplemented(bl_remote *r, const char *op) {
  return bl_remote_set_error(r, BL_EMISUSE, "remote %s: the backend does not implement it", op);
}

/* A backend that fails without a message still leaves a useful one. */
static int remote_end(bl_remote *r, const char *op, const char *path, int rc) {
  if (rc < 0 && (!r->errmsg || !*r->errmsg))
    bl_remote_set_error(r, rc, "remote %s '%s': %s", op, path, bl_strerror(rc));
  return rc;
}

int bl_remote_list(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count) {
  if (out) *out = NULL;
  if (count) *count = 0;
  int rc = remote_begin(r, "list", path, 1);
  if (rc) return rc;
  if (!out || !count)
    return bl_remote_set_error(r, BL_EMISUSE, "remote list: out or count is NULL");
  if (!r->list) return remote_unimplemented(r, "list");
  return remote_end(r, "list", path, r->list(r, path, out, count));
}

int bl_remote_read(bl_remote *r, const char *path, bl_remote_sink sink, void *payload) {
  int rc = remote_begin(r, "read", path, 0);
  if (rc) return rc;
  if (!sink) return bl_remote_set_error(r, BL_EMISUSE, "remote read '%s': the sink is NULL", path);
  if (!r->read) return remote_unimplemented(r, "read");
  return remote_end(r, "read", path, r->read(r, path, sink, payload));
}

int bl_remote_write(bl_remote *r, const char *path, FILE *src, int64_t size) {
  int rc = remote_begin(r, "write", path, 0);
  if (rc) return rc;
  if (!src)
    return bl_remote_set_error(r, BL_EMISUSE, "remote write '%s': the source is NULL", path);
  if (size < 0)
    return bl_remote_set_error(r, BL_EMISUSE, "remote write '%s': negative size %lld", path,
                               (long long)size);
  if (!r->write) return remote_unimplemented(r, "write");
  return remote_end(r, "write", path, r->write(r, path, src, size));
}

int bl_remote_remove(bl_remote *r, const char *path) {
  int rc = remote_begin(r, "remove", path, 0);
  if (rc) return rc;
  if (!r->remove) return remote_unimplemented(r, "remove");
  return remote_end(r, "remove", path, r->remove(r, path));
}

int bl_remote_mkdir(bl_remote *r, const char *path) {
  int rc = remote_begin(r, "mkdir", path, 1);
  if (rc) return rc;
  if (!r->mkdir) return remote_unimplemented(r, "mkdir");
  return remote_end(r, "mkdir", path, r->mkdir(r, path));
}

/* ------------------------------------------------- version-2 dispatchers */

/* The member exists only in a version-2 (or later) backend. */
#define REMOTE_HAS(r, member) ((r)->version >= 2 && (r)->member)

/*
 * read_many and write_many differ only in their job type and operations;
 * one driver runs both, reaching a job's path, rc and errmsg through the
 * offsets of its struct.
 */
typedef struct remote_batch {
  const char *op;
  size_t stride, path_off, rc_off, msg_off, msg_cap;
  int (*arg_ok)(const void *job);
  int (*one)(bl_remote *r, void *job);            /* the single operation */
  int (*many)(bl_remote *r, void *jobs, size_t n); /* the backend's batch, or NULL */
} remote_batch;

#define BATCH_JOB(b, jobs, i) ((char *)(jobs) + (i) * (b)->stride)
#define BATCH_PATH(b, job) (*(const char **)((char *)(job) + (b)->path_off))
#define BATCH_RC(b, job) ((int *)((char *)(job) + (b)->rc_off))
#define BATCH_MSG(b, job) ((char *)(job) + (b)->msg_off)

static int remote_batch_run(bl_remote *r, const remote_batch *b, void *jobs, size_t n) {
  int rc = remote_begin(r, b->op, "", 1);
  if (rc) return rc;
  if (!jobs && n) return bl_remote_set_error(r, BL_EMISUSE, "remote %s: jobs is NULL", b->op);
  /* Every path checked before anything runs: a bad batch moves no byte. */
  for (size_t i = 0; i < n; i++) {
    void *job = BATCH_JOB(b, jobs, i);
    if ((rc = remote_check_path(r, b->op, BATCH_PATH(b, job), 0))) return rc;
    if (!b->arg_ok(job))
      return bl_remote_set_error(r, BL_EMISUSE, "remote %s '%s': job %zu has a NULL or negative argument", b->op,
                                 BATCH_PATH(b, job), i);
    *BATCH_RC(b, job) = BL_OK;
    BATCH_MSG(b, job)[0] = '\0';
  }
  if (n == 0) return BL_OK;
  if (b->many) {
    b->many(r, jobs, n);
  } else {
    for (size_t i = 0; i < n; i++) {
      void *job = BATCH_JOB(b, jobs, i);
      free(r->errmsg);
      r->errmsg = NULL;
      int one = remote_end(r, b->op, BATCH_PATH(b, job), b->one(r, job));
      *BATCH_RC(b, job) = one;
      if (one != BL_OK)
        snprintf(BATCH_MSG(b, job), b->msg_cap, "%s", r->errmsg && *r->errmsg ? r->errmsg : bl_strerror(one));
    }
  }
  /* The result: the first failed job's code and message. */
  free(r->errmsg);
  r->errmsg = NULL;
  for (size_t i = 0; i < n; i++) {
    void *job = BATCH_JOB(b, jobs, i);
    int jrc = *BATCH_RC(b, job);
    if (jrc != BL_OK)
      return bl_remote_set_error(r, jrc, "%s", BATCH_MSG(b, job)[0] ? BATCH_MSG(b, job) : bl_strerror(jrc));
  }
  return BL_OK;
}

static int remote_read_ok(const void *job) {
  return ((const bl_remote_read_job *)job)->sink != NULL;
}
static int remote_read_one(bl_remote *r, void *job) {
  bl_remote_read_job *j = job;
  return r->read ? r->read(r, j->path, j->sink, j->payload) : remote_unimplemented(r, "read");
}
static int remote_read_many_of(bl_remote *r, void *jobs, size_t n) {
  return r->read_many(r, jobs, n);
}

int bl_remote_read_many(bl_remote *r, bl_remote_read_job *jobs, size_t n) {
  remote_batch b = {"read", sizeof *jobs, offsetof(bl_remote_read_job, path), offsetof(bl_remote_read_job, rc),
                    offsetof(bl_remote_read_job, errmsg), sizeof jobs->errmsg, remote_read_ok, remote_read_one,
                    r && REMOTE_HAS(r, read_many) ? remote_read_many_of : NULL};
  return remote_batch_run(r, &b, jobs, n);
}

static int remote_write_ok(const void *job) {
  const bl_remote_write_job *j = job;
  return j->src != NULL && j->size >= 0;
}
static int remote_write_one(bl_remote *r, void *job) {
  bl_remote_write_job *j = job;
  return r->write ? r->write(r, j->path, j->src, j->size) : remote_unimplemented(r, "write");
}
static int remote_write_many_of(bl_remote *r, void *jobs, size_t n) {
  return r->write_many(r, jobs, n);
}

int bl_remote_write_many(bl_remote *r, bl_remote_write_job *jobs, size_t n) {
  remote_batch b = {"write", sizeof *jobs, offsetof(bl_remote_write_job, path), offsetof(bl_remote_write_job, rc),
                    offsetof(bl_remote_write_job, errmsg), sizeof jobs->errmsg, remote_write_ok, remote_write_one,
                    r && REMOTE_HAS(r, write_many) ? remote_write_many_of : NULL};
  return remote_batch_run(r, &b, jobs, n);
}

void bl_remote_changes_clear(bl_remote_changes *c) {
  if (!c) return;
  free(c->token);
  for (size_t i = 0; i < c->nfolders; i++) free(c->folders[i]);
  free(c->folders);
  memset(c, 0, sizeof *c);
}

int bl_remote_changes_since(bl_remote *r, const char *path, const char *since, bl_remote_changes *out) {
  if (out) memset(out, 0, sizeof *out);
  int rc = remote_begin(r, "changes", path, 1);
  if (rc) return rc;
  if (!out) return bl_remote_set_error(r, BL_EMISUSE, "remote changes: out is NULL");
  if (!REMOTE_HAS(r, changes)) {
    out->all = 1; /* no change feed: the caller lists everything */
    return BL_OK;
  }
  rc = remote_end(r, "changes", path, r->changes(r, path, since, out));
  if (rc != BL_OK) {
    bl_remote_changes_clear(out);
    return rc;
  }
  /* A backend that reports folders must also give the token to go on. */
  if (!out->all && !out->token) {
    bl_remote_changes_clear(out);
    out->all = 1;
  }
  return BL_OK;
}

void bl_remote_get_stats(const bl_remote *r, bl_remote_stats *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (r && REMOTE_HAS(r, stats)) r->stats((bl_remote *)r, out);
}

uint64_t bl_remote_request_count(const bl_remote *r) {
  bl_remote_stats s;
  bl_remote_get_stats(r, &s);
  return s.requests;
}

int bl_remote_write_buf(bl_remote *r, const char *path, const void *data, size_t len) {
  /* Checked first so that misuse costs no temporary file. */
  int rc = remote_begin(r, "write", path, 0);
  if (rc) return rc;
  if (!data && len)
    return bl_remote_set_error(r, BL_EMISUSE, "remote write '%s': data is NULL", path);
  if ((uint64_t)len > (uint64_t)INT64_MAX)
    return bl_remote_set_error(r, BL_EMISUSE, "remote write '%s': too large", path);
  FILE *f = tmpfile();
  if (!f) return bl_remote_set_error(r, BL_EIO, "remote write '%s': no temporary file", path);
  if ((len && fwrite(data, 1, len, f) != len) || fflush(f) != 0) {
    rc = bl_remote_set_error(r, BL_EIO, "remote write '%s': cannot fill a temporary file", path);
    goto done;
  }
  rewind(f);
  rc = bl_remote_write(r, path, f, (int64_t)len);
done:
  fclose(f);
  return rc;
}

/* ---------------------------------------------------------- opening by URL */

/* Percent-decodes src[0..len) into a new string. Returns NULL (with the
 * thread's message and *rc set) for a bad escape, an encoded NUL, or want
 * of memory. */
static char *remote_percent_decode(const char *url, const char *src, size_t len, int *rc) {
  char *out = malloc(len + 1), *o = out;
  if (!out) {
    *rc = bl__set_tls_error(BL_ENOMEM, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < len; i++) {
    if (src[i] != '%') {
      *o++ = src[i];
      continue;
    }
    int v = 0;
    for (size_t k = 1; k <= 2; k++) {
      char c = i + k < len ? src[i + k] : '\0';
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) {
        free(out);
        *rc = bl__set_tls_error(BL_EMISUSE, "remote URL '%s': bad percent-escape at '%.3s'", url,
                                src + i);
        return NULL;
      }
      v = v * 16 + d;
    }
    if (v == 0) {
      free(out);
      *rc = bl__set_tls_error(BL_EMISUSE, "remote URL '%s': %%00 is not allowed in a path", url);
      return NULL;
    }
    *o++ = (char)v;
    i += 2;
  }
  *o = '\0';
  return out;
}

/*
 * file URLs (RFC 8089): "file:///abs/path", "file://localhost/abs/path"
 * and the short "file:/abs/path". The path is percent-decoded; any other
 * host, a query or a fragment is refused rather than guessed at.
 */
static int remote_open_file(bl_remote **out, const char *url) {
  const char *p = url + strlen("file:");
  if (p[0] == '/' && p[1] == '/') {
    const char *host = p + 2;
    size_t host_len = strcspn(host, "/");
    if (host_len && !(host_len == 9 && strncasecmp(host, "localhost", 9) == 0))
      return bl__set_tls_error(BL_EMISUSE,
                               "remote URL '%s' names host '%.*s': only local files are "
                               "supported (file:///path or file://localhost/path)",
                               url, (int)host_len, host);
    p = host + host_len;
  }
  if (p[0] != '/')
    return bl__set_tls_error(BL_EMISUSE,
                             "remote URL '%s' has no absolute path (expected file:///path)", url);
  if (strpbrk(p, "?#"))
    return bl__set_tls_error(BL_EMISUSE,
                             "remote URL '%s' has a query or fragment (write '?' as %%3F and '#' "
                             "as %%23)",
                             url);
  int rc = BL_OK;
  char *path = remote_percent_decode(url, p, strlen(p), &rc);
  if (!path) return rc;
  rc = bl_remote_folder(out, path);
  free(path);
  return rc;
}

static int remote_open_file_opts(bl_remote **out, const char *url, const bl_remote_options *opts) {
  (void)opts;
  return remote_open_file(out, url);
}

typedef struct remote_scheme {
  const char *scheme;  /* lowercase, without the ':' */
  const char *example; /* how its URLs look, for the error on an unknown scheme */
  int (*open)(bl_remote **out, const char *url, const bl_remote_options *opts);
} remote_scheme;

/* Plain absolute paths are handled before this table. */
static const remote_scheme remote_schemes[] = {
    {"file", "file:///path", remote_open_file_opts},
    {"webdav", "webdav://host/path", bl__remote_webdav_open},
    {"webdavs", "webdavs://host/path", bl__remote_webdav_open},
    {"gdrive", "gdrive://AppFolderName", bl__remote_gdrive_open},
    {"onedrive", "onedrive://AppFolderName", bl__remote_onedrive_open},
};
#define REMOTE_NSCHEMES (sizeof remote_schemes / sizeof remote_schemes[0])

/* Length of the RFC 3986 scheme `url` starts with (ALPHA *(ALPHA / DIGIT /
 * "+" / "-" / ".") followed by ':'), or 0 when it has none. */
static size_t remote_scheme_len(const char *url) {
  size_t i = 0;
  if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z'))) return 0;
  while ((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z') ||
         (url[i] >= '0' && url[i] <= '9') || url[i] == '+' || url[i] == '-' || url[i] == '.')
    i++;
  return url[i] == ':' ? i : 0;
}

/* Writes `url` into buf for an error message, with any user:password@ of
 * its authority and its query left out: a URL may carry credentials, and
 * messages never do. */
static void remote_url_for_message(const char *url, size_t scheme_len, char *buf, size_t cap) {
  const char *rest = url + scheme_len + 1;
  size_t query = strcspn(url, "?#");
  if (rest[0] == '/' && rest[1] == '/') {
    const char *auth = rest + 2;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', auth_len);
    if (at) {
      snprintf(buf, cap, "%.*s***%.*s%s", (int)(auth - url), url, (int)(query - (size_t)(at - url)),
               at, url[query] ? "..." : "");
      return;
    }
  }
  snprintf(buf, cap, "%.*s%s", (int)query, url, url[query] ? "..." : "");
}

int bl_remote_open(bl_remote **out, const char *url) {
  return bl_remote_open_ex(out, url, NULL);
}

int bl_remote_open_ex(bl_remote **out, const char *url, const bl_remote_options *opts) {
  static const bl_remote_options defaults = BL_REMOTE_OPTIONS_INIT;
  if (!out) return bl__set_tls_error(BL_EMISUSE, "bl_remote_open: out is NULL");
  if (!opts) opts = &defaults;
  if (opts->version < 1 || opts->version > BL_REMOTE_OPTIONS_VERSION) {
    *out = NULL;
    return bl__set_tls_error(BL_EMISUSE, "bl_remote_open: options version %u, this library knows 1 to %d",
                             opts->version, BL_REMOTE_OPTIONS_VERSION);
  }
  *out = NULL;
  bl__set_tls_error(BL_OK, "%s", "");
  if (!url || !*url)
    return bl__set_tls_error(BL_EMISUSE, "bl_remote_open: no URL (expected /path or file:///path)");
  if (url[0] == '/') return bl_remote_folder(out, url); /* a path, taken literally */

  size_t slen = remote_scheme_len(url);
  for (size_t i = 0; slen && i < REMOTE_NSCHEMES; i++)
    if (strlen(remote_schemes[i].scheme) == slen &&
        strncasecmp(url, remote_schemes[i].scheme, slen) == 0)
      return remote_schemes[i].open(out, url, opts);

  char expected[256];
  size_t used = (size_t)snprintf(expected, sizeof expected, "/path");
  for (size_t i = 0; i < REMOTE_NSCHEMES && used < sizeof expected; i++)
    used += (size_t)snprintf(expected + used, sizeof expected - used, "%s%s",
                             i + 1 == REMOTE_NSCHEMES ? " or " : ", ", remote_schemes[i].example);
  if (!slen)
    return bl__set_tls_error(BL_EMISUSE,
                             "remote path '%s' is relative: give an absolute path or a URL "
                             "(expected %s)",
                             url, expected);
  char shown[512];
  remote_url_for_message(url, slen, shown, sizeof shown);
  return bl__set_tls_error(BL_EMISUSE, "unsupported remote URL '%s': expected %s", shown, expected);
}

char *bl__remote_split_path(const char *path, const char **name) {
  const char *slash = strrchr(path, '/');
  *name = slash ? slash + 1 : path;
  size_t n = slash ? (size_t)(slash - path) : 0;
  char *dir = malloc(n + 1);
  if (dir) {
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  return dir;
}

/* --------------------------------------------------------- cloud shortcuts */

int bl_remote_gdrive(bl_remote **out, bl_token_fn token, void *payload) {
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  o.token = token;
  o.token_payload = payload;
  if (!out) return bl__set_tls_error(BL_EMISUSE, "bl_remote_gdrive: out is NULL");
  *out = NULL;
  return bl__remote_gdrive_open(out, NULL, &o);
}

int bl_remote_onedrive(bl_remote **out, bl_token_fn token, void *payload) {
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  o.token = token;
  o.token_payload = payload;
  if (!out) return bl__set_tls_error(BL_EMISUSE, "bl_remote_onedrive: out is NULL");
  *out = NULL;
  return bl__remote_onedrive_open(out, NULL, &o);
}

int bl_remote_webdav(bl_remote **out, const char *url, const char *user, const char *password) {
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  o.user = user;
  o.password = password;
  if (!out) return bl__set_tls_error(BL_EMISUSE, "bl_remote_webdav: out is NULL");
  *out = NULL;
  if (!url) return bl__set_tls_error(BL_EMISUSE, "bl_remote_webdav: the URL is NULL");
  return bl__remote_webdav_open(out, url, &o);
}

int bl_remote_url_app_folder(const char *url, char *buf, size_t size) {
  if (!url || !buf || size == 0) return -1;
  buf[0] = '\0';
  size_t slen = remote_scheme_len(url);
  if (!((slen == 6 && strncasecmp(url, "gdrive", 6) == 0) || (slen == 8 && strncasecmp(url, "onedrive", 8) == 0)))
    return 0;
  const char *p = url + slen + 1;
  if (p[0] != '/' || p[1] != '/') return -1;
  p += 2;
  size_t len = strcspn(p, "/?#");
  if (p[len] == '/' && p[len + 1] == '\0') {
    /* "gdrive://Name/" is the same folder */
  } else if (p[len] != '\0') {
    return -1;
  }
  if (len == 0) return 0;
  int rc = BL_OK;
  char *name = remote_percent_decode(url, p, len, &rc);
  if (!name) return -1;
  int ok = strlen(name) < size && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && !strchr(name, '/');
  if (ok) memcpy(buf, name, strlen(name) + 1);
  free(name);
  return ok ? 1 : -1;
}

void bl__remote_http_opts(bl__http_opts *h, const bl_remote_options *opts, const char *base_url) {
  static const bl__http_opts defaults = BL__HTTP_OPTS_INIT;
  *h = defaults;
  h->base_url = base_url;
  if (!opts) return;
  h->token = opts->token;
  h->token_payload = opts->token_payload;
  h->user = opts->user;
  h->password = opts->password;
  if (opts->max_attempts > 0) h->max_attempts = opts->max_attempts;
  if (opts->max_retry_ms > 0) h->max_total_ms = opts->max_retry_ms;
  if (opts->connect_timeout_ms > 0) h->connect_timeout_ms = opts->connect_timeout_ms;
}
