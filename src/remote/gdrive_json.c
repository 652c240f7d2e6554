/*
 * gdrive_json.c — the text the Google Drive backend reads and writes,
 * apart from the transport (see gdrive_internal.h): the parsers of Drive's
 * JSON answers (yajl's tree API), RFC 3339 times, the order of duplicate
 * names, string literals of the files.list query language, URL encoding,
 * the metadata bodies of files.create (yajl_gen), and the change-feed token.
 *
 * The parsers are fuzzed (fuzz/fuzz_gdrive_parse.c): they take any bytes,
 * refuse nesting deeper than GDRIVE_JSON_DEPTH before yajl sees it (yajl's
 * tree is freed recursively), and never trust a field's type.
 *
 * Divided into: JSON helpers; file resources; lists, changes and tokens of
 * Drive; times and ordering; query text and URLs; request bodies; the
 * change-feed token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "backless.h"
#include "remote/gdrive_internal.h"
#include "util/rfc3339.h"

/* Drive's answers nest 4 levels deep; anything much deeper is not Drive. */
#define GDRIVE_JSON_DEPTH 32

/* ------------------------------------------------------------ JSON helpers */

static void json_err(char *err, size_t errsize, const char *what) {
  if (err && errsize) snprintf(err, errsize, "%s", what);
}

static char *json_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* Whether the brackets of json[0..len) (outside strings) nest at most
 * GDRIVE_JSON_DEPTH deep. */
static int json_depth_ok(const char *json, size_t len) {
  int depth = 0, in_str = 0;
  for (size_t i = 0; i < len; i++) {
    char c = json[i];
    if (in_str) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '[' || c == '{') {
      if (++depth > GDRIVE_JSON_DEPTH) return 0;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return 1;
}

/*
 * Parses json[0..len) into a tree whose root is an object. Returns BL_OK
 * with *root set, BL_EIO (err filled) or BL_ENOMEM.
 */
static int json_parse_object(const char *json, size_t len, yajl_val *root, char *err,
                             size_t errsize) {
  *root = NULL;
  if (!json) {
    json_err(err, errsize, "empty answer");
    return BL_EIO;
  }
  if (!json_depth_ok(json, len)) {
    json_err(err, errsize, "JSON nested too deeply");
    return BL_EIO;
  }
  char *text = malloc(len + 1);
  if (!text) return BL_ENOMEM;
  memcpy(text, json, len);
  text[len] = '\0';
  char perr[128];
  perr[0] = '\0';
  yajl_val v = yajl_tree_parse(text, perr, sizeof perr);
  free(text);
  if (!v) {
    /* yajl says "memory allocation failed" when it runs out. */
    if (strstr(perr, "memory")) return BL_ENOMEM;
    char msg[200];
    snprintf(msg, sizeof msg, "malformed JSON: %.150s", perr[0] ? perr : "parse error");
    msg[strcspn(msg, "\r\n")] = '\0';
    json_err(err, errsize, msg);
    return BL_EIO;
  }
  if (!YAJL_IS_OBJECT(v)) {
    yajl_tree_free(v);
    json_err(err, errsize, "the answer is not a JSON object");
    return BL_EIO;
  }
  *root = v;
  return BL_OK;
}

/* The member `key` of object v, or NULL. */
static yajl_val json_get(yajl_val v, const char *key) {
  if (!YAJL_IS_OBJECT(v)) return NULL;
  for (size_t i = 0; i < v->u.object.len; i++)
    if (v->u.object.keys[i] && strcmp(v->u.object.keys[i], key) == 0) return v->u.object.values[i];
  return NULL;
}

/* The string member `key`, or NULL when absent or of another type. */
static const char *json_get_str(yajl_val v, const char *key) {
  yajl_val s = json_get(v, key);
  return YAJL_IS_STRING(s) ? YAJL_GET_STRING(s) : NULL;
}

/* A string or a number member as text (Drive sends int64 as strings). */
static const char *json_get_numtext(yajl_val v, const char *key) {
  yajl_val s = json_get(v, key);
  if (YAJL_IS_STRING(s)) return YAJL_GET_STRING(s);
  if (YAJL_IS_NUMBER(s)) return YAJL_GET_NUMBER(s);
  return NULL;
}

/* A non-negative decimal integer, or -1. */
static int64_t json_size(const char *s) {
  if (!s || !*s) return -1;
  int64_t v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9') return -1;
    if (v > (INT64_MAX - (*c - '0')) / 10) return -1;
    v = v * 10 + (*c - '0');
  }
  return v;
}

