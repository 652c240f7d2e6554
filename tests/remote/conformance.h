/*
 * conformance.h — the one test suite every remote backend passes.
 *
 * The suite knows remotes only through backless/remote.h. A backend's test
 * binary defines `conformance_target` (how to make a fresh, empty remote
 * and how to dispose of it) and puts BL_CONFORMANCE_TESTS in its test
 * table:
 *
 *   const conformance_backend conformance_target = {"folder", my_open, my_close, NULL, my_peer};
 *   static const bl_test_case cases[] = {BL_CONFORMANCE_TESTS, BL_TEST(...)};
 *   BL_TEST_MAIN(cases)
 *
 * Each case opens its own remote, so cases are independent and any subset
 * runs by name ("conformance__round_trip").
 */
#ifndef BL_TESTS_REMOTE_CONFORMANCE_H
#define BL_TESTS_REMOTE_CONFORMANCE_H

#include <stddef.h>

#include "backless.h"
#include "backless/remote.h"
#include "harness.h"

typedef struct conformance_backend {
  const char *name;
  /* Makes a fresh remote whose root is an empty folder; BL_OK or an error. */
  int (*open)(bl_remote **out, void *payload);
  /* Frees a remote made by open and the storage behind it. */
  void (*close)(bl_remote *r, void *payload);
  void *payload;
  /* Opens a second remote on the same storage as `first` (as another
   * device would), freed with bl_remote_free; NULL when the backend cannot
   * (the cases needing it are skipped). */
  int (*open_peer)(bl_remote **out, bl_remote *first, void *payload);
} conformance_backend;

/* Defined by each backend's test binary. */
extern const conformance_backend conformance_target;

/* A growable byte buffer and a sink filling it, for tests reading files. */
typedef struct conformance_buf {
  unsigned char *data;
  size_t len, cap;
} conformance_buf;
int conformance_sink(const void *data, size_t len, void *payload);

/* Reads `path` whole into *buf (reset first); returns the read's code. */
int conformance_read(bl_remote *r, const char *path, conformance_buf *buf);

/* Index of `name` in a listing, or -1; how many times it appears. */
long conformance_find(const bl_remote_entry *e, size_t n, const char *name);
size_t conformance_count(const bl_remote_entry *e, size_t n, const char *name);

void test_remote_conformance__empty_listing(void);
void test_remote_conformance__mkdir_idempotent(void);
void test_remote_conformance__round_trip(void);
void test_remote_conformance__replace_keeps_one(void);
void test_remote_conformance__list_files_and_folders(void);
void test_remote_conformance__missing(void);
void test_remote_conformance__write_into_missing_folder(void);
void test_remote_conformance__remove_then_list(void);
void test_remote_conformance__many_files(void);
void test_remote_conformance__names(void);
void test_remote_conformance__path_validation(void);
void test_remote_conformance__short_source(void);
void test_remote_conformance__sink_abort(void);
void test_remote_conformance__errmsg_cleared(void);
void test_remote_conformance__concurrent_writers(void);
void test_remote_conformance__batches(void);

#define BL_CONFORMANCE_TESTS                                                                 \
  BL_TEST(test_remote_conformance__empty_listing),                                           \
      BL_TEST(test_remote_conformance__mkdir_idempotent),                                    \
      BL_TEST(test_remote_conformance__round_trip),                                          \
      BL_TEST(test_remote_conformance__replace_keeps_one),                                   \
      BL_TEST(test_remote_conformance__list_files_and_folders),                              \
      BL_TEST(test_remote_conformance__missing),                                             \
      BL_TEST(test_remote_conformance__write_into_missing_folder),                           \
      BL_TEST(test_remote_conformance__remove_then_list),                                    \
      BL_TEST(test_remote_conformance__many_files), BL_TEST(test_remote_conformance__names), \
      BL_TEST(test_remote_conformance__path_validation),                                     \
      BL_TEST(test_remote_conformance__short_source),                                        \
      BL_TEST(test_remote_conformance__sink_abort),                                          \
      BL_TEST(test_remote_conformance__errmsg_cleared),                                      \
      BL_TEST(test_remote_conformance__concurrent_writers),                                  \
      BL_TEST(test_remote_conformance__batches)

#endif
