/*
 * pending_onedrive.c — TRANSITIONAL: holds the place of the onedrive backend's opener
 * while that backend is being written, so the scheme table links. Deleted
 * by the commit that adds src/remote/onedrive.c.
 */
#include "remote/remote_internal.h"
#include "util/errmsg.h"

int bl__remote_onedrive_open(bl_remote **out, const char *url, const bl_remote_options *opts) {
  (void)url;
  (void)opts;
  *out = NULL;
  return bl__set_tls_error(BL_EMISUSE, "the onedrive backend is not in this build yet");
}
