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
  if (from < 2 && to >= 2) return sqlite3_exec(db, "SELECT crsql_begin_alter('todos');" "ALTER TABLE todos ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';" "SELECT crsql_commit_alter('todos');", NULL, NULL, NULL);
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

bl_db *th_open(const char *dir, const char *file, const th_opts *o) {
  char *path = NULL;
  if (asprintf(&path, "%s/%s", dir, file) < 0) exit(2);
  bl_config c = BL_CONFIG_INIT;
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
