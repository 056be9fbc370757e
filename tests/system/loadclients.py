# SPDX-License-Identifier: MIT
"""loadclients: paced UDP query streams from chosen loopback addresses, with every outcome kept.

Every address of 127.0.0.0/8 is a client of its own on loopback, so a test binds each stream's
sockets to addresses of the prefixes it wants (127.0.1.x floods, 127.0.2.1 is a bystander).

    flood = Stream("flood", srv.port, sources=[f"127.0.1.{i}" for i in range(1, 9)],
                   rate=400, wire=lambda i: query_bytes)
    calm = Stream("calm", srv.port, sources=["127.0.2.1"], rate=20, wire=...)
    run([flood, calm], seconds=5)
    flood.count(since=1.5)   # {"answer": .., "tc": .., "badcookie": .., "lost": .., ...}

A stream sends at its rate for the whole run (or from `start` to `stop` seconds), round robin
over its sockets, each socket with its own sequence of IDs; a reply is matched to its query by
socket and ID. A query without a reply within `tail` seconds after the run is "lost".
"""

import select
import socket
import struct
import time

import dns.edns
import dns.message
import dns.rcode

BADCOOKIE = 23


class Stream:
    def __init__(self, name, port, sources, rate, wire, target="127.0.0.1", start=0.0,
                 stop=None, ports_per_source=1):
        self.name = name
        self.target = (target, port)
        self.rate = rate
        self.wire = wire  # i -> query bytes (the ID is overwritten)
        self.start = start
        self.stop = stop
        self.socks = []
        for src in sources:
            for _ in range(ports_per_source):
                fam = socket.AF_INET6 if ":" in src else socket.AF_INET
                s = socket.socket(fam, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                s.bind((src, 0))
                s.setblocking(False)
                self.socks.append(s)
        self.next_id = [0] * len(self.socks)
        self.pending = {}  # (sock index, id) -> index into self.queries
        self.queries = []  # [t_sent, outcome, response bytes or None, source address]
        self.i = 0

    def due(self, t):
        """Sends the queries due by time t (seconds since the run began)."""
        end = self.stop if self.stop is not None else float("inf")
        while self.start + self.i / self.rate <= min(t, end):
            k = self.i % len(self.socks)
            qid = self.next_id[k]
            self.next_id[k] = (qid + 1) & 0xFFFF
            w = bytearray(self.wire(self.i))
            w[0:2] = struct.pack("!H", qid)
            try:
                self.socks[k].sendto(bytes(w), self.target)
            except BlockingIOError:
                pass  # counted lost, as the network would
            self.pending[(k, qid)] = len(self.queries)
            self.queries.append([t, "lost", None, self.socks[k].getsockname()[0]])
            self.i += 1

    def next_time(self):
        t = self.start + self.i / self.rate
        return t if self.stop is None or t <= self.stop else None

    def receive(self, sock_index):
        s = self.socks[sock_index]
        while True:
            try:
                data = s.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            if len(data) < 12:
                continue
            qid = struct.unpack("!H", data[:2])[0]
            j = self.pending.pop((sock_index, qid), None)
            if j is None:
                continue
            self.queries[j][1] = classify(data)
            self.queries[j][2] = data

    def count(self, since=0.0, until=None):
        """Outcomes of the queries sent in [since, until)."""
        out = {"answer": 0, "tc": 0, "badcookie": 0, "error": 0, "lost": 0, "sent": 0}
        for t, outcome, _, _ in self.queries:
            if t < since or (until is not None and t >= until):
                continue
            out["sent"] += 1
            out[outcome] += 1
        return out

    def close(self):
        for s in self.socks:
            s.close()


def classify(data):
    """answer, tc, badcookie or error, from a response's wire bytes."""
    try:
        m = dns.message.from_wire(data)
    except Exception:
        return "error"
    if m.rcode() == BADCOOKIE:
        return "badcookie"
    if m.flags & 0x0200:
        return "tc"
    return "answer" if m.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) else "error"


def run(streams, seconds, tail=1.0):
    """Runs every stream for `seconds`, then waits `tail` seconds for the last replies."""
    socks = {}
    for si, st in enumerate(streams):
        for k, s in enumerate(st.socks):
            socks[s.fileno()] = (si, k)
    t0 = time.monotonic()
    while True:
        t = time.monotonic() - t0
        if t > seconds + tail:
            break
        if t <= seconds:
            for st in streams:
                st.due(min(t, seconds))
        nexts = [n for n in (st.next_time() for st in streams) if n is not None and n <= seconds]
        wait = max(0.0, min(nexts) - t) if nexts and t <= seconds else 0.05
        ready, _, _ = select.select(list(socks), [], [], min(wait, 0.01))
        for fd in ready:
            si, k = socks[fd]
            streams[si].receive(k)
    for st in streams:
        st.close()


def query_wire(name, rdtype="A", cookie=None, payload=1232):
    """Query bytes for name; cookie (bytes) adds a COOKIE option."""
    opts = []
    if cookie is not None:
        opts.append(dns.edns.GenericOption(10, cookie))
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=payload, options=opts)
    return q.to_wire()


def reply_cookie(data):
    """The COOKIE option data of a response, or None."""
    m = dns.message.from_wire(data)
    for o in m.options:
        if o.otype == 10:
            return o.to_wire()
    return None
