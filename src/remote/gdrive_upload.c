/*
 * gdrive_upload.c — the upload requests of the Google Drive backend: the
 * bytes of a file sent to Drive, as a new file or as the new content of an
 * existing one.
 *
 *   - Up to BL__GDRIVE_SIMPLE_MAX bytes go in one request: PATCH with
 *     uploadType=media to update a file in place, POST with a
 *     multipart/related body (metadata, then content, between a random
 *     boundary the content does not contain) to create one. These are
 *     prepared apart from being sent, so that write_many runs several at
 *     once.
 *   - Larger content goes through a resumable session: one request opens
 *     it, then chunks of GDRIVE_CHUNK bytes are streamed from the source.
 *     Each 308 says (Range) how much Drive kept, which may be less than
 *     what was sent: the next chunk starts right after it.
 * It is apart from gdrive.c because it is protocol, not paths: what to
 * upload where is decided by the callers (bl__gd_write, write_many).
 *
 * Divided into: sources; multipart bodies; simple uploads; resumable
 * sessions.
 */
#define _POSIX_C_SOURCE 200809L

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "backless.h"
#include "net/http.h"
#include "remote/gdrive_internal.h"

/* Chunk of a resumable upload (a multiple of 256 KiB, as Drive wants). */
#define GDRIVE_CHUNK ((int64_t)8 << 20)
/* Resends one upload may need because Drive kept less than it was sent. */
#define GDRIVE_CORRECTIONS 8

/* ----------------------------------------------------------------- sources */

/* Reads exactly size bytes of src into a new buffer (*buf; NULL for 0). */
int bl__gd_slurp(gdrive_remote *gr, FILE *src, int64_t size, unsigned char **buf) {
  *buf = NULL;
  if (size == 0) return BL_OK;
  if (!(*buf = malloc((size_t)size))) return bl__gd_nomem(gr);
  size_t got = fread(*buf, 1, (size_t)size, src);
  if (got == (size_t)size) return BL_OK;
  if (ferror(src))
    bl__gd_why(gr, "reading the source failed after %zu bytes", got);
  else
    bl__gd_why(gr, "the source ended after %zu of %lld bytes", got, (long long)size);
  free(*buf);
  *buf = NULL;
  return BL_EIO;
}

/* --------------------------------------------------------- multipart bodies */

/* Whether the len bytes at hay contain needle. */
static int gd_contains(const unsigned char *hay, size_t len, const char *needle) {
  size_t nl = strlen(needle);
  for (const unsigned char *p = hay; len >= nl;) {
    const unsigned char *hit = memchr(p, needle[0], len - nl + 1);
    if (!hit) return 0;
    if (memcmp(hit, needle, nl) == 0) return 1;
    len -= (size_t)(hit + 1 - p);
    p = hit + 1;
  }
  return 0;
}

/* The body of a multipart/related upload: metadata, then the content,
 * between a random boundary that the content does not contain. *ctype is
 * the Content-Type header line. Both malloc'ed. */
static int gd_multipart(gdrive_remote *gr, const char *meta, const unsigned char *data, size_t len,
                        char **body, size_t *body_len, char **ctype) {
  char boundary[48];
  do {
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    int o = snprintf(boundary, sizeof boundary, "backless-");
    for (size_t i = 0; i < sizeof rnd; i++)
      o += snprintf(boundary + o, sizeof boundary - (size_t)o, "%02x", rnd[i]);
  } while (gd_contains(data, len, boundary));
  gd_str h = {0}, b = {0};
  bl__gd_str_add(&h, "Content-Type: multipart/related; boundary=");
  bl__gd_str_add(&h, boundary);
  bl__gd_str_add(&b, "--");
  bl__gd_str_add(&b, boundary);
  bl__gd_str_add(&b, "\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n");
  bl__gd_str_add(&b, meta);
  bl__gd_str_add(&b, "\r\n--");
  bl__gd_str_add(&b, boundary);
  bl__gd_str_add(&b, "\r\nContent-Type: application/octet-stream\r\n\r\n");
  if (len) bl__gd_str_addn(&b, (const char *)data, len);
  bl__gd_str_add(&b, "\r\n--");
  bl__gd_str_add(&b, boundary);
  bl__gd_str_add(&b, "--\r\n");
  *body_len = b.len;
  *ctype = bl__gd_str_take(&h);
  *body = bl__gd_str_take(&b);
  if (!*ctype || !*body) {
    free(*ctype);
    free(*body);
    return bl__gd_nomem(gr);
  }
  return BL_OK;
}

/* ---------------------------------------------------------- simple uploads */

void bl__gd_upload_clear(gd_upreq *u) {
  bl__http_request_clear(&u->req);
  free(u->url);
  free(u->body);
  free(u->ctype);
  memset(u, 0, sizeof *u);
}

