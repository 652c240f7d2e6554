/*
 * gdrive_batch.c — the batch members of the Google Drive backend,
 * read_many and write_many: many files for few requests.
 *
 * First every path not cached yet is resolved with few requests (the
 * parents, then the names of each parent in one query), then the transfers
 * run at once over bl__http_run_many. A job that fails has its own code and
 * message; a stale id (another device deleted or replaced the file) is
 * retried alone, afresh, through the single-file path (bl__gd_read,
 * bl__gd_write), and so is a read of copies that differ by what the cache
 * knew before the call (they may have been cleaned up since). write_many
 * holds at most GDRIVE_BATCH_BYTES of small files in memory at once; a
 * large file is written alone, streamed in chunks.
 *
 * It is apart from gdrive.c because it is a second way through the same
 * operations, with its own bookkeeping per job.
 *
 * Divided into: resolving many paths; job messages; read_many; write_many.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"
#include "backless/remote.h"
#include "net/http.h"
#include "remote/gdrive_internal.h"

/* Bytes of one window of write_many held in memory at once. */
#define GDRIVE_BATCH_BYTES ((int64_t)32 << 20)

/* ----------------------------------------------------- resolving many paths */

/*
 * Resolves paths[0..n) that are not cached yet with few requests: their
 * parents are resolved, then the names of each parent looked up together.
 * A missing parent or file is no failure here (the caller reports it);
 * other failures are returned (gr->why set).
 */
static int gd_prefetch(gdrive_remote *gr, const char *const *paths, size_t n) {
  int rc = BL_OK;
  unsigned char *done = calloc(n ? n : 1, 1);
  const char **names = malloc((n ? n : 1) * sizeof *names);
  if (!done || !names) {
    rc = bl__gd_nomem(gr);
    goto out;
  }
  for (size_t i = 0; i < n && rc == BL_OK; i++) {
    if (done[i] || bl__gd_map_find(&gr->paths, paths[i])) continue;
    const char *name;
    char *dir = bl__remote_split_path(paths[i], &name), *pid = NULL;
    if (!dir) {
      rc = bl__gd_nomem(gr);
      break;
    }
    size_t k = 0;
    for (size_t j = i; j < n; j++) {
      const char *nj;
      char *dj =
          done[j] || bl__gd_map_find(&gr->paths, paths[j]) ? NULL : bl__remote_split_path(paths[j], &nj);
      if (dj && strcmp(dj, dir) == 0) {
        names[k++] = nj;
        done[j] = 1;
      }
      free(dj);
    }
    rc = bl__gd_folder_id(gr, dir, &pid, NULL);
    if (rc == BL_OK)
      rc = bl__gd_lookup_names(gr, dir, pid, names, k);
    else if (rc == BL_ENOTFOUND)
      rc = BL_OK;
    free(pid);
    free(dir);
  }
out:
  free(done);
  free(names);
  return rc;
}

/* The reason a path that gd_prefetch could not find is missing. */
static void gd_why_missing(gdrive_remote *gr, const char *path) {
  const char *name;
  char *dir = bl__remote_split_path(path, &name);
  gd_node *p = dir ? bl__gd_map_find(&gr->paths, dir) : NULL;
  if (dir && (!p || !p->is_folder))
    bl__gd_why(gr, "folder '%s' does not exist", dir);
  else
    bl__gd_why(gr, "it does not exist");
  free(dir);
}

/* ------------------------------------------------------------ job messages */

/* How many of the first n bytes of s can be kept without cutting a UTF-8
 * sequence in two (a cut lands before a continuation byte's lead). */
static size_t gd_utf8_fit(const char *s, size_t n) {
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  return n;
}

/*
 * Records a job's failure: its code and "<op> '<path>': <why>" in the job's
 * fixed-size message (msg, cap bytes). gr->why may be longer than the whole
 * message and a path has no bound, so both are cut on purpose, each marked
 * with "...": a path longer than a third of the message keeps its end (the
 * file's name tells most), and the reason gets the rest of the room.
 */
