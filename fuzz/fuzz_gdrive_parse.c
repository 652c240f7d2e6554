/*
 * fuzz_gdrive_parse.c — libFuzzer target for the Google Drive backend's
 * text handling (src/remote/gdrive_json.c): every parser on the same bytes,
 * as a hostile or broken service could send them, and the builders of
 * query text, URLs, request bodies and change-feed tokens on the bytes
 * taken as a string.
 *
 * Properties checked (abort() on violation, so libFuzzer reports a crash):
 *   1. No parser reads outside its buffer or leaks (ASan), whatever the
 *      bytes, including deep nesting and embedded NULs; a failure leaves
 *      the output empty and says why.
 *   2. What a parser accepts is well formed: ids are non-empty, strings
 *      NUL-terminated, sizes -1 or more, parents non-empty; a change list
 *      gives a token to go on (next page or new start).
 *   3. A time of the form YYYY-MM-DDTHH:MM:SSZ that parses formats back to
 *      the same text (for days that exist in every month).
 *   4. The query literal of a string unescapes to that string; its URL
 *      encoding decodes to it and uses only unreserved characters and %XX.
 *   5. The metadata body built with the string as a name is JSON whose
 *      "name" is exactly that string (unless it is not UTF-8).
 *   6. A token that parses is rebuilt byte for byte; a token made from the
 *      string (as id and page token) parses back to the same parts.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#include "backless.h"
#include "remote/gdrive_internal.h"

static void fz_fail(const char *what) {
  fprintf(stderr, "fuzz_gdrive_parse: %s\n", what);
  abort();
}

static void fz_file_ok(const bl__gdrive_file *f) {
  if (!f->id || !*f->id || !f->name) fz_fail("file without id or name");
  /* strlen runs to the NUL: ASan catches a missing one. */
  if (strlen(f->id) > (1u << 24) || strlen(f->name) > (1u << 24)) fz_fail("implausible string");
  if (f->size < -1) fz_fail("size below -1");
  if (f->is_folder && f->size != -1) fz_fail("a folder with a size");
  for (size_t i = 0; i < f->nparents; i++)
    if (!f->parents[i] || !*f->parents[i]) fz_fail("empty parent");
}

static void fz_err_ok(int rc, const char *err) {
  if (rc == BL_EIO && (!err[0] || strlen(err) >= 200)) fz_fail("failure without a reason");
  if (rc != BL_OK && rc != BL_EIO && rc != BL_ENOMEM) fz_fail("unexpected code");
}

static void fz_parsers(const char *data, size_t size) {
  char err[200];
  bl__gdrive_list l;
  err[0] = '\0';
  int rc = bl__gdrive_parse_list(data, size, &l, err, sizeof err);
  fz_err_ok(rc, err);
  if (rc != BL_OK && (l.n || l.files || l.next_page_token)) fz_fail("list: output after failure");
  for (size_t i = 0; i < l.n; i++) fz_file_ok(&l.files[i]);
  if (l.next_page_token && !*l.next_page_token) fz_fail("empty page token");
  bl__gdrive_list_clear(&l);

  bl__gdrive_file f;
  err[0] = '\0';
  rc = bl__gdrive_parse_file(data, size, &f, err, sizeof err);
  fz_err_ok(rc, err);
  if (rc == BL_OK)
    fz_file_ok(&f);
  else if (f.id || f.name)
    fz_fail("file: output after failure");
  bl__gdrive_file_clear(&f);

  bl__gdrive_changes c;
  err[0] = '\0';
  rc = bl__gdrive_parse_changes(data, size, &c, err, sizeof err);
  fz_err_ok(rc, err);
  if (rc == BL_OK) {
    if (!c.next_page_token && !c.new_start_page_token) fz_fail("changes: no token to go on");
    for (size_t i = 0; i < c.n; i++) {
      if (!c.changes[i].file_id || !*c.changes[i].file_id) fz_fail("change without file id");
      if (c.changes[i].has_file) fz_file_ok(&c.changes[i].file);
    }
  } else if (c.n || c.changes) {
    fz_fail("changes: output after failure");
  }
  bl__gdrive_changes_clear(&c);

  char *tok = NULL;
  err[0] = '\0';
  rc = bl__gdrive_parse_start_token(data, size, &tok, err, sizeof err);
  fz_err_ok(rc, err);
  if ((rc == BL_OK) != (tok != NULL) || (tok && !*tok)) fz_fail("start token");
  free(tok);
}

