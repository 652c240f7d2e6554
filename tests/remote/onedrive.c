/*
 * onedrive.c — the OneDrive backend against the Microsoft Graph emulator
 * (tests/emulators/graph.py): the conformance suite, then what is
 * OneDrive's own — pagination, upload sessions (and their failures),
 * token refresh and failing tokens, retries and persistent failures,
 * parent folders that are missing or gone, mkdir's cost, batches, and the
 * delta change feed.
 *
 * One emulator serves the whole binary (started on first use, stopped at
 * exit) with pages of 3 items, bearer token OD_TOKEN (and any
 * OD_TOKEN.<n>), simple uploads limited to 1 MiB and Retry-After 0. Every
 * remote starts from an emptied drive (/_emulator/reset) unless a case
 * opens a second remote on the same drive. Costs are counted in requests
 * (bl_remote_request_count and the emulator's own counters), never timed.
 *
 * Divided into: the emulator and remotes; helpers; cases.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "remote/onedrive_internal.h"
#include "servers/server_proc.h"
#include "testutil.h"
#include "util/errmsg.h"

#define OD_TOKEN "Sekr3tTok"
#define OD_EMU_SIMPLE_MAX (1024 * 1024)
#define OD_MIB (1024 * 1024)

/* ------------------------------------------------- the emulator and remotes */

static server_proc od_server;
static int od_state; /* 0: not started, 1: running, -1: failed to start */

static void od_stop(void) {
  if (od_state == 1) server_stop(&od_server);
  od_state = 0;
}

static const server_proc *od_emu(void) {
  if (od_state == 0) {
    static const char *const args[] = {"--page-size", "3", "--token", OD_TOKEN,
                                       "--simple-upload-max", "1048576", NULL};
    if (server_start_emulator(&od_server, "graph.py", args) != 0) {
      od_state = -1;
      return NULL;
    }
    od_state = 1;
    atexit(od_stop);
    /* Retries wait the backoff only (no second of Retry-After each). */
    free(server_control(&od_server, "POST", "/_emulator/config", "{\"retry_after\": 0}"));
  }
  return od_state == 1 ? &od_server : NULL;
}

/* What the token callback did, and how it should behave. */
typedef struct od_tok {
  int calls, refreshes;
  int fail;        /* give no token at all */
  const char *bad; /* always give this (rejected) token */
} od_tok;

static unsigned od_generation; /* tokens after a refresh: OD_TOKEN.1, .2, ... */

static int od_token_cb(char *buf, size_t size, int refresh, void *payload) {
  od_tok *t = payload;
  if (t) {
    t->calls++;
    t->refreshes += refresh != 0;
    if (t->fail) return -1;
    if (t->bad) {
      snprintf(buf, size, "%s", t->bad);
      return 0;
    }
  }
  if (refresh) snprintf(buf, size, "%s.%u", OD_TOKEN, ++od_generation);
  else snprintf(buf, size, "%s", OD_TOKEN);
  return 0;
}

static void od_control(const char *method, const char *path, const char *body) {
  const server_proc *s = od_emu();
  if (s) free(server_control(s, method, path, body));
}

/* A counter of the emulator (0 when absent). */
static long od_stat(const char *field) {
  const server_proc *s = od_emu();
  long v = s ? server_stat(s, field) : -1;
  return v < 0 ? 0 : v;
}

/* A remote on the emulator; reset: empty the drive (and forget expired
 * tokens) first. max_attempts 0 is the default. */
static bl_remote *od_open_with(int reset, od_tok *tok, int max_attempts) {
  const server_proc *s = od_emu();
  if (!s) return NULL;
  if (reset) od_control("POST", "/_emulator/reset", NULL);
  char api[200];
  snprintf(api, sizeof api, "%s/v1.0", s->base_url);
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  o.token = od_token_cb;
  o.token_payload = tok;
  o.api_url = api;
  o.max_attempts = max_attempts;
  bl_remote *r = NULL;
  if (bl_remote_open_ex(&r, "onedrive://App", &o) != BL_OK) {
    fprintf(stderr, "  opening onedrive://App: %s\n", bl_remote_errmsg(NULL));
    return NULL;
  }
  return r;
}