static void gd_job_fail(gdrive_remote *gr, int rc, const char *op, const char *path, int *job_rc,
                        char *msg, size_t cap) {
  if (rc == BL_ENOMEM) bl__gd_why(gr, "out of memory");
  *job_rc = rc;
  if (cap == 0) return;
  const char *lead = "";
  size_t plen = strlen(path), pmax = cap / 3;
  if (pmax > 8 && plen > pmax) {
    const char *tail = path + plen - (pmax - 3);
    while (((unsigned char)*tail & 0xC0) == 0x80) tail++;
    path = tail;
    lead = "...";
  }
  int used = snprintf(msg, cap, "%s '%s%s': ", op, lead, path);
  if (used < 0 || (size_t)used + 4 >= cap) return; /* no room for a reason (msg is cut) */
  size_t room = cap - (size_t)used - 1, wlen = strlen(gr->why);
  if (wlen <= room) {
    memcpy(msg + used, gr->why, wlen + 1);
  } else {
    size_t keep = gd_utf8_fit(gr->why, room - 3);
    memcpy(msg + used, gr->why, keep);
    memcpy(msg + used + keep, "...", 4);
  }
}

static void gd_rjob_fail(gdrive_remote *gr, int rc, bl_remote_read_job *j) {
  gd_job_fail(gr, rc, "reading", j->path, &j->rc, j->errmsg, sizeof j->errmsg);
}

static void gd_wjob_fail(gdrive_remote *gr, int rc, bl_remote_write_job *j) {
  gd_job_fail(gr, rc, "writing", j->path, &j->rc, j->errmsg, sizeof j->errmsg);
}

/* --------------------------------------------------------------- read_many */

int bl__gd_read_many(bl_remote *r, bl_remote_read_job *jobs, size_t n) {
  gdrive_remote *gr = (gdrive_remote *)r;
  int rc = BL_OK;
  if (n == 0) return BL_OK; /* the dispatcher's rule too; the arrays below need n > 0 */
  const char **paths = calloc(n, sizeof *paths);
  bl__http_request *reqs = calloc(n, sizeof *reqs);
  bl__http_request **run = calloc(n, sizeof *run);
  gd_sink *sinks = calloc(n, sizeof *sinks);
  char **urls = calloc(n, sizeof *urls);
  unsigned char *cached = calloc(n, 1);
  if (!paths || !reqs || !run || !sinks || !urls || !cached) {
    rc = bl__gd_nomem(gr);
    for (size_t i = 0; i < n; i++) gd_rjob_fail(gr, rc, &jobs[i]);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    paths[i] = jobs[i].path;
    cached[i] = bl__gd_map_find(&gr->paths, paths[i]) != NULL;
  }
  if ((rc = gd_prefetch(gr, paths, n)) != BL_OK) {
    for (size_t i = 0; i < n; i++) gd_rjob_fail(gr, rc, &jobs[i]);
    goto done;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    gd_node *x = bl__gd_map_find(&gr->paths, jobs[i].path);
    int jrc = BL_OK;
    if (!x) {
      gd_why_missing(gr, jobs[i].path);
      jrc = BL_ENOTFOUND;
    } else if (x->is_folder) {
      bl__gd_why(gr, "it is a folder, not a file");
      jrc = BL_EIO;
    } else if ((jrc = bl__gd_copies_agree(gr, x)) != BL_OK) {
      /* Copies that differ. Known from before this call, they may have
       * been cleaned up since: this one alone, looked up afresh (as
       * bl__gd_read explains); just looked up, they are an error now. */
      if (cached[i]) {
        bl__gd_cache_drop(gr, jobs[i].path);
        jrc = bl__gd_read(gr, jobs[i].path, jobs[i].sink, jobs[i].payload);
      }
    } else {
      sinks[i] = (gd_sink){jobs[i].sink, jobs[i].payload, 0};
      jrc = bl__gd_read_request(gr, x->ids[0], &sinks[i], &reqs[i], &urls[i]);
      if (jrc == BL_OK) run[k++] = &reqs[i];
    }
    if (jrc != BL_OK) gd_rjob_fail(gr, jrc, &jobs[i]);
  }
  bl__http_run_many(gr->http, run, k, gr->max_in_flight);
  for (size_t i = 0; i < n; i++) {
    if (!urls[i]) continue;
    int jrc = bl__gd_read_outcome(gr, &reqs[i], &sinks[i]);
    if (jrc == BL_ENOTFOUND && reqs[i].status == 404) {
      /* A stale id: this one alone, resolved afresh. */
      bl__gd_cache_drop(gr, jobs[i].path);
      jrc = bl__gd_read(gr, jobs[i].path, jobs[i].sink, jobs[i].payload);
    }
    if (jrc != BL_OK) gd_rjob_fail(gr, jrc, &jobs[i]);
  }
  rc = BL_OK;
done:
  for (size_t i = 0; reqs && i < n; i++) bl__http_request_clear(&reqs[i]);
  for (size_t i = 0; urls && i < n; i++) free(urls[i]);
  free(paths);
  free(reqs);
  free(run);
  free(sinks);
  free(urls);
  free(cached);
  for (size_t i = 0; i < n; i++)
    if (jobs[i].rc != BL_OK) return bl_remote_set_error(r, jobs[i].rc, "%s", jobs[i].errmsg);
  return rc;
}

