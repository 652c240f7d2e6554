/*
 * fault.c — the fault-injecting remote (src/remote/fault.h) around a folder
 * remote: with nothing armed it passes the conformance suite unchanged;
 * each fault mode does what it says and leaves the inner remote in the
 * state a real failure of that kind would (checked through the inner
 * remote directly); calls are counted per kind.
 *
 * Divided into: the backend for the conformance suite; helpers; cases.
 */
#define _POSIX_C_SOURCE 200809L

#include "remote/fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"
#include "testutil.h"

/* A folder remote, a fault wrapper around it, and the directory. */
typedef struct fault_fixture {
  bl_remote *inner, *f;
  char *dir;
} fault_fixture;

static int fault_fixture_open(fault_fixture *x) {
  memset(x, 0, sizeof *x);
  x->dir = rt_mkdtemp();
  if (!x->dir) return BL_EIO;
  int rc = bl_remote_folder(&x->inner, x->dir);
  if (rc == BL_OK) rc = bl__remote_fault_new(&x->f, x->inner);
  return rc;
}

static void fault_fixture_close(fault_fixture *x) {
  bl_remote_free(x->f);
  bl_remote_free(x->inner);
  if (x->dir) rt_rm_rf(x->dir);
  free(x->dir);
  memset(x, 0, sizeof *x);
}

/* ------------------------------------------- the backend for conformance */

static fault_fixture fault_conf_fixtures[8];

static int fault_conf_open(bl_remote **out, void *payload) {
  for (size_t i = 0; i < 8; i++) {
    fault_fixture *x = &fault_conf_fixtures[i];
    if (x->f || x->dir) continue;
    int rc = fault_fixture_open(x);
    if (rc) {
      fault_fixture_close(x);
      return rc;
    }
    *out = x->f;
    return BL_OK;
  }
  return BL_ENOMEM;
}

static void fault_conf_close(bl_remote *r, void *payload) {
  for (size_t i = 0; i < 8; i++)
    if (fault_conf_fixtures[i].f == r) fault_fixture_close(&fault_conf_fixtures[i]);
}

const conformance_backend conformance_target = {"fault(folder)", fault_conf_open, fault_conf_close,
                                                NULL, NULL};

/* ------------------------------------------------------------------ helpers */

/* The content of `path` in the inner remote, or NULL (with *rc) if absent. */
static int fault_inner_read(bl_remote *inner, const char *path, conformance_buf *b) {
  return conformance_read(inner, path, b);
}

static size_t fault_list_count(bl_remote *r, const char *path, int *rc) {
  bl_remote_entry *e = NULL;
  size_t n = 0;
  *rc = bl_remote_list(r, path, &e, &n);
  bl_remote_entries_free(e, n);
  return n;
}

/* -------------------------------------------------------------------- cases */

static void test_remote_fault__counters(void) {
  fault_fixture x;
  BL_REQUIRE(fault_fixture_open(&x) == BL_OK);
  conformance_buf b = {0};
  int rc;
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_ANY), 0);
  BL_CHECK_INT(bl_remote_mkdir(x.f, "d"), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "d/a", "1", 1), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "d/b", "2", 1), BL_OK);
  BL_CHECK_INT(conformance_read(x.f, "d/a", &b), BL_OK);
  BL_CHECK_INT(fault_list_count(x.f, "d", &rc), 2);
  BL_CHECK_INT(bl_remote_remove(x.f, "d/a"), BL_OK);
  BL_CHECK_INT(bl_remote_remove(x.f, "d/a"), BL_ENOTFOUND); /* failed calls count too */
  BL_CHECK_INT(bl_remote_read(x.f, "/bad", conformance_sink, &b),
               BL_EMISUSE); /* never reaches it */
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_LIST), 1);
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_READ), 1);
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_WRITE), 2);
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_REMOVE), 2);
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_MKDIR), 1);
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_ANY), 7);
  BL_CHECK_INT(bl__fault_reset_calls(x.f), BL_OK);
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_ANY), 0);
  BL_CHECK_INT(bl_remote_mkdir(x.f, "d"), BL_OK);
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_MKDIR), 1);
  BL_CHECK_STR(bl__fault_op_name(BL__FAULT_REMOVE), "remove");
  free(b.data);
  fault_fixture_close(&x);
}

