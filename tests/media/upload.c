/*
 * upload.c — uploads that cannot happen yet, and storage failures around
 * media, over a cloud folder and a real WebDAV server (the fault remote
 * wraps each device's own remote):
 *   - an attachment recorded without its bytes in the cache is reported
 *     (BL_SYNC_MEDIA, naming the hash) and retried until it is cached;
 *   - the first media write fails: reported, the changeset push still
 *     happens, the file is uploaded (once) by the next sync at the latest;
 *   - a torn media write reported as a failure leaves a short file that
 *     the next sync replaces; one reported as a success is never served
 *     as the attachment, and a device holding the bytes replaces it;
 *   - a failed delete is retried; a pull that failed collects nothing;
 *   - bl_pull alone does nothing with media, bl_push uploads but never
 *     collects.
 *
 * Divided into: bytes missing from the cache; failed and torn writes;
 * failures during collection; bl_pull and bl_push alone.
 */
#include <stdlib.h>
#include <string.h>

#include "media_helpers.h"

/* ---------------------------------------------- bytes missing from the cache */

static void case_missing_from_cache(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  mh_dev *a = mh_dev_new(e, "a", NULL), *b = mh_dev_new(e, "b", NULL);
  BL_REQUIRE(a && b);
  char *src = mh_file(e, 64 * 1000, h);
  mh_step("a records an attachment row whose bytes are in no cache");
  mh_insert_row(a, h, "missing.bin");
  BL_CHECK(!mh_cached(a, h));

  mh_step("sync a: a BL_SYNC_MEDIA warning naming the hash, nothing uploaded,"
          " the changeset still pushed");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK(mh_issues(&res, 'w', BL_SYNC_MEDIA, h) >= 1);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK(res.pushed > 0);
  BL_CHECK_INT(mh_cloud_has(e, h), 0);

  mh_step("b gets the row; resolving it is BL_ENOTFOUND with a message naming it");
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  BL_CHECK_INT(mh_count_rows(b, h), 1);
  BL_CHECK_INT(res.media_uploaded, 0);
  bl_media_file f;
  BL_CHECK_INT(mh_resolve(b, h, &f), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_errmsg(b->db), h) != NULL);
  BL_CHECK(f.path == NULL);
  bl_media_file_free(&f);
  BL_CHECK_INT(bl_media_cache_get(b->db, h, NULL), BL_ENOTFOUND);

  mh_step("a's next sync warns again (retried) and still uploads nothing");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK(mh_issues(&res, 'w', BL_SYNC_MEDIA, h) >= 1);
  BL_CHECK_INT(res.media_uploaded, 0);

  mh_step("after bl_media_cache_put the next sync uploads it, without a warning");
  BL_CHECK_INT(bl_media_cache_put(a->db, h, src), BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 1);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  BL_CHECK(mh_cloud_equals(e, h, src));

  mh_step("b resolves it now; its own sync finds it there, no warning");
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  BL_CHECK_INT(res.media_uploaded, 0);
  bl_sync_result_free(&res);
  free(src);
}
MH_BOTH(test_media_upload__missing_from_cache, case_missing_from_cache)

/* ------------------------------------------------- failed and torn writes */

/* a has synced once (its folder exists) and attached a file: the first
 * write of its next sync is the media upload. */
static mh_dev *fault_setup(mh_env *e, mh_dev **b, char **src, char h[BL_MEDIA_HASH_LEN + 1]) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  mh_dev *a = mh_dev_new(e, "a", NULL);
  *b = mh_dev_new(e, "b", NULL);
  if (!a || !*b) return NULL;
  mh_edit_sync(a, &res);
  mh_edit_sync(*b, &res);
  *src = mh_file(e, 500 * 1000 + 1, h);
  if (mh_attach(a, *src, NULL) != BL_OK) return NULL;
  bl_sync_result_free(&res);
  return a;
}

static void record_first(bl__fault_op op, const char *path, void *payload) {
  (void)op;
  snprintf(payload, 512, "%s", path);
}

