/*
 * gc.c — the pass after the changeset push: which attachments the database
 * refers to now, the uploader's check of files it did not upload itself,
 * collection of cloud files nobody needs, and pruning of the cache. The
 * rule and why it is safe: docs/FORMAT.md, "Media garbage collection".
 *
 * In order:
 *   1. references: the schema's all_hashes into a temporary table; a hash
 *      referenced again cancels its condemnation;
 *   2. checks (verify): a hash this device newly references — added to the
 *      cache by the application, marked uploaded because its file was
 *      already in the cloud, or referenced again after it was not — is
 *      looked for again at every pass until every other device pushed
 *      `grace` times after its reference was in the cloud; if the file is
 *      gone, it is uploaded again from the cache;
 *   3. collection: a hash condemned at an EARLIER pass, still unreferenced,
 *      whose anchor every other device has passed by `grace` pushes, is
 *      deleted from the cloud;
 *   4. condemnation: a hash seen referenced and now unreferenced gets the
 *      current anchor;
 *   5. pruning: cache entries this database put there, of hashes it saw
 *      referenced and no longer references, are deleted.
 * Steps 2-4 need a pull that left nothing behind (else the database may not
 * know a reference that is already in the cloud); 1 and 5 always run.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backless/remote.h"
#include "format/envelope.h"
#include "media/media_internal.h"
#include "sync/sync_internal.h"

/* An anchored check looks again at least this often even when no other
 * device pushed. */
#define VERIFY_RECHECK_SECONDS 3600

typedef struct gc_row {
  char hash[BL_MEDIA_HASH_LEN + 1];
  char *text; /* the anchor or verify state */
  int cached;
} gc_row;

typedef struct gc_rows {
  gc_row *v;
  size_t n;
} gc_rows;

static void gc_rows_free(gc_rows *r) {
  for (size_t i = 0; i < r->n; i++) free(r->v[i].text);
  free(r->v);
  r->v = NULL;
  r->n = 0;
}

static int gc_fail(bl_sync_ctx *ctx, const char *what) {
  int code = bl__from_sqlite(sqlite3_errcode(ctx->db->db));
  if (code == BL_OK) code = BL_ESQLITE;
  bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, code, "media %s: %s", what, sqlite3_errmsg(ctx->db->db));
  return code;
}

/* Loads (hash, text column, cached) of a query into *out. */
static int gc_load(bl_sync_ctx *ctx, const char *sql, gc_rows *out) {
  out->v = NULL;
  out->n = 0;
  size_t cap = 0;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(ctx->db->db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return gc_fail(ctx, "state");
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *h = (const char *)sqlite3_column_text(st, 0);
    const char *t = (const char *)sqlite3_column_text(st, 1);
    if (!bl__media_hash_valid(h)) continue;
    if (out->n == cap) {
      cap = cap ? cap * 2 : 16;
      gc_row *v = realloc(out->v, cap * sizeof *v);
      if (!v) goto nomem;
      out->v = v;
    }
    gc_row *r = &out->v[out->n];
    memcpy(r->hash, h, sizeof r->hash);
    r->text = strdup(t ? t : "");
    r->cached = sqlite3_column_int(st, 2);
    if (!r->text) goto nomem;
    out->n++;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    gc_rows_free(out);
    return gc_fail(ctx, "state");
  }
  return BL_OK;
nomem:
  sqlite3_finalize(st);
  gc_rows_free(out);
  bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, BL_ENOMEM, "out of memory");
  return BL_ENOMEM;
}

/* Runs one statement with up to three text parameters. */
static int gc_run3(bl_sync_ctx *ctx, const char *sql, const char *a, const char *b, const char *c) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(ctx->db->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    if (c) sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? BL_OK : gc_fail(ctx, "state");
}

static int gc_run(bl_sync_ctx *ctx, const char *sql, const char *a, const char *b) {
  return gc_run3(ctx, sql, a, b, NULL);
}

/* ------------------------------------------------------------ references */

typedef struct gc_ref_ctx {
  sqlite3_stmt *ins;
  int failed;
} gc_ref_ctx;