static void test_remote_fault__fail_nth_any(void) {
  fault_fixture x;
  BL_REQUIRE(fault_fixture_open(&x) == BL_OK);
  conformance_buf b = {0};
  int rc;
  BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_ANY, 3, BL_ENET), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(x.f, "d"), BL_OK);
  BL_CHECK_INT(fault_list_count(x.f, "", &rc), 1);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "d/x", "data", 4), BL_ENET);
  BL_CHECK(strstr(bl_remote_errmsg(x.f), "injected fault: write 'd/x'") != NULL);
  /* Nothing was written. */
  BL_CHECK_INT(fault_inner_read(x.inner, "d/x", &b), BL_ENOTFOUND);
  BL_CHECK_INT(rt_count_entries(x.dir), 1);
  /* One shot: the next call goes through. */
  BL_CHECK_INT(bl_remote_write_buf(x.f, "d/x", "data", 4), BL_OK);
  BL_CHECK_STR(bl_remote_errmsg(x.f), "");
  BL_CHECK_INT(fault_inner_read(x.inner, "d/x", &b), BL_OK);
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_ANY), 4);
  free(b.data);
  fault_fixture_close(&x);
}

static void test_remote_fault__fail_nth_kind(void) {
  fault_fixture x;
  BL_REQUIRE(fault_fixture_open(&x) == BL_OK);
  conformance_buf b = {0};
  int rc;
  BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_WRITE, 2, BL_EIO), BL_OK);
  BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_READ, 1, BL_EAUTH), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "a", "1", 1), BL_OK);
  BL_CHECK_INT(conformance_read(x.f, "a", &b), BL_EAUTH);
  BL_CHECK_INT(b.len, 0);
  BL_CHECK_INT(conformance_read(x.f, "a", &b), BL_OK);
  BL_CHECK_INT(fault_list_count(x.f, "", &rc), 1);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "b", "2", 1), BL_EIO);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "c", "3", 1), BL_OK);
  BL_CHECK_INT(fault_inner_read(x.inner, "a", &b), BL_OK);
  BL_CHECK_INT(fault_inner_read(x.inner, "b", &b), BL_ENOTFOUND);
  BL_CHECK_INT(fault_inner_read(x.inner, "c", &b), BL_OK);
  /* Other kinds: remove and mkdir. */
  BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_REMOVE, 1, BL_ERATELIMIT), BL_OK);
  BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_MKDIR, 1, BL_ENET), BL_OK);
  BL_CHECK_INT(bl_remote_remove(x.f, "a"), BL_ERATELIMIT);
  BL_CHECK_INT(fault_inner_read(x.inner, "a", &b), BL_OK); /* still there */
  BL_CHECK_INT(bl_remote_mkdir(x.f, "d"), BL_ENET);
  BL_CHECK_INT(rt_count_entries(x.dir), 2);
  free(b.data);
  fault_fixture_close(&x);
}

static void test_remote_fault__fail_after(void) {
  fault_fixture x;
  BL_REQUIRE(fault_fixture_open(&x) == BL_OK);
  conformance_buf b = {0};
  BL_CHECK_INT(bl__fault_fail_after(x.f, BL__FAULT_WRITE, 1, BL_ENET), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "x", "complete", 8), BL_ENET);
  BL_CHECK(strstr(bl_remote_errmsg(x.f), "reported as failed") != NULL);
  /* The write happened: a response lost on the way back. */
  BL_CHECK_INT(fault_inner_read(x.inner, "x", &b), BL_OK);
  BL_CHECK(b.len == 8 && memcmp(b.data, "complete", 8) == 0);
  /* A listing that fails after the fact hands nothing back. */
  BL_CHECK_INT(bl__fault_fail_after(x.f, BL__FAULT_LIST, 1, BL_EIO), BL_OK);
  bl_remote_entry *e = (bl_remote_entry *)&e;
  size_t n = 5;
  BL_CHECK_INT(bl_remote_list(x.f, "", &e, &n), BL_EIO);
  BL_CHECK(e == NULL);
  BL_CHECK_INT(n, 0);
  /* A real error is reported as is, with the inner remote's message. */
  BL_CHECK_INT(bl__fault_fail_after(x.f, BL__FAULT_READ, 1, BL_ENET), BL_OK);
  BL_CHECK_INT(conformance_read(x.f, "missing", &b), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_remote_errmsg(x.f), "missing") != NULL);
  free(b.data);
  fault_fixture_close(&x);
}

