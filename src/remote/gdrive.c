/*
 * gdrive.c — the Google Drive backend (Drive API v3): a remote whose root is
 * the root of My Drive ("gdrive://AppFolderName" names the app folder the
 * application keeps inside it, addressed by path like any other folder).
 *
 * Drive knows files by id, not by path, and allows several files of one
 * name in a folder. So:
 *   - A path is resolved component by component from "root" with files.list
 *     (q = name and parent), and every answer — a lookup or a whole listing
 *     — is remembered in a path cache, so that after a listing a read costs
 *     one request. An id that has gone stale (404) is dropped and the path
 *     resolved once more; an empty listing of a cached folder is checked
 *     (another device may have deleted or recreated it).
 *   - Duplicate folders (two devices creating "App" at once) are resolved
 *     the same way everywhere: the oldest (createdTime, then smallest id)
 *     wins; mkdir that created the younger one deletes it if empty.
 *     Duplicate files: copies with one MD5 are one file, and read takes the
 *     most recently modified; copies whose MD5s differ are BL_ECORRUPT for
 *     read (nobody can tell which is right; see "read"). write updates the
 *     newest in place and deletes the other copies, remove deletes all, list
 *     shows all.
 *   - Uploads: an existing file is updated in place (PATCH), so a replace
 *     never leaves two files; a new one is created with a multipart upload
 *     (up to 5 MiB) or a resumable session (8 MiB chunks). A create that had
 *     to be retried (the first answer may have been lost after Drive made
 *     the file) looks for the duplicate it may have left.
 *   - The change feed (changes.list) answers "what changed below a folder"
 *     with one request when nothing did: the token carries the folder's id,
 *     and parent ids of changed files are mapped to paths from the cache or
 *     by walking up a few folders (an id map remembers what walks learned).
 * Every request goes through the shared HTTP layer (src/net/http.h), which
 * retries, backs off and refreshes tokens; the answers are parsed by
 * gdrive_json.c.
 *
 * The backend is five files, along its seams (gdrive_internal.h declares
 * what they share):
 *   gdrive.c          the remote: messages, strings and URLs, the members
 *                     list, read, write, remove and mkdir, and open/free;
 *   gdrive_cache.c    the path cache and id map, files.list, and resolving
 *                     paths and names to ids;
 *   gdrive_upload.c   upload requests: multipart bodies, simple uploads,
 *                     resumable sessions;
 *   gdrive_batch.c    read_many and write_many;
 *   gdrive_changes.c  the change feed.
 *
 * Divided into: messages; strings and URLs; list; read; write; remove;
 * mkdir; open.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "backless.h"
#include "backless/remote.h"
#include "net/http.h"
#include "remote/gdrive_internal.h"
#include "remote/remote_internal.h"
#include "util/errmsg.h"

#define GDRIVE_API "https://www.googleapis.com"

/* ---------------------------------------------------------------- messages */

void bl__gd_why(gdrive_remote *gr, const char *fmt, ...) {
  char tmp[sizeof gr->why];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap); /* an argument may be gr->why itself */
  va_end(ap);
  memcpy(gr->why, tmp, sizeof tmp);
}

/* Records "<op> '<path>': <why>" as the remote's error and returns rc. */
int bl__gd_fail(gdrive_remote *gr, int rc, const char *op, const char *path) {
  if (rc == BL_ENOMEM) bl__gd_why(gr, "out of memory");
  return bl_remote_set_error(&gr->base, rc, "%s '%s': %s", op, path, gr->why);
}

int bl__gd_nomem(gdrive_remote *gr) {
  bl__gd_why(gr, "out of memory");
  return BL_ENOMEM;
}

/* Runs one request; on failure its message becomes the reason. */
int bl__gd_perform(gdrive_remote *gr, bl__http_request *req) {
  int rc = bl__http_perform(gr->http, req);
  if (rc != BL_OK) bl__gd_why(gr, "%s", req->errmsg);
  return rc;
}

/* A parser's verdict as the reason of a failure. */
int bl__gd_bad_answer(gdrive_remote *gr, int rc, const char *err) {
  if (rc == BL_ENOMEM) return bl__gd_nomem(gr);
  bl__gd_why(gr, "unexpected answer from Drive: %s", err);
  return rc;
}

/* --------------------------------------------------------- strings, URLs */

