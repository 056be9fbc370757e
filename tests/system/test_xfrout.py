# SPDX-License-Identifier: MIT
"""test_xfrout: understudy as the primary of real secondaries (knotd, nsd, named) with TSIG,
of another understudy in a chain, and AXFR out under a reload, refusals and pipelining."""

import base64
import socket
import struct
import subprocess
import time

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.xfr
import dns.zone
import pytest

import servers
from servers import wait_for

KEY = "xfr-key"
SECRET = base64.b64encode(b"understudy-xfrout-test-key-32byt").decode()
WRONG = base64.b64encode(b"not-the-right-secret-for-xfrout!").decode()
KEYRING = dns.tsigkeyring.from_text({KEY: SECRET})
ZONE = "example.com"

# ACL rules for the primary's zone: a key, or (for the tests that read raw streams) any
# loopback address without one.
ACL_KEYED = f"  - {{id: xfr, key: {KEY}, action: transfer}}\n"
ACL_OPEN = "  - {id: xfr, address: [127.0.0.0/8, '::1'], action: transfer}\n"


def zone_text(serial, hosts=3000, net=10):
    """A zone that takes several messages to transfer, with most record types a secondary
    must carry: delegation and glue, wildcard, CNAME, MX, SRV, TXT, CAA, mixed-case rdata."""
    lines = [
        "$TTL 300",
        f"@ 3600 SOA ns1 hostmaster {serial} 3600 600 86400 300",
        "@ NS ns1",
        "@ NS ns2.example.net.",
        "@ MX 10 Mail",
        '@ TXT "v=spf1 -all"',
        "@ CAA 0 issue \"ca.example.net\"",
        "ns1 A 192.0.2.53",
        "ns1 AAAA 2001:db8::53",
        "mail A 192.0.2.25",
        "www 600 CNAME host",
        "host A 192.0.2.80",
        "*.wild TXT \"wildcard\"",
        "_sip._tcp SRV 0 5 5060 host",
        "sub NS ns.sub",
        "ns.sub A 192.0.2.77",
        f'serial TXT "version {serial}"',
    ]
    lines += [f"h{i} A {net}.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(hosts)]
    return "\n".join(lines) + "\n"


def serial(srv, timeout=0.5):
    try:
        r = srv.query(dns.message.make_query(ZONE, "SOA"), timeout=timeout)
    except Exception:
        return None
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return ("rcode", r.rcode())
    return r.answer[0][0].serial


def axfr(srv, keyed=False):
    """The zone as a set of (name, type, TTL, rdata) through dnspython's AXFR, which checks
    every message's TSIG when keyed. Names in rdata are compared lower-cased: knotd keeps
    them so (understudy sends them as they are in the zone file)."""
    kw = dict(keyring=KEYRING, keyname=KEY, keyalgorithm="hmac-sha256") if keyed else {}
    z = dns.zone.from_xfr(dns.query.xfr(srv.addr, ZONE, port=srv.port, timeout=10,
                                        relativize=False, **kw), relativize=False)
    return {(str(n), rds.rdtype, rds.ttl, rd.to_text().lower()) for n, node in z.nodes.items()
            for rds in node.rdatasets for rd in rds}


def log_lines(srv, *words):
    return [line for line in srv.output().splitlines() if all(w in line for w in words)]


class Primary(servers.Understudy):
    """understudy serving example.com from a zone file, with transfer rules."""

    def __init__(self, workdir, binary, zone_path, acl=ACL_KEYED, name="primary", opts=(),
                 notify_port=None):
        self.name = name
        super().__init__(workdir, zones=[], binary=binary)
        self.zones = [(ZONE, zone_path)]
        self.acl = acl
        self.opts = list(opts)
        self.notify_port = notify_port

    def write_config(self):
        opts = "".join(f"  {o}\n" for o in self.opts)
        self.conf.write_text(f"""server:
  listen: ["{self.addr}@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
{opts}log: {{target: stderr, level: info}}
keys:
  - {{id: {KEY}, algorithm: hmac-sha256, secret: "{SECRET}"}}
{self.remotes()}acls:
{self.acl}zones:
  - domain: {ZONE}
    role: primary
    file: "{self.zones[0][1]}"
    acl: [xfr]
{"    notify: [down]" if self.notify_port else ""}
""")

    def remotes(self):
        if not self.notify_port:
            return ""
        return f"""remotes:
  - {{id: down, address: "127.0.0.1@{self.notify_port}", key: {KEY}}}
"""

    def publish(self, text):
        """Rewrites the zone file and reloads it; returns once the new version serves."""
        self.zones[0][1].write_text(text)
        code, out = self.ctl("reload", ZONE)
        assert code == 0, out


class Middle(servers.Understudy):
    """understudy with example.com as a secondary of another understudy, and a primary to
    the next secondary in the chain."""

    name = "middle"

    def __init__(self, workdir, binary, primary_port):
        super().__init__(workdir, zones=[], binary=binary)
        self.primary_port = primary_port
        self.zones = [(ZONE, None)]

    def write_config(self):
        self.conf.write_text(f"""server:
  listen: ["{self.addr}@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
log: {{target: stderr, level: info}}
keys:
  - {{id: {KEY}, algorithm: hmac-sha256, secret: "{SECRET}"}}
remotes:
  - {{id: pri, address: ["127.0.0.1@{self.primary_port}"], key: {KEY}}}
acls:
{ACL_KEYED}zones:
  - domain: {ZONE}
    role: secondary
    primaries: [pri]
    acl: [xfr]
""")


class KnotSecondary(servers.Knotd):
    """knotd with example.com as a secondary of understudy, TSIG for transfers; anyone on
    loopback may AXFR from it, for the comparison."""

    def __init__(self, workdir, primary_port):
        super().__init__(workdir, zones=[])
        self.primary_port = primary_port
        self.zones = [(ZONE, self.dir / "example.com.zone")]

    def write_config(self):
        super().write_config()
        text = self.conf.read_text().replace("    journal-content: none\n",
                                             "    journal-content: changes\n")
        head, zones = text.split("zone:\n", 1)
        head += f"""key:
  - id: {KEY}
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
  - id: primary
    address: 127.0.0.1@{self.primary_port}
    key: {KEY}
acl:
  - id: from-primary
    address: 127.0.0.1
    key: {KEY}
    action: notify
  - id: to-tests
    address: 127.0.0.1
    action: transfer
"""
        zones = zones.replace('    file: "', '    master: primary\n    acl: [from-primary, to-tests]\n'
                              '    file: "', 1)
        self.conf.write_text(head + "zone:\n" + zones)

    def refresh(self):
        subprocess.run(["knotc", "-s", str(self.dir / "run" / "knot.sock"), "zone-refresh", ZONE],
                       check=True, capture_output=True, timeout=30)


class NsdSecondary(servers.Nsd):
    """nsd with example.com as a secondary of understudy (IXFR first, as it does by default)."""

    def __init__(self, workdir, primary_port):
        super().__init__(workdir, zones=[])
        self.primary_port = primary_port
        self.zones = [(ZONE, self.dir / "example.com.zone")]

    def write_config(self):
        zones, self.zones = self.zones, []  # the base class would make them primary
        super().write_config()
        self.zones = zones
        self.conf.write_text(self.conf.read_text() + f"""key:
    name: "{KEY}"
    algorithm: hmac-sha256
    secret: "{SECRET}"
zone:
    name: "{ZONE}"
    zonefile: "{self.zones[0][1]}"
    request-xfr: 127.0.0.1@{self.primary_port} {KEY}
    allow-notify: 127.0.0.1 {KEY}
    provide-xfr: 127.0.0.1 NOKEY
""")


class NamedSecondary(servers.Named):
    """named with example.com as a secondary of understudy."""

    def __init__(self, workdir, primary_port):
        super().__init__(workdir, zones=[])
        self.primary_port = primary_port
        self.zones = [(ZONE, self.dir / "example.com.bk")]

    def write_config(self):
        zones, self.zones = self.zones, []  # the base class would make them primary
        super().write_config()
        self.zones = zones
        self.conf.write_text(self.conf.read_text() + f"""key "{KEY}" {{
    algorithm hmac-sha256;
    secret "{SECRET}";
}};
zone "{ZONE}" {{
    type secondary;
    primaries {{ 127.0.0.1 port {self.primary_port} key "{KEY}"; }};
    file "{self.zones[0][1]}";
    allow-transfer {{ 127.0.0.1; }};
}};
""")


def notify(srv):
    """A signed NOTIFY for the zone to srv, as a primary would send it (NOTIFY out is not
    implemented yet); returns the response's RCODE."""
    m = dns.message.make_query(ZONE, "SOA")
    m.flags = dns.flags.AA  # dnspython keeps the opcode in the flags: set it after
    m.set_opcode(dns.opcode.NOTIFY)
    m.use_tsig(KEYRING, keyname=KEY, algorithm="hmac-sha256")
    return dns.query.udp(m, srv.addr, port=srv.port, timeout=5).rcode()


def follows(primary, secondary, trigger, serials=(2, 3)):
    """The secondary holds what the primary serves, now and after each new serial."""
    want = axfr(primary, keyed=True)
    assert axfr(secondary) == want
    for n in serials:
        primary.publish(zone_text(n, hosts=3000 + n))
        trigger()
        wait_for(lambda: serial(secondary) == n, what=f"serial {n} on {secondary.name}")
        want = axfr(primary, keyed=True)
        assert (f"serial.{ZONE}.", dns.rdatatype.TXT, 300, f'"version {n}"') in want
        assert axfr(secondary) == want


@pytest.fixture
def primary(tmp_path, understudy_binary):
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(zone_text(1))
    p = Primary(tmp_path, understudy_binary, zpath)
    p.start()
    yield p
    p.stop()


def test_knotd_follows_understudy_by_notify(tmp_path, understudy_binary):
    """NOTIFY out: a reload alone brings knotd the new serial (RFC 1996), signed."""
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(zone_text(1))
    port = servers.free_port()
    with Primary(tmp_path, understudy_binary, zpath, notify_port=port) as primary:
        knot = KnotSecondary(tmp_path, primary.port)
        knot.fixed_port = port
        with knot:
            follows(primary, knot, lambda: None)
            code, out = primary.ctl("notify", ZONE)
            assert code == 0 and "NOTIFY sent to 1 remotes" in out, out
            wait_for(lambda: len(log_lines(primary, f"serial 3 to 127.0.0.1@{port}",
                                           "answered")) >= 2, what="the NOTIFY ctl sent")


def test_knotd_follows_understudy(tmp_path, primary):
    with KnotSecondary(tmp_path, primary.port) as knot:
        follows(primary, knot, knot.refresh)
    finished = log_lines(primary, "to 127.0.0.1@", "finished")
    assert any(line.split()[2] == "AXFR" and " example.com " in line for line in finished)
    # knotd asks for IXFR once it has a copy, and gets the difference from the journal.
    assert any(" IXFR example.com " in line and "records changed" in line for line in finished)
    assert not log_lines(primary, "refused")


def test_nsd_follows_understudy(tmp_path, primary):
    with NsdSecondary(tmp_path, primary.port) as nsd:
        follows(primary, nsd, lambda: notify(nsd))
    assert log_lines(primary, "XFR example.com to 127.0.0.1@", "finished")


def test_named_follows_understudy(tmp_path, primary):
    with NamedSecondary(tmp_path, primary.port) as named:
        follows(primary, named, lambda: notify(named))
    assert log_lines(primary, "XFR example.com to 127.0.0.1@", "finished")


def test_chain_understudy_understudy_knotd(tmp_path, understudy_binary):
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(zone_text(1))
    with Primary(tmp_path, understudy_binary, zpath) as first:
        middle = Middle(tmp_path, understudy_binary, first.port)
        with middle:
            assert axfr(middle, keyed=True) == axfr(first, keyed=True)
            with KnotSecondary(tmp_path, middle.port) as knot:
                assert axfr(knot) == axfr(first, keyed=True)
                first.publish(zone_text(2, hosts=2500))
                code, out = middle.ctl("refresh", ZONE)
                assert code == 0, out
                wait_for(lambda: serial(middle) == 2, what="serial 2 on the middle")
                knot.refresh()
                wait_for(lambda: serial(knot) == 2, what="serial 2 on knotd")
                assert axfr(knot) == axfr(middle, keyed=True) == axfr(first, keyed=True)
        # The middle asked for IXFR and got the difference from the first's journal (500
        # hosts gone, the serial TXT replaced); the log names what came.
        assert log_lines(middle, "IXFR example.com from 127.0.0.1@", "1 -> 2",
                         "502 records changed", "finished")
        assert log_lines(middle, "XFR example.com to 127.0.0.1@", "finished")
        assert log_lines(first, "IXFR example.com to 127.0.0.1@", "1 -> 2", "finished")


# ---- raw exchanges ----


def rcode_of(wire):
    return wire[3] & 0xF


def ancount(wire):
    return struct.unpack("!H", wire[6:8])[0]


def tsig_error(wire):
    """The error field of the response's TSIG record (the last one), or None."""
    qd, an, ns, ar = struct.unpack("!HHHH", wire[4:12])
    pos = 12
    for _ in range(qd):
        _, used = dns.name.from_wire(wire, pos)
        pos += used + 4
    last = None
    for _ in range(an + ns + ar):
        _, used = dns.name.from_wire(wire, pos)
        rtype, _, _, rdlen = struct.unpack("!HHIH", wire[pos + used:pos + used + 10])
        rd = pos + used + 10
        if rtype == dns.rdatatype.TSIG:
            _, alg = dns.name.from_wire(wire, rd)
            mac = struct.unpack("!H", wire[rd + alg + 8:rd + alg + 10])[0]
            last = struct.unpack("!H", wire[rd + alg + 12 + mac:rd + alg + 14 + mac])[0]
        pos = rd + rdlen
    return last


def signed_query(qname, qtype, secret=SECRET, keyname=KEY, serial=None):
    q = dns.message.make_query(qname, qtype)
    if serial is not None:
        q.authority.append(dns.rrset.from_text(qname + ".", 0, "IN", "SOA",
                                               f". . {serial} 0 0 0 0"))
    q.use_tsig(dns.tsigkeyring.from_text({keyname: secret}), keyname=keyname,
               algorithm="hmac-sha256")
    return q


def tcp_connect(srv, rcvbuf=None):
    s = socket.socket(socket.AF_INET6 if ":" in srv.addr else socket.AF_INET)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect((srv.addr, srv.port))
    return s


def send_msg(s, wire):
    s.sendall(struct.pack("!H", len(wire)) + wire)


def recv_msg(s):
    hdr = servers._recv_exact(s, 2)
    assert hdr is not None, "connection closed"
    data = servers._recv_exact(s, struct.unpack("!H", hdr)[0])
    assert data is not None, "connection closed mid-message"
    return data


def test_refusals(primary):
    # Unsigned, and the rules want the key: REFUSED, and not a record.
    r = primary.exchange(dns.message.make_query(ZONE, "AXFR").to_wire(), tcp=True)
    assert rcode_of(r) == dns.rcode.REFUSED and ancount(r) == 0
    # A wrong secret: NOTAUTH, BADSIG, unsigned (RFC 8945 5.3.2).
    r = primary.exchange(signed_query(ZONE, "AXFR", secret=WRONG).to_wire(), tcp=True)
    assert rcode_of(r) == dns.rcode.NOTAUTH and ancount(r) == 0
    assert tsig_error(r) == dns.rcode.BADSIG
    # A key we do not know: BADKEY.
    r = primary.exchange(signed_query(ZONE, "AXFR", keyname="other-key").to_wire(), tcp=True)
    assert rcode_of(r) == dns.rcode.NOTAUTH and tsig_error(r) == dns.rcode.BADKEY
    assert ancount(r) == 0
    # Not the apex of a zone of ours: NOTAUTH (as knotd and nsd say), signed or not.
    r = primary.exchange(dns.message.make_query("www." + ZONE, "AXFR").to_wire(), tcp=True)
    assert rcode_of(r) == dns.rcode.NOTAUTH and ancount(r) == 0
    r = primary.query(signed_query("example.org", "AXFR"), tcp=True)
    assert r.rcode() == dns.rcode.NOTAUTH and not r.answer
    # AXFR over UDP is not a thing (RFC 5936 4.2).
    r = primary.exchange(dns.message.make_query(ZONE, "AXFR").to_wire())
    assert rcode_of(r) == dns.rcode.NOTIMP
    # dnspython sees the refusal as such.
    with pytest.raises(dns.xfr.TransferError):
        axfr(primary)
    assert log_lines(primary, "AXFR example.com to 127.0.0.1@", "refused by the zone's rules")
    assert log_lines(primary, "TSIG error 16")
    assert not log_lines(primary, "finished")
    # The right key: the zone, every message signed and checked by dnspython.
    assert len(axfr(primary, keyed=True)) == 3000 + 16
    assert log_lines(primary, "AXFR example.com to 127.0.0.1@", "serial 1, 3017 records",
                     "finished")


def test_ixfr_answers(primary):
    # Up to date over TCP, and any IXFR over UDP: the SOA alone, signed.
    for serial_, tcp in ((1, True), (5, True), (0, False), (1, False)):
        r = primary.query(signed_query(ZONE, "IXFR", serial=serial_), tcp=tcp)
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
        assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.SOA]
        assert r.answer[0][0].serial == 1
    # An older serial over TCP: the whole zone, AXFR-style (RFC 1995 4).
    msgs = list(dns.query.xfr(primary.addr, ZONE, rdtype="IXFR", serial=0, port=primary.port,
                              keyring=KEYRING, keyname=KEY, keyalgorithm="hmac-sha256",
                              timeout=10))
    records = sum(len(rrset) for m in msgs for rrset in m.answer)
    assert records == 3000 + 16 + 1 and len(msgs) > 1
    assert log_lines(primary, "IXFR example.com to 127.0.0.1@", "serial 0 -> 1 as a full zone",
                     "finished")
    # An IXFR without the client's SOA is malformed.
    r = primary.exchange(signed_query(ZONE, "IXFR").to_wire(), tcp=True)
    assert rcode_of(r) == dns.rcode.FORMERR


