#!/usr/bin/env python3
"""Google Drive API v3 emulator (the endpoints the gdrive:// backend uses).

Base URL: http://127.0.0.1:PORT  (stands for https://www.googleapis.com)
  GET    /drive/v3/files                       files.list (q, fields, pageSize, pageToken, orderBy, spaces)
  POST   /drive/v3/files                       files.create, metadata only (folders, empty files)
  POST   /upload/drive/v3/files?uploadType=media|multipart|resumable
  PUT    /upload/drive/v3/files[/{id}]?uploadType=resumable&upload_id=..   resumable session bytes
  GET    /drive/v3/files/{id}[?alt=media]      files.get (metadata, or content with Range support)
  PATCH  /drive/v3/files/{id}                  files.update metadata (name, trashed, addParents/removeParents)
  PATCH  /upload/drive/v3/files/{id}?uploadType=media|multipart|resumable   files.update content
  DELETE /drive/v3/files/{id}                  files.delete (recursive for folders)
  GET    /drive/v3/changes/startPageToken      changes.getStartPageToken
  GET    /drive/v3/changes?pageToken=N         changes.list
See README.md for flags and control endpoints.
"""

import base64
import hashlib
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emucommon import (Emulator, HttpError, Response, route, common_args,  # noqa: E402
                       emulator_kwargs, serve)

FOLDER = "application/vnd.google-apps.folder"
ROOT_ID = "0AROOTFOLDERxxxxxxxxxx"
APPDATA_ID = "0AAPPDATAFOLDERxxxxxxx"


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


# ---------------------------------------------------------------- fields= ----
def parse_fields(s):
    """'nextPageToken,files(id,name)' -> {'nextPageToken': None, 'files': {'id': None, 'name': None}}"""
    pos = 0

    def parse_list(stop):
        nonlocal pos
        out = {}
        while pos < len(s) and s[pos] != stop:
            if s[pos] in ", ":
                pos += 1
                continue
            start = pos
            while pos < len(s) and s[pos] not in ",()/ ":
                pos += 1
            name = s[start:pos]
            if not name:
                raise HttpError(400, "invalidParameter", "Invalid field selection %s" % s, {"location": "fields"})
            sub = None
            if pos < len(s) and s[pos] == "(":
                pos += 1
                sub = parse_list(")")
                if pos >= len(s):
                    raise HttpError(400, "invalidParameter", "Invalid field selection %s" % s, {"location": "fields"})
                pos += 1
            elif pos < len(s) and s[pos] == "/":
                pos += 1
                sub = parse_list_one()
            prev = out.get(name, {})
            out[name] = None if sub is None or prev is None else dict(prev, **sub)
        return out

    def parse_list_one():
        nonlocal pos
        start = pos
        while pos < len(s) and s[pos] not in ",()/ ":
            pos += 1
        name = s[start:pos]
        sub = None
        if pos < len(s) and s[pos] == "/":
            pos += 1
            sub = parse_list_one()
        elif pos < len(s) and s[pos] == "(":
            pos += 1
            sub = parse_list(")")
            pos += 1
        return {name: sub}

    return parse_list(None)


def apply_fields(obj, sel):
    if sel is None:
        return obj
    if isinstance(obj, list):
        return [apply_fields(o, sel) for o in obj]
    if not isinstance(obj, dict):
        return obj
    if "*" in sel:
        return obj
    return {k: apply_fields(obj[k], sub) for k, sub in sel.items() if k in obj}


# -------------------------------------------------------------------- q= ----
def tokenize_q(q):
    toks, i = [], 0
    while i < len(q):
        c = q[i]
        if c.isspace():
            i += 1
        elif c == "'":
            i += 1
            buf = []
            while i < len(q) and q[i] != "'":
                if q[i] == "\\" and i + 1 < len(q):
                    i += 1
                buf.append(q[i])
                i += 1
            if i >= len(q):
                raise ValueError("unterminated string")
            i += 1
            toks.append(("str", "".join(buf)))
        elif c in "()":
            toks.append((c, c))
            i += 1
        elif c in "=!<>":
            j = i + 1
            if j < len(q) and q[j] == "=":
                j += 1
            op = q[i:j]
            if op == "!":
                raise ValueError("bad operator")
            toks.append(("op", op))
            i = j
        else:
            j = i
            while j < len(q) and not q[j].isspace() and q[j] not in "()=!<>'":
                j += 1
            toks.append(("word", q[i:j]))
            i = j
    return toks


