/*
 * onedrive.c — the OneDrive backend: the app's folder (special/approot) of
 * the user's drive, through Microsoft Graph.
 *
 * Files are addressed by path below the app folder
 * (/me/drive/special/approot:/a/b:/...), with every segment
 * percent-encoded; the app folder itself is /me/drive/special/approot.
 * Every request goes through the shared HTTP layer (src/net/), which
 * retries, backs off, refreshes the token and writes the messages.
 *
 *   list     GET …:/children with $top/$select, every @odata.nextLink
 *   read     GET …:/content, following the 302 to the pre-authenticated
 *            download URL (curl sends no credentials to another host)
 *   write    up to 4 MiB one PUT …:/content; more through an upload
 *            session: createUploadSession, then 5 MiB fragments (16 × 320
 *            KiB, Graph's unit) PUT to the uploadUrl by a second HTTP
 *            client that has no token at all (the URL is pre-authenticated
 *            and must not see the bearer token); a failed session is
 *            cancelled with DELETE. A simple PUT refused with 413 goes
 *            through a session instead.
 *   remove   DELETE the item
 *   mkdir    GET the folder; when missing, the deepest existing ancestor,
 *            then POST …/children level by level (conflictBehavior fail; a
 *            409 is someone else's folder, checked with a GET)
 *   changes  Graph delta on the app folder (below)
 *
 * Graph creates missing parent folders when a file is PUT by path, but the
 * contract wants BL_ENOTFOUND then, so a write addresses a nested file by
 * its parent folder's id (/me/drive/items/{id}:/name:/content): a parent
 * that is gone is a 404, never a new folder. Folder ids come from a small
 * path → id cache filled by mkdir and by one GET per folder otherwise; a
 * cached id the service no longer knows is looked up again once.
 *
 * Change feed: the token is "od1:<app folder id>:<deltaLink>". A first
 * call asks delta?token=latest (nothing is enumerated) and answers all = 1;
 * later calls GET the stored deltaLink and follow @odata.nextLink pages to
 * the new @odata.deltaLink, so an idle call costs one request, also in a
 * fresh process. Each file reported is mapped to its folder's path through
 * an id → (parent id, name) cache fed by the folders in the delta pages and,
 * for ids still unknown, by GETs walking up to the app folder (at most
 * OD_WALK_MAX). Graph does not give parentReference.path in delta answers,
 * so ids are all we rely on. Links are only followed to the API's own
 * origin, so neither the service nor a tampered token can send the bearer
 * token elsewhere.
 *
 * Divided into: state and strings; caches; errors; list; read; write
 * (sources, parents, simple upload, upload sessions, batches); remove;
 * mkdir; changes; open.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "backless.h"
#include "backless/remote.h"
#include "net/http.h"
#include "remote/onedrive_internal.h"
#include "remote/remote_internal.h"
#include "util/errmsg.h"
#include "util/strbuf.h"

#define OD_DEFAULT_API "https://graph.microsoft.com/v1.0"
#define OD_APPROOT "/me/drive/special/approot"
#define OD_ITEMS "/me/drive/items/"
#define OD_SIMPLE_MAX ((int64_t)4 * 1024 * 1024)
#define OD_FRAGMENT_UNIT ((size_t)320 * 1024)
#define OD_FRAGMENT (16 * OD_FRAGMENT_UNIT)
#define OD_LIST_QUERY "$top=1000&$select=id,name,size,folder,file,lastModifiedDateTime"
#define OD_ITEM_QUERY "$select=id,name,folder,file,parentReference"
#define OD_TOKEN_PREFIX "od1:"
#define OD_WALK_MAX 5     /* GETs to map one changed file's folder */
#define OD_RESYNC_MAX 3   /* times an upload session may correct our offset */
#define OD_BATCH 32       /* files of write_many held in memory at once */
#define OD_MAX_PAGES 100000

/* Internal outcomes besides the BL_E* codes (positive, never returned). */
#define OD_TOO_LARGE 1  /* a simple PUT answered 413 */
#define OD_NOT_FOLDER 2 /* a lookup found a file */

typedef struct od_pathid {
  char *path; /* folder path below the app folder */
  char *id;
} od_pathid;

typedef struct od_node {
  char *id, *parent_id, *name; /* parent_id NULL: the drive's root */
} od_node;

typedef struct od_remote {
  bl_remote base;
  bl__http_client *http; /* the API, with the bearer token */
  bl__http_client *anon; /* pre-authenticated upload URLs: no credentials */
  char *origin;          /* "scheme://host[:port]/" of the API */
  size_t max_in_flight;
  int64_t simple_max;
  size_t fragment;
  char *approot_id; /* NULL until learned */
  od_pathid *paths;
  size_t npaths, cap_paths;
  od_node *nodes;
  size_t nnodes, cap_nodes;
} od_remote;

static void od_free(bl_remote *r);

/* ------------------------------------------------------ state and strings */

/* "<approot>[:/<path>:][/<action>][?<query>]" (NULL when out of memory). */
static char *od_url(const char *path, const char *action, const char *query) {
  bl__strbuf s = {0};
  bl__strbuf_add(&s, OD_APPROOT);
  if (*path) {
    bl__strbuf_add(&s, ":/");
    bl__strbuf_add_pct(&s, path, "/");
    bl__strbuf_add(&s, ":");
  }
  if (action) bl__strbuf_add(&s, "/"), bl__strbuf_add(&s, action);
  if (query) bl__strbuf_add(&s, "?"), bl__strbuf_add(&s, query);
  return bl__strbuf_take(&s);
}

/* "/me/drive/items/<id>[/<action>][?<query>]". Graph's ids use '!'. */
static char *od_id_url(const char *id, const char *action, const char *query) {
  bl__strbuf s = {0};
  bl__strbuf_add(&s, OD_ITEMS);
  bl__strbuf_add_pct(&s, id, "!");
  if (action) bl__strbuf_add(&s, "/"), bl__strbuf_add(&s, action);
  if (query) bl__strbuf_add(&s, "?"), bl__strbuf_add(&s, query);
  return bl__strbuf_take(&s);
}

/* `action` on file `name` of the folder with id parent_id (NULL: the app
 * folder itself, addressed by path). */
static char *od_child_url(const char *parent_id, const char *name, const char *action) {
  bl__strbuf s = {0};
  if (parent_id) {
    bl__strbuf_add(&s, OD_ITEMS);
    bl__strbuf_add_pct(&s, parent_id, "!");
  } else {
    bl__strbuf_add(&s, OD_APPROOT);
  }
  bl__strbuf_add(&s, ":/");
  bl__strbuf_add_pct(&s, name, "");
  bl__strbuf_add(&s, ":/");
  bl__strbuf_add(&s, action);
  return bl__strbuf_take(&s);
}

/* Whether an absolute URL the service gave (or a token holds) is on the
 * API's own origin, so that the bearer token may go there. */
static int od_same_origin(const od_remote *o, const char *url) {
  return strncasecmp(url, o->origin, strlen(o->origin)) == 0;
}


/* ------------------------------------------------------------------ caches */

/* Both caches are best effort: a failed allocation only means a later
 * lookup costs a request. */

