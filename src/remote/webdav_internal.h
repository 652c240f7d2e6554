/*
 * webdav_internal.h — what the WebDAV backend's two files share, and what
 * its tests and its fuzz target call directly: the PROPFIND reply parser
 * and the small text helpers around it (percent-encoding, RFC 1123 dates,
 * the temporary-name rule). None of it does I/O.
 */
#ifndef BL_REMOTE_WEBDAV_INTERNAL_H
#define BL_REMOTE_WEBDAV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backless/remote.h"

/* Uploads go to "<folder>/.bl-tmp-<16 hex>" first and are then moved over
 * the target; listings leave every name with this prefix out. */
#define BL__WEBDAV_TEMP_PREFIX ".bl-tmp-"

/* What a PROPFIND Depth: 1 reply says about one collection. */
typedef struct bl__webdav_listing {
  bl_remote_entry *entries; /* the members (malloc'ed, names malloc'ed) */
  size_t count;
  int self_found;     /* the collection's own entry was in the reply */
  int self_is_folder; /* ... and it is a collection (0: a plain file) */
} bl__webdav_listing;

/*
 * Parses a 207 multistatus reply (RFC 4918 section 14.16) to a PROPFIND
 * Depth: 1 on the collection whose decoded absolute path is `folder`
 * ("/dav/files/alice/App/" — a trailing '/' or not).
 *
 * Elements are matched by namespace "DAV:" and local name, whatever the
 * prefix; other namespaces (oc:, nc:) are ignored. hrefs may be absolute
 * paths or full URLs, percent-encoded, with or without a trailing '/'. The
 * collection's own entry is recognised by its decoded path and left out
 * (reported in self_found / self_is_folder); members of members (a server
 * ignoring Depth: 1) and names that are temporary uploads, empty, "." or
 * ".." or that decode to something with '/' or NUL are left out too.
 * Properties come only from propstat blocks with a 2xx status: a collection
 * has is_folder 1 and size -1; a file its getcontentlength (-1 when absent)
 * and its getlastmodified as seconds since 1970 (0 when absent or
 * unreadable). An entry without a usable resourcetype is a collection when
 * its href ends with '/'.
 *
 * A document type declaration is refused before any of it is read, so no
 * entity can be declared, let alone expanded, and nothing is fetched.
 *
 * On BL_OK *out holds the result (free it with bl__webdav_listing_clear);
 * on failure *out is empty and err (errsize bytes, may be 0) says why:
 * BL_EIO for a reply that is not well-formed XML, has a DTD, or is not a
 * DAV: multistatus; BL_ENOMEM.
 */
int bl__webdav_parse_propfind(const char *xml, size_t len, const char *folder,
                              bl__webdav_listing *out, char *err, size_t errsize);

/* Frees what a listing holds and empties it (NULL is fine). */
void bl__webdav_listing_clear(bl__webdav_listing *l);

/* An RFC 1123 date ("Sun, 06 Nov 1994 08:49:37 GMT"; the day name is
 * optional) as seconds since 1970, or 0 when `s` is not one. */
int64_t bl__webdav_parse_date(const char *s);

/* `s` with every byte but RFC 3986 unreserved characters and '/' written
 * as %XX (upper-case hex), malloc'ed; NULL when memory runs out. */
char *bl__webdav_encode_path(const char *s);

/* Percent-decodes s[0..len) into a new string. Returns NULL when memory
 * runs out or, with *bad set to 1, for a malformed escape or an encoded
 * NUL (*bad is 0 otherwise). */
char *bl__webdav_decode(const char *s, size_t len, int *bad);

/* 1 when `name` is one of our temporary uploads. */
int bl__webdav_is_temp(const char *name);

#endif /* BL_REMOTE_WEBDAV_INTERNAL_H */
