/*
 * cs_codec.c — the small encodings of the changeset format (see
 * cs_internal.h and docs/FORMAT.md): strict UTF-8, UUIDs and site-id hex,
 * base64, reals and integers as text, and the per-file site table.
 *
 * Reals go through "%.17g" and strtod, which both follow LC_NUMERIC; the
 * file always uses '.', so the locale's decimal point is swapped in and out
 * here (an application that calls setlocale(LC_ALL, "") in, say, a German
 * locale would otherwise write "0,5").
 */
#include <locale.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"
#include "format/cs_internal.h"

/* ------------------------------------------------------------------ UTF-8 */

int bl__cs_utf8_valid(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0)
        lo = 0xA0; /* overlong below U+0800 */
      else if (c == 0xED)
        hi = 0x9F; /* surrogates U+D800..DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0)
        lo = 0x90; /* overlong below U+10000 */
      else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    } else {
      return 0; /* continuation byte, C0/C1 (overlong) or F5..FF */
    }
    if (n - i <= need) return 0;
    if (p[i + 1] < lo || p[i + 1] > hi) return 0;
    for (size_t k = 2; k <= need; k++)
      if ((p[i + k] & 0xC0) != 0x80) return 0;
    i += need + 1;
  }
  return 1;
}

/* ------------------------------------------------------------ UUID and hex */

static int codec_hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1; /* uppercase is not accepted: names and ids are compared as text */
}

int bl__cs_is_uuid(const char *s, size_t n) {
  if (n != 36) return 0;
  for (size_t i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return 0;
    } else if (codec_hexval(s[i]) < 0) {
      return 0;
    }
  }
  return 1;
}

void bl__cs_hex_encode16(const unsigned char id[16], char out[33]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    out[2 * i] = digits[id[i] >> 4];
    out[2 * i + 1] = digits[id[i] & 15];
  }
  out[32] = '\0';
}

int bl__cs_hex_decode16(const char *s, size_t n, unsigned char id[16]) {
  if (n != 32) return 0;
  for (int i = 0; i < 16; i++) {
    int h = codec_hexval(s[2 * i]), l = codec_hexval(s[2 * i + 1]);
    if (h < 0 || l < 0) return 0;
    id[i] = (unsigned char)(h << 4 | l);
  }
  return 1;
}

/* ------------------------------------------------------------------ base64 */

size_t bl__cs_b64_size(size_t n) {
  return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
}

size_t bl__cs_b64_encode(char *out, size_t out_size, const unsigned char *p, size_t n) {
  sodium_bin2base64(out, out_size, p, n, sodium_base64_VARIANT_ORIGINAL);
  return strlen(out);
}

/* Sextet of each base64 character, 64 for any other byte. */
static const unsigned char cs_b64_value[256] = {
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64, 64, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
    64,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 64,
    64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
};

/* A table decoder rather than libsodium's constant-time one: nothing here
 * is secret, and decoding keys was a sixth of a pull. Same strictness:
 * length a multiple of 4, padding only at the end, unused bits zero. */
int bl__cs_b64_decode(const char *s, size_t n, unsigned char *out, size_t *out_len) {
  if (n % 4 != 0) return 0;
  size_t pad = 0;
  if (n >= 4 && s[n - 1] == '=') pad = s[n - 2] == '=' ? 2 : 1;
  const unsigned char *in = (const unsigned char *)s;
  size_t o = 0, full = pad ? n - 4 : n;
  for (size_t i = 0; i < full; i += 4) {
    unsigned a = cs_b64_value[in[i]], b = cs_b64_value[in[i + 1]], c = cs_b64_value[in[i + 2]],
             d = cs_b64_value[in[i + 3]];
    if ((a | b | c | d) & 64) return 0;
    unsigned v = a << 18 | b << 12 | c << 6 | d;
    out[o++] = (unsigned char)(v >> 16);
    out[o++] = (unsigned char)(v >> 8);
    out[o++] = (unsigned char)v;
  }
  if (pad) {
    unsigned a = cs_b64_value[in[n - 4]], b = cs_b64_value[in[n - 3]];
    unsigned c = pad == 1 ? cs_b64_value[in[n - 2]] : 0;
    if ((a | b | c) & 64) return 0;
    unsigned v = a << 18 | b << 12 | c << 6;
    if (pad == 2 && (v & 0xffff)) return 0; /* unused bits must be zero */
    if (pad == 1 && (v & 0xff)) return 0;
    out[o++] = (unsigned char)(v >> 16);
    if (pad == 1) out[o++] = (unsigned char)(v >> 8);
  }
  *out_len = o;
  return 1;
}

/* ------------------------------------------------------------------- reals */

int bl__cs_real_format(double d, char *buf) {
  if (isnan(d)) return -1;
  if (isinf(d)) {
    const char *s = d > 0 ? "inf" : "-inf";
    size_t n = strlen(s);
    memcpy(buf, s, n + 1);
    return (int)n;
  }
  int n = snprintf(buf, BL__CS_REAL_BUF, "%.17g", d);
  if (n < 0 || n >= BL__CS_REAL_BUF) return -1; /* cannot happen for a finite double */
  const char *dp = localeconv()->decimal_point;
  if (dp && dp[0] && strcmp(dp, ".") != 0) {
    char *at = strstr(buf, dp);
    if (at) {
      size_t dl = strlen(dp);
      *at = '.';
      memmove(at + 1, at + dl, strlen(at + dl) + 1);
      n -= (int)(dl - 1);
    }
  }
  return n;
}

