/*
 * media_helpers.c — see media_helpers.h.
 *
 * Divided into: the WebDAV server and environments; the schemas (test
 * tables, the hand-written media schema); devices. Files, SHA-256, the
 * cloud, results and recorded writes are in media_files.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "media_helpers.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "servers/server_proc.h"

#include <sodium.h>

#define MH_USER "user"
#define MH_PASS "pass"

/* ------------------------------------------------- server and environments */

static server_proc mh_server;
static int mh_server_state; /* 0 not tried, 1 running, -1 failed */

static void mh_server_stop(void) {
  if (mh_server_state == 1) server_stop(&mh_server);
  mh_server_state = 0;
}

static server_proc *mh_get_server(void) {
  if (mh_server_state == 0) {
    int rc = server_start_rclone_webdav(&mh_server, MH_USER, MH_PASS);
    if (rc == 1)
      fprintf(stderr, "  FAILURE: rclone is not installed (scripts/install-deps.sh installs it; "
                      "the WebDAV cases need `rclone serve webdav`)\n");
    mh_server_state = rc == 0 ? 1 : -1;
    if (rc == 0) atexit(mh_server_stop);
  }
  return mh_server_state == 1 ? &mh_server : NULL;
}

static int mh_rmtree_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  if (flag == FTW_D || flag == FTW_DP) chmod(p, 0700);
  return remove(p);
}

char *mh_path(mh_env *e, const char *name) {
  char *p = NULL;
  if (asprintf(&p, "%s/%s", e->tmp, name) < 0) exit(2);
  return p;
}

int mh_env_open(mh_env *e, int backend) {
  static unsigned collections;
  memset(e, 0, sizeof *e);
  e->backend = backend;
  const char *base = getenv("TMPDIR");
  if (asprintf(&e->tmp, "%s/bl-media-XXXXXX", base && *base ? base : "/tmp") < 0) exit(2);
  if (!mkdtemp(e->tmp)) {
    perror("mkdtemp");
    exit(2);
  }
  if (backend == MH_FOLDER) {
    char *cloud = mh_path(e, "cloud");
    if (mkdir(cloud, 0700) != 0) exit(2);
    e->cloud_url = cloud;
  } else {
    server_proc *s = mh_get_server();
    if (!s) return -1;
    char name[32];
    snprintf(name, sizeof name, "m%u", ++collections);
    if (asprintf(&e->cloud_url, "webdav://%s:%s@127.0.0.1:%d/", MH_USER, MH_PASS, s->port) < 0)
      exit(2);
    bl_remote *root = mh_env_remote(e);
    if (!root) return -1;
    int rc = bl_remote_mkdir(root, name);
    if (rc != BL_OK) fprintf(stderr, "  mkdir %s: %s\n", name, bl_remote_errmsg(root));
    bl_remote_free(root);
    if (rc != BL_OK) return -1;
    free(e->cloud_url);
    if (asprintf(&e->cloud_url, "webdav://%s:%s@127.0.0.1:%d/%s", MH_USER, MH_PASS, s->port,
                 name) < 0)
      exit(2);
  }
  e->probe = mh_env_remote(e);
  return e->probe ? 0 : -1;
}

bl_remote *mh_env_remote(mh_env *e) {
  bl_remote *r = NULL;
  int rc = e->backend == MH_FOLDER ? bl_remote_folder(&r, e->cloud_url)
                                   : bl_remote_open(&r, e->cloud_url);
  if (rc != BL_OK) {
    fprintf(stderr, "  opening the remote %s: %s\n", e->cloud_url, bl_remote_errmsg(NULL));
    return NULL;
  }
  return r;
}

void mh_env_close(mh_env *e) {
  while (e->ndevs > 0) mh_dev_close(e->devs[e->ndevs - 1]);
  bl_remote_free(e->probe);
  if (e->tmp && !getenv("BL_TEST_KEEP")) nftw(e->tmp, mh_rmtree_one, 16, FTW_DEPTH | FTW_PHYS);
  free(e->tmp);
  free(e->cloud_url);
  memset(e, 0, sizeof *e);
}

