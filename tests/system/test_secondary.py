# SPDX-License-Identifier: MIT
"""test_secondary: understudy as the backup of a real primary (knotd), with TSIG."""

import base64
import os
import signal
import subprocess
import time

import dns.edns
import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.zone
import pytest

import servers
from servers import wait_for

SECRET = base64.b64encode(b"understudy-secondary-test-key-32").decode()
WRONG = base64.b64encode(b"not-the-right-secret-for-xfr-000").decode()


def zone_text(serial, extra=""):
    return f"""$TTL 300
@ SOA ns1 hostmaster {serial} 2 1 20 60
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.{serial % 250 + 1}
{extra}"""


class KnotPrimary(servers.Knotd):
    """knotd serving example.com as a primary, TSIG for transfers, NOTIFY to understudy."""

    def __init__(self, workdir, zone_path, secondary_port):
        super().__init__(workdir, zones=[("example.com", zone_path)])
        self.secondary_port = secondary_port

    def write_config(self):
        super().write_config()
        text = self.conf.read_text()
        text = text.replace("    zonefile-load: whole\n", "    zonefile-load: difference-no-serial\n")
        text = text.replace("    journal-content: none\n", "    journal-content: all\n")
        head, zones = text.split("zone:\n", 1)
        head += f"""key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
  - id: backup
    address: 127.0.0.1@{self.secondary_port}
    key: xfr-key
acl:
  - id: xfr
    key: xfr-key
    action: transfer
"""
        zones = zones.replace('file: "', 'notify: backup\n    acl: xfr\n    file: "', 1)
        self.conf.write_text(head + "zone:\n" + zones)

    def reload(self):
        subprocess.run(["knotc", "-s", str(self.dir / "run" / "knot.sock"), "zone-reload",
                        "example.com"], check=True, capture_output=True, timeout=30)


class Backup(servers.Understudy):
    """understudy with example.com as a secondary of the given primary."""

    def __init__(self, workdir, binary, primary_port, secret=SECRET, key=True, extra=""):
        super().__init__(workdir, zones=[], binary=binary)
        self.primary_port = primary_port
        self.secret = secret
        self.key = key
        self.extra = extra
        self.zones = [("example.com", None)]

    def write_config(self):
        key = "    key: xfr-key\n" if self.key else ""
        self.conf.write_text(f"""server:
  listen: ["127.0.0.1@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
log: {{target: stderr, level: info}}
keys:
  - {{id: xfr-key, algorithm: hmac-sha256, secret: "{self.secret}"}}
remotes:
  - id: pri
    address: ["127.0.0.1@{self.primary_port}"]
{key}zones:
  - domain: example.com
    role: secondary
    primaries: [pri]
{self.extra}""")


def axfr(srv, keyed=False):
    kw = {}
    if keyed:
        kw = dict(keyring=dns.tsigkeyring.from_text({"xfr-key": SECRET}), keyname="xfr-key",
                  keyalgorithm="hmac-sha256")
    z = dns.zone.from_xfr(dns.query.xfr(srv.addr, "example.com", port=srv.port, timeout=5,
                                        relativize=False, **kw), relativize=False)
    return {(str(n), rds.rdtype, str(rd)) for n, rds in z.nodes.items()
            for rds in rds.rdatasets for rd in rds}


def same_contents(backup, knot):
    """Every RRset of the primary's AXFR is what the backup answers (transfers out from
    understudy come later, so the backup is read by queries)."""
    want = axfr(knot, keyed=True)
    rrsets = {}
    for name, rdtype, rdata in want:
        rrsets.setdefault((name, rdtype), set()).add(rdata)
    for (name, rdtype), rdatas in rrsets.items():
        r = backup.query(dns.message.make_query(name, rdtype), tcp=True)
        got = {rd.to_text() for rrset in r.answer if rrset.rdtype == rdtype for rd in rrset}
        assert got == rdatas, (name, rdtype, got, rdatas)
    return True


def serial(srv, timeout=0.5):
    try:
        r = srv.query(dns.message.make_query("example.com", "SOA"), timeout=timeout)
    except Exception:
        return None
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return ("rcode", r.rcode())
    return r.answer[0][0].serial


@pytest.fixture
def pair(tmp_path, understudy_binary):
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(zone_text(1))
    backup_port = servers.free_port()
    knot = KnotPrimary(tmp_path, zpath, backup_port)
    knot.start()
    backup = Backup(tmp_path, understudy_binary, knot.port)
    backup.fixed_port = backup_port
    backup.wait_ready = lambda timeout=30.0: wait_for(
        lambda: backup.proc.poll() is None and serial(backup) == 1, timeout, "bootstrap")
    yield knot, backup, zpath
    backup.stop()
    knot.stop()


