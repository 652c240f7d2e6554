/*
 * gdrive.c — the Google Drive backend against the Drive emulator
 * (tests/emulators/gdrive.py, pages of 3 entries, token "tok"): the
 * conformance suite on a freshly reset drive, then what only Drive has —
 * pagination, duplicate files (copies equal or differing) and folders,
 * stale ids, token expiry and refresh, retried faults, resumable uploads,
 * names the query language must escape, batches, the change feed, and how
 * many requests each operation costs once paths are cached.
 *
 * One emulator serves the whole binary (started on first use, stopped at
 * exit). Duplicates are made through the emulator's own API with a raw
 * HTTP request, as another client would make them.
 *
 * Divided into: the emulator and remotes; raw requests; the backend for
 * conformance; cases.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"
#include "remote/gdrive_internal.h"
#include "servers/server_proc.h"
#include "util/errmsg.h"

/* ------------------------------------------------ the emulator, remotes */

static server_proc gd_srv;
static int gd_srv_state; /* 0 not started, 1 running, -1 failed to start */

static void gd_stop_server(void) {
  if (gd_srv_state == 1) server_stop(&gd_srv);
  gd_srv_state = 0;
}

/* The emulator, started once; NULL when it cannot start. */
static server_proc *gd_server(void) {
  if (gd_srv_state == 0) {
    static const char *const args[] = {"--page-size",   "3", "--token", "tok",
                                       "--retry-after", "0", NULL};
    gd_srv_state = server_start_emulator(&gd_srv, "gdrive.py", args) == 0 ? 1 : -1;
    if (gd_srv_state == 1) atexit(gd_stop_server);
  }
  return gd_srv_state == 1 ? &gd_srv : NULL;
}

static void gd_control(const char *method, const char *path, const char *body) {
  free(server_control(&gd_srv, method, path, body));
}

/* An empty drive, faults and latency off, counters at zero. */
static int gd_reset(void) {
  if (!gd_server()) return -1;
  gd_control("POST", "/_emulator/reset", NULL);
  gd_control("POST", "/_emulator/config",
             "{\"fail_next\": [], \"latency_ms\": 0, \"retry_after\": 0, \"expire_after\": 0, "
             "\"rate_limit_every\": 0, \"rate_limit_status\": 429}");
  return 0;
}

/* What the token callback was asked; "tok" then "tok.<n>" after the n-th
 * refresh (the emulator accepts tok.<anything>). */
typedef struct gd_tokens {
  int calls, refreshes, fail;
  int stuck; /* a broken refresher: always the same token */
} gd_tokens;

static int gd_token_cb(char *buf, size_t size, int refresh, void *payload) {
  gd_tokens *t = payload;
  t->calls++;
  if (t->fail) return -1;
  if (refresh) t->refreshes++;
  if (t->refreshes && !t->stuck)
    snprintf(buf, size, "tok.%d", t->refreshes);
  else
    snprintf(buf, size, "tok");
  return 0;
}

static gd_tokens gd_default_tokens;

/* A remote on the emulator with small backoffs; tokens may be NULL (the
 * shared counters). */
static bl_remote *gd_open_with(gd_tokens *tokens, int max_attempts) {
  if (!gd_server()) return NULL;
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  o.token = gd_token_cb;
  o.token_payload = tokens ? tokens : &gd_default_tokens;
  o.api_url = gd_srv.base_url;
  o.max_attempts = max_attempts;
  o.max_retry_ms = 20000;
  bl_remote *r = NULL;
  if (bl_remote_open_ex(&r, "gdrive://App", &o) != BL_OK) {
    fprintf(stderr, "  open: %s\n", bl_remote_errmsg(NULL));
    return NULL;
  }
  return r;
}

static bl_remote *gd_open(void) { return gd_open_with(NULL, 0); }

static uint64_t gd_count(bl_remote *r) { return bl_remote_request_count(r); }

/* A counter of the emulator's stats; 0 for an endpoint not called yet
 * (absent from the stats). */
static long gd_stat(const char *field) {
  long v = server_stat(&gd_srv, field);
  return v < 0 ? 0 : v;
}

/* Reads path whole; returns a malloc'ed NUL-terminated copy or NULL. */
static char *gd_read_str(bl_remote *r, const char *path) {
  conformance_buf b = {0};
  if (conformance_read(r, path, &b) != BL_OK || conformance_sink("", 1, &b) != 0) {
    free(b.data);
    return NULL;
  }
  return (char *)b.data;
}

static int gd_write_str(bl_remote *r, const char *path, const char *s) {
  return bl_remote_write_buf(r, path, s, strlen(s));
}

/* Whether s is well-formed UTF-8 (no sequence cut short). */
static int gd_utf8_valid(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    int more = *p < 0x80             ? 0
               : (*p & 0xE0) == 0xC0 ? 1
               : (*p & 0xF0) == 0xE0 ? 2
               : (*p & 0xF8) == 0xF0 ? 3
                                     : -1;
    if (more < 0) return 0;
    p++;
    for (int i = 0; i < more; i++, p++)
      if ((*p & 0xC0) != 0x80) return 0;
  }
  return 1;
}

static size_t gd_count_named(bl_remote *r, const char *dir, const char *name) {
  bl_remote_entry *e = NULL;
  size_t n = 0;
  if (bl_remote_list(r, dir, &e, &n) != BL_OK) return (size_t)-1;
  size_t c = conformance_count(e, n, name);
  bl_remote_entries_free(e, n);
  return c;
}

/* ----------------------------------------------------------- raw requests */

/* One authorised request to the emulator as another client would send it
 * (token "tok.raw"); returns the malloc'ed response body or NULL. */
static char *gd_raw(const char *method, const char *path, const char *ctype, const char *body,
                    size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return NULL;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)gd_srv.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return NULL;
  }
  char head[1024];
  int hn = snprintf(head, sizeof head,
                    "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok.raw\r\n"
                    "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                    method, path, ctype ? ctype : "application/json", len);
  int ok = write(fd, head, (size_t)hn) == hn && (!len || write(fd, body, len) == (ssize_t)len);
  size_t cap = 8192, got = 0;
  char *buf = malloc(cap);
  while (ok && buf) {
    if (got + 1024 > cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) break;
      buf = nb;
    }
    ssize_t k = read(fd, buf + got, cap - got - 1);
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fd);
  if (!ok || !buf) {
    free(buf);
    return NULL;
  }
  buf[got] = '\0';
  char *b = strstr(buf, "\r\n\r\n");
  char *out = b ? strdup(b + 4) : NULL;
  free(buf);
  return out;
}

/* The value of the first "id" in a JSON text, malloc'ed, or NULL. */
static char *gd_json_id(const char *json) {
  const char *p = json ? strstr(json, "\"id\"") : NULL;
  if (!p) return NULL;
  p += 4;
  while (*p == ' ' || *p == ':') p++;
  if (*p != '"') return NULL;
  size_t n = strcspn(p + 1, "\"");
  char *id = malloc(n + 1);
  if (id) {
    memcpy(id, p + 1, n);
    id[n] = '\0';
  }
  return id;
}

/* The id of the first item named `name` in folder `parent` ("root" or an
 * id), through the emulator's API. */
static char *gd_raw_find(const char *parent, const char *name) {
  char path[512];
  snprintf(path, sizeof path,
           "/drive/v3/files?q=name%%20%%3D%%20%%27%s%%27%%20and%%20%%27%s%%27%%20in%%20parents"
           "&fields=files(id)",
           name, parent);
  char *body = gd_raw("GET", path, NULL, NULL, 0);
  char *id = gd_json_id(body);
  free(body);
  return id;
}

/* Creates file `name` holding `content` in folder `parent_id` through the
 * emulator's API (duplicates allowed, as on Drive). */
