/*
 * settings.c — backless.json, the app-wide settings every device must agree
 * on, and the keys of an encrypted app folder (docs/FORMAT.md section 3,
 * docs/SECURITY.md).
 *
 *   version 1  {"format":"backless","version":1}: files are plain JSON.
 *   version 2  {"format":"backless","version":2,"compression":"zstd"|"none",
 *               "encryption":null | {"cipher":"xchacha20poly1305-secretstream",
 *                 "kdf":"argon2id13"|"raw","opslimit":N,"memlimit":N,
 *                 "salt":"<32 hex>","wrapped_key":"<144 hex>"}}
 *              every file is wrapped in an envelope (src/format/envelope.h).
 *
 * Written once by the first device that syncs, from its bl_config; read by
 * every other; never overwritten (bl_passphrase_change rewrites the wrapped
 * key only). The text is remembered in _sync_meta after the first read, so
 * an idle sync costs no request for it; the key never is: it is derived
 * (Argon2id, or the raw key given) once per bl_db, kept in locked memory and
 * wiped at bl_close.
 *
 * The data key is random (32 bytes) and wrapped with crypto_secretbox under
 * the key derived from the passphrase: changing the passphrase rewraps it
 * without touching the history, and a wrong passphrase is told apart from a
 * damaged file (the box does not open).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <yajl/yajl_tree.h>

#include "format/envelope.h"
#include "sync/sync_internal.h"

#define SETTINGS_KEY "cloud_settings"
#define SETTINGS_V1 "{\"format\":\"backless\",\"version\":1}\n"
#define SETTINGS_MAX_VERSION 2
#define SALT_BYTES crypto_pwhash_SALTBYTES
#define WRAP_BYTES (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + BL_ENV_KEYBYTES)

typedef struct settings {
  int version;
  unsigned flags; /* BL_ENV_ZSTD | BL_ENV_ENCRYPTED */
  int raw;        /* kdf "raw": the key given is the key-encryption key */
  unsigned long long ops;
  size_t mem;
  unsigned char salt[SALT_BYTES];
  unsigned char wrapped[WRAP_BYTES];
} settings;

typedef struct settings_buf {
  char data[4096];
  size_t len;
} settings_buf;

static int settings_sink(const void *data, size_t len, void *payload) {
  settings_buf *b = payload;
  if (len > sizeof b->data - 1 - b->len) return BL_ECORRUPT; /* far larger than any settings file */
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

/* ----------------------------------------------------------------- parse */

static int settings_hex(const char *hex, unsigned char *out, size_t n) {
  size_t got = 0;
  return hex && strlen(hex) == 2 * n && sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, NULL) == 0 && got == n;
}

/* Parses `text` into *s. BL_OK; else an error recorded in ctx (corrupt:
 * not ours; format: a version or setting this build does not support). */
