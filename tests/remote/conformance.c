/*
 * conformance.c — the remote conformance suite (see conformance.h).
 *
 * Every case checks behaviour the contract of backless/remote.h promises,
 * through the dispatchers only: listing, folders, exact bytes both ways,
 * replacing, errors by code, large folders (more entries than any service's
 * page), the names the sync engine uses, path rules, and a failed write
 * leaving nothing behind.
 *
 * Divided into: helpers; cases.
 */
#define _POSIX_C_SOURCE 200809L

#include "conformance.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ helpers */

int conformance_sink(const void *data, size_t len, void *payload) {
  conformance_buf *b = payload;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + len) cap *= 2;
    unsigned char *grown = realloc(b->data, cap);
    if (!grown) return BL_ENOMEM;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

int conformance_read(bl_remote *r, const char *path, conformance_buf *buf) {
  buf->len = 0;
  return bl_remote_read(r, path, conformance_sink, buf);
}

long conformance_find(const bl_remote_entry *e, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(e[i].name, name)) return (long)i;
  return -1;
}

size_t conformance_count(const bl_remote_entry *e, size_t n, const char *name) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += !strcmp(e[i].name, name);
  return c;
}

static bl_remote *conf_open(void) {
  bl_remote *r = NULL;
  int rc = conformance_target.open(&r, conformance_target.payload);
  if (rc != BL_OK || !r) {
    fprintf(stderr, "  %s: cannot open a fresh remote (%d): %s\n", conformance_target.name, rc,
            bl_remote_errmsg(NULL));
    return NULL;
  }
  return r;
}

static void conf_close(bl_remote *r) {
  if (r) conformance_target.close(r, conformance_target.payload);
}

/* Writes `len` bytes and reads them back; both must match exactly. */
static void conf_round_trip(bl_remote *r, const char *path, const unsigned char *data, size_t len) {
  conformance_buf b = {0};
  BL_CHECK_INT(bl_remote_write_buf(r, path, data, len), BL_OK);
  BL_CHECK_INT(conformance_read(r, path, &b), BL_OK);
  BL_CHECK_INT(b.len, len);
  BL_CHECK(b.len == len && (len == 0 || memcmp(b.data, data, len) == 0));
  free(b.data);
}

/* Lists `path`, expecting success; the caller frees. */
static bl_remote_entry *conf_list(bl_remote *r, const char *path, size_t *n) {
  bl_remote_entry *e = NULL;
  int rc = bl_remote_list(r, path, &e, n);
  if (rc != BL_OK) fprintf(stderr, "  list '%s': %d %s\n", path, rc, bl_remote_errmsg(r));
  BL_CHECK_INT(rc, BL_OK);
  return e;
}

/* Checks that the listing of `path` has exactly `expect` entries. */
static void conf_expect_count(bl_remote *r, const char *path, size_t expect) {
  size_t n = 0;
  bl_remote_entry *e = conf_list(r, path, &n);
  BL_CHECK_INT(n, expect);
  bl_remote_entries_free(e, n);
}

static void conf_expect_error(bl_remote *r, int rc, int expect) {
  BL_CHECK_INT(rc, expect);
  BL_CHECK(bl_remote_errmsg(r)[0] != '\0');
}

/* -------------------------------------------------------------------- cases */

void test_remote_conformance__empty_listing(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  bl_remote_entry *e = (bl_remote_entry *)&e; /* must be overwritten */
  size_t n = 99;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(n, 0);
  bl_remote_entries_free(e, n);
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  conf_close(r);
}

void test_remote_conformance__mkdir_idempotent(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, ""), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(r, "a/b/c"), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(r, "a/b/c"), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(r, "a"), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(r, "a/b/d"), BL_OK);
  const char *levels[][2] = {{"", "a"}, {"a", "b"}, {"a/b", "c"}};
  for (size_t i = 0; i < 3; i++) {
    size_t n = 0;
    bl_remote_entry *e = conf_list(r, levels[i][0], &n);
    BL_CHECK_INT(n, i == 2 ? 2 : 1);
    long k = conformance_find(e, n, levels[i][1]);
    BL_CHECK(k >= 0);
    if (k >= 0) {
      BL_CHECK_INT(e[k].is_folder, 1);
      BL_CHECK_INT(e[k].size, -1);
    }
    bl_remote_entries_free(e, n);
  }
  conf_expect_count(r, "a/b/c", 0);
  conf_close(r);
}

