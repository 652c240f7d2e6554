/*
 * stream.c — a 1,000,000-change file, written by a child process into a
 * pipe while this process reads it, is read whole with memory that does
 * not grow with the file: peak RSS (getrusage ru_maxrss) may grow by at
 * most 16 MiB during the read. Every change is checked against what the
 * writer was given.
 *
 * The RSS bound is not checked under AddressSanitizer (its quarantine keeps
 * freed memory resident) or when BL_SKIP_RSS_CHECK is set in the
 * environment; the read and the checks of every change still run.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "helpers.h"

#if defined(__SANITIZE_ADDRESS__)
#define STREAM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STREAM_ASAN 1
#endif
#endif
#ifndef STREAM_ASAN
#define STREAM_ASAN 0
#endif

#define STREAM_CHANGES 1000000
#define STREAM_BATCH 1000
#define STREAM_MAX_GROWTH_KB (16 * 1024)

/* Storage for one generated change. */
typedef struct stream_buf {
  char table[8], cid[8];
  unsigned char pk[10];
  unsigned char site[16];
  unsigned char bytes[64];
} stream_buf;

/* Change i of the file, with values of every type and 5 sites. */
static bl_cs_change stream_change(int64_t i, stream_buf *b) {
  bl_cs_change c;
  memset(&c, 0, sizeof c);
  snprintf(b->table, sizeof b->table, "t%d", (int)(i % 3));
  snprintf(b->cid, sizeof b->cid, "c%d", (int)(i % 5));
  b->pk[0] = 0x01;
  b->pk[1] = 0x41; /* an 8-byte integer */
  for (int k = 0; k < 8; k++) b->pk[2 + k] = (unsigned char)((uint64_t)i >> (56 - 8 * k));
  memset(b->site, 0xA0, 16);
  b->site[15] = (unsigned char)(i % 5);
  c.table = b->table;
  c.table_len = (int)strlen(b->table);
  c.pk = b->pk;
  c.pk_len = 10;
  c.cid = b->cid;
  c.cid_len = (int)strlen(b->cid);
  switch (i % 6) {
    case 0:
      c.val = fmt_null();
      break;
    case 1:
      c.val = fmt_int(i * 7919 - 5000000);
      break;
    case 2:
      c.val = fmt_real((double)i / 3.0);
      break;
    case 3: {
      int n = (int)(i % 40);
      for (int k = 0; k < n; k++) b->bytes[k] = (unsigned char)('a' + (i + k) % 26);
      c.val = fmt_text((const char *)b->bytes, n);
      break;
    }
    case 4: {
      int n = (int)(i % 33);
      for (int k = 0; k < n; k++) b->bytes[k] = (unsigned char)(i * 31 + k);
      c.val = fmt_blob(b->bytes, n);
      break;
    }
    default:
      c.val = fmt_int(i + (INT64_C(1) << 60));
      break;
  }
  c.col_version = i % 100;
  c.db_version = i / 10 + 1;
  c.site_id = b->site;
  c.cl = 1 + i % 2;
  c.seq = i % 13;
  return c;
}

/* The child: writes the file to fd. Exit status 0 on success. */
static int stream_write(int fd) {
  FILE *fp = fdopen(fd, "w");
  if (!fp) return 1;
  bl_cs_header h = fmt_header();
  h.kind = BL_CS_SNAPSHOT;
  h.db_version_max = STREAM_CHANGES;
  bl_cs_writer *w = NULL;
  int rc = bl_cs_writer_open(&w, fp, &h);
  stream_buf b;
  for (int64_t i = 0; rc == BL_OK && i < STREAM_CHANGES; i++) {
    bl_cs_change c = stream_change(i, &b);
    rc = bl_cs_writer_add(w, &c);
  }
  if (rc == BL_OK) rc = bl_cs_writer_finish(w);
  bl_cs_writer_free(w);
  if (fclose(fp) != 0 && rc == BL_OK) rc = BL_EIO;
  return rc == BL_OK ? 0 : 1;
}

typedef struct stream_check {
  int64_t seen;
  int64_t mismatches;
  size_t max_batch;
} stream_check;

static int stream_on_changes(const bl_cs_change *changes, size_t n, void *payload) {
  stream_check *s = payload;
  stream_buf b;
  if (n > s->max_batch) s->max_batch = n;
  for (size_t k = 0; k < n; k++) {
    bl_cs_change want = stream_change(s->seen, &b);
    if (!fmt_change_eq(&want, &changes[k]) && s->mismatches++ < 3)
      fprintf(stderr, "  change %lld differs\n", (long long)s->seen);
    s->seen++;
  }
  return BL_OK;
}

static long stream_maxrss_kb(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return ru.ru_maxrss; /* kilobytes on Linux */
}

static void test_format_stream__million_changes_bounded_memory(void) {
  int fds[2];
  BL_REQUIRE(pipe(fds) == 0);
  fflush(NULL);
  pid_t pid = fork();
  BL_REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    _exit(stream_write(fds[1]));
  }
  close(fds[1]);
  FILE *fp = fdopen(fds[0], "r");
  BL_REQUIRE(fp);

  long before = stream_maxrss_kb();
  stream_check s = {0};
  bl_cs_reader_cb cb = {NULL, stream_on_changes, &s};
  char *err = NULL;
  int rc = bl_cs_read(fp, &cb, STREAM_BATCH, &err);
  long after = stream_maxrss_kb();
  fclose(fp);
  int status = 0;
  BL_CHECK(waitpid(pid, &status, 0) == pid);
  BL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  if (rc != BL_OK) fprintf(stderr, "  read: %s\n", err ? err : "");
  free(err);
  BL_CHECK_INT(rc, BL_OK);
  BL_CHECK_INT(s.seen, STREAM_CHANGES);
  BL_CHECK_INT(s.mismatches, 0);
  BL_CHECK_INT(s.max_batch, STREAM_BATCH);

  printf("     peak RSS %ld KiB before the read, %ld KiB after (+%ld KiB)\n", before, after,
         after - before);
  if (STREAM_ASAN || getenv("BL_SKIP_RSS_CHECK")) {
    printf("     (RSS bound not checked: %s)\n",
           STREAM_ASAN ? "AddressSanitizer" : "BL_SKIP_RSS_CHECK");
    return;
  }
  BL_CHECK(before > 0 && after > 0);
  BL_CHECK(after - before < STREAM_MAX_GROWTH_KB);
}

static bl_test_case cases[] = {
    BL_TEST(test_format_stream__million_changes_bounded_memory),
};
BL_TEST_MAIN(cases)
