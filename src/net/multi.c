/*
 * multi.c — running requests over the curl multi interface.
 *
 * bl__http_run_many keeps at most K transfers in flight on the client's
 * multi handle (whose connection cache outlives the call, so a backend's
 * next batch reuses the connections); a request waiting out its backoff
 * does not hold a slot. bl__http_perform is a batch of one.
 */
#include <stdlib.h>

#include "backless.h"
#include "net/net_internal.h"
#include "util/errmsg.h"

/* Starts request i's next attempt; 1 when it is now in flight. */
static int multi_start(bl__http_client *c, net_xfer *x) {
  if (net_xfer_start(x) != BL_OK) return 0;
  if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
    net_set_error(x, "curl_multi_add_handle failed");
    x->req->rc = BL_ERROR;
    x->state = NET_DONE;
    return 0;
  }
  return 1;
}

int bl__http_run_many(bl__http_client *c, bl__http_request **reqs, size_t n,
                      size_t max_in_flight) {
  int rc = BL_OK;
  net_xfer *xs = NULL;
  size_t pending = 0, active = 0, fresh = 0; /* fresh: never started */
  if (!c || (n && !reqs))
    return bl__set_tls_error(BL_EMISUSE, "http: NULL client or request list");
  if (n == 0) return BL_OK;
  if (max_in_flight == 0) max_in_flight = 4;
  if (!(xs = calloc(n, sizeof *xs))) return bl__set_tls_error(BL_ENOMEM, "http: out of memory");
  for (size_t i = 0; i < n; i++)
    if (net_xfer_init(&xs[i], c, reqs[i]) == BL_OK) pending++, fresh++;
  /* Idle connections kept for reuse: no more than may be in flight. */
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)max_in_flight);

  while (pending) {
    int64_t now = net_now_ms(), next_due = -1;
    for (size_t i = 0; i < n && active < max_in_flight; i++) {
      net_xfer *x = &xs[i];
      if (x->state == NET_NEW || (x->state == NET_WAITING && x->due_ms <= now)) {
        if (x->state == NET_NEW) fresh--;
        if (multi_start(c, x)) active++;
        else pending--;
      }
    }
    for (size_t i = 0; i < n; i++)
      if (xs[i].state == NET_WAITING && (next_due < 0 || xs[i].due_ms < next_due))
        next_due = xs[i].due_ms;
    if (!pending) break;

    int running = 0;
    CURLMcode mc = curl_multi_perform(c->multi, &running);
    if (mc != CURLM_OK) {
      rc = bl__set_tls_error(BL_ERROR, "http: curl_multi_perform: %s", curl_multi_strerror(mc));
      goto done;
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
      if (m->msg != CURLMSG_DONE) continue;
      net_xfer *x = NULL;
      CURLcode res = m->data.result;
      CURL *e = m->easy_handle;
      curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
      curl_multi_remove_handle(c->multi, e);
      active--;
      if (net_xfer_finish(x, res)) pending--;
      else if (next_due < 0 || x->due_ms < next_due) next_due = x->due_ms;
    }
    if (!pending) break;

    /* Sleep until a socket wakes us or, when a slot is free, until the
     * next backoff expires; a never-started request and a free slot mean
     * no sleep at all. With every slot busy only sockets matter. */
    int64_t wait = 1000;
    if (active < max_in_flight) {
      if (fresh) {
        wait = 0;
      } else if (next_due >= 0) {
        int64_t d = next_due - net_now_ms();
        if (d < wait) wait = d < 0 ? 0 : d;
      }
    }
    if (wait > 0) {
      mc = curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL);
      if (mc != CURLM_OK) {
        rc = bl__set_tls_error(BL_ERROR, "http: curl_multi_poll: %s", curl_multi_strerror(mc));
        goto done;
      }
    }
  }
  for (size_t i = 0; i < n; i++)
    if (reqs[i]->rc != BL_OK) {
      rc = bl__set_tls_error(reqs[i]->rc, "%s", reqs[i]->errmsg);
      break;
    }
done:
  for (size_t i = 0; i < n; i++) {
    if (xs[i].state == NET_ACTIVE) curl_multi_remove_handle(c->multi, xs[i].easy);
    if (xs[i].state != NET_DONE) {
      /* the batch broke down before this request was done */
      reqs[i]->rc = rc;
      net_set_error(&xs[i], "%s", bl__tls_errmsg());
    }
    net_xfer_cleanup(&xs[i]);
  }
  free(xs);
  return rc;
}

int bl__http_perform(bl__http_client *c, bl__http_request *r) {
  if (!r) return bl__set_tls_error(BL_EMISUSE, "http: NULL request");
  return bl__http_run_many(c, &r, 1, 1);
}