void test_remote_conformance__round_trip(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  size_t big = 1024 * 1024;
  unsigned char *data = malloc(big);
  BL_REQUIRE(data);
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < big; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    data[i] = (unsigned char)x;
  }
  conf_round_trip(r, "empty", data, 0);
  conf_round_trip(r, "one", (const unsigned char *)"x", 1);
  conf_round_trip(r, "big.bin", data, big);
  unsigned char bin[1024];
  for (size_t i = 0; i < sizeof bin; i++) bin[i] = (unsigned char)(i % 3 ? i : 0);
  conf_round_trip(r, "nul.bin", bin, sizeof bin);

  size_t n = 0;
  bl_remote_entry *e = conf_list(r, "", &n);
  BL_CHECK_INT(n, 4);
  const char *names[] = {"empty", "one", "big.bin", "nul.bin"};
  const int64_t sizes[] = {0, 1, (int64_t)big, (int64_t)sizeof bin};
  for (size_t i = 0; i < 4; i++) {
    long k = conformance_find(e, n, names[i]);
    BL_CHECK(k >= 0);
    if (k >= 0) {
      BL_CHECK_INT(e[k].is_folder, 0);
      BL_CHECK_INT(e[k].size, sizes[i]);
    }
  }
  bl_remote_entries_free(e, n);

  /* A write through a FILE the caller made, not only write_buf. */
  FILE *f = tmpfile();
  BL_REQUIRE(f);
  BL_CHECK_INT(fwrite(data, 1, 5000, f), 5000);
  rewind(f);
  BL_CHECK_INT(bl_remote_write(r, "from-file", f, 5000), BL_OK);
  fclose(f);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "from-file", &b), BL_OK);
  BL_CHECK(b.len == 5000 && memcmp(b.data, data, 5000) == 0);
  free(b.data);
  free(data);
  conf_close(r);
}

void test_remote_conformance__replace_keeps_one(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "f", "one", 3), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "f", "second content", 14), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "f", "third!", 6), BL_OK);
  size_t n = 0;
  bl_remote_entry *e = conf_list(r, "", &n);
  BL_CHECK_INT(n, 1);
  BL_CHECK_INT(conformance_count(e, n, "f"), 1);
  if (n == 1) BL_CHECK_INT(e[0].size, 6);
  bl_remote_entries_free(e, n);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "f", &b), BL_OK);
  BL_CHECK(b.len == 6 && memcmp(b.data, "third!", 6) == 0);
  /* Replacing with something shorter leaves nothing of the longer file. */
  BL_CHECK_INT(bl_remote_write_buf(r, "f", "", 0), BL_OK);
  BL_CHECK_INT(conformance_read(r, "f", &b), BL_OK);
  BL_CHECK_INT(b.len, 0);
  free(b.data);
  conf_close(r);
}

void test_remote_conformance__list_files_and_folders(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  time_t now = time(NULL);
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "x", "abc", 3), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "d/y", "hello", 5), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(r, "d/sub"), BL_OK);

  size_t n = 0;
  bl_remote_entry *e = conf_list(r, "", &n);
  BL_CHECK_INT(n, 2);
  long x = conformance_find(e, n, "x"), d = conformance_find(e, n, "d");
  BL_CHECK(x >= 0 && d >= 0);
  if (x >= 0) {
    BL_CHECK_INT(e[x].is_folder, 0);
    BL_CHECK_INT(e[x].size, 3);
    /* 0 means unknown; otherwise the time of the write, give or take a day
     * of clock difference with the service. */
    BL_CHECK(e[x].mtime == 0 || (e[x].mtime > now - 86400 && e[x].mtime < now + 86400));
  }
  if (d >= 0) {
    BL_CHECK_INT(e[d].is_folder, 1);
    BL_CHECK_INT(e[d].size, -1);
  }
  bl_remote_entries_free(e, n);

  e = conf_list(r, "d", &n);
  BL_CHECK_INT(n, 2);
  long y = conformance_find(e, n, "y"), sub = conformance_find(e, n, "sub");
  BL_CHECK(y >= 0 && sub >= 0);
  if (y >= 0) {
    BL_CHECK_INT(e[y].is_folder, 0);
    BL_CHECK_INT(e[y].size, 5);
  }
  if (sub >= 0) BL_CHECK_INT(e[sub].is_folder, 1);
  bl_remote_entries_free(e, n);
  conf_close(r);
}