def test_signed_queries_are_answered_signed(primary):
    # Secondaries check the serial with a signed SOA query before they transfer.
    r = primary.query(signed_query(ZONE, "SOA"))
    assert r.rcode() == dns.rcode.NOERROR and r.answer[0][0].serial == 1 and r.had_tsig
    r = primary.exchange(signed_query(ZONE, "SOA", secret=WRONG).to_wire())
    assert rcode_of(r) == dns.rcode.NOTAUTH and tsig_error(r) == dns.rcode.BADSIG


def test_pipelined_queries_wait_for_the_transfer(tmp_path, understudy_binary):
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(zone_text(1))
    with Primary(tmp_path, understudy_binary, zpath, acl=ACL_OPEN) as p:
        s = tcp_connect(p)
        ax = dns.message.make_query(ZONE, "AXFR")
        soa = dns.message.make_query(ZONE, "SOA")
        www = dns.message.make_query("host." + ZONE, "A")
        s.sendall(b"".join(struct.pack("!H", len(w)) + w
                           for w in (ax.to_wire(), soa.to_wire(), www.to_wire(),
                                     ax.to_wire())))
        for round_ in range(2):
            soas = records = 0
            while soas < 2:
                m = dns.message.from_wire(recv_msg(s))
                assert m.id == ax.id and m.rcode() == dns.rcode.NOERROR
                assert m.flags & dns.flags.AA and len(m.question) == (records == 0)
                for rrset in m.answer:
                    records += len(rrset)
                    soas += rrset.rdtype == dns.rdatatype.SOA
            assert records == 3000 + 17
            if round_ == 0:
                # Then the queries sent behind the AXFR, in order.
                a1 = dns.message.from_wire(recv_msg(s))
                a2 = dns.message.from_wire(recv_msg(s))
                assert a1.id == soa.id and a1.answer[0][0].serial == 1
                assert a2.id == www.id and a2.answer[0][0].address == "192.0.2.80"
        s.close()


