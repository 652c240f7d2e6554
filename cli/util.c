/*
 * util.c — helpers shared by the commands of the backless tool: option
 * parsing, error messages, printing query results as a table, base64.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) return 0;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
  }
  return 0;
}

void cli_error(const char *command, const char *fmt, ...) {
  va_list ap;
  if (command)
    fprintf(stderr, "%s %s: ", cli_progname, command);
  else
    fprintf(stderr, "%s: ", cli_progname);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int cli_usage_error(const char *command, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s %s: ", cli_progname, command);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see '%s %s --help')\n", cli_progname, command);
  return CLI_EXIT_USAGE;
}

int cli_opt_value(const char *command, int argc, char **argv, int *i, const char *name,
                  const char **value) {
  const char *arg = argv[*i];
  size_t n = strlen(name);
  if (strncmp(arg, name, n) != 0) return 0;
  if (arg[n] == '=') {
    *value = arg + n + 1;
    return 1;
  }
  if (arg[n] != '\0') return 0;
  if (*i + 1 >= argc) {
    cli_usage_error(command, "option %s needs a value", name);
    return -1;
  }
  *value = argv[++*i];
  return 1;
}

int cli_parse_int(const char *s, long long min, long long max, long long *out) {
  char *end = NULL;
  if (!s || !*s) return -1;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

char *cli_base64(const unsigned char *p, size_t n) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t len = (n + 2) / 3 * 4;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned long v = (unsigned long)p[i] << 16;
    if (i + 1 < n) v |= (unsigned long)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    s[o++] = alphabet[(v >> 18) & 63];
    s[o++] = alphabet[(v >> 12) & 63];
    s[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    s[o++] = i + 2 < n ? alphabet[v & 63] : '=';
  }
  s[o] = '\0';
  return s;
}

char *cli_hex(const unsigned char *p, int n) {
  static const char digits[] = "0123456789abcdef";
  char *s = sqlite3_malloc64((sqlite3_uint64)n * 2 + 1);
  if (!s) return NULL;
  for (int i = 0; i < n; i++) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 15];
  }
  s[2 * (size_t)n] = '\0';
  return s;
}

char *cli_format_value(sqlite3_stmt *stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_NULL: return sqlite3_mprintf("NULL");
    case SQLITE_BLOB: {
      const unsigned char *p = sqlite3_column_blob(stmt, col);
      int n = sqlite3_column_bytes(stmt, col);
      char *hex = cli_hex(p, n);
      if (!hex) return NULL;
      char *s = sqlite3_mprintf("X'%s'", hex);
      sqlite3_free(hex);
      return s;
    }
    case SQLITE_FLOAT: {
      /* 15 digits reads best; use 17 when 15 would not read back exactly. */
      double d = sqlite3_column_double(stmt, col);
      char *s = sqlite3_mprintf("%!.15g", d);
      if (s && strtod(s, NULL) != d) {
        sqlite3_free(s);
        s = sqlite3_mprintf("%!.17g", d);
      }
      return s;
    }
    default: {
      const unsigned char *t = sqlite3_column_text(stmt, col);
      return sqlite3_mprintf("%.*s", sqlite3_column_bytes(stmt, col), t ? (const char *)t : "");
    }
  }
}

/* Display width of a UTF-8 string: code points, not bytes (good enough for
 * the Latin text the tool prints; wide characters count as one). */
static int util_width(const char *s) {
  int w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) w++;
  return w;
}

int cli_print_query(FILE *out, sqlite3 *db, const char *sql, const char *indent) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK) rc = cli_print_stmt(out, stmt, indent);
  sqlite3_finalize(stmt);
  return rc;
}

int cli_print_stmt(FILE *out, sqlite3_stmt *stmt, const char *indent) {
  char **cells = NULL; /* row-major, ncol per row; row 0 holds the names */
  int *width = NULL;
  size_t nrow = 0, cap = 0;
  int ncol = 0;
  int rc = SQLITE_OK;
  if (!stmt) return SQLITE_OK; /* an empty statement (a comment, ";") */
  ncol = sqlite3_column_count(stmt);
  if (ncol == 0) { /* not a query: run it, print nothing */
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    goto done;
  }
  width = sqlite3_malloc64(sizeof *width * (size_t)ncol);
  if (!width) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  /* Everything is collected first: the widths depend on every row, and an
   * error half-way prints nothing. */
  for (;;) {
    int step = nrow == 0 ? SQLITE_ROW : sqlite3_step(stmt);
    if (step == SQLITE_DONE) break;
    if (step != SQLITE_ROW) {
      rc = step;
      goto done;
    }
    if (nrow == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      char **n = sqlite3_realloc64(cells, sizeof *cells * ncap * (size_t)ncol);
      if (!n) {
        rc = SQLITE_NOMEM;
        goto done;
      }
      memset(n + cap * (size_t)ncol, 0, sizeof *n * (ncap - cap) * (size_t)ncol);
      cells = n;
      cap = ncap;
    }
    for (int c = 0; c < ncol; c++) {
      char *v = nrow == 0 ? sqlite3_mprintf("%s", sqlite3_column_name(stmt, c))
                          : cli_format_value(stmt, c);
      if (!v) {
        rc = SQLITE_NOMEM;
        goto done;
      }
      cells[nrow * (size_t)ncol + (size_t)c] = v;
    }
    nrow++;
  }
  for (int c = 0; c < ncol; c++) {
    width[c] = 0;
    for (size_t r = 0; r < nrow; r++) {
      int w = util_width(cells[r * (size_t)ncol + (size_t)c]);
      if (w > width[c]) width[c] = w;
    }
  }
  for (size_t r = 0; r < nrow; r++) {
    fputs(indent, out);
    for (int c = 0; c < ncol; c++) {
      const char *v = cells[r * (size_t)ncol + (size_t)c];
      int pad = c + 1 < ncol ? width[c] - util_width(v) + 2 : 0;
      fprintf(out, "%s%*s", v, pad, "");
    }
    fputc('\n', out);
    if (r == 0) {
      fputs(indent, out);
      for (int c = 0; c < ncol; c++) {
        for (int k = 0; k < width[c]; k++) fputc('-', out);
        if (c + 1 < ncol) fputs("  ", out);
      }
      fputc('\n', out);
    }
  }
  if (nrow <= 1) fprintf(out, "%s(no rows)\n", indent);
  rc = SQLITE_OK;

done:
  if (cells)
    for (size_t i = 0; i < cap * (size_t)ncol; i++) sqlite3_free(cells[i]);
  sqlite3_free(cells);
  sqlite3_free(width);
  return rc;
}
