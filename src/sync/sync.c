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
  if (bl__sync_settings(&ctx) == BL_OK) {
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