char *bl__gd_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* "<dir>/<name>" (or name alone below the root), malloc'ed. */
char *bl__gd_join(const char *dir, const char *name) {
  gd_str s = {0};
  if (*dir) {
    bl__gd_str_add(&s, dir);
    bl__gd_str_add(&s, "/");
  }
  bl__gd_str_add(&s, name);
  return bl__gd_str_take(&s);
}

/* Whether p is `path` itself or below it. */
int bl__gd_below(const char *p, const char *path) {
  size_t n = strlen(path);
  return n == 0 || (strncmp(p, path, n) == 0 && (p[n] == '\0' || p[n] == '/'));
}

/* "/drive/v3/files/<id><rest>" */
char *bl__gd_url_file(const char *id, const char *rest) {
  gd_str s = {0};
  bl__gd_str_add(&s, "/drive/v3/files/");
  bl__gd_str_enc(&s, id);
  bl__gd_str_add(&s, rest);
  return bl__gd_str_take(&s);
}

/* --------------------------------------------------------------------- list */

/* Whether folder `id` still exists and is not in the trash (BL_OK: it
 * does; BL_ENOTFOUND: it does not). */
static int gd_folder_alive(gdrive_remote *gr, const char *id) {
  char *url = bl__gd_url_file(id, "?fields=id%2Ctrashed");
  if (!url) return bl__gd_nomem(gr);
  bl__http_request req = {.method = "GET", .url = url};
  int rc = bl__gd_perform(gr, &req);
  bl__gdrive_file f;
  char err[200];
  if (rc == BL_OK) {
    rc = bl__gdrive_parse_file(req.response, req.response_len, &f, err, sizeof err);
    if (rc != BL_OK)
      bl__gd_bad_answer(gr, rc, err);
    else if (f.trashed)
      rc = BL_ENOTFOUND;
    bl__gdrive_file_clear(&f);
  }
  bl__http_request_clear(&req);
  free(url);
  return rc;
}

static int gdrive_list(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count) {
  gdrive_remote *gr = (gdrive_remote *)r;
  bl__gdrive_list all = {0};
  bl_remote_entry *e = NULL;
  char *id = NULL, *q = NULL;
  int rc = BL_OK;
  for (int attempt = 0;; attempt++) {
    int was_cached = 0;
    free(id);
    free(q);
    q = NULL;
    bl__gdrive_list_clear(&all);
    if ((rc = bl__gd_folder_id(gr, path, &id, &was_cached)) != BL_OK) goto done;
    char *lit = bl__gdrive_q_literal(id);
    gd_str s = {0};
    bl__gd_str_add(&s, lit ? lit : "");
    bl__gd_str_add(&s, " in parents and trashed = false");
    if (!lit) s.oom = 1;
    free(lit);
    if (!(q = bl__gd_str_take(&s))) {
      rc = bl__gd_nomem(gr);
      goto done;
    }
    if ((rc = bl__gd_files_list(gr, q, &all)) != BL_OK) goto done;
    /* Listing a deleted folder's id gives nothing rather than 404: an empty
     * answer for a cached id is checked once. */
    if (all.n || !was_cached || !*path || attempt > 0) break;
    rc = gd_folder_alive(gr, id);
    if (rc == BL_OK) break;
    if (rc != BL_ENOTFOUND) goto done;
    bl__gd_cache_drop(gr, path);
  }
  if (all.n && !(e = calloc(all.n, sizeof *e))) {
    rc = bl__gd_nomem(gr);
    goto done;
  }
  for (size_t i = 0; i < all.n; i++) {
    const bl__gdrive_file *f = &all.files[i];
    if (!(e[i].name = bl__gd_strdup(f->name))) {
      bl_remote_entries_free(e, i);
      e = NULL;
      rc = bl__gd_nomem(gr);
      goto done;
    }
    e[i].is_folder = f->is_folder;
    e[i].size = f->is_folder ? -1 : f->size;
    e[i].mtime = f->mtime_ms > 0 ? f->mtime_ms / 1000 : 0;
  }
  /* The listing is complete: what it shows is cached, what it does not is
   * forgotten. */
  gr->stamp++;
  if ((rc = bl__gd_cache_children(gr, path, all.files, all.n)) == BL_OK)
    rc = bl__gd_cache_sweep(gr, path);
  if (rc != BL_OK) {
    bl_remote_entries_free(e, all.n);
    e = NULL;
    bl__gd_nomem(gr);
    goto done;
  }
  *out = e;
  *count = all.n;
done:
  bl__gdrive_list_clear(&all);
  free(id);
  free(q);
  return rc == BL_OK ? BL_OK : bl__gd_fail(gr, rc, "listing", path);
}

