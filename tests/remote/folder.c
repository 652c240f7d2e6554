/*
 * folder.c — the folder backend: the conformance suite on a fresh mkdtemp
 * directory, then what only a local folder has: hidden temporary files, no
 * debris after a failed write, atomic replacement under a concurrent
 * reader, special files, things in the way, a root that disappears, and
 * opening by path or URL (bl_remote_open).
 *
 * Tests run as root, so failures are provoked with sources that end early
 * rather than with permissions.
 *
 * Divided into: the backend for the conformance suite; helpers; cases.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"
#include "testutil.h"
#include "util/errmsg.h"

/* ------------------------------------------- the backend for conformance */

/* Which temporary directory belongs to which open remote. */
static struct {
  bl_remote *r;
  char *dir;
} folder_open_dirs[8];

static int folder_conf_open(bl_remote **out, void *payload) {
  char *dir = rt_mkdtemp();
  if (!dir) return BL_EIO;
  int rc = bl_remote_folder(out, dir);
  for (size_t i = 0; rc == BL_OK && i < 8; i++) {
    if (!folder_open_dirs[i].r) {
      folder_open_dirs[i].r = *out;
      folder_open_dirs[i].dir = dir;
      return BL_OK;
    }
  }
  bl_remote_free(*out);
  *out = NULL;
  rt_rm_rf(dir);
  free(dir);
  return rc ? rc : BL_ENOMEM;
}

static void folder_conf_close(bl_remote *r, void *payload) {
  for (size_t i = 0; i < 8; i++) {
    if (folder_open_dirs[i].r == r) {
      rt_rm_rf(folder_open_dirs[i].dir);
      free(folder_open_dirs[i].dir);
      folder_open_dirs[i].r = NULL;
      folder_open_dirs[i].dir = NULL;
    }
  }
  bl_remote_free(r);
}

/* Another remote on the folder of `first`. */
static int folder_conf_peer(bl_remote **out, bl_remote *first, void *payload) {
  (void)payload;
  for (size_t i = 0; i < 8; i++)
    if (folder_open_dirs[i].r == first) return bl_remote_folder(out, folder_open_dirs[i].dir);
  return BL_EMISUSE;
}

const conformance_backend conformance_target = {"folder", folder_conf_open, folder_conf_close,
                                                NULL, folder_conf_peer};

/* ------------------------------------------------------------------ helpers */

/* A fresh folder remote; *dir receives its directory (caller frees and
 * removes it with folder_done). */
static bl_remote *folder_new(char **dir) {
  bl_remote *r = NULL;
  *dir = rt_mkdtemp();
  if (!*dir) return NULL;
  if (bl_remote_folder(&r, *dir) != BL_OK) {
    fprintf(stderr, "  bl_remote_folder: %s\n", bl__tls_errmsg());
    return NULL;
  }
  return r;
}

static void folder_done(bl_remote *r, char *dir) {
  bl_remote_free(r);
  if (dir) rt_rm_rf(dir);
  free(dir);
}

static void folder_touch(const char *dir, const char *name, const char *content) {
  char *p = rt_join(dir, name);
  FILE *f = p ? fopen(p, "wb") : NULL;
  BL_CHECK(f != NULL);
  if (f) {
    fputs(content, f);
    fclose(f);
  }
  free(p);
}

/* A FILE holding `len` bytes of `content`, at its start. */
static FILE *folder_source(const char *content, size_t len) {
  FILE *f = tmpfile();
  if (f && fwrite(content, 1, len, f) == len) {
    rewind(f);
    return f;
  }
  if (f) fclose(f);
  return NULL;
}

/* -------------------------------------------------------------------- cases */