static int gd_raw_create(const char *parent_id, const char *name, const char *content) {
  char body[2048];
  int n = snprintf(body, sizeof body,
                   "--zz\r\nContent-Type: application/json\r\n\r\n{\"name\": \"%s\", \"parents\": "
                   "[\"%s\"]}\r\n--zz\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n"
                   "--zz--\r\n",
                   name, parent_id, content);
  char *out = gd_raw("POST", "/upload/drive/v3/files?uploadType=multipart",
                     "multipart/related; boundary=zz", body, (size_t)n);
  char *id = gd_json_id(out);
  free(out);
  int ok = id != NULL;
  free(id);
  /* Drive's times have ms resolution: the next copy is clearly newer. */
  struct timespec ts = {0, 20 * 1000000L};
  nanosleep(&ts, NULL);
  return ok ? 0 : -1;
}

/* How many items named `name` the drive holds in folder `parent_id`. */
static int gd_raw_count(const char *parent_id, const char *name) {
  char path[512];
  snprintf(path, sizeof path,
           "/drive/v3/files?q=name%%20%%3D%%20%%27%s%%27%%20and%%20%%27%s%%27%%20in%%20parents"
           "&fields=files(id)&pageSize=100",
           name, parent_id);
  /* pages of 3: follow them by counting through nextPageToken is not
   * needed for the handful of copies these tests make */
  char *body = gd_raw("GET", path, NULL, NULL, 0);
  int n = 0;
  for (const char *p = body; p && (p = strstr(p, "\"id\"")); p += 4) n++;
  free(body);
  return body ? n : -1;
}

/* ------------------------------------------------ backend for conformance */

static int gd_conf_open(bl_remote **out, void *payload) {
  (void)payload;
  if (gd_reset() != 0) return BL_ENET;
  *out = gd_open();
  return *out ? BL_OK : BL_ERROR;
}

static void gd_conf_close(bl_remote *r, void *payload) {
  (void)payload;
  bl_remote_free(r);
}

/* Another remote on the same emulator, not reset: another device. */
static int gd_conf_peer(bl_remote **out, bl_remote *first, void *payload) {
  (void)first;
  (void)payload;
  *out = gd_open();
  return *out ? BL_OK : BL_ERROR;
}

const conformance_backend conformance_target = {"gdrive", gd_conf_open, gd_conf_close, NULL,
                                                gd_conf_peer};

/* -------------------------------------------------------------------- cases */

static void test_remote_gdrive__open(void) {
  bl_remote *r = (bl_remote *)&r;
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  BL_CHECK_INT(bl_remote_open_ex(&r, "gdrive://App", &o), BL_EMISUSE);
  BL_CHECK(r == NULL);
  BL_CHECK(strstr(bl_remote_errmsg(NULL), "gdrive needs a token callback") != NULL);
  BL_CHECK_INT(bl_remote_gdrive(&r, NULL, NULL), BL_EMISUSE);
  o.token = gd_token_cb;
  o.token_payload = &gd_default_tokens;
  BL_CHECK_INT(bl_remote_open_ex(&r, "gdrive://a/b", &o), BL_EMISUSE);
  BL_CHECK_INT(bl_remote_open_ex(&r, "gdrive://..", &o), BL_EMISUSE);
  BL_CHECK_INT(bl_remote_open_ex(&r, "gdrive:App", &o), BL_EMISUSE);
  /* The real service by default (nothing is sent before an operation). */
  BL_CHECK_INT(bl_remote_gdrive(&r, gd_token_cb, &gd_default_tokens), BL_OK);
  BL_CHECK_INT(bl_remote_request_count(r), 0);
  bl_remote_free(r);
  BL_CHECK_INT(bl_remote_open_ex(&r, "gdrive://My%20App", &o), BL_OK);
  bl_remote_free(r);
  /* Plain http to a host that is not loopback is refused by the layer. */
  o.api_url = "http://example.com";
  BL_CHECK_INT(bl_remote_open_ex(&r, "gdrive://App", &o), BL_OK);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_EMISUSE);
  BL_CHECK(strstr(bl_remote_errmsg(r), "listing ''") != NULL);
  bl_remote_free(r);
}

static void test_remote_gdrive__pagination_and_counts(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *r = gd_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "App/p"), BL_OK);
  char path[64], want[64];
  for (int i = 0; i < 10; i++) {
    snprintf(path, sizeof path, "App/p/f%02d", i);
    BL_CHECK_INT(gd_write_str(r, path, path), BL_OK);
  }
  /* A listing of 10 entries in pages of 3: 4 requests, the path cached. */
  uint64_t c0 = gd_count(r);
  long l0 = gd_stat("by_endpoint.files.list");
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "App/p", &e, &n), BL_OK);
  BL_CHECK_INT(n, 10);
  for (int i = 0; i < 10; i++) {
    snprintf(want, sizeof want, "f%02d", i);
    BL_CHECK_INT(conformance_count(e, n, want), 1);
  }
  bl_remote_entries_free(e, n);
  BL_CHECK_INT(gd_count(r) - c0, 4);
  BL_CHECK_INT(gd_stat("by_endpoint.files.list") - l0, 4);
  printf("     (list of 10 in pages of 3: %llu requests)\n",
         (unsigned long long)(gd_count(r) - c0));

  /* After the listing: a read is one request, an overwrite one PATCH, a
   * remove one DELETE. */
  c0 = gd_count(r);
  char *s = gd_read_str(r, "App/p/f03");
  BL_CHECK(s && strcmp(s, "App/p/f03") == 0);
  free(s);
  BL_CHECK_INT(gd_count(r) - c0, 1);
  long u0 = gd_stat("by_endpoint.files.update.upload");
  c0 = gd_count(r);
  BL_CHECK_INT(gd_write_str(r, "App/p/f03", "new"), BL_OK);
  BL_CHECK_INT(gd_count(r) - c0, 1);
  BL_CHECK_INT(gd_stat("by_endpoint.files.update.upload") - u0, 1);
  c0 = gd_count(r);
  BL_CHECK_INT(bl_remote_remove(r, "App/p/f04"), BL_OK);
  BL_CHECK_INT(gd_count(r) - c0, 1);
  /* A new file: one lookup (is it there?) and one upload. */
  c0 = gd_count(r);
  BL_CHECK_INT(gd_write_str(r, "App/p/new", "x"), BL_OK);
  BL_CHECK_INT(gd_count(r) - c0, 2);
  /* A read of a file not cached: its lookup, then the download. */
  bl_remote *r2 = gd_open();
  BL_REQUIRE(r2);
  c0 = gd_count(r2);
  s = gd_read_str(r2, "App/p/f03");
  BL_CHECK(s && strcmp(s, "new") == 0);
  free(s);
  BL_CHECK_INT(gd_count(r2) - c0, 4); /* lookups of App, p, f03; the download */
  c0 = gd_count(r2);
  s = gd_read_str(r2, "App/p/f05");
  free(s);
  BL_CHECK_INT(gd_count(r2) - c0, 2);
  bl_remote_free(r2);
  bl_remote_free(r);
}

