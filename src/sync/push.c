/*
 * push.c — the push pass: upload this device's new changes as cs-N.
 *
 * Idempotent by construction: N is our own cursor + 1, and the cursor (with
 * last_push_db_version) is only advanced AFTER the upload succeeded, in one
 * transaction. A crash between the two makes the next push write cs-N
 * again — the same name, replacing the file, never a second one. The sync
 * lock (lock.c) keeps two processes from pushing at once.
 *
 * What is pushed: changes with site_id = ours and db_version in
 * (last_push_db_version, D], where D is read in the same read transaction,
 * minus the db_versions given to our own changes restored by a bootstrap
 * (they are in the cloud already). Plus the sync rule of docs/CRDT.md
 * section 4: for every key with a '-1' change of odd cl in that window,
 * the row's older entries too (a primary-key change moves entries without
 * giving them a new db_version).
 *
 * Every snapshot_threshold pushes, snapshot-N (the full state, every site)
 * is written from the same read transaction; snapshot_grace pushes after a
 * snapshot S, the changesets up to S and older snapshots are deleted.
 *
 * Divided into: reading changes into a file; the snapshot rule; compaction;
 * bl__push.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "format/changeset.h"
#include "sync/sync_internal.h"

/* ------------------------------------------------ reading changes to a file */

static const char *const PUSH_COLUMNS =
    "SELECT \"table\", pk, cid, val, col_version, db_version, site_id, cl, seq FROM crsql_changes";

/* Fills a bl_cs_change from a row of PUSH_COLUMNS. 0 when the row is not
 * writable (a site id that is not 16 bytes). */
static int push_row(sqlite3_stmt *st, bl_cs_change *c) {
  memset(c, 0, sizeof *c);
  c->table = (const char *)sqlite3_column_text(st, 0);
  c->table_len = sqlite3_column_bytes(st, 0);
  c->pk = sqlite3_column_blob(st, 1);
  c->pk_len = sqlite3_column_bytes(st, 1);
  c->cid = (const char *)sqlite3_column_text(st, 2);
  c->cid_len = sqlite3_column_bytes(st, 2);
  c->val.type = sqlite3_column_type(st, 3);
  switch (c->val.type) {
    case SQLITE_INTEGER: c->val.i = sqlite3_column_int64(st, 3); break;
    case SQLITE_FLOAT: c->val.f = sqlite3_column_double(st, 3); break;
    case SQLITE_TEXT:
      c->val.p = sqlite3_column_text(st, 3);
      c->val.n = sqlite3_column_bytes(st, 3);
      break;
    case SQLITE_BLOB:
      c->val.p = sqlite3_column_blob(st, 3);
      c->val.n = sqlite3_column_bytes(st, 3);
      break;
    default: break;
  }
  c->col_version = sqlite3_column_int64(st, 4);
  c->db_version = sqlite3_column_int64(st, 5);
  c->site_id = sqlite3_column_blob(st, 6);
  c->cl = sqlite3_column_int64(st, 7);
  c->seq = sqlite3_column_int64(st, 8);
  return c->table && c->pk && c->cid && sqlite3_column_bytes(st, 6) == 16;
}

typedef struct push_out {
  FILE *fp;
  bl_cs_writer *w;
  int64_t keys; /* keys noted for the sync rule */
} push_out;

/* Runs `st` and appends every row to w. When note_keys, records keys with
 * a '-1' change of odd cl into temp.bl_push_keys. */