static od_pathid *od_pathid_find(od_remote *o, const char *path) {
  for (size_t i = 0; i < o->npaths; i++)
    if (strcmp(o->paths[i].path, path) == 0) return &o->paths[i];
  return NULL;
}

static void od_pathid_set(od_remote *o, const char *path, const char *id) {
  char *nid = strdup(id);
  if (!nid) return;
  od_pathid *e = od_pathid_find(o, path);
  if (e) {
    free(e->id);
    e->id = nid;
    return;
  }
  char *npath = strdup(path);
  if (!npath || (o->npaths == o->cap_paths && o->cap_paths > 4096)) goto fail;
  if (o->npaths == o->cap_paths) {
    size_t cap = o->cap_paths ? o->cap_paths * 2 : 16;
    od_pathid *grown = realloc(o->paths, cap * sizeof *grown);
    if (!grown) goto fail;
    o->paths = grown;
    o->cap_paths = cap;
  }
  o->paths[o->npaths].path = npath;
  o->paths[o->npaths].id = nid;
  o->npaths++;
  return;
fail:
  free(npath);
  free(nid);
}

/* Forgets `path` and, with below, every folder under it. */
static void od_pathid_drop(od_remote *o, const char *path, int below) {
  size_t n = strlen(path);
  for (size_t i = 0; i < o->npaths;) {
    const char *p = o->paths[i].path;
    if (strcmp(p, path) == 0 || (below && strncmp(p, path, n) == 0 && p[n] == '/')) {
      free(o->paths[i].path);
      free(o->paths[i].id);
      o->paths[i] = o->paths[--o->npaths];
    } else {
      i++;
    }
  }
}

static od_node *od_node_find(od_remote *o, const char *id) {
  for (size_t i = 0; i < o->nnodes; i++)
    if (strcmp(o->nodes[i].id, id) == 0) return &o->nodes[i];
  return NULL;
}

static void od_node_drop(od_remote *o, const char *id) {
  od_node *n = od_node_find(o, id);
  if (!n) return;
  free(n->id);
  free(n->parent_id);
  free(n->name);
  *n = o->nodes[--o->nnodes];
}

/* Records folder `id` (named `name`, in parent_id; NULL: the drive root). */
static void od_node_put(od_remote *o, const char *id, const char *parent_id, const char *name) {
  od_node_drop(o, id);
  if (o->nnodes == o->cap_nodes) {
    if (o->cap_nodes > 65536) return;
    size_t cap = o->cap_nodes ? o->cap_nodes * 2 : 32;
    od_node *grown = realloc(o->nodes, cap * sizeof *grown);
    if (!grown) return;
    o->nodes = grown;
    o->cap_nodes = cap;
  }
  od_node n = {strdup(id), parent_id ? strdup(parent_id) : NULL, strdup(name ? name : "")};
  if (!n.id || !n.name || (parent_id && !n.parent_id)) {
    free(n.id);
    free(n.parent_id);
    free(n.name);
    return;
  }
  o->nodes[o->nnodes++] = n;
}

enum { OD_IN, OD_UNKNOWN, OD_OUTSIDE };

/*
 * The path below the app folder of folder `id`, from the node cache alone:
 * OD_IN with *out malloc'ed ("" for the app folder), OD_UNKNOWN with
 * *unknown (borrowed until the cache changes) the first id of the chain the
 * cache lacks, OD_OUTSIDE when the chain ends elsewhere (or loops), or
 * BL_ENOMEM.
 */
static int od_node_path(od_remote *o, const char *id, char **out, const char **unknown) {
  const char *names[64];
  size_t k = 0;
  *out = NULL;
  for (const char *cur = id; !o->approot_id || strcmp(cur, o->approot_id) != 0;) {
    if (!o->approot_id || k == 64) return OD_OUTSIDE;
    od_node *n = od_node_find(o, cur);
    if (!n) {
      *unknown = cur;
      return OD_UNKNOWN;
    }
    if (!n->parent_id) return OD_OUTSIDE;
    names[k++] = n->name;
    cur = n->parent_id;
  }
  bl__strbuf s = {0};
  bl__strbuf_add(&s, "");
  for (size_t i = k; i-- > 0;) {
    bl__strbuf_add(&s, names[i]);
    if (i) bl__strbuf_add(&s, "/");
  }
  return (*out = bl__strbuf_take(&s)) ? OD_IN : BL_ENOMEM;
}

/* ------------------------------------------------------------------ errors */

static int od_nomem(od_remote *o) { return bl_remote_set_error(&o->base, BL_ENOMEM, "out of memory"); }

/* An operation that succeeded after a step that failed on the way (a probe
 * for a missing folder, a stale id, an expired token) leaves no message. */
static int od_done(od_remote *o, int rc) {
  if (rc == BL_OK && o->base.errmsg && *o->base.errmsg) bl_remote_set_error(&o->base, BL_OK, "%s", "");
  return rc;
}

/* The code of a failed request: its own, or BL_EIO for a success status we
 * did not expect. */
static int od_code(const bl__http_request *q) { return q->rc != BL_OK ? q->rc : BL_EIO; }

/* A failed request of operation `what` on `path`; the HTTP layer's message
 * already names the method, the URL, the status and the service's words. */
static int od_fail(od_remote *o, const bl__http_request *q, const char *what, const char *path) {
  if (q->rc == BL_OK)
    return bl_remote_set_error(&o->base, BL_EIO, "%s '%s': unexpected HTTP status %ld", what, path,
                               q->status);
  return bl_remote_set_error(&o->base, q->rc, "%s '%s': %s", what, path, q->errmsg);
}

/* A parser's failure on an answer of operation `what`. */
static int od_bad_answer(od_remote *o, int rc, const char *what, const char *path) {
  if (rc == BL_ENOMEM) return od_nomem(o);
  return bl_remote_set_error(&o->base, BL_EIO, "%s '%s': the service's answer is not the JSON expected",
                             what, path);
}

/* A request: method and URL, everything else zero. */
static bl__http_request od_req(const char *method, const char *url) {
  bl__http_request q;
  memset(&q, 0, sizeof q);
  q.method = method;
  q.url = url;
  return q;
}

/* -------------------------------------------------------------------- list */