/* --------------------------------------------------------------------- read */

static int gd_sink_cb(const void *data, size_t len, void *payload) {
  gd_sink *s = payload;
  int v = s->sink(data, len, s->payload);
  if (v != 0) {
    s->stopped = v;
    return BL_ERROR;
  }
  return 0;
}

/* The download request of file `id` (url malloc'ed into *url). */
int bl__gd_read_request(gdrive_remote *gr, const char *id, gd_sink *s, bl__http_request *req,
                        char **url) {
  if (!(*url = bl__gd_url_file(id, "?alt=media"))) return bl__gd_nomem(gr);
  memset(req, 0, sizeof *req);
  req->method = "GET";
  req->url = *url;
  req->sink = gd_sink_cb;
  req->sink_payload = s;
  return BL_OK;
}

/* A download's outcome: the receiver's code, a Google Doc (403
 * fileNotDownloadable) as BL_EIO, else the request's. */
int bl__gd_read_outcome(gdrive_remote *gr, const bl__http_request *req, const gd_sink *s) {
  if (s->stopped) {
    bl__gd_why(gr, "stopped by the receiver (%d)", s->stopped);
    return s->stopped;
  }
  if (req->rc == BL_OK) return BL_OK;
  bl__gd_why(gr, "%s", req->errmsg);
  if (req->status == 403 && req->response && strstr(req->response, "fileNotDownloadable"))
    return BL_EIO;
  return req->rc;
}

/*
 * Copies of one name (Drive allows them: a retried upload, another client)
 * are harmless when they hold the same bytes and an error when they do not:
 * a reader cannot know which one the writer meant, and taking the newest
 * would let two devices that saw different copies diverge silently. So the
 * known MD5s of the copies (every copy a listing or lookup showed) are
 * compared: all equal, or one copy, is BL_OK; two that differ are
 * BL_ECORRUPT. A copy without an MD5 (a Google Doc, a service that gives
 * none) cannot be compared and is left out: with no two known MD5s to
 * differ, the newest copy is read, as before checksums were asked for.
 */
int bl__gd_copies_agree(gdrive_remote *gr, const gd_node *x) {
  const char *first = NULL;
  for (size_t i = 0; x->md5s && i < x->nids; i++) {
    const char *m = x->md5s[i];
    if (!m) continue;
    if (!first) {
      first = m;
    } else if (strcmp(first, m) != 0) {
      bl__gd_why(gr,
                 "%zu copies of this name with different contents (Google Drive allows "
                 "duplicate names); not guessing which one is right",
                 x->nids);
      return BL_ECORRUPT;
    }
  }
  return BL_OK;
}

/*
 * read without the message: BL_OK or a code with gr->why set.
 *
 * The copies compared are those the cache knows: what the last listing or
 * lookup of the name showed (an upload of ours leaves one). The cache may
 * be older than the drive, both ways:
 *   - It shows copies that differ, but one has since been deleted or
 *     rewritten (the folder's writer cleaning up): a cached verdict of
 *     BL_ECORRUPT is not trusted; the name is looked up again (one
 *     request) and the fresh copies decide.
 *   - A copy was added since it was filled: it is not seen, and the copy
 *     known is read, as a listing-based reader of any storage reads the
 *     file it listed. The next listing of the folder (the sync engine lists
 *     a folder when the change feed says it changed, which a new copy
 *     does) or a lookup of the name shows it.
 */
int bl__gd_read(gdrive_remote *gr, const char *path, bl_remote_sink sink, void *payload) {
  for (int attempt = 0;; attempt++) {
    gd_node *x;
    int was_cached = bl__gd_map_find(&gr->paths, path) != NULL;
    int rc = bl__gd_resolve(gr, path, &x);
    if (rc != BL_OK) return rc;
    if (x->is_folder) {
      bl__gd_why(gr, "it is a folder, not a file");
      return BL_EIO;
    }
    if ((rc = bl__gd_copies_agree(gr, x)) != BL_OK) {
      if (!was_cached || attempt > 0) return rc;
      bl__gd_cache_drop(gr, path); /* maybe cleaned up since: look again */
      continue;
    }
    gd_sink s = {sink, payload, 0};
    bl__http_request req;
    char *url;
    if ((rc = bl__gd_read_request(gr, x->ids[0], &s, &req, &url)) != BL_OK) return rc;
    bl__http_perform(gr->http, &req);
    rc = bl__gd_read_outcome(gr, &req, &s);
    int stale = rc == BL_ENOTFOUND && req.status == 404 && was_cached && attempt == 0;
    bl__http_request_clear(&req);
    free(url);
    if (!stale) return rc;
    bl__gd_cache_drop(gr, path); /* deleted or replaced by another device */
  }
}