static void test_remote_folder__temp_files_hidden(void) {
  char *dir;
  bl_remote *r = folder_new(&dir);
  BL_REQUIRE(r);
  folder_touch(dir, ".x.tmp-123-abcdef", "left by a crash");
  folder_touch(dir, "..x.tmp-1-2", "temporary file of '.x'");
  folder_touch(dir, "a.tmp-1", "not ours: no leading dot");
  folder_touch(dir, ".tmpfoo", "not ours: no .tmp- after the dot");
  folder_touch(dir, ".hidden", "an ordinary dot file");
  size_t n = 0;
  bl_remote_entry *e = NULL;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(n, 3);
  BL_CHECK(conformance_find(e, n, "a.tmp-1") >= 0);
  BL_CHECK(conformance_find(e, n, ".tmpfoo") >= 0);
  BL_CHECK(conformance_find(e, n, ".hidden") >= 0);
  bl_remote_entries_free(e, n);
  folder_done(r, dir);
}

static void test_remote_folder__no_temp_after_failed_write(void) {
  char *dir;
  bl_remote *r = folder_new(&dir);
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "sub"), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "sub/kept", "old", 3), BL_OK);
  FILE *f = folder_source("0123456789", 10);
  BL_REQUIRE(f);
  BL_CHECK_INT(bl_remote_write(r, "new", f, 11), BL_EIO);
  BL_CHECK(strstr(bl_remote_errmsg(r), "10 of 11") != NULL);
  rewind(f);
  BL_CHECK_INT(bl_remote_write(r, "sub/kept", f, 1 << 20), BL_EIO);
  fclose(f);
  /* On disk, not through list (which hides temporary files). */
  BL_CHECK_INT(rt_count_entries(dir), 1); /* sub */
  char *sub = rt_join(dir, "sub");
  BL_CHECK_INT(rt_count_entries(sub), 1); /* kept */
  free(sub);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "sub/kept", &b), BL_OK);
  BL_CHECK(b.len == 3 && memcmp(b.data, "old", 3) == 0);
  free(b.data);
  /* And successful writes leave nothing either. */
  BL_CHECK_INT(bl_remote_write_buf(r, "ok", "fine", 4), BL_OK);
  BL_CHECK_INT(rt_count_entries(dir), 2);
  folder_done(r, dir);
}

#define ATOMIC_SIZE (256 * 1024)
#define ATOMIC_READS 500
#define ATOMIC_CHANGES 20

/* The child of the atomicity test: replaces `f` with b, a, b, ... until the
 * parent closes the pipe. Returns the exit status: 0, or 1 when a write
 * failed. */
static int folder_replacer(bl_remote *r, int stop_fd, const unsigned char *a,
                           const unsigned char *b) {
  fcntl(stop_fd, F_SETFL, O_NONBLOCK);
  for (unsigned long i = 0;; i++) {
    char c;
    ssize_t got = read(stop_fd, &c, 1);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return 0;
    if (bl_remote_write_buf(r, "f", i % 2 ? a : b, ATOMIC_SIZE) != BL_OK) return 1;
  }
}