static void case_write_fails(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1], first[512] = "";
  char *src = NULL;
  mh_dev *b = NULL, *a = fault_setup(e, &b, &src, h);
  BL_REQUIRE(a);
  mh_step("the first write of a's sync (the media upload) fails with BL_EIO");
  BL_REQUIRE(bl__fault_crash(a->remote, BL__FAULT_WRITE, 1, BL__FAULT_BEFORE, record_first, first) ==
             BL_OK);
  BL_REQUIRE(bl__fault_fail(a->remote, BL__FAULT_WRITE, 1, BL_EIO) == BL_OK);
  int rc = mh_sync(a, &res);
  bl__fault_reset(a->remote);
  BL_CHECK_STR(first, mh_media_path(h));
  mh_step("reported with BL_SYNC_MEDIA; the changeset push still happened");
  BL_CHECK(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL) >= 1);
  if (rc != BL_OK) BL_CHECK(mh_issues(&res, 'e', BL_SYNC_MEDIA, NULL) >= 1);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_PUSH, NULL), 0);
  BL_CHECK(res.pushed > 0);
  /* Uploaded again later in this sync (the uploader's check) or at the
   * next one: either way once in all, and the cloud never holds other
   * bytes under the name. */
  int64_t uploaded = res.media_uploaded;
  BL_CHECK(uploaded == 0 || uploaded == 1);
  if (mh_cloud_has(e, h) == 1) BL_CHECK(mh_cloud_equals(e, h, src));
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  BL_CHECK_INT(mh_count_rows(b, h), 1);

  mh_step("after a's next sync the file is in the cloud (uploaded once in all);"
          " b resolves identical bytes");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  uploaded += res.media_uploaded;
  BL_CHECK_INT(uploaded, 1);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  BL_CHECK(mh_cloud_equals(e, h, src));
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));
  bl_sync_result_free(&res);
  free(src);
}
MH_BOTH(test_media_upload__write_fails, case_write_fails)

static void case_torn_write_error(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  char *src = NULL;
  mh_dev *b = NULL, *a = fault_setup(e, &b, &src, h);
  BL_REQUIRE(a);
  mh_step("a's media upload is torn (half of it stored) and reported as failed");
  BL_REQUIRE(bl__fault_tear_write(a->remote, 1, 250 * 1000, BL_EIO) == BL_OK);
  mh_sync(a, &res);
  bl__fault_reset(a->remote);
  BL_CHECK(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL) >= 1);
  BL_CHECK(res.pushed > 0);
  int64_t uploaded = res.media_uploaded;
  BL_CHECK(uploaded == 0 || uploaded == 1);

  mh_step("b never gets the short file as the attachment: BL_ECORRUPT and nothing cached,"
          " or (uploaded again since) the right bytes");
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  bl_media_file f;
  int rrc = mh_resolve(b, h, &f);
  if (rrc == BL_OK) {
    BL_CHECK(f.path && mh_files_equal(f.path, src));
  } else {
    BL_CHECK(rrc == BL_ECORRUPT || rrc == BL_ENOTFOUND);
    BL_CHECK_INT(bl_media_cache_get(b->db, h, NULL), BL_ENOTFOUND);
    BL_CHECK(!mh_cache_has_file(b, h));
  }
  bl_media_file_free(&f);

  mh_step("after a's next sync (a file of the wrong size is uploaded over) the cloud holds"
          " the right bytes, uploaded once in all");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  uploaded += res.media_uploaded;
  BL_CHECK_INT(uploaded, 1);
  BL_CHECK(mh_cloud_equals(e, h, src));
  BL_CHECK(mh_resolve_check(b, h, src, rrc == BL_OK ? BL_MEDIA_FROM_CACHE : BL_MEDIA_DOWNLOADED));
  bl_sync_result_free(&res);
  free(src);
}
MH_BOTH(test_media_upload__torn_write_error, case_torn_write_error)