void mh_run(int backend, const char *name, void (*body)(mh_env *e)) {
  mh_env e;
  printf("-- %s [%s]\n", name, backend == MH_FOLDER ? "folder" : "webdav");
  fflush(stdout);
  if (mh_env_open(&e, backend) != 0) {
    fprintf(stderr, "  %s: the environment could not be set up\n", name);
    bl_test_failed_checks++;
  } else {
    body(&e);
  }
  mh_env_close(&e);
}

void mh_step(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("   . ", stdout);
  vprintf(fmt, ap);
  fputc('\n', stdout);
  va_end(ap);
  fflush(stdout);
}

/* ------------------------------------------------------------------ schemas */

static const char *const mh_tables[] = {"attachments", "notes"};

static int mh_create(sqlite3 *db, void *p) {
  (void)p;
  return sqlite3_exec(db,
                      "CREATE TABLE attachments (id TEXT PRIMARY KEY NOT NULL, hash TEXT,"
                      " filename TEXT, mime_type TEXT);"
                      "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT);"
                      "CREATE TABLE _media_status (hash TEXT PRIMARY KEY, uploaded INTEGER);"
                      "CREATE TABLE _media_src (hash TEXT PRIMARY KEY, path TEXT, how TEXT);",
                      NULL, NULL, NULL);
}

/* Sign-out clears the application's own upload marks too. */
static int mh_clear(sqlite3 *db, void *p) {
  (void)p;
  return sqlite3_exec(db,
                      "DELETE FROM attachments; DELETE FROM notes; DELETE FROM _media_status;"
                      " DELETE FROM _media_src;",
                      NULL, NULL, NULL);
}

static const bl_schema mh_schema = {BL_SCHEMA_VERSION, 1, mh_tables, 2, mh_create, NULL, mh_clear,
                                    NULL};

const bl_schema *mh_schema_get(void) { return &mh_schema; }

/* The hand-written media schema, as the seed's README example: an
 * _media_status table of upload marks; the bytes of each item come as a
 * path, through a reader, or from the cache, as _media_src says. */
typedef struct mh_cs_row {
  char *hash, *filename, *mime, *path, *how;
} mh_cs_row;

static char *mh_dup_col(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? strdup((const char *)t) : NULL;
}

static long long mh_cs_read(void *buf, size_t size, void *payload) {
  FILE *f = payload;
  size_t n = fread(buf, 1, size, f);
  if (n == 0 && ferror(f)) return -1;
  return (long long)n;
}

static int mh_cs_unuploaded(sqlite3 *db, bl_media_item_fn emit, void *ctx, void *payload) {
  mh_dev *d = payload;
  d->cs_unuploaded_calls++;
  sqlite3_stmt *st = NULL;
  mh_cs_row *rows = NULL;
  size_t n = 0;
  int rc = 0;
  /* Collected first: no statement stays open while the library works. */
  if (sqlite3_prepare_v2(db,
                         "SELECT a.hash, min(a.filename), min(a.mime_type), s.path, s.how"
                         " FROM attachments a LEFT JOIN _media_src s ON s.hash = a.hash"
                         " WHERE a.hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM _media_status m"
                         "   WHERE m.hash = a.hash AND m.uploaded = 1)"
                         " GROUP BY a.hash",
                         -1, &st, NULL) != SQLITE_OK)
    return 1;
  while (sqlite3_step(st) == SQLITE_ROW) {
    rows = realloc(rows, (n + 1) * sizeof *rows);
    if (!rows) exit(2);
    rows[n].hash = mh_dup_col(st, 0);
    rows[n].filename = mh_dup_col(st, 1);
    rows[n].mime = mh_dup_col(st, 2);
    rows[n].path = mh_dup_col(st, 3);
    rows[n].how = mh_dup_col(st, 4);
    n++;
  }
  sqlite3_finalize(st);
  for (size_t i = 0; i < n; i++) {
    bl_media_item it = {rows[i].hash, rows[i].filename, rows[i].mime, NULL, NULL, NULL};
    FILE *f = NULL;
    if (rc == 0 && rows[i].how && strcmp(rows[i].how, "read") == 0) {
      f = fopen(rows[i].path, "rb");
      if (f) {
        it.read = mh_cs_read;
        it.read_payload = f;
        d->cs_read_calls++;
      }
    } else if (rows[i].how && strcmp(rows[i].how, "path") == 0) {
      it.path = rows[i].path;
    }
    if (rc == 0) rc = emit(&it, ctx);
    if (f) fclose(f);
    free(rows[i].hash), free(rows[i].filename), free(rows[i].mime), free(rows[i].path),
        free(rows[i].how);
  }
  free(rows);
  return rc;
}

