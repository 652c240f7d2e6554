/*
 * encrypted.c — sync through an encrypted, compressed app folder (folder
 * backend): the cloud sees no plaintext; a missing or wrong passphrase and
 * unsupported settings stop the sync before anything is downloaded,
 * applied or uploaded, leaving backless.json untouched; a flipped byte, a
 * truncated file, a file copied into another device's folder and an older
 * file put back under a newer sequence name are each refused for that
 * device, nothing of them applied, while the other devices still sync.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "harness.h"
#include "helpers.h"

static char *dir;

static int pw_ok(char *buf, size_t size, void *payload) {
  snprintf(buf, size, "%s", payload ? (const char *)payload : "correct horse battery staple");
  return 0;
}

static int pw_none(char *buf, size_t size, void *payload) {
  (void)buf, (void)size, (void)payload;
  return -1;
}

/* A device of the folder at <dir>/cloud with passphrase callback `pw`
 * (NULL: none) and the cheapest Argon2id (tests only). */
static bl_db *enc_open(const char *file, bl_passphrase_fn pw, const char *pass) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  bl_config c = BL_CONFIG_INIT;
  c.schema = th_schema(1);
  c.database_path = path;
  c.passphrase = pw;
  c.passphrase_payload = (void *)pass;
  c.kdf_opslimit = crypto_pwhash_OPSLIMIT_MIN;
  c.kdf_memlimit = crypto_pwhash_MEMLIMIT_MIN;
  bl_db *db = NULL;
  if (bl_open(&db, &c) != BL_OK) {
    fprintf(stderr, "open: %s\n", bl_errmsg(NULL));
    exit(2);
  }
  return db;
}

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  char *p = malloc((size_t)len + 1);
  *n = fread(p, 1, (size_t)len, f);
  p[*n] = '\0';
  fclose(f);
  return p;
}

static void spit(const char *path, const char *p, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(p, 1, n, f);
  fclose(f);
}

/* Number of files below `path` containing `needle` anywhere. */
static int grep_tree(const char *path, const char *needle) {
  DIR *d = opendir(path);
  if (!d) {
    size_t n = 0;
    char *p = slurp(path, &n);
    int hit = p && memmem(p, n, needle, strlen(needle)) != NULL;
    free(p);
    return hit;
  }
  int hits = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    hits += grep_tree(sub, needle);
  }
  closedir(d);
  return hits;
}

