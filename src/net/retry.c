/*
 * retry.c — the retry policy: which statuses are transient, how long to wait
 * (exponential backoff with jitter, never less than Retry-After), and the
 * parsing of Retry-After (delta-seconds or an HTTP date, RFC 9110 10.2.3).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "net/net_internal.h"

int net_status_retryable(long status) {
  /* 501 and 505 say the server will never do it: not worth a retry. */
  return status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

/* Google answers a quota overrun with 403 and a reason in the JSON body. */
int net_body_says_rate_limit(const char *body, size_t len) {
  static const char *const needles[] = {"rateLimitExceeded", "userRateLimitExceeded",
                                        "RateLimitExceeded", NULL};
  if (!body) return 0;
  for (int i = 0; needles[i]; i++) {
    size_t nl = strlen(needles[i]);
    for (size_t p = 0; p + nl <= len; p++)
      if (memcmp(body + p, needles[i], nl) == 0) return 1;
  }
  return 0;
}

/* Returns the wait Retry-After asks for in ms, or -1 when value is neither a
 * number of seconds nor a date. A date in the past means "now" (0). */
long net_retry_after_ms(const char *value, time_t now) {
  while (*value == ' ' || *value == '\t') value++;
  if (isdigit((unsigned char)*value)) {
    char *end;
    errno = 0;
    unsigned long s = strtoul(value, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
    if (*end || errno) return -1;
    if (s > LONG_MAX / 1000) s = LONG_MAX / 1000;
    return (long)s * 1000;
  }
  time_t when = curl_getdate(value, NULL);
  if (when == (time_t)-1) return -1;
  if (when <= now) return 0;
  double d = difftime(when, now) * 1000.0;
  return d > (double)LONG_MAX ? LONG_MAX : (long)d;
}

/* The wait before attempt number `attempt` + 1 (attempt counts from 1):
 * base * 2^(attempt-1), capped at max_delay, with "equal jitter" (a uniform
 * pick in [d/2, d]) so clients hit by the same outage spread out; never less
 * than what the server asked for in Retry-After. */
long net_backoff_ms(const bl__http_opts *o, int attempt, long retry_after_ms) {
  long d = o->base_delay_ms > 0 ? o->base_delay_ms : 0;
  for (int i = 1; i < attempt && d < o->max_delay_ms; i++) d *= 2;
  if (d > o->max_delay_ms) d = o->max_delay_ms;
  if (d > 1) d = d / 2 + (long)randombytes_uniform((uint32_t)(d / 2 + 1));
  if (retry_after_ms > d) d = retry_after_ms;
  return d;
}