/*
 * Prepares a simple upload of data[0..len): the new content of file `id`
 * (PATCH, uploadType=media) or, for id NULL, a new file `name` in folder
 * `parent_id` (POST, uploadType=multipart).
 */
int bl__gd_upload_prepare(gdrive_remote *gr, gd_upreq *u, const char *id, const char *parent_id,
                          const char *name, const unsigned char *data, size_t len) {
  memset(u, 0, sizeof *u);
  gd_str s = {0};
  if (id) {
    bl__gd_str_add(&s, "/upload/drive/v3/files/");
    bl__gd_str_enc(&s, id);
    bl__gd_str_add(&s, "?uploadType=media&fields=");
  } else {
    bl__gd_str_add(&s, "/upload/drive/v3/files?uploadType=multipart&fields=");
  }
  bl__gd_str_enc(&s, BL__GDRIVE_FIELDS);
  if (!(u->url = bl__gd_str_take(&s))) return bl__gd_nomem(gr);
  u->req.url = u->url;
  if (id) {
    u->req.method = "PATCH";
    u->req.body = data;
    u->req.body_len = len;
    u->headers[0] = "Content-Type: application/octet-stream";
  } else {
    size_t mlen;
    char *meta = bl__gdrive_meta_json(name, parent_id, NULL, &mlen);
    if (!meta) return bl__gd_nomem(gr);
    size_t blen = 0;
    int rc = gd_multipart(gr, meta, data, len, &u->body, &blen, &u->ctype);
    free(meta);
    if (rc != BL_OK) return rc;
    u->req.method = "POST";
    u->req.body = u->body;
    u->req.body_len = blen;
    u->headers[0] = u->ctype;
  }
  u->req.headers = u->headers;
  return BL_OK;
}

/* The file resource an upload answered with. */
int bl__gd_upload_result(gdrive_remote *gr, const bl__http_request *req, bl__gdrive_file *f) {
  char err[200];
  int rc = bl__gdrive_parse_file(req->response, req->response_len, f, err, sizeof err);
  return rc == BL_OK ? BL_OK : bl__gd_bad_answer(gr, rc, err);
}

/* ------------------------------------------------------ resumable sessions */

/*
 * What a 308 of an upload session says Drive kept: the end of its Range
 * header ("bytes=0-<last>") plus one; 0 when there is none (Drive documents
 * that as nothing received); -1 when the header is not of that form.
 */
static int64_t gd_range_kept(const char *range) {
  static const char lead[] = "bytes=0-";
  if (!*range) return 0;
  if (strncmp(range, lead, sizeof lead - 1) != 0) return -1;
  const char *p = range + sizeof lead - 1;
  int64_t last = 0;
  if (!*p) return -1;
  for (; *p; p++) {
    if (*p < '0' || *p > '9' || last > (INT64_MAX - 9) / 10) return -1;
    last = last * 10 + (*p - '0');
  }
  return last + 1;
}

/*
 * A resumable upload of size bytes from src: a session opened with
 * `method` on `url` (metadata `meta`), then chunks of GDRIVE_CHUNK bytes.
 * After each 308 the next chunk starts at the byte after what Drive says it
 * kept, which may be less than what was sent (then src is seeked back, at
 * most GDRIVE_CORRECTIONS times in one upload) or, after such a resend,
 * more (src is seeked forward). On BL_OK *f is the file Drive made or
 * updated.
 */
