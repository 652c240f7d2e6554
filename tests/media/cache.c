/*
 * cache.c — the local media cache: put, get and clear on their own (no
 * storage: the _local cases), the default folder; then, over a cloud folder
 * and a real WebDAV server, damaged entries (found by bl_media_cache_get,
 * or by bl_media_resolve, which repairs them) and sign-out (clear_all_data
 * and cache_clear, then everything comes back).
 *
 * Divided into: put / get / clear; the default folder; damaged entries;
 * sign-out.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media_helpers.h"

static const char hello[] = "hello, media cache";

/* ------------------------------------------------------ put / get / clear */

static void case_put_get(mh_env *e) {
  char h[BL_MEDIA_HASH_LEN + 1], other[BL_MEDIA_HASH_LEN + 1], hf[BL_MEDIA_HASH_LEN + 1];
  mh_dev *a = mh_dev_new(e, "a", NULL);
  BL_REQUIRE(a);
  mh_sha256_buf(hello, sizeof hello - 1, h);
  mh_sha256_buf("something else", 14, other);

  mh_step("get of an absent entry: BL_ENOTFOUND, no path");
  char *p = (char *)"untouched";
  BL_CHECK_INT(bl_media_cache_get(a->db, h, &p), BL_ENOTFOUND);
  BL_CHECK(p == NULL || strcmp(p, "untouched") == 0);

  mh_step("put_buf, then get: BL_OK, a path inside the cache folder holding the bytes");
  BL_CHECK_INT(bl_media_cache_put_buf(a->db, h, hello, sizeof hello - 1), BL_OK);
  p = NULL;
  BL_CHECK_INT(bl_media_cache_get(a->db, h, &p), BL_OK);
  BL_REQUIRE(p);
  BL_CHECK(strncmp(p, a->cache_dir, strlen(a->cache_dir)) == 0);
  BL_CHECK_STR(bl_media_cache_dir(a->db), a->cache_dir);
  char *ref = mh_path(e, "hello.txt");
  BL_REQUIRE(mh_write_bytes(ref, hello, sizeof hello - 1) == 0);
  BL_CHECK(mh_files_equal(p, ref));
  BL_CHECK_INT(mh_count_files(a->cache_dir), 1);

  mh_step("putting it again keeps the intact entry (same file)");
  struct stat s1, s2;
  BL_CHECK(stat(p, &s1) == 0);
  BL_CHECK_INT(bl_media_cache_put_buf(a->db, h, hello, sizeof hello - 1), BL_OK);
  BL_CHECK_INT(bl_media_cache_put(a->db, h, ref), BL_OK);
  BL_CHECK(stat(p, &s2) == 0 && s1.st_ino == s2.st_ino);
  BL_CHECK_INT(mh_count_files(a->cache_dir), 1);

  mh_step("bytes that do not hash to the hash: BL_ECORRUPT, nothing stored, no temporary left");
  BL_CHECK_INT(bl_media_cache_put_buf(a->db, other, hello, sizeof hello - 1), BL_ECORRUPT);
  BL_CHECK_INT(bl_media_cache_put(a->db, other, ref), BL_ECORRUPT);
  BL_CHECK(strlen(bl_errmsg(a->db)) > 0);
  BL_CHECK_INT(bl_media_cache_get(a->db, other, NULL), BL_ENOTFOUND);
  BL_CHECK(!mh_cache_has_file(a, other));
  BL_CHECK_INT(mh_count_files(a->cache_dir), 1);

  mh_step("a damaged entry is replaced by a put of the right bytes");
  BL_REQUIRE(mh_flip_byte(p, 3) == 0);
  BL_CHECK_INT(bl_media_cache_put_buf(a->db, h, hello, sizeof hello - 1), BL_OK);
  char *p2 = NULL;
  BL_CHECK_INT(bl_media_cache_get(a->db, h, &p2), BL_OK);
  BL_CHECK(p2 && mh_files_equal(p2, ref));
  free(p2);

  mh_step("put of a file (path), hashed by the library as by the test");
  char *big = mh_file(e, 3 * 1000 * 1000 + 11, hf);
  char lib[BL_MEDIA_HASH_LEN + 1];
  BL_CHECK_INT(bl_media_hash_file(big, lib), BL_OK);
  BL_CHECK_STR(lib, hf);
  BL_CHECK_INT(bl_media_cache_put(a->db, hf, big), BL_OK);
  BL_CHECK(mh_cached(a, hf));
  BL_CHECK_INT(mh_count_files(a->cache_dir), 2);

  mh_step("clear deletes every entry and leaves other files alone");
  char *foreign = NULL;
  if (asprintf(&foreign, "%s/README.txt", a->cache_dir) < 0) exit(2);
  BL_REQUIRE(mh_write_bytes(foreign, "mine", 4) == 0);
  BL_CHECK_INT(bl_media_cache_clear(a->db), BL_OK);
  BL_CHECK_INT(bl_media_cache_get(a->db, h, NULL), BL_ENOTFOUND);
  BL_CHECK_INT(bl_media_cache_get(a->db, hf, NULL), BL_ENOTFOUND);
  BL_CHECK(!mh_cache_has_file(a, h) && !mh_cache_has_file(a, hf));
  BL_CHECK(access(foreign, F_OK) == 0);
  BL_CHECK_INT(mh_count_files(a->cache_dir), 1);
  BL_CHECK_INT(bl_media_cache_clear(a->db), BL_OK); /* twice is fine */
  free(foreign);
  free(big);
  free(ref);
  free(p);
}

