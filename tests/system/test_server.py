# SPDX-License-Identifier: MIT
"""test_server: understudy as an operator runs it: reloads, broken input, TCP behaviour."""

import os
import signal
import socket
import struct
import subprocess
import threading
import time

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

import servers
from servers import wait_for

ZONE = """$TTL 300
@ SOA ns1 hostmaster {serial} 3600 600 86400 60
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.{serial_low}
"""


def zone_text(serial):
    return ZONE.format(serial=serial, serial_low=serial % 250 + 1)


@pytest.fixture
def binary(understudy_binary):
    return understudy_binary


def start(tmp_path, binary, zones, **kw):
    srv = servers.Understudy(tmp_path, zones=zones, binary=binary, **kw)
    srv.start()
    return srv


def write_zone(tmp_path, name, text):
    path = tmp_path / f"{name}.zone"
    path.write_text(text)
    return path


def soa_serial(srv, name="example.com", tcp=False):
    r = srv.query(dns.message.make_query(name, "SOA"), tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR, r
    return r.answer[0][0].serial


def zone_path(srv, origin):
    return dict(srv.zones)[origin]


def test_reload_publishes_new_serial(tmp_path, binary):
    srv = start(tmp_path, binary, [("example.com", write_zone(tmp_path, "e", zone_text(1)))])
    try:
        assert soa_serial(srv) == 1
        zone_path(srv, "example.com").write_text(zone_text(2))
        code, out = srv.ctl("reload", "example.com")
        assert code == 0, out
        assert "serial 2" in out
        assert soa_serial(srv) == 2
        assert soa_serial(srv, tcp=True) == 2
        # SIGHUP reloads too.
        zone_path(srv, "example.com").write_text(zone_text(3))
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: soa_serial(srv) == 3, what="serial 3 after SIGHUP")
        code, out = srv.ctl("zone-status", "example.com")
        assert code == 0 and "serial=3" in out and "role=primary" in out, out
        # New contents under the same serial would never reach a secondary: refused.
        zone_path(srv, "example.com").write_text(zone_text(3) + "new A 192.0.2.99\n")
        code, out = srv.ctl("reload", "example.com")
        assert code == 1 and "bump the serial" in out, out
        r = srv.query(dns.message.make_query("new.example.com", "A"))
        assert r.rcode() == dns.rcode.NXDOMAIN
        # The same contents again are no news, and no error.
        zone_path(srv, "example.com").write_text(zone_text(3))
        code, out = srv.ctl("reload", "example.com")
        assert code == 0 and "serial 3" in out, out
    finally:
        srv.stop()


def test_broken_reload_keeps_old_version(tmp_path, binary):
    srv = start(tmp_path, binary, [("example.com", write_zone(tmp_path, "e", zone_text(5)))])
    try:
        path = zone_path(srv, "example.com")
        path.write_text(zone_text(6) + "www CNAME elsewhere.example.net.\n")
        code, out = srv.ctl("reload", "example.com")
        assert code == 1, out
        assert f"{path}:6:" in out and "CNAME and other data" in out, out
        assert soa_serial(srv) == 5
        r = srv.query(dns.message.make_query("www.example.com", "A"))
        assert r.answer[0][0].address == "192.0.2.6"
        code, out = srv.ctl("zone-status", "example.com")
        assert "serial=5" in out and "last-error=" in out, out
        assert "the previous version keeps serving" in srv.output()
        # A syntax error, too.
        path.write_text(zone_text(7) + "bad A not-an-address\n")
        code, out = srv.ctl("reload")
        assert code == 1 and f"{path}:6:" in out, out
        assert soa_serial(srv) == 5
    finally:
        srv.stop()


