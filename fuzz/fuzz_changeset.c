/*
 * fuzz_changeset.c — libFuzzer target for the changeset / snapshot file
 * format (src/format): bl_cs_read on arbitrary bytes and, when it accepts
 * them, the round trip through the writer.
 *
 * Properties checked (abort() on violation, so libFuzzer reports a crash):
 *   1. bl_cs_read never reads out of bounds or leaks (ASan), and either
 *      returns BL_OK with no message, or BL_ECORRUPT / BL_ESCHEMA with a
 *      one-line message.
 *   2. The outcome does not depend on the batch size: read with batches of
 *      1 and of 5, the return code, the message and the changes are equal.
 *   3. A file that reads is written again by bl_cs_writer (which must
 *      accept everything the reader accepted), and that file reads back to
 *      the same header and changes (values bit for bit).
 *   4. Writing the re-read file gives the same bytes again (the writer's
 *      output is a fixed point).
 *
 * Inputs are files (see fuzz/corpus/fuzz_changeset/ and docs/FORMAT.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"
#include "format/changeset.h"

static void fz_fail(const char *what) {
  fprintf(stderr, "fuzz_changeset: %s\n", what);
  abort();
}

/* A change with its own copy of the bytes. */
typedef struct fz_change {
  bl_cs_change c;
  unsigned char *buf;
} fz_change;

typedef struct fz_file {
  bl_cs_header h;
  int headers;
  fz_change *ch;
  size_t n, cap;
} fz_file;

static int fz_on_header(const bl_cs_header *h, void *payload) {
  fz_file *f = payload;
  f->h = *h;
  f->headers++;
  return BL_OK;
}

static int fz_on_changes(const bl_cs_change *changes, size_t n, void *payload) {
  fz_file *f = payload;
  if (n == 0 || f->headers != 1) fz_fail("on_changes: empty batch or before the header");
  for (size_t i = 0; i < n; i++) {
    const bl_cs_change *c = &changes[i];
    if (f->n == f->cap) {
      f->cap = f->cap ? 2 * f->cap : 16;
      f->ch = realloc(f->ch, f->cap * sizeof *f->ch);
      if (!f->ch) fz_fail("out of memory");
    }
    int has_bytes = c->val.type == SQLITE_TEXT || c->val.type == SQLITE_BLOB;
    size_t vn = has_bytes ? (size_t)c->val.n : 0;
    if (c->table_len <= 0 || c->pk_len <= 0 || c->cid_len <= 0 ||
        (has_bytes && (c->val.n < 0 || !c->val.p)))
      fz_fail("on_changes: a change the reader should have refused");
    if (c->table[c->table_len] != '\0' || c->cid[c->cid_len] != '\0')
      fz_fail("names not NUL-terminated");
    size_t total = (size_t)c->table_len + 1 + (size_t)c->pk_len + (size_t)c->cid_len + 1 + vn + 16;
    fz_change *o = &f->ch[f->n++];
    o->buf = malloc(total);
    if (!o->buf) fz_fail("out of memory");
    o->c = *c;
    unsigned char *p = o->buf;
    memcpy(p, c->table, (size_t)c->table_len + 1);
    o->c.table = (const char *)p;
    p += c->table_len + 1;
    memcpy(p, c->pk, (size_t)c->pk_len);
    o->c.pk = p;
    p += c->pk_len;
    memcpy(p, c->cid, (size_t)c->cid_len + 1);
    o->c.cid = (const char *)p;
    p += c->cid_len + 1;
    if (vn) memcpy(p, c->val.p, vn);
    if (has_bytes) o->c.val.p = p;
    p += vn;
    memcpy(p, c->site_id, 16);
    o->c.site_id = p;
  }
  return BL_OK;
}

static void fz_file_free(fz_file *f) {
  for (size_t i = 0; i < f->n; i++) free(f->ch[i].buf);
  free(f->ch);
  memset(f, 0, sizeof *f);
}

/* Reads p[0..n) with batches of `batch`. */
static int fz_read(const void *p, size_t n, size_t batch, fz_file *f, char **err) {
  FILE *fp = n ? fmemopen((void *)p, n, "rb") : tmpfile();
  if (!fp) fz_fail("fmemopen");
  bl_cs_reader_cb cb = {fz_on_header, fz_on_changes, f};
  int rc = bl_cs_read(fp, &cb, batch, err);
  fclose(fp);
  return rc;
}

static int fz_value_eq(const bl_cs_value *a, const bl_cs_value *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
    case SQLITE_INTEGER:
      return a->i == b->i;
    case SQLITE_FLOAT:
      return memcmp(&a->f, &b->f, sizeof(double)) == 0;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, (size_t)a->n) == 0);
    case SQLITE_NULL:
      return 1;
    default:
      return 0;
  }
}

