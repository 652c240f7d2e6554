/*
 * gc.c — media garbage collection, over a cloud folder and over a real
 * WebDAV server: a cloud file is collected only after a device saw its
 * hash referenced, then unreferenced, and every other device pushed
 * `media_gc_grace` changesets since; cache entries of hashes a database
 * knew go when it stops referencing them; a hash nobody was seen
 * referencing, and cache entries of another database, are never touched.
 *
 * The counts follow the rule exactly: the unreference is seen by a at a
 * sync where a's cursor for b is k; a may delete once its cursor for b is
 * k + grace, so each step below says which sync must leave the file and
 * which one must collect it.
 *
 * Divided into: the default grace (2); grace 1 with the hand-written
 * schema; a reference coming back before the grace; hashes never seen
 * referenced; a cache shared with another database.
 */
#include <stdlib.h>
#include <string.h>

#include "media_helpers.h"

/* Checks H's presence in the cloud after a step; says which step. */
static void gc_expect(mh_env *e, const char *h, int present, const char *step) {
  int has = mh_cloud_has(e, h);
  if (has != present) {
    fprintf(stderr, "  after %s the cloud file is %s, expected %s\n", step,
            has == 1 ? "there" : has == 0 ? "gone" : "unknown", present ? "there" : "gone");
    bl_test_failed_checks++;
  }
}

/*
 * a uploads H, b pushes and resolves it, a pulls; a unreferences H; then
 * edits and syncs alternate. With grace 2: a's cursor for b is 1 when it
 * sees the unreference (b pushed cs-1), b pushes cs-2, cs-3 at its next
 * two syncs, so a's second sync after the unreference (step 8) is the
 * first that may collect; before it the file must be there.
 */
static void gc_run(mh_env *e, const mh_opts *o) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  int grace = o->grace ? o->grace : BL_MEDIA_GC_GRACE;
  mh_dev *a = mh_dev_new(e, "a", o), *b = mh_dev_new(e, "b", o);
  BL_REQUIRE(a && b);
  char *src = mh_file(e, 120 * 1000, h);
  if (o->custom) {
    mh_custom_attach(a, src, "path", h);
  } else {
    BL_REQUIRE(mh_attach(a, src, NULL) == BL_OK);
  }

  mh_step("1-3: a uploads H; b pulls it, pushes an edit and resolves H; a pulls b's edit");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 1);
  BL_CHECK(mh_cached(a, h));
  mh_edit_sync(b, &res);
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_deleted, 0);

  mh_step("4: a deletes its reference and syncs: the cloud file stays (just unreferenced),"
          " a's cache entry of H goes");
  mh_delete_rows(a, h);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_deleted, 0);
  gc_expect(e, h, 1, "step 4 (a saw the unreference)");
  BL_CHECK_INT(bl_media_cache_get(a->db, h, NULL), BL_ENOTFOUND);
  BL_CHECK(!mh_cache_has_file(a, h));

  mh_step("5: b pulls the delete (and pushes an edit): the file stays, b's cache entry goes");
  mh_edit_sync(b, &res);
  BL_CHECK_INT(res.media_deleted, 0);
  BL_CHECK_INT(mh_count_rows(b, h), 0);
  gc_expect(e, h, 1, "step 5 (b saw the unreference)");
  BL_CHECK_INT(bl_media_cache_get(b->db, h, NULL), BL_ENOTFOUND);
  BL_CHECK(!mh_cache_has_file(b, h));

  int64_t deleted = 0;
  int step = 6;
  if (grace >= 2) {
    mh_step("6-7: edits and syncs on a, then b: b pushed only one changeset since: the file stays");
    mh_edit_sync(a, &res);
    deleted += res.media_deleted;
    gc_expect(e, h, 1, "step 6 (a: b pushed once since)");
    mh_edit_sync(b, &res);
    deleted += res.media_deleted;
    gc_expect(e, h, 1, "step 7 (b: a pushed once since)");
    BL_CHECK_INT(deleted, 0);
    step = 8;
  }
  mh_step("%d: a's sync after b pushed %d changesets since the unreference collects H", step,
          grace);
  mh_edit_sync(a, &res);
  BL_CHECK_INT(res.media_deleted, 1);
  deleted += res.media_deleted;
  gc_expect(e, h, 0, "a's sync past the grace");
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);

  mh_step("more rounds: nothing else deleted or uploaded, no media issue; one deletion in all");
  for (int round = 0; round < 3; round++) {
    mh_dev *devs[2] = {b, a};
    for (int i = 0; i < 2; i++) {
      mh_edit_sync(devs[i], &res);
      deleted += res.media_deleted;
      BL_CHECK_INT(res.media_uploaded, 0);
      BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
    }
  }
  BL_CHECK_INT(deleted, 1);
  gc_expect(e, h, 0, "the last round");

  mh_step("the cache entry of H is gone in both caches; resolving it now is BL_ENOTFOUND");
  BL_CHECK_INT(bl_media_cache_get(a->db, h, NULL), BL_ENOTFOUND);
  BL_CHECK_INT(bl_media_cache_get(b->db, h, NULL), BL_ENOTFOUND);
  BL_CHECK(!mh_cache_has_file(a, h));
  BL_CHECK(!mh_cache_has_file(b, h));
  bl_media_file f;
  BL_CHECK_INT(mh_resolve(b, h, &f), BL_ENOTFOUND);
  bl_media_file_free(&f);
  bl_sync_result_free(&res);
  free(src);
}

