/*
 * envelope.c — the compressed / encrypted wrapping of cloud files
 * (src/format/envelope.c): round trips of every kind at every chunk
 * boundary, and every way a file can be damaged, moved or replayed being
 * refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backless.h"
#include "format/envelope.h"
#include "harness.h"

static unsigned char key[BL_ENV_KEYBYTES], other_key[BL_ENV_KEYBYTES];

/* n bytes: pseudo-random when `random`, else a repetitive text. */
static unsigned char *env_bytes(size_t n, int random, unsigned seed) {
  unsigned char *p = malloc(n ? n : 1);
  unsigned long long x = seed * 2654435761ULL + 7;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    p[i] = random ? (unsigned char)x : (unsigned char)("todo: buy milk, call mom; "[i % 26]);
  }
  return p;
}

static FILE *env_file(const unsigned char *p, size_t n) {
  FILE *f = tmpfile();
  if (n) fwrite(p, 1, n, f);
  rewind(f);
  return f;
}

/* Reads a whole FILE into malloc'ed memory. */
static unsigned char *env_slurp(FILE *f, size_t *n) {
  fflush(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  unsigned char *p = malloc(len ? (size_t)len : 1);
  *n = fread(p, 1, (size_t)len, f);
  return p;
}

static unsigned char *env_encode(const unsigned char *plain, size_t n, unsigned flags, const char *id, size_t *outn) {
  FILE *in = env_file(plain, n), *out = tmpfile();
  bl_env_opts o = {flags, key, 0};
  char err[200] = "";
  int rc = bl_env_encode(in, out, &o, id, err, sizeof err);
  BL_CHECK_INT(rc, BL_OK);
  unsigned char *p = env_slurp(out, outn);
  fclose(in);
  fclose(out);
  return p;
}

/* Decodes; on BL_OK plain and plainn hold the result; err gets the message. */
static int env_decode(const unsigned char *enc, size_t n, unsigned flags, const unsigned char *k, const char *id,
                      unsigned char **plain, size_t *plainn, char *err, size_t errsize) {
  FILE *in = env_file(enc, n), *out = tmpfile();
  bl_env_opts o = {flags, k, 0};
  int rc = bl_env_decode(in, out, &o, id, 0, err, errsize);
  *plain = env_slurp(out, plainn);
  fclose(in);
  fclose(out);
  return rc;
}

static const unsigned flag_sets[] = {0, BL_ENV_ZSTD, BL_ENV_ENCRYPTED, BL_ENV_ZSTD | BL_ENV_ENCRYPTED};

static void test_format_envelope__round_trips(void) {
  const size_t sizes[] = {0, 1, 100, BL_ENV_CHUNK - 1, BL_ENV_CHUNK, BL_ENV_CHUNK + 1, 2 * BL_ENV_CHUNK,
                          3 * BL_ENV_CHUNK + 5};
  for (size_t f = 0; f < 4; f++)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
      for (int random = 0; random < 2; random++) {
        unsigned char *plain = env_bytes(sizes[s], random, (unsigned)s);
        size_t en = 0, dn = 0;
        unsigned char *enc = env_encode(plain, sizes[s], flag_sets[f], "changeset/dev/1", &en), *dec = NULL;
        char err[200] = "";
        int rc = env_decode(enc, en, flag_sets[f], key, "changeset/dev/1", &dec, &dn, err, sizeof err);
        if (rc != BL_OK || dn != sizes[s] || (dn && memcmp(dec, plain, dn) != 0)) {
          fprintf(stderr, "  flags %u size %zu random %d: rc %d (%s), %zu bytes back\n", flag_sets[f], sizes[s],
                  random, rc, err, dn);
          bl_test_failed_checks++;
        }
        if (!(flag_sets[f] & BL_ENV_ZSTD)) BL_CHECK_INT(en, bl_env_size_uncompressed((int64_t)sizes[s], flag_sets[f]));
        if (flag_sets[f] & BL_ENV_ENCRYPTED && sizes[s] >= 26) {
          /* Never the plaintext in the clear. */
          BL_CHECK(memmem(enc, en, plain, 26) == NULL);
        }
        free(plain);
        free(enc);
        free(dec);
      }
}

static void test_format_envelope__compresses(void) {
  size_t n = 200000, en = 0;
  unsigned char *plain = env_bytes(n, 0, 1);
  unsigned char *enc = env_encode(plain, n, BL_ENV_ZSTD | BL_ENV_ENCRYPTED, "x", &en);
  BL_CHECK(en < n / 20);
  free(plain);
  free(enc);
}

/* Expects the decode to fail with BL_ECORRUPT and a message containing
 * `want` (NULL: any). */
static void env_refused(const unsigned char *enc, size_t n, unsigned flags, const unsigned char *k, const char *id,
                        const char *want, const char *what) {
  unsigned char *dec = NULL;
  size_t dn = 0;
  char err[200] = "";
  int rc = env_decode(enc, n, flags, k, id, &dec, &dn, err, sizeof err);
  if (rc != BL_ECORRUPT || !err[0] || (want && !strstr(err, want))) {
    fprintf(stderr, "  %s: rc %d, message '%s' (wanted '%s')\n", what, rc, err, want ? want : "any");
    bl_test_failed_checks++;
  }
  free(dec);
}

static void test_format_envelope__tampering(void) {
  const unsigned flags = BL_ENV_ZSTD | BL_ENV_ENCRYPTED;
  size_t n = 3 * BL_ENV_CHUNK + 77, en = 0;
  unsigned char *plain = env_bytes(n, 1, 9);
  unsigned char *enc = env_encode(plain, n, flags, "changeset/aaaa/7", &en);
  char what[80];
  /* A flipped byte anywhere: header, stream header, every message. */
  const size_t at[] = {4, 5, 8, 20, 40, BL_ENV_CHUNK, BL_ENV_CHUNK + 40, 2 * BL_ENV_CHUNK + 100, en - 1};
  for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
    enc[at[i]] ^= 0x20;
    snprintf(what, sizeof what, "byte %zu flipped", at[i]);
    env_refused(enc, en, flags, key, "changeset/aaaa/7", NULL, what);
    enc[at[i]] ^= 0x20;
  }
  /* Truncated at every message boundary and in between. */
  const size_t cut[] = {0, 3, 8, 20, 32, 33, 32 + BL_ENV_CHUNK + 17, 32 + 2 * (BL_ENV_CHUNK + 17), en - 1};
  for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
    snprintf(what, sizeof what, "cut at %zu", cut[i]);
    env_refused(enc, cut[i], flags, key, "changeset/aaaa/7", NULL, what);
  }
  /* Bytes appended. */
  unsigned char *longer = malloc(en + 5);
  memcpy(longer, enc, en);
  memcpy(longer + en, "extra", 5);
  env_refused(longer, en + 5, flags, key, "changeset/aaaa/7", NULL, "bytes appended");
  free(longer);
  /* Another identity: moved to another device, another sequence, another kind. */
  env_refused(enc, en, flags, key, "changeset/bbbb/7", "authentication failed", "another device");
  env_refused(enc, en, flags, key, "changeset/aaaa/8", "authentication failed", "another sequence");
  env_refused(enc, en, flags, key, "snapshot/aaaa/7", "authentication failed", "another kind");
  /* Another key. */
  env_refused(enc, en, flags, other_key, "changeset/aaaa/7", "authentication failed", "another key");
  /* The header's compression bit flipped (bound as associated data). */
  enc[4] ^= BL_ENV_ZSTD;
  env_refused(enc, en, flags, key, "changeset/aaaa/7", "authentication failed", "compression bit flipped");
  enc[4] ^= BL_ENV_ZSTD;
  /* Not encrypted where the folder is, and the other way round. */
  env_refused(enc, en, BL_ENV_ZSTD, key, "changeset/aaaa/7", "encrypted, but the app folder is not", "unexpected");
  size_t pn = 0;
  unsigned char *plainenc = env_encode(plain, n, BL_ENV_ZSTD, "changeset/aaaa/7", &pn);
  env_refused(plainenc, pn, flags, key, "changeset/aaaa/7", "not encrypted, but the app folder is", "downgrade");
  /* A plain JSON file where an envelope is expected. */
  env_refused((const unsigned char *)"{\"format\":\"backless\"}", 21, flags, key, "x", "no BLX1 header", "plain JSON");
  /* Messages reordered (swap the first two). */
  unsigned char *swapped = malloc(en);
  memcpy(swapped, enc, en);
  size_t m = BL_ENV_CHUNK + 17, base = 32;
  memcpy(swapped + base, enc + base + m, m);
  memcpy(swapped + base + m, enc + base, m);
  env_refused(swapped, en, flags, key, "changeset/aaaa/7", "authentication failed", "messages swapped");
  free(swapped);
  free(plainenc);
  free(plain);
  free(enc);
}