def test_reload_during_a_long_axfr(tmp_path, understudy_binary):
    """A slow reader of a 200k-record AXFR sees one version whole, while a reload publishes
    the next and queries get it meanwhile."""
    hosts = 200000
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(zone_text(1, hosts=hosts, net=10))
    p = Primary(tmp_path, understudy_binary, zpath, acl=ACL_OPEN,
                opts=["tcp-idle-timeout: 300"])
    with p:
        # A small window keeps most of the zone on the server's side until we read it.
        s = tcp_connect(p, rcvbuf=4096)
        send_msg(s, dns.message.make_query(ZONE, "AXFR").to_wire())
        wires = [recv_msg(s) for _ in range(3)]
        p.publish(zone_text(2, hosts=hosts, net=11))
        # Answered at once with the new version, over UDP and over TCP (the same TCP
        # worker as the stalled transfer).
        assert serial(p) == 2
        r = p.query(dns.message.make_query("h5." + ZONE, "A"), tcp=True, timeout=5)
        assert r.answer[0][0].address == "11.0.0.5"
        assert not log_lines(p, "AXFR example.com", "finished")
        while True:
            wires.append(recv_msg(s))
            m = dns.message.from_wire(wires[-1])
            if m.answer and m.answer[-1].rdtype == dns.rdatatype.SOA and len(wires) > 1:
                break
        s.close()
        soas, addrs, txt, count = [], set(), None, 0
        for w in wires:
            for rrset in dns.message.from_wire(w).answer:
                count += len(rrset)
                for rd in rrset:
                    if rrset.rdtype == dns.rdatatype.SOA:
                        soas.append(rd.serial)
                    elif rrset.rdtype == dns.rdatatype.A and rrset.name.labels[0] != b"ns1":
                        addrs.add(rd.address.split(".")[0])
                    elif rrset.rdtype == dns.rdatatype.TXT and rrset.name.labels[0] == b"serial":
                        txt = rd.to_text()
        assert soas[0] == soas[-1] == 1 and len(soas) == 2
        assert txt == '"version 1"'
        assert addrs == {"10", "192"}
        assert count == hosts + 17
        # The transfer spanned the publication: it finished after serial 2 was loaded.
        lines = p.output().splitlines()
        loaded = [i for i, line in enumerate(lines) if "loaded serial 2" in line]
        done = [i for i, line in enumerate(lines)
                if "AXFR example.com to 127.0.0.1@" in line and "finished" in line]
        assert len(loaded) == 1 and len(done) == 1 and loaded[0] < done[0], lines[-5:]
        assert "serial 1, %d records" % (hosts + 17) in lines[done[0]]