def test_broken_zone_at_start_does_not_stop_others(tmp_path, binary):
    good = write_zone(tmp_path, "good", zone_text(1))
    bad = write_zone(tmp_path, "bad", "$TTL 300\n@ NS ns1\nns1 A 192.0.2.1\n")
    srv = servers.Understudy(tmp_path, zones=[("example.com", good), ("bad.test", bad)],
                             binary=binary)
    # The harness waits for every zone's SOA, which bad.test never has; start by hand.
    srv.wait_ready = lambda timeout=30.0: wait_for(
        lambda: _answers(srv, "example.com"), timeout, "example.com to answer")
    srv.start()
    try:
        r = srv.query(dns.message.make_query("bad.test", "SOA"))
        assert r.rcode() == dns.rcode.SERVFAIL
        assert soa_serial(srv) == 1
        assert "zone bad.test" in srv.output() and "no SOA record" in srv.output()
        code, out = srv.ctl("zone-status", "bad.test")
        assert "state=not-serving" in out, out
    finally:
        srv.stop()


def _answers(srv, name):
    try:
        return srv.query(dns.message.make_query(name, "SOA"), timeout=0.3).rcode() == 0
    except Exception:
        return False


def test_reload_under_load_never_tears(tmp_path, binary):
    """Readers see the old version or the new one whole, never a mix or an error."""
    srv = start(tmp_path, binary, [("example.com", write_zone(tmp_path, "e", zone_text(100)))])
    stop = threading.Event()
    seen, bad = set(), []

    def reader():
        sock = socket.socket(srv._family(), socket.SOCK_DGRAM)
        sock.settimeout(2)
        while not stop.is_set():
            q = dns.message.make_query("www.example.com", "A")
            sock.sendto(q.to_wire(), (srv.addr, srv.port))
            r = dns.message.from_wire(sock.recv(4096))
            if r.rcode() != 0 or len(r.answer) != 1:
                bad.append(r)
            else:
                seen.add(r.answer[0][0].address)
        sock.close()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for serial in range(101, 121):
            zone_path(srv, "example.com").write_text(zone_text(serial))
            code, out = srv.ctl("reload")
            assert code == 0, out
    finally:
        stop.set()
        for t in threads:
            t.join()
        srv.stop()
    assert not bad, bad[:3]
    assert len(seen) > 1


def _tcp_connect(srv):
    s = socket.create_connection((srv.addr, srv.port), timeout=3)
    return s


def _read_msg(s):
    hdr = servers._recv_exact(s, 2)
    return dns.message.from_wire(servers._recv_exact(s, struct.unpack("!H", hdr)[0]))


def test_tcp_pipelining(tmp_path, binary):
    srv = start(tmp_path, binary, [("example.com", write_zone(tmp_path, "e", zone_text(9)))])
    try:
        s = _tcp_connect(srv)
        wires = []
        for i, (name, t) in enumerate([("example.com", "SOA"), ("www.example.com", "A"),
                                       ("nx.example.com", "A")]):
            q = dns.message.make_query(name, t)
            q.id = 1000 + i
            w = q.to_wire()
            wires.append(struct.pack("!H", len(w)) + w)
        # All three in one segment, then the answers must all come back on the connection.
        s.sendall(b"".join(wires))
        got = {m.id: m for m in (_read_msg(s) for _ in range(3))}
        assert sorted(got) == [1000, 1001, 1002]
        assert got[1002].rcode() == dns.rcode.NXDOMAIN
        # A message split across segments is reassembled.
        w = wires[1]
        s.sendall(w[:1])
        time.sleep(0.05)
        s.sendall(w[1:7])
        time.sleep(0.05)
        s.sendall(w[7:])
        assert _read_msg(s).id == 1001
        s.close()
    finally:
        srv.stop()


