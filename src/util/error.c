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
    default: return "unknown error code";
  }
}