static int gc_ref_emit(const char *hash, void *vctx) {
  gc_ref_ctx *c = vctx;
  if (!bl__media_hash_valid(hash)) return 0; /* not a hash: no cloud file can bear its name */
  sqlite3_bind_text(c->ins, 1, hash, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(c->ins);
  sqlite3_reset(c->ins);
  if (rc != SQLITE_DONE) {
    c->failed = 1;
    return 1;
  }
  return 0;
}

/* Step 1. */
static int gc_references(bl_sync_ctx *ctx) {
  bl_db *db = ctx->db;
  const bl_media_schema *ms = db->media;
  int rc = bl__exec(db,
                    "CREATE TEMP TABLE IF NOT EXISTS _bl_media_ref (hash TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;"
                    "DELETE FROM temp._bl_media_ref");
  if (rc != BL_OK) return gc_fail(ctx, "references");
  gc_ref_ctx c = {NULL, 0};
  if (sqlite3_prepare_v2(db->db, "INSERT OR IGNORE INTO temp._bl_media_ref (hash) VALUES (?)", -1, &c.ins, NULL) !=
      SQLITE_OK)
    return gc_fail(ctx, "references");
  rc = ms->all_hashes(db->db, gc_ref_emit, &c, ms->payload);
  sqlite3_finalize(c.ins);
  if (rc != 0 || c.failed) {
    /* Without the full set nothing may be condemned or pruned. */
    bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, BL_ESCHEMA,
                  "media schema all_hashes failed: %s; no attachment was collected or pruned", sqlite3_errmsg(db->db));
    return BL_ESCHEMA;
  }
  /* A hash referenced again after this device saw it unreferenced is a new
   * reference: check its cloud file like an attachment added here. */
  rc = gc_run(ctx,
              "UPDATE _bl_media SET verify = coalesce(verify, 'P') WHERE seen = 1 AND referenced = 0"
              " AND hash IN (SELECT hash FROM temp._bl_media_ref)",
              NULL, NULL);
  if (rc != BL_OK) return rc;
  return gc_run(ctx,
                "INSERT INTO _bl_media (hash, referenced, seen) SELECT hash, 1, 1 FROM temp._bl_media_ref WHERE 1"
                " ON CONFLICT (hash) DO UPDATE SET referenced = 1, seen = 1, condemned = NULL",
                NULL, NULL);
}

/* ---------------------------------------------------------------- checks */

/* The size of hash's cache entry, -1 when there is none. */
static int64_t gc_cache_size(bl_db *db, const char *hash) {
  char *p = bl__media_cache_path(db, hash);
  struct stat sb;
  int64_t size = p && stat(p, &sb) == 0 ? (int64_t)sb.st_size : -1;
  free(p);
  return size;
}

/* Step 2: the uploader's own check of the hashes it newly references
 * (docs/FORMAT.md, rule 3). Every row with a verify state is looked for in
 * the cloud and uploaded again from the cache when gone. A row anchored
 * ('A' set by an EARLIER sync) gets this sync's anchor: this sync's pull
 * began after the push that carried the reference. 'P' becomes 'A' only
 * after the others, once this sync's push succeeded. */