static void test_remote_gdrive__escaped_names(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *r = gd_open();
  BL_REQUIRE(r);
  static const char *const names[] = {
      "it's", "back\\slash", "quo\"te", "caf\xc3\xa9 \xe2\x82\xac", "a'b\\'c", "sp ace&amp=%20+"};
  const size_t count = sizeof names / sizeof names[0];
  BL_CHECK_INT(bl_remote_mkdir(r, "d'ir"), BL_OK);
  char path[128];
  for (size_t i = 0; i < count; i++) {
    snprintf(path, sizeof path, "d'ir/%s", names[i]);
    BL_CHECK_INT(gd_write_str(r, path, names[i]), BL_OK);
  }
  /* A fresh remote resolves each name with a query of its own. */
  bl_remote *r2 = gd_open();
  BL_REQUIRE(r2);
  for (size_t i = 0; i < count; i++) {
    snprintf(path, sizeof path, "d'ir/%s", names[i]);
    char *s = gd_read_str(r2, path);
    if (!s || strcmp(s, names[i]) != 0) {
      fprintf(stderr, "  name '%s': read %s (%s)\n", names[i], s ? s : "nothing",
              bl_remote_errmsg(r2));
      bl_test_failed_checks++;
    }
    free(s);
    BL_CHECK_INT(gd_write_str(r2, path, "again"), BL_OK);
  }
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r2, "d'ir", &e, &n), BL_OK);
  BL_CHECK_INT(n, count);
  for (size_t i = 0; i < count; i++) BL_CHECK_INT(conformance_count(e, n, names[i]), 1);
  bl_remote_entries_free(e, n);
  bl_remote_free(r2);
  bl_remote_free(r);
}

/* A read of `path` that must fail with BL_ECORRUPT, downloading nothing,
 * with a message that says why. */
static void gd_check_conflict(bl_remote *r, const char *path, const char *copies) {
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, path, &b), BL_ECORRUPT);
  BL_CHECK_INT(b.len, 0);
  free(b.data);
  char want[256];
  snprintf(want, sizeof want, "reading '%s': %s copies of this name with different contents", path,
           copies);
  if (!strstr(bl_remote_errmsg(r), want)) printf("     message: %s\n", bl_remote_errmsg(r));
  BL_CHECK(strstr(bl_remote_errmsg(r), want) != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), "not guessing which one is right") != NULL);
}

/*
 * Copies of one name: one file when their MD5s agree (the newest is read),
 * an error when they differ (BL_ECORRUPT, in a batch for that job alone);
 * a cached verdict of "differ" is looked up again before it is given; a
 * copy added since the cache was filled is seen at the next listing; write
 * leaves exactly one copy, remove none.
 */
static void test_remote_gdrive__duplicate_files(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *r = gd_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "App/d"), BL_OK);
  char *app = gd_raw_find("root", "App");
  char *d = app ? gd_raw_find(app, "d") : NULL;
  BL_REQUIRE(d);
  /* The same bytes twice (a retried upload): harmless. */
  BL_CHECK_INT(gd_raw_create(d, "same", "same bytes"), 0);
  BL_CHECK_INT(gd_raw_create(d, "same", "same bytes"), 0);
  /* Different bytes: nobody can tell which one is right. */
  BL_CHECK_INT(gd_raw_create(d, "dup", "older"), 0);
  BL_CHECK_INT(gd_raw_create(d, "dup", "newest"), 0);
  BL_CHECK_INT(gd_raw_count(d, "same"), 2);
  BL_CHECK_INT(gd_raw_count(d, "dup"), 2);

  /* A fresh remote (no cache) and the first one (which cached App/d). */
  bl_remote *r2 = gd_open();
  BL_REQUIRE(r2);
  bl_remote *both[2] = {r2, r};
  for (int i = 0; i < 2; i++) {
    char *s = gd_read_str(both[i], "App/d/same");
    BL_CHECK(s && strcmp(s, "same bytes") == 0);
    free(s);
    gd_check_conflict(both[i], "App/d/dup", "2");
  }
  /* list shows every copy. */
  BL_CHECK_INT(gd_count_named(r, "App/d", "dup"), 2);
  BL_CHECK_INT(gd_count_named(r, "App/d", "same"), 2);

  /* read_many: the job of the differing copies fails alone. Fresh: App,
   * d, the two names (4 copies, pages of 3: 2 requests), 1 download. */
  bl_remote *r3 = gd_open();
  BL_REQUIRE(r3);
  conformance_buf bufs[2];
  memset(bufs, 0, sizeof bufs);
  bl_remote_read_job jobs[2] = {{"App/d/same", conformance_sink, &bufs[0], 0, ""},
                                {"App/d/dup", conformance_sink, &bufs[1], 0, ""}};
  uint64_t c0 = gd_count(r3);
  BL_CHECK_INT(bl_remote_read_many(r3, jobs, 2), BL_ECORRUPT);
  BL_CHECK_INT(gd_count(r3) - c0, 2 + 2 + 1);
  BL_CHECK_INT(jobs[0].rc, BL_OK);
  BL_CHECK(bufs[0].len == 10 && memcmp(bufs[0].data, "same bytes", 10) == 0);
  BL_CHECK_INT(jobs[1].rc, BL_ECORRUPT);
  BL_CHECK_INT(bufs[1].len, 0);
  BL_CHECK(strstr(jobs[1].errmsg, "reading 'App/d/dup': 2 copies of this name with different") !=
           NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r3), "2 copies") != NULL);
  for (int i = 0; i < 2; i++) free(bufs[i].data);
  /* Known from before the call (r listed App/d above): looked up once
   * more (one request, one page) before it is called an error. */
  memset(bufs, 0, sizeof bufs);
  jobs[1].rc = BL_OK;
  c0 = gd_count(r);
  BL_CHECK_INT(bl_remote_read_many(r, jobs + 1, 1), BL_ECORRUPT);
  BL_CHECK_INT(gd_count(r) - c0, 1);
  BL_CHECK_INT(jobs[1].rc, BL_ECORRUPT);
  free(bufs[1].data);

  /* The writer of the name updates the newest copy in place and deletes
   * the other: exactly one copy is left. */
  BL_CHECK_INT(gd_write_str(r2, "App/d/dup", "written"), BL_OK);
  BL_CHECK_INT(gd_raw_count(d, "dup"), 1);
  BL_CHECK_INT(gd_count_named(r2, "App/d", "dup"), 1);
  /* r still has the two copies that differed in its cache: it looks
   * again rather than fail, and reads the one left (in a batch: the
   * lookup and the download alone, then the other job's download). */
  memset(bufs, 0, sizeof bufs);
  jobs[0].rc = jobs[1].rc = BL_OK;
  c0 = gd_count(r);
  BL_CHECK_INT(bl_remote_read_many(r, jobs, 2), BL_OK);
  BL_CHECK_INT(gd_count(r) - c0, 3);
  BL_CHECK(bufs[1].len == 7 && memcmp(bufs[1].data, "written", 7) == 0);
  BL_CHECK(bufs[0].len == 10);
  for (int i = 0; i < 2; i++) free(bufs[i].data);
  /* The same through read: r lists differing copies, another device
   * that knows them (it listed them) cleans them up by writing, r looks
   * again (1 request) and reads. */
  BL_CHECK_INT(gd_raw_create(d, "dup", "a third"), 0);
  BL_CHECK_INT(gd_count_named(r, "App/d", "dup"), 2);
  BL_CHECK_INT(gd_count_named(r3, "App/d", "dup"), 2);
  BL_CHECK_INT(gd_write_str(r3, "App/d/dup", "rewritten"), BL_OK);
  BL_CHECK_INT(gd_raw_count(d, "dup"), 1);
  c0 = gd_count(r);
  char *s = gd_read_str(r, "App/d/dup");
  BL_CHECK(s && strcmp(s, "rewritten") == 0);
  free(s);
  BL_CHECK_INT(gd_count(r) - c0, 2);

  /* A copy added after the cache was filled is not seen (the copy known is
   * read, as a listing-based reader reads what it listed) until the next
   * listing or lookup of the name shows it. */
  BL_CHECK_INT(gd_write_str(r, "App/d/solo", "mine"), BL_OK);
  BL_CHECK_INT(gd_raw_create(d, "solo", "theirs"), 0);
  s = gd_read_str(r, "App/d/solo");
  BL_CHECK(s && strcmp(s, "mine") == 0);
  free(s);
  BL_CHECK_INT(gd_count_named(r, "App/d", "solo"), 2);
  gd_check_conflict(r, "App/d/solo", "2");

  /* remove deletes every copy, cached or not. */
  BL_CHECK_INT(gd_raw_create(d, "dup", "another"), 0);
  BL_CHECK_INT(gd_raw_create(d, "dup", "and another"), 0);
  BL_CHECK_INT(gd_raw_count(d, "dup"), 3);
  BL_CHECK_INT(gd_count_named(r, "App/d", "dup"), 3);
  gd_check_conflict(r, "App/d/dup", "3");
  BL_CHECK_INT(bl_remote_remove(r, "App/d/dup"), BL_OK);
  BL_CHECK_INT(gd_raw_count(d, "dup"), 0);
  BL_CHECK_INT(gd_raw_create(d, "dup2", "a"), 0);
  BL_CHECK_INT(gd_raw_create(d, "dup2", "b"), 0);
  BL_CHECK_INT(bl_remote_remove(r2, "App/d/dup2"), BL_OK);
  BL_CHECK_INT(gd_raw_count(d, "dup2"), 0);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r2, "App/d/dup2", &b), BL_ENOTFOUND);
  free(b.data);
  free(app);
  free(d);
  bl_remote_free(r3);
  bl_remote_free(r2);
  bl_remote_free(r);
}