static int gdrive_read(bl_remote *r, const char *path, bl_remote_sink sink, void *payload) {
  gdrive_remote *gr = (gdrive_remote *)r;
  int rc = bl__gd_read(gr, path, sink, payload);
  return rc == BL_OK ? BL_OK : bl__gd_fail(gr, rc, "reading", path);
}

/* ------------------------------------------------------------------- write */

/*
 * After a create that was retried: the first try may have made the file
 * before its answer was lost. Keeps the newest copy of `name` in folder
 * `dir` (id parent_id) and deletes the others.
 */
int bl__gd_dedupe(gdrive_remote *gr, const char *dir, const char *parent_id, const char *name,
                  const char *path) {
  int rc = bl__gd_lookup_names(gr, dir, parent_id, &name, 1);
  if (rc != BL_OK) return rc;
  gd_node *x = bl__gd_map_find(&gr->paths, path);
  if (!x || x->is_folder || x->nids < 2) return BL_OK;
  size_t n;
  char **ids = bl__gd_ids_copy(x, &n);
  if (!ids) return bl__gd_nomem(gr);
  rc = bl__gd_delete_copies(gr, ids, 1, n);
  if (rc == BL_OK) {
    bl__gdrive_file keep = {.id = ids[0]};
    rc = bl__gd_cache_put_files(gr, path, &keep, 1);
    if (rc != BL_OK) bl__gd_nomem(gr);
  }
  bl__gd_ids_free(ids, n);
  return rc;
}

/* Caches the outcome of a successful upload of path: the one copy left. */
int bl__gd_after_upload(gdrive_remote *gr, const char *path, const bl__gdrive_file *f) {
  return bl__gd_cache_put_files(gr, path, f, 1) == BL_OK ? BL_OK : bl__gd_nomem(gr);
}

/*
 * write without the message. mem holds the content when size <=
 * BL__GDRIVE_SIMPLE_MAX (read by the caller); larger content is read from src,
 * which is seeked back to where it was for a second try.
 */
int bl__gd_write(gdrive_remote *gr, const char *path, FILE *src, int64_t size,
                 const unsigned char *mem) {
  const char *name;
  char *dir = bl__remote_split_path(path, &name), *parent_id = NULL;
  char **ids = NULL;
  size_t nids = 0;
  int rc = BL_OK;
  off_t start = size > BL__GDRIVE_SIMPLE_MAX ? ftello(src) : 0;
  if (!dir) return bl__gd_nomem(gr);
  if (start < 0) {
    bl__gd_why(gr, "the source cannot seek");
    rc = BL_EIO;
    goto done;
  }
  for (int attempt = 0;; attempt++) {
    int parent_cached = 0;
    free(parent_id);
    bl__gd_ids_free(ids, nids);
    ids = NULL;
    nids = 0;
    if ((rc = bl__gd_folder_id(gr, dir, &parent_id, &parent_cached)) != BL_OK) {
      if (rc == BL_ENOTFOUND) bl__gd_why(gr, "folder '%s' does not exist", dir);
      goto done;
    }
    gd_node *x = bl__gd_map_find(&gr->paths, path);
    if (!x) {
      if ((rc = bl__gd_lookup_names(gr, dir, parent_id, &name, 1)) != BL_OK) goto done;
      x = bl__gd_map_find(&gr->paths, path);
    }
    if (x && x->is_folder) {
      bl__gd_why(gr, "a folder of that name is in the way");
      rc = BL_EIO;
      goto done;
    }
    if (x && !(ids = bl__gd_ids_copy(x, &nids))) {
      rc = bl__gd_nomem(gr);
      goto done;
    }
    if (attempt > 0 && size > BL__GDRIVE_SIMPLE_MAX && fseeko(src, start, SEEK_SET) != 0) {
      bl__gd_why(gr, "the source cannot seek back");
      rc = BL_EIO;
      goto done;
    }
    bl__gdrive_file f = {0};
    int attempts = 1;
    rc = bl__gd_upload(gr, ids ? ids[0] : NULL, parent_id, name, mem, src, size, &f, &attempts);
    if (rc == BL_ENOTFOUND && attempt == 0) {
      /* The file (update) or its folder (create) went away: resolve again. */
      bl__gd_cache_drop(gr, ids ? path : dir);
      bl__gdrive_file_clear(&f);
      if (!ids && !parent_cached) {
        bl__gd_why(gr, "folder '%s' does not exist", dir);
        goto done;
      }
      continue;
    }
    if (rc == BL_OK && ids) rc = bl__gd_delete_copies(gr, ids, 1, nids);
    if (rc == BL_OK)
      rc = ids || attempts == 1 ? bl__gd_after_upload(gr, path, &f)
                                : bl__gd_dedupe(gr, dir, parent_id, name, path);
    bl__gdrive_file_clear(&f);
    break;
  }
done:
  free(dir);
  free(parent_id);
  bl__gd_ids_free(ids, nids);
  return rc;
}