static void test_remote_fault__fail_from(void) {
  fault_fixture x;
  BL_REQUIRE(fault_fixture_open(&x) == BL_OK);
  conformance_buf b = {0};
  BL_CHECK_INT(bl_remote_write_buf(x.f, "a", "1", 1), BL_OK);
  BL_CHECK_INT(bl__fault_fail_from(x.f, BL__FAULT_READ, 2, BL_ENET), BL_OK);
  BL_CHECK_INT(conformance_read(x.f, "a", &b), BL_OK);
  for (int i = 0; i < 5; i++) BL_CHECK_INT(conformance_read(x.f, "a", &b), BL_ENET);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "b", "2", 1), BL_OK); /* other kinds go on */
  BL_CHECK_INT(bl__fault_reset(x.f), BL_OK);
  BL_CHECK_INT(conformance_read(x.f, "a", &b), BL_OK);
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_READ), 7);
  free(b.data);
  fault_fixture_close(&x);
}

static void test_remote_fault__torn_write(void) {
  fault_fixture x;
  BL_REQUIRE(fault_fixture_open(&x) == BL_OK);
  conformance_buf b = {0};
  char data[100];
  for (int i = 0; i < 100; i++) data[i] = (char)('A' + i % 26);
  /* Torn and reported as a success. */
  BL_CHECK_INT(bl__fault_tear_write(x.f, 1, 10, BL_OK), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "t1", data, 100), BL_OK);
  BL_CHECK_INT(fault_inner_read(x.inner, "t1", &b), BL_OK);
  BL_CHECK(b.len == 10 && memcmp(b.data, data, 10) == 0);
  /* Torn and reported as failed. */
  BL_CHECK_INT(bl__fault_tear_write(x.f, 1, 37, BL_ENET), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "t2", data, 100), BL_ENET);
  BL_CHECK(strstr(bl_remote_errmsg(x.f), "torn after 37 of 100 bytes") != NULL);
  BL_CHECK_INT(fault_inner_read(x.inner, "t2", &b), BL_OK);
  BL_CHECK(b.len == 37 && memcmp(b.data, data, 37) == 0);
  /* The second write from now; keeping more than there is keeps it all;
   * keeping nothing leaves an empty file. */
  BL_CHECK_INT(bl__fault_tear_write(x.f, 2, 1000, BL_OK), BL_OK);
  BL_CHECK_INT(bl__fault_tear_write(x.f, 1, 0, BL_OK), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "t3", data, 100), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "t4", data, 100), BL_OK);
  BL_CHECK_INT(fault_inner_read(x.inner, "t3", &b), BL_OK);
  BL_CHECK_INT(b.len, 0);
  BL_CHECK_INT(fault_inner_read(x.inner, "t4", &b), BL_OK);
  BL_CHECK(b.len == 100 && memcmp(b.data, data, 100) == 0);
  /* Back to whole writes. */
  BL_CHECK_INT(bl_remote_write_buf(x.f, "t1", data, 100), BL_OK);
  BL_CHECK_INT(fault_inner_read(x.inner, "t1", &b), BL_OK);
  BL_CHECK_INT(b.len, 100);
  free(b.data);
  fault_fixture_close(&x);
}

