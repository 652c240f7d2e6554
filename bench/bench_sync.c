/*
 * bench_sync.c — performance of the sync engine (SPEC section 11,
 * docs/PERFORMANCE.md). A benchmark program, never a timed test.
 *
 * Figures, each measured in this run:
 *   push       N rows inserted on device A, then one bl_push: changes/s,
 *              and the changeset's bytes per change; for a plain (JSON),
 *              a compressed (zstd, the default) and a compressed and
 *              encrypted app folder
 *   pull       device B pulls that changeset: changes/s, next to the rate of
 *              merging the same changes with bl_crdt_merge from memory (the
 *              CRDT floor: the format and file I/O should cost little more)
 *   bootstrap  a new device starts from a snapshot of N rows through the
 *              folder backend with an emulated round trip (--rtt-ms, default
 *              50) added to every remote call: seconds and requests
 *   snapshot   peak RSS of a fresh process applying a snapshot of
 *              --snapshot-changes changes (default 1,000,000), against the
 *              RSS of the same process before the pull
 *   idle       requests of an idle sync with 10 remote devices (folder)
 *   drive-boot a new device bootstraps N rows through the Google Drive
 *              emulator (tests/emulators/gdrive.py, started here) with
 *              --drive-latency-ms (default 50) added to every request:
 *              seconds, requests, bytes downloaded
 *   drive-idle requests of an idle sync with 10 remote devices on the Drive
 *              emulator (the change feed), and its time at that latency
 *
 * The remote used is the folder backend wrapped in a counting, delaying
 * remote defined here (a backend written against include/backless/remote.h).
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backless.h"
#include "backless/remote.h"
#include "servers/server_proc.h"

/* This program's path, for the fresh process of the snapshot figure (not
 * /proc/self/exe: under valgrind that is valgrind's launcher). */
static char self_path[4096] = "/proc/self/exe";

static struct {
  long rows;
  long snapshot_changes;
  int rtt_ms;
  const char *dir;
  int quiet;
  int drive_latency_ms;
  int no_drive;
} opt = {100000, 1000000, 50, NULL, 0, 50, 0};

/* ------------------------------------------------------------------ helpers */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Peak RSS of this process image, KiB: VmHWM from /proc (getrusage's
 * ru_maxrss would also count the parent's peak inherited across exec). */
static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = 0;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) v = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return v;
}

/* Current (not peak) RSS from /proc, KiB. */
static long rss_now_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_sync: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

/* ------------------------------------------------- counting, delaying remote */

typedef struct slow_remote {
  bl_remote base; /* first */
  bl_remote *inner;
  int rtt_ms;
  long calls[5]; /* list read write remove mkdir */
} slow_remote;