static int gdrive_write(bl_remote *r, const char *path, FILE *src, int64_t size) {
  gdrive_remote *gr = (gdrive_remote *)r;
  unsigned char *mem = NULL;
  int rc = BL_OK;
  /* Small content is read whole first: a short source fails before any
   * request, and retries resend it from memory. */
  if (size <= BL__GDRIVE_SIMPLE_MAX) rc = bl__gd_slurp(gr, src, size, &mem);
  if (rc == BL_OK) rc = bl__gd_write(gr, path, src, size, mem);
  free(mem);
  return rc == BL_OK ? BL_OK : bl__gd_fail(gr, rc, "writing", path);
}

/* ------------------------------------------------------------------ remove */

/* Deletes file or folder `id`; BL_ENOTFOUND when it is already gone. */
int bl__gd_delete_id(gdrive_remote *gr, const char *id) {
  char *url = bl__gd_url_file(id, "");
  if (!url) return bl__gd_nomem(gr);
  bl__http_request req = {.method = "DELETE", .url = url};
  int rc = bl__gd_perform(gr, &req);
  bl__http_request_clear(&req);
  free(url);
  return rc;
}

/* Deletes ids[from..n) (copies of one file); ones already gone are fine. */
int bl__gd_delete_copies(gdrive_remote *gr, char **ids, size_t from, size_t n) {
  for (size_t i = from; i < n; i++) {
    int rc = bl__gd_delete_id(gr, ids[i]);
    if (rc != BL_OK && rc != BL_ENOTFOUND) return rc;
  }
  return BL_OK;
}

static int gdrive_remove(bl_remote *r, const char *path) {
  gdrive_remote *gr = (gdrive_remote *)r;
  int rc = BL_OK;
  for (int attempt = 0;; attempt++) {
    gd_node *x;
    int was_cached = bl__gd_map_find(&gr->paths, path) != NULL;
    if ((rc = bl__gd_resolve(gr, path, &x)) != BL_OK) break;
    if (x->is_folder) {
      bl__gd_why(gr, "it is a folder, not a file");
      rc = BL_EIO;
      break;
    }
    size_t n, gone = 0;
    char **ids = bl__gd_ids_copy(x, &n);
    if (!ids) {
      rc = bl__gd_nomem(gr);
      break;
    }
    for (size_t i = 0; i < n && rc == BL_OK; i++) {
      rc = bl__gd_delete_id(gr, ids[i]);
      if (rc == BL_ENOTFOUND) gone++, rc = BL_OK;
    }
    bl__gd_ids_free(ids, n);
    if (rc != BL_OK) break;
    bl__gd_cache_drop(gr, path);
    if (gone < n) break;
    /* Every cached copy was gone already: look again, once. */
    if (!was_cached || attempt > 0) {
      bl__gd_why(gr, "it does not exist");
      rc = BL_ENOTFOUND;
      break;
    }
  }
  return rc == BL_OK ? BL_OK : bl__gd_fail(gr, rc, "removing", path);
}

/* ------------------------------------------------------------------- mkdir */

