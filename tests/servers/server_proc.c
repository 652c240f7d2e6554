/*
 * server_proc.c — starting and stopping local test servers (see
 * server_proc.h). Plain POSIX: fork/exec, a port file or a connect loop,
 * and a minimal HTTP/1.0 client for the emulators' control endpoints.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "servers/server_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BL_EMULATOR_DIR
#error "BL_EMULATOR_DIR must name tests/emulators"
#endif

static void server_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int server_make_dir(server_proc *s) {
  memset(s, 0, sizeof *s);
  s->pid = -1;
  snprintf(s->dir, sizeof s->dir, "/tmp/bl-server-XXXXXX");
  if (!mkdtemp(s->dir)) {
    fprintf(stderr, "server: mkdtemp: %s\n", strerror(errno));
    return -1;
  }
  return 0;
}

/* Servers still running, killed at exit: a test that stops early (a failed
 * BL_REQUIRE returns from it) must not leave its server behind. */
#define SERVER_MAX_LIVE 32
static pid_t server_live[SERVER_MAX_LIVE];

static void server_kill_live(void) {
  for (int i = 0; i < SERVER_MAX_LIVE; i++)
    if (server_live[i] > 0) {
      kill(-server_live[i], SIGKILL);
      kill(server_live[i], SIGKILL);
      waitpid(server_live[i], NULL, 0);
      server_live[i] = 0;
    }
}

static void server_track(pid_t pid, int add) {
  static int registered;
  if (!registered) registered = atexit(server_kill_live) == 0;
  for (int i = 0; i < SERVER_MAX_LIVE; i++)
    if (add ? server_live[i] == 0 : server_live[i] == pid) {
      server_live[i] = add ? pid : 0;
      return;
    }
}

/* Forks and execs argv with stdout/stderr to dir/log. */
static int server_spawn(server_proc *s, char *const argv[]) {
  char log[300];
  snprintf(log, sizeof log, "%s/log", s->dir);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    setpgid(0, 0);
    execvp(argv[0], argv);
    _exit(127);
  }
  s->pid = pid;
  server_track(pid, 1);
  return 0;
}

/* Prints the server's log, to explain a start that failed. */
static void server_dump_log(const server_proc *s) {
  char path[300], buf[4096];
  snprintf(path, sizeof path, "%s/log", s->dir);
  FILE *f = fopen(path, "r");
  if (!f) return;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  fprintf(stderr, "server log:\n%s\n", buf);
}

/* Whether the child already exited. */
static int server_exited(server_proc *s) {
  int st;
  if (s->pid > 0 && waitpid(s->pid, &st, WNOHANG) == s->pid) {
    server_track(s->pid, 0);
    s->pid = -1;
    return 1;
  }
  return 0;
}

static int server_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int server_start_emulator(server_proc *s, const char *script, const char *const *extra) {
  if (server_make_dir(s) != 0) return -1;
  char script_path[512], port_file[300];
  snprintf(script_path, sizeof script_path, "%s/%s", BL_EMULATOR_DIR, script);
  snprintf(port_file, sizeof port_file, "%s/port", s->dir);
  char *argv[64];
  size_t n = 0;
  argv[n++] = "python3";
  argv[n++] = script_path;
  argv[n++] = "--port";
  argv[n++] = "0";
  argv[n++] = "--port-file";
  argv[n++] = port_file;
  for (size_t i = 0; extra && extra[i] && n < 63; i++) argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  if (server_spawn(s, argv) != 0) return -1;
  for (int i = 0; i < 1000; i++) { /* up to 20 s */
    FILE *f = fopen(port_file, "r");
    if (f) {
      int port = 0;
      int ok = fscanf(f, "%d", &port) == 1 && port > 0;
      fclose(f);
      if (ok) {
        s->port = port;
        snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%d", port);
        return 0;
      }
    }
    if (server_exited(s)) break;
    server_sleep_ms(20);
  }
  fprintf(stderr, "server: %s did not start\n", script);
  server_dump_log(s);
  server_stop(s);
  return -1;
}

/* A port that was free a moment ago (the kernel's pick for port 0). */
static int server_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

static int server_have(const char *prog) {
  const char *path = getenv("PATH");
  if (!path) return 0;
  char buf[1024];
  for (const char *p = path; *p;) {
    size_t len = strcspn(p, ":");
    snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, prog);
    if (access(buf, X_OK) == 0) return 1;
    p += len;
    if (*p == ':') p++;
  }
  return 0;
}