static int fz_change_eq(const bl_cs_change *a, const bl_cs_change *b) {
  return a->table_len == b->table_len && memcmp(a->table, b->table, (size_t)a->table_len) == 0 &&
         a->pk_len == b->pk_len && memcmp(a->pk, b->pk, (size_t)a->pk_len) == 0 &&
         a->cid_len == b->cid_len && memcmp(a->cid, b->cid, (size_t)a->cid_len) == 0 &&
         fz_value_eq(&a->val, &b->val) && a->col_version == b->col_version &&
         a->db_version == b->db_version && a->cl == b->cl && a->seq == b->seq &&
         memcmp(a->site_id, b->site_id, 16) == 0;
}

static int fz_file_eq(const fz_file *a, const fz_file *b) {
  if (a->headers != b->headers || a->n != b->n) return 0;
  if (a->headers &&
      (a->h.format_version != b->h.format_version || a->h.kind != b->h.kind ||
       strcmp(a->h.device, b->h.device) != 0 || a->h.sequence != b->h.sequence ||
       a->h.schema_version != b->h.schema_version || a->h.db_version_min != b->h.db_version_min ||
       a->h.db_version_max != b->h.db_version_max))
    return 0;
  for (size_t i = 0; i < a->n; i++)
    if (!fz_change_eq(&a->ch[i].c, &b->ch[i].c)) return 0;
  return 1;
}

/* Writes f with the writer into a malloc'ed buffer. */
static char *fz_write(const fz_file *f, size_t *len) {
  char *buf = NULL;
  size_t size = 0;
  FILE *fp = open_memstream(&buf, &size);
  if (!fp) fz_fail("open_memstream");
  bl_cs_writer *w = NULL;
  int rc = bl_cs_writer_open(&w, fp, &f->h);
  for (size_t i = 0; rc == BL_OK && i < f->n; i++) rc = bl_cs_writer_add(w, &f->ch[i].c);
  if (rc == BL_OK) rc = bl_cs_writer_finish(w);
  if (rc == BL_OK && bl_cs_writer_count(w) != (int64_t)f->n) fz_fail("writer count");
  bl_cs_writer_free(w);
  fclose(fp);
  if (rc != BL_OK) {
    fprintf(stderr, "fuzz_changeset: writer: %d %s\n", rc, bl_errmsg(NULL));
    fz_fail("the writer refused what the reader accepted");
  }
  *len = size;
  return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_file a = {0}, b = {0}, c = {0};
  char *err_a = NULL, *err_b = NULL, *err_c = NULL;
  char *out1 = NULL, *out2 = NULL;
  size_t len1 = 0, len2 = 0;

  int rc = fz_read(data, size, 5, &a, &err_a);
  int rc1 = fz_read(data, size, 1, &b, &err_b);
  if (rc != rc1 || (err_a == NULL) != (err_b == NULL) || (err_a && strcmp(err_a, err_b) != 0))
    fz_fail("the outcome depends on the batch size");
  if (rc == BL_OK) {
    if (err_a) fz_fail("a message with BL_OK");
    if (a.headers != 1) fz_fail("on_header not called exactly once");
    if (!fz_file_eq(&a, &b)) fz_fail("the changes depend on the batch size");
  } else {
    if (rc != BL_ECORRUPT && rc != BL_ESCHEMA) fz_fail("unexpected return code");
    if (!err_a || !*err_a || strchr(err_a, '\n')) fz_fail("missing or multi-line message");
    /* Batches of 5 deliver the full batches of what batches of 1 did, or
     * all of it when the error came after the end of "changes". */
    if (a.n != b.n / 5 * 5 && a.n != b.n) fz_fail("batch 5 delivered other than the full batches");
    for (size_t i = 0; i < a.n; i++)
      if (!fz_change_eq(&a.ch[i].c, &b.ch[i].c)) fz_fail("the changes depend on the batch size");
    goto done;
  }

  out1 = fz_write(&a, &len1);
  fz_file_free(&b);
  if (fz_read(out1, len1, 7, &c, &err_c) != BL_OK) {
    fprintf(stderr, "fuzz_changeset: re-read: %s\n", err_c ? err_c : "");
    fz_fail("the writer's output does not read");
  }
  if (!fz_file_eq(&a, &c)) fz_fail("the round trip changed the file's content");
  out2 = fz_write(&c, &len2);
  if (len1 != len2 || memcmp(out1, out2, len1) != 0) fz_fail("writing twice gave different bytes");

done:
  free(err_a);
  free(err_b);
  free(err_c);
  free(out1);
  free(out2);
  fz_file_free(&a);
  fz_file_free(&b);
  fz_file_free(&c);
  return 0;
}
