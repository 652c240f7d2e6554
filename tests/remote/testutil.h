/*
 * testutil.h — file-system helpers shared by the remote tests.
 */
#ifndef BL_TESTS_REMOTE_TESTUTIL_H
#define BL_TESTS_REMOTE_TESTUTIL_H

#include <stddef.h>

/* A new empty directory under $TMPDIR (or /tmp), malloc'ed; NULL on failure. */
char *rt_mkdtemp(void);

/* Removes `path` and everything below it (symbolic links are not followed). */
void rt_rm_rf(const char *path);

/* "<dir>/<name>", malloc'ed. */
char *rt_join(const char *dir, const char *name);

/* Entries of directory `dir` on disk, "." and ".." left out (hidden and
 * temporary files included); -1 when it cannot be read. */
long rt_count_entries(const char *dir);

#endif