static int mh_cs_all_hashes(sqlite3 *db, bl_media_hash_fn emit, void *ctx, void *payload) {
  mh_dev *d = payload;
  d->cs_all_hashes_calls++;
  sqlite3_stmt *st = NULL;
  char **hashes = NULL;
  size_t n = 0;
  int rc = 0;
  if (sqlite3_prepare_v2(db, "SELECT hash FROM attachments WHERE hash IS NOT NULL", -1, &st,
                         NULL) != SQLITE_OK)
    return 1;
  while (sqlite3_step(st) == SQLITE_ROW) {
    hashes = realloc(hashes, (n + 1) * sizeof *hashes);
    if (!hashes) exit(2);
    hashes[n++] = mh_dup_col(st, 0);
  }
  sqlite3_finalize(st);
  for (size_t i = 0; i < n; i++) {
    if (rc == 0) rc = emit(hashes[i], ctx);
    free(hashes[i]);
  }
  free(hashes);
  return rc;
}

static int mh_cs_mark(sqlite3 *db, const char *hash, void *payload) {
  mh_dev *d = payload;
  d->cs_marks++;
  char *sql = sqlite3_mprintf("INSERT OR REPLACE INTO _media_status VALUES (%Q, 1)", hash);
  int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  sqlite3_free(sql);
  return rc;
}

/* ------------------------------------------------------------------ devices */

static int mh_passphrase(char *buf, size_t size, void *payload) {
  snprintf(buf, size, "%s", (const char *)payload);
  return 0;
}

mh_dev *mh_dev_new(mh_env *e, const char *name, const mh_opts *o) {
  if (e->ndevs == MH_MAX_DEVS) exit(2);
  mh_dev *d = calloc(1, sizeof *d);
  if (!d) exit(2);
  d->env = e;
  snprintf(d->name, sizeof d->name, "%s", name);
  char buf[64];
  snprintf(buf, sizeof buf, "%s.db", name);
  d->db_path = mh_path(e, buf);
  snprintf(buf, sizeof buf, "%s-cache", name);
  d->cache_dir = o && o->cache_dir ? strdup(o->cache_dir) : mh_path(e, buf);
  if (!d->cache_dir) exit(2);
  e->devs[e->ndevs++] = d;

  bl_config c = BL_CONFIG_INIT;
  c.schema = o && o->schema ? o->schema : &mh_schema;
  c.database_path = d->db_path;
  c.media_cache_dir = d->cache_dir;
  c.media_gc_grace = o ? o->grace : 0;
  if (o && o->passphrase) {
    c.passphrase = mh_passphrase;
    c.passphrase_payload = (void *)o->passphrase;
    c.kdf_opslimit = crypto_pwhash_OPSLIMIT_MIN;
    c.kdf_memlimit = crypto_pwhash_MEMLIMIT_MIN;
  }
  if (o && o->media) {
    c.media = o->media;
  } else if (o && o->custom) {
    bl_media_schema ms = BL_MEDIA_SCHEMA_INIT;
    ms.unuploaded = mh_cs_unuploaded;
    ms.all_hashes = mh_cs_all_hashes;
    ms.mark_uploaded = mh_cs_mark;
    ms.payload = d;
    d->custom = ms;
    c.media = &d->custom;
  } else {
    int rc = bl_media_schema_table(&d->builtin, "attachments", "hash", "filename", "mime_type");
    if (rc != BL_OK) {
      fprintf(stderr, "  bl_media_schema_table: %d %s\n", rc, bl_errmsg(NULL));
      bl_test_failed_checks++;
      return NULL;
    }
    c.media = d->builtin;
  }
  int rc = bl_open(&d->db, &c);
  if (rc != BL_OK) {
    fprintf(stderr, "  bl_open(%s): %d %s\n", d->db_path, rc, bl_errmsg(NULL));
    bl_test_failed_checks++;
    return NULL;
  }
  d->inner = mh_env_remote(e);
  if (!d->inner || bl__remote_fault_new(&d->remote, d->inner) != BL_OK) {
    bl_test_failed_checks++;
    return NULL;
  }
  return d;
}

