/*
 * net_internal.h — what the files of src/net/ share: the client and the
 * per-request transfer state, the retry policy (retry.c) and the error
 * messages (errors.c). Nothing outside src/net/ includes it.
 */
#ifndef BL_NET_INTERNAL_H
#define BL_NET_INTERNAL_H

#include <curl/curl.h>

#include "net/http.h"

#define NET_TOKEN_MAX 4096
#define NET_ERRBODY_MAX 65536
#define NET_DEFAULT_MAX_RESPONSE (16u << 20)

struct bl__http_client {
  char *base_url; /* without a trailing '/' */
  bl__http_token_fn token_cb;
  void *token_payload;
  char *user, *password;
  bl__http_opts o; /* numbers only: its strings point nowhere */
  char token[NET_TOKEN_MAX];
  int have_token;
  unsigned token_gen; /* bumped each time the token is (re)fetched */
  uint64_t requests;
  uint64_t rate_limited, server_errors, token_refreshes; /* retried, see bl__http_stats */
  CURLM *multi; /* kept across calls so connections are reused */
};

enum net_state { NET_NEW, NET_WAITING, NET_ACTIVE, NET_DONE };

/* One request in flight, across its attempts (xfer.c). */
typedef struct net_xfer {
  bl__http_client *c;
  bl__http_request *req;
  enum net_state state;
  CURL *easy;
  struct curl_slist *hdrs;
  char *url;       /* resolved absolute URL */
  int loopback_http;
  char curl_err[CURL_ERROR_SIZE];
  int64_t first_ms, due_ms;
  unsigned token_gen; /* generation of the token this attempt used */
  int refreshed;      /* the one 401 refresh has been spent */
  int stale_retries;  /* 401s answered to a token another transfer has
                         since replaced: retried with the new one */
  int sink_started, sink_rc, too_big;
  long retry_after_ms; /* -1: none */
  int64_t file_start;
  uint64_t body_pos;
  char *buf; /* response body collected in memory */
  size_t len, cap;
} net_xfer;

/* xfer.c */
int net_xfer_init(net_xfer *x, bl__http_client *c, bl__http_request *r);
int net_xfer_start(net_xfer *x); /* sets up one attempt; BL_OK or error (done) */
/* Judges a finished attempt: returns 1 when the request is done (req->rc
 * set), 0 when it must be retried at x->due_ms. */
int net_xfer_finish(net_xfer *x, CURLcode res);
void net_xfer_cleanup(net_xfer *x);
int64_t net_now_ms(void);

/* retry.c */
long net_retry_after_ms(const char *value, time_t now); /* -1 if unparsable */
long net_backoff_ms(const bl__http_opts *o, int attempt, long retry_after_ms);
int net_body_says_rate_limit(const char *body, size_t len);
int net_status_retryable(long status);

/* errors.c: the service's message from an error body, into out. */
void net_service_message(const char *body, size_t len, const char *ctype, char *out,
                         size_t size);
/* Formats r->errmsg ("METHOD url: what"), the URL cut at '?', and replaces any
 * occurrence of the client's token. */
void net_set_error(net_xfer *x, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif /* BL_NET_INTERNAL_H */
