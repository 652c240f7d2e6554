/*
 * onedrive_json.c — the JSON of the OneDrive backend: parsing Microsoft
 * Graph's answers (driveItems, pages of children or delta, upload sessions,
 * error codes, ISO 8601 times) and building a folder-creation body.
 *
 * Nothing here does I/O, so the fuzz target fuzz/fuzz_onedrive_parse.c
 * calls these functions directly on arbitrary bytes. Inputs are parsed
 * with yajl's tree API after two guards: a copy with a NUL at the end
 * (yajl_tree_parse wants a C string) and a scan refusing nesting deeper
 * than ONEDRIVE_MAX_DEPTH, because yajl_tree_free recurses once per level
 * and a hostile body of a million '[' would otherwise exhaust the stack.
 *
 * Divided into: guards; times; items and pages; sessions and errors;
 * request bodies.
 */
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "backless.h"
#include "remote/onedrive_internal.h"
#include "util/rfc3339.h"

/* Graph's objects nest a few levels (item → parentReference → ...); this
 * leaves ample room and bounds yajl_tree_free's recursion. */
#define ONEDRIVE_MAX_DEPTH 64

/* ------------------------------------------------------------------ guards */

/* Whether the bracket nesting of json[0..len), outside strings, stays
 * within ONEDRIVE_MAX_DEPTH. */
static int od_depth_ok(const char *json, size_t len) {
  int depth = 0, in_string = 0;
  for (size_t i = 0; i < len; i++) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = 0;
    } else if (c == '"') {
      in_string = 1;
    } else if (c == '[' || c == '{') {
      if (++depth > ONEDRIVE_MAX_DEPTH) return 0;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return 1;
}

/* Parses json[0..len) into a tree; NULL with *rc = BL_ECORRUPT or
 * BL_ENOMEM. An embedded NUL ends the text early, which yajl then finds
 * incomplete. */
static yajl_val od_parse(const char *json, size_t len, int *rc) {
  *rc = BL_ECORRUPT;
  if (!json || !od_depth_ok(json, len)) return NULL;
  char *copy = malloc(len + 1);
  if (!copy) {
    *rc = BL_ENOMEM;
    return NULL;
  }
  memcpy(copy, json, len);
  copy[len] = '\0';
  char err[128] = "";
  yajl_val root = yajl_tree_parse(copy, err, sizeof err);
  free(copy);
  if (root) *rc = BL_OK;
  else if (strstr(err, "memory")) *rc = BL_ENOMEM;
  return root;
}

/* Member `key` of object v, or NULL (also when v is no object). */
static yajl_val od_member(yajl_val v, const char *key) {
  if (!YAJL_IS_OBJECT(v)) return NULL;
  for (size_t i = 0; i < v->u.object.len; i++)
    if (v->u.object.keys[i] && strcmp(v->u.object.keys[i], key) == 0) return v->u.object.values[i];
  return NULL;
}

/* A malloc'ed copy of the string member `key`: BL_OK with *out NULL when
 * it is absent or not a string, BL_ENOMEM. */
static int od_string(yajl_val obj, const char *key, char **out) {
  yajl_val v = od_member(obj, key);
  *out = NULL;
  if (!YAJL_IS_STRING(v)) return BL_OK;
  const char *s = YAJL_GET_STRING(v);
  size_t n = strlen(s) + 1;
  if (!(*out = malloc(n))) return BL_ENOMEM;
  memcpy(*out, s, n);
  return BL_OK;
}

/* ------------------------------------------------------------------- times */

int bl__onedrive_parse_time(const char *s, int64_t *out) {
  int64_t ms = 0;
  int rc = bl__rfc3339_parse(s, &ms);
  /* Whole seconds; floor, so an instant before 1970 keeps its second. */
  *out = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  return rc;
}

/* ------------------------------------------------------- items and pages */

void bl__onedrive_item_clear(bl__od_item *it) {
  if (!it) return;
  free(it->id);
  free(it->name);
  free(it->parent_id);
  memset(it, 0, sizeof *it);
  it->size = -1;
}

/* Fills *it from object v (which must be an object). */
static int od_item_from(yajl_val v, bl__od_item *it) {
  memset(it, 0, sizeof *it);
  it->size = -1;
  if (!YAJL_IS_OBJECT(v)) return BL_ECORRUPT;
  int rc = od_string(v, "id", &it->id);
  if (rc == BL_OK) rc = od_string(v, "name", &it->name);
  if (rc == BL_OK) rc = od_string(od_member(v, "parentReference"), "id", &it->parent_id);
  if (rc != BL_OK) {
    bl__onedrive_item_clear(it);
    return rc;
  }
  it->is_folder = od_member(v, "folder") != NULL;
  it->is_file = od_member(v, "file") != NULL;
  it->deleted = od_member(v, "deleted") != NULL;
  yajl_val size = od_member(v, "size");
  if (YAJL_IS_INTEGER(size) && YAJL_GET_INTEGER(size) >= 0) it->size = YAJL_GET_INTEGER(size);
  yajl_val mt = od_member(v, "lastModifiedDateTime");
  if (YAJL_IS_STRING(mt) && bl__onedrive_parse_time(YAJL_GET_STRING(mt), &it->mtime) != BL_OK)
    it->mtime = 0; /* an unreadable time is an unknown one */
  return BL_OK;
}