void test_remote_conformance__missing(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  conformance_buf b = {0};
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  conf_expect_error(r, conformance_read(r, "nope", &b), BL_ENOTFOUND);
  BL_CHECK_INT(b.len, 0);
  conf_expect_error(r, conformance_read(r, "d/nope", &b), BL_ENOTFOUND);
  conf_expect_error(r, conformance_read(r, "nodir/nope", &b), BL_ENOTFOUND);
  conf_expect_error(r, bl_remote_remove(r, "nope"), BL_ENOTFOUND);
  conf_expect_error(r, bl_remote_remove(r, "nodir/nope"), BL_ENOTFOUND);
  conf_expect_error(r, bl_remote_list(r, "nodir", &e, &n), BL_ENOTFOUND);
  BL_CHECK(e == NULL);
  BL_CHECK_INT(n, 0);
  free(b.data);
  conf_close(r);
}

void test_remote_conformance__write_into_missing_folder(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  conf_expect_error(r, bl_remote_write_buf(r, "nodir/x", "abc", 3), BL_ENOTFOUND);
  conf_expect_error(r, bl_remote_write_buf(r, "a/b/x", "abc", 3), BL_ENOTFOUND);
  conf_expect_count(r, "", 0);
  /* Once the folder exists, the same write works. */
  BL_CHECK_INT(bl_remote_mkdir(r, "nodir"), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "nodir/x", "abc", 3), BL_OK);
  conf_expect_count(r, "nodir", 1);
  conf_close(r);
}

void test_remote_conformance__remove_then_list(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "d/a", "1", 1), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "d/b", "2", 1), BL_OK);
  BL_CHECK_INT(bl_remote_remove(r, "d/a"), BL_OK);
  size_t n = 0;
  bl_remote_entry *e = conf_list(r, "d", &n);
  BL_CHECK_INT(n, 1);
  BL_CHECK(n == 1 && !strcmp(e[0].name, "b"));
  bl_remote_entries_free(e, n);
  conformance_buf b = {0};
  conf_expect_error(r, conformance_read(r, "d/a", &b), BL_ENOTFOUND);
  conf_expect_error(r, bl_remote_remove(r, "d/a"), BL_ENOTFOUND);
  BL_CHECK_INT(bl_remote_remove(r, "d/b"), BL_OK);
  conf_expect_count(r, "d", 0);
  free(b.data);
  conf_close(r);
}

/* More entries than any service returns in one page (Drive 1000, Graph 200). */
#define CONF_MANY 1200

void test_remote_conformance__many_files(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "many"), BL_OK);
  char path[64];
  int write_failures = 0;
  for (int i = 0; i < CONF_MANY; i++) {
    snprintf(path, sizeof path, "many/cs-%05d.json", i);
    if (bl_remote_write_buf(r, path, path, strlen(path)) != BL_OK) write_failures++;
  }
  BL_CHECK_INT(write_failures, 0);
  size_t n = 0;
  bl_remote_entry *e = conf_list(r, "many", &n);
  BL_CHECK_INT(n, CONF_MANY);
  unsigned char *seen = calloc(CONF_MANY, 1);
  BL_REQUIRE(seen);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    int k = -1;
    if (sscanf(e[i].name, "cs-%5d.json", &k) != 1 || k < 0 || k >= CONF_MANY || seen[k]++)
      bad++;
    else if (e[i].size != (int64_t)strlen("many/") + (int64_t)strlen(e[i].name))
      bad++;
  }
  BL_CHECK_INT(bad, 0);
  free(seen);
  bl_remote_entries_free(e, n);
  conf_close(r);
}

