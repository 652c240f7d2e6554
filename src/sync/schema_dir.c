/*
 * schema_dir.c — bl_schema_from_dir: a schema from numbered SQL files.
 *
 * DIR holds 1.sql, 2.sql, ... N.sql (no gaps; other files are ignored).
 * The schema version is N; create runs every file in order; migrate(from,
 * to) runs files from+1 .. to; a line "-- sync: t1, t2" in any file
 * declares synced tables. clear is left NULL, so bl_clear_all_data deletes
 * every row of the synced tables.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"
#include "util/errmsg.h"

typedef struct schema_dir {
  bl_schema schema; /* first: bl_schema_free casts back */
  char **sql;       /* [version]: text of <i>.sql, index 0 unused */
  char **tables;
  size_t ntables;
} schema_dir;

static int schema_exec_range(sqlite3 *db, schema_dir *d, int from, int to) {
  for (int v = from; v <= to; v++) {
    char *err = NULL;
    int rc = sqlite3_exec(db, d->sql[v], NULL, NULL, &err);
    if (rc != SQLITE_OK) {
      /* Keep the message readable through sqlite3_errmsg for bl_open. */
      sqlite3_free(err);
      return rc;
    }
  }
  return 0;
}

static int schema_create(sqlite3 *db, void *payload) {
  schema_dir *d = payload;
  return schema_exec_range(db, d, 1, d->schema.schema_version);
}

static int schema_migrate(sqlite3 *db, int from, int to, void *payload) {
  return schema_exec_range(db, payload, from + 1, to);
}

void bl_schema_free(bl_schema *schema) {
  if (!schema) return;
  schema_dir *d = (schema_dir *)schema;
  if (d->sql)
    for (int v = 0; v <= d->schema.schema_version; v++) free(d->sql[v]);
  free(d->sql);
  for (size_t i = 0; i < d->ntables; i++) free(d->tables[i]);
  free(d->tables);
  free(d);
}

/* "<digits>.sql" without leading zeros: the version, or 0. */
static int schema_file_version(const char *name) {
  if (!isdigit((unsigned char)name[0]) || name[0] == '0') return 0;
  char *end = NULL;
  errno = 0;
  long v = strtol(name, &end, 10);
  if (errno || v < 1 || v > 1000000 || strcmp(end, ".sql") != 0) return 0;
  return (int)v;
}

static char *schema_read_file(const char *path, int *err) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    *err = errno;
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (len + 1 >= cap) {
      char *grown = realloc(buf, cap *= 2);
      if (!grown) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = grown;
    }
    size_t n = fread(buf + len, 1, cap - len - 1, fp);
    len += n;
    if (n == 0) break;
  }
  *err = ferror(fp) ? EIO : (buf ? 0 : ENOMEM);
  fclose(fp);
  if (*err) {
    free(buf);
    return NULL;
  }
  buf[len] = '\0';
  return buf;
}

/* Adds the tables of every "-- sync: a, b" line of `text`. */
static int schema_scan_sync_lines(schema_dir *d, const char *text, const char *file) {
  const char *line = text;
  while (*line) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    const char *p = line;
    while (p < line + len && (*p == ' ' || *p == '\t')) p++;
    if ((size_t)(line + len - p) >= 8 && strncmp(p, "-- sync:", 8) == 0) {
      p += 8;
      while (p < line + len) {
        while (p < line + len && (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r')) p++;
        const char *start = p;
        while (p < line + len && *p != ',' && *p != '\r') p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if (end == start) continue;
        size_t n = (size_t)(end - start);
        int dup = 0;
        for (size_t i = 0; i < d->ntables; i++) dup |= strlen(d->tables[i]) == n && memcmp(d->tables[i], start, n) == 0;
        if (dup) continue;
        char **grown = realloc(d->tables, (d->ntables + 1) * sizeof *grown);
        if (!grown) return bl__set_tls_error(BL_ENOMEM, "out of memory");
        d->tables = grown;
        d->tables[d->ntables] = malloc(n + 1);
        if (!d->tables[d->ntables]) return bl__set_tls_error(BL_ENOMEM, "out of memory");
        memcpy(d->tables[d->ntables], start, n);
        d->tables[d->ntables++][n] = '\0';
      }
    }
    (void)file;
    if (!eol) break;
    line = eol + 1;
  }
  return BL_OK;
}

int bl_schema_from_dir(bl_schema **out, const char *dir) {
  if (!out || !dir) return bl__set_tls_error(BL_EMISUSE, "bl_schema_from_dir: NULL argument");
  *out = NULL;
  DIR *dh = opendir(dir);
  if (!dh)
    return bl__set_tls_error(errno == ENOENT ? BL_ENOTFOUND : BL_EIO, "cannot open schema folder '%s': %s", dir,
                             strerror(errno));
  int max = 0, count = 0;
  struct dirent *de;
  while ((de = readdir(dh)) != NULL) {
    int v = schema_file_version(de->d_name);
    if (v > 0) {
      count++;
      if (v > max) max = v;
    }
  }
  closedir(dh);
  if (max == 0) return bl__set_tls_error(BL_ENOTFOUND, "schema folder '%s' holds no 1.sql", dir);
  if (count != max)
    return bl__set_tls_error(BL_ESCHEMA, "schema folder '%s' has %d.sql but only %d numbered files: versions must be 1..%d without gaps",
                             dir, max, count, max);

  schema_dir *d = calloc(1, sizeof *d);
  if (!d) return bl__set_tls_error(BL_ENOMEM, "out of memory");
  d->schema.version = BL_SCHEMA_VERSION;
  d->schema.schema_version = max;
  d->schema.create = schema_create;
  d->schema.migrate = schema_migrate;
  d->schema.payload = d;
  d->sql = calloc((size_t)max + 1, sizeof *d->sql);
  if (!d->sql) {
    bl_schema_free(&d->schema);
    return bl__set_tls_error(BL_ENOMEM, "out of memory");
  }
  int rc = BL_OK;
  for (int v = 1; v <= max && rc == BL_OK; v++) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%d.sql", dir, v) >= (int)sizeof path) {
      rc = bl__set_tls_error(BL_EMISUSE, "schema folder path is too long");
      break;
    }
    int err = 0;
    d->sql[v] = schema_read_file(path, &err);
    if (!d->sql[v]) {
      rc = bl__set_tls_error(err == ENOENT ? BL_ESCHEMA : BL_EIO, "cannot read '%s': %s", path,
                             err == ENOENT ? "missing (versions must be 1..N without gaps)" : strerror(err));
      break;
    }
    if (!sqlite3_complete(d->sql[v]) && d->sql[v][strspn(d->sql[v], " \t\r\n")] != '\0') {
      rc = bl__set_tls_error(BL_ESCHEMA, "'%s' does not end with a complete SQL statement (missing ';'?)", path);
      break;
    }
    rc = schema_scan_sync_lines(d, d->sql[v], path);
  }
  if (rc != BL_OK) {
    bl_schema_free(&d->schema);
    return rc;
  }
  d->schema.synced_tables = (const char *const *)d->tables;
  d->schema.synced_tables_count = d->ntables;
  *out = &d->schema;
  return BL_OK;
}
