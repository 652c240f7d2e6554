/*
 * pull.c — the pull pass: list the device folders, and for each device
 * apply, in sequence order, every file after its cursor.
 *
 * Per device with cursor c (0 = never synced from it):
 *   - c == 0 and a snapshot exists: merge the latest snapshot S (cursor S),
 *     then cs-(S+1) ... (a new device starts from the snapshot);
 *   - cs-(c+1) is gone but a snapshot S > c exists (the remote compacted
 *     history this device had not seen yet): merge snapshot S instead, keep
 *     every local change (merging is idempotent) and warn — the seed would
 *     have asked for clearAllData;
 *   - a missing cs-k with no snapshot to cover it (a listing that is not
 *     up to date yet): stop before it, warn, continue next sync.
 * Our own folder is pulled only when our own cursor is 0 (bootstrap
 * recovery after clearAllData). An error on one device is recorded and the
 * other devices still sync.
 *
 * Divided into: the folder plan; downloading; the per-device pass; bl__pull.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "format/changeset.h"
#include "sync/sync_internal.h"

/* ------------------------------------------------------------ folder plan */

typedef struct pull_plan {
  int64_t *cs;       /* sorted, unique changeset sequences */
  size_t ncs;
  int64_t *snaps;    /* sorted, unique snapshot sequences; 0 = found unusable */
  size_t nsnaps;
  int64_t unknown;   /* entries whose name is not understood */
  char first_unknown[128];
} pull_plan;

static int pull_cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int pull_make_plan(const bl_remote_entry *e, size_t n, pull_plan *p) {
  memset(p, 0, sizeof *p);
  p->cs = malloc((n ? n : 1) * sizeof *p->cs);
  p->snaps = malloc((n ? n : 1) * sizeof *p->snaps);
  if (!p->cs || !p->snaps) return BL_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    bl_cs_kind kind;
    int64_t seq;
    if (e[i].is_folder || !bl_cs_parse_name(e[i].name, &kind, &seq)) {
      if (p->unknown++ == 0) snprintf(p->first_unknown, sizeof p->first_unknown, "%s", e[i].name);
      continue;
    }
    if (kind == BL_CS_SNAPSHOT) {
      p->snaps[p->nsnaps++] = seq;
    } else {
      p->cs[p->ncs++] = seq;
    }
  }
  qsort(p->cs, p->ncs, sizeof *p->cs, pull_cmp_i64);
  /* Duplicate names (Google Drive allows them) count once. */
  size_t u = 0;
  for (size_t i = 0; i < p->ncs; i++)
    if (u == 0 || p->cs[u - 1] != p->cs[i]) p->cs[u++] = p->cs[i];
  p->ncs = u;
  qsort(p->snaps, p->nsnaps, sizeof *p->snaps, pull_cmp_i64);
  u = 0;
  for (size_t i = 0; i < p->nsnaps; i++)
    if (u == 0 || p->snaps[u - 1] != p->snaps[i]) p->snaps[u++] = p->snaps[i];
  p->nsnaps = u;
  return BL_OK;
}

/* The latest usable snapshot >= min, 0 when none. */
static int64_t pull_best_snapshot(const pull_plan *p, int64_t min) {
  for (size_t i = p->nsnaps; i-- > 0;)
    if (p->snaps[i] >= min && p->snaps[i] > 0) return p->snaps[i];
  return 0;
}

static void pull_drop_snapshot(pull_plan *p, int64_t seq) {
  for (size_t i = 0; i < p->nsnaps; i++)
    if (p->snaps[i] == seq) p->snaps[i] = 0;
}

/* ------------------------------------------------------------ downloading */

static int pull_sink(const void *data, size_t len, void *payload) {
  return fwrite(data, 1, len, (FILE *)payload) == len ? 0 : BL_EIO;
}