int server_start_rclone_webdav(server_proc *s, const char *user, const char *pass) {
  if (!server_have("rclone")) return 1;
  for (int attempt = 0; attempt < 5; attempt++) {
    if (server_make_dir(s) != 0) return -1;
    char data[300], addr[64], conf[300];
    snprintf(data, sizeof data, "%s/data", s->dir);
    snprintf(conf, sizeof conf, "%s/rclone.conf", s->dir);
    if (mkdir(data, 0700) != 0) return -1;
    int port = server_free_port();
    if (port <= 0) return -1;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    char *argv[20];
    size_t n = 0;
    argv[n++] = "rclone";
    argv[n++] = "serve";
    argv[n++] = "webdav";
    argv[n++] = data;
    argv[n++] = "--addr";
    argv[n++] = addr;
    argv[n++] = "--config";
    argv[n++] = conf;
    if (user) {
      argv[n++] = "--user";
      argv[n++] = (char *)user;
      argv[n++] = "--pass";
      argv[n++] = (char *)(pass ? pass : "");
    }
    argv[n] = NULL;
    if (server_spawn(s, argv) != 0) return -1;
    for (int i = 0; i < 500; i++) { /* up to 10 s */
      int fd = server_connect(port);
      if (fd >= 0) {
        close(fd);
        s->port = port;
        snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%d", port);
        return 0;
      }
      if (server_exited(s)) break;
      server_sleep_ms(20);
    }
    /* The port may have been taken between the pick and the bind: retry. */
    server_dump_log(s);
    server_stop(s);
  }
  fprintf(stderr, "server: rclone serve webdav did not start\n");
  return -1;
}

/* Removes a directory tree (the server's private one). */
static void server_rm_rf(const char *dir) {
  pid_t pid = fork();
  if (pid == 0) {
    execlp("rm", "rm", "-rf", dir, (char *)NULL);
    _exit(127);
  }
  if (pid > 0) waitpid(pid, NULL, 0);
}

void server_stop(server_proc *s) {
  if (s->pid > 0) {
    server_track(s->pid, 0);
    kill(-s->pid, SIGTERM);
    kill(s->pid, SIGTERM);
    int st;
    for (int i = 0; i < 250; i++) {
      if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
        s->pid = -1;
        break;
      }
      server_sleep_ms(20);
    }
    if (s->pid > 0) {
      kill(-s->pid, SIGKILL);
      kill(s->pid, SIGKILL);
      waitpid(s->pid, &st, 0);
    }
    s->pid = -1;
  }
  if (s->dir[0]) server_rm_rf(s->dir);
  s->dir[0] = '\0';
}

char *server_control(const server_proc *s, const char *method, const char *path, const char *json_body) {
  int fd = server_connect(s->port);
  if (fd < 0) return NULL;
  size_t blen = json_body ? strlen(json_body) : 0;
  char head[1024];
  int hn = snprintf(head, sizeof head,
                    "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                    method, path, blen);
  if (write(fd, head, (size_t)hn) != hn || (blen && write(fd, json_body, blen) != (ssize_t)blen)) {
    close(fd);
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf) break;
    if (len + 1024 > cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
    }
    ssize_t k = read(fd, buf + len, cap - len - 1);
    if (k <= 0) break;
    len += (size_t)k;
  }
  close(fd);
  if (!buf) return NULL;
  buf[len] = '\0';
  char *body = strstr(buf, "\r\n\r\n");
  if (!body) {
    free(buf);
    return NULL;
  }
  char *out = strdup(body + 4);
  free(buf);
  return out;
}

long server_stat(const server_proc *s, const char *field) {
  char *body = server_control(s, "GET", "/_emulator/stats", NULL);
  if (!body) return -1;
  /* "a.b": find "a" then "b" after it; the stats JSON is flat enough. */
  char key[128];
  const char *p = body;
  const char *f = field;
  long v = -1;
  for (;;) {
    const char *dot = strchr(f, '.');
    size_t len = dot ? (size_t)(dot - f) : strlen(f);
    /* by_endpoint keys contain dots ("files.list"): once inside the
     * object, the rest of the field is one key. */
    if (dot && strncmp(f, "by_", 3) != 0 && strncmp(f, "faults", 6) != 0) len = strlen(f), dot = NULL;
    snprintf(key, sizeof key, "\"%.*s\"", (int)len, f);
    p = strstr(p, key);
    if (!p) break;
    p += strlen(key);
    if (!dot) {
      while (*p == ' ' || *p == ':') p++;
      v = strtol(p, NULL, 10);
      break;
    }
    f = dot + 1;
  }
  free(body);
  return v;
}
