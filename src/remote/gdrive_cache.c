/*
 * gdrive_cache.c — what the Google Drive backend knows of the drive's tree,
 * and how it learns it: Drive addresses files by id, the backend's callers
 * by path, and every request spared comes from here.
 *
 *   - The path cache maps a path to the id of its folder or to the ids of a
 *     file's copies (newest first) with their MD5s. Every answer fills it: a
 *     listing (which also forgets what it no longer shows), a lookup of
 *     names, an upload. A listing or a lookup caches every copy of a name.
 *   - The id map goes the other way for the change feed: a folder's id to
 *     its path, or to the name and parent a walk up the tree learned.
 *   - files.list with every page, lookups of many names of one folder in a
 *     query, and the resolution of a path component by component from
 *     "root".
 * It is apart from gdrive.c because it is the one piece every member uses
 * and it keeps its own invariants (a folder node has one id; dropping a
 * folder drops what is below it).
 *
 * Divided into: the hash maps; the path cache and the id map; files.list
 * and lookups; resolving paths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backless.h"
#include "net/http.h"
#include "remote/gdrive_internal.h"

/* Names looked up by one files.list query ("name = 'a' or name = 'b' ..."). */
#define GDRIVE_NAMES_PER_QUERY 40

/* --------------------------------------------------------------- hash maps */

static uint64_t map_hash(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}

static void node_clear(gd_node *x) {
  for (size_t i = 0; i < x->nids; i++) {
    free(x->ids[i]);
    if (x->md5s) free(x->md5s[i]);
  }
  free(x->ids);
  free(x->md5s);
  x->md5s = NULL;
  free(x->path);
  free(x->name);
  free(x->parent);
  x->ids = NULL;
  x->nids = 0;
  x->path = x->name = x->parent = NULL;
}

static void node_free(gd_node *x) {
  node_clear(x);
  free(x->key);
  free(x);
}

gd_node *bl__gd_map_find(const gd_map *m, const char *key) {
  if (!m->nb) return NULL;
  for (gd_node *x = m->b[map_hash(key) % m->nb]; x; x = x->next)
    if (strcmp(x->key, key) == 0) return x;
  return NULL;
}

/* The node of key, created empty when absent; NULL without memory. */
static gd_node *map_get(gd_map *m, const char *key) {
  gd_node *x = bl__gd_map_find(m, key);
  if (x) return x;
  if (m->n >= m->nb) {
    size_t nb = m->nb ? m->nb * 2 : 64;
    gd_node **b = calloc(nb, sizeof *b);
    if (!b) return NULL;
    for (size_t i = 0; i < m->nb; i++)
      for (gd_node *y = m->b[i], *next; y; y = next) {
        next = y->next;
        size_t k = map_hash(y->key) % nb;
        y->next = b[k];
        b[k] = y;
      }
    free(m->b);
    m->b = b;
    m->nb = nb;
  }
  if (!(x = calloc(1, sizeof *x)) || !(x->key = bl__gd_strdup(key))) {
    free(x);
    return NULL;
  }
  size_t k = map_hash(key) % m->nb;
  x->next = m->b[k];
  m->b[k] = x;
  m->n++;
  return x;
}

static void map_free(gd_map *m) {
  for (size_t i = 0; i < m->nb; i++)
    for (gd_node *x = m->b[i], *next; x; x = next) {
      next = x->next;
      node_free(x);
    }
  free(m->b);
  memset(m, 0, sizeof *m);
}

/* ------------------------------------------------ path cache and id map */

/* Forgets path and everything below it (never the root). Only a folder
 * has anything below it: a file costs no scan of the cache. */