static void test_sync_encrypted__three_devices_no_plaintext(void) {
  dir = th_tmpdir();
  bl_db *a = enc_open("a.db", pw_ok, NULL), *b = enc_open("b.db", pw_ok, NULL), *c = enc_open("c.db", pw_ok, NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('t1', 'Secret plan alpha'), ('t2', 'Buy milk')");
  th_exec(a, "INSERT INTO notes (id, body) VALUES (1, 'zebra-crossing-7731')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  th_exec(b, "INSERT INTO todos (id, title) VALUES ('t3', 'Hidden treasure map')");
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(c, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos"), 3);
  BL_CHECK_INT(th_int(a, "SELECT count(*) FROM todos WHERE title = 'Hidden treasure map'"), 1);
  char cloud[4096];
  snprintf(cloud, sizeof cloud, "%s/cloud", dir);
  const char *secrets[] = {"Secret plan alpha", "Buy milk", "zebra-crossing-7731", "Hidden treasure map", "todos",
                           "title", "notes", "correct horse"};
  for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
    int hits = grep_tree(cloud, secrets[i]);
    if (hits) fprintf(stderr, "  '%s' found in %d cloud file(s)\n", secrets[i], hits);
    BL_CHECK_INT(hits, 0);
  }
  char path[4096];
  size_t n = 0;
  snprintf(path, sizeof path, "%s/cloud/Backless/backless.json", dir);
  char *settings = slurp(path, &n);
  BL_REQUIRE(settings);
  BL_CHECK(strstr(settings, "\"kdf\":\"argon2id13\"") && strstr(settings, "\"compression\":\"zstd\""));
  free(settings);
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(b);
  bl_close(c);
  bl_remote_free(r);
  th_rmtree(dir);
  free(dir);
}

/* Sync of `db` must fail with code `code` (a BL_SYNC_*), apply nothing,
 * upload nothing, and leave backless.json as it was. */
static void refused_whole(bl_db *db, bl_remote *r, int code, const char *needle) {
  char path[4096];
  size_t n0 = 0, n1 = 0;
  snprintf(path, sizeof path, "%s/cloud/Backless/backless.json", dir);
  char *before = slurp(path, &n0);
  th_exec(db, "INSERT OR REPLACE INTO todos (id, title) VALUES ('local', 'not to be uploaded')");
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  BL_CHECK(th_sync(db, r, &res) != BL_OK);
  BL_CHECK(th_has_error(&res, code));
  if (res.errors_count && needle && !strstr(res.errors[0].message, needle)) {
    fprintf(stderr, "  message '%s' lacks '%s'\n", res.errors[0].message, needle);
    bl_test_failed_checks++;
  }
  BL_CHECK_INT(res.pulled, 0);
  BL_CHECK_INT(res.pushed, 0);
  BL_CHECK_INT(th_int(db, "SELECT count(*) FROM todos WHERE id != 'local'"), 0);
  BL_CHECK_INT(th_int(db, "SELECT count(*) FROM _sync_cursors"), 0);
  BL_CHECK_INT(th_count_files(dir, db, "cs-"), 0);
  char *after = slurp(path, &n1);
  BL_CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
  free(before);
  free(after);
  bl_sync_result_free(&res);
}

static void test_sync_encrypted__wrong_missing_unsupported(void) {
  dir = th_tmpdir();
  bl_db *a = enc_open("a.db", pw_ok, NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('t1', 'one')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);

  bl_db *wrong = enc_open("wrong.db", pw_ok, "not the passphrase");
  refused_whole(wrong, r, BL_SYNC_KEY, "wrong passphrase");
  bl_db *none = enc_open("none.db", pw_none, NULL);
  refused_whole(none, r, BL_SYNC_KEY, "passphrase is needed");
  bl_db *nocb = enc_open("nocb.db", NULL, NULL);
  refused_whole(nocb, r, BL_SYNC_KEY, "is encrypted");
  /* Unsupported settings: a cipher this build does not know. */
  char path[4096];
  size_t n = 0;
  snprintf(path, sizeof path, "%s/cloud/Backless/backless.json", dir);
  char *orig = slurp(path, &n);
  char *mod = strdup(orig);
  char *p = strstr(mod, "xchacha20poly1305-secretstream");
  BL_REQUIRE(p);
  memcpy(p, "aes256gcm-future-cipher-mode!!", 30);
  spit(path, mod, strlen(mod));
  bl_db *fresh = enc_open("fresh.db", pw_ok, NULL);
  refused_whole(fresh, r, BL_SYNC_FORMAT, "update the app");
  spit(path, orig, n);
  /* The right passphrase after all: everything arrives. */
  bl_close(wrong);
  wrong = enc_open("wrong.db", pw_ok, NULL);
  BL_CHECK_INT(th_sync(wrong, r, &res), BL_OK);
  BL_CHECK_INT(th_int(wrong, "SELECT count(*) FROM todos WHERE id = 't1'"), 1);
  free(orig);
  free(mod);
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(wrong);
  bl_close(none);
  bl_close(nocb);
  bl_close(fresh);
  bl_remote_free(r);
  th_rmtree(dir);
  free(dir);
}

/* Device x's sync refuses a's file with BL_SYNC_CORRUPT and applies
 * nothing of it, while b's change still arrives. */
static void refused_file(bl_db *x, bl_remote *r, bl_db *a, bl_db *b, const char *b_row) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  BL_CHECK(th_sync(x, r, &res) != BL_OK);
  BL_CHECK(th_has_error(&res, BL_SYNC_CORRUPT));
  int about_a = 0;
  for (size_t i = 0; i < res.errors_count; i++)
    about_a |= res.errors[i].device && strcmp(res.errors[i].device, bl_device_id(a)) == 0;
  BL_CHECK(about_a);
  BL_CHECK_INT(th_int(x, "SELECT count(*) FROM todos WHERE id = 'a2'"), 0);
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM todos WHERE id = '%s'", b_row);
  BL_CHECK_INT(th_int(x, sql), 1);
  (void)b;
  bl_sync_result_free(&res);
}

static void test_sync_encrypted__tampered_files(void) {
  dir = th_tmpdir();
  bl_db *a = enc_open("a.db", pw_ok, NULL), *b = enc_open("b.db", pw_ok, NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('a1', 'first')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK); /* cs-00001 */
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('a2', 'second')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK); /* cs-00002 */
  char a2[4096], a1[4096];
  snprintf(a1, sizeof a1, "%s/cs-00001.json", th_device_folder(dir, a));
  snprintf(a2, sizeof a2, "%s/cs-00002.json", th_device_folder(dir, a));
  size_t n2 = 0, n1 = 0;
  char *orig2 = slurp(a2, &n2), *orig1 = slurp(a1, &n1);
  BL_REQUIRE(orig2 && orig1);

  const char *cases[] = {"flipped byte", "truncated", "older file under a newer name", "copied from b's folder"};
  for (int k = 0; k < 4; k++) {
    fprintf(stderr, "  - %s\n", cases[k]);
    char name[32], row[16];
    snprintf(name, sizeof name, "x%d.db", k);
    snprintf(row, sizeof row, "b%d", k);
    th_execf(b, "INSERT INTO todos (id, title) VALUES ('%s', 'from b')", row);
    BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
    if (k == 0) {
      char *m = malloc(n2);
      memcpy(m, orig2, n2);
      m[n2 / 2] ^= 1;
      spit(a2, m, n2);
      free(m);
    } else if (k == 1) {
      spit(a2, orig2, n2 - 20);
    } else if (k == 2) {
      spit(a2, orig1, n1);
    } else {
      char bfile[4096];
      size_t bn = 0;
      snprintf(bfile, sizeof bfile, "%s/cs-00001.json", th_device_folder(dir, b));
      char *bb = slurp(bfile, &bn);
      BL_REQUIRE(bb);
      spit(a2, bb, bn);
      free(bb);
    }
    bl_db *x = enc_open(name, pw_ok, NULL);
    refused_file(x, r, a, b, row);
    BL_CHECK_INT(th_int(x, "SELECT count(*) FROM todos WHERE id = 'a1'"), 1); /* before the bad file */
    bl_close(x);
    spit(a2, orig2, n2);
  }
  bl_db *y = enc_open("y.db", pw_ok, NULL);
  BL_CHECK_INT(th_sync(y, r, &res), BL_OK);
  BL_CHECK_INT(th_int(y, "SELECT count(*) FROM todos WHERE id = 'a2'"), 1);
  free(orig1);
  free(orig2);
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(b);
  bl_close(y);
  bl_remote_free(r);
  th_rmtree(dir);
  free(dir);
}