static void test_media_cache__put_get_local(void) {
  mh_run(MH_FOLDER, "test_media_cache__put_get_local", case_put_get);
}

/* ----------------------------------------------------- the default folder */

static void restore_env(const char *name, char *saved) {
  if (saved) {
    setenv(name, saved, 1);
    free(saved);
  } else {
    unsetenv(name);
  }
}

static char *saved_env(const char *name) {
  const char *v = getenv(name);
  return v ? strdup(v) : NULL;
}

static void case_default_dir(mh_env *e) {
  char *xdg = saved_env("XDG_CACHE_HOME"), *home = saved_env("HOME");
  char *want = NULL, *dbp = mh_path(e, "d.db");
  bl_config c = BL_CONFIG_INIT;
  bl_db *db = NULL;
  c.schema = mh_schema_get();
  c.database_path = dbp;

  mh_step("no media_cache_dir: $XDG_CACHE_HOME/backless/media");
  char *x = mh_path(e, "xdg");
  setenv("XDG_CACHE_HOME", x, 1);
  BL_CHECK_INT(bl_open(&db, &c), BL_OK);
  if (asprintf(&want, "%s/backless/media", x) < 0) exit(2);
  if (db) BL_CHECK_STR(bl_media_cache_dir(db), want);
  bl_close(db);
  db = NULL;
  free(want);

  mh_step("without XDG_CACHE_HOME: $HOME/.cache/backless/media");
  char *hm = mh_path(e, "home");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", hm, 1);
  BL_CHECK_INT(bl_open(&db, &c), BL_OK);
  if (asprintf(&want, "%s/.cache/backless/media", hm) < 0) exit(2);
  if (db) BL_CHECK_STR(bl_media_cache_dir(db), want);

  mh_step("the folder is created when first written");
  BL_CHECK(access(want, F_OK) != 0);
  char h[BL_MEDIA_HASH_LEN + 1];
  mh_sha256_buf(hello, sizeof hello - 1, h);
  if (db) BL_CHECK_INT(bl_media_cache_put_buf(db, h, hello, sizeof hello - 1), BL_OK);
  BL_CHECK(access(want, F_OK) == 0);
  bl_close(db);
  restore_env("XDG_CACHE_HOME", xdg);
  restore_env("HOME", home);
  free(want);
  free(x);
  free(hm);
  free(dbp);
}

static void test_media_cache__default_dir_local(void) {
  mh_run(MH_FOLDER, "test_media_cache__default_dir_local", case_default_dir);
}

/* -------------------------------------------------------- damaged entries */