void bl__gd_cache_drop(gdrive_remote *gr, const char *path) {
  if (!*path) return;
  gd_map *m = &gr->paths;
  gd_node *f = bl__gd_map_find(m, path);
  if (!f || !f->is_folder) {
    for (gd_node **pp = m->nb ? &m->b[map_hash(path) % m->nb] : NULL; pp && *pp; pp = &(*pp)->next)
      if (*pp == f) {
        *pp = f->next;
        node_free(f);
        m->n--;
        break;
      }
    return;
  }
  for (size_t i = 0; i < m->nb; i++)
    for (gd_node **pp = &m->b[i]; *pp;) {
      gd_node *x = *pp;
      if (bl__gd_below(x->key, path)) {
        *pp = x->next;
        node_free(x);
        m->n--;
      } else {
        pp = &x->next;
      }
    }
}

/* Remembers that folder `id` is at `path` (for the change feed). */
int bl__gd_idmap_set_path(gdrive_remote *gr, const char *id, const char *path) {
  gd_node *x = map_get(&gr->ids, id);
  char *p = bl__gd_strdup(path);
  if (!x || !p) {
    free(p);
    return BL_ENOMEM;
  }
  node_clear(x);
  x->path = p;
  return BL_OK;
}

/* Remembers what a walk learned of folder `id`, unless its path is known. */
int bl__gd_idmap_set_link(gdrive_remote *gr, const char *id, const char *name, const char *parent) {
  gd_node *x = map_get(&gr->ids, id);
  if (!x) return BL_ENOMEM;
  if (x->path) return BL_OK;
  node_clear(x);
  x->name = bl__gd_strdup(name);
  x->parent = parent ? bl__gd_strdup(parent) : NULL;
  if (!x->name || (parent && !x->parent)) return BL_ENOMEM;
  return BL_OK;
}

/* Caches path as the folder `id`; what was cached below it under another id
 * is forgotten. */
int bl__gd_cache_put_folder(gdrive_remote *gr, const char *path, const char *id) {
  gd_node *x = bl__gd_map_find(&gr->paths, path);
  if (x && (!x->is_folder || strcmp(x->ids[0], id) != 0)) {
    bl__gd_cache_drop(gr, path);
    x = NULL;
  }
  if (!x) {
    if (!(x = map_get(&gr->paths, path))) return BL_ENOMEM;
    if (!(x->ids = malloc(sizeof *x->ids)) || !(x->ids[0] = bl__gd_strdup(id))) {
      free(x->ids);
      x->ids = NULL;
      bl__gd_cache_drop(gr, path);
      return BL_ENOMEM;
    }
    x->nids = 1;
    x->is_folder = 1;
  }
  x->stamp = gr->stamp;
  return bl__gd_idmap_set_path(gr, id, path);
}

/* Caches path as the file whose copies are f[0..n) (newest first), each
 * with its MD5 when Drive gave one: every copy the answer showed, for a
 * read compares them (bl__gd_copies_agree). */
int bl__gd_cache_put_files(gdrive_remote *gr, const char *path, const bl__gdrive_file *f,
                           size_t n) {
  gd_node *x = bl__gd_map_find(&gr->paths, path);
  if (x && x->is_folder) bl__gd_cache_drop(gr, path);
  if (!(x = map_get(&gr->paths, path))) return BL_ENOMEM;
  node_clear(x);
  x->is_folder = 0;
  x->stamp = gr->stamp;
  if (!(x->ids = calloc(n, sizeof *x->ids)) || !(x->md5s = calloc(n, sizeof *x->md5s))) goto nomem;
  for (; x->nids < n; x->nids++) {
    const bl__gdrive_file *c = &f[x->nids];
    /* node_clear frees nids entries: a half-made one is freed here */
    char *id = bl__gd_strdup(c->id), *md5 = c->md5 ? bl__gd_strdup(c->md5) : NULL;
    if (!id || (c->md5 && !md5)) {
      free(id);
      free(md5);
      goto nomem;
    }
    x->ids[x->nids] = id;
    x->md5s[x->nids] = md5;
  }
  return BL_OK;
nomem:
  bl__gd_cache_drop(gr, path);
  return BL_ENOMEM;
}

