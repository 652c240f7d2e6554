/*
 * http.c — tests of the HTTP layer (src/net/) against the scripted server
 * on 127.0.0.1: round trips, token refresh, retries and backoff, error
 * messages, the http:// rule, timeouts and parallel batches.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backless.h"
#include "harness.h"
#include "net/http.h"
#include "net/net_internal.h"
#include "server.h"

#define TOKEN_SECRET "secret-token-0123456789"

typedef struct tok_state {
  int calls, refreshes;
} tok_state;

/* Hands out TOKEN_SECRET-1, then -2, ... one per refresh. */
static int test_token(char *buf, size_t size, int refresh, void *payload) {
  tok_state *t = payload;
  t->calls++;
  if (refresh) t->refreshes++;
  snprintf(buf, size, "%s-%d", TOKEN_SECRET, t->refreshes + 1);
  return 0;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client on the server's base URL with fast retries. */
static bl__http_client *new_client(ts_server *s, tok_state *tok) {
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d/api/", ts_port(s));
  bl__http_opts o = BL__HTTP_OPTS_INIT;
  o.base_url = base;
  o.token = tok ? test_token : NULL;
  o.token_payload = tok;
  o.base_delay_ms = 10;
  o.max_delay_ms = 50;
  o.max_attempts = 4;
  o.connect_timeout_ms = 2000;
  o.low_speed_time_s = 5;
  bl__http_client *c = NULL;
  if (bl__http_client_new(&c, &o) != BL_OK) return NULL;
  return c;
}

typedef struct sink_buf {
  char *data;
  size_t len;
} sink_buf;

static int test_sink(const void *p, size_t n, void *payload) {
  sink_buf *b = payload;
  char *nd = realloc(b->data, b->len + n);
  if (!nd) return BL_ENOMEM;
  memcpy(nd + b->len, p, n);
  b->data = nd;
  b->len += n;
  return 0;
}

static void test_net_http__roundtrip(void) {
  enum { PUT_SIZE = 300000, GET_SIZE = 500000 };
  char *big = malloc(GET_SIZE);
  BL_REQUIRE(big);
  for (size_t i = 0; i < GET_SIZE; i++) big[i] = (char)('a' + i % 26);
  ts_response script[] = {
      {201, "ETag: \"v1\"\r\nLocation: /api/files/1\r\n", "{\"id\":\"1\"}", 0, 0},
      {200, "Content-Type: application/octet-stream\r\n", big, 0, GET_SIZE},
  };
  ts_server *s = ts_start(script, 2);
  BL_REQUIRE(s);
  tok_state tok = {0, 0};
  bl__http_client *c = new_client(s, &tok);
  BL_REQUIRE(c);

  FILE *f = tmpfile();
  BL_REQUIRE(f);
  for (size_t i = 0; i < PUT_SIZE; i++) fputc('0' + (int)(i % 10), f);
  fputs("trailing bytes not sent", f);
  rewind(f);
  const char *hdrs[] = {"Content-Type: application/octet-stream", "X-Test: 1", NULL};
  bl__http_request put = {0};
  put.method = "PUT";
  put.url = "files/1";
  put.headers = hdrs;
  put.body_file = f;
  put.body_file_size = PUT_SIZE;
  BL_CHECK_INT(bl__http_perform(c, &put), BL_OK);
  BL_CHECK_INT(put.status, 201);
  BL_CHECK_STR(put.etag, "\"v1\"");
  BL_CHECK_STR(put.location, "/api/files/1");
  BL_CHECK_STR(put.response, "{\"id\":\"1\"}");

  bl__http_request get = {0};
  sink_buf sb = {NULL, 0};
  get.url = "/files/1?alt=media";
  get.sink = test_sink;
  get.sink_payload = &sb;
  BL_CHECK_INT(bl__http_perform(c, &get), BL_OK);
  BL_CHECK_INT(get.status, 200);
  BL_CHECK_STR(get.content_type, "application/octet-stream");
  BL_CHECK_INT(sb.len, GET_SIZE);
  BL_CHECK(sb.data && memcmp(sb.data, big, GET_SIZE) == 0);
  BL_CHECK(get.response == NULL);

  BL_CHECK_INT(ts_count(s), 2);
  const ts_request *r0 = ts_request_at(s, 0), *r1 = ts_request_at(s, 1);
  BL_REQUIRE(r0 && r1);
  BL_CHECK_STR(r0->method, "PUT");
  BL_CHECK_STR(r0->target, "/api/files/1");
  BL_CHECK_INT(r0->body_len, PUT_SIZE);
  BL_CHECK(r0->body[0] == '0' && r0->body[PUT_SIZE - 1] == '0' + (PUT_SIZE - 1) % 10);
  BL_CHECK(strstr(r0->headers, "Authorization: Bearer " TOKEN_SECRET "-1\r\n") != NULL);
  BL_CHECK(strstr(r0->headers, "X-Test: 1\r\n") != NULL);
  BL_CHECK(strstr(r0->headers, "Expect:") == NULL);
  BL_CHECK_STR(r1->method, "GET");
  BL_CHECK_STR(r1->target, "/api/files/1?alt=media");
  BL_CHECK_INT(bl__http_request_count(c), 2);
  BL_CHECK_INT(tok.calls, 1);

  fclose(f);
  free(sb.data);
  free(big);
  bl__http_request_clear(&put);
  bl__http_request_clear(&get);
  bl__http_client_free(c);
  ts_stop(s);
}

/* The Range header of a 308 (what a resumable upload's service says it
 * kept) comes back in the request; an answer without one leaves "", an
 * attempt that is retried does not keep its predecessor's, and a value too
 * long for the field is dropped rather than cut. */
static void test_net_http__range_header(void) {
  char longh[256] = "Range: bytes=0-";
  while (strlen(longh) < 150) strcat(longh, "9");
  strcat(longh, "\r\n");
  ts_response script[] = {
      {308, "Range: bytes=0-262143\r\n", NULL, 0, 0},
      {200, NULL, "{\"id\":\"1\"}", 0, 0},
      {503, "range:   bytes=0-99  \r\n", NULL, 0, 0},
      {308, NULL, NULL, 0, 0},
      {308, longh, NULL, 0, 0},
  };
  ts_server *s = ts_start(script, 5);
  BL_REQUIRE(s);
  bl__http_client *c = new_client(s, NULL);
  BL_REQUIRE(c);
  const char *hdrs[] = {"Content-Range: bytes 0-524287/1048576", NULL};
  bl__http_request r = {.method = "PUT", .url = "upload/s1", .headers = hdrs, .body = "x",
                        .body_len = 1};
  BL_CHECK_INT(bl__http_perform(c, &r), BL_OK);
  BL_CHECK_INT(r.status, 308);
  BL_CHECK_STR(r.range, "bytes=0-262143");
  /* The same struct again: the 200 has no Range. */
  BL_CHECK_INT(bl__http_perform(c, &r), BL_OK);
  BL_CHECK_INT(r.status, 200);
  BL_CHECK_STR(r.range, "");
  /* A 503 naming a range (any case, spaces around), retried into a 308
   * without one: the answer that counts has none. */
  bl__http_request_clear(&r);
  BL_CHECK_INT(bl__http_perform(c, &r), BL_OK);
  BL_CHECK_INT(r.attempts, 2);
  BL_CHECK_INT(r.status, 308);
  BL_CHECK_STR(r.range, "");
  bl__http_request_clear(&r);
  BL_CHECK_INT(bl__http_perform(c, &r), BL_OK);
  BL_CHECK_INT(r.status, 308);
  BL_CHECK_STR(r.range, "");
  BL_CHECK_INT(ts_count(s), 5);
  bl__http_request_clear(&r);
  bl__http_client_free(c);
  ts_stop(s);
}

static void test_net_http__memory_body_and_methods(void) {
  ts_response script[] = {{207, "Content-Type: application/xml\r\n", "<d:multistatus/>", 0, 0},
                          {204, NULL, NULL, 0, 0}};
  ts_server *s = ts_start(script, 2);
  BL_REQUIRE(s);
  bl__http_client *c = new_client(s, NULL);
  BL_REQUIRE(c);
  static const char body[] = "<?xml version=\"1.0\"?><d:propfind xmlns:d=\"DAV:\"/>";
  const char *hdrs[] = {"Depth: 1", NULL};
  bl__http_request pf = {0}, del = {0};
  pf.method = "PROPFIND";
  pf.url = "dav/folder/";
  pf.headers = hdrs;
  pf.body = body;
  pf.body_len = sizeof body - 1;
  BL_CHECK_INT(bl__http_perform(c, &pf), BL_OK);
  BL_CHECK_INT(pf.status, 207);
  BL_CHECK_STR(pf.response, "<d:multistatus/>");
  del.method = "DELETE";
  del.url = "dav/folder/x";
  BL_CHECK_INT(bl__http_perform(c, &del), BL_OK);
  BL_CHECK_INT(del.status, 204);
  const ts_request *r0 = ts_request_at(s, 0), *r1 = ts_request_at(s, 1);
  BL_REQUIRE(r0 && r1);
  BL_CHECK_STR(r0->method, "PROPFIND");
  BL_CHECK_STR(r0->body, body);
  BL_CHECK(strstr(r0->headers, "Authorization") == NULL);
  BL_CHECK_STR(r1->method, "DELETE");
  BL_CHECK_INT(r1->body_len, 0);
  bl__http_request_clear(&pf);
  bl__http_request_clear(&del);
  bl__http_client_free(c);
  ts_stop(s);
}

static void test_net_http__basic_auth(void) {
  ts_response script[] = {{200, NULL, "ok", 0, 0}};
  ts_server *s = ts_start(script, 1);
  BL_REQUIRE(s);
  char base[64];
  snprintf(base, sizeof base, "http://localhost:%d", ts_port(s));
  bl__http_opts o = BL__HTTP_OPTS_INIT;
  o.base_url = base;
  o.user = "alice";
  o.password = "pw";
  bl__http_client *c = NULL;
  BL_REQUIRE(bl__http_client_new(&c, &o) == BL_OK);
  bl__http_request r = {0};
  r.url = "x";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_OK);
  const ts_request *q = ts_request_at(s, 0);
  BL_REQUIRE(q);
  BL_CHECK(strstr(q->headers, "Authorization: Basic YWxpY2U6cHc=\r\n") != NULL);
  bl__http_request_clear(&r);
  bl__http_client_free(c);
  ts_stop(s);
}

