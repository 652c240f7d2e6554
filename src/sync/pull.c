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
 * Few round trips: the device folders to visit come from the remote's
 * change feed when it has one (bl_remote_changes_since with the token of
 * the last complete pull), so an idle pull costs one request however many
 * devices there are; without a feed, on a first pull, after anything left
 * a device unfinished, and at least hourly, every folder is listed.
 * Downloads run in batches through bl_remote_read_many (in parallel on
 * the HTTP backends): the files a device's plan will need, then the next
 * devices', up to PULL_WINDOW files, land in temporary files before they
 * are applied one transaction each, in order.
 *
 * Divided into: the folder plan; downloading (the prefetch window); the
 * per-device pass; choosing the devices; bl__pull.
 */
#define PULL_WINDOW 64
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* One device of this pull: its cursor when the pass began and its plan. */
typedef struct pull_dev {
  char id[37];
  int listed;    /* its folder was listed and planned */
  int64_t cursor;
  pull_plan plan;
} pull_dev;

/* A file downloaded ahead of its turn. */
typedef struct pull_fetched {
  size_t dev;   /* index in pull_state.devs */
  bl_cs_kind kind;
  int64_t seq;
  FILE *fp;     /* the bytes, or NULL when the download failed */
  int rc;
  char errmsg[256];
} pull_fetched;

typedef struct pull_state {
  pull_dev *devs;
  size_t ndev;
  pull_fetched *fetched;
  size_t nfetched;
} pull_state;

static void pull_state_free(pull_state *st) {
  for (size_t i = 0; i < st->nfetched; i++)
    if (st->fetched[i].fp) fclose(st->fetched[i].fp);
  free(st->fetched);
  for (size_t i = 0; i < st->ndev; i++) {
    free(st->devs[i].plan.cs);
    free(st->devs[i].plan.snaps);
  }
  free(st->devs);
  memset(st, 0, sizeof *st);
}

static int pull_sink(const void *data, size_t len, void *payload) {
  return fwrite(data, 1, len, (FILE *)payload) == len ? 0 : BL_EIO;
}

/* What the apply loop of a device will ask for, from (cursor, next) on, as
 * long as every file applies: a snapshot where the loop takes one, then
 * consecutive changesets. Appends at most `max` (kind, seq) to want. */
typedef struct pull_want {
  size_t dev;
  bl_cs_kind kind;
  int64_t seq;
} pull_want;

static size_t pull_simulate(const pull_plan *p, size_t dev, int64_t cursor, int64_t next, pull_want *want, size_t max) {
  int64_t last = p->ncs ? p->cs[p->ncs - 1] : 0;
  if (p->nsnaps && p->snaps[p->nsnaps - 1] > last) last = p->snaps[p->nsnaps - 1];
  size_t n = 0, i = 0;
  while (i < p->ncs && p->cs[i] < next) i++;
  while (next <= last && n < max) {
    int have_cs = i < p->ncs && p->cs[i] == next;
    int64_t snap = (cursor == 0 || !have_cs) ? pull_best_snapshot(p, next) : 0;
    if (snap) {
      want[n++] = (pull_want){dev, BL_CS_SNAPSHOT, snap};
      cursor = snap;
      next = snap + 1;
      while (i < p->ncs && p->cs[i] < next) i++;
      continue;
    }
    if (!have_cs) break;
    want[n++] = (pull_want){dev, BL_CS_CHANGESET, next};
    cursor = next++;
    i++;
  }
  return n;
}

static pull_fetched *pull_lookup(pull_state *st, size_t dev, bl_cs_kind kind, int64_t seq) {
  for (size_t i = 0; i < st->nfetched; i++)
    if (st->fetched[i].dev == dev && st->fetched[i].kind == kind && st->fetched[i].seq == seq)
      return &st->fetched[i];
  return NULL;
}

/*
 * Downloads the window starting at device `dev` (its loop at cursor/next):
 * that device's next files, then the following devices' first files, up to
 * PULL_WINDOW in all, in one bl_remote_read_many. Failures are kept per file
 * and reported when the apply loop reaches that file.
 */
