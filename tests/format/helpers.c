/*
 * helpers.c — see helpers.h.
 */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

bl_cs_header fmt_header(void) {
  bl_cs_header h;
  memset(&h, 0, sizeof h);
  h.format_version = BL_FORMAT_VERSION;
  h.kind = BL_CS_CHANGESET;
  memcpy(h.device, FMT_DEVICE, 37);
  h.sequence = 1;
  h.schema_version = 1;
  h.db_version_min = 0;
  h.db_version_max = 9;
  return h;
}

char *fmt_write(const bl_cs_header *h, const bl_cs_change *c, size_t n, size_t *len) {
  char *buf = NULL;
  size_t size = 0;
  FILE *fp = open_memstream(&buf, &size);
  if (!fp) return NULL;
  bl_cs_writer *w = NULL;
  int rc = bl_cs_writer_open(&w, fp, h);
  for (size_t i = 0; rc == BL_OK && i < n; i++) rc = bl_cs_writer_add(w, &c[i]);
  if (rc == BL_OK) rc = bl_cs_writer_finish(w);
  bl_cs_writer_free(w);
  if (fclose(fp) != 0) rc = BL_EIO;
  if (rc != BL_OK) {
    fprintf(stderr, "  fmt_write: %d %s\n", rc, bl_errmsg(NULL));
    free(buf);
    return NULL;
  }
  if (len) *len = size;
  return buf;
}

FILE *fmt_open_mem(const void *p, size_t n) {
  if (n > 0) return fmemopen((void *)p, n, "rb");
  return tmpfile(); /* fmemopen may refuse a size of 0 */
}

static int fmt_on_header(const bl_cs_header *h, void *payload) {
  fmt_collect *col = payload;
  col->h = *h;
  col->header_calls++;
  return col->stop_header_rc;
}

static int fmt_on_changes(const bl_cs_change *changes, size_t n, void *payload) {
  fmt_collect *col = payload;
  if (col->header_calls == 0) col->changes_before_header = 1;
  if (col->nbatches == col->cap_batches) {
    col->cap_batches = col->cap_batches ? col->cap_batches * 2 : 16;
    col->batches = realloc(col->batches, col->cap_batches * sizeof *col->batches);
    if (!col->batches) abort();
  }
  col->batches[col->nbatches++] = n;
  if (col->stop_at_batch && col->nbatches == col->stop_at_batch) return col->stop_rc;
  for (size_t i = 0; i < n; i++) {
    const bl_cs_change *c = &changes[i];
    if (col->n == col->cap) {
      col->cap = col->cap ? col->cap * 2 : 64;
      col->ch = realloc(col->ch, col->cap * sizeof *col->ch);
      if (!col->ch) abort();
    }
    fmt_change *o = &col->ch[col->n++];
    size_t vn = (c->val.type == SQLITE_TEXT || c->val.type == SQLITE_BLOB) ? (size_t)c->val.n : 0;
    size_t total = (size_t)c->table_len + (size_t)c->pk_len + (size_t)c->cid_len + vn + 16;
    o->buf = malloc(total);
    if (!o->buf) abort();
    unsigned char *p = o->buf;
    o->c = *c;
    memcpy(p, c->table, (size_t)c->table_len);
    o->c.table = (const char *)p;
    p += c->table_len;
    memcpy(p, c->pk, (size_t)c->pk_len);
    o->c.pk = p;
    p += c->pk_len;
    memcpy(p, c->cid, (size_t)c->cid_len);
    o->c.cid = (const char *)p;
    p += c->cid_len;
    if (vn) memcpy(p, c->val.p, vn);
    if (c->val.type == SQLITE_TEXT || c->val.type == SQLITE_BLOB) o->c.val.p = p;
    p += vn;
    memcpy(p, c->site_id, 16); /* in buf: col->ch moves as it grows */
    o->c.site_id = p;
  }
  return BL_OK;
}

int fmt_read(const void *p, size_t n, size_t batch, fmt_collect *col, char **err) {
  FILE *fp = fmt_open_mem(p, n);
  if (!fp) abort();
  bl_cs_reader_cb cb = {fmt_on_header, fmt_on_changes, col};
  int rc = bl_cs_read(fp, &cb, batch, err);
  fclose(fp);
  return rc;
}

void fmt_collect_free(fmt_collect *col) {
  for (size_t i = 0; i < col->n; i++) free(col->ch[i].buf);
  free(col->ch);
  free(col->batches);
  memset(col, 0, sizeof *col);
}

int fmt_change_eq(const bl_cs_change *a, const bl_cs_change *b) {
  if (a->table_len != b->table_len || memcmp(a->table, b->table, (size_t)a->table_len) != 0)
    return 0;
  if (a->pk_len != b->pk_len || memcmp(a->pk, b->pk, (size_t)a->pk_len) != 0) return 0;
  if (a->cid_len != b->cid_len || memcmp(a->cid, b->cid, (size_t)a->cid_len) != 0) return 0;
  if (a->val.type != b->val.type) return 0;
  switch (a->val.type) {
    case SQLITE_INTEGER:
      if (a->val.i != b->val.i) return 0;
      break;
    case SQLITE_FLOAT:
      if (memcmp(&a->val.f, &b->val.f, sizeof(double)) != 0) return 0;
      break;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      if (a->val.n != b->val.n) return 0;
      if (a->val.n && memcmp(a->val.p, b->val.p, (size_t)a->val.n) != 0) return 0;
      break;
    default:
      break;
  }
  return a->col_version == b->col_version && a->db_version == b->db_version && a->cl == b->cl &&
         a->seq == b->seq && memcmp(a->site_id, b->site_id, 16) == 0;
}

static const unsigned char fmt_pk[] = {0x01, 0x09, 0x01}; /* crsql_pack_columns(1) */

bl_cs_change fmt_change_of(bl_cs_value v, const unsigned char *site) {
  bl_cs_change c;
  memset(&c, 0, sizeof c);
  c.table = "todos";
  c.table_len = 5;
  c.pk = fmt_pk;
  c.pk_len = sizeof fmt_pk;
  c.cid = "title";
  c.cid_len = 5;
  c.val = v;
  c.col_version = 1;
  c.db_version = 5;
  c.site_id = site;
  c.cl = 1;
  c.seq = 0;
  return c;
}

bl_cs_value fmt_null(void) {
  bl_cs_value v = {SQLITE_NULL, 0, 0, NULL, 0};
  return v;
}
bl_cs_value fmt_int(int64_t i) {
  bl_cs_value v = {SQLITE_INTEGER, i, 0, NULL, 0};
  return v;
}
bl_cs_value fmt_real(double f) {
  bl_cs_value v = {SQLITE_FLOAT, 0, f, NULL, 0};
  return v;
}
bl_cs_value fmt_text(const char *p, int n) {
  bl_cs_value v = {SQLITE_TEXT, 0, 0, (const unsigned char *)p, n};
  return v;
}
bl_cs_value fmt_blob(const void *p, int n) {
  bl_cs_value v = {SQLITE_BLOB, 0, 0, (const unsigned char *)p, n};
  return v;
}