static void case_default_grace(mh_env *e) {
  mh_opts o = {.grace = 0};
  gc_run(e, &o);
}
MH_BOTH(test_media_gc__default_grace, case_default_grace)

static void case_custom_grace_1(mh_env *e) {
  mh_opts o = {.grace = 1, .custom = 1};
  gc_run(e, &o);
}
MH_BOTH(test_media_gc__custom_schema_grace_1, case_custom_grace_1)

/* The reference comes back (b attaches the same bytes) before the grace
 * ran out: the condemnation is cancelled, the file is never collected. */
static void case_back_before_grace(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  mh_opts o = {.grace = 1};
  mh_dev *a = mh_dev_new(e, "a", &o), *b = mh_dev_new(e, "b", &o);
  BL_REQUIRE(a && b);
  char *src = mh_file(e, 40 * 1000, h);
  BL_REQUIRE(mh_attach(a, src, NULL) == BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  mh_edit_sync(b, &res);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  mh_step("a unreferences H; b, before pulling that, references it too; both sync");
  mh_delete_rows(a, h);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_deleted, 0);
  mh_insert_row(b, h, "again.bin");
  mh_edit_sync(b, &res);
  BL_CHECK_INT(mh_count_rows(b, h), 1);
  mh_step("rounds of edits and syncs well past the grace: H is never deleted");
  int64_t deleted = 0;
  for (int round = 0; round < 4; round++) {
    mh_edit_sync(a, &res);
    deleted += res.media_deleted;
    mh_edit_sync(b, &res);
    deleted += res.media_deleted;
  }
  BL_CHECK_INT(deleted, 0);
  BL_CHECK_INT(mh_count_rows(a, h), 1);
  BL_CHECK(mh_cloud_equals(e, h, src));
  mh_dev *c = mh_dev_new(e, "c", NULL);
  BL_REQUIRE(c);
  BL_CHECK_INT(mh_sync(c, &res), BL_OK);
  BL_CHECK(mh_resolve_check(c, h, src, BL_MEDIA_DOWNLOADED));
  bl_sync_result_free(&res);
  free(src);
}
MH_BOTH(test_media_gc__back_before_grace, case_back_before_grace)

/* Files nobody was seen referencing survive any number of syncs, while a
 * referenced-then-unreferenced one beside them is collected. */
