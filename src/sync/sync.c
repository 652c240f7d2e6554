/*
 * sync.c — bl_sync, bl_pull, bl_push: the entry points, the cloud paths
 * and the crash points used by the crash-test harness.
 *
 * Cloud layout (docs/FORMAT.md): <app folder>/changesets/device-<uuid>/
 * {cs,snapshot}-NNNNN.json, relative to the remote's root.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/media_internal.h"
#include "sync/sync_internal.h"
#include "util/errmsg.h"

#include <yajl/yajl_tree.h>

/* ------------------------------------------------------------------ paths */

static int sync_fmt(char *buf, size_t size, int n) {
  return n < 0 || (size_t)n >= size ? BL_EMISUSE : BL_OK;
}

int bl__path_changesets(bl_db *db, char *buf, size_t size) {
  return sync_fmt(buf, size, snprintf(buf, size, "%s/changesets", db->app_folder));
}

int bl__path_device(bl_db *db, const char *device, char *buf, size_t size) {
  return sync_fmt(buf, size, snprintf(buf, size, "%s/changesets/device-%s", db->app_folder, device));
}

int bl__path_file(bl_db *db, const char *device, const char *name, char *buf, size_t size) {
  return sync_fmt(buf, size, snprintf(buf, size, "%s/changesets/device-%s/%s", db->app_folder, device, name));
}

/* ------------------------------------------------------------ crash points */

void bl__crash_point(const char *name) {
  static int passes; /* counts passages of the armed point; tests only */
  const char *want = getenv("BL_TEST_CRASH_AT");
  if (!want || !*want) return;
  size_t n = strlen(name);
  if (strncmp(want, name, n) != 0 || (want[n] != '\0' && want[n] != ':')) return;
  long nth = want[n] == ':' ? strtol(want + n + 1, NULL, 10) : 1;
  if (++passes < nth) return;
  fflush(NULL);
  kill(getpid(), SIGKILL);
}

/* ----------------------------------------------------------- backless.json */

/* The app-wide settings every device must agree on. Written once by the
 * first device that syncs, read by every other; remembered in _sync_meta
 * after the first successful read, so an idle sync costs no request for it. */
#define SYNC_SETTINGS_KEY "cloud_settings"
#define SYNC_SETTINGS_JSON "{\"format\":\"backless\",\"version\":1}\n"

typedef struct sync_buf {
  char data[4096];
  size_t len;
} sync_buf;