static void test_remote_folder__atomic_replace(void) {
  char *dir;
  bl_remote *r = folder_new(&dir);
  BL_REQUIRE(r);
  unsigned char *a = malloc(ATOMIC_SIZE), *b = malloc(ATOMIC_SIZE);
  BL_REQUIRE(a && b);
  for (size_t i = 0; i < ATOMIC_SIZE; i++) {
    a[i] = (unsigned char)(i * 31 + 7);
    b[i] = (unsigned char)((i * 17 + 200) ^ 0x5a);
  }
  BL_REQUIRE(bl_remote_write_buf(r, "f", a, ATOMIC_SIZE) == BL_OK);
  int stop[2];
  BL_REQUIRE(pipe(stop) == 0);
  fflush(NULL);
  pid_t pid = fork();
  BL_REQUIRE(pid >= 0);
  if (pid == 0) {
    close(stop[1]);
    int status = folder_replacer(r, stop[0], a, b);
    /* The child's copies, freed so that valgrind finds no leak in it (the
     * folder itself is the parent's to remove). */
    bl_remote_free(r);
    free(dir);
    free(a);
    free(b);
    _exit(status);
  }
  close(stop[0]);

  conformance_buf buf = {0};
  int bad = 0, changes = 0, last = 1, i = 0, counted = 0;
  /* Reads until the child's first replacement shows (so that the counted
   * reads overlap its writes), then at least ATOMIC_READS more, and on
   * until the content has changed ATOMIC_CHANGES times (a read is much
   * faster than an fsync'ed write). Every read must be whole. */
  time_t until = time(NULL) + 60;
  for (; (counted < ATOMIC_READS || changes < ATOMIC_CHANGES) && time(NULL) < until; i++) {
    int rc = conformance_read(r, "f", &buf), now = 0;
    if (rc == BL_OK && buf.len == ATOMIC_SIZE && !memcmp(buf.data, a, ATOMIC_SIZE)) now = 1;
    if (rc == BL_OK && buf.len == ATOMIC_SIZE && !memcmp(buf.data, b, ATOMIC_SIZE)) now = 2;
    if (!now) {
      if (!bad)
        fprintf(stderr, "  read %d: rc %d, %zu bytes, neither old nor new\n", i, rc, buf.len);
      bad++;
      if (bad > 10) break;
      continue;
    }
    changes += now != last;
    last = now;
    if (changes) counted++;
  }
  close(stop[1]);
  int status = 0;
  BL_CHECK(waitpid(pid, &status, 0) == pid);
  BL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  BL_CHECK_INT(bad, 0);
  BL_CHECK(changes >= ATOMIC_CHANGES);
  BL_CHECK(counted >= ATOMIC_READS);
  printf("     (%d reads saw the content change %d times)\n", i, changes);
  free(buf.data);
  free(a);
  free(b);
  folder_done(r, dir);
}

static void test_remote_folder__special_entries(void) {
  char *dir;
  bl_remote *r = folder_new(&dir);
  BL_REQUIRE(r);
  folder_touch(dir, "file", "12345");
  BL_CHECK_INT(bl_remote_mkdir(r, "folder"), BL_OK);
  char *p = rt_join(dir, "fifo");
  BL_CHECK_INT(mkfifo(p, 0600), 0);
  free(p);
  p = rt_join(dir, "dangling");
  BL_CHECK_INT(symlink("no-such-target", p), 0);
  free(p);
  p = rt_join(dir, "link-to-file");
  BL_CHECK_INT(symlink("file", p), 0);
  free(p);
  p = rt_join(dir, "link-to-folder");
  BL_CHECK_INT(symlink("folder", p), 0);
  free(p);

  size_t n = 0;
  bl_remote_entry *e = NULL;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(n, 4);
  BL_CHECK(conformance_find(e, n, "fifo") < 0);
  BL_CHECK(conformance_find(e, n, "dangling") < 0);
  long lf = conformance_find(e, n, "link-to-file"), ld = conformance_find(e, n, "link-to-folder");
  BL_CHECK(lf >= 0 && ld >= 0);
  if (lf >= 0) {
    BL_CHECK_INT(e[lf].is_folder, 0);
    BL_CHECK_INT(e[lf].size, 5);
  }
  if (ld >= 0) BL_CHECK_INT(e[ld].is_folder, 1);
  bl_remote_entries_free(e, n);
  folder_done(r, dir);
}