static void case_corrupt(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  mh_dev *a = mh_dev_new(e, "a", NULL), *b = mh_dev_new(e, "b", NULL);
  BL_REQUIRE(a && b);
  char *src = mh_file(e, 200 * 1000 + 3, h);
  BL_REQUIRE(mh_attach(a, src, NULL) == BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));
  char *p = NULL;
  BL_REQUIRE(bl_media_cache_get(b->db, h, &p) == BL_OK && p);

  mh_step("one byte of b's entry flipped: get says BL_ECORRUPT and removes the entry");
  BL_REQUIRE(mh_flip_byte(p, 100 * 1000) == 0);
  BL_CHECK_INT(bl_media_cache_get(b->db, h, NULL), BL_ECORRUPT);
  BL_CHECK(strstr(bl_errmsg(b->db), h) != NULL);
  BL_CHECK(access(p, F_OK) != 0);
  BL_CHECK(!mh_cache_has_file(b, h));
  BL_CHECK_INT(bl_media_cache_get(b->db, h, NULL), BL_ENOTFOUND);

  mh_step("then resolve downloads it again (the remote read it): identical");
  bl__fault_reset_calls(b->remote);
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));
  BL_CHECK(mh_calls(b, BL__FAULT_READ) >= 1);

  mh_step("one byte flipped again, resolve directly: BL_MEDIA_REPAIRED, identical,"
          " then from the cache");
  BL_REQUIRE(mh_flip_byte(p, 0) == 0);
  bl__fault_reset_calls(b->remote);
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_REPAIRED));
  BL_CHECK(mh_calls(b, BL__FAULT_READ) >= 1);
  bl__fault_reset_calls(b->remote);
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_FROM_CACHE));
  BL_CHECK_INT(mh_calls(b, BL__FAULT_ANY), 0);

  mh_step("a truncated entry (last byte cut): BL_MEDIA_REPAIRED too");
  BL_REQUIRE(truncate(p, 200 * 1000 + 2) == 0 || (chmod(p, 0600) == 0 && truncate(p, 200 * 1000 + 2) == 0));
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_REPAIRED));
  mh_step("an empty entry: BL_MEDIA_REPAIRED");
  BL_REQUIRE(truncate(p, 0) == 0 || (chmod(p, 0600) == 0 && truncate(p, 0) == 0));
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_REPAIRED));

  mh_step("the uploader's own entry damaged before its first upload: the damaged bytes are"
          " never uploaded (BL_SYNC_MEDIA), and a put of the right ones fixes it");
  char h2[BL_MEDIA_HASH_LEN + 1];
  char *src2 = mh_file(e, 30 * 1000, h2);
  char *p2 = NULL;
  BL_REQUIRE(mh_attach(a, src2, NULL) == BL_OK);
  BL_REQUIRE(bl_media_cache_get(a->db, h2, &p2) == BL_OK && p2);
  BL_REQUIRE(mh_flip_byte(p2, 7) == 0);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK(mh_issues(&res, '*', BL_SYNC_MEDIA, h2) >= 1);
  BL_CHECK_INT(mh_cloud_has(e, h2), 0);
  BL_CHECK(res.pushed > 0);
  BL_CHECK_INT(bl_media_cache_put(a->db, h2, src2), BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 1);
  BL_CHECK(mh_cloud_equals(e, h2, src2));
  bl_sync_result_free(&res);
  free(p);
  free(p2);
  free(src);
  free(src2);
}
MH_BOTH(test_media_cache__corrupt, case_corrupt)

/* --------------------------------------------------------------- sign-out */

static void case_sign_out(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  mh_dev *a = mh_dev_new(e, "a", NULL), *b = mh_dev_new(e, "b", NULL);
  BL_REQUIRE(a && b);
  char *src = mh_file(e, 80 * 1000, h);
  BL_REQUIRE(mh_attach(a, src, NULL) == BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  mh_edit_sync(b, &res);
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));

  mh_step("b signs out: clear_all_data and cache_clear; no row, no entry");
  BL_CHECK_INT(bl_clear_all_data(b->db), BL_OK);
  BL_CHECK_INT(bl_media_cache_clear(b->db), BL_OK);
  BL_CHECK_INT(mh_count_rows(b, NULL), 0);
  BL_CHECK_INT(bl_media_cache_get(b->db, h, NULL), BL_ENOTFOUND);
  BL_CHECK(!mh_cache_has_file(b, h));

  mh_step("b syncs: the rows are back; nothing uploaded, nothing deleted, no media issue");
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  BL_CHECK_INT(mh_count_rows(b, h), 1);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK_INT(res.media_deleted, 0);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  BL_CHECK(mh_cloud_equals(e, h, src));

  mh_step("b resolves it: downloaded again, identical");
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));

  mh_step("rounds of edits and syncs: the sign-out unreferenced nothing, the file stays");
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
  BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_FROM_CACHE));
  bl_sync_result_free(&res);
  free(src);
}
MH_BOTH(test_media_cache__sign_out, case_sign_out)

/* The uploader signs out before its upload: the attachment was never in
 * the cloud, its row is gone locally; nothing is uploaded or reported. */
static void case_sign_out_before_upload(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char h[BL_MEDIA_HASH_LEN + 1];
  mh_dev *a = mh_dev_new(e, "a", NULL);
  BL_REQUIRE(a);
  mh_edit_sync(a, &res);
  char *src = mh_file(e, 1000, h);
  BL_REQUIRE(mh_attach(a, src, NULL) == BL_OK);
  mh_step("a attaches, then signs out before syncing; its sync restores only what was pushed");
  BL_CHECK_INT(bl_clear_all_data(a->db), BL_OK);
  BL_CHECK_INT(bl_media_cache_clear(a->db), BL_OK);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(mh_count_rows(a, NULL), 0);
  BL_CHECK_INT(mh_int(a, "SELECT count(*) FROM notes"), 1);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  BL_CHECK_INT(mh_cloud_has(e, h), 0);
  bl_sync_result_free(&res);
  free(src);
}
MH_BOTH(test_media_cache__sign_out_before_upload, case_sign_out_before_upload)

static const bl_test_case cases[] = {
    BL_TEST(test_media_cache__put_get_local),
    BL_TEST(test_media_cache__default_dir_local),
    MH_TESTS(test_media_cache__corrupt),
    MH_TESTS(test_media_cache__sign_out),
    MH_TESTS(test_media_cache__sign_out_before_upload),
};

BL_TEST_MAIN(cases)