static void test_net_http__401_refresh(void) {
  ts_response script[] = {{401, NULL, "{\"error\":{\"message\":\"expired\"}}", 0, 0},
                          {200, NULL, "fine", 0, 0}};
  ts_server *s = ts_start(script, 2);
  BL_REQUIRE(s);
  tok_state tok = {0, 0};
  bl__http_client *c = new_client(s, &tok);
  BL_REQUIRE(c);
  bl__http_request r = {0};
  r.url = "about";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_OK);
  BL_CHECK_INT(r.status, 200);
  BL_CHECK_STR(r.response, "fine");
  BL_CHECK_INT(tok.refreshes, 1);
  BL_CHECK_INT(bl__http_request_count(c), 2);
  bl__http_stats st;
  bl__http_stats_get(c, &st);
  BL_CHECK(st.requests == 2 && st.token_refreshes == 1 && st.rate_limited == 0 && st.server_errors == 0);
  const ts_request *q = ts_request_at(s, 1);
  BL_REQUIRE(q);
  BL_CHECK(strstr(q->headers, "Bearer " TOKEN_SECRET "-2\r\n") != NULL);
  bl__http_request_clear(&r);
  bl__http_client_free(c);
  ts_stop(s);
}

static void test_net_http__401_twice(void) {
  ts_response script[] = {{401, NULL, "{\"error\":{\"message\":\"Invalid Credentials\"}}", 0, 0}};
  ts_server *s = ts_start(script, 1);
  BL_REQUIRE(s);
  tok_state tok = {0, 0};
  bl__http_client *c = new_client(s, &tok);
  BL_REQUIRE(c);
  bl__http_request r = {0};
  r.url = "about";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_EAUTH);
  BL_CHECK_INT(r.status, 401);
  BL_CHECK_INT(tok.refreshes, 1);
  BL_CHECK_INT(bl__http_request_count(c), 2);
  BL_CHECK(strstr(r.errmsg, "401") && strstr(r.errmsg, "Invalid Credentials"));
  BL_CHECK(strstr(r.errmsg, "secret") == NULL);
  BL_CHECK_STR(bl_errmsg(NULL), r.errmsg);
  bl__http_request_clear(&r);
  bl__http_client_free(c);
  ts_stop(s);
}