static int settings_parse(bl_sync_ctx *ctx, const char *text, settings *s) {
  const char *app = ctx->db->app_folder;
  char err[256];
  memset(s, 0, sizeof *s);
  yajl_val root = yajl_tree_parse(text, err, sizeof err);
  const char *fpath[] = {"format", NULL}, *vpath[] = {"version", NULL}, *cpath[] = {"compression", NULL},
             *epath[] = {"encryption", NULL};
  yajl_val f = root ? yajl_tree_get(root, fpath, yajl_t_string) : NULL;
  yajl_val v = root ? yajl_tree_get(root, vpath, yajl_t_number) : NULL;
  const char *fs = f ? YAJL_GET_STRING(f) : NULL;
  int rc = BL_OK;
  if (!root || !YAJL_IS_OBJECT(root) || !fs || strcmp(fs, "backless") != 0 || !v || !YAJL_IS_INTEGER(v)) {
    bl__ctx_error(ctx, NULL, BL_SYNC_CORRUPT, BL_ECORRUPT, "%s/backless.json is not a backless settings file; sync stopped",
                  app);
    rc = BL_ECORRUPT;
    goto done;
  }
  long long version = YAJL_GET_INTEGER(v);
  if (version < 1 || version > SETTINGS_MAX_VERSION) {
    bl__ctx_error(ctx, NULL, BL_SYNC_FORMAT, BL_ESCHEMA,
                  "%s/backless.json has format version %lld; this build reads versions 1 to %d: update the app", app,
                  version, SETTINGS_MAX_VERSION);
    rc = BL_ESCHEMA;
    goto done;
  }
  s->version = (int)version;
  if (version == 1) goto done;
  yajl_val c = yajl_tree_get(root, cpath, yajl_t_any), e = yajl_tree_get(root, epath, yajl_t_any);
  const char *cs = c && YAJL_IS_STRING(c) ? YAJL_GET_STRING(c) : NULL;
  if (!cs || (strcmp(cs, "zstd") != 0 && strcmp(cs, "none") != 0)) {
    bl__ctx_error(ctx, NULL, BL_SYNC_FORMAT, BL_ESCHEMA,
                  "%s/backless.json asks for compression '%s', which this build does not support: update the app",
                  app, cs ? cs : "?");
    rc = BL_ESCHEMA;
    goto done;
  }
  if (strcmp(cs, "zstd") == 0) s->flags |= BL_ENV_ZSTD;
  if (!e || YAJL_IS_NULL(e)) goto done;
  s->flags |= BL_ENV_ENCRYPTED;
  const char *p_cipher[] = {"cipher", NULL}, *p_kdf[] = {"kdf", NULL}, *p_ops[] = {"opslimit", NULL},
             *p_mem[] = {"memlimit", NULL}, *p_salt[] = {"salt", NULL}, *p_wrap[] = {"wrapped_key", NULL};
  yajl_val cipher = YAJL_IS_OBJECT(e) ? yajl_tree_get(e, p_cipher, yajl_t_string) : NULL;
  yajl_val kdf = YAJL_IS_OBJECT(e) ? yajl_tree_get(e, p_kdf, yajl_t_string) : NULL;
  yajl_val ops = YAJL_IS_OBJECT(e) ? yajl_tree_get(e, p_ops, yajl_t_number) : NULL;
  yajl_val mem = YAJL_IS_OBJECT(e) ? yajl_tree_get(e, p_mem, yajl_t_number) : NULL;
  yajl_val salt = YAJL_IS_OBJECT(e) ? yajl_tree_get(e, p_salt, yajl_t_string) : NULL;
  yajl_val wrap = YAJL_IS_OBJECT(e) ? yajl_tree_get(e, p_wrap, yajl_t_string) : NULL;
  const char *ks = kdf ? YAJL_GET_STRING(kdf) : NULL, *cs2 = cipher ? YAJL_GET_STRING(cipher) : NULL;
  if (!cs2 || strcmp(cs2, "xchacha20poly1305-secretstream") != 0 || !ks ||
      (strcmp(ks, "argon2id13") != 0 && strcmp(ks, "raw") != 0)) {
    bl__ctx_error(ctx, NULL, BL_SYNC_FORMAT, BL_ESCHEMA,
                  "%s/backless.json asks for a cipher or key derivation this build does not support: update the app",
                  app);
    rc = BL_ESCHEMA;
    goto done;
  }
  s->raw = strcmp(ks, "raw") == 0;
  if (!wrap || !settings_hex(YAJL_GET_STRING(wrap), s->wrapped, WRAP_BYTES)) goto bad;
  if (!s->raw) {
    if (!ops || !mem || !YAJL_IS_INTEGER(ops) || !YAJL_IS_INTEGER(mem) || !salt ||
        !settings_hex(YAJL_GET_STRING(salt), s->salt, SALT_BYTES))
      goto bad;
    long long o = YAJL_GET_INTEGER(ops), m = YAJL_GET_INTEGER(mem);
    /* Bounds: what libsodium accepts, and no more than 4 GiB of memory,
     * so a hostile file cannot make a device allocate without limit. */
    if (o < (long long)crypto_pwhash_OPSLIMIT_MIN || o > 64 || m < (long long)crypto_pwhash_MEMLIMIT_MIN ||
        m > (4LL << 30)) {
      bl__ctx_error(ctx, NULL, BL_SYNC_FORMAT, BL_ESCHEMA,
                    "%s/backless.json asks for key derivation costs out of range (opslimit %lld, memlimit %lld)", app,
                    o, m);
      rc = BL_ESCHEMA;
      goto done;
    }
    s->ops = (unsigned long long)o;
    s->mem = (size_t)m;
  }
  goto done;
bad:
  bl__ctx_error(ctx, NULL, BL_SYNC_CORRUPT, BL_ECORRUPT,
                "%s/backless.json has a damaged encryption section (salt or wrapped key); sync stopped", app);
  rc = BL_ECORRUPT;
done:
  yajl_tree_free(root);
  return rc;
}

