#!/usr/bin/env python3
"""HTTP/1.1 server for test_http_normalisation (standard library only).

  httpsrv.py HOST PORT ROOT LOG [--ready FILE]

Serves files under ROOT, keeping connections alive (so pipelined requests
are answered in order).  For every request it appends one line to LOG:

    <METHOD> RAW <request target as received> RESOLVED <path it served>

where RESOLVED is the target percent-decoded, with runs of '/' collapsed
and '.' and '..' resolved (never above ROOT), i.e. the file it opened.
Special paths:

  /chunked  "Transfer-Encoding: chunked"; the marker MARKER-CHUNKED is
            split between two chunks (the wire never holds it whole)
  /gzip     "Content-Encoding: gzip"; the decoded body holds MARKER-GZIP,
            the compressed bytes do not
  /teapot   status 418
PUT stores nothing and answers 201.
"""
import argparse
import gzip
import http.server
import os
import posixpath
import re
import sys
import urllib.parse

GZIP_BODY = b"compressed page\n" + b"filler " * 40 + b"\nMARKER-GZIP\n"


def resolve(target):
    # Origin form: the path is everything before '?' (urlsplit would take
    # "//a/b" for a host and a path).
    path = target.partition("?")[0]
    path = urllib.parse.unquote(path)
    path = re.sub("/+", "/", path)
    path = posixpath.normpath("/" + path)
    return "/" + path.lstrip("/")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nt-httpsrv/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))

    def record(self, resolved):
        # self.path has had a leading '//' collapsed by http.server; the
        # request line holds the target exactly as it arrived.
        raw = self.raw_requestline.decode("latin-1").split(" ")[1]
        with open(self.server.log_path, "a") as log:
            log.write("%s RAW %s RESOLVED %s\n" % (self.command, raw, resolved))

    def send(self, code, body, headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        raw = self.raw_requestline.decode("latin-1").split(" ")[1]
        resolved = resolve(raw)
        self.record(resolved)
        if resolved == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in (b"first part MARKER-CHU", b"NKED second part\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        if resolved == "/gzip":
            body = gzip.compress(GZIP_BODY)
            assert b"MARKER-GZIP" not in body
            self.send(200, body, [("Content-Type", "text/plain"),
                                  ("Content-Encoding", "gzip")])
            return
        if resolved == "/teapot":
            self.send(418, b"short and stout\n")
            return
        file = os.path.join(self.server.root, resolved.lstrip("/"))
        if os.path.isfile(file):
            with open(file, "rb") as f:
                self.send(200, f.read(), [("Content-Type", "text/plain")])
        else:
            self.send(404, b"not found\n")

    def do_PUT(self):
        self.record(resolve(self.raw_requestline.decode("latin-1").split(" ")[1]))
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.send(201, b"created\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("root")
    ap.add_argument("log")
    ap.add_argument("--ready")
    opt = ap.parse_args()
    srv = http.server.ThreadingHTTPServer((opt.host, opt.port), Handler)
    srv.root = os.path.realpath(opt.root)
    srv.log_path = opt.log
    if opt.ready:
        open(opt.ready, "w").close()
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