static void test_remote_folder__in_the_way(void) {
  char *dir;
  bl_remote *r = folder_new(&dir);
  BL_REQUIRE(r);
  conformance_buf b = {0};
  BL_CHECK_INT(bl_remote_write_buf(r, "f", "x", 1), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  /* mkdir -p through a file. */
  BL_CHECK_INT(bl_remote_mkdir(r, "f"), BL_EIO);
  BL_CHECK(strstr(bl_remote_errmsg(r), "in the way") != NULL);
  BL_CHECK_INT(bl_remote_mkdir(r, "f/sub"), BL_EIO);
  char *link = rt_join(dir, "dangling");
  BL_CHECK_INT(symlink("nowhere", link), 0);
  BL_CHECK_INT(bl_remote_mkdir(r, "dangling/sub"), BL_EIO);
  BL_CHECK(unlink(link) == 0);
  free(link);
  /* A file where a folder is, and the other way round. */
  BL_CHECK_INT(bl_remote_write_buf(r, "d", "x", 1), BL_EIO);
  BL_CHECK_INT(conformance_read(r, "d", &b), BL_EIO);
  BL_CHECK(strstr(bl_remote_errmsg(r), "folder") != NULL);
  BL_CHECK_INT(bl_remote_remove(r, "d"), BL_EIO);
  BL_CHECK_INT(bl_remote_write_buf(r, "f/x", "x", 1), BL_ENOTFOUND);
  /* Nothing was changed by any of it. */
  BL_CHECK_INT(rt_count_entries(dir), 2);
  BL_CHECK_INT(conformance_read(r, "f", &b), BL_OK);
  BL_CHECK(b.len == 1 && b.data[0] == 'x');
  free(b.data);
  folder_done(r, dir);
}

static void test_remote_folder__messages_name_the_path(void) {
  char *dir;
  bl_remote *r = folder_new(&dir);
  BL_REQUIRE(r);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "missing.json", &b), BL_ENOTFOUND);
  char *full = rt_join(dir, "missing.json");
  BL_CHECK(strstr(bl_remote_errmsg(r), full) != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), strerror(ENOENT)) != NULL);
  free(full);
  free(b.data);
  folder_done(r, dir);
}

static void test_remote_folder__root_removed(void) {
  char *dir;
  bl_remote *r = folder_new(&dir);
  BL_REQUIRE(r);
  BL_REQUIRE(rmdir(dir) == 0);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  /* A vanished root is an unreachable remote, not an empty one: a pull
   * must not take it for "nobody has pushed yet". */
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_ENET);
  BL_CHECK(strstr(bl_remote_errmsg(r), "does not exist") != NULL);
  BL_CHECK_INT(bl_remote_list(r, "changesets", &e, &n), BL_ENET);
  BL_CHECK_INT(bl_remote_mkdir(r, ""), BL_ENET);
  BL_CHECK_INT(bl_remote_mkdir(r, "a/b"), BL_ENET);
  BL_CHECK(strstr(bl_remote_errmsg(r), "does not exist") != NULL);
  BL_CHECK_INT(bl_remote_write_buf(r, "x", "1", 1), BL_ENET);
  BL_CHECK_INT(bl_remote_remove(r, "x"), BL_ENET);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "x", &b), BL_ENET);
  free(b.data);
  /* The root is never re-created behind the user's back. */
  struct stat st;
  BL_CHECK(stat(dir, &st) != 0);
  bl_remote_free(r);
  free(dir);
}

