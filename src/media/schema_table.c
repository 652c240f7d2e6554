/*
 * schema_table.c — the built-in media schema for an attachments table, the
 * "-- media:" line that declares one in a schema folder, and
 * bl_media_add_file, which attaches a file through it.
 *
 * The table is the application's (synced, so attachments travel with the
 * data); which hashes this device uploaded is local state in
 * _bl_media_uploaded. Table and column names come from the application or
 * a schema file: they are always quoted ("%w"), never pasted into SQL.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/media_internal.h"
#include "media/media_line.h"
#include "sync/sync_internal.h"
#include "util/errmsg.h"

#define TABLE_MAGIC 0x6d656469u /* "medi" */

typedef struct media_table {
  bl_media_schema schema; /* first: bl_media_schema_free casts back */
  unsigned int magic;
  char *table, *hash_col, *filename_col, *mime_col;
} media_table;

int bl__media_schema_is_builtin(const bl_media_schema *s) {
  return s && ((const media_table *)s)->magic == TABLE_MAGIC;
}

static int table_ensure_uploaded(sqlite3 *db) {
  return sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS _bl_media_uploaded (hash TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID",
                      NULL, NULL, NULL);
}

static int table_unuploaded(sqlite3 *db, bl_media_item_fn emit, void *ctx, void *payload) {
  media_table *t = payload;
  if (table_ensure_uploaded(db) != SQLITE_OK) return 1;
  char *sql = sqlite3_mprintf(
      "SELECT \"%w\", %s%w%s, %s%w%s FROM \"%w\" WHERE \"%w\" IS NOT NULL"
      " AND \"%w\" NOT IN (SELECT hash FROM _bl_media_uploaded) GROUP BY \"%w\"",
      t->hash_col, t->filename_col ? "min(\"" : "NULL", t->filename_col ? t->filename_col : "",
      t->filename_col ? "\")" : "", t->mime_col ? "min(\"" : "NULL", t->mime_col ? t->mime_col : "",
      t->mime_col ? "\")" : "", t->table, t->hash_col, t->hash_col, t->hash_col);
  if (!sql) return 1;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return 1;
  int stop = 0;
  while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    bl_media_item it = {0};
    it.hash = (const char *)sqlite3_column_text(st, 0);
    it.filename = (const char *)sqlite3_column_text(st, 1);
    it.mime_type = (const char *)sqlite3_column_text(st, 2);
    stop = emit(&it, ctx);
  }
  sqlite3_finalize(st);
  if (stop) return stop;
  return rc == SQLITE_DONE ? 0 : 1;
}

static int table_all_hashes(sqlite3 *db, bl_media_hash_fn emit, void *ctx, void *payload) {
  media_table *t = payload;
  char *sql = sqlite3_mprintf("SELECT DISTINCT \"%w\" FROM \"%w\" WHERE \"%w\" IS NOT NULL", t->hash_col, t->table,
                              t->hash_col);
  if (!sql) return 1;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return 1;
  int stop = 0;
  while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *h = (const char *)sqlite3_column_text(st, 0);
    if (h) stop = emit(h, ctx);
  }
  sqlite3_finalize(st);
  if (stop) return stop;
  return rc == SQLITE_DONE ? 0 : 1;
}

static int table_mark_uploaded(sqlite3 *db, const char *hash, void *payload) {
  (void)payload;
  if (table_ensure_uploaded(db) != SQLITE_OK) return 1;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO _bl_media_uploaded (hash) VALUES (?)", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? 0 : 1;
}

void bl_media_schema_free(bl_media_schema *schema) {
  if (!bl__media_schema_is_builtin(schema)) return;
  media_table *t = (media_table *)schema;
  free(t->table);
  free(t->hash_col);
  free(t->filename_col);
  free(t->mime_col);
  t->magic = 0;
  free(t);
}

static char *table_dup(const char *s, int *oom) {
  if (!s) return NULL;
  char *c = strdup(s);
  if (!c) *oom = 1;
  return c;
}

