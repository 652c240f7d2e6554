/*
 * apply.c — applies one downloaded changeset or snapshot file.
 *
 * The file is read by the streaming reader (src/format) and its changes are
 * merged batch by batch with bl_crdt_merge, all inside ONE transaction that
 * also advances the device's cursor: if anything fails — a parse error at
 * the last byte, an unknown table, a crash — the transaction rolls back and
 * nothing of the file is applied.
 *
 * Values arrive as plain typed structs; they become sqlite3_values by
 * binding a batch of them to "SELECT ?, ..., ?" and reading the result
 * row's columns (one step per batch, no copies: text and blobs are bound
 * SQLITE_STATIC from the reader's arena, valid for the batch). That
 * statement lives on a private in-memory connection: statements of the
 * database's own connection are expired whenever the engine toggles its
 * triggers around a large merge, and recompiling a 1,000-column SELECT
 * per batch cost a quarter of a pull.
 *
 * Divided into: the compatible-columns filter; value materialisation; the
 * reader callbacks; bl__apply_file.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "format/changeset.h"
#include "sync/sync_internal.h"

/* Changes per batch: bounded by SQLite's default column limit (2000). */
#define APPLY_BATCH 1000

/* A callback's private code that stops the read without an error. */
#define APPLY_STOP 1

typedef struct apply_table {
  char *name;
  int is_crr;
  char **cols;
  int ncols;
  struct apply_table *next;
} apply_table;

typedef struct apply_state {
  bl_sync_ctx *ctx;
  const char *device;
  const char *name;
  int kind;
  int64_t seq;
  int compatible;         /* newer schema, APPLY_COMPATIBLE: filter changes */
  bl_apply_outcome outcome;
  int stop_sync_code;     /* when a header check failed */
  int stop_bl_code;
  char stop_msg[512];
  int64_t merged;
  int64_t dropped;
  sqlite3 *vals_db; /* private ":memory:" connection for vals */
  sqlite3_stmt *vals;
  int vals_n;
  bl_crdt_change *out;
  apply_table *tables;
  char *merge_err;
  int merge_rc;
} apply_state;

/* ------------------------------------------------ compatible-columns filter */

static void apply_free_tables(apply_table *t) {
  while (t) {
    apply_table *next = t->next;
    for (int i = 0; i < t->ncols; i++) free(t->cols[i]);
    free(t->cols);
    free(t->name);
    free(t);
    t = next;
  }
}

/* Loads what the local database knows of table `name`: whether it is a CRR
 * and its columns. NULL when out of memory. */
static apply_table *apply_load_table(apply_state *s, const char *name, int len) {
  for (apply_table *t = s->tables; t; t = t->next)
    if ((int)strlen(t->name) == len && memcmp(t->name, name, (size_t)len) == 0) return t;
  sqlite3 *db = s->ctx->db->db;
  apply_table *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->name = malloc((size_t)len + 1);
  if (!t->name) {
    free(t);
    return NULL;
  }
  memcpy(t->name, name, (size_t)len);
  t->name[len] = '\0';
  t->next = s->tables;
  s->tables = t;

  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE name = ?1 || '__crsql_clock'", -1, &stmt,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, t->name, -1, SQLITE_STATIC);
    t->is_crr = sqlite3_step(stmt) == SQLITE_ROW;
  }
  sqlite3_finalize(stmt);
  stmt = NULL;
  if (t->is_crr && sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1)", -1, &stmt, NULL) == SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, t->name, -1, SQLITE_STATIC);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      char **grown = realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *grown);
      const char *c = (const char *)sqlite3_column_text(stmt, 0);
      if (!grown || !c) break;
      t->cols = grown;
      size_t n = strlen(c) + 1;
      t->cols[t->ncols] = malloc(n);
      if (!t->cols[t->ncols]) break;
      memcpy(t->cols[t->ncols++], c, n);
    }
  }
  sqlite3_finalize(stmt);
  return t;
}

/* 1 when the change can be applied locally: its table is a CRR and its
 * column exists (or it is the row sentinel). */
static int apply_is_compatible(apply_state *s, const bl_cs_change *c) {
  apply_table *t = apply_load_table(s, c->table, c->table_len);
  if (!t || !t->is_crr) return 0;
  if (c->cid_len == 2 && memcmp(c->cid, "-1", 2) == 0) return 1;
  for (int i = 0; i < t->ncols; i++)
    if ((int)strlen(t->cols[i]) == c->cid_len && memcmp(t->cols[i], c->cid, (size_t)c->cid_len) == 0) return 1;
  return 0;
}

/* --------------------------------------------------- value materialisation */

