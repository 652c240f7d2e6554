/*
 * changeset_reader.c — bl_cs_read: reads a changeset or snapshot file
 * (docs/FORMAT.md) with yajl's push parser, in bounded memory.
 *
 * The file is fed to yajl in 64 KiB chunks; yajl calls back with each JSON
 * event and a state machine (rd_state) checks the events against the
 * format as they come. Changes are gathered into a batch whose strings and
 * bytes live in an arena; when the batch is full it goes to on_changes and
 * the arena is reset, so memory depends on the batch size and the largest
 * value, never on the number of changes. Numbers come through yajl_number
 * as text and are parsed here, exactly, as int64.
 *
 * Header errors are not reported at once: a file from a newer format may
 * have keys or values this build does not know, and its "version" may come
 * after them, yet it must fail with the version message (BL_ESCHEMA). So
 * the first header problem is kept and the header is judged when it ends
 * (at "changes"): format first, then version, then the first problem, then
 * missing keys. Errors inside "changes" stop the read at once.
 *
 * Divided into: arena; reader state and errors; header; changes and
 * values; yajl callbacks; bl_cs_read.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "backless.h"
#include "format/changeset.h"
#include "format/cs_internal.h"

#define RD_CHUNK (64 * 1024)
#define RD_ARENA_BLOCK (64 * 1024)
#define RD_MAX_SKIP_DEPTH 64 /* nesting allowed inside an unknown header value */

/* ------------------------------------------------------------------ arena */

typedef struct rd_block {
  struct rd_block *next;
  size_t cap, used;
  unsigned char data[];
} rd_block;

/* Bytes of the current batch. The first block is kept across resets;
 * the others (a batch larger than one block, a large value) are freed. */
typedef struct rd_arena {
  rd_block *head; /* most recent first; the last one is the kept block */
} rd_arena;

static unsigned char *rd_arena_alloc(rd_arena *a, size_t n) {
  rd_block *b = a->head;
  if (b && b->cap - b->used >= n) {
    unsigned char *p = b->data + b->used;
    b->used += n;
    return p;
  }
  size_t cap = n > RD_ARENA_BLOCK ? n : RD_ARENA_BLOCK;
  if (cap > SIZE_MAX - sizeof(rd_block)) return NULL;
  b = malloc(sizeof(rd_block) + cap);
  if (!b) return NULL;
  b->cap = cap;
  b->used = n;
  b->next = a->head;
  a->head = b;
  return b->data;
}

static void rd_arena_reset(rd_arena *a) {
  while (a->head && a->head->next) {
    rd_block *next = a->head->next;
    free(a->head);
    a->head = next;
  }
  if (a->head && a->head->cap > RD_ARENA_BLOCK) { /* a single large value */
    free(a->head);
    a->head = NULL;
  }
  if (a->head) a->head->used = 0;
}

static void rd_arena_free(rd_arena *a) {
  while (a->head) {
    rd_block *next = a->head->next;
    free(a->head);
    a->head = next;
  }
}

/* ----------------------------------------------------- state and errors */

typedef enum rd_state {
  RD_TOP,       /* expecting the top-level '{' */
  RD_KEY,       /* in the top-level object: a key or '}' */
  RD_HDR_VALUE, /* the value of header key `key` */
  RD_DBV,       /* inside "db_versions": [min, max] */
  RD_SKIP,      /* the rest of a header value that was refused or unknown */
  RD_CHANGES,   /* expecting the '[' of "changes" */
  RD_ARRAY,     /* inside "changes": a change's '[' or the closing ']' */
  RD_ITEM,      /* inside a change: item number `item` or ']' */
  RD_TAG_KEY,   /* inside a tagged value {...}: its one key */
  RD_TAG_VALUE, /* the tagged value's string */
  RD_TAG_END,   /* the '}' of a tagged value */
  RD_COUNT,     /* the value of "count" */
  RD_DONE       /* after the top-level '}' */
} rd_state;

/* Header keys, as bits of rd.seen. */
enum {
  RD_K_FORMAT = 1 << 0,
  RD_K_VERSION = 1 << 1,
  RD_K_KIND = 1 << 2,
  RD_K_DEVICE = 1 << 3,
  RD_K_SEQUENCE = 1 << 4,
  RD_K_SCHEMA = 1 << 5,
  RD_K_DBV = 1 << 6
};

