/*
 * server.c — the scripted test server (see server.h): an accept thread
 * polling the listening socket, one thread per connection.
 */
#define _POSIX_C_SOURCE 200809L

#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TS_MAX_CONN 256
#define TS_MAX_REQ 256

struct ts_server {
  const ts_response *script;
  size_t nscript;
  int fd, port;
  _Atomic int stop;
  pthread_t acceptor;
  pthread_mutex_t mu;
  pthread_t conns[TS_MAX_CONN];
  size_t nconns;
  ts_request reqs[TS_MAX_REQ];
  size_t nreqs, served;
  int concurrent, max_concurrent;
};

typedef struct ts_conn {
  ts_server *s;
  int fd;
} ts_conn;

static void ts_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int ts_send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads one request; 0 on success. */
static int ts_read_request(ts_server *s, int fd, ts_request *rq) {
  size_t cap = 8192, len = 0;
  char *buf = malloc(cap);
  char *end = NULL;
  if (!buf) return -1;
  while (!end) {
    if (len + 1 >= cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) goto fail;
      buf = nb;
    }
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) == 0) {
      if (s->stop) goto fail;
      continue;
    }
    ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
    if (r <= 0) goto fail;
    len += (size_t)r;
    buf[len] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  size_t hlen = (size_t)(end - buf) + 4;
  if (sscanf(buf, "%15s %511s", rq->method, rq->target) != 2) goto fail;
  size_t clen = 0;
  for (char *h = buf; h && h < end; h = strstr(h, "\r\n"), h = h ? h + 2 : NULL)
    if (strncasecmp(h, "Content-Length:", 15) == 0) clen = strtoul(h + 15, NULL, 10);
  rq->headers = malloc(hlen + 1);
  rq->body = malloc(clen + 1);
  if (!rq->headers || !rq->body) goto fail;
  memcpy(rq->headers, buf, hlen);
  rq->headers[hlen] = '\0';
  size_t have = len - hlen < clen ? len - hlen : clen;
  memcpy(rq->body, buf + hlen, have);
  while (have < clen) {
    ssize_t r = recv(fd, rq->body + have, clen - have, 0);
    if (r <= 0) goto fail;
    have += (size_t)r;
  }
  rq->body[clen] = '\0';
  rq->body_len = clen;
  free(buf);
  return 0;
fail:
  free(buf);
  return -1;
}

static void *ts_conn_main(void *arg) {
  ts_conn *cn = arg;
  ts_server *s = cn->s;
  ts_request rq;
  memset(&rq, 0, sizeof rq);
  if (ts_read_request(s, cn->fd, &rq) != 0) {
    free(rq.headers);
    free(rq.body);
    pthread_mutex_lock(&s->mu);
    s->concurrent--;
    pthread_mutex_unlock(&s->mu);
    goto out;
  }
  pthread_mutex_lock(&s->mu);
  size_t k = s->served++;
  const ts_response *a = &s->script[k < s->nscript ? k : s->nscript - 1];
  if (s->nreqs < TS_MAX_REQ) s->reqs[s->nreqs++] = rq;
  else free(rq.headers), free(rq.body);
  pthread_mutex_unlock(&s->mu);

  for (int waited = 0; waited < a->delay_ms && !s->stop; waited += 10) ts_sleep_ms(10);

  pthread_mutex_lock(&s->mu);
  s->concurrent--;
  pthread_mutex_unlock(&s->mu);
  size_t blen = a->body ? (a->body_len ? a->body_len : strlen(a->body)) : 0;
  char head[2048];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d Scripted\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                   a->status, blen, a->headers ? a->headers : "");
  if (n > 0 && (size_t)n < sizeof head && ts_send_all(cn->fd, head, (size_t)n) == 0 && blen)
    ts_send_all(cn->fd, a->body, blen);
  shutdown(cn->fd, SHUT_WR);
  char sink[256];
  struct pollfd p = {cn->fd, POLLIN, 0};
  while (poll(&p, 1, 500) > 0 && recv(cn->fd, sink, sizeof sink, 0) > 0) {
  }
out:
  close(cn->fd);
  free(cn);
  return NULL;
}

static void *ts_accept_main(void *arg) {
  ts_server *s = arg;
  while (!s->stop) {
    struct pollfd p = {s->fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int fd = accept(s->fd, NULL, NULL);
    if (fd < 0) continue;
    ts_conn *cn = malloc(sizeof *cn);
    pthread_mutex_lock(&s->mu);
    int room = s->nconns < TS_MAX_CONN;
    pthread_mutex_unlock(&s->mu);
    if (!cn || !room) {
      free(cn);
      close(fd);
      continue;
    }
    cn->s = s;
    cn->fd = fd;
    /* A connection counts from its accept until its answer goes out: every
     * answer closes it, so the client cannot use it for anything more. */
    pthread_mutex_lock(&s->mu);
    if (++s->concurrent > s->max_concurrent) s->max_concurrent = s->concurrent;
    pthread_mutex_unlock(&s->mu);
    pthread_t t;
    if (pthread_create(&t, NULL, ts_conn_main, cn) != 0) {
      pthread_mutex_lock(&s->mu);
      s->concurrent--;
      pthread_mutex_unlock(&s->mu);
      close(fd);
      free(cn);
      continue;
    }
    pthread_mutex_lock(&s->mu);
    s->conns[s->nconns++] = t;
    pthread_mutex_unlock(&s->mu);
  }
  return NULL;
}

ts_server *ts_start(const ts_response *script, size_t n) {
  ts_server *s = calloc(1, sizeof *s);
  if (!s || n == 0) goto fail;
  s->script = script;
  s->nscript = n;
  pthread_mutex_init(&s->mu, NULL);
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (s->fd < 0) goto fail;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 64) != 0 ||
      getsockname(s->fd, (struct sockaddr *)&a, &al) != 0)
    goto fail;
  s->port = ntohs(a.sin_port);
  if (pthread_create(&s->acceptor, NULL, ts_accept_main, s) != 0) goto fail;
  return s;
fail:
  if (s && s->fd > 0) close(s->fd);
  free(s);
  return NULL;
}

int ts_port(const ts_server *s) { return s->port; }

size_t ts_count(ts_server *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->nreqs;
  pthread_mutex_unlock(&s->mu);
  return n;
}

const ts_request *ts_request_at(ts_server *s, size_t i) {
  pthread_mutex_lock(&s->mu);
  const ts_request *r = i < s->nreqs ? &s->reqs[i] : NULL;
  pthread_mutex_unlock(&s->mu);
  return r;
}

int ts_max_concurrent(ts_server *s) {
  pthread_mutex_lock(&s->mu);
  int m = s->max_concurrent;
  pthread_mutex_unlock(&s->mu);
  return m;
}

void ts_stop(ts_server *s) {
  if (!s) return;
  s->stop = 1;
  pthread_join(s->acceptor, NULL);
  for (size_t i = 0; i < s->nconns; i++) pthread_join(s->conns[i], NULL);
  close(s->fd);
  for (size_t i = 0; i < s->nreqs; i++) {
    free(s->reqs[i].headers);
    free(s->reqs[i].body);
  }
  pthread_mutex_destroy(&s->mu);
  free(s);
}