static bl_remote *od_open(void) { return od_open_with(1, NULL, 0); }

static int od_conf_open(bl_remote **out, void *payload) {
  *out = od_open();
  return *out ? BL_OK : BL_EIO;
}

static void od_conf_close(bl_remote *r, void *payload) { bl_remote_free(r); }

/* Another remote on the same emulator, not reset: another device. */
static int od_conf_peer(bl_remote **out, bl_remote *first, void *payload) {
  (void)first;
  (void)payload;
  *out = od_open_with(0, NULL, 0);
  return *out ? BL_OK : BL_EIO;
}

const conformance_backend conformance_target = {"onedrive", od_conf_open, od_conf_close, NULL, od_conf_peer};

/* ------------------------------------------------------------------ helpers */

/* `len` pseudo-random bytes (xorshift from seed), malloc'ed. */
static unsigned char *od_bytes(size_t len, uint64_t seed) {
  unsigned char *p = malloc(len ? len : 1);
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (size_t i = 0; p && i < len; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    p[i] = (unsigned char)(x >> 24);
  }
  return p;
}

/* Whether `path` holds exactly data[0..len). */
static int od_holds(bl_remote *r, const char *path, const unsigned char *data, size_t len) {
  conformance_buf b = {0};
  int rc = conformance_read(r, path, &b);
  int ok = rc == BL_OK && b.len == len && (len == 0 || memcmp(b.data, data, len) == 0);
  if (!ok) fprintf(stderr, "  '%s': rc %d, %zu bytes (expected %zu): %s\n", path, rc, b.len, len, bl_remote_errmsg(r));
  free(b.data);
  return ok;
}

static uint64_t od_count(bl_remote *r) { return bl_remote_request_count(r); }

/* A FILE holding data[0..len), at its start. */
static FILE *od_file(const unsigned char *data, size_t len) {
  FILE *f = tmpfile();
  if (f && (len == 0 || fwrite(data, 1, len, f) == len) && fflush(f) == 0) {
    rewind(f);
    return f;
  }
  if (f) fclose(f);
  return NULL;
}

/* Whether folders[] of a change answer holds `folder`. */
static int od_reported(const bl_remote_changes *c, const char *folder) {
  for (size_t i = 0; i < c->nfolders; i++)
    if (!strcmp(c->folders[i], folder)) return 1;
  return 0;
}

/* -------------------------------------------------------------------- cases */

static void test_remote_onedrive__open(void) {
  bl_remote *r = (bl_remote *)&r;
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  BL_CHECK_INT(bl_remote_open_ex(&r, "onedrive://App", &o), BL_EMISUSE);
  BL_CHECK(r == NULL);
  BL_CHECK(strstr(bl_remote_errmsg(NULL), "token callback") != NULL);
  BL_CHECK_INT(bl_remote_open(&r, "onedrive://App"), BL_EMISUSE);
  o.token = od_token_cb;
  BL_CHECK_INT(bl_remote_open_ex(&r, "onedrive://App/sub", &o), BL_EMISUSE);
  BL_CHECK_INT(bl_remote_open_ex(&r, "onedrive://%2e%2e", &o), BL_EMISUSE);
  o.api_url = "graph.example.com";
  BL_CHECK_INT(bl_remote_open_ex(&r, "onedrive://App", &o), BL_EMISUSE);
  /* The real service by default; opening sends nothing. */
  BL_CHECK_INT(bl_remote_onedrive(&r, od_token_cb, NULL), BL_OK);
  BL_CHECK_INT(bl_remote_request_count(r), 0);
  bl_remote_free(r);
  o.api_url = NULL;
  BL_CHECK_INT(bl_remote_open_ex(&r, "onedrive://App", &o), BL_OK);
  bl_remote_free(r);
  /* Plain http to another host than loopback is refused by the HTTP layer. */
  o.api_url = "http://graph.example.com/v1.0";
  BL_CHECK_INT(bl_remote_open_ex(&r, "onedrive://App", &o), BL_OK);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_EMISUSE);
  BL_CHECK(strstr(bl_remote_errmsg(r), "plain http") != NULL);
  bl_remote_free(r);
}