/* 1 when s[0..n) is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int codec_json_number_syntax(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  if (i >= n) return 0;
  if (s[i] == '0') {
    i++;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  } else {
    return 0;
  }
  if (i < n && s[i] == '.') {
    i++;
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == start) return 0;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == start) return 0;
  }
  return i == n;
}

int bl__cs_real_parse(const char *s, size_t n, double *out) {
  if (n == 3 && memcmp(s, "inf", 3) == 0) {
    *out = INFINITY;
    return 1;
  }
  if (n == 4 && memcmp(s, "-inf", 4) == 0) {
    *out = -INFINITY;
    return 1;
  }
  if (n > 64 || !codec_json_number_syntax(s, n)) return 0;
  /* Copy, putting the locale's decimal point in place of '.'. */
  char tmp[64 + 16];
  const char *dp = localeconv()->decimal_point;
  if (!dp || !dp[0]) dp = ".";
  size_t dl = strlen(dp);
  if (dl > 15) return 0; /* no real locale has such a decimal point */
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '.') {
      memcpy(tmp + k, dp, dl);
      k += dl;
    } else {
      tmp[k++] = s[i];
    }
  }
  tmp[k] = '\0';
  char *end = NULL;
  double d = strtod(tmp, &end); /* ERANGE on underflow still gives the nearest value */
  if (end != tmp + k || isinf(d) || isnan(d)) return 0;
  *out = d;
  return 1;
}

/* ---------------------------------------------------------------- integers */

/* Digits s[i..n) (at least one, nothing else) as an int64 with sign `neg`:
 * 1, 0 (not digits) or -1 (out of range). */
static int codec_digits(const char *s, size_t i, size_t n, int neg, int64_t *out) {
  if (i >= n) return 0;
  uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t v = 0;
  int overflow = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (limit - d) / 10)
      overflow = 1; /* keep scanning: syntax first */
    else
      v = v * 10 + d;
  }
  if (overflow) return -1;
  if (neg)
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  else
    *out = (int64_t)v;
  return 1;
}

int bl__cs_int_parse(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  if (n > 0 && s[0] == '-') {
    neg = 1;
    i = 1;
  }
  if (i >= n) return 0;
  if (s[i] == '0' && (n - i > 1 || neg)) return 0; /* leading zero or "-0" */
  return codec_digits(s, i, n, neg, out);
}

int bl__cs_json_int(const char *s, size_t n, int64_t *out) {
  if (!codec_json_number_syntax(s, n)) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') return 0;
  int neg = n > 0 && s[0] == '-';
  return codec_digits(s, (size_t)neg, n, neg, out);
}

/* ------------------------------------------------------------- site table */

static uint32_t codec_site_hash(const unsigned char id[16]) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (int i = 0; i < 16; i++) {
    h ^= id[i];
    h *= 1099511628211ull;
  }
  return (uint32_t)(h ^ (h >> 32));
}

int64_t bl__cs_sites_find(const bl__cs_sites *t, const unsigned char id[16]) {
  if (t->nslots == 0) return -1;
  size_t mask = t->nslots - 1;
  for (size_t s = codec_site_hash(id) & mask;; s = (s + 1) & mask) {
    uint32_t v = t->slots[s];
    if (v == 0) return -1;
    if (memcmp(t->ids[v - 1], id, 16) == 0) return (int64_t)(v - 1);
  }
}

static void codec_sites_insert_slot(uint32_t *slots, size_t nslots, const unsigned char id[16],
                                    uint32_t value) {
  size_t mask = nslots - 1;
  size_t s = codec_site_hash(id) & mask;
  while (slots[s]) s = (s + 1) & mask;
  slots[s] = value;
}

int bl__cs_sites_add(bl__cs_sites *t, const unsigned char id[16]) {
  if (t->n >= UINT32_MAX - 1) return BL_ENOMEM;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    void *ids = realloc(t->ids, cap * sizeof t->ids[0]);
    if (!ids) return BL_ENOMEM;
    t->ids = ids;
    t->cap = cap;
  }
  /* Keep the load factor at or below 1/2. */
  if ((t->n + 1) * 2 > t->nslots) {
    size_t nslots = t->nslots ? t->nslots * 2 : 16;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return BL_ENOMEM;
    for (size_t i = 0; i < t->n; i++)
      codec_sites_insert_slot(slots, nslots, t->ids[i], (uint32_t)(i + 1));
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
  }
  memcpy(t->ids[t->n], id, 16);
  codec_sites_insert_slot(t->slots, t->nslots, id, (uint32_t)(t->n + 1));
  t->n++;
  return BL_OK;
}

void bl__cs_sites_free(bl__cs_sites *t) {
  free(t->ids);
  free(t->slots);
  memset(t, 0, sizeof *t);
}