static int sync_buf_sink(const void *data, size_t len, void *payload) {
  sync_buf *b = payload;
  if (len > sizeof b->data - 1 - b->len) return BL_ECORRUPT; /* far larger than any settings file */
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

/* Checks the settings text: BL_OK, or an error recorded in ctx. */
static int sync_check_settings_text(bl_sync_ctx *ctx, const char *text) {
  char err[256];
  yajl_val root = yajl_tree_parse(text, err, sizeof err);
  const char *fpath[] = {"format", NULL}, *vpath[] = {"version", NULL};
  yajl_val f = root ? yajl_tree_get(root, fpath, yajl_t_string) : NULL;
  yajl_val v = root ? yajl_tree_get(root, vpath, yajl_t_number) : NULL;
  int rc = BL_OK;
  const char *fs = f ? YAJL_GET_STRING(f) : NULL;
  if (!root || !YAJL_IS_OBJECT(root) || !fs || strcmp(fs, "backless") != 0 || !v || !YAJL_IS_INTEGER(v)) {
    bl__ctx_error(ctx, NULL, BL_SYNC_CORRUPT, BL_ECORRUPT,
                  "%s/backless.json is not a backless settings file; sync stopped", ctx->db->app_folder);
    rc = BL_ECORRUPT;
  } else if (YAJL_GET_INTEGER(v) != 1) {
    bl__ctx_error(ctx, NULL, BL_SYNC_FORMAT, BL_ESCHEMA,
                  "%s/backless.json has format version %lld; this build reads version 1: update the app",
                  ctx->db->app_folder, (long long)YAJL_GET_INTEGER(v));
    rc = BL_ESCHEMA;
  }
  yajl_tree_free(root);
  return rc;
}

static int sync_settings(bl_sync_ctx *ctx) {
  bl_db *db = ctx->db;
  char *known = NULL;
  int rc = bl__meta_get(db, SYNC_SETTINGS_KEY, &known);
  if (rc == BL_OK) {
    free(known);
    return BL_OK;
  }
  char path[1024];
  if (sync_fmt(path, sizeof path, snprintf(path, sizeof path, "%s/backless.json", db->app_folder)) != BL_OK)
    return BL_EMISUSE;
  sync_buf *b = calloc(1, sizeof *b);
  if (!b) return BL_ENOMEM;
  rc = bl_remote_read(ctx->remote, path, sync_buf_sink, b);
  if (rc == BL_ENOTFOUND) {
    /* First device: create the app folder and the settings. */
    rc = bl_remote_mkdir(ctx->remote, db->app_folder);
    if (rc == BL_OK) rc = bl_remote_write_buf(ctx->remote, path, SYNC_SETTINGS_JSON, strlen(SYNC_SETTINGS_JSON));
    if (rc != BL_OK) {
      bl__ctx_error(ctx, NULL, BL_SYNC_REMOTE, rc, "cannot create %s: %s", path, bl_remote_errmsg(ctx->remote));
      free(b);
      return rc;
    }
    snprintf(b->data, sizeof b->data, "%s", SYNC_SETTINGS_JSON);
  } else if (rc != BL_OK) {
    if (rc == BL_ECORRUPT)
      bl__ctx_error(ctx, NULL, BL_SYNC_CORRUPT, rc, "%s is too large to be a settings file", path);
    else
      bl__ctx_error(ctx, NULL, BL_SYNC_REMOTE, rc, "cannot read %s: %s", path, bl_remote_errmsg(ctx->remote));
    free(b);
    return rc;
  } else {
    b->data[b->len] = '\0';
    /* A torn first upload (a store without atomic writes) leaves a prefix
     * of the one text every device writes: finish it. Anything else is not
     * ours to overwrite. */
    size_t full = strlen(SYNC_SETTINGS_JSON);
    if (b->len < full && memcmp(b->data, SYNC_SETTINGS_JSON, b->len) == 0) {
      rc = bl_remote_write_buf(ctx->remote, path, SYNC_SETTINGS_JSON, full);
      if (rc != BL_OK) {
        bl__ctx_error(ctx, NULL, BL_SYNC_REMOTE, rc, "cannot repair %s: %s", path, bl_remote_errmsg(ctx->remote));
        free(b);
        return rc;
      }
      snprintf(b->data, sizeof b->data, "%s", SYNC_SETTINGS_JSON);
    }
  }
  rc = sync_check_settings_text(ctx, b->data);
  if (rc == BL_OK) rc = bl__meta_set(db, SYNC_SETTINGS_KEY, b->data);
  free(b);
  return rc;
}

/* ------------------------------------------------------------ entry points */

enum { SYNC_PULL = 1, SYNC_PUSH = 2 };

/* What the service put this sync through, as one `retried` warning: the
 * result then says why a sync was slow, or that a token expired, even
 * when every request succeeded in the end. */
static void sync_note_retries(bl_sync_ctx *ctx, const bl_remote_stats *b, const bl_remote_stats *a) {
  uint64_t limited = a->rate_limited - b->rate_limited, failed = a->server_errors - b->server_errors,
           refreshed = a->token_refreshes - b->token_refreshes;
  if (!limited && !failed && !refreshed) return;
  char msg[512];
  size_t n = 0;
  const char *sep = "";
  if (limited) {
    n += (size_t)snprintf(msg + n, sizeof msg - n, "%s%llu answer%s rate-limited (HTTP 429)", sep,
                          (unsigned long long)limited, limited == 1 ? " was" : "s were");
    sep = ", ";
  }
  if (failed && n < sizeof msg) {
    n += (size_t)snprintf(msg + n, sizeof msg - n, "%s%llu failed (HTTP 5xx or network)", sep,
                          (unsigned long long)failed);
    sep = ", ";
  }
  if (refreshed && n < sizeof msg)
    n += (size_t)snprintf(msg + n, sizeof msg - n, "%sthe access token was rejected and renewed %llu time%s", sep,
                          (unsigned long long)refreshed, refreshed == 1 ? "" : "s");
  bl__result_warn(ctx->res, NULL, BL_SYNC_RETRIED, "%s; the requests were retried (%llu requests in all)", msg,
                  (unsigned long long)(a->requests - b->requests));
}

static int sync_run(bl_db *db, bl_remote *remote, bl_sync_result *result, int what) {
  bl_sync_result scratch = BL_SYNC_RESULT_INIT;
  bl_sync_result *res = result ? result : &scratch;
  if (result) bl__result_reset(result);
  if (!db) return bl__set_tls_error(BL_EMISUSE, "sync: the database handle is NULL");
  if (!remote) return bl__db_error(db, BL_EMISUSE, "no remote given");

  bl_sync_ctx ctx = {db, remote, res, BL_OK, 0, 0};
  bl__media_shards *shards = NULL;
  bl_sync_lock lock;
  int rc = bl__lock_acquire(db, &lock);
  if (rc != BL_OK) {
    bl__ctx_error(&ctx, NULL, BL_SYNC_REMOTE, rc, "%s", bl_errmsg(db));
    bl_sync_result_free(&scratch);
    return rc;
  }
  bl_remote_stats before, after;
  bl_remote_get_stats(remote, &before);
  if (sync_settings(&ctx) == BL_OK) {
    if (what & SYNC_PULL) bl__pull(&ctx);
    /* Media first, so other devices usually find an attachment's file
     * before its reference; collection last, with the pull's knowledge
     * (src/media/gc.c). */
    if ((what & SYNC_PUSH) && !ctx.abort_all) bl__media_upload(&ctx, &shards);
    size_t errors = res->errors_count;
    if ((what & SYNC_PUSH) && !ctx.abort_all) bl__push(&ctx);
    int push_ok = res->errors_count == errors;
    if (what == (SYNC_PULL | SYNC_PUSH) && !ctx.abort_all)
      bl__media_collect(&ctx, &shards, ctx.pull_complete, push_ok);
  }
  bl__media_shards_free(shards);
  bl_remote_get_stats(remote, &after);
  sync_note_retries(&ctx, &before, &after);
  bl__lock_release(&lock);

  rc = ctx.first_error;
  if (rc != BL_OK && res->errors_count > 0) {
    const bl_sync_issue *e = &res->errors[0];
    bl__db_error(db, rc, "%s%s%s", e->device ? "device " : "", e->device ? e->device : "",
                 e->device ? ": " : "");
    char *msg = sqlite3_mprintf("%s%s", db->errmsg ? db->errmsg : "", e->message);
    if (msg) {
      sqlite3_free(db->errmsg);
      db->errmsg = msg;
    }
  }
  bl_sync_result_free(&scratch);
  return rc;
}

int bl_sync(bl_db *db, bl_remote *remote, bl_sync_result *result) {
  return sync_run(db, remote, result, SYNC_PULL | SYNC_PUSH);
}

int bl_pull(bl_db *db, bl_remote *remote, bl_sync_result *result) {
  return sync_run(db, remote, result, SYNC_PULL);
}

int bl_push(bl_db *db, bl_remote *remote, bl_sync_result *result) {
  return sync_run(db, remote, result, SYNC_PUSH);
}
