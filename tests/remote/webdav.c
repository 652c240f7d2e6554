/*
 * webdav.c — the WebDAV backend: the conformance suite against a real
 * WebDAV server (rclone serve webdav on 127.0.0.1, basic auth), then what
 * only WebDAV has: credentials (wrong, from the URL, from the options),
 * URL parsing, the PROPFIND parser on canned replies of other servers
 * (Nextcloud, default namespace, full-URL hrefs, malformed XML, entity
 * bombs), hidden temporary uploads, batches with per-job results, and the
 * number of requests each operation costs.
 *
 * One rclone process serves the whole binary (started on first use,
 * stopped at exit); each conformance remote is a fresh collection /c<N>.
 * rclone missing is a failure, not a skip: CI always installs it.
 *
 * Divided into: the server and the backend for conformance; helpers;
 * parser cases (no server); server cases.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "remote/webdav_internal.h"
#include "servers/server_proc.h"
#include "testutil.h"
#include "util/errmsg.h"

#define WD_USER "user"
#define WD_PASS "secret pass"
#define WD_PASS_URL "secret%20pass" /* as it is written in a URL */

/* ------------------------------------ the server and the conformance backend */

static server_proc wd_server;
static int wd_state; /* 0 not tried, 1 running, -1 failed */

static void wd_stop(void) {
  if (wd_state == 1) server_stop(&wd_server);
  wd_state = 0;
}

/* The running server, started on first use; NULL (with a message) when
 * it cannot be. */
static server_proc *wd_get_server(void) {
  if (wd_state == 0) {
    int rc = server_start_rclone_webdav(&wd_server, WD_USER, WD_PASS);
    if (rc == 1)
      fprintf(stderr, "  FAILURE: rclone is not installed (scripts/install-deps.sh installs it; "
                      "the WebDAV tests need `rclone serve webdav`)\n");
    wd_state = rc == 0 ? 1 : -1;
    if (rc == 0) atexit(wd_stop);
  }
  return wd_state == 1 ? &wd_server : NULL;
}

/* "webdav://user:secret%20pass@127.0.0.1:PORT/<path>" into buf. */
static void wd_url(char *buf, size_t cap, const char *path) {
  snprintf(buf, cap, "webdav://%s:%s@127.0.0.1:%d/%s", WD_USER, WD_PASS_URL, wd_server.port,
           path);
}

/* A remote on collection `path` of the server (opened with the URL's
 * credentials); NULL on failure, explained on stderr. */
static bl_remote *wd_open(const char *path) {
  char url[512];
  bl_remote *r = NULL;
  if (!wd_get_server()) return NULL;
  wd_url(url, sizeof url, path);
  if (bl_remote_open(&r, url) != BL_OK) {
    fprintf(stderr, "  bl_remote_open(%s): %s\n", url, bl_remote_errmsg(NULL));
    return NULL;
  }
  return r;
}

/* A fresh, empty collection "c<N>" on the server; its name into name. */
static int wd_fresh_collection(char *name, size_t cap) {
  static unsigned counter;
  bl_remote *root = wd_open("");
  if (!root) return BL_EIO;
  snprintf(name, cap, "c%u", ++counter);
  int rc = bl_remote_mkdir(root, name);
  if (rc != BL_OK) fprintf(stderr, "  mkdir %s: %s\n", name, bl_remote_errmsg(root));
  bl_remote_free(root);
  return rc;
}

/* The collection of the last conformance remote (cases open one at a
 * time), for its peers. */
static char wd_conf_last[32];

static int wd_conf_open(bl_remote **out, void *payload) {
  (void)payload;
  char name[32];
  *out = NULL;
  int rc = wd_fresh_collection(name, sizeof name);
  if (rc != BL_OK) return rc;
  snprintf(wd_conf_last, sizeof wd_conf_last, "%s", name);
  *out = wd_open(name);
  return *out ? BL_OK : BL_EIO;
}

static int wd_conf_peer(bl_remote **out, bl_remote *first, void *payload) {
  (void)first;
  (void)payload;
  *out = wd_open(wd_conf_last);
  return *out ? BL_OK : BL_EIO;
}

/* The collections stay on the server, which is removed with its data
 * directory at exit. */
static void wd_conf_close(bl_remote *r, void *payload) {
  (void)payload;
  bl_remote_free(r);
}

const conformance_backend conformance_target = {"webdav", wd_conf_open, wd_conf_close, NULL, wd_conf_peer};

/* ------------------------------------------------------------------ helpers */

/* A fresh collection and a remote on it; its directory on the server's
 * disk into dir (caller frees). */
static bl_remote *wd_fresh(char **dir) {
  char name[32];
  *dir = NULL;
  if (wd_fresh_collection(name, sizeof name) != BL_OK) return NULL;
  char data[300];
  snprintf(data, sizeof data, "%s/data", wd_server.dir);
  *dir = rt_join(data, name);
  return wd_open(name);
}

/* What the last call cost in requests. */
static uint64_t wd_since(bl_remote *r, uint64_t *mark) {
  uint64_t now = bl_remote_request_count(r), d = now - *mark;
  *mark = now;
  return d;
}

/* Parses `xml` for folder `folder`; the test frees the listing. */
static int wd_parse(const char *xml, const char *folder, bl__webdav_listing *l, char *err,
                    size_t cap) {
  return bl__webdav_parse_propfind(xml, strlen(xml), folder, l, err, cap);
}

static long wd_find(const bl__webdav_listing *l, const char *name) {
  return conformance_find(l->entries, l->count, name);
}