static void gc_verify(bl_sync_ctx *ctx, bl__media_shards **shards, int push_ok) {
  bl_db *db = ctx->db;
  gc_rows rows;
  if (gc_run(ctx,
             "UPDATE _bl_media SET verify = NULL WHERE verify IS NOT NULL"
             " AND hash NOT IN (SELECT hash FROM temp._bl_media_ref)",
             NULL, NULL) != BL_OK)
    return;
  char *cursors = NULL;
  if (bl__media_anchor_now(db, &cursors) != BL_OK) return;
  /* Rows to look at now: new ones ('P', 'A'), and anchored ones whose
   * situation may have changed — another device pushed since the last
   * look (its collection may have run), or an hour passed (a device that
   * collects without pushing). An idle sync thus costs no request here. */
  char since[32];
  snprintf(since, sizeof since, "%lld", (long long)time(NULL) - VERIFY_RECHECK_SECONDS);
  sqlite3_stmt *q = NULL;
  /* Hashes the upload pass left unuploaded are retried by it next sync. */
  if (bl__exec(db, "CREATE TEMP TABLE IF NOT EXISTS _bl_media_unmarked (hash TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID") !=
      BL_OK) {
    free(cursors);
    return;
  }
  if (gc_load(ctx,
              "SELECT hash, verify, cached FROM _bl_media WHERE verify IS NOT NULL"
              " AND hash NOT IN (SELECT hash FROM temp._bl_media_unmarked)",
              &rows) != BL_OK) {
    free(cursors);
    return;
  }
  if (sqlite3_prepare_v2(db->db,
                         "SELECT 1 FROM _bl_media WHERE hash = ?1 AND checked_cursors IS ?2"
                         " AND checked_at > CAST(?3 AS INTEGER)",
                         -1, &q, NULL) != SQLITE_OK) {
    gc_fail(ctx, "state");
    gc_rows_free(&rows);
    free(cursors);
    return;
  }
  for (size_t i = 0; i < rows.n; i++) {
    gc_row *r = &rows.v[i];
    if (strcmp(r->text, "A") == 0) {
      int rc = gc_run(ctx, "UPDATE _bl_media SET verify = ?2 WHERE hash = ?1", r->hash, cursors);
      free(r->text);
      r->text = strdup(cursors);
      if (rc != BL_OK || !r->text) break;
    } else if (strcmp(r->text, "P") != 0) {
      sqlite3_bind_text(q, 1, r->hash, -1, SQLITE_STATIC);
      sqlite3_bind_text(q, 2, cursors, -1, SQLITE_STATIC);
      sqlite3_bind_text(q, 3, since, -1, SQLITE_STATIC);
      int unchanged = sqlite3_step(q) == SQLITE_ROW;
      sqlite3_reset(q);
      if (unchanged) continue;
    }
    char now_text[32];
    snprintf(now_text, sizeof now_text, "%lld", (long long)time(NULL));
    if (gc_run3(ctx, "UPDATE _bl_media SET checked_at = CAST(?2 AS INTEGER), checked_cursors = ?3 WHERE hash = ?1",
                r->hash, now_text, cursors) != BL_OK)
      break;
    int present = 0;
    int64_t size = -1;
    int rc = bl__media_cloud_lookup(ctx, shards, r->hash, &present, &size);
    if (rc != BL_OK) {
      bl__result_warn(ctx->res, NULL, BL_SYNC_MEDIA, "cannot check that attachment %s is still in the cloud: %s",
                      r->hash, rc == BL_ENOMEM ? "out of memory" : bl_remote_errmsg(ctx->remote));
      continue;
    }
    if (present && size >= 0 && gc_cache_size(db, r->hash) >= 0 &&
        bl__media_cloud_bytes(db, gc_cache_size(db, r->hash)) != size)
      present = 0; /* a torn upload (a store without atomic writes): put the whole file back */
    if (!present) {
      char err[512];
      rc = bl__media_upload_one(ctx, *shards, r->hash, err, sizeof err);
      if (rc == BL_OK) {
        ctx->res->media_uploaded++;
        bl__result_warn(ctx->res, NULL, BL_SYNC_MEDIA,
                        "attachment %s was not in the cloud although this device references it (another device "
                        "collected it, or it was never uploaded); uploaded from the cache",
                        r->hash);
      } else {
        bl__result_warn(ctx->res, NULL, BL_SYNC_MEDIA,
                        "attachment %s is not in the cloud although this device references it, and cannot be "
                        "uploaded from here: %s",
                        r->hash, err);
        continue; /* keep checking */
      }
    }
    if (strcmp(r->text, "P") == 0) continue;
    int met = 0;
    if (bl__media_anchor_met(db, r->text, db->media_gc_grace, &met) != BL_OK) break;
    if (met) gc_run(ctx, "UPDATE _bl_media SET verify = NULL WHERE hash = ?", r->hash, NULL);
  }
  sqlite3_finalize(q);
  gc_rows_free(&rows);
  free(cursors);
  if (push_ok) gc_run(ctx, "UPDATE _bl_media SET verify = 'A' WHERE verify = 'P'", NULL, NULL);
}

