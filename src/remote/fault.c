/*
 * fault.c — the fault-injecting remote of fault.h.
 *
 * Each call first advances the countdown of every armed trigger of its kind
 * (fault_fire); the triggers that reach zero say what happens to this call.
 * The call then runs in the fixed order fault.h describes. A listing that
 * really happened is remembered per path (a small cache replacing its
 * oldest slot), which is what stale mode serves.
 *
 * Divided into: the wrapper and its triggers; the listing cache; the five
 * operations; construction and control.
 */
#define _POSIX_C_SOURCE 200809L

#include "remote/fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"

#define FAULT_CACHE_SLOTS 16
#define FAULT_NKINDS BL__FAULT_ANY

typedef enum fault_action {
  FAULT_NONE = 0, /* a free slot */
  FAULT_FAIL,
  FAULT_FAIL_AFTER,
  FAULT_FAIL_FROM,
  FAULT_TEAR,
  FAULT_CRASH
} fault_action;

typedef struct fault_trigger {
  fault_action action;
  bl__fault_op op;    /* BL__FAULT_ANY matches every kind */
  unsigned countdown; /* matching calls until it fires; 1 = the next one */
  int code;
  int64_t keep; /* FAULT_TEAR: bytes that reach the inner remote */
  int when;     /* FAULT_CRASH: BL__FAULT_BEFORE or BL__FAULT_AFTER */
  bl__fault_crash_fn fn;
  void *payload;
} fault_trigger;

typedef struct fault_listing {
  char *path; /* NULL for a free slot */
  bl_remote_entry *entries;
  size_t count;
  uint64_t stamp; /* when it was stored; the oldest is replaced first */
} fault_listing;

typedef struct fault_remote {
  bl_remote base;
  bl_remote *inner; /* borrowed */
  uint64_t calls[FAULT_NKINDS];
  fault_trigger triggers[BL__FAULT_MAX_TRIGGERS];
  unsigned stale_left;
  fault_listing cache[FAULT_CACHE_SLOTS];
  uint64_t cache_clock;
} fault_remote;

/* What fired on one call. Crash callbacks are copied out because firing
 * frees their slot. */
typedef struct fault_fired {
  const char *name;     /* the call's kind, for messages */
  uint64_t number;      /* the call's number among calls of its kind */
  int fail, fail_after; /* codes, 0 when none */
  int tear, tear_code;
  int64_t tear_keep;
  size_t ncrash;
  struct {
    int when;
    bl__fault_crash_fn fn;
    void *payload;
  } crash[BL__FAULT_MAX_TRIGGERS];
} fault_fired;

static void fault_free(bl_remote *r);

/* The wrapper behind `r`, or NULL when `r` is not one (recognised by its
 * free function, which only this file has). */
static fault_remote *fault_of(const bl_remote *r) {
  return r && r->free == fault_free ? (fault_remote *)r : NULL;
}

const char *bl__fault_op_name(bl__fault_op op) {
  static const char *const names[] = {"list", "read", "write", "remove", "mkdir", "any"};
  return (unsigned)op <= BL__FAULT_ANY ? names[op] : "unknown";
}

/* Counts the call and fires the triggers it completes. */
static void fault_fire(fault_remote *fr, bl__fault_op op, fault_fired *f) {
  memset(f, 0, sizeof *f);
  f->name = bl__fault_op_name(op);
  f->number = ++fr->calls[op];
  for (size_t i = 0; i < BL__FAULT_MAX_TRIGGERS; i++) {
    fault_trigger *t = &fr->triggers[i];
    if (t->action == FAULT_NONE || (t->op != op && t->op != BL__FAULT_ANY)) continue;
    if (--t->countdown > 0) continue;
    switch (t->action) {
      case FAULT_FAIL:
      case FAULT_FAIL_FROM:
        if (!f->fail) f->fail = t->code;
        break;
      case FAULT_FAIL_AFTER:
        if (!f->fail_after) f->fail_after = t->code;
        break;
      case FAULT_TEAR:
        if (!f->tear || t->keep < f->tear_keep) f->tear_keep = t->keep;
        if (!f->tear || !f->tear_code) f->tear_code = t->code;
        f->tear = 1;
        break;
      case FAULT_CRASH:
        f->crash[f->ncrash].when = t->when;
        f->crash[f->ncrash].fn = t->fn;
        f->crash[f->ncrash].payload = t->payload;
        f->ncrash++;
        break;
      case FAULT_NONE: break;
    }
    if (t->action == FAULT_FAIL_FROM)
      t->countdown = 1; /* stays armed: the next matching call fails too */
    else
      memset(t, 0, sizeof *t);
  }
}

