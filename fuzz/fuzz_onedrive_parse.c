/*
 * fuzz_onedrive_parse.c — libFuzzer target for the OneDrive backend's JSON
 * handling (src/remote/onedrive_json.c): every parser on the same bytes,
 * as a hostile or broken service could send them.
 *
 * Properties checked (abort() on violation, so libFuzzer reports a crash):
 *   1. No parser reads outside its buffer or leaks (ASan), whatever the
 *      bytes, including deep nesting and embedded NULs.
 *   2. What a parser accepts is well formed: every string it returns is
 *      NUL-terminated, sizes are -1 or more, the session's next start is
 *      -1 or more, an error code fits its buffer.
 *   3. A time that parses and ends in 'Z' keeps its seconds.
 *   4. The folder-creation body built from the bytes as a name is JSON
 *      whose "name" is exactly that name (or the name is refused as not
 *      UTF-8).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "backless.h"
#include "remote/onedrive_internal.h"

static void fz_fail(const char *what) {
  fprintf(stderr, "fuzz_onedrive_parse: %s\n", what);
  abort();
}

static void fz_item_ok(const bl__od_item *it) {
  /* strlen runs to the NUL: ASan catches a missing one. */
  if ((it->id && strlen(it->id) > (1u << 24)) || (it->name && strlen(it->name) > (1u << 24)) ||
      (it->parent_id && strlen(it->parent_id) > (1u << 24)))
    fz_fail("implausible string");
  if (it->size < -1) fz_fail("size below -1");
}

static void fz_folder_body(const char *name) {
  char *body = NULL;
  size_t len = 0;
  int rc = bl__onedrive_folder_body(name, &body, &len);
  if (rc == BL_EMISUSE) return; /* not UTF-8 */
  if (rc != BL_OK) fz_fail("folder body failed");
  if (strlen(body) != len) fz_fail("folder body length");
  char err[128];
  yajl_val root = yajl_tree_parse(body, err, sizeof err);
  if (!root) fz_fail("folder body is not JSON");
  const char *p_name[] = {"name", NULL}, *p_folder[] = {"folder", NULL};
  yajl_val v = yajl_tree_get(root, p_name, yajl_t_string);
  if (!v || strcmp(YAJL_GET_STRING(v), name) != 0) fz_fail("folder body changed the name");
  if (!yajl_tree_get(root, p_folder, yajl_t_object)) fz_fail("folder body has no folder facet");
  yajl_tree_free(root);
  free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *json = (const char *)data;
  bl__od_page pg;
  if (bl__onedrive_parse_page(json, size, &pg) == BL_OK) {
    for (size_t i = 0; i < pg.nitems; i++) fz_item_ok(&pg.items[i]);
    if (pg.next_link) (void)strlen(pg.next_link);
    if (pg.delta_link) (void)strlen(pg.delta_link);
  } else if (pg.items || pg.nitems || pg.next_link || pg.delta_link) {
    fz_fail("a failed page parse left output behind");
  }
  bl__onedrive_page_clear(&pg);

  bl__od_item it;
  if (bl__onedrive_parse_item(json, size, &it) == BL_OK) fz_item_ok(&it);
  bl__onedrive_item_clear(&it);

  char *url = NULL;
  int64_t next = 0;
  bl__onedrive_parse_session(json, size, &url, &next);
  if (next < -1) fz_fail("next start below -1");
  if (url) (void)strlen(url);
  free(url);

  char code[8];
  bl__onedrive_parse_error_code(json, size, code, sizeof code);
  if (strlen(code) >= sizeof code) fz_fail("error code overflows");

  /* The rest wants a C string. */
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  int64_t t;
  if (bl__onedrive_parse_time(s, &t) == BL_OK && strlen(s) >= 20 && s[strlen(s) - 1] == 'Z') {
    int sec = (s[17] - '0') * 10 + (s[18] - '0');
    if (sec < 60 && ((t % 60) + 60) % 60 != sec) fz_fail("time lost its seconds");
  }
  fz_folder_body(s);
  free(s);
  return 0;
}