/* ------------------------------------------------------------ collection */

/* Step 3. */
static void gc_collect(bl_sync_ctx *ctx, bl__media_shards *shards) {
  bl_db *db = ctx->db;
  gc_rows rows;
  if (gc_load(ctx,
              "SELECT hash, condemned, cached FROM _bl_media WHERE condemned IS NOT NULL AND referenced = 0"
              " AND hash NOT IN (SELECT hash FROM temp._bl_media_ref)",
              &rows) != BL_OK)
    return;
  for (size_t i = 0; i < rows.n && !ctx->abort_all; i++) {
    gc_row *r = &rows.v[i];
    int met = 0;
    if (bl__media_anchor_met(db, r->text, db->media_gc_grace, &met) != BL_OK) break;
    if (!met) continue;
    char path[1024];
    if (bl__media_cloud_path(db, r->hash, path, sizeof path) != BL_OK) continue;
    int rc = bl_remote_remove(ctx->remote, path);
    if (rc == BL_OK)
      ctx->res->media_deleted++;
    else if (rc != BL_ENOTFOUND) {
      bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, rc, "cannot delete unreferenced attachment %s: %s; retried next sync",
                    path, bl_remote_errmsg(ctx->remote));
      continue;
    }
    bl__media_cloud_set(shards, r->hash, 0, -1);
    /* Forgotten: the hash is condemned again only after it is seen
     * referenced again. */
    gc_run(ctx, "DELETE FROM _bl_media WHERE hash = ? AND referenced = 0", r->hash, NULL);
  }
  gc_rows_free(&rows);
}

/* --------------------------------------------------------------- pruning */

/* Step 5. */
static void gc_prune(bl_sync_ctx *ctx) {
  bl_db *db = ctx->db;
  gc_rows rows;
  if (!db->media_cache_dir) return;
  if (gc_load(ctx,
              "SELECT hash, '', cached FROM _bl_media WHERE cached = 1 AND seen = 1"
              " AND hash NOT IN (SELECT hash FROM temp._bl_media_ref)",
              &rows) != BL_OK)
    return;
  for (size_t i = 0; i < rows.n; i++) {
    char *p = bl__media_cache_path(db, rows.v[i].hash);
    if (!p) break;
    if (unlink(p) != 0 && errno != ENOENT) {
      bl__result_warn(ctx->res, NULL, BL_SYNC_MEDIA, "cannot prune the media cache entry %s: %s", p, strerror(errno));
      free(p);
      continue;
    }
    free(p);
    gc_run(ctx, "UPDATE _bl_media SET cached = 0 WHERE hash = ?", rows.v[i].hash, NULL);
  }
  gc_rows_free(&rows);
  gc_run(ctx,
         "DELETE FROM _bl_media WHERE referenced = 0 AND cached = 0 AND condemned IS NULL AND verify IS NULL"
         " AND seen = 0",
         NULL, NULL);
}

void bl__media_collect(bl_sync_ctx *ctx, bl__media_shards **shards, int pull_complete, int push_ok) {
  bl_db *db = ctx->db;
  const bl_media_schema *ms = db->media;
  if (!ms || !ms->all_hashes) return;
  if (bl__media_state_init(db) != BL_OK) {
    bl__ctx_error(ctx, NULL, BL_SYNC_MEDIA, BL_ESQLITE, "media state: %s", bl_errmsg(db));
    return;
  }
  if (gc_references(ctx) != BL_OK) return;
  if (pull_complete && !ctx->abort_all) {
    gc_verify(ctx, shards, push_ok);
    gc_collect(ctx, *shards);
    char *anchor = NULL;
    if (bl__media_anchor_now(db, &anchor) == BL_OK) {
      gc_run(ctx,
             "UPDATE _bl_media SET referenced = 0, condemned = ? WHERE referenced = 1"
             " AND hash NOT IN (SELECT hash FROM temp._bl_media_ref)",
             anchor, NULL);
      free(anchor);
    }
  }
  gc_prune(ctx);
  bl__exec(db, "DELETE FROM temp._bl_media_ref");
  bl__exec(db, "DELETE FROM temp._bl_media_unmarked");
}