static int gd_resumable(gdrive_remote *gr, const char *method, const char *url, const char *meta,
                        FILE *src, int64_t size, bl__gdrive_file *f) {
  int rc;
  char len_hdr[64], range_hdr[96];
  unsigned char *chunk = NULL;
  char *session = NULL;
  off_t base = ftello(src); /* where byte 0 is, to go back to (-1: cannot) */
  int corrections = 0;      /* 308s that kept less than was sent */
  int64_t high = 0;         /* end of the bytes sent so far: the most Drive can have */
  snprintf(len_hdr, sizeof len_hdr, "X-Upload-Content-Length: %lld", (long long)size);
  const char *hdrs[] = {"Content-Type: application/json; charset=UTF-8",
                        "X-Upload-Content-Type: application/octet-stream", len_hdr, NULL};
  bl__http_request req = {
      .method = method, .url = url, .headers = hdrs, .body = meta, .body_len = strlen(meta)};
  if ((rc = bl__gd_perform(gr, &req)) != BL_OK) goto done;
  /* The session URL carries no token of ours but gets one: it must be
   * Drive's own. */
  size_t bl = strlen(gr->base_url);
  if (!req.location || strncmp(req.location, gr->base_url, bl) != 0 || req.location[bl] != '/') {
    bl__gd_why(gr, "Drive's upload session is not at %s (Location: %.200s)", gr->base_url,
               req.location ? req.location : "none");
    rc = BL_EIO;
    goto done;
  }
  if (!(session = bl__gd_strdup(req.location)) || !(chunk = malloc((size_t)GDRIVE_CHUNK))) {
    rc = bl__gd_nomem(gr);
    goto done;
  }
  for (int64_t off = 0; off < size;) {
    size_t n = (size_t)(size - off < GDRIVE_CHUNK ? size - off : GDRIVE_CHUNK);
    size_t got = fread(chunk, 1, n, src);
    if (got != n) {
      if (ferror(src))
        bl__gd_why(gr, "reading the source failed after %lld bytes",
                   (long long)(off + (int64_t)got));
      else
        bl__gd_why(gr, "the source ended after %lld of %lld bytes", (long long)(off + (int64_t)got),
                   (long long)size);
      rc = BL_EIO;
      goto done;
    }
    snprintf(range_hdr, sizeof range_hdr, "Content-Range: bytes %lld-%lld/%lld", (long long)off,
             (long long)(off + (int64_t)n - 1), (long long)size);
    const char *chdrs[] = {"Content-Type: application/octet-stream", range_hdr, NULL};
    bl__http_request_clear(&req);
    req = (bl__http_request){
        .method = "PUT", .url = session, .headers = chdrs, .body = chunk, .body_len = n};
    if ((rc = bl__gd_perform(gr, &req)) != BL_OK) goto done;
    if (req.status == 308) {
      /* Drive wants more, from the byte after what it kept: less than was
       * sent (resend), or more, when a resend went over bytes it had. */
      int64_t kept = gd_range_kept(req.range), sent = off + (int64_t)n;
      if (sent > high) high = sent;
      if (kept < 0 || kept > high) {
        bl__gd_why(gr, "Drive's upload session answered Range '%s' to bytes %lld-%lld", req.range,
                   (long long)off, (long long)sent - 1);
        rc = BL_EIO;
        goto done;
      }
      if (kept < sent && ++corrections > GDRIVE_CORRECTIONS) {
        bl__gd_why(gr,
                   "Drive's upload session kept %lld of the first %lld bytes sent, after %d "
                   "resends",
                   (long long)kept, (long long)sent, GDRIVE_CORRECTIONS);
        rc = BL_EIO;
        goto done;
      }
      if (kept != sent && (base < 0 || fseeko(src, base + (off_t)kept, SEEK_SET) != 0)) {
        bl__gd_why(gr, "the source cannot seek to byte %lld to go on from there", (long long)kept);
        rc = BL_EIO;
        goto done;
      }
      off = kept;
      continue;
    }
    off += (int64_t)n;
    if (off < size) {
      bl__gd_why(gr, "Drive ended the upload session after %lld of %lld bytes (HTTP %ld)",
                 (long long)off, (long long)size, req.status);
      rc = BL_EIO;
      goto done;
    }
    rc = bl__gd_upload_result(gr, &req, f);
    goto done;
  }
  bl__gd_why(gr, "Drive did not complete the upload of %lld bytes", (long long)size);
  rc = BL_EIO;
done:
  bl__http_request_clear(&req);
  free(session);
  free(chunk);
  return rc;
}

/*
 * Uploads the content: mem (len == size) when size <= BL__GDRIVE_SIMPLE_MAX,
 * else from src. id: update that file; NULL: create `name` in parent_id.
 * *attempts: how many tries the request that made the file took.
 */
int bl__gd_upload(gdrive_remote *gr, const char *id, const char *parent_id, const char *name,
                  const unsigned char *mem, FILE *src, int64_t size, bl__gdrive_file *f,
                  int *attempts) {
  int rc;
  *attempts = 1;
  if (size <= BL__GDRIVE_SIMPLE_MAX) {
    gd_upreq u;
    if ((rc = bl__gd_upload_prepare(gr, &u, id, parent_id, name, mem, (size_t)size)) == BL_OK &&
        (rc = bl__gd_perform(gr, &u.req)) == BL_OK)
      rc = bl__gd_upload_result(gr, &u.req, f);
    *attempts = u.req.attempts;
    bl__gd_upload_clear(&u);
    return rc;
  }
  gd_str s = {0};
  char *meta = NULL;
  size_t mlen;
  if (id) {
    bl__gd_str_add(&s, "/upload/drive/v3/files/");
    bl__gd_str_enc(&s, id);
    bl__gd_str_add(&s, "?uploadType=resumable&fields=");
    meta = bl__gd_strdup("{}");
  } else {
    bl__gd_str_add(&s, "/upload/drive/v3/files?uploadType=resumable&fields=");
    meta = bl__gdrive_meta_json(name, parent_id, NULL, &mlen);
  }
  bl__gd_str_enc(&s, BL__GDRIVE_FIELDS);
  char *url = bl__gd_str_take(&s);
  if (!url || !meta)
    rc = bl__gd_nomem(gr);
  else
    rc = gd_resumable(gr, id ? "PATCH" : "POST", url, meta, src, size, f);
  free(url);
  free(meta);
  return rc;
}
