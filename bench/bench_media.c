/*
 * bench_media.c — figures of media sync (docs/PERFORMANCE.md). A benchmark
 * program, never a timed test.
 *
 * Through the Google Drive emulator (tests/emulators/gdrive.py, started
 * here) with --latency-ms (default 50) added to every request:
 *   upload   device A attaches --files N files of --size KiB and syncs:
 *            seconds, requests, MB/s; once with 8 transfers in flight and
 *            once with 1, so the gain of parallel uploads shows
 *   idle     a sync with everything uploaded and nothing new: requests
 *   resolve  device B resolves every attachment: requests and seconds;
 *            then again (all from the cache): requests and seconds
 *   gc       A deletes every reference; A and B push past the grace; the
 *            collecting sync: requests, files deleted
 * Through the folder backend:
 *   large    peak RSS of a fresh child process that attaches, uploads and
 *            resolves one --large-mib MiB file (default 64), against the
 *            same child with a 1 MiB file
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backless.h"
#include "servers/server_proc.h"

static struct {
  int files;
  int size_kib;
  int latency_ms;
  int large_mib;
  int quiet;
  char dir[4096];
} opt = {32, 256, 50, 64, 0, ""};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_media: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

/* ------------------------------------------------------------- devices */

static const char *const tables[] = {"attachments", "notes"};

static int create(sqlite3 *db, void *payload) {
  (void)payload;
  return sqlite3_exec(db,
                      "CREATE TABLE attachments (id TEXT PRIMARY KEY NOT NULL, hash TEXT, filename TEXT,"
                      " mime_type TEXT);"
                      "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT);",
                      NULL, NULL, NULL);
}

static bl_schema schema = {BL_SCHEMA_VERSION, 1, tables, 2, create, NULL, NULL, NULL};
static bl_media_schema *media;

static bl_db *device(const char *name) {
  char path[4200], cache[4200];
  snprintf(path, sizeof path, "%s/%s.db", opt.dir, name);
  snprintf(cache, sizeof cache, "%s/cache-%s", opt.dir, name);
  bl_config c = BL_CONFIG_INIT;
  c.schema = &schema;
  c.database_path = path;
  c.media = media;
  c.media_cache_dir = cache;
  bl_db *db = NULL;
  if (bl_open(&db, &c) != BL_OK) die("open %s: %s", name, bl_errmsg(NULL));
  return db;
}

static void check(int rc, bl_db *db, const bl_sync_result *r, const char *what) {
  if (rc == BL_OK) return;
  die("%s: %s (%s)", what, bl_errmsg(db), r->errors_count ? r->errors[0].message : "");
}

static void note(bl_db *db, int i) {
  char sql[128];
  snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO notes VALUES ('n%d', 'x')", i);
  if (sqlite3_exec(bl_sqlite(db), sql, NULL, NULL, NULL) != SQLITE_OK) die("note: %s", sqlite3_errmsg(bl_sqlite(db)));
}

/* A file of `bytes` pseudo-random bytes (seeded), written in pieces. */
static void make_file(const char *path, long long bytes, unsigned seed) {
  FILE *f = fopen(path, "wb");
  if (!f) die("cannot create %s", path);
  unsigned long long x = seed * 2654435761ULL + 1;
  unsigned char buf[65536];
  while (bytes > 0) {
    size_t n = bytes < (long long)sizeof buf ? (size_t)bytes : sizeof buf;
    for (size_t i = 0; i < n; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      buf[i] = (unsigned char)x;
    }
    if (fwrite(buf, 1, n, f) != n) die("write %s", path);
    bytes -= (long long)n;
  }
  fclose(f);
}

/* ---------------------------------------------------------------- Drive */

static int drive_token(char *buf, size_t size, int refresh, void *payload) {
  (void)refresh, (void)payload;
  snprintf(buf, size, "bench");
  return 0;
}

static bl_remote *drive_remote(const server_proc *s, int in_flight) {
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  o.token = drive_token;
  o.api_url = s->base_url;
  o.max_in_flight = in_flight;
  bl_remote *r = NULL;
  if (bl_remote_open_ex(&r, "gdrive://Bench", &o) != BL_OK) die("gdrive remote: %s", bl_errmsg(NULL));
  return r;
}

static void drive_latency(const server_proc *s, int ms) {
  char body[64];
  snprintf(body, sizeof body, "{\"latency_ms\": %d}", ms);
  free(server_control(s, "POST", "/_emulator/config", body));
}