def parse_q(q):
    """Returns a predicate over file records; raises ValueError on a bad query."""
    toks = tokenize_q(q)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else (None, None)

    def take():
        nonlocal pos
        t = peek()
        pos += 1
        return t

    def expr():
        left = conj()
        while peek() == ("word", "or"):
            take()
            right = conj()
            left = (lambda a, b: lambda f: a(f) or b(f))(left, right)
        return left

    def conj():
        left = unary()
        while peek() == ("word", "and"):
            take()
            right = unary()
            left = (lambda a, b: lambda f: a(f) and b(f))(left, right)
        return left

    def unary():
        t = peek()
        if t == ("word", "not"):
            take()
            inner = unary()
            return lambda f: not inner(f)
        if t[0] == "(":
            take()
            e = expr()
            if take()[0] != ")":
                raise ValueError("missing )")
            return e
        return cond()

    def value():
        kind, v = take()
        if kind == "str":
            return v
        if kind == "word" and v in ("true", "false"):
            return v == "true"
        raise ValueError("bad value %r" % (v,))

    def cond():
        kind, v = take()
        if kind == "str":
            lit = v
            if take() != ("word", "in"):
                raise ValueError("expected in")
            k2, coll = take()
            if coll != "parents":
                raise ValueError("unsupported collection %s" % coll)
            return lambda f: lit in f["parents"] or (lit == "root" and ROOT_ID in f["parents"]) \
                or (lit == "appDataFolder" and APPDATA_ID in f["parents"])
        if kind != "word" or v not in ("name", "mimeType", "trashed", "modifiedTime",
                                       "createdTime", "starred", "fullText"):
            raise ValueError("unsupported term %r" % (v,))
        field = v
        k2, op = take()
        if k2 == "word" and op == "contains":
            lit = value()
            if field == "name":
                return lambda f: f["name"].lower().startswith(lit.lower())
            return lambda f: lit.lower() in f.get("name", "").lower()
        if k2 != "op":
            raise ValueError("expected operator after %s" % field)
        lit = value()
        get = (lambda f: f.get(field, False)) if field != "fullText" else (lambda f: "")
        if field in ("modifiedTime", "createdTime"):
            get = (lambda fld: lambda f: rfc3339(f[fld]))(field)
        ops = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
               "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
        if op not in ops:
            raise ValueError("bad operator %s" % op)
        fn = ops[op]
        return lambda f: fn(get(f), lit)

    pred = expr()
    if pos != len(toks):
        raise ValueError("trailing tokens")
    return pred


def parse_multipart(body, content_type):
    boundary = None
    for part in content_type.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        if k.lower() == "boundary":
            boundary = v.strip().strip('"')
    if not boundary:
        raise HttpError(400, "badContent", "Multipart body without a boundary")
    delim = b"\r\n--" + boundary.encode()
    segs = (b"\r\n" + body).split(delim)
    parts = []
    for seg in segs[1:]:
        if seg.startswith(b"--"):
            break
        _, _, seg = seg.partition(b"\r\n")  # rest of the delimiter line
        head, sep, content = seg.partition(b"\r\n\r\n")
        if not sep:
            raise HttpError(400, "badContent", "Malformed multipart body")
        headers = {}
        for line in head.split(b"\r\n"):
            if b":" in line:
                k, _, v = line.partition(b":")
                headers[k.decode().strip().lower()] = v.decode().strip()
        parts.append((headers, content))
    if len(parts) != 2:
        raise HttpError(400, "badContent", "Multipart upload needs exactly 2 parts (metadata, media), got %d" % len(parts))
    return parts