/* ------------------------------------------------- parser cases (no server) */

static const char nextcloud_reply[] =
    "<?xml version=\"1.0\"?>\n"
    "<d:multistatus xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\" "
    "xmlns:oc=\"http://owncloud.org/ns\" xmlns:nc=\"http://nextcloud.org/ns\">\n"
    " <d:response><d:href>/remote.php/dav/files/alice/App/</d:href>\n"
    "  <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>"
    "<d:getlastmodified>Tue, 01 Apr 2025 10:00:00 GMT</d:getlastmodified></d:prop>"
    "<d:status>HTTP/1.1 200 OK</d:status></d:propstat>\n"
    "  <d:propstat><d:prop><d:getcontentlength/></d:prop>"
    "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>\n"
    " <d:response><d:href>/remote.php/dav/files/alice/App/my%20file%2B1.json</d:href>\n"
    "  <d:propstat><d:prop><d:resourcetype/><d:getcontentlength>1234</d:getcontentlength>"
    "<d:getlastmodified>Sun, 06 Nov 1994 08:49:37 GMT</d:getlastmodified>"
    "<oc:fileid>42</oc:fileid><nc:has-preview>false</nc:has-preview></d:prop>"
    "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>\n"
    " <d:response><d:href>/remote.php/dav/files/alice/App/sub%20dir/</d:href>\n"
    "  <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop>"
    "<d:status>HTTP/1.1 200 OK</d:status></d:propstat>\n"
    "  <d:propstat><d:prop><d:getcontentlength/></d:prop>"
    "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>\n"
    /* a size only in a 404 propstat must not be believed */
    " <d:response><d:href>/remote.php/dav/files/alice/App/nolen</d:href>\n"
    "  <d:propstat><d:prop><d:resourcetype/></d:prop><d:status>HTTP/1.1 200 OK</d:status>"
    "</d:propstat>\n"
    "  <d:propstat><d:prop><d:getcontentlength>999</d:getcontentlength></d:prop>"
    "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>\n"
    " <d:response><d:href>/remote.php/dav/files/alice/App/caf%c3%a9.txt</d:href>\n"
    "  <d:propstat><d:prop><d:getcontentlength> 7 </d:getcontentlength><d:resourcetype/>"
    "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>\n"
    " <d:response><d:href>/remote.php/dav/files/alice/App/.bl-tmp-0011223344556677</d:href>\n"
    "  <d:propstat><d:prop><d:resourcetype/><d:getcontentlength>3</d:getcontentlength></d:prop>"
    "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>\n"
    "</d:multistatus>\n";

static void test_remote_webdav__parse_nextcloud(void) {
  bl__webdav_listing l;
  char err[256];
  /* The folder given without its trailing '/': still recognised. */
  BL_REQUIRE(wd_parse(nextcloud_reply, "/remote.php/dav/files/alice/App", &l, err, sizeof err) ==
             BL_OK);
  BL_CHECK_INT(l.self_found, 1);
  BL_CHECK_INT(l.self_is_folder, 1);
  BL_CHECK_INT(l.count, 4); /* the temporary upload is hidden */
  long f = wd_find(&l, "my file+1.json"), d = wd_find(&l, "sub dir"), n = wd_find(&l, "nolen"),
       c = wd_find(&l, "caf\xc3\xa9.txt");
  BL_CHECK(f >= 0 && d >= 0 && n >= 0 && c >= 0);
  if (f >= 0) {
    BL_CHECK_INT(l.entries[f].is_folder, 0);
    BL_CHECK_INT(l.entries[f].size, 1234);
    BL_CHECK_INT(l.entries[f].mtime, 784111777);
  }
  if (d >= 0) {
    BL_CHECK_INT(l.entries[d].is_folder, 1);
    BL_CHECK_INT(l.entries[d].size, -1);
  }
  if (n >= 0) {
    BL_CHECK_INT(l.entries[n].is_folder, 0);
    BL_CHECK_INT(l.entries[n].size, -1);
    BL_CHECK_INT(l.entries[n].mtime, 0);
  }
  if (c >= 0) BL_CHECK_INT(l.entries[c].size, 7);
  bl__webdav_listing_clear(&l);
  /* With the trailing '/', the same. */
  BL_REQUIRE(wd_parse(nextcloud_reply, "/remote.php/dav/files/alice/App/", &l, err, sizeof err) ==
             BL_OK);
  BL_CHECK_INT(l.count, 4);
  BL_CHECK_INT(l.self_found, 1);
  bl__webdav_listing_clear(&l);
}

static void test_remote_webdav__parse_default_namespace(void) {
  static const char xml[] =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
      "<multistatus xmlns=\"DAV:\">"
      "<response><href>/dav/</href><propstat><prop><resourcetype><collection/></resourcetype>"
      "</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
      "<response><href>/dav/a.txt</href><propstat><prop><getcontentlength>5</getcontentlength>"
      "<resourcetype/><getlastmodified>Thu, 01 Jan 1970 00:01:40 GMT</getlastmodified></prop>"
      "<status>HTTP/1.1 200 OK</status></propstat></response>"
      /* an element called response in another namespace is nothing of ours */
      "<x:response xmlns:x=\"urn:other\"><x:href>/dav/fake</x:href></x:response>"
      /* another prefix bound to DAV: inside */
      "<D:response xmlns:D=\"DAV:\"><D:href>/dav/b</D:href><D:propstat><D:prop>"
      "<D:resourcetype><D:collection/></D:resourcetype></D:prop>"
      "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      "</multistatus>";
  bl__webdav_listing l;
  char err[256];
  BL_REQUIRE(wd_parse(xml, "/dav/", &l, err, sizeof err) == BL_OK);
  BL_CHECK_INT(l.count, 2);
  long a = wd_find(&l, "a.txt"), b = wd_find(&l, "b");
  BL_CHECK(a >= 0 && b >= 0 && wd_find(&l, "fake") < 0);
  if (a >= 0) {
    BL_CHECK_INT(l.entries[a].size, 5);
    BL_CHECK_INT(l.entries[a].mtime, 100);
  }
  if (b >= 0) BL_CHECK_INT(l.entries[b].is_folder, 1);
  bl__webdav_listing_clear(&l);
}

