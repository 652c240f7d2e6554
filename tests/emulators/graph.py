#!/usr/bin/env python3
"""Microsoft Graph (OneDrive) emulator: the driveItem endpoints the onedrive:// backend uses.

Base URL: http://127.0.0.1:PORT/v1.0  (stands for https://graph.microsoft.com/v1.0; the
/v1.0 prefix is optional).  An item reference is one of
  /me/drive/root   /me/drive/special/approot   /me/drive/items/{id}   (/drives/{x}/... = /me/drive/...)
optionally followed by a path  :/a/b/c:  and an action:
  GET    ref                         the driveItem (with @microsoft.graph.downloadUrl for files)
  GET    ref/children                $top, $select, @odata.nextLink
  POST   ref/children                create a folder ({"name", "folder": {}, "@microsoft.graph.conflictBehavior"})
  PUT    ref:/name:/content          simple upload (<= --simple-upload-max bytes), 201 new / 200 replaced
  PUT    ref/content                 replace an existing file's content
  POST   ref:/name:/createUploadSession  -> uploadUrl; PUT ranges with Content-Range (202, final 201/200)
  GET    ref/content                 302 to a pre-authenticated download URL (no bearer needed)
  DELETE ref                         204
  GET    ref/delta[?token=..]        @odata.nextLink / @odata.deltaLink
See README.md for flags and control endpoints.
"""

import base64
import hashlib
import os
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emucommon import (Emulator, HttpError, Response, route, common_args,  # noqa: E402
                       emulator_kwargs, serve)

DRIVE_ID = "b!emulatordrive0001"
REF = r"(?:/me/drive|/drives/[^/]+)(?P<base>/root|/special/approot|/items/[^/:]+)(?P<rest>(?::.*)?|/.*)"


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