static int pull_fetch_window(bl_sync_ctx *ctx, pull_state *st, size_t dev, int64_t cursor, int64_t next) {
  pull_want want[PULL_WINDOW];
  size_t n = pull_simulate(&st->devs[dev].plan, dev, cursor, next, want, PULL_WINDOW);
  for (size_t d = dev + 1; d < st->ndev && n < PULL_WINDOW; d++)
    if (st->devs[d].listed)
      n += pull_simulate(&st->devs[d].plan, d, st->devs[d].cursor, st->devs[d].cursor + 1, want + n, PULL_WINDOW - n);
  /* Only what is not here yet. */
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (!pull_lookup(st, want[i].dev, want[i].kind, want[i].seq)) want[m++] = want[i];
  if (m == 0) return BL_OK;

  bl_remote_read_job *jobs = calloc(m, sizeof *jobs);
  char (*paths)[1024] = calloc(m, sizeof *paths);
  pull_fetched *grown = realloc(st->fetched, (st->nfetched + m) * sizeof *grown);
  if (!jobs || !paths || !grown) {
    free(jobs);
    free(paths);
    if (grown) st->fetched = grown;
    return BL_ENOMEM;
  }
  st->fetched = grown;
  size_t k = 0;
  for (size_t i = 0; i < m; i++) {
    char name[64];
    if (bl_cs_format_name(name, sizeof name, want[i].kind, want[i].seq) != BL_OK ||
        bl__path_file(ctx->db, st->devs[want[i].dev].id, name, paths[k], sizeof paths[k]) != BL_OK)
      continue; /* left to the single read, which reports it */
    FILE *fp = tmpfile();
    if (!fp) break;
    pull_fetched *f = &st->fetched[st->nfetched + k];
    memset(f, 0, sizeof *f);
    f->dev = want[i].dev;
    f->kind = want[i].kind;
    f->seq = want[i].seq;
    f->fp = fp;
    jobs[k] = (bl_remote_read_job){paths[k], pull_sink, fp, 0, ""};
    k++;
  }
  bl_remote_read_many(ctx->remote, jobs, k);
  for (size_t i = 0; i < k; i++) {
    pull_fetched *f = &st->fetched[st->nfetched + i];
    f->rc = jobs[i].rc;
    if (f->rc == BL_OK && fflush(f->fp) != 0) f->rc = BL_EIO;
    if (f->rc != BL_OK) {
      snprintf(f->errmsg, sizeof f->errmsg, "%s", jobs[i].errmsg);
      fclose(f->fp);
      f->fp = NULL;
    }
  }
  st->nfetched += k;
  free(jobs);
  free(paths);
  return BL_OK;
}

/* Takes file (kind, seq) of device `dev` out of the window (fetching the
 * window first when it is not there). Returns the open file positioned at
 * its start, or NULL with *rc and msg set. */
static FILE *pull_take(bl_sync_ctx *ctx, pull_state *st, size_t dev, bl_cs_kind kind, int64_t seq, int64_t cursor,
                       int *rc, char *msg, size_t cap) {
  pull_fetched *f = pull_lookup(st, dev, kind, seq);
  if (!f) {
    int frc = pull_fetch_window(ctx, st, dev, cursor, seq);
    if (frc != BL_OK) {
      *rc = frc;
      snprintf(msg, cap, "%s", bl_strerror(frc));
      return NULL;
    }
    f = pull_lookup(st, dev, kind, seq);
  }
  if (!f) {
    /* Not in the plan's path (a fallback the simulation did not take):
     * read it alone. */
    char name[64], path[1024];
    *rc = BL_EMISUSE;
    snprintf(msg, cap, "sequence %lld is out of range", (long long)seq);
    if (bl_cs_format_name(name, sizeof name, kind, seq) != BL_OK ||
        bl__path_file(ctx->db, st->devs[dev].id, name, path, sizeof path) != BL_OK)
      return NULL;
    FILE *fp = tmpfile();
    if (!fp) {
      *rc = BL_EIO;
      snprintf(msg, cap, "cannot create a temporary file");
      return NULL;
    }
    *rc = bl_remote_read(ctx->remote, path, pull_sink, fp);
    if (*rc == BL_OK && fflush(fp) != 0) *rc = BL_EIO;
    if (*rc != BL_OK) {
      snprintf(msg, cap, "%s", bl_remote_errmsg(ctx->remote));
      fclose(fp);
      return NULL;
    }
    rewind(fp);
    return fp;
  }
  FILE *fp = f->fp;
  *rc = f->rc;
  snprintf(msg, cap, "%s", f->errmsg);
  /* Taken: the slot is reused by nobody (lookups match on the triple),
   * and it must not be tried again. */
  f->fp = NULL;
  f->seq = -1;
  if (fp) rewind(fp);
  return fp;
}