static void slow_wait(slow_remote *s) {
  if (s->rtt_ms <= 0) return;
  struct timespec ts = {s->rtt_ms / 1000, (long)(s->rtt_ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int slow_pass(slow_remote *s, int rc) {
  if (rc != BL_OK) bl_remote_set_error(&s->base, rc, "%s", bl_remote_errmsg(s->inner));
  return rc;
}

static int slow_list(bl_remote *r, const char *p, bl_remote_entry **out, size_t *n) {
  slow_remote *s = (slow_remote *)r;
  s->calls[0]++;
  slow_wait(s);
  return slow_pass(s, bl_remote_list(s->inner, p, out, n));
}
static int slow_read(bl_remote *r, const char *p, bl_remote_sink sink, void *payload) {
  slow_remote *s = (slow_remote *)r;
  s->calls[1]++;
  slow_wait(s);
  return slow_pass(s, bl_remote_read(s->inner, p, sink, payload));
}
static int slow_write(bl_remote *r, const char *p, FILE *src, int64_t size) {
  slow_remote *s = (slow_remote *)r;
  s->calls[2]++;
  slow_wait(s);
  return slow_pass(s, bl_remote_write(s->inner, p, src, size));
}
static int slow_remove(bl_remote *r, const char *p) {
  slow_remote *s = (slow_remote *)r;
  s->calls[3]++;
  slow_wait(s);
  return slow_pass(s, bl_remote_remove(s->inner, p));
}
static int slow_mkdir(bl_remote *r, const char *p) {
  slow_remote *s = (slow_remote *)r;
  s->calls[4]++;
  slow_wait(s);
  return slow_pass(s, bl_remote_mkdir(s->inner, p));
}
static void slow_free(bl_remote *r) {
  slow_remote *s = (slow_remote *)r;
  bl_remote_free(s->inner);
  free(s);
}

static slow_remote *slow_open(const char *path, int rtt_ms) {
  slow_remote *s = calloc(1, sizeof *s);
  if (!s) die("out of memory");
  if (bl_remote_folder(&s->inner, path) != BL_OK) die("%s", bl_errmsg(NULL));
  s->base.version = BL_REMOTE_VERSION;
  s->base.list = slow_list;
  s->base.read = slow_read;
  s->base.write = slow_write;
  s->base.remove = slow_remove;
  s->base.mkdir = slow_mkdir;
  s->base.free = slow_free;
  s->rtt_ms = rtt_ms;
  return s;
}

static long slow_total(const slow_remote *s) {
  long t = 0;
  for (int i = 0; i < 5; i++) t += s->calls[i];
  return t;
}

/* ------------------------------------------------------------------ devices */

static const char *const tables[] = {"todos"};

static int create(sqlite3 *db, void *p) {
  (void)p;
  return sqlite3_exec(db,
                      "CREATE TABLE todos (id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL DEFAULT '',"
                      " done INTEGER NOT NULL DEFAULT 0, due REAL)",
                      NULL, NULL, NULL);
}

static bl_schema schema = BL_SCHEMA_INIT;

/* How new app folders are made (bench_push_pull runs each): 0 plain JSON
 * (version 1), 1 zstd (the default), 2 zstd + encrypted. */
static int bench_mode = 1;
static const char *const bench_mode_name[] = {"plain JSON", "zstd", "zstd + encrypted"};

static int bench_passphrase(char *buf, size_t size, void *payload) {
  (void)payload;
  snprintf(buf, size, "bench passphrase");
  return 0;
}

static bl_db *device(const char *name, int threshold) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", opt.dir, name);
  bl_config c = BL_CONFIG_INIT;
  c.schema = &schema;
  c.database_path = path;
  c.snapshot_threshold = threshold;
  c.compression = bench_mode == 0 ? BL_COMPRESSION_NONE : BL_COMPRESSION_ZSTD;
  if (bench_mode == 2) {
    c.passphrase = bench_passphrase;
    c.kdf_opslimit = 2; /* INTERACTIVE costs: the key is derived once per device, outside the timings */
    c.kdf_memlimit = 64u << 20;
  }
  bl_db *db = NULL;
  if (bl_open(&db, &c) != BL_OK) die("open %s: %s", path, bl_errmsg(NULL));
  sqlite3_exec(bl_sqlite(db), "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
  return db;
}

/* Inserts `rows` typical todo rows (3 columns each) in one transaction. */
static void fill(bl_db *db, long rows, long offset) {
  sqlite3 *s = bl_sqlite(db);
  sqlite3_stmt *st = NULL;
  sqlite3_exec(s, "BEGIN", NULL, NULL, NULL);
  sqlite3_prepare_v2(s, "INSERT INTO todos (id, title, done, due) VALUES (?, ?, ?, ?)", -1, &st, NULL);
  uint32_t x = 2463534242u;
  for (long i = 0; i < rows; i++) {
    char id[64], title[64];
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    snprintf(id, sizeof id, "%08lx-%04x-4%03x-8%03x-%012lx", offset + i, x & 0xffff, (x >> 4) & 0xfff,
             (x >> 8) & 0xfff, (long)(x * 2654435761u));
    snprintf(title, sizeof title, "Todo number %ld: buy %u things", offset + i, x % 1000);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, (int)(x & 1));
    sqlite3_bind_double(st, 4, 1.7e9 + (x % 100000) * 0.25);
    if (sqlite3_step(st) != SQLITE_DONE) die("insert: %s", sqlite3_errmsg(s));
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
}

static void check(int rc, bl_db *db, const bl_sync_result *r, const char *what) {
  if (rc == BL_OK) return;
  fprintf(stderr, "bench_sync: %s failed: %s\n", what, bl_errmsg(db));
  for (size_t i = 0; i < r->errors_count; i++) fprintf(stderr, "  %s\n", r->errors[i].message);
  exit(1);
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* ------------------------------------------------------------------ figures */

/* Merge rate of the same changes through bl_crdt_merge from memory. */
static double merge_rate(bl_db *from) {
  sqlite3 *src = bl_sqlite(from);
  bl_db *to = device("merge-floor.db", 0);
  sqlite3 *dst = bl_sqlite(to);
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(src,
                     "SELECT \"table\", pk, cid, val, col_version, db_version, site_id, cl, seq FROM crsql_changes",
                     -1, &st, NULL);
  size_t cap = 1024, n = 0;
  bl_crdt_change *ch = malloc(cap * sizeof *ch);
  sqlite3_value **vals = malloc(cap * sizeof *vals);
  void **keep = malloc(cap * 3 * sizeof *keep);
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (n == cap) {
      cap *= 2;
      ch = realloc(ch, cap * sizeof *ch);
      vals = realloc(vals, cap * sizeof *vals);
      keep = realloc(keep, cap * 3 * sizeof *keep);
    }
    bl_crdt_change *c = &ch[n];
    memset(c, 0, sizeof *c);
    c->table = keep[3 * n] = strdup((const char *)sqlite3_column_text(st, 0));
    c->table_len = (int)strlen(c->table);
    c->pk_len = sqlite3_column_bytes(st, 1);
    c->pk = keep[3 * n + 1] = malloc((size_t)c->pk_len);
    memcpy((void *)c->pk, sqlite3_column_blob(st, 1), (size_t)c->pk_len);
    c->cid = keep[3 * n + 2] = strdup((const char *)sqlite3_column_text(st, 2));
    c->cid_len = (int)strlen(c->cid);
    c->val = vals[n] = sqlite3_value_dup(sqlite3_column_value(st, 3));
    c->col_version = sqlite3_column_int64(st, 4);
    c->db_version = sqlite3_column_int64(st, 5);
    static unsigned char site[16];
    memcpy(site, sqlite3_column_blob(st, 6), 16);
    c->site_id = site;
    c->site_id_len = 16;
    c->cl = sqlite3_column_int64(st, 7);
    c->seq = sqlite3_column_int64(st, 8);
    n++;
  }
  sqlite3_finalize(st);
  double t0 = now();
  sqlite3_exec(dst, "BEGIN", NULL, NULL, NULL);
  char *err = NULL;
  if (bl_crdt_merge(dst, ch, n, &err) != SQLITE_OK) die("merge: %s", err);
  sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL);
  double t = now() - t0;
  for (size_t i = 0; i < n; i++) {
    sqlite3_value_free(vals[i]);
    free(keep[3 * i]), free(keep[3 * i + 1]), free(keep[3 * i + 2]);
  }
  free(ch), free(vals), free(keep);
  bl_close(to);
  return n / t;
}

static double bench_push_pull_mode(int mode, double floor_rate) {
  bench_mode = mode;
  char cloud[4096], name_a[64], name_b[64];
  snprintf(cloud, sizeof cloud, "%s/cloud-pp%d", opt.dir, mode);
  snprintf(name_a, sizeof name_a, "push-a%d.db", mode);
  snprintf(name_b, sizeof name_b, "pull-b%d.db", mode);
  mkdir(cloud, 0755);
  slow_remote *r = slow_open(cloud, 0);
  bl_db *a = device(name_a, 0), *b = device(name_b, 0);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  /* Settings (and for an encrypted folder the key derivation) before the
   * clock starts: a sync of each device with nothing to send. */
  check(bl_sync(a, &r->base, &res), a, &res, "first sync");
  check(bl_sync(b, &r->base, &res), b, &res, "first sync");
  fill(a, opt.rows, 0);
  double t0 = now();
  check(bl_push(a, &r->base, &res), a, &res, "push");
  double tpush = now() - t0;
  int64_t changes = res.pushed;
  char path[8192];
  snprintf(path, sizeof path, "%s/Backless/changesets/device-%s/cs-00001.json", cloud, bl_device_id(a));
  long bytes = file_size(path);

  t0 = now();
  check(bl_pull(b, &r->base, &res), b, &res, "pull");
  double tpull = now() - t0;
  if (res.pulled != changes) die("pulled %lld of %lld changes", (long long)res.pulled, (long long)changes);
  double floor = floor_rate > 0 ? floor_rate : merge_rate(a);

  printf("[%s]\n", bench_mode_name[mode]);
  printf("push       %ld rows, %lld changes: %.3f s, %.0f changes/s\n", opt.rows, (long long)changes, tpush,
         changes / tpush);
  printf("pull       %.3f s, %.0f changes/s; bl_crdt_merge from memory %.0f changes/s (pull = %.2f x merge)\n",
         tpull, changes / tpull, floor, (changes / tpull) / floor);
  printf("format     %ld bytes, %.1f bytes per change (%s)\n", bytes, (double)bytes / changes, bench_mode_name[mode]);
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(b);
  bl_remote_free(&r->base);
  return floor;
}

/* The merge floor is measured once (in the plain run) and shown beside
 * every mode, so the three pull rates compare with one reference. */
static void bench_push_pull(void) {
  double floor = 0;
  for (int mode = 0; mode < 3; mode++) floor = bench_push_pull_mode(mode, floor);
  bench_mode = 1;
}

static void bench_bootstrap(void) {
  char cloud[4096];
  snprintf(cloud, sizeof cloud, "%s/cloud-boot", opt.dir);
  mkdir(cloud, 0755);
  slow_remote *fast = slow_open(cloud, 0);
  bl_db *a = device("boot-a.db", 1); /* threshold 1: the push writes a snapshot */
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  fill(a, opt.rows, 0);
  check(bl_sync(a, &fast->base, &res), a, &res, "push");
  slow_remote *slow = slow_open(cloud, opt.rtt_ms);
  bl_db *c = device("boot-c.db", 0);
  double t0 = now();
  check(bl_sync(c, &slow->base, &res), c, &res, "bootstrap");
  double t = now() - t0;
  printf("bootstrap  %ld rows from snapshot, %d ms round trip: %.2f s, %ld requests (%lld changes, %lld files)\n",
         opt.rows, opt.rtt_ms, t, slow_total(slow), (long long)res.pulled, (long long)res.files_pulled);
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(c);
  bl_remote_free(&fast->base);
  bl_remote_free(&slow->base);
}

static void bench_snapshot_rss(void) {
  char cloud[4096];
  snprintf(cloud, sizeof cloud, "%s/cloud-big", opt.dir);
  mkdir(cloud, 0755);
  slow_remote *r = slow_open(cloud, 0);
  long rows = opt.snapshot_changes / 3; /* title, done, due per row */
  bl_db *a = device("big-a.db", 1);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  fill(a, rows, 0);
  check(bl_push(a, &r->base, &res), a, &res, "push");
  bl_close(a);
  fflush(stdout);
  /* A fresh process (exec of ourselves), so its peak RSS is the apply's. */
  pid_t pid = fork();
  if (pid == 0) {
    execl(self_path, "bench_sync", "--apply-snapshot", opt.dir, cloud, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("snapshot child failed");
  bl_sync_result_free(&res);
  bl_remote_free(&r->base);
}

/* The child of bench_snapshot_rss: a new device pulls the snapshot. */
static int apply_snapshot_child(const char *cloud) {
  long before = rss_now_kib();
  slow_remote *r = slow_open(cloud, 0);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  bl_db *c = device("big-c.db", 0);
  long opened = rss_now_kib();
  double t0 = now();
  check(bl_pull(c, &r->base, &res), c, &res, "pull");
  double t = now() - t0;
  printf("snapshot   %lld changes (1 file) applied in %.2f s, %.0f changes/s; RSS at start %.1f MiB, after open "
         "%.1f MiB, peak %.1f MiB\n",
         (long long)res.pulled, t, res.pulled / t, before / 1024.0, opened / 1024.0, rss_kib() / 1024.0);
  bl_close(c);
  bl_sync_result_free(&res);
  bl_remote_free(&r->base);
  return 0;
}

static void bench_idle(void) {
  char cloud[4096];
  snprintf(cloud, sizeof cloud, "%s/cloud-idle", opt.dir);
  mkdir(cloud, 0755);
  slow_remote *r = slow_open(cloud, 0);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  bl_db *devs[11];
  for (int i = 0; i < 11; i++) {
    char name[32];
    snprintf(name, sizeof name, "idle-%d.db", i);
    devs[i] = device(name, 0);
    fill(devs[i], 10, i * 100);
    check(bl_sync(devs[i], &r->base, &res), devs[i], &res, "sync");
  }
  check(bl_sync(devs[0], &r->base, &res), devs[0], &res, "sync");
  for (int i = 0; i < 5; i++) r->calls[i] = 0;
  check(bl_sync(devs[0], &r->base, &res), devs[0], &res, "idle sync");
  printf("idle       sync with 10 remote devices (folder): %ld requests (%ld list, %ld read, %ld write)\n",
         slow_total(r), r->calls[0], r->calls[1], r->calls[2]);
  for (int i = 0; i < 11; i++) bl_close(devs[i]);
  bl_sync_result_free(&res);
  bl_remote_free(&r->base);
}

/* ------------------------------------------------------ Drive emulator */

static int drive_token(char *buf, size_t size, int refresh, void *payload) {
  (void)refresh;
  (void)payload;
  snprintf(buf, size, "bench");
  return 0;
}

static bl_remote *drive_remote(const server_proc *s) {
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  o.token = drive_token;
  o.api_url = s->base_url;
  o.max_in_flight = 8;
  bl_remote *r = NULL;
  if (bl_remote_open_ex(&r, "gdrive://Bench", &o) != BL_OK) die("gdrive remote: %s", bl_errmsg(NULL));
  return r;
}

static void drive_latency(const server_proc *s, int ms) {
  char body[64];
  snprintf(body, sizeof body, "{\"latency_ms\": %d}", ms);
  free(server_control(s, "POST", "/_emulator/config", body));
}

static void bench_drive(void) {
  server_proc s;
  if (server_start_emulator(&s, "gdrive.py", NULL) != 0) {
    printf("drive-boot skipped: the Drive emulator did not start\n");
    return;
  }
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  bl_remote *ra = drive_remote(&s);
  bl_db *a = device("drive-a.db", 1); /* threshold 1: the push writes a snapshot */
  fill(a, opt.rows, 0);
  check(bl_sync(a, ra, &res), a, &res, "push through Drive");

  drive_latency(&s, opt.drive_latency_ms);
  free(server_control(&s, "POST", "/_emulator/reset-stats", NULL));
  bl_remote *rc = drive_remote(&s);
  bl_db *c = device("drive-c.db", 0);
  double t0 = now();
  check(bl_sync(c, rc, &res), c, &res, "bootstrap through Drive");
  double t = now() - t0;
  long bytes = server_stat(&s, "bytes_out");
  printf("drive-boot %ld rows from snapshot, %d ms per request: %.2f s, %llu requests, %ld bytes down (%lld changes, %lld files)\n",
         opt.rows, opt.drive_latency_ms, t, (unsigned long long)bl_remote_request_count(rc), bytes, (long long)res.pulled,
         (long long)res.files_pulled);

  /* Ten more devices push; A takes them in; then A's idle sync. */
  drive_latency(&s, 0);
  for (int i = 0; i < 10; i++) {
    char name[32];
    snprintf(name, sizeof name, "drive-x%d.db", i);
    bl_db *x = device(name, 0);
    fill(x, 10, opt.rows + 100 * (i + 1));
    bl_remote *rx = drive_remote(&s);
    check(bl_sync(x, rx, &res), x, &res, "sync through Drive");
    bl_remote_free(rx);
    bl_close(x);
  }
  check(bl_sync(a, ra, &res), a, &res, "sync through Drive");
  drive_latency(&s, opt.drive_latency_ms);
  uint64_t before = bl_remote_request_count(ra);
  t0 = now();
  check(bl_sync(a, ra, &res), a, &res, "idle sync through Drive");
  t = now() - t0;
  printf("drive-idle sync with 10 remote devices (Drive emulator, change feed): %llu requests, %.3f s at %d ms per request\n",
         (unsigned long long)(bl_remote_request_count(ra) - before), t, opt.drive_latency_ms);
  bl_sync_result_free(&res);
  bl_close(a);
  bl_close(c);
  bl_remote_free(ra);
  bl_remote_free(rc);
  server_stop(&s);
}

int main(int argc, char **argv) {
  if (argv[0] && strchr(argv[0], '/') && !realpath(argv[0], self_path))
    snprintf(self_path, sizeof self_path, "/proc/self/exe");
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) opt.rows = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--snapshot-changes") == 0 && i + 1 < argc) opt.snapshot_changes = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--rtt-ms") == 0 && i + 1 < argc) opt.rtt_ms = (int)strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) opt.dir = argv[++i];
    else if (strcmp(argv[i], "--quiet") == 0) opt.quiet = 1;
    else if (strcmp(argv[i], "--drive-latency-ms") == 0 && i + 1 < argc) opt.drive_latency_ms = (int)strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--no-drive") == 0) opt.no_drive = 1;
    else if (strcmp(argv[i], "--apply-snapshot") == 0 && i + 2 < argc) {
      opt.dir = argv[i + 1];
      schema.synced_tables = tables;
      schema.synced_tables_count = 1;
      schema.create = create;
      return apply_snapshot_child(argv[i + 2]);
    }
    else {
      fprintf(stderr,
              "usage: bench_sync [--rows N] [--snapshot-changes N] [--rtt-ms MS] [--drive-latency-ms MS]\n"
              "                  [--no-drive] [--dir DIR] [--quiet]\n");
      return strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  if (opt.rows < 1 || opt.snapshot_changes < 3) die("--rows and --snapshot-changes must be positive");
  schema.synced_tables = tables;
  schema.synced_tables_count = 1;
  schema.create = create;
  char tmpl[] = "/tmp/bench-sync-XXXXXX";
  int own_dir = !opt.dir;
  if (own_dir && !(opt.dir = mkdtemp(tmpl))) die("mkdtemp failed");
  mkdir(opt.dir, 0755);
  struct utsname u;
  uname(&u);
  time_t t = time(NULL);
  char date[32];
  strftime(date, sizeof date, "%Y-%m-%d", gmtime(&t));
  printf("bench_sync %s on %s %s, %ld cpus, SQLite %s, %s\n", BL_VERSION_STRING, u.sysname, u.machine,
         sysconf(_SC_NPROCESSORS_ONLN), sqlite3_libversion(), date);
  bench_push_pull();
  bench_bootstrap();
  bench_snapshot_rss();
  bench_idle();
  if (!opt.no_drive) bench_drive();
  if (own_dir) nftw(opt.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