void test_remote_conformance__names(void) {
  static const char *const names[] = {
      "a.b",         "a-b",           "-lead",          "trail-",
      "x.y.z.json",  "cs-00001.json", "cs-100000.json", "snapshot-00100.json",
      "UPPER.lower", "_under_score",  ".dotfirst",      "a..b"};
  const size_t count = sizeof names / sizeof names[0];
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "dir.with-dots"), BL_OK);
  char path[128];
  for (size_t i = 0; i < count; i++) {
    snprintf(path, sizeof path, "dir.with-dots/%s", names[i]);
    conf_round_trip(r, path, (const unsigned char *)names[i], strlen(names[i]));
  }
  size_t n = 0;
  bl_remote_entry *e = conf_list(r, "dir.with-dots", &n);
  BL_CHECK_INT(n, count);
  for (size_t i = 0; i < count; i++) {
    if (conformance_count(e, n, names[i]) != 1) {
      fprintf(stderr, "  name '%s' not listed once\n", names[i]);
      bl_test_failed_checks++;
    }
  }
  bl_remote_entries_free(e, n);
  for (size_t i = 0; i < count; i++) {
    snprintf(path, sizeof path, "dir.with-dots/%s", names[i]);
    BL_CHECK_INT(bl_remote_remove(r, path), BL_OK);
  }
  conf_expect_count(r, "dir.with-dots", 0);
  conf_close(r);
}

void test_remote_conformance__path_validation(void) {
  static const char *const bad[] = {"/a",   "a/",     "/", "a//b", "./a", "a/.",  "../a",
                                    "a/..", "a/../b", ".", "..",   "//",  "a/./b"};
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  conformance_buf b = {0};
  bl_remote_entry *e = NULL;
  size_t n = 0;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *p = bad[i];
    conf_expect_error(r, bl_remote_list(r, p, &e, &n), BL_EMISUSE);
    conf_expect_error(r, conformance_read(r, p, &b), BL_EMISUSE);
    conf_expect_error(r, bl_remote_write_buf(r, p, "x", 1), BL_EMISUSE);
    conf_expect_error(r, bl_remote_remove(r, p), BL_EMISUSE);
    conf_expect_error(r, bl_remote_mkdir(r, p), BL_EMISUSE);
  }
  /* The root is a folder: listing and ensuring it are fine, the rest not. */
  conf_expect_error(r, conformance_read(r, "", &b), BL_EMISUSE);
  conf_expect_error(r, bl_remote_write_buf(r, "", "x", 1), BL_EMISUSE);
  conf_expect_error(r, bl_remote_remove(r, ""), BL_EMISUSE);
  /* NULL arguments. */
  conf_expect_error(r, bl_remote_list(r, NULL, &e, &n), BL_EMISUSE);
  conf_expect_error(r, bl_remote_list(r, "", NULL, &n), BL_EMISUSE);
  conf_expect_error(r, bl_remote_read(r, NULL, conformance_sink, &b), BL_EMISUSE);
  conf_expect_error(r, bl_remote_read(r, "f", NULL, NULL), BL_EMISUSE);
  conf_expect_error(r, bl_remote_write(r, "f", NULL, 0), BL_EMISUSE);
  conf_expect_error(r, bl_remote_write_buf(r, "f", NULL, 3), BL_EMISUSE);
  conf_expect_error(r, bl_remote_remove(r, NULL), BL_EMISUSE);
  conf_expect_error(r, bl_remote_mkdir(r, NULL), BL_EMISUSE);
  FILE *f = tmpfile();
  BL_REQUIRE(f);
  conf_expect_error(r, bl_remote_write(r, "f", f, -1), BL_EMISUSE);
  fclose(f);
  BL_CHECK_INT(bl_remote_list(NULL, "", &e, &n), BL_EMISUSE);
  /* None of it reached the storage. */
  conf_expect_count(r, "", 0);
  free(b.data);
  conf_close(r);
}

void test_remote_conformance__short_source(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  FILE *f = tmpfile();
  BL_REQUIRE(f);
  BL_CHECK_INT(fwrite("0123456789", 1, 10, f), 10);
  rewind(f);
  int rc = bl_remote_write(r, "short", f, 100);
  BL_CHECK(rc < 0);
  BL_CHECK(bl_remote_errmsg(r)[0] != '\0');
  conf_expect_count(r, "", 0);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "short", &b), BL_ENOTFOUND);

  /* Replacing an existing file with a short source keeps the old file. */
  BL_CHECK_INT(bl_remote_write_buf(r, "kept", "old content", 11), BL_OK);
  rewind(f);
  BL_CHECK(bl_remote_write(r, "kept", f, 1000) < 0);
  BL_CHECK_INT(conformance_read(r, "kept", &b), BL_OK);
  BL_CHECK(b.len == 11 && memcmp(b.data, "old content", 11) == 0);
  conf_expect_count(r, "", 1);
  fclose(f);
  free(b.data);
  conf_close(r);
}

