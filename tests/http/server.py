#!/usr/bin/env python3
"""A test HTTP(S) server for doorman's HTTP JSON source (tests/e2e/test_http.sh).

Listens on 127.0.0.1 on a free port and writes that port to --port-file.
Standard library only.  Paths (any query may follow):

  /own.jsonl            three records in doorman's own schema, JSONL
  /own.json?page=N      doorman's schema as a JSON array, 3 pages by Link header
  /li?page=N            the unofficial-client shape, next URL in the body (2 pages)
  /lipartial            one good page of that shape, then /invalid
  /cursor?cursor=C      the same shape, a cursor in the body (3 pages)
  /big?start=K&count=L  5,000 items by offset/limit (100 a page: 50 pages)
  /r429/KEY             429 with Retry-After: 1 once per KEY, then /own.jsonl
  /r500/KEY             500 once per KEY, then /own.jsonl
  /always500            always 500
  /slow                 waits 3 s before answering
  /cut                  Content-Length promises more than is sent, then closes
  /cutjson              a JSON document cut off mid-way (no Content-Length)
  /invalid              a JSON body that is not JSON
  /loop                 redirects to itself
  /redirect             redirects once to /own.jsonl
  /auth-here            redirects to /auth on the same host
  /auth-elsewhere       redirects to /auth on host "localhost"
  /huge                 a 3 MB body
  /hugestream           a 3 MB body without Content-Length
  /html                 text/html
  /auth                 /own.jsonl with "Authorization: Bearer s3cret-token", else 401
  /ua                   echoes the User-Agent as a record's message
  /grow/KEY             /own.jsonl's records 1 and 2, then one more each request per KEY
  /rdate/KEY            429 with Retry-After as an HTTP-date 3 s ahead once per KEY,
                        then /own.jsonl
  /ownbody?page=N       doorman's schema, {"records": [...], "next": URL}: 3 pages
  /since?start=K&count=L[&createdAfter=MS]
                        the unofficial-client shape by offset/limit, 6 items, sentTime
                        1770893040000 + i * 60000; createdAfter keeps those after MS
                        ("ge=1": at or after); "paging": {"total": N}
  /sincel[?after=ISO]   /own.jsonl, records with sent_at after ISO only

With --log FILE, each request's path and query is appended to FILE, a line each.
"""
import argparse
import email.utils
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OWN = [
    {"kind": "invitation", "id": "own-%d" % i, "from": {"name": "Own Person %d" % i,
     "url": "https://www.linkedin.com/in/own-%d" % i},
     "sent_at": "2026-02-1%dT10:00:00Z" % i, "message": "Hello number %d" % i}
    for i in range(1, 4)
]
SEEN = {}
LOCK = threading.Lock()