void mh_dev_close(mh_dev *d) {
  if (!d) return;
  mh_env *e = d->env;
  for (int i = 0; i < e->ndevs; i++)
    if (e->devs[i] == d) {
      e->devs[i] = e->devs[--e->ndevs];
      break;
    }
  bl_remote_free(d->remote);
  bl_remote_free(d->inner);
  bl_close(d->db);
  bl_media_schema_free(d->builtin);
  free(d->db_path);
  free(d->cache_dir);
  free(d);
}

void mh_print_result(const char *who, int rc, const bl_sync_result *r) {
  fprintf(stderr, "    sync %s: rc=%d pulled=%lld pushed=%lld media_uploaded=%lld media_deleted=%lld\n",
          who, rc, (long long)r->pulled, (long long)r->pushed, (long long)r->media_uploaded,
          (long long)r->media_deleted);
  for (size_t i = 0; i < r->warnings_count; i++)
    fprintf(stderr, "      warning %s: %s\n", bl_sync_code_name(r->warnings[i].code),
            r->warnings[i].message);
  for (size_t i = 0; i < r->errors_count; i++)
    fprintf(stderr, "      error %s: %s\n", bl_sync_code_name(r->errors[i].code),
            r->errors[i].message);
}

int mh_sync(mh_dev *d, bl_sync_result *res) {
  bl_sync_result_free(res);
  int rc = bl_sync(d->db, d->remote, res);
  if (getenv("BL_TEST_VERBOSE")) mh_print_result(d->name, rc, res);
  return rc;
}

void mh_edit(mh_dev *d) {
  char *sql = sqlite3_mprintf("INSERT INTO notes VALUES ('%q-%d', 'edit')", d->name, ++d->edits);
  mh_exec(d, sql);
  sqlite3_free(sql);
}

int mh_edit_sync(mh_dev *d, bl_sync_result *res) {
  mh_edit(d);
  int rc = mh_sync(d, res);
  if (rc != BL_OK || res->pushed < 1) {
    fprintf(stderr, "  edit + sync of %s failed or pushed nothing\n", d->name);
    mh_print_result(d->name, rc, res);
    bl_test_failed_checks++;
  }
  return rc;
}

int mh_attach(mh_dev *d, const char *path, char out[BL_MEDIA_HASH_LEN + 1]) {
  int rc = bl_media_add_file(d->db, path, NULL, NULL, out);
  if (rc != BL_OK) fprintf(stderr, "  bl_media_add_file(%s): %d %s\n", path, rc, bl_errmsg(d->db));
  return rc;
}

void mh_insert_row(mh_dev *d, const char *hash, const char *filename) {
  char *sql = sqlite3_mprintf("INSERT INTO attachments VALUES ('%q-row-%d', %Q, %Q, NULL)",
                              d->name, ++d->rows, hash, filename);
  mh_exec(d, sql);
  sqlite3_free(sql);
}

void mh_delete_rows(mh_dev *d, const char *hash) {
  char *sql = sqlite3_mprintf("DELETE FROM attachments WHERE hash = %Q", hash);
  mh_exec(d, sql);
  sqlite3_free(sql);
}