static int od_list(bl_remote *r, const char *path, bl_remote_entry **out, size_t *count) {
  od_remote *o = (od_remote *)r;
  int rc = BL_OK;
  bl_remote_entry *e = NULL;
  size_t n = 0, cap = 0;
  bl__od_page pg = {0};
  bl__http_request q = od_req("GET", NULL);
  char *url = od_url(path, "children", OD_LIST_QUERY);
  if (!url) return od_nomem(o);

  for (size_t pages = 0; url; pages++) {
    if (pages == OD_MAX_PAGES) {
      rc = bl_remote_set_error(r, BL_EIO, "listing '%s': more than %d pages", path, OD_MAX_PAGES);
      goto done;
    }
    q = od_req("GET", url);
    if (bl__http_perform(o->http, &q) != BL_OK) {
      rc = od_fail(o, &q, "listing", path);
      goto done;
    }
    if ((rc = bl__onedrive_parse_page(q.response, q.response_len, &pg)) != BL_OK) {
      rc = od_bad_answer(o, rc, "listing", path);
      goto done;
    }
    for (size_t i = 0; i < pg.nitems; i++) {
      bl__od_item *it = &pg.items[i];
      if (!it->name || it->deleted) continue;
      if (n == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        bl_remote_entry *grown = realloc(e, ncap * sizeof *grown);
        if (!grown) {
          rc = od_nomem(o);
          goto done;
        }
        e = grown;
        cap = ncap;
      }
      e[n].name = it->name; /* taken over */
      it->name = NULL;
      e[n].is_folder = it->is_folder;
      e[n].size = it->is_folder ? -1 : it->size;
      e[n].mtime = it->mtime;
      n++;
    }
    free(url);
    url = pg.next_link;
    pg.next_link = NULL;
    bl__onedrive_page_clear(&pg);
    bl__http_request_clear(&q);
    if (url && !od_same_origin(o, url)) {
      rc = bl_remote_set_error(r, BL_EIO, "listing '%s': the next page is on another host than the API",
                               path);
      goto done;
    }
  }

done:
  free(url);
  bl__onedrive_page_clear(&pg);
  bl__http_request_clear(&q);
  if (rc != BL_OK) {
    bl_remote_entries_free(e, n);
    return rc;
  }
  *out = e;
  *count = n;
  return BL_OK;
}

/* -------------------------------------------------------------------- read */

/* Passes the bytes on to the caller's sink and keeps its own code: the HTTP
 * layer only knows BL_E* codes, the contract wants the sink's value back. */
typedef struct od_sink {
  bl_remote_sink sink;
  void *payload;
  int stopped;
} od_sink;

static int od_sink_cb(const void *data, size_t len, void *payload) {
  od_sink *s = payload;
  int v = s->sink(data, len, s->payload);
  if (v != 0) {
    s->stopped = v;
    return BL_ERROR;
  }
  return 0;
}

/* The outcome of one download into msg (cap bytes); returns its code. */
static int od_read_outcome(const char *path, const bl__http_request *q, const od_sink *s, char *msg,
                           size_t cap) {
  msg[0] = '\0';
  if (s->stopped) {
    snprintf(msg, cap, "reading '%s': stopped by the receiver (%d)", path, s->stopped);
    return s->stopped;
  }
  if (q->rc != BL_OK) {
    snprintf(msg, cap, "reading '%s': %s", path, q->errmsg);
    return q->rc;
  }
  return BL_OK;
}

static int od_read(bl_remote *r, const char *path, bl_remote_sink sink, void *payload) {
  od_remote *o = (od_remote *)r;
  char *url = od_url(path, "content", NULL);
  if (!url) return od_nomem(o);
  od_sink s = {sink, payload, 0};
  bl__http_request q = od_req("GET", url);
  q.follow_redirects = 1;
  q.sink = od_sink_cb;
  q.sink_payload = &s;
  bl__http_perform(o->http, &q);
  char msg[768];
  int rc = od_read_outcome(path, &q, &s, msg, sizeof msg);
  if (rc != BL_OK) bl_remote_set_error(r, rc, "%s", msg);
  bl__http_request_clear(&q);
  free(url);
  return rc;
}

static int od_read_many(bl_remote *r, bl_remote_read_job *jobs, size_t n) {
  od_remote *o = (od_remote *)r;
  int rc = BL_OK;
  bl__http_request *qs = calloc(n, sizeof *qs);
  bl__http_request **qp = calloc(n, sizeof *qp);
  od_sink *ss = calloc(n, sizeof *ss);
  char **urls = calloc(n, sizeof *urls);
  if (!qs || !qp || !ss || !urls) {
    rc = od_nomem(o);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (!(urls[i] = od_url(jobs[i].path, "content", NULL))) {
      rc = od_nomem(o);
      goto done;
    }
    ss[i] = (od_sink){jobs[i].sink, jobs[i].payload, 0};
    qs[i] = od_req("GET", urls[i]);
    qs[i].follow_redirects = 1;
    qs[i].sink = od_sink_cb;
    qs[i].sink_payload = &ss[i];
    qp[i] = &qs[i];
  }
  /* Every request's outcome is filled in, whatever the batch returns. */
  bl__http_run_many(o->http, qp, n, o->max_in_flight);
  for (size_t i = 0; i < n; i++) {
    jobs[i].rc = od_read_outcome(jobs[i].path, &qs[i], &ss[i], jobs[i].errmsg, sizeof jobs[i].errmsg);
    if (jobs[i].rc != BL_OK && rc == BL_OK) rc = bl_remote_set_error(r, jobs[i].rc, "%s", jobs[i].errmsg);
  }

done:
  for (size_t i = 0; qs && urls && i < n; i++) {
    bl__http_request_clear(&qs[i]);
    free(urls[i]);
  }
  free(qs);
  free(qp);
  free(ss);
  free(urls);
  return rc;
}

/* ------------------------------------------------------------------- write */

/* Where a write's bytes come from: the caller's FILE (read as needed, and
 * sought when an upload must resume elsewhere) or memory. */
typedef struct od_source {
  FILE *f;
  off_t start; /* the FILE's offset of byte 0; -1 when it cannot seek */
  int64_t pos; /* the FILE's next byte, from start */
  const unsigned char *mem;
  int64_t size;
} od_source;

/* Copies bytes [off, off + n) of the source into buf. BL_OK, or BL_EIO
 * when the source is shorter than announced or unreadable. */
static int od_source_get(od_remote *o, const char *path, od_source *s, int64_t off,
                         unsigned char *buf, size_t n) {
  if (n == 0) return BL_OK;
  if (s->mem) {
    memcpy(buf, s->mem + off, n);
    return BL_OK;
  }
  if (off != s->pos) {
    if (s->start < 0 || fseeko(s->f, s->start + (off_t)off, SEEK_SET) != 0)
      return bl_remote_set_error(&o->base, BL_EIO, "writing '%s': cannot seek the source to byte %lld",
                                 path, (long long)off);
    s->pos = off;
  }
  size_t got = 0;
  while (got < n) {
    size_t k = fread(buf + got, 1, n - got, s->f);
    if (k == 0) break;
    got += k;
  }
  s->pos += (int64_t)got;
  if (got < n) {
    if (ferror(s->f))
      return bl_remote_set_error(&o->base, BL_EIO, "writing '%s': reading the source failed after %lld bytes",
                                 path, (long long)(off + (int64_t)got));
    return bl_remote_set_error(&o->base, BL_EIO, "writing '%s': the source ended after %lld of %lld bytes",
                               path, (long long)(off + (int64_t)got), (long long)s->size);
  }
  return BL_OK;
}

/*
 * GETs the item at folder path `dir` ("" is not asked here). BL_OK with
 * its id cached and *id set (borrowed from the cache), BL_ENOTFOUND when
 * nothing has that path, OD_NOT_FOLDER when a file does, or the request's
 * code; the message names operation `what` on `target`.
 */