/* Prepares "SELECT ?, ..., ?" with n parameters (reused while n stays the
 * same). */
static int apply_prepare_vals(apply_state *s, int n) {
  if (s->vals && s->vals_n == n) return SQLITE_OK;
  sqlite3_finalize(s->vals);
  s->vals = NULL;
  if (!s->vals_db) {
    int rc = sqlite3_open_v2(":memory:", &s->vals_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL);
    if (rc != SQLITE_OK) return rc;
  }
  sqlite3_str *sql = sqlite3_str_new(NULL);
  sqlite3_str_appendall(sql, "SELECT ?");
  for (int i = 2; i <= n; i++) sqlite3_str_appendall(sql, ",?");
  char *text = sqlite3_str_finish(sql);
  if (!text) return SQLITE_NOMEM;
  int rc = sqlite3_prepare_v2(s->vals_db, text, -1, &s->vals, NULL);
  sqlite3_free(text);
  if (rc == SQLITE_OK) s->vals_n = n;
  return rc;
}

static int apply_bind(sqlite3_stmt *stmt, int i, const bl_cs_value *v) {
  switch (v->type) {
    case SQLITE_INTEGER: return sqlite3_bind_int64(stmt, i, v->i);
    case SQLITE_FLOAT: return sqlite3_bind_double(stmt, i, v->f);
    case SQLITE_TEXT: return sqlite3_bind_text(stmt, i, v->p ? (const char *)v->p : "", v->n, SQLITE_STATIC);
    case SQLITE_BLOB: return sqlite3_bind_blob(stmt, i, v->p ? (const void *)v->p : "", v->n, SQLITE_STATIC);
    default: return sqlite3_bind_null(stmt, i);
  }
}

/* ------------------------------------------------------- reader callbacks */

static int apply_stop(apply_state *s, int sync_code, int bl_code, const char *msg) {
  s->stop_sync_code = sync_code;
  s->stop_bl_code = bl_code;
  snprintf(s->stop_msg, sizeof s->stop_msg, "%s", msg);
  s->outcome = BL_APPLY_FAILED;
  return bl_code;
}

static int apply_on_header(const bl_cs_header *h, void *payload) {
  apply_state *s = payload;
  bl_db *db = s->ctx->db;
  char msg[512];
  if (strcmp(h->device, s->device) != 0) {
    snprintf(msg, sizeof msg, "%s names device %s, not the device of its folder", s->name, h->device);
    return apply_stop(s, BL_SYNC_WRONG_DEVICE, BL_ECORRUPT, msg);
  }
  if (h->sequence != s->seq) {
    snprintf(msg, sizeof msg, "%s holds sequence %lld, not the sequence of its name", s->name,
             (long long)h->sequence);
    return apply_stop(s, BL_SYNC_WRONG_SEQUENCE, BL_ECORRUPT, msg);
  }
  if ((int)h->kind != s->kind) {
    snprintf(msg, sizeof msg, "%s holds a %s", s->name, h->kind == BL_CS_SNAPSHOT ? "snapshot" : "changeset");
    return apply_stop(s, BL_SYNC_CORRUPT, BL_ECORRUPT, msg);
  }
  if (h->schema_version <= db->schema->schema_version) return BL_OK;

  /* Written by a newer schema: the configured behaviour decides. */
  switch (db->mismatch) {
    case BL_MISMATCH_ABORT:
      s->ctx->abort_all = 1;
      snprintf(msg, sizeof msg,
               "%s needs schema version %lld but this app has %d; sync stopped: update the app", s->name,
               (long long)h->schema_version, db->schema->schema_version);
      return apply_stop(s, BL_SYNC_SCHEMA_NEWER, BL_ESCHEMA, msg);
    case BL_MISMATCH_SKIP_DEVICE_UNTIL_NEXT_SYNC:
      bl__result_warn(s->ctx->res, s->device, BL_SYNC_SCHEMA_NEWER,
                      "%s needs schema version %lld but this app has %d; device skipped until the next sync",
                      s->name, (long long)h->schema_version, db->schema->schema_version);
      s->outcome = BL_APPLY_SKIPPED;
      return APPLY_STOP;
    case BL_MISMATCH_DROP_CHANGESETS:
      bl__result_warn(s->ctx->res, s->device, BL_SYNC_DROPPED,
                      "%s needs schema version %lld but this app has %d; dropped", s->name,
                      (long long)h->schema_version, db->schema->schema_version);
      s->outcome = BL_APPLY_DROPPED;
      return APPLY_STOP;
    case BL_MISMATCH_APPLY_COMPATIBLE:
      s->compatible = 1;
      return BL_OK;
  }
  return BL_OK;
}

