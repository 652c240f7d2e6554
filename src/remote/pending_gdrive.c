/*
 * pending_gdrive.c — TRANSITIONAL: holds the place of the gdrive backend's opener
 * while that backend is being written, so the scheme table links. Deleted
 * by the commit that adds src/remote/gdrive.c.
 */
#include "remote/remote_internal.h"
#include "util/errmsg.h"

int bl__remote_gdrive_open(bl_remote **out, const char *url, const bl_remote_options *opts) {
  (void)url;
  (void)opts;
  *out = NULL;
  return bl__set_tls_error(BL_EMISUSE, "the gdrive backend is not in this build yet");
}