/* ------------------------------------------------------------------- keys */

/* The key-encryption key from the passphrase (or the raw key) into kek. */
static int settings_kek(bl_sync_ctx *ctx, const settings *s, unsigned char kek[BL_ENV_KEYBYTES]) {
  bl_db *db = ctx->db;
  if (s->raw) {
    if (!db->given_key) goto missing;
    memcpy(kek, db->given_key, BL_ENV_KEYBYTES);
    return BL_OK;
  }
  if (!db->passphrase) goto missing;
  char *pw = sodium_malloc(1024);
  if (!pw) {
    bl__ctx_error(ctx, NULL, BL_SYNC_KEY, BL_ENOMEM, "out of memory");
    return BL_ENOMEM;
  }
  memset(pw, 0, 1024);
  int got = db->passphrase(pw, 1024, db->passphrase_payload);
  pw[1023] = '\0';
  int rc = BL_OK;
  if (got != 0 || !pw[0]) {
    sodium_free(pw);
    goto missing;
  }
  if (crypto_pwhash(kek, BL_ENV_KEYBYTES, pw, strlen(pw), s->salt, s->ops, s->mem, crypto_pwhash_ALG_ARGON2ID13) !=
      0) {
    bl__ctx_error(ctx, NULL, BL_SYNC_KEY, BL_ENOMEM,
                  "cannot derive the key: Argon2id needs %zu MiB of memory, which this device could not allocate",
                  s->mem >> 20);
    rc = BL_ENOMEM;
  }
  sodium_free(pw); /* zeroes it */
  return rc;
missing:
  bl__ctx_error(ctx, NULL, BL_SYNC_KEY, BL_EAUTH,
                "the app folder '%s' is encrypted: its %s is needed (bl_config.%s); nothing was downloaded",
                db->app_folder, s->raw ? "key" : "passphrase", s->raw ? "key" : "passphrase");
  return BL_EAUTH;
}

/* Unwraps the data key of `s` into db->data_key. */
static int settings_unwrap(bl_sync_ctx *ctx, const settings *s) {
  bl_db *db = ctx->db;
  unsigned char kek[BL_ENV_KEYBYTES];
  int rc = settings_kek(ctx, s, kek);
  if (rc != BL_OK) return rc;
  if (!db->data_key && !(db->data_key = sodium_malloc(BL_ENV_KEYBYTES))) {
    sodium_memzero(kek, sizeof kek);
    bl__ctx_error(ctx, NULL, BL_SYNC_KEY, BL_ENOMEM, "out of memory");
    return BL_ENOMEM;
  }
  const unsigned char *nonce = s->wrapped, *box = s->wrapped + crypto_secretbox_NONCEBYTES;
  int bad = crypto_secretbox_open_easy(db->data_key, box, WRAP_BYTES - crypto_secretbox_NONCEBYTES, nonce, kek) != 0;
  sodium_memzero(kek, sizeof kek);
  if (bad) {
    sodium_free(db->data_key);
    db->data_key = NULL;
    bl__ctx_error(ctx, NULL, BL_SYNC_KEY, BL_EAUTH,
                  "wrong %s for the encrypted app folder '%s' (its data key does not open); nothing was "
                  "downloaded, applied or uploaded",
                  s->raw ? "key" : "passphrase", db->app_folder);
    return BL_EAUTH;
  }
  return BL_OK;
}

