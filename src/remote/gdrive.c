/*
 * gdrive.c — the Google Drive backend (Drive API v3): a remote whose root is
 * the root of My Drive ("gdrive://AppFolderName" names the app folder the
 * application keeps inside it, addressed by path like any other folder).
 *
 * Drive knows files by id, not by path, and allows several files of one
 * name in a folder. So:
 *   - A path is resolved component by component from "root" with files.list
 *     (q = name and parent), and every answer — a lookup or a whole listing
 *     — is remembered in a path cache, so that after a listing a read costs
 *     one request. An id that has gone stale (404) is dropped and the path
 *     resolved once more; an empty listing of a cached folder is checked
 *     (another device may have deleted or recreated it).
 *   - Duplicate folders (two devices creating "App" at once) are resolved
 *     the same way everywhere: the oldest (createdTime, then smallest id)
 *     wins; mkdir that created the younger one deletes it if empty.
 *     Duplicate files: read takes the most recently modified, write updates
 *     it in place and deletes the other copies, remove deletes all, list
 *     shows all.
 *   - Uploads: an existing file is updated in place (PATCH), so a replace
 *     never leaves two files; a new one is created with a multipart upload
 *     (up to 5 MiB) or a resumable session (8 MiB chunks). A create that had
 *     to be retried (the first answer may have been lost after Drive made
 *     the file) looks for the duplicate it may have left.
 *   - The change feed (changes.list) answers "what changed below a folder"
 *     with one request when nothing did: the token carries the folder's id,
 *     and parent ids of changed files are mapped to paths from the cache or
 *     by walking up a few folders (an id map remembers what walks learned).
 * Every request goes through the shared HTTP layer (src/net/http.h), which
 * retries, backs off and refreshes tokens; the answers are parsed by
 * gdrive_json.c.
 *
 * Divided into: the remote and its messages; strings and URLs; the path
 * cache and the id map; files.list and lookups; resolving paths; list;
 * read; uploads; write; remove; mkdir; batches (read_many, write_many);
 * the change feed; open.
 */
#define _POSIX_C_SOURCE 200809L

#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "backless.h"
#include "backless/remote.h"
#include "net/http.h"
#include "remote/gdrive_internal.h"
#include "remote/remote_internal.h"
#include "util/errmsg.h"

#define GDRIVE_API "https://www.googleapis.com"
/* What every listing and upload asks for of a file. */
#define GDRIVE_FIELDS "id,name,mimeType,size,modifiedTime,createdTime"
/* Largest body of a multipart upload; larger files go resumable. */
#define GDRIVE_SIMPLE_MAX ((int64_t)5 << 20)
/* Chunk of a resumable upload (a multiple of 256 KiB, as Drive wants). */
#define GDRIVE_CHUNK ((int64_t)8 << 20)
/* Bytes of one window of write_many held in memory at once. */
#define GDRIVE_BATCH_BYTES ((int64_t)32 << 20)
/* Names looked up by one files.list query ("name = 'a' or name = 'b' ..."). */
#define GDRIVE_NAMES_PER_QUERY 40
/* files.get requests one change may cost to find its folder's path. */
#define GDRIVE_WALK 4

typedef struct gd_node gd_node;
typedef struct gd_map {
  gd_node **b;
  size_t nb, n;
} gd_map;

typedef struct gdrive_remote {
  bl_remote base;
  bl__http_client *http;
  char *base_url; /* without a trailing '/' */
  size_t max_in_flight;
  gd_map paths;   /* path -> folder id, or the ids of a file's copies */
  gd_map ids;     /* folder id -> its path, or what a walk learned */
  unsigned stamp; /* generation of the nodes a listing (re)filled */
  char *root_id;  /* the real id of "root", once asked for */
  char why[640];  /* the reason of the last failure, for messages */
} gdrive_remote;

/* ------------------------------------------------ the remote, messages */

static void gd_why(gdrive_remote *gr, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void gd_why(gdrive_remote *gr, const char *fmt, ...) {
  char tmp[sizeof gr->why];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap); /* an argument may be gr->why itself */
  va_end(ap);
  memcpy(gr->why, tmp, sizeof tmp);
}

/* Records "<op> '<path>': <why>" as the remote's error and returns rc. */
static int gd_fail(gdrive_remote *gr, int rc, const char *op, const char *path) {
  if (rc == BL_ENOMEM) gd_why(gr, "out of memory");
  return bl_remote_set_error(&gr->base, rc, "%s '%s': %s", op, path, gr->why);
}

static int gd_nomem(gdrive_remote *gr) {
  gd_why(gr, "out of memory");
  return BL_ENOMEM;
}

/* Runs one request; on failure its message becomes the reason. */
static int gd_perform(gdrive_remote *gr, bl__http_request *req) {
  int rc = bl__http_perform(gr->http, req);
  if (rc != BL_OK) gd_why(gr, "%s", req->errmsg);
  return rc;
}

/* A parser's verdict as the reason of a failure. */
static int gd_bad_answer(gdrive_remote *gr, int rc, const char *err) {
  if (rc == BL_ENOMEM) return gd_nomem(gr);
  gd_why(gr, "unexpected answer from Drive: %s", err);
  return rc;
}

/* --------------------------------------------------------- strings, URLs */

typedef struct gd_str {
  char *p;
  size_t len, cap;
  int oom;
} gd_str;

static void str_addn(gd_str *s, const char *t, size_t n) {
  if (s->oom) return;
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 128;
    while (cap < s->len + n + 1) cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p) {
      s->oom = 1;
      return;
    }
    s->p = p;
    s->cap = cap;
  }
  memcpy(s->p + s->len, t, n);
  s->len += n;
  s->p[s->len] = '\0';
}

static void str_add(gd_str *s, const char *t) { str_addn(s, t, strlen(t)); }

/* Appends t percent-encoded. */
static void str_enc(gd_str *s, const char *t) {
  char *e = bl__gdrive_urlencode(t);
  if (!e)
    s->oom = 1;
  else
    str_add(s, e);
  free(e);
}

/* The built string (malloc'ed), or NULL when memory ran out. */
static char *str_take(gd_str *s) {
  if (s->oom || !s->p) {
    free(s->p);
    s->p = NULL;
    return s->oom ? NULL : calloc(1, 1);
  }
  char *p = s->p;
  s->p = NULL;
  return p;
}

static char *gd_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* "<dir>/<name>" (or name alone below the root), malloc'ed. */
static char *gd_join(const char *dir, const char *name) {
  gd_str s = {0};
  if (*dir) {
    str_add(&s, dir);
    str_add(&s, "/");
  }
  str_add(&s, name);
  return str_take(&s);
}

/* Splits path into its parent (malloc'ed; "" for the root) and its last
 * component (pointing into path). */
static char *gd_parent(const char *path, const char **name) {
  const char *slash = strrchr(path, '/');
  *name = slash ? slash + 1 : path;
  size_t n = slash ? (size_t)(slash - path) : 0;
  char *p = malloc(n + 1);
  if (p) {
    memcpy(p, path, n);
    p[n] = '\0';
  }
  return p;
}

/* Whether p is `path` itself or below it. */
static int gd_below(const char *p, const char *path) {
  size_t n = strlen(path);
  return n == 0 || (strncmp(p, path, n) == 0 && (p[n] == '\0' || p[n] == '/'));
}

/* "/drive/v3/files/<id><rest>" */
static char *gd_url_file(const char *id, const char *rest) {
  gd_str s = {0};
  str_add(&s, "/drive/v3/files/");
  str_enc(&s, id);
  str_add(&s, rest);
  return str_take(&s);
}

/* ------------------------------------------------ path cache and id map */

struct gd_node {
  char *key; /* a path (path cache) or a folder id (id map) */
  gd_node *next;
  /* path cache */
  int is_folder;
  char **ids; /* a folder: the one in use; a file: every copy, newest first */
  size_t nids;
  unsigned stamp;
  /* id map: the folder's path when known, else its name and parent (NULL:
   * it has none) as a walk learned them */
  char *path, *name, *parent;
};

