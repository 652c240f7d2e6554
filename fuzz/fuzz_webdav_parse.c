/*
 * fuzz_webdav_parse.c — libFuzzer target for the WebDAV backend's reply
 * parser (src/remote/webdav_xml.c): bl__webdav_parse_propfind on arbitrary
 * bytes, as a hostile server could send them, plus the text helpers the
 * backend feeds with server data.
 *
 * Properties checked (abort() on violation, so libFuzzer reports a crash):
 *   1. The parser never reads outside the buffer or leaks (ASan) and
 *      answers BL_OK, BL_EIO or BL_ENOMEM.
 *   2. On failure the listing is empty and the message is not.
 *   3. On success every name is a usable file name: not empty, not "." or
 *      "..", without '/' or a temporary-upload prefix; a folder has size
 *      -1, a file a size of -1 or more. The same bytes parsed for another
 *      folder succeed too (the folder only decides which entry is "self").
 *   4. Percent-coding round-trips: decode(encode(s)) == s for any s, and
 *      an accepted decode re-encodes to something that decodes the same.
 *   5. parse_date never fails on junk, only answers 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"
#include "remote/webdav_internal.h"

static void fz_fail(const char *what) {
  fprintf(stderr, "fuzz_webdav_parse: %s\n", what);
  abort();
}

static void fz_check_listing(int rc, const bl__webdav_listing *l, const char *err) {
  if (rc != BL_OK && rc != BL_EIO && rc != BL_ENOMEM) fz_fail("unexpected code");
  if (rc != BL_OK) {
    if (l->entries || l->count || l->self_found) fz_fail("a failed parse left a listing");
    if (!err[0]) fz_fail("a failed parse without a message");
    return;
  }
  for (size_t i = 0; i < l->count; i++) {
    const bl_remote_entry *e = &l->entries[i];
    if (!e->name || !e->name[0]) fz_fail("empty name");
    if (!strcmp(e->name, ".") || !strcmp(e->name, "..")) fz_fail("dot name");
    if (strchr(e->name, '/')) fz_fail("name with '/'");
    if (bl__webdav_is_temp(e->name)) fz_fail("temporary name listed");
    if (e->is_folder != 0 && e->is_folder != 1) fz_fail("is_folder not 0/1");
    if (e->is_folder && e->size != -1) fz_fail("folder with a size");
    if (e->size < -1) fz_fail("negative size");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *xml = (const char *)data;
  bl__webdav_listing l;
  char err[256];

  int rc = bl__webdav_parse_propfind(xml, size, "/dav/files/alice/App/", &l, err, sizeof err);
  fz_check_listing(rc, &l, err);
  bl__webdav_listing_clear(&l);
  int rc2 = bl__webdav_parse_propfind(xml, size, "/", &l, err, sizeof err);
  fz_check_listing(rc2, &l, err);
  if ((rc == BL_OK) != (rc2 == BL_OK) && rc != BL_ENOMEM && rc2 != BL_ENOMEM)
    fz_fail("the folder changed whether the reply parses");
  bl__webdav_listing_clear(&l);

  /* The helpers on the same bytes, as a NUL-terminated string. */
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  (void)bl__webdav_parse_date(s);
  size_t slen = strlen(s);
  char *enc = bl__webdav_encode_path(s);
  if (enc) {
    int bad = 0;
    char *back = bl__webdav_decode(enc, strlen(enc), &bad);
    if (!back && bad) fz_fail("our own encoding does not decode");
    if (back && strcmp(back, s) != 0) fz_fail("decode(encode(s)) != s");
    free(back);
    free(enc);
  }
  int bad = 0;
  char *dec = bl__webdav_decode(s, slen, &bad);
  if (dec) {
    char *re = bl__webdav_encode_path(dec);
    char *again = re ? bl__webdav_decode(re, strlen(re), &bad) : NULL;
    if (re && !again && bad) fz_fail("re-encoding does not decode");
    if (again && strcmp(again, dec) != 0) fz_fail("decode(encode(decode(s))) != decode(s)");
    free(again);
    free(re);
    free(dec);
  }
  free(s);
  return 0;
}
