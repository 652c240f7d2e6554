/*
 * http.h — the shared HTTP layer of the cloud backends (internal).
 *
 * One client per remote: a base URL, credentials (a bearer token taken from
 * the application's callback, or basic auth), timeouts and a retry policy.
 * Backends describe a request in a bl__http_request, run it with
 * bl__http_perform (one) or bl__http_run_many (a batch over the curl multi
 * interface with a bounded number in flight), and read the status, the body
 * and a few headers back from the same struct.
 *
 * What the layer does for every request:
 *   - TLS verification is always on; plain http:// is refused (BL_EMISUSE)
 *     unless the host is a loopback address (127.0.0.1, ::1, localhost).
 *   - 401: the token callback is called with refresh=1 and the request is
 *     retried once; a second 401 gives BL_EAUTH.
 *   - 429, 500/502/503/504 and a 403 whose body says "rateLimitExceeded" /
 *     "userRateLimitExceeded" are retried with exponential backoff and jitter,
 *     waiting at least what Retry-After asks, bounded by max_attempts and
 *     max_total_ms; then BL_ERATELIMIT (429/403) or BL_ENET (5xx).
 *   - Connection failures and timeouts are retried the same way, then BL_ENET.
 *   - Other statuses: 2xx/3xx BL_OK, 401/403 BL_EAUTH, 404/410 BL_ENOTFOUND,
 *     anything else BL_EIO; r->status always tells the exact code.
 *   - Messages carry the method, the URL without its query, the status and
 *     the service's own message; never a token.
 *
 * A client is not thread-safe: use one per thread (or serialise calls).
 */
#ifndef BL_NET_HTTP_H
#define BL_NET_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes a NUL-terminated access token into buf (size bytes). refresh is 1
 * when the previous token was rejected with 401 and a new one is wanted.
 * Returns 0 on success, non-zero when no token can be had. */
typedef int (*bl__http_token_fn)(char *buf, size_t size, int refresh, void *payload);

/* Receives successive pieces of a 2xx response body. Returns 0 to go on,
 * non-zero (a BL_E* code) to abort the transfer with that code. */
typedef int (*bl__http_sink_fn)(const void *data, size_t len, void *payload);

typedef struct bl__http_opts {
  unsigned int version;
  const char *base_url;        /* joined with relative request URLs; copied */
  bl__http_token_fn token;     /* bearer token source, or NULL */
  void *token_payload;
  const char *user, *password; /* basic auth when token is NULL; copied */
  long connect_timeout_ms;     /* connection set-up */
  long low_speed_time_s;       /* abort a transfer slower than ... */
  long low_speed_limit;        /* ... this many bytes/s for that long */
  long timeout_ms;             /* whole transfer; 0: no limit */
  int max_attempts;            /* tries per request, including the first */
  long base_delay_ms;          /* first backoff; doubled each retry */
  long max_delay_ms;           /* cap of one backoff wait */
  long max_total_ms;           /* no retry starts past this since the first try */
} bl__http_opts;

#define BL__HTTP_OPTS_VERSION 1
#define BL__HTTP_OPTS_INIT \
  {BL__HTTP_OPTS_VERSION, NULL, NULL, NULL, NULL, NULL, 10000, 30, 1, 0, 5, 500, 30000, 120000}

typedef struct bl__http_client bl__http_client;

/* Whether plain http:// is allowed to `host` (a URL's host part, IPv6 in
 * brackets or not): 127.0.0.0/8, ::1 and "localhost", exactly. Backends
 * call it to refuse a bad URL when a remote is opened rather than at its
 * first request. */
int bl__http_host_is_loopback(const char *host);

/* Creates a client; strings in opts are copied. Returns BL_OK, BL_ENOMEM,
 * BL_EMISUSE (bad options) or BL_ERROR (libcurl failed to initialise); the
 * reason is in bl_errmsg(NULL). */
int bl__http_client_new(bl__http_client **out, const bl__http_opts *opts);

/* Frees the client (NULL is fine); the cached token is wiped. */
void bl__http_client_free(bl__http_client *c);

/* HTTP requests sent so far (every attempt counts). */
uint64_t bl__http_request_count(const bl__http_client *c);

/* What the client lived through so far: requests sent (every attempt),
 * and of those the answers that made it retry — rate limits (429, a
 * rate-limit 403), server errors and network failures (5xx, timeouts,
 * resets) — and tokens refreshed after a 401. */
typedef struct bl__http_stats {
  uint64_t requests, rate_limited, server_errors, token_refreshes;
} bl__http_stats;
void bl__http_stats_get(const bl__http_client *c, bl__http_stats *out);

typedef struct bl__http_request {
  /* ---- input, borrowed for the duration of the call */
  const char *method;          /* "GET", "PUT", "PROPFIND", ...; NULL is GET */
  const char *url;             /* absolute, or a path joined to the base URL */
  const char *const *headers;  /* NULL-terminated "Name: value" lines, or NULL */
  const void *body;            /* request body from memory ... */
  size_t body_len;
  FILE *body_file;             /* ... or from a file, from its current offset */
  uint64_t body_file_size;     /*     for this many bytes (rewound on retry) */
  bl__http_sink_fn sink;       /* 2xx body streamed here, or NULL: to memory */
  void *sink_payload;
  size_t max_response;         /* cap of an in-memory body; 0: 16 MiB */
  int follow_redirects;        /* follow 3xx (https only; auth not forwarded
                                  to another host) */
  /* ---- output, owned by the request: free with bl__http_request_clear */
  int rc;                      /* BL_OK or the BL_E* code returned */
  long status;                 /* last HTTP status, 0 when none was received */
  char *response;              /* NUL-terminated body (2xx without sink, or
                                  the error body, bounded); may be NULL */
  size_t response_len;
  char *location, *etag, *content_type; /* response headers, or NULL */
  char range[64];              /* the Range response header ("bytes=0-8388607":
                                  what a resumable upload's 308 says the
                                  service kept), "" when absent or longer than
                                  this; held in the struct, nothing to free,
                                  emptied when each attempt starts */
  int attempts;                /* attempts made */
  char errmsg[512];            /* on failure, what went wrong */
} bl__http_request;

/* Frees a request's outputs and zeroes them; inputs are untouched. */
void bl__http_request_clear(bl__http_request *r);

/* Runs one request with its retries. Returns r->rc (see the top of this
 * file); on failure the message is also the thread's bl_errmsg(NULL).
 * A transfer that fails after part of its body reached the sink is not
 * retried (the sink cannot take it back): BL_ENET, and the caller restarts. */
int bl__http_perform(bl__http_client *c, bl__http_request *r);

/* Runs n requests with at most max_in_flight transfers at once (0: 4), each
 * with its own retries. Returns BL_OK when all succeeded, else the rc of the
 * first failed one (by index; its message in bl_errmsg(NULL)); every
 * request's own rc, status and message are filled in either way. */
int bl__http_run_many(bl__http_client *c, bl__http_request **reqs, size_t n,
                      size_t max_in_flight);

#endif /* BL_NET_HTTP_H */
