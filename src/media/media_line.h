/*
 * media_line.h — the parser of a schema file's "-- media:" line, apart so
 * that a fuzz target can call it (fuzz/fuzz_media_line.c).
 */
#ifndef BL_MEDIA_LINE_H
#define BL_MEDIA_LINE_H

#include <stddef.h>

#define BL__MEDIA_NAME_MAX 128

typedef struct bl__media_line {
  char table[BL__MEDIA_NAME_MAX + 1];
  char cols[3][BL__MEDIA_NAME_MAX + 1]; /* hash, filename, MIME type */
  int ncols;                            /* 1..3 */
} bl__media_line;

/*
 * Parses one line (len bytes, no newline). Returns 0 when it is not a
 * "-- media:" line (leading blanks allowed), 1 when it is one and *out is
 * filled, -1 when it is one but malformed (err gets why). Names are
 * [A-Za-z_][A-Za-z0-9_$]* or "double-quoted" ("" for a quote inside), at
 * most BL__MEDIA_NAME_MAX bytes.
 */
int bl__media_parse_line(const char *line, size_t len, bl__media_line *out, char *err, size_t errsize);

#endif /* BL_MEDIA_LINE_H */
