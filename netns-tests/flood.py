#!/usr/bin/env python3
"""Memory flood for the namespace tests (standard library only).

  flood.py sink HOST PORT [--ready FILE]
      Accept TCP connections and read and discard what they send, until
      killed.  HOST "::" takes IPv4 and IPv6.

  flood.py flood --src4 A --dst4 B --src6 A6 --dst6 B6 --port P
                 [--conns N] [--inorder J] [--segs K] [--seglen L]
                 [--frags F] [--fraglen FL] [--sport-base S]
      1. Opens N TCP connections to B:P with crafted handshakes (raw
         sockets; the client kernel has no socket for them, so the test
         drops the RSTs it sends), then sends on each J segments of L
         bytes in order (an inline engine keeps a window of delivered
         bytes per direction), then K segments of L bytes past a
         one-byte hole: out of order, never completed, inside the
         receiver's window, so an engine that reassembles holds them.
      2. Sends F IPv4 and F IPv6 first fragments (UDP to B:P and B6:P,
         more-fragments set, FL data bytes, a fresh identification each)
         whose datagrams are never completed.
      Prints what it sent as "key value" lines.  Sends only to B and B6,
      which the test takes from 198.18.0.0/15 and fd00::/8.
"""
import argparse
import array
import os
import random
import resource
import select
import selectors
import socket
import struct
import sys
import time


def csum(data):
    """Internet checksum, in the byte order to store it with '=H'."""
    if len(data) % 2:
        data += b"\0"
    s = sum(array.array("H", data))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_segment(src, dst, v6, sport, dport, seq, ack, flags, payload,
                window=65535):
    """IP header (IPv4: checksum left to the kernel) + TCP segment."""
    hdr = bytearray(struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                                ack & 0xFFFFFFFF, 5 << 4, flags, window, 0, 0))
    seg = bytes(hdr) + payload
    if v6:
        s, d = socket.inet_pton(socket.AF_INET6, src), \
            socket.inet_pton(socket.AF_INET6, dst)
        pseudo = s + d + struct.pack("!I3xB", len(seg), 6)
    else:
        s, d = socket.inet_aton(src), socket.inet_aton(dst)
        pseudo = s + d + struct.pack("!xBH", 6, len(seg))
    hdr[16:18] = struct.pack("=H", csum(pseudo + seg))
    seg = bytes(hdr) + payload
    return ip_header(s, d, v6, 6, len(seg)) + seg


def ip_header(s, d, v6, proto, length, ident=0, frag=0):
    if v6:
        return struct.pack("!IHBB", 6 << 28, length, proto, 64) + s + d
    return struct.pack("!BBHHHBBH", 0x45, 0, 20 + length, ident, frag, 64,
                       proto, 0) + s + d


class Raw:
    """Send and receive sockets for one address family."""

    def __init__(self, v6):
        fam = socket.AF_INET6 if v6 else socket.AF_INET
        self.v6 = v6
        self.tx = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.rx = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)

    def send(self, dst, data):
        self.tx.sendto(data, (dst, 0))

    def synacks(self, dport, want, timeout):
        """(client port, seq, window) of the SYN-ACKs from port dport to
        the client ports in want, until each answered or timeout."""
        out = []
        want = set(want)
        end = time.monotonic() + timeout
        while want:
            left = end - time.monotonic()
            if left <= 0:
                return out
            r, _, _ = select.select([self.rx], [], [], left)
            if not r:
                return out
            data = self.rx.recv(65536)
            tcp = data if self.v6 else data[(data[0] & 0x0F) * 4:]
            sport, cport, seq, _, _, flags, win = struct.unpack(
                "!HHIIBBH", tcp[:16])
            if sport == dport and flags & 0x12 == 0x12 and cport in want:
                want.discard(cport)
                out.append((cport, seq, win))
        return out


