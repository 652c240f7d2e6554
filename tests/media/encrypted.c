/*
 * encrypted.c — attachments in an encrypted app folder: stored under a
 * keyed name (never the content hash), as an authenticated envelope (never
 * the bytes), resolved on another device with the same passphrase, refused
 * when altered, collected like any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "media_helpers.h"

static int enc_sink(const void *data, size_t len, void *payload) {
  return fwrite(data, 1, len, payload) == len ? 0 : BL_EIO;
}

/* Reads cloud file `path` through `r` into `out`: 0, or -1. */
static int mh_read_all(bl_remote *r, const char *path, FILE *out) {
  return bl_remote_read(r, path, enc_sink, out) == BL_OK ? 0 : -1;
}

/* Every file below <app>/media: count, and whether any holds `needle` or
 * is named `name`. */
static int media_files(mh_env *e, const char *needle, size_t nlen, const char *name, int *hits, int *named) {
  bl_remote_entry *shards = NULL;
  size_t ns = 0;
  *hits = *named = 0;
  int rc = bl_remote_list(e->probe, MH_APP "/media", &shards, &ns);
  if (rc == BL_ENOTFOUND) return 0;
  int count = 0;
  for (size_t i = 0; i < ns; i++) {
    if (!shards[i].is_folder) continue;
    char folder[128];
    snprintf(folder, sizeof folder, MH_APP "/media/%s", shards[i].name);
    bl_remote_entry *files = NULL;
    size_t nf = 0;
    if (bl_remote_list(e->probe, folder, &files, &nf) != BL_OK) continue;
    for (size_t j = 0; j < nf; j++) {
      if (files[j].is_folder) continue;
      count++;
      if (strcmp(files[j].name, name) == 0) (*named)++;
      char path[256];
      snprintf(path, sizeof path, "%s/%s", folder, files[j].name);
      char *bytes = NULL;
      size_t len = 0;
      FILE *mem = open_memstream(&bytes, &len);
      /* Read through the probe into memory. */
      if (mh_read_all(e->probe, path, mem) == 0) {
        fclose(mem);
        if (memmem(bytes, len, needle, nlen)) (*hits)++;
      } else {
        fclose(mem);
      }
      free(bytes);
    }
    bl_remote_entries_free(files, nf);
  }
  bl_remote_entries_free(shards, ns);
  return count;
}

static void case_round_trip(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  mh_opts o = {0};
  o.passphrase = "media passphrase";
  mh_dev *a = mh_dev_new(e, "a", &o), *b = mh_dev_new(e, "b", &o);
  BL_REQUIRE(a && b);
  const char *text = "CONFIDENTIAL-RECEIPT-4711 the plaintext of an attachment, repeated. ";
  char *src = mh_path(e, "receipt.txt");
  FILE *f = fopen(src, "wb");
  for (int i = 0; i < 2000; i++) fputs(text, f);
  fclose(f);
  char h[BL_MEDIA_HASH_LEN + 1];
  mh_step("a attaches and syncs: one file, not named by the hash, without the plaintext");
  BL_REQUIRE(mh_attach(a, src, h) == BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 1);
  int hits = 0, named = 0;
  BL_CHECK_INT(media_files(e, "CONFIDENTIAL-RECEIPT", 20, h, &hits, &named), 1);
  BL_CHECK_INT(hits, 0);
  BL_CHECK_INT(named, 0);
  BL_CHECK_INT(mh_cloud_has(e, h), 0);

  mh_step("b syncs and resolves: downloaded, decrypted, identical; then from the cache");
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_FROM_CACHE));
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 0);

  mh_step("a device without the passphrase resolves nothing");
  mh_dev *x = mh_dev_new(e, "x", NULL);
  BL_REQUIRE(x);
  bl_media_file mf;
  BL_CHECK_INT(mh_resolve(x, h, &mf), BL_EAUTH);
  bl_media_file_free(&mf);

  mh_step("collection after the grace deletes the keyed file");
  mh_delete_rows(a, h);
  for (int round = 0; round < 4; round++) {
    BL_CHECK_INT(mh_edit_sync(a, &res), BL_OK);
    BL_CHECK_INT(mh_edit_sync(b, &res), BL_OK);
  }
  BL_CHECK_INT(media_files(e, "x", 1, h, &hits, &named), 0);
  bl_sync_result_free(&res);
  free(src);
}
MH_BOTH(test_media_encrypted__round_trip, case_round_trip)