static void test_remote_webdav__parse_full_url_hrefs(void) {
  static const char xml[] =
      "<D:multistatus xmlns:D=\"DAV:\">"
      "<D:response><D:href>https://cloud.example.com:8443/dav/My%20App</D:href><D:propstat>"
      "<D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop>"
      "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      "<D:response><D:href>https://cloud.example.com:8443/dav/My%20App/x%20y.json?v=1</D:href>"
      "<D:propstat><D:prop><D:resourcetype/><D:getcontentlength>12</D:getcontentlength></D:prop>"
      "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      /* no resourcetype at all: the trailing '/' tells a collection */
      "<D:response><D:href>http://cloud.example.com/dav/My%20App/folder/</D:href>"
      "<D:propstat><D:prop><D:getlastmodified>garbage</D:getlastmodified></D:prop>"
      "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      /* a relative reference */
      "<D:response><D:href>rel.txt</D:href><D:propstat><D:prop><D:resourcetype/></D:prop>"
      "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      /* the status form: not there */
      "<D:response><D:href>/dav/My%20App/gone</D:href>"
      "<D:status>HTTP/1.1 404 Not Found</D:status></D:response>"
      /* deeper than a member: a server that ignored Depth: 1 */
      "<D:response><D:href>/dav/My%20App/folder/deep.txt</D:href><D:propstat><D:prop>"
      "<D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      /* undecodable: left out */
      "<D:response><D:href>/dav/My%20App/bad%zz</D:href><D:propstat><D:prop>"
      "<D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      "<D:response><D:href>/dav/My%20App/nul%00</D:href><D:propstat><D:prop>"
      "<D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      "</D:multistatus>";
  bl__webdav_listing l;
  char err[256];
  BL_REQUIRE(wd_parse(xml, "/dav/My App/", &l, err, sizeof err) == BL_OK);
  BL_CHECK_INT(l.self_found, 1);
  BL_CHECK_INT(l.count, 3);
  long x = wd_find(&l, "x y.json"), f = wd_find(&l, "folder"), r = wd_find(&l, "rel.txt");
  BL_CHECK(x >= 0 && f >= 0 && r >= 0);
  if (x >= 0) BL_CHECK_INT(l.entries[x].size, 12);
  if (f >= 0) {
    BL_CHECK_INT(l.entries[f].is_folder, 1);
    BL_CHECK_INT(l.entries[f].mtime, 0);
  }
  bl__webdav_listing_clear(&l);
}

static void test_remote_webdav__parse_self(void) {
  /* PROPFIND on a file: only the file itself comes back. */
  static const char file[] =
      "<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/dav/f.json</d:href><d:propstat>"
      "<d:prop><d:resourcetype/><d:getcontentlength>3</d:getcontentlength></d:prop>"
      "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>";
  /* A server behind a proxy names the collection with a prefix. */
  static const char proxied[] =
      "<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/remote.php/dav/c1/</d:href>"
      "<d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop>"
      "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
      "<d:response><d:href>/remote.php/dav/c1/x</d:href><d:propstat><d:prop><d:resourcetype/>"
      "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
      "</d:multistatus>";
  /* The root collection. */
  static const char root[] =
      "<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/</d:href><d:propstat><d:prop>"
      "<d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK"
      "</d:status></d:propstat></d:response><d:response><d:href>/top/</d:href><d:propstat>"
      "<d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200"
      " OK</d:status></d:propstat></d:response><d:response><d:href>/top/deeper</d:href>"
      "</d:response></d:multistatus>";
  bl__webdav_listing l;
  char err[256];
  BL_REQUIRE(wd_parse(file, "/dav/f.json/", &l, err, sizeof err) == BL_OK);
  BL_CHECK_INT(l.self_found, 1);
  BL_CHECK_INT(l.self_is_folder, 0);
  BL_CHECK_INT(l.count, 0);
  bl__webdav_listing_clear(&l);
  BL_REQUIRE(wd_parse(proxied, "/c1/", &l, err, sizeof err) == BL_OK);
  BL_CHECK_INT(l.self_found, 1);
  BL_CHECK_INT(l.count, 1);
  BL_CHECK(wd_find(&l, "x") == 0);
  bl__webdav_listing_clear(&l);
  BL_REQUIRE(wd_parse(root, "/", &l, err, sizeof err) == BL_OK);
  BL_CHECK_INT(l.self_found, 1);
  BL_CHECK_INT(l.count, 1);
  BL_CHECK(wd_find(&l, "top") == 0);
  bl__webdav_listing_clear(&l);
  /* An empty multistatus is an empty listing. */
  BL_CHECK_INT(wd_parse("<multistatus xmlns='DAV:'/>", "/", &l, err, sizeof err), BL_OK);
  BL_CHECK_INT(l.count, 0);
  BL_CHECK_INT(l.self_found, 0);
  bl__webdav_listing_clear(&l);
}