/* Whether folder `id` has no children (1), has some (0), or a failure. */
static int gd_folder_empty(gdrive_remote *gr, const char *id) {
  gd_str s = {0};
  char *lit = bl__gdrive_q_literal(id);
  bl__gd_str_add(&s, "/drive/v3/files?pageSize=1&fields=files(id)&q=");
  if (lit) {
    gd_str q = {0};
    bl__gd_str_add(&q, lit);
    bl__gd_str_add(&q, " in parents");
    char *qs = bl__gd_str_take(&q);
    if (qs)
      bl__gd_str_enc(&s, qs);
    else
      s.oom = 1;
    free(qs);
  } else {
    s.oom = 1;
  }
  free(lit);
  char *url = bl__gd_str_take(&s);
  if (!url) return bl__gd_nomem(gr);
  bl__http_request req = {.method = "GET", .url = url};
  int rc = bl__gd_perform(gr, &req);
  bl__gdrive_list l;
  char err[200];
  if (rc == BL_OK) {
    rc = bl__gdrive_parse_list(req.response, req.response_len, &l, err, sizeof err);
    if (rc == BL_OK)
      rc = l.n == 0;
    else
      bl__gd_bad_answer(gr, rc, err);
    bl__gdrive_list_clear(&l);
  }
  bl__http_request_clear(&req);
  free(url);
  return rc;
}

/* Creates folder `name` in parent_id; *id is the new folder's. */
static int gd_create_folder(gdrive_remote *gr, const char *parent_id, const char *name, char **id) {
  size_t mlen;
  char *meta = bl__gdrive_meta_json(name, parent_id, BL__GDRIVE_FOLDER_MIME, &mlen);
  if (!meta) return bl__gd_nomem(gr);
  const char *hdrs[] = {"Content-Type: application/json; charset=UTF-8", NULL};
  bl__http_request req = {.method = "POST",
                          .url = "/drive/v3/files?fields=id%2CcreatedTime",
                          .headers = hdrs,
                          .body = meta,
                          .body_len = mlen};
  int rc = bl__gd_perform(gr, &req);
  bl__gdrive_file f;
  if (rc == BL_OK && (rc = bl__gd_upload_result(gr, &req, &f)) == BL_OK) {
    if (!(*id = bl__gd_strdup(f.id))) rc = bl__gd_nomem(gr);
    bl__gdrive_file_clear(&f);
  }
  bl__http_request_clear(&req);
  free(meta);
  return rc;
}

/*
 * Ensures folder `path` (whose parent folder, at `dir`, is parent_id)
 * exists. After creating it, looks again: when two devices created it at
 * once, every device settles on the oldest, and the younger one, ours, is
 * deleted if nothing went into it yet.
 */
static int gd_mkdir_one(gdrive_remote *gr, const char *dir, const char *parent_id, const char *path,
                        const char *name) {
  gd_node *x = bl__gd_map_find(&gr->paths, path);
  int rc = BL_OK;
  if (!x) {
    if ((rc = bl__gd_lookup_names(gr, dir, parent_id, &name, 1)) != BL_OK) return rc;
    x = bl__gd_map_find(&gr->paths, path);
  }
  if (x) {
    if (x->is_folder) return BL_OK;
    bl__gd_why(gr, "a file named '%s' is in the way", path);
    return BL_EIO;
  }
  char *mine = NULL;
  if ((rc = gd_create_folder(gr, parent_id, name, &mine)) != BL_OK) return rc;
  rc = bl__gd_lookup_names(gr, dir, parent_id, &name, 1);
  x = rc == BL_OK ? bl__gd_map_find(&gr->paths, path) : NULL;
  if (rc == BL_OK && (!x || !x->is_folder)) {
    /* Not listed yet (or a file appeared): ours is the folder. */
    if (bl__gd_cache_put_folder(gr, path, mine) != BL_OK) rc = bl__gd_nomem(gr);
  } else if (rc == BL_OK && strcmp(x->ids[0], mine) != 0) {
    /* An older twin wins; ours goes if it is still empty (a failure to
     * tidy up is no failure of mkdir). */
    if (gd_folder_empty(gr, mine) == 1) bl__gd_delete_id(gr, mine);
  }
  free(mine);
  return rc;
}