static void test_remote_onedrive__pagination(void) {
  bl_remote *r = od_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "p"), BL_OK);
  char path[32];
  for (int i = 0; i < 10; i++) {
    snprintf(path, sizeof path, "p/f%02d", i);
    BL_CHECK_INT(bl_remote_write_buf(r, path, "0123456789", (size_t)i), BL_OK);
  }
  uint64_t before = od_count(r);
  long gets = od_stat("by_endpoint.item.get");
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "p", &e, &n), BL_OK);
  BL_CHECK_INT(n, 10);
  /* 10 entries in pages of 3: 4 requests, the first and 3 nextLinks. */
  BL_CHECK_INT(od_count(r) - before, 4);
  BL_CHECK_INT(od_stat("by_endpoint.item.get") - gets, 4);
  for (int i = 0; i < 10; i++) {
    snprintf(path, sizeof path, "f%02d", i);
    long k = conformance_find(e, n, path);
    BL_CHECK(k >= 0);
    if (k >= 0) {
      BL_CHECK_INT(e[k].size, i);
      BL_CHECK_INT(e[k].is_folder, 0);
      BL_CHECK(e[k].mtime > 1600000000);
    }
  }
  bl_remote_entries_free(e, n);
  /* A listing of one page: one request. */
  before = od_count(r);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(n, 1);
  BL_CHECK_INT(od_count(r) - before, 1);
  bl_remote_entries_free(e, n);
  bl_remote_free(r);
}

static void test_remote_onedrive__upload_session(void) {
  bl_remote *r = od_open();
  BL_REQUIRE(r);
  bl__onedrive_set_simple_max(r, OD_EMU_SIMPLE_MAX);
  size_t len = 11 * OD_MIB + 123;
  unsigned char *data = od_bytes(len, 1);
  BL_REQUIRE(data);
  od_control("POST", "/_emulator/reset-stats", NULL);
  uint64_t before = od_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "big.bin", data, len), BL_OK);
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  /* createUploadSession, then fragments of 5 MiB: 5 + 5 + 1. */
  BL_CHECK_INT(od_count(r) - before, 4);
  BL_CHECK_INT(od_stat("by_endpoint.item.post"), 1);
  BL_CHECK_INT(od_stat("by_endpoint.uploadSession.put"), 3);
  BL_CHECK_INT(od_stat("by_endpoint.item.put"), 0);
  BL_CHECK(od_holds(r, "big.bin", data, len));
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK(n == 1 && e[0].size == (int64_t)len);
  bl_remote_entries_free(e, n);
  free(data);
  bl_remote_free(r);
}

static void test_remote_onedrive__upload_session_replace(void) {
  bl_remote *r = od_open();
  BL_REQUIRE(r);
  bl__onedrive_set_simple_max(r, OD_EMU_SIMPLE_MAX);
  bl__onedrive_set_fragment(r, 320 * 1024 + 5); /* rounded down to 320 KiB */
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  size_t alen = 3 * OD_MIB, blen = 2 * OD_MIB + 512 * 1024 + 7;
  unsigned char *a = od_bytes(alen, 2), *b = od_bytes(blen, 3);
  BL_REQUIRE(a && b);
  uint64_t before = od_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "d/f.bin", a, alen), BL_OK);
  BL_CHECK_INT(od_count(r) - before, 1 + 10); /* 3 MiB in 320 KiB fragments */
  BL_CHECK(od_holds(r, "d/f.bin", a, alen));
  BL_CHECK_INT(bl_remote_write_buf(r, "d/f.bin", b, blen), BL_OK);
  BL_CHECK(od_holds(r, "d/f.bin", b, blen));
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "d", &e, &n), BL_OK);
  BL_CHECK(n == 1 && e[0].size == (int64_t)blen);
  bl_remote_entries_free(e, n);

  /* A source shorter than announced fails part-way: the session is
   * cancelled and the old file stays whole. */
  od_control("POST", "/_emulator/reset-stats", NULL);
  FILE *f = od_file(a, 1536 * 1024);
  BL_REQUIRE(f);
  BL_CHECK_INT(bl_remote_write(r, "d/f.bin", f, (int64_t)alen), BL_EIO);
  BL_CHECK(strstr(bl_remote_errmsg(r), "d/f.bin") != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), "source ended") != NULL);
  fclose(f);
  BL_CHECK_INT(od_stat("by_endpoint.uploadSession.delete"), 1);
  BL_CHECK(od_holds(r, "d/f.bin", b, blen));

  /* Into a missing folder: no session is opened. */
  BL_CHECK_INT(bl_remote_write_buf(r, "nodir/f.bin", a, alen), BL_ENOTFOUND);

  /* The default threshold is 4 MiB; the emulator refuses more than 1 MiB
   * (413): the backend moves to a session by itself. */
  bl_remote_free(r);
  r = od_open_with(0, NULL, 0);
  BL_REQUIRE(r);
  before = od_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "two.bin", a, 2 * OD_MIB), BL_OK);
  BL_CHECK_INT(od_count(r) - before, 3); /* PUT 413, createUploadSession, one fragment */
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  BL_CHECK(od_holds(r, "two.bin", a, 2 * OD_MIB));
  free(a);
  free(b);
  bl_remote_free(r);
}

