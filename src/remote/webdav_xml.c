/*
 * webdav_xml.c — reading WebDAV replies: the PROPFIND multistatus parser
 * (libxml2, namespace-aware) and the text helpers the backend builds its
 * URLs with. No I/O here, so the fuzz target and the unit tests call it on
 * canned bodies.
 *
 * Safety of the XML parse: the reply comes from a server we do not
 * control. libxml2 runs with XML_PARSE_NONET (nothing fetched) and without
 * XML_PARSE_NOENT / XML_PARSE_DTDLOAD; on top of that the parser is
 * stopped at the first document type declaration, before its internal
 * subset is read, so no entity can ever be declared (a multistatus never
 * has a DTD). Errors are collected, never printed.
 *
 * Divided into: text helpers (percent-coding, dates, temporary names);
 * hrefs and paths; the XML walk; the parse entry point.
 */
#define _DEFAULT_SOURCE /* timegm */

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlversion.h>

#include "backless.h"
#include "remote/webdav_internal.h"

/* ------------------------------------------------------------ text helpers */

static int webdav_hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *bl__webdav_decode(const char *s, size_t len, int *bad) {
  *bad = 0;
  char *out = malloc(len + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] != '%') {
      if (s[i] == '\0') goto bad;
      *o++ = s[i];
      continue;
    }
    int hi = i + 1 < len ? webdav_hex(s[i + 1]) : -1;
    int lo = i + 2 < len ? webdav_hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) goto bad;
    *o++ = (char)(hi * 16 + lo);
    i += 2;
  }
  *o = '\0';
  return out;
bad:
  free(out);
  *bad = 1;
  return NULL;
}

char *bl__webdav_encode_path(const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(s);
  if (n > (SIZE_MAX - 1) / 3) return NULL;
  char *out = malloc(3 * n + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    if (keep) {
      *o++ = (char)c;
    } else {
      *o++ = '%';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
  }
  *o = '\0';
  return out;
}

int bl__webdav_is_temp(const char *name) {
  return strncmp(name, BL__WEBDAV_TEMP_PREFIX, strlen(BL__WEBDAV_TEMP_PREFIX)) == 0;
}

/* Reads exactly `digits` decimal digits at *p; -1 when they are not there. */
static int webdav_digits(const char **p, int digits) {
  int v = 0;
  for (int i = 0; i < digits; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  *p += digits;
  return v;
}

int64_t bl__webdav_parse_date(const char *s) {
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const char *p = s;
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  while (*p == ' ' || *p == '\t') p++;
  if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) { /* "Sun," */
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) p++;
    if (*p == ',') p++;
    while (*p == ' ') p++;
  }
  int day = webdav_digits(&p, 2);
  if (day < 0 && (day = webdav_digits(&p, 1)) < 0) return 0;
  if (*p++ != ' ') return 0;
  int mon = -1;
  for (int m = 0; m < 12; m++)
    if (strncasecmp(p, months + 3 * m, 3) == 0) mon = m;
  if (mon < 0) return 0;
  p += 3;
  if (*p++ != ' ') return 0;
  int year = webdav_digits(&p, 4);
  if (year < 0 || *p++ != ' ') return 0;
  int hh = webdav_digits(&p, 2);
  if (hh < 0 || *p++ != ':') return 0;
  int mm = webdav_digits(&p, 2);
  if (mm < 0 || *p++ != ':') return 0;
  int ss = webdav_digits(&p, 2);
  if (ss < 0) return 0;
  while (*p == ' ') p++;
  if (*p && strcmp(p, "GMT") != 0 && strcmp(p, "UTC") != 0 && strcmp(p, "+0000") != 0) return 0;
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return 0;
  tm.tm_mday = day;
  tm.tm_mon = mon;
  tm.tm_year = year - 1900;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  time_t t = timegm(&tm);
  return t == (time_t)-1 ? 0 : (int64_t)t;
}

/* ------------------------------------------------------- hrefs and paths */

/* Rewrites a decoded path in place: runs of '/' become one and trailing
 * '/' go, so "/a//b/" and "/a/b" compare equal and the root is "". */
static void webdav_normalise(char *p) {
  char *o = p;
  for (const char *c = p; *c; c++)
    if (!(*c == '/' && o > p && o[-1] == '/')) *o++ = *c;
  while (o > p && o[-1] == '/') o--;
  *o = '\0';
}

