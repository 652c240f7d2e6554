/*
 * media_files.c — the second half of media_helpers.h: the test's own
 * SHA-256 (the oracle the library's hashes are checked against), PRNG
 * files, comparisons, the cloud as the test sees it, sync results and
 * recorded writes.
 *
 * Divided into: SHA-256; files; the cloud; results.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "media_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- SHA-256 */

typedef struct mh_sha {
  uint32_t h[8];
  uint64_t len;
  unsigned char buf[64];
  size_t n;
} mh_sha;

static const uint32_t mh_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define MH_ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void mh_sha_block(mh_sha *s, const unsigned char *p) {
  uint32_t w[64], a, b, c, d, e, f, g, h;
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = MH_ROR(w[i - 15], 7) ^ MH_ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = MH_ROR(w[i - 2], 17) ^ MH_ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
  e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (MH_ROR(e, 6) ^ MH_ROR(e, 11) ^ MH_ROR(e, 25)) + ((e & f) ^ (~e & g)) +
                  mh_k[i] + w[i];
    uint32_t t2 = (MH_ROR(a, 2) ^ MH_ROR(a, 13) ^ MH_ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
  s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void mh_sha_init(mh_sha *s) {
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, h0, sizeof h0);
  s->len = 0;
  s->n = 0;
}

static void mh_sha_update(mh_sha *s, const void *data, size_t len) {
  const unsigned char *p = data;
  s->len += len;
  while (len > 0) {
    size_t take = 64 - s->n < len ? 64 - s->n : len;
    memcpy(s->buf + s->n, p, take);
    s->n += take, p += take, len -= take;
    if (s->n == 64) {
      mh_sha_block(s, s->buf);
      s->n = 0;
    }
  }
}

static void mh_sha_final(mh_sha *s, char out[BL_MEDIA_HASH_LEN + 1]) {
  uint64_t bits = s->len * 8;
  unsigned char pad[72] = {0x80};
  size_t padlen = (s->n < 56 ? 56 : 120) - s->n;
  unsigned char lenb[8];
  for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
  mh_sha_update(s, pad, padlen);
  mh_sha_update(s, lenb, 8);
  for (int i = 0; i < 8; i++) snprintf(out + 8 * i, 9, "%08x", (unsigned)s->h[i]);
}

void mh_sha256_buf(const void *data, size_t len, char out[BL_MEDIA_HASH_LEN + 1]) {
  mh_sha s;
  mh_sha_init(&s);
  mh_sha_update(&s, data, len);
  mh_sha_final(&s, out);
}

int mh_sha256_file(const char *path, char out[BL_MEDIA_HASH_LEN + 1]) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  mh_sha s;
  unsigned char buf[65536];
  size_t n;
  mh_sha_init(&s);
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) mh_sha_update(&s, buf, n);
  int bad = ferror(f);
  fclose(f);
  if (bad) return -1;
  mh_sha_final(&s, out);
  return 0;
}

/* -------------------------------------------------------------------- files */

static uint64_t mh_next(uint64_t *x) { /* splitmix64 */
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int mh_write_prng(const char *path, uint64_t seed, int64_t size, char out[BL_MEDIA_HASH_LEN + 1]) {
  enum { CHUNK = 1 << 20 };
  unsigned char *buf = malloc(CHUNK);
  FILE *f = fopen(path, "wb");
  mh_sha s;
  int rc = 0;
  if (!buf || !f) {
    fprintf(stderr, "  mh_write_prng(%s): %s\n", path, strerror(errno));
    rc = -1;
    goto done;
  }
  mh_sha_init(&s);
  for (int64_t left = size; left > 0;) {
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    for (size_t i = 0; i < n; i += 8) {
      uint64_t v = mh_next(&seed);
      memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
    }
    mh_sha_update(&s, buf, n);
    if (fwrite(buf, 1, n, f) != n) {
      rc = -1;
      goto done;
    }
    left -= (int64_t)n;
  }
  if (out) mh_sha_final(&s, out);
done:
  if (f && fclose(f) != 0) rc = -1;
  free(buf);
  return rc;
}

char *mh_file(mh_env *e, int64_t size, char out[BL_MEDIA_HASH_LEN + 1]) {
  char name[32];
  snprintf(name, sizeof name, "src-%d.bin", ++e->files);
  char *p = mh_path(e, name);
  if (mh_write_prng(p, (uint64_t)e->files * 7919u + (uint64_t)size, size, out) != 0) exit(2);
  return p;
}

int mh_write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
  if (fclose(f) != 0) rc = -1;
  return rc;
}

int mh_copy_file(const char *src, const char *dst) {
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  char buf[65536];
  size_t n;
  int rc = in && out ? 0 : -1;
  while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) rc = -1;
  if (in && ferror(in)) rc = -1;
  if (in) fclose(in);
  if (out && fclose(out) != 0) rc = -1;
  return rc;
}