static const struct {
  const char *name;
  int bit;
} rd_header_keys[] = {
    {"format", RD_K_FORMAT},   {"version", RD_K_VERSION},   {"kind", RD_K_KIND},
    {"device", RD_K_DEVICE},   {"sequence", RD_K_SEQUENCE}, {"schema_version", RD_K_SCHEMA},
    {"db_versions", RD_K_DBV},
};

static const char *const rd_item_names[9] = {"table",      "pk",   "cid", "val", "col_version",
                                             "db_version", "site", "cl",  "seq"};

typedef struct rd {
  const bl_cs_reader_cb *cb;
  size_t batch;
  rd_state st;
  int depth; /* JSON nesting: 1 inside the top-level object */
  int rc;    /* BL_OK until something stops the read */
  char msg[512];

  /* Header. */
  bl_cs_header h;
  int seen;       /* RD_K_* bits of the keys met */
  int key;        /* the header key whose value comes next (an RD_K_* bit) */
  int format_ok;  /* "format" was "backless" */
  int version_ok; /* "version" was an integer >= 1 */
  int64_t version;
  int hdr_rc; /* the first header problem, BL_ECORRUPT, kept until the header ends */
  char hdr_msg[256];
  int dbv_n; /* items of "db_versions" met */
  int changes_seen, count_seen;

  /* Changes. */
  int64_t index; /* of the change being read (= changes complete so far) */
  int item;      /* of that change: 0..8, 9 when complete */
  char tag;      /* of a tagged value: 'i', 'r', 't' or 'b' */
  bl__cs_sites sites;
  bl_cs_change *changes; /* the batch */
  uint32_t *site_of;     /* the batch's site indexes (ids may move as sites are added) */
  size_t n, cap;
  rd_arena arena;
} rd;

#if defined(__GNUC__)
#define RD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RD_PRINTF(f, a)
#endif
static int rd_fail(rd *r, const char *fmt, ...) RD_PRINTF(2, 3);
static void rd_hdr_problem(rd *r, const char *fmt, ...) RD_PRINTF(2, 3);

/* Appends s[0..n) to buf quoted and made printable, at most 40 bytes of it:
 * messages are one line whatever the file holds. */
static void rd_quote(char *buf, size_t size, const char *s, size_t n) {
  size_t k = 0;
  if (size < 8) return;
  buf[k++] = '"';
  for (size_t i = 0; i < n && k + 6 < size; i++) {
    if (i == 40) {
      memcpy(buf + k, "...", 3);
      k += 3;
      break;
    }
    unsigned char c = (unsigned char)s[i];
    buf[k++] = (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') ? (char)c : '?';
  }
  buf[k++] = '"';
  buf[k] = '\0';
}

/* Stops the read with BL_ECORRUPT and a message; inside "changes" the
 * message names the change. Returns 0, yajl's "cancel". */
static int rd_fail(rd *r, const char *fmt, ...) {
  if (r->rc != BL_OK) return 0;
  r->rc = BL_ECORRUPT;
  size_t k = 0;
  if (r->st == RD_ARRAY || r->st == RD_ITEM || r->st == RD_TAG_KEY || r->st == RD_TAG_VALUE ||
      r->st == RD_TAG_END)
    k = (size_t)snprintf(r->msg, sizeof r->msg, "change %lld: ", (long long)r->index);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->msg + k, sizeof r->msg - k, fmt, ap);
  va_end(ap);
  return 0;
}

/* After a header problem: skip the rest of the value being read (a scalar
 * at depth 1 was all of it). */
static void rd_skip_rest(rd *r) { r->st = r->depth > 1 ? RD_SKIP : RD_KEY; }

/* Keeps the first header problem (BL_ECORRUPT once the header is judged). */
static void rd_hdr_problem(rd *r, const char *fmt, ...) {
  if (r->hdr_rc != BL_OK) return;
  r->hdr_rc = BL_ECORRUPT;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->hdr_msg, sizeof r->hdr_msg, fmt, ap);
  va_end(ap);
}