/*
 * Copies whose MD5 is unknown. Drive gives none for Google Docs (the
 * emulator gives every file one), so the rule is checked on its own: the
 * parser keeps an MD5 only when it is one (in lowercase), and copies are
 * compared only by the MD5s known.
 */
static void test_remote_gdrive__copies_without_checksums(void) {
  static const char json[] =
      "{\"files\": [{\"id\": \"a\", \"name\": \"f\", \"md5Checksum\": "
      "\"0123456789ABCDEF0123456789abcdef\"}, {\"id\": \"b\", \"name\": \"f\"}, {\"id\": \"c\", "
      "\"name\": \"f\", \"md5Checksum\": \"not an md5\"}, {\"id\": \"d\", \"name\": \"f\", "
      "\"md5Checksum\": \"0123456789abcdef0123456789abcdef\"}, {\"id\": \"e\", \"name\": \"f\", "
      "\"md5Checksum\": \"ffffffffffffffffffffffffffffffff\"}, {\"id\": \"g\", \"name\": \"f\", "
      "\"md5Checksum\": 12, \"mimeType\": \"application/vnd.google-apps.document\"}]}";
  bl__gdrive_list l;
  char err[200];
  BL_REQUIRE(bl__gdrive_parse_list(json, sizeof json - 1, &l, err, sizeof err) == BL_OK);
  BL_REQUIRE(l.n == 6);
  BL_CHECK(l.files[0].md5 && strcmp(l.files[0].md5, "0123456789abcdef0123456789abcdef") == 0);
  BL_CHECK(l.files[1].md5 == NULL);
  BL_CHECK(l.files[2].md5 == NULL);
  BL_CHECK(l.files[5].md5 == NULL);

  /* Copies as the cache holds them: ids and MD5s, newest first. */
  static gdrive_remote gr; /* only its reason is used */
  struct {
    int a, b, c; /* indexes into the list's files, -1: none */
    int rc;
  } cases[] = {
      {1, 5, -1, BL_OK},       /* no MD5 known: the newest is read */
      {1, 0, -1, BL_OK},       /* one known: nothing to compare it with */
      {0, 3, -1, BL_OK},       /* equal (one sent in capitals) */
      {0, 1, 3, BL_OK},        /* equal where known */
      {0, 4, -1, BL_ECORRUPT}, /* differ */
      {1, 0, 4, BL_ECORRUPT},  /* differ where known */
      {4, -1, -1, BL_OK},      /* one copy */
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int idx[3] = {cases[k].a, cases[k].b, cases[k].c};
    char *ids[3], *md5s[3];
    gd_node x;
    memset(&x, 0, sizeof x);
    x.ids = ids;
    x.md5s = md5s;
    for (int i = 0; i < 3 && idx[i] >= 0; i++, x.nids++) {
      ids[i] = l.files[idx[i]].id;
      md5s[i] = l.files[idx[i]].md5;
    }
    gr.why[0] = '\0';
    int rc = bl__gd_copies_agree(&gr, &x);
    if (rc != cases[k].rc) printf("     case %zu: %d\n", k, rc);
    BL_CHECK_INT(rc, cases[k].rc);
    if (rc == BL_ECORRUPT) {
      char want[32];
      snprintf(want, sizeof want, "%zu copies of this name", x.nids);
      BL_CHECK(strncmp(gr.why, want, strlen(want)) == 0);
    }
  }
  /* A node filled without MD5s at all (none kept). */
  char *ids2[2] = {l.files[0].id, l.files[4].id};
  gd_node y;
  memset(&y, 0, sizeof y);
  y.ids = ids2;
  y.nids = 2;
  BL_CHECK_INT(bl__gd_copies_agree(&gr, &y), BL_OK);
  bl__gdrive_list_clear(&l);
}

typedef struct gd_mkdir_arg {
  bl_remote *r;
  pthread_barrier_t *start;
  int rc;
} gd_mkdir_arg;

static void *gd_mkdir_thread(void *p) {
  gd_mkdir_arg *a = p;
  pthread_barrier_wait(a->start);
  a->rc = bl_remote_mkdir(a->r, "App/changesets");
  return NULL;
}

static void test_remote_gdrive__duplicate_folders(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *a = gd_open(), *b = gd_open();
  BL_REQUIRE(a && b);
  /* Every request takes 300 ms and both remotes start together, so both
   * look "App" up before either has made it: both create one. */
  gd_control("POST", "/_emulator/config", "{\"latency_ms\": 300}");
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, 2);
  gd_mkdir_arg args[2] = {{a, &start, -1}, {b, &start, -1}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, gd_mkdir_thread, &args[i]);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&start);
  gd_control("POST", "/_emulator/config", "{\"latency_ms\": 0}");
  BL_CHECK_INT(args[0].rc, BL_OK);
  BL_CHECK_INT(args[1].rc, BL_OK);
  long created = gd_stat("by_endpoint.files.create"), deleted = gd_stat("by_endpoint.files.delete");
  printf("     (%ld folders created, %ld younger twins deleted)\n", created, deleted);
  BL_CHECK(created >= 2 && created <= 4);
  BL_CHECK_INT(deleted, created - 2);

  /* Both use the same folders: what one writes, the other reads. */
  BL_CHECK_INT(gd_write_str(a, "App/changesets/from-a", "A"), BL_OK);
  BL_CHECK_INT(gd_write_str(b, "App/changesets/from-b", "B"), BL_OK);
  char *s = gd_read_str(b, "App/changesets/from-a");
  BL_CHECK(s && strcmp(s, "A") == 0);
  free(s);
  s = gd_read_str(a, "App/changesets/from-b");
  BL_CHECK(s && strcmp(s, "B") == 0);
  free(s);
  BL_CHECK_INT(gd_count_named(a, "", "App"), 1);
  BL_CHECK_INT(gd_count_named(a, "App", "changesets"), 1);

  /* A twin made later by someone else is younger: everyone keeps the
   * older one, even a fresh remote that sees both. */
  char *app = gd_raw_find("root", "App");
  BL_REQUIRE(app);
  char body[256];
  int n =
      snprintf(body, sizeof body,
               "{\"name\": \"changesets\", \"mimeType\": \"application/vnd.google-apps.folder\", "
               "\"parents\": [\"%s\"]}",
               app);
  free(gd_raw("POST", "/drive/v3/files", NULL, body, (size_t)n));
  bl_remote *c = gd_open();
  BL_REQUIRE(c);
  BL_CHECK_INT(bl_remote_mkdir(c, "App/changesets"), BL_OK);
  s = gd_read_str(c, "App/changesets/from-a");
  BL_CHECK(s && strcmp(s, "A") == 0);
  free(s);
  BL_CHECK_INT(gd_count_named(c, "App", "changesets"), 2);
  free(app);
  bl_remote_free(c);
  bl_remote_free(a);
  bl_remote_free(b);
}