static void test_remote_folder__open_folder(void) {
  bl_remote *r = NULL;
  BL_CHECK_INT(bl_remote_folder(NULL, "/tmp"), BL_EMISUSE);
  BL_CHECK_INT(bl_remote_folder(&r, NULL), BL_EMISUSE);
  BL_CHECK_INT(bl_remote_folder(&r, ""), BL_EMISUSE);
  char *dir = rt_mkdtemp();
  BL_REQUIRE(dir);
  char *missing = rt_join(dir, "missing");
  r = (bl_remote *)&r;
  BL_CHECK_INT(bl_remote_folder(&r, missing), BL_ENOTFOUND);
  BL_CHECK(r == NULL);
  char expect[1024];
  snprintf(expect, sizeof expect, "remote folder '%s' does not exist", missing);
  BL_CHECK_STR(bl__tls_errmsg(), expect);
  /* bl_remote_errmsg(NULL) is the thread's last error too. */
  BL_CHECK_STR(bl_remote_errmsg(NULL), expect);
  folder_touch(dir, "plain", "x");
  char *plain = rt_join(dir, "plain");
  BL_CHECK_INT(bl_remote_folder(&r, plain), BL_ENOTFOUND);

  /* A relative path is resolved once, at open: a later chdir does not move
   * the remote. */
  char cwd[4096];
  BL_REQUIRE(getcwd(cwd, sizeof cwd));
  BL_REQUIRE(chdir(dir) == 0);
  BL_CHECK_INT(mkdir("rel", 0777), 0);
  BL_CHECK_INT(bl_remote_folder(&r, "rel/"), BL_OK);
  BL_CHECK(chdir("/") == 0);
  BL_CHECK_INT(bl_remote_write_buf(r, "marker", "m", 1), BL_OK);
  char *marker = rt_join(dir, "rel/marker");
  struct stat st;
  BL_CHECK_INT(stat(marker, &st), 0);
  BL_CHECK(chdir(cwd) == 0);
  bl_remote_free(r);
  bl_remote_free(NULL);

  /* The filesystem root works as a root. */
  BL_CHECK_INT(bl_remote_folder(&r, "/"), BL_OK);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK(conformance_find(e, n, "tmp") >= 0);
  bl_remote_entries_free(e, n);
  bl_remote_free(r);

  free(marker);
  free(plain);
  free(missing);
  rt_rm_rf(dir);
  free(dir);
}

/* One row of the URL table: the URL (with %D standing for the test
 * directory), the code expected, and for success the folder (below the
 * test directory) it must open, for failures text the message must have. */
typedef struct url_case {
  const char *url;
  int rc;
  const char *expect;
  const char *absent; /* text the message must not have (credentials) */
} url_case;

static const url_case url_cases[] = {
    {"%D", BL_OK, "", NULL},
    {"%D/", BL_OK, "", NULL},
    {"%D//", BL_OK, "", NULL},
    {"file://%D", BL_OK, "", NULL},
    {"file://%D/", BL_OK, "", NULL},
    {"file://localhost%D", BL_OK, "", NULL},
    {"FILE://LocalHost%D", BL_OK, "", NULL},
    {"file:%D", BL_OK, "", NULL},
    {"file://%D/sp%20ace%25", BL_OK, "sp ace%", NULL},
    {"file://%D/%73p%20ace%25/", BL_OK, "sp ace%", NULL},
    {"file://%D/caf%C3%A9", BL_OK, "caf\xc3\xa9", NULL},
    {"%D/sp ace%", BL_OK, "sp ace%", NULL}, /* a path is taken literally */
    {"%D/a%20b", BL_OK, "a%20b", NULL},
    {"file://%D/sp%2", BL_EMISUSE, "percent", NULL},
    {"file://%D/sp%zz", BL_EMISUSE, "percent", NULL},
    {"file://%D/a%00b", BL_EMISUSE, "%00", NULL},
    {"file://otherhost%D", BL_EMISUSE, "otherhost", NULL},
    {"file://user@localhost%D", BL_EMISUSE, "only local files", NULL},
    {"file:relative/x", BL_EMISUSE, "absolute", NULL},
    {"file:", BL_EMISUSE, "absolute", NULL},
    {"file://", BL_EMISUSE, "absolute", NULL},
    {"file://localhost", BL_EMISUSE, "absolute", NULL},
    {"file://%D?x=1", BL_EMISUSE, "query", NULL},
    {"file://%D#frag", BL_EMISUSE, "fragment", NULL},
    {"relative/path", BL_EMISUSE, "relative", NULL},
    {"./x", BL_EMISUSE, "relative", NULL},
    {"x", BL_EMISUSE, "expected /path, file:///path, webdav://host/path", NULL},
    {"", BL_EMISUSE, "file:///path", NULL},
    {"ftp://host/x", BL_EMISUSE,
     "unsupported remote URL 'ftp://host/x': expected /path, file:///path, webdav://host/path, webdavs://host/path, gdrive://AppFolderName or onedrive://AppFolderName", NULL},
    {"s3:bucket", BL_EMISUSE, "unsupported remote URL", NULL},
    {"https://user:secret@host/x?access_token=abc", BL_EMISUSE, "https://***@host/x", "secret"},
    {"https://host/x?access_token=abc", BL_EMISUSE, "https://host/x...", "abc"},
    {"%D/missing", BL_ENOTFOUND, "does not exist", NULL},
    {"file://%D/missing", BL_ENOTFOUND, "does not exist", NULL},
    {"file://%D/missing%2Fdeeper", BL_ENOTFOUND, "missing/deeper", NULL},
    {"%D/plain", BL_ENOTFOUND, "is a file", NULL},
};