/*
 * The decoded, normalised path an href names: the path of a full URL, a
 * relative reference resolved against `base` (a normalised path). Returns
 * a malloc'ed path, or NULL with *skip = 1 for an href that cannot be
 * decoded (or *skip = 0 when memory ran out). *slash tells whether the
 * href ended with '/'.
 */
static char *webdav_href_path(const char *href, const char *base, int *slash, int *skip) {
  *skip = 0;
  while (*href == ' ' || *href == '\t' || *href == '\r' || *href == '\n') href++;
  size_t len = strlen(href);
  while (len && (href[len - 1] == ' ' || href[len - 1] == '\t' || href[len - 1] == '\r' ||
                 href[len - 1] == '\n'))
    len--;
  /* "scheme://authority/path": keep the path */
  size_t i = 0;
  while (i < len && ((href[i] >= 'a' && href[i] <= 'z') || (href[i] >= 'A' && href[i] <= 'Z') ||
                     (i > 0 && ((href[i] >= '0' && href[i] <= '9') || href[i] == '+' ||
                                href[i] == '-' || href[i] == '.'))))
    i++;
  if (i > 0 && i + 3 <= len && href[i] == ':' && href[i + 1] == '/' && href[i + 2] == '/') {
    const char *auth = href + i + 3;
    size_t rest = len - (i + 3);
    const char *path = memchr(auth, '/', rest);
    len = path ? rest - (size_t)(path - auth) : 0;
    href = path ? path : "";
  }
  for (size_t k = 0; k < len; k++)
    if (href[k] == '?' || href[k] == '#') len = k;
  *slash = len > 0 && href[len - 1] == '/';

  int bad = 0;
  char *dec = bl__webdav_decode(href, len, &bad);
  if (!dec) {
    *skip = bad;
    return NULL;
  }
  if (dec[0] != '/') { /* relative to the listed collection */
    size_t bl = strlen(base), dl = strlen(dec);
    char *joined = malloc(bl + 1 + dl + 1);
    if (!joined) {
      free(dec);
      return NULL;
    }
    memcpy(joined, base, bl);
    joined[bl] = '/';
    memcpy(joined + bl + 1, dec, dl + 1);
    free(dec);
    dec = joined;
  }
  webdav_normalise(dec);
  return dec;
}

/* Whether one of two normalised, non-root paths ends with the other on a
 * segment boundary ("/remote.php/dav/c1" and "/dav/c1"): a server behind a
 * proxy may name the collection with a prefix the client never sees. */
static int webdav_suffix_match(const char *a, const char *b) {
  size_t al = strlen(a), bl = strlen(b);
  if (!al || !bl) return 0;
  if (al < bl) {
    const char *t = a;
    a = b, b = t;
    size_t tl = al;
    al = bl, bl = tl;
  }
  return memcmp(a + al - bl, b, bl) == 0; /* b starts with '/': a boundary */
}

/* -------------------------------------------------------------- XML walk */

static const xmlChar webdav_ns[] = "DAV:";

static int webdav_is(const xmlNode *n, const char *name) {
  return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
         xmlStrEqual(n->ns->href, webdav_ns) && xmlStrEqual(n->name, (const xmlChar *)name);
}

static xmlNode *webdav_child(const xmlNode *n, const char *name) {
  for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
    if (webdav_is(c, name)) return c;
  return NULL;
}

/* The status code of "HTTP/1.1 200 OK", or 0. */
static int webdav_status_code(const xmlNode *status) {
  xmlChar *t = status ? xmlNodeGetContent(status) : NULL;
  int code = 0;
  if (t) {
    const char *p = strchr((const char *)t, ' ');
    if (p) {
      while (*p == ' ') p++;
      int v = webdav_digits(&p, 3); /* three digits */
      if (v > 0) code = v;
    }
    xmlFree(t);
  }
  return code;
}

/* One <response> as read, before the members are picked. */
typedef struct webdav_item {
  char *path;    /* decoded, normalised */
  int slash;     /* the href ended with '/' */
  int folder;    /* -1 unknown, 0 file, 1 collection */
  int64_t size;  /* -1 unknown */
  int64_t mtime; /* 0 unknown */
} webdav_item;

/* Parses a getcontentlength value; -1 when it is not a plain number. */
static int64_t webdav_size(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
  if (*s < '0' || *s > '9') return -1;
  int64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (v > (INT64_MAX - (*s - '0')) / 10) return -1;
    v = v * 10 + (*s - '0');
  }
  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
  return *s ? -1 : v;
}