/* The cached ids of a node, copied (the cache may change meanwhile). */
char **bl__gd_ids_copy(const gd_node *x, size_t *n) {
  char **ids = calloc(x->nids ? x->nids : 1, sizeof *ids);
  if (!ids) return NULL;
  for (size_t i = 0; i < x->nids; i++)
    if (!(ids[i] = bl__gd_strdup(x->ids[i]))) {
      for (size_t k = 0; k < i; k++) free(ids[k]);
      free(ids);
      return NULL;
    }
  *n = x->nids;
  return ids;
}

void bl__gd_ids_free(char **ids, size_t n) {
  for (size_t i = 0; ids && i < n; i++) free(ids[i]);
  free(ids);
}

/* Orders the files of a listing by name, folders first, each kind in the
 * order of its duplicates. */
static int gd_cmp_group(const void *a, const void *b) {
  const bl__gdrive_file *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  if (x->is_folder != y->is_folder) return x->is_folder ? -1 : 1;
  return x->is_folder ? bl__gdrive_cmp_folders(a, b) : bl__gdrive_cmp_files(a, b);
}

/* Caches every name of files[0..n), children of folder `dir` (sorted
 * here). A name with a folder is that folder; else the file's copies. */
int bl__gd_cache_children(gdrive_remote *gr, const char *dir, bl__gdrive_file *files, size_t n) {
  if (n) qsort(files, n, sizeof *files, gd_cmp_group);
  for (size_t i = 0, j; i < n; i = j) {
    for (j = i + 1; j < n && strcmp(files[j].name, files[i].name) == 0;) j++;
    const char *name = files[i].name;
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) continue;
    char *p = bl__gd_join(dir, name);
    if (!p) return BL_ENOMEM;
    size_t nfiles = j - i;
    int rc = files[i].is_folder ? bl__gd_cache_put_folder(gr, p, files[i].id)
                                : bl__gd_cache_put_files(gr, p, files + i, nfiles);
    free(p);
    if (rc != BL_OK) return rc;
  }
  return BL_OK;
}

/* After a listing of `dir`: forgets the children cached before it that
 * the listing did not show (stamp older than the listing's). */
int bl__gd_cache_sweep(gdrive_remote *gr, const char *dir) {
  size_t dl = strlen(dir), cap = 0, n = 0;
  char **stale = NULL;
  int rc = BL_OK;
  for (size_t i = 0; i < gr->paths.nb; i++)
    for (gd_node *x = gr->paths.b[i]; x; x = x->next) {
      const char *k = x->key;
      if (!*k || x->stamp == gr->stamp) continue;
      if (dl && (strncmp(k, dir, dl) != 0 || k[dl] != '/')) continue;
      if (strchr(k + (dl ? dl + 1 : 0), '/')) continue;
      if (n == cap) {
        size_t nc = cap ? cap * 2 : 8;
        char **grown = realloc(stale, nc * sizeof *grown);
        if (!grown) {
          rc = BL_ENOMEM;
          goto done;
        }
        stale = grown;
        cap = nc;
      }
      if (!(stale[n] = bl__gd_strdup(k))) {
        rc = BL_ENOMEM;
        goto done;
      }
      n++;
    }
done:
  for (size_t i = 0; i < n; i++) {
    bl__gd_cache_drop(gr, stale[i]);
    free(stale[i]);
  }
  free(stale);
  return rc;
}

/* Sets up the cache of a new remote: the root is always known, as the folder
 * Drive calls "root". BL_OK or BL_ENOMEM (what was made is freed by
 * bl__gd_cache_free). */
int bl__gd_cache_init(gdrive_remote *gr) {
  gd_node *root = map_get(&gr->paths, "");
  if (!root || !(root->ids = malloc(sizeof *root->ids)) || !(root->ids[0] = bl__gd_strdup("root")))
    return BL_ENOMEM;
  root->nids = 1;
  root->is_folder = 1;
  return bl__gd_idmap_set_path(gr, "root", "");
}

