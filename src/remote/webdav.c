/*
 * webdav.c — the WebDAV backend (RFC 4918): a collection on a WebDAV server
 * (Nextcloud, ownCloud, Apache mod_dav, rclone serve webdav, ...).
 *
 *   list     PROPFIND Depth: 1 asking for resourcetype, getcontentlength and
 *            getlastmodified; the 207 reply is parsed in webdav_xml.c
 *   read     GET, streamed to the caller's sink
 *   write    PUT to a temporary sibling ".bl-tmp-<16 hex>", then MOVE it
 *            over the target (Overwrite: T), so a reader sees the old file
 *            or the new one, never a part; the temporary is deleted when the
 *            MOVE fails. Listings hide temporary names, so one left by a
 *            crash never shows up as data.
 *   remove   DELETE
 *   mkdir    MKCOL on the full path first (one request when the folder
 *            exists or only the last level is missing); on 409 each level
 *            from the root down, then the full path again
 *   batches  read_many / write_many run the same requests concurrently
 *            through bl__http_run_many (writes: every PUT, then every MOVE)
 *
 * Every request goes through src/net/ (retries, backoff, basic auth, the
 * loopback-only rule for plain http, messages without secrets). URLs are
 * built as <root collection><percent-encoded path>, every byte outside RFC
 * 3986's unreserved set encoded. There is no change feed: `changes` stays
 * NULL and the sync engine lists.
 *
 * Divided into: the remote and its URLs; list; read (one and many); write
 * (one and many); remove; mkdir; opening by URL.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/stat.h>

#include <sodium.h>

#include "backless.h"
#include "backless/remote.h"
#include "net/http.h"
#include "remote/remote_internal.h"
#include "remote/webdav_internal.h"
#include "util/errmsg.h"

/* A PROPFIND reply is parsed in memory: ~400 bytes an entry, so this is
 * room for some 150,000 entries in one folder. */
#define WEBDAV_MAX_LISTING ((size_t)64 << 20)

/* Room for a job's message: ours plus the HTTP layer's (512). */
#define WEBDAV_MSG 768

