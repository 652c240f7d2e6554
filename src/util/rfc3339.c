/*
 * rfc3339.c — the RFC 3339 parser of rfc3339.h.
 */
#include "util/rfc3339.h"

#include <string.h>

#include "backless.h"

int64_t bl__days_from_civil(int64_t y, int64_t m, int64_t d) {
  /* Howard Hinnant's days_from_civil: eras of 400 years, March-based. */
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* n decimal digits at s into *v; 0 when one is not a digit. */
static int rfc3339_digits(const char *s, int n, int *v) {
  *v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    *v = *v * 10 + (s[i] - '0');
  }
  return 1;
}

int bl__rfc3339_parse(const char *s, int64_t *ms) {
  int y, mo, d, h, mi, sec, oh = 0, om = 0;
  *ms = 0;
  if (!s || strlen(s) < 20) return BL_ECORRUPT;
  if (!rfc3339_digits(s, 4, &y) || s[4] != '-' || !rfc3339_digits(s + 5, 2, &mo) || s[7] != '-' ||
      !rfc3339_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !rfc3339_digits(s + 11, 2, &h) || s[13] != ':' || !rfc3339_digits(s + 14, 2, &mi) || s[16] != ':' ||
      !rfc3339_digits(s + 17, 2, &sec))
    return BL_ECORRUPT;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return BL_ECORRUPT;
  const char *p = s + 19;
  int frac = 0;
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9') return BL_ECORRUPT;
    for (int i = 0; *p >= '0' && *p <= '9'; p++, i++)
      if (i < 3) frac = frac * 10 + (*p - '0');
    /* ".5" is 500 ms */
    for (size_t i = strspn(s + 20, "0123456789"); i < 3; i++) frac *= 10;
  }
  int sign = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    sign = *p == '+' ? 1 : -1;
    if (!rfc3339_digits(p + 1, 2, &oh) || p[3] != ':' || !rfc3339_digits(p + 4, 2, &om) || oh > 23 || om > 59)
      return BL_ECORRUPT;
    p += 6;
  } else {
    return BL_ECORRUPT; /* a time without a zone is no instant */
  }
  if (*p) return BL_ECORRUPT;
  int64_t t = bl__days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec;
  t -= sign * ((int64_t)oh * 3600 + (int64_t)om * 60);
  *ms = t * 1000 + frac;
  return BL_OK;
}