static void test_remote_onedrive__token_refresh(void) {
  od_tok tok = {0};
  bl_remote *r = od_open_with(1, &tok, 0);
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "a", "alpha", 5), BL_OK);
  BL_CHECK_INT(tok.calls, 1);
  BL_CHECK_INT(tok.refreshes, 0);
  od_control("POST", "/_emulator/expire-token", NULL);
  uint64_t before = od_count(r);
  BL_CHECK(od_holds(r, "a", (const unsigned char *)"alpha", 5));
  BL_CHECK_INT(od_count(r) - before, 2); /* 401, then the retry with a new token */
  BL_CHECK_INT(tok.refreshes, 1);
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  /* The new token goes on serving, without more refreshes. */
  BL_CHECK_INT(bl_remote_write_buf(r, "b", "beta", 4), BL_OK);
  BL_CHECK_INT(tok.refreshes, 1);
  bl_remote_free(r);
}

static void test_remote_onedrive__token_failures(void) {
  od_tok tok = {0};
  tok.fail = 1;
  bl_remote *r = od_open_with(1, &tok, 0);
  BL_REQUIRE(r);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_EAUTH);
  BL_CHECK(strstr(bl_remote_errmsg(r), "token callback") != NULL);
  BL_CHECK_INT(od_count(r), 0);
  bl_remote_free(r);

  /* A token the service rejects, before and after the refresh. */
  od_tok bad = {0};
  bad.bad = "BadSekr3tValue";
  r = od_open_with(0, &bad, 0);
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "x", "1", 1), BL_EAUTH);
  BL_CHECK_INT(bad.refreshes, 1);
  BL_CHECK(strstr(bl_remote_errmsg(r), "401") != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), "JWT") != NULL); /* Graph's own words */
  BL_CHECK(strstr(bl_remote_errmsg(r), "Sekr3t") == NULL);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "x", &b), BL_EAUTH);
  BL_CHECK(strstr(bl_remote_errmsg(r), "Sekr3t") == NULL);
  free(b.data);
  bl_remote_free(r);
}

static void test_remote_onedrive__retries(void) {
  bl_remote *r = od_open();
  BL_REQUIRE(r);
  od_control("POST", "/_emulator/config", "{\"fail_next\": [429, 503]}");
  uint64_t before = od_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "r", "retried", 7), BL_OK);
  BL_CHECK_INT(od_count(r) - before, 3);
  BL_CHECK_INT(od_stat("faults.scripted"), 2);
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  BL_CHECK(od_holds(r, "r", (const unsigned char *)"retried", 7));
  bl_remote_free(r);

  /* Persistent 503 with 3 attempts: BL_ENET with the status and Graph's
   * message. */
  r = od_open_with(1, NULL, 3);
  BL_REQUIRE(r);
  od_control("POST", "/_emulator/config", "{\"fail_next\": [503, 503, 503]}");
  bl_remote_entry *e = NULL;
  size_t n = 0;
  before = od_count(r);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_ENET);
  BL_CHECK_INT(od_count(r) - before, 3);
  BL_CHECK(strstr(bl_remote_errmsg(r), "503") != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), "temporarily unavailable") != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), "listing ''") != NULL);
  /* Persistent 429: BL_ERATELIMIT. */
  od_control("POST", "/_emulator/config", "{\"fail_next\": [429, 429, 429]}");
  BL_CHECK_INT(bl_remote_write_buf(r, "x", "1", 1), BL_ERATELIMIT);
  BL_CHECK(strstr(bl_remote_errmsg(r), "throttled") != NULL);
  /* The queue is spent: the service answers again. */
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(n, 0);
  bl_remote_entries_free(e, n);
  bl_remote_free(r);
}

