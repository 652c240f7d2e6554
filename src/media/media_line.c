/*
 * media_line.c — "-- media: TABLE(HASH[, FILENAME[, MIME]])", the line of
 * a schema folder that names the table holding attachments (media_line.h).
 */
#include <stdio.h>
#include <string.h>

#include "media/media_line.h"

typedef struct line_cur {
  const char *p, *end;
} line_cur;

static void line_blanks(line_cur *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) c->p++;
}

static int line_is_start(char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_'; }

static int line_is_part(char ch) { return line_is_start(ch) || (ch >= '0' && ch <= '9') || ch == '$'; }

/* One name into out; -1 with err on failure. */
static int line_name(line_cur *c, char out[BL__MEDIA_NAME_MAX + 1], const char *what, char *err, size_t errsize) {
  size_t n = 0;
  line_blanks(c);
  if (c->p < c->end && *c->p == '"') {
    c->p++;
    for (;;) {
      if (c->p >= c->end) {
        snprintf(err, errsize, "the quoted %s name is not closed", what);
        return -1;
      }
      char ch = *c->p++;
      if (ch == '"') {
        if (c->p < c->end && *c->p == '"') {
          c->p++;
        } else {
          break;
        }
      }
      if (ch == '\0') {
        snprintf(err, errsize, "a NUL byte in the %s name", what);
        return -1;
      }
      if (n == BL__MEDIA_NAME_MAX) {
        snprintf(err, errsize, "the %s name is longer than %d bytes", what, BL__MEDIA_NAME_MAX);
        return -1;
      }
      out[n++] = ch;
    }
    if (n == 0) {
      snprintf(err, errsize, "the %s name is empty", what);
      return -1;
    }
  } else {
    if (c->p >= c->end || !line_is_start(*c->p)) {
      snprintf(err, errsize, "a %s name was expected", what);
      return -1;
    }
    while (c->p < c->end && line_is_part(*c->p)) {
      if (n == BL__MEDIA_NAME_MAX) {
        snprintf(err, errsize, "the %s name is longer than %d bytes", what, BL__MEDIA_NAME_MAX);
        return -1;
      }
      out[n++] = *c->p++;
    }
  }
  out[n] = '\0';
  return 0;
}

int bl__media_parse_line(const char *line, size_t len, bl__media_line *out, char *err, size_t errsize) {
  static const char tag[] = "-- media:";
  line_cur c = {line, line + len};
  line_blanks(&c);
  if ((size_t)(c.end - c.p) < sizeof tag - 1 || memcmp(c.p, tag, sizeof tag - 1) != 0) return 0;
  c.p += sizeof tag - 1;
  memset(out, 0, sizeof *out);
  if (line_name(&c, out->table, "table", err, errsize) < 0) return -1;
  line_blanks(&c);
  if (c.p >= c.end || *c.p != '(') {
    snprintf(err, errsize, "'(' was expected after the table name");
    return -1;
  }
  c.p++;
  static const char *const what[] = {"hash column", "file name column", "MIME type column"};
  for (;;) {
    if (out->ncols == 3) {
      snprintf(err, errsize, "at most three columns (hash, file name, MIME type)");
      return -1;
    }
    if (line_name(&c, out->cols[out->ncols], what[out->ncols], err, errsize) < 0) return -1;
    out->ncols++;
    line_blanks(&c);
    if (c.p < c.end && *c.p == ',') {
      c.p++;
      continue;
    }
    if (c.p < c.end && *c.p == ')') {
      c.p++;
      break;
    }
    snprintf(err, errsize, "',' or ')' was expected after a column name");
    return -1;
  }
  while (c.p < c.end && (*c.p == ' ' || *c.p == '\t' || *c.p == '\r')) c.p++;
  if (c.p != c.end) {
    snprintf(err, errsize, "unexpected text after ')'");
    return -1;
  }
  return 1;
}