class GraphEmulator(Emulator):
    service = "graph"
    path_prefixes = ("/v1.0",)

    def __init__(self, app_name="backless", simple_upload_max=4 * 1024 * 1024, **kw):
        self.app_name = app_name
        self.simple_upload_max = simple_upload_max
        super().__init__(**kw)

    # ------------------------------------------------------------- state ----
    def reset_state(self):
        self.items = {}
        self.seq = 0
        self.blobs = {}
        self.sessions = {}
        self.root = self.new_item(None, "root", folder=True)
        apps = self.new_item(self.root["id"], "Apps", folder=True)
        self.approot = self.new_item(apps["id"], self.app_name, folder=True)

    def dump_state(self):
        return {"items": [{"id": i["id"], "name": i["name"], "parentId": i["parentId"], "folder": i["folder"],
                           "size": len(self.blobs.get(i["blob"], b"")), "deleted": i["deleted"]}
                          for i in self.items.values()], "seq": self.seq}

    def touch(self, item):
        self.seq += 1
        item["seq"] = self.seq
        item["version"] += 1
        item["modified"] = time.time()

    def new_item(self, parent_id, name, folder=False, content=None):
        now = time.time()
        it = {"id": uuid.uuid4().hex[:16].upper() + "!%d" % (len(self.items) + 1), "name": name,
              "parentId": parent_id, "folder": folder, "blob": None, "created": now, "modified": now,
              "version": 0, "seq": 0, "deleted": False}
        if content is not None:
            it["blob"] = self.store_blob(content)
        self.items[it["id"]] = it
        self.touch(it)
        return it

    def store_blob(self, data):
        bid = uuid.uuid4().hex
        self.blobs[bid] = bytes(data)
        return bid

    def children(self, pid):
        return [i for i in self.items.values() if i["parentId"] == pid and not i["deleted"]]

    def child_named(self, pid, name):
        for i in self.children(pid):
            if i["name"].lower() == name.lower():
                return i
        return None

    def path_of(self, it):
        parts = []
        while it["parentId"]:
            it = self.items[it["parentId"]]
            if it["parentId"]:
                parts.append(it["name"])
        return "/drive/root:" + "".join("/" + p for p in reversed(parts))

    def render(self, it, req, with_download=True):
        content = self.blobs.get(it["blob"], b"") if it["blob"] else b""
        r = {"id": it["id"], "name": it["name"], "eTag": '"{%s},%d"' % (it["id"], it["version"]),
             "cTag": '"c:{%s},%d"' % (it["id"], it["version"]), "createdDateTime": iso(it["created"]),
             "lastModifiedDateTime": iso(it["modified"]), "size": len(content),
             "fileSystemInfo": {"createdDateTime": iso(it["created"]), "lastModifiedDateTime": iso(it["modified"])}}
        if it["parentId"]:
            p = self.items[it["parentId"]]
            r["parentReference"] = {"driveId": DRIVE_ID, "driveType": "personal", "id": p["id"],
                                    "path": self.path_of(it)}
        else:
            r["root"] = {}
        if it["folder"]:
            r["folder"] = {"childCount": len(self.children(it["id"]))}
            r["size"] = 0
        else:
            r["file"] = {"mimeType": "application/octet-stream",
                         "hashes": {"sha1Hash": hashlib.sha1(content).hexdigest().upper(),
                                    "sha256Hash": hashlib.sha256(content).hexdigest().upper()}}
            if with_download:
                r["@microsoft.graph.downloadUrl"] = "%s/_download/%s" % (req.base_url(), it["blob"])
        if it["deleted"]:
            r["deleted"] = {"state": "deleted"}
        return r

    def select(self, obj, req):
        sel = req.query.get("$select")
        if not sel:
            return obj
        keep = set(s.strip() for s in sel.split(","))
        return {k: v for k, v in obj.items() if k in keep or k.startswith("@")}

    # -------------------------------------------------------- resolution ----
    def not_found(self):
        return HttpError(404, "itemNotFound", "The resource could not be found.")

    def resolve(self, req, allow_missing_leaf=False):
        """(item or None, parent item, leaf name, action) of the request's path."""
        base, rest = req.match.group("base"), req.match.group("rest")
        if base == "/root":
            it = self.root
        elif base == "/special/approot":
            it = self.approot
        else:
            it = self.items.get(urllib.parse.unquote(base[len("/items/"):]))
            if not it or it["deleted"]:
                raise self.not_found()
        action = ""
        path = ""
        if rest.startswith(":"):
            j = rest.find(":", 1)
            if j < 0:
                path, action = rest[1:], ""
            else:
                path, action = rest[1:j], rest[j + 1:]
        else:
            action = rest
        action = action.strip("/")
        segs = [urllib.parse.unquote(s) for s in path.split("/") if s]
        parent, name = None, None
        for k, s in enumerate(segs):
            parent, name = it, s
            nxt = self.child_named(it["id"], s)
            if nxt is None:
                if allow_missing_leaf and k == len(segs) - 1:
                    return None, parent, name, action
                raise self.not_found()
            it = nxt
        if parent is None and it["parentId"]:
            parent = self.items[it["parentId"]]
            name = it["name"]
        return it, parent, name, action

    # ------------------------------------------------------------ errors ----
    def error_body(self, status, reason, message, extra=None):
        extra = extra or {}
        return {"error": {"code": reason, "message": message,
                          "innerError": {"date": iso(time.time()), "request-id": str(uuid.uuid4()),
                                         "client-request-id": str(uuid.uuid4())}}}

    def auth_error(self, why):
        msg = {"missing": "Unable to read JWT token.",
               "invalid": "IDX14100: JWT is not well formed.",
               "expired": "Access token has expired or is not yet valid."}[why]
        return Response(401, self.error_body(401, "InvalidAuthenticationToken", msg, {}),
                        {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'})

    def fault_error(self, status):
        codes = {429: ("activityLimitReached", "The app or user has been throttled."),
                 403: ("accessDenied", "Access denied"),
                 401: ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
                 500: ("generalException", "An unspecified error has occurred."),
                 502: ("serviceNotAvailable", "Bad gateway."),
                 503: ("serviceNotAvailable", "The service is temporarily unavailable."),
                 504: ("serviceNotAvailable", "Gateway timeout.")}
        code, msg = codes.get(status, ("generalException", "An unspecified error has occurred."))
        r = Response(status, self.error_body(status, code, msg, {}))
        if status in (429, 503):
            r.headers["Retry-After"] = str(self.config["retry_after"])
        return r

    # ------------------------------------------------------------ routes ----
    def page_size(self, req, default=200):
        n = int(req.query.get("$top", str(default)))
        if n < 1:
            raise HttpError(400, "invalidRequest", "Invalid $top value")
        if self.max_page_size:
            n = min(n, self.max_page_size)
        return n

    @route("GET", REF, "item.get")
    def get(self, req):
        it, parent, name, action = self.resolve(req)
        if action == "":
            return Response(200, self.select(self.render(it, req), req))
        if action == "children":
            if not it["folder"]:
                return Response(200, {"value": []})
            kids = sorted(self.children(it["id"]), key=lambda i: i["created"])
            top = self.page_size(req)
            skip = 0
            if req.query.get("$skiptoken"):
                skip = int(base64.urlsafe_b64decode(req.query["$skiptoken"].encode()).decode())
            out = {"@odata.context": "%s/v1.0/$metadata#Collection(driveItem)" % req.base_url(),
                   "value": [self.select(self.render(k, req), req) for k in kids[skip:skip + top]]}
            if skip + top < len(kids):
                q = {"$top": str(top), "$skiptoken": base64.urlsafe_b64encode(str(skip + top).encode()).decode()}
                if req.query.get("$select"):
                    q["$select"] = req.query["$select"]
                out["@odata.nextLink"] = "%s/v1.0/me/drive/items/%s/children?%s" % (
                    req.base_url(), urllib.parse.quote(it["id"]), urllib.parse.urlencode(q))
            return Response(200, out)
        if action == "content":
            if it["folder"]:
                raise self.not_found()
            return Response(302, b"", {"Location": "%s/_download/%s" % (req.base_url(), it["blob"])})
        if action == "delta":
            return self.delta(it, req)
        raise HttpError(400, "invalidRequest", "Unsupported segment %s" % action)

    def in_scope(self, it, root):
        while it is not None:
            if it["id"] == root["id"]:
                return True
            it = self.items.get(it["parentId"]) if it["parentId"] else None
        return False

    def delta(self, root, req):
        token = req.query.get("token")
        skip = 0
        if req.query.get("$skiptoken"):
            a, b, skip = base64.urlsafe_b64decode(req.query["$skiptoken"].encode()).decode().split(":")
            since, upto, skip = int(a), int(b), int(skip)
        else:
            upto = self.seq
            if token == "latest":
                since = self.seq
            elif token:
                try:
                    since = int(base64.urlsafe_b64decode(token.encode()).decode())
                except Exception:
                    raise HttpError(410, "resyncRequired", "The delta token is invalid; resync required.")
            else:
                since = 0
        items = [i for i in self.items.values() if since < i["seq"] <= upto and self.in_scope(i, root)
                 and not (since == 0 and i["deleted"])]
        items.sort(key=lambda i: i["seq"])
        top = self.page_size(req)
        page = items[skip:skip + top]
        base = "%s/v1.0/me/drive/items/%s/delta" % (req.base_url(), urllib.parse.quote(root["id"]))
        out = {"@odata.context": "%s/v1.0/$metadata#Collection(driveItem)" % req.base_url(),
               "value": [self.render(i, req, with_download=False) for i in page]}
        if skip + top < len(items):
            st = base64.urlsafe_b64encode(("%d:%d:%d" % (since, upto, skip + top)).encode()).decode()
            out["@odata.nextLink"] = base + "?" + urllib.parse.urlencode({"$top": str(top), "$skiptoken": st})
        else:
            out["@odata.deltaLink"] = base + "?" + urllib.parse.urlencode(
                {"token": base64.urlsafe_b64encode(str(upto).encode()).decode()})
        return Response(200, out)

    @route("POST", REF, "item.post")
    def post(self, req):
        if req.match.group("rest").endswith("createUploadSession"):
            return self.create_session(req)
        it, parent, name, action = self.resolve(req)
        if action != "children":
            raise HttpError(400, "invalidRequest", "Unsupported POST segment %s" % action)
        body = req.json()
        name = body.get("name")
        if not name or any(c in name for c in '/\\:*?"<>|'):
            raise HttpError(400, "invalidRequest", "Invalid name")
        if "folder" not in body and "file" not in body:
            raise HttpError(400, "invalidRequest", "A folder or file facet is required")
        behavior = body.get("@microsoft.graph.conflictBehavior", "fail")
        existing = self.child_named(it["id"], name)
        if existing:
            if behavior == "fail":
                raise HttpError(409, "nameAlreadyExists", "The specified item name already exists. Name: %s" % name)
            if behavior == "replace":
                self.delete_tree(existing)
            else:
                base, n = name, 1
                while self.child_named(it["id"], name):
                    name = "%s %d" % (base, n)
                    n += 1
        new = self.new_item(it["id"], name, folder="folder" in body, content=None if "folder" in body else b"")
        return Response(201, self.render(new, req))

    def create_session(self, req):
        it, parent, name, action = self.resolve(req, allow_missing_leaf=True)
        body = req.json() if req.body else {}
        behavior = (body.get("item") or {}).get("@microsoft.graph.conflictBehavior", "replace")
        if it is not None and it["folder"]:
            raise HttpError(409, "nameAlreadyExists", "The specified item name already exists. Name: %s" % name)
        if it is not None and behavior == "fail":
            raise HttpError(409, "nameAlreadyExists", "The specified item name already exists. Name: %s" % name)
        sid = uuid.uuid4().hex
        exp = time.time() + 3600
        self.sessions[sid] = {"item": it["id"] if it else None, "parent": parent["id"], "name": name,
                              "data": bytearray(), "total": None, "expires": exp}
        return Response(200, {"@odata.context": "%s/v1.0/$metadata#microsoft.graph.uploadSession" % req.base_url(),
                              "uploadUrl": "%s/_upload/%s" % (req.base_url(), sid),
                              "expirationDateTime": iso(exp), "nextExpectedRanges": ["0-"]})

    @route("PUT", r"/_upload/(?P<sid>[0-9a-f]+)", "uploadSession.put", auth=False)
    def session_put(self, req):
        s = self.sessions.get(req.match.group("sid"))
        if not s:
            raise HttpError(404, "itemNotFound", "The upload session was not found.")
        cr = req.header("Content-Range", "")
        try:
            unit, spec = cr.split(" ", 1)
            rng, total = spec.split("/")
            a, b = (int(x) for x in rng.split("-"))
            total = int(total)
        except ValueError:
            raise HttpError(400, "invalidRequest", "Invalid Content-Range header: %r" % cr)
        if b - a + 1 != len(req.body) or b >= total:
            raise HttpError(400, "invalidRequest", "The Content-Range header length does not match the provided number of bytes.")
        if s["total"] is not None and s["total"] != total:
            raise HttpError(400, "invalidRequest", "Declared total size changed")
        s["total"] = total
        if a != len(s["data"]):
            raise HttpError(416, "invalidRange", "The uploaded fragment overlaps with data that has already been received "
                            "or is not the next expected range.")
        s["data"] += req.body
        if len(s["data"]) < total:
            return Response(202, {"expirationDateTime": iso(s["expires"]),
                                  "nextExpectedRanges": ["%d-%d" % (len(s["data"]), total - 1)]})
        del self.sessions[req.match.group("sid")]
        return self.write(req, self.items.get(s["item"]) if s["item"] else None,
                          self.items[s["parent"]], s["name"], bytes(s["data"]), "replace")

    @route("DELETE", r"/_upload/(?P<sid>[0-9a-f]+)", "uploadSession.delete", auth=False)
    def session_delete(self, req):
        self.sessions.pop(req.match.group("sid"), None)
        return Response(204)

    @route("GET", r"/_upload/(?P<sid>[0-9a-f]+)", "uploadSession.get", auth=False)
    def session_get(self, req):
        s = self.sessions.get(req.match.group("sid"))
        if not s:
            raise HttpError(404, "itemNotFound", "The upload session was not found.")
        return Response(200, {"expirationDateTime": iso(s["expires"]),
                              "nextExpectedRanges": ["%d-%s" % (len(s["data"]),
                                                                "" if s["total"] is None else s["total"] - 1)]})

    @route("GET", r"/_download/(?P<blob>[0-9a-f]+)", "download", auth=False)
    def download(self, req):
        data = self.blobs.get(req.match.group("blob"))
        if data is None:
            raise HttpError(404, "itemNotFound", "The resource could not be found.")
        rng = req.header("Range")
        if rng and rng.startswith("bytes=") and data:
            a, _, b = rng[6:].partition("-")
            a = int(a)
            b = min(int(b) if b else len(data) - 1, len(data) - 1)
            if a >= len(data):
                return Response(416, b"", {"Content-Range": "bytes */%d" % len(data)})
            return Response(206, data[a:b + 1], {"Content-Range": "bytes %d-%d/%d" % (a, b, len(data))},
                            content_type="application/octet-stream")
        return Response(200, data, content_type="application/octet-stream")

    def write(self, req, it, parent, name, data, behavior):
        if it is not None:
            if it["folder"]:
                raise HttpError(409, "nameAlreadyExists", "The specified item name already exists. Name: %s" % name)
            if behavior == "fail":
                raise HttpError(409, "nameAlreadyExists", "The specified item name already exists. Name: %s" % name)
            it["blob"] = self.store_blob(data)
            self.touch(it)
            return Response(200, self.render(it, req))
        new = self.new_item(parent["id"], name, content=data)
        return Response(201, self.render(new, req))

    @route("PUT", REF, "item.put")
    def put(self, req):
        it, parent, name, action = self.resolve(req, allow_missing_leaf=True)
        if action != "content":
            raise HttpError(400, "invalidRequest", "Unsupported PUT segment %s" % action)
        if len(req.body) > self.simple_upload_max:
            raise HttpError(413, "requestTooLarge", "The request is too large for a simple upload; use an upload session.")
        behavior = req.query.get("@microsoft.graph.conflictBehavior", "replace")
        return self.write(req, it, parent, name, req.body, behavior)

    def delete_tree(self, it):
        for k in self.children(it["id"]):
            self.delete_tree(k)
        it["deleted"] = True
        self.touch(it)

    @route("DELETE", REF, "item.delete")
    def delete(self, req):
        it, parent, name, action = self.resolve(req)
        if action:
            raise HttpError(400, "invalidRequest", "Unsupported DELETE segment %s" % action)
        if it is self.root or it is self.approot:
            raise HttpError(403, "accessDenied", "Cannot delete the root or app folder")
        self.delete_tree(it)
        return Response(204)


def main():
    ap = common_args("Microsoft Graph (OneDrive) emulator")
    ap.add_argument("--app-name", default="backless", help="name of the app folder (special/approot)")
    ap.add_argument("--simple-upload-max", type=int, default=4 * 1024 * 1024)
    a = ap.parse_args()
    serve(GraphEmulator(app_name=a.app_name, simple_upload_max=a.simple_upload_max, **emulator_kwargs(a)), a)


if __name__ == "__main__":
    main()
