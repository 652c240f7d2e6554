/*
 * envelope.c — the compressed and/or encrypted wrapping of cloud files
 * (envelope.h has the byte layout).
 *
 * Encoding is a pipeline of two stages, each holding one 64 KiB buffer:
 * plain bytes -> zstd (when asked) -> secretstream messages of exactly
 * BL_ENV_CHUNK content bytes (when asked) -> out. A full chunk is sealed
 * only once a further byte arrives, so the FINAL message (0..CHUNK bytes)
 * always exists and a reader can tell a complete file from a truncated one.
 * Decoding runs the stages backwards and refuses anything that is not
 * exactly what an encoder writes.
 */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "format/envelope.h"
#include "backless.h"

#define ENV_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define ENV_HBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES

static int env_err(char *err, size_t errsize, int code, const char *msg) {
  if (err && errsize) snprintf(err, errsize, "%s", msg);
  return code;
}

/* The associated data of every message: the 8 header bytes + identity. */
typedef struct env_ad {
  unsigned char *p;
  size_t n;
} env_ad;

static int env_ad_make(env_ad *ad, const unsigned char hdr[BL_ENV_HEADER], const char *identity) {
  size_t il = identity ? strlen(identity) : 0;
  ad->n = BL_ENV_HEADER + il;
  ad->p = malloc(ad->n);
  if (!ad->p) return BL_ENOMEM;
  memcpy(ad->p, hdr, BL_ENV_HEADER);
  if (il) memcpy(ad->p + BL_ENV_HEADER, identity, il);
  return BL_OK;
}

static void env_header(unsigned char hdr[BL_ENV_HEADER], unsigned flags) {
  memcpy(hdr, BL_ENV_MAGIC, 4);
  hdr[4] = (unsigned char)flags;
  hdr[5] = hdr[6] = hdr[7] = 0;
}

/* ------------------------------------------------------------------ encode */

typedef struct env_enc {
  FILE *out;
  int encrypted;
  crypto_secretstream_xchacha20poly1305_state st;
  env_ad ad;
  unsigned char *chunk; /* BL_ENV_CHUNK content bytes waiting to be sealed */
  size_t fill;
  unsigned char *sealed; /* BL_ENV_CHUNK + ABYTES */
} env_enc;

static int env_seal(env_enc *e, unsigned char tag) {
  unsigned long long clen = 0;
  crypto_secretstream_xchacha20poly1305_push(&e->st, e->sealed, &clen, e->chunk, e->fill, e->ad.p, e->ad.n, tag);
  e->fill = 0;
  return fwrite(e->sealed, 1, (size_t)clen, e->out) == (size_t)clen ? BL_OK : BL_EIO;
}

/* Content bytes (after compression) into the encryption stage. */
static int env_content(env_enc *e, const unsigned char *p, size_t n) {
  if (!e->encrypted) return n == 0 || fwrite(p, 1, n, e->out) == n ? BL_OK : BL_EIO;
  while (n > 0) {
    if (e->fill == BL_ENV_CHUNK) {
      int rc = env_seal(e, 0);
      if (rc != BL_OK) return rc;
    }
    size_t take = BL_ENV_CHUNK - e->fill < n ? BL_ENV_CHUNK - e->fill : n;
    memcpy(e->chunk + e->fill, p, take);
    e->fill += take;
    p += take;
    n -= take;
  }
  return BL_OK;
}