static void test_remote_onedrive__missing_parent(void) {
  bl_remote *r = od_open();
  BL_REQUIRE(r);
  bl_remote *other = od_open_with(0, NULL, 0);
  BL_REQUIRE(other);
  uint64_t before = od_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "nodir/x", "1", 1), BL_ENOTFOUND);
  BL_CHECK_INT(od_count(r) - before, 1); /* the parent's lookup */
  BL_CHECK(strstr(bl_remote_errmsg(r), "nodir/x") != NULL);
  BL_CHECK_INT(bl_remote_write_buf(r, "a/b/x", "1", 1), BL_ENOTFOUND);
  /* Nothing was created on the way (Graph would create parents of a PUT
   * by path; the backend writes through the parent's id). */
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(n, 0);
  bl_remote_entries_free(e, n);

  /* A folder made here costs no lookup to write into. */
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  before = od_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "d/x", "x", 1), BL_OK);
  BL_CHECK_INT(od_count(r) - before, 1);
  /* Removed by another device: the cached id is stale, looked up again. */
  BL_CHECK_INT(bl_remote_remove(other, "d"), BL_OK);
  before = od_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "d/y", "y", 1), BL_ENOTFOUND);
  BL_CHECK_INT(od_count(r) - before, 2);
  /* Removed and made again by another device: written into the new one. */
  BL_CHECK_INT(bl_remote_mkdir(r, "e"), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "e/x", "x", 1), BL_OK);
  BL_CHECK_INT(bl_remote_remove(other, "e"), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(other, "e"), BL_OK);
  before = od_count(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "e/y", "y", 1), BL_OK);
  BL_CHECK_INT(od_count(r) - before, 3); /* PUT 404, lookup, PUT */
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  BL_CHECK_INT(bl_remote_list(other, "e", &e, &n), BL_OK);
  BL_CHECK(n == 1 && !strcmp(e[0].name, "y"));
  bl_remote_entries_free(e, n);
  /* A file where the parent should be. */
  BL_CHECK_INT(bl_remote_write_buf(r, "f", "f", 1), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "f/x", "x", 1), BL_ENOTFOUND);
  bl_remote_free(other);
  bl_remote_free(r);
}

static void test_remote_onedrive__mkdir(void) {
  bl_remote *r = od_open();
  BL_REQUIRE(r);
  uint64_t before = od_count(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "x/y/z"), BL_OK);
  BL_CHECK_INT(od_count(r) - before, 6); /* 3 lookups, 3 creations */
  BL_CHECK_STR(bl_remote_errmsg(r), "");
  before = od_count(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "x/y/z"), BL_OK);
  BL_CHECK_INT(od_count(r) - before, 1); /* there already: one GET */
  before = od_count(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "x/y/w"), BL_OK);
  BL_CHECK_INT(od_count(r) - before, 3); /* w missing, x/y there, create w */
  BL_CHECK_INT(bl_remote_mkdir(r, ""), BL_OK);
  /* Names are case-insensitive on OneDrive: "X" is "x". */
  BL_CHECK_INT(bl_remote_mkdir(r, "X/Y"), BL_OK);
  /* Things in the way. */
  BL_CHECK_INT(bl_remote_write_buf(r, "file", "1", 1), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(r, "file"), BL_EIO);
  BL_CHECK(strstr(bl_remote_errmsg(r), "in the way") != NULL);
  BL_CHECK_INT(bl_remote_mkdir(r, "file/sub"), BL_EIO);
  BL_CHECK_INT(bl_remote_write_buf(r, "x", "1", 1), BL_EIO);
  BL_CHECK(strstr(bl_remote_errmsg(r), "in the way") != NULL);
  /* Below a folder another remote made. */
  bl_remote *other = od_open_with(0, NULL, 0);
  BL_REQUIRE(other);
  BL_CHECK_INT(bl_remote_mkdir(other, "q"), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(r, "q/r"), BL_OK);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(n, 3); /* x, file, q */
  bl_remote_entries_free(e, n);
  bl_remote_free(other);
  bl_remote_free(r);
}