/* -------------------------------------------------------- file resources */

void bl__gdrive_file_clear(bl__gdrive_file *f) {
  if (!f) return;
  free(f->id);
  free(f->name);
  for (size_t i = 0; i < f->nparents; i++) free(f->parents[i]);
  free(f->parents);
  free(f->md5);
  memset(f, 0, sizeof *f);
}

/* An MD5 as Drive writes it (32 hex digits) copied in lowercase; NULL for
 * anything else (then *oom stays 0) or without memory (*oom = 1). */
static char *json_md5(const char *s, int *oom) {
  *oom = 0;
  if (!s || strlen(s) != 32 || strspn(s, "0123456789abcdefABCDEF") != 32) return NULL;
  char *m = json_strdup(s);
  if (!m) {
    *oom = 1;
    return NULL;
  }
  for (char *c = m; *c; c++)
    if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
  return m;
}

/* Fills f from a file resource. Returns 1, 0 when v is no file (no id:
 * f left empty) or -1 without memory. */
static int json_file(yajl_val v, bl__gdrive_file *f) {
  memset(f, 0, sizeof *f);
  f->size = -1;
  const char *id = json_get_str(v, "id");
  if (!id || !*id) return 0;
  const char *name = json_get_str(v, "name");
  const char *mime = json_get_str(v, "mimeType");
  f->id = json_strdup(id);
  f->name = json_strdup(name ? name : "");
  if (!f->id || !f->name) goto nomem;
  f->is_folder = mime && strcmp(mime, BL__GDRIVE_FOLDER_MIME) == 0;
  f->trashed = YAJL_IS_TRUE(json_get(v, "trashed"));
  if (!f->is_folder) {
    int oom;
    f->size = json_size(json_get_numtext(v, "size"));
    f->md5 = json_md5(json_get_str(v, "md5Checksum"), &oom);
    if (oom) goto nomem;
  }
  const char *t = json_get_str(v, "modifiedTime");
  f->mtime_ms = t ? bl__gdrive_parse_time(t) : 0;
  t = json_get_str(v, "createdTime");
  f->ctime_ms = t ? bl__gdrive_parse_time(t) : 0;
  yajl_val parents = json_get(v, "parents");
  if (YAJL_IS_ARRAY(parents) && parents->u.array.len) {
    f->parents = calloc(parents->u.array.len, sizeof *f->parents);
    if (!f->parents) goto nomem;
    for (size_t i = 0; i < parents->u.array.len; i++) {
      yajl_val p = parents->u.array.values[i];
      if (!YAJL_IS_STRING(p) || !*YAJL_GET_STRING(p)) continue;
      if (!(f->parents[f->nparents] = json_strdup(YAJL_GET_STRING(p)))) goto nomem;
      f->nparents++;
    }
  }
  return 1;
nomem:
  bl__gdrive_file_clear(f);
  return -1;
}

int bl__gdrive_parse_file(const char *json, size_t len, bl__gdrive_file *out, char *err,
                          size_t errsize) {
  memset(out, 0, sizeof *out);
  yajl_val root;
  int rc = json_parse_object(json, len, &root, err, errsize);
  if (rc != BL_OK) return rc;
  int k = json_file(root, out);
  yajl_tree_free(root);
  if (k < 0) return BL_ENOMEM;
  if (k == 0) {
    json_err(err, errsize, "the file resource has no id");
    return BL_EIO;
  }
  return BL_OK;
}

/* ------------------------------------------------ lists, changes, tokens */

void bl__gdrive_list_clear(bl__gdrive_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) bl__gdrive_file_clear(&l->files[i]);
  free(l->files);
  free(l->next_page_token);
  memset(l, 0, sizeof *l);
}

/* A copy of the string member `key` into *out (NULL when absent or
 * empty); -1 without memory. */
static int json_take_str(yajl_val v, const char *key, char **out) {
  const char *s = json_get_str(v, key);
  *out = NULL;
  if (!s || !*s) return 0;
  return (*out = json_strdup(s)) ? 0 : -1;
}