static int push_copy(bl_db *db, sqlite3_stmt *st, push_out *o, int note_keys) {
  sqlite3_stmt *ins = NULL;
  int rc = BL_OK, src;
  if (note_keys) {
    src = sqlite3_prepare_v2(db->db, "INSERT OR IGNORE INTO temp.bl_push_keys (tbl, pk) VALUES (?, ?)", -1, &ins,
                             NULL);
    if (src != SQLITE_OK) return bl__db_error(db, bl__from_sqlite(src), "push: %s", sqlite3_errmsg(db->db));
  }
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    bl_cs_change c;
    if (!push_row(st, &c)) {
      rc = bl__db_error(db, BL_ECORRUPT, "push: crsql_changes returned a change without table, pk or site id");
      break;
    }
    rc = bl_cs_writer_add(o->w, &c);
    if (rc != BL_OK) {
      bl__db_error(db, rc, "push: cannot write a change of table '%s'", c.table);
      break;
    }
    if (note_keys && c.cid_len == 2 && memcmp(c.cid, "-1", 2) == 0 && (c.cl & 1)) {
      sqlite3_bind_text(ins, 1, c.table, c.table_len, SQLITE_STATIC);
      sqlite3_bind_blob(ins, 2, c.pk, c.pk_len, SQLITE_STATIC);
      if (sqlite3_step(ins) != SQLITE_DONE) {
        rc = bl__db_error(db, BL_ESQLITE, "push: %s", sqlite3_errmsg(db->db));
        break;
      }
      sqlite3_reset(ins);
      o->keys++;
    }
  }
  if (rc == BL_OK && src != SQLITE_DONE)
    rc = bl__db_error(db, bl__from_sqlite(src), "push: reading changes: %s", sqlite3_errmsg(db->db));
  sqlite3_finalize(ins);
  return rc;
}

static int push_open_file(bl_db *db, push_out *o, bl_cs_kind kind, int64_t seq, int64_t lo, int64_t hi) {
  memset(o, 0, sizeof *o);
  o->fp = tmpfile();
  if (!o->fp) return bl__db_error(db, BL_EIO, "push: cannot create a temporary file");
  bl_cs_header h;
  memset(&h, 0, sizeof h);
  h.format_version = BL_FORMAT_VERSION;
  h.kind = kind;
  memcpy(h.device, db->device_id, 37);
  h.sequence = seq;
  h.schema_version = db->schema->schema_version;
  h.db_version_min = lo;
  h.db_version_max = hi;
  int rc = bl_cs_writer_open(&o->w, o->fp, &h);
  if (rc != BL_OK) return bl__db_error(db, rc, "push: cannot start the file");
  return BL_OK;
}

static void push_close_file(push_out *o) {
  bl_cs_writer_free(o->w);
  if (o->fp) fclose(o->fp);
  memset(o, 0, sizeof *o);
}

/* Prepares "SELECT <the nine columns> FROM crsql_changes <tail>", the tail
 * printf-formatted (only from our own constants and integers). */
static int push_prepare(bl_db *db, sqlite3_stmt **st, const char *tail_fmt, ...) {
  va_list ap;
  va_start(ap, tail_fmt);
  char *tail = sqlite3_vmprintf(tail_fmt, ap);
  va_end(ap);
  char *sql = tail ? sqlite3_mprintf("%s %s", PUSH_COLUMNS, tail) : NULL;
  int rc = sql ? sqlite3_prepare_v2(db->db, sql, -1, st, NULL) : SQLITE_NOMEM;
  sqlite3_free(tail);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return bl__db_error(db, bl__from_sqlite(rc), "push: %s", sqlite3_errmsg(db->db));
  return BL_OK;
}

/* Writes this device's changes in (lo, hi] (minus the restored ranges)
 * into o. */