static const char webdav_propfind_body[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<d:propfind xmlns:d=\"DAV:\"><d:prop>"
    "<d:resourcetype/><d:getcontentlength/><d:getlastmodified/>"
    "</d:prop></d:propfind>\n";

typedef struct webdav_remote {
  bl_remote base;
  bl__http_client *http;
  char *origin;         /* "https://host[:port]": no userinfo, no '/' at the end */
  char *root;           /* the root collection's path, encoded, ending with '/' */
  char *root_dec;       /* the same, percent-decoded */
  char *shown;          /* origin + root, for messages */
  size_t max_in_flight; /* transfers at once in a batch */
} webdav_remote;

/* ------------------------------------------------ the remote and its URLs */

/*
 * The URL path (relative to the origin) of `path` below the root, with a
 * trailing '/' when `collection` and path is not the root. malloc'ed; NULL
 * when memory runs out.
 */
static char *webdav_url(const webdav_remote *wr, const char *path, int collection) {
  char *enc = bl__webdav_encode_path(path);
  if (!enc) return NULL;
  size_t rl = strlen(wr->root), el = strlen(enc);
  char *u = malloc(rl + el + 2);
  if (u) {
    memcpy(u, wr->root, rl);
    memcpy(u + rl, enc, el);
    u[rl + el] = '\0';
    if (collection && el) memcpy(u + rl + el, "/", 2);
  }
  free(enc);
  return u;
}

static int webdav_nomem(bl_remote *r) { return bl_remote_set_error(r, BL_ENOMEM, "out of memory"); }

/* Records a failed request of operation `op` on `path`: the HTTP layer's
 * message already names the method, the URL, the status and the service's
 * words. */
static int webdav_fail(bl_remote *r, const char *op, const char *path, const bl__http_request *q) {
  int code = q->rc != BL_OK ? q->rc : BL_EIO;
  return bl_remote_set_error(r, code, "webdav %s '%s': %s", op, path, q->errmsg);
}

/* Copies a message into a job's smaller buffer, cut to fit. */
static void webdav_copy_msg(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static void webdav_stats(bl_remote *r, bl_remote_stats *out) {
  bl__http_stats h;
  bl__http_stats_get(((webdav_remote *)r)->http, &h);
  *out = (bl_remote_stats){h.requests, h.rate_limited, h.server_errors, h.token_refreshes};
}

/* ------------------------------------------------------------------- list */

/* PROPFIND `url` with `depth` ("0" or "1"); the reply stays in *q (the
 * caller clears it). Returns the request's code. */
static int webdav_propfind(webdav_remote *wr, const char *url, const char *depth,
                           bl__http_request *q) {
  char depth_hdr[16];
  snprintf(depth_hdr, sizeof depth_hdr, "Depth: %s", depth);
  const char *headers[] = {depth_hdr, "Content-Type: application/xml; charset=utf-8", NULL};
  memset(q, 0, sizeof *q);
  q->method = "PROPFIND";
  q->url = url;
  q->headers = headers;
  q->body = webdav_propfind_body;
  q->body_len = sizeof webdav_propfind_body - 1;
  q->max_response = WEBDAV_MAX_LISTING;
  return bl__http_perform(wr->http, q);
}

static int webdav_list(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count) {
  webdav_remote *wr = (webdav_remote *)r;
  int rc = BL_OK;
  bl__http_request q;
  bl__webdav_listing l;
  char *url = webdav_url(wr, path, 1), *folder = NULL, err[256];
  memset(&q, 0, sizeof q);
  memset(&l, 0, sizeof l);
  if (!url) return webdav_nomem(r);
  size_t dl = strlen(wr->root_dec), pl = strlen(path);
  if (!(folder = malloc(dl + pl + 2))) {
    rc = webdav_nomem(r);
    goto done;
  }
  memcpy(folder, wr->root_dec, dl);
  memcpy(folder + dl, path, pl + 1);

  if (webdav_propfind(wr, url, "1", &q) != BL_OK) {
    rc = webdav_fail(r, "list", path, &q);
    goto done;
  }
  rc = bl__webdav_parse_propfind(q.response, q.response_len, folder, &l, err, sizeof err);
  if (rc != BL_OK) {
    rc = bl_remote_set_error(r, rc, "webdav list '%s': PROPFIND %s%s: HTTP %ld: %s", path,
                             wr->origin, url, q.status, err);
    goto done;
  }
  if (l.self_found && !l.self_is_folder) {
    rc = bl_remote_set_error(r, BL_ENOTFOUND, "webdav list '%s': %s%s is a file, not a folder",
                             path, wr->origin, url);
    goto done;
  }
  *out = l.entries;
  *count = l.count;
  l.entries = NULL;
  l.count = 0;

done:
  bl__webdav_listing_clear(&l);
  bl__http_request_clear(&q);
  free(folder);
  free(url);
  return rc;
}

/* ------------------------------------------------------------------- read */

/* The caller's sink behind the HTTP layer's, so that its own return value
 * (any non-zero int) comes back unchanged. */
typedef struct webdav_sink {
  bl_remote_sink sink;
  void *payload;
  int rc; /* what the caller's sink returned to stop, or 0 */
} webdav_sink;

static int webdav_sink_cb(const void *data, size_t len, void *payload) {
  webdav_sink *s = payload;
  int v = s->sink(data, len, s->payload);
  if (v != 0) s->rc = v;
  return v;
}

/* One download, alone or in a batch. */
typedef struct webdav_get {
  const char *path;
  webdav_sink sink;
  char *url;
  bl__http_request q;
  int rc;
  char msg[WEBDAV_MSG];
} webdav_get;

/*
 * Runs n downloads, at most max_in_flight at once, and fills each one's rc
 * and msg. Returns BL_OK when all succeeded, else the first failure's code.
 */
static int webdav_get_many(webdav_remote *wr, webdav_get *g, size_t n) {
  int rc = BL_OK;
  bl__http_request **qs = calloc(n ? n : 1, sizeof *qs);
  size_t nq = 0;
  if (!qs) {
    for (size_t i = 0; i < n; i++) {
      g[i].rc = BL_ENOMEM;
      snprintf(g[i].msg, sizeof g[i].msg, "webdav read '%s': out of memory", g[i].path);
    }
    return BL_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    memset(&g[i].q, 0, sizeof g[i].q);
    g[i].rc = BL_OK;
    g[i].msg[0] = '\0';
    if (!(g[i].url = webdav_url(wr, g[i].path, 0))) {
      g[i].rc = BL_ENOMEM;
      snprintf(g[i].msg, sizeof g[i].msg, "webdav read '%s': out of memory", g[i].path);
      continue;
    }
    g[i].q.url = g[i].url;
    g[i].q.sink = webdav_sink_cb;
    g[i].q.sink_payload = &g[i].sink;
    g[i].q.follow_redirects = 1;
    qs[nq++] = &g[i].q;
  }
  bl__http_run_many(wr->http, qs, nq, wr->max_in_flight);
  for (size_t i = 0; i < n; i++) {
    if (g[i].rc == BL_OK && g[i].sink.rc != 0) {
      g[i].rc = g[i].sink.rc;
      snprintf(g[i].msg, sizeof g[i].msg, "webdav read '%s': stopped by the receiver (%d)",
               g[i].path, g[i].sink.rc);
    } else if (g[i].rc == BL_OK && g[i].q.rc != BL_OK) {
      g[i].rc = g[i].q.rc;
      /* A long path or message is cut to the buffer; the return value is
       * looked at so that gcc -O2 does not warn about the cut. */
      if (snprintf(g[i].msg, sizeof g[i].msg, "webdav read '%s': %s", g[i].path, g[i].q.errmsg) < 0)
        g[i].msg[0] = '\0';
    }
    if (rc == BL_OK) rc = g[i].rc;
    bl__http_request_clear(&g[i].q);
    free(g[i].url);
    g[i].url = NULL;
  }
  free(qs);
  return rc;
}

static int webdav_read(bl_remote *r, const char *path, bl_remote_sink sink, void *payload) {
  webdav_get g;
  memset(&g, 0, sizeof g);
  g.path = path;
  g.sink.sink = sink;
  g.sink.payload = payload;
  int rc = webdav_get_many((webdav_remote *)r, &g, 1);
  return rc == BL_OK ? BL_OK : bl_remote_set_error(r, rc, "%s", g.msg);
}

static int webdav_read_many(bl_remote *r, bl_remote_read_job *jobs, size_t n) {
  webdav_get *g = calloc(n ? n : 1, sizeof *g);
  if (!g) return webdav_nomem(r);
  for (size_t i = 0; i < n; i++) {
    g[i].path = jobs[i].path;
    g[i].sink.sink = jobs[i].sink;
    g[i].sink.payload = jobs[i].payload;
  }
  int rc = webdav_get_many((webdav_remote *)r, g, n);
  size_t first = n;
  for (size_t i = 0; i < n; i++) {
    jobs[i].rc = g[i].rc;
    webdav_copy_msg(jobs[i].errmsg, sizeof jobs[i].errmsg, g[i].msg);
    if (g[i].rc != BL_OK && first == n) first = i;
  }
  if (first < n) rc = bl_remote_set_error(r, g[first].rc, "%s", g[first].msg);
  free(g);
  return rc;
}

/* ------------------------------------------------------------------ write */

/* One upload, alone or in a batch: PUT to tmp_url, MOVE to the target. */
typedef struct webdav_put {
  const char *path;
  FILE *src;
  int64_t size;
  char *tmp_url;  /* where the PUT goes */
  char *dest_hdr; /* "Destination: <absolute URL of path>" */
  const char *move_headers[3];
  bl__http_request q;
  int stage; /* 0 failed or done; 1 PUT pending; 2 MOVE pending; 3 temp to delete */
  int rc;
  char msg[WEBDAV_MSG];
} webdav_put;

static void webdav_put_fail(webdav_put *w, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Records job w's failure: `code` and "webdav write '<path>': <fmt...>". */
static void webdav_put_fail(webdav_put *w, int code, const char *fmt, ...) {
  w->rc = code;
  int n = snprintf(w->msg, sizeof w->msg, "webdav write '%s': ", w->path);
  if (n < 0 || (size_t)n >= sizeof w->msg) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->msg + n, sizeof w->msg - (size_t)n, fmt, ap);
  va_end(ap);
}

/*
 * A source that is a regular file must hold `size` bytes from its current
 * offset: a short one is refused before anything is sent (otherwise the
 * server would be left a truncated temporary). Other streams are taken as
 * they come and fail in the transfer.
 */
static int webdav_check_source(webdav_put *w) {
  struct stat st;
  int fd = fileno(w->src);
  off_t at = ftello(w->src);
  if (fd < 0 || at < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return BL_OK;
  if ((int64_t)st.st_size - (int64_t)at >= w->size) return BL_OK;
  webdav_put_fail(w, BL_EIO, "the source ended after %lld of %lld bytes",
                  (long long)(st.st_size > at ? st.st_size - at : 0), (long long)w->size);
  return BL_EIO;
}

/* Sets up job w: its temporary URL and its MOVE's headers. */
static int webdav_put_prepare(webdav_remote *wr, webdav_put *w) {
  memset(&w->q, 0, sizeof w->q);
  w->rc = BL_OK;
  w->msg[0] = '\0';
  w->stage = 0;
  if (webdav_check_source(w) != BL_OK) return w->rc;
  unsigned char rnd[8];
  randombytes_buf(rnd, sizeof rnd);
  const char *slash = strrchr(w->path, '/');
  size_t dir_len = slash ? (size_t)(slash - w->path) + 1 : 0;
  size_t tl = dir_len + strlen(BL__WEBDAV_TEMP_PREFIX) + 2 * sizeof rnd + 1;
  char *tmp = malloc(tl), *final = webdav_url(wr, w->path, 0);
  if (tmp) {
    int o = snprintf(tmp, tl, "%.*s%s", (int)dir_len, w->path, BL__WEBDAV_TEMP_PREFIX);
    for (size_t i = 0; i < sizeof rnd; i++)
      snprintf(tmp + o + 2 * i, tl - (size_t)o - 2 * i, "%02x", rnd[i]);
    w->tmp_url = webdav_url(wr, tmp, 0);
  }
  if (final) {
    size_t hl = strlen("Destination: ") + strlen(wr->origin) + strlen(final) + 1;
    if ((w->dest_hdr = malloc(hl)))
      snprintf(w->dest_hdr, hl, "Destination: %s%s", wr->origin, final);
  }
  free(tmp);
  free(final);
  if (!w->tmp_url || !w->dest_hdr) {
    webdav_put_fail(w, BL_ENOMEM, "%s", "out of memory");
    return BL_ENOMEM;
  }
  w->move_headers[0] = w->dest_hdr;
  w->move_headers[1] = "Overwrite: T";
  w->move_headers[2] = NULL;
  w->stage = 1;
  return BL_OK;
}

/* Runs the request of every job at `stage`, as set up by `setup`. */
static void webdav_put_stage(webdav_remote *wr, webdav_put *w, size_t n, int stage,
                             bl__http_request **qs, void (*setup)(webdav_put *)) {
  size_t nq = 0;
  for (size_t i = 0; i < n; i++) {
    if (w[i].stage != stage) continue;
    bl__http_request_clear(&w[i].q);
    memset(&w[i].q, 0, sizeof w[i].q);
    w[i].q.url = w[i].tmp_url;
    setup(&w[i]);
    qs[nq++] = &w[i].q;
  }
  if (nq) bl__http_run_many(wr->http, qs, nq, wr->max_in_flight);
}

static void webdav_setup_put(webdav_put *w) {
  w->q.method = "PUT";
  w->q.body_file = w->src;
  w->q.body_file_size = (uint64_t)w->size;
}

static void webdav_setup_move(webdav_put *w) {
  w->q.method = "MOVE";
  w->q.headers = w->move_headers;
}

static void webdav_setup_delete(webdav_put *w) { w->q.method = "DELETE"; }

/*
 * Runs n uploads: every PUT (at most max_in_flight at once), then the
 * MOVEs of those that arrived, then DELETEs of the temporaries left by
 * failures (best effort: their outcome changes no job's result). Fills
 * each job's rc and msg; returns BL_OK or the first failure's code.
 */
static int webdav_put_many(webdav_remote *wr, webdav_put *w, size_t n) {
  int rc = BL_OK;
  bl__http_request **qs = calloc(n ? n : 1, sizeof *qs);
  for (size_t i = 0; i < n; i++) {
    if (!qs) webdav_put_fail(&w[i], BL_ENOMEM, "%s", "out of memory");
    else webdav_put_prepare(wr, &w[i]);
  }
  if (!qs) return BL_ENOMEM;

  webdav_put_stage(wr, w, n, 1, qs, webdav_setup_put);
  for (size_t i = 0; i < n; i++) {
    if (w[i].stage != 1) continue;
    bl__http_request *q = &w[i].q;
    if (q->rc == BL_OK) {
      w[i].stage = 2;
    } else if (q->status == 404 || q->status == 409) {
      /* RFC 4918 9.7.1: 409 when the parent collection is missing */
      webdav_put_fail(&w[i], BL_ENOTFOUND, "its folder does not exist (%s)", q->errmsg);
      w[i].stage = 0;
    } else {
      webdav_put_fail(&w[i], q->rc, "%s", q->errmsg);
      w[i].stage = 3; /* a part may have arrived */
    }
  }
  webdav_put_stage(wr, w, n, 2, qs, webdav_setup_move);
  for (size_t i = 0; i < n; i++) {
    if (w[i].stage != 2) continue;
    if (w[i].q.rc == BL_OK) {
      w[i].stage = 0;
    } else {
      webdav_put_fail(&w[i], w[i].q.rc, "%s", w[i].q.errmsg);
      w[i].stage = 3;
    }
  }
  webdav_put_stage(wr, w, n, 3, qs, webdav_setup_delete);
  for (size_t i = 0; i < n; i++) {
    bl__http_request_clear(&w[i].q);
    free(w[i].tmp_url);
    free(w[i].dest_hdr);
    w[i].tmp_url = w[i].dest_hdr = NULL;
    w[i].stage = 0;
    if (rc == BL_OK) rc = w[i].rc;
  }
  free(qs);
  return rc;
}

static int webdav_write(bl_remote *r, const char *path, FILE *src, int64_t size) {
  webdav_put w;
  memset(&w, 0, sizeof w);
  w.path = path;
  w.src = src;
  w.size = size;
  int rc = webdav_put_many((webdav_remote *)r, &w, 1);
  return rc == BL_OK ? BL_OK : bl_remote_set_error(r, rc, "%s", w.msg);
}

static int webdav_write_many(bl_remote *r, bl_remote_write_job *jobs, size_t n) {
  webdav_put *w = calloc(n ? n : 1, sizeof *w);
  if (!w) return webdav_nomem(r);
  for (size_t i = 0; i < n; i++) {
    w[i].path = jobs[i].path;
    w[i].src = jobs[i].src;
    w[i].size = jobs[i].size;
  }
  int rc = webdav_put_many((webdav_remote *)r, w, n);
  size_t first = n;
  for (size_t i = 0; i < n; i++) {
    jobs[i].rc = w[i].rc;
    webdav_copy_msg(jobs[i].errmsg, sizeof jobs[i].errmsg, w[i].msg);
    if (w[i].rc != BL_OK && first == n) first = i;
  }
  if (first < n) rc = bl_remote_set_error(r, w[first].rc, "%s", w[first].msg);
  free(w);
  return rc;
}

/* ----------------------------------------------------------------- remove */

/* RFC 4918 9.6.1: a DELETE of a collection removes all it holds. The sync
 * engine only removes files it listed as files; a folder is never meant. */
static int webdav_remove(bl_remote *r, const char *path) {
  webdav_remote *wr = (webdav_remote *)r;
  bl__http_request q;
  memset(&q, 0, sizeof q);
  char *url = webdav_url(wr, path, 0);
  if (!url) return webdav_nomem(r);
  q.method = "DELETE";
  q.url = url;
  int rc = bl__http_perform(wr->http, &q);
  if (rc != BL_OK) rc = webdav_fail(r, "remove", path, &q);
  bl__http_request_clear(&q);
  free(url);
  return rc;
}

/* ------------------------------------------------------------------ mkdir */

/* MKCOL on path[0..len). Returns BL_OK on 201, and on 405 (RFC 4918
 * 9.3.1: something is mapped there), which is taken for the collection so
 * that ensuring an existing folder costs one request (a file in the way
 * then shows at the next write into it: 409, BL_ENOTFOUND); 1 when a
 * parent is missing (409); else an error recorded against `path`. */
static int webdav_mkcol(webdav_remote *wr, const char *path, size_t len) {
  bl_remote *r = &wr->base;
  char *prefix = strndup(path, len), *url = prefix ? webdav_url(wr, prefix, 1) : NULL;
  bl__http_request q;
  memset(&q, 0, sizeof q);
  int rc = BL_OK;
  if (!url) {
    rc = webdav_nomem(r);
    goto done;
  }
  q.method = "MKCOL";
  q.url = url;
  /* 423 Locked: another client is creating this collection right now
   * (rclone locks it meanwhile; two devices syncing for the first time
   * do this). Wait a moment and ask again: the answer is then 405. */
  for (int tries = 0;; tries++) {
    if (bl__http_perform(wr->http, &q) == BL_OK || q.status == 405) goto done;
    if (q.status != 423 || tries == 8) break;
    bl__http_request_clear(&q);
    struct timespec ts = {0, 20000000L * (tries + 1)};
    nanosleep(&ts, NULL);
  }
  if (q.status == 409) {
    rc = 1;
    goto done;
  }
  rc = webdav_fail(r, "mkdir", path, &q);
done:
  bl__http_request_clear(&q);
  free(url);
  free(prefix);
  return rc;
}

static int webdav_mkdir(bl_remote *r, const char *path) {
  webdav_remote *wr = (webdav_remote *)r;
  if (!*path) {
    /* The root is never created behind the user's back: only checked. */
    bl__http_request q;
    int rc = webdav_propfind(wr, wr->root, "0", &q);
    if (rc != BL_OK) rc = webdav_fail(r, "mkdir", path, &q);
    bl__http_request_clear(&q);
    return rc;
  }
  size_t len = strlen(path);
  int rc = webdav_mkcol(wr, path, len);
  if (rc != 1) return rc;
  /* A parent is missing: each level from the root down, the last again. A
   * 409 at the top means the root is missing; further down, that the level
   * above (just ensured) is no collection. */
  for (size_t i = 0, top = 1; i <= len; i++) {
    if (i < len && path[i] != '/') continue;
    rc = webdav_mkcol(wr, path, i);
    if (rc == 1 && top)
      return bl_remote_set_error(r, BL_ENOTFOUND,
                                 "webdav mkdir '%s': the root collection %s does not exist (MKCOL "
                                 "'%.*s': 409 Conflict)",
                                 path, wr->shown, (int)i, path);
    if (rc == 1)
      return bl_remote_set_error(r, BL_EIO,
                                 "webdav mkdir '%s': MKCOL '%.*s': 409 Conflict with its parent "
                                 "there (a file in the way?)",
                                 path, (int)i, path);
    if (rc != BL_OK) return rc;
    top = 0;
  }
  return BL_OK;
}

/* ---------------------------------------------------------- opening by URL */

static void webdav_free(bl_remote *r) {
  webdav_remote *wr = (webdav_remote *)r;
  bl__http_client_free(wr->http);
  free(wr->origin);
  free(wr->root);
  free(wr->root_dec);
  free(wr->shown);
  free(wr);
}

/* Appends s[0..n) to the growing string *b (size *cap, used *len). */
static int webdav_append(char **b, size_t *len, size_t *cap, const char *s, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t nc = *cap ? *cap : 64;
    while (nc < *len + n + 1) nc *= 2;
    char *g = realloc(*b, nc);
    if (!g) return BL_ENOMEM;
    *b = g;
    *cap = nc;
  }
  memcpy(*b + *len, s, n);
  *len += n;
  (*b)[*len] = '\0';
  return BL_OK;
}

/* The parts of a webdav URL, all malloc'ed. */
typedef struct webdav_parts {
  char *origin, *root, *root_dec, *user, *password;
} webdav_parts;

static void webdav_parts_clear(webdav_parts *p) {
  if (p->password) sodium_memzero(p->password, strlen(p->password));
  free(p->origin);
  free(p->root);
  free(p->root_dec);
  free(p->user);
  free(p->password);
  memset(p, 0, sizeof *p);
}

/*
 * Splits `url` (scheme already known to be one of ours; `secure`: https)
 * into origin, root collection (encoded and decoded, each ending with '/')
 * and the percent-decoded credentials of its userinfo. `shown` is the URL
 * as messages show it. Returns BL_OK or BL_EMISUSE / BL_ENOMEM with the
 * thread's message.
 */
static int webdav_split_url(const char *url, const char *shown, int secure, webdav_parts *p) {
  int rc = BL_OK, bad = 0;
  size_t rl = 0, rcap = 0, dl = 0, dcap = 0;
  char *host = NULL, *seg = NULL, *enc = NULL;
  const char *auth = strstr(url, "://") + 3;
  size_t auth_len = strcspn(auth, "/");
  const char *at = NULL;
  for (size_t i = 0; i < auth_len; i++)
    if (auth[i] == '@') at = auth + i;
  if (at) {
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    size_t ul = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
    p->user = bl__webdav_decode(auth, ul, &bad);
    if (p->user && colon) p->password = bl__webdav_decode(colon + 1, (size_t)(at - colon - 1), &bad);
    if (bad) {
      rc = bl__set_tls_error(BL_EMISUSE, "remote URL '%s': bad percent-escape in the user name or password",
                             shown);
      goto done;
    }
    if (!p->user || (colon && !p->password)) goto nomem;
    auth_len -= (size_t)(at + 1 - auth);
    auth = at + 1;
  }
  /* host, [v6] or name, then an optional :port */
  size_t host_len = auth_len;
  const char *port = NULL;
  if (auth_len && auth[0] == '[') {
    const char *close = memchr(auth, ']', auth_len);
    host_len = close ? (size_t)(close - auth) + 1 : auth_len;
  } else {
    const char *colon = memchr(auth, ':', auth_len);
    if (colon) host_len = (size_t)(colon - auth);
  }
  if (host_len < auth_len) {
    if (auth[host_len] != ':') {
      rc = bl__set_tls_error(BL_EMISUSE, "remote URL '%s': malformed host", shown);
      goto done;
    }
    port = auth + host_len + 1;
  }
  if (host_len == 0 || (auth[0] == '[' && auth[host_len - 1] != ']')) {
    rc = bl__set_tls_error(BL_EMISUSE, "remote URL '%s' has no host (expected %s://host[:port]/path)",
                           shown, secure ? "webdavs" : "webdav");
    goto done;
  }
  for (size_t i = 0; i < host_len; i++) {
    unsigned char c = (unsigned char)auth[i];
    if (c <= ' ' || c >= 0x7f || strchr("\"<>\\^`{|}%", c)) {
      rc = bl__set_tls_error(BL_EMISUSE, "remote URL '%s': bad character in the host name", shown);
      goto done;
    }
  }
  if (port) {
    size_t pl = auth_len - host_len - 1;
    long v = 0;
    for (size_t i = 0; i < pl && v <= 65535; i++)
      v = port[i] >= '0' && port[i] <= '9' ? v * 10 + (port[i] - '0') : 100000;
    if (pl == 0 || pl > 5 || v < 1 || v > 65535) {
      rc = bl__set_tls_error(BL_EMISUSE, "remote URL '%s': bad port '%.*s'", shown, (int)pl, port);
      goto done;
    }
  }
  if (!(host = strndup(auth, host_len))) goto nomem;
  /* The HTTP layer's rule, checked here so the mistake shows at open. */
  if (!secure && !bl__http_host_is_loopback(host)) {
    rc = bl__set_tls_error(BL_EMISUSE,
                           "remote URL '%s': plain http is refused for host %s: TLS is required "
                           "except on loopback (127.0.0.1, ::1, localhost); use webdavs:// or "
                           "https://",
                           shown, host);
    goto done;
  }
  size_t ol = strlen("https://") + auth_len + 1;
  if (!(p->origin = malloc(ol))) goto nomem;
  snprintf(p->origin, ol, "%s://%.*s", secure ? "https" : "http", (int)auth_len, auth);

  /* The path, one segment at a time: decoded (for comparing with hrefs)
   * and encoded again the one way we encode (for requests). */
  if (webdav_append(&p->root, &rl, &rcap, "/", 1) || webdav_append(&p->root_dec, &dl, &dcap, "/", 1))
    goto nomem;
  for (const char *s = auth + auth_len; *s;) {
    while (*s == '/') s++;
    size_t n = strcspn(s, "/");
    if (!n) break;
    if (!(seg = bl__webdav_decode(s, n, &bad))) {
      if (!bad) goto nomem;
      rc = bl__set_tls_error(BL_EMISUSE, "remote URL '%s': bad percent-escape in the path", shown);
      goto done;
    }
    if (!strcmp(seg, ".") || !strcmp(seg, "..") || strchr(seg, '/')) {
      rc = bl__set_tls_error(BL_EMISUSE, "remote URL '%s': the path has a '%s' segment", shown, seg);
      goto done;
    }
    if (!(enc = bl__webdav_encode_path(seg))) goto nomem;
    if (webdav_append(&p->root, &rl, &rcap, enc, strlen(enc)) ||
        webdav_append(&p->root, &rl, &rcap, "/", 1) ||
        webdav_append(&p->root_dec, &dl, &dcap, seg, strlen(seg)) ||
        webdav_append(&p->root_dec, &dl, &dcap, "/", 1))
      goto nomem;
    free(seg);
    free(enc);
    seg = enc = NULL;
    s += n;
  }
  goto done;
nomem:
  rc = bl__set_tls_error(BL_ENOMEM, "out of memory");
done:
  free(host);
  free(seg);
  free(enc);
  return rc;
}

/* `url` as messages may show it: no userinfo (it may hold a password),
 * no query. */
static void webdav_shown_url(const char *url, char *buf, size_t cap) {
  const char *auth = strstr(url, "://");
  size_t end = strcspn(url, "?#");
  if (auth) {
    auth += 3;
    size_t al = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < al; i++)
      if (auth[i] == '@') at = auth + i;
    if (at) {
      snprintf(buf, cap, "%.*s%.*s", (int)(auth - url), url, (int)(url + end - (at + 1)), at + 1);
      return;
    }
  }
  snprintf(buf, cap, "%.*s", (int)end, url);
}

int bl__remote_webdav_open(bl_remote **out, const char *url, const bl_remote_options *opts) {
  int rc = BL_OK, secure = -1;
  webdav_parts p;
  webdav_remote *wr = NULL;
  char shown[512];
  memset(&p, 0, sizeof p);
  *out = NULL;
  if (!url) return bl__set_tls_error(BL_EMISUSE, "webdav: no URL");
  webdav_shown_url(url, shown, sizeof shown);
  static const struct {
    const char *scheme;
    int secure;
  } schemes[] = {{"webdav://", 0}, {"webdavs://", 1}, {"http://", 0}, {"https://", 1}};
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
    if (!strncasecmp(url, schemes[i].scheme, strlen(schemes[i].scheme))) secure = schemes[i].secure;
  if (secure < 0)
    return bl__set_tls_error(BL_EMISUSE,
                             "remote URL '%s': expected webdav://, webdavs://, http:// or https://",
                             shown);
  if (strpbrk(url, "?#"))
    return bl__set_tls_error(BL_EMISUSE,
                             "remote URL '%s...' has a query or fragment (write '?' as %%3F and "
                             "'#' as %%23)",
                             shown);
  rc = webdav_split_url(url, shown, secure, &p);
  if (rc != BL_OK) goto done;

  /* The options' credentials win over the URL's, each on its own. */
  const char *user = opts->user ? opts->user : p.user;
  const char *password = opts->password ? opts->password : p.password;
  if (user && !password) password = "";
  if (password && !user) user = "";

  if (!(wr = calloc(1, sizeof *wr))) {
    rc = bl__set_tls_error(BL_ENOMEM, "out of memory");
    goto done;
  }
  size_t sl = strlen(p.origin) + strlen(p.root) + 1;
  if (!(wr->shown = malloc(sl))) {
    rc = bl__set_tls_error(BL_ENOMEM, "out of memory");
    goto done;
  }
  snprintf(wr->shown, sl, "%s%s", p.origin, p.root);
  bl__http_opts h;
  bl__remote_http_opts(&h, opts, p.origin);
  h.user = user;
  h.password = password;
  rc = bl__http_client_new(&wr->http, &h);
  if (rc != BL_OK) {
    char why[512];
    snprintf(why, sizeof why, "%s", bl__tls_errmsg()); /* copied: it is rewritten below */
    bl__set_tls_error(rc, "webdav '%s': %s", wr->shown, why);
    goto done;
  }
  wr->base.version = BL_REMOTE_VERSION;
  wr->base.list = webdav_list;
  wr->base.read = webdav_read;
  wr->base.write = webdav_write;
  wr->base.remove = webdav_remove;
  wr->base.mkdir = webdav_mkdir;
  wr->base.free = webdav_free;
  wr->base.read_many = webdav_read_many;
  wr->base.write_many = webdav_write_many;
  wr->base.changes = NULL; /* no change feed: the engine lists */
  wr->base.stats = webdav_stats;
  wr->max_in_flight = opts->max_in_flight > 0 ? (size_t)opts->max_in_flight : 4;
  wr->origin = p.origin;
  wr->root = p.root;
  wr->root_dec = p.root_dec;
  p.origin = p.root = p.root_dec = NULL;
  *out = &wr->base;
  wr = NULL;

done:
  if (wr) webdav_free(&wr->base);
  webdav_parts_clear(&p);
  return rc;
}