/*
 * The store cuts the upload short but says it succeeded (a non-atomic
 * store that lies). Promised: nobody is ever given the short file as the
 * attachment (resolve checks the hash and caches nothing), and the
 * uploader's check of its new reference compares the listed size with its
 * cache entry at its next sync, and puts the whole file back.
 */
static void case_torn_write_success(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  char *src = NULL;
  mh_dev *b = NULL, *a = fault_setup(e, &b, &src, h);
  BL_REQUIRE(a);
  mh_step("a's media upload is torn (100 KB of 500 KB stored) and reported as a success");
  BL_REQUIRE(bl__fault_tear_write(a->remote, 1, 100 * 1000, BL_OK) == BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  bl__fault_reset(a->remote);
  BL_CHECK_INT(mh_cloud_has(e, h), 1);
  BL_CHECK(!mh_cloud_equals(e, h, src));

  mh_step("b's resolve: BL_ECORRUPT, nothing cached, again and again");
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  for (int i = 0; i < 2; i++) {
    bl_media_file f;
    BL_CHECK_INT(mh_resolve(b, h, &f), BL_ECORRUPT);
    bl_media_file_free(&f);
    BL_CHECK_INT(bl_media_cache_get(b->db, h, NULL), BL_ENOTFOUND);
    BL_CHECK(!mh_cache_has_file(b, h));
  }

  mh_step("a's next sync checks its new reference, finds the short file and uploads the whole one again");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 1);
  BL_CHECK(mh_issues(&res, '*', BL_SYNC_MEDIA, h) >= 1);
  BL_CHECK(mh_cloud_equals(e, h, src));
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));

  mh_step("c, which holds the same bytes, attaches them: the whole file is there, nothing is uploaded");
  mh_dev *c = mh_dev_new(e, "c", NULL);
  BL_REQUIRE(c);
  BL_CHECK_INT(mh_attach(c, src, NULL), BL_OK);
  BL_CHECK_INT(mh_sync(c, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK(mh_cloud_equals(e, h, src));
  bl_sync_result_free(&res);
  free(src);
}
MH_BOTH(test_media_upload__torn_write_success, case_torn_write_success)

/* ---------------------------------------------- failures during collection */

/* a uploads H, b pushes, a unreferences H, b pushes again: with grace 1,
 * a's next sync collects H. */
static mh_dev *collect_setup(mh_env *e, mh_dev **b, char h[BL_MEDIA_HASH_LEN + 1]) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  mh_opts o = {.grace = 1};
  mh_dev *a = mh_dev_new(e, "a", &o);
  *b = mh_dev_new(e, "b", &o);
  if (!a || !*b) return NULL;
  char *src = mh_file(e, 20 * 1000, h);
  int rc = mh_attach(a, src, NULL);
  free(src);
  if (rc != BL_OK) return NULL;
  mh_sync(a, &res);
  mh_edit_sync(*b, &res);
  mh_sync(a, &res);
  mh_delete_rows(a, h);
  mh_sync(a, &res);
  mh_edit_sync(*b, &res);
  bl_sync_result_free(&res);
  return a;
}

static void case_remove_fails(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  mh_dev *b = NULL, *a = collect_setup(e, &b, h);
  BL_REQUIRE(a);
  mh_step("a's collecting sync: the delete fails (BL_ENET): reported, the file stays");
  BL_REQUIRE(bl__fault_fail(a->remote, BL__FAULT_REMOVE, 1, BL_ENET) == BL_OK);
  mh_sync(a, &res);
  bl__fault_reset(a->remote);
  BL_CHECK(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL) >= 1);
  BL_CHECK_INT(res.media_deleted, 0);
  BL_CHECK_INT(mh_cloud_has(e, h), 1);
  mh_step("the next sync deletes it");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_deleted, 1);
  BL_CHECK_INT(mh_cloud_has(e, h), 0);
  bl_sync_result_free(&res);
}
MH_BOTH(test_media_upload__remove_fails, case_remove_fails)