static void fault_crash_points(const fault_fired *f, bl__fault_op op, const char *path, int when) {
  for (size_t i = 0; i < f->ncrash; i++)
    if (f->crash[i].when == when) f->crash[i].fn(op, path, f->crash[i].payload);
}

/* Crash points before the operation, then an injected failure: returns
 * nonzero when the call stops here. */
static int fault_before(fault_remote *fr, const fault_fired *f, bl__fault_op op, const char *path) {
  fault_crash_points(f, op, path, BL__FAULT_BEFORE);
  if (!f->fail) return BL_OK;
  return bl_remote_set_error(&fr->base, f->fail, "injected fault: %s '%s' failed (%s call %llu)",
                             f->name, path, f->name, (unsigned long long)f->number);
}

/* After the operation returned rc: the inner remote's message is passed on
 * (unless the wrapper failed by itself and said why: its message was
 * cleared when this call began), crash points after it run, and an
 * injected failure replaces success. */
static int fault_after(fault_remote *fr, const fault_fired *f, bl__fault_op op, const char *path,
                       int rc) {
  if (rc && !*bl_remote_errmsg(&fr->base))
    bl_remote_set_error(&fr->base, rc, "%s", bl_remote_errmsg(fr->inner));
  fault_crash_points(f, op, path, BL__FAULT_AFTER);
  if (rc == BL_OK && f->fail_after)
    rc = bl_remote_set_error(
        &fr->base, f->fail_after,
        "injected fault: %s '%s' was done but reported as failed (%s call %llu)", f->name, path,
        f->name, (unsigned long long)f->number);
  return rc;
}

/* ------------------------------------------------------------ listing cache */

static void fault_listing_clear(fault_listing *l) {
  free(l->path);
  bl_remote_entries_free(l->entries, l->count);
  memset(l, 0, sizeof *l);
}

/* A deep copy of entries[0..count) into *out; BL_ENOMEM on failure. */
static int fault_entries_copy(const bl_remote_entry *entries, size_t count, bl_remote_entry **out) {
  *out = NULL;
  if (count == 0) return BL_OK;
  bl_remote_entry *copy = calloc(count, sizeof *copy);
  if (!copy) return BL_ENOMEM;
  for (size_t i = 0; i < count; i++) {
    copy[i] = entries[i];
    copy[i].name = strdup(entries[i].name);
    if (!copy[i].name) {
      bl_remote_entries_free(copy, i);
      return BL_ENOMEM;
    }
  }
  *out = copy;
  return BL_OK;
}

static fault_listing *fault_cache_find(fault_remote *fr, const char *path) {
  for (size_t i = 0; i < FAULT_CACHE_SLOTS; i++)
    if (fr->cache[i].path && !strcmp(fr->cache[i].path, path)) return &fr->cache[i];
  return NULL;
}

/* Remembers a real listing of `path`. Failing for want of memory only
 * means stale mode has less to serve, so it is not an error. */
static void fault_cache_store(fault_remote *fr, const char *path, const bl_remote_entry *entries,
                              size_t count) {
  fault_listing *slot = fault_cache_find(fr, path);
  if (!slot) {
    slot = &fr->cache[0];
    for (size_t i = 0; i < FAULT_CACHE_SLOTS && slot->path; i++)
      if (!fr->cache[i].path || fr->cache[i].stamp < slot->stamp) slot = &fr->cache[i];
  }
  fault_listing_clear(slot);
  slot->path = strdup(path);
  if (!slot->path || fault_entries_copy(entries, count, &slot->entries) != BL_OK) {
    fault_listing_clear(slot);
    return;
  }
  slot->count = count;
  slot->stamp = ++fr->cache_clock;
}

/* ------------------------------------------------------------- operations */

static int fault_list(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count) {
  fault_remote *fr = (fault_remote *)r;
  fault_fired f;
  fault_fire(fr, BL__FAULT_LIST, &f);
  int rc = fault_before(fr, &f, BL__FAULT_LIST, path);
  if (rc) return rc;
  const fault_listing *stale = NULL;
  if (fr->stale_left > 0) {
    fr->stale_left--;
    stale = fault_cache_find(fr, path);
  }
  if (stale) {
    rc = fault_entries_copy(stale->entries, stale->count, out);
    if (rc) return bl_remote_set_error(r, rc, "out of memory");
    *count = stale->count;
  } else {
    rc = bl_remote_list(fr->inner, path, out, count);
    if (rc == BL_OK) fault_cache_store(fr, path, *out, *count);
  }
  rc = fault_after(fr, &f, BL__FAULT_LIST, path, rc);
  if (rc) { /* an injected failure after a listing: the caller gets none */
    bl_remote_entries_free(*out, *count);
    *out = NULL;
    *count = 0;
  }
  return rc;
}

