/*
 * gdrive_changes.c — the change feed of the Google Drive backend (the
 * `changes` member): which folders below a path had files change since a
 * token, from Drive's changes.list.
 *
 * Drive's feed covers the whole drive and names a changed file's parent by
 * id, so:
 *   - The token carries the followed folder's id with Drive's page token
 *     (bl__gdrive_token_make), and an idle call is one request even in a
 *     fresh process. A token of another path, a folder replaced since, or a
 *     page token Drive refuses starts afresh (all = 1).
 *   - Parent ids are mapped to paths through the id map (gdrive_cache.c):
 *     folders the feed itself reports first, then a walk up the tree of at
 *     most GDRIVE_WALK files.get requests for each parent of a changed
 *     file; past that, all = 1.
 * It is apart from gdrive.c because it answers another question than the
 * file members (what changed, not what is there) with its own requests.
 *
 * Divided into: mapping changes to folders; tokens; the member.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"
#include "backless/remote.h"
#include "net/http.h"
#include "remote/gdrive_internal.h"

/* files.get requests one change may cost to find its folder's path. */
#define GDRIVE_WALK 4

/* ----------------------------------------------- mapping changes to folders */

/* The folders a feed reports, without duplicates. */
static int gd_add_folder(bl_remote_changes *out, const char *p) {
  for (size_t i = 0; i < out->nfolders; i++)
    if (strcmp(out->folders[i], p) == 0) return BL_OK;
  char **grown = realloc(out->folders, (out->nfolders + 1) * sizeof *grown);
  if (!grown) return BL_ENOMEM;
  out->folders = grown;
  if (!(grown[out->nfolders] = bl__gd_strdup(p))) return BL_ENOMEM;
  out->nfolders++;
  return BL_OK;
}

/*
 * Maps folder `id` to its path when it is `path` (folder `pid`) or below
 * it: 1 with *out malloc'ed, 0 when it is not below path (or is gone), 2
 * when it cannot tell within *budget more files.get requests, or a failure.
 */
static int gd_walk(gdrive_remote *gr, const char *id, const char *pid, const char *path,
                   int *budget, char **out) {
  const char *chain[64];
  size_t depth = 0;
  const char *cur = id, *base = NULL;
  *out = NULL;
  while (!base) {
    if (strcmp(cur, pid) == 0) {
      base = path;
      break;
    }
    gd_node *x = bl__gd_map_find(&gr->ids, cur);
    if (x && x->path) {
      if (!bl__gd_below(x->path, path)) return 0;
      base = x->path;
      break;
    }
    if (x) {
      if (!x->parent || depth == sizeof chain / sizeof chain[0]) return 0;
      chain[depth++] = x->name;
      cur = x->parent;
      continue;
    }
    if (*budget <= 0) return 2;
    (*budget)--;
    char *url = bl__gd_url_file(cur, "?fields=id%2Cname%2Cparents%2CmimeType");
    if (!url) return bl__gd_nomem(gr);
    bl__http_request req = {.method = "GET", .url = url};
    int rc = bl__gd_perform(gr, &req);
    bl__gdrive_file f = {0};
    if (rc == BL_OK) rc = bl__gd_upload_result(gr, &req, &f);
    if (rc == BL_OK &&
        bl__gd_idmap_set_link(gr, cur, f.name, f.nparents ? f.parents[0] : NULL) != BL_OK)
      rc = bl__gd_nomem(gr);
    bl__gdrive_file_clear(&f);
    bl__http_request_clear(&req);
    free(url);
    if (rc == BL_ENOTFOUND) return 0; /* deleted since: nothing to fetch there */
    if (rc != BL_OK) return rc;
  }
  gd_str s = {0};
  bl__gd_str_add(&s, base);
  for (size_t i = depth; i-- > 0;) {
    if (s.len) bl__gd_str_add(&s, "/");
    bl__gd_str_add(&s, chain[i]);
  }
  return (*out = bl__gd_str_take(&s)) ? 1 : bl__gd_nomem(gr);
}