static void test_remote_fault__stale_listing(void) {
  fault_fixture x;
  BL_REQUIRE(fault_fixture_open(&x) == BL_OK);
  int rc;
  BL_CHECK_INT(fault_list_count(x.f, "", &rc), 0);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "new", "n", 1), BL_OK);
  BL_CHECK_INT(bl__fault_stale_lists(x.f, 2), BL_OK);
  BL_CHECK_INT(fault_list_count(x.f, "", &rc), 0); /* misses the new file */
  BL_CHECK_INT(rc, BL_OK);
  BL_CHECK_INT(fault_list_count(x.f, "", &rc), 0);
  BL_CHECK_INT(fault_list_count(x.f, "", &rc), 1); /* caught up */
  BL_CHECK_INT(fault_list_count(x.inner, "", &rc), 1);

  /* A removed file stays listed while stale. */
  BL_CHECK_INT(bl_remote_remove(x.f, "new"), BL_OK);
  BL_CHECK_INT(bl__fault_stale_lists(x.f, 1), BL_OK);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(x.f, "", &e, &n), BL_OK);
  BL_CHECK(n == 1 && !strcmp(e[0].name, "new") && e[0].size == 1);
  bl_remote_entries_free(e, n);
  BL_CHECK_INT(fault_list_count(x.f, "", &rc), 0);

  /* A path never listed has nothing older: it is listed for real (and that
   * call is one of the stale ones). */
  BL_CHECK_INT(bl_remote_mkdir(x.f, "d"), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "d/a", "a", 1), BL_OK);
  BL_CHECK_INT(bl__fault_stale_lists(x.f, 2), BL_OK);
  BL_CHECK_INT(fault_list_count(x.f, "d", &rc), 1);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "d/b", "b", 1), BL_OK);
  BL_CHECK_INT(fault_list_count(x.f, "d", &rc), 1);
  BL_CHECK_INT(fault_list_count(x.f, "d", &rc), 2);
  /* Reset ends stale mode. */
  BL_CHECK_INT(bl__fault_stale_lists(x.f, 10), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "d/c", "c", 1), BL_OK);
  BL_CHECK_INT(fault_list_count(x.f, "d", &rc), 2);
  BL_CHECK_INT(bl__fault_reset(x.f), BL_OK);
  BL_CHECK_INT(fault_list_count(x.f, "d", &rc), 3);

  /* More paths than the cache holds: the oldest are forgotten, the most
   * recent still served stale. */
  char path[32];
  for (int i = 0; i < 20; i++) {
    snprintf(path, sizeof path, "p%02d", i);
    BL_CHECK_INT(bl_remote_mkdir(x.f, path), BL_OK);
    BL_CHECK_INT(fault_list_count(x.f, path, &rc), 0);
    snprintf(path, sizeof path, "p%02d/f", i);
    BL_CHECK_INT(bl_remote_write_buf(x.f, path, "f", 1), BL_OK);
  }
  BL_CHECK_INT(bl__fault_stale_lists(x.f, 2), BL_OK);
  BL_CHECK_INT(fault_list_count(x.f, "p19", &rc), 0);
  BL_CHECK_INT(fault_list_count(x.f, "p00", &rc), 1);
  fault_fixture_close(&x);
}

/* What a crash callback saw. */
typedef struct crash_seen {
  bl_remote *inner;
  int calls;
  bl__fault_op op;
  char path[64];
  int file_there; /* whether the path existed in the inner remote */
} crash_seen;

static void crash_record(bl__fault_op op, const char *path, void *payload) {
  crash_seen *s = payload;
  conformance_buf b = {0};
  s->calls++;
  s->op = op;
  snprintf(s->path, sizeof s->path, "%s", path);
  s->file_there = conformance_read(s->inner, path, &b) == BL_OK;
  free(b.data);
}

static void test_remote_fault__crash_callback(void) {
  fault_fixture x;
  BL_REQUIRE(fault_fixture_open(&x) == BL_OK);
  crash_seen before = {x.inner, 0, 0, "", 0}, after = {x.inner, 0, 0, "", 0};
  BL_CHECK_INT(bl__fault_crash(x.f, BL__FAULT_WRITE, 2, BL__FAULT_BEFORE, crash_record, &before),
               BL_OK);
  BL_CHECK_INT(bl__fault_crash(x.f, BL__FAULT_WRITE, 3, BL__FAULT_AFTER, crash_record, &after),
               BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "w1", "1", 1), BL_OK);
  BL_CHECK_INT(before.calls, 0);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "w2", "2", 1), BL_OK); /* the callback returned */
  BL_CHECK_INT(before.calls, 1);
  BL_CHECK_INT(before.op, BL__FAULT_WRITE);
  BL_CHECK_STR(before.path, "w2");
  BL_CHECK_INT(before.file_there, 0);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "w3", "3", 1), BL_OK);
  BL_CHECK_INT(after.calls, 1);
  BL_CHECK_STR(after.path, "w3");
  BL_CHECK_INT(after.file_there, 1);
  BL_CHECK_INT(bl_remote_write_buf(x.f, "w4", "4", 1), BL_OK);
  BL_CHECK_INT(before.calls + after.calls, 2); /* one shot each */
  /* A crash and a failure on one call: the callback first. */
  BL_CHECK_INT(bl__fault_crash(x.f, BL__FAULT_ANY, 1, BL__FAULT_BEFORE, crash_record, &before),
               BL_OK);
  BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_ANY, 1, BL_ENET), BL_OK);
  BL_CHECK_INT(bl_remote_remove(x.f, "w1"), BL_ENET);
  BL_CHECK_INT(before.calls, 2);
  BL_CHECK_INT(before.op, BL__FAULT_REMOVE);
  BL_CHECK_INT(before.file_there, 1);
  fault_fixture_close(&x);
}

static void crash_exit(bl__fault_op op, const char *path, void *payload) { _exit(42); }

