/*
 * xfer.c — one request across its attempts.
 *
 *   init     resolve the URL, refuse plain http:// off loopback, build the
 *            easy handle and the header list once
 *   start    set up an attempt: fresh token if needed, body rewound,
 *            response buffers emptied
 *   finish   judge the attempt: done (with rc and message) or retry later
 *
 * Callbacks: the body is read from memory or a FILE; the response goes to
 * the sink (2xx) or to a bounded memory buffer; a few headers are kept.
 * With BACKLESS_HTTP_DEBUG set, the exchange is traced on stderr with the
 * Authorization header redacted.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backless.h"
#include "net/net_internal.h"

int64_t net_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *xfer_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

/* ------------------------------------------------------------------ URL */

/* Exact names only: "127.0.0.1.example.com" is no loopback address. */
int bl__http_host_is_loopback(const char *host) {
  struct in_addr a4;
  if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
         strcmp(host, "::1") == 0;
}

/* Joins a relative URL to the base, then checks the scheme: https always,
 * http only to a loopback host. */
static int xfer_resolve(net_xfer *x) {
  bl__http_request *r = x->req;
  const char *u = r->url ? r->url : "";
  if (strstr(u, "://")) {
    x->url = xfer_strndup(u, strlen(u));
  } else {
    if (!x->c->base_url) {
      net_set_error(x, "relative URL and no base URL");
      return BL_EMISUSE;
    }
    size_t bl = strlen(x->c->base_url), ul = strlen(u);
    x->url = malloc(bl + 1 + ul + 1);
    if (x->url) {
      memcpy(x->url, x->c->base_url, bl);
      size_t o = bl;
      if (*u != '/') x->url[o++] = '/';
      memcpy(x->url + o, u, ul + 1);
    }
  }
  if (!x->url) return BL_ENOMEM;

  int rc = BL_OK;
  char *scheme = NULL, *host = NULL;
  CURLU *h = curl_url();
  if (!h) return BL_ENOMEM;
  if (curl_url_set(h, CURLUPART_URL, x->url, 0) != CURLUE_OK ||
      curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
    net_set_error(x, "malformed URL");
    rc = BL_EMISUSE;
  } else if (strcasecmp(scheme, "https") == 0) {
    x->loopback_http = 0;
  } else if (strcasecmp(scheme, "http") == 0 && bl__http_host_is_loopback(host)) {
    x->loopback_http = 1;
  } else if (strcasecmp(scheme, "http") == 0) {
    net_set_error(x, "plain http:// refused for host %s: TLS is required except on loopback "
                     "(127.0.0.1, ::1, localhost)", host);
    rc = BL_EMISUSE;
  } else {
    net_set_error(x, "unsupported URL scheme %s (https only)", scheme);
    rc = BL_EMISUSE;
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(h);
  return rc;
}

/* ------------------------------------------------------------ callbacks */

static size_t xfer_read_cb(char *buf, size_t size, size_t nitems, void *ud) {
  net_xfer *x = ud;
  bl__http_request *r = x->req;
  size_t want = size * nitems, got;
  if (r->body_file) {
    uint64_t left = r->body_file_size - x->body_pos;
    if (want > left) want = (size_t)left;
    got = want ? fread(buf, 1, want, r->body_file) : 0;
    if (got < want && ferror(r->body_file)) return CURL_READFUNC_ABORT;
  } else {
    size_t left = r->body_len - (size_t)x->body_pos;
    got = want < left ? want : left;
    if (got) memcpy(buf, (const char *)r->body + x->body_pos, got);
  }
  x->body_pos += got;
  return got;
}

/* curl rewinds when it must send the body again (a redirect, a 401 with
 * basic auth): only back to the start is ever asked for. */
static int xfer_seek_cb(void *ud, curl_off_t offset, int origin) {
  net_xfer *x = ud;
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  if (x->req->body_file &&
      fseeko(x->req->body_file, (off_t)(x->file_start + offset), SEEK_SET) != 0)
    return CURL_SEEKFUNC_FAIL;
  x->body_pos = (uint64_t)offset;
  return CURL_SEEKFUNC_OK;
}

static size_t xfer_write_cb(char *data, size_t size, size_t nmemb, void *ud) {
  net_xfer *x = ud;
  bl__http_request *r = x->req;
  size_t n = size * nmemb;
  long status = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  int ok = status >= 200 && status < 300;
  if (ok && r->sink) {
    if (n == 0) return 0;
    x->sink_started = 1;
    int src = r->sink(data, n, r->sink_payload);
    if (src != 0) {
      x->sink_rc = src < 0 ? src : BL_ERROR;
      return 0; /* aborts with CURLE_WRITE_ERROR */
    }
    return n;
  }
  size_t cap = ok ? (r->max_response ? r->max_response : NET_DEFAULT_MAX_RESPONSE)
                  : NET_ERRBODY_MAX;
  if (x->len + n > cap) {
    if (ok) {
      x->too_big = 1;
      return 0;
    }
    n = cap - x->len; /* an error body is only kept for its message */
    if (n == 0) return size * nmemb;
  }
  if (x->len + n + 1 > x->cap) {
    size_t nc = x->cap ? x->cap : 4096;
    while (nc < x->len + n + 1) nc *= 2;
    char *nb = realloc(x->buf, nc);
    if (!nb) {
      x->sink_rc = BL_ENOMEM;
      return 0;
    }
    x->buf = nb;
    x->cap = nc;
  }
  memcpy(x->buf + x->len, data, n);
  x->len += n;
  x->buf[x->len] = '\0';
  return size * nmemb;
}

/* Whether line (n bytes) is header `name`; then *v, *vl is its value,
 * trimmed. */
static int xfer_header_value(const char *line, size_t n, const char *name, const char **v,
                             size_t *vl) {
  size_t nl = strlen(name);
  if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return 0;
  const char *s = line + nl + 1;
  size_t len = n - nl - 1;
  while (len && (*s == ' ' || *s == '\t')) s++, len--;
  while (len && (s[len - 1] == '\r' || s[len - 1] == '\n' || s[len - 1] == ' ')) len--;
  *v = s;
  *vl = len;
  return 1;
}

/* Keeps `*slot` = value of header `name` when line is that header. */
static void xfer_keep_header(const char *line, size_t n, const char *name, char **slot) {
  const char *v;
  size_t vl;
  if (!xfer_header_value(line, n, name, &v, &vl)) return;
  free(*slot);
  *slot = xfer_strndup(v, vl); /* NULL when out of memory: the header is lost */
}

/* Copies the value of header `name` into buf (cap bytes) when line is that
 * header; a value that does not fit leaves "" rather than a cut one. */
static void xfer_keep_header_buf(const char *line, size_t n, const char *name, char *buf,
                                 size_t cap) {
  const char *v;
  size_t vl;
  if (!xfer_header_value(line, n, name, &v, &vl)) return;
  if (vl >= cap) vl = 0;
  memcpy(buf, v, vl);
  buf[vl] = '\0';
}

static size_t xfer_header_cb(char *line, size_t size, size_t nitems, void *ud) {
  net_xfer *x = ud;
  bl__http_request *r = x->req;
  size_t n = size * nitems;
  if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
    /* a new response (after a redirect or a 100): forget the last one's */
    free(r->location), free(r->etag), free(r->content_type);
    r->location = r->etag = r->content_type = NULL;
    r->range[0] = '\0';
    x->retry_after_ms = -1;
    return n;
  }
  xfer_keep_header(line, n, "Location", &r->location);
  xfer_keep_header(line, n, "ETag", &r->etag);
  xfer_keep_header(line, n, "Content-Type", &r->content_type);
  xfer_keep_header_buf(line, n, "Range", r->range, sizeof r->range);
  if (n > 12 && strncasecmp(line, "Retry-After:", 12) == 0) {
    char v[128];
    size_t vl = n - 12 < sizeof v - 1 ? n - 12 : sizeof v - 1;
    memcpy(v, line + 12, vl);
    v[vl] = '\0';
    v[strcspn(v, "\r\n")] = '\0';
    x->retry_after_ms = net_retry_after_ms(v, time(NULL));
  }
  return n;
}