/* Fills out from the changes of a feed below `path` (folder pid). */
static int gd_map_changes(gdrive_remote *gr, const bl__gdrive_changes *ch, const char *path,
                          const char *pid, bl_remote_changes *out) {
  /* Folders first: what they say of their place costs no request. */
  for (size_t i = 0; i < ch->n; i++) {
    const bl__gdrive_change *c = &ch->changes[i];
    if (strcmp(c->file_id, pid) == 0 && (c->removed || (c->has_file && c->file.trashed)))
      out->all = 1; /* the folder itself went away */
    if (c->removed || !c->has_file || !c->file.is_folder || c->file.trashed) continue;
    if (bl__gd_map_find(&gr->ids, c->file.id)) continue;
    if (bl__gd_idmap_set_link(gr, c->file.id, c->file.name,
                              c->file.nparents ? c->file.parents[0] : NULL) != BL_OK)
      return bl__gd_nomem(gr);
  }
  for (size_t i = 0; i < ch->n && !out->all; i++) {
    const bl__gdrive_change *c = &ch->changes[i];
    if (c->removed || !c->has_file || c->file.is_folder || c->file.trashed) continue;
    for (size_t p = 0; p < c->file.nparents; p++) {
      int budget = GDRIVE_WALK;
      char *folder = NULL;
      int k = gd_walk(gr, c->file.parents[p], pid, path, &budget, &folder);
      if (k < 0) return k;
      if (k == 2) out->all = 1;
      if (k == 1 && gd_add_folder(out, folder) != BL_OK) k = bl__gd_nomem(gr);
      free(folder);
      if (k < 0) return k;
    }
  }
  return BL_OK;
}

/* ------------------------------------------------------------------ tokens */

/* The real id of "root" (parents name it so), asked for once. */
static int gd_root_id(gdrive_remote *gr, const char **id) {
  if (!gr->root_id) {
    bl__http_request req = {.method = "GET", .url = "/drive/v3/files/root?fields=id"};
    int rc = bl__gd_perform(gr, &req);
    bl__gdrive_file f = {0};
    if (rc == BL_OK && (rc = bl__gd_upload_result(gr, &req, &f)) == BL_OK) {
      gr->root_id = f.id;
      f.id = NULL;
      if (bl__gd_idmap_set_path(gr, gr->root_id, "") != BL_OK) rc = bl__gd_nomem(gr);
    }
    bl__gdrive_file_clear(&f);
    bl__http_request_clear(&req);
    if (rc != BL_OK) return rc;
  }
  *id = gr->root_id;
  return BL_OK;
}

/* A first call (or a token that cannot be used): a new start token and the
 * folder's id, all = 1. No feed (404) or no folder: all = 1, no token. */
static int gd_changes_start(gdrive_remote *gr, const char *path, bl_remote_changes *out) {
  out->all = 1;
  bl__http_request req = {.method = "GET", .url = "/drive/v3/changes/startPageToken"};
  int rc = bl__gd_perform(gr, &req);
  char *start = NULL, *pid = NULL, err[200];
  if (rc == BL_OK) {
    rc = bl__gdrive_parse_start_token(req.response, req.response_len, &start, err, sizeof err);
    if (rc != BL_OK) bl__gd_bad_answer(gr, rc, err);
  } else if (rc == BL_ENOTFOUND) {
    rc = BL_OK; /* no change feed here: always list */
    goto done;
  }
  if (rc != BL_OK) goto done;
  if (!*path) {
    const char *root;
    if ((rc = gd_root_id(gr, &root)) == BL_OK && !(pid = bl__gd_strdup(root)))
      rc = bl__gd_nomem(gr);
  } else {
    rc = bl__gd_folder_id(gr, path, &pid, NULL);
    if (rc == BL_ENOTFOUND) {
      rc = BL_OK; /* nothing to follow yet: the caller lists (and finds nothing) */
      goto done;
    }
  }
  /* NULL when the id or Drive's token cannot be carried: then the caller
   * lists every time. */
  if (rc == BL_OK) out->token = bl__gdrive_token_make(path, pid, start);
done:
  bl__http_request_clear(&req);
  free(start);
  free(pid);
  return rc;
}

/* 1 when the feed says the token is no good (a 4xx other than auth and
 * rate limits): start afresh. */
