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

static int sync_run(bl_db *db, bl_remote *remote, bl_sync_result *result, int what) {
  bl_sync_result scratch = BL_SYNC_RESULT_INIT;
  bl_sync_result *res = result ? result : &scratch;
  if (result) bl__result_reset(result);
  if (!db) return bl__set_tls_error(BL_EMISUSE, "sync: the database handle is NULL");
  if (!remote) return bl__db_error(db, BL_EMISUSE, "no remote given");

  bl_sync_ctx ctx = {db, remote, res, BL_OK, 0};
  bl_sync_lock lock;
  int rc = bl__lock_acquire(db, &lock);
  if (rc != BL_OK) {
    bl__ctx_error(&ctx, NULL, BL_SYNC_REMOTE, rc, "%s", bl_errmsg(db));
    bl_sync_result_free(&scratch);
    return rc;
  }
  if (what & SYNC_PULL) bl__pull(&ctx);
  if ((what & SYNC_PUSH) && !ctx.abort_all) bl__push(&ctx);
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
