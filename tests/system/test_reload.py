# SPDX-License-Identifier: MIT
"""test_reload: ctl reload (and SIGHUP) re-read the configuration: zones, keys, remotes, ACLs
and templates added, changed and removed while a client queries all the time."""

import base64
import json
import os
import signal
import subprocess
import threading
import time

import dns.message
import dns.query
import dns.rcode
import dns.rrset
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.zone
import pytest

import servers
from servers import wait_for

SECRET = base64.b64encode(b"understudy-reload-test-key-32byt").decode()
OTHER = base64.b64encode(b"another-secret-for-the-reload-tt").decode()


def zone_text(origin, serial, host=1):
    return f"""$ORIGIN {origin}.
$TTL 300
@ SOA ns1 hostmaster {serial} 2 1 60 60
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.{host}
"""


class Node(servers.Understudy):
    """understudy whose configuration the test writes as YAML sections, and rewrites."""

    def __init__(self, workdir, binary, name):
        self.name = name
        super().__init__(workdir, zones=[], binary=binary)
        self.sections = ""
        self.server_extra = ""
        self.ready_zones = []

    def zone_file(self, origin, serial, host=1):
        path = self.dir / f"{origin}.zone"
        path.write_text(zone_text(origin, serial, host))
        return path

    def write_config(self):
        self.conf.write_text(f"""server:
  listen: ["127.0.0.1@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
  fleet-interval: 0
{self.server_extra}log: {{target: stderr, level: info}}
{self.sections}""")
        self.zones = [(o, None) for o in self.ready_zones]

    def reconfigure(self, sections, server_extra=""):
        """Rewrites the configuration (same port) and runs ctl reload: (code, output)."""
        self.sections = sections
        self.server_extra = server_extra
        self.write_config()
        return self.ctl("reload")


def rcode_of(srv, origin, rdtype="SOA", timeout=1.0):
    try:
        r = srv.query(dns.message.make_query(origin, rdtype), timeout=timeout)
    except Exception:
        srv.close_sockets()
        return None
    return r.rcode()


def serial_of(srv, origin):
    try:
        r = srv.query(dns.message.make_query(origin, "SOA"), timeout=0.5)
    except Exception:
        srv.close_sockets()
        return None
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return None
    return r.answer[0][0].serial


def axfr_rcode(srv, origin, key=None):
    q = dns.message.make_query(origin, "AXFR")
    if key:
        q.use_tsig(dns.tsigkeyring.from_text({"k1": key}), keyname="k1",
                   algorithm="hmac-sha256")
    try:
        r = dns.query.tcp(q, srv.addr, port=srv.port, timeout=3)
    except dns.tsig.PeerBadSignature:
        return "BADSIG"  # NOTAUTH with TSIG error BADSIG: the key is not the server's
    return r.rcode()


class QueryLoop:
    """Asks SOA of each zone in turn, over UDP and every fourth over TCP, all the time, on its
    own sockets; counts answers that are not NOERROR with the SOA, and timeouts, and keeps the
    slowest answer's time."""

    def __init__(self, srv, origins):
        self.srv, self.origins = srv, origins
        self.ok = 0
        self.failed = []
        self.slowest = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        i = 0
        while not self.stop.is_set():
            origin = self.origins[i % len(self.origins)]
            tcp = i % 4 == 3
            i += 1
            q = dns.message.make_query(origin, "SOA")
            t0 = time.monotonic()
            try:
                if tcp:
                    r = dns.query.tcp(q, self.srv.addr, port=self.srv.port, timeout=1.0)
                else:
                    r = dns.query.udp(q, self.srv.addr, port=self.srv.port, timeout=1.0)
                self.slowest = max(self.slowest, time.monotonic() - t0)
                if r.rcode() == dns.rcode.NOERROR and r.answer:
                    self.ok += 1
                else:
                    self.failed.append((origin, tcp, dns.rcode.to_text(r.rcode())))
            except Exception as e:  # a timeout is an unanswered query
                self.failed.append((origin, tcp, repr(e)))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def keys_yaml(secret=SECRET):
    return f'keys:\n  - {{id: k1, algorithm: hmac-sha256, secret: "{secret}"}}\n'


