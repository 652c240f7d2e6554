/*
 * helpers.c — see helpers.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "helpers.h"

#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *th_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  char *t = NULL;
  if (asprintf(&t, "%s/bl-sync-XXXXXX", base && *base ? base : "/tmp") < 0 || !mkdtemp(t)) {
    perror("mkdtemp");
    exit(2);
  }
  return t;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

void th_rmtree(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static const char *const th_tables[] = {"todos", "notes"};

static const char *const th_sql_v1 =
    "CREATE TABLE todos (id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL DEFAULT '',"
    " done INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE notes (id INTEGER PRIMARY KEY NOT NULL, body TEXT, data BLOB);"
    "CREATE TABLE local_cache (k TEXT PRIMARY KEY, v);";
static const char *const th_sql_v2 = "ALTER TABLE todos ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';";

static int th_create(sqlite3 *db, void *p) {
  int v = *(int *)p;
  int rc = sqlite3_exec(db, th_sql_v1, NULL, NULL, NULL);
  if (rc == SQLITE_OK && v >= 2) rc = sqlite3_exec(db, th_sql_v2, NULL, NULL, NULL);
  return rc;
}

static int th_migrate(sqlite3 *db, int from, int to, void *p) {
  (void)p;
  if (from < 2 && to >= 2) return sqlite3_exec(db, "ALTER TABLE todos ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal'", NULL, NULL, NULL);
  return 0;
}

static int th_clear(sqlite3 *db, void *p) {
  (void)p;
  return sqlite3_exec(db, "DELETE FROM todos; DELETE FROM notes; DELETE FROM todos__crsql_clock;", NULL, NULL, NULL);
}

static int th_v1 = 1, th_v2 = 2;
static bl_schema th_schemas[2];

const bl_schema *th_schema(int version) {
  bl_schema *s = &th_schemas[version >= 2];
  bl_schema init = BL_SCHEMA_INIT;
  *s = init;
  s->schema_version = version >= 2 ? 2 : 1;
  s->synced_tables = th_tables;
  s->synced_tables_count = 2;
  s->create = th_create;
  s->migrate = th_migrate;
  s->clear = th_clear;
  s->payload = version >= 2 ? &th_v2 : &th_v1;
  return s;
}

int th_compression = BL_COMPRESSION_DEFAULT;

bl_db *th_open(const char *dir, const char *file, const th_opts *o) {
  char *path = NULL;
  if (asprintf(&path, "%s/%s", dir, file) < 0) exit(2);
  bl_config c = BL_CONFIG_INIT;
  c.compression = th_compression;
  c.schema = th_schema(o && o->schema_version ? o->schema_version : 1);
  c.database_path = path;
  if (o) {
    c.snapshot_threshold = o->threshold;
    c.snapshot_grace = o->grace;
    c.version_mismatch = o->mismatch;
  }
  bl_db *db = NULL;
  int rc = bl_open(&db, &c);
  if (rc != BL_OK) {
    fprintf(stderr, "th_open(%s): %s\n", path, bl_errmsg(NULL));
    exit(2);
  }
  free(path);
  return db;
}

bl_remote *th_remote(const char *dir) {
  char *path = NULL;
  if (asprintf(&path, "%s/cloud", dir) < 0) exit(2);
  mkdir(path, 0755);
  bl_remote *r = NULL;
  if (bl_remote_folder(&r, path) != BL_OK) {
    fprintf(stderr, "th_remote: %s\n", bl_errmsg(NULL));
    exit(2);
  }
  free(path);
  return r;
}

void th_exec(bl_db *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(bl_sqlite(db), sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "th_exec(%s): %s\n", sql, err);
    exit(2);
  }
}

void th_execf(bl_db *db, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *sql = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  th_exec(db, sql);
  sqlite3_free(sql);
}

int64_t th_int(bl_db *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int64_t v = 0;
  if (sqlite3_prepare_v2(bl_sqlite(db), sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "th_int(%s): %s\n", sql, sqlite3_errmsg(bl_sqlite(db)));
    exit(2);
  }
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static char *th_query_text(bl_db *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  sqlite3_str *out = sqlite3_str_new(NULL);
  if (sqlite3_prepare_v2(bl_sqlite(db), sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "th_query_text(%s): %s\n", sql, sqlite3_errmsg(bl_sqlite(db)));
    exit(2);
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    sqlite3_str_appendf(out, "%s\n", (const char *)sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  char *s = sqlite3_str_finish(out);
  char *r = strdup(s ? s : "");
  sqlite3_free(s);
  return r;
}

char *th_dump(bl_db *db) {
  int has_priority = th_int(db, "SELECT count(*) FROM pragma_table_info('todos') WHERE name = 'priority'") > 0;
  char *a = th_query_text(db, has_priority
                                  ? "SELECT 'todo ' || quote(id) || ' ' || quote(title) || ' ' || quote(done) || ' ' || quote(priority) FROM todos ORDER BY id"
                                  : "SELECT 'todo ' || quote(id) || ' ' || quote(title) || ' ' || quote(done) FROM todos ORDER BY id");
  char *b = th_query_text(db, "SELECT 'note ' || id || ' ' || quote(body) || ' ' || quote(data) FROM notes ORDER BY id");
  char *r = NULL;
  if (asprintf(&r, "%s%s", a, b) < 0) exit(2);
  free(a);
  free(b);
  return r;
}

char *th_dump_clock(bl_db *db) {
  return th_query_text(db,
                       "SELECT \"table\" || ' ' || hex(pk) || ' ' || cid || ' ' || quote(val) || ' ' || col_version"
                       " || ' ' || hex(site_id) || ' ' || cl FROM crsql_changes ORDER BY 1");
}

int th_sync(bl_db *db, bl_remote *r, bl_sync_result *res) {
  int rc = bl_sync(db, r, res);
  if (getenv("BL_TEST_VERBOSE")) {
    fprintf(stderr, "  sync %s: rc=%d pulled=%lld pushed=%lld\n", bl_device_id(db), rc, (long long)res->pulled,
            (long long)res->pushed);
    for (size_t i = 0; i < res->warnings_count; i++)
      fprintf(stderr, "    warning %s %s: %s\n", bl_sync_code_name(res->warnings[i].code),
              res->warnings[i].device ? res->warnings[i].device : "-", res->warnings[i].message);
    for (size_t i = 0; i < res->errors_count; i++)
      fprintf(stderr, "    error %s %s: %s\n", bl_sync_code_name(res->errors[i].code),
              res->errors[i].device ? res->errors[i].device : "-", res->errors[i].message);
  }
  return rc;
}

const char *th_device_folder(const char *dir, bl_db *db) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/cloud/Backless/changesets/device-%s", dir, bl_device_id(db));
  return buf;
}

int th_count_files(const char *dir, bl_db *db, const char *prefix) {
  DIR *d = opendir(th_device_folder(dir, db));
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  closedir(d);
  return n;
}

int th_has_warning(const bl_sync_result *r, int code) {
  for (size_t i = 0; i < r->warnings_count; i++)
    if (r->warnings[i].code == code) return 1;
  return 0;
}

int th_has_error(const bl_sync_result *r, int code) {
  for (size_t i = 0; i < r->errors_count; i++)
    if (r->errors[i].code == code) return 1;
  return 0;
}

/* ------------------------------------------------------------------------
 * Added for the scenario, random, fault, crash and concurrency tests.
 */

