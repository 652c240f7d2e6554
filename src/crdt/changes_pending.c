/*
 * changes_pending.c — changes inserted into crsql_changes by one statement,
 * held back and merged in batches (merge.c's batch path: one base write and
 * one clock write per row instead of one of each per change).
 *
 * Holding a change back is only safe while nobody can look at the tables
 * before it is written, so a change is held only when SQLite will tell the
 * virtual table that the statement inserting it has ended:
 *
 *   - the change is the second or later one of the same statement run.
 *     A statement that inserts one row into a virtual table
 *     (INSERT ... VALUES (...)) makes exactly one xUpdate call; only
 *     INSERT ... SELECT, multi-row VALUES and triggers make more. The run is
 *     recognised by sqlite3_total_changes64(): SQLite adds a statement's row
 *     count (at least 1 for a successful insert into a virtual table) when
 *     the statement ends, so the count unchanged since the end of the
 *     previous xUpdate means the same run is still going;
 *   - inside a transaction, such a statement always has a statement
 *     savepoint (it writes several rows and may abort): the virtual table
 *     got xSavepoint(N) before its rows and gets xRelease(N) (or
 *     xRollbackTo(N)) when it ends. The depth of open savepoints is tracked
 *     from these calls; held changes are written at the release of a
 *     savepoint below the depth at which they were held, and thrown away at
 *     a rollback to it;
 *   - in autocommit mode without a statement savepoint, the statement's own
 *     transaction ends with xSync (written there) or xRollback (thrown
 *     away). Writes during xSync may not touch virtual tables, so this case
 *     is only used when the schema has no trigger besides the engine's.
 *
 * Every held change is validated when it arrives (table, column, key), so
 * the error of a bad change is reported by its own INSERT, with its message.
 * The batch is also written before anything reads through the engine
 * (crsql_changes, crsql_db_version(), bl_crdt_merge, local writes, schema
 * functions) and whenever it reaches PENDING_BATCH changes.
 *
 * A failure while writing at the end of the statement (a constraint of the
 * base table, a full disk) cannot be reported as the statement's own error:
 * SQLite then rolls back the whole transaction (docs/CRDT.md).
 */
#include <string.h>

#include "crdt/crdt.h"

#define PENDING_BATCH 2048
#define PENDING_BLOCK 65536

/* Bytes of the held changes (names, keys, site ids), in blocks that never
 * move so the bl_change pointers into them stay valid. */
typedef struct pending_block {
  struct pending_block *next;
  size_t used, cap;
  unsigned char data[];
} pending_block;

struct bl_pending {
  bl_change *ch;
  size_t n, cap;
  pending_block *blocks; /* newest first; the oldest one is kept when cleared */
  int level;             /* savepoint depth when the batch started */
};

static void pending_clear(bl_crdt *st) {
  bl_pending *p = st->pend;
  if (!p) return;
  for (size_t i = 0; i < p->n; i++) sqlite3_value_free((sqlite3_value *)p->ch[i].val);
  p->n = 0;
  while (p->blocks && p->blocks->next) {
    pending_block *b = p->blocks;
    p->blocks = b->next;
    sqlite3_free(b);
  }
  if (p->blocks) p->blocks->used = 0;
}

void bl__pending_free(bl_crdt *st) {
  if (!st->pend) return;
  pending_clear(st);
  sqlite3_free(st->pend->blocks);
  sqlite3_free(st->pend->ch);
  sqlite3_free(st->pend);
  st->pend = NULL;
}

static const void *pending_copy(bl_pending *p, const void *src, int len) {
  if (!src || len <= 0) return src;
  size_t need = (size_t)len;
  if (!p->blocks || p->blocks->cap - p->blocks->used < need) {
    size_t cap = need > PENDING_BLOCK ? need : PENDING_BLOCK;
    pending_block *b = sqlite3_malloc64(sizeof *b + cap);
    if (!b) return NULL;
    b->next = p->blocks;
    b->used = 0;
    b->cap = cap;
    p->blocks = b;
  }
  unsigned char *dst = p->blocks->data + p->blocks->used;
  memcpy(dst, src, need);
  p->blocks->used += need;
  return dst;
}

size_t bl__pending_count(const bl_crdt *st) { return st->pend ? st->pend->n : 0; }

int bl__pending_flush(bl_crdt *st, char **err) {
  *err = NULL;
  if (!st->pend || st->pend->n == 0 || st->pend_flushing) return SQLITE_OK;
  st->pend_flushing = 1;
  int rc = bl__merge_batch(st, st->pend->ch, st->pend->n, err);
  st->pend_flushing = 0;
  pending_clear(st);
  /* The writes just made moved the change count: the run's mark follows. */
  st->run_mark = sqlite3_total_changes64(st->db);
  return rc;
}

