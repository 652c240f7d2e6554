/*
 * remote_internal.h — the openers of the built-in backends, called from the
 * scheme table of remote.c (and by the bl_remote_gdrive / ... shortcuts).
 *
 * `url` is the whole URL as the application gave it (NULL for the
 * shortcuts that take no URL); `opts` is never NULL (remote.c substitutes
 * the defaults) and its strings are only borrowed: a backend copies what it
 * keeps. On failure an opener returns a BL_E* code with the thread's
 * message set (bl__set_tls_error) and leaves *out NULL.
 */
#ifndef BL_REMOTE_INTERNAL_H
#define BL_REMOTE_INTERNAL_H

#include "backless.h"
#include "backless/remote.h"

int bl__remote_webdav_open(bl_remote **out, const char *url, const bl_remote_options *opts);
int bl__remote_gdrive_open(bl_remote **out, const char *url, const bl_remote_options *opts);
int bl__remote_onedrive_open(bl_remote **out, const char *url, const bl_remote_options *opts);

/* Splits a remote path into its parent (malloc'ed; "" below the root) and
 * its last component (borrowed from path). NULL when out of memory. */
char *bl__remote_split_path(const char *path, const char **name);

/* The libcurl defaults derived from bl_remote_options (zero → default), so
 * every HTTP backend fills its bl__http_opts the same way. */
struct bl__http_opts;
void bl__remote_http_opts(struct bl__http_opts *h, const bl_remote_options *opts, const char *base_url);

#endif