static void test_remote_onedrive__read_many(void) {
  bl_remote *r = od_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "rm"), BL_OK);
  enum { N = 20, MISSING = 7 };
  char paths[N][32];
  unsigned char *data[N];
  bl_remote_read_job jobs[N];
  conformance_buf bufs[N];
  memset(jobs, 0, sizeof jobs);
  memset(bufs, 0, sizeof bufs);
  for (int i = 0; i < N; i++) {
    snprintf(paths[i], sizeof paths[i], "rm/cs-%05d.json", i);
    data[i] = od_bytes((size_t)(1000 * i + 1), (uint64_t)i + 10);
    BL_REQUIRE(data[i]);
    if (i != MISSING) BL_CHECK_INT(bl_remote_write_buf(r, paths[i], data[i], (size_t)(1000 * i + 1)), BL_OK);
    jobs[i].path = paths[i];
    jobs[i].sink = conformance_sink;
    jobs[i].payload = &bufs[i];
  }
  uint64_t before = od_count(r);
  BL_CHECK_INT(bl_remote_read_many(r, jobs, N), BL_ENOTFOUND);
  BL_CHECK_INT(od_count(r) - before, N);
  BL_CHECK(strstr(bl_remote_errmsg(r), paths[MISSING]) != NULL);
  for (int i = 0; i < N; i++) {
    if (i == MISSING) {
      BL_CHECK_INT(jobs[i].rc, BL_ENOTFOUND);
      BL_CHECK(strstr(jobs[i].errmsg, paths[i]) != NULL);
      continue;
    }
    BL_CHECK_INT(jobs[i].rc, BL_OK);
    BL_CHECK_STR(jobs[i].errmsg, "");
    BL_CHECK(bufs[i].len == (size_t)(1000 * i + 1) && !memcmp(bufs[i].data, data[i], bufs[i].len));
  }
  for (int i = 0; i < N; i++) free(bufs[i].data), free(data[i]);
  bl_remote_free(r);
}

static void test_remote_onedrive__write_many(void) {
  bl_remote *r = od_open();
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_mkdir(r, "wm"), BL_OK);
  enum { N = 10 };
  char paths[N][32];
  unsigned char *data[N];
  size_t lens[N];
  bl_remote_write_job jobs[N];
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < N; i++) {
    snprintf(paths[i], sizeof paths[i], "wm/cs-%05d.json", i);
    lens[i] = (size_t)(777 * i);
    data[i] = od_bytes(lens[i], (uint64_t)i + 100);
    BL_REQUIRE(data[i]);
    jobs[i].path = paths[i];
    jobs[i].src = od_file(data[i], lens[i]);
    jobs[i].size = (int64_t)lens[i];
    BL_REQUIRE(jobs[i].src);
  }
  uint64_t before = od_count(r);
  BL_CHECK_INT(bl_remote_write_many(r, jobs, N), BL_OK);
  BL_CHECK_INT(od_count(r) - before, N); /* the parent's id is known from mkdir */
  for (int i = 0; i < N; i++) {
    BL_CHECK_INT(jobs[i].rc, BL_OK);
    BL_CHECK(od_holds(r, paths[i], data[i], lens[i]));
  }

  /* A batch with failures of its own: a missing folder, a short source, a
   * file large enough for a session; the others are written. */
  bl__onedrive_set_simple_max(r, 4000);
  for (int i = 0; i < N; i++) {
    rewind(jobs[i].src);
    data[i][0] ^= 0xff; /* new content ... */
    fseek(jobs[i].src, 0, SEEK_SET);
    BL_REQUIRE(lens[i] == 0 || fwrite(data[i], 1, 1, jobs[i].src) == 1);
    rewind(jobs[i].src);
  }
  snprintf(paths[2], sizeof paths[2], "nodir/cs-00002.json");
  jobs[5].size += 10;
  BL_CHECK_INT(bl_remote_write_many(r, jobs, N), BL_ENOTFOUND); /* the first failure, by index */
  BL_CHECK_INT(jobs[2].rc, BL_ENOTFOUND);
  BL_CHECK(strstr(jobs[2].errmsg, "nodir") != NULL);
  BL_CHECK_INT(jobs[5].rc, BL_EIO);
  BL_CHECK(strstr(jobs[5].errmsg, "source ended") != NULL);
  for (int i = 0; i < N; i++) {
    if (i == 2 || i == 5) continue;
    BL_CHECK_INT(jobs[i].rc, BL_OK);
    BL_CHECK(od_holds(r, paths[i], data[i], lens[i])); /* 6..9 through sessions */
  }
  for (int i = 0; i < N; i++) fclose(jobs[i].src), free(data[i]);
  bl_remote_free(r);
}