static int apply_on_changes(const bl_cs_change *changes, size_t n, void *payload) {
  apply_state *s = payload;
  sqlite3 *db = s->ctx->db->db;
  /* Keep the changes to apply, in order. */
  size_t kept = 0;
  const bl_cs_change *keep[APPLY_BATCH];
  for (size_t i = 0; i < n && i < APPLY_BATCH; i++) {
    const bl_cs_change *c = &changes[i];
    int sentinel = c->cid_len == 2 && memcmp(c->cid, "-1", 2) == 0;
    if (sentinel && c->col_version != c->cl) {
      char msg[512];
      snprintf(msg, sizeof msg, "%s: a row sentinel change has col_version %lld but cl %lld", s->name,
               (long long)c->col_version, (long long)c->cl);
      return apply_stop(s, BL_SYNC_CORRUPT, BL_ECORRUPT, msg);
    }
    if (s->compatible && !apply_is_compatible(s, c)) {
      s->dropped++;
      continue;
    }
    keep[kept++] = c;
  }
  if (kept == 0) return BL_OK;

  int rc = apply_prepare_vals(s, (int)kept);
  for (size_t i = 0; rc == SQLITE_OK && i < kept; i++) rc = apply_bind(s->vals, (int)i + 1, &keep[i]->val);
  if (rc == SQLITE_OK) rc = sqlite3_step(s->vals) == SQLITE_ROW ? SQLITE_OK : sqlite3_errcode(s->vals_db);
  if (rc != SQLITE_OK) {
    if (s->vals) sqlite3_reset(s->vals);
    s->merge_rc = rc;
    s->merge_err = sqlite3_mprintf("%s", s->vals_db ? sqlite3_errmsg(s->vals_db) : sqlite3_errstr(rc));
    return bl__from_sqlite(rc);
  }
  for (size_t i = 0; i < kept; i++) {
    const bl_cs_change *c = keep[i];
    bl_crdt_change *o = &s->out[i];
    o->table = c->table;
    o->table_len = c->table_len;
    o->pk = c->pk;
    o->pk_len = c->pk_len;
    o->cid = c->cid;
    o->cid_len = c->cid_len;
    o->val = sqlite3_column_value(s->vals, (int)i);
    o->col_version = c->col_version;
    o->db_version = c->db_version;
    o->site_id = c->site_id;
    o->site_id_len = 16;
    o->cl = c->cl;
    o->seq = c->seq;
  }
  char *err = NULL;
  rc = bl_crdt_merge(db, s->out, kept, &err);
  sqlite3_reset(s->vals);
  sqlite3_clear_bindings(s->vals);
  if (rc != SQLITE_OK) {
    s->merge_rc = rc;
    s->merge_err = err;
    return bl__from_sqlite(rc) == BL_OK ? BL_ESQLITE : bl__from_sqlite(rc);
  }
  sqlite3_free(err);
  s->merged += (int64_t)kept;
  return BL_OK;
}

/* -------------------------------------------------------------- apply_file */

static int apply_scalar(sqlite3 *db, const char *sql, int64_t *out) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    *out = sqlite3_column_int64(stmt, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(stmt);
  return rc;
}

/* Remembers the lowest cursor `device` must be rewound to after an
 * upgrade: _sync_meta "refetch:<device>". */
static int apply_note_refetch(bl_db *db, const char *device, int64_t cursor) {
  char key[64];
  snprintf(key, sizeof key, "%s%s", BL_META_REFETCH_PREFIX, device);
  int64_t have = -1;
  int rc = bl__meta_get_int(db, key, -1, &have);
  if (rc != BL_OK) return rc;
  if (have >= 0 && have <= cursor) return BL_OK;
  return bl__meta_set_int(db, key, cursor);
}