def test_tcp_idle_timeout_and_connection_cap(tmp_path, binary):
    srv = start(tmp_path, binary, [("example.com", write_zone(tmp_path, "e", zone_text(9)))],
                server_opts=["tcp-idle-timeout: 1", "tcp-max-clients: 2", "tcp-workers: 1"])
    try:
        a, b = _tcp_connect(srv), _tcp_connect(srv)
        # Both are accepted and answered.
        for s in (a, b):
            w = dns.message.make_query("example.com", "SOA").to_wire()
            s.sendall(struct.pack("!H", len(w)) + w)
            assert _read_msg(s).rcode() == 0
        # A third is closed at once while the two are open; UDP keeps answering meanwhile.
        c = _tcp_connect(srv)
        c.settimeout(3)
        assert c.recv(1) == b""
        assert soa_serial(srv) == 9
        # Idle connections are closed by the server after about a second.
        a.settimeout(5)
        t0 = time.monotonic()
        assert a.recv(1) == b""
        assert time.monotonic() - t0 < 4
        c.close()
        a.close()
        b.close()
        # With the idle ones gone, new connections are served again.
        wait_for(lambda: _tcp_ok(srv), what="a new TCP connection to be served")
    finally:
        srv.stop()


def _tcp_ok(srv):
    try:
        return soa_serial(srv, tcp=True) == 9
    except Exception:
        return False


def test_ctl_errors(tmp_path, binary):
    srv = start(tmp_path, binary, [("example.com", write_zone(tmp_path, "e", zone_text(1)))])
    try:
        code, out = srv.ctl("status")
        assert code == 0 and "zones=1" in out and "serving=1" in out, out
        code, out = srv.ctl("reload", "nosuch.zone")
        assert code == 1 and "no such zone" in out
        code, out = srv.ctl("frobnicate")
        assert code == 1 and "unknown command" in out
        code, out = srv.ctl("stop")
        assert code == 0
        srv.proc.wait(timeout=10)
        assert srv.proc.returncode == 0
    finally:
        srv.stop()
    code, out = srv.ctl("status")
    assert code == 2 and "cannot connect" in out


def test_check_conf_and_check_zone(tmp_path, binary):
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  listen: [\"127.0.0.1@53\"]\n  bogus: 1\nzones:\n"
                   "  - domain: example.com\n    role: secondary\n")
    p = subprocess.run([binary, "check-conf", "-c", str(bad)], capture_output=True, text=True)
    assert p.returncode != 0
    assert f"{bad}:3:" in p.stderr and f"{bad}:5:" in p.stderr, p.stderr
    zone = write_zone(tmp_path, "z", zone_text(1) + "www CNAME x\nout.example.org. A 192.0.2.1\n")
    p = subprocess.run([binary, "check-zone", "example.com", str(zone)], capture_output=True,
                       text=True)
    assert p.returncode == 1
    assert f"{zone}:6:" in p.stderr and f"{zone}:7:" in p.stderr, p.stderr
    good = write_zone(tmp_path, "g", zone_text(1))
    p = subprocess.run([binary, "check-zone", "example.com", str(good)], capture_output=True,
                       text=True)
    assert p.returncode == 0 and "serial 1" in p.stdout


def test_malformed_packets_never_kill_it(tmp_path, binary):
    srv = start(tmp_path, binary, [("example.com", write_zone(tmp_path, "e", zone_text(1)))])
    import random
    rng = random.Random(1)
    base = dns.message.make_query("www.example.com", "A", use_edns=True).to_wire()
    sock = socket.socket(srv._family(), socket.SOCK_DGRAM)
    try:
        for i in range(3000):
            b = bytearray(base)
            for _ in range(rng.randint(1, 6)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            if rng.random() < 0.3:
                b = b[:rng.randrange(len(b))]
            sock.sendto(bytes(b), (srv.addr, srv.port))
        wait_for(lambda: _answers(srv, "example.com"), what="an answer after the flood")
        assert srv.running()
    finally:
        sock.close()
        srv.stop()


def test_second_server_on_same_port_refuses_to_start(tmp_path, binary):
    """SO_REUSEPORT would let a second daemon silently take a share of the queries."""
    srv = start(tmp_path, binary, [("example.com", write_zone(tmp_path, "e", zone_text(1)))])
    try:
        conf = tmp_path / "second.yaml"
        conf.write_text(srv.conf.read_text().replace("ctl.sock", "ctl2.sock"))
        p = subprocess.run([binary, "serve", "-c", str(conf)], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 1
        assert "Address already in use" in p.stderr, p.stderr
        assert soa_serial(srv) == 1
    finally:
        srv.stop()
