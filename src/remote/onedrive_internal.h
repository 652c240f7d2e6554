/*
 * onedrive_internal.h — what the OneDrive backend's two files share, and
 * what its tests and fuzz target reach into.
 *
 * onedrive_json.c holds every piece of JSON handling (the responses of
 * Microsoft Graph parsed with yajl's tree API, and the one request body we
 * build), kept apart from the transport so that a libFuzzer target can feed
 * it arbitrary bytes; onedrive.c is the backend proper.
 *
 * Parsers take a buffer and its length (no NUL needed), never trust it, and
 * return BL_OK, BL_ECORRUPT for what is not the JSON expected, or
 * BL_ENOMEM. What they hand back is malloc'ed and freed with the matching
 * _clear function, which also accepts a zeroed struct.
 */
#ifndef BL_REMOTE_ONEDRIVE_INTERNAL_H
#define BL_REMOTE_ONEDRIVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backless/remote.h"

/* One driveItem, reduced to what the backend uses. */
typedef struct bl__od_item {
  char *id;        /* NULL when absent */
  char *name;      /* NULL when absent */
  char *parent_id; /* parentReference.id, NULL when absent */
  int is_folder;   /* has a "folder" facet */
  int is_file;     /* has a "file" facet */
  int deleted;     /* has a "deleted" facet */
  int64_t size;    /* -1 when absent */
  int64_t mtime;   /* lastModifiedDateTime in seconds since 1970, 0 when absent */
} bl__od_item;

/* One page of a collection (children or delta). */
typedef struct bl__od_page {
  bl__od_item *items; /* the "value" array, in order; items without an id
                         or a name are kept (the caller decides) */
  size_t nitems;
  char *next_link;  /* @odata.nextLink, NULL when absent */
  char *delta_link; /* @odata.deltaLink, NULL when absent */
} bl__od_page;

/* A page: an object with a "value" array (missing "value" is an empty
 * page, anything else in its place is BL_ECORRUPT). */
int bl__onedrive_parse_page(const char *json, size_t len, bl__od_page *out);
void bl__onedrive_page_clear(bl__od_page *p);

/* A single driveItem object. */
int bl__onedrive_parse_item(const char *json, size_t len, bl__od_item *out);
void bl__onedrive_item_clear(bl__od_item *it);

/* An uploadSession (createUploadSession's answer, or a fragment's 202):
 * *upload_url (malloc'ed, NULL when absent; pass NULL to not ask) and the
 * start of the first nextExpectedRanges entry in *next_start (-1 when
 * absent or unreadable). */
int bl__onedrive_parse_session(const char *json, size_t len, char **upload_url,
                               int64_t *next_start);

/* The error code of a Graph error body ({"error": {"code": ...}}) into code
 * (size bytes, truncated); "" and BL_ECORRUPT when there is none. */
int bl__onedrive_parse_error_code(const char *json, size_t len, char *code, size_t size);

/* An ISO 8601 date-time as Graph writes it ("2024-05-01T12:34:56.789Z",
 * or with a "+hh:mm" / "-hh:mm" offset) into seconds since 1970. BL_OK or
 * BL_ECORRUPT. */
int bl__onedrive_parse_time(const char *s, int64_t *out);

/* The body of a folder creation, {"name": name, "folder": {},
 * "@microsoft.graph.conflictBehavior": "fail"}, escaped by yajl_gen:
 * *out malloc'ed (NUL-terminated), *len its length. BL_OK, BL_EMISUSE for
 * a name that is not UTF-8, or BL_ENOMEM. */
int bl__onedrive_folder_body(const char *name, char **out, size_t *len);

/* The body of createUploadSession asking to replace an existing file. */
extern const char bl__onedrive_session_body[];

/* ---- test knobs (a remote opened by bl__remote_onedrive_open only) */

/* Files larger than `bytes` go through an upload session instead of one
 * PUT (default 4 MiB, Graph's documented limit of a simple upload). */
void bl__onedrive_set_simple_max(bl_remote *r, int64_t bytes);

/* The size of one upload-session fragment; rounded down to a multiple of
 * 320 KiB as Graph requires, at least 320 KiB (default 5 MiB). */
void bl__onedrive_set_fragment(bl_remote *r, size_t bytes);

#endif