static int rd_nomem(rd *r) {
  if (r->rc == BL_OK) {
    r->rc = BL_ENOMEM;
    snprintf(r->msg, sizeof r->msg, "out of memory");
  }
  return 0;
}

/* ------------------------------------------------------------------ header */

/* JSON events, as the callbacks pass them to rd_event. */
typedef enum rd_ev {
  RD_EV_NULL,
  RD_EV_BOOL,
  RD_EV_NUMBER,
  RD_EV_STRING,
  RD_EV_KEY,
  RD_EV_START_MAP,
  RD_EV_END_MAP,
  RD_EV_START_ARRAY,
  RD_EV_END_ARRAY
} rd_ev;

/* The header has ended (at "changes", or at a key or '}' that may not come
 * before it): judges it. Returns 1 to go on, 0 to stop. */
static int rd_header_end(rd *r) {
  if (!(r->seen & RD_K_FORMAT)) return rd_fail(r, "not a backless changeset: no \"format\" key");
  if (!r->format_ok)
    return rd_fail(r, "not a backless changeset: \"format\" is not \"" BL_FORMAT_NAME "\"");
  if (r->version_ok && r->version > BL_FORMAT_VERSION) {
    r->rc = BL_ESCHEMA;
    snprintf(r->msg, sizeof r->msg,
             "changeset format version %lld is newer than this build supports (%d)",
             (long long)r->version, BL_FORMAT_VERSION);
    return 0;
  }
  if (r->hdr_rc != BL_OK) return rd_fail(r, "header: %s", r->hdr_msg);
  for (size_t i = 0; i < sizeof rd_header_keys / sizeof rd_header_keys[0]; i++)
    if (!(r->seen & rd_header_keys[i].bit))
      return rd_fail(r, "header: missing \"%s\"", rd_header_keys[i].name);
  r->h.format_version = (int)r->version;
  return 1;
}

/* A key of the top-level object. */
static int rd_top_key(rd *r, const char *s, size_t n) {
  char q[64];
  if (n == 7 && memcmp(s, "changes", 7) == 0) {
    if (r->changes_seen) return rd_fail(r, "duplicate key \"changes\"");
    if (!rd_header_end(r)) return 0;
    r->changes_seen = 1;
    if (r->cb && r->cb->on_header) {
      int rc = r->cb->on_header(&r->h, r->cb->payload);
      if (rc != BL_OK) {
        r->rc = rc;
        snprintf(r->msg, sizeof r->msg, "stopped by on_header (code %d)", rc);
        return 0;
      }
    }
    r->st = RD_CHANGES;
    return 1;
  }
  if (n == 5 && memcmp(s, "count", 5) == 0) {
    if (!r->changes_seen) {
      if (!rd_header_end(r)) return 0;
      return rd_fail(r, "\"count\" before \"changes\"");
    }
    if (r->count_seen) return rd_fail(r, "duplicate key \"count\"");
    r->count_seen = 1;
    r->st = RD_COUNT;
    return 1;
  }
  rd_quote(q, sizeof q, s, n);
  if (r->changes_seen)
    return rd_fail(r, "unexpected key %s after \"changes\" (only \"count\" may follow)", q);
  for (size_t i = 0; i < sizeof rd_header_keys / sizeof rd_header_keys[0]; i++) {
    const char *name = rd_header_keys[i].name;
    if (strlen(name) == n && memcmp(name, s, n) == 0) {
      if (r->seen & rd_header_keys[i].bit) {
        rd_hdr_problem(r, "duplicate key %s", q);
        r->st = RD_SKIP;
        return 1;
      }
      r->seen |= rd_header_keys[i].bit;
      r->key = rd_header_keys[i].bit;
      r->st = RD_HDR_VALUE;
      return 1;
    }
  }
  /* Unknown: an error, unless "version" says the file is newer (judged at
   * the end of the header). */
  rd_hdr_problem(r, "unknown key %s", q);
  r->st = RD_SKIP;
  return 1;
}

/* An int64 from a JSON number: 1 and *v, or 0 (not an integer or out of range). */
static int rd_int(const char *s, size_t n, int64_t *v) { return bl__cs_json_int(s, n, v) == 1; }

