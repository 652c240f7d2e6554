/*
 * fuzz_envelope.c — libFuzzer target for the reader of compressed and
 * encrypted cloud files (src/format/envelope.c), the bytes a hostile cloud
 * controls.
 *
 * The first input byte picks the folder's settings (compressed, encrypted);
 * the rest is the file. Properties (abort() on violation):
 *   1. No crash, leak or read out of bounds (ASan), and the answer is
 *      BL_OK or BL_ECORRUPT (never BL_EIO on temporary files that work),
 *      with a message on BL_ECORRUPT.
 *   2. The output never exceeds the limit given (a compression bomb).
 *   3. An accepted file re-encoded and decoded again gives the same bytes
 *      (the seeds include files sealed with the fixed key, so encrypted
 *      inputs are accepted too: mutations of them must all be refused,
 *      which property 1 and the round trip watch).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"
#include "format/envelope.h"

#define FZ_LIMIT (1u << 20)

static void fz_fail(const char *what) {
  fprintf(stderr, "fuzz_envelope: %s\n", what);
  abort();
}

static unsigned char fz_key[BL_ENV_KEYBYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned flags = data[0] & 3u;
  FILE *in = tmpfile(), *out = tmpfile();
  if (!in || !out) fz_fail("no temporary file");
  if (size > 1) fwrite(data + 1, 1, size - 1, in);
  rewind(in);
  bl_env_opts o = {flags, fz_key, 0};
  char err[200] = "";
  int rc = bl_env_decode(in, out, &o, "changeset/fuzz/1", FZ_LIMIT, err, sizeof err);
  if (rc != BL_OK && rc != BL_ECORRUPT) fz_fail("an answer other than OK or CORRUPT");
  if (rc == BL_ECORRUPT && !err[0]) fz_fail("a refusal without a message");
  long n = ftell(out);
  if (n < 0 || (unsigned long)n > FZ_LIMIT) fz_fail("more output than the limit");
  if (rc == BL_OK) {
    /* Re-encode and decode: the same bytes. */
    FILE *again = tmpfile(), *back = tmpfile();
    rewind(out);
    if (bl_env_encode(out, again, &o, "changeset/fuzz/1", err, sizeof err) != BL_OK) fz_fail("re-encoding failed");
    rewind(again);
    if (bl_env_decode(again, back, &o, "changeset/fuzz/1", 0, err, sizeof err) != BL_OK) fz_fail("round trip failed");
    if (ftell(back) != n) fz_fail("round trip changed the size");
    rewind(out);
    rewind(back);
    int a, b;
    do {
      a = fgetc(out);
      b = fgetc(back);
      if (a != b) fz_fail("round trip changed the bytes");
    } while (a != EOF);
    fclose(again);
    fclose(back);
  }
  fclose(in);
  fclose(out);
  return 0;
}