static void test_remote_webdav__parse_refused(void) {
  static const struct {
    const char *xml;
    const char *expect; /* in the message */
  } bad[] = {
      {"<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/x</d:href>", "malformed XML"},
      {"<d:multistatus xmlns:d=\"DAV:\"><d:response></d:multistatus>", "malformed XML"},
      {"not xml at all", "malformed XML"},
      {"", "empty"},
      {"<html><body>Login</body></html>", "not a DAV: multistatus"},
      {"<multistatus xmlns=\"urn:not-dav\"/>", "not a DAV: multistatus"},
      {"<multistatus/>", "not a DAV: multistatus"},
      /* an undeclared entity */
      {"<multistatus xmlns=\"DAV:\"><response><href>&foo;</href></response></multistatus>",
       "malformed XML"},
      /* billion laughs */
      {"<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
       " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
       " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
       " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
       " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
       " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
       " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
       " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
       " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
       "]>\n<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/&lol9;</d:href></d:response>"
       "</d:multistatus>",
       "document type"},
      /* an external entity (file disclosure) */
      {"<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
       "<multistatus xmlns=\"DAV:\"><response><href>/&e;</href></response></multistatus>",
       "document type"},
      /* an external DTD (a network fetch) */
      {"<?xml version=\"1.0\"?><!DOCTYPE multistatus SYSTEM \"http://127.0.0.1:9/x.dtd\">"
       "<multistatus xmlns=\"DAV:\"/>",
       "document type"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    bl__webdav_listing l;
    char err[256];
    int rc = wd_parse(bad[i].xml, "/", &l, err, sizeof err);
    if (rc != BL_EIO || !strstr(err, bad[i].expect) || l.entries || l.count) {
      fprintf(stderr, "  case %zu: rc %d, message \"%s\" (expected BL_EIO and \"%s\")\n", i, rc,
              err, bad[i].expect);
      bl_test_failed_checks++;
    }
    bl__webdav_listing_clear(&l);
  }
  /* A zero-size message buffer is fine. */
  bl__webdav_listing l;
  BL_CHECK_INT(bl__webdav_parse_propfind("<x", 2, "/", &l, NULL, 0), BL_EIO);
}

static void test_remote_webdav__text_helpers(void) {
  BL_CHECK_INT(bl__webdav_parse_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  BL_CHECK_INT(bl__webdav_parse_date("06 Nov 1994 08:49:37 GMT"), 784111777);
  BL_CHECK_INT(bl__webdav_parse_date("Sun, 6 Nov 1994 08:49:37 GMT"), 784111777);
  BL_CHECK_INT(bl__webdav_parse_date("Wed, 25 Nov 2026 05:48:45 GMT"), 1795585725);
  BL_CHECK_INT(bl__webdav_parse_date("yesterday"), 0);
  BL_CHECK_INT(bl__webdav_parse_date("Sun, 06 Foo 1994 08:49:37 GMT"), 0);
  BL_CHECK_INT(bl__webdav_parse_date("Sun, 06 Nov 1994 25:49:37 GMT"), 0);
  BL_CHECK_INT(bl__webdav_parse_date("Sun, 06 Nov 1994 08:49:37 CET"), 0);
  BL_CHECK_INT(bl__webdav_parse_date(""), 0);

  char *e = bl__webdav_encode_path("a b/c%d/\xc3\xa9~x_y-z.q?#+&");
  BL_CHECK_STR(e, "a%20b/c%25d/%C3%A9~x_y-z.q%3F%23%2B%26");
  free(e);
  int bad = 0;
  char *d = bl__webdav_decode("a%20b%2fc%C3%a9", 15, &bad);
  BL_CHECK_STR(d, "a b/c\xc3\xa9");
  BL_CHECK_INT(bad, 0);
  free(d);
  BL_CHECK(bl__webdav_decode("a%2", 3, &bad) == NULL && bad == 1);
  BL_CHECK(bl__webdav_decode("a%g0", 4, &bad) == NULL && bad == 1);
  BL_CHECK(bl__webdav_decode("a%00", 4, &bad) == NULL && bad == 1);
  BL_CHECK_INT(bl__webdav_is_temp(".bl-tmp-0123456789abcdef"), 1);
  BL_CHECK_INT(bl__webdav_is_temp(".bl-tmp"), 0);
  BL_CHECK_INT(bl__webdav_is_temp("x.bl-tmp-1"), 0);
}

/* ------------------------------------------------------------- server cases */

static void test_remote_webdav__wrong_password(void) {
  BL_REQUIRE(wd_get_server());
  char url[512];
  bl_remote *r = NULL;
  snprintf(url, sizeof url, "webdav://" WD_USER ":wrong-pass-4711@127.0.0.1:%d/", wd_server.port);
  BL_REQUIRE(bl_remote_open(&r, url) == BL_OK);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_EAUTH);
  const char *msg = bl_remote_errmsg(r);
  BL_CHECK(strstr(msg, "401") != NULL);
  BL_CHECK(strstr(msg, "wrong-pass-4711") == NULL);
  BL_CHECK(strstr(msg, "secret") == NULL);
  BL_CHECK_INT(bl_remote_write_buf(r, "x", "1", 1), BL_EAUTH);
  BL_CHECK(strstr(bl_remote_errmsg(r), "wrong-pass-4711") == NULL);
  bl_remote_free(r);

  /* No credentials at all. */
  snprintf(url, sizeof url, "webdav://127.0.0.1:%d/", wd_server.port);
  BL_REQUIRE(bl_remote_open(&r, url) == BL_OK);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_EAUTH);
  bl_remote_free(r);
}

