/*
 * bad_input.c — SPEC section 10 for media: malformed hashes, bytes that
 * do not match their hash, files that are not there, malformed '-- media:'
 * lines. Each gives its documented code and a message, and changes
 * nothing: no cache entry, no row, no call to the storage. The cloud cases
 * run over a cloud folder and a real WebDAV server.
 *
 * Divided into: malformed hashes; files and schemas; the cloud.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media_helpers.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *const bad_hashes[] = {
    "",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",   /* 63 */
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", /* 65 */
    "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",  /* uppercase */
    "0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef",  /* non-hex */
    "0123456789abcdef 123456789abcdef0123456789abcdef0123456789abcdef",  /* a space */
    "../456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",   /* a path */
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", /* a newline */
};
#define N_BAD (sizeof bad_hashes / sizeof bad_hashes[0])

/* ------------------------------------------------------- malformed hashes */

static void case_malformed_hash(mh_env *e) {
  mh_dev *a = mh_dev_new(e, "a", NULL);
  BL_REQUIRE(a);
  char *file = mh_path(e, "f.bin");
  BL_REQUIRE(mh_write_bytes(file, "x", 1) == 0);
  mh_step("%zu malformed hashes (length 0, 63, 65, uppercase, non-hex, space, '../',"
          " newline) and NULL: BL_EMISUSE from get, put, put_buf and resolve", N_BAD);
  for (size_t i = 0; i <= N_BAD; i++) {
    const char *h = i < N_BAD ? bad_hashes[i] : NULL;
    char *p = NULL;
    bl_media_file f;
    BL_CHECK_INT(bl_media_cache_get(a->db, h, &p), BL_EMISUSE);
    BL_CHECK(p == NULL);
    BL_CHECK(strlen(bl_errmsg(a->db)) > 0);
    BL_CHECK_INT(bl_media_cache_put_buf(a->db, h, "x", 1), BL_EMISUSE);
    BL_CHECK_INT(bl_media_cache_put(a->db, h, file), BL_EMISUSE);
    memset(&f, 0, sizeof f);
    BL_CHECK_INT(bl_media_resolve(a->db, a->remote, h, NULL, &f), BL_EMISUSE);
    BL_CHECK(f.path == NULL);
    bl_media_file_free(&f);
  }
  mh_step("nothing reached the storage, nothing entered the cache");
  BL_CHECK_INT(mh_calls(a, BL__FAULT_ANY), 0);
  BL_CHECK_INT(mh_count_files(a->cache_dir), 0);

  mh_step("NULL handle, NULL out, NULL data: BL_EMISUSE");
  bl_media_file f;
  BL_CHECK_INT(bl_media_cache_get(NULL, HEX64, NULL), BL_EMISUSE);
  BL_CHECK_INT(bl_media_cache_put_buf(NULL, HEX64, "x", 1), BL_EMISUSE);
  BL_CHECK_INT(bl_media_cache_clear(NULL), BL_EMISUSE);
  BL_CHECK_INT(bl_media_resolve(NULL, a->remote, HEX64, NULL, &f), BL_EMISUSE);
  BL_CHECK_INT(bl_media_resolve(a->db, a->remote, HEX64, NULL, NULL), BL_EMISUSE);
  BL_CHECK_INT(bl_media_cache_put(a->db, HEX64, NULL), BL_EMISUSE);
  BL_CHECK_INT(bl_media_add_file(a->db, NULL, NULL, NULL, NULL), BL_EMISUSE);
  BL_CHECK_INT(bl_media_add_file(NULL, file, NULL, NULL, NULL), BL_EMISUSE);
  BL_CHECK_INT(mh_count_rows(a, NULL), 0);
  bl_media_file_free(NULL);
  free(file);
}

static void test_media_bad_input__malformed_hash_local(void) {
  mh_run(MH_FOLDER, "test_media_bad_input__malformed_hash_local", case_malformed_hash);
}

/* ----------------------------------------------------- files and schemas */