static int od_lookup(od_remote *o, const char *what, const char *target, const char *dir,
                     const char **id) {
  int rc;
  bl__od_item it = {0};
  char *url = od_url(dir, NULL, OD_ITEM_QUERY);
  if (!url) return od_nomem(o);
  bl__http_request q = od_req("GET", url);
  if (bl__http_perform(o->http, &q) != BL_OK) {
    if (q.rc == BL_ENOTFOUND)
      rc = bl_remote_set_error(&o->base, BL_ENOTFOUND, "%s '%s': folder '%s' does not exist (%s)", what,
                               target, dir, q.errmsg);
    else
      rc = od_fail(o, &q, what, target);
    goto done;
  }
  if ((rc = bl__onedrive_parse_item(q.response, q.response_len, &it)) != BL_OK || !it.id) {
    rc = od_bad_answer(o, rc, what, target);
    goto done;
  }
  if (!it.is_folder) {
    rc = OD_NOT_FOLDER;
    goto done;
  }
  /* A folder right below the app folder tells the app folder's id. */
  if (!strchr(dir, '/') && it.parent_id && !o->approot_id) o->approot_id = strdup(it.parent_id);
  od_pathid_set(o, dir, it.id);
  od_pathid *e = od_pathid_find(o, dir);
  if (!e) {
    rc = od_nomem(o);
    goto done;
  }
  *id = e->id;
done:
  bl__onedrive_item_clear(&it);
  bl__http_request_clear(&q);
  free(url);
  return rc;
}

/*
 * The URL of `action` ("content", "createUploadSession") on file `path`:
 * by path for a file of the app folder itself, else through its parent
 * folder's id, from the cache unless `fresh`. *cached tells whether the id
 * came from the cache (and may be stale). BL_ENOTFOUND when the parent
 * folder does not exist.
 */
static int od_write_url(od_remote *o, const char *path, const char *action, int fresh, char **url,
                        int *cached) {
  const char *name, *id = NULL;
  int rc = BL_OK;
  *url = NULL;
  *cached = 0;
  char *dir = bl__remote_split_path(path, &name);
  if (!dir) return od_nomem(o);
  if (*dir) {
    od_pathid *e = fresh ? NULL : od_pathid_find(o, dir);
    if (e) {
      id = e->id;
      *cached = 1;
    } else {
      rc = od_lookup(o, "writing", path, dir, &id);
      if (rc == OD_NOT_FOLDER)
        rc = bl_remote_set_error(&o->base, BL_ENOTFOUND, "writing '%s': '%s' is a file, not a folder", path,
                                 dir);
    }
  }
  if (rc == BL_OK && !(*url = od_child_url(id, name, action))) rc = od_nomem(o);
  free(dir);
  return rc;
}

/* The outcome of a simple PUT into msg; returns BL_OK, OD_TOO_LARGE or
 * the failure's code. */
static int od_put_outcome(const char *path, const bl__http_request *q, char *msg, size_t cap) {
  msg[0] = '\0';
  if (q->status == 413) return OD_TOO_LARGE;
  if (q->rc == BL_OK && (q->status == 200 || q->status == 201)) return BL_OK;
  if (q->rc == BL_ENOTFOUND) {
    snprintf(msg, cap, "writing '%s': the parent folder does not exist (%s)", path, q->errmsg);
  } else if (q->status == 409) {
    snprintf(msg, cap, "writing '%s': a folder of that name is in the way (%s)", path, q->errmsg);
    return BL_EIO;
  } else if (q->rc == BL_OK) {
    snprintf(msg, cap, "writing '%s': unexpected HTTP status %ld", path, q->status);
  } else {
    snprintf(msg, cap, "writing '%s': %s", path, q->errmsg);
  }
  return od_code(q);
}

static const char *const od_octet_headers[] = {"Content-Type: application/octet-stream", NULL};
static const char *const od_json_headers[] = {"Content-Type: application/json", NULL};

/* One PUT of `len` bytes. */
static int od_put_simple(od_remote *o, const char *path, const unsigned char *data, size_t len,
                         int fresh, int *cached) {
  char *url = NULL;
  int rc = od_write_url(o, path, "content", fresh, &url, cached);
  if (rc != BL_OK) return rc;
  bl__http_request q = od_req("PUT", url);
  q.headers = od_octet_headers;
  q.body = data ? (const void *)data : (const void *)"";
  q.body_len = len;
  bl__http_perform(o->http, &q);
  char msg[768];
  rc = od_put_outcome(path, &q, msg, sizeof msg);
  if (rc < 0) bl_remote_set_error(&o->base, rc, "%s", msg);
  bl__http_request_clear(&q);
  free(url);
  return rc;
}

/* Cancels an upload session (best effort: it expires anyway). */
static void od_session_cancel(od_remote *o, const char *upload_url) {
  bl__http_request q = od_req("DELETE", upload_url);
  bl__http_perform(o->anon, &q);
  bl__http_request_clear(&q);
}

/* Where the session expects the next byte (GET on its URL), or -1. */
static int64_t od_session_status(od_remote *o, const char *upload_url) {
  int64_t next = -1;
  bl__http_request q = od_req("GET", upload_url);
  if (bl__http_perform(o->anon, &q) == BL_OK)
    bl__onedrive_parse_session(q.response, q.response_len, NULL, &next);
  bl__http_request_clear(&q);
  return next;
}

/* Sends the source to an open upload session in fragments. A fragment the
 * service already has (its answer to a retried PUT was lost: 416), or a
 * different next range in its answer, moves our offset to where the
 * service says, a few times at most. */
static int od_session_send(od_remote *o, const char *path, od_source *src, const char *upload_url) {
  int rc = BL_OK, resyncs = 0;
  int64_t size = src->size, off = 0;
  size_t frag = size < (int64_t)o->fragment ? (size_t)size : o->fragment;
  unsigned char *buf = malloc(frag ? frag : 1);
  if (!buf) return od_nomem(o);
  for (;;) {
    if (off >= size) {
      rc = bl_remote_set_error(&o->base, BL_EIO, "writing '%s': the upload session did not finish after "
                                                 "its last byte", path);
      break;
    }
    size_t n = size - off < (int64_t)frag ? (size_t)(size - off) : frag;
    if ((rc = od_source_get(o, path, src, off, buf, n)) != BL_OK) break;
    char range[96];
    snprintf(range, sizeof range, "Content-Range: bytes %lld-%lld/%lld", (long long)off,
             (long long)(off + (int64_t)n - 1), (long long)size);
    const char *headers[] = {range, NULL};
    bl__http_request q = od_req("PUT", upload_url);
    q.headers = headers;
    q.body = buf;
    q.body_len = n;
    bl__http_perform(o->anon, &q);
    int64_t next = -1;
    if (q.status == 200 || q.status == 201) {
      bl__http_request_clear(&q);
      break; /* the file is complete */
    }
    if (q.status == 202) {
      bl__onedrive_parse_session(q.response, q.response_len, NULL, &next);
      if (next < 0 || next == off + (int64_t)n) next = off + (int64_t)n;
      else if (resyncs++ == OD_RESYNC_MAX) next = -1;
    } else if (q.status == 416 && resyncs++ < OD_RESYNC_MAX) {
      next = od_session_status(o, upload_url);
    } else {
      rc = od_fail(o, &q, "writing", path);
      bl__http_request_clear(&q);
      break;
    }
    bl__http_request_clear(&q);
    if (next < 0 || next > size) {
      rc = bl_remote_set_error(&o->base, BL_EIO, "writing '%s': the upload session lost track of the bytes "
                                                 "sent (at %lld of %lld)", path, (long long)off, (long long)size);
      break;
    }
    off = next;
  }
  free(buf);
  return rc;
}

