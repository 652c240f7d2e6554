/*
 * server.h — a scripted HTTP/1.1 server on 127.0.0.1 for the net tests.
 *
 * Answers the k-th request it receives with script[k] (the last entry once
 * the script is spent), after the entry's delay; every answer closes the
 * connection. It records each request (method, target, headers, body) and
 * the largest number of connections open at once (counted from accept to
 * the answer, after which the connection is closed).
 */
#ifndef BL_TEST_NET_SERVER_H
#define BL_TEST_NET_SERVER_H

#include <stddef.h>

typedef struct ts_response {
  int status;
  const char *headers; /* extra "Name: value\r\n" lines, or NULL */
  const char *body;    /* or NULL */
  int delay_ms;
  size_t body_len;     /* 0: strlen(body) */
} ts_response;

typedef struct ts_request {
  char method[16];
  char target[512];
  char *headers; /* the raw header block */
  char *body;
  size_t body_len;
} ts_request;

typedef struct ts_server ts_server;

/* Starts the server on a free port; script is borrowed until ts_stop. */
ts_server *ts_start(const ts_response *script, size_t n);
int ts_port(const ts_server *s);
size_t ts_count(ts_server *s);
/* Request i (borrowed; valid until ts_stop). */
const ts_request *ts_request_at(ts_server *s, size_t i);
int ts_max_concurrent(ts_server *s);
/* Stops the server and frees it with what it recorded. */
void ts_stop(ts_server *s);

#endif