/* Downloads (from the window) and applies one file. Returns the outcome. */
static bl_apply_outcome pull_file(bl_sync_ctx *ctx, pull_state *st, size_t dev, bl_cs_kind kind, int64_t seq,
                                  int64_t cursor) {
  const char *device = st->devs[dev].id;
  char name[64];
  if (bl_cs_format_name(name, sizeof name, kind, seq) != BL_OK) {
    bl__ctx_error(ctx, device, BL_SYNC_BAD_NAME, BL_EMISUSE, "sequence %lld is out of range", (long long)seq);
    return BL_APPLY_FAILED;
  }
  int rc = BL_OK;
  char msg[256] = "";
  FILE *fp = pull_take(ctx, st, dev, kind, seq, cursor, &rc, msg, sizeof msg);
  if (!fp) {
    if (rc == BL_ENOTFOUND)
      bl__result_warn(ctx->res, device, BL_SYNC_GAP, "%s was listed but is gone; will retry next sync", name);
    else if (rc == BL_EMISUSE)
      bl__ctx_error(ctx, device, BL_SYNC_BAD_NAME, rc, "%s", msg);
    else if (rc == BL_ECORRUPT) /* e.g. two copies of one name that differ (Drive) */
      bl__ctx_error(ctx, device, BL_SYNC_CORRUPT, rc, "cannot download %s: %s", name, msg);
    else
      bl__ctx_error(ctx, device, BL_SYNC_REMOTE, rc, "cannot download %s: %s", name, msg);
    return BL_APPLY_FAILED;
  }
  bl__crash_point("pull-downloaded");
  if (ctx->db->envelope) {
    /* Decrypted and decompressed whole before anything of it is applied:
     * a file that fails authentication anywhere is refused entirely. */
    char id[1024], err[256] = "";
    int urc = BL_OK;
    FILE *plain = NULL;
    if (bl__settings_identity(device, name, id, sizeof id) == BL_OK)
      plain = bl__settings_unwrap_file(ctx->db, fp, id, &urc, err, sizeof err);
    fclose(fp);
    if (!plain) {
      bl__ctx_error(ctx, device, urc == BL_EIO || urc == BL_ENOMEM ? BL_SYNC_APPLY : BL_SYNC_CORRUPT,
                    urc == BL_OK ? BL_EMISUSE : urc, "%s: %s; nothing of it was applied", name,
                    err[0] ? err : "cannot be opened");
      return BL_APPLY_FAILED;
    }
    fp = plain;
  }
  bl_apply_outcome out = bl__apply_file(ctx, device, name, (int)kind, seq, fp);
  fclose(fp);
  return out;
}

/* -------------------------------------------------------- per-device pass */

/* Lists device `dev`'s folder and plans it. A missing folder (our own
 * before the first push) is not an error: nothing to do. */
