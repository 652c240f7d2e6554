/*
 * changeset_writer.c — writes a changeset or snapshot file (docs/FORMAT.md)
 * with yajl's generator, one change at a time, straight to a FILE.
 *
 * Two generators share one print callback that fwrite()s to the file:
 *   - `g` writes the enclosing object: the header keys, "changes": [ ... ]
 *     and "count";
 *   - `gc` writes one change as a top-level array and is reset after each.
 * Between the two we write the array's separators ourselves ("\n" before
 * the first change, ",\n" before the others, "\n" before "]"), so every
 * change sits on a line of its own and appending one touches no other line.
 * (A single generator would insert the commas itself, at the start of the
 * next line.)
 *
 * A change is checked completely before any of it is written, so a change
 * refused with BL_EMISUSE leaves the file as it was. A failed write makes
 * the writer fail from then on (the error is sticky), and finish reports it.
 *
 * Divided into: output plumbing; checks; values; the public functions.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "backless.h"
#include "format/changeset.h"
#include "format/cs_internal.h"
#include "util/errmsg.h"

struct bl_cs_writer {
  FILE *fp;
  yajl_gen g;  /* the enclosing object */
  yajl_gen gc; /* one change, reset after each */
  bl__cs_sites sites;
  int64_t count;
  int err;       /* sticky: BL_EIO after a failed write, BL_ERROR after a generator error */
  int finished;  /* bl_cs_writer_finish was called */
  char *scratch; /* base64 and number text */
  size_t scratch_size;
};

/* ------------------------------------------------------------------ output */

static void writer_print(void *ctx, const char *s, size_t n) {
  bl_cs_writer *w = ctx;
  if (w->err || n == 0) return;
  if (fwrite(s, 1, n, w->fp) != n) w->err = BL_EIO;
}

static void writer_raw(bl_cs_writer *w, const char *s) { writer_print(w, s, strlen(s)); }

/* Records a generator failure. yajl only fails here on a sequence of calls
 * that is not valid JSON, i.e. a bug in this file, hence BL_ERROR. */
static void writer_gen(bl_cs_writer *w, yajl_gen_status st) {
  if (st != yajl_gen_status_ok && !w->err) w->err = BL_ERROR;
}

static void writer_str(bl_cs_writer *w, yajl_gen g, const char *s, size_t n) {
  writer_gen(w, yajl_gen_string(g, (const unsigned char *)s, n));
}

static void writer_cstr(bl_cs_writer *w, yajl_gen g, const char *s) {
  writer_str(w, g, s, strlen(s));
}

/* Makes scratch at least `size` bytes. BL_OK or BL_ENOMEM. */
static int writer_scratch(bl_cs_writer *w, size_t size) {
  if (size <= w->scratch_size) return BL_OK;
  char *p = realloc(w->scratch, size);
  if (!p) return BL_ENOMEM;
  w->scratch = p;
  w->scratch_size = size;
  return BL_OK;
}

/* ------------------------------------------------------------------ checks */

/* 1 when s[0..n) is a name a reader accepts: non-empty UTF-8 without NUL
 * (table and column names reach SQL and C strings). */
static int writer_name_ok(const char *s, int n) {
  return s && n > 0 && !memchr(s, '\0', (size_t)n) &&
         bl__cs_utf8_valid((const unsigned char *)s, (size_t)n);
}

static int writer_check_header(const bl_cs_header *h) {
  if (h->format_version != BL_FORMAT_VERSION)
    return bl__set_tls_error(BL_EMISUSE,
                             "changeset header: format_version is %d, this build writes %d",
                             h->format_version, BL_FORMAT_VERSION);
  if (h->kind != BL_CS_CHANGESET && h->kind != BL_CS_SNAPSHOT)
    return bl__set_tls_error(BL_EMISUSE,
                             "changeset header: kind must be BL_CS_CHANGESET or BL_CS_SNAPSHOT");
  if (memchr(h->device, '\0', sizeof h->device) == NULL ||
      !bl__cs_is_uuid(h->device, strlen(h->device)))
    return bl__set_tls_error(BL_EMISUSE, "changeset header: device must be a lowercase UUID");
  if (h->sequence < 1)
    return bl__set_tls_error(BL_EMISUSE, "changeset header: sequence must be >= 1");
  if (h->schema_version < 1)
    return bl__set_tls_error(BL_EMISUSE, "changeset header: schema_version must be >= 1");
  if (h->db_version_min < 0 || h->db_version_min > h->db_version_max)
    return bl__set_tls_error(BL_EMISUSE,
                             "changeset header: db_versions must satisfy 0 <= min <= max");
  return BL_OK;
}