static int fault_read(bl_remote *r, const char *path, bl_remote_sink sink, void *payload) {
  fault_remote *fr = (fault_remote *)r;
  fault_fired f;
  fault_fire(fr, BL__FAULT_READ, &f);
  int rc = fault_before(fr, &f, BL__FAULT_READ, path);
  if (rc) return rc;
  rc = bl_remote_read(fr->inner, path, sink, payload);
  return fault_after(fr, &f, BL__FAULT_READ, path, rc);
}

/* The torn write: the first `keep` bytes of src go through a temporary
 * file to the inner remote as the whole content. */
static int fault_write_torn(fault_remote *fr, const char *path, FILE *src, int64_t keep) {
  int rc = BL_OK;
  unsigned char buf[16384];
  FILE *t = tmpfile();
  if (!t) return bl_remote_set_error(&fr->base, BL_EIO, "fault: no temporary file");
  for (int64_t left = keep; left > 0;) {
    size_t want = left < (int64_t)sizeof buf ? (size_t)left : sizeof buf;
    size_t got = fread(buf, 1, want, src);
    if (got < want || fwrite(buf, 1, got, t) != got) {
      rc = bl_remote_set_error(&fr->base, BL_EIO, "fault: tearing write '%s': short source", path);
      goto done;
    }
    left -= (int64_t)got;
  }
  if (fflush(t) != 0) {
    rc = bl_remote_set_error(&fr->base, BL_EIO, "fault: tearing write '%s': temporary file", path);
    goto done;
  }
  rewind(t);
  rc = bl_remote_write(fr->inner, path, t, keep);
done:
  fclose(t);
  return rc;
}

static int fault_write(bl_remote *r, const char *path, FILE *src, int64_t size) {
  fault_remote *fr = (fault_remote *)r;
  fault_fired f;
  fault_fire(fr, BL__FAULT_WRITE, &f);
  int rc = fault_before(fr, &f, BL__FAULT_WRITE, path);
  if (rc) return rc;
  if (!f.tear)
    return fault_after(fr, &f, BL__FAULT_WRITE, path, bl_remote_write(fr->inner, path, src, size));

  int64_t keep = f.tear_keep < size ? f.tear_keep : size;
  rc = fault_after(fr, &f, BL__FAULT_WRITE, path, fault_write_torn(fr, path, src, keep));
  if (rc == BL_OK && f.tear_code)
    rc = bl_remote_set_error(r, f.tear_code,
                             "injected fault: write '%s' torn after %lld of %lld bytes (write call "
                             "%llu)",
                             path, (long long)keep, (long long)size, (unsigned long long)f.number);
  return rc;
}

static int fault_remove(bl_remote *r, const char *path) {
  fault_remote *fr = (fault_remote *)r;
  fault_fired f;
  fault_fire(fr, BL__FAULT_REMOVE, &f);
  int rc = fault_before(fr, &f, BL__FAULT_REMOVE, path);
  if (rc) return rc;
  return fault_after(fr, &f, BL__FAULT_REMOVE, path, bl_remote_remove(fr->inner, path));
}

static int fault_mkdir(bl_remote *r, const char *path) {
  fault_remote *fr = (fault_remote *)r;
  fault_fired f;
  fault_fire(fr, BL__FAULT_MKDIR, &f);
  int rc = fault_before(fr, &f, BL__FAULT_MKDIR, path);
  if (rc) return rc;
  return fault_after(fr, &f, BL__FAULT_MKDIR, path, bl_remote_mkdir(fr->inner, path));
}

/* The change feed and the request count are the inner remote's, passed
 * through untouched (no trigger applies to them): a wrapped cloud remote
 * keeps its cheap idle sync, while its reads, writes and listings fail on
 * demand. Batches are left to the dispatchers, which run them one file at
 * a time through the operations above, so every file meets the triggers. */
static int fault_changes(bl_remote *r, const char *path, const char *since, bl_remote_changes *out) {
  fault_remote *fr = (fault_remote *)r;
  int rc = bl_remote_changes_since(fr->inner, path, since, out);
  if (rc != BL_OK) return bl_remote_set_error(r, rc, "%s", bl_remote_errmsg(fr->inner));
  return BL_OK;
}

static void fault_stats(bl_remote *r, bl_remote_stats *out) {
  bl_remote_get_stats(((fault_remote *)r)->inner, out);
}