static void test_sync_encrypted__passphrase_on_plain_folder(void) {
  dir = th_tmpdir();
  bl_db *a = th_open(dir, "a.db", NULL);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  bl_db *b = enc_open("b.db", pw_ok, NULL);
  refused_whole(b, r, BL_SYNC_KEY, "not encrypted");
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(b);
  bl_remote_free(r);
  th_rmtree(dir);
  free(dir);
}

static void test_sync_encrypted__passphrase_change(void) {
  dir = th_tmpdir();
  bl_db *a = enc_open("a.db", pw_ok, "old one"), *b = enc_open("b.db", pw_ok, "old one");
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('h1', 'history')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  /* b, with the old passphrase, cannot change it to anything by mistake
   * if its own is wrong; a changes it. */
  bl_db *w = enc_open("w.db", pw_ok, "not it");
  BL_CHECK_INT(bl_passphrase_change(w, r, "whatever"), BL_EAUTH);
  BL_CHECK(strstr(bl_errmsg(w), "wrong passphrase") != NULL);
  BL_CHECK_INT(bl_passphrase_change(a, r, "new one"), BL_OK);
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('h2', 'after the change')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  /* A new device with the new passphrase reads the whole history. */
  bl_db *c = enc_open("c.db", pw_ok, "new one");
  BL_CHECK_INT(th_sync(c, r, &res), BL_OK);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos WHERE id IN ('h1', 'h2')"), 2);
  /* A device that never synced, with the old passphrase: a 'key' error. */
  bl_db *d = enc_open("d.db", pw_ok, "old one");
  BL_CHECK(th_sync(d, r, &res) != BL_OK);
  BL_CHECK(th_has_error(&res, BL_SYNC_KEY));
  BL_CHECK_INT(th_int(d, "SELECT count(*) FROM todos"), 0);
  bl_close(d);
  /* b reopened with the new passphrase (its remembered settings are the
   * old ones: it reads backless.json again) syncs on. */
  bl_close(b);
  b = enc_open("b.db", pw_ok, "new one");
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE id = 'h2'"), 1);
  /* A plain folder has no passphrase to change. */
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(b);
  bl_close(c);
  bl_close(w);
  bl_remote_free(r);
  th_rmtree(dir);
  free(dir);
}