static void test_remote_gdrive__stale_ids(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *a = gd_open(), *b = gd_open();
  BL_REQUIRE(a && b);
  BL_CHECK_INT(bl_remote_mkdir(a, "App/d"), BL_OK);
  BL_CHECK_INT(gd_write_str(a, "App/d/f", "one"), BL_OK);
  BL_CHECK_INT(gd_count_named(a, "App/d", "f"), 1); /* a caches every id */
  /* b deletes and recreates the file (a new id): a follows. */
  BL_CHECK_INT(bl_remote_remove(b, "App/d/f"), BL_OK);
  BL_CHECK_INT(gd_write_str(b, "App/d/f", "two"), BL_OK);
  char *s = gd_read_str(a, "App/d/f");
  BL_CHECK(s && strcmp(s, "two") == 0);
  free(s);
  BL_CHECK_INT(bl_remote_remove(b, "App/d/f"), BL_OK);
  BL_CHECK_INT(gd_write_str(b, "App/d/f", "three"), BL_OK);
  BL_CHECK_INT(gd_write_str(a, "App/d/f", "four"), BL_OK); /* PATCH 404, then again */
  BL_CHECK_INT(gd_count_named(b, "App/d", "f"), 1);
  s = gd_read_str(b, "App/d/f");
  BL_CHECK(s && strcmp(s, "four") == 0);
  free(s);
  /* b deletes the whole folder and makes it again: a's cached folder id
   * lists nothing, which a checks, then finds the new folder. */
  char *app = gd_raw_find("root", "App");
  char *d = app ? gd_raw_find(app, "d") : NULL;
  BL_REQUIRE(d);
  char url[256];
  snprintf(url, sizeof url, "/drive/v3/files/%s", d);
  free(gd_raw("DELETE", url, NULL, NULL, 0));
  /* b's cached id is stale too: its write finds out, then (as the sync
   * engine does) it makes the folder and writes again. */
  BL_CHECK_INT(gd_write_str(b, "App/d/g", "new folder"), BL_ENOTFOUND);
  BL_CHECK_INT(bl_remote_mkdir(b, "App/d"), BL_OK);
  BL_CHECK_INT(gd_write_str(b, "App/d/g", "new folder"), BL_OK);
  BL_CHECK_INT(gd_count_named(a, "App/d", "g"), 1);
  s = gd_read_str(a, "App/d/g");
  BL_CHECK(s && strcmp(s, "new folder") == 0);
  free(s);
  /* a writes into the folder it had cached before (deleted again). */
  free(d);
  d = gd_raw_find(app, "d");
  BL_REQUIRE(d);
  snprintf(url, sizeof url, "/drive/v3/files/%s", d);
  free(gd_raw("DELETE", url, NULL, NULL, 0));
  BL_CHECK_INT(gd_write_str(a, "App/d/h", "x"), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_remote_errmsg(a), "App/d") != NULL);
  free(app);
  free(d);
  bl_remote_free(a);
  bl_remote_free(b);
}

static void test_remote_gdrive__token_refresh(void) {
  BL_REQUIRE(gd_reset() == 0);
  gd_tokens t = {0};
  bl_remote *r = gd_open_with(&t, 0);
  BL_REQUIRE(r);
  BL_CHECK_INT(gd_write_str(r, "f", "x"), BL_OK);
  BL_CHECK_INT(t.calls, 1);
  BL_CHECK_INT(t.refreshes, 0);
  /* Every token seen so far expires: the next request gets 401, the
   * callback is asked for a fresh one, and the operation succeeds. */
  gd_control("POST", "/_emulator/expire-token", NULL);
  char *s = gd_read_str(r, "f");
  BL_CHECK(s && strcmp(s, "x") == 0);
  free(s);
  BL_CHECK_INT(t.refreshes, 1);
  BL_CHECK_INT(t.calls, 2);
  BL_CHECK_INT(gd_stat("faults.unauthorized"), 1);
  /* And again, in the middle of a batch. */
  gd_control("POST", "/_emulator/expire-token", NULL);
  bl_remote_write_job jobs[3];
  FILE *f[3];
  for (int i = 0; i < 3; i++) {
    f[i] = tmpfile();
    BL_REQUIRE(f[i]);
    fputs("batch", f[i]);
    rewind(f[i]);
    jobs[i] = (bl_remote_write_job){i == 0 ? "b0" : i == 1 ? "b1" : "b2", f[i], 5, 0, ""};
  }
  BL_CHECK_INT(bl_remote_write_many(r, jobs, 3), BL_OK);
  for (int i = 0; i < 3; i++) fclose(f[i]);
  BL_CHECK(t.refreshes >= 2);
  bl_remote_free(r);

  /* A callback that gives nothing: BL_EAUTH, nothing sent. */
  gd_tokens bad = {0, 0, 1, 0};
  r = gd_open_with(&bad, 0);
  BL_REQUIRE(r);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_EAUTH);
  BL_CHECK(strstr(bl_remote_errmsg(r), "token") != NULL);
  BL_CHECK_INT(bl_remote_request_count(r), 0);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "f", &b), BL_EAUTH);
  free(b.data);
  bl_remote_free(r);

  /* A token refused even after a refresh: BL_EAUTH after two tries. */
  BL_REQUIRE(gd_reset() == 0);
  gd_tokens stuck = {0, 0, 0, 1};
  r = gd_open_with(&stuck, 0);
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  bl_remote_entries_free(e, n);
  e = NULL;
  gd_control("POST", "/_emulator/expire-token", NULL);
  uint64_t c0 = gd_count(r);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_EAUTH);
  BL_CHECK_INT(gd_count(r) - c0, 2);
  BL_CHECK_INT(stuck.refreshes, 1);
  BL_CHECK(strstr(bl_remote_errmsg(r), "401") != NULL);
  bl_remote_free(r);
}

static void test_remote_gdrive__retried_faults(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *r = gd_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(gd_write_str(r, "f", "content"), BL_OK);
  /* 429, 503, 503, then the answer: one read, four requests. */
  gd_control("POST", "/_emulator/config", "{\"fail_next\": [429, 503, 503]}");
  uint64_t c0 = gd_count(r);
  char *s = gd_read_str(r, "f");
  BL_CHECK(s && strcmp(s, "content") == 0);
  free(s);
  BL_CHECK_INT(gd_count(r) - c0, 4);
  BL_CHECK_INT(gd_stat("faults.scripted"), 3);
  /* Drive's rate limit in a 403 is retried too (not an auth failure). */
  gd_control("POST", "/_emulator/config", "{\"fail_next\": [403, 502]}");
  BL_CHECK_INT(gd_write_str(r, "f", "replaced"), BL_OK);
  s = gd_read_str(r, "f");
  BL_CHECK(s && strcmp(s, "replaced") == 0);
  free(s);
  /* A create that was retried looks for a copy it may have left. */
  gd_control("POST", "/_emulator/config", "{\"fail_next\": [503]}");
  long l0 = gd_stat("by_endpoint.files.list");
  BL_CHECK_INT(gd_write_str(r, "g", "retried"), BL_OK);
  BL_CHECK_INT(gd_stat("by_endpoint.files.list") - l0, 2); /* the lookup, the check */
  BL_CHECK_INT(gd_count_named(r, "", "g"), 1);
  bl_remote_free(r);

  /* A service that keeps failing: BL_ENET after the attempts allowed,
   * with the status in the message. */
  r = gd_open_with(NULL, 3);
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  gd_control("POST", "/_emulator/config", "{\"fail_next\": [500, 500, 500, 500, 500]}");
  c0 = gd_count(r);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "d", &e, &n), BL_ENET);
  BL_CHECK_INT(gd_count(r) - c0, 3);
  BL_CHECK(strstr(bl_remote_errmsg(r), "500") != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), "listing 'd'") != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), "3 attempts") != NULL);
  /* Rate limited throughout: BL_ERATELIMIT. */
  gd_control("POST", "/_emulator/config", "{\"fail_next\": [429, 429, 429]}");
  BL_CHECK_INT(gd_write_str(r, "d/x", "x"), BL_ERATELIMIT);
  gd_control("POST", "/_emulator/config", "{\"fail_next\": []}");
  bl_remote_free(r);
}

