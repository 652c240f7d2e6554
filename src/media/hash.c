/*
 * hash.c — SHA-256 of attachments (libsodium's crypto_hash_sha256, fed in
 * 64 KiB pieces so a file of any size hashes in constant memory) and the
 * syntax of a hash: 64 lowercase hexadecimal characters, the name of the
 * cloud file and of the cache entry alike.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/media_internal.h"
#include "sync/sync_internal.h"
#include "util/errmsg.h"

int bl__media_hash_valid(const char *hash) {
  if (!hash) return 0;
  size_t i = 0;
  for (; hash[i]; i++) {
    char c = hash[i];
    if (i >= BL_MEDIA_HASH_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
  }
  return i == BL_MEDIA_HASH_LEN;
}

int bl__media_check_hash(bl_db *db, const char *what, const char *hash) {
  if (bl__media_hash_valid(hash)) return BL_OK;
  const char *shown = hash ? hash : "(null)";
  int len = (int)strnlen(shown, 80);
  if (db)
    return bl__db_error(db, BL_EMISUSE, "%s: '%.*s%s' is not a media hash (64 lowercase hex characters of SHA-256)",
                        what, len, shown, strlen(shown) > 80 ? "..." : "");
  return bl__set_tls_error(BL_EMISUSE, "%s: '%.*s%s' is not a media hash (64 lowercase hex characters of SHA-256)",
                           what, len, shown, strlen(shown) > 80 ? "..." : "");
}

void bl__media_hex(const unsigned char digest[crypto_hash_sha256_BYTES], char out[BL_MEDIA_HASH_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < crypto_hash_sha256_BYTES; i++) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  out[BL_MEDIA_HASH_LEN] = '\0';
}

int bl__media_hash_stream(FILE *fp, char out[BL_MEDIA_HASH_LEN + 1], int64_t *size) {
  enum { CHUNK = 64 * 1024 };
  unsigned char *buf = malloc(CHUNK);
  if (!buf) return BL_ENOMEM;
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  int64_t total = 0;
  size_t n;
  while ((n = fread(buf, 1, CHUNK, fp)) > 0) {
    crypto_hash_sha256_update(&st, buf, n);
    total += (int64_t)n;
  }
  int failed = ferror(fp);
  free(buf);
  if (failed) return BL_EIO;
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, digest);
  bl__media_hex(digest, out);
  if (size) *size = total;
  return BL_OK;
}

int bl_media_hash_file(const char *path, char out[BL_MEDIA_HASH_LEN + 1]) {
  if (!path || !out) return bl__set_tls_error(BL_EMISUSE, "bl_media_hash_file: NULL argument");
  FILE *fp = fopen(path, "rb");
  if (!fp) return bl__set_tls_error(BL_EIO, "cannot open '%s': %s", path, strerror(errno));
  int rc = bl__media_hash_stream(fp, out, NULL);
  int err = errno;
  fclose(fp);
  if (rc == BL_EIO) return bl__set_tls_error(rc, "cannot read '%s': %s", path, strerror(err));
  if (rc != BL_OK) return bl__set_tls_error(rc, "out of memory");
  return BL_OK;
}