/* ----------------------------------------------------------------- create */

/* The text a new app folder gets from this device's config; for an
 * encrypted one also a fresh data key in db->data_key. */
static int settings_create_text(bl_sync_ctx *ctx, char *out, size_t size) {
  bl_db *db = ctx->db;
  const char *comp = db->compression_new == BL_COMPRESSION_NONE ? "none" : "zstd";
  if (!db->passphrase && !db->given_key) {
    /* Neither compressed nor encrypted: version 1, plain JSON files that
     * every earlier build reads. */
    if (db->compression_new == BL_COMPRESSION_NONE)
      snprintf(out, size, "%s", SETTINGS_V1);
    else
      snprintf(out, size, "{\"format\":\"backless\",\"version\":2,\"compression\":\"%s\",\"encryption\":null}\n",
               comp);
    return BL_OK;
  }
  settings s;
  memset(&s, 0, sizeof s);
  s.raw = db->given_key != NULL && !db->passphrase;
  s.ops = db->kdf_ops ? db->kdf_ops : crypto_pwhash_OPSLIMIT_MODERATE;
  s.mem = db->kdf_mem ? db->kdf_mem : crypto_pwhash_MEMLIMIT_MODERATE;
  randombytes_buf(s.salt, sizeof s.salt);
  unsigned char kek[BL_ENV_KEYBYTES];
  int rc = settings_kek(ctx, &s, kek);
  if (rc != BL_OK) return rc;
  if (!db->data_key && !(db->data_key = sodium_malloc(BL_ENV_KEYBYTES))) {
    sodium_memzero(kek, sizeof kek);
    return BL_ENOMEM;
  }
  crypto_secretstream_xchacha20poly1305_keygen(db->data_key);
  randombytes_buf(s.wrapped, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(s.wrapped + crypto_secretbox_NONCEBYTES, db->data_key, BL_ENV_KEYBYTES, s.wrapped, kek);
  sodium_memzero(kek, sizeof kek);
  char salt_hex[2 * SALT_BYTES + 1], wrap_hex[2 * WRAP_BYTES + 1];
  sodium_bin2hex(salt_hex, sizeof salt_hex, s.salt, sizeof s.salt);
  sodium_bin2hex(wrap_hex, sizeof wrap_hex, s.wrapped, sizeof s.wrapped);
  if (s.raw)
    snprintf(out, size,
             "{\"format\":\"backless\",\"version\":2,\"compression\":\"%s\",\"encryption\":"
             "{\"cipher\":\"xchacha20poly1305-secretstream\",\"kdf\":\"raw\",\"wrapped_key\":\"%s\"}}\n",
             comp, wrap_hex);
  else
    snprintf(out, size,
             "{\"format\":\"backless\",\"version\":2,\"compression\":\"%s\",\"encryption\":"
             "{\"cipher\":\"xchacha20poly1305-secretstream\",\"kdf\":\"argon2id13\",\"opslimit\":%llu,"
             "\"memlimit\":%zu,\"salt\":\"%s\",\"wrapped_key\":\"%s\"}}\n",
             comp, s.ops, s.mem, salt_hex, wrap_hex);
  return BL_OK;
}

/* ------------------------------------------------------------------ entry */

static int settings_path(bl_db *db, char *buf, size_t size) {
  int n = snprintf(buf, size, "%s/backless.json", db->app_folder);
  return n < 0 || (size_t)n >= size ? BL_EMISUSE : BL_OK;
}

/* Adopts parsed settings: the envelope flags, and the key when encrypted. */
static int settings_adopt(bl_sync_ctx *ctx, const settings *s) {
  bl_db *db = ctx->db;
  if (!(s->flags & BL_ENV_ENCRYPTED) && (db->passphrase || db->given_key)) {
    bl__ctx_error(ctx, NULL, BL_SYNC_KEY, BL_EAUTH,
                  "the app folder '%s' is not encrypted, but a passphrase or key was given; sync stopped so that "
                  "nothing is uploaded in the clear by mistake (sync without one, or use a new app folder)",
                  db->app_folder);
    return BL_EAUTH;
  }
  if ((s->flags & BL_ENV_ENCRYPTED) && !db->data_key) {
    int rc = settings_unwrap(ctx, s);
    if (rc != BL_OK) return rc;
  }
  db->envelope = s->version >= 2;
  db->env_flags = s->flags;
  db->settings_loaded = 1;
  return BL_OK;
}

int bl__sync_settings(bl_sync_ctx *ctx) { return bl__sync_settings_ex(ctx, 1); }

int bl__sync_settings_ex(bl_sync_ctx *ctx, int create) {
  bl_db *db = ctx->db;
  settings s;
  char *known = NULL;
  int rc = bl__meta_get(db, SETTINGS_KEY, &known);
  if (rc == BL_OK) {
    rc = settings_parse(ctx, known, &s);
    free(known);
    if (rc != BL_OK) return rc;
    size_t errors = ctx->res->errors_count;
    rc = settings_adopt(ctx, &s);
    if (rc != BL_EAUTH || !(s.flags & BL_ENV_ENCRYPTED) || (!db->passphrase && !db->given_key)) return rc;
    /* The key does not open the remembered settings: the passphrase may
     * have been changed on another device (bl_passphrase_change rewrote
     * backless.json). Read it again before calling the passphrase wrong. */
    bl__result_truncate_errors(ctx->res, errors);
    ctx->first_error = errors ? ctx->first_error : BL_OK;
  }
  char path[1024];
  if (settings_path(db, path, sizeof path) != BL_OK) return BL_EMISUSE;
  settings_buf *b = calloc(1, sizeof *b);
  if (!b) return BL_ENOMEM;
  rc = bl_remote_read(ctx->remote, path, settings_sink, b);
  if (rc == BL_ENOTFOUND && !create) {
    /* No settings yet: nothing in the folder was written by a sync, so
     * nothing is encrypted; read it as a plain folder, write and remember
     * nothing (the first sync decides). */
    free(b);
    db->envelope = 0;
    db->env_flags = 0;
    return BL_OK;
  }
  if (rc == BL_ENOTFOUND) {
    /* First device: create the app folder and the settings, then read
     * them back: of two first devices racing, both adopt what stayed. */
    rc = settings_create_text(ctx, b->data, sizeof b->data);
    if (rc != BL_OK) {
      free(b);
      return rc;
    }
    rc = bl_remote_mkdir(ctx->remote, db->app_folder);
    if (rc == BL_OK) rc = bl_remote_write_buf(ctx->remote, path, b->data, strlen(b->data));
    char mine[sizeof b->data];
    memcpy(mine, b->data, sizeof mine);
    b->len = 0;
    if (rc == BL_OK) rc = bl_remote_read(ctx->remote, path, settings_sink, b);
    if (rc != BL_OK) {
      bl__ctx_error(ctx, NULL, BL_SYNC_REMOTE, rc, "cannot create %s: %s", path, bl_remote_errmsg(ctx->remote));
      free(b);
      return rc;
    }
    b->data[b->len] = '\0';
    if (strcmp(mine, b->data) != 0 && db->data_key) {
      /* Another device's settings won: its key, not ours. */
      sodium_free(db->data_key);
      db->data_key = NULL;
    }
    sodium_memzero(mine, sizeof mine);
  } else if (rc != BL_OK) {
    if (rc == BL_ECORRUPT)
      bl__ctx_error(ctx, NULL, BL_SYNC_CORRUPT, rc, "%s is too large to be a settings file", path);
    else
      bl__ctx_error(ctx, NULL, BL_SYNC_REMOTE, rc, "cannot read %s: %s", path, bl_remote_errmsg(ctx->remote));
    free(b);
    return rc;
  } else {
    b->data[b->len] = '\0';
    /* A torn first upload of version 1 settings (a store without atomic
     * writes) leaves a prefix of the one text every such device wrote:
     * finish it. Anything else is not ours to overwrite. */
    size_t full = strlen(SETTINGS_V1);
    if (b->len < full && b->len > 0 && memcmp(b->data, SETTINGS_V1, b->len) == 0) {
      rc = bl_remote_write_buf(ctx->remote, path, SETTINGS_V1, full);
      if (rc != BL_OK) {
        bl__ctx_error(ctx, NULL, BL_SYNC_REMOTE, rc, "cannot repair %s: %s", path, bl_remote_errmsg(ctx->remote));
        free(b);
        return rc;
      }
      snprintf(b->data, sizeof b->data, "%s", SETTINGS_V1);
    }
  }
  rc = settings_parse(ctx, b->data, &s);
  if (rc == BL_OK) rc = settings_adopt(ctx, &s);
  if (rc == BL_OK) rc = bl__meta_set(db, SETTINGS_KEY, b->data);
  free(b);
  return rc;
}

/* ---------------------------------------------------------------- files */

int bl__settings_identity(const char *device, const char *name, char *buf, size_t size) {
  int n = snprintf(buf, size, "changesets/device-%s/%s", device, name);
  return n < 0 || (size_t)n >= size ? BL_EMISUSE : BL_OK;
}

FILE *bl__settings_wrap(bl_db *db, FILE *plain, const char *identity, int64_t *size, char *err, size_t errsize) {
  FILE *out = tmpfile();
  if (!out) {
    snprintf(err, errsize, "cannot create a temporary file");
    return NULL;
  }
  bl_env_opts o = {db->env_flags, db->data_key, 0};
  rewind(plain);
  if (bl_env_encode(plain, out, &o, identity, err, errsize) != BL_OK) {
    fclose(out);
    return NULL;
  }
  long end = ftell(out);
  if (end < 0) {
    snprintf(err, errsize, "cannot size a temporary file");
    fclose(out);
    return NULL;
  }
  *size = end;
  rewind(out);
  return out;
}

FILE *bl__settings_unwrap_file(bl_db *db, FILE *wrapped, const char *identity, int *rc, char *err, size_t errsize) {
  FILE *out = tmpfile();
  if (!out) {
    *rc = BL_EIO;
    snprintf(err, errsize, "cannot create a temporary file");
    return NULL;
  }
  bl_env_opts o = {db->env_flags, db->data_key, 0};
  rewind(wrapped);
  *rc = bl_env_decode(wrapped, out, &o, identity, 0, err, errsize);
  if (*rc != BL_OK) {
    fclose(out);
    return NULL;
  }
  rewind(out);
  return out;
}

/* ------------------------------------------------------- passphrase change */

int bl_passphrase_change(bl_db *db, bl_remote *remote, const char *new_passphrase) {
  if (!db) return BL_EMISUSE;
  if (!remote || !new_passphrase || !*new_passphrase)
    return bl__db_error(db, BL_EMISUSE, "passphrase change: a remote and a non-empty new passphrase are needed");
  bl_sync_result res = BL_SYNC_RESULT_INIT;
  bl_sync_ctx ctx = {db, remote, &res, BL_OK, 0, 0};
  bl_sync_lock lock;
  int rc = bl__lock_acquire(db, &lock);
  if (rc != BL_OK) return rc;
  /* The current key, from this database's passphrase (or key). */
  rc = bl__sync_settings(&ctx);
  char path[1024];
  settings_buf *b = NULL;
  settings cur;
  if (rc != BL_OK) {
    if (res.errors_count) bl__db_error(db, rc, "passphrase change: %s", res.errors[0].message);
    goto done;
  }
  if (!(db->env_flags & BL_ENV_ENCRYPTED) || !db->data_key) {
    rc = bl__db_error(db, BL_EMISUSE, "passphrase change: the app folder '%s' is not encrypted", db->app_folder);
    goto done;
  }
  /* The settings as they are in the cloud now (compression, costs). */
  if ((rc = settings_path(db, path, sizeof path)) != BL_OK) goto done;
  if (!(b = calloc(1, sizeof *b))) {
    rc = bl__db_error(db, BL_ENOMEM, "out of memory");
    goto done;
  }
  rc = bl_remote_read(remote, path, settings_sink, b);
  if (rc != BL_OK) {
    bl__db_error(db, rc, "passphrase change: cannot read %s: %s", path, bl_remote_errmsg(remote));
    goto done;
  }
  b->data[b->len] = '\0';
  if ((rc = settings_parse(&ctx, b->data, &cur)) != BL_OK) {
    bl__db_error(db, rc, "passphrase change: %s", res.errors_count ? res.errors[0].message : "bad settings");
    goto done;
  }
  unsigned long long ops = cur.raw ? crypto_pwhash_OPSLIMIT_MODERATE : cur.ops;
  size_t mem = cur.raw ? crypto_pwhash_MEMLIMIT_MODERATE : cur.mem;
  if (db->kdf_ops) ops = db->kdf_ops;
  if (db->kdf_mem) mem = db->kdf_mem;
  unsigned char salt[SALT_BYTES], kek[BL_ENV_KEYBYTES], wrapped[WRAP_BYTES];
  randombytes_buf(salt, sizeof salt);
  if (crypto_pwhash(kek, sizeof kek, new_passphrase, strlen(new_passphrase), salt, ops, mem,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    rc = bl__db_error(db, BL_ENOMEM, "passphrase change: Argon2id could not get %zu MiB of memory", mem >> 20);
    goto done;
  }
  randombytes_buf(wrapped, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(wrapped + crypto_secretbox_NONCEBYTES, db->data_key, BL_ENV_KEYBYTES, wrapped, kek);
  sodium_memzero(kek, sizeof kek);
  char salt_hex[2 * SALT_BYTES + 1], wrap_hex[2 * WRAP_BYTES + 1];
  sodium_bin2hex(salt_hex, sizeof salt_hex, salt, sizeof salt);
  sodium_bin2hex(wrap_hex, sizeof wrap_hex, wrapped, sizeof wrapped);
  snprintf(b->data, sizeof b->data,
           "{\"format\":\"backless\",\"version\":2,\"compression\":\"%s\",\"encryption\":"
           "{\"cipher\":\"xchacha20poly1305-secretstream\",\"kdf\":\"argon2id13\",\"opslimit\":%llu,"
           "\"memlimit\":%zu,\"salt\":\"%s\",\"wrapped_key\":\"%s\"}}\n",
           (cur.flags & BL_ENV_ZSTD) ? "zstd" : "none", ops, mem, salt_hex, wrap_hex);
  rc = bl_remote_write_buf(remote, path, b->data, strlen(b->data));
  if (rc != BL_OK) {
    bl__db_error(db, rc, "passphrase change: cannot write %s: %s (the old passphrase still works)", path,
                 bl_remote_errmsg(remote));
    goto done;
  }
  rc = bl__meta_set(db, SETTINGS_KEY, b->data);
done:
  bl__lock_release(&lock);
  bl_sync_result_free(&res);
  free(b);
  return rc;
}
