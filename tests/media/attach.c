/*
 * attach.c — how attachments get into the database and the cloud:
 * bl_media_add_file's rows (no storage: _local), the built-in schema
 * declared by a '-- media:' line of a schema folder, and a hand-written
 * bl_media_schema (the seed's README example: an _media_status table of
 * upload marks) whose items give their bytes by path, by a read callback,
 * or leave them to the cache; the last two over a cloud folder and a real
 * WebDAV server.
 *
 * Divided into: bl_media_add_file rows; the '-- media:' line; the
 * hand-written schema.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media_helpers.h"

/* ------------------------------------------------- bl_media_add_file rows */

static int uuid_like(const char *s) {
  if (!s || strlen(s) != 36) return 0;
  for (int i = 0; i < 36; i++) {
    int dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i])) return 0;
  }
  return 1;
}

static char *row_text(mh_dev *d, const char *col, const char *hash) {
  char *sql = sqlite3_mprintf("SELECT \"%w\" FROM attachments WHERE hash = %Q", col, hash);
  sqlite3_stmt *st = NULL;
  char *out = NULL;
  if (sqlite3_prepare_v2(bl_sqlite(d->db), sql, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    out = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_free(sql);
  return out;
}

static void check_row(mh_dev *d, const char *hash, const char *filename, const char *mime) {
  char *id = row_text(d, "id", hash), *fn = row_text(d, "filename", hash),
       *mt = row_text(d, "mime_type", hash);
  BL_CHECK(uuid_like(id));
  BL_CHECK_STR(fn, filename);
  if (mime) BL_CHECK_STR(mt, mime);
  else BL_CHECK(mt != NULL && strchr(mt, '/') != NULL);
  free(id), free(fn), free(mt);
}

static void case_add_file_rows(mh_env *e) {
  static const struct {
    const char *name, *mime;
  } files[] = {{"photo.png", "image/png"},
               {"scan.jpg", "image/jpeg"},
               {"report.pdf", "application/pdf"},
               {"notes.txt", "text/plain"},
               {"data.unknownext", NULL}};
  mh_dev *a = mh_dev_new(e, "a", NULL);
  BL_REQUIRE(a);
  mh_step("each file: a row (random UUID id, the file's name, a MIME type guessed from"
          " the extension), its bytes cached, the hash returned");
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char h[BL_MEDIA_HASH_LEN + 1], lib[BL_MEDIA_HASH_LEN + 1], *p = mh_path(e, files[i].name);
    char content[64];
    int n = snprintf(content, sizeof content, "file %zu", i);
    BL_REQUIRE(mh_write_bytes(p, content, (size_t)n) == 0);
    mh_sha256_buf(content, (size_t)n, h);
    BL_CHECK_INT(bl_media_add_file(a->db, p, NULL, NULL, lib), BL_OK);
    BL_CHECK_STR(lib, h);
    check_row(a, h, files[i].name, files[i].mime);
    BL_CHECK(mh_cached(a, h));
    free(p);
  }
  mh_step("explicit file name and MIME type win; out_hash may be NULL");
  char h[BL_MEDIA_HASH_LEN + 1], *p = mh_file(e, 1234, h);
  BL_CHECK_INT(bl_media_add_file(a->db, p, "Holiday.jpeg", "image/x-custom", NULL), BL_OK);
  check_row(a, h, "Holiday.jpeg", "image/x-custom");
  mh_step("the same file twice: two rows, two ids, one cache entry");
  BL_CHECK_INT(bl_media_add_file(a->db, p, "again.bin", NULL, NULL), BL_OK);
  BL_CHECK_INT(mh_count_rows(a, h), 2);
  BL_CHECK_INT(mh_int(a, "SELECT count(DISTINCT id) FROM attachments"),
               mh_int(a, "SELECT count(*) FROM attachments"));
  BL_CHECK_INT(mh_count_files(a->cache_dir), 6);
  free(p);
}

static void test_media_attach__add_file_rows_local(void) {
  mh_run(MH_FOLDER, "test_media_attach__add_file_rows_local", case_add_file_rows);
}

/* ----------------------------------------------------- the '-- media:' line */

static void case_schema_dir(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char *dir = mh_path(e, "schema"), *f1 = NULL, *f2 = NULL;
  BL_REQUIRE(mkdir(dir, 0700) == 0);
  if (asprintf(&f1, "%s/1.sql", dir) < 0 || asprintf(&f2, "%s/2.sql", dir) < 0) exit(2);
  static const char v1[] =
      "-- sync: photos\n"
      "CREATE TABLE photos (pid TEXT PRIMARY KEY NOT NULL, title TEXT);\n";
  static const char v2[] =
      "-- media:  photos( sha256 , original_name )\n"
      "ALTER TABLE photos ADD COLUMN sha256 TEXT;\n"
      "ALTER TABLE photos ADD COLUMN original_name TEXT;\n";
  BL_REQUIRE(mh_write_bytes(f1, v1, sizeof v1 - 1) == 0);
  BL_REQUIRE(mh_write_bytes(f2, v2, sizeof v2 - 1) == 0);
  bl_schema *schema = NULL;
  bl_media_schema *media = NULL;
  mh_step("a schema folder whose 2.sql declares '-- media: photos(sha256, original_name)'");
  BL_REQUIRE(bl_schema_from_dir(&schema, dir) == BL_OK);
  BL_CHECK_INT(bl_media_schema_from_dir(&media, dir), BL_OK);
  if (!media) {
    bl_schema_free(schema);
    BL_REQUIRE(media);
  }
  mh_opts o = {.schema = schema, .media = media};
  mh_dev *a = mh_dev_new(e, "a", &o), *b = mh_dev_new(e, "b", &o);
  if (a && b) {
    char h[BL_MEDIA_HASH_LEN + 1], *src = mh_file(e, 77777, h);
    mh_step("bl_media_add_file fills sha256 and original_name (no MIME column)");
    BL_CHECK_INT(bl_media_add_file(a->db, src, "cat.png", NULL, NULL), BL_OK);
    char *sql = sqlite3_mprintf("SELECT count(*) FROM photos WHERE sha256 = %Q AND original_name"
                                " = 'cat.png' AND length(pid) = 36 AND title IS NULL", h);
    BL_CHECK_INT(mh_int(a, sql), 1);
    sqlite3_free(sql);
    mh_step("a's sync uploads it; b resolves it");
    BL_CHECK_INT(mh_sync(a, &res), BL_OK);
    BL_CHECK_INT(res.media_uploaded, 1);
    BL_CHECK_INT(mh_sync(b, &res), BL_OK);
    BL_CHECK_INT(res.media_uploaded, 0);
    BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
    BL_CHECK(mh_resolve_check(b, h, src, BL_MEDIA_DOWNLOADED));
    free(src);
  }
  /* The devices must be closed before the schemas go. */
  if (b) mh_dev_close(b);
  if (a) mh_dev_close(a);
  bl_media_schema_free(media);
  bl_schema_free(schema);
  bl_sync_result_free(&res);
  free(dir), free(f1), free(f2);
}
MH_BOTH(test_media_attach__schema_dir, case_schema_dir)

/* ------------------------------------------------ the hand-written schema */

static void case_custom_schema(mh_env *e) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char hp[BL_MEDIA_HASH_LEN + 1], hr[BL_MEDIA_HASH_LEN + 1], hc[BL_MEDIA_HASH_LEN + 1];
  mh_opts o = {.custom = 1};
  mh_dev *a = mh_dev_new(e, "a", &o), *b = mh_dev_new(e, "b", &o);
  BL_REQUIRE(a && b);
  char *by_path = mh_file(e, 300 * 1000, NULL), *by_read = mh_file(e, 1500 * 1000 + 5, NULL),
       *by_cache = mh_file(e, 999, NULL);
  mh_step("a records three attachments: bytes by path, by a read callback, and in the cache"
          " (bl_media_cache_put); none of the first two is cached yet");
  mh_custom_attach(a, by_path, "path", hp);
  mh_custom_attach(a, by_read, "read", hr);
  mh_custom_attach(a, by_cache, "cache", hc);
  BL_CHECK_INT(bl_media_cache_put(a->db, hc, by_cache), BL_OK);
  BL_CHECK(!mh_cached(a, hp) && !mh_cached(a, hr));

  mh_step("sync a: three uploads, three marks, the reader used; path and reader bytes now cached");
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 3);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  BL_CHECK_INT(a->cs_marks, 3);
  BL_CHECK(a->cs_read_calls >= 1);
  BL_CHECK(a->cs_unuploaded_calls >= 1 && a->cs_all_hashes_calls >= 1);
  BL_CHECK(mh_custom_uploaded(a, hp) && mh_custom_uploaded(a, hr) && mh_custom_uploaded(a, hc));
  BL_CHECK(mh_cloud_equals(e, hp, by_path));
  BL_CHECK(mh_cloud_equals(e, hr, by_read));
  BL_CHECK(mh_cloud_equals(e, hc, by_cache));
  BL_CHECK(mh_cached(a, hp) && mh_cached(a, hr));

  mh_step("a's next sync: the schema is asked again, uploads nothing");
  int calls = a->cs_unuploaded_calls;
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK(a->cs_unuploaded_calls > calls);

  mh_step("b's sync marks the three it finds in the cloud (no upload, no warning);"
          " b resolves each");
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK_INT(mh_issues(&res, '*', BL_SYNC_MEDIA, NULL), 0);
  BL_CHECK_INT(b->cs_marks, 3);
  BL_CHECK(mh_resolve_check(b, hp, by_path, BL_MEDIA_DOWNLOADED));
  BL_CHECK(mh_resolve_check(b, hr, by_read, BL_MEDIA_DOWNLOADED));
  BL_CHECK(mh_resolve_check(b, hc, by_cache, BL_MEDIA_DOWNLOADED));

  mh_step("bytes that do not match their hash (a reader over another file, a path that"
          " is missing): BL_SYNC_MEDIA, not uploaded, not marked, nothing cached");
  char hw[BL_MEDIA_HASH_LEN + 1], hm[BL_MEDIA_HASH_LEN + 1];
  char *wrong = mh_file(e, 4096, NULL), *gone = mh_file(e, 5000, NULL);
  char *fresh = mh_file(e, 8192, NULL);
  mh_custom_attach(a, fresh, "read", hw);
  char *sql = sqlite3_mprintf("UPDATE _media_src SET path = %Q WHERE hash = %Q", wrong, hw);
  mh_exec(a, sql);
  sqlite3_free(sql);
  mh_custom_attach(a, gone, "path", hm);
  BL_REQUIRE(remove(gone) == 0);
  int marks = a->cs_marks;
  mh_sync(a, &res);
  BL_CHECK(mh_issues(&res, '*', BL_SYNC_MEDIA, hw) >= 1);
  BL_CHECK(mh_issues(&res, '*', BL_SYNC_MEDIA, hm) >= 1);
  BL_CHECK_INT(res.media_uploaded, 0);
  BL_CHECK_INT(a->cs_marks, marks);
  BL_CHECK(!mh_custom_uploaded(a, hw) && !mh_custom_uploaded(a, hm));
  BL_CHECK_INT(mh_cloud_has(e, hw), 0);
  BL_CHECK_INT(mh_cloud_has(e, hm), 0);
  BL_CHECK(!mh_cached(a, hw) && !mh_cache_has_file(a, hw));
  BL_CHECK(res.pushed > 0);

  mh_step("the reader pointed at the right file: the next sync uploads it");
  sql = sqlite3_mprintf("UPDATE _media_src SET path = %Q WHERE hash = %Q", fresh, hw);
  mh_exec(a, sql);
  sqlite3_free(sql);
  mh_sync(a, &res);
  BL_CHECK_INT(res.media_uploaded, 1);
  BL_CHECK(mh_cloud_equals(e, hw, fresh));
  BL_CHECK(mh_issues(&res, '*', BL_SYNC_MEDIA, hm) >= 1); /* still missing */
  bl_sync_result_free(&res);
  free(by_path), free(by_read), free(by_cache), free(wrong), free(gone), free(fresh);
}
MH_BOTH(test_media_attach__custom_schema, case_custom_schema)

static const bl_test_case cases[] = {
    BL_TEST(test_media_attach__add_file_rows_local),
    MH_TESTS(test_media_attach__schema_dir),
    MH_TESTS(test_media_attach__custom_schema),
};

BL_TEST_MAIN(cases)
