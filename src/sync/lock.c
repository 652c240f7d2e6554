/*
 * lock.c — the sync lock: an flock(2) on "<database>-sync.lock".
 *
 * Why a lock file and not an SQLite transaction: a push reads the changes,
 * uploads them and only then records the sequence; holding SQLite's write
 * lock across an upload would block the app's own writes for the length of
 * a network request. flock locks belong to the open file description, so
 * two bl_db handles on one file exclude each other even inside one process,
 * and the kernel drops the lock when a process dies (crash safety).
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "sync/sync_internal.h"

/* How long a sync waits for another one to finish before BL_EBUSY. */
#define LOCK_WAIT_MS 120000

int bl__lock_acquire(bl_db *db, bl_sync_lock *lock) {
  lock->fd = -1;
  if (!db->lock_path) return BL_OK;
  int fd = open(db->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return bl__db_error(db, BL_EIO, "cannot open the sync lock '%s': %s", db->lock_path, strerror(errno));
  for (int waited = 0;; waited += 20) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int e = errno;
      close(fd);
      return bl__db_error(db, BL_EIO, "cannot take the sync lock '%s': %s", db->lock_path, strerror(e));
    }
    if (waited >= LOCK_WAIT_MS) {
      close(fd);
      return bl__db_error(db, BL_EBUSY, "another sync of this database is still running (lock '%s')",
                          db->lock_path);
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  lock->fd = fd;
  return BL_OK;
}

void bl__lock_release(bl_sync_lock *lock) {
  if (lock->fd >= 0) {
    flock(lock->fd, LOCK_UN);
    close(lock->fd);
  }
  lock->fd = -1;
}