static void case_pull_fails(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  mh_dev *b = NULL, *a = collect_setup(e, &b, h);
  BL_REQUIRE(a);
  mh_step("a's collecting sync cannot read b's new changeset: an error, and no collection");
  BL_REQUIRE(bl__fault_fail(a->remote, BL__FAULT_READ, 1, BL_EIO) == BL_OK);
  uint64_t removes = mh_calls(a, BL__FAULT_REMOVE);
  BL_CHECK(mh_sync(a, &res) != BL_OK);
  bl__fault_reset(a->remote);
  BL_CHECK(res.errors_count >= 1);
  BL_CHECK_INT(res.media_deleted, 0);
  BL_CHECK_INT(mh_calls(a, BL__FAULT_REMOVE), removes);
  BL_CHECK_INT(mh_cloud_has(e, h), 1);
  mh_step("the next sync pulls it and collects");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_deleted, 1);
  BL_CHECK_INT(mh_cloud_has(e, h), 0);
  bl_sync_result_free(&res);
}
MH_BOTH(test_media_upload__pull_fails, case_pull_fails)

/* ------------------------------------------------- bl_pull and bl_push alone */

/* bl_pull does nothing with media; bl_push uploads but never collects. */
static void case_pull_push_alone(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  mh_dev *b = NULL, *a = collect_setup(e, &b, h);
  BL_REQUIRE(a);
  char h2[BL_MEDIA_HASH_LEN + 1], *src2 = mh_file(e, 33333, h2);
  BL_REQUIRE(mh_attach(a, src2, NULL) == BL_OK);
  mh_step("a is due to collect H and has a new attachment H2: bl_pull uploads nothing,"
          " deletes nothing, writes nothing");
  uint64_t writes = mh_calls(a, BL__FAULT_WRITE), removes = mh_calls(a, BL__FAULT_REMOVE);
  BL_CHECK_INT(bl_pull(a->db, a->remote, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK_INT(res.media_deleted, 0);
  BL_CHECK_INT(mh_calls(a, BL__FAULT_WRITE), writes);
  BL_CHECK_INT(mh_calls(a, BL__FAULT_REMOVE), removes);
  BL_CHECK_INT(mh_cloud_has(e, h2), 0);
  BL_CHECK_INT(mh_cloud_has(e, h), 1);
  mh_step("bl_push uploads H2 and pushes, but collects nothing");
  BL_CHECK_INT(bl_push(a->db, a->remote, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 1);
  BL_CHECK_INT(res.media_deleted, 0);
  BL_CHECK(res.pushed > 0);
  BL_CHECK_INT(mh_calls(a, BL__FAULT_REMOVE), removes);
  BL_CHECK(mh_cloud_equals(e, h2, src2));
  BL_CHECK_INT(mh_cloud_has(e, h), 1);
  mh_step("b's bl_pull brings the row and downloads nothing; bl_sync of a then collects H");
  BL_CHECK_INT(bl_pull(b->db, b->remote, &res), BL_OK);
  BL_CHECK_INT(mh_count_rows(b, h2), 1);
  BL_CHECK(!mh_cached(b, h2) && !mh_cache_has_file(b, h2));
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_deleted, 1);
  BL_CHECK_INT(mh_cloud_has(e, h), 0);
  BL_CHECK(mh_resolve_check(b, h2, src2, BL_MEDIA_DOWNLOADED));
  bl_sync_result_free(&res);
  free(src2);
}
MH_BOTH(test_media_upload__pull_push_alone, case_pull_push_alone)

static const bl_test_case cases[] = {
    MH_TESTS(test_media_upload__missing_from_cache),
    MH_TESTS(test_media_upload__write_fails),
    MH_TESTS(test_media_upload__torn_write_error),
    MH_TESTS(test_media_upload__torn_write_success),
    MH_TESTS(test_media_upload__remove_fails),
    MH_TESTS(test_media_upload__pull_fails),
    MH_TESTS(test_media_upload__pull_push_alone),
};

BL_TEST_MAIN(cases)
