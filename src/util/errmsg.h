/*
 * errmsg.h — the thread-local last error, for calls without a handle
 * (bl_open, bl_schema_from_dir, bl_remote_open); read with bl_errmsg(NULL).
 */
#ifndef BL_UTIL_ERRMSG_H
#define BL_UTIL_ERRMSG_H

/* Sets this thread's last error message (printf-style) and returns `code`. */
int bl__set_tls_error(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* This thread's last error message; "" when none. */
const char *bl__tls_errmsg(void);

#endif /* BL_UTIL_ERRMSG_H */
