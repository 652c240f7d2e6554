/*
 * client.c — the HTTP client object: creation (libcurl initialised once per
 * process), the request counter, and freeing of request outputs.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backless.h"
#include "net/net_internal.h"
#include "util/errmsg.h"

static pthread_once_t client_once = PTHREAD_ONCE_INIT;
static CURLcode client_init_rc = CURLE_FAILED_INIT;

static void client_global_init(void) {
  client_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  /* sodium_init is idempotent and thread-safe; the jitter draws on it. */
  if (client_init_rc == CURLE_OK && sodium_init() < 0) client_init_rc = CURLE_FAILED_INIT;
}

static char *client_strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

int bl__http_client_new(bl__http_client **out, const bl__http_opts *opts) {
  int rc = BL_OK;
  bl__http_client *c = NULL;
  if (!out) return bl__set_tls_error(BL_EMISUSE, "http client: NULL out");
  *out = NULL;
  if (!opts || opts->version != BL__HTTP_OPTS_VERSION || opts->max_attempts < 1 ||
      opts->connect_timeout_ms < 0 || opts->timeout_ms < 0 || opts->max_total_ms < 0 ||
      opts->base_delay_ms < 0 || opts->max_delay_ms < 0 || opts->low_speed_time_s < 0 ||
      opts->low_speed_limit < 0 || (opts->user && !opts->password))
    return bl__set_tls_error(BL_EMISUSE, "http client: bad options");
  pthread_once(&client_once, client_global_init);
  if (client_init_rc != CURLE_OK)
    return bl__set_tls_error(BL_ERROR, "http client: libcurl failed to initialise: %s",
                             curl_easy_strerror(client_init_rc));
  c = calloc(1, sizeof *c);
  if (!c) goto nomem;
  c->o = *opts;
  c->o.base_url = c->o.user = c->o.password = NULL;
  c->token_cb = opts->token;
  c->token_payload = opts->token_payload;
  if (opts->base_url) {
    if (!(c->base_url = client_strdup(opts->base_url))) goto nomem;
    size_t n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/') c->base_url[--n] = '\0';
  }
  if (opts->user && (!(c->user = client_strdup(opts->user)) ||
                     !(c->password = client_strdup(opts->password))))
    goto nomem;
  if (!(c->multi = curl_multi_init())) goto nomem;
  *out = c;
  return BL_OK;
nomem:
  rc = bl__set_tls_error(BL_ENOMEM, "http client: out of memory");
  bl__http_client_free(c);
  return rc;
}

void bl__http_client_free(bl__http_client *c) {
  if (!c) return;
  if (c->multi) curl_multi_cleanup(c->multi);
  sodium_memzero(c->token, sizeof c->token);
  if (c->password) sodium_memzero(c->password, strlen(c->password));
  free(c->base_url);
  free(c->user);
  free(c->password);
  free(c);
}

uint64_t bl__http_request_count(const bl__http_client *c) { return c ? c->requests : 0; }

void bl__http_stats_get(const bl__http_client *c, bl__http_stats *out) {
  memset(out, 0, sizeof *out);
  if (!c) return;
  out->requests = c->requests;
  out->rate_limited = c->rate_limited;
  out->server_errors = c->server_errors;
  out->token_refreshes = c->token_refreshes;
}

void bl__http_request_clear(bl__http_request *r) {
  if (!r) return;
  free(r->response);
  free(r->location);
  free(r->etag);
  free(r->content_type);
  r->response = r->location = r->etag = r->content_type = NULL;
  r->response_len = 0;
  r->rc = BL_OK;
  r->status = 0;
  r->attempts = 0;
  r->errmsg[0] = '\0';
}