static void test_remote_webdav__options_override_url(void) {
  BL_REQUIRE(wd_get_server());
  char url[512];
  bl_remote *r = NULL;
  bl_remote_entry *e = NULL;
  size_t n = 0;
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;

  /* The URL's password is wrong, the options' right. */
  snprintf(url, sizeof url, "webdav://" WD_USER ":nope@127.0.0.1:%d/", wd_server.port);
  o.password = WD_PASS;
  BL_REQUIRE(bl_remote_open_ex(&r, url, &o) == BL_OK);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  bl_remote_entries_free(e, n);
  bl_remote_free(r);

  /* The URL's user is wrong, the options' right; the password from the URL. */
  snprintf(url, sizeof url, "webdav://someone:%s@127.0.0.1:%d/", WD_PASS_URL, wd_server.port);
  o.user = WD_USER;
  o.password = NULL;
  BL_REQUIRE(bl_remote_open_ex(&r, url, &o) == BL_OK);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  bl_remote_entries_free(e, n);
  bl_remote_free(r);

  /* The options' wrong password wins over the URL's right one. */
  wd_url(url, sizeof url, "");
  o.user = NULL;
  o.password = "bad";
  BL_REQUIRE(bl_remote_open_ex(&r, url, &o) == BL_OK);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_EAUTH);
  bl_remote_free(r);

  /* bl_remote_webdav with an http:// URL and separate credentials. */
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", wd_server.port);
  BL_REQUIRE(bl_remote_webdav(&r, url, WD_USER, WD_PASS) == BL_OK);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  bl_remote_entries_free(e, n);
  bl_remote_free(r);
}

/* One row of the URL table: %P stands for the server's port. */
typedef struct wd_url_case {
  const char *url;
  int rc;
  const char *expect; /* in the message of a failure */
} wd_url_case;

static const wd_url_case wd_url_cases[] = {
    {"webdav://", BL_EMISUSE, "no host"},
    {"webdav:///path", BL_EMISUSE, "no host"},
    {"webdav://user:pw@/path", BL_EMISUSE, "no host"},
    {"webdav://127.0.0.1:%P/x?a=1", BL_EMISUSE, "query"},
    {"webdav://127.0.0.1:%P/x#frag", BL_EMISUSE, "fragment"},
    {"webdav://127.0.0.1:99999/x", BL_EMISUSE, "bad port"},
    {"webdav://127.0.0.1:/x", BL_EMISUSE, "bad port"},
    {"webdav://127.0.0.1:8o/x", BL_EMISUSE, "bad port"},
    {"webdav://[::1/x", BL_EMISUSE, "no host"},
    {"webdav://ho st/x", BL_EMISUSE, "bad character"},
    {"webdav://us%zz:pw@127.0.0.1/x", BL_EMISUSE, "percent-escape"},
    {"webdav://127.0.0.1:%P/a%2", BL_EMISUSE, "percent-escape"},
    {"webdav://127.0.0.1:%P/a/../b", BL_EMISUSE, "'..'"},
    {"webdav://example.com/dav", BL_EMISUSE, "plain http is refused for host example.com"},
    {"webdav://127.0.0.1.example.com/dav", BL_EMISUSE, "loopback"},
    {"WEBDAV://user:topsecret@example.com/dav", BL_EMISUSE, "WEBDAV://example.com/dav"},
    {"webdavs://example.com/dav", BL_OK, NULL},
    {"webdavs://user:pw@example.com:8443/remote.php/dav/files/user/", BL_OK, NULL},
    {"webdavs://[2001:db8::1]:443/dav", BL_OK, NULL},
    {"webdav://localhost:%P/", BL_OK, NULL},
    {"webdav://[::1]:%P/x", BL_OK, NULL},
    {"webdav://127.0.0.1:%P", BL_OK, NULL},
};

