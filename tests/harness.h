/*
 * harness.h — a minimal clar-style test harness.
 *
 * A test file defines functions `static void test_<module>_<aspect>__<case>(void)`
 * and lists them in a `BL_TESTS(...)` table; main() comes from BL_TEST_MAIN.
 * Running the binary with no argument runs every test; with arguments, only
 * tests whose name contains one of them. A failed check prints file:line and
 * the expression and marks the test failed; the run ends with
 * "N passed, N failed" and exits non-zero on any failure.
 */
#ifndef BL_TEST_HARNESS_H
#define BL_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bl_test_case {
  const char *name;
  void (*fn)(void);
} bl_test_case;

extern int bl_test_failed_checks;

#define BL_CHECK(cond)                                                           \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      bl_test_failed_checks++;                                                   \
    }                                                                            \
  } while (0)

#define BL_CHECK_INT(a, b)                                                          \
  do {                                                                              \
    long long bl__a = (long long)(a), bl__b = (long long)(b);                       \
    if (bl__a != bl__b) {                                                           \
      fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,        \
              __LINE__, #a, bl__a, #b, bl__b);                                      \
      bl_test_failed_checks++;                                                      \
    }                                                                               \
  } while (0)

#define BL_CHECK_STR(a, b)                                                        \
  do {                                                                            \
    const char *bl__a = (a), *bl__b = (b);                                        \
    if (!bl__a || !bl__b || strcmp(bl__a, bl__b) != 0) {                          \
      fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
              __LINE__, #a, bl__a ? bl__a : "(null)", bl__b ? bl__b : "(null)");  \
      bl_test_failed_checks++;                                                    \
    }                                                                             \
  } while (0)

/* A check that stops the test (for preconditions the rest depends on). */
#define BL_REQUIRE(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      fprintf(stderr, "  %s:%d: requirement failed: %s\n", __FILE__, __LINE__, #cond); \
      bl_test_failed_checks++;                                                      \
      return;                                                                       \
    }                                                                               \
  } while (0)

#define BL_TEST(fn) {#fn, fn}

#define BL_TEST_MAIN(cases)                                                        \
  int bl_test_failed_checks = 0;                                                   \
  int main(int argc, char **argv) {                                                \
    int passed = 0, failed = 0;                                                    \
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {               \
      int selected = argc < 2;                                                     \
      for (int a = 1; a < argc; a++)                                               \
        if (strstr(cases[i].name, argv[a])) selected = 1;                          \
      if (!selected) continue;                                                     \
      int before = bl_test_failed_checks;                                          \
      cases[i].fn();                                                               \
      if (bl_test_failed_checks == before) {                                       \
        passed++;                                                                  \
        printf("ok   %s\n", cases[i].name);                                        \
      } else {                                                                     \
        failed++;                                                                  \
        printf("FAIL %s\n", cases[i].name);                                        \
      }                                                                            \
    }                                                                              \
    printf("%d passed, %d failed\n", passed, failed);                              \
    return failed ? 1 : 0;                                                         \
  }

#endif