int bl__pending_flush_fn(sqlite3_context *ctx, bl_crdt *st) {
  if (!st->pend || st->pend->n == 0 || st->pend_flushing) return 1;
  char *err = NULL;
  int rc = bl__pending_flush(st, &err);
  if (rc == SQLITE_OK) return 1;
  sqlite3_result_error(ctx, err ? err : "crsql_changes: merge failed", -1);
  sqlite3_result_error_code(ctx, rc);
  sqlite3_free(err);
  return 0;
}

void bl__pending_discard(bl_crdt *st) {
  pending_clear(st);
  st->run_valid = 0;
}

/* May the change arriving now be held back (see the top of the file)? */
static int pending_may_hold(bl_crdt *st) {
  if (st->pend_flushing || !st->run_valid) return 0;
  if (sqlite3_total_changes64(st->db) != st->run_mark) return 0;
  if (st->pend && st->pend->n > 0) return 1; /* the batch's conditions still hold */
  if (st->sp_depth > 0) return 1;            /* a statement savepoint will be released */
  if (!sqlite3_get_autocommit(st->db)) return 0;
  return bl__only_engine_triggers(st->db); /* written in xSync */
}

int bl__pending_add(bl_crdt *st, const bl_change *ch, char **err) {
  *err = NULL;
  if (!pending_may_hold(st)) return SQLITE_DONE;
  int rc = bl__merge_validate(st, ch, err);
  if (rc != SQLITE_OK) return rc;
  if (!st->pend) {
    st->pend = sqlite3_malloc(sizeof *st->pend);
    if (!st->pend) return SQLITE_NOMEM;
    memset(st->pend, 0, sizeof *st->pend);
  }
  bl_pending *p = st->pend;
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 256;
    bl_change *grown = sqlite3_realloc64(p->ch, sizeof *grown * cap);
    if (!grown) return SQLITE_NOMEM;
    p->ch = grown;
    p->cap = cap;
  }
  if (p->n == 0) p->level = st->sp_depth;
  bl_change c = *ch;
  c.table = pending_copy(p, ch->table, ch->table_len);
  c.pk = pending_copy(p, ch->pk, ch->pk_len);
  c.cid = pending_copy(p, ch->cid, ch->cid_len);
  c.site_id = pending_copy(p, ch->site_id, ch->site_id_len);
  c.val = sqlite3_value_dup(ch->val);
  if ((ch->table_len > 0 && !c.table) || (ch->pk_len > 0 && !c.pk) || (ch->cid_len > 0 && !c.cid) ||
      (ch->site_id_len > 0 && !c.site_id) || !c.val) {
    sqlite3_value_free((sqlite3_value *)c.val);
    return SQLITE_NOMEM;
  }
  p->ch[p->n++] = c;
  if (p->n >= PENDING_BATCH) return bl__pending_flush(st, err);
  return SQLITE_OK;
}

void bl__pending_mark_run(bl_crdt *st) {
  st->run_mark = sqlite3_total_changes64(st->db);
  st->run_depth = st->sp_depth;
  st->run_valid = 1;
}

/* ------------------------------------------------------------ savepoints */

void bl__pending_savepoint(bl_crdt *st, int n) {
  if (!st->pend_flushing) st->sp_depth = n + 1;
}

int bl__pending_release(bl_crdt *st, int n, char **err) {
  *err = NULL;
  if (st->pend_flushing) return SQLITE_OK; /* a statement of the flush itself */
  int rc = SQLITE_OK;
  if (st->pend && st->pend->n > 0 && n < st->pend->level) rc = bl__pending_flush(st, err);
  /* A savepoint open during the last insert ended: so did its statement
   * (a run ended by a rollback adds nothing to the change count). */
  if (n < st->run_depth) st->run_valid = 0;
  st->sp_depth = n;
  return rc;
}

void bl__pending_rollback_to(bl_crdt *st, int n) {
  if (st->pend_flushing) return;
  if (st->pend && st->pend->n > 0 && n < st->pend->level) bl__pending_discard(st);
  if (n < st->run_depth) st->run_valid = 0;
  st->sp_depth = n + 1;
}

void bl__pending_tx_boundary(bl_crdt *st) {
  if (!st->pend_flushing) {
    bl__pending_discard(st);
    st->sp_depth = 0;
  }
}