static void test_remote_gdrive__large_files(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *r = gd_open();
  BL_REQUIRE(r);
  size_t big = 12u << 20;
  unsigned char *data = malloc(big);
  BL_REQUIRE(data);
  for (size_t i = 0; i < big; i++) data[i] = (unsigned char)(i * 7 + (i >> 13));
  /* New: a session and two chunks (8 MiB + 4 MiB). */
  BL_CHECK_INT(bl_remote_write_buf(r, "big", data, big), BL_OK);
  BL_CHECK_INT(gd_stat("by_endpoint.upload.session"), 2);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "big", &b), BL_OK);
  BL_CHECK(b.len == big && memcmp(b.data, data, big) == 0);
  /* Replaced in place, through a session too. */
  data[0] ^= 0xff;
  data[big - 1] ^= 0xff;
  BL_CHECK_INT(bl_remote_write_buf(r, "big", data, big), BL_OK);
  BL_CHECK_INT(gd_stat("by_endpoint.upload.session"), 4);
  BL_CHECK_INT(gd_stat("by_endpoint.files.update.upload"), 1);
  BL_CHECK_INT(conformance_read(r, "big", &b), BL_OK);
  BL_CHECK(b.len == big && memcmp(b.data, data, big) == 0);
  BL_CHECK_INT(gd_count_named(r, "", "big"), 1);
  /* A source that ends early fails before the file changes. */
  FILE *f = tmpfile();
  BL_REQUIRE(f);
  BL_CHECK_INT(fwrite(data, 1, 9u << 20, f), 9u << 20);
  rewind(f);
  BL_CHECK(bl_remote_write(r, "big", f, (int64_t)big) < 0);
  BL_CHECK(strstr(bl_remote_errmsg(r), "source ended") != NULL);
  rewind(f);
  BL_CHECK(bl_remote_write(r, "big2", f, (int64_t)big) < 0);
  fclose(f);
  BL_CHECK_INT(conformance_read(r, "big", &b), BL_OK);
  BL_CHECK(b.len == big && memcmp(b.data, data, big) == 0);
  BL_CHECK_INT(gd_count_named(r, "", "big2"), 0);
  /* Exactly 5 MiB still goes multipart. */
  long s0 = gd_stat("by_endpoint.upload.session");
  BL_CHECK_INT(bl_remote_write_buf(r, "five", data, 5u << 20), BL_OK);
  BL_CHECK_INT(gd_stat("by_endpoint.upload.session"), s0);
  BL_CHECK_INT(conformance_read(r, "five", &b), BL_OK);
  BL_CHECK(b.len == (5u << 20) && memcmp(b.data, data, 5u << 20) == 0);
  free(b.data);
  free(data);
  bl_remote_free(r);
}

/* Reads path and compares it with data[0..len). */
static int gd_same(bl_remote *r, const char *path, const unsigned char *data, size_t len) {
  conformance_buf b = {0};
  int same = conformance_read(r, path, &b) == BL_OK && b.len == len && !memcmp(b.data, data, len);
  free(b.data);
  return same;
}

/*
 * A resumable upload follows the Range of each 308 rather than assuming the
 * whole chunk arrived. The emulator cannot keep part of a chunk, but it can
 * be made to answer one with a 308 that keeps none of it (every n-th
 * request answered with rate_limit_status 308: nothing stored, no Range,
 * which Drive documents as "nothing received"): on the first chunk of a new
 * file; on the last chunk of an update (the upload goes back to byte 0,
 * and the emulator's Range, 16 MiB, sends it forward again); and on every
 * other request, until the bounded resends run out.
 */
static void test_remote_gdrive__resumable_ranges(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *r = gd_open();
  BL_REQUIRE(r);
  size_t big = 12u << 20;
  unsigned char *data = malloc(big);
  BL_REQUIRE(data);
  for (size_t i = 0; i < big; i++) data[i] = (unsigned char)(i * 13 + (i >> 11));
  const char *every3 = "{\"rate_limit_every\": 3, \"rate_limit_status\": 308}";
  const char *off = "{\"rate_limit_every\": 0, \"rate_limit_status\": 429}";

  /* New: lookup (1), session (2), chunk 1 refused (3), chunk 1 again (4),
   * chunk 2 (5). */
  gd_control("POST", "/_emulator/reset-stats", NULL);
  gd_control("POST", "/_emulator/config", every3);
  uint64_t c0 = gd_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "big", data, big), BL_OK);
  gd_control("POST", "/_emulator/config", off);
  BL_CHECK_INT(gd_count(r) - c0, 5);
  BL_CHECK_INT(gd_stat("by_endpoint.upload.session"), 3);
  BL_CHECK(gd_same(r, "big", data, big));

  /* Update of 20 MiB: session (1), chunks 1 and 2 (2, 3), chunk 3 refused
   * (4), from byte 0: chunk 1, which the emulator has (5: its Range says
   * 16 MiB), chunk 3 (6). */
  size_t big20 = 20u << 20;
  unsigned char *data20 = malloc(big20);
  BL_REQUIRE(data20);
  for (size_t i = 0; i < big20; i++) data20[i] = (unsigned char)(i * 7 + (i >> 13));
  BL_CHECK_INT(bl_remote_write_buf(r, "big20", data20, big20), BL_OK);
  data20[0] ^= 0xff;
  data20[big20 - 1] ^= 0xff;
  gd_control("POST", "/_emulator/reset-stats", NULL);
  gd_control("POST", "/_emulator/config", "{\"rate_limit_every\": 4, \"rate_limit_status\": 308}");
  c0 = gd_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "big20", data20, big20), BL_OK);
  gd_control("POST", "/_emulator/config", off);
  BL_CHECK_INT(gd_count(r) - c0, 6);
  BL_CHECK_INT(gd_stat("by_endpoint.upload.session"), 5);
  BL_CHECK(gd_same(r, "big20", data20, big20));
  BL_CHECK_INT(gd_count_named(r, "", "big20"), 1);
  free(data20);

  /* Every other request refused: session (1); chunk 1 refused (2) and
   * resent (3); then chunk 2 refused (4, 6, ...), each time after chunk 1
   * went again (5, 7, ...: the emulator has it and says "8 MiB"). 8 resends
   * are allowed: the 9th refusal (18) ends the write, and the file is as it
   * was. */
  unsigned char *other = malloc(big);
  BL_REQUIRE(other);
  memset(other, 'x', big);
  gd_control("POST", "/_emulator/reset-stats", NULL);
  gd_control("POST", "/_emulator/config", "{\"rate_limit_every\": 2, \"rate_limit_status\": 308}");
  c0 = gd_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "big", other, big), BL_EIO);
  gd_control("POST", "/_emulator/config", off);
  BL_CHECK_INT(gd_count(r) - c0, 18);
  BL_CHECK(strstr(bl_remote_errmsg(r), "writing 'big'") != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), "after 8 resends") != NULL);
  BL_CHECK(gd_same(r, "big", data, big));
  free(other);
  free(data);
  bl_remote_free(r);
}