static void test_net_http__retry_after(void) {
  ts_response script[] = {{429, "Retry-After: 1\r\n", "slow down", 0, 0},
                          {200, NULL, "ok", 0, 0}};
  ts_server *s = ts_start(script, 2);
  BL_REQUIRE(s);
  bl__http_client *c = new_client(s, NULL);
  BL_REQUIRE(c);
  bl__http_request r = {0};
  r.url = "q";
  int64_t t0 = now_ms();
  BL_CHECK_INT(bl__http_perform(c, &r), BL_OK);
  int64_t took = now_ms() - t0;
  BL_CHECK(took >= 950);
  BL_CHECK(took < 5000);
  BL_CHECK_INT(r.attempts, 2);
  bl__http_stats st;
  bl__http_stats_get(c, &st);
  BL_CHECK(st.requests == 2 && st.rate_limited == 1 && st.server_errors == 0 && st.token_refreshes == 0);
  bl__http_request_clear(&r);
  bl__http_client_free(c);
  ts_stop(s);
}

static void test_net_http__503_then_ok(void) {
  ts_response script[] = {{503, NULL, NULL, 0, 0}, {503, NULL, NULL, 0, 0},
                          {200, NULL, "ok", 0, 0}};
  ts_server *s = ts_start(script, 3);
  BL_REQUIRE(s);
  tok_state tok = {0, 0};
  bl__http_client *c = new_client(s, &tok);
  BL_REQUIRE(c);
  bl__http_request r = {0};
  r.url = "q";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_OK);
  BL_CHECK_INT(r.status, 200);
  BL_CHECK_INT(bl__http_request_count(c), 3);
  BL_CHECK_INT(ts_count(s), 3);
  BL_CHECK_INT(tok.refreshes, 0);
  bl__http_stats st;
  bl__http_stats_get(c, &st);
  BL_CHECK(st.requests == 3 && st.server_errors == 2 && st.rate_limited == 0 && st.token_refreshes == 0);
  bl__http_request_clear(&r);
  bl__http_client_free(c);
  ts_stop(s);
}