class DriveEmulator(Emulator):
    service = "gdrive"

    # ------------------------------------------------------------- state ----
    def reset_state(self):
        now = time.time()
        self.files = {}
        self.seq = 0
        self.change_seq = 1
        self.changes = []  # (seq, fileId, time)
        self.sessions = {}
        for fid, name, space in ((ROOT_ID, "My Drive", "drive"), (APPDATA_ID, "appDataFolder", "appDataFolder")):
            self.files[fid] = {"id": fid, "name": name, "mimeType": FOLDER, "parents": [], "content": b"",
                               "createdTime": now, "modifiedTime": now, "version": 1, "trashed": False,
                               "space": space, "order": 0, "root": True}

    def dump_state(self):
        return {"files": [{"id": f["id"], "name": f["name"], "mimeType": f["mimeType"], "parents": f["parents"],
                           "size": len(f["content"]), "trashed": f["trashed"], "version": f["version"]}
                          for f in self.files.values() if not f.get("root")],
                "changeSeq": self.change_seq}

    def new_id(self):
        return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=").replace("-", "x").replace("_", "y")[:28]

    def record_change(self, fid):
        self.changes.append((self.change_seq, fid, time.time()))
        self.change_seq += 1

    def resource(self, f):
        r = {"kind": "drive#file", "id": f["id"], "name": f["name"], "mimeType": f["mimeType"],
             "parents": list(f["parents"]), "trashed": f["trashed"], "explicitlyTrashed": f["trashed"],
             "createdTime": rfc3339(f["createdTime"]), "modifiedTime": rfc3339(f["modifiedTime"]),
             "version": str(f["version"]), "spaces": [f["space"]], "starred": False,
             "ownedByMe": True, "capabilities": {"canEdit": True, "canDelete": True}}
        if f["mimeType"] != FOLDER:
            r["size"] = str(len(f["content"]))
            r["md5Checksum"] = hashlib.md5(f["content"]).hexdigest()
            r["sha256Checksum"] = hashlib.sha256(f["content"]).hexdigest()
            r["headRevisionId"] = "rev%d" % f["version"]
        return r

    def render_file(self, f, req):
        fields = req.query.get("fields")
        if not fields:
            return {k: v for k, v in self.resource(f).items() if k in ("kind", "id", "name", "mimeType")}
        return apply_fields(self.resource(f), parse_fields(fields))

    def resolve_id(self, fid):
        if fid == "root":
            return ROOT_ID
        if fid == "appDataFolder":
            return APPDATA_ID
        return fid

    def get_file(self, fid):
        f = self.files.get(self.resolve_id(fid))
        if not f:
            raise HttpError(404, "notFound", "File not found: %s." % fid,
                            {"location": "fileId", "locationType": "parameter"})
        return f

    def space_of_parents(self, parents):
        for p in parents:
            return self.get_file(p)["space"]
        return "drive"

    def create(self, meta, content):
        parents = [self.resolve_id(p) for p in meta.get("parents") or ["root"]]
        for p in parents:
            pf = self.get_file(p)
            if pf["mimeType"] != FOLDER:
                raise HttpError(400, "invalid", "A shortcut or file cannot be a parent.")
        # Creation times strictly increase, by at least the 1 ms the RFC 3339
        # form shows: Drive's clock orders two creates that far apart, and the
        # backend's "oldest copy of a duplicated folder wins" rule relies on
        # the order (two creates within one millisecond are left out).
        now = max(time.time(), getattr(self, "last_created", 0) + 0.001)
        self.last_created = now
        self.seq += 1
        mime = meta.get("mimeType") or ("application/octet-stream" if content is not None else "application/octet-stream")
        f = {"id": self.new_id(), "name": meta.get("name", "Untitled"), "mimeType": mime,
             "parents": parents, "content": content or b"", "createdTime": now, "modifiedTime": now,
             "version": 1, "trashed": False, "space": self.space_of_parents(parents), "order": self.seq}
        if mime == FOLDER and content:
            raise HttpError(400, "badContent", "A folder cannot have content.")
        self.files[f["id"]] = f
        self.record_change(f["id"])
        return f

    def update(self, f, meta, content, req):
        if meta.get("name") is not None:
            f["name"] = meta["name"]
        if "trashed" in meta:
            f["trashed"] = bool(meta["trashed"])
        if meta.get("mimeType"):
            f["mimeType"] = meta["mimeType"]
        add = [self.resolve_id(p) for p in req.query.get("addParents", "").split(",") if p]
        rem = [self.resolve_id(p) for p in req.query.get("removeParents", "").split(",") if p]
        if "parents" in meta:
            raise HttpError(403, "fieldNotWritable", "The resource body includes fields which are not directly writable.")
        for p in add:
            self.get_file(p)
            if p not in f["parents"]:
                f["parents"].append(p)
        f["parents"] = [p for p in f["parents"] if p not in rem]
        if content is not None:
            if f["mimeType"] == FOLDER:
                raise HttpError(400, "badContent", "A folder cannot have content.")
            f["content"] = content
        f["version"] += 1
        f["modifiedTime"] = time.time()
        self.record_change(f["id"])
        return f

    def delete_tree(self, fid):
        for c in [c for c in self.files.values() if fid in c["parents"]]:
            self.delete_tree(c["id"])
        self.files.pop(fid, None)
        self.record_change(fid)

    # ------------------------------------------------------------ errors ----
    def error_body(self, status, reason, message, extra=None):
        extra = extra or {}
        err = {"message": message, "domain": extra.get("domain", "global"), "reason": reason}
        for k in ("location", "locationType"):
            if k in extra:
                err[k] = extra[k]
        return {"error": {"code": status, "message": message, "errors": [err]}}

    def auth_error(self, why):
        msg = ("Request is missing required authentication credential. Expected OAuth 2 access token, "
               "login cookie or other valid authentication credential.") if why == "missing" else \
            ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
             "or other valid authentication credential.")
        body = {"error": {"code": 401, "message": msg,
                          "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                                      "location": "Authorization", "locationType": "header"}],
                          "status": "UNAUTHENTICATED"}}
        return Response(401, body, {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})

    def fault_error(self, status):
        if status == 429:
            return Response(429, self.error_body(429, "rateLimitExceeded", "Rate Limit Exceeded", {"domain": "usageLimits"}))
        if status == 403:
            return Response(403, self.error_body(403, "userRateLimitExceeded", "User Rate Limit Exceeded", {"domain": "usageLimits"}))
        if status == 401:
            return self.auth_error("expired")
        if status == 502:
            return Response(502, "<!DOCTYPE html>\n<html lang=en><title>Error 502 (Server Error)!!1</title>"
                                 "<p><b>502.</b> That's an error.</p></html>", content_type="text/html; charset=UTF-8")
        if status == 503:
            return Response(503, self.error_body(503, "backendError", "The service is currently unavailable."),
                            {"Retry-After": str(self.config["retry_after"])})
        return Response(status, self.error_body(status, "backendError", "Internal Error"))

    # ------------------------------------------------------------ routes ----
    @route("GET", r"/drive/v3/files", "files.list")
    def files_list(self, req):
        q = req.query.get("q", "")
        try:
            pred = parse_q(q) if q.strip() else (lambda f: True)
        except ValueError:
            raise HttpError(400, "invalid", "Invalid Value", {"location": "q", "locationType": "parameter"})
        spaces = set(s.strip() for s in req.query.get("spaces", "drive").split(","))
        page_size = int(req.query.get("pageSize", "100"))
        if page_size < 1 or page_size > 1000:
            raise HttpError(400, "invalid", "Invalid value '%d'. Values must be within the range: [1, 1000]" % page_size,
                            {"location": "pageSize", "locationType": "parameter"})
        if self.max_page_size:
            page_size = min(page_size, self.max_page_size)
        files = [f for f in self.files.values() if not f.get("root") and f["space"] in spaces and pred(f)]
        order = req.query.get("orderBy")
        files.sort(key=lambda f: f["order"])
        if order:
            for key in reversed(order.split(",")):
                parts = key.strip().split()
                name, desc = parts[0], len(parts) > 1 and parts[1] == "desc"
                keyfn = {"name": lambda f: f["name"], "createdTime": lambda f: f["createdTime"],
                         "modifiedTime": lambda f: f["modifiedTime"],
                         "folder": lambda f: f["mimeType"] != FOLDER}.get(name)
                if keyfn is None:
                    raise HttpError(400, "invalid", "Invalid Value", {"location": "orderBy", "locationType": "parameter"})
                files.sort(key=keyfn, reverse=desc)
        offset = 0
        tok = req.query.get("pageToken")
        if tok:
            try:
                st = json.loads(base64.urlsafe_b64decode(tok.encode()).decode())
                offset = int(st["o"])
                if st["q"] != q:
                    raise ValueError
            except Exception:
                raise HttpError(400, "invalid", "Invalid Value", {"location": "pageToken", "locationType": "parameter"})
        page = files[offset:offset + page_size]
        out = {"kind": "drive#fileList", "incompleteSearch": False}
        if offset + page_size < len(files):
            out["nextPageToken"] = base64.urlsafe_b64encode(
                json.dumps({"q": q, "o": offset + page_size}).encode()).decode()
        fields = req.query.get("fields")
        if not fields:
            out["files"] = [{k: v for k, v in self.resource(f).items() if k in ("kind", "id", "name", "mimeType")}
                            for f in page]
            return Response(200, out)
        out["files"] = [self.resource(f) for f in page]
        return Response(200, apply_fields(out, parse_fields(fields)))

    @route("POST", r"/drive/v3/files", "files.create")
    def files_create_meta(self, req):
        meta = req.json()
        f = self.create(meta, None)
        return Response(200, self.render_file(f, req))

    def upload_body(self, req):
        """(metadata, content) of a media or multipart upload request."""
        kind = req.query.get("uploadType")
        ctype = req.header("Content-Type", "application/octet-stream")
        if kind == "media":
            return {}, req.body
        if kind == "multipart":
            if not ctype.lower().startswith("multipart/related"):
                raise HttpError(400, "badContent", "Multipart uploads need Content-Type multipart/related")
            (h1, meta), (h2, content) = parse_multipart(req.body, ctype)
            m = json.loads(meta.decode("utf-8")) if meta.strip() else {}
            if "mimeType" not in m and h2.get("content-type"):
                m["mimeType"] = h2["content-type"]
            return m, content
        raise HttpError(400, "invalid", "Invalid upload type: %s" % kind,
                        {"location": "uploadType", "locationType": "parameter"})

    def start_session(self, req, fid):
        meta = req.json() if req.body else {}
        sid = uuid.uuid4().hex
        total = req.header("X-Upload-Content-Length")
        self.sessions[sid] = {"meta": meta, "fid": fid, "data": bytearray(),
                              "total": int(total) if total else None,
                              "mime": req.header("X-Upload-Content-Type")}
        path = "/upload/drive/v3/files" + ("/" + fid if fid else "")
        loc = "%s%s?uploadType=resumable&upload_id=%s" % (req.base_url(), path, sid)
        return Response(200, b"", {"Location": loc, "X-GUploader-UploadID": sid})

    @route("POST", r"/upload/drive/v3/files", "files.create.upload")
    def files_create_upload(self, req):
        if req.query.get("uploadType") == "resumable":
            return self.start_session(req, None)
        meta, content = self.upload_body(req)
        if meta.get("mimeType") == FOLDER:
            raise HttpError(400, "badContent", "A folder cannot have content.")
        f = self.create(meta, content)
        return Response(200, self.render_file(f, req))

    @route("PUT", r"/upload/drive/v3/files(?:/(?P<id>[^/]+))?", "upload.session", auth=False)
    def session_put(self, req):
        sid = req.query.get("upload_id")
        s = self.sessions.get(sid)
        if not s:
            raise HttpError(404, "notFound", "Upload session not found or expired: %s" % sid)
        cr = req.header("Content-Range")
        if cr:
            unit, _, spec = cr.strip().partition(" ")
            rng, _, total = spec.partition("/")
            if total != "*":
                s["total"] = int(total)
            if rng == "*":
                return self.session_status(s)
            a, _, b = rng.partition("-")
            a, b = int(a), int(b)
            if b - a + 1 != len(req.body):
                raise HttpError(400, "badContent", "Content-Range does not match the body length")
            if a != len(s["data"]):
                if a < len(s["data"]) and b < len(s["data"]):
                    return self.session_status(s)
                raise HttpError(400, "badContent", "Bytes must be sent in order: expected offset %d" % len(s["data"]))
            s["data"] += req.body
        else:
            s["data"] = bytearray(req.body)
            s["total"] = len(req.body)
        if s["total"] is None or len(s["data"]) < s["total"]:
            return self.session_status(s)
        del self.sessions[sid]
        meta = dict(s["meta"])
        if s["mime"] and "mimeType" not in meta:
            meta["mimeType"] = s["mime"]
        if s["fid"]:
            f = self.update(self.get_file(s["fid"]), meta, bytes(s["data"]), req)
        else:
            f = self.create(meta, bytes(s["data"]))
        return Response(200, self.render_file(f, req))

    def session_status(self, s):
        h = {}
        if s["data"]:
            h["Range"] = "bytes=0-%d" % (len(s["data"]) - 1)
        return Response(308, b"", h)

    @route("GET", r"/drive/v3/files/(?P<id>[^/]+)", "files.get")
    def files_get(self, req):
        f = self.get_file(req.match.group("id"))
        if req.query.get("alt") == "media":
            if f["mimeType"] == FOLDER:
                raise HttpError(403, "fileNotDownloadable",
                                "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
                                {"location": "alt", "locationType": "parameter"})
            data = f["content"]
            rng = req.header("Range")
            if rng and rng.startswith("bytes="):
                a, _, b = rng[6:].partition("-")
                a = int(a) if a else max(0, len(data) - int(b))
                b = int(b) if (b and rng[6:].partition("-")[0]) else len(data) - 1
                if a >= len(data):
                    return Response(416, b"", {"Content-Range": "bytes */%d" % len(data)})
                b = min(b, len(data) - 1)
                return Response(206, data[a:b + 1], {"Content-Range": "bytes %d-%d/%d" % (a, b, len(data))},
                                content_type=f["mimeType"])
            return Response(200, data, content_type=f["mimeType"])
        return Response(200, self.render_file(f, req))

    @route("PATCH", r"/drive/v3/files/(?P<id>[^/]+)", "files.update")
    def files_update_meta(self, req):
        f = self.get_file(req.match.group("id"))
        self.update(f, req.json(), None, req)
        return Response(200, self.render_file(f, req))

    @route("PATCH", r"/upload/drive/v3/files/(?P<id>[^/]+)", "files.update.upload")
    def files_update_upload(self, req):
        f = self.get_file(req.match.group("id"))
        if req.query.get("uploadType") == "resumable":
            return self.start_session(req, f["id"])
        meta, content = self.upload_body(req)
        self.update(f, meta, content, req)
        return Response(200, self.render_file(f, req))

    @route("DELETE", r"/drive/v3/files/(?P<id>[^/]+)", "files.delete")
    def files_delete(self, req):
        f = self.get_file(req.match.group("id"))
        if f.get("root"):
            raise HttpError(403, "insufficientFilePermissions", "The user does not have sufficient permissions for this file.")
        self.delete_tree(f["id"])
        return Response(204)

    @route("GET", r"/drive/v3/changes/startPageToken", "changes.getStartPageToken")
    def changes_start(self, req):
        return Response(200, {"kind": "drive#startPageToken", "startPageToken": str(self.change_seq)})

    @route("GET", r"/drive/v3/changes", "changes.list")
    def changes_list(self, req):
        tok = req.query.get("pageToken")
        if not tok or not tok.isdigit() or int(tok) < 1 or int(tok) > self.change_seq:
            raise HttpError(400, "invalid", "Invalid Value", {"location": "pageToken", "locationType": "parameter"})
        start = int(tok)
        page_size = int(req.query.get("pageSize", "100"))
        if self.max_page_size:
            page_size = min(page_size, self.max_page_size)
        spaces = set(s.strip() for s in req.query.get("spaces", "drive").split(","))
        include_removed = req.query.get("includeRemoved", "true") != "false"
        last = {}
        for seq, fid, t in self.changes:
            last[fid] = seq
        out_changes, next_seq = [], self.change_seq
        for seq, fid, t in self.changes:
            if seq < start:
                continue
            if len(out_changes) >= page_size:
                next_seq = seq
                break
            if last[fid] != seq:
                continue  # superseded by a later change of the same file
            f = self.files.get(fid)
            if f is not None and f["space"] not in spaces:
                continue
            if f is None and not include_removed:
                continue
            c = {"kind": "drive#change", "changeType": "file", "type": "file", "time": rfc3339(t),
                 "removed": f is None, "fileId": fid}
            if f is not None:
                c["file"] = self.resource(f)
            out_changes.append(c)
        out = {"kind": "drive#changeList", "changes": out_changes}
        if next_seq < self.change_seq:
            out["nextPageToken"] = str(next_seq)
        else:
            out["newStartPageToken"] = str(self.change_seq)
        fields = req.query.get("fields")
        if not fields:
            for c in out["changes"]:
                if "file" in c:
                    c["file"] = {k: v for k, v in c["file"].items() if k in ("kind", "id", "name", "mimeType")}
            return Response(200, out)
        return Response(200, apply_fields(out, parse_fields(fields)))


def main():
    ap = common_args("Google Drive v3 emulator")
    a = ap.parse_args()
    serve(DriveEmulator(**emulator_kwargs(a)), a)


if __name__ == "__main__":
    main()