/* url with %D replaced by dir. */
static void url_expand(char *out, size_t cap, const char *url, const char *dir) {
  const char *d = strstr(url, "%D");
  if (d)
    snprintf(out, cap, "%.*s%s%s", (int)(d - url), url, dir, d + 2);
  else
    snprintf(out, cap, "%s", url);
}

static void test_remote_folder__open_urls(void) {
  char *dir = rt_mkdtemp();
  BL_REQUIRE(dir);
  const char *subs[] = {"sp ace%", "caf\xc3\xa9", "a%20b"};
  for (size_t i = 0; i < 3; i++) {
    char *p = rt_join(dir, subs[i]);
    BL_CHECK_INT(mkdir(p, 0777), 0);
    free(p);
  }
  folder_touch(dir, "plain", "x");

  for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
    const url_case *c = &url_cases[i];
    char url[1024];
    url_expand(url, sizeof url, c->url, dir);
    bl_remote *r = (bl_remote *)&r; /* must be overwritten */
    int rc = bl_remote_open(&r, url);
    const char *msg = bl__tls_errmsg();
    int ok = rc == c->rc;
    if (rc == BL_OK) {
      /* It opened the folder meant: a file written through it lands there. */
      char rel[256], *marker;
      snprintf(rel, sizeof rel, "%s%smarker", c->expect, *c->expect ? "/" : "");
      marker = rt_join(dir, rel);
      struct stat st;
      ok = ok && r && bl_remote_write_buf(r, "marker", "m", 1) == BL_OK && stat(marker, &st) == 0;
      if (r) bl_remote_remove(r, "marker");
      free(marker);
      bl_remote_free(r);
    } else {
      ok = ok && r == NULL && msg[0] && strstr(msg, c->expect) &&
           !(c->absent && strstr(msg, c->absent));
    }
    if (!ok) {
      fprintf(stderr, "  url '%s': rc %d (expected %d), message \"%s\" (expected \"%s\")\n", url,
              rc, c->rc, rc ? msg : "", c->expect);
      bl_test_failed_checks++;
    }
  }
  BL_CHECK_INT(bl_remote_open(NULL, "/tmp"), BL_EMISUSE);
  bl_remote *r = NULL;
  BL_CHECK_INT(bl_remote_open(&r, NULL), BL_EMISUSE);
  BL_CHECK(r == NULL);
  rt_rm_rf(dir);
  free(dir);
}

static const bl_test_case cases[] = {
    BL_CONFORMANCE_TESTS,
    BL_TEST(test_remote_folder__temp_files_hidden),
    BL_TEST(test_remote_folder__no_temp_after_failed_write),
    BL_TEST(test_remote_folder__atomic_replace),
    BL_TEST(test_remote_folder__special_entries),
    BL_TEST(test_remote_folder__in_the_way),
    BL_TEST(test_remote_folder__messages_name_the_path),
    BL_TEST(test_remote_folder__root_removed),
    BL_TEST(test_remote_folder__open_folder),
    BL_TEST(test_remote_folder__open_urls),
};

BL_TEST_MAIN(cases)
