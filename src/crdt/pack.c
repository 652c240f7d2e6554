/*
 * pack.c — the packed-columns format of primary keys, byte for byte as
 * cr-sqlite 0.16 writes it, and the value ordering used by merge tie-breaks.
 *
 * Format: one byte N (number of values), then per value a type byte whose
 * low 3 bits are the SQLite type (1 integer, 2 real, 3 text, 4 blob, 5 null)
 * and whose high 5 bits give the byte length L of a following big-endian
 * integer:
 *   integer  L bytes of the value (0 bytes for 0; values with any of the top
 *            32 bits set use 5..8 bytes; negative values always use 8)
 *   real     8 bytes, IEEE-754 big-endian (L is 0)
 *   text     L bytes of length, then the bytes
 *   blob     L bytes of length, then the bytes
 *   null     nothing
 * Unpacking reads the L-byte integer unsigned (no sign extension), which is
 * what cr-sqlite does; with the rule above every value round-trips.
 */
#include <string.h>

#include "crdt/crdt.h"

/* Bytes needed for a 32-bit quantity, as cr-sqlite counts them. */
static int pack_len32(uint32_t v) {
  if (v & 0xFF000000u) return 4;
  if (v & 0x00FF0000u) return 3;
  if (v & 0x0000FF00u) return 2;
  if (v & 0x000000FFu) return 1;
  return 0;
}

static int pack_len64(sqlite3_int64 sv) {
  uint64_t v = (uint64_t)sv;
  if (v & 0xFF00000000000000ull) return 8;
  if (v & 0x00FF000000000000ull) return 7;
  if (v & 0x0000FF0000000000ull) return 6;
  if (v & 0x000000FF00000000ull) return 5;
  return pack_len32((uint32_t)(v & 0xFFFFFFFFu));
}

static unsigned char *pack_put_be(unsigned char *p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    p[i] = (unsigned char)(v & 0xFF);
    v >>= 8;
  }
  return p + n;
}

int bl__pack_values(int argc, sqlite3_value **argv, unsigned char **out, int *out_len) {
  *out = NULL;
  *out_len = 0;
  if (argc < 0 || argc > 255) return SQLITE_ABORT;

  /* First pass: size. */
  sqlite3_int64 size = 1;
  for (int i = 0; i < argc; i++) {
    switch (sqlite3_value_type(argv[i])) {
      case SQLITE_INTEGER: size += 1 + pack_len64(sqlite3_value_int64(argv[i])); break;
      case SQLITE_FLOAT: size += 9; break;
      case SQLITE_TEXT: {
        int n = sqlite3_value_bytes(argv[i]);
        size += 1 + pack_len32((uint32_t)n) + n;
        break;
      }
      case SQLITE_BLOB: {
        int n = sqlite3_value_bytes(argv[i]);
        size += 1 + pack_len32((uint32_t)n) + n;
        break;
      }
      default: size += 1; break;
    }
  }
  if (size > 0x7FFFFFFF) return SQLITE_TOOBIG;

  unsigned char *buf = sqlite3_malloc64((sqlite3_uint64)(size > 0 ? size : 1));
  if (!buf) return SQLITE_NOMEM;
  unsigned char *p = buf;
  *p++ = (unsigned char)argc;
  for (int i = 0; i < argc; i++) {
    sqlite3_value *v = argv[i];
    switch (sqlite3_value_type(v)) {
      case SQLITE_INTEGER: {
        sqlite3_int64 x = sqlite3_value_int64(v);
        int n = pack_len64(x);
        *p++ = (unsigned char)((n << 3) | BL_T_INTEGER);
        p = pack_put_be(p, (uint64_t)x, n);
        break;
      }
      case SQLITE_FLOAT: {
        double d = sqlite3_value_double(v);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        *p++ = BL_T_FLOAT;
        p = pack_put_be(p, bits, 8);
        break;
      }
      case SQLITE_TEXT:
      case SQLITE_BLOB: {
        int is_text = sqlite3_value_type(v) == SQLITE_TEXT;
        const void *data = is_text ? (const void *)sqlite3_value_text(v) : sqlite3_value_blob(v);
        int n = sqlite3_value_bytes(v);
        int ln = pack_len32((uint32_t)n);
        *p++ = (unsigned char)((ln << 3) | (is_text ? BL_T_TEXT : BL_T_BLOB));
        p = pack_put_be(p, (uint64_t)(uint32_t)n, ln);
        if (n > 0) memcpy(p, data, (size_t)n);
        p += n;
        break;
      }
      default: *p++ = BL_T_NULL; break;
    }
  }
  *out = buf;
  *out_len = (int)(p - buf);
  return SQLITE_OK;
}