/* read_many sinks: each job its own buffer. */
static void test_remote_gdrive__read_many(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *r = gd_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "App/m"), BL_OK);
  char paths[20][32], content[32];
  for (int i = 0; i < 20; i++) {
    snprintf(paths[i], sizeof paths[i], "App/m/f%02d", i);
    if (i != 13) BL_CHECK_INT(gd_write_str(r, paths[i], paths[i]), BL_OK);
  }
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "App/m", &e, &n), BL_OK);
  BL_CHECK_INT(n, 19);
  bl_remote_entries_free(e, n);

  bl_remote_read_job jobs[20];
  conformance_buf bufs[20];
  memset(bufs, 0, sizeof bufs);
  for (int i = 0; i < 20; i++)
    jobs[i] = (bl_remote_read_job){paths[i], conformance_sink, &bufs[i], 0, ""};
  uint64_t c0 = gd_count(r);
  BL_CHECK_INT(bl_remote_read_many(r, jobs, 20), BL_ENOTFOUND);
  /* 19 downloads and one lookup of the name the listing did not show. */
  BL_CHECK_INT(gd_count(r) - c0, 20);
  printf("     (read_many of 20, 1 missing: %llu requests)\n",
         (unsigned long long)(gd_count(r) - c0));
  for (int i = 0; i < 20; i++) {
    if (i == 13) {
      BL_CHECK_INT(jobs[i].rc, BL_ENOTFOUND);
      BL_CHECK(strstr(jobs[i].errmsg, "App/m/f13") != NULL);
      continue;
    }
    BL_CHECK_INT(jobs[i].rc, BL_OK);
    BL_CHECK(bufs[i].len == strlen(paths[i]) && memcmp(bufs[i].data, paths[i], bufs[i].len) == 0);
  }
  BL_CHECK(strstr(bl_remote_errmsg(r), "App/m/f13") != NULL);
  for (int i = 0; i < 20; i++) free(bufs[i].data);

  /* A fresh remote: the folder and the 20 names in few lookups. */
  bl_remote *r2 = gd_open();
  BL_REQUIRE(r2);
  memset(bufs, 0, sizeof bufs);
  c0 = gd_count(r2);
  BL_CHECK_INT(bl_remote_read_many(r2, jobs, 20), BL_ENOTFOUND);
  /* App, m, one query for the 20 names (in pages of 3: 7), 19 downloads */
  BL_CHECK_INT(gd_count(r2) - c0, 2 + 7 + 19);
  for (int i = 0; i < 20; i++) {
    if (i != 13) BL_CHECK(bufs[i].len == strlen(paths[i]));
    free(bufs[i].data);
  }
  (void)content;
  bl_remote_free(r2);
  bl_remote_free(r);
}

static void test_remote_gdrive__write_many(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *r = gd_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "App/w"), BL_OK);
  char paths[11][32];
  FILE *f[11];
  bl_remote_write_job jobs[11];
  for (int i = 0; i < 11; i++) {
    snprintf(paths[i], sizeof paths[i], i == 10 ? "App/nodir/x" : "App/w/f%02d", i);
    f[i] = tmpfile();
    BL_REQUIRE(f[i]);
    fputs(paths[i], f[i]);
    rewind(f[i]);
    jobs[i] = (bl_remote_write_job){paths[i], f[i], (int64_t)strlen(paths[i]), 0, ""};
  }
  uint64_t c0 = gd_count(r);
  BL_CHECK_INT(bl_remote_write_many(r, jobs, 10), BL_OK);
  /* One query for the 10 names, 10 uploads. */
  BL_CHECK_INT(gd_count(r) - c0, 11);
  printf("     (write_many of 10 new files: %llu requests)\n",
         (unsigned long long)(gd_count(r) - c0));
  for (int i = 0; i < 10; i++) {
    char *s = gd_read_str(r, paths[i]);
    BL_CHECK(s && strcmp(s, paths[i]) == 0);
    free(s);
  }
  /* Replacing them: 10 PATCHes, nothing else; a missing folder fails
   * alone. */
  for (int i = 0; i < 11; i++) rewind(f[i]);
  c0 = gd_count(r);
  BL_CHECK_INT(bl_remote_write_many(r, jobs, 11), BL_ENOTFOUND);
  BL_CHECK_INT(gd_count(r) - c0, 10 + 1); /* the lookup of App/nodir */
  for (int i = 0; i < 10; i++) BL_CHECK_INT(jobs[i].rc, BL_OK);
  BL_CHECK_INT(jobs[10].rc, BL_ENOTFOUND);
  BL_CHECK(strstr(jobs[10].errmsg, "App/nodir") != NULL);
  BL_CHECK_INT(gd_count_named(r, "App/w", "f03"), 1);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "App/w", &e, &n), BL_OK);
  BL_CHECK_INT(n, 10);
  bl_remote_entries_free(e, n);
  for (int i = 0; i < 11; i++) fclose(f[i]);
  bl_remote_free(r);
}