static int xfer_debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ud) {
  (void)h, (void)ud;
  if (type == CURLINFO_TEXT) {
    fprintf(stderr, "* %.*s", (int)size, data);
  } else if (type == CURLINFO_HEADER_IN || type == CURLINFO_HEADER_OUT) {
    const char *p = data, *end = data + size;
    while (p < end) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      size_t ll = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
      int secret = ll > 14 && strncasecmp(p, "Authorization:", 14) == 0;
      if (secret)
        fprintf(stderr, "%c Authorization: [redacted]\n", type == CURLINFO_HEADER_IN ? '<' : '>');
      else
        fprintf(stderr, "%c %.*s", type == CURLINFO_HEADER_IN ? '<' : '>', (int)ll, p);
      p += ll;
    }
  }
  return 0;
}

/* ------------------------------------------------------------ lifecycle */

int net_xfer_init(net_xfer *x, bl__http_client *c, bl__http_request *r) {
  memset(x, 0, sizeof *x);
  x->c = c;
  x->req = r;
  x->retry_after_ms = -1;
  bl__http_request_clear(r);
  int rc = xfer_resolve(x);
  if (rc != BL_OK) goto done;
  if (r->body && r->body_file) {
    net_set_error(x, "a body from memory and from a file at once");
    rc = BL_EMISUSE;
    goto done;
  }
  if (r->body_file) {
    off_t at = ftello(r->body_file);
    if (at < 0) {
      net_set_error(x, "body file cannot seek");
      rc = BL_EMISUSE;
      goto done;
    }
    x->file_start = (int64_t)at;
  }
  const char *method = r->method ? r->method : "GET";
  int has_body = r->body || r->body_file || !strcmp(method, "PUT") ||
                 !strcmp(method, "POST") || !strcmp(method, "PATCH");
  uint64_t body_size = r->body_file ? r->body_file_size : r->body_len;

  /* A 100-continue round trip costs a latency for nothing: servers we talk
   * to read the bodies they are sent. */
  rc = BL_ENOMEM;
  if (!(x->hdrs = curl_slist_append(NULL, "Expect:"))) goto done;
  for (const char *const *h = r->headers; h && *h; h++) {
    struct curl_slist *n = curl_slist_append(x->hdrs, *h);
    if (!n) goto done;
    x->hdrs = n;
  }
  CURL *e = x->easy = curl_easy_init();
  if (!e) goto done;
  curl_easy_setopt(e, CURLOPT_PRIVATE, x);
  curl_easy_setopt(e, CURLOPT_URL, x->url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->o.low_speed_time_s);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, c->o.low_speed_limit);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, xfer_write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, xfer_header_cb);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  if (r->follow_redirects) {
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    /* https only, but a loopback test server may redirect to itself */
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, x->loopback_http ? "http,https" : "https");
  }
  if (!c->token_cb && c->user) {
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, c->user);
    curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
  }
  if (has_body) {
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_size);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, xfer_read_cb);
    curl_easy_setopt(e, CURLOPT_READDATA, x);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, xfer_seek_cb);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
    if (strcmp(method, "PUT") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  } else if (!strcmp(method, "HEAD")) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (strcmp(method, "GET") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  }
  if (getenv("BACKLESS_HTTP_DEBUG")) {
    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, xfer_debug_cb);
  }
  rc = BL_OK;