static void case_tampered(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  mh_opts o = {0};
  o.passphrase = "media passphrase";
  mh_dev *a = mh_dev_new(e, "a", &o), *b = mh_dev_new(e, "b", &o);
  BL_REQUIRE(a && b);
  char h[BL_MEDIA_HASH_LEN + 1];
  char *src = mh_file(e, 200 * 1000, h);
  BL_REQUIRE(mh_attach(a, src, h) == BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  mh_step("the cloud file is replaced by another attachment's envelope: b refuses it, caches nothing");
  char h2[BL_MEDIA_HASH_LEN + 1];
  char *src2 = mh_file(e, 1000, h2);
  BL_REQUIRE(mh_attach(a, src2, h2) == BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  /* Move the second envelope over the first (names are keyed: find them). */
  bl_remote_entry *shards = NULL;
  size_t ns = 0;
  BL_REQUIRE(bl_remote_list(e->probe, MH_APP "/media", &shards, &ns) == BL_OK);
  char paths[2][256];
  int np = 0;
  for (size_t i = 0; i < ns && np < 2; i++) {
    char folder[128];
    snprintf(folder, sizeof folder, MH_APP "/media/%s", shards[i].name);
    bl_remote_entry *files = NULL;
    size_t nf = 0;
    if (bl_remote_list(e->probe, folder, &files, &nf) != BL_OK) continue;
    for (size_t j = 0; j < nf && np < 2; j++) snprintf(paths[np++], sizeof paths[0], "%s/%s", folder, files[j].name);
    bl_remote_entries_free(files, nf);
  }
  bl_remote_entries_free(shards, ns);
  BL_REQUIRE(np == 2);
  char *bytes[2] = {NULL, NULL};
  size_t len[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    FILE *m = open_memstream(&bytes[k], &len[k]);
    BL_REQUIRE(mh_read_all(e->probe, paths[k], m) == 0);
    fclose(m);
  }
  /* Swap contents. */
  BL_REQUIRE(bl_remote_write_buf(e->probe, paths[0], bytes[1], len[1]) == BL_OK);
  BL_REQUIRE(bl_remote_write_buf(e->probe, paths[1], bytes[0], len[0]) == BL_OK);
  bl_media_file mf;
  BL_CHECK_INT(mh_resolve(b, h, &mf), BL_ECORRUPT);
  bl_media_file_free(&mf);
  BL_CHECK_INT(mh_resolve(b, h2, &mf), BL_ECORRUPT);
  bl_media_file_free(&mf);
  BL_CHECK(!mh_cache_has_file(b, h));
  mh_step("a flipped byte is refused too");
  BL_REQUIRE(bl_remote_write_buf(e->probe, paths[0], bytes[0], len[0]) == BL_OK);
  bytes[1][len[1] / 2] ^= 1;
  BL_REQUIRE(bl_remote_write_buf(e->probe, paths[1], bytes[1], len[1]) == BL_OK);
  int ok = 0;
  for (int k = 0; k < 2; k++) {
    const char *hk = k ? h2 : h;
    int rc = mh_resolve(b, hk, &mf);
    bl_media_file_free(&mf);
    ok += rc == BL_OK;
  }
  BL_CHECK_INT(ok, 1); /* the intact one opens, the flipped one does not */
  free(bytes[0]);
  free(bytes[1]);
  free(src);
  free(src2);
  bl_sync_result_free(&res);
}
MH_BOTH(test_media_encrypted__tampered, case_tampered)

static const bl_test_case cases[] = {
    MH_TESTS(test_media_encrypted__round_trip),
    MH_TESTS(test_media_encrypted__tampered),
};
BL_TEST_MAIN(cases)