int mh_files_equal(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int eq = fa && fb;
  static unsigned char ba[65536], bb[65536];
  while (eq) {
    size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
    if (na != nb || memcmp(ba, bb, na) != 0) eq = 0;
    if (na == 0) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return eq;
}

int mh_flip_byte(const char *path, int64_t offset) {
  int fd = open(path, O_RDWR);
  if (fd < 0 && errno == EACCES) {
    chmod(path, 0600);
    fd = open(path, O_RDWR);
  }
  if (fd < 0) return -1;
  unsigned char c;
  int rc = -1;
  if (pread(fd, &c, 1, offset) == 1) {
    c ^= 0x5a;
    if (pwrite(fd, &c, 1, offset) == 1) rc = 0;
  }
  close(fd);
  return rc;
}

/* -------------------------------------------------------------------- cloud */

const char *mh_media_path(const char *hash) {
  static char buf[256];
  snprintf(buf, sizeof buf, MH_APP "/media/%.2s/%s", hash, hash);
  return buf;
}

int mh_cloud_has(mh_env *e, const char *hash) {
  char folder[64];
  bl_remote_entry *ents = NULL;
  size_t n = 0;
  snprintf(folder, sizeof folder, MH_APP "/media/%.2s", hash);
  int rc = bl_remote_list(e->probe, folder, &ents, &n);
  if (rc == BL_ENOTFOUND) return 0;
  if (rc != BL_OK) {
    fprintf(stderr, "  listing %s: %s\n", folder, bl_remote_errmsg(e->probe));
    return -1;
  }
  int found = 0;
  for (size_t i = 0; i < n; i++)
    if (!ents[i].is_folder && strcmp(ents[i].name, hash) == 0) found = 1;
  bl_remote_entries_free(ents, n);
  return found;
}

static int mh_sink_file(const void *data, size_t len, void *payload) {
  return fwrite(data, 1, len, payload) == len ? 0 : BL_EIO;
}

int mh_cloud_equals(mh_env *e, const char *hash, const char *original) {
  char *tmp = mh_path(e, "cloud-copy.tmp");
  FILE *f = fopen(tmp, "wb");
  int rc = f ? bl_remote_read(e->probe, mh_media_path(hash), mh_sink_file, f) : BL_EIO;
  if (f) fclose(f);
  int eq = rc == BL_OK && mh_files_equal(tmp, original);
  if (rc != BL_OK) fprintf(stderr, "  reading cloud %s: %d\n", mh_media_path(hash), rc);
  remove(tmp);
  free(tmp);
  return eq;
}

int mh_cloud_put(mh_env *e, const char *hash, const void *data, size_t len) {
  char folder[64];
  snprintf(folder, sizeof folder, MH_APP "/media/%.2s", hash);
  int rc = bl_remote_mkdir(e->probe, folder);
  if (rc == BL_OK) rc = bl_remote_write_buf(e->probe, mh_media_path(hash), data, len);
  return rc;
}

/* ------------------------------------------------------------------ results */

static int mh_issue_list(const bl_sync_issue *v, size_t n, int code, const char *substr) {
  int hits = 0;
  for (size_t i = 0; i < n; i++)
    if (v[i].code == code && (!substr || (v[i].message && strstr(v[i].message, substr)))) hits++;
  return hits;
}

int mh_issues(const bl_sync_result *r, int which, int code, const char *substr) {
  int n = 0;
  if (which == 'w' || which == '*') n += mh_issue_list(r->warnings, r->warnings_count, code, substr);
  if (which == 'e' || which == '*') n += mh_issue_list(r->errors, r->errors_count, code, substr);
  return n;
}

static void mh_rec_write(bl__fault_op op, const char *path, void *payload) {
  (void)op;
  mh_rec *rec = payload;
  if (rec->n < BL__FAULT_MAX_TRIGGERS)
    snprintf(rec->paths[rec->n++], sizeof rec->paths[0], "%s", path);
}

void mh_record_writes(mh_dev *d, mh_rec *rec) {
  memset(rec, 0, sizeof *rec);
  bl__fault_reset(d->remote);
  for (unsigned i = 1; i <= BL__FAULT_MAX_TRIGGERS; i++)
    bl__fault_crash(d->remote, BL__FAULT_WRITE, i, BL__FAULT_BEFORE, mh_rec_write, rec);
}

void mh_record_stop(mh_dev *d) { bl__fault_reset(d->remote); }

int mh_rec_media(const mh_rec *rec) {
  int n = 0;
  for (int i = 0; i < rec->n; i++)
    if (strncmp(rec->paths[i], MH_APP "/media/", strlen(MH_APP "/media/")) == 0) n++;
  return n;
}

int mh_asan(void) {
#if defined(__SANITIZE_ADDRESS__)
  return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return 1;
#else
  return 0;
#endif
#else
  return 0;
#endif
}
