# SPDX-License-Identifier: MIT
"""fakeprimary: a small scriptable primary for testing secondaries against bad peers.

One port, UDP and TCP, on one loopback address. It answers SOA queries over UDP and TCP and
AXFR/IXFR over TCP from the versions it was given, and each test can make it misbehave:

    fp = FakePrimary(key=("xfr-key", SECRET, "hmac-sha256"))
    fp.publish(1, [("www", 300, "A", "192.0.2.1")])   # the SOA and an NS come by themselves
    fp.start()
    ...
    fp.publish(2, records)                  # serial 2 is served from now on (IXFR from 1 too)
    fp.xfr_script = lambda x: x.send(x.axfr_messages(), wrong_key_at=1)   # TSIG breaks at msg 2
    fp.udp_mode = "silent"                  # or "answer", an rcode such as dns.rcode.REFUSED,
                                            # or a function(query) -> response message or None
    fp.tcp_mode = "close"                   # or "serve"
    fp.wait_for(lambda: fp.count("AXFR") >= 1)
    fp.stop()

A transfer is handed to `xfr_script(session)` (default: `session.default()`); an `XfrSession`
knows the query, the client's IXFR serial, and can build AXFR or IXFR message lists, sign a
list as one TSIG stream (RFC 8945 5.3.1) or with a wrong secret at one message, send raw bytes,
stall, or close the connection. Every query is recorded in `fp.seen` as (proto, kind, serial,
peer, time) so a test can check what the secondary asked, and in what order (`kinds()`,
`count()`, `when()`). `Blackhole` is a primary that is down; `notify()` sends a NOTIFY.

Threads: one for UDP, one accepting TCP, one per TCP connection; all are daemons and stop()
closes every socket, so a thread stalled on purpose ends with the test.
"""

import socket
import struct
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig

import servers