static void test_format_envelope__unencrypted_damage(void) {
  size_t n = 100000, en = 0;
  unsigned char *plain = env_bytes(n, 0, 3);
  unsigned char *enc = env_encode(plain, n, BL_ENV_ZSTD, "x", &en);
  env_refused(enc, en / 2, BL_ENV_ZSTD, NULL, "x", "truncated", "zstd cut in half");
  unsigned char *longer = malloc(en + 4);
  memcpy(longer, enc, en);
  memcpy(longer + en, enc + 8, 4);
  env_refused(longer, en + 4, BL_ENV_ZSTD, NULL, "x", NULL, "bytes after the zstd frame");
  enc[4] = 7;
  env_refused(enc, en, BL_ENV_ZSTD, NULL, "x", "unknown kind", "reserved bit");
  free(longer);
  free(plain);
  free(enc);
}

static void test_format_envelope__bomb(void) {
  size_t n = 4 << 20, en = 0;
  unsigned char *plain = calloc(1, n);
  unsigned char *enc = env_encode(plain, n, BL_ENV_ZSTD, "x", &en);
  BL_CHECK(en < 4096);
  FILE *in = env_file(enc, en), *out = tmpfile();
  bl_env_opts o = {BL_ENV_ZSTD, NULL, 0};
  char err[200] = "";
  BL_CHECK_INT(bl_env_decode(in, out, &o, "x", 1 << 20, err, sizeof err), BL_ECORRUPT);
  BL_CHECK(strstr(err, "more than allowed") != NULL);
  fclose(in);
  fclose(out);
  free(plain);
  free(enc);
}

static void setup(void) {
  if (sodium_init() < 0) abort();
  randombytes_buf(key, sizeof key);
  randombytes_buf(other_key, sizeof other_key);
}

static void test_format_envelope__all(void) {
  setup();
  test_format_envelope__round_trips();
  test_format_envelope__compresses();
  test_format_envelope__tampering();
  test_format_envelope__unencrypted_damage();
  test_format_envelope__bomb();
}

static bl_test_case cases[] = {BL_TEST(test_format_envelope__all)};
BL_TEST_MAIN(cases)