done:
  if (rc == BL_ENOMEM && !r->errmsg[0]) net_set_error(x, "out of memory");
  if (rc != BL_OK) {
    r->rc = rc;
    x->state = NET_DONE;
  }
  return rc;
}

/* Fetches a token into the client's cache (refresh: a new one). */
static int xfer_fetch_token(net_xfer *x, int refresh) {
  bl__http_client *c = x->c;
  c->token[0] = '\0';
  int cb = c->token_cb(c->token, sizeof c->token, refresh, c->token_payload);
  c->token[sizeof c->token - 1] = '\0';
  if (cb != 0 || !c->token[0]) {
    c->have_token = 0;
    net_set_error(x, "the token callback gave no token (%d)", cb);
    return BL_EAUTH;
  }
  c->have_token = 1;
  c->token_gen++;
  return BL_OK;
}

int net_xfer_start(net_xfer *x) {
  bl__http_request *r = x->req;
  int rc = BL_OK;
  if (x->c->token_cb) {
    if (!x->c->have_token && (rc = xfer_fetch_token(x, 0)) != BL_OK) goto done;
    curl_easy_setopt(x->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
    curl_easy_setopt(x->easy, CURLOPT_XOAUTH2_BEARER, x->c->token);
    x->token_gen = x->c->token_gen;
  }
  if (r->body_file && fseeko(r->body_file, (off_t)x->file_start, SEEK_SET) != 0) {
    net_set_error(x, "cannot rewind the body file");
    rc = BL_EIO;
    goto done;
  }
  x->body_pos = 0;
  x->len = 0;
  x->too_big = x->sink_rc = 0;
  x->retry_after_ms = -1;
  x->curl_err[0] = '\0';
  free(r->location), free(r->etag), free(r->content_type);
  r->location = r->etag = r->content_type = NULL;
  r->range[0] = '\0';
  if (!r->attempts) x->first_ms = net_now_ms();
  r->attempts++;
  x->c->requests++;
  x->state = NET_ACTIVE;
done:
  if (rc != BL_OK) {
    r->rc = rc;
    x->state = NET_DONE;
  }
  return rc;
}

/* Transport failures worth another try: the network or the server hiccuped. */
static int xfer_transient(CURLcode res) {
  switch (res) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR: return 1;
    default: return 0;
  }
}