static void case_files(mh_env *e) {
  char out[BL_MEDIA_HASH_LEN + 1];
  mh_dev *a = mh_dev_new(e, "a", NULL);
  mh_opts oc = {.custom = 1};
  mh_dev *c = mh_dev_new(e, "c", &oc);
  BL_REQUIRE(a && c);
  char *missing = mh_path(e, "no-such-file");
  mh_step("hashing or attaching a missing file: an error with a message; no row, no entry");
  BL_CHECK_INT(bl_media_hash_file(missing, out), BL_EIO);
  BL_CHECK(strlen(bl_errmsg(NULL)) > 0);
  BL_CHECK(bl_media_add_file(a->db, missing, NULL, NULL, out) != BL_OK);
  BL_CHECK_INT(mh_count_rows(a, NULL), 0);
  BL_CHECK_INT(mh_count_files(a->cache_dir), 0);
  BL_CHECK(bl_media_cache_put(a->db, HEX64, missing) != BL_OK);

  mh_step("bl_media_add_file on a database whose media schema is hand-written, or none:"
          " BL_EMISUSE, no row");
  char *file = mh_path(e, "f.txt");
  BL_REQUIRE(mh_write_bytes(file, "abc", 3) == 0);
  BL_CHECK_INT(bl_media_add_file(c->db, file, NULL, NULL, out), BL_EMISUSE);
  BL_CHECK_INT(mh_count_rows(c, NULL), 0);
  char *plain_path = mh_path(e, "plain.db");
  bl_config cfg = BL_CONFIG_INIT;
  cfg.schema = mh_schema_get();
  cfg.database_path = plain_path;
  bl_db *plain = NULL;
  BL_CHECK_INT(bl_open(&plain, &cfg), BL_OK);
  if (plain) {
    BL_CHECK_INT(bl_media_add_file(plain, file, NULL, NULL, out), BL_EMISUSE);
    BL_CHECK(strlen(bl_errmsg(plain)) > 0);
    bl_close(plain);
  }

  mh_step("bl_media_schema_table with a missing table or hash column: BL_EMISUSE");
  bl_media_schema *ms = (bl_media_schema *)1;
  BL_CHECK_INT(bl_media_schema_table(&ms, NULL, "hash", NULL, NULL), BL_EMISUSE);
  BL_CHECK(ms == NULL);
  BL_CHECK_INT(bl_media_schema_table(&ms, "attachments", NULL, NULL, NULL), BL_EMISUSE);
  BL_CHECK_INT(bl_media_schema_table(&ms, "", "hash", NULL, NULL), BL_EMISUSE);
  bl_media_schema_free(NULL);
  free(missing), free(file), free(plain_path);
}

static void test_media_bad_input__files_local(void) {
  mh_run(MH_FOLDER, "test_media_bad_input__files_local", case_files);
}

/* Writes a one-file schema folder "<tmp>/s<n>" whose 1.sql holds `body`. */
static char *schema_dir(mh_env *e, const char *body, const char *body2) {
  static int n;
  char name[32], *dir, *f = NULL;
  snprintf(name, sizeof name, "s%d", ++n);
  dir = mh_path(e, name);
  if (mkdir(dir, 0700) != 0 || asprintf(&f, "%s/1.sql", dir) < 0) exit(2);
  if (mh_write_bytes(f, body, strlen(body)) != 0) exit(2);
  free(f);
  if (body2) {
    if (asprintf(&f, "%s/2.sql", dir) < 0 || mh_write_bytes(f, body2, strlen(body2)) != 0) exit(2);
    free(f);
  }
  return dir;
}

static void case_media_line(mh_env *e) {
  static const char table[] = "CREATE TABLE attachments (id TEXT PRIMARY KEY NOT NULL, hash TEXT);\n";
  static const char *const bad[] = {
      "-- media: attachments\n",
      "-- media: attachments()\n",
      "-- media: attachments(hash\n",
      "-- media: (hash)\n",
      "-- media:\n",
      "-- media: attachments(hash, a, b, c)\n",
      "-- media: attachments(hash,,name)\n",
      "-- media: attachments(hash) trailing\n",
  };
  bl_media_schema *ms = NULL;
  mh_step("no '-- media:' line: BL_ENOTFOUND and NULL");
  char *d = schema_dir(e, table, NULL);
  ms = (bl_media_schema *)1;
  BL_CHECK_INT(bl_media_schema_from_dir(&ms, d), BL_ENOTFOUND);
  BL_CHECK(ms == NULL);
  free(d);
  mh_step("%zu malformed lines: BL_ESCHEMA, the message names the file", sizeof bad / sizeof bad[0]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *body = NULL;
    if (asprintf(&body, "%s%s", bad[i], table) < 0) exit(2);
    d = schema_dir(e, body, NULL);
    ms = (bl_media_schema *)1;
    int rc = bl_media_schema_from_dir(&ms, d);
    if (rc != BL_ESCHEMA) fprintf(stderr, "  line %s gave %d\n", bad[i], rc);
    BL_CHECK_INT(rc, BL_ESCHEMA);
    BL_CHECK(ms == NULL);
    BL_CHECK(strstr(bl_errmsg(NULL), "1.sql") != NULL);
    if (rc == BL_OK) bl_media_schema_free(ms);
    free(body);
    free(d);
  }
  mh_step("two '-- media:' lines (in two files): BL_ESCHEMA");
  d = schema_dir(e, "-- media: attachments(hash)\nCREATE TABLE attachments (id TEXT PRIMARY KEY NOT NULL, hash TEXT);\n",
                 "-- media: attachments(hash)\nSELECT 1;\n");
  ms = (bl_media_schema *)1;
  BL_CHECK_INT(bl_media_schema_from_dir(&ms, d), BL_ESCHEMA);
  BL_CHECK(ms == NULL);
  free(d);
  mh_step("a folder that does not exist: an error, NULL");
  char *nodir = mh_path(e, "no-such-dir");
  ms = (bl_media_schema *)1;
  BL_CHECK(bl_media_schema_from_dir(&ms, nodir) != BL_OK);
  BL_CHECK(ms == NULL);
  free(nodir);
}