/* A raw 32-byte key instead of a passphrase: kdf "raw", no salt, the same
 * protection; another key is refused. */
static bl_db *raw_open(const char *file, const unsigned char *key) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  bl_config c = BL_CONFIG_INIT;
  c.schema = th_schema(1);
  c.database_path = path;
  c.key = key;
  bl_db *db = NULL;
  if (bl_open(&db, &c) != BL_OK) {
    fprintf(stderr, "open: %s\n", bl_errmsg(NULL));
    exit(2);
  }
  return db;
}

static void test_sync_encrypted__raw_key(void) {
  dir = th_tmpdir();
  unsigned char key[32], other[32];
  randombytes_buf(key, sizeof key);
  randombytes_buf(other, sizeof other);
  bl_db *a = raw_open("a.db", key), *b = raw_open("b.db", key);
  bl_remote *r = th_remote(dir);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('r1', 'raw key secret')");
  BL_CHECK_INT(th_sync(a, r, &res), BL_OK);
  BL_CHECK_INT(th_sync(b, r, &res), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE title = 'raw key secret'"), 1);
  char cloud[4096], path[4096];
  snprintf(cloud, sizeof cloud, "%s/cloud", dir);
  BL_CHECK_INT(grep_tree(cloud, "raw key secret"), 0);
  size_t n = 0;
  snprintf(path, sizeof path, "%s/cloud/Backless/backless.json", dir);
  char *settings = slurp(path, &n);
  BL_CHECK(settings && strstr(settings, "\"kdf\":\"raw\"") && !strstr(settings, "salt"));
  free(settings);
  bl_db *x = raw_open("x.db", other);
  refused_whole(x, r, BL_SYNC_KEY, "wrong key");
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(b);
  bl_close(x);
  bl_remote_free(r);
  th_rmtree(dir);
  free(dir);
}

static const bl_test_case cases[] = {
    BL_TEST(test_sync_encrypted__raw_key),
    BL_TEST(test_sync_encrypted__passphrase_change),
    BL_TEST(test_sync_encrypted__three_devices_no_plaintext),
    BL_TEST(test_sync_encrypted__wrong_missing_unsupported),
    BL_TEST(test_sync_encrypted__tampered_files),
    BL_TEST(test_sync_encrypted__passphrase_on_plain_folder),
};
BL_TEST_MAIN(cases)
