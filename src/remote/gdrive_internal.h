/*
 * gdrive_internal.h — what the files of the Google Drive backend share
 * (gdrive.c, gdrive_cache.c, gdrive_upload.c, gdrive_batch.c,
 * gdrive_changes.c; gdrive.c tells the design and the division), and what
 * the fuzz target (fuzz/fuzz_gdrive_parse.c) calls.
 *
 * Two parts:
 *   - Text (gdrive_json.c), names bl__gdrive_*: the parsers of Drive's JSON
 *     answers, the builders of its request bodies and query text, and the
 *     change-feed token. No remote, no I/O.
 *
 *     Every parser takes a buffer and its length (no NUL needed, any bytes
 *     accepted) and returns BL_OK, BL_EIO for an answer that is not what
 *     Drive sends (with a reason in err), or BL_ENOMEM. On failure the
 *     output is left empty; on success the caller frees it with the
 *     matching _clear.
 *   - The backend, names bl__gd_*: the remote's state and what one of its
 *     files defines for the others. These fail the way the backend does: a
 *     BL_E* code with the reason in gr->why (set by bl__gd_why), which the
 *     member puts in its message with bl__gd_fail. Types keep short gd_
 *     names: they are no symbols of the library.
 */
#ifndef BL_REMOTE_GDRIVE_INTERNAL_H
#define BL_REMOTE_GDRIVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "backless/remote.h"
#include "net/http.h"
#include "remote/remote_internal.h"
#include "util/strbuf.h"

/* ==================================================================== text */

#define BL__GDRIVE_FOLDER_MIME "application/vnd.google-apps.folder"

/* One file resource (files.list, files.get, files.create, changes.list). */
typedef struct bl__gdrive_file {
  char *id;      /* never NULL nor empty in a parsed file */
  char *name;    /* "" when the answer has none */
  int is_folder; /* mimeType is the folder type */
  int trashed;
  int64_t size;     /* bytes; -1 when absent (folders) or malformed */
  int64_t mtime_ms; /* modifiedTime, ms since 1970; 0 when absent or malformed */
  int64_t ctime_ms; /* createdTime, likewise */
  char **parents;   /* ids of the parent folders (may be none) */
  size_t nparents;
  /* md5Checksum as 32 lowercase hex digits; NULL when absent (folders,
   * Google Docs, a service that sends none) or not an MD5 */
  char *md5;
} bl__gdrive_file;

void bl__gdrive_file_clear(bl__gdrive_file *f);

/* A page of files.list. Entries without an id are left out. */
typedef struct bl__gdrive_list {
  bl__gdrive_file *files;
  size_t n;
  char *next_page_token; /* NULL on the last page */
} bl__gdrive_list;

void bl__gdrive_list_clear(bl__gdrive_list *l);
int bl__gdrive_parse_list(const char *json, size_t len, bl__gdrive_list *out, char *err,
                          size_t errsize);

/* One file resource (the answer of files.get / files.create / an upload). */
int bl__gdrive_parse_file(const char *json, size_t len, bl__gdrive_file *out, char *err,
                          size_t errsize);

/* A page of changes.list. */
typedef struct bl__gdrive_change {
  char *file_id; /* never NULL */
  int removed;
  int has_file; /* `file` is filled */
  bl__gdrive_file file;
} bl__gdrive_change;

typedef struct bl__gdrive_changes {
  bl__gdrive_change *changes;
  size_t n;
  char *next_page_token;      /* more pages follow */
  char *new_start_page_token; /* the last page: the token for next time */
} bl__gdrive_changes;

void bl__gdrive_changes_clear(bl__gdrive_changes *c);
int bl__gdrive_parse_changes(const char *json, size_t len, bl__gdrive_changes *out, char *err,
                             size_t errsize);

/* changes.getStartPageToken: *token is malloc'ed. */
int bl__gdrive_parse_start_token(const char *json, size_t len, char **token, char *err,
                                 size_t errsize);