class FakePrimary:
    def __init__(self, origin="example.com", key=None, addr="127.0.0.1", soa=None):
        """key: (name, base64 secret, algorithm) or None. soa: (refresh, retry, expire,
        minimum) of every version's SOA unless publish() is given others."""
        self.origin = dns.name.from_text(origin)
        self.addr = addr
        self.port = None
        self.key = None
        self.keyring = None
        if key:
            self.key = dns.tsig.Key(key[0], key[1], key[2])
            self.keyring = {self.key.name: self.key}
        self.soa_timers = soa or (3600, 1, 3600, 60)
        self.versions = {}  # serial -> [(name, ttl, type, rdata text)], SOA first
        self.serial = None
        self.udp_mode = "answer"
        self.tcp_mode = "serve"  # or "close": accept, then close at once (a primary gone bad);
        # a connection already open is closed at its next query
        self.xfr_script = None
        self.records_per_message = 3
        self.seen = []  # (proto, kind, serial or None, client address, time.monotonic())
        self.errors = []  # exceptions in handler threads, for the test to look at
        self._cond = threading.Condition()
        self._socks = []
        self._threads = []
        self._stopping = False

    # --- zone versions
    def soa_record(self, serial, timers=None):
        refresh, retry, expire, minimum = timers or self.soa_timers
        return ("@", 300, "SOA",
                f"ns1 hostmaster {serial} {refresh} {retry} {expire} {minimum}")

    def publish(self, serial, records=(), timers=None, with_defaults=True):
        """Makes `serial` the version served: its SOA, then (by default) an NS and its
        address, then records as (relative name, ttl, type, rdata text)."""
        recs = [self.soa_record(serial, timers)]
        if with_defaults:
            recs += [("@", 300, "NS", "ns1"), ("ns1", 300, "A", "192.0.2.53")]
        recs += list(records)
        with self._cond:
            self.versions[serial] = recs
            self.serial = serial

    def records(self, serial=None):
        return self.versions[self.serial if serial is None else serial]

    # --- lifecycle
    def start(self):
        for _ in range(20):
            port = servers.free_port([self.addr])
            fam = socket.AF_INET6 if ":" in self.addr else socket.AF_INET
            u = socket.socket(fam, socket.SOCK_DGRAM)
            t = socket.socket(fam, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                u.bind((self.addr, port))
                t.bind((self.addr, port))
            except OSError:
                u.close()
                t.close()
                continue
            t.listen(16)
            self.port = port
            self._udp, self._tcp = u, t
            self._socks += [u, t]
            self._spawn(self._udp_loop)
            self._spawn(self._accept_loop)
            return self
        raise RuntimeError("fakeprimary: no free port")

    def stop(self):
        self._stopping = True
        with self._cond:
            socks, self._socks = self._socks, []
            self._cond.notify_all()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for th in self._threads:
            th.join(timeout=2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def _spawn(self, fn, *args):
        th = threading.Thread(target=fn, args=args, daemon=True)
        th.start()
        self._threads.append(th)
        return th

    # --- what the secondary asked
    def _record(self, proto, kind, serial, peer):
        with self._cond:
            self.seen.append((proto, kind, serial, peer, time.monotonic()))
            self._cond.notify_all()

    def count(self, kind, proto=None):
        with self._cond:
            return sum(1 for p, k, *_ in self.seen if k == kind and (proto is None or p == proto))

    def kinds(self):
        with self._cond:
            return [k for _, k, *_ in self.seen]

    def when(self, kind, nth=0):
        """time.monotonic() of the nth query of this kind (0 = first, -1 = last)."""
        with self._cond:
            return [t for _, k, *_, t in self.seen if k == kind][nth]

    def wait_for(self, cond, timeout=10.0, what="condition"):
        """Waits (on the queries' condition variable, not by sleeping) until cond() holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not cond():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fakeprimary: timed out waiting for {what}; "
                                         f"seen {self.seen}")
                self._cond.wait(min(left, 0.1))

    # --- messages
    def parse(self, wire):
        return dns.message.from_wire(wire, keyring=self.keyring)

    def rrset(self, rec):
        name, ttl, rdtype, text = rec
        rd = dns.rdata.from_text("IN", rdtype, text, origin=self.origin, relativize=False)
        return dns.rrset.from_rdata(dns.name.from_text(name, self.origin), ttl, rd)

    def response(self, query, rrsets=(), rcode=dns.rcode.NOERROR, aa=True):
        r = dns.message.make_response(query)
        if aa:
            r.flags |= dns.flags.AA
        r.set_rcode(rcode)
        r.answer = list(rrsets)
        return r

    def soa_response(self, query):
        return self.response(query, [self.rrset(self.records()[0])])

    # --- UDP
    def _udp_loop(self):
        s = self._udp
        while not self._stopping:
            try:
                wire, peer = s.recvfrom(65535)
            except OSError:
                return
            try:
                self._udp_one(s, wire, peer)
            except Exception as e:  # a test reads errors; the server lives on
                self.errors.append(repr(e))

    def _udp_one(self, s, wire, peer):
        try:
            q = self.parse(wire)
        except Exception as e:
            self._record("udp", "bad-query:" + type(e).__name__, None, peer)
            return
        kind = dns.rdatatype.to_text(q.question[0].rdtype) if q.question else "none"
        if q.opcode() != dns.opcode.QUERY:
            kind = dns.opcode.to_text(q.opcode())
        self._record("udp", kind, None, peer)
        mode = self.udp_mode
        if mode == "silent":
            return
        if isinstance(mode, int):
            s.sendto(self.response(q, rcode=mode, aa=False).to_wire(), peer)
            return
        if callable(mode):
            r = mode(q)
            if r is not None:
                s.sendto(r.to_wire(), peer)
            return
        if kind == "SOA":
            s.sendto(self.soa_response(q).to_wire(), peer)
        else:
            s.sendto(self.response(q, rcode=dns.rcode.REFUSED, aa=False).to_wire(), peer)

    # --- TCP
    def _accept_loop(self):
        while not self._stopping:
            try:
                c, peer = self._tcp.accept()
            except OSError:
                return
            with self._cond:
                if self._stopping:
                    c.close()
                    return
                self._socks.append(c)
            self._spawn(self._tcp_conn, c, peer)

    def _tcp_conn(self, c, peer):
        try:
            if self.tcp_mode == "close":
                self._record("tcp", "closed", None, peer)
                return
            while not self._stopping:
                hdr = _recv_exact(c, 2)
                if hdr is None:
                    return
                wire = _recv_exact(c, struct.unpack("!H", hdr)[0])
                if wire is None:
                    return
                if self.tcp_mode == "close":
                    # Gone bad since the connection opened (a secondary keeps them open
                    # between transfers): this one goes too, unanswered.
                    self._record("tcp", "closed", None, peer)
                    return
                try:
                    q = self.parse(wire)
                except Exception as e:
                    self._record("tcp", "bad-query:" + type(e).__name__, None, peer)
                    return
                rdtype = q.question[0].rdtype if q.question else 0
                kind = dns.rdatatype.to_text(rdtype)
                serial = None
                if rdtype == dns.rdatatype.IXFR and q.authority:
                    serial = q.authority[0][0].serial
                self._record("tcp", kind, serial, peer)
                if rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
                    x = XfrSession(self, c, q, serial)
                    (self.xfr_script or XfrSession.default)(x)
                    if x.closed:
                        return
                elif rdtype == dns.rdatatype.SOA:
                    _send(c, self.soa_response(q).to_wire())
                else:
                    _send(c, self.response(q, rcode=dns.rcode.REFUSED, aa=False).to_wire())
        except OSError:
            return  # the secondary went away, or stop() closed us
        except Exception as e:
            self.errors.append(repr(e))
        finally:
            try:
                c.close()
            except OSError:
                pass


class XfrSession:
    """One AXFR or IXFR request on a TCP connection, for a script to answer."""

    def __init__(self, fp, conn, query, client_serial):
        self.fp = fp
        self.conn = conn
        self.query = query
        self.qtype = query.question[0].rdtype
        self.kind = dns.rdatatype.to_text(self.qtype)
        self.client_serial = client_serial  # IXFR only
        self.closed = False

    # building messages
    def split(self, rrsets, per_message=None):
        """Answer messages holding the records in order, per_message records each."""
        n = per_message or self.fp.records_per_message
        chunks = [rrsets[i:i + n] for i in range(0, len(rrsets), n)] or [[]]
        return [self.fp.response(self.query, chunk) for chunk in chunks]

    def axfr_rrsets(self, serial=None):
        recs = self.fp.records(serial)
        return [self.fp.rrset(r) for r in recs] + [self.fp.rrset(recs[0])]

    def axfr_messages(self, serial=None, per_message=None):
        return self.split(self.axfr_rrsets(serial), per_message)

    def ixfr_rrsets(self, frm, to, removed=None, added=None):
        """One diff frm -> to: the given records, or the difference of the two versions."""
        old, new = self.fp.records(frm), self.fp.records(to)
        if removed is None:
            removed = [r for r in old[1:] if r not in new[1:]]
        if added is None:
            added = [r for r in new[1:] if r not in old[1:]]
        rr = self.fp.rrset
        return ([rr(new[0]), rr(old[0])] + [rr(r) for r in removed] + [rr(new[0])]
                + [rr(r) for r in added] + [rr(new[0])])

    def ixfr_messages(self, frm=None, to=None, removed=None, added=None, per_message=None):
        frm = self.client_serial if frm is None else frm
        to = self.fp.serial if to is None else to
        return self.split(self.ixfr_rrsets(frm, to, removed, added), per_message)

    def rcode_message(self, rcode):
        return self.fp.response(self.query, rcode=rcode, aa=False)

    # sending
    def render(self, msgs, wrong_key_at=None, unsigned_at=()):
        """Wire forms of a message stream, TSIG-signed as one stream when the query was.

        wrong_key_at: index of a message signed with a wrong secret (same key name), the
        chain going on from its MAC as a primary with a corrupt key would. unsigned_at:
        indexes of messages sent without TSIG (RFC 8945 allows up to 99 in a row)."""
        out = []
        key = self.fp.key
        if not (key and self.query.had_tsig):
            return [m.to_wire(max_size=65535) for m in msgs]
        ctx = None
        request_mac = prev_mac = self.query.mac
        for i, m in enumerate(msgs):
            if i in unsigned_at:
                m.tsig = None
                out.append(m.to_wire(max_size=65535))
                continue
            k = key
            if i == wrong_key_at:
                k = dns.tsig.Key(key.name, b"\x00not-the-secret-you-are-looking-for",
                                 key.algorithm)
                if ctx is not None:
                    ctx = dns.tsig.get_context(k)
                    ctx.update(struct.pack("!H", len(prev_mac)) + prev_mac)
            m.use_tsig(k, fudge=300)
            m.request_mac = request_mac
            out.append(m.to_wire(max_size=65535, multi=True, tsig_ctx=ctx))
            prev_mac = m.tsig[0].mac
            # The next message continues the stream with the right key.
            ctx = dns.tsig.get_context(key)
            ctx.update(struct.pack("!H", len(prev_mac)) + prev_mac)
        return out

    def send(self, msgs, **kw):
        for w in self.render(msgs, **kw):
            self.send_raw(struct.pack("!H", len(w)) + w)

    def send_raw(self, data):
        self.conn.sendall(data)

    def send_cut(self, msgs, cut_in_message, keep=0.5, **kw):
        """Sends the messages before cut_in_message whole, then that one partly (`keep` of
        its bytes, length prefix included), then closes the connection."""
        wires = self.render(msgs, **kw)
        for w in wires[:cut_in_message]:
            self.send_raw(struct.pack("!H", len(w)) + w)
        data = struct.pack("!H", len(wires[cut_in_message])) + wires[cut_in_message]
        self.send_raw(data[:max(1, int(len(data) * keep))])
        self.close()

    def stall(self, seconds):
        """Holds the connection open sending nothing (the delay is the fault, not a wait)."""
        deadline = time.monotonic() + seconds
        while not self.fp._stopping and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self):
        self.closed = True
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()

    def default(self):
        """AXFR: the current version. IXFR: a diff when both versions are known, the whole
        zone otherwise (RFC 1995 4), a lone SOA when the client is up to date."""
        fp = self.fp
        if self.qtype == dns.rdatatype.IXFR:
            cs = self.client_serial
            if cs == fp.serial:
                return self.send([fp.soa_response(self.query)])
            if cs in fp.versions:
                return self.send(self.ixfr_messages())
        self.send(self.axfr_messages())


class Blackhole:
    """A primary that is down: a UDP socket that reads and never answers, and a TCP listener
    whose accept queue is kept full, so the kernel drops new SYNs and a connect times out.
    With mute=True the listener takes connections (the kernel completes them) and nothing is
    ever read or sent on them: a hung process rather than a host that is gone."""

    def __init__(self, addr="127.0.0.1", mute=False):
        self.addr = addr
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        for _ in range(20):
            port = servers.free_port([addr])
            self.udp = socket.socket(fam, socket.SOCK_DGRAM)
            self.tcp = socket.socket(fam, socket.SOCK_STREAM)
            try:
                self.udp.bind((addr, port))
                self.tcp.bind((addr, port))
            except OSError:
                self.udp.close()
                self.tcp.close()
                continue
            self.port = port
            break
        else:
            raise RuntimeError("blackhole: no free port")
        # Backlog 0 holds one connection; ours fills it and nothing is ever accepted.
        self.tcp.listen(64 if mute else 0)
        self.filler = None if mute else socket.create_connection((addr, self.port), timeout=2)
        self.received = 0
        self._stop = False
        self._th = threading.Thread(target=self._read, daemon=True)
        self._th.start()

    def _read(self):
        while not self._stop:
            try:
                self.udp.recv(65535)
                self.received += 1
            except OSError:
                return

    def close(self):
        self._stop = True
        for s in (self.filler, self.tcp):
            if s is not None:
                s.close()
        try:
            self.udp.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.udp.close()
        self._th.join(timeout=2)


def _send(c, wire):
    c.sendall(struct.pack("!H", len(wire)) + wire)


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def notify(addr, port, origin="example.com", key=None, source=None, timeout=2.0):
    """Sends a NOTIFY for origin and returns (rcode, flags, raw response) or None on timeout.

    key: (name, base64 secret, algorithm) to sign with; the response's TSIG is then checked
    when it carries no TSIG error. source: the address to send from."""
    m = dns.message.make_query(origin, "SOA")
    m.flags = dns.flags.AA  # and no RD (set_opcode() keeps the other flags)
    m.set_opcode(dns.opcode.NOTIFY)
    if key:
        m.use_tsig(dns.tsig.Key(key[0], key[1], key[2]))
    wire = m.to_wire()
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        if source:
            s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(wire, (addr, port))
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(65535)
            except socket.timeout:
                return None
            if data[:2] == wire[:2]:
                break
    flags = struct.unpack("!H", data[2:4])[0]
    rcode = flags & 0xF
    if key and rcode == dns.rcode.NOERROR:
        # Raises if the response is not signed with our key over our request's MAC.
        dns.message.from_wire(data, keyring=m.keyring, request_mac=m.mac)
    return rcode, flags, data