/* ------------------------------------------------- construction and control */

static void fault_free(bl_remote *r) {
  fault_remote *fr = (fault_remote *)r;
  for (size_t i = 0; i < FAULT_CACHE_SLOTS; i++) fault_listing_clear(&fr->cache[i]);
  free(fr);
}

int bl__remote_fault_new(bl_remote **out, bl_remote *inner) {
  if (!out) return BL_EMISUSE;
  *out = NULL;
  if (!inner) return BL_EMISUSE;
  fault_remote *fr = calloc(1, sizeof *fr);
  if (!fr) return BL_ENOMEM;
  fr->base.version = BL_REMOTE_VERSION;
  fr->base.list = fault_list;
  fr->base.read = fault_read;
  fr->base.write = fault_write;
  fr->base.remove = fault_remove;
  fr->base.mkdir = fault_mkdir;
  fr->base.free = fault_free;
  fr->base.changes = fault_changes;
  fr->base.stats = fault_stats;
  fr->inner = inner;
  *out = &fr->base;
  return BL_OK;
}

/* Arms one trigger in a free slot. */
static int fault_arm(bl_remote *f, const fault_trigger *t) {
  fault_remote *fr = fault_of(f);
  if (!fr || (unsigned)t->op > BL__FAULT_ANY || t->countdown == 0) return BL_EMISUSE;
  for (size_t i = 0; i < BL__FAULT_MAX_TRIGGERS; i++) {
    if (fr->triggers[i].action == FAULT_NONE) {
      fr->triggers[i] = *t;
      return BL_OK;
    }
  }
  return BL_EMISUSE; /* all slots armed */
}

int bl__fault_fail(bl_remote *f, bl__fault_op op, unsigned n, int code) {
  if (code >= 0) return BL_EMISUSE;
  fault_trigger t = {.action = FAULT_FAIL, .op = op, .countdown = n, .code = code};
  return fault_arm(f, &t);
}

int bl__fault_fail_after(bl_remote *f, bl__fault_op op, unsigned n, int code) {
  if (code >= 0) return BL_EMISUSE;
  fault_trigger t = {.action = FAULT_FAIL_AFTER, .op = op, .countdown = n, .code = code};
  return fault_arm(f, &t);
}

int bl__fault_fail_from(bl_remote *f, bl__fault_op op, unsigned n, int code) {
  if (code >= 0) return BL_EMISUSE;
  fault_trigger t = {.action = FAULT_FAIL_FROM, .op = op, .countdown = n, .code = code};
  return fault_arm(f, &t);
}

int bl__fault_tear_write(bl_remote *f, unsigned n, int64_t keep, int code) {
  if (keep < 0 || code > 0) return BL_EMISUSE;
  fault_trigger t = {
      .action = FAULT_TEAR, .op = BL__FAULT_WRITE, .countdown = n, .code = code, .keep = keep};
  return fault_arm(f, &t);
}

int bl__fault_crash(bl_remote *f, bl__fault_op op, unsigned n, int when, bl__fault_crash_fn fn,
                    void *payload) {
  if (!fn || (when != BL__FAULT_BEFORE && when != BL__FAULT_AFTER)) return BL_EMISUSE;
  fault_trigger t = {
      .action = FAULT_CRASH, .op = op, .countdown = n, .when = when, .fn = fn, .payload = payload};
  return fault_arm(f, &t);
}

int bl__fault_stale_lists(bl_remote *f, unsigned m) {
  fault_remote *fr = fault_of(f);
  if (!fr) return BL_EMISUSE;
  fr->stale_left = m;
  return BL_OK;
}

int bl__fault_reset(bl_remote *f) {
  fault_remote *fr = fault_of(f);
  if (!fr) return BL_EMISUSE;
  memset(fr->triggers, 0, sizeof fr->triggers);
  fr->stale_left = 0;
  return BL_OK;
}

uint64_t bl__fault_calls(const bl_remote *f, bl__fault_op op) {
  const fault_remote *fr = fault_of(f);
  if (!fr || (unsigned)op > BL__FAULT_ANY) return 0;
  if (op != BL__FAULT_ANY) return fr->calls[op];
  uint64_t total = 0;
  for (size_t i = 0; i < FAULT_NKINDS; i++) total += fr->calls[i];
  return total;
}

int bl__fault_reset_calls(bl_remote *f) {
  fault_remote *fr = fault_of(f);
  if (!fr) return BL_EMISUSE;
  memset(fr->calls, 0, sizeof fr->calls);
  return BL_OK;
}