int64_t th_cursor(bl_db *db, const char *device) {
  char *sql = sqlite3_mprintf("SELECT last_sequence FROM _sync_cursors WHERE device_id = %Q", device);
  int64_t v = th_int(db, sql);
  sqlite3_free(sql);
  return v;
}

static int th_cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

int th_cloud_seqs(const char *dir, const char *device, const char *prefix, int64_t *out, int max) {
  char path[4096];
  snprintf(path, sizeof path, "%s/cloud/Backless/changesets/device-%s", dir, device);
  DIR *d = opendir(path);
  if (!d) return 0;
  int n = 0;
  size_t plen = strlen(prefix);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *name = e->d_name;
    if (strncmp(name, prefix, plen) != 0) continue;
    const char *p = name + plen;
    const char *dot = strstr(p, ".json");
    if (!dot || dot[5] != '\0' || dot == p) continue;
    int64_t v = 0;
    int ok = 1;
    for (const char *q = p; q < dot; q++) {
      if (*q < '0' || *q > '9') ok = 0;
      else v = v * 10 + (*q - '0');
    }
    if (!ok) continue;
    if (n < max) out[n] = v;
    n++;
  }
  closedir(d);
  qsort(out, (size_t)(n < max ? n : max), sizeof *out, th_cmp_i64);
  return n;
}