/* A child process dies at the crash point; the parent finds the storage as
 * the crash left it. */
static void crash_in_child(int when, int expect_written) {
  fault_fixture x;
  BL_REQUIRE(fault_fixture_open(&x) == BL_OK);
  fflush(NULL);
  pid_t pid = fork();
  BL_REQUIRE(pid >= 0);
  if (pid == 0) {
    bl__fault_crash(x.f, BL__FAULT_WRITE, 2, when, crash_exit, NULL);
    bl_remote_write_buf(x.f, "first", "1", 1);
    bl_remote_write_buf(x.f, "second", "2", 1);
    _exit(0); /* not reached */
  }
  int status = 0;
  BL_CHECK(waitpid(pid, &status, 0) == pid);
  BL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(x.inner, "first", &b), BL_OK);
  BL_CHECK_INT(conformance_read(x.inner, "second", &b), expect_written ? BL_OK : BL_ENOTFOUND);
  /* The parent's wrapper saw none of the child's calls. */
  BL_CHECK_INT(bl__fault_calls(x.f, BL__FAULT_ANY), 0);
  free(b.data);
  fault_fixture_close(&x);
}

static void test_remote_fault__crash_before_in_child(void) { crash_in_child(BL__FAULT_BEFORE, 0); }

static void test_remote_fault__crash_after_in_child(void) { crash_in_child(BL__FAULT_AFTER, 1); }

static void test_remote_fault__misuse(void) {
  fault_fixture x;
  BL_REQUIRE(fault_fixture_open(&x) == BL_OK);
  bl_remote *w = (bl_remote *)&w;
  BL_CHECK_INT(bl__remote_fault_new(&w, NULL), BL_EMISUSE);
  BL_CHECK(w == NULL);
  BL_CHECK_INT(bl__remote_fault_new(NULL, x.inner), BL_EMISUSE);
  /* Not a fault remote. */
  BL_CHECK_INT(bl__fault_fail(x.inner, BL__FAULT_ANY, 1, BL_EIO), BL_EMISUSE);
  BL_CHECK_INT(bl__fault_stale_lists(x.inner, 1), BL_EMISUSE);
  BL_CHECK_INT(bl__fault_reset(NULL), BL_EMISUSE);
  BL_CHECK_INT(bl__fault_calls(x.inner, BL__FAULT_ANY), 0);
  /* Out of range. */
  BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_ANY, 0, BL_EIO), BL_EMISUSE);
  BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_ANY, 1, BL_OK), BL_EMISUSE);
  BL_CHECK_INT(bl__fault_fail(x.f, (bl__fault_op)99, 1, BL_EIO), BL_EMISUSE);
  BL_CHECK_INT(bl__fault_tear_write(x.f, 1, -1, BL_OK), BL_EMISUSE);
  BL_CHECK_INT(bl__fault_crash(x.f, BL__FAULT_ANY, 1, 2, crash_exit, NULL), BL_EMISUSE);
  BL_CHECK_INT(bl__fault_crash(x.f, BL__FAULT_ANY, 1, BL__FAULT_AFTER, NULL, NULL), BL_EMISUSE);
  /* Every slot armed. */
  for (int i = 0; i < BL__FAULT_MAX_TRIGGERS; i++)
    BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_MKDIR, 100, BL_EIO), BL_OK);
  BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_MKDIR, 100, BL_EIO), BL_EMISUSE);
  BL_CHECK_INT(bl__fault_reset(x.f), BL_OK);
  BL_CHECK_INT(bl__fault_fail(x.f, BL__FAULT_MKDIR, 100, BL_EIO), BL_OK);
  fault_fixture_close(&x);
}

static const bl_test_case cases[] = {
    BL_CONFORMANCE_TESTS,
    BL_TEST(test_remote_fault__counters),
    BL_TEST(test_remote_fault__fail_nth_any),
    BL_TEST(test_remote_fault__fail_nth_kind),
    BL_TEST(test_remote_fault__fail_after),
    BL_TEST(test_remote_fault__fail_from),
    BL_TEST(test_remote_fault__torn_write),
    BL_TEST(test_remote_fault__stale_listing),
    BL_TEST(test_remote_fault__crash_callback),
    BL_TEST(test_remote_fault__crash_before_in_child),
    BL_TEST(test_remote_fault__crash_after_in_child),
    BL_TEST(test_remote_fault__misuse),
};

BL_TEST_MAIN(cases)
