/*
 * server_proc.h — start a local test server (an emulator or a real WebDAV
 * server) on a free port of 127.0.0.1, and stop it.
 *
 * The emulators write their port to a file once listening (--port 0
 * --port-file F); servers that cannot (rclone) are given a port picked here
 * and waited for until they accept connections.
 */
#ifndef BL_TESTS_SERVER_PROC_H
#define BL_TESTS_SERVER_PROC_H

#include <sys/types.h>

typedef struct server_proc {
  pid_t pid;
  int port;
  char dir[256];      /* a private temporary directory (port file, log, data) */
  char base_url[128]; /* "http://127.0.0.1:PORT" */
} server_proc;

/*
 * Starts tests/emulators/<script> ("gdrive.py" or "graph.py") with the
 * interpreter found at configure time plus `extra` arguments (NULL-
 * terminated, may be NULL). Returns 0, or -1 with a message on stderr.
 */
int server_start_emulator(server_proc *s, const char *script, const char *const *extra);

/* Starts `rclone serve webdav DIR` on a free port with basic auth user/pass
 * (NULL: none). DIR is s->dir/data, created empty. Returns 0, 1 when rclone
 * is not installed (the caller skips), or -1. */
int server_start_rclone_webdav(server_proc *s, const char *user, const char *pass);

/* Stops the server (SIGTERM, then SIGKILL) and removes its directory. */
void server_stop(server_proc *s);

/*
 * Sends one control request to an emulator (method "GET"/"POST", path such
 * as "/_emulator/stats", optional JSON body) and returns the malloc'ed
 * response body, or NULL. Uses a plain socket: no dependency on src/net/.
 */
char *server_control(const server_proc *s, const char *method, const char *path, const char *json_body);

/* An integer field of /_emulator/stats: "total", or "by_endpoint.files.list"
 * style dotted names one level deep. -1 on failure. */
long server_stat(const server_proc *s, const char *field);

#endif
