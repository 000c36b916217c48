#!/usr/bin/python3
"""Evasion forms for the namespace tests, crafted with scapy.

Run with Debian's /usr/bin/python3 (python3-scapy); the python3 on PATH
may lack scapy.  Only sends to the addresses it is given, which the test
takes from 198.18.0.0/15 and fd00::/8.

  evasion.py serve HOST PORT OUTDIR [--ready FILE] [--idle S]
      Accept connections (one thread each) and write what the
      application reads from each to OUTDIR/<peer port>.bin, then create
      OUTDIR/<peer port>.done when it ends (end of stream, reset, or S
      seconds without data, default 3).  Standard library only.

  evasion.py send --src4 A --dst4 B --src6 A6 --dst6 B6 --port P
                  --payload TEXT --sport-base N FORM...
      For each FORM, open a TCP connection from source port N+i, send the
      stream  b"hello:" + TEXT + b":bye\\n"  in that form, close it, and
      print "FORM SPORT STATUS" (sent; n/a: no benign form of it). The whole connection is crafted: the handshake
      too, from raw sockets, so the client kernel has no socket for it
      and answers the server with RSTs; the test drops those (all RSTs but
      the ones sent with TTL/hop limit 65, which are this tool's) in the
      client namespace (nftables). Each connection is bounded in time.

How the client is built: a raw IPPROTO_TCP socket receives copies of
what the server sends (for the server's initial sequence number and its
FIN); packets are built with scapy and written to an IPPROTO_RAW socket,
which sends them as they are (header included), bad checksums, low TTLs
and fragment headers too.

Forms (JUNK is a same-length stand-in for TEXT, "JUNK" repeated; the
receiver is Linux, so each form is laid out so that Linux, left alone,
delivers TEXT to the application):

  in-order       the stream in one segment
  one-byte       one byte per segment, in order
  reversed       8-byte segments, last first
  overlap-junk-first
                 JUNK at TEXT's place, out of order, then the whole
                 stream (in order, it covers the junk: Linux keeps it)
  overlap-attack-first
                 TEXT out of order, then JUNK with the same start and
                 length (Linux keeps the first copy), then the rest
  dup-diff       the first half, the first half again with JUNK bytes
                 (Linux keeps the first copy), then the second half
  bad-checksum   the stream with JUNK and a wrong TCP checksum (the
                 receiver drops it), then the real stream
  ttl-expiry     the stream with JUNK and TTL 1 (the router drops it),
                 then the real stream
  frag4-inorder, frag4-reversed, frag4-tiny, frag4-overlap
  frag6-inorder, frag6-reversed, frag6-tiny, frag6-overlap
                 the stream in one TCP segment in one IP datagram cut
                 into 24-byte fragments (tiny: 8-byte ones, the first
                 holding only part of the TCP header; Linux drops such
                 an IPv6 datagram, RFC 7112), in order or last first;
                 overlap: a fragment with JUNK over most of TEXT first,
                 then one starting 8 bytes earlier with the real bytes
                 to the end, then the head (a bsd-policy reassembler
                 keeps the real bytes: that fragment starts first;
                 Linux drops overlapping datagrams, RFC 5722)
  paws           timestamps on; the stream with JUNK and an old
                 timestamp (the receiver drops it: PAWS, RFC 7323 5.3),
                 then the real stream
  no-ack         the stream with JUNK and no ACK flag (the receiver
                 drops it, RFC 793 3.9), then the real stream
  bad-ack        the stream with JUNK acknowledging 100000 bytes the
                 receiver never sent (it drops it, RFC 5961 5.2), then
                 the real stream
  rst-in-window  a RST in the window but not at the next sequence
                 number (the receiver only sends a challenge ACK, RFC
                 5961 3.2), then the stream
  urgent         TEXT with one extra byte inside it sent as urgent data:
                 the urgent pointer marks it, so the application (no
                 SO_OOBINLINE) reads TEXT without it
  frag4-timeout  (slow: not run unless named) the first fragment of the
                 data segment with JUNK, before the handshake; 35 s
                 later (past Linux's 30 s ipfrag_time, short of
                 portcullis's 60 s) the handshake, the rest of the
                 datagram, then the real first fragment
  FORM-v6        each of the plain TCP forms above over IPv6 (ttl-expiry:
                 hop limit 1)

--consistent (benign runs): the overlapping and duplicate copies carry
the real bytes instead of JUNK, since a benign sender never contradicts
itself; bad-checksum and ttl-expiry keep their junk (corruption and
short TTLs happen on real paths).
"""
import argparse
import os
import random
import select
import socket
import sys
import threading
import time