static void test_remote_webdav__open_urls(void) {
  BL_REQUIRE(wd_get_server());
  for (size_t i = 0; i < sizeof wd_url_cases / sizeof wd_url_cases[0]; i++) {
    const wd_url_case *c = &wd_url_cases[i];
    char url[512];
    const char *p = strstr(c->url, "%P");
    if (p)
      snprintf(url, sizeof url, "%.*s%d%s", (int)(p - c->url), c->url, wd_server.port, p + 2);
    else
      snprintf(url, sizeof url, "%s", c->url);
    bl_remote *r = (bl_remote *)&r; /* must be overwritten */
    int rc = bl_remote_open(&r, url);
    const char *msg = bl_remote_errmsg(NULL);
    int ok = rc == c->rc && (rc == BL_OK ? r != NULL : r == NULL && strstr(msg, c->expect) != NULL);
    /* never the password, whatever happened */
    ok = ok && !strstr(msg, "topsecret") && !strstr(msg, "pw@");
    /* opening sends nothing */
    if (rc == BL_OK) ok = ok && bl_remote_request_count(r) == 0;
    if (!ok) {
      fprintf(stderr, "  url '%s': rc %d (expected %d), message \"%s\" (expected \"%s\")\n", url,
              rc, c->rc, msg, c->expect ? c->expect : "");
      bl_test_failed_checks++;
    }
    if (rc == BL_OK) bl_remote_free(r);
  }

  /* bl_remote_webdav takes http(s):// too; plain http only to loopback. */
  bl_remote *r = NULL;
  BL_CHECK_INT(bl_remote_webdav(&r, "https://dav.example.com/x", NULL, NULL), BL_OK);
  bl_remote_free(r);
  BL_CHECK_INT(bl_remote_webdav(&r, "http://dav.example.com/x", "u", "topsecret"), BL_EMISUSE);
  BL_CHECK(r == NULL);
  BL_CHECK(strstr(bl_remote_errmsg(NULL), "plain http") != NULL);
  BL_CHECK_INT(bl_remote_webdav(&r, "ftp://dav.example.com/x", NULL, NULL), BL_EMISUSE);
  BL_CHECK(strstr(bl_remote_errmsg(NULL), "webdavs://") != NULL);

  /* No path is the server's root: it lists the collections made so far. */
  char url[512];
  snprintf(url, sizeof url, "webdav://%s:%s@127.0.0.1:%d", WD_USER, WD_PASS_URL, wd_server.port);
  BL_REQUIRE(bl_remote_open(&r, url) == BL_OK);
  char name[32];
  BL_REQUIRE(wd_fresh_collection(name, sizeof name) == BL_OK);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  long k = conformance_find(e, n, name);
  BL_CHECK(k >= 0 && e[k].is_folder);
  bl_remote_entries_free(e, n);
  bl_remote_free(r);

  /* A root with an encoded name, written two ways, is one collection. */
  BL_REQUIRE((r = wd_open("")) != NULL);
  BL_CHECK_INT(bl_remote_mkdir(r, "sp ace+\xc3\xa9"), BL_OK);
  bl_remote_free(r);
  BL_REQUIRE((r = wd_open("sp%20ace%2b%C3%A9//")) != NULL);
  BL_CHECK_INT(bl_remote_write_buf(r, "f", "1", 1), BL_OK);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(n, 1);
  bl_remote_entries_free(e, n);
  bl_remote_free(r);
  BL_REQUIRE((r = wd_open("sp%20ace+\xc3\xa9")) != NULL);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "f", &b), BL_OK);
  BL_CHECK(b.len == 1 && b.data[0] == '1');
  free(b.data);
  bl_remote_free(r);
}

static void test_remote_webdav__temp_files_hidden(void) {
  char *dir;
  bl_remote *r = wd_fresh(&dir);
  BL_REQUIRE(r && dir);
  /* A name of ours, as a crash would leave it (written through the server,
   * whose directory cache would not see a file made on its disk). */
  BL_CHECK_INT(bl_remote_write_buf(r, ".bl-tmp-00112233aabbccdd", "crash", 5), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, ".bl-tmpx", "not ours", 8), BL_OK);
  BL_CHECK_INT(bl_remote_write_buf(r, "data.json", "{}", 2), BL_OK);
  size_t n = 0;
  bl_remote_entry *e = NULL;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(n, 2);
  BL_CHECK(conformance_find(e, n, ".bl-tmpx") >= 0);
  BL_CHECK(conformance_find(e, n, "data.json") >= 0);
  bl_remote_entries_free(e, n);
  /* On the server's disk: the three files and no temporary besides. */
  BL_CHECK_INT(rt_count_entries(dir), 3);

  /* A failed write leaves no temporary either. */
  FILE *f = tmpfile();
  BL_REQUIRE(f);
  fputs("short", f);
  rewind(f);
  BL_CHECK_INT(bl_remote_write(r, "data.json", f, 100), BL_EIO);
  BL_CHECK(strstr(bl_remote_errmsg(r), "5 of 100") != NULL);
  fclose(f);
  BL_CHECK_INT(bl_remote_write_buf(r, "nodir/x", "1", 1), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_remote_errmsg(r), "nodir/x") != NULL);
  BL_CHECK_INT(rt_count_entries(dir), 3);
  free(dir);
  bl_remote_free(r);
}

