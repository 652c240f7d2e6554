"""Shared machinery of the cloud-service emulators (standard library only).

An emulator is a subclass of Emulator that declares routes and service-specific
error bodies.  This module provides the HTTP server, bearer-token checks with
expiry, fault injection (429 with Retry-After, seeded random 5xx, a scripted
queue of failures, latency), request counting and the /_emulator/ control
endpoints.  See README.md for the flags and the token rule.
"""

import argparse
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Request:
    def __init__(self, method, raw_path, headers, body):
        self.method = method
        self.raw_path = raw_path
        parsed = urllib.parse.urlsplit(raw_path)
        self.path = parsed.path
        self.query = {}
        for k, v in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True):
            self.query[k] = v
        self.headers = headers
        self.body = body
        self.match = None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def base_url(self):
        return "http://" + self.headers.get("Host", "127.0.0.1")

    def json(self):
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))


class Response:
    def __init__(self, status, body=b"", headers=None, content_type=None):
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            content_type = content_type or "application/json; charset=UTF-8"
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body
        if content_type:
            self.headers["Content-Type"] = content_type


class HttpError(Exception):
    """Raised by handlers; the emulator turns it into its service's error body."""

    def __init__(self, status, reason, message, extra=None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.extra = extra or {}


def route(method, pattern, name, auth=True):
    """Decorator declaring an emulator route (regex matched on the full path)."""

    def deco(fn):
        fn._route = (method, re.compile("^" + pattern + "$"), name, auth)
        return fn

    return deco


class Emulator:
    service = "base"
    path_prefixes = ()  # stripped from paths before routing (e.g. "/v1.0")

    def __init__(self, token=None, page_size=None, expire_after=0, fail_rate=0.0,
                 rate_limit_every=0, retry_after=1, latency_ms=0, seed=0,
                 rate_limit_status=429):
        self.lock = threading.RLock()
        self.base_token = token
        self.max_page_size = page_size
        self.config = {
            "expire_after": expire_after,
            "fail_rate": fail_rate,
            "rate_limit_every": rate_limit_every,
            "retry_after": retry_after,
            "latency_ms": latency_ms,
            "rate_limit_status": rate_limit_status,
            "fail_next": [],
        }
        self.seed = seed
        self.rng = random.Random(seed)
        self.routes = []
        for attr in dir(self):
            fn = getattr(self, attr)
            r = getattr(fn, "_route", None)
            if r:
                self.routes.append((r[0], r[1], r[2], r[3], fn))
        self.reset_stats()
        self.reset_tokens()
        self.reset_state()

    # ----- state hooks for subclasses -----
    def reset_state(self):
        pass

    def dump_state(self):
        return {}

    def error_body(self, status, reason, message, extra):
        raise NotImplementedError

    def auth_error(self, why):
        raise NotImplementedError

    def fault_error(self, status):
        raise NotImplementedError

    # ----- stats and tokens -----
    def reset_stats(self):
        with self.lock:
            self.api_requests = 0
            self.stats = {"total": 0, "by_endpoint": {}, "by_status": {},
                          "faults": {"rate_limited": 0, "server_error": 0,
                                     "unauthorized": 0, "scripted": 0},
                          "bytes_in": 0, "bytes_out": 0}

    def reset_tokens(self):
        with self.lock:
            self.extra_tokens = set()
            self.expired = set()
            self.token_uses = {}

    def token_acceptable(self, tok):
        if not tok:
            return False
        if tok in self.extra_tokens or self.base_token is None:
            return True
        if tok == self.base_token:
            return True
        prefix = self.base_token + "."
        return tok.startswith(prefix) and len(tok) > len(prefix)

    def check_auth(self, req):
        """Returns None when authorised, else 'missing' / 'invalid' / 'expired'."""
        h = req.header("Authorization", "")
        if not h.lower().startswith("bearer "):
            return "missing"
        tok = h[7:].strip()
        with self.lock:
            if tok in self.expired:
                return "expired"
            if not self.token_acceptable(tok):
                return "invalid"
            n = self.token_uses.get(tok, 0) + 1
            self.token_uses[tok] = n
            limit = self.config["expire_after"]
            if limit and n > limit:
                self.expired.add(tok)
                return "expired"
        return None

    # ----- dispatch -----
    def strip_prefix(self, path):
        for p in self.path_prefixes:
            if path.startswith(p + "/"):
                return path[len(p):]
        return path

    def find_route(self, req):
        path = self.strip_prefix(req.path)
        allowed = False
        for method, rx, name, auth, fn in self.routes:
            m = rx.match(path)
            if m:
                if method == req.method:
                    req.match = m
                    return name, auth, fn
                allowed = True
        return ("method_not_allowed" if allowed else "not_found"), False, None

    def count(self, name, status, nin, nout):
        with self.lock:
            s = self.stats
            s["total"] += 1
            s["by_endpoint"][name] = s["by_endpoint"].get(name, 0) + 1
            k = str(status)
            s["by_status"][k] = s["by_status"].get(k, 0) + 1
            s["bytes_in"] += nin
            s["bytes_out"] += nout

    def pick_fault(self):
        """Under the lock: the status of an injected failure for this request, or None."""
        c = self.config
        self.api_requests += 1
        if c["fail_next"]:
            self.stats["faults"]["scripted"] += 1
            return int(c["fail_next"].pop(0))
        if c["rate_limit_every"] and self.api_requests % int(c["rate_limit_every"]) == 0:
            self.stats["faults"]["rate_limited"] += 1
            return int(c["rate_limit_status"])
        if c["fail_rate"] and self.rng.random() < float(c["fail_rate"]):
            self.stats["faults"]["server_error"] += 1
            return self.rng.choice([500, 502, 503])
        return None

    def handle(self, req):
        if req.path.startswith("/_emulator/"):
            resp = self.control(req)
            return resp
        name, auth, fn = self.find_route(req)
        latency = self.config["latency_ms"]
        if latency:
            time.sleep(latency / 1000.0)
        with self.lock:
            fault = self.pick_fault()
        if fault is not None:
            resp = self.fault_error(fault)
            if fault in (429, 403) or fault == int(self.config["rate_limit_status"]):
                resp.headers["Retry-After"] = str(self.config["retry_after"])
        elif fn is None:
            status = 405 if name == "method_not_allowed" else 404
            resp = self.error_response(HttpError(status, "notFound", "Unknown endpoint %s %s" % (req.method, req.path)))
        else:
            why = self.check_auth(req) if auth else None
            if why:
                with self.lock:
                    self.stats["faults"]["unauthorized"] += 1
                resp = self.auth_error(why)
            else:
                try:
                    with self.lock:
                        resp = fn(req)
                except HttpError as e:
                    resp = self.error_response(e)
                except (ValueError, KeyError) as e:
                    resp = self.error_response(HttpError(400, "badRequest", "Bad request: %s" % e))
        self.count(name, resp.status, len(req.body or b""), len(resp.body or b""))
        return resp

    def error_response(self, e):
        return Response(e.status, self.error_body(e.status, e.reason, e.message, e.extra))

    # ----- control endpoints -----
    def control(self, req):
        p = req.path[len("/_emulator"):]
        body = req.json() if req.body else {}
        with self.lock:
            if p == "/stats" and req.method == "GET":
                out = json.loads(json.dumps(self.stats))
                out["service"] = self.service
                return Response(200, out)
            if p == "/reset" and req.method == "POST":
                if not body.get("stats_only"):
                    self.reset_state()
                    self.reset_tokens()
                self.reset_stats()
                return Response(204)
            if p == "/reset-stats" and req.method == "POST":
                self.reset_stats()
                return Response(204)
            if p == "/expire-token" and req.method == "POST":
                if body.get("token"):
                    self.expired.add(body["token"])
                else:
                    self.expired.update(self.token_uses.keys())
                    if self.base_token:
                        self.expired.add(self.base_token)
                return Response(204)
            if p == "/tokens" and req.method == "POST":
                self.extra_tokens.add(body["token"])
                self.expired.discard(body["token"])
                return Response(204)
            if p == "/config" and req.method in ("GET", "POST"):
                for k, v in body.items():
                    if k not in self.config:
                        return Response(400, {"error": "unknown config key " + k})
                    self.config[k] = list(v) if k == "fail_next" else v
                if "seed" in body:
                    self.rng = random.Random(body["seed"])
                return Response(200, self.config)
            if p == "/state" and req.method == "GET":
                return Response(200, self.dump_state())
        return Response(404, {"error": "unknown control endpoint " + p})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on,
    # the body waits for the client's delayed ACK (~40 ms per response).
    disable_nagle_algorithm = True
    server_version = "backless-emulator/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.server.emulator.service, fmt % args))

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline()
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _serve(self):
        # "Expect: 100-continue" is answered by http.server itself (handle_expect_100).
        body = self.read_body()
        req = Request(self.command, self.path, self.headers, body)
        try:
            resp = self.server.emulator.handle(req)
        except Exception as e:  # an emulator bug: report it, keep serving
            import traceback
            traceback.print_exc()
            resp = Response(500, {"error": {"code": 500, "message": "emulator bug: %r" % e}})
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        data = resp.body if self.command != "HEAD" else b""
        if resp.status != 204 and resp.status >= 200:
            self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(emulator, host="127.0.0.1", port=0, verbose=False):
    srv = Server((host, port), Handler)
    srv.emulator = emulator
    srv.verbose = verbose
    return srv


def common_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the listening port here once ready")
    ap.add_argument("--page-size", type=int, default=None, help="cap on every page size")
    ap.add_argument("--token", default=None, help="accepted bearer token (see README)")
    ap.add_argument("--expire-after", type=int, default=0, help="a token expires after N requests")
    ap.add_argument("--fail-rate", type=float, default=0.0, help="probability of a random 5xx")
    ap.add_argument("--rate-limit-every", type=int, default=0, help="every Nth request gets 429")
    ap.add_argument("--rate-limit-status", type=int, default=429, help="429, or 403 (Drive's rate-limit 403)")
    ap.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429")
    ap.add_argument("--latency-ms", type=int, default=0, help="added delay per request")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    ap.add_argument("--verbose", action="store_true")
    return ap


def emulator_kwargs(a):
    return dict(token=a.token, page_size=a.page_size, expire_after=a.expire_after,
                fail_rate=a.fail_rate, rate_limit_every=a.rate_limit_every,
                retry_after=a.retry_after, latency_ms=a.latency_ms, seed=a.seed,
                rate_limit_status=a.rate_limit_status)


def serve(emulator, a):
    srv = make_server(emulator, a.host, a.port, a.verbose)
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)
    else:
        print(port, flush=True)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    srv.server_close()