/* -------------------------------------------------------------- write_many */

/* One window of write_many: jobs[0..n), each small (mem[i] read). */
static void gd_write_window(gdrive_remote *gr, bl_remote_write_job *jobs, size_t n,
                            unsigned char **mem) {
  const char **paths = malloc(n * sizeof *paths);
  gd_upreq *ups = calloc(n, sizeof *ups);
  bl__http_request **run = calloc(n, sizeof *run);
  char ***ids = calloc(n, sizeof *ids);
  size_t *nids = calloc(n, sizeof *nids);
  int rc = BL_OK;
  if (!paths || !ups || !run || !ids || !nids) {
    rc = bl__gd_nomem(gr);
    goto fail_all;
  }
  for (size_t i = 0; i < n; i++) paths[i] = jobs[i].path;
  if ((rc = gd_prefetch(gr, paths, n)) != BL_OK) goto fail_all;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (jobs[i].rc != BL_OK) continue;
    const char *name;
    char *dir = bl__remote_split_path(jobs[i].path, &name);
    gd_node *p = dir ? bl__gd_map_find(&gr->paths, dir) : NULL,
            *x = bl__gd_map_find(&gr->paths, jobs[i].path);
    int jrc = BL_OK;
    if (!dir) {
      jrc = bl__gd_nomem(gr);
    } else if (!p || !p->is_folder) {
      bl__gd_why(gr, "folder '%s' does not exist", dir);
      jrc = BL_ENOTFOUND;
    } else if (x && x->is_folder) {
      bl__gd_why(gr, "a folder of that name is in the way");
      jrc = BL_EIO;
    } else if (x && !(ids[i] = bl__gd_ids_copy(x, &nids[i]))) {
      jrc = bl__gd_nomem(gr);
    } else {
      jrc = bl__gd_upload_prepare(gr, &ups[i], x ? ids[i][0] : NULL, p->ids[0], name, mem[i],
                                  (size_t)jobs[i].size);
      if (jrc == BL_OK) run[k++] = &ups[i].req;
    }
    free(dir);
    if (jrc != BL_OK) gd_wjob_fail(gr, jrc, &jobs[i]);
  }
  bl__http_run_many(gr->http, run, k, gr->max_in_flight);
  for (size_t i = 0; i < n; i++) {
    if (!ups[i].url || jobs[i].rc != BL_OK) continue; /* not sent */
    bl__http_request *req = &ups[i].req;
    int jrc = req->rc;
    bl__gdrive_file f = {0};
    if (jrc == BL_ENOTFOUND) {
      /* A stale id (the file or its folder went away): alone, afresh. */
      const char *name;
      char *dir = bl__remote_split_path(jobs[i].path, &name);
      if (dir) bl__gd_cache_drop(gr, ids[i] ? jobs[i].path : dir);
      free(dir);
      jrc = bl__gd_write(gr, jobs[i].path, jobs[i].src, jobs[i].size, mem[i]);
    } else if (jrc != BL_OK) {
      bl__gd_why(gr, "%s", req->errmsg);
    } else if ((jrc = bl__gd_upload_result(gr, req, &f)) == BL_OK) {
      if (ids[i]) jrc = bl__gd_delete_copies(gr, ids[i], 1, nids[i]);
      if (jrc == BL_OK && (ids[i] || req->attempts == 1)) {
        jrc = bl__gd_after_upload(gr, jobs[i].path, &f);
      } else if (jrc == BL_OK) {
        const char *name;
        char *dir = bl__remote_split_path(jobs[i].path, &name), *pid = NULL;
        jrc = dir ? bl__gd_folder_id(gr, dir, &pid, NULL) : bl__gd_nomem(gr);
        if (jrc == BL_OK) jrc = bl__gd_dedupe(gr, dir, pid, name, jobs[i].path);
        free(pid);
        free(dir);
      }
    }
    bl__gdrive_file_clear(&f);
    if (jrc != BL_OK) gd_wjob_fail(gr, jrc, &jobs[i]);
  }
  goto done;