static void pull_list_device(bl_sync_ctx *ctx, pull_state *st, size_t dev) {
  bl_db *db = ctx->db;
  pull_dev *d = &st->devs[dev];
  if (bl__cursor_get(db, d->id, &d->cursor) != BL_OK) {
    bl__ctx_error(ctx, d->id, BL_SYNC_APPLY, BL_ESQLITE, "cannot read the cursor: %s", bl_errmsg(db));
    return;
  }
  char path[1024];
  if (bl__path_device(db, d->id, path, sizeof path) != BL_OK) return;
  bl_remote_entry *entries = NULL;
  size_t n = 0;
  int rc = bl_remote_list(ctx->remote, path, &entries, &n);
  if (rc == BL_ENOTFOUND) return;
  if (rc != BL_OK) {
    bl__ctx_error(ctx, d->id, BL_SYNC_REMOTE, rc, "cannot list the device folder: %s", bl_remote_errmsg(ctx->remote));
    return;
  }
  rc = pull_make_plan(entries, n, &d->plan);
  bl_remote_entries_free(entries, n);
  if (rc != BL_OK) {
    bl__ctx_error(ctx, d->id, BL_SYNC_APPLY, rc, "out of memory");
    return;
  }
  if (d->plan.unknown)
    bl__result_warn(ctx->res, d->id, BL_SYNC_BAD_NAME, "%lld entries with names that are not ours ignored (e.g. '%s')",
                    (long long)d->plan.unknown, d->plan.first_unknown);
  d->listed = 1;
}

