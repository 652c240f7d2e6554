/*
 * cloud.c — the sync engine through the HTTP backends, against the Drive
 * and Graph emulators (tests/emulators/) started here on 127.0.0.1.
 *
 * Randomized: 4 devices with small snapshot thresholds write and sync in a
 * random order while the service fails ~8% of requests (two tries each) (500/502/503),
 * answers 429 now and then, and pages listings by 2. Every device has its
 * own remote object, as separate processes would. At the end every device
 * syncs round-robin until quiet, and then:
 *   - the devices converged (rows and clocks, th_converged);
 *   - every row a device inserted and nobody deleted exists everywhere;
 *   - a sync with nothing new anywhere costs at most 3 requests (the
 *     change feed), however many devices pushed;
 *   - a change made after that is seen by the next sync of another device.
 * A sync may fail midway under faults; the property is that the next ones
 * repair everything.
 *
 * BL_CLOUD_SEED=S replays seed S; BL_CLOUD_STEPS=N steps per run (60).
 *
 * A second test pins the change feed's rule: a pull that could not finish
 * a device (a download failed) keeps the old token, so the next sync visits
 * that device again even though nothing changed since.
 *
 * A third puts a second copy of one changeset into a device's folder on
 * Drive (which allows two files of one name), as another client could:
 * the same bytes are harmless; different bytes are a "corrupt" error for
 * that device alone, which is not applied past the copies until they are
 * resolved, while the other devices still sync.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "helpers.h"
#include "net/http.h"
#include "remote/fault.h"
#include "servers/server_proc.h"

#define CL_DEV 4

static unsigned long cl_rand_state;
static unsigned cl_rand(unsigned n) {
  cl_rand_state = cl_rand_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (unsigned)((cl_rand_state >> 33) % n);
}

static int cl_token(char *buf, size_t size, int refresh, void *payload) {
  (void)refresh;
  (void)payload;
  snprintf(buf, size, "tok");
  return 0;
}

static bl_remote *cl_remote(const char *scheme, const server_proc *s) {
  char api[256], url[64];
  snprintf(api, sizeof api, "%s%s", s->base_url, strcmp(scheme, "onedrive") == 0 ? "/v1.0" : "");
  snprintf(url, sizeof url, "%s://Backless", scheme);
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  o.token = cl_token;
  o.api_url = api;
  o.max_attempts = 2; /* so that some syncs fail midway and later ones repair */
  bl_remote *r = NULL;
  if (bl_remote_open_ex(&r, url, &o) != BL_OK) fprintf(stderr, "  open %s: %s\n", url, bl_errmsg(NULL));
  return r;
}

/* One sync; under faults a failure is allowed (counted). */
static int cl_sync(bl_db *db, bl_remote *r) {
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  int rc = bl_sync(db, r, &res);
  if (rc != BL_OK && getenv("BL_TEST_VERBOSE"))
    fprintf(stderr, "  sync failed (allowed under faults): %s\n", bl_errmsg(db));
  bl_sync_result_free(&res);
  return rc;
}