int bl__unpack(const unsigned char *buf, int len, bl_pkval *out, int max, int *count,
               const char **err) {
  *count = 0;
  if (!buf || len < 1) {
    *err = "packed primary key is empty";
    return SQLITE_ERROR;
  }
  int n = buf[0];
  if (n > max) {
    *err = "packed primary key has more values than the table's primary key";
    return SQLITE_ERROR;
  }
  const unsigned char *p = buf + 1, *end = buf + len;
  for (int i = 0; i < n; i++) {
    if (p >= end) {
      *err = "packed primary key is truncated";
      return SQLITE_ERROR;
    }
    int type = *p & 0x07, ilen = *p >> 3;
    p++;
    bl_pkval *v = &out[i];
    memset(v, 0, sizeof *v);
    v->type = type;
    switch (type) {
      case BL_T_INTEGER:
      case BL_T_TEXT:
      case BL_T_BLOB: {
        if (ilen > 8 || (type != BL_T_INTEGER && ilen > 4)) {
          *err = "packed primary key has an invalid length byte";
          return SQLITE_ERROR;
        }
        if (end - p < ilen) {
          *err = "packed primary key is truncated";
          return SQLITE_ERROR;
        }
        uint64_t x = 0;
        for (int k = 0; k < ilen; k++) x = (x << 8) | p[k];
        p += ilen;
        if (type == BL_T_INTEGER) {
          v->i = (sqlite3_int64)x;
        } else {
          if (x > (uint64_t)(end - p)) {
            *err = "packed primary key is truncated";
            return SQLITE_ERROR;
          }
          v->p = p;
          v->n = (int)x;
          p += x;
        }
        break;
      }
      case BL_T_FLOAT: {
        if (end - p < 8) {
          *err = "packed primary key is truncated";
          return SQLITE_ERROR;
        }
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++) bits = (bits << 8) | p[k];
        memcpy(&v->r, &bits, sizeof v->r);
        p += 8;
        break;
      }
      case BL_T_NULL: break;
      default:
        *err = "packed primary key has an unknown type byte";
        return SQLITE_ERROR;
    }
  }
  if (p != end) {
    *err = "packed primary key has trailing bytes";
    return SQLITE_ERROR;
  }
  *count = n;
  return SQLITE_OK;
}

int bl__bind_pkval(sqlite3_stmt *stmt, int idx, const bl_pkval *v) {
  switch (v->type) {
    case BL_T_INTEGER: return sqlite3_bind_int64(stmt, idx, v->i);
    case BL_T_FLOAT: return sqlite3_bind_double(stmt, idx, v->r);
    case BL_T_TEXT: return sqlite3_bind_text(stmt, idx, (const char *)v->p, v->n, SQLITE_TRANSIENT);
    case BL_T_BLOB:
      if (v->n == 0) return sqlite3_bind_zeroblob(stmt, idx, 0);
      return sqlite3_bind_blob(stmt, idx, v->p, v->n, SQLITE_TRANSIENT);
    default: return sqlite3_bind_null(stmt, idx);
  }
}

/* SQLite's type codes order: INTEGER 1, FLOAT 2, TEXT 3, BLOB 4, NULL 5.
 * cr-sqlite compares (r_type - l_type) so that NULL sorts lowest. */
int bl__compare_values(sqlite3_value *l, sqlite3_value *r) {
  int lt = sqlite3_value_type(l), rt = sqlite3_value_type(r);
  if (lt != rt) return rt - lt;
  switch (lt) {
    case SQLITE_INTEGER: {
      sqlite3_int64 a = sqlite3_value_int64(l), b = sqlite3_value_int64(r);
      return a < b ? -1 : a > b ? 1 : 0;
    }
    case SQLITE_FLOAT: {
      double a = sqlite3_value_double(l), b = sqlite3_value_double(r);
      return a < b ? -1 : a > b ? 1 : 0;
    }
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      const void *a = lt == SQLITE_TEXT ? (const void *)sqlite3_value_text(l) : sqlite3_value_blob(l);
      int na = sqlite3_value_bytes(l);
      const void *b = lt == SQLITE_TEXT ? (const void *)sqlite3_value_text(r) : sqlite3_value_blob(r);
      int nb = sqlite3_value_bytes(r);
      int m = na < nb ? na : nb;
      int c = m > 0 ? memcmp(a, b, (size_t)m) : 0;
      if (c != 0) return c < 0 ? -1 : 1;
      return na < nb ? -1 : na > nb ? 1 : 0;
    }
    default: return 0;
  }
}
