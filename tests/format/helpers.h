/*
 * helpers.h — shared by the changeset format tests: writing changes to a
 * memory buffer, reading a buffer back into owned copies, comparing.
 */
#ifndef BL_TEST_FORMAT_HELPERS_H
#define BL_TEST_FORMAT_HELPERS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>

#include "backless.h"
#include "format/changeset.h"

#define FMT_DEVICE "0f8e3f52-9c1d-4b7a-8e2f-3a5b6c7d8e9f"

/* A change read back, owning its bytes (c points into buf). */
typedef struct fmt_change {
  bl_cs_change c;
  unsigned char *buf;
} fmt_change;

/* What a read delivered. The stop_* fields make the callbacks fail. */
typedef struct fmt_collect {
  bl_cs_header h;
  int header_calls;
  int changes_before_header; /* on_changes ran before on_header: a bug */
  fmt_change *ch;
  size_t n, cap;
  size_t *batches; /* size of each on_changes call */
  size_t nbatches, cap_batches;
  int stop_header_rc;   /* on_header returns this when non-zero */
  size_t stop_at_batch; /* on_changes returns stop_rc at this call (1-based), 0 = never */
  int stop_rc;
} fmt_collect;

/* A valid header: changeset 1 of FMT_DEVICE, schema 1, db_versions [0, 9]. */
bl_cs_header fmt_header(void);

/* Writes a file with header h and changes c[0..n) into a malloc'ed buffer
 * (NUL-terminated; *len without the NUL). NULL if any call failed. */
char *fmt_write(const bl_cs_header *h, const bl_cs_change *c, size_t n, size_t *len);

/* A FILE reading p[0..n) (n may be 0). */
FILE *fmt_open_mem(const void *p, size_t n);

/* Reads p[0..n) with bl_cs_read into col (which must be zeroed or hold only
 * stop_* settings). */
int fmt_read(const void *p, size_t n, size_t batch, fmt_collect *col, char **err);
void fmt_collect_free(fmt_collect *col);

/* 1 when a and b are the same change, value bits included (-0.0 != 0.0). */
int fmt_change_eq(const bl_cs_change *a, const bl_cs_change *b);

/* A change with the given value and site, and fixed other fields. */
bl_cs_change fmt_change_of(bl_cs_value v, const unsigned char *site);

bl_cs_value fmt_null(void);
bl_cs_value fmt_int(int64_t i);
bl_cs_value fmt_real(double f);
bl_cs_value fmt_text(const char *p, int n);
bl_cs_value fmt_blob(const void *p, int n);

#endif
