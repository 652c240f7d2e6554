/*
 * fault.h — a fault-injecting remote, for tests (internal).
 *
 * bl__remote_fault_new wraps any remote (borrowed) in one that passes every
 * call through, counts calls per kind, and on demand:
 *
 *   - fails the n-th call (of one kind, or of any kind) with a given code,
 *     before it reaches the inner remote (nothing is written), or after (the
 *     inner remote did the work, the caller sees an error: a lost response);
 *   - keeps failing from the n-th call on (an outage) until disarmed;
 *   - tears the n-th write: only its first `keep` bytes reach the inner
 *     remote, then it reports success or a given error (a non-atomic store
 *     interrupted mid-upload);
 *   - calls a "crash" callback just before or just after performing the
 *     n-th call (a crash harness makes it _exit or raise SIGKILL);
 *   - serves stale listings: for the next m list calls, a path listed before
 *     gets the result of its last real listing (an eventually-consistent
 *     store). The wrapper remembers the last listing of the 16 most recently
 *     listed paths.
 *
 * The inner remote's change feed and request count pass through untouched
 * (no trigger applies to them); batches (read_many, write_many) reach the
 * wrapper one file at a time, so each file meets the triggers.
 *
 * Counting: "n" always counts matching calls made after the arming call,
 * n = 1 being the next one. Every call that reaches the wrapper counts,
 * failed or not; calls the dispatchers reject (a bad path) never reach it.
 * Up to BL__FAULT_MAX_TRIGGERS failures, tears and crashes can be armed at
 * once; several firing on one call act in this order: crash callbacks
 * "before", an injected failure (the call stops there), the operation (torn
 * if a tear fired), crash callbacks "after", a failure "after".
 *
 * The wrapper is a bl_remote like any other: use it through bl_remote_list
 * etc. and free it with bl_remote_free (the inner remote stays the
 * caller's). The functions below return BL_EMISUSE when `f` is not a fault
 * remote or an argument is out of range.
 */
#ifndef BL_REMOTE_FAULT_H
#define BL_REMOTE_FAULT_H

#include <stdint.h>

#include "backless/remote.h"

/* The kinds of call. BL__FAULT_ANY matches all of them when arming, and
 * gives the total in bl__fault_calls. */
typedef enum bl__fault_op {
  BL__FAULT_LIST = 0,
  BL__FAULT_READ,
  BL__FAULT_WRITE,
  BL__FAULT_REMOVE,
  BL__FAULT_MKDIR,
  BL__FAULT_ANY
} bl__fault_op;

#define BL__FAULT_MAX_TRIGGERS 8

/* When a crash callback runs relative to the operation it interrupts. */
#define BL__FAULT_BEFORE 0
#define BL__FAULT_AFTER 1

/* Called at a crash point with the call's kind and path. It normally never
 * returns (_exit, SIGKILL); if it does, the call goes on as if nothing had
 * happened. */
typedef void (*bl__fault_crash_fn)(bl__fault_op op, const char *path, void *payload);

/* Wraps `inner` (borrowed; it must outlive the wrapper). On success *out is
 * freed with bl_remote_free; BL_ENOMEM or BL_EMISUSE otherwise. */
int bl__remote_fault_new(bl_remote **out, bl_remote *inner);

/* The n-th call of kind `op` from now fails with `code` (a negative BL_E*)
 * without reaching the inner remote. */
int bl__fault_fail(bl_remote *f, bl__fault_op op, unsigned n, int code);

/* The n-th call of kind `op` from now is performed by the inner remote,
 * then reports `code` (if it succeeded; a real error is reported as is). */
int bl__fault_fail_after(bl_remote *f, bl__fault_op op, unsigned n, int code);

/* The n-th call of kind `op` from now and every one after it fail with
 * `code` without reaching the inner remote, until bl__fault_reset. */
int bl__fault_fail_from(bl_remote *f, bl__fault_op op, unsigned n, int code);

/* The n-th write from now stores only the first `keep` bytes of its content
 * (all of it if it is shorter), then returns `code`: BL_OK to report
 * success, or an error to report the upload as failed. */
int bl__fault_tear_write(bl_remote *f, unsigned n, int64_t keep, int code);

/* At the n-th call of kind `op` from now, calls fn(op, path, payload),
 * `when` being BL__FAULT_BEFORE or BL__FAULT_AFTER the operation. */
int bl__fault_crash(bl_remote *f, bl__fault_op op, unsigned n, int when, bl__fault_crash_fn fn,
                    void *payload);

/* The next `m` list calls are stale: each returns the last real listing of
 * its path, or goes to the inner remote when the path was never listed
 * (that call still counts among the m). m = 0 ends stale mode. */
int bl__fault_stale_lists(bl_remote *f, unsigned m);

/* Disarms every failure, tear and crash and ends stale mode. Counters and
 * remembered listings are kept. */
int bl__fault_reset(bl_remote *f);

/* Calls of kind `op` made so far (BL__FAULT_ANY: all of them), 0 when `f`
 * is not a fault remote. */
uint64_t bl__fault_calls(const bl_remote *f, bl__fault_op op);

/* Sets every counter back to 0 (armed triggers keep their own countdown). */
int bl__fault_reset_calls(bl_remote *f);

/* "list", "read", "write", "remove", "mkdir", "any". */
const char *bl__fault_op_name(bl__fault_op op);

#endif /* BL_REMOTE_FAULT_H */