/* Decides whether to wait and retry: sets due_ms and returns 1, or 0 when
 * the attempts or the total time are spent. */
static int xfer_schedule_retry(net_xfer *x) {
  const bl__http_opts *o = &x->c->o;
  if (x->req->attempts >= o->max_attempts || x->sink_started) return 0;
  long wait = net_backoff_ms(o, x->req->attempts, x->retry_after_ms);
  int64_t now = net_now_ms();
  if (now + wait - x->first_ms > o->max_total_ms) return 0;
  x->due_ms = now + wait;
  x->state = NET_WAITING;
  return 1;
}

int net_xfer_finish(net_xfer *x, CURLcode res) {
  bl__http_request *r = x->req;
  long status = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  r->status = status;
  int rc = BL_OK;
  char svc[256];

  if (res != CURLE_OK) {
    if (x->sink_rc) {
      rc = x->sink_rc;
      net_set_error(x, rc == BL_ENOMEM ? "out of memory" : "the response sink failed (%s)",
                    bl_strerror(rc));
      goto done;
    }
    if (x->too_big) {
      rc = BL_EIO;
      net_set_error(x, "HTTP %ld: response larger than %zu bytes", status,
                    r->max_response ? r->max_response : (size_t)NET_DEFAULT_MAX_RESPONSE);
      goto done;
    }
    if (xfer_transient(res) && xfer_schedule_retry(x)) {
      x->c->server_errors++;
      return 0;
    }
    rc = BL_ENET;
    net_set_error(x, "%s (after %d attempt%s)", x->curl_err[0] ? x->curl_err : curl_easy_strerror(res),
                  r->attempts, r->attempts == 1 ? "" : "s");
    goto done;
  }
  if (status >= 200 && status < 400) goto done;

  /* 401: this request's one refresh — unless the token it sent has been
   * replaced meanwhile by another transfer's refresh (a batch in flight
   * when the token expired), which is retried with the new token without
   * spending it (a few times at most). */
  if (status == 401 && x->c->token_cb &&
      ((x->token_gen != x->c->token_gen && x->stale_retries < 3) || !x->refreshed)) {
    if (x->token_gen != x->c->token_gen) {
      x->stale_retries++;
    } else {
      x->refreshed = 1;
      x->c->token_refreshes++;
      if ((rc = xfer_fetch_token(x, 1)) != BL_OK) goto done;
    }
    x->due_ms = net_now_ms();
    x->state = NET_WAITING;
    return 0;
  }
  int ratelimit = status == 429 || (status == 403 && net_body_says_rate_limit(x->buf, x->len));
  if ((ratelimit || net_status_retryable(status)) && xfer_schedule_retry(x)) {
    if (ratelimit) x->c->rate_limited++;
    else x->c->server_errors++;
    return 0;
  }

  net_service_message(x->buf, x->len, r->content_type, svc, sizeof svc);
  if (ratelimit) rc = BL_ERATELIMIT;
  else if (net_status_retryable(status)) rc = BL_ENET;
  else if (status == 401 || status == 403) rc = BL_EAUTH;
  else if (status == 404 || status == 410) rc = BL_ENOTFOUND;
  else rc = BL_EIO;
  net_set_error(x, "HTTP %ld%s%s (after %d attempt%s)", status, svc[0] ? ": " : "", svc,
                r->attempts, r->attempts == 1 ? "" : "s");
done:
  r->rc = rc;
  if (x->buf && x->len) {
    r->response = x->buf;
    r->response_len = x->len;
    x->buf = NULL;
    x->len = x->cap = 0;
  }
  x->state = NET_DONE;
  return 1;
}

void net_xfer_cleanup(net_xfer *x) {
  if (x->easy) curl_easy_cleanup(x->easy);
  curl_slist_free_all(x->hdrs);
  free(x->url);
  free(x->buf);
  x->easy = NULL;
  x->hdrs = NULL;
  x->url = x->buf = NULL;
}