/* Frees both maps (the remote itself is the caller's). */
void bl__gd_cache_free(gdrive_remote *gr) {
  map_free(&gr->paths);
  map_free(&gr->ids);
}

/* ------------------------------------------------ files.list and lookups */

/* Moves the files of page into *all. */
static int gd_list_append(bl__gdrive_list *all, bl__gdrive_list *page) {
  if (page->n) {
    bl__gdrive_file *grown = realloc(all->files, (all->n + page->n) * sizeof *grown);
    if (!grown) return BL_ENOMEM;
    all->files = grown;
    memcpy(all->files + all->n, page->files, page->n * sizeof *grown);
    all->n += page->n;
    page->n = 0;
  }
  return BL_OK;
}

/* files.list with query q, every page, appended to *out. */
int bl__gd_files_list(gdrive_remote *gr, const char *q, bl__gdrive_list *out) {
  int rc = BL_OK;
  char *page = NULL;
  for (;;) {
    gd_str u = {0};
    bl__gd_str_add(&u, "/drive/v3/files?q=");
    bl__gd_str_enc(&u, q);
    bl__gd_str_add(&u, "&pageSize=1000&fields=");
    bl__gd_str_enc(&u, "nextPageToken,files(" BL__GDRIVE_FIELDS ")");
    if (page) {
      bl__gd_str_add(&u, "&pageToken=");
      bl__gd_str_enc(&u, page);
    }
    char *url = bl__gd_str_take(&u);
    if (!url) {
      rc = bl__gd_nomem(gr);
      break;
    }
    bl__http_request req = {.method = "GET", .url = url};
    rc = bl__gd_perform(gr, &req);
    free(url);
    bl__gdrive_list pg;
    char err[200];
    if (rc == BL_OK) {
      rc = bl__gdrive_parse_list(req.response, req.response_len, &pg, err, sizeof err);
      if (rc != BL_OK) bl__gd_bad_answer(gr, rc, err);
    }
    bl__http_request_clear(&req);
    if (rc != BL_OK) break;
    rc = gd_list_append(out, &pg);
    free(page);
    page = pg.next_page_token;
    pg.next_page_token = NULL;
    bl__gdrive_list_clear(&pg);
    if (rc != BL_OK) {
      bl__gd_nomem(gr);
      break;
    }
    if (!page) break;
  }
  free(page);
  return rc;
}

/*
 * Looks names[0..n) up in folder `parent_id` (at path `dir`) and caches
 * what exists of them, all copies. Names not found are forgotten.
 */
int bl__gd_lookup_names(gdrive_remote *gr, const char *dir, const char *parent_id,
                        const char *const *names, size_t n) {
  int rc = BL_OK;
  for (size_t at = 0; at < n && rc == BL_OK; at += GDRIVE_NAMES_PER_QUERY) {
    size_t k = n - at < GDRIVE_NAMES_PER_QUERY ? n - at : GDRIVE_NAMES_PER_QUERY;
    gd_str q = {0};
    char *pid = bl__gdrive_q_literal(parent_id);
    if (!pid) return bl__gd_nomem(gr);
    if (k == 1)
      bl__gd_str_add(&q, "name = ");
    else
      bl__gd_str_add(&q, "(");
    for (size_t i = 0; i < k; i++) {
      char *lit = bl__gdrive_q_literal(names[at + i]);
      if (!lit) q.oom = 1;
      if (k > 1) bl__gd_str_add(&q, i ? " or name = " : "name = ");
      if (lit) bl__gd_str_add(&q, lit);
      free(lit);
    }
    if (k > 1) bl__gd_str_add(&q, ")");
    bl__gd_str_add(&q, " and ");
    bl__gd_str_add(&q, pid);
    bl__gd_str_add(&q, " in parents and trashed = false");
    free(pid);
    char *qs = bl__gd_str_take(&q);
    if (!qs) return bl__gd_nomem(gr);
    bl__gdrive_list found = {0};
    rc = bl__gd_files_list(gr, qs, &found);
    free(qs);
    for (size_t i = 0; rc == BL_OK && i < k; i++) {
      char *p = bl__gd_join(dir, names[at + i]);
      if (!p)
        rc = bl__gd_nomem(gr);
      else
        bl__gd_cache_drop(gr, p);
      free(p);
    }
    if (rc == BL_OK && (rc = bl__gd_cache_children(gr, dir, found.files, found.n)) != BL_OK)
      bl__gd_nomem(gr);
    bl__gdrive_list_clear(&found);
  }
  return rc;
}

