/*
 * error.c — static text for status codes.
 */
#include "backless.h"

const char *bl_strerror(int code) {
  switch (code) {
    case BL_OK: return "ok";
    case BL_ERROR: return "error";
    case BL_ENOMEM: return "out of memory";
    case BL_EMISUSE: return "library misuse";
    case BL_ENOTFOUND: return "not found";
    case BL_ECORRUPT: return "corrupt or malformed input";
    case BL_ESCHEMA: return "schema error";
    case BL_EAUTH: return "authentication failed";
    case BL_ERATELIMIT: return "rate limited";
    case BL_EIO: return "I/O error";
    case BL_ESQLITE: return "SQLite error";
    case BL_ENET: return "remote unreachable";
    case BL_EBUSY: return "busy";
    default: return "unknown error code";
  }
}

/* ---------------------------------------------------- thread-local message */

#include <stdarg.h>
#include <stdio.h>

#include "util/errmsg.h"

/* A fixed buffer: setting an error must not fail for want of memory. */
static _Thread_local char tls_errmsg[1024];

int bl__set_tls_error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tls_errmsg, sizeof tls_errmsg, fmt, ap);
  va_end(ap);
  return code;
}

const char *bl__tls_errmsg(void) { return tls_errmsg; }