static void test_remote_gdrive__changes(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *a = gd_open(), *b = gd_open();
  BL_REQUIRE(a && b);
  const char *path = "App/changesets";
  BL_CHECK_INT(bl_remote_mkdir(a, "App/changesets/device-a"), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(b, "Other"), BL_OK);

  /* First call: everything (all = 1) and a token. */
  bl_remote_changes ch;
  BL_CHECK_INT(bl_remote_changes_since(a, path, NULL, &ch), BL_OK);
  BL_CHECK_INT(ch.all, 1);
  BL_REQUIRE(ch.token);
  char *tok = strdup(ch.token);
  bl_remote_changes_clear(&ch);

  /* Idle: one request, nothing. */
  uint64_t c0 = gd_count(a);
  BL_CHECK_INT(bl_remote_changes_since(a, path, tok, &ch), BL_OK);
  BL_CHECK_INT(gd_count(a) - c0, 1);
  BL_CHECK_INT(ch.all, 0);
  BL_CHECK_INT(ch.nfolders, 0);
  BL_REQUIRE(ch.token);
  free(tok);
  tok = strdup(ch.token);
  bl_remote_changes_clear(&ch);

  /* Another device writes into device-a, and outside the path. */
  BL_CHECK_INT(gd_write_str(b, "App/changesets/device-a/cs-00001.json", "1"), BL_OK);
  BL_CHECK_INT(gd_write_str(b, "Other/x", "outside"), BL_OK);
  BL_CHECK_INT(gd_write_str(b, "App/elsewhere", "outside too"), BL_OK);
  BL_CHECK_INT(bl_remote_changes_since(a, path, tok, &ch), BL_OK);
  BL_CHECK_INT(ch.all, 0);
  BL_CHECK_INT(ch.nfolders, 1);
  if (ch.nfolders == 1) BL_CHECK_STR(ch.folders[0], "App/changesets/device-a");
  free(tok);
  tok = strdup(ch.token);
  bl_remote_changes_clear(&ch);

  /* A new process with the old token: idle costs one request. */
  bl_remote *c = gd_open();
  BL_REQUIRE(c);
  c0 = gd_count(c);
  BL_CHECK_INT(bl_remote_changes_since(c, path, tok, &ch), BL_OK);
  BL_CHECK_INT(gd_count(c) - c0, 1);
  BL_CHECK_INT(ch.all, 0);
  BL_CHECK_INT(ch.nfolders, 0);
  bl_remote_changes_clear(&ch);
  /* ... and maps a change in a folder it never saw by walking up (device-b
   * is new, changesets known from the token). */
  BL_CHECK_INT(bl_remote_mkdir(b, "App/changesets/device-b"), BL_OK);
  BL_CHECK_INT(gd_write_str(b, "App/changesets/device-b/cs-00001.json", "1"), BL_OK);
  BL_CHECK_INT(gd_write_str(b, "App/changesets/device-a/cs-00002.json", "2"), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(b, "Other/deep/er"), BL_OK);
  BL_CHECK_INT(gd_write_str(b, "Other/deep/er/y", "outside"), BL_OK);
  c0 = gd_count(c);
  BL_CHECK_INT(bl_remote_changes_since(c, path, tok, &ch), BL_OK);
  BL_CHECK_INT(ch.all, 0);
  BL_CHECK_INT(ch.nfolders, 2);
  int seen_a = 0, seen_b = 0;
  for (size_t i = 0; i < ch.nfolders; i++) {
    seen_a += !strcmp(ch.folders[i], "App/changesets/device-a");
    seen_b += !strcmp(ch.folders[i], "App/changesets/device-b");
  }
  BL_CHECK(seen_a == 1 && seen_b == 1);
  printf("     (a fresh remote mapped %zu changes with %llu requests)\n", ch.nfolders,
         (unsigned long long)(gd_count(c) - c0));
  bl_remote_changes_clear(&ch);

  /* A token of another path, a malformed one, an expired one: all = 1 and
   * a fresh token. */
  BL_CHECK_INT(bl_remote_changes_since(a, "App", tok, &ch), BL_OK);
  BL_CHECK_INT(ch.all, 1);
  BL_CHECK(ch.token != NULL);
  bl_remote_changes_clear(&ch);
  BL_CHECK_INT(bl_remote_changes_since(a, path, "gd1:nonsense", &ch), BL_OK);
  BL_CHECK_INT(ch.all, 1);
  BL_CHECK(ch.token != NULL);
  bl_remote_changes_clear(&ch);
  char expired[512];
  snprintf(expired, sizeof expired, "%.*s999999", (int)(strrchr(tok, ':') + 1 - tok), tok);
  BL_CHECK_INT(bl_remote_changes_since(a, path, expired, &ch), BL_OK);
  BL_CHECK_INT(ch.all, 1);
  BL_REQUIRE(ch.token);
  BL_CHECK(strcmp(ch.token, expired) != 0);
  free(tok);
  tok = strdup(ch.token);
  bl_remote_changes_clear(&ch);
  /* The fresh token works. */
  BL_CHECK_INT(bl_remote_changes_since(a, path, tok, &ch), BL_OK);
  BL_CHECK_INT(ch.all, 0);
  BL_CHECK_INT(ch.nfolders, 0);
  bl_remote_changes_clear(&ch);

  /* The root as the path: changes anywhere. */
  BL_CHECK_INT(bl_remote_changes_since(c, "", NULL, &ch), BL_OK);
  BL_CHECK_INT(ch.all, 1);
  free(tok);
  tok = ch.token ? strdup(ch.token) : NULL;
  bl_remote_changes_clear(&ch);
  BL_REQUIRE(tok);
  BL_CHECK_INT(gd_write_str(b, "Other/x", "changed"), BL_OK);
  BL_CHECK_INT(gd_write_str(b, "top", "top"), BL_OK);
  BL_CHECK_INT(bl_remote_changes_since(c, "", tok, &ch), BL_OK);
  BL_CHECK_INT(ch.all, 0);
  BL_CHECK_INT(ch.nfolders, 2);
  seen_a = seen_b = 0;
  for (size_t i = 0; i < ch.nfolders; i++) {
    seen_a += !strcmp(ch.folders[i], "Other");
    seen_b += !strcmp(ch.folders[i], "");
  }
  BL_CHECK(seen_a == 1 && seen_b == 1);
  bl_remote_changes_clear(&ch);

  /* A path that does not exist yet: all = 1, no token to follow. */
  BL_CHECK_INT(bl_remote_changes_since(c, "Nowhere", NULL, &ch), BL_OK);
  BL_CHECK_INT(ch.all, 1);
  BL_CHECK(ch.token == NULL);
  bl_remote_changes_clear(&ch);
  free(tok);
  bl_remote_free(c);
  bl_remote_free(a);
  bl_remote_free(b);
}

static void test_remote_gdrive__messages(void) {
  BL_REQUIRE(gd_reset() == 0);
  bl_remote *r = gd_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(gd_write_str(r, "f", "x"), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "d", &b), BL_EIO);
  BL_CHECK(strstr(bl_remote_errmsg(r), "reading 'd'") != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), "folder") != NULL);
  BL_CHECK_INT(bl_remote_mkdir(r, "f"), BL_EIO);
  BL_CHECK(strstr(bl_remote_errmsg(r), "in the way") != NULL);
  BL_CHECK_INT(bl_remote_mkdir(r, "f/sub"), BL_EIO);
  BL_CHECK_INT(gd_write_str(r, "d", "x"), BL_EIO);
  BL_CHECK_INT(bl_remote_remove(r, "d"), BL_EIO);
  BL_CHECK_INT(gd_write_str(r, "f/x", "x"), BL_ENOTFOUND);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "f", &e, &n), BL_ENOTFOUND);
  BL_CHECK_INT(conformance_read(r, "a/b/c", &b), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_remote_errmsg(r), "'a/b/c'") != NULL);
  free(b.data);

  /* A job's message has 256 bytes: a long path keeps its end, a long
   * reason is cut, both marked, and no UTF-8 character is cut in two. */
  char longp[512] = "App/";
  for (int i = 0; i < 150; i++) strcat(longp, "\xc3\xa9"); /* e acute */
  strcat(longp, "/name-at-the-end");
  b = (conformance_buf){0};
  bl_remote_read_job job = {longp, conformance_sink, &b, 0, ""};
  BL_CHECK_INT(bl_remote_read_many(r, &job, 1), BL_ENOTFOUND);
  BL_CHECK_INT(job.rc, BL_ENOTFOUND);
  size_t mlen = strlen(job.errmsg);
  BL_CHECK(mlen < sizeof job.errmsg && mlen > 200);
  BL_CHECK(strncmp(job.errmsg, "reading '...", 12) == 0);
  BL_CHECK(strstr(job.errmsg, "/name-at-the-end': folder '") != NULL);
  BL_CHECK(mlen >= 3 && strcmp(job.errmsg + mlen - 3, "...") == 0);
  BL_CHECK(gd_utf8_valid(job.errmsg));
  free(b.data);
  bl_remote_free(r);
}

static const bl_test_case cases[] = {
    BL_CONFORMANCE_TESTS,
    BL_TEST(test_remote_gdrive__open),
    BL_TEST(test_remote_gdrive__pagination_and_counts),
    BL_TEST(test_remote_gdrive__escaped_names),
    BL_TEST(test_remote_gdrive__duplicate_files),
    BL_TEST(test_remote_gdrive__copies_without_checksums),
    BL_TEST(test_remote_gdrive__duplicate_folders),
    BL_TEST(test_remote_gdrive__stale_ids),
    BL_TEST(test_remote_gdrive__token_refresh),
    BL_TEST(test_remote_gdrive__retried_faults),
    BL_TEST(test_remote_gdrive__large_files),
    BL_TEST(test_remote_gdrive__resumable_ranges),
    BL_TEST(test_remote_gdrive__read_many),
    BL_TEST(test_remote_gdrive__write_many),
    BL_TEST(test_remote_gdrive__changes),
    BL_TEST(test_remote_gdrive__messages),
};

BL_TEST_MAIN(cases)