def test_bootstrap_notify_and_ixfr(pair):
    knot, backup, _ = pair
    backup.start()
    out = backup.output()
    assert "AXFR example.com from 127.0.0.1@" in out and "finished" in out, out
    assert same_contents(backup, knot)
    kzone = dict(knot.zones)["example.com"]
    for n in (2, 3, 4):
        kzone.write_text(zone_text(n, f"new{n} TXT \"change {n}\"\n"))
        knot.reload()
        wait_for(lambda: serial(backup) == n, what=f"serial {n} on the backup")
        assert same_contents(backup, knot)
    assert "IXFR example.com" in backup.output(), backup.output()
    # EDNS EXPIRE (RFC 7314): what is left of the SOA expire (20 s), never more.
    q = dns.message.make_query("example.com", "SOA", use_edns=0,
                               options=[dns.edns.GenericOption(9, b"")])
    r = backup.query(q)
    opt = [o for o in r.options if o.otype == 9]
    assert opt and 0 < int.from_bytes(opt[0].to_wire(), "big") <= 20, r
    code, text = backup.ctl("zone-status", "example.com")
    assert "serial=4" in text and "role=secondary" in text and "primary=127.0.0.1@" in text


def test_restart_serves_stored_copy_while_primary_is_frozen(pair):
    knot, backup, _ = pair
    backup.start()
    knot.proc.send_signal(signal.SIGSTOP)
    try:
        backup.stop()
        t0 = time.monotonic()
        backup.wait_ready = lambda timeout=30.0: wait_for(
            lambda: serial(backup) == 1, 5, "the stored copy to be served")
        backup.start()
        assert time.monotonic() - t0 < 5
        assert "serving stored serial 1" in backup.output()
    finally:
        knot.proc.send_signal(signal.SIGCONT)


def test_wrong_secret_is_refused_and_nothing_served(tmp_path, understudy_binary):
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(zone_text(1))
    knot = KnotPrimary(tmp_path, zpath, servers.free_port())
    knot.start()
    backup = Backup(tmp_path, understudy_binary, knot.port, secret=WRONG)
    backup.wait_ready = lambda timeout=30.0: wait_for(
        lambda: "refresh failed" in backup.output(), timeout, "a failed refresh")
    backup.start()
    try:
        assert serial(backup) == ("rcode", dns.rcode.SERVFAIL)
        code, text = backup.ctl("zone-status", "example.com")
        assert "last-error=" in text
    finally:
        backup.stop()
        knot.stop()


def test_sync_writes_the_copy_to_its_file(tmp_path, understudy_binary):
    """`ctl sync` writes a secondary's copy to its `file`, whole and loadable; a secondary
    without a file, and a primary, are told apart."""
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(zone_text(7, 'txt TXT "a b" "c\\"d"\n*.w CNAME www\nsub NS ns.sub\n'
                              'ns.sub A 192.0.2.7\nu TYPE65000 \\# 2 abcd\n'))
    knot = KnotPrimary(tmp_path, zpath, servers.free_port())
    knot.start()
    copy = tmp_path / "copy" / "example.com.zone"
    copy.parent.mkdir()
    backup = Backup(tmp_path, understudy_binary, knot.port,
                    extra=f'    file: "{copy}"\n')
    backup.wait_ready = lambda timeout=30.0: wait_for(
        lambda: backup.proc.poll() is None and serial(backup) == 7, timeout, "bootstrap")
    try:
        backup.start()
        assert not copy.exists()
        code, text = backup.ctl("sync", "example.com")
        assert code == 0 and f"serial 7 written to {copy}" in text, text
        written = dns.zone.from_file(str(copy), "example.com", relativize=False)
        got = {(str(n), rds.rdtype, str(rd)) for n, rds in written.nodes.items()
               for rds in rds.rdatasets for rd in rds}
        assert got == axfr(knot, keyed=True)
        assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no temporary left
        r = subprocess.run([backup.binary, "check-zone", "example.com", str(copy)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        copy.parent.chmod(0o500)  # unwritable: a clear error, the old file kept
        try:
            code, text = backup.ctl("sync")
        finally:
            copy.parent.chmod(0o700)
        if os.geteuid() != 0:
            assert code != 0 and str(copy) in text, text
    finally:
        backup.stop()
        knot.stop()


def test_sync_without_a_file(pair):
    _, backup, _ = pair
    backup.start()
    code, text = backup.ctl("sync", "example.com")
    assert code != 0 and "no file configured" in text, text
    code, text = backup.ctl("sync")
    assert code == 0 and "no file configured" in text, text