def flood(opt):
    raw4 = Raw(False)
    src, dst = opt.src4, opt.dst4
    payload = os.urandom(opt.seglen)
    isn = {}
    opened = 0
    segs_sent = 0
    inorder_sent = 0

    # Handshakes in batches, so the server's backlog keeps up.
    ports = list(range(opt.sport_base, opt.sport_base + opt.conns))
    for i in range(0, len(ports), 50):
        batch = ports[i:i + 50]
        for p in batch:
            isn[p] = random.randrange(1 << 32)
            raw4.send(dst, tcp_segment(src, dst, False, p, opt.port, isn[p],
                                       0, 0x02, b""))
        got = raw4.synacks(opt.port, batch, 1.0)
        for cport, sseq, win in got:
            # Once per connection: SYN-ACKs are retransmitted.
            if cport not in isn:
                continue
            opened += 1
            c_seq = isn.pop(cport) + 1
            s_ack = sseq + 1
            raw4.send(dst, tcp_segment(src, dst, False, cport, opt.port,
                                       c_seq, s_ack, 0x10, b""))
            # In order, then past a one-byte hole; all inside the window.
            room = max(0, (win - 1) // opt.seglen)
            for k in range(min(opt.inorder, room)):
                raw4.send(dst, tcp_segment(
                    src, dst, False, cport, opt.port,
                    c_seq + k * opt.seglen, s_ack, 0x18, payload))
                inorder_sent += 1
            c_seq += min(opt.inorder, room) * opt.seglen
            room -= min(opt.inorder, room)
            for k in range(min(opt.segs, room)):
                raw4.send(dst, tcp_segment(
                    src, dst, False, cport, opt.port,
                    c_seq + 1 + k * opt.seglen, s_ack, 0x18, payload))
                segs_sent += 1
            time.sleep(0.002)

    # Incomplete datagrams: first fragments only.
    raw6 = Raw(True)
    frag_data = os.urandom(opt.fraglen // 8 * 8)
    s4, d4 = socket.inet_aton(opt.src4), socket.inet_aton(opt.dst4)
    s6 = socket.inet_pton(socket.AF_INET6, opt.src6)
    d6 = socket.inet_pton(socket.AF_INET6, opt.dst6)
    udp = struct.pack("!HHHH", 40000, opt.port, 8 + 4 * len(frag_data), 0)
    body = udp + frag_data[:len(frag_data) - 8]
    for n in range(opt.frags):
        ident = 1 + n % 65535
        raw4.send(opt.dst4, ip_header(s4, d4, False, 17, len(body),
                                      ident=ident, frag=0x2000) + body)
        fh = struct.pack("!BBHI", 17, 0, 1, 0x10000 + n)  # offset 0, M=1
        raw6.send(opt.dst6, ip_header(s6, d6, True, 44, len(fh) + len(body))
                  + fh + body)
        if n % 50 == 49:
            time.sleep(0.002)

    print("connections", opened)
    print("inorder_bytes", inorder_sent * opt.seglen)
    print("ooo_segments", segs_sent)
    print("ooo_bytes", segs_sent * opt.seglen)
    print("fragments4", opt.frags)
    print("fragments6", opt.frags)
    print("fragment_bytes", 2 * opt.frags * len(body))
    return 0 if opened else 1


def sink(opt):
    # One descriptor per connection: take all the hard limit allows.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind((opt.host, opt.port))
    srv.listen(4096)
    if opt.ready:
        open(opt.ready, "w").close()
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is srv:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    # Out of descriptors: leave it in the backlog.
                    time.sleep(0.01)
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = key.fileobj.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sink")
    p.set_defaults(func=sink)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--ready")
    p = sub.add_parser("flood")
    p.set_defaults(func=flood)
    for name in ("src4", "dst4", "src6", "dst6"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--inorder", type=int, default=0)
    p.add_argument("--segs", type=int, default=40)
    p.add_argument("--seglen", type=int, default=1400)
    p.add_argument("--frags", type=int, default=30000)
    p.add_argument("--fraglen", type=int, default=1200)
    p.add_argument("--sport-base", type=int, default=30000)
    opt = ap.parse_args()
    return opt.func(opt)


if __name__ == "__main__":
    sys.exit(main())