/* Reads into per-job buffers. */
static void test_remote_webdav__batches(void) {
  enum { N = 20 };
  char *dir;
  bl_remote *r = wd_fresh(&dir);
  BL_REQUIRE(r);
  BL_REQUIRE(bl_remote_mkdir(r, "b") == BL_OK);
  bl_remote_write_job w[N + 1];
  FILE *src[N + 1];
  char paths[N + 1][32], content[N + 1][64];
  memset(w, 0, sizeof w);
  for (int i = 0; i <= N; i++) {
    /* job N goes into a folder that does not exist */
    snprintf(paths[i], sizeof paths[i], i == N ? "missing/f%02d" : "b/f%02d", i);
    snprintf(content[i], sizeof content[i], "content of file %d: %.*s", i, i, "xxxxxxxxxxxxxxxxxxxx");
    src[i] = tmpfile();
    BL_REQUIRE(src[i]);
    fputs(content[i], src[i]);
    rewind(src[i]);
    w[i].path = paths[i];
    w[i].src = src[i];
    w[i].size = (int64_t)strlen(content[i]);
  }
  uint64_t mark = bl_remote_request_count(r);
  BL_CHECK_INT(bl_remote_write_many(r, w, N + 1), BL_ENOTFOUND);
  /* a PUT and a MOVE each; the missing folder's PUT alone */
  BL_CHECK_INT(wd_since(r, &mark), 2 * N + 1);
  for (int i = 0; i < N; i++) {
    BL_CHECK_INT(w[i].rc, BL_OK);
    BL_CHECK_STR(w[i].errmsg, "");
  }
  BL_CHECK_INT(w[N].rc, BL_ENOTFOUND);
  BL_CHECK(strstr(w[N].errmsg, "missing/f20") != NULL);
  BL_CHECK(strstr(bl_remote_errmsg(r), "missing/f20") != NULL);
  for (int i = 0; i <= N; i++) fclose(src[i]);

  size_t n = 0;
  bl_remote_entry *e = NULL;
  BL_CHECK_INT(bl_remote_list(r, "b", &e, &n), BL_OK);
  BL_CHECK_INT(n, N);
  bl_remote_entries_free(e, n);

  /* Read them back, plus one that does not exist, in the middle. */
  bl_remote_read_job rj[N + 1];
  conformance_buf bufs[N + 1];
  memset(rj, 0, sizeof rj);
  memset(bufs, 0, sizeof bufs);
  for (int i = 0; i <= N; i++) {
    rj[i].path = i == N / 2 ? "b/nope" : paths[i == N ? N / 2 : i];
    rj[i].sink = conformance_sink;
    rj[i].payload = &bufs[i];
  }
  mark = bl_remote_request_count(r);
  BL_CHECK_INT(bl_remote_read_many(r, rj, N + 1), BL_ENOTFOUND);
  BL_CHECK_INT(wd_since(r, &mark), N + 1);
  for (int i = 0; i <= N; i++) {
    int k = i == N ? N / 2 : i;
    if (i == N / 2) {
      BL_CHECK_INT(rj[i].rc, BL_ENOTFOUND);
      BL_CHECK(strstr(rj[i].errmsg, "b/nope") != NULL);
      BL_CHECK_INT(bufs[i].len, 0);
    } else {
      BL_CHECK_INT(rj[i].rc, BL_OK);
      BL_CHECK(bufs[i].len == strlen(content[k]) &&
               memcmp(bufs[i].data, content[k], bufs[i].len) == 0);
    }
    free(bufs[i].data);
  }
  BL_CHECK(strstr(bl_remote_errmsg(r), "b/nope") != NULL);

  /* With max_in_flight 1 the same batch works too (and all succeed). */
  char url[512];
  wd_url(url, sizeof url, strrchr(dir, '/') + 1);
  bl_remote_options o = BL_REMOTE_OPTIONS_INIT;
  o.max_in_flight = 1;
  bl_remote *r1 = NULL;
  BL_REQUIRE(bl_remote_open_ex(&r1, url, &o) == BL_OK);
  memset(bufs, 0, sizeof bufs);
  for (int i = 0; i < N; i++) rj[i].path = paths[i];
  BL_CHECK_INT(bl_remote_read_many(r1, rj, N), BL_OK);
  for (int i = 0; i < N; i++) {
    BL_CHECK_INT(rj[i].rc, BL_OK);
    BL_CHECK_INT(bufs[i].len, strlen(content[i]));
    free(bufs[i].data);
  }
  BL_CHECK_INT(bl_remote_request_count(r1), N);
  bl_remote_free(r1);

  /* Nothing temporary was left on the server's disk. */
  char *bdir = rt_join(dir, "b");
  BL_CHECK_INT(rt_count_entries(bdir), N);
  free(bdir);
  free(dir);
  bl_remote_free(r);
}

static void test_remote_webdav__request_counts(void) {
  char *dir;
  bl_remote *r = wd_fresh(&dir);
  BL_REQUIRE(r);
  uint64_t mark = bl_remote_request_count(r);
  BL_CHECK_INT(mark, 0); /* wd_fresh made its collection through another remote */
  conformance_buf b = {0};
  bl_remote_entry *e = NULL;
  size_t n = 0;

  BL_CHECK_INT(bl_remote_write_buf(r, "f", "hello", 5), BL_OK);
  BL_CHECK_INT(wd_since(r, &mark), 2); /* PUT + MOVE */
  BL_CHECK_INT(bl_remote_write_buf(r, "f", "hello again", 11), BL_OK);
  BL_CHECK_INT(wd_since(r, &mark), 2); /* replacing too */
  BL_CHECK_INT(conformance_read(r, "f", &b), BL_OK);
  BL_CHECK_INT(wd_since(r, &mark), 1);
  BL_CHECK(b.len == 11 && memcmp(b.data, "hello again", 11) == 0);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(wd_since(r, &mark), 1);
  bl_remote_entries_free(e, n);
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  BL_CHECK_INT(wd_since(r, &mark), 1); /* MKCOL */
  BL_CHECK_INT(bl_remote_mkdir(r, "d"), BL_OK);
  BL_CHECK_INT(wd_since(r, &mark), 1); /* existing: one MKCOL */
  BL_CHECK_INT(bl_remote_mkdir(r, ""), BL_OK);
  BL_CHECK_INT(wd_since(r, &mark), 1); /* the root: one PROPFIND */
  BL_CHECK_INT(bl_remote_mkdir(r, "x/y/z"), BL_OK);
  BL_CHECK_INT(wd_since(r, &mark), 4); /* 409, x, x/y, x/y/z */
  BL_CHECK_INT(bl_remote_mkdir(r, "x/y/z"), BL_OK);
  BL_CHECK_INT(wd_since(r, &mark), 1);
  BL_CHECK_INT(bl_remote_remove(r, "f"), BL_OK);
  BL_CHECK_INT(wd_since(r, &mark), 1);
  BL_CHECK_INT(conformance_read(r, "f", &b), BL_ENOTFOUND);
  BL_CHECK_INT(wd_since(r, &mark), 1); /* a 404 is not retried */
  free(b.data);
  free(dir);
  bl_remote_free(r);
}