PREFIX = b"hello:"
SUFFIX = b":bye\n"


# ---------------------------------------------------------------- server

def serve(opt):
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind((opt.host, opt.port))
    srv.listen(64)
    os.makedirs(opt.outdir, exist_ok=True)
    if opt.ready:
        open(opt.ready, "w").close()

    def one(conn, port):
        conn.settimeout(opt.idle)
        path = os.path.join(opt.outdir, "%d.bin" % port)
        with open(path, "ab") as out:
            while True:
                try:
                    data = conn.recv(65536)
                except (socket.timeout, OSError):
                    break
                if not data:
                    break
                out.write(data)
                out.flush()
        conn.close()
        open(os.path.join(opt.outdir, "%d.done" % port), "w").close()

    while True:
        conn, peer = srv.accept()
        threading.Thread(target=one, args=(conn, peer[1]), daemon=True).start()


# ---------------------------------------------------------------- client

class Conn:
    """One crafted TCP connection (IPv4 or IPv6)."""

    def __init__(self, src, dst, sport, dport, deadline):
        from scapy.all import IP, IPv6
        self.v6 = ":" in dst
        self.src, self.dst, self.sport, self.dport = src, dst, sport, dport
        self.deadline = deadline
        fam = socket.AF_INET6 if self.v6 else socket.AF_INET
        self.rx = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
        # IPPROTO_RAW: the header is ours (for IPv6 too, on Linux).
        self.tx = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.ipcls = IPv6 if self.v6 else IP
        self.isn = random.randrange(1 << 32)
        self.seq = self.isn + 1
        self.ack = 0
        self.ipid = random.randrange(1, 1 << 16)
        # TCP timestamps (RFC 7323), only for the forms that use them.
        self.tsval = None

    def close_sockets(self):
        self.rx.close()
        self.tx.close()

    def ip(self, ttl=64):
        if self.v6:
            return self.ipcls(src=self.src, dst=self.dst, hlim=ttl)
        self.ipid = (self.ipid + 1) & 0xFFFF or 1
        return self.ipcls(src=self.src, dst=self.dst, ttl=ttl, id=self.ipid)

    def raw(self, data):
        self.tx.sendto(data, (self.dst, 0))
        # Keep the order on the wire and give portcullis a moment.
        time.sleep(0.01)

    def tcp(self, flags, off=0, payload=b"", ttl=64, bad_sum=False,
            urgptr=None, tsval=None, seq_add=0, ack_add=0):
        from scapy.all import TCP
        t = TCP(sport=self.sport, dport=self.dport, flags=flags,
                seq=(self.seq + off + seq_add) & 0xFFFFFFFF,
                ack=(self.ack + ack_add) & 0xFFFFFFFF, window=65535)
        if self.tsval is not None:
            if tsval is None:
                self.tsval += 1
                tsval = self.tsval
            t.options = [("NOP", None), ("NOP", None),
                         ("Timestamp", (tsval, 0))]
        if urgptr is not None:
            t.urgptr = urgptr
        raw = bytearray(bytes(self.ip(ttl) / t / payload))
        if bad_sum:
            # The checksum field sits at bytes 16-17 of the TCP header.
            at = (40 if self.v6 else (raw[0] & 0x0F) * 4) + 16
            raw[at] ^= 0x5A
        return bytes(raw)

    def send(self, pkt):
        self.raw(pkt if isinstance(pkt, bytes) else bytes(pkt))

    def recv(self, want, timeout):
        """Next packet from the server matching want(flags, seq, ack)."""
        end = min(time.monotonic() + timeout, self.deadline)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.rx], [], [], left)
            if not r:
                return None
            data = self.rx.recv(65536)
            tcp = data if self.v6 else data[(data[0] & 0x0F) * 4:]
            if len(tcp) < 20:
                continue
            sport = int.from_bytes(tcp[0:2], "big")
            dport = int.from_bytes(tcp[2:4], "big")
            if sport != self.dport or dport != self.sport:
                continue
            seq = int.from_bytes(tcp[4:8], "big")
            ack = int.from_bytes(tcp[8:12], "big")
            flags = tcp[13]
            doff = (tcp[12] >> 4) * 4
            plen = len(tcp) - doff
            if want(flags, seq, ack):
                return flags, seq, ack, plen

    def handshake(self, timestamps=False):
        from scapy.all import TCP
        opts = [("MSS", 1400)]
        if timestamps:
            self.tsval = 1_000_000
            opts.append(("Timestamp", (self.tsval, 0)))
        syn = self.ip() / TCP(sport=self.sport, dport=self.dport, flags="S",
                              seq=self.isn, window=65535, options=opts)
        for _ in range(3):
            self.send(syn)
            got = self.recv(lambda f, s, a: f & 0x12 == 0x12
                            and a == self.seq & 0xFFFFFFFF, 1.0)
            if got:
                self.ack = (got[1] + 1) & 0xFFFFFFFF
                self.send(self.tcp("A"))
                return True
        return False

    def close(self, length):
        """FIN after `length` stream bytes; ACK the server's FIN."""
        fin = self.tcp("FA", off=length)
        self.send(fin)
        got = self.recv(lambda f, s, a: f & 0x01, 2.0)
        if got:
            flags, seq, _, plen = got
            self.ack = (seq + plen + 1) & 0xFFFFFFFF
            self.send(self.tcp("A", off=length + 1))
        # Without a FIN the path dropped the flow (IPS); the listener
        # ends the connection when it has been idle long enough.


