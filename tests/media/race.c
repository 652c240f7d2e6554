/*
 * race.c — the garbage collection races SPEC section 8 names, over a cloud
 * folder and over a real WebDAV server. Device a is about to collect H1
 * (it saw H1 referenced, then unreferenced, and b pushed enough since);
 * a's sync runs through the fault remote with a callback at its first
 * remove, just before it reaches the storage, and inside that callback
 * device b does a whole sync of its own:
 *   - fresh upload: b attaches a brand-new file H2 (uploaded, referenced):
 *     a, which never saw H2, must leave it, so a fresh device gets it;
 *   - re-reference: b references H1 again (still in the cloud, so only
 *     marked uploaded): a's remove deletes it anyway, and b's next sync
 *     must find the file gone and upload it again, so nothing b needs is
 *     lost for good.
 * Grace 1 (bl_config.media_gc_grace) keeps the setup short; gc.c runs the
 * default.
 *
 * Divided into: the setup; the fresh upload; the re-reference.
 */
#include <stdlib.h>
#include <string.h>

#include "media_helpers.h"

/* Where the setup leaves a case. */
typedef struct race {
  mh_env *e;
  mh_dev *a, *b;
  char h1[BL_MEDIA_HASH_LEN + 1];
  char *src1;
  /* filled by the callback */
  int calls;
  char path[512];
  int b_rc;
  int64_t b_uploaded, b_deleted;
  int b_media_issues;
  char h2[BL_MEDIA_HASH_LEN + 1];
  char *src2;
  mh_dev *who; /* the device re-referencing H1 */
} race;

/*
 * a uploads H1, b sees it referenced and pushes, a pulls that, a deletes
 * its row and syncs (H1 condemned), b pulls the delete and pushes again:
 * a's next sync collects H1. 0 when every step went as it must.
 */