static void cl_run(const char *scheme, const char *script) {
  unsigned long seed = getenv("BL_CLOUD_SEED") ? strtoul(getenv("BL_CLOUD_SEED"), NULL, 10) : (unsigned long)time(NULL);
  int steps = getenv("BL_CLOUD_STEPS") ? atoi(getenv("BL_CLOUD_STEPS")) : 60;
  cl_rand_state = seed;
  printf("  %s: seed %lu (BL_CLOUD_SEED=%lu replays it)\n", scheme, seed, seed);
  char seed_arg[32];
  snprintf(seed_arg, sizeof seed_arg, "%lu", seed);
  const char *args[] = {"--page-size", "2", "--token", "tok", "--fail-rate", "0.08", "--rate-limit-every", "37",
                        "--retry-after", "0", "--seed", seed_arg, NULL};
  server_proc s;
  BL_REQUIRE(server_start_emulator(&s, script, args) == 0);
  char *dir = th_tmpdir();
  bl_db *db[CL_DEV];
  bl_remote *r[CL_DEV];
  th_opts o = {0, 3, 4, BL_MISMATCH_ABORT};
  for (int i = 0; i < CL_DEV; i++) {
    char name[32];
    snprintf(name, sizeof name, "d%d.db", i);
    db[i] = th_open(dir, name, &o);
    r[i] = cl_remote(scheme, &s);
    BL_REQUIRE(db[i] && r[i]);
  }
  int inserted[CL_DEV] = {0};
  int failures = 0;
  for (int step = 0; step < steps; step++) {
    int d = (int)cl_rand(CL_DEV);
    switch (cl_rand(5)) {
    case 0:
    case 1:
      th_execf(db[d], "INSERT INTO todos (id, title) VALUES ('d%d-%d', 'step %d')", d, inserted[d]++, step);
      break;
    case 2: /* an update of a shared key: concurrent edits of one row */
      th_execf(db[d], "INSERT INTO todos (id, title, done) VALUES ('shared-%u', 'by %d', %u) "
                      "ON CONFLICT(id) DO UPDATE SET title = excluded.title, done = excluded.done",
               cl_rand(3), d, cl_rand(2));
      break;
    default:
      failures += cl_sync(db[d], r[d]) != BL_OK;
    }
  }
  /* Faults off: everyone syncs until nothing moves. */
  free(server_control(&s, "POST", "/_emulator/config", "{\"fail_rate\": 0, \"rate_limit_every\": 0}"));
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < CL_DEV; i++) BL_CHECK_INT(cl_sync(db[i], r[i]), BL_OK);
  printf("  %s: %d syncs failed under faults and were repaired\n", scheme, failures);
  BL_CHECK(th_converged(db, CL_DEV, scheme));
  for (int i = 0; i < CL_DEV; i++)
    for (int k = 0; k < inserted[i]; k++) {
      char sql[128];
      snprintf(sql, sizeof sql, "SELECT count(*) FROM todos WHERE id = 'd%d-%d'", i, k);
      for (int j = 0; j < CL_DEV; j++) BL_CHECK_INT(th_int(db[j], sql), 1);
    }

  /* Idle: nothing new anywhere. */
  uint64_t before = bl_remote_request_count(r[0]);
  BL_CHECK_INT(cl_sync(db[0], r[0]), BL_OK);
  uint64_t idle = bl_remote_request_count(r[0]) - before;
  printf("  %s: idle sync with %d devices: %llu requests\n", scheme, CL_DEV, (unsigned long long)idle);
  BL_CHECK(idle <= 3);
  /* A change after that reaches another device at its next sync. */
  th_exec(db[1], "INSERT INTO todos (id, title) VALUES ('late', 'after idle')");
  BL_CHECK_INT(cl_sync(db[1], r[1]), BL_OK);
  BL_CHECK_INT(cl_sync(db[0], r[0]), BL_OK);
  BL_CHECK_INT(th_int(db[0], "SELECT count(*) FROM todos WHERE id = 'late'"), 1);

  for (int i = 0; i < CL_DEV; i++) {
    bl_close(db[i]);
    bl_remote_free(r[i]);
  }
  server_stop(&s);
  th_rmtree(dir);
  free(dir);
}

static void test_sync_cloud__gdrive_random_with_faults(void) {
  cl_run("gdrive", "gdrive.py");
}

static void test_sync_cloud__onedrive_random_with_faults(void) {
  cl_run("onedrive", "graph.py");
}