/* An RFC 3339 time ("2024-05-01T12:34:56.789Z", offsets allowed) in ms
 * since 1970; 0 when s is not one. */
int64_t bl__gdrive_parse_time(const char *s);

/* Drive's order of duplicates: for folders the oldest (createdTime, then
 * the smallest id) comes first, so every device picks the same one; for
 * files the most recently modified (then the smallest id) comes first.
 * qsort comparators over bl__gdrive_file. */
int bl__gdrive_cmp_folders(const void *a, const void *b);
int bl__gdrive_cmp_files(const void *a, const void *b);

/* s as a string literal of the files.list query language: quoted with '
 * and with ' and \ escaped by a backslash. malloc'ed; NULL without memory. */
char *bl__gdrive_q_literal(const char *s);

/* s percent-encoded for a URL query (RFC 3986 unreserved characters kept).
 * malloc'ed; NULL without memory. */
char *bl__gdrive_urlencode(const char *s);

/* The metadata of files.create as JSON: {"name", "parents": [parent]} and
 * "mimeType" when mime is not NULL. malloc'ed, *len its length; NULL
 * without memory. */
char *bl__gdrive_meta_json(const char *name, const char *parent_id, const char *mime, size_t *len);

/*
 * The token of the changes member: "gd1:<hash of the path>:<id of the
 * path's folder>:<Drive page token>". It carries the folder's id so that a
 * fresh process answers an idle call with one request. make returns NULL
 * when memory runs out or the id or page token cannot be carried (':' in
 * the id, or control characters); parse returns 1 and fills the malloc'ed
 * outputs for a well-formed token, else 0 (or -1 without memory).
 */
uint64_t bl__gdrive_path_hash(const char *path);
char *bl__gdrive_token_make(const char *path, const char *folder_id, const char *page_token);
int bl__gdrive_token_parse(const char *token, uint64_t *path_hash, char **folder_id,
                           char **page_token);

/* ================================================================= backend */

/* What every listing and upload asks for of a file. */
#define BL__GDRIVE_FIELDS "id,name,mimeType,size,modifiedTime,createdTime,md5Checksum"
/* Largest body of a multipart upload; larger files go resumable. */
#define BL__GDRIVE_SIMPLE_MAX ((int64_t)5 << 20)

/* A node of the path cache or of the id map (gdrive_cache.c). */
typedef struct gd_node gd_node;
struct gd_node {
  char *key; /* a path (path cache) or a folder id (id map) */
  gd_node *next;
  /* path cache */
  int is_folder;
  char **ids;  /* a folder: the one in use; a file: every copy, newest first */
  char **md5s; /* a file: each copy's MD5, as ids (an entry NULL: unknown) */
  size_t nids;
  unsigned stamp;
  /* id map: the folder's path when known, else its name and parent (NULL:
   * it has none) as a walk learned them */
  char *path, *name, *parent;
};

typedef struct gd_map {
  gd_node **b;
  size_t nb, n;
} gd_map;

typedef struct gdrive_remote {
  bl_remote base;
  bl__http_client *http;
  char *base_url; /* without a trailing '/' */
  size_t max_in_flight;
  gd_map paths;   /* path -> folder id, or the ids of a file's copies */
  gd_map ids;     /* folder id -> its path, or what a walk learned */
  unsigned stamp; /* generation of the nodes a listing (re)filled */
  char *root_id;  /* the real id of "root", once asked for */
  char why[640];  /* the reason of the last failure, for messages */
} gdrive_remote;

/* ---- messages (gdrive.c) */