static int push_collect(bl_db *db, push_out *o, int64_t lo, int64_t hi, const char *not_restored) {
  int rc = bl__exec(db, "CREATE TEMP TABLE IF NOT EXISTS bl_push_keys (tbl TEXT, pk BLOB, PRIMARY KEY (tbl, pk));"
                        "DELETE FROM temp.bl_push_keys;");
  if (rc != BL_OK) return rc;
  const char *nr = not_restored ? not_restored : "";
  sqlite3_stmt *st = NULL;
  rc = push_prepare(db, &st, "WHERE db_version > ?1 AND db_version <= ?2 AND site_id = ?3%s", nr);
  if (rc != BL_OK) return rc;
  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  sqlite3_bind_blob(st, 3, db->site_id, 16, SQLITE_STATIC);
  rc = push_copy(db, st, o, 1);
  sqlite3_finalize(st);
  if (rc != BL_OK || o->keys == 0) return rc;

  /* The sync rule: every other entry of the keys created in the window —
   * older ones, and ones of other sites merged here after our last push,
   * which a primary-key change moved without a new db_version — except
   * those the first query wrote. */
  rc = push_prepare(db, &st,
                    "AS c WHERE c.db_version <= ?2 AND EXISTS (SELECT 1 FROM temp.bl_push_keys k"
                    " WHERE k.tbl = c.\"table\" AND k.pk = c.pk)"
                    " AND NOT (c.site_id = ?3 AND c.db_version > ?1%s)",
                    nr);
  if (rc != BL_OK) return rc;
  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  sqlite3_bind_blob(st, 3, db->site_id, 16, SQLITE_STATIC);
  rc = push_copy(db, st, o, 0);
  sqlite3_finalize(st);
  return rc;
}

/* Writes the full state (every change of every site up to hi) into o. */
static int push_collect_snapshot(bl_db *db, push_out *o, int64_t hi) {
  sqlite3_stmt *st = NULL;
  int rc = push_prepare(db, &st, "WHERE db_version <= ?1");
  if (rc != BL_OK) return rc;
  sqlite3_bind_int64(st, 1, hi);
  rc = push_copy(db, st, o, 0);
  sqlite3_finalize(st);
  return rc;
}

static int push_finish(bl_db *db, push_out *o, int64_t *size) {
  int rc = bl_cs_writer_finish(o->w);
  if (rc != BL_OK) return bl__db_error(db, rc, "push: cannot finish the file");
  long end = ftell(o->fp);
  if (end < 0) return bl__db_error(db, BL_EIO, "push: cannot size the temporary file");
  *size = end;
  rewind(o->fp);
  return BL_OK;
}

/* Uploads o's file as `name` in our folder, creating the folder the first
 * time it is missing. */
static int push_upload(bl_sync_ctx *ctx, push_out *o, int64_t size, const char *name) {
  bl_db *db = ctx->db;
  char path[1024], folder[1024];
  if (bl__path_file(db, db->device_id, name, path, sizeof path) != BL_OK ||
      bl__path_device(db, db->device_id, folder, sizeof folder) != BL_OK)
    return BL_EMISUSE;
  /* A folder with settings version 2 gets the envelope (compressed,
   * encrypted, bound to this name and device). */
  FILE *src = o->fp, *wrapped = NULL;
  if (db->envelope) {
    char id[1024], err[256] = "";
    if (bl__settings_identity(db->device_id, name, id, sizeof id) != BL_OK) return BL_EMISUSE;
    wrapped = bl__settings_wrap(db, o->fp, id, &size, err, sizeof err);
    if (!wrapped) return bl_remote_set_error(ctx->remote, BL_EIO, "cannot compress or encrypt %s: %s", name, err);
    src = wrapped;
  }
  int rc = bl_remote_write(ctx->remote, path, src, size);
  if (rc == BL_ENOTFOUND) {
    rc = bl_remote_mkdir(ctx->remote, folder);
    if (rc == BL_OK) {
      rewind(src);
      rc = bl_remote_write(ctx->remote, path, src, size);
    }
  }
  if (wrapped) fclose(wrapped);
  return rc;
}

/* ------------------------------------------------------------- compaction */

static int push_snapshot_uploaded(bl_db *db, int64_t s) {
  char *text = NULL;
  if (bl__meta_get(db, BL_META_SNAPSHOTS_UPLOADED, &text) != BL_OK) return 0;
  int found = 0;
  for (const char *p = text; *p;) {
    char *end = NULL;
    long long v = strtoll(p, &end, 10);
    if (end == p) break;
    if (v == s) found = 1;
    p = *end == ',' ? end + 1 : end;
  }
  free(text);
  return found;
}

