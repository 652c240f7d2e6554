/*
 * bad_input.c — SPEC section 10 for the sync engine: every bad input gets a
 * clear error, and neither the database nor the cloud folder changes.
 *
 * Each case: two devices share a folder; device `a` pushes good changes;
 * the case then damages the cloud (or the call) and device `c` syncs. The
 * test records c's database (rows, clock, cursors, meta) and the whole
 * cloud folder (every file's name, size and content hash) before the bad
 * sync and checks both are unchanged after it, except where the case says
 * the sync may legitimately move on (other, good devices).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "helpers.h"

static char *dir;

/* ---------------------------------------------------------------- fixtures */

/* FNV-1a of a file's bytes. */
static uint64_t file_hash(const char *path) {
  FILE *f = fopen(path, "rb");
  uint64_t h = 1469598103934665603ull;
  int ch;
  while (f && (ch = fgetc(f)) != EOF) h = (h ^ (unsigned char)ch) * 1099511628211ull;
  if (f) fclose(f);
  return h;
}

/* Appends "path size hash\n" for every file under `path`, sorted per folder. */
static void tree_dump(sqlite3_str *out, const char *path) {
  struct dirent **names = NULL;
  int n = scandir(path, &names, NULL, alphasort);
  for (int i = 0; i < n; i++) {
    const char *nm = names[i]->d_name;
    if (strcmp(nm, ".") && strcmp(nm, "..")) {
      char *child = sqlite3_mprintf("%s/%s", path, nm);
      struct stat st;
      if (stat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
        sqlite3_str_appendf(out, "%s/\n", child + strlen(dir));
        tree_dump(out, child);
      } else {
        sqlite3_str_appendf(out, "%s %lld %llx\n", child + strlen(dir), (long long)st.st_size,
                            (unsigned long long)file_hash(child));
      }
      sqlite3_free(child);
    }
    free(names[i]);
  }
  free(names);
}

static char *cloud_state(void) {
  sqlite3_str *out = sqlite3_str_new(NULL);
  char *cloud = sqlite3_mprintf("%s/cloud", dir);
  tree_dump(out, cloud);
  sqlite3_free(cloud);
  char *s = sqlite3_str_finish(out);
  char *r = strdup(s ? s : "");
  sqlite3_free(s);
  return r;
}

/* The push-in-flight marker is excluded: after a failed upload the engine
 * cannot know whether the file arrived, and remembers that on purpose. */
