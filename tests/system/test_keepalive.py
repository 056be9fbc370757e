# SPDX-License-Identifier: MIT
"""test_keepalive: connections to primaries kept open between transfers (RFC 7766 6.2.1,
RFC 7828 edns-tcp-keepalive), on both ends.

    backup          an understudy backup of an understudy primary and of a knotd primary: the
                    bootstrap AXFR and two changes by IXFR, all three on one TCP connection, as
                    the primary's own log shows (the same client port on each line).
    closed          a primary that closes its end after a transfer, or drops the connection
                    when the next query comes on it: every change is still taken, with no
                    failed transfer and nothing worse than debug in the backup's log.
    zero            a primary that says 0 (close now): not kept.
    timers          closed by the backup before the primary's timeout ends, and at a reload
                    that removes the primary's address; over TLS the same as over TCP.
    server          our TCP answers carry our idle timeout when the query asks (TCP only), and
                    several transfers run one after the other on one connection.
"""

import base64
import re
import socket
import struct

import dns.edns
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import fakeprimary
import servers
from servers import wait_for

ZONE = "example.com"
KEY = "xfr-key"
SECRET = base64.b64encode(b"understudy-keepalive-test-key-32").decode()
KEEPALIVE = 11


def zone_text(serial):
    return f"""$ORIGIN {ZONE}.
$TTL 300
@ SOA ns1 hostmaster {serial} 3600 600 1209600 300
@ NS ns1
ns1 A 192.0.2.53
change TXT "serial {serial}"
"""


class Primary(servers.Understudy):
    """understudy serving the zone, NOTIFYing the backup, transfers under the key."""

    def __init__(self, workdir, binary, zone_path, backup_port):
        super().__init__(workdir / "primary", zones=[(ZONE, zone_path)], binary=binary)
        self.backup_port = backup_port

    def write_config(self):
        self.conf.write_text(f"""server:
  listen: ["127.0.0.1@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
log: {{target: stderr, level: info}}
keys:
  - {{id: {KEY}, algorithm: hmac-sha256, secret: "{SECRET}"}}
remotes:
  - {{id: backup, address: "127.0.0.1@{self.backup_port}", key: {KEY}}}
acls:
  - {{id: xfr, key: {KEY}, action: transfer}}
zones:
  - domain: {ZONE}
    role: primary
    file: "{dict(self.zones)[ZONE]}"
    notify: [backup]
    acl: [xfr]
""")

    def change(self, serial):
        dict(self.zones)[ZONE].write_text(zone_text(serial))
        code, text = self.ctl("reload", ZONE)
        assert code == 0, text