bl_apply_outcome bl__apply_file(bl_sync_ctx *ctx, const char *device, const char *name, int kind,
                                int64_t seq, FILE *fp) {
  bl_db *db = ctx->db;
  apply_state s;
  memset(&s, 0, sizeof s);
  s.ctx = ctx;
  s.device = device;
  s.name = name;
  s.kind = kind;
  s.seq = seq;
  s.outcome = BL_APPLIED;
  s.out = calloc(APPLY_BATCH, sizeof *s.out);
  if (!s.out) {
    bl__ctx_error(ctx, device, BL_SYNC_APPLY, BL_ENOMEM, "%s: out of memory", name);
    return BL_APPLY_FAILED;
  }

  int rc = bl__exec(db, "BEGIN IMMEDIATE");
  if (rc != BL_OK) {
    bl__ctx_error(ctx, device, BL_SYNC_APPLY, rc, "%s: cannot start a transaction: %s", name, bl_errmsg(db));
    free(s.out);
    return BL_APPLY_FAILED;
  }
  int64_t cursor = 0, impacted0 = 0, impacted1 = 0, before = 0;
  rc = bl__cursor_get(db, device, &cursor);
  if (rc == BL_OK && cursor >= seq) {
    /* Applied meanwhile (only possible without the sync lock): never twice. */
    sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    free(s.out);
    return BL_APPLY_SKIPPED;
  }
  /* Every version this transaction gives is above `before` (no other
   * writer can commit while we hold the write lock). */
  if (rc == BL_OK && (apply_scalar(db->db, "SELECT crsql_rows_impacted()", &impacted0) != SQLITE_OK ||
                      apply_scalar(db->db, "SELECT crsql_db_version()", &before) != SQLITE_OK))
    rc = BL_ESQLITE;

  char *err = NULL;
  bl_cs_reader_cb cb = {apply_on_header, apply_on_changes, &s};
  int read_rc = rc == BL_OK ? bl_cs_read(fp, &cb, APPLY_BATCH, &err) : rc;

  int commit = 0;
  if (read_rc == BL_OK || (read_rc == APPLY_STOP && s.outcome == BL_APPLY_DROPPED)) {
    commit = 1;
    rc = bl__cursor_set(db, device, seq);
    if (rc == BL_OK && strcmp(device, db->device_id) == 0 && read_rc == BL_OK) {
      /* Bootstrap: remember the db_versions the restore used, if any. A
       * merge keeps an incoming db_version higher than ours, so one file's
       * changes may span (before, pending]. */
      int64_t v = 0;
      rc = apply_scalar(db->db, "SELECT crsql_rows_impacted()", &impacted1) == SQLITE_OK ? BL_OK : BL_ESQLITE;
      if (rc == BL_OK && impacted1 > impacted0) {
        rc = apply_scalar(db->db, "SELECT crsql_next_db_version()", &v) == SQLITE_OK ? BL_OK : BL_ESQLITE;
        if (rc == BL_OK) rc = bl__restored_add(db, before + 1, v);
      }
    }
    if (rc == BL_OK && s.dropped > 0) {
      /* Changes for columns or tables this schema lacks were dropped: once
       * the app is upgraded, bl_open rewinds this cursor so they are
       * fetched again (merging what we have again is harmless). */
      rc = apply_note_refetch(db, device, kind == BL_CS_SNAPSHOT ? 0 : seq - 1);
    }
    if (rc == BL_OK) {
      bl__crash_point("apply-before-commit");
      rc = bl__exec(db, "COMMIT");
    }
    if (rc != BL_OK) {
      commit = 0;
      bl__ctx_error(ctx, device, BL_SYNC_APPLY, rc, "%s: cannot record the cursor: %s", name, bl_errmsg(db));
      s.outcome = BL_APPLY_FAILED;
    }
  }
  if (!commit) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);

  if (commit) {
    bl__crash_point("apply-after-commit");
    if (s.outcome == BL_APPLIED) {
      ctx->res->pulled += s.merged;
      ctx->res->files_pulled++;
      if (s.dropped)
        bl__result_warn(ctx->res, device, BL_SYNC_PARTIAL,
                        "%s: %lld changes for tables or columns unknown here were dropped", name,
                        (long long)s.dropped);
    }
  } else if (read_rc == APPLY_STOP) {
    /* SKIP: the warning is already recorded. */
  } else if (s.outcome == BL_APPLY_FAILED && s.stop_sync_code) {
    bl__ctx_error(ctx, device, s.stop_sync_code, s.stop_bl_code, "%s", s.stop_msg);
  } else if (s.merge_err || s.merge_rc) {
    bl__ctx_error(ctx, device, BL_SYNC_APPLY, BL_ESCHEMA, "%s: cannot merge: %s; nothing of it applied", name,
                  s.merge_err ? s.merge_err : sqlite3_errstr(s.merge_rc));
    s.outcome = BL_APPLY_FAILED;
  } else if (read_rc != BL_OK) {
    int code = read_rc == BL_ESCHEMA ? BL_SYNC_FORMAT : BL_SYNC_CORRUPT;
    bl__ctx_error(ctx, device, code, read_rc, "%s: %s; nothing of it applied", name,
                  err ? err : bl_strerror(read_rc));
    s.outcome = BL_APPLY_FAILED;
  }
  free(err);
  sqlite3_free(s.merge_err);
  sqlite3_finalize(s.vals);
  sqlite3_close(s.vals_db);
  apply_free_tables(s.tables);
  free(s.out);
  return s.outcome;
}
