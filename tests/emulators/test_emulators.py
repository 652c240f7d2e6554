#!/usr/bin/env python3
"""Tests of the Drive v3 and Graph emulators: each is started as a subprocess on a free port."""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDER = "application/vnd.google-apps.folder"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


class Emu:
    def __init__(self, script, *args):
        self.dir = tempfile.TemporaryDirectory()
        pf = os.path.join(self.dir.name, "port")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--port", "0",
                                      "--port-file", pf] + list(args))
        deadline = time.time() + 15
        while not os.path.exists(pf):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("emulator did not start")
            time.sleep(0.02)
        with open(pf) as f:
            self.port = int(f.read())
        self.base = "http://127.0.0.1:%d" % self.port
        self.token = "tok"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.dir.cleanup()

    def req(self, method, url, body=None, headers=None, token=True, ctype=None):
        if not url.startswith("http"):
            url = self.base + url
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + self.token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            ctype = ctype or "application/json"
        if ctype:
            h["Content-Type"] = ctype
        r = urllib.request.Request(url, data=body, method=method, headers=h)
        try:
            resp = OPENER.open(r, timeout=30)
            status, hdrs, data = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, hdrs, data = e.code, e.headers, e.read()
        js = None
        if data and "json" in (hdrs.get("Content-Type") or ""):
            js = json.loads(data)
        return status, hdrs, js if js is not None else data

    def ctl(self, method, path, body=None):
        return self.req(method, "/_emulator/" + path, body, token=False)


def q(**kw):
    return urllib.parse.urlencode(kw)


