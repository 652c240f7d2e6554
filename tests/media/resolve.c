/*
 * resolve.c — media sync between two devices, each case over a cloud
 * folder and over a real WebDAV server: an attachment made on one device
 * is uploaded by its sync, resolved on the other (downloaded once, then
 * from the cache with no request at all), never uploaded twice, and an
 * attachment whose bytes are already in the cloud is only marked uploaded.
 *
 * Divided into: two devices; the same bytes attached twice; several
 * attachments in one sync.
 */
#include <stdlib.h>
#include <string.h>

#include "media_helpers.h"

/* A attaches a file and syncs; B syncs and resolves it twice. */
static void case_two_devices(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1], lib_hash[BL_MEDIA_HASH_LEN + 1];
  mh_dev *a = mh_dev_new(e, "a", NULL), *b = mh_dev_new(e, "b", NULL);
  BL_REQUIRE(a && b);
  char *src = mh_file(e, 300 * 1000 + 7, h);

  mh_step("attach on a: the library's hash is SHA-256 of the bytes, the bytes are cached");
  BL_REQUIRE(mh_attach(a, src, lib_hash) == BL_OK);
  BL_CHECK_STR(lib_hash, h);
  BL_CHECK_INT(mh_count_rows(a, h), 1);
  BL_CHECK(mh_cached(a, h));
  BL_CHECK_INT(mh_cloud_has(e, h), 0);

  mh_step("sync a: one upload (one write under media/), to " MH_APP
          "/media/<2 hex>/<hash>, identical bytes");
  mh_rec rec;
  mh_record_writes(a, &rec);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  mh_record_stop(a);
  BL_CHECK_INT(mh_rec_media(&rec), 1);
  BL_CHECK_INT(res.media_uploaded, 1);
  BL_CHECK_INT(res.media_deleted, 0);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  BL_CHECK(res.pushed > 0);
  BL_CHECK_INT(mh_cloud_has(e, h), 1);
  BL_CHECK(mh_cloud_equals(e, h, src));

  mh_step("a second sync of a uploads nothing (no write under media/)");
  mh_record_writes(a, &rec);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  mh_record_stop(a);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK_INT(mh_rec_media(&rec), 0);

  mh_step("sync b: the row arrives; b has not the bytes but the cloud has: no upload, no warning,"
          " nothing downloaded");
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  BL_CHECK_INT(mh_count_rows(b, h), 1);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  BL_CHECK(!mh_cached(b, h));
  BL_CHECK(!mh_cache_has_file(b, h));

  mh_step("resolve on b: downloaded (the remote read it), identical bytes");
  bl__fault_reset_calls(b->remote);
  uint64_t req0 = mh_requests(b);
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));
  BL_CHECK(mh_calls(b, BL__FAULT_READ) >= 1);
  if (e->backend == MH_WEBDAV) BL_CHECK(mh_requests(b) > req0);
  BL_CHECK(mh_cached(b, h));

  mh_step("resolve on b again: from the cache, zero calls to the remote");
  bl__fault_reset_calls(b->remote);
  uint64_t req1 = mh_requests(b);
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_FROM_CACHE));
  BL_CHECK_INT(mh_calls(b, BL__FAULT_ANY), 0);
  BL_CHECK_INT(mh_requests(b), req1);

  mh_step("the resolved path is the cache entry bl_media_cache_get gives");
  bl_media_file f;
  char *cached = NULL;
  BL_CHECK_INT(mh_resolve(b, h, &f), BL_OK);
  BL_CHECK_INT(bl_media_cache_get(b->db, h, &cached), BL_OK);
  BL_CHECK(f.path && cached && strcmp(f.path, cached) == 0);
  BL_CHECK(cached && strncmp(cached, bl_media_cache_dir(b->db), strlen(bl_media_cache_dir(b->db))) == 0);
  free(cached);
  bl_media_file_free(&f);
  BL_CHECK(f.path == NULL);
  bl_sync_result_free(&res);
  free(src);
}
MH_BOTH(test_media_resolve__two_devices, case_two_devices)