static void test_remote_webdav__list_edge_cases(void) {
  char *dir;
  bl_remote *r = wd_fresh(&dir);
  BL_REQUIRE(r);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_write_buf(r, "file", "abc", 3), BL_OK);
  /* Listing a file is listing no folder. */
  BL_CHECK_INT(bl_remote_list(r, "file", &e, &n), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_remote_errmsg(r), "is a file") != NULL);
  BL_CHECK(e == NULL && n == 0);
  /* Names that need encoding, all the way through. */
  static const char *const names[] = {"sp ace", "per%cent", "pl+us", "caf\xc3\xa9", "q?x", "h#sh",
                                      "am&p", "quo\"te", "lt<gt>", "back\\slash"};
  const size_t count = sizeof names / sizeof names[0];
  BL_CHECK_INT(bl_remote_mkdir(r, "odd dir"), BL_OK);
  char path[64];
  for (size_t i = 0; i < count; i++) {
    snprintf(path, sizeof path, "odd dir/%s", names[i]);
    BL_CHECK_INT(bl_remote_write_buf(r, path, names[i], strlen(names[i])), BL_OK);
  }
  BL_CHECK_INT(bl_remote_list(r, "odd dir", &e, &n), BL_OK);
  BL_CHECK_INT(n, count);
  for (size_t i = 0; i < count; i++) {
    long k = conformance_find(e, n, names[i]);
    if (k < 0 || e[k].size != (int64_t)strlen(names[i])) {
      fprintf(stderr, "  name '%s' not listed (or with the wrong size)\n", names[i]);
      bl_test_failed_checks++;
    }
  }
  bl_remote_entries_free(e, n);
  conformance_buf b = {0};
  for (size_t i = 0; i < count; i++) {
    snprintf(path, sizeof path, "odd dir/%s", names[i]);
    BL_CHECK_INT(conformance_read(r, path, &b), BL_OK);
    BL_CHECK(b.len == strlen(names[i]) && memcmp(b.data, names[i], b.len) == 0);
  }
  free(b.data);
  free(dir);
  bl_remote_free(r);
}

static void test_remote_webdav__missing_root(void) {
  BL_REQUIRE(wd_get_server());
  bl_remote *r = wd_open("no-such-root");
  BL_REQUIRE(r);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  conformance_buf b = {0};
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_ENOTFOUND);
  BL_CHECK_INT(bl_remote_mkdir(r, ""), BL_ENOTFOUND);
  BL_CHECK_INT(bl_remote_mkdir(r, "a"), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_remote_errmsg(r), "does not exist") != NULL);
  BL_CHECK_INT(bl_remote_mkdir(r, "a/b"), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_remote_errmsg(r), "/no-such-root/") != NULL);
  BL_CHECK_INT(bl_remote_write_buf(r, "x", "1", 1), BL_ENOTFOUND);
  BL_CHECK_INT(conformance_read(r, "x", &b), BL_ENOTFOUND);
  BL_CHECK_INT(bl_remote_remove(r, "x"), BL_ENOTFOUND);
  bl_remote_free(r);
  /* The root was never created behind the user's back. */
  BL_REQUIRE((r = wd_open("")) != NULL);
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK(conformance_find(e, n, "no-such-root") < 0);
  bl_remote_entries_free(e, n);
  bl_remote_free(r);
  free(b.data);
}

/* MKCOL answers 405 wherever something is mapped, and the backend takes
 * 405 as "already there" (one request for an existing folder), so a file
 * in the way of mkdir is only found out by the next write into it, which
 * fails cleanly; nothing of the file is lost on the way. */
static void test_remote_webdav__file_in_the_way(void) {
  char *dir;
  bl_remote *r = wd_fresh(&dir);
  BL_REQUIRE(r);
  BL_CHECK_INT(bl_remote_write_buf(r, "f", "x", 1), BL_OK);
  int rc = bl_remote_mkdir(r, "f/sub");
  BL_CHECK(rc == BL_OK || rc == BL_EIO);
  BL_CHECK_INT(bl_remote_write_buf(r, "f/x", "1", 1), BL_ENOTFOUND);
  BL_CHECK(strstr(bl_remote_errmsg(r), "f/x") != NULL);
  bl_remote_entry *e = NULL;
  size_t n = 0;
  BL_CHECK_INT(bl_remote_list(r, "", &e, &n), BL_OK);
  BL_CHECK_INT(n, 1);
  BL_CHECK(n == 1 && e[0].is_folder == 0 && e[0].size == 1);
  bl_remote_entries_free(e, n);
  conformance_buf b = {0};
  BL_CHECK_INT(conformance_read(r, "f", &b), BL_OK);
  BL_CHECK(b.len == 1 && b.data[0] == 'x');
  free(b.data);
  free(dir);
  bl_remote_free(r);
}

static const bl_test_case cases[] = {
    BL_CONFORMANCE_TESTS,
    BL_TEST(test_remote_webdav__parse_nextcloud),
    BL_TEST(test_remote_webdav__parse_default_namespace),
    BL_TEST(test_remote_webdav__parse_full_url_hrefs),
    BL_TEST(test_remote_webdav__parse_self),
    BL_TEST(test_remote_webdav__parse_refused),
    BL_TEST(test_remote_webdav__text_helpers),
    BL_TEST(test_remote_webdav__wrong_password),
    BL_TEST(test_remote_webdav__options_override_url),
    BL_TEST(test_remote_webdav__open_urls),
    BL_TEST(test_remote_webdav__temp_files_hidden),
    BL_TEST(test_remote_webdav__batches),
    BL_TEST(test_remote_webdav__request_counts),
    BL_TEST(test_remote_webdav__list_edge_cases),
    BL_TEST(test_remote_webdav__missing_root),
    BL_TEST(test_remote_webdav__file_in_the_way),
};

BL_TEST_MAIN(cases)