int bl_env_encode(FILE *in, FILE *out, const bl_env_opts *o, const char *identity, char *err, size_t errsize) {
  unsigned char hdr[BL_ENV_HEADER];
  env_header(hdr, o->flags);
  env_enc e;
  memset(&e, 0, sizeof e);
  e.out = out;
  e.encrypted = (o->flags & BL_ENV_ENCRYPTED) != 0;
  unsigned char *inbuf = malloc(BL_ENV_CHUNK), *zbuf = NULL;
  ZSTD_CCtx *z = NULL;
  size_t zcap = ZSTD_CStreamOutSize();
  int rc = inbuf ? BL_OK : BL_ENOMEM;
  if (rc == BL_OK && fwrite(hdr, 1, sizeof hdr, out) != sizeof hdr) rc = BL_EIO;
  if (rc == BL_OK && e.encrypted) {
    if (!o->key) {
      rc = env_err(err, errsize, BL_EMISUSE, "no key to encrypt with");
      goto done;
    }
    unsigned char sh[ENV_HBYTES];
    crypto_secretstream_xchacha20poly1305_init_push(&e.st, sh, o->key);
    e.chunk = malloc(BL_ENV_CHUNK);
    e.sealed = malloc(BL_ENV_CHUNK + ENV_ABYTES);
    if (!e.chunk || !e.sealed || env_ad_make(&e.ad, hdr, identity) != BL_OK)
      rc = BL_ENOMEM;
    else if (fwrite(sh, 1, sizeof sh, out) != sizeof sh)
      rc = BL_EIO;
  }
  if (rc == BL_OK && (o->flags & BL_ENV_ZSTD)) {
    z = ZSTD_createCCtx();
    zbuf = malloc(zcap);
    if (!z || !zbuf)
      rc = BL_ENOMEM;
    else
      ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, o->level ? o->level : 3);
  }
  for (int last = 0; rc == BL_OK && !last;) {
    size_t n = fread(inbuf, 1, BL_ENV_CHUNK, in);
    if (n < BL_ENV_CHUNK) {
      if (ferror(in)) {
        rc = BL_EIO;
        break;
      }
      last = 1;
    }
    if (!z) {
      rc = env_content(&e, inbuf, n);
      continue;
    }
    ZSTD_inBuffer zin = {inbuf, n, 0};
    for (int finished = 0; rc == BL_OK && !finished;) {
      ZSTD_outBuffer zout = {zbuf, zcap, 0};
      size_t r = ZSTD_compressStream2(z, &zout, &zin, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(r)) {
        rc = env_err(err, errsize, BL_EIO, ZSTD_getErrorName(r));
        break;
      }
      rc = env_content(&e, zbuf, zout.pos);
      finished = last ? r == 0 : zin.pos == zin.size;
    }
  }
  if (rc == BL_OK && e.encrypted) rc = env_seal(&e, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
  if (rc == BL_OK && fflush(out) != 0) rc = BL_EIO;
  if (rc == BL_EIO && err && errsize && !err[0]) snprintf(err, errsize, "cannot read or write a temporary file");
  if (rc == BL_ENOMEM) env_err(err, errsize, rc, "out of memory");
done:
  sodium_memzero(&e.st, sizeof e.st);
  if (e.chunk) sodium_memzero(e.chunk, BL_ENV_CHUNK);
  if (inbuf) sodium_memzero(inbuf, BL_ENV_CHUNK);
  free(e.chunk);
  free(e.sealed);
  free(e.ad.p);
  free(inbuf);
  free(zbuf);
  ZSTD_freeCCtx(z);
  return rc;
}

/* ------------------------------------------------------------------ decode */

typedef struct env_dec {
  FILE *out;
  ZSTD_DCtx *z;
  unsigned char *zbuf;
  size_t zcap;
  int frame_done; /* the zstd frame ended */
  uint64_t written, max_out;
  char *err;
  size_t errsize;
} env_dec;

/* Content bytes (after decryption) into the decompression stage. */
static int env_plain(env_dec *d, const unsigned char *p, size_t n) {
  if (!d->z) {
    if (d->max_out && d->written + n > d->max_out)
      return env_err(d->err, d->errsize, BL_ECORRUPT, "the file is larger than allowed");
    d->written += n;
    return n == 0 || fwrite(p, 1, n, d->out) == n ? BL_OK : BL_EIO;
  }
  ZSTD_inBuffer zin = {p, n, 0};
  while (zin.pos < zin.size) {
    if (d->frame_done) return env_err(d->err, d->errsize, BL_ECORRUPT, "bytes after the end of the compressed data");
    ZSTD_outBuffer zout = {d->zbuf, d->zcap, 0};
    size_t r = ZSTD_decompressStream(d->z, &zout, &zin);
    if (ZSTD_isError(r)) {
      char msg[160];
      snprintf(msg, sizeof msg, "the compressed data is damaged (%s)", ZSTD_getErrorName(r));
      return env_err(d->err, d->errsize, BL_ECORRUPT, msg);
    }
    if (d->max_out && d->written + zout.pos > d->max_out)
      return env_err(d->err, d->errsize, BL_ECORRUPT, "the file decompresses to more than allowed");
    d->written += zout.pos;
    if (zout.pos && fwrite(d->zbuf, 1, zout.pos, d->out) != zout.pos) return BL_EIO;
    if (r == 0) d->frame_done = 1;
  }
  return BL_OK;
}