/* Runs one request against a server answering `a` forever. */
static int run_against(const ts_response *a, bl__http_request *r, tok_state *tok,
                       uint64_t *count) {
  ts_server *s = ts_start(a, 1);
  if (!s) return 999;
  bl__http_client *c = new_client(s, tok);
  int rc = c ? bl__http_perform(c, r) : 998;
  *count = bl__http_request_count(c);
  bl__http_client_free(c);
  ts_stop(s);
  return rc;
}

static void test_net_http__exhausted(void) {
  tok_state tok = {0, 0};
  uint64_t n = 0;
  bl__http_request r = {0};
  r.url = "files?access_token=" TOKEN_SECRET;

  ts_response e503 = {503, "Content-Type: application/json; charset=UTF-8\r\n",
                      "{\"error\":{\"code\":503,\"message\":\"Backend Error " TOKEN_SECRET
                      "-1\",\"errors\":[]}}",
                      0, 0};
  BL_CHECK_INT(run_against(&e503, &r, &tok, &n), BL_ENET);
  BL_CHECK_INT(n, 4);
  BL_CHECK_INT(r.status, 503);
  BL_CHECK(strstr(r.errmsg, "HTTP 503") && strstr(r.errmsg, "Backend Error"));
  BL_CHECK(strstr(r.errmsg, "secret") == NULL);
  BL_CHECK(strstr(r.errmsg, "access_token") == NULL);
  BL_CHECK(strstr(bl_errmsg(NULL), "Backend Error") != NULL);

  ts_response e429 = {429, NULL, "{\"error\":{\"message\":\"Too many requests\"}}", 0, 0};
  BL_CHECK_INT(run_against(&e429, &r, &tok, &n), BL_ERATELIMIT);
  BL_CHECK_INT(n, 4);
  BL_CHECK(strstr(r.errmsg, "429") && strstr(r.errmsg, "Too many requests"));

  ts_response e403 = {403, NULL,
                      "{\"error\":{\"errors\":[{\"domain\":\"usageLimits\",\"reason\":"
                      "\"userRateLimitExceeded\"}],\"code\":403,\"message\":\"User Rate Limit "
                      "Exceeded\"}}",
                      0, 0};
  BL_CHECK_INT(run_against(&e403, &r, &tok, &n), BL_ERATELIMIT);
  BL_CHECK_INT(n, 4);
  BL_CHECK(strstr(r.errmsg, "403") && strstr(r.errmsg, "User Rate Limit Exceeded"));

  ts_response e403p = {403, NULL, "{\"error\":{\"message\":\"Forbidden\"}}", 0, 0};
  BL_CHECK_INT(run_against(&e403p, &r, &tok, &n), BL_EAUTH);
  BL_CHECK_INT(n, 1);

  ts_response e404 = {404, "Content-Type: application/xml\r\n",
                      "<?xml version=\"1.0\"?>\n<d:error xmlns:d=\"DAV:\" "
                      "xmlns:s=\"http://sabredav.org/ns\"><s:exception>NotFound</s:exception>"
                      "<s:message>File with name x could not be located</s:message></d:error>",
                      0, 0};
  BL_CHECK_INT(run_against(&e404, &r, &tok, &n), BL_ENOTFOUND);
  BL_CHECK_INT(n, 1);
  BL_CHECK(strstr(r.errmsg, "File with name x could not be located") != NULL);

  ts_response e400 = {400, NULL, "bad request line one\nline two", 0, 0};
  BL_CHECK_INT(run_against(&e400, &r, &tok, &n), BL_EIO);
  BL_CHECK(strstr(r.errmsg, "bad request line one") && !strstr(r.errmsg, "line two"));
  bl__http_request_clear(&r);
}