/* Stops after the first piece with its own code. */
static int conf_stop_sink(const void *data, size_t len, void *payload) {
  int *calls = payload;
  (*calls)++;
  return 7;
}

void test_remote_conformance__sink_abort(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  static unsigned char data[300000];
  memset(data, 'q', sizeof data);
  BL_CHECK_INT(bl_remote_write_buf(r, "f", data, sizeof data), BL_OK);
  int calls = 0;
  BL_CHECK_INT(bl_remote_read(r, "f", conf_stop_sink, &calls), 7);
  BL_CHECK_INT(calls, 1);
  /* The file is intact and readable again. */
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "f", &b), BL_OK);
  BL_CHECK_INT(b.len, sizeof data);
  free(b.data);
  conf_close(r);
}

void test_remote_conformance__errmsg_cleared(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  conformance_buf b = {0};
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  BL_CHECK_INT(conformance_read(r, "nope", &b), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_remote_errmsg(r), "nope") != NULL); /* names the path */
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  BL_CHECK_INT(bl_remote_remove(r, "nope"), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_remote_errmsg(r), "nope") != NULL);
  BL_CHECK_INT(bl_remote_write_buf(r, "d/f", "z", 1), BL_OK);
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  free(b.data);
  conf_close(r);
}

/* Two devices, each with its own remote on the same storage, write into
 * their own device folders at the same time — creating the shared parent
 * folders concurrently, as two devices syncing for the first time do. Both
 * then see both folders, once each, with every file. */
#define CONF_WRITERS 2
#define CONF_FILES 12

typedef struct conf_writer {
  bl_remote *r;
  int index;
  int failures;
} conf_writer;

static void *conf_writer_run(void *arg) {
  conf_writer *w = arg;
  char folder[128], path[192], body[64];
  snprintf(folder, sizeof folder, "App/changesets/device-%d", w->index);
  if (bl_remote_mkdir(w->r, folder) != BL_OK) {
    fprintf(stderr, "  writer %d: mkdir: %s\n", w->index, bl_remote_errmsg(w->r));
    w->failures++;
    return NULL;
  }
  for (int k = 1; k <= CONF_FILES; k++) {
    snprintf(path, sizeof path, "%s/cs-%05d.json", folder, k);
    int len = snprintf(body, sizeof body, "writer %d file %d", w->index, k);
    if (bl_remote_write_buf(w->r, path, body, (size_t)len) != BL_OK) {
      fprintf(stderr, "  writer %d: %s: %s\n", w->index, path, bl_remote_errmsg(w->r));
      w->failures++;
    }
  }
  return NULL;
}

void test_remote_conformance__concurrent_writers(void) {
  if (!conformance_target.open_peer) {
    printf("  (skipped: %s cannot open a second remote on the same storage)\n", conformance_target.name);
    return;
  }
  bl_remote *first = conf_open();
  BL_REQUIRE(first);
  conf_writer w[CONF_WRITERS];
  pthread_t t[CONF_WRITERS];
  memset(w, 0, sizeof w);
  w[0].r = first;
  int ok = 1;
  for (int i = 1; i < CONF_WRITERS; i++) {
    ok &= conformance_target.open_peer(&w[i].r, first, conformance_target.payload) == BL_OK && w[i].r;
  }
  BL_CHECK(ok);
  for (int i = 0; ok && i < CONF_WRITERS; i++) {
    w[i].index = i;
    ok &= pthread_create(&t[i], NULL, conf_writer_run, &w[i]) == 0;
  }
  for (int i = 0; ok && i < CONF_WRITERS; i++) pthread_join(t[i], NULL);
  for (int i = 0; ok && i < CONF_WRITERS; i++) BL_CHECK_INT(w[i].failures, 0);

  /* Every remote sees the same tree. */
  for (int v = 0; ok && v < CONF_WRITERS; v++) {
    size_t n = 0;
    bl_remote_entry *e = conf_list(w[v].r, "App/changesets", &n);
    BL_CHECK_INT(n, CONF_WRITERS);
    for (int i = 0; i < CONF_WRITERS; i++) {
      char name[64], folder[128];
      snprintf(name, sizeof name, "device-%d", i);
      BL_CHECK_INT(conformance_count(e, n, name), 1);
      snprintf(folder, sizeof folder, "App/changesets/%s", name);
      conf_expect_count(w[v].r, folder, CONF_FILES);
      conformance_buf b = {0};
      char path[192], want[64];
      snprintf(path, sizeof path, "%s/cs-%05d.json", folder, CONF_FILES);
      snprintf(want, sizeof want, "writer %d file %d", i, CONF_FILES);
      BL_CHECK_INT(conformance_read(w[v].r, path, &b), BL_OK);
      BL_CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
      free(b.data);
    }
    bl_remote_entries_free(e, n);
    /* The shared parents exist once. */
    e = conf_list(w[v].r, "", &n);
    BL_CHECK_INT(conformance_count(e, n, "App"), 1);
    bl_remote_entries_free(e, n);
    e = conf_list(w[v].r, "App", &n);
    BL_CHECK_INT(conformance_count(e, n, "changesets"), 1);
    bl_remote_entries_free(e, n);
  }
  for (int i = 1; i < CONF_WRITERS; i++) bl_remote_free(w[i].r);
  conf_close(first);
}