/* Attaches opt.files new files on `db` (seeded by `seed`), syncs, prints. */
static void upload_round(const server_proc *s, const char *label, int in_flight, unsigned seed, char (*hashes)[65]) {
  char name[64];
  snprintf(name, sizeof name, "up-%u", seed);
  bl_db *db = device(name);
  for (int i = 0; i < opt.files; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/file-%u-%d.bin", opt.dir, seed, i);
    make_file(path, (long long)opt.size_kib * 1024, seed * 1000 + (unsigned)i);
    if (bl_media_add_file(db, path, NULL, NULL, hashes ? hashes[i] : NULL) != BL_OK)
      die("add: %s", bl_errmsg(db));
  }
  bl_remote *r = drive_remote(s, in_flight);
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  drive_latency(s, opt.latency_ms);
  free(server_control(s, "POST", "/_emulator/reset-stats", NULL));
  double t0 = now();
  check(bl_sync(db, r, &res), db, &res, "upload sync");
  double t = now() - t0;
  if (getenv("BENCH_MEDIA_STATS")) { /* which requests: the emulator's counts by endpoint */
    char *st = server_control(s, "GET", "/_emulator/stats", NULL);
    printf("%s\n", st ? st : "");
    free(st);
  }
  double mb = (double)opt.files * opt.size_kib / 1024.0;
  printf("upload     %d files of %d KiB, %d in flight, %d ms per request: %.2f s, %llu requests, %.2f MB/s "
         "(%lld uploaded)\n",
         opt.files, opt.size_kib, in_flight, opt.latency_ms, t, (unsigned long long)bl_remote_request_count(r),
         mb / t, (long long)res.media_uploaded);
  if (hashes) {
    check(bl_sync(db, r, &res), db, &res, "sync"); /* takes in its own push's feed entry */
    uint64_t before = bl_remote_request_count(r);
    t0 = now();
    check(bl_sync(db, r, &res), db, &res, "idle sync");
    printf("idle       sync with %d attachments uploaded, nothing new: %llu requests, %.3f s\n", opt.files,
           (unsigned long long)(bl_remote_request_count(r) - before), now() - t0);
  }
  (void)label;
  drive_latency(s, 0);
  bl_sync_result_free(&res);
  bl_remote_free(r);
  bl_close(db);
}

static void bench_drive(void) {
  server_proc s;
  if (server_start_emulator(&s, "gdrive.py", NULL) != 0) {
    printf("drive      skipped: the Drive emulator did not start\n");
    return;
  }
  char(*hashes)[65] = calloc((size_t)opt.files, sizeof *hashes);
  if (!hashes) die("out of memory");
  upload_round(&s, "serial", 1, 7, NULL);
  /* A fresh cloud, so that the serial round's device does not hold back
   * collection below (it would never push again). */
  free(server_control(&s, "POST", "/_emulator/reset", NULL));
  upload_round(&s, "parallel", 8, 1, hashes);

  /* B resolves everything, twice. */
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  bl_db *a = device("up-1"), *b = device("resolver");
  bl_remote *ra = drive_remote(&s, 8), *rb = drive_remote(&s, 8);
  check(bl_sync(b, rb, &res), b, &res, "sync B");
  drive_latency(&s, opt.latency_ms);
  for (int pass = 0; pass < 2; pass++) {
    uint64_t before = bl_remote_request_count(rb);
    double t0 = now();
    int downloaded = 0;
    for (int i = 0; i < opt.files; i++) {
      bl_media_file f;
      if (bl_media_resolve(b, rb, hashes[i], NULL, &f) != BL_OK) die("resolve: %s", bl_errmsg(b));
      downloaded += f.source != BL_MEDIA_FROM_CACHE;
      bl_media_file_free(&f);
    }
    printf("resolve    %d attachments, %s: %llu requests, %.2f s (%d downloaded)\n", opt.files,
           pass ? "again (cache)" : "first time", (unsigned long long)(bl_remote_request_count(rb) - before),
           now() - t0, downloaded);
  }
  drive_latency(&s, 0);

  /* Collection: A deletes every reference; both push past the grace. */
  if (sqlite3_exec(bl_sqlite(a), "DELETE FROM attachments", NULL, NULL, NULL) != SQLITE_OK) die("delete");
  int64_t deleted = 0;
  uint64_t gc_requests = 0;
  for (int round = 0; round < 4 && deleted < opt.files; round++) {
    note(a, round);
    drive_latency(&s, opt.latency_ms);
    uint64_t before = bl_remote_request_count(ra);
    check(bl_sync(a, ra, &res), a, &res, "sync A");
    drive_latency(&s, 0);
    if (res.media_deleted) gc_requests = bl_remote_request_count(ra) - before;
    deleted += res.media_deleted;
    note(b, round);
    check(bl_sync(b, rb, &res), b, &res, "sync B");
    deleted += res.media_deleted;
  }
  printf("gc         %lld of %d files collected after the grace; the collecting sync: %llu requests at %d ms\n",
         (long long)deleted, opt.files, (unsigned long long)gc_requests, opt.latency_ms);
  bl_sync_result_free(&res);
  bl_remote_free(ra);
  bl_remote_free(rb);
  bl_close(a);
  bl_close(b);
  free(hashes);
  server_stop(&s);
}