/* Reads the properties of one 2xx <prop> into it. Returns BL_OK or
 * BL_ENOMEM. */
static int webdav_read_prop(const xmlNode *prop, webdav_item *it) {
  for (xmlNode *p = prop->children; p; p = p->next) {
    if (webdav_is(p, "resourcetype")) {
      it->folder = webdav_child(p, "collection") ? 1 : 0;
    } else if (webdav_is(p, "getcontentlength") || webdav_is(p, "getlastmodified")) {
      xmlChar *t = xmlNodeGetContent(p);
      if (!t) return BL_ENOMEM;
      if (webdav_is(p, "getcontentlength"))
        it->size = webdav_size((const char *)t);
      else
        it->mtime = bl__webdav_parse_date((const char *)t);
      xmlFree(t);
    }
  }
  return BL_OK;
}

/* Reads one <response>. Returns BL_OK with it->path set, BL_OK with
 * it->path NULL for a response to leave out, or BL_ENOMEM. */
static int webdav_read_response(const xmlNode *resp, const char *base, webdav_item *it) {
  memset(it, 0, sizeof *it);
  it->folder = -1;
  it->size = -1;
  const xmlNode *href = webdav_child(resp, "href");
  if (!href) return BL_OK;
  /* The "status" form of a response: the resource is not there (a 404
   * member of a collection listing, say). */
  const xmlNode *st = webdav_child(resp, "status");
  if (st) {
    int code = webdav_status_code(st);
    if (code < 200 || code > 299) return BL_OK;
  }
  xmlChar *h = xmlNodeGetContent(href);
  if (!h) return BL_ENOMEM;
  int skip = 0;
  it->path = webdav_href_path((const char *)h, base, &it->slash, &skip);
  xmlFree(h);
  if (!it->path) return skip ? BL_OK : BL_ENOMEM;
  for (xmlNode *ps = resp->children; ps; ps = ps->next) {
    if (!webdav_is(ps, "propstat")) continue;
    int code = webdav_status_code(webdav_child(ps, "status"));
    const xmlNode *prop = webdav_child(ps, "prop");
    if (code < 200 || code > 299 || !prop) continue;
    if (webdav_read_prop(prop, it) != BL_OK) {
      free(it->path);
      it->path = NULL;
      return BL_ENOMEM;
    }
  }
  if (it->folder < 0) it->folder = it->slash;
  return BL_OK;
}

/* ------------------------------------------------------ the entry point */

static pthread_once_t webdav_xml_once = PTHREAD_ONCE_INIT;

/* libxml2 wants its globals set up once, before threads use it. */
static void webdav_xml_init(void) { xmlInitParser(); }