/* An upload through a session: create it, send the fragments, cancel it
 * on failure (the old file, if any, is untouched until the last byte). */
static int od_put_session(od_remote *o, const char *path, od_source *src, int fresh, int *cached) {
  char *url = NULL, *upload_url = NULL;
  int64_t next;
  int rc = od_write_url(o, path, "createUploadSession", fresh, &url, cached);
  if (rc != BL_OK) return rc;
  bl__http_request q = od_req("POST", url);
  q.headers = od_json_headers;
  q.body = bl__onedrive_session_body;
  q.body_len = strlen(bl__onedrive_session_body);
  if (bl__http_perform(o->http, &q) != BL_OK) {
    if (q.rc == BL_ENOTFOUND)
      rc = bl_remote_set_error(&o->base, BL_ENOTFOUND, "writing '%s': the parent folder does not exist (%s)",
                               path, q.errmsg);
    else if (q.status == 409)
      rc = bl_remote_set_error(&o->base, BL_EIO, "writing '%s': a folder of that name is in the way (%s)", path,
                               q.errmsg);
    else
      rc = od_fail(o, &q, "writing", path);
    goto done;
  }
  rc = bl__onedrive_parse_session(q.response, q.response_len, &upload_url, &next);
  if (rc != BL_OK || !upload_url) {
    rc = od_bad_answer(o, rc, "writing", path);
    goto done;
  }
  rc = od_session_send(o, path, src, upload_url);
  if (rc != BL_OK) od_session_cancel(o, upload_url);
done:
  bl__http_request_clear(&q);
  free(upload_url);
  free(url);
  return rc;
}

/*
 * Writes `path` from src: one PUT when it is small (from memory, so a
 * short source is found before anything is sent), else a session. A 413
 * moves a simple PUT to a session; a cached parent id that is gone (404)
 * is looked up afresh once.
 */
static int od_put(od_remote *o, const char *path, od_source *src) {
  int rc = BL_OK, session = src->size > o->simple_max, stale_retried = 0;
  unsigned char *buf = NULL;
  od_source mem = *src;
  if (!session && !src->mem) {
    buf = malloc(src->size ? (size_t)src->size : 1);
    if (!buf) return od_nomem(o);
    if ((rc = od_source_get(o, path, src, 0, buf, (size_t)src->size)) != BL_OK) goto done;
    mem.f = NULL;
    mem.mem = buf;
  }
  for (int fresh = 0;;) {
    int cached = 0;
    rc = session ? od_put_session(o, path, &mem, fresh, &cached)
                 : od_put_simple(o, path, mem.mem, (size_t)mem.size, fresh, &cached);
    if (rc == OD_TOO_LARGE) {
      session = 1;
      continue;
    }
    if (rc == BL_ENOTFOUND && cached && !stale_retried) {
      stale_retried = fresh = 1;
      continue;
    }
    break;
  }
done:
  free(buf);
  return rc;
}

static int od_write(bl_remote *r, const char *path, FILE *src, int64_t size) {
  od_source s = {src, ftello(src), 0, NULL, size};
  if (s.start < 0) s.start = -1;
  return od_done((od_remote *)r, od_put((od_remote *)r, path, &s));
}

/* Copies the remote's message into a job's. */
static void od_job_msg(od_remote *o, char *msg, size_t cap) {
  snprintf(msg, cap, "%s", o->base.errmsg ? o->base.errmsg : "");
}

/* One window of write_many: small files read into memory and PUT in
 * parallel; large ones, and those the batch could not settle (413, a
 * stale parent id), one by one through od_put. */
static void od_write_window(od_remote *o, bl_remote_write_job *jobs, size_t n) {
  enum { W_DONE, W_BATCH, W_ALONE };
  unsigned char **bufs = calloc(n, sizeof *bufs);
  char **urls = calloc(n, sizeof *urls);
  int *state = calloc(n, sizeof *state), *cached = calloc(n, sizeof *cached);
  bl__http_request *qs = calloc(n, sizeof *qs);
  bl__http_request **qp = calloc(n, sizeof *qp);
  size_t nq = 0;
  if (!bufs || !urls || !state || !cached || !qs || !qp) {
    for (size_t i = 0; i < n; i++) {
      jobs[i].rc = od_nomem(o);
      od_job_msg(o, jobs[i].errmsg, sizeof jobs[i].errmsg);
    }
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    bl_remote_write_job *j = &jobs[i];
    od_source s = {j->src, ftello(j->src), 0, NULL, j->size};
    if (s.start < 0) s.start = -1;
    state[i] = W_ALONE;
    if (j->size > o->simple_max) continue;
    int rc = (bufs[i] = malloc(j->size ? (size_t)j->size : 1)) ? BL_OK : od_nomem(o);
    if (rc == BL_OK) rc = od_source_get(o, j->path, &s, 0, bufs[i], (size_t)j->size);
    if (rc == BL_OK) rc = od_write_url(o, j->path, "content", 0, &urls[i], &cached[i]);
    if (rc != BL_OK) {
      state[i] = W_DONE;
      j->rc = rc;
      od_job_msg(o, j->errmsg, sizeof j->errmsg);
      continue;
    }
    state[i] = W_BATCH;
    qs[i] = od_req("PUT", urls[i]);
    qs[i].headers = od_octet_headers;
    qs[i].body = bufs[i];
    qs[i].body_len = (size_t)j->size;
    qp[nq++] = &qs[i];
  }
  bl__http_run_many(o->http, qp, nq, o->max_in_flight);
  for (size_t i = 0; i < n; i++) {
    if (state[i] != W_BATCH) continue;
    int rc = od_put_outcome(jobs[i].path, &qs[i], jobs[i].errmsg, sizeof jobs[i].errmsg);
    if (rc == OD_TOO_LARGE || (rc == BL_ENOTFOUND && cached[i])) {
      if (rc == BL_ENOTFOUND) {
        const char *name;
        char *dir = bl__remote_split_path(jobs[i].path, &name);
        if (dir) od_pathid_drop(o, dir, 0);
        free(dir);
      }
      state[i] = W_ALONE;
      continue;
    }
    state[i] = W_DONE;
    jobs[i].rc = rc;
  }
  for (size_t i = 0; i < n; i++) {
    if (state[i] != W_ALONE) continue;
    bl_remote_write_job *j = &jobs[i];
    od_source s = {j->src, ftello(j->src), 0, bufs[i], j->size};
    if (bufs[i]) s.f = NULL;
    if (s.start < 0) s.start = -1;
    j->rc = od_put(o, j->path, &s);
    if (j->rc != BL_OK) od_job_msg(o, j->errmsg, sizeof j->errmsg);
  }
done:
  for (size_t i = 0; i < n; i++) {
    if (qs) bl__http_request_clear(&qs[i]);
    if (bufs) free(bufs[i]);
    if (urls) free(urls[i]);
  }
  free(bufs);
  free(urls);
  free(state);
  free(cached);
  free(qs);
  free(qp);
}