int th_cs_contiguous(const char *dir, const char *device, int64_t *lo, int64_t *hi) {
  enum { MAX = 100000 };
  int64_t *seqs = malloc(MAX * sizeof *seqs), snaps[64];
  if (!seqs) exit(2);
  int n = th_cloud_seqs(dir, device, "cs-", seqs, MAX);
  int ns = th_cloud_seqs(dir, device, "snapshot-", snaps, 64);
  int64_t s = ns > 0 ? snaps[(ns < 64 ? ns : 64) - 1] : 0;
  int ok = n <= MAX, m = n < MAX ? n : MAX;
  int64_t want = s + 1;
  for (int i = 0; ok && i < m; i++) {
    if (seqs[i] <= s) continue;
    ok = seqs[i] == want++;
  }
  if (lo) *lo = m ? seqs[0] : 0;
  if (hi) *hi = m ? seqs[m - 1] : 0;
  free(seqs);
  return ok;
}

int th_copytree(const char *src, const char *dst) {
  struct stat st;
  if (lstat(src, &st) != 0) return -1;
  if (S_ISDIR(st.st_mode)) {
    if (mkdir(dst, 0755) != 0) return -1;
    DIR *d = opendir(src);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char *s = NULL, *t = NULL;
      if (asprintf(&s, "%s/%s", src, e->d_name) < 0 || asprintf(&t, "%s/%s", dst, e->d_name) < 0) exit(2);
      rc = th_copytree(s, t);
      free(s);
      free(t);
    }
    closedir(d);
    return rc;
  }
  if (!S_ISREG(st.st_mode)) return 0;
  FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
  int rc = in && out ? 0 : -1;
  char buf[65536];
  size_t got;
  while (rc == 0 && (got = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, got, out) != got) rc = -1;
  if (in) fclose(in);
  if (out && fclose(out) != 0) rc = -1;
  return rc;
}

int th_sync_rounds(bl_db **dbs, int n, bl_remote *r, int rounds) {
  int bad = 0;
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  for (int k = 0; k < rounds; k++) {
    for (int i = 0; i < n; i++) {
      int rc = th_sync(dbs[i], r, &res);
      if (rc != BL_OK) {
        fprintf(stderr, "  th_sync_rounds: device %d (%s) rc=%d: %s\n", i, bl_device_id(dbs[i]), rc,
                bl_errmsg(dbs[i]));
        bad++;
      }
    }
  }
  bl_sync_result_free(&res);
  return bad;
}

/* Prints the first line where a and b differ. */
static void th_print_diff(const char *what, const char *kind, int i, const char *a, const char *b) {
  size_t k = 0;
  while (a[k] && a[k] == b[k]) k++;
  while (k > 0 && a[k - 1] != '\n') k--;
  const char *ea = strchr(a + k, '\n'), *eb = strchr(b + k, '\n');
  int la = (int)(ea ? (size_t)(ea - (a + k)) : strlen(a + k));
  int lb = (int)(eb ? (size_t)(eb - (b + k)) : strlen(b + k));
  fprintf(stderr, "  %s: %s of device 0 and device %d differ:\n    0: %.*s\n    %d: %.*s\n", what, kind, i, la, a + k, i, lb,
          b + k);
}

char *th_dump_clock_canon(bl_db *db) {
  return th_query_text(db,
                       "SELECT \"table\" || ' ' || hex(pk) || ' ' || cid || ' ' || quote(val) || ' ' || col_version"
                       " || ' ' || cl FROM crsql_changes WHERE NOT (cid = '-1' AND cl = 1) ORDER BY 1");
}

int th_converged(bl_db **dbs, int n, const char *what) {
  int ok = 1;
  char *d0 = th_dump(dbs[0]), *c0 = th_dump_clock_canon(dbs[0]);
  for (int i = 1; i < n; i++) {
    char *d = th_dump(dbs[i]), *c = th_dump_clock_canon(dbs[i]);
    if (strcmp(d0, d) != 0) {
      th_print_diff(what ? what : "", "rows", i, d0, d);
      ok = 0;
    } else if (strcmp(c0, c) != 0) {
      th_print_diff(what ? what : "", "clocks", i, c0, c);
      ok = 0;
    }
    free(d);
    free(c);
  }
  free(d0);
  free(c0);
  return ok;
}
