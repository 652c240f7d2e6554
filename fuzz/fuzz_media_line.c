/*
 * fuzz_media_line.c — libFuzzer target for the "-- media:" line of schema
 * folders (src/media/media_line.c) and the hash syntax check, both fed by
 * files a user or another tool wrote.
 *
 * Properties checked (abort() on violation):
 *   1. No read outside the line (ASan: the line is copied to a buffer of
 *      exactly its length, without a NUL).
 *   2. The answer is 0, 1 or -1; on -1 the message is not empty; on 1 the
 *      table and 1..3 columns are non-empty NUL-terminated names of at
 *      most BL__MEDIA_NAME_MAX bytes.
 *   3. A line accepted once is accepted again with blanks and a CR added at
 *      its end, with the same names (the parser does not depend on what
 *      follows the line).
 *   4. bl__media_hash_valid accepts exactly 64 lowercase hex characters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/media_internal.h"
#include "media/media_line.h"

static void fz_fail(const char *what) {
  fprintf(stderr, "fuzz_media_line: %s\n", what);
  abort();
}

static void fz_check_name(const char *s) {
  size_t n = strnlen(s, BL__MEDIA_NAME_MAX + 1);
  if (n == 0 || n > BL__MEDIA_NAME_MAX) fz_fail("a name is empty or too long");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *line = malloc(size ? size : 1);
  if (!line) return 0;
  if (size) memcpy(line, data, size);
  bl__media_line l;
  char err[200] = "";
  int r = bl__media_parse_line(line, size, &l, err, sizeof err);
  if (r < -1 || r > 1) fz_fail("an answer out of range");
  if (r == -1 && !err[0]) fz_fail("a refusal without a message");
  if (r == 1) {
    fz_check_name(l.table);
    if (l.ncols < 1 || l.ncols > 3) fz_fail("a column count out of range");
    for (int i = 0; i < l.ncols; i++) fz_check_name(l.cols[i]);
    char *longer = malloc(size + 3);
    if (longer) {
      memcpy(longer, line, size);
      memcpy(longer + size, " \t\r", 3);
      bl__media_line l2;
      if (bl__media_parse_line(longer, size + 3, &l2, err, sizeof err) != 1) fz_fail("trailing blanks refused");
      if (strcmp(l.table, l2.table) != 0 || l.ncols != l2.ncols) fz_fail("trailing blanks changed the names");
      for (int i = 0; i < l.ncols; i++)
        if (strcmp(l.cols[i], l2.cols[i]) != 0) fz_fail("trailing blanks changed a column");
      free(longer);
    }
  }

  /* The hash check, on the input as a C string. */
  char *s = malloc(size + 1);
  if (s) {
    memcpy(s, data, size);
    s[size] = '\0';
    size_t n = strlen(s);
    int want = n == 64;
    for (size_t i = 0; i < n && want; i++) want = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (bl__media_hash_valid(s) != want) fz_fail("hash syntax disagrees with the definition");
    free(s);
  }
  free(line);
  return 0;
}