static int od_write_many(bl_remote *r, bl_remote_write_job *jobs, size_t n) {
  od_remote *o = (od_remote *)r;
  for (size_t at = 0; at < n; at += OD_BATCH)
    od_write_window(o, jobs + at, n - at < OD_BATCH ? n - at : OD_BATCH);
  for (size_t i = 0; i < n; i++)
    if (jobs[i].rc != BL_OK) return bl_remote_set_error(r, jobs[i].rc, "%s", jobs[i].errmsg);
  return od_done(o, BL_OK);
}

/* ------------------------------------------------------------------ remove */

static int od_remove(bl_remote *r, const char *path) {
  od_remote *o = (od_remote *)r;
  char *url = od_url(path, NULL, NULL);
  if (!url) return od_nomem(o);
  int rc = BL_OK;
  bl__http_request q = od_req("DELETE", url);
  if (bl__http_perform(o->http, &q) != BL_OK) rc = od_fail(o, &q, "removing", path);
  else od_pathid_drop(o, path, 1); /* it may have been a folder */
  bl__http_request_clear(&q);
  free(url);
  return rc;
}

/* ------------------------------------------------------------------- mkdir */

/* Learns the app folder's id (one GET) unless known. */
static int od_approot(od_remote *o, const char *what) {
  if (o->approot_id) return BL_OK;
  int rc = BL_OK;
  bl__od_item it = {0};
  bl__http_request q = od_req("GET", OD_APPROOT "?$select=id");
  if (bl__http_perform(o->http, &q) != BL_OK) {
    rc = od_fail(o, &q, what, "");
  } else if ((rc = bl__onedrive_parse_item(q.response, q.response_len, &it)) != BL_OK || !it.id) {
    rc = od_bad_answer(o, rc, what, "");
  } else {
    o->approot_id = it.id;
    it.id = NULL;
  }
  bl__onedrive_item_clear(&it);
  bl__http_request_clear(&q);
  return rc;
}

/* Creates folder `name` in the folder with id parent_id (NULL: the app
 * folder); `dir` is the new folder's path. *id (malloc'ed) receives its
 * id. Someone else's folder of that name (409) is fine; a file is not. */
static int od_create_folder(od_remote *o, const char *parent_id, const char *dir, const char *name,
                            char **id) {
  int rc;
  char *body = NULL;
  size_t body_len = 0;
  bl__od_item it = {0};
  *id = NULL;
  char *url = parent_id ? od_id_url(parent_id, "children", NULL) : strdup(OD_APPROOT "/children");
  bl__http_request q = od_req("POST", url);
  if (!url) return od_nomem(o);
  rc = bl__onedrive_folder_body(name, &body, &body_len);
  if (rc != BL_OK) {
    rc = rc == BL_ENOMEM ? od_nomem(o)
                         : bl_remote_set_error(&o->base, BL_EMISUSE, "creating folder '%s': the name is not UTF-8", dir);
    goto done;
  }
  q.headers = od_json_headers;
  q.body = body;
  q.body_len = body_len;
  if (bl__http_perform(o->http, &q) == BL_OK) {
    if ((rc = bl__onedrive_parse_item(q.response, q.response_len, &it)) != BL_OK || !it.id) {
      rc = od_bad_answer(o, rc, "creating folder", dir);
      goto done;
    }
    od_pathid_set(o, dir, it.id);
    *id = it.id;
    it.id = NULL;
  } else if (q.status == 409) {
    const char *found = NULL;
    rc = od_lookup(o, "creating folder", dir, dir, &found);
    if (rc == OD_NOT_FOLDER || rc == BL_ENOTFOUND)
      rc = bl_remote_set_error(&o->base, BL_EIO, "creating folder '%s': a file of that name is in the way", dir);
    else if (rc == BL_OK && !(*id = strdup(found)))
      rc = od_nomem(o);
  } else if (q.rc == BL_ENOTFOUND) {
    rc = bl_remote_set_error(&o->base, BL_ENOTFOUND, "creating folder '%s': its parent folder is gone (%s)",
                             dir, q.errmsg);
  } else {
    rc = od_fail(o, &q, "creating folder", dir);
  }
done:
  bl__onedrive_item_clear(&it);
  bl__http_request_clear(&q);
  free(body);
  free(url);
  return rc;
}

static int od_mkdir(bl_remote *r, const char *path) {
  od_remote *o = (od_remote *)r;
  if (!*path) {
    /* The app folder always exists (Graph makes it on first use); one GET
     * checks that the service answers and learns its id. */
    free(o->approot_id);
    o->approot_id = NULL;
    return od_approot(o, "creating folder");
  }
  const char *id = NULL;
  int rc = od_lookup(o, "creating folder", path, path, &id);
  if (rc == OD_NOT_FOLDER)
    return bl_remote_set_error(r, BL_EIO, "creating folder '%s': a file of that name is in the way", path);
  if (rc != BL_ENOTFOUND) return rc;

  /* Up from the bottom to the deepest folder that exists ... */
  char *dir = strdup(path), *parent = NULL;
  if (!dir) return od_nomem(o);
  size_t len = strlen(dir), have = 0; /* dir[0..have) exists ("": the app folder) */
  for (size_t k = len; k-- > 0;) {
    if (dir[k] != '/') continue;
    dir[k] = '\0';
    rc = od_lookup(o, "creating folder", path, dir, &id);
    dir[k] = '/';
    if (rc == OD_NOT_FOLDER) {
      rc = bl_remote_set_error(r, BL_EIO, "creating folder '%s': a file named '%.*s' is in the way", path,
                               (int)k, dir);
      goto done;
    }
    if (rc == BL_OK) {
      have = k;
      if (!(parent = strdup(id))) rc = od_nomem(o);
      break;
    }
    if (rc != BL_ENOTFOUND) goto done;
  }
  if (rc != BL_OK && rc != BL_ENOTFOUND) goto done;
  /* ... then down, one level at a time. */
  for (size_t at = have ? have + 1 : 0; at <= len;) {
    size_t end = at + strcspn(dir + at, "/");
    char saved = dir[end];
    dir[end] = '\0';
    char *name = dir + at, *made = NULL;
    rc = od_create_folder(o, parent, dir, name, &made);
    dir[end] = saved;
    free(parent);
    parent = made;
    if (rc != BL_OK) goto done;
    at = end + 1;
  }
done:
  free(parent);
  free(dir);
  return od_done(o, rc);
}

/* ----------------------------------------------------------------- changes */

/* Every item of a delta run, in order. */
typedef struct od_items {
  bl__od_item *v;
  size_t n, cap;
} od_items;

static void od_items_clear(od_items *it) {
  for (size_t i = 0; i < it->n; i++) bl__onedrive_item_clear(&it->v[i]);
  free(it->v);
  memset(it, 0, sizeof *it);
}

/*
 * GETs a delta link and every @odata.nextLink after it until the
 * @odata.deltaLink, which goes to *delta_link (malloc'ed). Items go to
 * `items` unless it is NULL. On a failed request *status is its HTTP
 * status (0 for none) and the message is set.
 */