int bl__onedrive_parse_item(const char *json, size_t len, bl__od_item *out) {
  int rc;
  memset(out, 0, sizeof *out);
  out->size = -1;
  yajl_val root = od_parse(json, len, &rc);
  if (!root) return rc;
  rc = od_item_from(root, out);
  yajl_tree_free(root);
  return rc;
}

void bl__onedrive_page_clear(bl__od_page *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nitems; i++) bl__onedrive_item_clear(&p->items[i]);
  free(p->items);
  free(p->next_link);
  free(p->delta_link);
  memset(p, 0, sizeof *p);
}

int bl__onedrive_parse_page(const char *json, size_t len, bl__od_page *out) {
  int rc;
  memset(out, 0, sizeof *out);
  yajl_val root = od_parse(json, len, &rc);
  if (!root) return rc;
  yajl_val value = od_member(root, "value");
  if (!YAJL_IS_OBJECT(root) || (value && !YAJL_IS_ARRAY(value))) {
    rc = BL_ECORRUPT;
    goto done;
  }
  rc = od_string(root, "@odata.nextLink", &out->next_link);
  if (rc == BL_OK) rc = od_string(root, "@odata.deltaLink", &out->delta_link);
  if (rc != BL_OK || !value || value->u.array.len == 0) goto done;
  out->items = calloc(value->u.array.len, sizeof *out->items);
  if (!out->items) {
    rc = BL_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < value->u.array.len; i++) {
    rc = od_item_from(value->u.array.values[i], &out->items[i]);
    if (rc != BL_OK) break;
    out->nitems++;
  }
done:
  yajl_tree_free(root);
  if (rc != BL_OK) bl__onedrive_page_clear(out);
  return rc;
}

/* ------------------------------------------------------ sessions and errors */

int bl__onedrive_parse_session(const char *json, size_t len, char **upload_url,
                               int64_t *next_start) {
  int rc;
  if (upload_url) *upload_url = NULL;
  *next_start = -1;
  yajl_val root = od_parse(json, len, &rc);
  if (!root) return rc;
  if (!YAJL_IS_OBJECT(root)) {
    rc = BL_ECORRUPT;
    goto done;
  }
  if (upload_url && (rc = od_string(root, "uploadUrl", upload_url)) != BL_OK) goto done;
  yajl_val ranges = od_member(root, "nextExpectedRanges");
  if (YAJL_IS_ARRAY(ranges) && ranges->u.array.len > 0 &&
      YAJL_IS_STRING(ranges->u.array.values[0])) {
    /* "start-end" or "start-": only the start matters to a sequential upload */
    const char *s = YAJL_GET_STRING(ranges->u.array.values[0]);
    int64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9' && i < 18; i++) v = v * 10 + (s[i] - '0');
    if (i > 0 && (s[i] == '-' || s[i] == '\0')) *next_start = v;
  }
done:
  yajl_tree_free(root);
  return rc;
}

int bl__onedrive_parse_error_code(const char *json, size_t len, char *code, size_t size) {
  int rc;
  if (size) code[0] = '\0';
  yajl_val root = od_parse(json, len, &rc);
  if (!root) return rc;
  yajl_val v = od_member(od_member(root, "error"), "code");
  if (YAJL_IS_STRING(v) && size) {
    const char *s = YAJL_GET_STRING(v);
    size_t n = strlen(s);
    if (n >= size) n = size - 1;
    memcpy(code, s, n);
    code[n] = '\0';
  } else {
    rc = BL_ECORRUPT;
  }
  yajl_tree_free(root);
  return rc;
}

/* ------------------------------------------------------------ request bodies */

const char bl__onedrive_session_body[] =
    "{\"item\":{\"@microsoft.graph.conflictBehavior\":\"replace\"}}";

#define OD_GEN_STR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

int bl__onedrive_folder_body(const char *name, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  yajl_gen g = yajl_gen_alloc(NULL);
  if (!g) return BL_ENOMEM;
  /* A name that is not UTF-8 has no JSON spelling: refused, not mangled. */
  yajl_gen_config(g, yajl_gen_validate_utf8, 1);
  int rc = BL_ENOMEM;
  const unsigned char *buf;
  size_t n;
  yajl_gen_status st = yajl_gen_map_open(g);
  if (st == yajl_gen_status_ok) st = OD_GEN_STR(g, "name");
  if (st == yajl_gen_status_ok) st = OD_GEN_STR(g, name);
  if (st == yajl_gen_invalid_string) {
    rc = BL_EMISUSE;
    goto done;
  }
  if (st == yajl_gen_status_ok) st = OD_GEN_STR(g, "folder");
  if (st == yajl_gen_status_ok) st = yajl_gen_map_open(g);
  if (st == yajl_gen_status_ok) st = yajl_gen_map_close(g);
  if (st == yajl_gen_status_ok) st = OD_GEN_STR(g, "@microsoft.graph.conflictBehavior");
  if (st == yajl_gen_status_ok) st = OD_GEN_STR(g, "fail");
  if (st == yajl_gen_status_ok) st = yajl_gen_map_close(g);
  if (st == yajl_gen_status_ok) st = yajl_gen_get_buf(g, &buf, &n);
  if (st != yajl_gen_status_ok) goto done;
  if (!(*out = malloc(n + 1))) goto done;
  memcpy(*out, buf, n);
  (*out)[n] = '\0';
  *len = n;
  rc = BL_OK;
done:
  yajl_gen_free(g);
  return rc;
}
