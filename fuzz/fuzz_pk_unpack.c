/*
 * fuzz_pk_unpack.c — libFuzzer target for the packed primary key format
 * (src/crdt/pack.c): bl__unpack on arbitrary bytes, and when it accepts
 * them, the round trip through bl__pack_values.
 *
 * Properties checked (abort() on violation, so libFuzzer reports a crash):
 *   1. bl__unpack never reads outside the buffer (ASan) and either fails
 *      with a message or returns values that lie inside the buffer.
 *   2. Repacking the values gives bytes y that unpack again to the same
 *      values, and packing those gives y again (a fixed point).
 *   3. When the input is canonical (every length the smallest the format
 *      allows, as cr-sqlite writes it, and no NaN, which SQLite turns into
 *      NULL), y is byte-identical to the input.
 *   4. bl__compare_values is antisymmetric and reflexive on the values.
 *
 * Values become sqlite3_value's by binding them to "SELECT ?1, ?2, ..." on
 * an in-memory database, as they would reach crsql_pack_columns.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/crdt.h"

#define FZ_MAX 255

static sqlite3 *fz_db;
static sqlite3_stmt *fz_select[FZ_MAX + 1]; /* "SELECT ?1..?n", by n */

static void fz_fail(const char *what) {
  fprintf(stderr, "fuzz_pk_unpack: %s\n", what);
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (sqlite3_open(":memory:", &fz_db) != SQLITE_OK) fz_fail("sqlite3_open");
  return 0;
}

static sqlite3_stmt *fz_stmt(int n) {
  if (fz_select[n]) return fz_select[n];
  sqlite3_str *s = sqlite3_str_new(NULL);
  sqlite3_str_appendall(s, "SELECT ");
  for (int i = 1; i <= n; i++) sqlite3_str_appendf(s, "%s?%d", i > 1 ? ", " : "", i);
  char *sql = sqlite3_str_finish(s);
  if (!sql || sqlite3_prepare_v2(fz_db, sql, -1, &fz_select[n], NULL) != SQLITE_OK)
    fz_fail("prepare");
  sqlite3_free(sql);
  return fz_select[n];
}

/* Smallest byte count of an unsigned quantity, as the format stores it. */
static int fz_min_len(uint64_t v) {
  int n = 0;
  while (v) {
    n++;
    v >>= 8;
  }
  return n;
}

/* 1 when the buffer is exactly what the packer would write for its values. */
static int fz_canonical(const uint8_t *p, const bl_pkval *v, int n) {
  size_t off = 1;
  for (int i = 0; i < n; i++) {
    int type = p[off] & 7, len = p[off] >> 3;
    off++;
    switch (type) {
      case BL_T_INTEGER:
        if (len != fz_min_len((uint64_t)v[i].i)) return 0;
        off += (size_t)len;
        break;
      case BL_T_FLOAT:
        if (len != 0 || isnan(v[i].r)) return 0;
        off += 8;
        break;
      case BL_T_TEXT:
      case BL_T_BLOB:
        if (len != fz_min_len((uint64_t)(uint32_t)v[i].n)) return 0;
        off += (size_t)len + (size_t)v[i].n;
        break;
      default:
        if (len != 0) return 0;
        break;
    }
  }
  return 1;
}

/* Equality of unpacked values, with NaN equal to NULL (SQLite stores a NaN
 * as NULL, so a packed NaN comes back as a packed NULL). */
static int fz_same(const bl_pkval *a, const bl_pkval *b) {
  int ta = a->type == BL_T_FLOAT && isnan(a->r) ? BL_T_NULL : a->type;
  int tb = b->type == BL_T_FLOAT && isnan(b->r) ? BL_T_NULL : b->type;
  if (ta != tb) return 0;
  switch (ta) {
    case BL_T_INTEGER: return a->i == b->i;
    case BL_T_FLOAT: return memcmp(&a->r, &b->r, sizeof a->r) == 0;
    case BL_T_TEXT:
    case BL_T_BLOB: return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, (size_t)a->n) == 0);
    default: return 1;
  }
}

static int fz_sign(int x) { return (x > 0) - (x < 0); }

/* Packs n unpacked values through sqlite3_value's. Returns the buffer
 * (sqlite3_free it) and its length. */
static unsigned char *fz_repack(const bl_pkval *v, int n, int *out_len) {
  unsigned char *out = NULL;
  if (n == 0) {
    if (bl__pack_values(0, NULL, &out, out_len) != SQLITE_OK) fz_fail("bl__pack_values");
    return out;
  }
  sqlite3_stmt *stmt = fz_stmt(n);
  sqlite3_value *vals[FZ_MAX];
  for (int i = 0; i < n; i++)
    if (bl__bind_pkval(stmt, i + 1, &v[i]) != SQLITE_OK) fz_fail("bind");
  if (sqlite3_step(stmt) != SQLITE_ROW) fz_fail("step");
  for (int i = 0; i < n; i++) vals[i] = sqlite3_column_value(stmt, i);

  /* Property 4, on neighbouring values. */
  for (int i = 0; i < n; i++) {
    if (bl__compare_values(vals[i], vals[i]) != 0) fz_fail("compare: value != itself");
    if (i > 0 && fz_sign(bl__compare_values(vals[i - 1], vals[i])) !=
                     -fz_sign(bl__compare_values(vals[i], vals[i - 1])))
      fz_fail("compare: not antisymmetric");
  }

  if (bl__pack_values(n, vals, &out, out_len) != SQLITE_OK) fz_fail("bl__pack_values");
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bl_pkval v1[FZ_MAX], v2[FZ_MAX];
  int n1 = 0, n2 = 0, len1 = 0, len2 = 0;
  const char *err = NULL;
  if (size > 1 << 20) return 0;

  if (bl__unpack(data, (int)size, v1, FZ_MAX, &n1, &err) != SQLITE_OK) {
    if (!err) fz_fail("unpack failed without a message");
    return 0;
  }
  for (int i = 0; i < n1; i++) {
    int blobby = v1[i].type == BL_T_TEXT || v1[i].type == BL_T_BLOB;
    if (blobby && (v1[i].n < 0 || v1[i].p < data || v1[i].p + v1[i].n > data + size))
      fz_fail("unpacked value points outside the input");
  }

  unsigned char *y = fz_repack(v1, n1, &len1);
  if (fz_canonical(data, v1, n1) && (len1 != (int)size || memcmp(y, data, size) != 0))
    fz_fail("canonical input did not round-trip byte for byte");

  if (bl__unpack(y, len1, v2, FZ_MAX, &n2, &err) != SQLITE_OK) fz_fail("repacked bytes rejected");
  if (n2 != n1) fz_fail("repacked value count differs");
  for (int i = 0; i < n1; i++)
    if (!fz_same(&v1[i], &v2[i])) fz_fail("repacked value differs");

  unsigned char *z = fz_repack(v2, n2, &len2);
  if (len2 != len1 || memcmp(y, z, (size_t)len1) != 0) fz_fail("repacking is not a fixed point");

  sqlite3_free(y);
  sqlite3_free(z);
  return 0;
}