static void test_net_http__plain_http_refused(void) {
  bl__http_opts o = BL__HTTP_OPTS_INIT;
  o.base_url = "http://example.com/api";
  bl__http_client *c = NULL;
  BL_REQUIRE(bl__http_client_new(&c, &o) == BL_OK);
  bl__http_request r = {0};
  r.url = "x";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_EMISUSE);
  BL_CHECK(strstr(r.errmsg, "http://") && strstr(r.errmsg, "example.com"));
  r.url = "http://10.0.0.1/x";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_EMISUSE);
  r.url = "ftp://127.0.0.1/x";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_EMISUSE);
  r.url = "http://127.0.0.1.example.com/x";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_EMISUSE);
  r.url = "http://localhost.example.com/x";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_EMISUSE);
  BL_CHECK_INT(bl__http_request_count(c), 0);
  bl__http_client_free(c);
  /* loopback literals are let through (nothing listens on port 9: ENET) */
  o.base_url = NULL;
  o.max_attempts = 1;
  BL_REQUIRE(bl__http_client_new(&c, &o) == BL_OK);
  r.url = "http://[::1]:9/x";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_ENET);
  r.url = "http://127.0.0.2:9/x";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_ENET);
  BL_CHECK_INT(bl__http_request_count(c), 2);
  bl__http_request_clear(&r);
  bl__http_client_free(c);
}