static void case_never_seen(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1], stray[BL_MEDIA_HASH_LEN + 1];
  static const char stray_bytes[] = "uploaded by hand; referenced by no row";
  mh_opts o = {.grace = 1};
  mh_dev *a = mh_dev_new(e, "a", &o), *b = mh_dev_new(e, "b", &o);
  BL_REQUIRE(a && b);
  mh_step("a file put in media/ by hand under its valid hash, and one under a name"
          " that is no hash");
  mh_sha256_buf(stray_bytes, sizeof stray_bytes - 1, stray);
  BL_REQUIRE(mh_cloud_put(e, stray, stray_bytes, sizeof stray_bytes - 1) == BL_OK);
  BL_REQUIRE(bl_remote_mkdir(e->probe, MH_APP "/media/zz") == BL_OK);
  BL_REQUIRE(bl_remote_write_buf(e->probe, MH_APP "/media/zz/not-a-hash", "x", 1) == BL_OK);
  char *src = mh_file(e, 10 * 1000, h);
  BL_REQUIRE(mh_attach(a, src, NULL) == BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  mh_edit_sync(b, &res);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  mh_delete_rows(a, h);
  mh_step("a unreferences H; ten rounds of edits and syncs on both devices");
  int64_t deleted = 0;
  for (int round = 0; round < 10; round++) {
    mh_edit_sync(a, &res);
    deleted += res.media_deleted;
    mh_edit_sync(b, &res);
    deleted += res.media_deleted;
  }
  mh_step("H was collected (once); the stray files are all still there");
  BL_CHECK_INT(deleted, 1);
  BL_CHECK_INT(mh_cloud_has(e, h), 0);
  BL_CHECK_INT(mh_cloud_has(e, stray), 1);
  bl_remote_entry *ents = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(e->probe, MH_APP "/media/zz", &ents, &n), BL_OK);
  BL_CHECK_INT(n, 1);
  bl_remote_entries_free(ents, n);
  mh_step("the hand-made file can still be resolved by its hash");
  char *stray_path = mh_path(e, "stray.bin");
  BL_REQUIRE(mh_write_bytes(stray_path, stray_bytes, sizeof stray_bytes - 1) == 0);
  BL_CHECK(mh_resolve_check(b, stray, stray_path, BL_MEDIA_DOWNLOADED));
  bl_sync_result_free(&res);
  free(src);
  free(stray_path);
}
MH_BOTH(test_media_gc__never_seen, case_never_seen)

/* A second database x shares a's cache folder: what x cached, a never knew,
 * and a's pruning leaves it; a's own unreferenced entry goes. */
static void case_shared_cache(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1], hx[BL_MEDIA_HASH_LEN + 1];
  mh_opts o = {.grace = 1};
  mh_dev *a = mh_dev_new(e, "a", &o), *b = mh_dev_new(e, "b", &o);
  BL_REQUIRE(a && b);
  mh_opts ox = {.grace = 1, .cache_dir = a->cache_dir};
  mh_dev *x = mh_dev_new(e, "x", &ox);
  BL_REQUIRE(x);
  BL_CHECK_STR(bl_media_cache_dir(x->db), bl_media_cache_dir(a->db));
  static const char xbytes[] = "x's own attachment, unknown to a";
  mh_sha256_buf(xbytes, sizeof xbytes - 1, hx);
  mh_step("x caches its own entry in the shared folder; a attaches H");
  BL_REQUIRE(bl_media_cache_put_buf(x->db, hx, xbytes, sizeof xbytes - 1) == BL_OK);
  char *src = mh_file(e, 5000, h);
  BL_REQUIRE(mh_attach(a, src, NULL) == BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  mh_edit_sync(b, &res);
  mh_step("a unreferences H and syncs through the grace: H's entry goes, x's stays");
  mh_delete_rows(a, h);
  for (int round = 0; round < 3; round++) {
    mh_edit_sync(a, &res);
    mh_edit_sync(b, &res);
  }
  BL_CHECK_INT(bl_media_cache_get(a->db, h, NULL), BL_ENOTFOUND);
  BL_CHECK(mh_cached(x, hx));
  BL_CHECK(mh_cached(a, hx)); /* a reads the shared folder too */
  BL_CHECK_INT(mh_cloud_has(e, h), 0);
  bl_sync_result_free(&res);
  free(src);
}
MH_BOTH(test_media_gc__shared_cache, case_shared_cache)

static const bl_test_case cases[] = {
    MH_TESTS(test_media_gc__default_grace),
    MH_TESTS(test_media_gc__custom_schema_grace_1),
    MH_TESTS(test_media_gc__back_before_grace),
    MH_TESTS(test_media_gc__never_seen),
    MH_TESTS(test_media_gc__shared_cache),
};

BL_TEST_MAIN(cases)