int bl__gdrive_parse_list(const char *json, size_t len, bl__gdrive_list *out, char *err,
                          size_t errsize) {
  memset(out, 0, sizeof *out);
  yajl_val root;
  int rc = json_parse_object(json, len, &root, err, errsize);
  if (rc != BL_OK) return rc;
  yajl_val files = json_get(root, "files");
  if (!YAJL_IS_ARRAY(files)) {
    json_err(err, errsize, "the file list has no \"files\" array");
    rc = BL_EIO;
    goto done;
  }
  if (files->u.array.len) {
    out->files = calloc(files->u.array.len, sizeof *out->files);
    if (!out->files) goto nomem;
  }
  for (size_t i = 0; i < files->u.array.len; i++) {
    int k = json_file(files->u.array.values[i], &out->files[out->n]);
    if (k < 0) goto nomem;
    out->n += (size_t)k;
  }
  if (json_take_str(root, "nextPageToken", &out->next_page_token) < 0) goto nomem;
  goto done;
nomem:
  rc = BL_ENOMEM;
done:
  yajl_tree_free(root);
  if (rc != BL_OK) bl__gdrive_list_clear(out);
  return rc;
}

void bl__gdrive_changes_clear(bl__gdrive_changes *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) {
    free(c->changes[i].file_id);
    bl__gdrive_file_clear(&c->changes[i].file);
  }
  free(c->changes);
  free(c->next_page_token);
  free(c->new_start_page_token);
  memset(c, 0, sizeof *c);
}

int bl__gdrive_parse_changes(const char *json, size_t len, bl__gdrive_changes *out, char *err,
                             size_t errsize) {
  memset(out, 0, sizeof *out);
  yajl_val root;
  int rc = json_parse_object(json, len, &root, err, errsize);
  if (rc != BL_OK) return rc;
  yajl_val changes = json_get(root, "changes");
  if (changes && !YAJL_IS_ARRAY(changes)) {
    json_err(err, errsize, "\"changes\" is not an array");
    rc = BL_EIO;
    goto done;
  }
  size_t n = changes ? changes->u.array.len : 0;
  if (n && !(out->changes = calloc(n, sizeof *out->changes))) goto nomem;
  for (size_t i = 0; i < n; i++) {
    yajl_val c = changes->u.array.values[i];
    bl__gdrive_change *ch = &out->changes[out->n];
    int k = json_file(json_get(c, "file"), &ch->file);
    if (k < 0) goto nomem;
    ch->has_file = k;
    const char *fid = json_get_str(c, "fileId");
    if (!fid || !*fid) fid = k ? ch->file.id : NULL;
    if (!fid) continue; /* a change of something else (a shared drive) */
    if (!(ch->file_id = json_strdup(fid))) {
      bl__gdrive_file_clear(&ch->file);
      goto nomem;
    }
    ch->removed = YAJL_IS_TRUE(json_get(c, "removed"));
    out->n++;
  }
  if (json_take_str(root, "nextPageToken", &out->next_page_token) < 0 ||
      json_take_str(root, "newStartPageToken", &out->new_start_page_token) < 0)
    goto nomem;
  if (!out->next_page_token && !out->new_start_page_token) {
    json_err(err, errsize, "the change list has neither nextPageToken nor newStartPageToken");
    rc = BL_EIO;
  }
  goto done;
nomem:
  rc = BL_ENOMEM;
done:
  yajl_tree_free(root);
  if (rc != BL_OK) bl__gdrive_changes_clear(out);
  return rc;
}

int bl__gdrive_parse_start_token(const char *json, size_t len, char **token, char *err,
                                 size_t errsize) {
  *token = NULL;
  yajl_val root;
  int rc = json_parse_object(json, len, &root, err, errsize);
  if (rc != BL_OK) return rc;
  const char *t = json_get_numtext(root, "startPageToken");
  if (!t || !*t) {
    json_err(err, errsize, "the answer has no startPageToken");
    rc = BL_EIO;
  } else if (!(*token = json_strdup(t))) {
    rc = BL_ENOMEM;
  }
  yajl_tree_free(root);
  return rc;
}

/* ------------------------------------------------------ times and order */

int64_t bl__gdrive_parse_time(const char *s) {
  int64_t ms = 0;
  return bl__rfc3339_parse(s, &ms) == BL_OK ? ms : 0;
}

int bl__gdrive_cmp_folders(const void *a, const void *b) {
  const bl__gdrive_file *x = a, *y = b;
  if (x->ctime_ms != y->ctime_ms) return x->ctime_ms < y->ctime_ms ? -1 : 1;
  return strcmp(x->id, y->id);
}