/* b attaches bytes a already uploaded: marked uploaded, never written. */
static void case_already_in_cloud(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1], hb[BL_MEDIA_HASH_LEN + 1];
  mh_dev *a = mh_dev_new(e, "a", NULL), *b = mh_dev_new(e, "b", NULL);
  BL_REQUIRE(a && b);
  char *src = mh_file(e, 70000, h);
  BL_REQUIRE(mh_attach(a, src, NULL) == BL_OK);
  BL_REQUIRE(mh_sync(a, &res) == BL_OK && res.media_uploaded == 1);

  mh_step("b attaches a copy of the same bytes under another name before it ever synced");
  char *copy = mh_path(e, "copy-of-src.bin");
  BL_REQUIRE(mh_copy_file(src, copy) == 0);
  BL_REQUIRE(mh_attach(b, copy, hb) == BL_OK);
  BL_CHECK_STR(hb, h);

  mh_step("sync b: media_uploaded == 0 and no write under media/ (changesets only)");
  mh_rec rec;
  bl__fault_reset_calls(b->remote);
  mh_record_writes(b, &rec);
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  mh_record_stop(b);
  BL_CHECK(rec.n < BL__FAULT_MAX_TRIGGERS); /* every write was recorded */
  BL_CHECK_INT((int64_t)mh_calls(b, BL__FAULT_WRITE), rec.n);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK_INT(mh_rec_media(&rec), 0);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  BL_CHECK(res.pushed > 0);
  BL_CHECK(mh_cloud_equals(e, h, src));

  mh_step("its next sync does not try again either");
  mh_record_writes(b, &rec);
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  mh_record_stop(b);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK_INT(mh_rec_media(&rec), 0);

  mh_step("a sees both rows; b resolves from its cache without a call");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(mh_count_rows(a, h), 2);
  BL_CHECK_INT(res.media_uploaded, 0);
  bl__fault_reset_calls(b->remote);
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_FROM_CACHE));
  BL_CHECK_INT(mh_calls(b, BL__FAULT_ANY), 0);
  bl_sync_result_free(&res);
  free(src);
  free(copy);
}
MH_BOTH(test_media_resolve__already_in_cloud, case_already_in_cloud)

/* Several attachments, of sizes around the edges (empty, one byte, a
 * 64 KiB boundary), in one sync; two share bytes. */
static void case_several(mh_env *e) {
  static const int64_t sizes[] = {0, 1, 65535, 65536, 65537, 2 * 1000 * 1000};
  enum { N = sizeof sizes / sizeof sizes[0] };
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[N][BL_MEDIA_HASH_LEN + 1];
  char *src[N];
  mh_dev *a = mh_dev_new(e, "a", NULL), *b = mh_dev_new(e, "b", NULL);
  BL_REQUIRE(a && b);
  mh_step("a attaches %d files (0 B .. 2 MB) and one of them twice", N);
  for (int i = 0; i < N; i++) {
    src[i] = mh_file(e, sizes[i], h[i]);
    BL_CHECK_INT(mh_attach(a, src[i], NULL), BL_OK);
  }
  BL_CHECK_INT(mh_attach(a, src[3], NULL), BL_OK);
  BL_CHECK_INT(mh_count_rows(a, NULL), N + 1);
  BL_CHECK_STR(h[0], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  mh_step("one sync uploads each distinct file once");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, N);
  for (int i = 0; i < N; i++) BL_CHECK(mh_cloud_equals(e, h[i], src[i]));

  mh_step("b resolves each of them: downloaded, identical, then from the cache");
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  for (int i = 0; i < N; i++) BL_CHECK(mh_resolve_check(b, h[i], src[i], BL_MEDIA_DOWNLOADED));
  bl__fault_reset_calls(b->remote);
  for (int i = 0; i < N; i++) BL_CHECK(mh_resolve_check(b, h[i], src[i], BL_MEDIA_FROM_CACHE));
  BL_CHECK_INT(mh_calls(b, BL__FAULT_ANY), 0);
  for (int i = 0; i < N; i++) free(src[i]);
  bl_sync_result_free(&res);
}
MH_BOTH(test_media_resolve__several, case_several)

static const bl_test_case cases[] = {
    MH_TESTS(test_media_resolve__two_devices),
    MH_TESTS(test_media_resolve__already_in_cloud),
    MH_TESTS(test_media_resolve__several),
};

BL_TEST_MAIN(cases)