static void test_remote_onedrive__changes(void) {
  bl_remote *reader = od_open();
  BL_REQUIRE(reader);
  bl_remote *writer = od_open_with(0, NULL, 0);
  BL_REQUIRE(writer);
  const char *path = "App/changesets";
  BL_CHECK_INT(bl_remote_mkdir(writer, "App/changesets/device-a"), BL_OK);
  BL_CHECK_INT(bl_remote_mkdir(writer, "App/other"), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(writer, "App/changesets/device-a/cs-00001.json", "1", 1), BL_OK);

  /* First call: no token, so everything may have changed. */
  bl_remote_changes c;
  BL_CHECK_INT(bl_remote_changes_since(reader, path, NULL, &c), BL_OK);
  BL_CHECK_INT(c.all, 1);
  BL_REQUIRE(c.token);
  char *t1 = strdup(c.token);
  bl_remote_changes_clear(&c);

  /* Idle: one request, nothing. */
  uint64_t before = od_count(reader);
  BL_CHECK_INT(bl_remote_changes_since(reader, path, t1, &c), BL_OK);
  BL_CHECK_INT(od_count(reader) - before, 1);
  BL_CHECK_INT(c.all, 0);
  BL_CHECK_INT(c.nfolders, 0);
  BL_REQUIRE(c.token);
  char *t2 = strdup(c.token);
  bl_remote_changes_clear(&c);

  /* A file in a device folder, one outside `path`, and more than a page. */
  BL_CHECK_INT(bl_remote_write_buf(writer, "App/changesets/device-a/cs-00002.json", "2", 1), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(writer, "App/changesets/device-a/cs-00003.json", "3", 1), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(writer, "App/other/x", "x", 1), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(writer, "top", "t", 1), BL_OK);
  BL_CHECK_INT(bl_remote_changes_since(reader, path, t2, &c), BL_OK);
  BL_CHECK_INT(c.all, 0);
  BL_CHECK_INT(c.nfolders, 1);
  BL_CHECK(od_reported(&c, "App/changesets/device-a"));
  BL_REQUIRE(c.token);
  char *t3 = strdup(c.token);
  bl_remote_changes_clear(&c);
  /* The same changes for the whole app folder. */
  BL_CHECK_INT(bl_remote_changes_since(reader, "", t2, &c), BL_OK);
  BL_CHECK_INT(c.nfolders, 3);
  BL_CHECK(od_reported(&c, "App/changesets/device-a"));
  BL_CHECK(od_reported(&c, "App/other"));
  BL_CHECK(od_reported(&c, ""));
  bl_remote_changes_clear(&c);

  /* A fresh remote given the old token: idle costs one request. */
  bl_remote *fresh = od_open_with(0, NULL, 0);
  BL_REQUIRE(fresh);
  before = od_count(fresh);
  BL_CHECK_INT(bl_remote_changes_since(fresh, path, t3, &c), BL_OK);
  BL_CHECK_INT(od_count(fresh) - before, 1);
  BL_CHECK_INT(c.all, 0);
  BL_CHECK_INT(c.nfolders, 0);
  bl_remote_changes_clear(&c);
  /* A new device folder, from scratch in the fresh remote's eyes. */
  BL_CHECK_INT(bl_remote_mkdir(writer, "App/changesets/device-b"), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(writer, "App/changesets/device-b/cs-00001.json", "b", 1), BL_OK);
  BL_CHECK_INT(bl_remote_changes_since(fresh, path, t3, &c), BL_OK);
  BL_CHECK_INT(c.all, 0);
  BL_CHECK_INT(c.nfolders, 1);
  BL_CHECK(od_reported(&c, "App/changesets/device-b"));
  bl_remote_changes_clear(&c);
  /* Known folders cost no more lookups: the delta request alone. */
  BL_CHECK_INT(bl_remote_write_buf(writer, "App/changesets/device-b/cs-00002.json", "b", 1), BL_OK);
  before = od_count(fresh);
  BL_CHECK_INT(bl_remote_changes_since(fresh, path, t3, &c), BL_OK);
  BL_CHECK_INT(od_count(fresh) - before, 1);
  BL_CHECK(od_reported(&c, "App/changesets/device-b"));
  bl_remote_changes_clear(&c);
  /* Deletions are left out. */
  BL_REQUIRE(bl_remote_changes_since(fresh, path, t3, &c) == BL_OK && c.token);
  char *t4 = strdup(c.token);
  bl_remote_changes_clear(&c);
  BL_CHECK_INT(bl_remote_remove(writer, "App/changesets/device-a/cs-00001.json"), BL_OK);
  BL_CHECK_INT(bl_remote_changes_since(fresh, path, t4, &c), BL_OK);
  BL_CHECK_INT(c.all, 0);
  BL_CHECK_INT(c.nfolders, 0);
  bl_remote_changes_clear(&c);

  /* Tokens that are not usable: everything, and a new token. */
  const char *bad[] = {"gd1:whatever", "od1:", "od1:X:https://evil.example.com/v1.0/delta?token=1", t1 + 1};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    BL_CHECK_INT(bl_remote_changes_since(fresh, path, bad[i], &c), BL_OK);
    BL_CHECK_INT(c.all, 1);
    BL_CHECK(c.token != NULL && strncmp(c.token, "od1:", 4) == 0);
    bl_remote_changes_clear(&c);
  }
  /* An expired token (410 resyncRequired): everything, and a new token. */
  char expired[512];
  const char *q = strstr(t1, "token=");
  BL_REQUIRE(q);
  snprintf(expired, sizeof expired, "%.*stoken=bm90LWEtbnVtYmVy", (int)(q - t1), t1);
  before = od_count(fresh);
  BL_CHECK_INT(bl_remote_changes_since(fresh, path, expired, &c), BL_OK);
  BL_CHECK_INT(c.all, 1);
  BL_CHECK_INT(od_count(fresh) - before, 2); /* 410, then token=latest */
  BL_CHECK(c.token != NULL);
  BL_CHECK_STR(bl_remote_errmsg(fresh), "");
  bl_remote_changes_clear(&c);

  free(t1);
  free(t2);
  free(t3);
  free(t4);
  bl_remote_free(fresh);
  bl_remote_free(writer);
  bl_remote_free(reader);
}

static const bl_test_case cases[] = {
    BL_CONFORMANCE_TESTS,
    BL_TEST(test_remote_onedrive__open),
    BL_TEST(test_remote_onedrive__pagination),
    BL_TEST(test_remote_onedrive__upload_session),
    BL_TEST(test_remote_onedrive__upload_session_replace),
    BL_TEST(test_remote_onedrive__token_refresh),
    BL_TEST(test_remote_onedrive__token_failures),
    BL_TEST(test_remote_onedrive__retries),
    BL_TEST(test_remote_onedrive__missing_parent),
    BL_TEST(test_remote_onedrive__mkdir),
    BL_TEST(test_remote_onedrive__read_many),
    BL_TEST(test_remote_onedrive__write_many),
    BL_TEST(test_remote_onedrive__changes),
};

BL_TEST_MAIN(cases)
