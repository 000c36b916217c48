#!/usr/bin/env python3
"""Tiny TCP and UDP endpoints for the namespace tests (standard library only).

  netio.py listen HOST PORT OUT [--ready FILE] [--idle S]
      Accept one connection, append what arrives to OUT as it arrives,
      stop at end of stream or after S seconds without data (default 5).
      FILE is created once the socket listens.

  netio.py send HOST PORT [--pause S] PART...
      Connect and send each PART as its own segment (Nagle off), sleeping
      S seconds (default 1) between parts, then close.

  netio.py udp-sink HOST PORT OUT [--ready FILE] [--idle S]
      Append each datagram to OUT, one a line; never answer.  Stop after
      S seconds without one (default 5).

  netio.py udp-send HOST PORT MESSAGE [--wait S]
      Send MESSAGE from a connected socket, then wait up to S seconds
      (default 3) for what comes back and print one word: "reply",
      "silence", or the errno name of an ICMP error (ECONNREFUSED for
      port unreachable, EHOSTUNREACH for administratively prohibited).
"""
import argparse
import errno
import socket
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listen(opt):
    srv = socket.socket(family(opt.host), socket.SOCK_STREAM)
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


def udp_sink(opt):
    sock = socket.socket(family(opt.host), socket.SOCK_DGRAM)
    sock.bind((opt.host, opt.port))
    if opt.ready:
        open(opt.ready, "w").close()
    sock.settimeout(opt.idle)
    with open(opt.out, "ab") as out:
        while True:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            out.write(data + b"\n")
            out.flush()
    return 0


def udp_send(opt):
    sock = socket.socket(family(opt.host), socket.SOCK_DGRAM)
    sock.connect((opt.host, opt.port))
    sock.settimeout(opt.wait)
    try:
        sock.send(opt.message.encode())
        sock.recv(65536)
        print("reply")
    except socket.timeout:
        print("silence")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def command(name, func):
        p = sub.add_parser(name)
        p.set_defaults(func=func)
        p.add_argument("host")
        p.add_argument("port", type=int)
        return p

    # The two receivers take the same options.
    for name, func in (("listen", listen), ("udp-sink", udp_sink)):
        p = command(name, func)
        p.add_argument("out")
        p.add_argument("--ready")
        p.add_argument("--idle", type=float, default=5.0)
    p = command("send", send)
    p.add_argument("--pause", type=float, default=1.0)
    p.add_argument("parts", nargs="+")
    p = command("udp-send", udp_send)
    p.add_argument("message")
    p.add_argument("--wait", type=float, default=3.0)

    opt = ap.parse_args()
    return opt.func(opt)


if __name__ == "__main__":
    sys.exit(main())
