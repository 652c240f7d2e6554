/*
 * envelope.h — how a file's bytes are wrapped on their way to the cloud
 * when the app folder's settings ask for compression or encryption
 * (docs/FORMAT.md section 14, docs/SECURITY.md).
 *
 *   offset 0  "BLX1"             magic
 *          4  flags              bit 0: zstd, bit 1: encrypted
 *          5  3 zero bytes       reserved
 *          8  when encrypted: the 24-byte header of a libsodium
 *             crypto_secretstream_xchacha20poly1305 stream, then the
 *             stream's messages: each holds BL_ENV_CHUNK bytes of the
 *             (compressed) content and 17 bytes of overhead; the last holds
 *             what remains (possibly 0 bytes) and is tagged FINAL.
 *             Each message is authenticated with the associated data
 *             = the 8 bytes above + the file's identity (a text such as
 *             "changeset/<device>/<sequence>"), so a file renamed, moved or
 *             replayed under another name fails to open.
 *             when not encrypted: the (compressed) content itself.
 *   The content is a zstd frame of the plain bytes when bit 0 is set, else
 *   the plain bytes.
 *
 * Both directions stream FILE to FILE in constant memory.
 */
#ifndef BL_FORMAT_ENVELOPE_H
#define BL_FORMAT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sodium.h>

#define BL_ENV_MAGIC "BLX1"
#define BL_ENV_HEADER 8
#define BL_ENV_ZSTD 1u
#define BL_ENV_ENCRYPTED 2u
#define BL_ENV_CHUNK 65536
#define BL_ENV_KEYBYTES crypto_secretstream_xchacha20poly1305_KEYBYTES

typedef struct bl_env_opts {
  unsigned flags;                             /* BL_ENV_ZSTD | BL_ENV_ENCRYPTED */
  const unsigned char *key;                   /* BL_ENV_KEYBYTES when encrypted */
  int level;                                  /* zstd level; 0: 3 */
} bl_env_opts;

/*
 * Wraps the rest of `in` into `out` (both positioned by the caller;
 * `out` is left after the last byte written). `identity` is bound to an
 * encrypted file. BL_OK, BL_EIO (read or write failed), BL_ENOMEM;
 * err (errsize bytes) gets a message.
 */
int bl_env_encode(FILE *in, FILE *out, const bl_env_opts *o, const char *identity, char *err, size_t errsize);

/*
 * Unwraps `in` into `out`, checking that its flags are `o->flags` (a file
 * that is not encrypted in an encrypted folder is refused, and the other
 * way round), every message's authentication with `identity`, and that
 * nothing is missing or added at the end. Nothing of a refused file may be
 * used: the caller discards `out`. BL_ECORRUPT with a message naming what
 * failed, BL_EIO, BL_ENOMEM. `max_out` (0: no limit) bounds the plain
 * size, so a compression bomb is refused (BL_ECORRUPT).
 */
int bl_env_decode(FILE *in, FILE *out, const bl_env_opts *o, const char *identity, uint64_t max_out, char *err,
                  size_t errsize);

/* The size of the envelope of `plain` plain bytes when it is not
 * compressed (media): exact, so a listing's size can be compared. */
int64_t bl_env_size_uncompressed(int64_t plain, unsigned flags);

#endif /* BL_FORMAT_ENVELOPE_H */
