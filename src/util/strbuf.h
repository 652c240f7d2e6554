/*
 * strbuf.h — a growing NUL-terminated string for building URLs, queries and
 * request bodies (internal).
 *
 * Appends never fail on the spot: a failed allocation sets `oom`, later
 * appends do nothing, and bl__strbuf_take returns NULL — so a builder
 * checks for memory once, at the end.
 *
 *   bl__strbuf s = {0};
 *   bl__strbuf_add(&s, "/items/");
 *   bl__strbuf_add_pct(&s, name, "");
 *   char *url = bl__strbuf_take(&s);  // malloc'ed, or NULL: out of memory
 */
#ifndef BL_UTIL_STRBUF_H
#define BL_UTIL_STRBUF_H

#include <stddef.h>

typedef struct bl__strbuf {
  char *p; /* NULL until the first append */
  size_t len, cap;
  int oom;
} bl__strbuf;

void bl__strbuf_addn(bl__strbuf *s, const char *t, size_t n);
void bl__strbuf_add(bl__strbuf *s, const char *t);

/* Appends t percent-encoded (RFC 3986): the unreserved characters
 * (ALPHA DIGIT - . _ ~) and those of `keep` (e.g. "/") stay as they are,
 * every other byte becomes %XX with upper-case hex. */
void bl__strbuf_add_pct(bl__strbuf *s, const char *t, const char *keep);

/* The string built (malloc'ed; "" when nothing was added), or NULL when
 * memory ran out — then the buffer is freed. Either way `s` is reset. */
char *bl__strbuf_take(bl__strbuf *s);

/* Frees what was built and resets `s`. */
void bl__strbuf_free(bl__strbuf *s);

#endif