def li_item(i):
    return {"invitation": {
        "fromMember": {"firstName": "First%d" % i, "lastName": "Last%d" % i,
                       "occupation": "Occupation %d" % i,
                       "publicIdentifier": "member-%d" % i},
        "message": "Note %d" % i if i % 3 else None,
        "sentTime": 1770893040000 + i * 60000,
        "entityUrn": "urn:li:fs_relInvitation:%d" % i},
        "insights": {"sharedConnections": {"count": i % 7}}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def once(self, key):
        with LOCK:
            n = SEEN.get(key, 0)
            SEEN[key] = n + 1
        return n == 0

    def do_GET(self):
        if self.server.log:
            with LOCK, open(self.server.log, "a") as f:
                f.write(self.path + "\n")
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        p = u.path
        jsonl = "".join(json.dumps(r) + "\n" for r in OWN)
        if p == "/odd":  # an id with a control character, a quote, a comma
            rec = dict(OWN[0], id="odd\x01\"id,\u00e9")
            return self.send(200, json.dumps(rec) + "\n", "application/x-ndjson")
        if p == "/own.jsonl":
            return self.send(200, jsonl, "application/x-ndjson")
        if p.startswith("/grow/"):
            with LOCK:
                n = SEEN.get(p, 0)
                SEEN[p] = n + 1
            recs = [dict(OWN[0], id="grow-%d" % i, message="Hello number %d" % i)
                    for i in range(1, 3 + n)]
            return self.send(200, "".join(json.dumps(r) + "\n" for r in recs),
                             "application/x-ndjson")
        if p == "/own.json":
            page = int(q.get("page", "1"))
            hdr = [("Link", '</own.json?page=%d>; rel="next", </own.json?page=1>; rel="first"'
                    % (page + 1))] if page < 3 else []
            return self.send(200, [OWN[page - 1]], headers=hdr)
        if p == "/li":
            page = int(q.get("page", "1"))
            items = [li_item(i) for i in range((page - 1) * 3, page * 3)]
            nxt = "/li?page=%d" % (page + 1) if page < 2 else None
            return self.send(200, {"elements": items, "paging": {"next": nxt, "total": 6}})
        if p == "/lipartial":  # page 2 is /invalid
            return self.send(200, {"elements": [li_item(i) for i in range(3)],
                                   "paging": {"next": "/invalid"}})
        if p == "/cursor":
            c = int(q.get("cursor", "0"))
            items = [li_item(i) for i in range(c * 2, c * 2 + 2)]
            return self.send(200, {"elements": items,
                                   "paging": {"cursor": str(c + 1) if c < 2 else None}})
        if p == "/big":
            start, count = int(q.get("start", "0")), int(q.get("count", "100"))
            items = [li_item(i) for i in range(start, min(start + count, 5000))]
            return self.send(200, {"elements": items, "total": 5000})
        if p.startswith("/r429/"):
            if self.once(p):
                return self.send(429, {"error": "slow down"}, headers=[("Retry-After", "1")])
            return self.send(200, jsonl, "application/x-ndjson")
        if p.startswith("/rdate/"):
            if self.once(p):
                when = email.utils.formatdate(time.time() + 3, usegmt=True)
                return self.send(429, {"error": "later"}, headers=[("Retry-After", when)])
            return self.send(200, jsonl, "application/x-ndjson")
        if p == "/ownbody":
            page = int(q.get("page", "1"))
            nxt = "/ownbody?page=%d" % (page + 1) if page < 3 else None
            return self.send(200, {"records": [OWN[page - 1]], "next": nxt})
        if p == "/since":
            start, count = int(q.get("start", "0")), int(q.get("count", "100"))
            after = int(q.get("createdAfter", "0"))
            ge = q.get("ge") == "1"
            items = [li_item(i) for i in range(6)]
            items = [it for it in items if "createdAfter" not in q
                     or it["invitation"]["sentTime"] > after
                     or (ge and it["invitation"]["sentTime"] == after)]
            return self.send(200, {"elements": items[start:start + count],
                                   "paging": {"total": len(items)}})
        if p == "/sincel":
            recs = [r for r in OWN if "after" not in q or r["sent_at"] > q["after"]]
            return self.send(200, "".join(json.dumps(r) + "\n" for r in recs),
                             "application/x-ndjson")
        if p.startswith("/r500/"):
            if self.once(p):
                return self.send(500, {"error": "oops"})
            return self.send(200, jsonl, "application/x-ndjson")
        if p == "/always500":
            return self.send(500, {"error": "oops"})
        if p == "/slow":
            time.sleep(3)
            return self.send(200, jsonl, "application/x-ndjson")
        if p == "/cut":
            body = json.dumps([OWN[0], OWN[1]]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) * 2))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if p == "/cutjson":
            body = json.dumps({"elements": [li_item(i) for i in range(4)]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if p == "/invalid":
            return self.send(200, "{\"elements\": [1, 2,, oops")
        if p == "/loop":
            return self.send(302, "", headers=[("Location", "/loop")])
        if p == "/auth-elsewhere":  # the same server under another host name
            port = self.server.server_address[1]
            scheme = "https" if self.server.tls else "http"
            return self.send(302, "", headers=[("Location", "%s://localhost:%d/auth"
                                                % (scheme, port))])
        if p == "/auth-here":
            return self.send(302, "", headers=[("Location", "/auth")])
        if p == "/redirect":
            return self.send(302, "", headers=[("Location", "/own.jsonl")])
        if p == "/huge":
            return self.send(200, "[" + ",".join(['"' + "x" * 1000 + '"'] * 3000) + "]")
        if p == "/hugestream":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(b"[")
                for _ in range(3000):
                    self.wfile.write(b'"' + b"x" * 1000 + b'",')
                self.wfile.write(b'"x"]')
            except OSError:
                pass  # the client hung up past its limit
            self.close_connection = True
            return
        if p == "/html":
            return self.send(200, "<html><body>login</body></html>", "text/html; charset=utf-8")
        if p == "/auth":
            if self.headers.get("Authorization") != "Bearer s3cret-token":
                return self.send(401, {"error": "who are you"})
            return self.send(200, jsonl, "application/x-ndjson")
        if p == "/ua":
            rec = dict(OWN[0], message=self.headers.get("User-Agent", ""))
            return self.send(200, json.dumps(rec) + "\n", "application/x-ndjson")
        return self.send(404, {"error": "no such path"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--log")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.log = a.log
    srv.daemon_threads = True
    srv.tls = bool(a.cert)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