static void test_media_bad_input__media_line_local(void) {
  mh_run(MH_FOLDER, "test_media_bad_input__media_line_local", case_media_line);
}

/* -------------------------------------------------------------- the cloud */

static void case_cloud(mh_env *e) {
  mh_dev *a = mh_dev_new(e, "a", NULL);
  BL_REQUIRE(a);
  bl_media_file f;
  char h[BL_MEDIA_HASH_LEN + 1];
  static const char right[] = "the bytes the name promises";
  mh_sha256_buf(right, sizeof right - 1, h);

  mh_step("resolve of a hash the cloud lacks: BL_ENOTFOUND, the message names it and the"
          " file name given; nothing cached");
  BL_CHECK_INT(bl_media_resolve(a->db, a->remote, h, "holiday.jpg", &f), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_errmsg(a->db), h) != NULL);
  BL_CHECK(strstr(bl_errmsg(a->db), "holiday.jpg") != NULL);
  BL_CHECK(f.path == NULL);
  bl_media_file_free(&f);
  BL_CHECK_INT(mh_count_files(a->cache_dir), 0);

  mh_step("a cloud file whose bytes do not match its name: BL_ECORRUPT, nothing cached,"
          " no temporary left; twice");
  static const char wrong[] = "other bytes under that name";
  BL_REQUIRE(mh_cloud_put(e, h, wrong, sizeof wrong - 1) == BL_OK);
  for (int i = 0; i < 2; i++) {
    BL_CHECK_INT(bl_media_resolve(a->db, a->remote, h, NULL, &f), BL_ECORRUPT);
    BL_CHECK(strlen(bl_errmsg(a->db)) > 0);
    BL_CHECK(f.path == NULL);
    bl_media_file_free(&f);
    BL_CHECK_INT(bl_media_cache_get(a->db, h, NULL), BL_ENOTFOUND);
    BL_CHECK_INT(mh_count_files(a->cache_dir), 0);
  }
  mh_step("an empty cloud file under a valid name: BL_ECORRUPT");
  BL_REQUIRE(mh_cloud_put(e, h, "", 0) == BL_OK);
  BL_CHECK_INT(bl_media_resolve(a->db, a->remote, h, NULL, &f), BL_ECORRUPT);
  bl_media_file_free(&f);
  BL_CHECK_INT(mh_count_files(a->cache_dir), 0);

  mh_step("the right bytes written under the name: resolve downloads them");
  BL_REQUIRE(mh_cloud_put(e, h, right, sizeof right - 1) == BL_OK);
  char *ref = mh_path(e, "right.bin");
  BL_REQUIRE(mh_write_bytes(ref, right, sizeof right - 1) == 0);
  BL_CHECK(mh_resolve_check(a, h, ref, BL_MEDIA_DOWNLOADED));
  free(ref);
}
MH_BOTH(test_media_bad_input__cloud, case_cloud)

static const bl_test_case cases[] = {
    BL_TEST(test_media_bad_input__malformed_hash_local),
    BL_TEST(test_media_bad_input__files_local),
    BL_TEST(test_media_bad_input__media_line_local),
    MH_TESTS(test_media_bad_input__cloud),
};

BL_TEST_MAIN(cases)