static int gdrive_mkdir(bl_remote *r, const char *path) {
  gdrive_remote *gr = (gdrive_remote *)r;
  int rc = BL_OK;
  if (!*path) return BL_OK;
  char *prefix = bl__gd_strdup(path), *parent_id = NULL;
  if (!prefix) return bl__gd_fail(gr, BL_ENOMEM, "creating folder", path);
  for (int attempt = 0; attempt < 2; attempt++) {
    int stale = 0;
    rc = BL_OK;
    for (size_t at = 0; rc == BL_OK;) {
      size_t len = strcspn(path + at, "/");
      memcpy(prefix, path, at + len);
      prefix[at + len] = '\0';
      char *dir = bl__gd_strdup(prefix);
      if (!dir) {
        rc = bl__gd_nomem(gr);
        break;
      }
      dir[at ? at - 1 : 0] = '\0';
      int parent_cached = 1;
      free(parent_id);
      parent_id = NULL;
      rc = bl__gd_folder_id(gr, dir, &parent_id, &parent_cached);
      if (rc == BL_OK) rc = gd_mkdir_one(gr, dir, parent_id, prefix, prefix + at);
      /* A parent deleted by another device since it was cached: again. */
      if (rc == BL_ENOTFOUND && parent_cached && *dir) {
        bl__gd_cache_drop(gr, dir);
        stale = 1;
      }
      free(dir);
      if (!path[at + len]) break;
      at += len + 1;
    }
    if (!(rc == BL_ENOTFOUND && stale)) break;
  }
  free(prefix);
  free(parent_id);
  return rc == BL_OK ? BL_OK : bl__gd_fail(gr, rc, "creating folder", path);
}

static void gdrive_stats(bl_remote *r, bl_remote_stats *out) {
  bl__http_stats h;
  bl__http_stats_get(((gdrive_remote *)r)->http, &h);
  *out = (bl_remote_stats){h.requests, h.rate_limited, h.server_errors, h.token_refreshes};
}

/* --------------------------------------------------------------------- open */

static void gdrive_free(bl_remote *r) {
  gdrive_remote *gr = (gdrive_remote *)r;
  bl__http_client_free(gr->http);
  bl__gd_cache_free(gr);
  free(gr->base_url);
  free(gr->root_id);
  free(gr);
}

int bl__remote_gdrive_open(bl_remote **out, const char *url, const bl_remote_options *opts) {
  *out = NULL;
  if (url) {
    char name[1024];
    if (bl_remote_url_app_folder(url, name, sizeof name) < 0)
      return bl__set_tls_error(BL_EMISUSE,
                               "gdrive URL: expected gdrive://AppFolderName (one folder name, "
                               "percent-encoded)");
  }
  if (!opts->token) return bl__set_tls_error(BL_EMISUSE, "gdrive needs a token callback");
  const char *base = opts->api_url && *opts->api_url ? opts->api_url : GDRIVE_API;
  gdrive_remote *gr = calloc(1, sizeof *gr);
  if (!gr) return bl__set_tls_error(BL_ENOMEM, "out of memory");
  int rc = BL_ENOMEM;
  if (!(gr->base_url = bl__gd_strdup(base))) goto nomem;
  for (size_t n = strlen(gr->base_url); n > 0 && gr->base_url[n - 1] == '/';)
    gr->base_url[--n] = '\0';
  bl__http_opts h;
  bl__remote_http_opts(&h, opts, gr->base_url);
  if ((rc = bl__http_client_new(&gr->http, &h)) != BL_OK) goto fail;
  gr->max_in_flight = opts->max_in_flight > 0 ? (size_t)opts->max_in_flight : 4;
  /* The root is always known: Drive calls it "root". */
  if (bl__gd_cache_init(gr) != BL_OK) goto nomem;
  gr->base.version = BL_REMOTE_VERSION;
  gr->base.list = gdrive_list;
  gr->base.read = gdrive_read;
  gr->base.write = gdrive_write;
  gr->base.remove = gdrive_remove;
  gr->base.mkdir = gdrive_mkdir;
  gr->base.free = gdrive_free;
  gr->base.read_many = bl__gd_read_many;
  gr->base.write_many = bl__gd_write_many;
  gr->base.changes = bl__gd_changes;
  gr->base.stats = gdrive_stats;
  *out = &gr->base;
  return BL_OK;
nomem:
  rc = bl__set_tls_error(BL_ENOMEM, "out of memory");
fail:
  gdrive_free(&gr->base);
  return rc;
}