def test_notify_carries_the_new_soa(tmp_path, understudy_binary):
    """NOTIFY out carries the zone's new SOA in its answer section (RFC 1996 3.7), signed
    with the remote's key, and is answered once the secondary answers it."""
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(zone_text(1))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    with Primary(tmp_path, understudy_binary, zpath,
                 notify_port=sock.getsockname()[1]) as primary:
        primary.publish(zone_text(2))
        # The fleet monitor also asks this remote for its SOA: those queries are passed over.
        while True:
            wire, peer = sock.recvfrom(65535)
            m = dns.message.from_wire(wire, keyring=KEYRING)
            if m.opcode() == dns.opcode.NOTIFY:
                break
        assert m.had_tsig
        assert m.flags & dns.flags.AA
        assert m.question[0].name == dns.name.from_text(ZONE)
        assert [rr.serial for rrset in m.answer for rr in rrset] == [2]
        r = dns.message.make_response(m)
        r.use_tsig(KEYRING, keyname=KEY)
        sock.sendto(r.to_wire(), peer)
        wait_for(lambda: log_lines(primary, "NOTIFY for example.com serial 2", "answered"),
                 what="the NOTIFY answered")
    sock.close()


def small_zone(origin, serial):
    return (f"$ORIGIN {origin}.\n$TTL 300\n@ SOA ns1 hostmaster {serial} 3600 600 1209600 300\n"
            "@ NS ns1\nns1 A 192.0.2.1\n")


