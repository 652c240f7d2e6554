/*
 * large.c — a 64 MiB attachment, over a cloud folder and a real WebDAV
 * server: attached on a (hashed and cached by the library), uploaded by
 * a's sync, resolved on b (downloaded, verified), identical by the test's
 * own SHA-256. Memory stays bounded: the whole transfer runs in a forked
 * child whose peak RSS (wait4) is compared with the same child moving a
 * 1 MiB file; the difference must stay under 24 MiB. The files are written
 * by the parent in 1 MiB chunks before the fork, so the children measure
 * only the library. Under AddressSanitizer (whose shadow memory and
 * quarantine inflate RSS) the transfer still runs and is checked; only the
 * RSS comparison is skipped.
 *
 * Divided into: the child's transfer; the case.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "media_helpers.h"

#define MIB (1024 * 1024)
#define RSS_SLACK_KIB (24 * 1024)

/* ---------------------------------------------------- the child's transfer */

/* Attach src on a, sync a, sync b, resolve on b; 0 when all went as it
 * must (explained on stderr otherwise). Runs in the child. */
static int transfer(mh_env *e, const char *src, const char *h, int64_t size) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  char lib[BL_MEDIA_HASH_LEN + 1], got[BL_MEDIA_HASH_LEN + 1];
  int before = bl_test_failed_checks;
  mh_dev *a = mh_dev_new(e, "a", NULL), *b = mh_dev_new(e, "b", NULL);
  if (!a || !b) return 1;
  BL_CHECK_INT(mh_attach(a, src, lib), BL_OK);
  BL_CHECK_STR(lib, h);
  BL_CHECK_INT(mh_sync(a, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 1);
  BL_CHECK_INT(mh_sync(b, &res), BL_OK);
  BL_CHECK_INT(res.media_uploaded, 0);
  bl_media_file f;
  BL_CHECK_INT(mh_resolve(b, h, &f), BL_OK);
  BL_CHECK_INT(f.source, BL_MEDIA_DOWNLOADED);
  BL_CHECK_INT(f.size, size);
  BL_CHECK(f.path && mh_sha256_file(f.path, got) == 0 && strcmp(got, h) == 0);
  bl_media_file_free(&f);
  bl_sync_result_free(&res);
  return bl_test_failed_checks == before ? 0 : 1;
}

/* Forks a child that runs transfer(); its exit status into *ok and its
 * peak RSS (KiB) returned, -1 when the child could not be run. */
static long run_child(mh_env *e, const char *src, const char *h, int64_t size, int *ok) {
  struct rusage ru;
  int st = 0;
  *ok = 0;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) _exit(transfer(e, src, h, size)); /* no atexit: the server is the parent's */
  if (wait4(pid, &st, 0, &ru) != pid) return -1;
  *ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  if (!*ok) fprintf(stderr, "  the %lld-byte transfer failed (status %d)\n", (long long)size, st);
  return ru.ru_maxrss;
}

/* ------------------------------------------------------------------ the case */

static void case_large(mh_env *e) {
  mh_env small;
  char hs[BL_MEDIA_HASH_LEN + 1], hl[BL_MEDIA_HASH_LEN + 1];
  int ok_small = 0, ok_large = 0;
  const int64_t large_size = 64 * (int64_t)MIB + 3;
  BL_REQUIRE(mh_env_open(&small, e->backend) == 0);
  char *src_small = mh_path(&small, "small.bin"), *src_large = mh_path(e, "large.bin");
  mh_step("the parent writes a 1 MiB and a 64 MiB PRNG file in 1 MiB chunks, hashing them");
  BL_CHECK(mh_write_prng(src_small, 11, MIB, hs) == 0);
  BL_CHECK(mh_write_prng(src_large, 64, large_size, hl) == 0);

  mh_step("child 1: 1 MiB attached on a, synced, resolved on b, hashes equal");
  long rss_small = run_child(&small, src_small, hs, MIB, &ok_small);
  mh_step("child 2: 64 MiB attached on a, synced, resolved on b, hashes equal");
  long rss_large = run_child(e, src_large, hl, large_size, &ok_large);
  BL_CHECK(ok_small);
  BL_CHECK(ok_large);

  mh_step("the cloud file is the 64 MiB file, byte for byte");
  BL_CHECK(mh_cloud_equals(e, hl, src_large));

  printf("     peak RSS: 1 MiB transfer %ld KiB, 64 MiB transfer %ld KiB, difference %ld KiB\n",
         rss_small, rss_large, rss_large - rss_small);
  BL_CHECK(rss_small > 0 && rss_large > 0);
  if (mh_asan()) {
    mh_step("AddressSanitizer build: the RSS comparison is skipped");
  } else {
    mh_step("bounded memory: the difference is under %d KiB", RSS_SLACK_KIB);
    BL_CHECK(rss_large - rss_small < RSS_SLACK_KIB);
  }
  free(src_small);
  free(src_large);
  mh_env_close(&small);
}
MH_BOTH(test_media_large__64mib, case_large)

static const bl_test_case cases[] = {
    MH_TESTS(test_media_large__64mib),
};

BL_TEST_MAIN(cases)