static int gd_token_refused(const bl__http_request *req) {
  return (req->rc == BL_EIO || req->rc == BL_ENOTFOUND) && req->status >= 400 && req->status < 500;
}

/* -------------------------------------------------------------- the member */

int bl__gd_changes(bl_remote *r, const char *path, const char *since, bl_remote_changes *out) {
  gdrive_remote *gr = (gdrive_remote *)r;
  uint64_t hash = 0;
  char *pid = NULL, *page = NULL;
  bl__gdrive_changes all = {0};
  int rc = BL_OK;
  int ok = since ? bl__gdrive_token_parse(since, &hash, &pid, &page) : 0;
  if (ok < 0) {
    rc = bl__gd_nomem(gr);
    goto done;
  }
  gd_node *x = bl__gd_map_find(&gr->paths, path);
  int usable = ok == 1 && hash == bl__gdrive_path_hash(path) &&
               (!x || !*path || (x->is_folder && strcmp(x->ids[0], pid) == 0)) &&
               (*path || !gr->root_id || strcmp(gr->root_id, pid) == 0);
  if (!usable) {
    rc = gd_changes_start(gr, path, out);
    goto done;
  }
  /* Every page of the feed; the last one gives the token for next time. */
  for (;;) {
    gd_str u = {0};
    bl__gd_str_add(&u, "/drive/v3/changes?pageToken=");
    bl__gd_str_enc(&u, page);
    bl__gd_str_add(&u, "&pageSize=1000&includeRemoved=true&fields=");
    bl__gd_str_enc(
        &u,
        "nextPageToken,newStartPageToken,changes(fileId,removed,file(id,name,mimeType,parents,"
        "trashed))");
    char *url = bl__gd_str_take(&u);
    if (!url) {
      rc = bl__gd_nomem(gr);
      goto done;
    }
    bl__http_request req = {.method = "GET", .url = url};
    rc = bl__gd_perform(gr, &req);
    free(url);
    int refused = rc != BL_OK && gd_token_refused(&req);
    bl__gdrive_changes pg = {0};
    char err[200];
    if (rc == BL_OK) {
      rc = bl__gdrive_parse_changes(req.response, req.response_len, &pg, err, sizeof err);
      if (rc != BL_OK) bl__gd_bad_answer(gr, rc, err);
    }
    bl__http_request_clear(&req);
    if (refused) {
      /* Expired or foreign: start again, and the caller lists. */
      bl__gdrive_changes_clear(&all);
      rc = gd_changes_start(gr, path, out);
      goto done;
    }
    if (rc != BL_OK) goto done;
    if (pg.n) {
      bl__gdrive_change *grown = realloc(all.changes, (all.n + pg.n) * sizeof *grown);
      if (!grown) {
        bl__gdrive_changes_clear(&pg);
        rc = bl__gd_nomem(gr);
        goto done;
      }
      all.changes = grown;
      memcpy(all.changes + all.n, pg.changes, pg.n * sizeof *grown);
      all.n += pg.n;
      pg.n = 0;
    }
    free(page);
    page = NULL;
    if (pg.new_start_page_token) {
      all.new_start_page_token = pg.new_start_page_token;
      pg.new_start_page_token = NULL;
    } else {
      page = pg.next_page_token;
      pg.next_page_token = NULL;
    }
    bl__gdrive_changes_clear(&pg);
    if (!page) break;
  }
  out->token = bl__gdrive_token_make(path, pid, all.new_start_page_token);
  if (!out->token) {
    /* A token Drive sends that ours cannot carry: every time from scratch. */
    out->all = 1;
    goto done;
  }
  if (bl__gd_idmap_set_path(gr, pid, path) != BL_OK) {
    rc = bl__gd_nomem(gr);
    goto done;
  }
  rc = gd_map_changes(gr, &all, path, pid, out);
  if (rc == BL_OK && out->all) {
    for (size_t i = 0; i < out->nfolders; i++) free(out->folders[i]);
    free(out->folders);
    out->folders = NULL;
    out->nfolders = 0;
  }
done:
  bl__gdrive_changes_clear(&all);
  free(pid);
  free(page);
  return rc == BL_OK ? BL_OK : bl__gd_fail(gr, rc, "following changes below", path);
}