static int race_setup(race *r, mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  mh_opts o = {.grace = 1};
  int before = bl_test_failed_checks;
  memset(r, 0, sizeof *r);
  r->e = e;
  r->a = mh_dev_new(e, "a", &o);
  r->b = mh_dev_new(e, "b", &o);
  if (!r->a || !r->b) return -1;
  r->src1 = mh_file(e, 150 * 1000, r->h1);
  mh_step("setup: a uploads H1, b sees it and pushes, a deletes it, b pulls that and pushes");
  BL_CHECK_INT(mh_attach(r->a, r->src1, NULL), BL_OK);
  BL_CHECK_INT(mh_sync(r->a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 1);
  mh_edit_sync(r->b, &res);
  BL_CHECK_INT(mh_count_rows(r->b, r->h1), 1);
  BL_CHECK(mh_resolve_check(r->b, r->h1, r->src1, BL_MEDIA_DOWNLOADED));
  BL_CHECK_INT(mh_sync(r->a, &res), BL_OK);
  mh_delete_rows(r->a, r->h1);
  BL_CHECK_INT(mh_sync(r->a, &res), BL_OK);
  BL_CHECK_INT(res.media_deleted, 0);
  mh_edit_sync(r->b, &res);
  BL_CHECK_INT(res.media_deleted, 0);
  BL_CHECK_INT(mh_count_rows(r->b, r->h1), 0);
  BL_CHECK_INT(mh_cloud_has(e, r->h1), 1);
  bl_sync_result_free(&res);
  return bl_test_failed_checks == before ? 0 : -1;
}

static void race_free(race *r) {
  free(r->src1);
  free(r->src2);
}

/* The callback: b attaches a new file H2 and syncs. */
static void race_fresh_upload(bl__fault_op op, const char *path, void *payload) {
  race *r = payload;
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  r->calls++;
  snprintf(r->path, sizeof r->path, "%s", path);
  r->src2 = mh_file(r->e, 90 * 1000 + 1, r->h2);
  int rc = mh_attach(r->b, r->src2, NULL);
  if (rc == BL_OK) rc = mh_sync(r->b, &res);
  r->b_rc = rc;
  r->b_uploaded = res.media_uploaded;
  r->b_deleted = res.media_deleted;
  r->b_media_issues = mh_issues(&res, '*', BL_SYNC_MEDIA, NULL);
  if (rc != BL_OK) mh_print_result("b (inside a's sync)", rc, &res);
  bl_sync_result_free(&res);
}

static void case_fresh_upload(mh_env *e) {
  race r;
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  if (race_setup(&r, e) != 0) {
    race_free(&r);
    BL_REQUIRE(!"setup");
  }
  mh_step("a's collecting sync; at its first remove b attaches H2 and syncs");
  BL_REQUIRE(bl__fault_crash(r.a->remote, BL__FAULT_REMOVE, 1, BL__FAULT_BEFORE, race_fresh_upload,
                             &r) == BL_OK);
  BL_CHECK_INT(mh_sync(r.a, &res), BL_OK);
  bl__fault_reset(r.a->remote);
  BL_CHECK_INT(r.calls, 1);
  BL_CHECK_STR(r.path, mh_media_path(r.h1));
  BL_CHECK_INT(r.b_rc, BL_OK);
  BL_CHECK_INT(r.b_uploaded, 1);
  BL_CHECK_INT(r.b_deleted, 0);
  BL_CHECK_INT(r.b_media_issues, 0);

  mh_step("H1 was collected by a (media_deleted == 1); H2 is still in the cloud");
  BL_CHECK_INT(res.media_deleted, 1);
  BL_CHECK_INT(mh_cloud_has(e, r.h1), 0);
  BL_CHECK_INT(mh_cloud_has(e, r.h2), 1);
  BL_REQUIRE(r.src2 != NULL);
  BL_CHECK(mh_cloud_equals(e, r.h2, r.src2));

  mh_step("a fresh device c (empty cache) syncs and resolves H2: downloaded, identical");
  mh_dev *c = mh_dev_new(e, "c", NULL);
  BL_REQUIRE(c);
  BL_CHECK_INT(mh_sync(c, &res), BL_OK);
  BL_CHECK_INT(mh_count_rows(c, r.h2), 1);
  BL_CHECK_INT(mh_count_rows(c, r.h1), 0);
  BL_CHECK(mh_resolve_check(c, r.h2, r.src2, BL_MEDIA_DOWNLOADED));

  mh_step("more rounds of edits and syncs on a and b: H2 stays, nothing more is deleted");
  int64_t deleted = 0;
  for (int round = 0; round < 3; round++) {
    mh_edit_sync(r.a, &res);
    deleted += res.media_deleted;
    mh_edit_sync(r.b, &res);
    deleted += res.media_deleted;
  }
  BL_CHECK_INT(deleted, 0);
  BL_CHECK_INT(mh_count_rows(r.a, r.h2), 1);
  BL_CHECK(mh_cloud_equals(e, r.h2, r.src2));
  bl_sync_result_free(&res);
  race_free(&r);
}
MH_BOTH(test_media_race__fresh_upload, case_fresh_upload)

/* The callback: the device r->who (b, which saw H1 referenced and then
 * unreferenced, or c, a new device opened here) references H1 again
 * (bl_media_add_file of the original file) and syncs; H1 is still in the
 * cloud, so it is only marked uploaded. */
static void race_rereference(bl__fault_op op, const char *path, void *payload) {
  race *r = payload;
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  r->calls++;
  snprintf(r->path, sizeof r->path, "%s", path);
  if (!r->who) r->who = mh_dev_new(r->e, "c", NULL);
  if (!r->who) {
    r->b_rc = BL_ERROR;
    return;
  }
  int rc = mh_attach(r->who, r->src1, h);
  if (rc == BL_OK && strcmp(h, r->h1) != 0) rc = BL_ERROR;
  if (rc == BL_OK) rc = mh_sync(r->who, &res);
  r->b_rc = rc;
  r->b_uploaded = res.media_uploaded;
  r->b_deleted = res.media_deleted;
  r->b_media_issues = mh_issues(&res, '*', BL_SYNC_MEDIA, NULL);
  if (rc != BL_OK) mh_print_result("(inside a's sync)", rc, &res);
  bl_sync_result_free(&res);
}

static void rereference_run(mh_env *e, int by_b) {
  race r;
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  if (race_setup(&r, e) != 0) {
    race_free(&r);
    BL_REQUIRE(!"setup");
  }
  r.who = by_b ? r.b : NULL;
  mh_step("a's collecting sync; at its first remove %s references H1 again and syncs"
          " (H1 still there: marked uploaded, not uploaded)",
          by_b ? "b (which saw it unreferenced)" : "a new device c");
  BL_REQUIRE(bl__fault_crash(r.a->remote, BL__FAULT_REMOVE, 1, BL__FAULT_BEFORE, race_rereference,
                             &r) == BL_OK);
  BL_CHECK_INT(mh_sync(r.a, &res), BL_OK);
  bl__fault_reset(r.a->remote);
  BL_CHECK_INT(r.calls, 1);
  BL_CHECK_STR(r.path, mh_media_path(r.h1));
  BL_CHECK_INT(r.b_rc, BL_OK);
  BL_CHECK_INT(r.b_uploaded, 0);
  BL_CHECK_INT(r.b_deleted, 0);
  BL_REQUIRE(r.who != NULL);

  mh_step("a's remove went on: H1 is gone from the cloud");
  BL_CHECK_INT(res.media_deleted, 1);
  BL_CHECK_INT(mh_cloud_has(e, r.h1), 0);

  mh_step("%s's next sync finds H1 gone and uploads it again from its cache"
          " (media_uploaded == 1, a BL_SYNC_MEDIA warning)", r.who->name);
  BL_CHECK_INT(mh_sync(r.who, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 1);
  BL_CHECK(mh_issues(&res, 'w', BL_SYNC_MEDIA, r.h1) >= 1);
  BL_CHECK_INT(mh_issues(&res, 'e', BL_SYNC_MEDIA, NULL), 0);
  if (res.media_uploaded != 1) mh_print_result(r.who->name, 0, &res);
  BL_CHECK(mh_cloud_equals(e, r.h1, r.src1));

  mh_step("a fresh device d resolves H1: downloaded, identical");
  mh_dev *d = mh_dev_new(e, "d", NULL);
  BL_REQUIRE(d);
  BL_CHECK_INT(mh_sync(d, &res), BL_OK);
  BL_CHECK_INT(mh_count_rows(d, r.h1), 1);
  BL_CHECK(mh_resolve_check(d, r.h1, r.src1, BL_MEDIA_DOWNLOADED));

  mh_step("rounds of edits and syncs on every device: H1 is referenced again and stays");
  int64_t deleted = 0, uploaded = 0;
  mh_dev *devs[3] = {r.a, r.b, r.who == r.b ? d : r.who};
  for (int round = 0; round < 4; round++)
    for (int i = 0; i < 3; i++) {
      mh_edit_sync(devs[i], &res);
      deleted += res.media_deleted, uploaded += res.media_uploaded;
    }
  BL_CHECK_INT(deleted, 0);
  BL_CHECK_INT(uploaded, 0);
  BL_CHECK_INT(mh_count_rows(r.a, r.h1), 1);
  BL_CHECK(mh_cloud_equals(e, r.h1, r.src1));
  mh_dev *f = mh_dev_new(e, "f", NULL);
  BL_REQUIRE(f);
  BL_CHECK_INT(mh_sync(f, &res), BL_OK);
  BL_CHECK(mh_resolve_check(f, r.h1, r.src1, BL_MEDIA_DOWNLOADED));
  bl_sync_result_free(&res);
  race_free(&r);
}

/* b saw H1 referenced (its upload mark dates from then), then
 * unreferenced; its new reference must be checked like a new attachment. */
static void case_rereference(mh_env *e) { rereference_run(e, 1); }
MH_BOTH(test_media_race__rereference, case_rereference)

static void case_rereference_new_device(mh_env *e) { rereference_run(e, 0); }
MH_BOTH(test_media_race__rereference_new_device, case_rereference_new_device)

static const bl_test_case cases[] = {
    MH_TESTS(test_media_race__fresh_upload),
    MH_TESTS(test_media_race__rereference),
    MH_TESTS(test_media_race__rereference_new_device),
};

BL_TEST_MAIN(cases)