def primary_zones(node, origins, acl=None):
    out = "zones:\n"
    for o in origins:
        path = node.dir / f"{o}.zone"
        if not path.exists():
            node.zone_file(o, 1)
        out += f'  - domain: {o}\n    role: primary\n    file: "{path}"\n'
        if acl:
            out += f"    acl: [{acl}]\n"
    return out


@pytest.fixture
def primary(tmp_path, understudy_binary):
    p = Node(tmp_path, understudy_binary, "primary")
    p.ready_zones = ["a.test", "b.test"]
    p.sections = (keys_yaml() + "acls:\n"
                  "  - {id: xfr, address: [127.0.0.0/8], key: k1, action: transfer}\n"
                  + primary_zones(p, ["a.test", "b.test"], acl="xfr"))
    p.start()
    yield p
    p.stop()


def test_primary_zones_added_and_removed_without_a_gap(primary):
    base = (keys_yaml() + "acls:\n"
            "  - {id: xfr, address: [127.0.0.0/8], key: k1, action: transfer}\n")
    with QueryLoop(primary, ["a.test"]) as loop:
        code, out = primary.reconfigure(base + primary_zones(primary, ["a.test", "b.test",
                                                                       "c.test"], acl="xfr"))
        assert code == 0, out
        assert "c.test: added" in out, out
        assert serial_of(primary, "c.test") == 1
        code, out = primary.reconfigure(base + primary_zones(primary, ["a.test", "c.test"],
                                                             acl="xfr"))
        assert code == 0, out
        assert "b.test: removed" in out, out
        # Not ours any more: REFUSED, as for any zone we do not serve.
        assert rcode_of(primary, "b.test") == dns.rcode.REFUSED
        assert rcode_of(primary, "www.b.test", "A") == dns.rcode.REFUSED
        code, out = primary.ctl("zone-status", "b.test")
        assert code != 0 and "no such zone" in out, out
        # A changed zone file of a zone that stays is read again by the same reload.
        primary.zone_file("a.test", 2, host=9)
        code, out = primary.reconfigure(primary.sections)
        assert code == 0, out
        assert serial_of(primary, "a.test") == 2
        for _ in range(3):
            assert primary.reconfigure(primary.sections)[0] == 0
        time.sleep(0.2)  # the loop's last queries, after the last reload
    assert loop.ok > 20, loop.ok
    assert loop.failed == [], loop.failed[:10]
    assert "added by the configuration" in primary.output()


def test_acl_and_key_changes_take_effect(primary):
    # The ACL asks for k1: unsigned is refused, signed with k1 allowed.
    assert axfr_rcode(primary, "a.test") == dns.rcode.REFUSED
    assert axfr_rcode(primary, "a.test", key=SECRET) == dns.rcode.NOERROR
    # The key's secret changes: the old one no longer verifies (NOTAUTH), the new one does.
    code, out = primary.reconfigure(
        keys_yaml(OTHER) + "acls:\n"
        "  - {id: xfr, address: [127.0.0.0/8], key: k1, action: transfer}\n"
        + primary_zones(primary, ["a.test", "b.test"], acl="xfr"))
    assert code == 0, out
    assert axfr_rcode(primary, "a.test", key=SECRET) == "BADSIG"
    assert axfr_rcode(primary, "a.test", key=OTHER) == dns.rcode.NOERROR
    # A new ACL without a key, by a template `default`: unsigned is allowed after.
    code, out = primary.reconfigure(
        keys_yaml(OTHER) + "acls:\n  - {id: open, address: [127.0.0.0/8], action: transfer}\n"
        "templates:\n  - {id: default, acl: [open]}\n" + primary_zones(primary, ["a.test",
                                                                               "b.test"]))
    assert code == 0, out
    assert axfr_rcode(primary, "a.test") == dns.rcode.NOERROR
    # And no ACL at all: refused again.
    code, out = primary.reconfigure(keys_yaml(OTHER) + primary_zones(primary, ["a.test"]))
    assert code == 0, out
    assert axfr_rcode(primary, "a.test") == dns.rcode.REFUSED