fail_all:
  for (size_t i = 0; i < n; i++)
    if (jobs[i].rc == BL_OK) gd_wjob_fail(gr, rc, &jobs[i]);
done:
  for (size_t i = 0; ups && i < n; i++) bl__gd_upload_clear(&ups[i]);
  for (size_t i = 0; ids && i < n; i++) bl__gd_ids_free(ids[i], nids[i]);
  free(paths);
  free(ups);
  free(run);
  free(ids);
  free(nids);
}

int bl__gd_write_many(bl_remote *r, bl_remote_write_job *jobs, size_t n) {
  gdrive_remote *gr = (gdrive_remote *)r;
  for (size_t start = 0; start < n;) {
    /* A window: small jobs up to GDRIVE_BATCH_BYTES in memory at once. */
    size_t end = start;
    int64_t bytes = 0;
    while (end < n && (end == start || bytes + jobs[end].size <= GDRIVE_BATCH_BYTES) &&
           jobs[end].size <= BL__GDRIVE_SIMPLE_MAX)
      bytes += jobs[end++].size;
    if (end == start) {
      /* A large file: alone, streamed in chunks. */
      int rc = bl__gd_write(gr, jobs[start].path, jobs[start].src, jobs[start].size, NULL);
      if (rc != BL_OK) gd_wjob_fail(gr, rc, &jobs[start]);
      start++;
      continue;
    }
    unsigned char **mem = calloc(end - start, sizeof *mem);
    for (size_t i = start; i < end; i++) {
      int rc =
          mem ? bl__gd_slurp(gr, jobs[i].src, jobs[i].size, &mem[i - start]) : bl__gd_nomem(gr);
      if (rc != BL_OK) gd_wjob_fail(gr, rc, &jobs[i]);
    }
    if (mem) gd_write_window(gr, jobs + start, end - start, mem);
    for (size_t i = 0; mem && i < end - start; i++) free(mem[i]);
    free(mem);
    start = end;
  }
  for (size_t i = 0; i < n; i++)
    if (jobs[i].rc != BL_OK) return bl_remote_set_error(r, jobs[i].rc, "%s", jobs[i].errmsg);
  return BL_OK;
}
