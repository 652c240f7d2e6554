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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "helpers.h"
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
  server_control(&s, "POST", "/_emulator/config", "{\"fail_rate\": 0, \"rate_limit_every\": 0}");
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

static const bl_test_case cases[] = {
    BL_TEST(test_sync_cloud__unfinished_pull_keeps_the_feed),
    BL_TEST(test_sync_cloud__gdrive_random_with_faults),
    BL_TEST(test_sync_cloud__onedrive_random_with_faults),
};
BL_TEST_MAIN(cases)