static void test_net_http__timeout(void) {
  ts_response script[] = {{200, NULL, "late", 3000, 0}};
  ts_server *s = ts_start(script, 1);
  BL_REQUIRE(s);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", ts_port(s));
  bl__http_opts o = BL__HTTP_OPTS_INIT;
  o.base_url = base;
  o.timeout_ms = 400;
  o.max_attempts = 2;
  o.base_delay_ms = 10;
  bl__http_client *c = NULL;
  BL_REQUIRE(bl__http_client_new(&c, &o) == BL_OK);
  bl__http_request r = {0};
  r.url = "slow";
  int64_t t0 = now_ms();
  BL_CHECK_INT(bl__http_perform(c, &r), BL_ENET);
  int64_t took = now_ms() - t0;
  BL_CHECK(took >= 700 && took < 2500);
  BL_CHECK_INT(r.attempts, 2);
  BL_CHECK(strstr(r.errmsg, "imeout") || strstr(r.errmsg, "timed out"));
  bl__http_request_clear(&r);
  bl__http_client_free(c);
  ts_stop(s);
}

static void test_net_http__connection_refused(void) {
  ts_response script[] = {{200, NULL, NULL, 0, 0}};
  ts_server *s = ts_start(script, 1);
  BL_REQUIRE(s);
  int port = ts_port(s);
  ts_stop(s); /* the port is now closed */
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
  bl__http_opts o = BL__HTTP_OPTS_INIT;
  o.max_attempts = 3;
  o.base_delay_ms = 10;
  bl__http_client *c = NULL;
  BL_REQUIRE(bl__http_client_new(&c, &o) == BL_OK);
  bl__http_request r = {0};
  r.url = url;
  BL_CHECK_INT(bl__http_perform(c, &r), BL_ENET);
  BL_CHECK_INT(r.attempts, 3);
  BL_CHECK_INT(r.status, 0);
  bl__http_request_clear(&r);
  bl__http_client_free(c);
}

static void test_net_http__run_many(void) {
  ts_response script[] = {{503, NULL, NULL, 150, 0}, {200, NULL, "ok", 150, 0}};
  ts_server *s = ts_start(script, 2);
  BL_REQUIRE(s);
  tok_state tok = {0, 0};
  bl__http_client *c = new_client(s, &tok);
  BL_REQUIRE(c);
  bl__http_request rs[8];
  bl__http_request *ps[8];
  char urls[8][32];
  memset(rs, 0, sizeof rs);
  for (int i = 0; i < 8; i++) {
    snprintf(urls[i], sizeof urls[i], "item/%d", i);
    rs[i].url = urls[i];
    ps[i] = &rs[i];
  }
  int64_t t0 = now_ms();
  BL_CHECK_INT(bl__http_run_many(c, ps, 8, 3), BL_OK);
  int64_t took = now_ms() - t0;
  for (int i = 0; i < 8; i++) {
    BL_CHECK_INT(rs[i].rc, BL_OK);
    BL_CHECK_STR(rs[i].response, "ok");
    bl__http_request_clear(&rs[i]);
  }
  /* the first answer was a 503: one request was retried */
  BL_CHECK_INT(ts_count(s), 9);
  BL_CHECK_INT(bl__http_request_count(c), 9);
  BL_CHECK(ts_max_concurrent(s) <= 3);
  BL_CHECK(ts_max_concurrent(s) >= 2);
  /* 9 requests of 150 ms, 3 at a time: about 3 rounds, not 9 */
  if (getenv("NET_TEST_TIMING")) fprintf(stderr, "  run_many took %lld ms\n", (long long)took);
  BL_CHECK(took < 9 * 150);
  BL_CHECK_INT(tok.calls, 1);
  bl__http_client_free(c);
  ts_stop(s);
}

static void test_net_http__retry_after_parsing(void) {
  time_t now = 1700000000;
  BL_CHECK_INT(net_retry_after_ms("1", now), 1000);
  BL_CHECK_INT(net_retry_after_ms(" 120 ", now), 120000);
  BL_CHECK_INT(net_retry_after_ms("abc", now), -1);
  BL_CHECK_INT(net_retry_after_ms("5x", now), -1);
  /* 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT */
  BL_CHECK_INT(net_retry_after_ms("Tue, 14 Nov 2023 22:13:30 GMT", now), 10000);
  BL_CHECK_INT(net_retry_after_ms("Tue, 14 Nov 2023 22:00:00 GMT", now), 0);
  bl__http_opts o = BL__HTTP_OPTS_INIT;
  o.base_delay_ms = 100;
  o.max_delay_ms = 1000;
  for (int i = 0; i < 50; i++) {
    long d1 = net_backoff_ms(&o, 1, -1), d3 = net_backoff_ms(&o, 3, -1),
         d9 = net_backoff_ms(&o, 9, -1);
    BL_CHECK(d1 >= 50 && d1 <= 100);
    BL_CHECK(d3 >= 200 && d3 <= 400);
    BL_CHECK(d9 >= 500 && d9 <= 1000);
    BL_CHECK_INT(net_backoff_ms(&o, 1, 5000), 5000);
  }
}

