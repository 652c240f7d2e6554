/*
 * cs_internal.h — pieces shared by the changeset writer, reader and name
 * helpers (src/format/cs_codec.c): strict UTF-8 and UUID checks, site-id
 * hex, base64, the textual forms of reals and integers, and the site table
 * that maps 16-byte site ids to their index in a file.
 *
 * Nothing here allocates except the site table; every function is pure and
 * thread-safe.
 */
#ifndef BL_FORMAT_CS_INTERNAL_H
#define BL_FORMAT_CS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* The largest integer a JSON number may carry in a changeset value:
 * 2^53 - 1, the largest a double (a JavaScript number) holds exactly. */
#define BL__CS_SAFE_INT 9007199254740991LL

/* 1 when p[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF); NUL bytes are allowed. */
int bl__cs_utf8_valid(const unsigned char *p, size_t n);

/* 1 when s[0..n) is a lowercase UUID, 8-4-4-4-12 hex digits. */
int bl__cs_is_uuid(const char *s, size_t n);

/* Site ids as 32 lowercase hex digits. decode returns 1 and fills id, or 0
 * when s[0..n) is not exactly 32 lowercase hex digits. */
void bl__cs_hex_encode16(const unsigned char id[16], char out[33]);
int bl__cs_hex_decode16(const char *s, size_t n, unsigned char id[16]);

/* Base64, standard alphabet with padding (libsodium's ORIGINAL variant).
 * bl__cs_b64_size(n) is the buffer size encoding n bytes needs, NUL
 * included. encode writes the NUL-terminated text and returns its length.
 * decode accepts only canonical base64 (padding present, unused bits zero)
 * of s[0..n) and writes at most n / 4 * 3 bytes to out; it returns 1 and
 * sets *out_len, or 0. */
size_t bl__cs_b64_size(size_t n);
size_t bl__cs_b64_encode(char *out, size_t out_size, const unsigned char *p, size_t n);
int bl__cs_b64_decode(const char *s, size_t n, unsigned char *out, size_t *out_len);

/* Reals as text. format writes "%.17g" (with '.' as decimal point whatever
 * the locale), "inf" or "-inf" into buf (at least BL__CS_REAL_BUF bytes)
 * and returns the length, or -1 for a NaN. parse accepts "inf", "-inf" and
 * JSON number syntax of at most 64 characters whose value is finite; it
 * returns 1 and sets *out, or 0. */
#define BL__CS_REAL_BUF 40
int bl__cs_real_format(double d, char *buf);
int bl__cs_real_parse(const char *s, size_t n, double *out);

/* Integers as text. bl__cs_int_parse reads the canonical decimal form
 * printf("%lld") gives ("-?(0|[1-9][0-9]*)", no "-0"). bl__cs_json_int
 * reads a JSON number as yajl passes it: 0 for "-0", and a number with a
 * fraction or exponent is not an integer. Both return 1 and set *out, 0
 * when the text is not an integer, -1 when it is one outside int64. */
int bl__cs_int_parse(const char *s, size_t n, int64_t *out);
int bl__cs_json_int(const char *s, size_t n, int64_t *out);

/* The sites of one file, in order of first appearance, with a hash index.
 * Zero-initialise; free with bl__cs_sites_free. ids stays valid until the
 * next add (which may move it). */
typedef struct bl__cs_sites {
  unsigned char (*ids)[16];
  size_t n, cap;
  uint32_t *slots; /* index + 1, 0 = empty; nslots is a power of two */
  size_t nslots;
} bl__cs_sites;

/* Index of `id`, or -1. */
int64_t bl__cs_sites_find(const bl__cs_sites *t, const unsigned char id[16]);
/* Appends `id` (which must not be present). BL_OK or BL_ENOMEM. */
int bl__cs_sites_add(bl__cs_sites *t, const unsigned char id[16]);
void bl__cs_sites_free(bl__cs_sites *t);

#endif /* BL_FORMAT_CS_INTERNAL_H */