class DriveTest(unittest.TestCase):
    def setUp(self):
        self.e = Emu("gdrive.py", "--token", "tok", "--page-size", "2")

    def tearDown(self):
        self.e.stop()

    def folder(self, name, parent="root"):
        s, _, js = self.e.req("POST", "/drive/v3/files?fields=id,name,mimeType,parents",
                              {"name": name, "mimeType": FOLDER, "parents": [parent]})
        self.assertEqual(s, 200, js)
        self.assertEqual(js["mimeType"], FOLDER)
        return js["id"]

    def multipart(self, name, parent, data, fid=None):
        b = "BOUNDARY_xyz"
        meta = json.dumps({"name": name, "parents": [parent]} if not fid else {}).encode()
        body = (b"--" + b.encode() + b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" + meta +
                b"\r\n--" + b.encode() + b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data +
                b"\r\n--" + b.encode() + b"--\r\n")
        if fid:
            return self.e.req("PATCH", "/upload/drive/v3/files/%s?uploadType=multipart&fields=id,size,version" % fid,
                              body, ctype="multipart/related; boundary=" + b)
        return self.e.req("POST", "/upload/drive/v3/files?uploadType=multipart&fields=id,name,size,md5Checksum",
                          body, ctype="multipart/related; boundary=" + b)

    def list_all(self, query, fields="nextPageToken,files(id,name,size)"):
        out, pages, tok = [], 0, None
        while True:
            params = {"q": query, "fields": fields, "pageSize": "100", "spaces": "drive"}
            if tok:
                params["pageToken"] = tok
            s, _, js = self.e.req("GET", "/drive/v3/files?" + urllib.parse.urlencode(params))
            self.assertEqual(s, 200, js)
            out += js["files"]
            pages += 1
            tok = js.get("nextPageToken")
            if not tok:
                return out, pages

    def test_folders_uploads_pagination_duplicates(self):
        app = self.folder("MyApp")
        dev = self.folder("device-1", app)
        s, _, js = self.e.req("GET", "/drive/v3/files?" + q(
            q="'root' in parents and name = 'MyApp' and mimeType = '%s' and trashed = false" % FOLDER,
            fields="files(id)"))
        self.assertEqual(js["files"], [{"id": app}])
        for i in range(5):
            s, _, js = self.multipart("c%d.bin" % i, dev, b"data%d" % i)
            self.assertEqual(s, 200, js)
            self.assertEqual(js["size"], "5")
        s, _, js = self.multipart("c0.bin", dev, b"other")  # duplicate name
        self.assertEqual(s, 200)
        files, pages = self.list_all("'%s' in parents and trashed = false" % dev)
        self.assertEqual(len(files), 6)
        self.assertEqual(pages, 3)
        dups = [f for f in files if f["name"] == "c0.bin"]
        self.assertEqual(len(dups), 2)
        files, _ = self.list_all("'%s' in parents and name = 'c0.bin'" % dev)
        self.assertEqual(len(files), 2)
        # or across folders (idle-sync query)
        dev2 = self.folder("device-2", app)
        self.multipart("x.bin", dev2, b"x")
        files, _ = self.list_all("('%s' in parents or '%s' in parents) and not name = 'c0.bin'" % (dev, dev2))
        self.assertEqual(sorted(f["name"] for f in files), ["c1.bin", "c2.bin", "c3.bin", "c4.bin", "x.bin"])
        # bad query
        s, _, js = self.e.req("GET", "/drive/v3/files?" + q(q="name = "))
        self.assertEqual(s, 400)
        self.assertEqual(js["error"]["errors"][0]["location"], "q")

    def test_update_download_delete_changes(self):
        s, _, start = self.e.req("GET", "/drive/v3/changes/startPageToken")
        tok = start["startPageToken"]
        app = self.folder("MyApp")
        s, _, f = self.multipart("a.bin", app, b"hello")
        fid = f["id"]
        s, _, js = self.multipart(None, None, b"hello world", fid=fid)
        self.assertEqual((s, js["size"], js["version"]), (200, "11", "2"))
        s, _, js = self.e.req("PATCH", "/upload/drive/v3/files/%s?uploadType=media" % fid, b"v3!",
                              ctype="application/octet-stream")
        self.assertEqual(s, 200)
        s, h, data = self.e.req("GET", "/drive/v3/files/%s?alt=media" % fid)
        self.assertEqual((s, data), (200, b"v3!"))
        s, h, data = self.e.req("GET", "/drive/v3/files/%s?alt=media" % fid, headers={"Range": "bytes=1-"})
        self.assertEqual((s, data), (206, b"3!"))
        # resumable upload in two chunks
        s, h, _ = self.e.req("POST", "/upload/drive/v3/files?uploadType=resumable",
                             {"name": "big.bin", "parents": [app]}, headers={"X-Upload-Content-Length": "10"})
        self.assertEqual(s, 200)
        loc = h["Location"]
        s, h, _ = self.e.req("PUT", loc, b"01234", headers={"Content-Range": "bytes 0-4/10"}, token=False)
        self.assertEqual((s, h["Range"]), (308, "bytes=0-4"))
        s, _, js = self.e.req("PUT", loc + "&fields=id,name,size", b"56789",
                              headers={"Content-Range": "bytes 5-9/10"}, token=False)
        self.assertEqual((s, js["size"], js["name"]), (200, "10", "big.bin"))
        big = js["id"]
        # changes since the start token (page size 2 forces pagination)
        seen, removed, t = {}, set(), tok
        while True:
            s, _, js = self.e.req("GET", "/drive/v3/changes?" + q(pageToken=t, fields="*"))
            self.assertEqual(s, 200, js)
            for c in js["changes"]:
                if c["removed"]:
                    removed.add(c["fileId"])
                else:
                    seen[c["fileId"]] = c["file"]["name"]
            if "newStartPageToken" in js:
                t = js["newStartPageToken"]
                break
            t = js["nextPageToken"]
        self.assertEqual(seen, {app: "MyApp", fid: "a.bin", big: "big.bin"})
        s, _, _ = self.e.req("DELETE", "/drive/v3/files/%s" % fid)
        self.assertEqual(s, 204)
        s, _, js = self.e.req("GET", "/drive/v3/files/%s" % fid)
        self.assertEqual((s, js["error"]["errors"][0]["reason"]), (404, "notFound"))
        s, _, js = self.e.req("GET", "/drive/v3/changes?" + q(pageToken=t))
        self.assertEqual([(c["fileId"], c["removed"]) for c in js["changes"]], [(fid, True)])
        s, _, js = self.e.req("GET", "/drive/v3/changes?" + q(pageToken=js["newStartPageToken"]))
        self.assertEqual(js["changes"], [])

    def test_query_escapes_trash_and_resumable_status(self):
        app = self.folder("MyApp")
        s, _, f = self.multipart("it's \\ here", app, b"q")
        files, _ = self.list_all("name = 'it\\'s \\\\ here' and '%s' in parents" % app)
        self.assertEqual([x["id"] for x in files], [f["id"]])
        s, _, js = self.e.req("PATCH", "/drive/v3/files/%s?fields=trashed" % f["id"], {"trashed": True})
        self.assertEqual(js, {"trashed": True})
        self.assertEqual(len(self.list_all("'%s' in parents" % app)[0]), 1)  # trashed still listed
        self.assertEqual(len(self.list_all("'%s' in parents and trashed = false" % app)[0]), 0)
        s, h, _ = self.e.req("POST", "/upload/drive/v3/files?uploadType=resumable", {"name": "r", "parents": [app]})
        loc = h["Location"]
        s, h, _ = self.e.req("PUT", loc, b"", headers={"Content-Range": "bytes */4"}, token=False)
        self.assertEqual(s, 308)
        self.assertNotIn("Range", h)
        self.e.req("PUT", loc, b"ab", headers={"Content-Range": "bytes 0-1/4"}, token=False)
        s, h, _ = self.e.req("PUT", loc, b"", headers={"Content-Range": "bytes */4"}, token=False)
        self.assertEqual((s, h["Range"]), (308, "bytes=0-1"))
        s, _, js = self.e.req("PUT", loc, b"cd", headers={"Content-Range": "bytes 2-3/4"}, token=False)
        self.assertEqual(s, 200)
        self.assertEqual(self.e.req("GET", "/drive/v3/files/%s?alt=media" % js["id"])[2], b"abcd")

    def test_token_expiry_rate_limit_stats(self):
        self.e.stop()
        self.e = Emu("gdrive.py", "--token", "tok", "--expire-after", "3")
        for _ in range(3):
            self.assertEqual(self.e.req("GET", "/drive/v3/files")[0], 200)
        s, _, js = self.e.req("GET", "/drive/v3/files")
        self.assertEqual((s, js["error"]["code"], js["error"]["errors"][0]["reason"]), (401, 401, "authError"))
        self.assertEqual(self.e.req("GET", "/drive/v3/files", token=False)[0], 401)
        self.e.token = "wrong"
        self.assertEqual(self.e.req("GET", "/drive/v3/files")[0], 401)
        self.e.token = "tok.1"  # refreshed: base token plus a generation suffix
        self.assertEqual(self.e.req("GET", "/drive/v3/files")[0], 200)
        self.e.ctl("POST", "expire-token")
        self.assertEqual(self.e.req("GET", "/drive/v3/files")[0], 401)
        self.e.ctl("POST", "tokens", {"token": "anything"})
        self.e.token = "anything"
        self.assertEqual(self.e.req("GET", "/drive/v3/files")[0], 200)
        self.e.ctl("POST", "config", {"fail_next": [429, 403, 503, 502], "retry_after": 2})
        s, h, js = self.e.req("GET", "/drive/v3/files")
        self.assertEqual((s, h["Retry-After"], js["error"]["errors"][0]["reason"]), (429, "2", "rateLimitExceeded"))
        s, h, js = self.e.req("GET", "/drive/v3/files")
        self.assertEqual((s, js["error"]["errors"][0]["reason"]), (403, "userRateLimitExceeded"))
        self.assertEqual(self.e.req("GET", "/drive/v3/files")[0], 503)
        s, h, data = self.e.req("GET", "/drive/v3/files")
        self.assertEqual(s, 502)
        self.assertIn(b"502", data)
        self.e.ctl("POST", "config", {"rate_limit_every": 2})
        statuses = [self.e.req("GET", "/drive/v3/files")[0] for _ in range(4)]
        self.assertEqual(sorted(statuses), [200, 200, 429, 429])
        s, _, st = self.e.ctl("GET", "stats")
        self.assertEqual(st["by_endpoint"]["files.list"], st["total"])
        self.assertEqual(st["total"], 17)
        self.assertEqual(st["by_status"]["401"], 4)
        self.e.ctl("POST", "reset-stats")
        self.assertEqual(self.e.ctl("GET", "stats")[2]["total"], 0)

    def test_random_faults_and_latency(self):
        self.e.stop()
        self.e = Emu("gdrive.py", "--fail-rate", "0.5", "--seed", "7", "--latency-ms", "50")
        t0 = time.time()
        statuses = [self.e.req("GET", "/drive/v3/files")[0] for _ in range(20)]
        self.assertGreaterEqual(time.time() - t0, 0.9)
        self.assertTrue(any(s >= 500 for s in statuses))
        self.assertTrue(any(s == 200 for s in statuses))
        self.assertEqual(self.e.ctl("GET", "stats")[2]["faults"]["server_error"], sum(s >= 500 for s in statuses))