int bl_media_schema_table(bl_media_schema **out, const char *table, const char *hash_column,
                          const char *filename_column, const char *mime_column) {
  if (!out) return bl__set_tls_error(BL_EMISUSE, "bl_media_schema_table: out is NULL");
  *out = NULL;
  if (!table || !*table || !hash_column || !*hash_column)
    return bl__set_tls_error(BL_EMISUSE, "bl_media_schema_table: a table and a hash column are required");
  if ((filename_column && !*filename_column) || (mime_column && !*mime_column))
    return bl__set_tls_error(BL_EMISUSE, "bl_media_schema_table: an empty column name");
  media_table *t = calloc(1, sizeof *t);
  if (!t) return bl__set_tls_error(BL_ENOMEM, "out of memory");
  int oom = 0;
  t->magic = TABLE_MAGIC;
  t->table = table_dup(table, &oom);
  t->hash_col = table_dup(hash_column, &oom);
  t->filename_col = table_dup(filename_column, &oom);
  t->mime_col = table_dup(mime_column, &oom);
  if (oom) {
    bl_media_schema_free(&t->schema);
    return bl__set_tls_error(BL_ENOMEM, "out of memory");
  }
  t->schema.version = BL_MEDIA_SCHEMA_VERSION;
  t->schema.unuploaded = table_unuploaded;
  t->schema.all_hashes = table_all_hashes;
  t->schema.mark_uploaded = table_mark_uploaded;
  t->schema.payload = t;
  *out = &t->schema;
  return BL_OK;
}

/* ---------------------------------------------------------- schema folder */

/* "<digits>.sql" without leading zeros. */
static int table_is_sql_file(const char *name) {
  if (!isdigit((unsigned char)name[0]) || name[0] == '0') return 0;
  size_t i = 0;
  while (isdigit((unsigned char)name[i])) i++;
  return i <= 7 && strcmp(name + i, ".sql") == 0;
}

/* Scans `path` for "-- media:" lines into *line (the first) / *found. */
static int table_scan_file(const char *path, bl__media_line *line, int *found, char *where, size_t wsize) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return bl__set_tls_error(BL_EIO, "cannot read '%s': %s", path, strerror(errno));
  char buf[4096];
  int lineno = 0, rc = BL_OK;
  while (rc == BL_OK && fgets(buf, sizeof buf, fp)) {
    lineno++;
    size_t len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = '\0';
    bl__media_line l;
    char err[200];
    int r = bl__media_parse_line(buf, len, &l, err, sizeof err);
    if (r == 0) continue;
    if (r < 0) {
      rc = bl__set_tls_error(BL_ESCHEMA, "%s:%d: %s (the form is: -- media: TABLE(HASH_COLUMN[, FILENAME_COLUMN[, "
                                         "MIME_COLUMN]]))",
                             path, lineno, err);
    } else if (*found) {
      rc = bl__set_tls_error(BL_ESCHEMA, "%s:%d: a second '-- media:' line (the first is at %s); one table holds the "
                                         "attachments",
                             path, lineno, where);
    } else {
      *line = l;
      *found = 1;
      snprintf(where, wsize, "%s:%d", path, lineno);
    }
  }
  if (rc == BL_OK && ferror(fp)) rc = bl__set_tls_error(BL_EIO, "cannot read '%s': %s", path, strerror(errno));
  fclose(fp);
  return rc;
}

int bl_media_schema_from_dir(bl_media_schema **out, const char *dir) {
  if (!out || !dir) return bl__set_tls_error(BL_EMISUSE, "bl_media_schema_from_dir: NULL argument");
  *out = NULL;
  DIR *dh = opendir(dir);
  if (!dh)
    return bl__set_tls_error(errno == ENOENT ? BL_ENOTFOUND : BL_EIO, "cannot open schema folder '%s': %s", dir,
                             strerror(errno));
  bl__media_line line;
  int found = 0, rc = BL_OK;
  char where[PATH_MAX + 32] = "";
  struct dirent *de;
  while (rc == BL_OK && (de = readdir(dh)) != NULL) {
    if (!table_is_sql_file(de->d_name)) continue;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) {
      rc = bl__set_tls_error(BL_EMISUSE, "schema folder path is too long");
      break;
    }
    rc = table_scan_file(path, &line, &found, where, sizeof where);
  }
  closedir(dh);
  if (rc != BL_OK) return rc;
  if (!found) return bl__set_tls_error(BL_ENOTFOUND, "schema folder '%s' declares no media table ('-- media:' line)", dir);
  return bl_media_schema_table(out, line.table, line.cols[0], line.ncols > 1 ? line.cols[1] : NULL,
                               line.ncols > 2 ? line.cols[2] : NULL);
}

/* ------------------------------------------------------------ add a file */