/* read_many / write_many: per-job results, one bad job does not spoil the
 * others, contents exact. */
void test_remote_conformance__batches(void) {
  bl_remote *r = conf_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "b"), BL_OK);
  enum { N = 9 };
  FILE *src[N + 1];
  char paths[N + 1][64], bodies[N + 1][64];
  bl_remote_write_job wj[N + 1];
  memset(wj, 0, sizeof wj);
  for (int i = 0; i <= N; i++) {
    snprintf(paths[i], sizeof paths[i], i < N ? "b/f%d" : "missing/f%d", i);
    int len = snprintf(bodies[i], sizeof bodies[i], "batch body %d %s", i, i % 2 ? "odd" : "even");
    src[i] = tmpfile();
    BL_REQUIRE(src[i]);
    fwrite(bodies[i], 1, (size_t)len, src[i]);
    rewind(src[i]);
    wj[i].path = paths[i];
    wj[i].src = src[i];
    wj[i].size = len;
  }
  int rc = bl_remote_write_many(r, wj, N + 1);
  BL_CHECK_INT(rc, BL_ENOTFOUND); /* the first failed job's code */
  for (int i = 0; i < N; i++) BL_CHECK_INT(wj[i].rc, BL_OK);
  BL_CHECK_INT(wj[N].rc, BL_ENOTFOUND);
  BL_CHECK(wj[N].errmsg[0] != '\0');
  for (int i = 0; i <= N; i++) fclose(src[i]);
  conf_expect_count(r, "b", N);

  conformance_buf bufs[N + 1];
  memset(bufs, 0, sizeof bufs);
  bl_remote_read_job rj[N + 1];
  memset(rj, 0, sizeof rj);
  for (int i = 0; i <= N; i++) {
    if (i == N) snprintf(paths[i], sizeof paths[i], "b/none");
    rj[i].path = paths[i];
    rj[i].sink = conformance_sink;
    rj[i].payload = &bufs[i];
  }
  rc = bl_remote_read_many(r, rj, N + 1);
  BL_CHECK_INT(rc, BL_ENOTFOUND);
  for (int i = 0; i < N; i++) {
    BL_CHECK_INT(rj[i].rc, BL_OK);
    BL_CHECK(bufs[i].len == strlen(bodies[i]) && memcmp(bufs[i].data, bodies[i], bufs[i].len) == 0);
  }
  BL_CHECK_INT(rj[N].rc, BL_ENOTFOUND);
  BL_CHECK(rj[N].errmsg[0] != '\0');
  for (int i = 0; i <= N; i++) free(bufs[i].data);
  /* An empty batch does nothing and succeeds. */
  BL_CHECK_INT(bl_remote_read_many(r, rj, 0), BL_OK);
  /* A bad path anywhere in a batch: BL_EMISUSE before anything moves. */
  FILE *one = tmpfile();
  BL_REQUIRE(one);
  fputs("x", one);
  rewind(one);
  bl_remote_write_job bad[2] = {{"b/new", one, 1, 0, ""}, {"b/../escape", one, 1, 0, ""}};
  BL_CHECK_INT(bl_remote_write_many(r, bad, 2), BL_EMISUSE);
  BL_CHECK(strstr(bl_remote_errmsg(r), "..") != NULL);
  fclose(one);
  conf_expect_count(r, "b", N);
  conf_close(r);
}