/* Applies device `dev`'s plan in sequence order (see the top of the file). */
static void pull_apply_device(bl_sync_ctx *ctx, pull_state *st, size_t dev) {
  bl_db *db = ctx->db;
  pull_dev *d = &st->devs[dev];
  const char *device = d->id;
  pull_plan *plan = &d->plan;
  int64_t cursor = d->cursor;

  int64_t last = plan->ncs ? plan->cs[plan->ncs - 1] : 0;
  if (plan->nsnaps && plan->snaps[plan->nsnaps - 1] > last) last = plan->snaps[plan->nsnaps - 1];
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
  while (i < plan->ncs && plan->cs[i] < next) i++;

  while (next <= last && !ctx->abort_all) {
    int have_cs = i < plan->ncs && plan->cs[i] == next;
    /* Start from the snapshot on a first sync, or when the history we need
     * was compacted away. */
    int64_t snap = (cursor == 0 || !have_cs) ? pull_best_snapshot(plan, next) : 0;
    if (snap) {
      size_t errors = ctx->res->errors_count;
      int first_error = ctx->first_error;
      bl_apply_outcome out = pull_file(ctx, st, dev, BL_CS_SNAPSHOT, snap, cursor);
      if (out == BL_APPLIED || out == BL_APPLY_DROPPED) {
        if (cursor > 0)
          bl__result_warn(ctx->res, device, BL_SYNC_COMPACTED,
                          "changesets after %lld were compacted on the remote; merged snapshot %lld instead "
                          "(local changes kept)",
                          (long long)cursor, (long long)snap);
        cursor = snap;
        next = cursor + 1;
        while (i < plan->ncs && plan->cs[i] < next) i++;
        continue;
      }
      /* An unreadable snapshot (a torn upload on a store without atomic
       * writes) is not the end when another way exists: an older snapshot,
       * or the changesets themselves. */
      int unreadable = out == BL_APPLY_FAILED && ctx->res->errors_count == errors + 1 &&
                       (ctx->res->errors[errors].code == BL_SYNC_CORRUPT ||
                        ctx->res->errors[errors].code == BL_SYNC_WRONG_DEVICE ||
                        ctx->res->errors[errors].code == BL_SYNC_WRONG_SEQUENCE);
      pull_drop_snapshot(plan, snap);
      if (unreadable && (have_cs || pull_best_snapshot(plan, next))) {
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
    bl_apply_outcome out = pull_file(ctx, st, dev, BL_CS_CHANGESET, next, cursor);
    if (out != BL_APPLIED && out != BL_APPLY_DROPPED) break;
    cursor = next++;
    i++;
  }
  if (own) {
    int64_t target = 0;
    if (bl__meta_get_int(db, BL_META_RESTORE_TARGET, 0, &target) == BL_OK && target > 0 && cursor >= target)
      bl__meta_delete(db, BL_META_RESTORE_TARGET);
  }
  /* Its prefetched files that were not used (the loop stopped early). */
  for (size_t k = 0; k < st->nfetched; k++)
    if (st->fetched[k].dev == dev && st->fetched[k].fp) {
      fclose(st->fetched[k].fp);
      st->fetched[k].fp = NULL;
      st->fetched[k].seq = -1;
    }
}

/* Lists, then applies, each device of `ids` in that order. */
static void pull_devices(bl_sync_ctx *ctx, char **ids, size_t n) {
  pull_state st;
  memset(&st, 0, sizeof st);
  st.devs = calloc(n ? n : 1, sizeof *st.devs);
  if (!st.devs) {
    bl__ctx_error(ctx, NULL, BL_SYNC_APPLY, BL_ENOMEM, "out of memory");
    return;
  }
  st.ndev = n;
  for (size_t i = 0; i < n; i++) memcpy(st.devs[i].id, ids[i], 37);
  for (size_t i = 0; i < n && !ctx->abort_all; i++) pull_list_device(ctx, &st, i);
  for (size_t i = 0; i < n && !ctx->abort_all; i++)
    if (st.devs[i].listed) pull_apply_device(ctx, &st, i);
  pull_state_free(&st);
}

void bl__pull_device(bl_sync_ctx *ctx, const char *device) {
  char id[37];
  snprintf(id, sizeof id, "%s", device);
  char *ids[1] = {id};
  pull_devices(ctx, ids, 1);
}

/* -------------------------------------------------------- choosing devices */

static int pull_cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A set of device ids, sorted and unique at the end. */
typedef struct pull_ids {
  char **ids;
  size_t n, cap;
} pull_ids;

static int pull_ids_add(pull_ids *s, const char *uuid) {
  for (size_t j = 0; j < s->n; j++)
    if (strcmp(s->ids[j], uuid) == 0) return BL_OK;
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 16;
    char **grown = realloc(s->ids, cap * sizeof *grown);
    if (!grown) return BL_ENOMEM;
    s->ids = grown;
    s->cap = cap;
  }
  s->ids[s->n] = malloc(37);
  if (!s->ids[s->n]) return BL_ENOMEM;
  memcpy(s->ids[s->n++], uuid, 37);
  return BL_OK;
}

static void pull_ids_free(pull_ids *s) {
  for (size_t i = 0; i < s->n; i++) free(s->ids[i]);
  free(s->ids);
  memset(s, 0, sizeof *s);
}

/* Every device folder of the changesets folder `path`. Returns BL_OK (also
 * when nobody has pushed yet) or the listing's error (recorded). */
static int pull_list_all(bl_sync_ctx *ctx, const char *path, pull_ids *out) {
  bl_remote_entry *entries = NULL;
  size_t n = 0;
  int rc = bl_remote_list(ctx->remote, path, &entries, &n);
  if (rc == BL_ENOTFOUND) return BL_OK; /* nobody has pushed yet */
  if (rc != BL_OK) {
    bl__ctx_error(ctx, NULL, BL_SYNC_REMOTE, rc, "cannot list '%s': %s", path, bl_remote_errmsg(ctx->remote));
    return rc;
  }
  for (size_t i = 0; i < n && rc == BL_OK; i++) {
    char uuid[37];
    if (!entries[i].is_folder) continue;
    if (!bl_cs_parse_device_folder(entries[i].name, uuid)) {
      bl__result_warn(ctx->res, NULL, BL_SYNC_BAD_NAME, "folder '%s' in %s is not device-<uuid>; ignored",
                      entries[i].name, path);
      continue;
    }
    rc = pull_ids_add(out, uuid);
  }
  bl_remote_entries_free(entries, n);
  return rc;
}

/* The device folders the change feed names below the changesets folder
 * `path` ("<path>/device-<uuid>"); anything else it names is not a device
 * folder with new files (a new folder's files name the folder itself). */
static int pull_changed_devices(const bl_remote_changes *ch, const char *path, pull_ids *out) {
  size_t plen = strlen(path);
  for (size_t i = 0; i < ch->nfolders; i++) {
    const char *f = ch->folders[i];
    char uuid[37];
    if (strncmp(f, path, plen) != 0 || f[plen] != '/' || strchr(f + plen + 1, '/')) continue;
    if (!bl_cs_parse_device_folder(f + plen + 1, uuid)) continue;
    int rc = pull_ids_add(out, uuid);
    if (rc != BL_OK) return rc;
  }
  return BL_OK;
}

/* ------------------------------------------------------------------ pull */

/* Whether this pull left nothing for later: only then may the change
 * feed's new token be kept (else the same changes must be seen again). */
static int pull_complete(const bl_sync_ctx *ctx, size_t errors, size_t warnings) {
  if (ctx->res->errors_count > errors || ctx->abort_all) return 0;
  for (size_t i = warnings; i < ctx->res->warnings_count; i++) {
    int code = ctx->res->warnings[i].code;
    if (code == BL_SYNC_GAP || code == BL_SYNC_REMOTE || code == BL_SYNC_SCHEMA_NEWER) return 0;
  }
  return 1;
}

int bl__pull(bl_sync_ctx *ctx) {
  bl_db *db = ctx->db;
  char path[1024];
  if (bl__path_changesets(db, path, sizeof path) != BL_OK) return BL_EMISUSE;
  size_t errors = ctx->res->errors_count, warnings = ctx->res->warnings_count;

  int64_t own_cursor = 0, restore_target = 0, own_seen = 0, last_full = 0;
  int rc = bl__cursor_get(db, db->device_id, &own_cursor);
  if (rc == BL_OK) rc = bl__meta_get_int(db, BL_META_RESTORE_TARGET, 0, &restore_target);
  if (rc == BL_OK) rc = bl__meta_get_int(db, BL_META_OWN_SEQUENCE, 0, &own_seen);
  if (rc == BL_OK) rc = bl__meta_get_int(db, BL_META_LAST_FULL_LISTING, 0, &last_full);
  if (own_seen > restore_target) restore_target = own_seen;
  char *since = NULL;
  if (rc == BL_OK) {
    rc = bl__meta_get(db, BL_META_CHANGES_TOKEN, &since);
    if (rc == BL_ENOTFOUND) rc = BL_OK;
  }
  if (rc != BL_OK) {
    free(since);
    bl__ctx_error(ctx, NULL, BL_SYNC_APPLY, rc, "cannot read the cursor: %s", bl_errmsg(db));
    return rc;
  }

  /* The feed first: its new token is taken before anything is listed, so
   * what changes meanwhile is reported again next time. A feed that fails
   * costs nothing but the full listing. */
  bl_remote_changes ch;
  if (bl_remote_changes_since(ctx->remote, path, since, &ch) != BL_OK) {
    bl_remote_changes_clear(&ch);
    ch.all = 1;
  }
  free(since);
  time_t now = time(NULL);
  int full = ch.all || restore_target > own_cursor ||
             (int64_t)now - last_full >= BL_FULL_LISTING_INTERVAL || (int64_t)now < last_full;

  pull_ids ids = {NULL, 0, 0};
  rc = full ? pull_list_all(ctx, path, &ids) : pull_changed_devices(&ch, path, &ids);
  if (rc == BL_ENOMEM) bl__ctx_error(ctx, NULL, BL_SYNC_APPLY, rc, "out of memory");
  if (rc != BL_OK) {
    pull_ids_free(&ids);
    bl_remote_changes_clear(&ch);
    return rc;
  }
  /* Devices in a stable order (the listing's order is the backend's);
   * our own folder only for a bootstrap (cursor 0) or to finish one. */
  if (ids.n) qsort(ids.ids, ids.n, sizeof *ids.ids, pull_cmp_str);
  size_t keep = 0;
  for (size_t i = 0; i < ids.n; i++) {
    if (strcmp(ids.ids[i], db->device_id) == 0 && own_cursor != 0 && restore_target <= own_cursor) {
      free(ids.ids[i]);
      continue;
    }
    ids.ids[keep++] = ids.ids[i];
  }
  ids.n = keep;
  pull_devices(ctx, ids.ids, ids.n);
  pull_ids_free(&ids);

  ctx->pull_complete = pull_complete(ctx, errors, warnings);
  if (ctx->pull_complete) {
    if (ch.token) bl__meta_set(db, BL_META_CHANGES_TOKEN, ch.token);
    if (full) bl__meta_set_int(db, BL_META_LAST_FULL_LISTING, (int64_t)now);
  }
  bl_remote_changes_clear(&ch);
  return BL_OK;
}