/* Sets gr->why; an argument may be gr->why itself. */
void bl__gd_why(gdrive_remote *gr, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Records "<op> '<path>': <why>" as the remote's error and returns rc. */
int bl__gd_fail(gdrive_remote *gr, int rc, const char *op, const char *path);
/* "out of memory" as the reason; returns BL_ENOMEM. */
int bl__gd_nomem(gdrive_remote *gr);
/* bl__http_perform; on failure the request's message becomes the reason. */
int bl__gd_perform(gdrive_remote *gr, bl__http_request *req);
/* A parser's verdict (rc, err) as the reason; returns rc. */
int bl__gd_bad_answer(gdrive_remote *gr, int rc, const char *err);

/* ---- strings, paths and URLs (gdrive.c) */

/* A growing string (util/strbuf.h): start with {0}; after a failed
 * allocation it ignores what is added, and bl__gd_str_take gives NULL. */
typedef bl__strbuf gd_str;
#define bl__gd_str_addn bl__strbuf_addn
#define bl__gd_str_add bl__strbuf_add
/* Appends t percent-encoded (every byte but RFC 3986's unreserved ones). */
#define bl__gd_str_enc(s, t) bl__strbuf_add_pct((s), (t), NULL)
/* The built string (malloc'ed; "" when nothing was added), or NULL when
 * memory ran out. */
#define bl__gd_str_take bl__strbuf_take
char *bl__gd_strdup(const char *s);
/* "<dir>/<name>" (or name alone below the root), malloc'ed. */
char *bl__gd_join(const char *dir, const char *name);
/* Whether p is `path` itself or below it. */
int bl__gd_below(const char *p, const char *path);
/* "/drive/v3/files/<id><rest>", malloc'ed. */
char *bl__gd_url_file(const char *id, const char *rest);

/* ---- the path cache and the id map (gdrive_cache.c) */

/* Sets up the maps of a new remote (the root known as "root"): BL_OK or
 * BL_ENOMEM. Frees them. */
int bl__gd_cache_init(gdrive_remote *gr);
void bl__gd_cache_free(gdrive_remote *gr);
gd_node *bl__gd_map_find(const gd_map *m, const char *key);
/* Forgets path and everything below it (never the root). */
void bl__gd_cache_drop(gdrive_remote *gr, const char *path);
/* The id map: folder id is at path; or has this name and parent. */
int bl__gd_idmap_set_path(gdrive_remote *gr, const char *id, const char *path);
int bl__gd_idmap_set_link(gdrive_remote *gr, const char *id, const char *name, const char *parent);
/* Caches path as folder id; or as the file whose copies are f[0..n). */
int bl__gd_cache_put_folder(gdrive_remote *gr, const char *path, const char *id);
int bl__gd_cache_put_files(gdrive_remote *gr, const char *path, const bl__gdrive_file *f, size_t n);
/* A node's ids, copied (malloc'ed, *n of them; NULL without memory), and
 * their release. */
char **bl__gd_ids_copy(const gd_node *x, size_t *n);
void bl__gd_ids_free(char **ids, size_t n);
/* After a listing of dir: caches files[0..n) (sorted here), then forgets
 * the children the listing did not show (stamp older than gr->stamp). */
int bl__gd_cache_children(gdrive_remote *gr, const char *dir, bl__gdrive_file *files, size_t n);
int bl__gd_cache_sweep(gdrive_remote *gr, const char *dir);
/* files.list with query q, every page, appended to *out. */
int bl__gd_files_list(gdrive_remote *gr, const char *q, bl__gdrive_list *out);
/* Looks names[0..n) up in folder parent_id (at dir) and caches what exists
 * of them; names not found are forgotten. */
int bl__gd_lookup_names(gdrive_remote *gr, const char *dir, const char *parent_id,
                        const char *const *names, size_t n);
/* The cache node of path, asking Drive for what is not cached (valid until
 * the cache next changes); BL_ENOTFOUND naming the missing component. */
int bl__gd_resolve(gdrive_remote *gr, const char *path, gd_node **out);
/* The id of folder path (malloc'ed); BL_ENOTFOUND when missing or a file.
 * *was_cached (may be NULL): whether no request was needed. */
int bl__gd_folder_id(gdrive_remote *gr, const char *path, char **id, int *was_cached);

/* ---- reads (gdrive.c) */

/* Passes the bytes on and keeps the receiver's own code when it stops. */
typedef struct gd_sink {
  bl_remote_sink sink;
  void *payload;
  int stopped; /* the receiver's non-zero answer */
} gd_sink;

/* The download request of file id into s (url malloc'ed into *url). */
int bl__gd_read_request(gdrive_remote *gr, const char *id, gd_sink *s, bl__http_request *req,
                        char **url);
/* Whether the copies of file node x may be read as one file: BL_OK when
 * there is one copy or no two known MD5s differ (a copy without one is not
 * compared); BL_ECORRUPT with the reason set when two differ. */
int bl__gd_copies_agree(gdrive_remote *gr, const gd_node *x);
/* A download's outcome: the receiver's code, a Google Doc as BL_EIO, else
 * the request's. */
int bl__gd_read_outcome(gdrive_remote *gr, const bl__http_request *req, const gd_sink *s);
/* The read member without the message; BL_ECORRUPT for copies that differ
 * (see gdrive.c, "read"). */
int bl__gd_read(gdrive_remote *gr, const char *path, bl_remote_sink sink, void *payload);

/* ---- uploads (gdrive_upload.c) */

/* One simple upload request, prepared apart from being sent. */
typedef struct gd_upreq {
  bl__http_request req;
  char *url, *body, *ctype;
  const char *headers[3];
} gd_upreq;

/* Reads exactly size bytes of src into a new buffer (*buf; NULL for 0). */
int bl__gd_slurp(gdrive_remote *gr, FILE *src, int64_t size, unsigned char **buf);
/* Prepares the upload of data[0..len): the new content of file id, or (id
 * NULL) a new file name in folder parent_id. Cleared with
 * bl__gd_upload_clear, on failure too. */
int bl__gd_upload_prepare(gdrive_remote *gr, gd_upreq *u, const char *id, const char *parent_id,
                          const char *name, const unsigned char *data, size_t len);
void bl__gd_upload_clear(gd_upreq *u);
/* The file resource an answer (an upload, files.get, files.create) holds. */
int bl__gd_upload_result(gdrive_remote *gr, const bl__http_request *req, bl__gdrive_file *f);
/* Uploads size bytes: from mem when size <= BL__GDRIVE_SIMPLE_MAX, else
 * from src through a resumable session. *attempts: tries of the request
 * that made the file. */
int bl__gd_upload(gdrive_remote *gr, const char *id, const char *parent_id, const char *name,
                  const unsigned char *mem, FILE *src, int64_t size, bl__gdrive_file *f,
                  int *attempts);

/* ---- writes and deletes (gdrive.c) */

/* Deletes file or folder id; BL_ENOTFOUND when it is already gone. */
int bl__gd_delete_id(gdrive_remote *gr, const char *id);
/* Deletes ids[from..n) (copies of one file); ones already gone are fine. */
int bl__gd_delete_copies(gdrive_remote *gr, char **ids, size_t from, size_t n);
/* After a retried create: keeps the newest copy of name in dir and deletes
 * the others. */
int bl__gd_dedupe(gdrive_remote *gr, const char *dir, const char *parent_id, const char *name,
                  const char *path);
/* Caches the one copy a successful upload of path left. */
int bl__gd_after_upload(gdrive_remote *gr, const char *path, const bl__gdrive_file *f);
/* The write member without the message; mem holds content of up to
 * BL__GDRIVE_SIMPLE_MAX bytes, larger content is read from src. */
int bl__gd_write(gdrive_remote *gr, const char *path, FILE *src, int64_t size,
                 const unsigned char *mem);

/* ---- members defined apart from gdrive.c */

/* read_many and write_many (gdrive_batch.c). */
int bl__gd_read_many(bl_remote *r, bl_remote_read_job *jobs, size_t n);
int bl__gd_write_many(bl_remote *r, bl_remote_write_job *jobs, size_t n);
/* The change feed (gdrive_changes.c). */
int bl__gd_changes(bl_remote *r, const char *path, const char *since, bl_remote_changes *out);

#endif