static int od_delta(od_remote *o, const char *first, od_items *items, char **delta_link, long *status) {
  int rc = BL_OK;
  bl__od_page pg = {0};
  bl__http_request q = od_req("GET", NULL);
  char *url = strdup(first);
  *delta_link = NULL;
  *status = 0;
  if (!url) return od_nomem(o);
  for (size_t pages = 0;; pages++) {
    if (pages == OD_MAX_PAGES || (strstr(url, "://") && !od_same_origin(o, url))) {
      rc = bl_remote_set_error(&o->base, BL_EIO, "changes: the service's delta links lead astray");
      break;
    }
    q = od_req("GET", url);
    if (bl__http_perform(o->http, &q) != BL_OK) {
      *status = q.status;
      rc = bl_remote_set_error(&o->base, q.rc, "changes: %s", q.errmsg);
      break;
    }
    if ((rc = bl__onedrive_parse_page(q.response, q.response_len, &pg)) != BL_OK) {
      rc = od_bad_answer(o, rc, "changes of", "");
      break;
    }
    for (size_t i = 0; items && i < pg.nitems; i++) {
      if (items->n == items->cap) {
        size_t cap = items->cap ? items->cap * 2 : 64;
        bl__od_item *grown = realloc(items->v, cap * sizeof *grown);
        if (!grown) {
          rc = od_nomem(o);
          goto done;
        }
        items->v = grown;
        items->cap = cap;
      }
      items->v[items->n++] = pg.items[i]; /* taken over */
      memset(&pg.items[i], 0, sizeof pg.items[i]);
    }
    free(url);
    url = NULL;
    if (pg.delta_link) {
      *delta_link = pg.delta_link;
      pg.delta_link = NULL;
      break;
    }
    if (!pg.next_link) {
      rc = bl_remote_set_error(&o->base, BL_EIO, "changes: a delta page has neither a next nor a delta link");
      break;
    }
    url = pg.next_link;
    pg.next_link = NULL;
    bl__onedrive_page_clear(&pg);
    bl__http_request_clear(&q);
  }
done:
  free(url);
  bl__onedrive_page_clear(&pg);
  bl__http_request_clear(&q);
  return rc;
}

/* "od1:<app folder id, percent-encoded>:<deltaLink>" (NULL: no memory). */
static char *od_token_make(const od_remote *o, const char *delta_link) {
  bl__strbuf s = {0};
  bl__strbuf_add(&s, OD_TOKEN_PREFIX);
  bl__strbuf_add_pct(&s, o->approot_id, "!");
  bl__strbuf_add(&s, ":");
  bl__strbuf_add(&s, delta_link);
  return bl__strbuf_take(&s);
}

/* Reads a token of ours: the app folder's id (malloc'ed) and the delta
 * link (borrowed from since). 0, or -1 when since is no token of this
 * remote (another backend's, another API origin's, or mangled). */
static int od_token_parse(const od_remote *o, const char *since, char **root_id, const char **link) {
  *root_id = NULL;
  if (strncmp(since, OD_TOKEN_PREFIX, strlen(OD_TOKEN_PREFIX)) != 0) return -1;
  const char *id = since + strlen(OD_TOKEN_PREFIX), *colon = strchr(id, ':');
  if (!colon || colon == id || !od_same_origin(o, colon + 1)) return -1;
  char *out = malloc((size_t)(colon - id) + 1), *w = out;
  if (!out) return -1;
  for (const char *p = id; p < colon; p++) {
    if (*p == '%' && colon - p > 2) {
      char hex[3] = {p[1], p[2], '\0'};
      char *end;
      long v = strtol(hex, &end, 16);
      if (*end || v <= 0) {
        free(out);
        return -1;
      }
      *w++ = (char)v;
      p += 2;
    } else {
      *w++ = *p;
    }
  }
  *w = '\0';
  *root_id = out;
  *link = colon + 1;
  return 0;
}

/* Adds `folder` to out->folders unless it is there. */
static int od_report_folder(od_remote *o, bl_remote_changes *out, char *folder) {
  for (size_t i = 0; i < out->nfolders; i++)
    if (strcmp(out->folders[i], folder) == 0) {
      free(folder);
      return BL_OK;
    }
  char **grown = realloc(out->folders, (out->nfolders + 1) * sizeof *grown);
  if (!grown) {
    free(folder);
    return od_nomem(o);
  }
  out->folders = grown;
  out->folders[out->nfolders++] = folder;
  return BL_OK;
}

/* Outcomes of mapping a folder id to a path, besides OD_IN / OD_OUTSIDE. */
enum { OD_GONE = 10, OD_LOST = 11 };

/* The path of folder `id`, walking up with GETs where the cache has no
 * answer: OD_IN (*out malloc'ed), OD_OUTSIDE, OD_GONE (deleted since),
 * OD_LOST (too deep or the service failed), or BL_ENOMEM. */
static int od_resolve(od_remote *o, const char *id, char **out) {
  for (int walks = 0;; walks++) {
    const char *unknown = NULL;
    int k = od_node_path(o, id, out, &unknown);
    if (k != OD_UNKNOWN) return k;
    if (walks == OD_WALK_MAX) return OD_LOST;
    char *url = od_id_url(unknown, NULL, "$select=id,name,parentReference");
    if (!url) return BL_ENOMEM;
    bl__od_item it = {0};
    bl__http_request q = od_req("GET", url);
    int rc = bl__http_perform(o->http, &q), res = OD_UNKNOWN;
    if (rc == BL_ENOTFOUND) res = OD_GONE;
    else if (rc != BL_OK) res = OD_LOST;
    else if ((rc = bl__onedrive_parse_item(q.response, q.response_len, &it)) != BL_OK || !it.id)
      res = rc == BL_ENOMEM ? BL_ENOMEM : OD_LOST;
    else
      od_node_put(o, unknown, it.parent_id, it.name);
    bl__onedrive_item_clear(&it);
    bl__http_request_clear(&q);
    free(url);
    if (res != OD_UNKNOWN) return res;
  }
}

/* Turns the items of a delta run into out->folders (or out->all = 1). */
static int od_report(od_remote *o, const char *path, od_items *items, bl_remote_changes *out) {
  size_t plen = strlen(path);
  /* Folders first: a page may name a file before its new folder. */
  for (size_t i = 0; i < items->n; i++) {
    bl__od_item *it = &items->v[i];
    if (!it->id || strcmp(it->id, o->approot_id) == 0) continue;
    if (it->deleted) {
      od_node_drop(o, it->id);
    } else if (it->is_folder && it->name && it->parent_id) {
      od_node_put(o, it->id, it->parent_id, it->name);
    }
  }
  for (size_t i = 0; i < items->n; i++) {
    bl__od_item *it = &items->v[i];
    if (it->deleted || it->is_folder || !it->parent_id) continue;
    char *folder = NULL;
    int k = od_resolve(o, it->parent_id, &folder);
    if (k == BL_ENOMEM) return od_nomem(o);
    if (k == OD_LOST) {
      out->all = 1; /* the caller lists everything instead */
      break;
    }
    if (k != OD_IN) continue; /* gone, or outside the app folder */
    if (!plen || (strncmp(folder, path, plen) == 0 && (folder[plen] == '\0' || folder[plen] == '/'))) {
      int rc = od_report_folder(o, out, folder);
      if (rc != BL_OK) return rc;
    } else {
      free(folder);
    }
  }
  if (out->all) {
    for (size_t i = 0; i < out->nfolders; i++) free(out->folders[i]);
    free(out->folders);
    out->folders = NULL;
    out->nfolders = 0;
  }
  return BL_OK;
}