/* --------------------------------------------------------- resolving paths */

/*
 * The cache node of `path`, asking Drive for each component not cached yet.
 * Returns BL_OK with *out (valid until the cache next changes),
 * BL_ENOTFOUND with a reason naming the missing component, or another
 * failure. The root is the folder "root".
 */
int bl__gd_resolve(gdrive_remote *gr, const char *path, gd_node **out) {
  gd_node *x = bl__gd_map_find(&gr->paths, path);
  if (x) {
    *out = x;
    return BL_OK;
  }
  int rc = BL_OK;
  char *parent_id = bl__gd_strdup("root"), *prefix = bl__gd_strdup(path);
  if (!parent_id || !prefix) {
    rc = bl__gd_nomem(gr);
    goto done;
  }
  for (size_t at = 0;;) {
    size_t len = strcspn(path + at, "/");
    prefix[at + len] = '\0';
    const char *name = prefix + at;
    char *dir = bl__gd_strdup(prefix);
    if (!dir) {
      rc = bl__gd_nomem(gr);
      goto done;
    }
    dir[at ? at - 1 : 0] = '\0';
    x = bl__gd_map_find(&gr->paths, prefix);
    if (!x) {
      rc = bl__gd_lookup_names(gr, dir, parent_id, &name, 1);
      x = rc == BL_OK ? bl__gd_map_find(&gr->paths, prefix) : NULL;
      if (rc == BL_OK && !x) {
        rc = BL_ENOTFOUND;
        if (*dir)
          bl__gd_why(gr, "'%s' does not exist (no '%s' in folder '%s')", path, name, dir);
        else
          bl__gd_why(gr, "'%s' does not exist", path);
      }
    }
    free(dir);
    if (rc != BL_OK) goto done;
    if (!path[at + len]) break;
    if (!x->is_folder) {
      rc = BL_ENOTFOUND;
      bl__gd_why(gr, "'%s' is a file, not a folder", prefix);
      goto done;
    }
    char *next = bl__gd_strdup(x->ids[0]);
    if (!next) {
      rc = bl__gd_nomem(gr);
      goto done;
    }
    free(parent_id);
    parent_id = next;
    prefix[at + len] = '/';
    at += len + 1;
  }
  *out = x;
done:
  free(parent_id);
  free(prefix);
  return rc;
}

/* The id of folder `path` (malloc'ed) or BL_ENOTFOUND when it is missing
 * or a file. *was_cached tells whether no request was needed. */
int bl__gd_folder_id(gdrive_remote *gr, const char *path, char **id, int *was_cached) {
  gd_node *x = NULL;
  *id = NULL;
  if (was_cached) *was_cached = bl__gd_map_find(&gr->paths, path) != NULL;
  int rc = bl__gd_resolve(gr, path, &x);
  if (rc != BL_OK) return rc;
  if (!x->is_folder) {
    bl__gd_why(gr, "'%s' is a file, not a folder", path);
    return BL_ENOTFOUND;
  }
  return (*id = bl__gd_strdup(x->ids[0])) ? BL_OK : bl__gd_nomem(gr);
}
