#!/usr/bin/env python3
"""Tiny TCP endpoints for the namespace tests (standard library only).

  tcpio.py listen HOST PORT OUT [--ready FILE] [--idle S]
      Accept one connection, append what arrives to OUT as it arrives,
      stop at end of stream or after S seconds without data (default 5).
      FILE is created once the socket listens.

  tcpio.py send HOST PORT [--pause S] PART...
      Connect and send each PART as its own segment (Nagle off), sleeping
      S seconds (default 1) between parts, then close.
"""
import argparse
import socket
import sys
import time


def listen(opt):
    family = socket.AF_INET6 if ":" in opt.host else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((opt.host, opt.port))
    srv.listen(1)
    if opt.ready:
        open(opt.ready, "w").close()
    srv.settimeout(60)
    conn, _ = srv.accept()
    conn.settimeout(opt.idle)
    with open(opt.out, "ab") as out:
        while True:
            try:
                data = conn.recv(65536)
            except (socket.timeout, ConnectionError):
                break
            if not data:
                break
            out.write(data)
            out.flush()
    conn.close()
    return 0


def send(opt):
    conn = socket.create_connection((opt.host, opt.port), timeout=5)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i, part in enumerate(opt.parts):
        if i:
            time.sleep(opt.pause)
        conn.sendall(part.encode())
    conn.close()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("listen")
    lp.add_argument("host")
    lp.add_argument("port", type=int)
    lp.add_argument("out")
    lp.add_argument("--ready")
    lp.add_argument("--idle", type=float, default=5.0)
    sp = sub.add_parser("send")
    sp.add_argument("host")
    sp.add_argument("port", type=int)
    sp.add_argument("--pause", type=float, default=1.0)
    sp.add_argument("parts", nargs="+")
    opt = ap.parse_args()
    return listen(opt) if opt.cmd == "listen" else send(opt)


if __name__ == "__main__":
    sys.exit(main())