static char *db_state(bl_db *db) {
  char *rows = th_dump(db), *clock = th_dump_clock(db);
  sqlite3_str *out = sqlite3_str_new(NULL);
  sqlite3_str_appendf(out, "%s--\n%s--\n", rows, clock);
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(bl_sqlite(db),
                     "SELECT device_id || ' ' || last_sequence FROM _sync_cursors UNION ALL "
                     "SELECT key || '=' || quote(value) FROM _sync_meta WHERE key <> 'push_in_flight' ORDER BY 1",
                     -1, &st, NULL);
  while (sqlite3_step(st) == SQLITE_ROW) sqlite3_str_appendf(out, "%s\n", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  free(rows);
  free(clock);
  char *s = sqlite3_str_finish(out);
  char *r = strdup(s ? s : "");
  sqlite3_free(s);
  return r;
}

typedef struct fixture {
  bl_db *a, *c;
  bl_remote *r;
  bl_sync_result res;
} fixture;

/* a pushes two rows and a note; c syncs once first when `c_synced`. */
static void fixture_up(fixture *f, int c_synced) {
  dir = th_tmpdir();
  th_compression = BL_COMPRESSION_NONE; /* these cases forge plain JSON files */
  memset(f, 0, sizeof *f);
  f->a = th_open(dir, "a.db", NULL);
  f->c = th_open(dir, "c.db", NULL);
  f->r = th_remote(dir);
  th_exec(f->c, "INSERT INTO todos (id, title) VALUES ('c1', 'local to c')");
  if (c_synced) {
    bl_sync(f->c, f->r, &f->res);
  }
  th_exec(f->a, "INSERT INTO todos (id, title) VALUES ('1', 'one'), ('2', 'two')");
  th_exec(f->a, "INSERT INTO notes VALUES (1, 'n', x'01')");
  BL_CHECK_INT(bl_sync(f->a, f->r, &f->res), BL_OK);
}

static void fixture_down(fixture *f) {
  bl_sync_result_free(&f->res);
  bl_remote_free(f->r);
  bl_close(f->a);
  bl_close(f->c);
  th_rmtree(dir);
  free(dir);
}

static char *a_file(fixture *f, const char *name) {
  return sqlite3_mprintf("%s/%s", th_device_folder(dir, f->a), name);
}

static void put(const char *path, const char *text) {
  FILE *fp = fopen(path, "wb");
  fputs(text, fp);
  fclose(fp);
}

static char *slurp(const char *path) {
  FILE *fp = fopen(path, "rb");
  char *buf = calloc(1, 1 << 20);
  if (fp) {
    size_t n = fread(buf, 1, (1 << 20) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
  }
  return buf;
}

/* Replaces the first occurrence of `from` by `to` in file `path`. */
static void patch(const char *path, const char *from, const char *to) {
  char *text = slurp(path);
  char *at = strstr(text, from);
  if (!at) {
    fprintf(stderr, "  patch: '%s' not found in %s\n", from, path);
    exit(2);
  }
  sqlite3_str *out = sqlite3_str_new(NULL);
  sqlite3_str_append(out, text, (int)(at - text));
  sqlite3_str_appendall(out, to);
  sqlite3_str_appendall(out, at + strlen(from));
  char *s = sqlite3_str_finish(out);
  put(path, s);
  sqlite3_free(s);
  free(text);
}

/* Runs c's sync on damaged input: expects an error (code) with `needle` in
 * its message, and c's database and the cloud unchanged. */
static void expect_rejected(fixture *f, int code, const char *needle) {
  char *db0 = db_state(f->c), *cloud0 = cloud_state();
  int rc = bl_pull(f->c, f->r, &f->res);
  BL_CHECK(rc != BL_OK);
  BL_CHECK(th_has_error(&f->res, code));
  int found = 0;
  for (size_t i = 0; i < f->res.errors_count; i++) found |= strstr(f->res.errors[i].message, needle) != NULL;
  BL_CHECK(found);
  if (!found)
    for (size_t i = 0; i < f->res.errors_count; i++)
      fprintf(stderr, "  got [%s] %s\n", bl_sync_code_name(f->res.errors[i].code), f->res.errors[i].message);
  char *db1 = db_state(f->c), *cloud1 = cloud_state();
  BL_CHECK_STR(db1, db0);
  BL_CHECK_STR(cloud1, cloud0);
  free(db0), free(db1), free(cloud0), free(cloud1);
}

/* ------------------------------------------------------------------ cases */

static void test_sync_bad_input__truncated_changeset(void) {
  fixture f;
  fixture_up(&f, 1);
  char *p = a_file(&f, "cs-00001.json");
  char *text = slurp(p);
  text[strlen(text) / 2] = '\0';
  put(p, text);
  free(text);
  expect_rejected(&f, BL_SYNC_CORRUPT, "cs-00001.json");
  sqlite3_free(p);
  fixture_down(&f);
}

static void test_sync_bad_input__not_json(void) {
  fixture f;
  fixture_up(&f, 1);
  char *p = a_file(&f, "cs-00001.json");
  put(p, "\x89PNG\r\n\x1a\n binary garbage");
  expect_rejected(&f, BL_SYNC_CORRUPT, "cs-00001.json");
  sqlite3_free(p);
  fixture_down(&f);
}

static void test_sync_bad_input__unknown_column_with_sql(void) {
  fixture f;
  fixture_up(&f, 1);
  char *p = a_file(&f, "cs-00001.json");
  patch(p, "\"title\"", "\"title\\\" = 1; DROP TABLE notes; --\"");
  expect_rejected(&f, BL_SYNC_APPLY, "cs-00001.json");
  BL_CHECK_INT(th_int(f.c, "SELECT count(*) FROM sqlite_schema WHERE name = 'notes'"), 1);
  sqlite3_free(p);
  fixture_down(&f);
}

static void test_sync_bad_input__value_of_wrong_type(void) {
  fixture f;
  fixture_up(&f, 1);
  char *p = a_file(&f, "cs-00001.json");
  /* col_version (5th item of the first change) becomes a string. */
  char *text = slurp(p);
  char *row = strstr(text, "[\"todos\"");
  BL_REQUIRE(row != NULL);
  /* Walk to the 5th comma-separated item: table, pk, cid, val, col_version. */
  char *q = row + 1;
  for (int commas = 0; commas < 4 && *q; q++)
    if (*q == ',') commas++;
  char *end = strchr(q, ',');
  BL_REQUIRE(end != NULL);
  sqlite3_str *out = sqlite3_str_new(NULL);
  sqlite3_str_append(out, text, (int)(q - text));
  sqlite3_str_appendall(out, "\"one\"");
  sqlite3_str_appendall(out, end);
  char *s = sqlite3_str_finish(out);
  put(p, s);
  sqlite3_free(s);
  free(text);
  expect_rejected(&f, BL_SYNC_CORRUPT, "col_version");
  sqlite3_free(p);
  fixture_down(&f);
}

static void test_sync_bad_input__absurd_sequence_in_file(void) {
  fixture f;
  fixture_up(&f, 1);
  char *p = a_file(&f, "cs-00001.json");
  patch(p, "\"sequence\":1,", "\"sequence\":99999999999999999999999,");
  expect_rejected(&f, BL_SYNC_CORRUPT, "sequence");
  sqlite3_free(p);
  fixture_down(&f);
}

static void test_sync_bad_input__absurd_sequence_in_name(void) {
  fixture f;
  fixture_up(&f, 1);
  char *p = a_file(&f, "cs-99999999999999999999999.json");
  put(p, "{}");
  char *cloud0 = cloud_state();
  int rc = bl_pull(f.c, f.r, &f.res);
  BL_CHECK_INT(rc, BL_OK); /* the good file applies; the odd name is ignored */
  BL_CHECK(th_has_warning(&f.res, BL_SYNC_BAD_NAME));
  BL_CHECK_INT(th_int(f.c, "SELECT count(*) FROM todos"), 3);
  char *cloud1 = cloud_state();
  BL_CHECK_STR(cloud1, cloud0);
  free(cloud0), free(cloud1);
  sqlite3_free(p);
  fixture_down(&f);
}

static void test_sync_bad_input__sentinel_with_wrong_cl(void) {
  fixture f;
  fixture_up(&f, 1);
  /* a deletes a row: its changeset holds a '-1' change with cl 2. */
  th_exec(f.a, "DELETE FROM todos WHERE id = '1'");
  BL_CHECK_INT(bl_sync(f.a, f.r, &f.res), BL_OK);
  BL_CHECK_INT(bl_pull(f.c, f.r, &f.res), BL_OK);
  th_exec(f.a, "INSERT INTO todos (id) VALUES ('1')");
  BL_CHECK_INT(bl_sync(f.a, f.r, &f.res), BL_OK);
  char *p = a_file(&f, "cs-00003.json");
  patch(p, "\"-1\",null,3,", "\"-1\",null,4,");
  expect_rejected(&f, BL_SYNC_CORRUPT, "sentinel");
  sqlite3_free(p);
  fixture_down(&f);
}

static void test_sync_bad_input__unreachable_remote(void) {
  fixture f;
  fixture_up(&f, 1);
  char *cloud = sqlite3_mprintf("%s/cloud", dir);
  char *moved = sqlite3_mprintf("%s/cloud-away", dir);
  BL_REQUIRE(rename(cloud, moved) == 0);
  th_exec(f.c, "INSERT INTO todos (id) VALUES ('c2')");
  /* Due for a full listing: a pull that took the vanished folder for an
   * empty cloud would complete and stamp the time of this one. */
  th_exec(f.c, "UPDATE _sync_meta SET value = '0' WHERE key = 'last_full_listing'");
  char *db0 = db_state(f.c);
  int rc = bl_sync(f.c, f.r, &f.res);
  BL_CHECK_INT(rc, BL_ENET);
  BL_CHECK(f.res.errors_count > 0);
  if (f.res.errors_count) BL_CHECK(strstr(f.res.errors[0].message, "cloud") != NULL);
  BL_CHECK(f.res.pushed == 0);
  BL_CHECK_INT(bl_pull(f.c, f.r, &f.res), BL_ENET);
  if (f.res.errors_count) BL_CHECK(strstr(f.res.errors[0].message, "does not exist") != NULL);
  char *db1 = db_state(f.c);
  BL_CHECK_STR(db1, db0);
  /* Back online: the change is pushed. */
  BL_REQUIRE(rename(moved, cloud) == 0);
  BL_CHECK_INT(bl_sync(f.c, f.r, &f.res), BL_OK);
  BL_CHECK(f.res.pushed > 0);
  free(db0), free(db1);
  sqlite3_free(cloud), sqlite3_free(moved);
  fixture_down(&f);
}

static void test_sync_bad_input__remote_url(void) {
  bl_remote *r = NULL;
  BL_CHECK_INT(bl_remote_open(&r, "ftp://example.com/x"), BL_EMISUSE);
  BL_CHECK(r == NULL);
  BL_CHECK(strstr(bl_errmsg(NULL), "ftp://example.com/x") != NULL);
  BL_CHECK(bl_remote_open(&r, "/nonexistent/folder/for/sure") != BL_OK);
  BL_CHECK(strstr(bl_errmsg(NULL), "does not exist") != NULL);
  BL_CHECK(bl_remote_open(&r, "relative/path") != BL_OK);
}

static void test_sync_bad_input__bad_config(void) {
  bl_db *db = NULL;
  bl_config c = BL_CONFIG_INIT;
  BL_CHECK_INT(bl_open(&db, &c), BL_EMISUSE);
  BL_CHECK(strstr(bl_errmsg(NULL), "schema is required") != NULL);
  c.schema = th_schema(1);
  c.app_folder_name = "a/b";
  BL_CHECK_INT(bl_open(&db, &c), BL_EMISUSE);
  BL_CHECK(strstr(bl_errmsg(NULL), "app folder") != NULL);
  c.app_folder_name = NULL;
  c.version = 99;
  BL_CHECK_INT(bl_open(&db, &c), BL_EMISUSE);
  BL_CHECK(db == NULL);
  BL_CHECK_INT(bl_sync(NULL, NULL, NULL), BL_EMISUSE);
}

static const bl_test_case cases[] = {
    BL_TEST(test_sync_bad_input__truncated_changeset),
    BL_TEST(test_sync_bad_input__not_json),
    BL_TEST(test_sync_bad_input__unknown_column_with_sql),
    BL_TEST(test_sync_bad_input__value_of_wrong_type),
    BL_TEST(test_sync_bad_input__absurd_sequence_in_file),
    BL_TEST(test_sync_bad_input__absurd_sequence_in_name),
    BL_TEST(test_sync_bad_input__sentinel_with_wrong_cl),
    BL_TEST(test_sync_bad_input__unreachable_remote),
    BL_TEST(test_sync_bad_input__remote_url),
    BL_TEST(test_sync_bad_input__bad_config),
};

BL_TEST_MAIN(cases)