/* The debug trace shows headers but never the token. */
static void test_net_http__debug_redacts_token(void) {
  ts_response script[] = {{401, NULL, NULL, 0, 0}, {200, NULL, "ok", 0, 0}};
  ts_server *s = ts_start(script, 2);
  BL_REQUIRE(s);
  tok_state tok = {0, 0};
  bl__http_client *c = new_client(s, &tok);
  BL_REQUIRE(c);
  FILE *trace = tmpfile();
  BL_REQUIRE(trace);
  fflush(stderr);
  int saved = dup(2);
  BL_REQUIRE(saved >= 0);
  dup2(fileno(trace), 2);
  setenv("BACKLESS_HTTP_DEBUG", "1", 1);
  bl__http_request r = {0};
  r.url = "x";
  int rc = bl__http_perform(c, &r);
  unsetenv("BACKLESS_HTTP_DEBUG");
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  BL_CHECK_INT(rc, BL_OK);
  char buf[16384];
  rewind(trace);
  size_t n = fread(buf, 1, sizeof buf - 1, trace);
  buf[n] = '\0';
  BL_CHECK(strstr(buf, "> GET /api/x") != NULL);
  BL_CHECK(strstr(buf, "Authorization: [redacted]") != NULL);
  BL_CHECK(strstr(buf, "secret") == NULL);
  fclose(trace);
  bl__http_request_clear(&r);
  bl__http_client_free(c);
  ts_stop(s);
}

static int failing_token(char *buf, size_t size, int refresh, void *payload) {
  (void)buf, (void)size, (void)refresh, (void)payload;
  return -1;
}

static void test_net_http__token_callback_fails(void) {
  bl__http_opts o = BL__HTTP_OPTS_INIT;
  o.base_url = "https://127.0.0.1:9/api";
  o.token = failing_token;
  bl__http_client *c = NULL;
  BL_REQUIRE(bl__http_client_new(&c, &o) == BL_OK);
  bl__http_request r = {0};
  r.url = "x";
  BL_CHECK_INT(bl__http_perform(c, &r), BL_EAUTH);
  BL_CHECK(strstr(r.errmsg, "token") != NULL);
  BL_CHECK_INT(bl__http_request_count(c), 0);
  bl__http_request_clear(&r);
  bl__http_client_free(c);
  bl__http_opts bad = BL__HTTP_OPTS_INIT;
  bad.max_attempts = 0;
  BL_CHECK_INT(bl__http_client_new(&c, &bad), BL_EMISUSE);
  BL_CHECK(c == NULL);
}

static const bl_test_case cases[] = {
    BL_TEST(test_net_http__roundtrip),
    BL_TEST(test_net_http__range_header),
    BL_TEST(test_net_http__memory_body_and_methods),
    BL_TEST(test_net_http__basic_auth),
    BL_TEST(test_net_http__401_refresh),
    BL_TEST(test_net_http__401_twice),
    BL_TEST(test_net_http__retry_after),
    BL_TEST(test_net_http__503_then_ok),
    BL_TEST(test_net_http__exhausted),
    BL_TEST(test_net_http__plain_http_refused),
    BL_TEST(test_net_http__timeout),
    BL_TEST(test_net_http__connection_refused),
    BL_TEST(test_net_http__run_many),
    BL_TEST(test_net_http__retry_after_parsing),
    BL_TEST(test_net_http__debug_redacts_token),
    BL_TEST(test_net_http__token_callback_fails),
};

BL_TEST_MAIN(cases)