/* The value of header key r->key. */
static int rd_header_value(rd *r, rd_ev ev, const char *s, size_t n) {
  int64_t v = 0;
  r->st = RD_KEY; /* unless a container starts below */
  switch (r->key) {
    case RD_K_FORMAT:
      r->format_ok =
          ev == RD_EV_STRING && n == strlen(BL_FORMAT_NAME) && memcmp(s, BL_FORMAT_NAME, n) == 0;
      break;
    case RD_K_VERSION:
      if (ev == RD_EV_NUMBER && rd_int(s, n, &v) && v >= 1) {
        r->version = v;
        r->version_ok = 1;
      } else {
        rd_hdr_problem(r, "version must be an integer >= 1");
      }
      break;
    case RD_K_KIND:
      if (ev == RD_EV_STRING && n == 9 && memcmp(s, "changeset", 9) == 0)
        r->h.kind = BL_CS_CHANGESET;
      else if (ev == RD_EV_STRING && n == 8 && memcmp(s, "snapshot", 8) == 0)
        r->h.kind = BL_CS_SNAPSHOT;
      else
        rd_hdr_problem(r, "kind must be \"changeset\" or \"snapshot\"");
      break;
    case RD_K_DEVICE:
      if (ev == RD_EV_STRING && bl__cs_is_uuid(s, n)) {
        memcpy(r->h.device, s, 36);
        r->h.device[36] = '\0';
      } else {
        rd_hdr_problem(r, "device must be a lowercase UUID");
      }
      break;
    case RD_K_SEQUENCE:
      if (ev == RD_EV_NUMBER && rd_int(s, n, &v) && v >= 1)
        r->h.sequence = v;
      else
        rd_hdr_problem(r, "sequence must be an integer >= 1");
      break;
    case RD_K_SCHEMA:
      if (ev == RD_EV_NUMBER && rd_int(s, n, &v) && v >= 1)
        r->h.schema_version = v;
      else
        rd_hdr_problem(r, "schema_version must be an integer >= 1");
      break;
    case RD_K_DBV:
      if (ev == RD_EV_START_ARRAY) {
        r->dbv_n = 0;
        r->st = RD_DBV;
        return 1;
      }
      rd_hdr_problem(r, "db_versions must be [min, max] with 0 <= min <= max");
      break;
  }
  if (ev == RD_EV_START_MAP || ev == RD_EV_START_ARRAY) rd_skip_rest(r);
  return 1;
}

/* An event inside "db_versions". */
static int rd_dbv(rd *r, rd_ev ev, const char *s, size_t n) {
  static const char msg[] = "db_versions must be [min, max] with 0 <= min <= max";
  int64_t v = 0;
  if (ev == RD_EV_END_ARRAY) {
    if (r->dbv_n != 2 || r->h.db_version_min > r->h.db_version_max) rd_hdr_problem(r, "%s", msg);
    r->st = RD_KEY;
    return 1;
  }
  if (ev != RD_EV_NUMBER || !rd_int(s, n, &v) || v < 0 || r->dbv_n >= 2) {
    rd_hdr_problem(r, "%s", msg);
    rd_skip_rest(r);
    return 1;
  }
  if (r->dbv_n++ == 0)
    r->h.db_version_min = v;
  else
    r->h.db_version_max = v;
  return 1;
}

/* '}' of the top-level object. */
static int rd_top_end(rd *r) {
  if (!r->changes_seen) {
    if (!rd_header_end(r)) return 0;
    return rd_fail(r, "missing \"changes\"");
  }
  if (!r->count_seen) return rd_fail(r, "missing \"count\" after \"changes\"");
  r->st = RD_DONE;
  return 1;
}

/* ------------------------------------------------------- changes, values */

/* Hands the batch to on_changes and empties it. */
static int rd_deliver(rd *r) {
  if (r->n == 0) return 1;
  for (size_t i = 0; i < r->n; i++) r->changes[i].site_id = r->sites.ids[r->site_of[i]];
  if (r->cb && r->cb->on_changes) {
    int rc = r->cb->on_changes(r->changes, r->n, r->cb->payload);
    if (rc != BL_OK) {
      r->rc = rc;
      snprintf(r->msg, sizeof r->msg, "stopped by on_changes (code %d)", rc);
      return 0;
    }
  }
  r->n = 0;
  rd_arena_reset(&r->arena);
  return 1;
}