class GraphTest(unittest.TestCase):
    A = "/v1.0/me/drive/special/approot"

    def setUp(self):
        self.e = Emu("graph.py", "--token", "tok", "--page-size", "2", "--simple-upload-max", "1000")

    def tearDown(self):
        self.e.stop()

    def mkdir(self, parent_ref, name, behavior="fail"):
        return self.e.req("POST", parent_ref + "/children",
                          {"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": behavior})

    def children(self, ref):
        out, pages = [], 0
        url = ref + "/children?$top=100"
        while url:
            s, _, js = self.e.req("GET", url)
            self.assertEqual(s, 200, js)
            out += js["value"]
            pages += 1
            url = js.get("@odata.nextLink")
        return out, pages

    def test_folders_upload_list_download_delete(self):
        s, _, root = self.e.req("GET", self.A)
        self.assertEqual((s, root["name"]), (200, "backless"))
        self.assertIn("folder", root)
        s, _, js = self.mkdir(self.A, "changesets")
        self.assertEqual(s, 201)
        s, _, js = self.mkdir(self.A, "changesets")
        self.assertEqual((s, js["error"]["code"]), (409, "nameAlreadyExists"))
        s, _, dev = self.mkdir(self.A + ":/changesets:", "device-1")
        self.assertEqual(s, 201)
        for i in range(5):
            s, _, js = self.e.req("PUT", self.A + ":/changesets/device-1/c%d.bin:/content" % i, b"data%d" % i,
                                  ctype="application/octet-stream")
            self.assertEqual((s, js["size"]), (201, 5))
        s, _, js = self.e.req("PUT", self.A + ":/changesets/device-1/c0.bin:/content", b"replaced",
                              ctype="application/octet-stream")
        self.assertEqual(s, 200)
        items, pages = self.children(self.A + ":/changesets/device-1:")
        self.assertEqual((len(items), pages), (5, 3))
        items2, _ = self.children("/v1.0/me/drive/items/%s" % dev["id"])
        self.assertEqual([i["id"] for i in items], [i["id"] for i in items2])
        s, _, js = self.e.req("PUT", self.A + ":/nofolder/x.bin:/content", b"x")
        self.assertEqual((s, js["error"]["code"]), (404, "itemNotFound"))
        s, _, js = self.e.req("PUT", self.A + ":/big.bin:/content", b"x" * 1001)
        self.assertEqual(s, 413)
        # download: 302 to a URL that needs no token
        s, h, _ = self.e.req("GET", self.A + ":/changesets/device-1/c0.bin:/content")
        self.assertEqual(s, 302)
        s, _, data = self.e.req("GET", h["Location"], token=False)
        self.assertEqual((s, data), (200, b"replaced"))
        s, _, _ = self.e.req("DELETE", self.A + ":/changesets/device-1/c0.bin:")
        self.assertEqual(s, 204)
        s, _, js = self.e.req("GET", self.A + ":/changesets/device-1/c0.bin:")
        self.assertEqual((s, js["error"]["code"]), (404, "itemNotFound"))

    def test_conflict_behaviors(self):
        self.assertEqual(self.mkdir(self.A, "x")[0], 201)
        s, _, js = self.mkdir(self.A, "X", "rename")
        self.assertEqual((s, js["name"]), (201, "X 1"))
        s, _, js = self.e.req("PUT", self.A + ":/f:/content", b"1")
        s, _, js = self.e.req("PUT", self.A + ":/F:/content?@microsoft.graph.conflictBehavior=fail", b"2")
        self.assertEqual((s, js["error"]["code"]), (409, "nameAlreadyExists"))

    def test_upload_session(self):
        s, _, js = self.e.req("POST", self.A + ":/big.bin:/createUploadSession",
                              {"item": {"@microsoft.graph.conflictBehavior": "replace"}})
        self.assertEqual(s, 200, js)
        url = js["uploadUrl"]
        data = bytes(range(256)) * 10
        s, _, js = self.e.req("PUT", url, data[:1000], headers={"Content-Range": "bytes 0-999/2560"}, token=False)
        self.assertEqual((s, js["nextExpectedRanges"]), (202, ["1000-2559"]))
        s, _, js = self.e.req("PUT", url, data[:10], headers={"Content-Range": "bytes 0-9/2560"}, token=False)
        self.assertEqual(s, 416)
        s, _, js = self.e.req("PUT", url, data[1000:], headers={"Content-Range": "bytes 1000-2559/2560"}, token=False)
        self.assertEqual((s, js["size"], js["name"]), (201, 2560, "big.bin"))
        s, h, _ = self.e.req("GET", "/v1.0/me/drive/items/%s/content" % js["id"])
        self.assertEqual(self.e.req("GET", h["Location"], token=False)[2], data)
        # second session replaces: 200
        s, _, js = self.e.req("POST", self.A + ":/big.bin:/createUploadSession", {})
        s, _, js = self.e.req("PUT", js["uploadUrl"], b"abc", headers={"Content-Range": "bytes 0-2/3"}, token=False)
        self.assertEqual((s, js["size"]), (200, 3))

    def test_delta(self):
        s, _, js = self.e.req("GET", self.A + "/delta?token=latest")
        self.assertEqual(js["value"], [])
        link = js["@odata.deltaLink"]
        self.mkdir(self.A, "d")
        for i in range(3):
            self.e.req("PUT", self.A + ":/d/f%d:/content" % i, b"x")
        names, url = [], link
        while True:
            s, _, js = self.e.req("GET", url)
            self.assertEqual(s, 200, js)
            names += [v["name"] for v in js["value"]]
            if "@odata.deltaLink" in js:
                link = js["@odata.deltaLink"]
                break
            url = js["@odata.nextLink"]
        self.assertEqual(names, ["d", "f0", "f1", "f2"])
        s, _, js = self.e.req("GET", link)
        self.assertEqual(js["value"], [])
        self.e.req("DELETE", self.A + ":/d/f1:")
        s, _, js = self.e.req("GET", link)
        self.assertEqual([(v["name"], "deleted" in v) for v in js["value"]], [("f1", True)])
        # initial enumeration includes the app folder itself
        s, _, js = self.e.req("GET", self.A + "/delta?$top=100")
        self.assertEqual(js["value"][0]["name"], "backless")

    def test_auth_and_throttling(self):
        self.e.ctl("POST", "config", {"expire_after": 2})
        self.assertEqual(self.e.req("GET", self.A)[0], 200)
        self.assertEqual(self.e.req("GET", self.A)[0], 200)
        s, h, js = self.e.req("GET", self.A)
        self.assertEqual((s, js["error"]["code"]), (401, "InvalidAuthenticationToken"))
        self.e.token = "tok.2"
        self.assertEqual(self.e.req("GET", self.A)[0], 200)
        self.e.ctl("POST", "config", {"fail_next": [429, 503], "retry_after": 3})
        s, h, js = self.e.req("GET", self.A)
        self.assertEqual((s, h["Retry-After"], js["error"]["code"]), (429, "3", "activityLimitReached"))
        s, h, js = self.e.req("GET", self.A)
        self.assertEqual((s, js["error"]["code"]), (503, "serviceNotAvailable"))
        st = self.e.ctl("GET", "stats")[2]
        self.assertEqual((st["service"], st["by_endpoint"]["item.get"], st["faults"]["scripted"]), ("graph", 6, 2))
        self.e.ctl("POST", "reset")
        self.assertEqual(self.e.ctl("GET", "state")[2]["seq"], 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