static void fz_time(const char *s) {
  int64_t ms = bl__gdrive_parse_time(s);
  if (!ms || strlen(s) != 20 || s[19] != 'Z' || s[10] != 'T' || ms % 1000 != 0) return;
  /* Days 29..31 may not exist, 60 is a leap second, and strftime does not
   * pad years before 1000. */
  if (s[8] > '2' || (s[8] == '2' && s[9] > '8') || s[17] == '6' || s[0] == '0') return;
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char back[32];
  if (!gmtime_r(&t, &tm) || strftime(back, sizeof back, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
    fz_fail("time: cannot format");
  if (strcmp(back, s) != 0) fz_fail("time: does not format back");
}

static void fz_literal(const char *s) {
  char *lit = bl__gdrive_q_literal(s);
  if (!lit) return;
  size_t n = strlen(lit), o = 0;
  char *back = malloc(n + 1);
  if (!back) fz_fail("out of memory");
  if (n < 2 || lit[0] != '\'' || lit[n - 1] != '\'') fz_fail("literal: not quoted");
  for (size_t i = 1; i + 1 < n; i++) {
    if (lit[i] == '\'') fz_fail("literal: bare quote");
    if (lit[i] == '\\') {
      if (i + 2 >= n) fz_fail("literal: dangling backslash");
      i++;
    }
    back[o++] = lit[i];
  }
  back[o] = '\0';
  if (strcmp(back, s) != 0) fz_fail("literal: does not unescape");
  free(back);
  free(lit);

  char *enc = bl__gdrive_urlencode(s);
  if (!enc) return;
  char *dec = malloc(strlen(enc) + 1);
  if (!dec) fz_fail("out of memory");
  o = 0;
  for (const char *p = enc; *p; p++) {
    if (*p == '%') {
      unsigned v;
      if (sscanf(p + 1, "%2X", &v) != 1 || !p[1] || !p[2]) fz_fail("urlencode: bad escape");
      dec[o++] = (char)v;
      p += 2;
    } else if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
               strchr("-._~", *p)) {
      dec[o++] = *p;
    } else {
      fz_fail("urlencode: reserved character left");
    }
  }
  dec[o] = '\0';
  if (strcmp(dec, s) != 0) fz_fail("urlencode: does not decode");
  free(dec);
  free(enc);
}

/* UTF-8 as yajl's lexer checks it (lead bytes and continuations). */
static int fz_utf8(const unsigned char *s) {
  while (*s) {
    int k = *s < 0x80 ? 0 : (*s >> 5) == 6 ? 1 : (*s >> 4) == 14 ? 2 : (*s >> 3) == 30 ? 3 : -1;
    if (k < 0) return 0;
    s++;
    for (int i = 0; i < k; i++, s++)
      if ((*s >> 6) != 2) return 0;
  }
  return 1;
}

static void fz_meta(const char *name) {
  size_t len = 0;
  char *body = bl__gdrive_meta_json(name, "parent-id", BL__GDRIVE_FOLDER_MIME, &len);
  if (!body) fz_fail("meta: no body");
  if (strlen(body) != len) fz_fail("meta: length");
  char err[128];
  yajl_val root = yajl_tree_parse(body, err, sizeof err);
  if (!root) {
    if (fz_utf8((const unsigned char *)name)) fz_fail("meta: not JSON for a UTF-8 name");
    free(body);
    return;
  }
  const char *p_name[] = {"name", NULL}, *p_parents[] = {"parents", NULL};
  const char *p_mime[] = {"mimeType", NULL};
  yajl_val v = yajl_tree_get(root, p_name, yajl_t_string);
  if (!v || strcmp(YAJL_GET_STRING(v), name) != 0) fz_fail("meta: name changed");
  v = yajl_tree_get(root, p_mime, yajl_t_string);
  if (!v || strcmp(YAJL_GET_STRING(v), BL__GDRIVE_FOLDER_MIME) != 0) fz_fail("meta: mimeType");
  v = yajl_tree_get(root, p_parents, yajl_t_array);
  if (!v || v->u.array.len != 1 || !YAJL_IS_STRING(v->u.array.values[0]) ||
      strcmp(YAJL_GET_STRING(v->u.array.values[0]), "parent-id") != 0)
    fz_fail("meta: parents");
  yajl_tree_free(root);
  free(body);
}

static void fz_token(const char *s) {
  uint64_t h = 0;
  char *id = NULL, *pt = NULL;
  int k = bl__gdrive_token_parse(s, &h, &id, &pt);
  if (k == 1) {
    char back[4096];
    snprintf(back, sizeof back, "gd1:%016llx:%s:%s", (unsigned long long)h, id, pt);
    if (strlen(s) < sizeof back - 1 && strcmp(back, s) != 0) fz_fail("token: not rebuilt");
  } else if (k == 0 && (id || pt)) {
    fz_fail("token: output after failure");
  }
  free(id);
  free(pt);

  /* The string as a folder id and as a page token. */
  char *t = bl__gdrive_token_make("App/changesets", s, s);
  if (!t) return;
  k = bl__gdrive_token_parse(t, &h, &id, &pt);
  if (k != 1 || h != bl__gdrive_path_hash("App/changesets") || strcmp(id, s) != 0 ||
      strcmp(pt, s) != 0)
    fz_fail("token: made one does not parse back");
  free(id);
  free(pt);
  free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_parsers((const char *)data, size);
  /* The bytes up to the first NUL (at most 4 KiB) as a string. */
  size_t n = strnlen((const char *)data, size < 4096 ? size : 4096);
  char *s = malloc(n + 1);
  if (!s) return 0;
  memcpy(s, data, n);
  s[n] = '\0';
  fz_time(s);
  fz_literal(s);
  fz_meta(s);
  fz_token(s);
  free(s);
  return 0;
}