/* libxml2 2.12 made the error argument const. */
#if LIBXML_VERSION >= 21200
static void webdav_xml_quiet(void *payload, const xmlError *e) {
#else
static void webdav_xml_quiet(void *payload, xmlErrorPtr e) {
#endif
  (void)payload;
  (void)e;
}

/* Called where a <!DOCTYPE ...> starts, before its internal subset. */
static void webdav_xml_no_dtd(void *ctx, const xmlChar *name, const xmlChar *ext,
                              const xmlChar *sys) {
  (void)name, (void)ext, (void)sys;
  xmlParserCtxtPtr ctxt = ctx;
  *(int *)ctxt->_private = 1;
  xmlStopParser(ctxt);
}

void bl__webdav_listing_clear(bl__webdav_listing *l) {
  if (!l) return;
  bl_remote_entries_free(l->entries, l->count);
  memset(l, 0, sizeof *l);
}

static void webdav_err(char *err, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Writes the message of a failed parse into err (size bytes, may be 0). */
static void webdav_err(char *err, size_t size, const char *fmt, ...) {
  if (!size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, size, fmt, ap);
  va_end(ap);
}

/* The parser's last message, one line. */
static void webdav_xml_message(xmlParserCtxtPtr ctxt, char *buf, size_t size) {
  const xmlError *e = xmlCtxtGetLastError(ctxt);
  if (!e || !e->message) {
    snprintf(buf, size, "not well-formed");
    return;
  }
  snprintf(buf, size, "line %d: %s", e->line, e->message);
  buf[strcspn(buf, "\r\n")] = '\0';
}

int bl__webdav_parse_propfind(const char *xml, size_t len, const char *folder,
                              bl__webdav_listing *out, char *err, size_t errsize) {
  int rc = BL_OK, refused = 0;
  xmlParserCtxtPtr ctxt = NULL;
  xmlDocPtr doc = NULL;
  webdav_item *items = NULL;
  size_t nitems = 0, cap = 0;
  char *base = NULL, detail[200];
  memset(out, 0, sizeof *out);
  if (errsize) err[0] = '\0';

  if (!xml || len == 0) {
    webdav_err(err, errsize, "%s", "empty reply (expected a multistatus)");
    return BL_EIO;
  }
  if (len > INT_MAX) {
    webdav_err(err, errsize, "%s", "reply too large");
    return BL_EIO;
  }
  pthread_once(&webdav_xml_once, webdav_xml_init);
  base = strdup(folder ? folder : "");
  ctxt = xmlNewParserCtxt();
  if (!base || !ctxt) goto nomem;
  webdav_normalise(base);
  ctxt->_private = &refused;
  ctxt->sax->internalSubset = webdav_xml_no_dtd;
  ctxt->sax->serror = webdav_xml_quiet;
  doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "propfind.xml", NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (refused) {
    webdav_err(err, errsize, "%s",
               "the reply has a document type declaration (refused: no entities are read)");
    rc = BL_EIO;
    goto done;
  }
  if (!doc) { /* without XML_PARSE_RECOVER: not well-formed */
    webdav_xml_message(ctxt, detail, sizeof detail);
    webdav_err(err, errsize, "malformed XML reply (%s)", detail);
    rc = BL_EIO;
    goto done;
  }
  const xmlNode *root = xmlDocGetRootElement(doc);
  if (!webdav_is(root, "multistatus")) {
    webdav_err(err, errsize, "the reply is <%s>, not a DAV: multistatus",
               root && root->name ? (const char *)root->name : "nothing");
    rc = BL_EIO;
    goto done;
  }

  for (const xmlNode *resp = root->children; resp; resp = resp->next) {
    if (!webdav_is(resp, "response")) continue;
    webdav_item it;
    if (webdav_read_response(resp, base, &it) != BL_OK) goto nomem;
    if (!it.path) continue;
    if (nitems == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      webdav_item *grown = realloc(items, ncap * sizeof *grown);
      if (!grown) {
        free(it.path);
        goto nomem;
      }
      items = grown;
      cap = ncap;
    }
    items[nitems++] = it;
  }

  /* The collection itself: its own path, or failing that the first
   * response when it names the collection through a proxy's prefix. */
  size_t self = nitems;
  for (size_t i = 0; i < nitems && self == nitems; i++)
    if (!strcmp(items[i].path, base)) self = i;
  if (self == nitems && nitems && webdav_suffix_match(items[0].path, base)) self = 0;
  const char *parent = base;
  if (self < nitems) {
    out->self_found = 1;
    out->self_is_folder = items[self].folder == 1;
    parent = items[self].path;
  }
  size_t plen = strlen(parent);

  if (nitems) {
    out->entries = calloc(nitems, sizeof *out->entries);
    if (!out->entries) goto nomem;
  }
  for (size_t i = 0; i < nitems; i++) {
    const webdav_item *it = &items[i];
    if (i == self) continue;
    const char *name = strrchr(it->path, '/');
    name = name ? name + 1 : it->path;
    /* Below the collection but deeper than its members: Depth was ignored. */
    if (!strncmp(it->path, parent, plen) && it->path[plen] == '/' && name != it->path + plen + 1)
      continue;
    if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || bl__webdav_is_temp(name))
      continue;
    bl_remote_entry *e = &out->entries[out->count];
    if (!(e->name = strdup(name))) goto nomem;
    out->count++;
    e->is_folder = it->folder == 1;
    e->size = e->is_folder ? -1 : it->size;
    e->mtime = it->mtime;
  }
  goto done;

nomem:
  webdav_err(err, errsize, "%s", "out of memory");
  rc = BL_ENOMEM;
done:
  for (size_t i = 0; i < nitems; i++) free(items[i].path);
  free(items);
  free(base);
  if (doc) xmlFreeDoc(doc);
  if (ctxt) xmlFreeParserCtxt(ctxt);
  if (rc != BL_OK) bl__webdav_listing_clear(out);
  return rc;
}