/* Appends s to the list of uploaded snapshots (keeping the last 16). */
static void push_note_snapshot(bl_db *db, int64_t s) {
  char *text = NULL;
  int64_t list[17];
  size_t n = 0;
  if (bl__meta_get(db, BL_META_SNAPSHOTS_UPLOADED, &text) == BL_OK) {
    for (const char *p = text; *p && n < 16;) {
      char *end = NULL;
      long long v = strtoll(p, &end, 10);
      if (end == p) break;
      list[n++] = v;
      p = *end == ',' ? end + 1 : end;
    }
    free(text);
  }
  if (n == 16) {
    memmove(list, list + 1, 15 * sizeof *list);
    n = 15;
  }
  list[n++] = s;
  char buf[17 * 24] = "";
  size_t o = 0;
  for (size_t i = 0; i < n; i++) o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%lld", i ? "," : "", (long long)list[i]);
  bl__meta_set(db, BL_META_SNAPSHOTS_UPLOADED, buf);
}

/* snapshot_grace pushes after snapshot S: delete cs-k (k <= S) and older
 * snapshots. Failures are warnings: the files are retried at the next
 * compaction and readers tolerate them. */
static void push_compact(bl_sync_ctx *ctx, int64_t seq) {
  bl_db *db = ctx->db;
  int64_t s = seq - db->snapshot_grace;
  if (s < db->snapshot_threshold || s % db->snapshot_threshold != 0) return;
  /* Only a snapshot whose upload succeeded: a failed one may have left a
   * partial file behind on a store without atomic writes. */
  if (!push_snapshot_uploaded(db, s)) return;
  char folder[1024];
  if (bl__path_device(db, db->device_id, folder, sizeof folder) != BL_OK) return;
  bl_remote_entry *e = NULL;
  size_t n = 0;
  int rc = bl_remote_list(ctx->remote, folder, &e, &n);
  if (rc != BL_OK) {
    bl__result_warn(ctx->res, NULL, BL_SYNC_REMOTE, "compaction skipped: cannot list our folder: %s",
                    bl_remote_errmsg(ctx->remote));
    return;
  }
  int have = 0;
  for (size_t i = 0; i < n; i++) {
    bl_cs_kind kind;
    int64_t k;
    if (!e[i].is_folder && bl_cs_parse_name(e[i].name, &kind, &k) && kind == BL_CS_SNAPSHOT && k == s) have = 1;
  }
  for (size_t i = 0; have && i < n; i++) {
    bl_cs_kind kind;
    int64_t k;
    if (e[i].is_folder || !bl_cs_parse_name(e[i].name, &kind, &k)) continue;
    if ((kind == BL_CS_CHANGESET && k <= s) || (kind == BL_CS_SNAPSHOT && k < s)) {
      char path[1024];
      if (bl__path_file(db, db->device_id, e[i].name, path, sizeof path) != BL_OK) continue;
      rc = bl_remote_remove(ctx->remote, path);
      if (rc != BL_OK && rc != BL_ENOTFOUND)
        bl__result_warn(ctx->res, NULL, BL_SYNC_REMOTE, "compaction: cannot delete %s: %s", e[i].name,
                        bl_remote_errmsg(ctx->remote));
    }
  }
  bl_remote_entries_free(e, n);
}

/* ------------------------------------------------------------------ push */

/* The highest db_version any change holds above `last` (`last` when
 * none). Not crsql_db_version(): after a transaction that recorded
 * nothing, cr-sqlite 0.16 (and we, identically) report the version it would
 * have used, and the next real change may get that same version; taking
 * the reported value as pushed would lose that change. */
static int push_high_water(bl_db *db, int64_t last, int64_t *hi) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->db, "SELECT max(db_version) FROM crsql_changes WHERE db_version > ?1", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, last);
    rc = sqlite3_step(st);
  }
  *hi = last;
  if (rc == SQLITE_ROW) {
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) *hi = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? BL_OK : bl__db_error(db, bl__from_sqlite(rc), "push: %s", sqlite3_errmsg(db->db));
}

#define PUSH_IN_FLIGHT "push_in_flight"