/* Downloads and applies one file. Returns the outcome. */
static bl_apply_outcome pull_file(bl_sync_ctx *ctx, const char *device, bl_cs_kind kind, int64_t seq) {
  char name[64], path[1024];
  if (bl_cs_format_name(name, sizeof name, kind, seq) != BL_OK ||
      bl__path_file(ctx->db, device, name, path, sizeof path) != BL_OK) {
    bl__ctx_error(ctx, device, BL_SYNC_BAD_NAME, BL_EMISUSE, "sequence %lld is out of range", (long long)seq);
    return BL_APPLY_FAILED;
  }
  FILE *fp = tmpfile();
  if (!fp) {
    bl__ctx_error(ctx, device, BL_SYNC_REMOTE, BL_EIO, "%s: cannot create a temporary file", name);
    return BL_APPLY_FAILED;
  }
  int rc = bl_remote_read(ctx->remote, path, pull_sink, fp);
  if (rc == BL_OK && fflush(fp) != 0) rc = BL_EIO;
  if (rc != BL_OK) {
    if (rc == BL_ENOTFOUND)
      bl__result_warn(ctx->res, device, BL_SYNC_GAP, "%s was listed but is gone; will retry next sync", name);
    else
      bl__ctx_error(ctx, device, BL_SYNC_REMOTE, rc, "cannot download %s: %s", name,
                    bl_remote_errmsg(ctx->remote));
    fclose(fp);
    return BL_APPLY_FAILED;
  }
  rewind(fp);
  bl__crash_point("pull-downloaded");
  bl_apply_outcome out = bl__apply_file(ctx, device, name, (int)kind, seq, fp);
  fclose(fp);
  return out;
}

/* -------------------------------------------------------- per-device pass */

void bl__pull_device(bl_sync_ctx *ctx, const char *device) {
  bl_db *db = ctx->db;
  int64_t cursor = 0;
  if (bl__cursor_get(db, device, &cursor) != BL_OK) {
    bl__ctx_error(ctx, device, BL_SYNC_APPLY, BL_ESQLITE, "cannot read the cursor: %s", bl_errmsg(db));
    return;
  }
  char path[1024];
  if (bl__path_device(db, device, path, sizeof path) != BL_OK) return;
  bl_remote_entry *entries = NULL;
  size_t n = 0;
  int rc = bl_remote_list(ctx->remote, path, &entries, &n);
  if (rc == BL_ENOTFOUND) return; /* our own folder before the first push */
  if (rc != BL_OK) {
    bl__ctx_error(ctx, device, BL_SYNC_REMOTE, rc, "cannot list the device folder: %s",
                  bl_remote_errmsg(ctx->remote));
    return;
  }
  pull_plan plan;
  rc = pull_make_plan(entries, n, &plan);
  bl_remote_entries_free(entries, n);
  if (rc != BL_OK) {
    free(plan.cs);
    free(plan.snaps);
    bl__ctx_error(ctx, device, BL_SYNC_APPLY, rc, "out of memory");
    return;
  }
  if (plan.unknown)
    bl__result_warn(ctx->res, device, BL_SYNC_BAD_NAME, "%lld entries with names that are not ours ignored (e.g. '%s')",
                    (long long)plan.unknown, plan.first_unknown);

  int64_t last = plan.ncs ? plan.cs[plan.ncs - 1] : 0;
  if (plan.nsnaps && plan.snaps[plan.nsnaps - 1] > last) last = plan.snaps[plan.nsnaps - 1];
  int own = strcmp(device, db->device_id) == 0;
  if (own) {
    /* Bootstrap: until the cursor reaches the highest sequence we know of
     * (listed now, or pushed before a sign-out), push must wait. */
    int64_t target = 0, seen = 0;
    bl__meta_get_int(db, BL_META_OWN_SEQUENCE, 0, &seen);
    int64_t want = last > seen ? last : seen;
    if (want > cursor && bl__meta_get_int(db, BL_META_RESTORE_TARGET, 0, &target) == BL_OK && target < want)
      bl__meta_set_int(db, BL_META_RESTORE_TARGET, want);
    if (last > seen) bl__meta_set_int(db, BL_META_OWN_SEQUENCE, last);
  }
  int64_t next = cursor + 1;
  size_t i = 0;
  while (i < plan.ncs && plan.cs[i] < next) i++;

  while (next <= last && !ctx->abort_all) {
    int have_cs = i < plan.ncs && plan.cs[i] == next;
    /* Start from the snapshot on a first sync, or when the history we need
     * was compacted away. */
    int64_t snap = (cursor == 0 || !have_cs) ? pull_best_snapshot(&plan, next) : 0;
    if (snap) {
      size_t errors = ctx->res->errors_count;
      int first_error = ctx->first_error;
      bl_apply_outcome out = pull_file(ctx, device, BL_CS_SNAPSHOT, snap);
      if (out == BL_APPLIED || out == BL_APPLY_DROPPED) {
        if (cursor > 0)
          bl__result_warn(ctx->res, device, BL_SYNC_COMPACTED,
                          "changesets after %lld were compacted on the remote; merged snapshot %lld instead "
                          "(local changes kept)",
                          (long long)cursor, (long long)snap);
        cursor = snap;
        next = cursor + 1;
        while (i < plan.ncs && plan.cs[i] < next) i++;
        continue;
      }
      /* An unreadable snapshot (a torn upload on a store without atomic
       * writes) is not the end when another way exists: an older snapshot,
       * or the changesets themselves. */
      int unreadable = out == BL_APPLY_FAILED && ctx->res->errors_count == errors + 1 &&
                       (ctx->res->errors[errors].code == BL_SYNC_CORRUPT ||
                        ctx->res->errors[errors].code == BL_SYNC_WRONG_DEVICE ||
                        ctx->res->errors[errors].code == BL_SYNC_WRONG_SEQUENCE);
      pull_drop_snapshot(&plan, snap);
      if (unreadable && (have_cs || pull_best_snapshot(&plan, next))) {
        bl__result_warn(ctx->res, device, BL_SYNC_CORRUPT, "%s; used %s instead", ctx->res->errors[errors].message,
                        have_cs ? "the changesets" : "an older snapshot");
        bl__result_truncate_errors(ctx->res, errors);
        ctx->first_error = first_error;
        continue;
      }
      break;
    }
    if (!have_cs) {
      bl__result_warn(ctx->res, device, BL_SYNC_GAP,
                      "cs-%05lld is missing (listing not up to date?); stopped before it", (long long)next);
      break;
    }
    bl_apply_outcome out = pull_file(ctx, device, BL_CS_CHANGESET, next);
    if (out != BL_APPLIED && out != BL_APPLY_DROPPED) break;
    cursor = next++;
    i++;
  }
  if (own) {
    int64_t target = 0;
    if (bl__meta_get_int(db, BL_META_RESTORE_TARGET, 0, &target) == BL_OK && target > 0 && cursor >= target)
      bl__meta_delete(db, BL_META_RESTORE_TARGET);
  }
  free(plan.snaps);
  free(plan.cs);
}

