/*
 * strbuf.c — the growing string of strbuf.h.
 */
#include "util/strbuf.h"

#include <stdlib.h>
#include <string.h>

void bl__strbuf_addn(bl__strbuf *s, const char *t, size_t n) {
  if (s->oom) return;
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 128;
    while (cap < s->len + n + 1) cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p) {
      s->oom = 1;
      return;
    }
    s->p = p;
    s->cap = cap;
  }
  memcpy(s->p + s->len, t, n);
  s->len += n;
  s->p[s->len] = '\0';
}

void bl__strbuf_add(bl__strbuf *s, const char *t) { bl__strbuf_addn(s, t, strlen(t)); }

void bl__strbuf_add_pct(bl__strbuf *s, const char *t, const char *keep) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *t; t++) {
    unsigned char c = (unsigned char)*t;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || (keep && strchr(keep, c))) {
      bl__strbuf_addn(s, t, 1);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      bl__strbuf_addn(s, e, 3);
    }
  }
}

char *bl__strbuf_take(bl__strbuf *s) {
  char *out = NULL;
  if (!s->oom) {
    out = s->p;
    if (!out && (out = malloc(1))) out[0] = '\0';
    s->p = NULL;
  }
  bl__strbuf_free(s);
  return out;
}

void bl__strbuf_free(bl__strbuf *s) {
  free(s->p);
  s->p = NULL;
  s->len = s->cap = 0;
  s->oom = 0;
}