class NotifySink:
    """A backup that takes NOTIFYs and answers none until told to: each NOTIFY with the kernel's
    time of arrival (SO_TIMESTAMPNS), so a test that reads late still sees when they came."""

    SO_TIMESTAMPNS = 35  # also the control message's type (asm-generic/socket.h)
    SO_RCVBUFFORCE = 33

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:  # room for thousands of NOTIFYs between reads (root may pass rmem_max)
            self.sock.setsockopt(socket.SOL_SOCKET, self.SO_RCVBUFFORCE, 16 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, self.SO_TIMESTAMPNS, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def read(self, answer=False):
        """[(arrival in seconds, zone)] of the NOTIFYs since the last call, answered if asked."""
        out = []
        while True:
            try:
                wire, anc, _, peer = self.sock.recvmsg(4096, 64)
            except BlockingIOError:
                return out
            m = dns.message.from_wire(wire)
            if m.opcode() != dns.opcode.NOTIFY:
                continue  # the fleet monitor's SOA queries, if any
            at = time.time()
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == self.SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", data[:16])
                    at = sec + nsec / 1e9
            out.append((at, m.question[0].name.to_text(omit_final_dot=True)))
            if answer:
                self.sock.sendto(dns.message.make_response(m).to_wire(), peer)

    def close(self):
        self.sock.close()


class ManyZones(servers.Understudy):
    """understudy, primary of n small zones that each NOTIFY the sink."""

    name = "many"

    def __init__(self, workdir, binary, n, sink_port):
        super().__init__(workdir, zones=[], binary=binary)
        self.sink_port = sink_port
        for i in range(n):
            origin = f"z{i}.{ZONE}"
            path = workdir / f"{origin}.zone"
            path.write_text(small_zone(origin, 1))
            self.zones.append((origin, path))

    def write_config(self):
        lines = [f'server: {{listen: ["127.0.0.1@{self.port}"], storage: "{self.dir}/s", '
                 f'control: "{self.dir}/ctl.sock", udp-workers: 1, watch-ns: false}}',
                 "log: {target: stderr, level: info}",
                 f'remotes: [{{id: sink, address: "127.0.0.1@{self.sink_port}"}}]',
                 "zones:"]
        for origin, path in self.zones:
            lines.append(f'  - {{domain: {origin}, role: primary, file: "{path}", '
                         "notify: [sink], fleet-interval: 0}")
        self.conf.write_text("\n".join(lines) + "\n")

    def new_serials(self):
        """Serial 2 in every zone, taken by one reload: a NOTIFY for each."""
        for origin, path in self.zones:
            path.write_text(small_zone(origin, 2))
        code, text = self.ctl("reload")
        assert code == 0, text

    def threads(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def test_notify_resent_until_answered(tmp_path, understudy_binary):
    """A backup that does not answer gets each zone's NOTIFY again a second later, and again,
    until it answers; then no more come."""
    n = 20
    sink = NotifySink()
    with ManyZones(tmp_path, understudy_binary, n, sink.port) as p:
        p.new_serials()
        seen = set()

        def every_zone(answer=False):
            seen.update(z for _, z in sink.read(answer))
            return len(seen) == n

        wait_for(every_zone, 10, "a NOTIFY for every zone", p)
        for _ in range(2):  # resent, and again
            seen.clear()
            wait_for(every_zone, 3, "every NOTIFY resent", p)
        seen.clear()
        wait_for(lambda: every_zone(answer=True), 3, "every NOTIFY answered", p)
        done = f"serial 2 to 127.0.0.1@{sink.port}: answered"
        wait_for(lambda: p.output().count(done) == n, 5, "the answers taken", p)
        sink.read()
        time.sleep(2.5)  # past two resend intervals: the subject is that nothing comes
        assert sink.read() == []
        assert p.output().count(done) == n
    sink.close()


def test_notify_fan_out_is_paced(tmp_path, understudy_binary):
    """3,000 zones NOTIFYed at once (ctl notify), their backup silent: every NOTIFY goes out within
    seconds, never more than the sender's rate (2,000 a second, bursts of 200) in any second,
    from one thread rather than one per NOTIFY; the silent backup keeps getting copies."""
    n, rate, burst = 3000, 2000, 200
    sink = NotifySink()
    with ManyZones(tmp_path, understudy_binary, n, sink.port) as p:
        before = p.threads()
        code, text = p.ctl("notify")  # every zone at once
        assert code == 0 and text.count("NOTIFY sent") == n, text[-500:]
        got, most_threads = [], 0
        t_end = time.monotonic() + 6
        while time.monotonic() < t_end:
            got += sink.read()
            most_threads = max(most_threads, p.threads())
            time.sleep(0.05)
        got += sink.read()
        assert most_threads <= before + 1, (before, most_threads)
        times = sorted(t for t, _ in got)
        first = {}
        for t, z in got:
            first[z] = min(first.get(z, t), t)
        assert len(first) == n
        assert max(first.values()) - times[0] < 4, "every zone told within 4 s"
        # The most in any one second, by the kernel's clock of arrival.
        j, most = 0, 0
        for i, t in enumerate(times):
            while times[j] < t - 1.0:
                j += 1
            most = max(most, i - j + 1)
        assert most <= (rate + burst) * 1.02, most
        assert len(got) > n + rate, "copies resent to the silent backup"
    sink.close()