/* '[' of a change: makes room for it in the batch. */
static int rd_change_start(rd *r) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    if (cap > r->batch) cap = r->batch;
    bl_cs_change *c = realloc(r->changes, cap * sizeof *c);
    if (!c) return rd_nomem(r);
    r->changes = c;
    uint32_t *so = realloc(r->site_of, cap * sizeof *so);
    if (!so) return rd_nomem(r);
    r->site_of = so;
    r->cap = cap;
  }
  memset(&r->changes[r->n], 0, sizeof r->changes[0]);
  r->item = 0;
  r->st = RD_ITEM;
  return 1;
}

/* ']' of a change. */
static int rd_change_end(rd *r) {
  if (r->item != 9) return rd_fail(r, "has %d items, expected 9", r->item);
  r->n++;
  r->index++;
  r->st = RD_ARRAY;
  if (r->n == r->batch) return rd_deliver(r);
  return 1;
}

/* Copies s[0..n) into the arena with a NUL after it. */
static const unsigned char *rd_copy(rd *r, const char *s, size_t n) {
  unsigned char *p = rd_arena_alloc(&r->arena, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* Decodes base64 s[0..n) into the arena (NUL after it): 1, 0 (invalid) or
 * -1 (out of memory). */
static int rd_b64(rd *r, const char *s, size_t n, const unsigned char **out, size_t *len) {
  unsigned char *p = rd_arena_alloc(&r->arena, n / 4 * 3 + 1);
  if (!p) return -1;
  if (!bl__cs_b64_decode(s, n, p, len)) return 0;
  p[*len] = '\0';
  *out = p;
  return 1;
}

/* A table or column name: non-empty UTF-8 without NUL. */
static int rd_name(rd *r, const char *s, size_t n, const char **out, int *len) {
  if (n == 0 || n > INT32_MAX || memchr(s, '\0', n) ||
      !bl__cs_utf8_valid((const unsigned char *)s, n))
    return rd_fail(r, "%s must be a non-empty UTF-8 string without NUL", rd_item_names[r->item]);
  const unsigned char *p = rd_copy(r, s, n);
  if (!p) return rd_nomem(r);
  *out = (const char *)p;
  *len = (int)n;
  return 1;
}

/* The string of a tagged value {"<tag>": "<s>"}. */
static int rd_tagged(rd *r, const char *s, size_t n) {
  bl_cs_value *v = &r->changes[r->n].val;
  size_t len = 0;
  int ok;
  switch (r->tag) {
    case 'i':
      if (bl__cs_int_parse(s, n, &v->i) != 1)
        return rd_fail(r, "val {\"i\": ...} must be a decimal int64 without leading zeros");
      v->type = SQLITE_INTEGER;
      return 1;
    case 'r':
      if (!bl__cs_real_parse(s, n, &v->f))
        return rd_fail(r, "val {\"r\": ...} must be a finite JSON number, \"inf\" or \"-inf\"");
      v->type = SQLITE_FLOAT;
      return 1;
    default: /* 't', 'b' */
      ok = rd_b64(r, s, n, &v->p, &len);
      if (ok < 0) return rd_nomem(r);
      if (!ok) return rd_fail(r, "val {\"%c\": ...} must be base64 with padding", r->tag);
      if (len > INT32_MAX) return rd_fail(r, "val is longer than 2^31-1 bytes");
      v->n = (int)len;
      v->type = r->tag == 't' ? SQLITE_TEXT : SQLITE_BLOB;
      return 1;
  }
}

/* Item 3, val. */
static int rd_val(rd *r, rd_ev ev, const char *s, size_t n) {
  bl_cs_value *v = &r->changes[r->n].val;
  int64_t i = 0;
  int k;
  switch (ev) {
    case RD_EV_NULL:
      v->type = SQLITE_NULL;
      return 1;
    case RD_EV_NUMBER:
      k = bl__cs_json_int(s, n, &i);
      if (k == 0)
        return rd_fail(r,
                       "val is a JSON number with a fraction or exponent; reals are written as "
                       "{\"r\":\"...\"}");
      if (k < 0 || i < -BL__CS_SAFE_INT || i > BL__CS_SAFE_INT)
        return rd_fail(
            r,
            "val is an integer outside +-(2^53-1); such integers are written as {\"i\":\"...\"}");
      v->type = SQLITE_INTEGER;
      v->i = i;
      return 1;
    case RD_EV_STRING:
      if (n > INT32_MAX) return rd_fail(r, "val is longer than 2^31-1 bytes");
      if (!bl__cs_utf8_valid((const unsigned char *)s, n))
        return rd_fail(r, "val is not valid UTF-8; such text is written as {\"t\":\"<base64>\"}");
      if (!(v->p = rd_copy(r, s, n))) return rd_nomem(r);
      v->n = (int)n;
      v->type = SQLITE_TEXT;
      return 1;
    case RD_EV_START_MAP:
      r->st = RD_TAG_KEY;
      return 1;
    default:
      return rd_fail(
          r, "val must be null, a string, an integer or {\"i\"|\"r\"|\"t\"|\"b\": \"...\"}");
  }
}

/* Item 6, site: hex the first time, afterwards the index. */
static int rd_site(rd *r, rd_ev ev, const char *s, size_t n) {
  unsigned char id[16];
  int64_t idx = 0;
  if (ev == RD_EV_STRING) {
    if (!bl__cs_hex_decode16(s, n, id))
      return rd_fail(r, "site must be 32 lowercase hex digits or an index");
    idx = bl__cs_sites_find(&r->sites, id);
    if (idx >= 0)
      return rd_fail(r, "site %.32s was declared before; later changes must use its index %lld", s,
                     (long long)idx);
    if (bl__cs_sites_add(&r->sites, id) != BL_OK) return rd_nomem(r);
    r->site_of[r->n] = (uint32_t)(r->sites.n - 1);
    return 1;
  }
  if (ev == RD_EV_NUMBER && rd_int(s, n, &idx) && idx >= 0) {
    if ((uint64_t)idx >= r->sites.n)
      return rd_fail(r, "site index %lld names no site declared before it (%zu so far)",
                     (long long)idx, r->sites.n);
    r->site_of[r->n] = (uint32_t)idx;
    return 1;
  }
  return rd_fail(r, "site must be 32 lowercase hex digits or an index");
}

/* An event inside a change. */
static int rd_item(rd *r, rd_ev ev, const char *s, size_t n) {
  bl_cs_change *c = &r->changes[r->n];
  int64_t v = 0;
  size_t len = 0;
  int ok;
  if (ev == RD_EV_END_ARRAY) return rd_change_end(r);
  if (r->item >= 9) return rd_fail(r, "has more than 9 items");
  switch (r->item) {
    case 0:
      if (ev != RD_EV_STRING)
        return rd_fail(r, "table must be a non-empty UTF-8 string without NUL");
      if (!rd_name(r, s, n, &c->table, &c->table_len)) return 0;
      break;
    case 1:
      if (ev != RD_EV_STRING) return rd_fail(r, "pk must be a non-empty base64 string");
      ok = rd_b64(r, s, n, &c->pk, &len);
      if (ok < 0) return rd_nomem(r);
      if (!ok || len == 0 || len > INT32_MAX)
        return rd_fail(r, "pk must be a non-empty base64 string");
      c->pk_len = (int)len;
      break;
    case 2:
      if (ev != RD_EV_STRING) return rd_fail(r, "cid must be a non-empty UTF-8 string without NUL");
      if (!rd_name(r, s, n, &c->cid, &c->cid_len)) return 0;
      break;
    case 3:
      if (!rd_val(r, ev, s, n)) return 0;
      if (r->st == RD_TAG_KEY) return 1; /* item counted at the tagged value's '}' */
      break;
    case 6:
      if (!rd_site(r, ev, s, n)) return 0;
      break;
    default: /* 4 col_version, 5 db_version, 7 cl, 8 seq */
      if (ev != RD_EV_NUMBER || !rd_int(s, n, &v) || v < 0)
        return rd_fail(r, "%s must be an integer >= 0", rd_item_names[r->item]);
      if (r->item == 4)
        c->col_version = v;
      else if (r->item == 5)
        c->db_version = v;
      else if (r->item == 7)
        c->cl = v;
      else
        c->seq = v;
      break;
  }
  r->item++;
  return 1;
}

/* ------------------------------------------------------------ the machine */

/* One JSON event. Returns 1 to go on, 0 to stop (r->rc says why). */
static int rd_event(rd *r, rd_ev ev, const char *s, size_t n) {
  char q[64];
  int64_t v = 0;
  if (r->rc != BL_OK) return 0;
  if (ev == RD_EV_START_MAP || ev == RD_EV_START_ARRAY)
    r->depth++;
  else if (ev == RD_EV_END_MAP || ev == RD_EV_END_ARRAY)
    r->depth--;

  switch (r->st) {
    case RD_TOP:
      if (ev != RD_EV_START_MAP) return rd_fail(r, "not a backless changeset: not a JSON object");
      r->st = RD_KEY;
      return 1;
    case RD_KEY:
      if (ev == RD_EV_KEY) return rd_top_key(r, s, n);
      return rd_top_end(r); /* yajl allows only a key or '}' here */
    case RD_SKIP:
      if (r->depth > 1 + RD_MAX_SKIP_DEPTH)
        return rd_fail(r, "header: a value is nested more than %d deep", RD_MAX_SKIP_DEPTH);
      if (r->depth == 1) r->st = RD_KEY;
      return 1;
    case RD_HDR_VALUE:
      return rd_header_value(r, ev, s, n);
    case RD_DBV:
      return rd_dbv(r, ev, s, n);
    case RD_CHANGES:
      if (ev != RD_EV_START_ARRAY) return rd_fail(r, "\"changes\" must be an array");
      r->st = RD_ARRAY;
      return 1;
    case RD_ARRAY:
      if (ev == RD_EV_START_ARRAY) return rd_change_start(r);
      if (ev == RD_EV_END_ARRAY) {
        r->st = RD_KEY;
        return rd_deliver(r);
      }
      return rd_fail(r, "must be an array of 9 items");
    case RD_ITEM:
      return rd_item(r, ev, s, n);
    case RD_TAG_KEY:
      if (ev == RD_EV_KEY && n == 1 && (s[0] == 'i' || s[0] == 'r' || s[0] == 't' || s[0] == 'b')) {
        r->tag = s[0];
        r->st = RD_TAG_VALUE;
        return 1;
      }
      if (ev == RD_EV_KEY) {
        rd_quote(q, sizeof q, s, n);
        return rd_fail(r, "val has unknown tag %s (expected \"i\", \"r\", \"t\" or \"b\")", q);
      }
      return rd_fail(r, "val {} must have one key, \"i\", \"r\", \"t\" or \"b\"");
    case RD_TAG_VALUE:
      if (ev != RD_EV_STRING) return rd_fail(r, "val {\"%c\": ...} must be a string", r->tag);
      if (!rd_tagged(r, s, n)) return 0;
      r->st = RD_TAG_END;
      return 1;
    case RD_TAG_END:
      if (ev != RD_EV_END_MAP) return rd_fail(r, "val {...} must have exactly one key");
      r->item++;
      r->st = RD_ITEM;
      return 1;
    case RD_COUNT:
      if (ev != RD_EV_NUMBER || !rd_int(s, n, &v))
        return rd_fail(r, "\"count\" must be an integer");
      if (v != r->index)
        return rd_fail(r, "\"count\" is %lld but the file has %lld changes", (long long)v,
                       (long long)r->index);
      r->st = RD_KEY;
      return 1;
    case RD_DONE:
      return rd_fail(r, "data after the end of the object");
  }
  return rd_fail(r, "internal error: bad reader state");
}

/* ---------------------------------------------------------- yajl callbacks */

static int rd_cb_null(void *ctx) { return rd_event(ctx, RD_EV_NULL, NULL, 0); }
static int rd_cb_boolean(void *ctx, int b) { return rd_event(ctx, RD_EV_BOOL, NULL, (size_t)b); }
static int rd_cb_number(void *ctx, const char *s, size_t n) {
  return rd_event(ctx, RD_EV_NUMBER, s, n);
}
static int rd_cb_string(void *ctx, const unsigned char *s, size_t n) {
  return rd_event(ctx, RD_EV_STRING, (const char *)s, n);
}
static int rd_cb_map_key(void *ctx, const unsigned char *s, size_t n) {
  return rd_event(ctx, RD_EV_KEY, (const char *)s, n);
}
static int rd_cb_start_map(void *ctx) { return rd_event(ctx, RD_EV_START_MAP, NULL, 0); }
static int rd_cb_end_map(void *ctx) { return rd_event(ctx, RD_EV_END_MAP, NULL, 0); }
static int rd_cb_start_array(void *ctx) { return rd_event(ctx, RD_EV_START_ARRAY, NULL, 0); }
static int rd_cb_end_array(void *ctx) { return rd_event(ctx, RD_EV_END_ARRAY, NULL, 0); }

static const yajl_callbacks rd_callbacks = {
    rd_cb_null,      rd_cb_boolean,   NULL,          NULL,          rd_cb_number,
    rd_cb_string,    rd_cb_start_map, rd_cb_map_key, rd_cb_end_map, rd_cb_start_array,
    rd_cb_end_array,
};

/* ---------------------------------------------------------------- bl_cs_read */

/* Sets r->msg from yajl's error (one line) at byte `at` of the file (yajl
 * counts the offending token as consumed, so `at` is usually just past it). */
static void rd_syntax_error(rd *r, yajl_handle y, long long at) {
  unsigned char *e = yajl_get_error(y, 0, NULL, 0);
  const char *text = e ? (const char *)e : "invalid JSON";
  size_t len = strcspn(text, "\r\n");
  char where[64] = "";
  if (r->st == RD_ARRAY || r->st == RD_ITEM || r->st == RD_TAG_KEY || r->st == RD_TAG_VALUE ||
      r->st == RD_TAG_END)
    snprintf(where, sizeof where, "change %lld: ", (long long)r->index);
  r->rc = BL_ECORRUPT;
  snprintf(r->msg, sizeof r->msg, "%sinvalid JSON near byte %lld: %.*s", where, at, (int)len, text);
  if (e) yajl_free_error(y, e);
}

int bl_cs_read(FILE *fp, const bl_cs_reader_cb *cb, size_t batch, char **errmsg) {
  int rc = BL_OK;
  yajl_handle y = NULL;
  unsigned char *chunk = NULL;
  long long offset = 0;
  rd r;
  memset(&r, 0, sizeof r);
  r.cb = cb;
  r.batch = batch;
  r.st = RD_TOP;
  if (errmsg) *errmsg = NULL;
  if (!fp || batch == 0) {
    r.rc = BL_EMISUSE;
    snprintf(r.msg, sizeof r.msg, "bl_cs_read: fp is NULL or batch is 0");
    goto done;
  }

  chunk = malloc(RD_CHUNK);
  y = yajl_alloc(&rd_callbacks, NULL, &r);
  if (!chunk || !y) {
    rd_nomem(&r);
    goto done;
  }
  for (;;) {
    size_t got = fread(chunk, 1, RD_CHUNK, fp);
    if (got > 0) {
      yajl_status st = yajl_parse(y, chunk, got);
      if (st != yajl_status_ok) {
        if (r.rc == BL_OK) rd_syntax_error(&r, y, offset + (long long)yajl_get_bytes_consumed(y));
        goto done;
      }
      offset += (long long)got;
    }
    if (got < RD_CHUNK) {
      if (ferror(fp)) {
        r.rc = BL_EIO;
        snprintf(r.msg, sizeof r.msg, "read error after byte %lld: %s", offset, strerror(errno));
        goto done;
      }
      break;
    }
  }
  if (yajl_complete_parse(y) != yajl_status_ok) {
    if (r.rc == BL_OK) rd_syntax_error(&r, y, offset);
    goto done;
  }
  if (r.rc == BL_OK && r.st != RD_DONE) rd_fail(&r, "the file ends before the object does");

done:
  rc = r.rc;
  if (rc != BL_OK && errmsg) {
    size_t len = strlen(r.msg);
    *errmsg = malloc(len + 1); /* stays NULL if even this fails */
    if (*errmsg) memcpy(*errmsg, r.msg, len + 1);
  }
  if (y) yajl_free(y);
  free(chunk);
  free(r.changes);
  free(r.site_of);
  rd_arena_free(&r.arena);
  bl__cs_sites_free(&r.sites);
  return rc;
}