/* A delta error that a fresh start mends: the token expired (410
 * resyncRequired) or is refused; not auth, rate limits or the network. */
static int od_delta_resync(int rc, long status) {
  return rc != BL_EAUTH && rc != BL_ERATELIMIT && status >= 400 && status < 500;
}

/* No usable token: a new one from delta?token=latest, and all = 1. A
 * service without delta here (400/404/501) gives all = 1 and no token. */
static int od_changes_fresh(od_remote *o, bl_remote_changes *out) {
  char *link = NULL;
  long status = 0;
  out->all = 1;
  int rc = od_approot(o, "changes of");
  if (rc == BL_ENOTFOUND) return BL_OK; /* no app folder to follow: list everything */
  if (rc == BL_OK) rc = od_delta(o, OD_APPROOT "/delta?token=latest", NULL, &link, &status);
  if (rc != BL_OK) {
    if (rc == BL_ENOMEM) return rc;
    if (od_delta_resync(rc, status) || status == 501) return od_done(o, BL_OK); /* no feed */
    return rc;
  }
  out->token = od_token_make(o, link);
  free(link);
  return out->token ? od_done(o, BL_OK) : od_nomem(o);
}

static int od_changes(bl_remote *r, const char *path, const char *since, bl_remote_changes *out) {
  od_remote *o = (od_remote *)r;
  char *root_id = NULL, *link = NULL;
  const char *old = NULL;
  od_items items = {0};
  long status = 0;
  int rc;
  if (!since || od_token_parse(o, since, &root_id, &old) != 0 ||
      (o->approot_id && strcmp(o->approot_id, root_id) != 0)) {
    free(root_id); /* none, or not ours: start afresh */
    return od_changes_fresh(o, out);
  }
  if (!o->approot_id) o->approot_id = root_id;
  else free(root_id);

  rc = od_delta(o, old, &items, &link, &status);
  if (rc != BL_OK) {
    od_items_clear(&items);
    if (rc != BL_ENOMEM && od_delta_resync(rc, status)) return od_changes_fresh(o, out);
    return rc;
  }
  /* The new token first: whatever changes from here on is reported again. */
  out->token = od_token_make(o, link);
  free(link);
  rc = out->token ? od_report(o, path, &items, out) : od_nomem(o);
  od_items_clear(&items);
  return od_done(o, rc);
}

/* -------------------------------------------------------------------- open */

/* Both clients: the one with the token and the tokenless one of upload
 * sessions. */
static void od_stats(bl_remote *r, bl_remote_stats *out) {
  od_remote *o = (od_remote *)r;
  bl__http_stats a, b;
  bl__http_stats_get(o->http, &a);
  bl__http_stats_get(o->anon, &b);
  *out = (bl_remote_stats){a.requests + b.requests, a.rate_limited + b.rate_limited,
                           a.server_errors + b.server_errors, a.token_refreshes + b.token_refreshes};
}

static void od_free(bl_remote *r) {
  od_remote *o = (od_remote *)r;
  bl__http_client_free(o->http);
  bl__http_client_free(o->anon);
  for (size_t i = 0; i < o->npaths; i++) free(o->paths[i].path), free(o->paths[i].id);
  for (size_t i = 0; i < o->nnodes; i++)
    free(o->nodes[i].id), free(o->nodes[i].parent_id), free(o->nodes[i].name);
  free(o->paths);
  free(o->nodes);
  free(o->approot_id);
  free(o->origin);
  free(o);
}

void bl__onedrive_set_simple_max(bl_remote *r, int64_t bytes) {
  if (!r || r->free != od_free) return;
  ((od_remote *)r)->simple_max = bytes < 0 ? 0 : bytes;
}

void bl__onedrive_set_fragment(bl_remote *r, size_t bytes) {
  if (!r || r->free != od_free) return;
  bytes -= bytes % OD_FRAGMENT_UNIT;
  ((od_remote *)r)->fragment = bytes < OD_FRAGMENT_UNIT ? OD_FRAGMENT_UNIT : bytes;
}

int bl__remote_onedrive_open(bl_remote **out, const char *url, const bl_remote_options *opts) {
  char app[256];
  *out = NULL;
  if (url && bl_remote_url_app_folder(url, app, sizeof app) < 0)
    return bl__set_tls_error(BL_EMISUSE, "remote URL '%.*s': expected onedrive://AppFolderName (one folder name)",
                             (int)strcspn(url, "?#"), url);
  if (!opts->token)
    return bl__set_tls_error(BL_EMISUSE, "onedrive: a token callback is required (bl_remote_options.token)");
  const char *base = opts->api_url && *opts->api_url ? opts->api_url : OD_DEFAULT_API;
  const char *sep = strstr(base, "://");
  if (!sep || sep == base || !sep[3])
    return bl__set_tls_error(BL_EMISUSE, "onedrive: the API URL '%.*s' is not absolute", (int)strcspn(base, "?#"),
                             base);

  od_remote *o = calloc(1, sizeof *o);
  if (!o) return bl__set_tls_error(BL_ENOMEM, "out of memory");
  o->base.version = BL_REMOTE_VERSION;
  o->base.list = od_list;
  o->base.read = od_read;
  o->base.write = od_write;
  o->base.remove = od_remove;
  o->base.mkdir = od_mkdir;
  o->base.free = od_free;
  o->base.read_many = od_read_many;
  o->base.write_many = od_write_many;
  o->base.changes = od_changes;
  o->base.stats = od_stats;
  o->max_in_flight = opts->max_in_flight > 0 ? (size_t)opts->max_in_flight : 4;
  o->simple_max = OD_SIMPLE_MAX;
  o->fragment = OD_FRAGMENT;

  size_t olen = (size_t)(sep + 3 - base) + strcspn(sep + 3, "/?#");
  int rc = BL_ENOMEM;
  if (!(o->origin = malloc(olen + 2))) goto fail;
  memcpy(o->origin, base, olen);
  o->origin[olen] = '/';
  o->origin[olen + 1] = '\0';

  bl__http_opts h;
  bl__remote_http_opts(&h, opts, base);
  h.user = h.password = NULL; /* bearer tokens only */
  if ((rc = bl__http_client_new(&o->http, &h)) != BL_OK) goto fail;
  h.token = NULL; /* upload URLs carry their own authorisation */
  h.token_payload = NULL;
  if ((rc = bl__http_client_new(&o->anon, &h)) != BL_OK) goto fail;
  *out = &o->base;
  return BL_OK;

fail:
  if (rc == BL_ENOMEM) bl__set_tls_error(rc, "out of memory");
  od_free(&o->base);
  return rc;
}