static uint64_t map_hash(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}

static void node_clear(gd_node *x) {
  for (size_t i = 0; i < x->nids; i++) free(x->ids[i]);
  free(x->ids);
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

static gd_node *map_find(const gd_map *m, const char *key) {
  if (!m->nb) return NULL;
  for (gd_node *x = m->b[map_hash(key) % m->nb]; x; x = x->next)
    if (strcmp(x->key, key) == 0) return x;
  return NULL;
}

/* The node of key, created empty when absent; NULL without memory. */
static gd_node *map_get(gd_map *m, const char *key) {
  gd_node *x = map_find(m, key);
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
  if (!(x = calloc(1, sizeof *x)) || !(x->key = gd_strdup(key))) {
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

/* Forgets path and everything below it (never the root). Only a folder
 * has anything below it: a file costs no scan of the cache. */
static void cache_drop(gdrive_remote *gr, const char *path) {
  if (!*path) return;
  gd_map *m = &gr->paths;
  gd_node *f = map_find(m, path);
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
      if (gd_below(x->key, path)) {
        *pp = x->next;
        node_free(x);
        m->n--;
      } else {
        pp = &x->next;
      }
    }
}

/* Remembers that folder `id` is at `path` (for the change feed). */
static int idmap_set_path(gdrive_remote *gr, const char *id, const char *path) {
  gd_node *x = map_get(&gr->ids, id);
  char *p = gd_strdup(path);
  if (!x || !p) {
    free(p);
    return BL_ENOMEM;
  }
  node_clear(x);
  x->path = p;
  return BL_OK;
}

/* Remembers what a walk learned of folder `id`, unless its path is known. */
static int idmap_set_link(gdrive_remote *gr, const char *id, const char *name, const char *parent) {
  gd_node *x = map_get(&gr->ids, id);
  if (!x) return BL_ENOMEM;
  if (x->path) return BL_OK;
  node_clear(x);
  x->name = gd_strdup(name);
  x->parent = parent ? gd_strdup(parent) : NULL;
  if (!x->name || (parent && !x->parent)) return BL_ENOMEM;
  return BL_OK;
}

/* Caches path as the folder `id`; what was cached below it under another id
 * is forgotten. */
static int cache_put_folder(gdrive_remote *gr, const char *path, const char *id) {
  gd_node *x = map_find(&gr->paths, path);
  if (x && (!x->is_folder || strcmp(x->ids[0], id) != 0)) {
    cache_drop(gr, path);
    x = NULL;
  }
  if (!x) {
    if (!(x = map_get(&gr->paths, path))) return BL_ENOMEM;
    if (!(x->ids = malloc(sizeof *x->ids)) || !(x->ids[0] = gd_strdup(id))) {
      free(x->ids);
      x->ids = NULL;
      cache_drop(gr, path);
      return BL_ENOMEM;
    }
    x->nids = 1;
    x->is_folder = 1;
  }
  x->stamp = gr->stamp;
  return idmap_set_path(gr, id, path);
}

/* Caches path as the file whose copies are f[0..n) (newest first). */
static int cache_put_files(gdrive_remote *gr, const char *path, const bl__gdrive_file *f,
                           size_t n) {
  gd_node *x = map_find(&gr->paths, path);
  if (x && x->is_folder) cache_drop(gr, path);
  if (!(x = map_get(&gr->paths, path))) return BL_ENOMEM;
  node_clear(x);
  x->is_folder = 0;
  x->stamp = gr->stamp;
  if (!(x->ids = calloc(n, sizeof *x->ids))) goto nomem;
  for (; x->nids < n; x->nids++)
    if (!(x->ids[x->nids] = gd_strdup(f[x->nids].id))) goto nomem;
  return BL_OK;
nomem:
  cache_drop(gr, path);
  return BL_ENOMEM;
}

/* The cached ids of a node, copied (the cache may change meanwhile). */
static char **gd_ids_copy(const gd_node *x, size_t *n) {
  char **ids = calloc(x->nids ? x->nids : 1, sizeof *ids);
  if (!ids) return NULL;
  for (size_t i = 0; i < x->nids; i++)
    if (!(ids[i] = gd_strdup(x->ids[i]))) {
      for (size_t k = 0; k < i; k++) free(ids[k]);
      free(ids);
      return NULL;
    }
  *n = x->nids;
  return ids;
}

static void gd_ids_free(char **ids, size_t n) {
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
static int gd_cache_children(gdrive_remote *gr, const char *dir, bl__gdrive_file *files, size_t n) {
  if (n) qsort(files, n, sizeof *files, gd_cmp_group);
  for (size_t i = 0, j; i < n; i = j) {
    for (j = i + 1; j < n && strcmp(files[j].name, files[i].name) == 0;) j++;
    const char *name = files[i].name;
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) continue;
    char *p = gd_join(dir, name);
    if (!p) return BL_ENOMEM;
    size_t nfiles = j - i;
    int rc = files[i].is_folder ? cache_put_folder(gr, p, files[i].id)
                                : cache_put_files(gr, p, files + i, nfiles);
    free(p);
    if (rc != BL_OK) return rc;
  }
  return BL_OK;
}

/* After a listing of `dir`: forgets the children cached before it that
 * the listing did not show (stamp older than the listing's). */
static int gd_cache_sweep(gdrive_remote *gr, const char *dir) {
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
      if (!(stale[n] = gd_strdup(k))) {
        rc = BL_ENOMEM;
        goto done;
      }
      n++;
    }
done:
  for (size_t i = 0; i < n; i++) {
    cache_drop(gr, stale[i]);
    free(stale[i]);
  }
  free(stale);
  return rc;
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
static int gd_files_list(gdrive_remote *gr, const char *q, bl__gdrive_list *out) {
  int rc = BL_OK;
  char *page = NULL;
  for (;;) {
    gd_str u = {0};
    str_add(&u, "/drive/v3/files?q=");
    str_enc(&u, q);
    str_add(&u, "&pageSize=1000&fields=");
    str_enc(&u, "nextPageToken,files(" GDRIVE_FIELDS ")");
    if (page) {
      str_add(&u, "&pageToken=");
      str_enc(&u, page);
    }
    char *url = str_take(&u);
    if (!url) {
      rc = gd_nomem(gr);
      break;
    }
    bl__http_request req = {.method = "GET", .url = url};
    rc = gd_perform(gr, &req);
    free(url);
    bl__gdrive_list pg;
    char err[200];
    if (rc == BL_OK) {
      rc = bl__gdrive_parse_list(req.response, req.response_len, &pg, err, sizeof err);
      if (rc != BL_OK) gd_bad_answer(gr, rc, err);
    }
    bl__http_request_clear(&req);
    if (rc != BL_OK) break;
    rc = gd_list_append(out, &pg);
    free(page);
    page = pg.next_page_token;
    pg.next_page_token = NULL;
    bl__gdrive_list_clear(&pg);
    if (rc != BL_OK) {
      gd_nomem(gr);
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
static int gd_lookup_names(gdrive_remote *gr, const char *dir, const char *parent_id,
                           const char *const *names, size_t n) {
  int rc = BL_OK;
  for (size_t at = 0; at < n && rc == BL_OK; at += GDRIVE_NAMES_PER_QUERY) {
    size_t k = n - at < GDRIVE_NAMES_PER_QUERY ? n - at : GDRIVE_NAMES_PER_QUERY;
    gd_str q = {0};
    char *pid = bl__gdrive_q_literal(parent_id);
    if (!pid) return gd_nomem(gr);
    if (k == 1)
      str_add(&q, "name = ");
    else
      str_add(&q, "(");
    for (size_t i = 0; i < k; i++) {
      char *lit = bl__gdrive_q_literal(names[at + i]);
      if (!lit) q.oom = 1;
      if (k > 1) str_add(&q, i ? " or name = " : "name = ");
      if (lit) str_add(&q, lit);
      free(lit);
    }
    if (k > 1) str_add(&q, ")");
    str_add(&q, " and ");
    str_add(&q, pid);
    str_add(&q, " in parents and trashed = false");
    free(pid);
    char *qs = str_take(&q);
    if (!qs) return gd_nomem(gr);
    bl__gdrive_list found = {0};
    rc = gd_files_list(gr, qs, &found);
    free(qs);
    for (size_t i = 0; rc == BL_OK && i < k; i++) {
      char *p = gd_join(dir, names[at + i]);
      if (!p)
        rc = gd_nomem(gr);
      else
        cache_drop(gr, p);
      free(p);
    }
    if (rc == BL_OK && (rc = gd_cache_children(gr, dir, found.files, found.n)) != BL_OK)
      gd_nomem(gr);
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
static int gd_resolve(gdrive_remote *gr, const char *path, gd_node **out) {
  gd_node *x = map_find(&gr->paths, path);
  if (x) {
    *out = x;
    return BL_OK;
  }
  int rc = BL_OK;
  char *parent_id = gd_strdup("root"), *prefix = gd_strdup(path);
  if (!parent_id || !prefix) {
    rc = gd_nomem(gr);
    goto done;
  }
  for (size_t at = 0;;) {
    size_t len = strcspn(path + at, "/");
    prefix[at + len] = '\0';
    const char *name = prefix + at;
    char *dir = gd_strdup(prefix);
    if (!dir) {
      rc = gd_nomem(gr);
      goto done;
    }
    dir[at ? at - 1 : 0] = '\0';
    x = map_find(&gr->paths, prefix);
    if (!x) {
      rc = gd_lookup_names(gr, dir, parent_id, &name, 1);
      x = rc == BL_OK ? map_find(&gr->paths, prefix) : NULL;
      if (rc == BL_OK && !x) {
        rc = BL_ENOTFOUND;
        if (*dir)
          gd_why(gr, "'%s' does not exist (no '%s' in folder '%s')", path, name, dir);
        else
          gd_why(gr, "'%s' does not exist", path);
      }
    }
    free(dir);
    if (rc != BL_OK) goto done;
    if (!path[at + len]) break;
    if (!x->is_folder) {
      rc = BL_ENOTFOUND;
      gd_why(gr, "'%s' is a file, not a folder", prefix);
      goto done;
    }
    char *next = gd_strdup(x->ids[0]);
    if (!next) {
      rc = gd_nomem(gr);
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
static int gd_folder_id(gdrive_remote *gr, const char *path, char **id, int *was_cached) {
  gd_node *x = NULL;
  *id = NULL;
  if (was_cached) *was_cached = map_find(&gr->paths, path) != NULL;
  int rc = gd_resolve(gr, path, &x);
  if (rc != BL_OK) return rc;
  if (!x->is_folder) {
    gd_why(gr, "'%s' is a file, not a folder", path);
    return BL_ENOTFOUND;
  }
  return (*id = gd_strdup(x->ids[0])) ? BL_OK : gd_nomem(gr);
}

/* --------------------------------------------------------------------- list */

/* Whether folder `id` still exists and is not in the trash (BL_OK: it
 * does; BL_ENOTFOUND: it does not). */
static int gd_folder_alive(gdrive_remote *gr, const char *id) {
  char *url = gd_url_file(id, "?fields=id%2Ctrashed");
  if (!url) return gd_nomem(gr);
  bl__http_request req = {.method = "GET", .url = url};
  int rc = gd_perform(gr, &req);
  bl__gdrive_file f;
  char err[200];
  if (rc == BL_OK) {
    rc = bl__gdrive_parse_file(req.response, req.response_len, &f, err, sizeof err);
    if (rc != BL_OK)
      gd_bad_answer(gr, rc, err);
    else if (f.trashed)
      rc = BL_ENOTFOUND;
    bl__gdrive_file_clear(&f);
  }
  bl__http_request_clear(&req);
  free(url);
  return rc;
}

static int gdrive_list(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count) {
  gdrive_remote *gr = (gdrive_remote *)r;
  bl__gdrive_list all = {0};
  bl_remote_entry *e = NULL;
  char *id = NULL, *q = NULL;
  int rc = BL_OK;
  for (int attempt = 0;; attempt++) {
    int was_cached = 0;
    free(id);
    free(q);
    q = NULL;
    bl__gdrive_list_clear(&all);
    if ((rc = gd_folder_id(gr, path, &id, &was_cached)) != BL_OK) goto done;
    char *lit = bl__gdrive_q_literal(id);
    gd_str s = {0};
    str_add(&s, lit ? lit : "");
    str_add(&s, " in parents and trashed = false");
    if (!lit) s.oom = 1;
    free(lit);
    if (!(q = str_take(&s))) {
      rc = gd_nomem(gr);
      goto done;
    }
    if ((rc = gd_files_list(gr, q, &all)) != BL_OK) goto done;
    /* Listing a deleted folder's id gives nothing rather than 404: an empty
     * answer for a cached id is checked once. */
    if (all.n || !was_cached || !*path || attempt > 0) break;
    rc = gd_folder_alive(gr, id);
    if (rc == BL_OK) break;
    if (rc != BL_ENOTFOUND) goto done;
    cache_drop(gr, path);
  }
  if (all.n && !(e = calloc(all.n, sizeof *e))) {
    rc = gd_nomem(gr);
    goto done;
  }
  for (size_t i = 0; i < all.n; i++) {
    const bl__gdrive_file *f = &all.files[i];
    if (!(e[i].name = gd_strdup(f->name))) {
      bl_remote_entries_free(e, i);
      e = NULL;
      rc = gd_nomem(gr);
      goto done;
    }
    e[i].is_folder = f->is_folder;
    e[i].size = f->is_folder ? -1 : f->size;
    e[i].mtime = f->mtime_ms > 0 ? f->mtime_ms / 1000 : 0;
  }
  /* The listing is complete: what it shows is cached, what it does not is
   * forgotten. */
  gr->stamp++;
  if ((rc = gd_cache_children(gr, path, all.files, all.n)) == BL_OK) rc = gd_cache_sweep(gr, path);
  if (rc != BL_OK) {
    bl_remote_entries_free(e, all.n);
    e = NULL;
    gd_nomem(gr);
    goto done;
  }
  *out = e;
  *count = all.n;
done:
  bl__gdrive_list_clear(&all);
  free(id);
  free(q);
  return rc == BL_OK ? BL_OK : gd_fail(gr, rc, "listing", path);
}

/* --------------------------------------------------------------------- read */

/* Passes the bytes on and keeps the receiver's own code when it stops. */
typedef struct gd_sink {
  bl_remote_sink sink;
  void *payload;
  int stopped; /* the receiver's non-zero answer */
} gd_sink;

static int gd_sink_cb(const void *data, size_t len, void *payload) {
  gd_sink *s = payload;
  int v = s->sink(data, len, s->payload);
  if (v != 0) {
    s->stopped = v;
    return BL_ERROR;
  }
  return 0;
}

/* The download request of file `id` (url malloc'ed into *url). */
static int gd_read_request(gdrive_remote *gr, const char *id, gd_sink *s, bl__http_request *req,
                           char **url) {
  if (!(*url = gd_url_file(id, "?alt=media"))) return gd_nomem(gr);
  memset(req, 0, sizeof *req);
  req->method = "GET";
  req->url = *url;
  req->sink = gd_sink_cb;
  req->sink_payload = s;
  return BL_OK;
}

/* A download's outcome: the receiver's code, a Google Doc (403
 * fileNotDownloadable) as BL_EIO, else the request's. */
static int gd_read_outcome(gdrive_remote *gr, const bl__http_request *req, const gd_sink *s) {
  if (s->stopped) {
    gd_why(gr, "stopped by the receiver (%d)", s->stopped);
    return s->stopped;
  }
  if (req->rc == BL_OK) return BL_OK;
  gd_why(gr, "%s", req->errmsg);
  if (req->status == 403 && req->response && strstr(req->response, "fileNotDownloadable"))
    return BL_EIO;
  return req->rc;
}

/* read without the message: BL_OK or a code with gr->why set. */
static int gd_read(gdrive_remote *gr, const char *path, bl_remote_sink sink, void *payload) {
  for (int attempt = 0;; attempt++) {
    gd_node *x;
    int was_cached = map_find(&gr->paths, path) != NULL;
    int rc = gd_resolve(gr, path, &x);
    if (rc != BL_OK) return rc;
    if (x->is_folder) {
      gd_why(gr, "it is a folder, not a file");
      return BL_EIO;
    }
    gd_sink s = {sink, payload, 0};
    bl__http_request req;
    char *url;
    if ((rc = gd_read_request(gr, x->ids[0], &s, &req, &url)) != BL_OK) return rc;
    bl__http_perform(gr->http, &req);
    rc = gd_read_outcome(gr, &req, &s);
    int stale = rc == BL_ENOTFOUND && req.status == 404 && was_cached && attempt == 0;
    bl__http_request_clear(&req);
    free(url);
    if (!stale) return rc;
    cache_drop(gr, path); /* deleted or replaced by another device */
  }
}

static int gdrive_read(bl_remote *r, const char *path, bl_remote_sink sink, void *payload) {
  gdrive_remote *gr = (gdrive_remote *)r;
  int rc = gd_read(gr, path, sink, payload);
  return rc == BL_OK ? BL_OK : gd_fail(gr, rc, "reading", path);
}

/* ------------------------------------------------------------------ uploads */

/* Reads exactly size bytes of src into a new buffer (*buf; NULL for 0). */
static int gd_slurp(gdrive_remote *gr, FILE *src, int64_t size, unsigned char **buf) {
  *buf = NULL;
  if (size == 0) return BL_OK;
  if (!(*buf = malloc((size_t)size))) return gd_nomem(gr);
  size_t got = fread(*buf, 1, (size_t)size, src);
  if (got == (size_t)size) return BL_OK;
  if (ferror(src))
    gd_why(gr, "reading the source failed after %zu bytes", got);
  else
    gd_why(gr, "the source ended after %zu of %lld bytes", got, (long long)size);
  free(*buf);
  *buf = NULL;
  return BL_EIO;
}

/* Whether the len bytes at hay contain needle. */
static int gd_contains(const unsigned char *hay, size_t len, const char *needle) {
  size_t nl = strlen(needle);
  for (const unsigned char *p = hay; len >= nl;) {
    const unsigned char *hit = memchr(p, needle[0], len - nl + 1);
    if (!hit) return 0;
    if (memcmp(hit, needle, nl) == 0) return 1;
    len -= (size_t)(hit + 1 - p);
    p = hit + 1;
  }
  return 0;
}

/* The body of a multipart/related upload: metadata, then the content,
 * between a random boundary that the content does not contain. *ctype is
 * the Content-Type header line. Both malloc'ed. */
static int gd_multipart(gdrive_remote *gr, const char *meta, const unsigned char *data, size_t len,
                        char **body, size_t *body_len, char **ctype) {
  char boundary[48];
  do {
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    int o = snprintf(boundary, sizeof boundary, "backless-");
    for (size_t i = 0; i < sizeof rnd; i++)
      o += snprintf(boundary + o, sizeof boundary - (size_t)o, "%02x", rnd[i]);
  } while (gd_contains(data, len, boundary));
  gd_str h = {0}, b = {0};
  str_add(&h, "Content-Type: multipart/related; boundary=");
  str_add(&h, boundary);
  str_add(&b, "--");
  str_add(&b, boundary);
  str_add(&b, "\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n");
  str_add(&b, meta);
  str_add(&b, "\r\n--");
  str_add(&b, boundary);
  str_add(&b, "\r\nContent-Type: application/octet-stream\r\n\r\n");
  if (len) str_addn(&b, (const char *)data, len);
  str_add(&b, "\r\n--");
  str_add(&b, boundary);
  str_add(&b, "--\r\n");
  *body_len = b.len;
  *ctype = str_take(&h);
  *body = str_take(&b);
  if (!*ctype || !*body) {
    free(*ctype);
    free(*body);
    return gd_nomem(gr);
  }
  return BL_OK;
}

/* One upload request, prepared (the batch runs several). */
typedef struct gd_upreq {
  bl__http_request req;
  char *url, *body, *ctype;
  const char *headers[3];
} gd_upreq;

static void gd_upload_clear(gd_upreq *u) {
  bl__http_request_clear(&u->req);
  free(u->url);
  free(u->body);
  free(u->ctype);
  memset(u, 0, sizeof *u);
}

/*
 * Prepares a simple upload of data[0..len): the new content of file `id`
 * (PATCH, uploadType=media) or, for id NULL, a new file `name` in folder
 * `parent_id` (POST, uploadType=multipart).
 */
static int gd_upload_prepare(gdrive_remote *gr, gd_upreq *u, const char *id, const char *parent_id,
                             const char *name, const unsigned char *data, size_t len) {
  memset(u, 0, sizeof *u);
  gd_str s = {0};
  if (id) {
    str_add(&s, "/upload/drive/v3/files/");
    str_enc(&s, id);
    str_add(&s, "?uploadType=media&fields=");
  } else {
    str_add(&s, "/upload/drive/v3/files?uploadType=multipart&fields=");
  }
  str_enc(&s, GDRIVE_FIELDS);
  if (!(u->url = str_take(&s))) return gd_nomem(gr);
  u->req.url = u->url;
  if (id) {
    u->req.method = "PATCH";
    u->req.body = data;
    u->req.body_len = len;
    u->headers[0] = "Content-Type: application/octet-stream";
  } else {
    size_t mlen;
    char *meta = bl__gdrive_meta_json(name, parent_id, NULL, &mlen);
    if (!meta) return gd_nomem(gr);
    size_t blen = 0;
    int rc = gd_multipart(gr, meta, data, len, &u->body, &blen, &u->ctype);
    free(meta);
    if (rc != BL_OK) return rc;
    u->req.method = "POST";
    u->req.body = u->body;
    u->req.body_len = blen;
    u->headers[0] = u->ctype;
  }
  u->req.headers = u->headers;
  return BL_OK;
}

/* The file resource an upload answered with. */
static int gd_upload_result(gdrive_remote *gr, const bl__http_request *req, bl__gdrive_file *f) {
  char err[200];
  int rc = bl__gdrive_parse_file(req->response, req->response_len, f, err, sizeof err);
  return rc == BL_OK ? BL_OK : gd_bad_answer(gr, rc, err);
}

/*
 * A resumable upload of size bytes from src: a session opened with
 * `method` on `url` (metadata `meta`), then chunks of GDRIVE_CHUNK bytes.
 * On BL_OK *f is the file Drive made or updated.
 */
static int gd_resumable(gdrive_remote *gr, const char *method, const char *url, const char *meta,
                        FILE *src, int64_t size, bl__gdrive_file *f) {
  int rc;
  char len_hdr[64], range_hdr[96];
  unsigned char *chunk = NULL;
  char *session = NULL;
  snprintf(len_hdr, sizeof len_hdr, "X-Upload-Content-Length: %lld", (long long)size);
  const char *hdrs[] = {"Content-Type: application/json; charset=UTF-8",
                        "X-Upload-Content-Type: application/octet-stream", len_hdr, NULL};
  bl__http_request req = {
      .method = method, .url = url, .headers = hdrs, .body = meta, .body_len = strlen(meta)};
  if ((rc = gd_perform(gr, &req)) != BL_OK) goto done;
  /* The session URL carries no token of ours but gets one: it must be
   * Drive's own. */
  size_t bl = strlen(gr->base_url);
  if (!req.location || strncmp(req.location, gr->base_url, bl) != 0 || req.location[bl] != '/') {
    gd_why(gr, "Drive's upload session is not at %s (Location: %.200s)", gr->base_url,
           req.location ? req.location : "none");
    rc = BL_EIO;
    goto done;
  }
  if (!(session = gd_strdup(req.location)) || !(chunk = malloc((size_t)GDRIVE_CHUNK))) {
    rc = gd_nomem(gr);
    goto done;
  }
  for (int64_t off = 0; off < size;) {
    size_t n = (size_t)(size - off < GDRIVE_CHUNK ? size - off : GDRIVE_CHUNK);
    size_t got = fread(chunk, 1, n, src);
    if (got != n) {
      if (ferror(src))
        gd_why(gr, "reading the source failed after %lld bytes", (long long)(off + (int64_t)got));
      else
        gd_why(gr, "the source ended after %lld of %lld bytes", (long long)(off + (int64_t)got),
               (long long)size);
      rc = BL_EIO;
      goto done;
    }
    snprintf(range_hdr, sizeof range_hdr, "Content-Range: bytes %lld-%lld/%lld", (long long)off,
             (long long)(off + (int64_t)n - 1), (long long)size);
    const char *chdrs[] = {"Content-Type: application/octet-stream", range_hdr, NULL};
    bl__http_request_clear(&req);
    req = (bl__http_request){
        .method = "PUT", .url = session, .headers = chdrs, .body = chunk, .body_len = n};
    if ((rc = gd_perform(gr, &req)) != BL_OK) goto done;
    off += (int64_t)n;
    /* 308: Drive wants more. (The layer does not pass the Range header on,
     * so a chunk is taken to have arrived whole; Drive takes whole chunks
     * that are multiples of 256 KiB.) */
    if (req.status == 308) continue;
    if (off < size) {
      gd_why(gr, "Drive ended the upload session after %lld of %lld bytes (HTTP %ld)",
             (long long)off, (long long)size, req.status);
      rc = BL_EIO;
      goto done;
    }
    rc = gd_upload_result(gr, &req, f);
    goto done;
  }
  gd_why(gr, "Drive did not complete the upload of %lld bytes", (long long)size);
  rc = BL_EIO;
done:
  bl__http_request_clear(&req);
  free(session);
  free(chunk);
  return rc;
}

/*
 * Uploads the content: mem (len == size) when size <= GDRIVE_SIMPLE_MAX,
 * else from src. id: update that file; NULL: create `name` in parent_id.
 * *attempts: how many tries the request that made the file took.
 */
static int gd_upload(gdrive_remote *gr, const char *id, const char *parent_id, const char *name,
                     const unsigned char *mem, FILE *src, int64_t size, bl__gdrive_file *f,
                     int *attempts) {
  int rc;
  *attempts = 1;
  if (size <= GDRIVE_SIMPLE_MAX) {
    gd_upreq u;
    if ((rc = gd_upload_prepare(gr, &u, id, parent_id, name, mem, (size_t)size)) == BL_OK &&
        (rc = gd_perform(gr, &u.req)) == BL_OK)
      rc = gd_upload_result(gr, &u.req, f);
    *attempts = u.req.attempts;
    gd_upload_clear(&u);
    return rc;
  }
  gd_str s = {0};
  char *meta = NULL;
  size_t mlen;
  if (id) {
    str_add(&s, "/upload/drive/v3/files/");
    str_enc(&s, id);
    str_add(&s, "?uploadType=resumable&fields=");
    meta = gd_strdup("{}");
  } else {
    str_add(&s, "/upload/drive/v3/files?uploadType=resumable&fields=");
    meta = bl__gdrive_meta_json(name, parent_id, NULL, &mlen);
  }
  str_enc(&s, GDRIVE_FIELDS);
  char *url = str_take(&s);
  if (!url || !meta)
    rc = gd_nomem(gr);
  else
    rc = gd_resumable(gr, id ? "PATCH" : "POST", url, meta, src, size, f);
  free(url);
  free(meta);
  return rc;
}

/* Deletes file or folder `id`; BL_ENOTFOUND when it is already gone. */
static int gd_delete_id(gdrive_remote *gr, const char *id) {
  char *url = gd_url_file(id, "");
  if (!url) return gd_nomem(gr);
  bl__http_request req = {.method = "DELETE", .url = url};
  int rc = gd_perform(gr, &req);
  bl__http_request_clear(&req);
  free(url);
  return rc;
}

/* Deletes ids[from..n) (copies of one file); ones already gone are fine. */
static int gd_delete_copies(gdrive_remote *gr, char **ids, size_t from, size_t n) {
  for (size_t i = from; i < n; i++) {
    int rc = gd_delete_id(gr, ids[i]);
    if (rc != BL_OK && rc != BL_ENOTFOUND) return rc;
  }
  return BL_OK;
}

/* ------------------------------------------------------------------- write */

/*
 * After a create that was retried: the first try may have made the file
 * before its answer was lost. Keeps the newest copy of `name` in folder
 * `dir` (id parent_id) and deletes the others.
 */
static int gd_dedupe(gdrive_remote *gr, const char *dir, const char *parent_id, const char *name,
                     const char *path) {
  int rc = gd_lookup_names(gr, dir, parent_id, &name, 1);
  if (rc != BL_OK) return rc;
  gd_node *x = map_find(&gr->paths, path);
  if (!x || x->is_folder || x->nids < 2) return BL_OK;
  size_t n;
  char **ids = gd_ids_copy(x, &n);
  if (!ids) return gd_nomem(gr);
  rc = gd_delete_copies(gr, ids, 1, n);
  if (rc == BL_OK) {
    bl__gdrive_file keep = {.id = ids[0]};
    rc = cache_put_files(gr, path, &keep, 1);
    if (rc != BL_OK) gd_nomem(gr);
  }
  gd_ids_free(ids, n);
  return rc;
}

/* Caches the outcome of a successful upload of path: the one copy left. */
static int gd_after_upload(gdrive_remote *gr, const char *path, const bl__gdrive_file *f) {
  return cache_put_files(gr, path, f, 1) == BL_OK ? BL_OK : gd_nomem(gr);
}

/*
 * write without the message. mem holds the content when size <=
 * GDRIVE_SIMPLE_MAX (read by the caller); larger content is read from src,
 * which is seeked back to where it was for a second try.
 */
static int gd_write(gdrive_remote *gr, const char *path, FILE *src, int64_t size,
                    const unsigned char *mem) {
  const char *name;
  char *dir = gd_parent(path, &name), *parent_id = NULL;
  char **ids = NULL;
  size_t nids = 0;
  int rc = BL_OK;
  off_t start = size > GDRIVE_SIMPLE_MAX ? ftello(src) : 0;
  if (!dir) return gd_nomem(gr);
  if (start < 0) {
    gd_why(gr, "the source cannot seek");
    rc = BL_EIO;
    goto done;
  }
  for (int attempt = 0;; attempt++) {
    int parent_cached = 0;
    free(parent_id);
    gd_ids_free(ids, nids);
    ids = NULL;
    nids = 0;
    if ((rc = gd_folder_id(gr, dir, &parent_id, &parent_cached)) != BL_OK) {
      if (rc == BL_ENOTFOUND) gd_why(gr, "folder '%s' does not exist", dir);
      goto done;
    }
    gd_node *x = map_find(&gr->paths, path);
    if (!x) {
      if ((rc = gd_lookup_names(gr, dir, parent_id, &name, 1)) != BL_OK) goto done;
      x = map_find(&gr->paths, path);
    }
    if (x && x->is_folder) {
      gd_why(gr, "a folder of that name is in the way");
      rc = BL_EIO;
      goto done;
    }
    if (x && !(ids = gd_ids_copy(x, &nids))) {
      rc = gd_nomem(gr);
      goto done;
    }
    if (attempt > 0 && size > GDRIVE_SIMPLE_MAX && fseeko(src, start, SEEK_SET) != 0) {
      gd_why(gr, "the source cannot seek back");
      rc = BL_EIO;
      goto done;
    }
    bl__gdrive_file f = {0};
    int attempts = 1;
    rc = gd_upload(gr, ids ? ids[0] : NULL, parent_id, name, mem, src, size, &f, &attempts);
    if (rc == BL_ENOTFOUND && attempt == 0) {
      /* The file (update) or its folder (create) went away: resolve again. */
      cache_drop(gr, ids ? path : dir);
      bl__gdrive_file_clear(&f);
      if (!ids && !parent_cached) {
        gd_why(gr, "folder '%s' does not exist", dir);
        goto done;
      }
      continue;
    }
    if (rc == BL_OK && ids) rc = gd_delete_copies(gr, ids, 1, nids);
    if (rc == BL_OK)
      rc = ids || attempts == 1 ? gd_after_upload(gr, path, &f)
                                : gd_dedupe(gr, dir, parent_id, name, path);
    bl__gdrive_file_clear(&f);
    break;
  }
done:
  free(dir);
  free(parent_id);
  gd_ids_free(ids, nids);
  return rc;
}

static int gdrive_write(bl_remote *r, const char *path, FILE *src, int64_t size) {
  gdrive_remote *gr = (gdrive_remote *)r;
  unsigned char *mem = NULL;
  int rc = BL_OK;
  /* Small content is read whole first: a short source fails before any
   * request, and retries resend it from memory. */
  if (size <= GDRIVE_SIMPLE_MAX) rc = gd_slurp(gr, src, size, &mem);
  if (rc == BL_OK) rc = gd_write(gr, path, src, size, mem);
  free(mem);
  return rc == BL_OK ? BL_OK : gd_fail(gr, rc, "writing", path);
}

/* ------------------------------------------------------------------ remove */

static int gdrive_remove(bl_remote *r, const char *path) {
  gdrive_remote *gr = (gdrive_remote *)r;
  int rc = BL_OK;
  for (int attempt = 0;; attempt++) {
    gd_node *x;
    int was_cached = map_find(&gr->paths, path) != NULL;
    if ((rc = gd_resolve(gr, path, &x)) != BL_OK) break;
    if (x->is_folder) {
      gd_why(gr, "it is a folder, not a file");
      rc = BL_EIO;
      break;
    }
    size_t n, gone = 0;
    char **ids = gd_ids_copy(x, &n);
    if (!ids) {
      rc = gd_nomem(gr);
      break;
    }
    for (size_t i = 0; i < n && rc == BL_OK; i++) {
      rc = gd_delete_id(gr, ids[i]);
      if (rc == BL_ENOTFOUND) gone++, rc = BL_OK;
    }
    gd_ids_free(ids, n);
    if (rc != BL_OK) break;
    cache_drop(gr, path);
    if (gone < n) break;
    /* Every cached copy was gone already: look again, once. */
    if (!was_cached || attempt > 0) {
      gd_why(gr, "it does not exist");
      rc = BL_ENOTFOUND;
      break;
    }
  }
  return rc == BL_OK ? BL_OK : gd_fail(gr, rc, "removing", path);
}

/* ------------------------------------------------------------------- mkdir */

/* Whether folder `id` has no children (1), has some (0), or a failure. */
static int gd_folder_empty(gdrive_remote *gr, const char *id) {
  gd_str s = {0};
  char *lit = bl__gdrive_q_literal(id);
  str_add(&s, "/drive/v3/files?pageSize=1&fields=files(id)&q=");
  if (lit) {
    gd_str q = {0};
    str_add(&q, lit);
    str_add(&q, " in parents");
    char *qs = str_take(&q);
    if (qs)
      str_enc(&s, qs);
    else
      s.oom = 1;
    free(qs);
  } else {
    s.oom = 1;
  }
  free(lit);
  char *url = str_take(&s);
  if (!url) return gd_nomem(gr);
  bl__http_request req = {.method = "GET", .url = url};
  int rc = gd_perform(gr, &req);
  bl__gdrive_list l;
  char err[200];
  if (rc == BL_OK) {
    rc = bl__gdrive_parse_list(req.response, req.response_len, &l, err, sizeof err);
    if (rc == BL_OK)
      rc = l.n == 0;
    else
      gd_bad_answer(gr, rc, err);
    bl__gdrive_list_clear(&l);
  }
  bl__http_request_clear(&req);
  free(url);
  return rc;
}

/* Creates folder `name` in parent_id; *id is the new folder's. */
static int gd_create_folder(gdrive_remote *gr, const char *parent_id, const char *name, char **id) {
  size_t mlen;
  char *meta = bl__gdrive_meta_json(name, parent_id, BL__GDRIVE_FOLDER_MIME, &mlen);
  if (!meta) return gd_nomem(gr);
  const char *hdrs[] = {"Content-Type: application/json; charset=UTF-8", NULL};
  bl__http_request req = {.method = "POST",
                          .url = "/drive/v3/files?fields=id%2CcreatedTime",
                          .headers = hdrs,
                          .body = meta,
                          .body_len = mlen};
  int rc = gd_perform(gr, &req);
  bl__gdrive_file f;
  if (rc == BL_OK && (rc = gd_upload_result(gr, &req, &f)) == BL_OK) {
    if (!(*id = gd_strdup(f.id))) rc = gd_nomem(gr);
    bl__gdrive_file_clear(&f);
  }
  bl__http_request_clear(&req);
  free(meta);
  return rc;
}

/*
 * Ensures folder `path` (whose parent folder, at `dir`, is parent_id)
 * exists. After creating it, looks again: when two devices created it at
 * once, every device settles on the oldest, and the younger one, ours, is
 * deleted if nothing went into it yet.
 */
static int gd_mkdir_one(gdrive_remote *gr, const char *dir, const char *parent_id, const char *path,
                        const char *name) {
  gd_node *x = map_find(&gr->paths, path);
  int rc = BL_OK;
  if (!x) {
    if ((rc = gd_lookup_names(gr, dir, parent_id, &name, 1)) != BL_OK) return rc;
    x = map_find(&gr->paths, path);
  }
  if (x) {
    if (x->is_folder) return BL_OK;
    gd_why(gr, "a file named '%s' is in the way", path);
    return BL_EIO;
  }
  char *mine = NULL;
  if ((rc = gd_create_folder(gr, parent_id, name, &mine)) != BL_OK) return rc;
  rc = gd_lookup_names(gr, dir, parent_id, &name, 1);
  x = rc == BL_OK ? map_find(&gr->paths, path) : NULL;
  if (rc == BL_OK && (!x || !x->is_folder)) {
    /* Not listed yet (or a file appeared): ours is the folder. */
    if (cache_put_folder(gr, path, mine) != BL_OK) rc = gd_nomem(gr);
  } else if (rc == BL_OK && strcmp(x->ids[0], mine) != 0) {
    /* An older twin wins; ours goes if it is still empty (a failure to
     * tidy up is no failure of mkdir). */
    if (gd_folder_empty(gr, mine) == 1) gd_delete_id(gr, mine);
  }
  free(mine);
  return rc;
}

static int gdrive_mkdir(bl_remote *r, const char *path) {
  gdrive_remote *gr = (gdrive_remote *)r;
  int rc = BL_OK;
  if (!*path) return BL_OK;
  char *prefix = gd_strdup(path), *parent_id = NULL;
  if (!prefix) return gd_fail(gr, BL_ENOMEM, "creating folder", path);
  for (int attempt = 0; attempt < 2; attempt++) {
    int stale = 0;
    rc = BL_OK;
    for (size_t at = 0; rc == BL_OK;) {
      size_t len = strcspn(path + at, "/");
      memcpy(prefix, path, at + len);
      prefix[at + len] = '\0';
      char *dir = gd_strdup(prefix);
      if (!dir) {
        rc = gd_nomem(gr);
        break;
      }
      dir[at ? at - 1 : 0] = '\0';
      int parent_cached = 1;
      free(parent_id);
      parent_id = NULL;
      rc = gd_folder_id(gr, dir, &parent_id, &parent_cached);
      if (rc == BL_OK) rc = gd_mkdir_one(gr, dir, parent_id, prefix, prefix + at);
      /* A parent deleted by another device since it was cached: again. */
      if (rc == BL_ENOTFOUND && parent_cached && *dir) {
        cache_drop(gr, dir);
        stale = 1;
      }
      free(dir);
      if (!path[at + len]) break;
      at += len + 1;
    }
    if (!(rc == BL_ENOTFOUND && stale)) break;
  }
  free(prefix);
  free(parent_id);
  return rc == BL_OK ? BL_OK : gd_fail(gr, rc, "creating folder", path);
}

/* ----------------------------------------------------------------- batches */

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
    rc = gd_nomem(gr);
    goto out;
  }
  for (size_t i = 0; i < n && rc == BL_OK; i++) {
    if (done[i] || map_find(&gr->paths, paths[i])) continue;
    const char *name;
    char *dir = gd_parent(paths[i], &name), *pid = NULL;
    if (!dir) {
      rc = gd_nomem(gr);
      break;
    }
    size_t k = 0;
    for (size_t j = i; j < n; j++) {
      const char *nj;
      char *dj = done[j] || map_find(&gr->paths, paths[j]) ? NULL : gd_parent(paths[j], &nj);
      if (dj && strcmp(dj, dir) == 0) {
        names[k++] = nj;
        done[j] = 1;
      }
      free(dj);
    }
    rc = gd_folder_id(gr, dir, &pid, NULL);
    if (rc == BL_OK)
      rc = gd_lookup_names(gr, dir, pid, names, k);
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
  char *dir = gd_parent(path, &name);
  gd_node *p = dir ? map_find(&gr->paths, dir) : NULL;
  if (dir && (!p || !p->is_folder))
    gd_why(gr, "folder '%s' does not exist", dir);
  else
    gd_why(gr, "it does not exist");
  free(dir);
}

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
  if (rc == BL_ENOMEM) gd_why(gr, "out of memory");
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

static int gdrive_read_many(bl_remote *r, bl_remote_read_job *jobs, size_t n) {
  gdrive_remote *gr = (gdrive_remote *)r;
  int rc = BL_OK;
  if (n == 0) return BL_OK; /* the dispatcher's rule too; the arrays below need n > 0 */
  const char **paths = calloc(n, sizeof *paths);
  bl__http_request *reqs = calloc(n, sizeof *reqs);
  bl__http_request **run = calloc(n, sizeof *run);
  gd_sink *sinks = calloc(n, sizeof *sinks);
  char **urls = calloc(n, sizeof *urls);
  if (!paths || !reqs || !run || !sinks || !urls) {
    rc = gd_nomem(gr);
    for (size_t i = 0; i < n; i++) gd_rjob_fail(gr, rc, &jobs[i]);
    goto done;
  }
  for (size_t i = 0; i < n; i++) paths[i] = jobs[i].path;
  if ((rc = gd_prefetch(gr, paths, n)) != BL_OK) {
    for (size_t i = 0; i < n; i++) gd_rjob_fail(gr, rc, &jobs[i]);
    goto done;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    gd_node *x = map_find(&gr->paths, jobs[i].path);
    int jrc = BL_OK;
    if (!x) {
      gd_why_missing(gr, jobs[i].path);
      jrc = BL_ENOTFOUND;
    } else if (x->is_folder) {
      gd_why(gr, "it is a folder, not a file");
      jrc = BL_EIO;
    } else {
      sinks[i] = (gd_sink){jobs[i].sink, jobs[i].payload, 0};
      jrc = gd_read_request(gr, x->ids[0], &sinks[i], &reqs[i], &urls[i]);
      if (jrc == BL_OK) run[k++] = &reqs[i];
    }
    if (jrc != BL_OK) gd_rjob_fail(gr, jrc, &jobs[i]);
  }
  bl__http_run_many(gr->http, run, k, gr->max_in_flight);
  for (size_t i = 0; i < n; i++) {
    if (!urls[i]) continue;
    int jrc = gd_read_outcome(gr, &reqs[i], &sinks[i]);
    if (jrc == BL_ENOTFOUND && reqs[i].status == 404) {
      /* A stale id: this one alone, resolved afresh. */
      cache_drop(gr, jobs[i].path);
      jrc = gd_read(gr, jobs[i].path, jobs[i].sink, jobs[i].payload);
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
  for (size_t i = 0; i < n; i++)
    if (jobs[i].rc != BL_OK) return bl_remote_set_error(r, jobs[i].rc, "%s", jobs[i].errmsg);
  return rc;
}

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
    rc = gd_nomem(gr);
    goto fail_all;
  }
  for (size_t i = 0; i < n; i++) paths[i] = jobs[i].path;
  if ((rc = gd_prefetch(gr, paths, n)) != BL_OK) goto fail_all;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (jobs[i].rc != BL_OK) continue;
    const char *name;
    char *dir = gd_parent(jobs[i].path, &name);
    gd_node *p = dir ? map_find(&gr->paths, dir) : NULL, *x = map_find(&gr->paths, jobs[i].path);
    int jrc = BL_OK;
    if (!dir) {
      jrc = gd_nomem(gr);
    } else if (!p || !p->is_folder) {
      gd_why(gr, "folder '%s' does not exist", dir);
      jrc = BL_ENOTFOUND;
    } else if (x && x->is_folder) {
      gd_why(gr, "a folder of that name is in the way");
      jrc = BL_EIO;
    } else if (x && !(ids[i] = gd_ids_copy(x, &nids[i]))) {
      jrc = gd_nomem(gr);
    } else {
      jrc = gd_upload_prepare(gr, &ups[i], x ? ids[i][0] : NULL, p->ids[0], name, mem[i],
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
      char *dir = gd_parent(jobs[i].path, &name);
      if (dir) cache_drop(gr, ids[i] ? jobs[i].path : dir);
      free(dir);
      jrc = gd_write(gr, jobs[i].path, jobs[i].src, jobs[i].size, mem[i]);
    } else if (jrc != BL_OK) {
      gd_why(gr, "%s", req->errmsg);
    } else if ((jrc = gd_upload_result(gr, req, &f)) == BL_OK) {
      if (ids[i]) jrc = gd_delete_copies(gr, ids[i], 1, nids[i]);
      if (jrc == BL_OK && (ids[i] || req->attempts == 1)) {
        jrc = gd_after_upload(gr, jobs[i].path, &f);
      } else if (jrc == BL_OK) {
        const char *name;
        char *dir = gd_parent(jobs[i].path, &name), *pid = NULL;
        jrc = dir ? gd_folder_id(gr, dir, &pid, NULL) : gd_nomem(gr);
        if (jrc == BL_OK) jrc = gd_dedupe(gr, dir, pid, name, jobs[i].path);
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
  for (size_t i = 0; ups && i < n; i++) gd_upload_clear(&ups[i]);
  for (size_t i = 0; ids && i < n; i++) gd_ids_free(ids[i], nids[i]);
  free(paths);
  free(ups);
  free(run);
  free(ids);
  free(nids);
}

static int gdrive_write_many(bl_remote *r, bl_remote_write_job *jobs, size_t n) {
  gdrive_remote *gr = (gdrive_remote *)r;
  for (size_t start = 0; start < n;) {
    /* A window: small jobs up to GDRIVE_BATCH_BYTES in memory at once. */
    size_t end = start;
    int64_t bytes = 0;
    while (end < n && (end == start || bytes + jobs[end].size <= GDRIVE_BATCH_BYTES) &&
           jobs[end].size <= GDRIVE_SIMPLE_MAX)
      bytes += jobs[end++].size;
    if (end == start) {
      /* A large file: alone, streamed in chunks. */
      int rc = gd_write(gr, jobs[start].path, jobs[start].src, jobs[start].size, NULL);
      if (rc != BL_OK) gd_wjob_fail(gr, rc, &jobs[start]);
      start++;
      continue;
    }
    unsigned char **mem = calloc(end - start, sizeof *mem);
    for (size_t i = start; i < end; i++) {
      int rc = mem ? gd_slurp(gr, jobs[i].src, jobs[i].size, &mem[i - start]) : gd_nomem(gr);
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

/* ------------------------------------------------------------- change feed */

/* The folders a feed reports, without duplicates. */
static int gd_add_folder(bl_remote_changes *out, const char *p) {
  for (size_t i = 0; i < out->nfolders; i++)
    if (strcmp(out->folders[i], p) == 0) return BL_OK;
  char **grown = realloc(out->folders, (out->nfolders + 1) * sizeof *grown);
  if (!grown) return BL_ENOMEM;
  out->folders = grown;
  if (!(grown[out->nfolders] = gd_strdup(p))) return BL_ENOMEM;
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
    gd_node *x = map_find(&gr->ids, cur);
    if (x && x->path) {
      if (!gd_below(x->path, path)) return 0;
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
    char *url = gd_url_file(cur, "?fields=id%2Cname%2Cparents%2CmimeType");
    if (!url) return gd_nomem(gr);
    bl__http_request req = {.method = "GET", .url = url};
    int rc = gd_perform(gr, &req);
    bl__gdrive_file f = {0};
    if (rc == BL_OK) rc = gd_upload_result(gr, &req, &f);
    if (rc == BL_OK && idmap_set_link(gr, cur, f.name, f.nparents ? f.parents[0] : NULL) != BL_OK)
      rc = gd_nomem(gr);
    bl__gdrive_file_clear(&f);
    bl__http_request_clear(&req);
    free(url);
    if (rc == BL_ENOTFOUND) return 0; /* deleted since: nothing to fetch there */
    if (rc != BL_OK) return rc;
  }
  gd_str s = {0};
  str_add(&s, base);
  for (size_t i = depth; i-- > 0;) {
    if (s.len) str_add(&s, "/");
    str_add(&s, chain[i]);
  }
  return (*out = str_take(&s)) ? 1 : gd_nomem(gr);
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
    if (map_find(&gr->ids, c->file.id)) continue;
    if (idmap_set_link(gr, c->file.id, c->file.name,
                       c->file.nparents ? c->file.parents[0] : NULL) != BL_OK)
      return gd_nomem(gr);
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
      if (k == 1 && gd_add_folder(out, folder) != BL_OK) k = gd_nomem(gr);
      free(folder);
      if (k < 0) return k;
    }
  }
  return BL_OK;
}

/* The real id of "root" (parents name it so), asked for once. */
static int gd_root_id(gdrive_remote *gr, const char **id) {
  if (!gr->root_id) {
    bl__http_request req = {.method = "GET", .url = "/drive/v3/files/root?fields=id"};
    int rc = gd_perform(gr, &req);
    bl__gdrive_file f = {0};
    if (rc == BL_OK && (rc = gd_upload_result(gr, &req, &f)) == BL_OK) {
      gr->root_id = f.id;
      f.id = NULL;
      if (idmap_set_path(gr, gr->root_id, "") != BL_OK) rc = gd_nomem(gr);
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
  int rc = gd_perform(gr, &req);
  char *start = NULL, *pid = NULL, err[200];
  if (rc == BL_OK) {
    rc = bl__gdrive_parse_start_token(req.response, req.response_len, &start, err, sizeof err);
    if (rc != BL_OK) gd_bad_answer(gr, rc, err);
  } else if (rc == BL_ENOTFOUND) {
    rc = BL_OK; /* no change feed here: always list */
    goto done;
  }
  if (rc != BL_OK) goto done;
  if (!*path) {
    const char *root;
    if ((rc = gd_root_id(gr, &root)) == BL_OK && !(pid = gd_strdup(root))) rc = gd_nomem(gr);
  } else {
    rc = gd_folder_id(gr, path, &pid, NULL);
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

static int gdrive_changes(bl_remote *r, const char *path, const char *since,
                          bl_remote_changes *out) {
  gdrive_remote *gr = (gdrive_remote *)r;
  uint64_t hash = 0;
  char *pid = NULL, *page = NULL;
  bl__gdrive_changes all = {0};
  int rc = BL_OK;
  int ok = since ? bl__gdrive_token_parse(since, &hash, &pid, &page) : 0;
  if (ok < 0) {
    rc = gd_nomem(gr);
    goto done;
  }
  gd_node *x = map_find(&gr->paths, path);
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
    str_add(&u, "/drive/v3/changes?pageToken=");
    str_enc(&u, page);
    str_add(&u, "&pageSize=1000&includeRemoved=true&fields=");
    str_enc(&u,
            "nextPageToken,newStartPageToken,changes(fileId,removed,file(id,name,mimeType,parents,"
            "trashed))");
    char *url = str_take(&u);
    if (!url) {
      rc = gd_nomem(gr);
      goto done;
    }
    bl__http_request req = {.method = "GET", .url = url};
    rc = gd_perform(gr, &req);
    free(url);
    int refused = rc != BL_OK && gd_token_refused(&req);
    bl__gdrive_changes pg = {0};
    char err[200];
    if (rc == BL_OK) {
      rc = bl__gdrive_parse_changes(req.response, req.response_len, &pg, err, sizeof err);
      if (rc != BL_OK) gd_bad_answer(gr, rc, err);
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
        rc = gd_nomem(gr);
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
  if (idmap_set_path(gr, pid, path) != BL_OK) {
    rc = gd_nomem(gr);
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
  return rc == BL_OK ? BL_OK : gd_fail(gr, rc, "following changes below", path);
}

static uint64_t gdrive_request_count(bl_remote *r) {
  return bl__http_request_count(((gdrive_remote *)r)->http);
}

/* --------------------------------------------------------------------- open */

static void gdrive_free(bl_remote *r) {
  gdrive_remote *gr = (gdrive_remote *)r;
  bl__http_client_free(gr->http);
  map_free(&gr->paths);
  map_free(&gr->ids);
  free(gr->base_url);
  free(gr->root_id);
  free(gr);
}

int bl__remote_gdrive_open(bl_remote **out, const char *url, const bl_remote_options *opts) {
  *out = NULL;
  if (url) {
    char name[1024];
    if (bl_remote_url_app_folder(url, name, sizeof name) < 0)
      return bl__set_tls_error(BL_EMISUSE,
                               "gdrive URL: expected gdrive://AppFolderName (one folder name, "
                               "percent-encoded)");
  }
  if (!opts->token) return bl__set_tls_error(BL_EMISUSE, "gdrive needs a token callback");
  const char *base = opts->api_url && *opts->api_url ? opts->api_url : GDRIVE_API;
  gdrive_remote *gr = calloc(1, sizeof *gr);
  if (!gr) return bl__set_tls_error(BL_ENOMEM, "out of memory");
  int rc = BL_ENOMEM;
  if (!(gr->base_url = gd_strdup(base))) goto nomem;
  for (size_t n = strlen(gr->base_url); n > 0 && gr->base_url[n - 1] == '/';)
    gr->base_url[--n] = '\0';
  bl__http_opts h;
  bl__remote_http_opts(&h, opts, gr->base_url);
  if ((rc = bl__http_client_new(&gr->http, &h)) != BL_OK) goto fail;
  gr->max_in_flight = opts->max_in_flight > 0 ? (size_t)opts->max_in_flight : 4;
  /* The root is always known: Drive calls it "root". */
  gd_node *root = map_get(&gr->paths, "");
  if (!root || !(root->ids = malloc(sizeof *root->ids)) || !(root->ids[0] = gd_strdup("root")))
    goto nomem;
  root->nids = 1;
  root->is_folder = 1;
  if (idmap_set_path(gr, "root", "") != BL_OK) goto nomem;
  gr->base.version = BL_REMOTE_VERSION;
  gr->base.list = gdrive_list;
  gr->base.read = gdrive_read;
  gr->base.write = gdrive_write;
  gr->base.remove = gdrive_remove;
  gr->base.mkdir = gdrive_mkdir;
  gr->base.free = gdrive_free;
  gr->base.read_many = gdrive_read_many;
  gr->base.write_many = gdrive_write_many;
  gr->base.changes = gdrive_changes;
  gr->base.request_count = gdrive_request_count;
  *out = &gr->base;
  return BL_OK;
nomem:
  rc = bl__set_tls_error(BL_ENOMEM, "out of memory");
fail:
  gdrive_free(&gr->base);
  return rc;
}
