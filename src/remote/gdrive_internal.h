/*
 * gdrive_internal.h — what the Google Drive backend (gdrive.c) shares with
 * its text helpers (gdrive_json.c) and the fuzz target
 * (fuzz/fuzz_gdrive_parse.c): the parsers of Drive's JSON answers, the
 * builders of its request bodies and query text, and the change-feed token.
 *
 * Every parser takes a buffer and its length (no NUL needed, any bytes
 * accepted) and returns BL_OK, BL_EIO for an answer that is not what Drive
 * sends (with a reason in err), or BL_ENOMEM. On failure the output is left
 * empty; on success the caller frees it with the matching _clear.
 */
#ifndef BL_REMOTE_GDRIVE_INTERNAL_H
#define BL_REMOTE_GDRIVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

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

#endif