static int writer_check_change(const bl_cs_change *c) {
  if (!c) return bl__set_tls_error(BL_EMISUSE, "change: NULL");
  if (!writer_name_ok(c->table, c->table_len))
    return bl__set_tls_error(BL_EMISUSE, "change: table must be non-empty UTF-8 without NUL");
  if (!c->pk || c->pk_len <= 0)
    return bl__set_tls_error(BL_EMISUSE, "change: pk must be non-empty");
  if (!writer_name_ok(c->cid, c->cid_len))
    return bl__set_tls_error(BL_EMISUSE, "change: cid must be non-empty UTF-8 without NUL");
  const bl_cs_value *v = &c->val;
  switch (v->type) {
    case SQLITE_NULL:
    case SQLITE_INTEGER:
      break;
    case SQLITE_FLOAT:
      if (isnan(v->f))
        return bl__set_tls_error(BL_EMISUSE, "change: val is a NaN, which SQLite never stores");
      break;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      if (v->n < 0 || (v->n > 0 && !v->p))
        return bl__set_tls_error(BL_EMISUSE, "change: val has a negative length or no bytes");
      break;
    default:
      return bl__set_tls_error(BL_EMISUSE, "change: val has unknown type %d", v->type);
  }
  if (c->col_version < 0 || c->db_version < 0 || c->cl < 0 || c->seq < 0)
    return bl__set_tls_error(BL_EMISUSE,
                             "change: col_version, db_version, cl and seq must be >= 0");
  if (!c->site_id) return bl__set_tls_error(BL_EMISUSE, "change: site_id is NULL");
  return BL_OK;
}

/* ------------------------------------------------------------------ values */

/* Writes {"<tag>": "<base64 of p[0..n)>"} with gc; scratch must hold
 * bl__cs_b64_size(n) bytes. */
static void writer_b64_tagged(bl_cs_writer *w, const char *tag, const unsigned char *p, size_t n) {
  size_t len = bl__cs_b64_encode(w->scratch, w->scratch_size, p, n);
  writer_gen(w, yajl_gen_map_open(w->gc));
  writer_cstr(w, w->gc, tag);
  writer_str(w, w->gc, w->scratch, len);
  writer_gen(w, yajl_gen_map_close(w->gc));
}

/* Writes a checked value with gc; scratch must hold the base64 of a text
 * or blob value. */
static void writer_value(bl_cs_writer *w, const bl_cs_value *v) {
  char num[BL__CS_REAL_BUF];
  static const unsigned char empty[1] = {0};
  const unsigned char *p = v->n > 0 ? v->p : empty;
  switch (v->type) {
    case SQLITE_INTEGER:
      if (v->i >= -BL__CS_SAFE_INT && v->i <= BL__CS_SAFE_INT) {
        writer_gen(w, yajl_gen_integer(w->gc, v->i));
      } else {
        /* A JSON reader built on doubles would round these. */
        int n = snprintf(num, sizeof num, "%lld", (long long)v->i);
        writer_gen(w, yajl_gen_map_open(w->gc));
        writer_cstr(w, w->gc, "i");
        writer_str(w, w->gc, num, (size_t)n);
        writer_gen(w, yajl_gen_map_close(w->gc));
      }
      return;
    case SQLITE_FLOAT: {
      int n = bl__cs_real_format(v->f, num); /* not NaN: checked */
      writer_gen(w, yajl_gen_map_open(w->gc));
      writer_cstr(w, w->gc, "r");
      writer_str(w, w->gc, num, (size_t)(n > 0 ? n : 0));
      writer_gen(w, yajl_gen_map_close(w->gc));
      return;
    }
    case SQLITE_TEXT:
      if (bl__cs_utf8_valid(p, (size_t)v->n)) {
        writer_str(w, w->gc, (const char *)p, (size_t)v->n);
        return;
      }
      writer_b64_tagged(w, "t", p, (size_t)v->n);
      return;
    case SQLITE_BLOB:
      writer_b64_tagged(w, "b", p, (size_t)v->n);
      return;
    default:
      writer_gen(w, yajl_gen_null(w->gc));
      return;
  }
}

/* ---------------------------------------------------------------- public */

int bl_cs_writer_open(bl_cs_writer **out, FILE *fp, const bl_cs_header *h) {
  int rc = BL_OK;
  bl_cs_writer *w = NULL;
  if (!out) return bl__set_tls_error(BL_EMISUSE, "bl_cs_writer_open: out is NULL");
  *out = NULL;
  if (!fp || !h) return bl__set_tls_error(BL_EMISUSE, "bl_cs_writer_open: fp and h are required");
  rc = writer_check_header(h);
  if (rc != BL_OK) return rc;

  w = calloc(1, sizeof *w);
  if (!w) return bl__set_tls_error(BL_ENOMEM, "out of memory");
  w->fp = fp;
  w->g = yajl_gen_alloc(NULL);
  w->gc = yajl_gen_alloc(NULL);
  if (!w->g || !w->gc || !yajl_gen_config(w->g, yajl_gen_print_callback, writer_print, w) ||
      !yajl_gen_config(w->gc, yajl_gen_print_callback, writer_print, w)) {
    rc = bl__set_tls_error(BL_ENOMEM, "out of memory");
    goto done;
  }

  writer_gen(w, yajl_gen_map_open(w->g));
  writer_cstr(w, w->g, "format");
  writer_cstr(w, w->g, BL_FORMAT_NAME);
  writer_cstr(w, w->g, "version");
  writer_gen(w, yajl_gen_integer(w->g, BL_FORMAT_VERSION));
  writer_cstr(w, w->g, "kind");
  writer_cstr(w, w->g, h->kind == BL_CS_SNAPSHOT ? "snapshot" : "changeset");
  writer_cstr(w, w->g, "device");
  writer_cstr(w, w->g, h->device);
  writer_cstr(w, w->g, "sequence");
  writer_gen(w, yajl_gen_integer(w->g, h->sequence));
  writer_cstr(w, w->g, "schema_version");
  writer_gen(w, yajl_gen_integer(w->g, h->schema_version));
  writer_cstr(w, w->g, "db_versions");
  writer_gen(w, yajl_gen_array_open(w->g));
  writer_gen(w, yajl_gen_integer(w->g, h->db_version_min));
  writer_gen(w, yajl_gen_integer(w->g, h->db_version_max));
  writer_gen(w, yajl_gen_array_close(w->g));
  writer_cstr(w, w->g, "changes");
  writer_gen(w, yajl_gen_array_open(w->g));
  if (w->err) {
    rc = bl__set_tls_error(w->err, "cannot write the changeset header");
    goto done;
  }
  *out = w;
  w = NULL;

done:
  bl_cs_writer_free(w);
  return rc;
}