/* Records a push (or, with seq == 0, only the new last_push_db_version). */
static int push_record(bl_db *db, int64_t expect_cursor, int64_t seq, int64_t hi) {
  int rc = bl__exec(db, "BEGIN IMMEDIATE");
  if (rc != BL_OK) return rc;
  int64_t cursor = 0;
  rc = bl__cursor_get(db, db->device_id, &cursor);
  if (rc == BL_OK && cursor != expect_cursor)
    rc = bl__db_error(db, BL_EBUSY, "another process pushed meanwhile (our sequence moved from %lld to %lld)",
                      (long long)expect_cursor, (long long)cursor);
  if (rc == BL_OK && seq > 0) rc = bl__cursor_set(db, db->device_id, seq);
  if (rc == BL_OK && seq > 0) {
    int64_t seen = 0;
    rc = bl__meta_get_int(db, BL_META_OWN_SEQUENCE, 0, &seen);
    if (rc == BL_OK && seq > seen) rc = bl__meta_set_int(db, BL_META_OWN_SEQUENCE, seq);
  }
  if (rc == BL_OK) rc = bl__meta_set_int(db, BL_META_LAST_PUSH_DB_VERSION, hi);
  if (rc == BL_OK) rc = bl__restored_drop_upto(db, hi);
  if (rc == BL_OK && seq > 0) rc = bl__meta_delete(db, PUSH_IN_FLIGHT);
  if (rc == BL_OK) rc = bl__exec(db, "COMMIT");
  if (rc != BL_OK) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* With our cursor at 0: bootstrap from our own folder, then make sure no
 * file of ours lies beyond the cursor. */
static int push_guard_fresh(bl_sync_ctx *ctx, int64_t *cursor) {
  bl_db *db = ctx->db;
  size_t errors = ctx->res->errors_count;
  bl__pull_device(ctx, db->device_id);
  if (ctx->res->errors_count > errors) return ctx->first_error != BL_OK ? ctx->first_error : BL_ERROR;
  int rc = bl__cursor_get(db, db->device_id, cursor);
  if (rc != BL_OK) return rc;
  char folder[1024];
  if (bl__path_device(db, db->device_id, folder, sizeof folder) != BL_OK) return BL_EMISUSE;
  bl_remote_entry *e = NULL;
  size_t n = 0;
  rc = bl_remote_list(ctx->remote, folder, &e, &n);
  if (rc == BL_ENOTFOUND) return BL_OK;
  if (rc != BL_OK) {
    bl__ctx_error(ctx, NULL, BL_SYNC_PUSH, rc, "cannot list our folder: %s", bl_remote_errmsg(ctx->remote));
    return rc;
  }
  int64_t max = 0;
  for (size_t i = 0; i < n; i++) {
    bl_cs_kind kind;
    int64_t k;
    if (!e[i].is_folder && bl_cs_parse_name(e[i].name, &kind, &k) && k > max) max = k;
  }
  bl_remote_entries_free(e, n);
  if (max > *cursor) {
    bl__ctx_error(ctx, NULL, BL_SYNC_PUSH, BL_ERROR,
                  "our folder holds sequence %lld but only %lld could be restored; not pushing over it",
                  (long long)max, (long long)*cursor);
    return BL_ERROR;
  }
  return BL_OK;
}

/* The push in flight: "N hi" written before cs-N is uploaded, cleared when
 * it is recorded. Found again at the next push (a crash, a lost response,
 * a failed recording), it makes that push rewrite cs-N with the SAME window
 * (last_push_db_version, hi] — never more: another device may have read
 * the first upload already and moved its cursor past N, so anything new
 * must go into cs-(N+1). Entries of the window superseded since then have
 * moved to higher db_versions and travel in a later file. */
static int push_marker_get(bl_db *db, int64_t *seq, int64_t *hi) {
  *seq = 0;
  char *text = NULL;
  int rc = bl__meta_get(db, PUSH_IN_FLIGHT, &text);
  if (rc == BL_ENOTFOUND) return BL_OK;
  if (rc != BL_OK) return rc;
  long long a, b;
  if (sscanf(text, "%lld %lld", &a, &b) == 2) {
    *seq = a;
    *hi = b;
  }
  free(text);
  return BL_OK;
}

static int push_marker_set(bl_db *db, int64_t seq, int64_t hi) {
  char buf[64];
  snprintf(buf, sizeof buf, "%lld %lld", (long long)seq, (long long)hi);
  int rc = bl__exec(db, "BEGIN IMMEDIATE");
  if (rc == BL_OK) rc = bl__meta_set(db, PUSH_IN_FLIGHT, buf);
  if (rc == BL_OK) rc = bl__exec(db, "COMMIT");
  if (rc != BL_OK) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* Whether any change of ours lies above db_version `last`. */
static int push_has_local(bl_db *db, int64_t last, int *found) {
  sqlite3_stmt *st = NULL;
  *found = 0;
  int rc = sqlite3_prepare_v2(db->db, "SELECT 1 FROM crsql_changes WHERE db_version > ?1 AND site_id = ?2 LIMIT 1",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, last);
    sqlite3_bind_blob(st, 2, db->site_id, 16, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? BL_OK : bl__db_error(db, bl__from_sqlite(rc), "push: %s", sqlite3_errmsg(db->db));
}

/* One push: cs-(cursor+1). *again is set when it rewrote an in-flight
 * changeset and a second push should follow for what is newer. */
static int push_once(bl_sync_ctx *ctx, int *again) {
  bl_db *db = ctx->db;
  int64_t cursor = 0, last = 0, hi = 0, marker_seq = 0, marker_hi = 0;
  bl_range restored[BL_RESTORED_MAX];
  size_t nrestored = 0;
  *again = 0;
  int rc = bl__cursor_get(db, db->device_id, &cursor);
  if (rc == BL_OK) rc = bl__meta_get_int(db, BL_META_LAST_PUSH_DB_VERSION, 0, &last);
  if (rc == BL_OK) rc = bl__restored_load(db, restored, BL_RESTORED_MAX, &nrestored);
  if (rc == BL_OK) rc = push_marker_get(db, &marker_seq, &marker_hi);
  if (rc != BL_OK) {
    bl__ctx_error(ctx, NULL, BL_SYNC_PUSH, rc, "push: %s", bl_errmsg(db));
    return rc;
  }
  if (cursor == 0 && marker_seq == 0) {
    /* Never pushed, or cleared: our folder may hold files from before (a
     * sign-out). Restore them first (bl_push without a pull before it) —
     * but only when there is something to push: a device that only reads
     * spends no request on a folder it never wrote. */
    int local = 0;
    rc = push_has_local(db, last, &local);
    if (rc == BL_OK && local) rc = push_guard_fresh(ctx, &cursor);
    if (rc != BL_OK) return rc;
  }
  /* Never write a sequence of ours that may hold changes not restored here
   * (a restore cut short, or one whose listing was stale). */
  int64_t target = 0, seen = 0;
  bl__meta_get_int(db, BL_META_OWN_SEQUENCE, 0, &seen);
  if (bl__meta_get_int(db, BL_META_RESTORE_TARGET, 0, &target) == BL_OK && target < seen) target = seen;
  if (target > cursor && marker_seq != cursor + 1) {
    bl__ctx_error(ctx, NULL, BL_SYNC_PUSH, BL_ERROR,
                  "restoring our own changesets is not complete (%lld of %lld); not pushing until a sync "
                  "finishes it",
                  (long long)cursor, (long long)target);
    return BL_ERROR;
  }
  int64_t seq = cursor + 1;
  int rewrite = marker_seq == seq && marker_hi >= last;
  int want_snapshot = seq % db->snapshot_threshold == 0;

  /* One read transaction: the window, the changes and the snapshot agree. */
  push_out cs, snap;
  memset(&snap, 0, sizeof snap);
  memset(&cs, 0, sizeof cs);
  char *not_restored = bl__restored_sql(restored, nrestored);
  rc = bl__exec(db, "BEGIN");
  if (rc == BL_OK) {
    if (rewrite) hi = marker_hi;
    else rc = push_high_water(db, last, &hi);
  }
  if (rc == BL_OK) rc = push_open_file(db, &cs, BL_CS_CHANGESET, seq, last, hi);
  if (rc == BL_OK) rc = push_collect(db, &cs, last, hi, not_restored);
  sqlite3_free(not_restored);
  int64_t count = rc == BL_OK ? bl_cs_writer_count(cs.w) : 0;
  int64_t snap_hi = hi;
  if (rc == BL_OK && (count > 0 || rewrite) && want_snapshot) {
    /* Everything present now: a superset of the state at cs-N is as good. */
    if (rewrite) rc = push_high_water(db, hi, &snap_hi);
    if (rc == BL_OK) rc = push_open_file(db, &snap, BL_CS_SNAPSHOT, seq, 0, snap_hi);
    if (rc == BL_OK) rc = push_collect_snapshot(db, &snap, snap_hi);
  }
  sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
  if (rc != BL_OK) {
    bl__ctx_error(ctx, NULL, BL_SYNC_PUSH, rc, "%s", bl_errmsg(db));
    push_close_file(&cs);
    push_close_file(&snap);
    return rc;
  }

  if (count == 0 && !rewrite) {
    /* Nothing of ours: move the window on (restored or merged changes). */
    push_close_file(&cs);
    if (marker_seq) bl__meta_delete(db, PUSH_IN_FLIGHT); /* stale */
    if (hi > last) {
      rc = push_record(db, cursor, 0, hi);
      if (rc != BL_OK) bl__ctx_error(ctx, NULL, BL_SYNC_PUSH, rc, "push: %s", bl_errmsg(db));
    }
    return rc;
  }

  char name[64];
  int64_t size = 0;
  bl_cs_format_name(name, sizeof name, BL_CS_CHANGESET, seq);
  rc = push_finish(db, &cs, &size);
  if (rc == BL_OK && !rewrite) rc = push_marker_set(db, seq, hi);
  if (rc == BL_OK) {
    bl__crash_point("push-before-upload");
    rc = push_upload(ctx, &cs, size, name);
    if (rc != BL_OK)
      bl__ctx_error(ctx, NULL, BL_SYNC_PUSH, rc, "cannot upload %s: %s", name, bl_remote_errmsg(ctx->remote));
  } else {
    bl__ctx_error(ctx, NULL, BL_SYNC_PUSH, rc, "%s", bl_errmsg(db));
  }
  push_close_file(&cs);
  if (rc != BL_OK) {
    push_close_file(&snap);
    return rc;
  }
  bl__crash_point("push-after-upload");
  rc = push_record(db, cursor, seq, hi);
  if (rc != BL_OK) {
    bl__ctx_error(ctx, NULL, BL_SYNC_PUSH, rc, "%s was uploaded but not recorded (%s); the next push rewrites it",
                  name, bl_errmsg(db));
    push_close_file(&snap);
    return rc;
  }
  bl__crash_point("push-recorded");
  ctx->res->pushed += count;
  ctx->res->files_pushed++;
  *again = rewrite;

  if (snap.w) {
    bl_cs_format_name(name, sizeof name, BL_CS_SNAPSHOT, seq);
    rc = push_finish(db, &snap, &size);
    if (rc == BL_OK) rc = push_upload(ctx, &snap, size, name);
    if (rc == BL_OK) {
      ctx->res->files_pushed++;
      bl__meta_set_int(db, BL_META_LAST_SNAPSHOT_SEQUENCE, seq);
      push_note_snapshot(db, seq);
    } else {
      bl__result_warn(ctx->res, NULL, BL_SYNC_REMOTE, "snapshot %s not written: %s", name,
                      bl_remote_errmsg(ctx->remote));
    }
    push_close_file(&snap);
  }
  push_compact(ctx, seq);
  return BL_OK;
}

int bl__push(bl_sync_ctx *ctx) {
  int again = 0, rc;
  do {
    rc = push_once(ctx, &again);
  } while (rc == BL_OK && again);
  return rc;
}
