/*
 * dispatch.c — the dispatchers and error plumbing of src/remote/remote.c,
 * seen from a backend's side: a scripted in-memory backend records what
 * reaches it, so these tests check what the dispatchers pass on, what they
 * stop, and how messages and freeing work.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"
#include "backless/remote.h"
#include "harness.h"
#include "util/errmsg.h"

typedef struct script_remote {
  bl_remote base;
  int calls;
  char last_path[64];
  int rc;           /* what every operation returns */
  char written[64]; /* what write read from its source */
  int64_t written_size;
  int *freed_cleanly; /* set by free: 1 when errmsg was already gone */
} script_remote;

static int script_note(bl_remote *r, const char *path) {
  script_remote *s = (script_remote *)r;
  s->calls++;
  snprintf(s->last_path, sizeof s->last_path, "%s", path);
  return s->rc;
}

static int script_list(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count) {
  return script_note(r, path);
}

static int script_read(bl_remote *r, const char *path, bl_remote_sink sink, void *payload) {
  return script_note(r, path);
}

static int script_write(bl_remote *r, const char *path, FILE *src, int64_t size) {
  script_remote *s = (script_remote *)r;
  size_t got = fread(s->written, 1, sizeof s->written - 1, src);
  s->written[got] = '\0';
  s->written_size = size;
  return script_note(r, path);
}

static int script_remove(bl_remote *r, const char *path) { return script_note(r, path); }

static int script_mkdir(bl_remote *r, const char *path) { return script_note(r, path); }

static void script_free(bl_remote *r) {
  script_remote *s = (script_remote *)r;
  if (s->freed_cleanly) *s->freed_cleanly = r->errmsg == NULL;
  free(s);
}

static script_remote *script_new(void) {
  script_remote *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->base.version = BL_REMOTE_VERSION;
  s->base.list = script_list;
  s->base.read = script_read;
  s->base.write = script_write;
  s->base.remove = script_remove;
  s->base.mkdir = script_mkdir;
  s->base.free = script_free;
  return s;
}

static int dispatch_sink(const void *data, size_t len, void *payload) { return 0; }

static void test_remote_dispatch__passes_valid_paths(void) {
  script_remote *s = script_new();
  BL_REQUIRE(s);
  bl_remote *r = &s->base;
  bl_remote_entry *e = (bl_remote_entry *)&e;
  size_t n = 42;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK(e == NULL); /* reset before the backend runs */
  BL_CHECK_INT(n, 0);
  BL_CHECK_STR(s->last_path, "");
  BL_CHECK_INT(bl_remote_read(r, "a/b.c/d-e", dispatch_sink, NULL), BL_OK);
  BL_CHECK_STR(s->last_path, "a/b.c/d-e");
  BL_CHECK_INT(bl_remote_remove(r, ".x/..y/z.."), BL_OK); /* dots inside names are fine */
  BL_CHECK_STR(s->last_path, ".x/..y/z..");
  BL_CHECK_INT(bl_remote_mkdir(r, ""), BL_OK);
  BL_CHECK_INT(s->calls, 4);
  BL_CHECK_INT(bl_remote_write_buf(r, "w", "payload", 7), BL_OK);
  BL_CHECK_STR(s->written, "payload");
  BL_CHECK_INT(s->written_size, 7);
  BL_CHECK_INT(bl_remote_write_buf(r, "w", NULL, 0), BL_OK);
  BL_CHECK_STR(s->written, "");
  BL_CHECK_INT(s->written_size, 0);
  bl_remote_free(r);
}

static void test_remote_dispatch__stops_misuse(void) {
  script_remote *s = script_new();
  BL_REQUIRE(s);
  bl_remote *r = &s->base;
  const char *bad[] = {"/a", "a/", "a//b", "./a", "a/..", ".."};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    BL_CHECK_INT(bl_remote_mkdir(r, bad[i]), BL_EMISUSE);
    BL_CHECK(strstr(bl_remote_errmsg(r), bad[i]) != NULL);
  }
  BL_CHECK_INT(bl_remote_mkdir(r, "a/./b"), BL_EMISUSE);
  BL_CHECK(strstr(bl_remote_errmsg(r), "'.' component") != NULL);
  BL_CHECK_INT(bl_remote_mkdir(r, "a//b"), BL_EMISUSE);
  BL_CHECK(strstr(bl_remote_errmsg(r), "empty component") != NULL);
  BL_CHECK_INT(bl_remote_read(r, "", dispatch_sink, NULL), BL_EMISUSE);
  BL_CHECK_INT(s->calls, 0);
  /* Interface versions this library does not know. */
  s->base.version = 0;
  BL_CHECK_INT(bl_remote_mkdir(r, "a"), BL_EMISUSE);
  s->base.version = BL_REMOTE_VERSION + 1;
  BL_CHECK_INT(bl_remote_mkdir(r, "a"), BL_EMISUSE);
  BL_CHECK(strstr(bl_remote_errmsg(r), "version") != NULL);
  s->base.version = BL_REMOTE_VERSION;
  /* A backend without an operation. */
  s->base.remove = NULL;
  BL_CHECK_INT(bl_remote_remove(r, "a"), BL_EMISUSE);
  BL_CHECK(strstr(bl_remote_errmsg(r), "does not implement") != NULL);
  BL_CHECK_INT(s->calls, 0);
  /* No remote at all: the thread's message says so. */
  BL_CHECK_INT(bl_remote_mkdir(NULL, "a"), BL_EMISUSE);
  BL_CHECK(strstr(bl__tls_errmsg(), "NULL") != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(NULL), "NULL") != NULL);
  bl_remote_free(r);
}

static void test_remote_dispatch__messages(void) {
  script_remote *s = script_new();
  BL_REQUIRE(s);
  bl_remote *r = &s->base;
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  /* A failure without a message gets one. */
  s->rc = BL_ENOTFOUND;
  BL_CHECK_INT(bl_remote_read(r, "x/y", dispatch_sink, NULL), BL_ENOTFOUND);
  BL_CHECK_STR(bl_remote_errmsg(r), "remote read 'x/y': not found");
  /* A success clears the last one. */
  s->rc = BL_OK;
  BL_CHECK_INT(bl_remote_mkdir(r, "x"), BL_OK);
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  /* bl_remote_set_error returns the code, and may quote the old message. */
  BL_CHECK_INT(bl_remote_set_error(r, BL_EIO, "first %d", 1), BL_EIO);
  BL_CHECK_INT(bl_remote_set_error(r, BL_ENET, "second after (%s)", r->errmsg), BL_ENET);
  BL_CHECK_STR(bl_remote_errmsg(r), "second after (first 1)");
  BL_CHECK_INT(bl_remote_set_error(NULL, BL_EIO, "ignored"), BL_EIO);
  /* bl_remote_free releases the message before the backend's free. */
  int freed_cleanly = -1;
  s->freed_cleanly = &freed_cleanly;
  bl_remote_free(r);
  BL_CHECK_INT(freed_cleanly, 1);
  bl_remote_entries_free(NULL, 3);
}

static const bl_test_case cases[] = {
    BL_TEST(test_remote_dispatch__passes_valid_paths),
    BL_TEST(test_remote_dispatch__stops_misuse),
    BL_TEST(test_remote_dispatch__messages),
};

BL_TEST_MAIN(cases)