int mh_count_rows(mh_dev *d, const char *hash) {
  char *sql = hash ? sqlite3_mprintf("SELECT count(*) FROM attachments WHERE hash = %Q", hash)
                   : sqlite3_mprintf("SELECT count(*) FROM attachments");
  int n = (int)mh_int(d, sql);
  sqlite3_free(sql);
  return n;
}

void mh_exec(mh_dev *d, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(bl_sqlite(d->db), sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "mh_exec(%s): %s\n", sql, err);
    exit(2);
  }
}

int64_t mh_int(mh_dev *d, const char *sql) {
  sqlite3_stmt *st = NULL;
  int64_t v = 0;
  if (sqlite3_prepare_v2(bl_sqlite(d->db), sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "mh_int(%s): %s\n", sql, sqlite3_errmsg(bl_sqlite(d->db)));
    exit(2);
  }
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

void mh_custom_attach(mh_dev *d, const char *path, const char *how,
                      char out[BL_MEDIA_HASH_LEN + 1]) {
  if (mh_sha256_file(path, out) != 0) exit(2);
  const char *slash = strrchr(path, '/');
  mh_insert_row(d, out, slash ? slash + 1 : path);
  char *sql = sqlite3_mprintf("INSERT OR REPLACE INTO _media_src VALUES (%Q, %Q, %Q)", out, path, how);
  mh_exec(d, sql);
  sqlite3_free(sql);
}

int mh_custom_uploaded(mh_dev *d, const char *hash) {
  char *sql = sqlite3_mprintf("SELECT count(*) FROM _media_status WHERE hash = %Q AND uploaded = 1", hash);
  int n = (int)mh_int(d, sql);
  sqlite3_free(sql);
  return n > 0;
}

int mh_resolve(mh_dev *d, const char *hash, bl_media_file *out) {
  memset(out, 0, sizeof *out);
  return bl_media_resolve(d->db, d->remote, hash, NULL, out);
}

int mh_resolve_check(mh_dev *d, const char *hash, const char *original, int want_source) {
  bl_media_file f;
  int ok = 1;
  int rc = mh_resolve(d, hash, &f);
  if (rc != BL_OK) {
    fprintf(stderr, "  resolve on %s: %d %s\n", d->name, rc, bl_errmsg(d->db));
    ok = 0;
  } else {
    struct stat sb;
    if (f.source != want_source) {
      fprintf(stderr, "  resolve on %s: source %d, expected %d\n", d->name, f.source, want_source);
      ok = 0;
    }
    if (!f.path || !mh_files_equal(f.path, original)) {
      fprintf(stderr, "  resolve on %s: %s does not hold the bytes of %s\n", d->name,
              f.path ? f.path : "(null)", original);
      ok = 0;
    }
    if (stat(original, &sb) != 0 || f.size != (int64_t)sb.st_size) {
      fprintf(stderr, "  resolve on %s: size %lld\n", d->name, (long long)f.size);
      ok = 0;
    }
  }
  bl_media_file_free(&f);
  if (!ok) bl_test_failed_checks++;
  return ok;
}

int mh_cached(mh_dev *d, const char *hash) {
  char *p = NULL;
  int rc = bl_media_cache_get(d->db, hash, &p);
  free(p);
  return rc == BL_OK;
}

static const char *mh_walk_needle;
static int mh_walk_hits;

static int mh_walk_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  if (flag != FTW_F) return 0;
  if (!mh_walk_needle || strstr(p + ftw->base, mh_walk_needle)) mh_walk_hits++;
  return 0;
}

static int mh_walk(const char *dir, const char *needle) {
  mh_walk_needle = needle;
  mh_walk_hits = 0;
  nftw(dir, mh_walk_one, 16, FTW_PHYS);
  return mh_walk_hits;
}

int mh_cache_has_file(mh_dev *d, const char *hash) { return mh_walk(d->cache_dir, hash) > 0; }
int mh_count_files(const char *dir) { return mh_walk(dir, NULL); }

uint64_t mh_calls(mh_dev *d, bl__fault_op op) { return bl__fault_calls(d->remote, op); }
uint64_t mh_requests(mh_dev *d) { return bl_remote_request_count(d->remote); }