/* ------------------------------------------------------------------ pull */

static int pull_cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int bl__pull(bl_sync_ctx *ctx) {
  bl_db *db = ctx->db;
  char path[1024];
  if (bl__path_changesets(db, path, sizeof path) != BL_OK) return BL_EMISUSE;
  bl_remote_entry *entries = NULL;
  size_t n = 0;
  int rc = bl_remote_list(ctx->remote, path, &entries, &n);
  if (rc == BL_ENOTFOUND) return BL_OK; /* nobody has pushed yet */
  if (rc != BL_OK) {
    bl__ctx_error(ctx, NULL, BL_SYNC_REMOTE, rc, "cannot list '%s': %s", path, bl_remote_errmsg(ctx->remote));
    return rc;
  }
  int64_t own_cursor = 0, restore_target = 0;
  rc = bl__cursor_get(db, db->device_id, &own_cursor);
  if (rc == BL_OK) rc = bl__meta_get_int(db, BL_META_RESTORE_TARGET, 0, &restore_target);
  int64_t own_seen = 0;
  if (rc == BL_OK) rc = bl__meta_get_int(db, BL_META_OWN_SEQUENCE, 0, &own_seen);
  if (own_seen > restore_target) restore_target = own_seen;
  if (rc != BL_OK) {
    bl_remote_entries_free(entries, n);
    bl__ctx_error(ctx, NULL, BL_SYNC_APPLY, rc, "cannot read the cursor: %s", bl_errmsg(db));
    return rc;
  }
  /* Devices in a stable order (the listing's order is the backend's). */
  char **devices = calloc(n ? n : 1, sizeof *devices);
  size_t ndev = 0;
  if (!devices) {
    bl_remote_entries_free(entries, n);
    return BL_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    char uuid[37];
    if (!entries[i].is_folder) continue;
    if (!bl_cs_parse_device_folder(entries[i].name, uuid)) {
      bl__result_warn(ctx->res, NULL, BL_SYNC_BAD_NAME, "folder '%s' in %s is not device-<uuid>; ignored",
                      entries[i].name, path);
      continue;
    }
    int dup = 0;
    for (size_t j = 0; j < ndev; j++) dup |= strcmp(devices[j], uuid) == 0;
    if (dup) continue;
    devices[ndev] = malloc(37);
    if (!devices[ndev]) break;
    memcpy(devices[ndev++], uuid, 37);
  }
  bl_remote_entries_free(entries, n);
  qsort(devices, ndev, sizeof *devices, pull_cmp_str);

  for (size_t i = 0; i < ndev && !ctx->abort_all; i++) {
    /* Our own folder only for a bootstrap (cursor 0) or to finish one. */
    if (strcmp(devices[i], db->device_id) == 0 && own_cursor != 0 && restore_target <= own_cursor) continue;
    bl__pull_device(ctx, devices[i]);
  }
  for (size_t i = 0; i < ndev; i++) free(devices[i]);
  free(devices);
  return BL_OK;
}