class KnotPrimary(servers.Knotd):
    def __init__(self, workdir, zone_path, backup_port):
        super().__init__(workdir / "knotd", zones=[(ZONE, zone_path)])
        self.backup_port = backup_port

    def write_config(self):
        super().write_config()
        text = self.conf.read_text()
        text = text.replace("    zonefile-load: whole\n", "    zonefile-load: difference-no-serial\n")
        text = text.replace("    journal-content: none\n", "    journal-content: all\n")
        head, zones = text.split("zone:\n", 1)
        head += f"""key:
  - id: {KEY}
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
  - id: backup
    address: 127.0.0.1@{self.backup_port}
    key: {KEY}
acl:
  - id: xfr
    key: {KEY}
    action: transfer
"""
        zones = zones.replace('file: "', 'notify: backup\n    acl: xfr\n    file: "', 1)
        self.conf.write_text(head + "zone:\n" + zones)

    def change(self, serial):
        dict(self.zones)[ZONE].write_text(zone_text(serial))
        p = servers.subprocess.run(
            ["knotc", "-s", str(self.dir / "run" / "knot.sock"), "zone-reload", ZONE],
            capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr


class Backup(servers.Understudy):
    def __init__(self, workdir, binary, primary_port, key=True, level="debug"):
        super().__init__(workdir / "backup", zones=[], binary=binary)
        self.primary_port, self.key, self.level = primary_port, key, level
        self.zones = [(ZONE, None)]

    def write_config(self):
        key = f", key: {KEY}" if self.key else ""
        self.conf.write_text(f"""server:
  listen: ["127.0.0.1@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
log: {{target: stderr, level: {self.level}}}
keys:
  - {{id: {KEY}, algorithm: hmac-sha256, secret: "{SECRET}"}}
remotes:
  - {{id: pri, address: "127.0.0.1@{self.primary_port}"{key}}}
zones:
  - domain: {ZONE}
    role: secondary
    primaries: [pri]
""")


def serial(srv):
    try:
        r = srv.query(dns.message.make_query(ZONE, "SOA"), timeout=0.5)
    except Exception:
        return None
    return r.answer[0][0].serial if r.rcode() == dns.rcode.NOERROR and r.answer else None


def quiet(log):
    """The backup's lines above debug that speak of failing."""
    return [ln for ln in log.splitlines()
            if "debug" not in ln.lower() and re.search(r"fail|error|cannot|warning", ln, re.I)]


def follow_changes(primary, backup, serials):
    for n in serials:
        primary.change(n)
        wait_for(lambda: serial(backup) == n, 20, f"serial {n} on the backup", backup)


def test_backup_of_understudy_keeps_one_connection(tmp_path, understudy_binary):
    zpath = tmp_path / f"{ZONE}.zone"
    zpath.write_text(zone_text(1))
    bport = servers.free_port()
    with Primary(tmp_path, understudy_binary, zpath, bport) as primary:
        backup = Backup(tmp_path, understudy_binary, primary.port)
        backup.fixed_port = bport
        backup.wait_ready = lambda timeout=30.0: wait_for(lambda: serial(backup) == 1, timeout,
                                                          "bootstrap", backup)
        with backup:
            follow_changes(primary, backup, (2, 3))
            out = primary.output()
            ports = re.findall(rf"(AXFR|IXFR) {ZONE} to 127\.0\.0\.1@(\d+): .*finished", out)
            assert [k for k, _ in ports] == ["AXFR", "IXFR", "IXFR"], out
            assert len({p for _, p in ports}) == 1, ports  # one connection for all three
            log = backup.output()
            assert log.count("on a connection kept open") == 2, log
            assert "IXFR example.com from" in log and not quiet(log), quiet(log)


def test_backup_of_knotd_keeps_one_connection(tmp_path, understudy_binary):
    zpath = tmp_path / f"{ZONE}.zone"
    zpath.write_text(zone_text(1))
    bport = servers.free_port()
    with KnotPrimary(tmp_path, zpath, bport) as knot:
        backup = Backup(tmp_path, understudy_binary, knot.port)
        backup.fixed_port = bport
        backup.wait_ready = lambda timeout=30.0: wait_for(lambda: serial(backup) == 1, timeout,
                                                          "bootstrap", backup)
        with backup:
            follow_changes(knot, backup, (2, 3))
            out = knot.output()
            ports = re.findall(r"(AXFR|IXFR), outgoing, remote 127\.0\.0\.1@(\d+).*started", out)
            assert [k for k, _ in ports] == ["AXFR", "IXFR", "IXFR"], out
            assert len({p for _, p in ports}) == 1, ports
            log = backup.output()
            assert log.count("on a connection kept open") == 2, log
            assert not quiet(log), quiet(log)


def keepalive_option(units):
    return dns.edns.GenericOption(KEEPALIVE, struct.pack("!H", units))


def with_keepalive(msgs, units=300):
    for m in msgs:
        m.use_edns(0, options=[keepalive_option(units)])
    return msgs


def fake_and_backup(tmp_path, understudy_binary, script, level="debug"):
    fp = fakeprimary.FakePrimary(ZONE)
    fp.publish(1, [("change", 300, "TXT", '"serial 1"')])
    fp.xfr_script = script
    fp.start()
    backup = Backup(tmp_path, understudy_binary, fp.port, key=False, level=level)
    backup.wait_ready = lambda timeout=30.0: wait_for(lambda: serial(backup) == 1, timeout,
                                                      "bootstrap", backup)
    return fp, backup


def fake_changes(fp, backup, serials):
    for n in serials:
        fp.publish(n, [("change", 300, "TXT", f'"serial {n}"')])
        assert fakeprimary.notify("127.0.0.1", backup.port, ZONE) is not None
        wait_for(lambda: serial(backup) == n, 20, f"serial {n} on the backup", backup)


def default_answer(x, units=300):
    """What XfrSession.default sends, with edns-tcp-keepalive in every message."""
    fp = x.fp
    if x.qtype == dns.rdatatype.IXFR and x.client_serial in fp.versions:
        msgs = ([fp.soa_response(x.query)] if x.client_serial == fp.serial
                else x.ixfr_messages())
    else:
        msgs = x.axfr_messages()
    x.send(with_keepalive(msgs, units))


def test_primary_that_closes_after_each_transfer_costs_nothing(tmp_path, understudy_binary):
    """Says 30 s, closes at once: the backup sees the close before it asks again."""
    def script(x):
        default_answer(x)
        x.close()

    fp, backup = fake_and_backup(tmp_path, understudy_binary, script)
    try:
        with backup:
            fake_changes(fp, backup, (2, 3))
            log = backup.output()
            assert fp.count("IXFR") == 2, fp.seen
            assert not quiet(log), quiet(log)
    finally:
        fp.stop()


def test_primary_that_drops_the_next_query_costs_nothing(tmp_path, understudy_binary):
    """Says 30 s, and closes the connection when the next query comes on it, unanswered: the
    race where the server's idle close meets our query. Asked again on a new connection,
    with no failure counted or logged."""
    served = set()

    def script(x):
        if id(x.conn) in served:
            x.close()
            return
        served.add(id(x.conn))
        default_answer(x)

    fp, backup = fake_and_backup(tmp_path, understudy_binary, script)
    try:
        with backup:
            fake_changes(fp, backup, (2, 3))
            log = backup.output()
            # Each change: the IXFR on the kept connection, dropped, then on a new one.
            assert fp.count("IXFR") == 4, fp.seen
            assert log.count("the connection kept open is gone") == 2, log
            assert not quiet(log), quiet(log)
            code, text = backup.ctl("zone-status", ZONE)
            assert "serial=3" in text and "error" not in text.lower().replace("error=-", ""), text
    finally:
        fp.stop()


def test_primary_that_says_zero_is_not_kept(tmp_path, understudy_binary):
    """A timeout of 0 asks the client to close (RFC 7828 3.3.2): every transfer on a new
    connection."""
    fp, backup = fake_and_backup(tmp_path, understudy_binary,
                                 lambda x: default_answer(x, units=0))
    try:
        with backup:
            fake_changes(fp, backup, (2,))
            log = backup.output()
            assert "on a connection kept open" not in log, log
            peers = [peer for proto, kind, _, peer, _ in fp.seen if proto == "tcp"]
            assert len(peers) == 2 and peers[0] != peers[1], fp.seen
    finally:
        fp.stop()


def raw_tcp(sock, wire):
    sock.sendall(struct.pack("!H", len(wire)) + wire)


def read_msg(sock):
    hdr = servers._recv_exact(sock, 2)
    return servers._recv_exact(sock, struct.unpack("!H", hdr)[0])


def keepalive_of(msg):
    opts = [o for o in msg.options if o.otype == KEEPALIVE]
    return struct.unpack("!H", opts[0].to_wire())[0] if opts else None


def test_server_answers_keepalive_and_serves_transfers_in_a_row(tmp_path, understudy_binary):
    zpath = tmp_path / f"{ZONE}.zone"
    zpath.write_text(zone_text(1))
    class Open(servers.Understudy):
        def write_config(self):
            self.conf.write_text(f"""server:
  listen: ["127.0.0.1@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  tcp-idle-timeout: 7
  watch-ns: false
log: {{target: stderr, level: info}}
acls:
  - {{id: local, address: [127.0.0.1], action: transfer}}
zones:
  - {{domain: {ZONE}, role: primary, file: "{zpath}", acl: [local]}}
""")

    with Open(tmp_path, zones=[(ZONE, zpath)], binary=understudy_binary) as srv:
        ask = [dns.edns.GenericOption(KEEPALIVE, b"")]
        q = dns.message.make_query(ZONE, "SOA", use_edns=0, options=ask)
        # RFC 7828 3.3.2: over TCP, our idle timeout in 100 ms units; over UDP nothing.
        assert keepalive_of(srv.query(q, tcp=True)) == 70
        assert keepalive_of(srv.query(q)) is None
        plain = dns.message.make_query(ZONE, "SOA", use_edns=0)
        assert keepalive_of(srv.query(plain, tcp=True)) is None
        # Several transfers and queries on one connection (RFC 7766 6.2.1).
        with socket.create_connection((srv.addr, srv.port), timeout=5) as s:
            for _ in range(3):
                x = dns.message.make_query(ZONE, "AXFR", use_edns=0, options=ask)
                raw_tcp(s, x.to_wire())
                soas = 0
                while soas < 2:
                    m = dns.message.from_wire(read_msg(s), one_rr_per_rrset=True)
                    assert m.id == x.id and m.rcode() == dns.rcode.NOERROR
                    assert keepalive_of(m) == 70
                    soas += sum(1 for rr in m.answer if rr.rdtype == dns.rdatatype.SOA)
                raw_tcp(s, q.to_wire())
                m = dns.message.from_wire(read_msg(s))
                assert m.answer[0][0].serial == 1 and keepalive_of(m) == 70


def test_backup_over_tls_keeps_one_connection(tmp_path, understudy_binary):
    """XFR over TLS (RFC 9103): the bootstrap AXFR, two IXFRs and a SOA check of a refresh on
    one TLS connection, as the primary's log shows (one client port, one handshake)."""
    import test_xot as xot
    import tlscerts

    pki = tlscerts.make_pki(tmp_path / "pki")
    sec_port = servers.free_port()
    primary = xot.UsPrimary(tmp_path, understudy_binary, pki, notify_port=sec_port)
    secondary = xot.UsSecondary(tmp_path, understudy_binary, primary.tls_port,
                                xot.tls_remote(pki, "ca+hostname"))
    secondary.fixed_port = sec_port
    try:
        primary.start()
        secondary.start()
        wait_for(lambda: xot.serial(secondary) == xot.SERIAL0, 15, "the first AXFR", secondary)
        for n in (1, 2):
            primary.change(n)
            wait_for(lambda: xot.serial(secondary) == xot.SERIAL0 + n, 15, f"IXFR {n}",
                     secondary)
        code, out = secondary.ctl("refresh", xot.ZONE)
        assert code == 0, out
        wait_for(lambda: xot.lines(secondary, f"has serial {xot.SERIAL0 + 2}, up to date"), 15,
                 "an up-to-date refresh", secondary)
        out = primary.output()
        ports = re.findall(rf"(AXFR|IXFR) {xot.ZONE} to 127\.0\.0\.1@(\d+) over TLS: .*finished",
                           out)
        assert [k for k, _ in ports] == ["AXFR", "IXFR", "IXFR"], out[-3000:]
        assert len({p for _, p in ports}) == 1, ports
        handshakes = [x for x in out.splitlines() if "TLS from 127.0.0.1@" in x
                      and "ALPN" in x]
        assert len(handshakes) == 1, handshakes
        assert not xot.lines(secondary, "warning"), secondary.output()
    finally:
        xot.stop_all(secondary, primary)


def tcp_to(port, state="established"):
    """Local ports of the loopback TCP connections to port in state (ss, as a user sees them)."""
    p = servers.subprocess.run(["ss", "-Htn", "state", state, f"( dport = :{port} )"],
                               capture_output=True, text=True, timeout=10)
    return {int(ln.split()[-2].rsplit(":", 1)[1]) for ln in p.stdout.splitlines() if ln.strip()}


def test_kept_connection_goes_before_the_primary_closes_it_and_on_reload(tmp_path,
                                                                        understudy_binary):
    """The primary says 3 s (tcp-idle-timeout 3): the backup closes the connection itself
    before then (the closer's end waits in TIME-WAIT: the backup's). Kept again after the next
    transfer, it goes at a reload that takes the primary's address out of the remotes."""
    zpath = tmp_path / f"{ZONE}.zone"
    zpath.write_text(zone_text(1))
    bport = servers.free_port()

    class ShortPrimary(Primary):
        def write_config(self):
            super().write_config()
            self.conf.write_text(self.conf.read_text().replace(
                "  udp-workers: 1\n", "  udp-workers: 1\n  tcp-idle-timeout: 3\n", 1))

    with ShortPrimary(tmp_path, understudy_binary, zpath, bport) as primary:
        backup = Backup(tmp_path, understudy_binary, primary.port)
        backup.fixed_port = bport
        backup.wait_ready = lambda timeout=30.0: wait_for(lambda: serial(backup) == 1, timeout,
                                                          "bootstrap", backup)
        with backup:
            follow_changes(primary, backup, (2,))
            kept = tcp_to(primary.port)
            assert len(kept) == 1, kept
            port = kept.pop()
            wait_for(lambda: port in tcp_to(primary.port, "time-wait"), 10,
                     "the backup to close the kept connection", backup)
            assert "tcp: " not in primary.output()  # nothing to say on the primary's side
            follow_changes(primary, backup, (3,))
            assert len(tcp_to(primary.port)) == 1
            assert not quiet(backup.output()), quiet(backup.output())
            # The new address answers nothing: the refresh the reload brings fails, as it
            # should; the kept connection to the old one goes.
            backup.conf.write_text(backup.conf.read_text().replace(
                f"127.0.0.1@{primary.port}", f"127.0.0.1@{servers.free_port()}"))
            code, text = backup.ctl("reload")
            assert code == 0, text
            wait_for(lambda: not tcp_to(primary.port), 5, "the connection closed at reload",
                     backup)