int bl__gdrive_cmp_files(const void *a, const void *b) {
  const bl__gdrive_file *x = a, *y = b;
  if (x->mtime_ms != y->mtime_ms) return x->mtime_ms > y->mtime_ms ? -1 : 1;
  return strcmp(x->id, y->id);
}

/* ------------------------------------------------------ query text, URLs */

char *bl__gdrive_q_literal(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(2 * n + 3), *o = out;
  if (!out) return NULL;
  *o++ = '\'';
  for (const char *c = s; *c; c++) {
    if (*c == '\'' || *c == '\\') *o++ = '\\';
    *o++ = *c;
  }
  *o++ = '\'';
  *o = '\0';
  return out;
}

char *bl__gdrive_urlencode(const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  char *out = malloc(3 * strlen(s) + 1), *o = out;
  if (!out) return NULL;
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
        *c == '-' || *c == '.' || *c == '_' || *c == '~') {
      *o++ = (char)*c;
    } else {
      *o++ = '%';
      *o++ = hex[*c >> 4];
      *o++ = hex[*c & 15];
    }
  }
  *o = '\0';
  return out;
}

/* --------------------------------------------------------- request bodies */

static int gen_str(yajl_gen g, const char *s) {
  return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok;
}

char *bl__gdrive_meta_json(const char *name, const char *parent_id, const char *mime, size_t *len) {
  char *out = NULL;
  yajl_gen g = yajl_gen_alloc(NULL);
  if (!g) return NULL;
  int ok = yajl_gen_map_open(g) == yajl_gen_status_ok && gen_str(g, "name") && gen_str(g, name);
  if (ok && mime) ok = gen_str(g, "mimeType") && gen_str(g, mime);
  ok = ok && gen_str(g, "parents") && yajl_gen_array_open(g) == yajl_gen_status_ok &&
       gen_str(g, parent_id) && yajl_gen_array_close(g) == yajl_gen_status_ok &&
       yajl_gen_map_close(g) == yajl_gen_status_ok;
  const unsigned char *buf;
  size_t blen;
  if (ok && yajl_gen_get_buf(g, &buf, &blen) == yajl_gen_status_ok && (out = malloc(blen + 1))) {
    memcpy(out, buf, blen);
    out[blen] = '\0';
    *len = blen;
  }
  yajl_gen_free(g);
  return out;
}

/* ------------------------------------------------------ change-feed token */

uint64_t bl__gdrive_path_hash(const char *path) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
  for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
    h ^= *c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

/* Printable ASCII without spaces; ':' only when allowed. */
static int token_part_ok(const char *s, size_t n, int colon_ok) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || (c == ':' && !colon_ok)) return 0;
  }
  return 1;
}

char *bl__gdrive_token_make(const char *path, const char *folder_id, const char *page_token) {
  if (!token_part_ok(folder_id, strlen(folder_id), 0) ||
      !token_part_ok(page_token, strlen(page_token), 1))
    return NULL;
  size_t n = 4 + 16 + 1 + strlen(folder_id) + 1 + strlen(page_token) + 1;
  char *t = malloc(n);
  if (t)
    snprintf(t, n, "gd1:%016llx:%s:%s", (unsigned long long)bl__gdrive_path_hash(path), folder_id,
             page_token);
  return t;
}

int bl__gdrive_token_parse(const char *token, uint64_t *path_hash, char **folder_id,
                           char **page_token) {
  *folder_id = *page_token = NULL;
  if (!token || strncmp(token, "gd1:", 4) != 0) return 0;
  const char *h = token + 4;
  uint64_t v = 0;
  for (int i = 0; i < 16; i++) {
    char c = h[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return 0;
    v = v << 4 | (uint64_t)d;
  }
  if (h[16] != ':') return 0;
  const char *id = h + 17, *colon = strchr(id, ':');
  if (!colon || !token_part_ok(id, (size_t)(colon - id), 0)) return 0;
  const char *pt = colon + 1;
  if (!token_part_ok(pt, strlen(pt), 1)) return 0;
  size_t idlen = (size_t)(colon - id);
  *folder_id = malloc(idlen + 1);
  *page_token = json_strdup(pt);
  if (!*folder_id || !*page_token) {
    free(*folder_id);
    free(*page_token);
    *folder_id = *page_token = NULL;
    return -1;
  }
  memcpy(*folder_id, id, idlen);
  (*folder_id)[idlen] = '\0';
  *path_hash = v;
  return 1;
}