/* ---------------------------------------------------------------- large */

/* In a child: attach, upload and resolve one file of `mib` MiB through a
 * folder; returns the child's peak RSS in KiB. */
static long large_child(int mib) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    char sub[4200], cloud[4300], file[4300];
    snprintf(sub, sizeof sub, "%s/large-%d", opt.dir, mib);
    snprintf(cloud, sizeof cloud, "%s/cloud", sub);
    snprintf(file, sizeof file, "%s/big.bin", sub);
    mkdir(sub, 0700);
    mkdir(cloud, 0700);
    make_file(file, (long long)mib << 20, 99);
    char name_a[64], name_b[64];
    snprintf(name_a, sizeof name_a, "large-%d/a", mib);
    snprintf(name_b, sizeof name_b, "large-%d/b", mib);
    bl_db *a = device(name_a), *b = device(name_b);
    bl_remote *r = NULL;
    if (bl_remote_folder(&r, cloud) != BL_OK) die("folder: %s", bl_errmsg(NULL));
    char hash[65];
    if (bl_media_add_file(a, file, NULL, NULL, hash) != BL_OK) die("add: %s", bl_errmsg(a));
    bl_sync_result res = BL_SYNC_RESULT_INIT;
    check(bl_sync(a, r, &res), a, &res, "sync A");
    check(bl_sync(b, r, &res), b, &res, "sync B");
    bl_media_file f;
    if (bl_media_resolve(b, r, hash, NULL, &f) != BL_OK) die("resolve: %s", bl_errmsg(b));
    bl_media_file_free(&f);
    bl_sync_result_free(&res);
    bl_remote_free(r);
    bl_close(a);
    bl_close(b);
    _exit(0);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("large child failed");
  return ru.ru_maxrss;
}

static void bench_large(void) {
  long small = large_child(1), big = large_child(opt.large_mib);
  printf("large      peak RSS attaching, uploading and resolving one file (folder): %d MiB file %ld KiB, 1 MiB file "
         "%ld KiB (difference %ld KiB)\n",
         opt.large_mib, big, small, big - small);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--files") == 0 && i + 1 < argc) opt.files = atoi(argv[++i]);
    else if (strcmp(argv[i], "--size-kib") == 0 && i + 1 < argc) opt.size_kib = atoi(argv[++i]);
    else if (strcmp(argv[i], "--latency-ms") == 0 && i + 1 < argc) opt.latency_ms = atoi(argv[++i]);
    else if (strcmp(argv[i], "--large-mib") == 0 && i + 1 < argc) opt.large_mib = atoi(argv[++i]);
    else if (strcmp(argv[i], "--quiet") == 0) opt.quiet = 1;
    else {
      fprintf(stderr,
              "usage: bench_media [--files N] [--size-kib K] [--latency-ms MS] [--large-mib M] [--quiet]\n");
      return strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  if (opt.files < 1 || opt.size_kib < 1 || opt.large_mib < 1) die("sizes must be >= 1");
  snprintf(opt.dir, sizeof opt.dir, "/tmp/bench_media-XXXXXX");
  if (!mkdtemp(opt.dir)) die("mkdtemp");
  if (bl_media_schema_table(&media, "attachments", "hash", "filename", "mime_type") != BL_OK)
    die("media schema: %s", bl_errmsg(NULL));
  struct utsname u;
  uname(&u);
  time_t t = time(NULL);
  char date[32];
  strftime(date, sizeof date, "%Y-%m-%d", gmtime(&t));
  if (!opt.quiet) printf("bench_media %s on %s %s (%s), %ld CPUs\n", date, u.sysname, u.release, u.machine,
                         sysconf(_SC_NPROCESSORS_ONLN));
  bench_drive();
  bench_large();
  bl_media_schema_free(media);
  nftw(opt.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