int bl_env_decode(FILE *in, FILE *out, const bl_env_opts *o, const char *identity, uint64_t max_out, char *err,
                  size_t errsize) {
  if (err && errsize) err[0] = '\0';
  unsigned char hdr[BL_ENV_HEADER];
  if (fread(hdr, 1, sizeof hdr, in) != sizeof hdr || memcmp(hdr, BL_ENV_MAGIC, 4) != 0)
    return env_err(err, errsize, BL_ECORRUPT,
                   ferror(in) ? "cannot read the file" : "not a backless envelope (no BLX1 header)");
  if (hdr[5] || hdr[6] || hdr[7] || (hdr[4] & ~(BL_ENV_ZSTD | BL_ENV_ENCRYPTED)))
    return env_err(err, errsize, BL_ECORRUPT, "an envelope of an unknown kind (reserved bits set)");
  if ((hdr[4] & BL_ENV_ENCRYPTED) != (o->flags & BL_ENV_ENCRYPTED))
    return env_err(err, errsize, BL_ECORRUPT,
                   (o->flags & BL_ENV_ENCRYPTED) ? "the file is not encrypted, but the app folder is"
                                                 : "the file is encrypted, but the app folder is not");
  if ((hdr[4] & BL_ENV_ZSTD) != (o->flags & BL_ENV_ZSTD) && !(o->flags & BL_ENV_ENCRYPTED)) {
    /* Compression is a writer's choice recorded per file; it is only
     * pinned down by the settings to keep readers simple. */
    return env_err(err, errsize, BL_ECORRUPT, "the file's compression is not the app folder's");
  }
  env_dec d = {out, NULL, NULL, 0, 0, 0, max_out, err, errsize};
  int rc = BL_OK;
  int encrypted = (hdr[4] & BL_ENV_ENCRYPTED) != 0;
  crypto_secretstream_xchacha20poly1305_state st;
  env_ad ad = {NULL, 0};
  unsigned char *sealed = malloc(BL_ENV_CHUNK + ENV_ABYTES), *plain = malloc(BL_ENV_CHUNK);
  if (!sealed || !plain) rc = BL_ENOMEM;
  if (rc == BL_OK && (hdr[4] & BL_ENV_ZSTD)) {
    d.z = ZSTD_createDCtx();
    d.zcap = ZSTD_DStreamOutSize();
    d.zbuf = malloc(d.zcap);
    if (!d.z || !d.zbuf) rc = BL_ENOMEM;
  }
  if (rc == BL_OK && encrypted) {
    unsigned char sh[ENV_HBYTES];
    if (!o->key)
      rc = env_err(err, errsize, BL_EMISUSE, "no key to decrypt with");
    else if (fread(sh, 1, sizeof sh, in) != sizeof sh)
      rc = env_err(err, errsize, BL_ECORRUPT, "the file is truncated (no stream header)");
    else if (crypto_secretstream_xchacha20poly1305_init_pull(&st, sh, o->key) != 0)
      rc = env_err(err, errsize, BL_ECORRUPT, "the stream header is invalid");
    else if (env_ad_make(&ad, hdr, identity) != BL_OK)
      rc = BL_ENOMEM;
  }
  if (rc == BL_OK && encrypted) {
    for (int final = 0; rc == BL_OK && !final;) {
      size_t n = fread(sealed, 1, BL_ENV_CHUNK + ENV_ABYTES, in);
      if (ferror(in)) {
        rc = env_err(err, errsize, BL_EIO, "cannot read the file");
        break;
      }
      unsigned long long plen = 0;
      unsigned char tag = 0;
      if (n < ENV_ABYTES ||
          crypto_secretstream_xchacha20poly1305_pull(&st, plain, &plen, &tag, sealed, n, ad.p, ad.n) != 0) {
        rc = env_err(err, errsize, BL_ECORRUPT,
                     n == 0 ? "the file is truncated (its final part is missing)"
                            : "authentication failed: the file was altered, truncated, moved from another name "
                              "or device, or the key is wrong");
        break;
      }
      if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
        final = 1;
        if (fgetc(in) != EOF) {
          rc = env_err(err, errsize, BL_ECORRUPT, "bytes after the end of the encrypted stream");
          break;
        }
      } else if (tag != 0 || n != BL_ENV_CHUNK + ENV_ABYTES) {
        rc = env_err(err, errsize, BL_ECORRUPT, "the encrypted stream is not laid out as written");
        break;
      }
      rc = env_plain(&d, plain, (size_t)plen);
    }
  } else if (rc == BL_OK) {
    size_t n;
    while (rc == BL_OK && (n = fread(plain, 1, BL_ENV_CHUNK, in)) > 0) rc = env_plain(&d, plain, n);
    if (rc == BL_OK && ferror(in)) rc = env_err(err, errsize, BL_EIO, "cannot read the file");
  }
  if (rc == BL_OK && d.z && !d.frame_done)
    rc = env_err(err, errsize, BL_ECORRUPT, "the file is truncated (the compressed data does not end)");
  if (rc == BL_OK && fflush(out) != 0) rc = env_err(err, errsize, BL_EIO, "cannot write a temporary file");
  if (rc == BL_EIO && err && errsize && !err[0]) snprintf(err, errsize, "cannot write a temporary file");
  if (rc == BL_ENOMEM) env_err(err, errsize, rc, "out of memory");
  sodium_memzero(&st, sizeof st);
  if (plain) sodium_memzero(plain, BL_ENV_CHUNK);
  free(sealed);
  free(plain);
  free(ad.p);
  free(d.zbuf);
  ZSTD_freeDCtx(d.z);
  return rc;
}

int64_t bl_env_size_uncompressed(int64_t plain, unsigned flags) {
  if (!(flags & BL_ENV_ENCRYPTED)) return BL_ENV_HEADER + plain;
  int64_t full = plain == 0 ? 0 : (plain - 1) / BL_ENV_CHUNK;
  return BL_ENV_HEADER + ENV_HBYTES + (full + 1) * ENV_ABYTES + plain;
}