def test_broken_config_changes_nothing(primary):
    good = primary.sections
    status_before = primary.ctl("zone-status")[1]
    with QueryLoop(primary, ["a.test", "b.test"]) as loop:
        bad = good + "  - domain: c.test\n    role: secondary\n"
        code, out = primary.reconfigure(bad)
        assert code != 0, out
        assert "nothing changed" in out, out
        assert 'a secondary zone needs "primaries"' in out, out
        assert f"{primary.conf}:" in out, out  # FILE:LINE of the problem
        code, out = primary.reconfigure(good.replace("zones:", "zones: [\n"))
        assert code != 0, out
        assert rcode_of(primary, "c.test") == dns.rcode.REFUSED
        assert serial_of(primary, "a.test") == 1
        time.sleep(0.2)
    assert loop.failed == [], loop.failed[:10]
    # The zones' state is what it was (serials, load times).
    assert primary.ctl("zone-status")[1] == status_before
    # Settings that need a restart are named, and keep their running values.
    code, out = primary.reconfigure(good, server_extra="  tcp-workers: 2\n")
    assert code == 0, out
    assert "needs a restart: server.tcp-workers" in out, out
    assert "tcp-workers=1" in primary.ctl("status")[1]


def test_check_conf_checks_templates(primary):
    bad = primary.dir / "bad.yaml"
    bad.write_text("templates:\n  - {id: t, acl: [nope]}\nzones:\n  - domain: a.test\n"
                   "    template: u\n")
    p = subprocess.run([primary.binary, "check-conf", "-c", str(bad)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0
    assert f'{bad}:2: acl: unknown acl "nope"' in p.stdout + p.stderr
    assert f'{bad}:5: template: unknown template "u"' in p.stdout + p.stderr
    p = subprocess.run([primary.binary, "check-conf", "-c", str(primary.conf)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


def test_sighup_reloads_the_configuration(primary):
    primary.sections = primary.sections + (
        f'  - domain: d.test\n    role: primary\n    file: "{primary.zone_file("d.test", 5)}"\n')
    primary.write_config()
    os.kill(primary.proc.pid, signal.SIGHUP)
    wait_for(lambda: serial_of(primary, "d.test") == 5, what="d.test after SIGHUP", srv=primary)


def test_thousand_zones_added_in_one_reload(primary):
    origins = [f"z{i}.test" for i in range(1000)]
    sections = (keys_yaml() + "acls:\n"
                "  - {id: xfr, address: [127.0.0.0/8], key: k1, action: transfer}\n"
                + primary_zones(primary, ["a.test", "b.test"] + origins, acl="xfr"))
    with QueryLoop(primary, ["a.test", "b.test"]) as loop:
        t0 = time.monotonic()
        code, out = primary.reconfigure(sections)
        took = time.monotonic() - t0
        assert code == 0, out
        assert "1000 added" in out, out[-500:]
        time.sleep(0.2)
    assert loop.failed == [], loop.failed[:10]
    missing = [o for o in origins if serial_of(primary, o) != 1]
    assert missing == [], missing[:10]
    print(f"1000 zones added in one reload: {took:.2f} s; {loop.ok} answers meanwhile, the "
          f"slowest in {loop.slowest * 1000:.1f} ms (noisy shared machine)")
    # And removed again in one.
    code, out = primary.reconfigure(sections.split("  - domain: z0.test")[0])
    assert code == 0, out
    assert "1000 removed" in out, out[-500:]
    assert rcode_of(primary, "z999.test") == dns.rcode.REFUSED
    assert serial_of(primary, "a.test") == 1



def journal_of(srv, origin):
    """(changes, oldest serial) of the zone's journal, as zone-status says."""
    code, text = srv.ctl("--json", "zone-status", origin)
    assert code == 0, text
    (z,) = json.loads(text)["zones"]
    return z["journal_changes"], z["journal_from"]


def test_thousand_zone_files_changed_in_one_reload(primary):
    """A reload that finds 1,000 changed zone files stores their versions in batches (a sync
    for many) and serves each once stored: all of them serve the new serial with its change
    in the journal, and after a kill -9 the restarted server serves and journals the same."""
    origins = [f"c{i}.test" for i in range(1000)]
    base = (keys_yaml() + "acls:\n"
            "  - {id: xfr, address: [127.0.0.0/8], key: k1, action: transfer}\n")
    code, out = primary.reconfigure(base + primary_zones(primary, origins, acl="xfr"))
    assert code == 0 and "1000 added" in out, out[-500:]
    for o in origins:
        primary.zone_file(o, 2, host=7)
    t0 = time.monotonic()
    code, out = primary.ctl("reload")
    took = time.monotonic() - t0
    assert code == 0, out
    assert out.count(": serial 2\n") == 1000, out[-500:]
    stale = [o for o in origins if serial_of(primary, o) != 2]
    assert stale == [], stale[:10]
    assert journal_of(primary, "c999.test") == (1, 1)
    print(f"1000 changed zone files in one reload: {took:.2f} s (noisy shared machine)")
    primary.proc.kill()
    primary.proc.wait()
    primary.ready_zones = ["c0.test"]
    primary.start()
    stale = [o for o in origins if serial_of(primary, o) != 2]
    assert stale == [], stale[:10]
    assert journal_of(primary, "c0.test") == (1, 1)

def secondary_sections(primary_port, zones, secret=SECRET):
    out = keys_yaml(secret) + "remotes:\n"
    out += f'  - {{id: pri, address: ["127.0.0.1@{primary_port}"], key: k1}}\n'
    out += '  - {id: dead, address: ["127.0.0.1@9"], key: k1}\n'
    out += "templates:\n  - {id: default, role: secondary, primaries: [pri]}\n"
    out += "zones:\n"
    for origin, extra in zones:
        out += f"  - domain: {origin}\n{extra}"
    return out


def test_secondary_zones_bootstrap_change_primaries_and_are_purged(primary, tmp_path,
                                                                   understudy_binary):
    sec = Node(tmp_path, understudy_binary, "secondary")
    sec.ready_zones = ["a.test"]
    sec.sections = secondary_sections(primary.port, [("a.test", "")])
    sec.start()
    try:
        with QueryLoop(sec, ["a.test"]) as loop:
            # Added: b.test bootstraps from the primary.
            code, out = sec.reconfigure(secondary_sections(primary.port,
                                                           [("a.test", ""), ("b.test", "")]))
            assert code == 0, out
            wait_for(lambda: serial_of(sec, "b.test") == 1, what="b.test transferred", srv=sec)
            # A zone whose primary cannot be reached, then given the right one: transferred
            # at once, not at its next refresh.
            code, out = sec.reconfigure(secondary_sections(
                primary.port, [("a.test", ""), ("b.test", ""),
                               ("c.test", "    primaries: [dead]\n")]))
            assert code == 0, out
            primary.reconfigure(primary.sections.replace(
                "zones:\n", "zones:\n  - {domain: c.test, file: "
                f'"{primary.zone_file("c.test", 3)}", acl: [xfr]}}\n'))
            assert serial_of(primary, "c.test") == 3
            time.sleep(0.5)
            assert serial_of(sec, "c.test") is None
            code, out = sec.reconfigure(secondary_sections(
                primary.port, [("a.test", ""), ("b.test", ""), ("c.test", "")]))
            assert code == 0, out
            wait_for(lambda: serial_of(sec, "c.test") == 3, timeout=10,
                     what="c.test from its new primary", srv=sec)
            # A wrong key: the transfer of a new zone is refused until the key is right.
            code, out = sec.reconfigure(secondary_sections(
                primary.port, [("a.test", ""), ("b.test", ""), ("c.test", "")], secret=OTHER))
            assert code == 0, out
            primary.zone_file("b.test", 7)
            assert primary.ctl("reload", "b.test")[0] == 0
            sec.ctl("refresh", "b.test")
            wait_for(lambda: "TSIG" in sec.output() or "BADSIG" in sec.output()
                     or "NOTAUTH" in sec.output(), what="a TSIG failure", srv=sec)
            assert serial_of(sec, "b.test") == 1
            code, out = sec.reconfigure(secondary_sections(
                primary.port, [("a.test", ""), ("b.test", ""), ("c.test", "")]))
            assert code == 0, out
            wait_for(lambda: serial_of(sec, "b.test") == 7, timeout=10,
                     what="b.test with the right key", srv=sec)
            # Removed: REFUSED, and its stored copy is gone: added back with a primary that
            # does not answer, it has nothing to serve.
            code, out = sec.reconfigure(secondary_sections(primary.port,
                                                           [("a.test", ""), ("c.test", "")]))
            assert code == 0, out
            assert "b.test: removed" in out
            assert rcode_of(sec, "b.test") == dns.rcode.REFUSED
            code, out = sec.reconfigure(secondary_sections(
                primary.port, [("a.test", ""), ("c.test", ""),
                               ("b.test", "    primaries: [dead]\n")]))
            assert code == 0, out
            wait_for(lambda: "zone b.test: no copy stored yet" in
                     sec.output().split("zone b.test: added by the configuration")[-1],
                     what="b.test without a stored copy", srv=sec)
            time.sleep(0.3)
            assert serial_of(sec, "b.test") is None
            code, out = sec.ctl("zone-status", "b.test")
            assert "serial=none" in out, out
            time.sleep(0.2)
        assert loop.failed == [], loop.failed[:10]
        assert loop.ok > 20
    finally:
        sec.stop()


def test_zone_removed_while_its_transfer_runs(primary, tmp_path, understudy_binary):
    """A job in flight against the old configuration finishes against it, and the removed
    zone goes once it has; the fleet monitor (on here) is rebuilt for the new zone set."""
    import socket
    # Takes connections (the kernel's backlog) and never answers a byte.
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    hole_port = hole.getsockname()[1]
    sec = Node(tmp_path, understudy_binary, "secondary2")
    sec.ready_zones = ["a.test"]
    sections = lambda zones: secondary_sections(primary.port, zones).replace(
        "remotes:\n", f'remotes:\n  - {{id: hole, address: ["127.0.0.1@{hole_port}"]}}\n')
    sec.sections = sections([("a.test", "")])
    sec.start()
    sec.conf.write_text(sec.conf.read_text().replace("  fleet-interval: 0\n", ""))
    try:
        with QueryLoop(sec, ["a.test"]) as loop:
            for round_ in range(3):
                code, out = sec.reconfigure(sections(
                    [("a.test", ""), ("h.test", "    primaries: [hole]\n    transfer-idle-timeout: 2\n")]
                ).replace("  fleet-interval: 0\n", ""))
                assert code == 0, out
                wait_for(lambda: "running" in sec.ctl("zone-status", "h.test")[1],
                         what="h.test's check under way", srv=sec)
                code, out = sec.reconfigure(sections([("a.test", "")]))
                assert code == 0, out
                assert "h.test: removed" in out, out
                assert rcode_of(sec, "h.test") == dns.rcode.REFUSED
            time.sleep(2.5)  # the checks in flight time out against the old configuration
            assert sec.running()
            assert sec.ctl("fleet")[0] == 0
            assert serial_of(sec, "a.test") == 1
        assert loop.failed == [], loop.failed[:10]
    finally:
        sec.stop()
        hole.close()


def test_fleet_observations_outlive_a_reload(primary, tmp_path, understudy_binary):
    """A reload (and so every catalog change) keeps what the fleet view knows of the copies of
    the zones that stay, and their schedule: with the watched copy frozen after its first
    check, it still shows in sync with its serial right after a reload, and until its next
    check is due (fleet-interval 60 s)."""
    w = Node(tmp_path / "watcher", understudy_binary, "watcher")
    w.dir.mkdir(exist_ok=True)
    w.ready_zones = ["a.test"]
    remote = ("remotes:\n"
              f'  - {{id: other, address: ["127.0.0.1@{primary.port}"]}}\n')

    def zones(origins):
        out = "zones:\n"
        for o in origins:
            out += (f'  - domain: {o}\n    role: primary\n    file: "{w.zone_file(o, 1)}"\n'
                    "    watch: [other]\n    fleet-interval: 60\n")
        return out

    def other():
        code, text = w.ctl("--json", "fleet", "a.test")
        assert code == 0, text
        (zone,) = json.loads(text)["zones"]
        return next(s for s in zone["servers"] if s["address"] == f"127.0.0.1@{primary.port}")

    w.sections = remote + zones(["a.test"])
    w.start()
    try:
        wait_for(lambda: other()["serial"] == 1, what="the watched copy's first check", srv=w)
        os.kill(primary.proc.pid, signal.SIGSTOP)
        try:
            code, out = w.reconfigure(remote + zones(["a.test", "b.test"]))
            assert code == 0 and "b.test: added" in out, out
            for _ in range(3):
                seen = other()
                assert seen["serial"] == 1 and seen["in_sync"] and seen["error"] is None, seen
                time.sleep(1)
            code, text = w.ctl("--json", "fleet", "b.test")
            assert code == 0 and json.loads(text)["zones"][0]["zone"] == "b.test", text
        finally:
            os.kill(primary.proc.pid, signal.SIGCONT)
    finally:
        w.stop()