static void test_sync_cloud__unfinished_pull_keeps_the_feed(void) {
  const char *args[] = {"--token", "tok", NULL};
  server_proc s;
  BL_REQUIRE(server_start_emulator(&s, "gdrive.py", args) == 0);
  char *dir = th_tmpdir();
  th_opts o = {0};
  bl_db *a = th_open(dir, "a.db", &o), *b = th_open(dir, "b.db", &o);
  bl_remote *ra = cl_remote("gdrive", &s), *inner = cl_remote("gdrive", &s), *rb = NULL;
  BL_REQUIRE(a && b && ra && inner && bl__remote_fault_new(&rb, inner) == BL_OK);

  /* B's first sync: nothing to pull; the feed's token is stored. */
  BL_CHECK_INT(cl_sync(b, rb), BL_OK);
  for (int i = 0; i < 3; i++) {
    th_execf(a, "INSERT INTO todos (id, title) VALUES ('k%d', 'pushed %d')", i, i);
    BL_CHECK_INT(cl_sync(a, ra), BL_OK);
  }
  /* B's second download fails: cs-1 applied, cs-2 and cs-3 not. */
  bl__fault_fail(rb, BL__FAULT_READ, 2, BL_ENET);
  BL_CHECK(cl_sync(b, rb) != BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos"), 1);
  /* Nothing changed on the remote since; the next sync still finishes. */
  bl__fault_reset(rb);
  uint64_t before = bl_remote_request_count(rb);
  BL_CHECK_INT(cl_sync(b, rb), BL_OK);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos"), 3);
  /* And then the feed is quiet again. */
  before = bl_remote_request_count(rb);
  BL_CHECK_INT(cl_sync(b, rb), BL_OK);
  BL_CHECK_INT(bl_remote_request_count(rb) - before, 1);

  bl_remote_free(rb);
  bl_remote_free(inner);
  bl_remote_free(ra);
  bl_close(a);
  bl_close(b);
  server_stop(&s);
  th_rmtree(dir);
  free(dir);
}

/* ------------------------------------------- another client of the drive */

/* One request to the Drive emulator as another client would send it, over
 * the library's HTTP layer (token "tok"). Returns the answer's body
 * (malloc'ed, NUL-terminated, its length in *len when len is not NULL), or
 * NULL when the request failed. */
static char *cl_drive(const server_proc *s, const char *method, const char *url, const char *ctype,
                      const void *body, size_t body_len, size_t *len) {
  bl__http_opts h = BL__HTTP_OPTS_INIT;
  h.base_url = s->base_url;
  h.token = cl_token;
  bl__http_client *c = NULL;
  if (bl__http_client_new(&c, &h) != BL_OK) return NULL;
  char type[128];
  snprintf(type, sizeof type, "Content-Type: %s", ctype ? ctype : "application/json");
  const char *headers[] = {type, NULL};
  bl__http_request req = {.method = method, .url = url, .headers = headers, .body = body, .body_len = body_len};
  char *out = NULL;
  if (bl__http_perform(c, &req) == BL_OK) {
    out = malloc(req.response_len + 1);
    if (out) {
      if (req.response_len) memcpy(out, req.response, req.response_len);
      out[req.response_len] = '\0';
      if (len) *len = req.response_len;
    }
  } else {
    fprintf(stderr, "  %s %s: %s\n", method, url, req.errmsg);
  }
  bl__http_request_clear(&req);
  bl__http_client_free(c);
  return out;
}

/* The ids of the files (not in the trash) named `name`, in folder `parent`
 * when it is not NULL, into ids[0..max) (each malloc'ed). Returns how many
 * there are, or -1. */
static int cl_drive_find(const server_proc *s, const char *parent, const char *name, char **ids, int max) {
  char q[512], url[1024];
  if (parent)
    snprintf(q, sizeof q, "name = '%s' and '%s' in parents and trashed = false", name, parent);
  else
    snprintf(q, sizeof q, "name = '%s' and trashed = false", name);
  size_t o = (size_t)snprintf(url, sizeof url, "/drive/v3/files?pageSize=100&fields=files(id)&q=");
  for (const unsigned char *c = (const unsigned char *)q; *c && o + 4 < sizeof url; c++) {
    int plain = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || strchr("-._~", *c);
    o += (size_t)snprintf(url + o, sizeof url - o, plain ? "%c" : "%%%02X", *c);
  }
  char *body = cl_drive(s, "GET", url, NULL, NULL, 0, NULL);
  if (!body) return -1;
  int n = 0;
  for (const char *p = body; (p = strstr(p, "\"id\"")) != NULL;) {
    p = strchr(p + 4, '"');
    const char *end = p ? strchr(p + 1, '"') : NULL;
    if (!end) break;
    if (n < max && (ids[n] = malloc((size_t)(end - p)))) {
      memcpy(ids[n], p + 1, (size_t)(end - p - 1));
      ids[n][end - p - 1] = '\0';
    }
    n++;
    p = end + 1;
  }
  free(body);
  return n;
}

/* Creates file `name` holding data[0..len) in folder `parent` with a
 * multipart upload, next to any file of that name. Returns the new file's
 * id (malloc'ed) or NULL. */
static char *cl_drive_create(const server_proc *s, const char *parent, const char *name, const char *data,
                             size_t len) {
  const char *boundary = "cl-copy-4f1d9a";
  size_t cap = len + 1024, o = 0;
  char *body = malloc(cap);
  if (!body) return NULL;
  o += (size_t)snprintf(body, cap,
                        "--%s\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
                        "{\"name\": \"%s\", \"parents\": [\"%s\"]}\r\n--%s\r\n"
                        "Content-Type: application/octet-stream\r\n\r\n",
                        boundary, name, parent, boundary);
  memcpy(body + o, data, len);
  o += len;
  o += (size_t)snprintf(body + o, cap - o, "\r\n--%s--\r\n", boundary);
  char ctype[128];
  snprintf(ctype, sizeof ctype, "multipart/related; boundary=%s", boundary);
  char *out = cl_drive(s, "POST", "/upload/drive/v3/files?uploadType=multipart&fields=id", ctype, body, o, NULL);
  free(body);
  char *id = NULL;
  const char *p = out ? strstr(out, "\"id\"") : NULL;
  p = p ? strchr(p + 4, '"') : NULL;
  const char *end = p ? strchr(p + 1, '"') : NULL;
  if (end && (id = malloc((size_t)(end - p)))) {
    memcpy(id, p + 1, (size_t)(end - p - 1));
    id[end - p - 1] = '\0';
  }
  free(out);
  return id;
}

static int cl_drive_delete(const server_proc *s, const char *id) {
  char url[256];
  snprintf(url, sizeof url, "/drive/v3/files/%s", id);
  char *out = cl_drive(s, "DELETE", url, NULL, NULL, 0, NULL);
  free(out);
  return out ? 0 : -1;
}

/* The error of `device` with this code in res, or NULL. */
static const bl_sync_issue *cl_error(const bl_sync_result *res, const char *device, int code) {
  for (size_t i = 0; i < res->errors_count; i++)
    if (res->errors[i].code == code && res->errors[i].device && strcmp(res->errors[i].device, device) == 0)
      return &res->errors[i];
  return NULL;
}

/*
 * Two copies of A's cs-00002.json on Drive. With the same bytes (a retried
 * upload) a fresh device B syncs everything. With different bytes (here a
 * valid changeset that says something else, the newer of the two) nobody
 * can tell which one A meant: a fresh device C gets a BL_SYNC_CORRUPT
 * error for A that names the copies, applies A up to cs-1 only, and still
 * pulls device D in the same sync. A's next push writes another name and
 * leaves the copies alone (only a write of cs-00002.json itself would
 * clean them up), so A stays stuck at cs-1 on C until the wrong copy is
 * deleted; then C goes on.
 */
static void test_sync_cloud__duplicate_changeset_on_drive(void) {
  const char *args[] = {"--token", "tok", NULL};
  server_proc s;
  BL_REQUIRE(server_start_emulator(&s, "gdrive.py", args) == 0);
  char *dir = th_tmpdir();
  th_opts o = {0};
  th_compression = BL_COMPRESSION_NONE; /* the test reads and edits the plain JSON */
  bl_db *a = th_open(dir, "a.db", &o), *b = th_open(dir, "b.db", &o), *c = th_open(dir, "c.db", &o),
        *d = th_open(dir, "d.db", &o);
  th_compression = BL_COMPRESSION_DEFAULT;
  bl_remote *ra = cl_remote("gdrive", &s), *rb = cl_remote("gdrive", &s), *rc = cl_remote("gdrive", &s),
            *rd = cl_remote("gdrive", &s);
  BL_REQUIRE(a && b && c && d && ra && rb && rc && rd);
  const char *aid = bl_device_id(a), *did = bl_device_id(d);

  th_exec(a, "INSERT INTO todos (id, title) VALUES ('k1', 'row one')");
  BL_CHECK_INT(cl_sync(a, ra), BL_OK);
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('k2', 'row two')");
  BL_CHECK_INT(cl_sync(a, ra), BL_OK);
  th_exec(d, "INSERT INTO todos (id, title) VALUES ('d1', 'from d')");
  BL_CHECK_INT(cl_sync(d, rd), BL_OK);

  /* A's folder and its cs-00002.json, as another client finds them. */
  char folder[64], *ids[4] = {NULL, NULL, NULL, NULL}, *fid = NULL, *csid = NULL;
  snprintf(folder, sizeof folder, "device-%s", aid);
  BL_REQUIRE(cl_drive_find(&s, NULL, folder, ids, 4) == 1);
  fid = ids[0];
  BL_REQUIRE(cl_drive_find(&s, fid, "cs-00002.json", ids, 4) == 1);
  csid = ids[0];
  char url[256];
  snprintf(url, sizeof url, "/drive/v3/files/%s?alt=media", csid);
  size_t len = 0;
  char *bytes = cl_drive(&s, "GET", url, NULL, NULL, 0, &len);
  BL_REQUIRE(bytes && strstr(bytes, "row two"));

  /* (a) The same bytes twice: one file. */
  char *same = cl_drive_create(&s, fid, "cs-00002.json", bytes, len);
  BL_REQUIRE(same);
  BL_CHECK_INT(cl_drive_find(&s, fid, "cs-00002.json", ids, 0), 2);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  BL_CHECK_INT(th_sync(b, rb, &res), BL_OK);
  BL_CHECK_INT(res.errors_count, 0);
  BL_CHECK_INT(th_int(b, "SELECT count(*) FROM todos WHERE id IN ('k1', 'k2', 'd1')"), 3);
  BL_CHECK_INT(th_cursor(b, aid), 2);
  bl_sync_result_free(&res);
  BL_REQUIRE(cl_drive_delete(&s, same) == 0);

  /* (b) A copy that says something else: still a valid changeset. */
  char *other = strstr(bytes, "row two");
  memcpy(other, "ROW TWO", 7);
  char *differs = cl_drive_create(&s, fid, "cs-00002.json", bytes, len);
  BL_REQUIRE(differs);
  BL_CHECK_INT(cl_drive_find(&s, fid, "cs-00002.json", ids, 0), 2);
  th_exec(d, "INSERT INTO todos (id, title) VALUES ('d2', 'from d again')");
  BL_CHECK_INT(cl_sync(d, rd), BL_OK);
  BL_CHECK_INT(th_sync(c, rc, &res), BL_ECORRUPT);
  const bl_sync_issue *e = cl_error(&res, aid, BL_SYNC_CORRUPT);
  BL_CHECK(e != NULL);
  if (e) printf("  C's error for A: %s\n", e->message);
  BL_CHECK(e && strstr(e->message, "cs-00002.json") && strstr(e->message, "2 copies of this name with different"));
  BL_CHECK_INT(res.errors_count, 1);
  bl_sync_result_free(&res);
  BL_CHECK_INT(th_cursor(c, aid), 1);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos WHERE id = 'k1'"), 1);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos WHERE id = 'k2'"), 0);
  /* D was pulled in the same sync. */
  BL_CHECK_INT(th_cursor(c, did), 2);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos WHERE id IN ('d1', 'd2')"), 2);

  /* A pushes cs-00003.json: the copies of cs-00002.json stay, and so does
   * C's error (A's files are applied in order). */
  th_exec(a, "INSERT INTO todos (id, title) VALUES ('k3', 'row three')");
  BL_CHECK_INT(cl_sync(a, ra), BL_OK);
  BL_CHECK_INT(cl_drive_find(&s, fid, "cs-00002.json", ids, 0), 2);
  BL_CHECK_INT(th_sync(c, rc, &res), BL_ECORRUPT);
  BL_CHECK(cl_error(&res, aid, BL_SYNC_CORRUPT) != NULL);
  bl_sync_result_free(&res);
  BL_CHECK_INT(th_cursor(c, aid), 1);

  /* The wrong copy deleted: C goes on, with A's own row two. */
  BL_REQUIRE(cl_drive_delete(&s, differs) == 0);
  BL_CHECK_INT(th_sync(c, rc, &res), BL_OK);
  bl_sync_result_free(&res);
  BL_CHECK_INT(th_cursor(c, aid), 3);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos WHERE id = 'k2' AND title = 'row two'"), 1);
  BL_CHECK_INT(th_int(c, "SELECT count(*) FROM todos"), 5);

  free(bytes);
  free(same);
  free(differs);
  free(csid);
  free(fid);
  bl_remote_free(ra);
  bl_remote_free(rb);
  bl_remote_free(rc);
  bl_remote_free(rd);
  bl_close(a);
  bl_close(b);
  bl_close(c);
  bl_close(d);
  server_stop(&s);
  th_rmtree(dir);
  free(dir);
}

static const bl_test_case cases[] = {
    BL_TEST(test_sync_cloud__unfinished_pull_keeps_the_feed),
    BL_TEST(test_sync_cloud__duplicate_changeset_on_drive),
    BL_TEST(test_sync_cloud__gdrive_random_with_faults),
    BL_TEST(test_sync_cloud__onedrive_random_with_faults),
};
BL_TEST_MAIN(cases)