static const char *table_guess_mime(const char *name) {
  static const char *const map[][2] = {
      {"png", "image/png"},        {"jpg", "image/jpeg"},       {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},        {"webp", "image/webp"},      {"svg", "image/svg+xml"},
      {"heic", "image/heic"},      {"pdf", "application/pdf"},  {"txt", "text/plain"},
      {"md", "text/markdown"},     {"html", "text/html"},       {"json", "application/json"},
      {"csv", "text/csv"},         {"mp3", "audio/mpeg"},       {"m4a", "audio/mp4"},
      {"mp4", "video/mp4"},        {"mov", "video/quicktime"},  {"zip", "application/zip"},
  };
  const char *dot = strrchr(name, '.');
  if (dot && dot[1]) {
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
      const char *a = dot + 1, *b = map[i][0];
      while (*a && *b && tolower((unsigned char)*a) == *b) a++, b++;
      if (!*a && !*b) return map[i][1];
    }
  }
  return "application/octet-stream";
}

/* The single primary-key column of `table` when it is none of t's columns
 * (malloc'ed into *pk), else *pk = NULL. */
static int table_extra_pk(bl_db *db, const media_table *t, char **pk) {
  *pk = NULL;
  char *sql = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q) WHERE pk > 0", t->table);
  if (!sql) return bl__db_error(db, BL_ENOMEM, "out of memory");
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return bl__db_error(db, BL_ESQLITE, "%s", sqlite3_errmsg(db->db));
  int n = 0;
  char *name = NULL;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (n++ == 0) name = strdup((const char *)sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  if (n == 0) {
    free(name);
    return bl__db_error(db, BL_ESCHEMA, "media table '%s' does not exist or has no primary key", t->table);
  }
  if (n == 1 && name && strcmp(name, t->hash_col) != 0 && (!t->filename_col || strcmp(name, t->filename_col) != 0) &&
      (!t->mime_col || strcmp(name, t->mime_col) != 0)) {
    *pk = name;
    return BL_OK;
  }
  free(name);
  return BL_OK;
}

int bl_media_add_file(bl_db *db, const char *path, const char *filename, const char *mime_type,
                      char out_hash[BL_MEDIA_HASH_LEN + 1]) {
  if (!db) return bl__set_tls_error(BL_EMISUSE, "bl_media_add_file: the database handle is NULL");
  if (!path) return bl__db_error(db, BL_EMISUSE, "bl_media_add_file: no file given");
  if (!bl__media_schema_is_builtin(db->media))
    return bl__db_error(db, BL_EMISUSE,
                        "bl_media_add_file needs the built-in media schema (bl_media_schema_table or a '-- media:' "
                        "line in the schema folder)");
  const media_table *t = (const media_table *)db->media;
  char hash[BL_MEDIA_HASH_LEN + 1];
  if (bl_media_hash_file(path, hash) != BL_OK) return bl__db_error(db, BL_EIO, "%s", bl_errmsg(NULL));
  int rc = bl_media_cache_put(db, hash, path);
  if (rc != BL_OK) return rc;
  if (!filename) {
    const char *slash = strrchr(path, '/');
    filename = slash ? slash + 1 : path;
  }
  if (!mime_type) mime_type = table_guess_mime(filename);
  char *pk = NULL;
  if ((rc = table_extra_pk(db, t, &pk)) != BL_OK) return rc;
  char uuid[37] = "";
  if (pk) {
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  }
  /* Columns: hash [, filename] [, mime] [, pk]; parameters in that order. */
  char *sql = sqlite3_mprintf("INSERT %s INTO \"%w\" (\"%w\"%s%w%s%s%w%s%s%w%s) VALUES (?1%s%s%s)",
                              !pk ? "OR IGNORE" : "", t->table, t->hash_col,
                              t->filename_col ? ", \"" : "", t->filename_col ? t->filename_col : "",
                              t->filename_col ? "\"" : "", t->mime_col ? ", \"" : "", t->mime_col ? t->mime_col : "",
                              t->mime_col ? "\"" : "", pk ? ", \"" : "", pk ? pk : "", pk ? "\"" : "",
                              t->filename_col ? ", ?2" : "", t->mime_col ? ", ?3" : "", pk ? ", ?4" : "");
  free(pk);
  if (!sql) return bl__db_error(db, BL_ENOMEM, "out of memory");
  sqlite3_stmt *st = NULL;
  rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, filename, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, mime_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, uuid, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db->db);
  }
  if (rc != SQLITE_OK) {
    rc = bl__db_error(db, bl__from_sqlite(rc), "cannot record the attachment in '%s': %s", t->table,
                      sqlite3_errmsg(db->db));
    sqlite3_finalize(st);
    return rc;
  }
  sqlite3_finalize(st);
  if (out_hash) memcpy(out_hash, hash, sizeof hash);
  return BL_OK;
}