def junk_for(text):
    return (b"JUNK" * (len(text) // 4 + 1))[:len(text)]


def tcp_segments(form, text, consistent):
    """(offset, bytes, extra) triples for the plain TCP forms."""
    stream = PREFIX + text + SUFFIX
    junk = text if consistent else junk_for(text)
    a = len(PREFIX)
    b = a + len(text)
    if form == "in-order":
        return stream, [(0, stream, {})]
    if form == "one-byte":
        return stream, [(i, stream[i:i + 1], {}) for i in range(len(stream))]
    if form == "reversed":
        segs = [(i, stream[i:i + 8], {}) for i in range(0, len(stream), 8)]
        return stream, segs[::-1]
    if form == "overlap-junk-first":
        return stream, [(a, junk, {}), (0, stream, {})]
    if form == "overlap-attack-first":
        return stream, [(a, text, {}), (a, junk, {}), (0, stream[:a], {}),
                        (b, stream[b:], {})]
    if form == "dup-diff":
        h = a + len(text) // 2
        first = stream[:h]
        again = first if consistent else stream[:a] + junk[:h - a]
        return stream, [(0, first, {}), (0, again, {}), (h, stream[h:], {})]
    bad = PREFIX + junk_for(text) + SUFFIX
    if form == "bad-checksum":
        return stream, [(0, bad, {"bad_sum": True}), (0, stream, {})]
    if form == "ttl-expiry":
        return stream, [(0, bad, {"ttl": 1}), (0, stream, {})]
    if form == "paws":
        # An old timestamp: the receiver drops it (RFC 7323 5.3, PAWS).
        return stream, [(0, bad, {"tsval": 1}), (0, stream, {})]
    if form == "no-ack":
        # Data without ACK on a synchronised connection: dropped (RFC
        # 793 3.9, "if the ACK bit is off drop the segment").
        return stream, [(0, bad, {"flags": "P"}), (0, stream, {})]
    if form == "bad-ack":
        # Acknowledges data the receiver never sent: dropped (RFC 5961
        # 5.2; Linux: ACK of unsent data).
        return stream, [(0, bad, {"ack_add": 100000}), (0, stream, {})]
    if form == "rst-in-window":
        # In the window but not at the next sequence number: the
        # receiver only answers with a challenge ACK (RFC 5961 3.2).
        return stream, [(0, b"", {"rst": 1000}), (0, stream, {})]
    if form == "urgent":
        # One byte more in the middle of TEXT, marked urgent: with the
        # BSD reading Linux uses, the pointer is one past it.
        k = a + len(text) // 2
        wire = stream[:k] + b"#" + stream[k:]
        return wire, [(0, wire, {"urgptr": k + 1})]
    raise ValueError(form)


def frag_pieces(ipbytes_len, size, form):
    """(start, end) byte ranges of the IP payload, in sending order."""
    pieces = [(i, min(i + size, ipbytes_len))
              for i in range(0, ipbytes_len, size)]
    if form.endswith("reversed"):
        pieces.reverse()
    return pieces


def send_fragmented(conn, form, text, consistent):
    from scapy.all import IPv6ExtHdrFragment
    stream = PREFIX + text + SUFFIX
    seg = conn.tcp("PA", payload=stream)
    hl = 40 if conn.v6 else (seg[0] & 0x0F) * 4
    body = bytearray(seg[hl:])          # TCP header + data, checksum set
    th = (body[12] >> 4) * 4
    kind = form.split("-", 1)[1]
    size = 8 if kind == "tiny" else 24
    if kind == "overlap":
        # JUNK's fragment first, from the first 8-byte boundary inside
        # TEXT; then the real bytes from 8 bytes before it to the end;
        # then the head (at least the TCP header: Linux drops an IPv6
        # first fragment without it, RFC 7112).
        start = th + len(PREFIX)
        lo = (start + 7) // 8 * 8
        hi = min(len(body), (start + len(text) + 7) // 8 * 8)
        fake = bytearray(body)
        if not consistent:
            fake[start:start + len(text)] = junk_for(text)
        pieces = [(lo, hi, fake), (lo - 8, len(body), body), (0, lo - 8, body)]
    else:
        pieces = [(s, e, body) for s, e in frag_pieces(len(body), size, form)]
    ident = random.randrange(1, 1 << 16)
    for s, e, src in pieces:
        more = e < len(body)
        chunk = bytes(src[s:e])
        if conn.v6:
            hdr = conn.ip() / IPv6ExtHdrFragment(
                nh=6, offset=s // 8, m=int(more), id=ident)
            conn.raw(bytes(hdr / chunk))
        else:
            send_frag4(conn, ident, s, chunk, more)
    return len(stream)


TCP_FORMS = ["in-order", "one-byte", "reversed", "overlap-junk-first",
             "overlap-attack-first", "dup-diff", "bad-checksum", "ttl-expiry",
             "paws", "no-ack", "bad-ack", "rst-in-window", "urgent"]
# Not in the default run: each waits FRAG_WAIT seconds.
SLOW_FORMS = ["frag4-timeout"]
# Past Linux's net.ipv4.ipfrag_time (30 s), short of portcullis's
# defrag timeout (60 s).
FRAG_WAIT = 35
FORMS = (TCP_FORMS
         + ["frag4-inorder", "frag4-reversed", "frag4-overlap", "frag4-tiny",
            "frag6-inorder", "frag6-reversed", "frag6-overlap", "frag6-tiny"]
         + [f + "-v6" for f in TCP_FORMS])


def frag_timeout_head(conn, text, consistent):
    """Sends the first fragment of the coming data segment, with JUNK in
    its part of TEXT, before the handshake; returns the datagram's
    identification and the real fragments to send later."""
    stream = PREFIX + text + SUFFIX
    # The ACK number is not known yet; the junk copy may get it wrong.
    seg = conn.tcp("PA", payload=stream)
    body = bytearray(seg[(seg[0] & 0x0F) * 4:])
    cut = 32
    fake = bytearray(body[:cut])
    if not consistent:
        start = len(PREFIX) + (body[12] >> 4) * 4
        fake[start:cut] = junk_for(text)[:cut - start]
    ident = random.randrange(1, 1 << 16)
    send_frag4(conn, ident, 0, bytes(fake), True)
    return ident, cut


def send_frag4(conn, ident, start, chunk, more):
    hdr = conn.ip()
    hdr.id = ident
    hdr.proto = 6
    hdr.frag = start // 8
    hdr.flags = "MF" if more else 0
    conn.raw(bytes(hdr / chunk))


def run_frag_timeout(opt, sport):
    """frag4-timeout: the first fragment with JUNK, then after FRAG_WAIT
    seconds (Linux has dropped it; portcullis still holds it) the
    handshake, the rest of the datagram, and the real first fragment.
    Linux assembles the real datagram; an engine that kept the junk
    fragment completes a datagram with it and never the real one."""
    if opt.consistent:
        # A benign sender has no fragment to send before the connection
        # exists (nor its ACK number): no benign form of this one.
        return "n/a"
    text = opt.payload.encode()
    conn = Conn(opt.src4, opt.dst4, sport, opt.port, 0)
    try:
        ident, cut = frag_timeout_head(conn, text, opt.consistent)
        time.sleep(FRAG_WAIT)
        conn.deadline = time.monotonic() + 8
        if not conn.handshake():
            return "no-handshake"
        stream = PREFIX + text + SUFFIX
        seg = conn.tcp("PA", payload=stream)
        body = seg[(seg[0] & 0x0F) * 4:]
        send_frag4(conn, ident, cut, body[cut:], False)
        send_frag4(conn, ident, 0, body[:cut], True)
        time.sleep(0.1)
        conn.close(len(stream))
        return "sent"
    finally:
        conn.close_sockets()


def run_form(opt, form, sport):
    if form == "frag4-timeout":
        return run_frag_timeout(opt, sport)
    v6 = form.startswith("frag6") or form.endswith("-v6")
    form = form[:-3] if form.endswith("-v6") else form
    src, dst = (opt.src6, opt.dst6) if v6 else (opt.src4, opt.dst4)
    conn = Conn(src, dst, sport, opt.port, time.monotonic() + 8)
    try:
        if not conn.handshake(timestamps=(form == "paws")):
            return "no-handshake"
        text = opt.payload.encode()
        if form.startswith("frag"):
            length = send_fragmented(conn, form, text, opt.consistent)
        else:
            wire, segs = tcp_segments(form, text, opt.consistent)
            for off, data, extra in segs:
                flags = "PAU" if "urgptr" in extra else "PA"
                flags = extra.pop("flags", flags)
                if "rst" in extra:
                    flags = "R"
                    # TTL 65 marks it as ours for the client's RST filter.
                    extra = {"seq_add": extra["rst"], "ttl": 65}
                conn.send(conn.tcp(flags, off=off, payload=data, **extra))
            length = len(wire)
        # Let the receiver acknowledge before the FIN.
        time.sleep(0.1)
        conn.close(length)
        return "sent"
    finally:
        conn.close_sockets()


def send(opt):
    forms = opt.forms or FORMS
    for i, form in enumerate(forms):
        if form not in FORMS + SLOW_FORMS:
            print("unknown form %s" % form, file=sys.stderr)
            return 2
        sport = opt.sport_base + i
        status = run_form(opt, form, sport)
        print(form, sport, status, flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.set_defaults(func=serve)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("outdir")
    p.add_argument("--ready")
    p.add_argument("--idle", type=float, default=3.0)
    p = sub.add_parser("send")
    p.set_defaults(func=send)
    for name in ("src4", "dst4", "src6", "dst6"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--payload", required=True)
    p.add_argument("--sport-base", type=int, required=True)
    p.add_argument("--consistent", action="store_true")
    p.add_argument("forms", nargs="*")
    opt = ap.parse_args()
    return opt.func(opt)


if __name__ == "__main__":
    sys.exit(main())
