# SPDX-License-Identifier: MIT
"""test_harness: the server classes themselves: every peer loads every test zone, answers
over UDP and TCP on 127.0.0.1 and ::1, and stop() catches sanitizer reports and bad exits."""

import socket
import sys
import time

import dns.message
import dns.rcode
import dns.zone
import pytest

import servers


def _serials(zones):
    out = {}
    for origin, path in zones:
        z = dns.zone.from_file(str(path), origin=origin, relativize=False)
        out[origin] = z.get_rdataset(z.origin, "SOA")[0].serial
    return out


def test_free_port_is_free_for_udp_and_tcp():
    port = servers.free_port()
    for addr in servers.loopback_addrs():
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(fam, kind) as s:
                s.bind((addr, port))


@pytest.mark.parametrize("peer", ["knotd", "nsd", "named", "understudy"])
def test_serves_every_zone(peer, request, zones):
    """Each zone's SOA serial over UDP and TCP, on every loopback address."""
    srv = request.getfixturevalue(peer)
    want = _serials(zones)
    for addr in srv.addrs:
        for tcp in (False, True):
            for origin, serial in want.items():
                r = srv.query(dns.message.make_query(origin, "SOA"), tcp=tcp, addr=addr)
                assert r.rcode() == dns.rcode.NOERROR, (addr, tcp, origin)
                assert r.answer and r.answer[0][0].serial == serial, (addr, tcp, origin)


def test_understudy_serves_the_big_rrset_over_tcp(understudy):
    r = understudy.query(dns.message.make_query("huge.example.com", "TXT"), tcp=True)
    assert r.rcode() == dns.rcode.NOERROR
    assert len(r.answer[0]) == 40


class _Fake(servers.Server):
    """A stand-in process: prints what `script` prints; 'ready' once it has started."""

    name = "fake"

    def __init__(self, workdir, script):
        super().__init__(workdir, zones=[])
        self.script = script

    def write_config(self):
        pass

    def command(self):
        return [sys.executable, "-c", self.script]

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while "ready" not in self.output():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise servers.ServerError("fake did not start: " + self.output())
            time.sleep(0.02)  # poll interval


_LOOP = "import signal,sys,time\n{body}\nprint('ready', flush=True)\n" \
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit({rc}))\nwhile True: time.sleep(1)\n"


@pytest.mark.parametrize("body,rc,fails", [
    ("pass", 0, False),
    ("print('==1==ERROR: AddressSanitizer: heap-use-after-free', flush=True)", 0, True),
    ("print('x.c:1:2: runtime error: signed integer overflow', flush=True)", 0, True),
    ("pass", 3, True),
])
def test_stop_checks_exit_and_sanitizers(tmp_path, body, rc, fails):
    srv = _Fake(tmp_path, _LOOP.format(body=body, rc=rc)).start()
    if fails:
        with pytest.raises(servers.ServerError):
            srv.stop()
    else:
        srv.stop()
    assert srv.proc is None