int bl_cs_writer_add(bl_cs_writer *w, const bl_cs_change *c) {
  if (!w || w->finished)
    return bl__set_tls_error(BL_EMISUSE, "bl_cs_writer_add: writer is NULL or finished");
  if (w->err) return w->err;
  int rc = writer_check_change(c);
  if (rc != BL_OK) return rc;

  /* Everything that can run out of memory happens before the first byte is
   * written, so ENOMEM leaves the file as it was. The base64 of pk goes
   * through scratch, as do the values after it. */
  size_t need = bl__cs_b64_size((size_t)c->pk_len);
  if (c->val.type == SQLITE_TEXT || c->val.type == SQLITE_BLOB) {
    size_t vneed = bl__cs_b64_size((size_t)c->val.n);
    if (vneed > need) need = vneed;
  }
  if (writer_scratch(w, need) != BL_OK) return bl__set_tls_error(BL_ENOMEM, "out of memory");
  int64_t site = bl__cs_sites_find(&w->sites, c->site_id);
  int new_site = site < 0;
  if (new_site && bl__cs_sites_add(&w->sites, c->site_id) != BL_OK)
    return bl__set_tls_error(BL_ENOMEM, "out of memory");

  writer_raw(w, w->count == 0 ? "\n" : ",\n");
  writer_gen(w, yajl_gen_array_open(w->gc));
  writer_str(w, w->gc, c->table, (size_t)c->table_len);
  size_t len = bl__cs_b64_encode(w->scratch, w->scratch_size, c->pk, (size_t)c->pk_len);
  writer_str(w, w->gc, w->scratch, len);
  writer_str(w, w->gc, c->cid, (size_t)c->cid_len);
  writer_value(w, &c->val);
  writer_gen(w, yajl_gen_integer(w->gc, c->col_version));
  writer_gen(w, yajl_gen_integer(w->gc, c->db_version));
  if (new_site) {
    char hex[33];
    bl__cs_hex_encode16(c->site_id, hex);
    writer_str(w, w->gc, hex, 32);
  } else {
    writer_gen(w, yajl_gen_integer(w->gc, site));
  }
  writer_gen(w, yajl_gen_integer(w->gc, c->cl));
  writer_gen(w, yajl_gen_integer(w->gc, c->seq));
  writer_gen(w, yajl_gen_array_close(w->gc));
  yajl_gen_reset(w->gc, NULL);
  if (w->err) return bl__set_tls_error(w->err, "cannot write change %lld", (long long)w->count);
  w->count++;
  return BL_OK;
}

int bl_cs_writer_finish(bl_cs_writer *w) {
  if (!w || w->finished)
    return bl__set_tls_error(BL_EMISUSE, "bl_cs_writer_finish: writer is NULL or finished");
  w->finished = 1;
  if (w->err) return bl__set_tls_error(w->err, "a write of the changeset failed");
  writer_raw(w, "\n");
  writer_gen(w, yajl_gen_array_close(w->g));
  writer_cstr(w, w->g, "count");
  writer_gen(w, yajl_gen_integer(w->g, w->count));
  writer_gen(w, yajl_gen_map_close(w->g));
  writer_raw(w, "\n");
  if (!w->err && (fflush(w->fp) != 0 || ferror(w->fp))) w->err = BL_EIO;
  if (w->err) return bl__set_tls_error(w->err, "a write of the changeset failed");
  return BL_OK;
}

int64_t bl_cs_writer_count(const bl_cs_writer *w) { return w ? w->count : 0; }

void bl_cs_writer_free(bl_cs_writer *w) {
  if (!w) return;
  if (w->g) yajl_gen_free(w->g);
  if (w->gc) yajl_gen_free(w->gc);
  bl__cs_sites_free(&w->sites);
  free(w->scratch);
  free(w);
}
