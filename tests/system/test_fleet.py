# SPDX-License-Identifier: MIT
"""test_fleet: the fleet view, with knotd and nsd as the other copies.

    fleet view      a knotd primary; secondaries understudy, knotd and nsd, all with TSIG; the
                    understudy watches the other two, and knotd again at a second address with
                    a key knotd does not know. One copy frozen (SIGSTOP) through a change: the
                    fleet names it behind by the right lag within one fleet-interval while the
                    others are in sync with a propagation time; thawed, it is back in sync, and
                    the log says both. The bad key shows as BADKEY.
    NOTIFY at start an understudy primary restarts with an unchanged serial after its knotd and
                    nsd secondaries expired: its first checks find them expired and NOTIFY
                    them, so they serve again within seconds (knotd alone takes 30 s, nsd more
                    than a minute).
    ctl --json      every command answers one JSON document.
"""

import base64
import json
import os
import re
import signal
import subprocess
import time

import dns.message
import dns.rcode
import pytest

import servers
from servers import wait_for

ORIGIN = "fleet.test"
KEY = "fleet-key"
SECRET = base64.b64encode(b"understudy-fleet-test-key-000032").decode()
OTHER = base64.b64encode(b"a-key-the-primary-does-not-know!").decode()
INTERVAL = 5  # fleet-interval of the watching understudy


def zone_text(serial, refresh=7200, retry=3600, expire=1209600):
    return f"""$ORIGIN {ORIGIN}.
$TTL 300
@       SOA  ns1 hostmaster {serial} {refresh} {retry} {expire} 300
        NS   ns1
ns1     A    192.0.2.1
www     A    192.0.2.80
serial  TXT  "{serial}"
"""


def serial_of(srv, timeout=0.5):
    try:
        r = srv.query(dns.message.make_query(ORIGIN, "SOA"), timeout=timeout)
    except Exception:  # noqa: BLE001 - no answer is an answer here
        return None
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return dns.rcode.to_text(r.rcode())
    return r.answer[0][0].serial


class KnotPrimary(servers.Knotd):
    """knotd with the zone, transfers by key, NOTIFY with the key to every secondary; it also
    listens on 127.0.0.2, where the understudy watches it with a key it does not know."""

    def __init__(self, workdir, zone_path, notify_ports):
        super().__init__(workdir, zones=[(ORIGIN, zone_path)])
        self.notify_ports = notify_ports

    def write_config(self):
        super().write_config()
        text = self.conf.read_text()
        text = text.replace(f"listen: [ {servers._listen_list(self.addrs, self.port)} ]",
                            f"listen: [ {servers._listen_list(self.addrs, self.port)}, "
                            f"127.0.0.2@{self.port} ]")
        remotes = "".join(f"  - id: s{i}\n    address: 127.0.0.1@{p}\n    key: {KEY}\n"
                          for i, p in enumerate(self.notify_ports))
        head, zones = text.split("zone:\n", 1)
        head += f"""key:
  - id: {KEY}
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
{remotes}acl:
  - id: xfr
    key: {KEY}
    action: transfer
"""
        ids = ", ".join(f"s{i}" for i in range(len(self.notify_ports)))
        zones = zones.replace('file: "', f'notify: [{ids}]\n    acl: xfr\n    file: "', 1)
        self.conf.write_text(head + "zone:\n" + zones)

    def change(self, serial):
        path = dict(self.zones)[ORIGIN]
        path.write_text(zone_text(serial))
        subprocess.run(["knotc", "-s", str(self.dir / "run" / "knot.sock"), "zone-reload",
                        ORIGIN], check=True, capture_output=True, timeout=30)


class KnotSecondary(servers.Knotd):
    """knotd as a secondary of the primary at primary_port, by key."""

    name = "knotd-secondary"

    def __init__(self, workdir, primary_port, refresh_min=2):
        super().__init__(workdir, zones=[])
        self.primary_port = primary_port
        self.refresh_min = refresh_min
        self.zones = [(ORIGIN, self.dir / "zones" / f"{ORIGIN}.zone")]

    def write_config(self):
        super().write_config()
        text = self.conf.read_text().split("zone:\n", 1)[0]
        text = text.replace("    semantic-checks: off\n", f"""    semantic-checks: off
    refresh-min-interval: {self.refresh_min}
    retry-min-interval: 1
    expire-min-interval: 3
""")
        self.conf.write_text(text + f"""key:
  - id: {KEY}
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
  - id: pri
    address: 127.0.0.1@{self.primary_port}
    key: {KEY}
acl:
  - id: notify
    key: {KEY}
    action: notify
zone:
  - domain: "{ORIGIN}"
    master: pri
    acl: notify
    file: "{self.dir}/zones/{ORIGIN}.zone"
""")

    def freeze(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.proc.pid, signal.SIGCONT)


class NsdSecondary(servers.Nsd):
    """nsd as a secondary of the primary at primary_port, by key."""

    name = "nsd-secondary"

    def __init__(self, workdir, primary_port, refresh_min=2):
        super().__init__(workdir, zones=[])
        self.primary_port = primary_port
        self.refresh_min = refresh_min
        self.zones = [(ORIGIN, None)]

    def write_config(self):
        zones, self.zones = self.zones, []  # the base class would write them as primaries
        super().write_config()
        self.zones = zones
        self.conf.write_text(self.conf.read_text().replace("remote-control:", f"""key:
    name: "{KEY}"
    algorithm: hmac-sha256
    secret: "{SECRET}"
zone:
    name: "{ORIGIN}"
    zonefile: "{self.dir}/{ORIGIN}.zone"
    request-xfr: 127.0.0.1@{self.primary_port} {KEY}
    allow-notify: 127.0.0.1 {KEY}
    min-refresh-time: {self.refresh_min}
    min-retry-time: 1
    min-expire-time: 3
remote-control:""", 1))


class Watcher(servers.Understudy):
    """understudy as a secondary of the knotd primary, watching the other copies."""

    def __init__(self, workdir, binary, primary_port, watch):
        super().__init__(workdir, zones=[], binary=binary)
        self.primary_port = primary_port
        self.watch = watch  # [(id, address, key id)]
        self.zones = [(ORIGIN, None)]

    def write_config(self):
        remotes = "".join(f'  - {{id: {i}, address: "{a}", key: {k}}}\n'
                          for i, a, k in self.watch)
        self.conf.write_text(f"""server:
  listen: ["127.0.0.1@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
log: {{target: stderr, level: info}}
keys:
  - {{id: {KEY}, algorithm: hmac-sha256, secret: "{SECRET}"}}
  - {{id: other-key, algorithm: hmac-sha256, secret: "{OTHER}"}}
remotes:
  - {{id: pri, address: "127.0.0.1@{self.primary_port}", key: {KEY}}}
{remotes}zones:
  - domain: {ORIGIN}
    role: secondary
    primaries: [pri]
    watch: [{", ".join(i for i, _, _ in self.watch)}]
    fleet-interval: {INTERVAL}
""")


def fleet(us):
    code, text = us.ctl("--json", "fleet", ORIGIN)
    assert code == 0, text
    doc = json.loads(text)
    (zone,) = doc["zones"]
    assert zone["zone"] == ORIGIN
    return zone, {s["address"]: s for s in zone["servers"]}


def stop_all(*srvs):
    errors = []
    for s in srvs:
        try:
            s.stop()
        except servers.ServerError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


def test_fleet_view_with_real_peers(tmp_path, understudy_binary):
    ports = [servers.free_port() for _ in range(3)]  # understudy, knotd and nsd secondaries
    src = tmp_path / f"{ORIGIN}.zone"
    src.write_text(zone_text(1))
    pri = KnotPrimary(tmp_path, src, ports)
    pri.start()
    ksec = KnotSecondary(tmp_path, pri.port)
    ksec.fixed_port = ports[1]
    nsec = NsdSecondary(tmp_path, pri.port)
    nsec.fixed_port = ports[2]
    us = Watcher(tmp_path, understudy_binary, pri.port, [
        ("ksec", f"127.0.0.1@{ports[1]}", KEY),
        ("nsec", f"127.0.0.1@{ports[2]}", KEY),
        ("pri-other-key", f"127.0.0.2@{pri.port}", "other-key"),
    ])
    us.fixed_port = ports[0]
    srvs = [pri]
    try:
        for s in (ksec, nsec, us):
            s.start()
            srvs.append(s)
        kp, ks, ns = (f"127.0.0.1@{p}" for p in (pri.port, ports[1], ports[2]))
        bad = f"127.0.0.2@{pri.port}"

        def settled():
            _, by = fleet(us)
            return all(by[a]["in_sync"] for a in (kp, ks, ns)) and by[bad]["error"]
        wait_for(settled, 3 * INTERVAL, "every copy in sync at serial 1", us)
        zone, by = fleet(us)
        assert zone["serial"] == 1
        assert set(by) == {f"127.0.0.1@{us.port}", kp, ks, ns, bad}
        assert by[f"127.0.0.1@{us.port}"]["roles"] == ["self"]
        assert by[kp]["roles"] == ["primary"] and by[ks]["roles"] == ["watch"]
        # knotd refuses a key it does not know with NOTAUTH and TSIG error BADKEY.
        assert by[bad]["error"] == "BADKEY", by[bad]
        assert not by[bad]["in_sync"] and by[bad]["serial"] is None

        # The knotd secondary is frozen through a change.
        ksec.freeze()
        t0 = time.monotonic()
        pri.change(2)
        wait_for(lambda: serial_of(us) == 2, 15, "serial 2 on understudy", us)
        seen = time.monotonic()

        def behind():
            _, b = fleet(us)
            return not b[ks]["in_sync"] and b[ks]["lag"] == 1
        wait_for(behind, INTERVAL, "the frozen copy named behind", us)
        assert time.monotonic() - seen < INTERVAL  # within one interval of the change
        # knotd NOTIFYs its secondaries one after another, the frozen one first: nsd may wait.
        wait_for(lambda: fleet(us)[1][ns]["in_sync"], 30, "nsd in sync at serial 2", us)
        zone, by = fleet(us)
        assert zone["serial"] == 2
        assert by[ks]["serial"] == 1 and by[ks]["behind_seconds"] >= 0
        for a in (kp, ns):
            assert by[a]["in_sync"] and by[a]["serial"] == 2
        # How long nsd took to have the change: at most what the test saw pass.
        assert 0 <= by[ns]["last_propagation_ms"] <= (time.monotonic() - t0) * 1000, by[ns]
        wait_for(lambda: fleet(us)[1][ks]["error"] == "timeout", 2 * INTERVAL,
                 "the frozen copy's check to time out", us)
        # Frozen for longer than an interval: out of sync, said once in the log.
        wait_for(lambda: re.search(rf"fleet: {re.escape(ks)} \(ksec\) is out of sync: serial 1, "
                                   r"1 behind 2", us.output()), 3 * INTERVAL,
                 "the out-of-sync log line", us)
        frozen = time.monotonic() - t0

        ksec.thaw()
        wait_for(lambda: fleet(us)[1][ks]["in_sync"], 40, "the thawed copy back in sync", us)
        _, by = fleet(us)
        assert by[ks]["serial"] == 2 and by[ks]["lag"] == 0 and by[ks]["error"] is None
        # It took about as long as it was frozen to get the change.
        assert by[ks]["last_propagation_ms"] >= (frozen - 1) * 1000, (by[ks], frozen)
        assert re.search(rf"fleet: {re.escape(ks)} \(ksec\) is back in sync at serial 2",
                         us.output()), us.output()
        # The table says the same to a person.
        code, text = us.ctl("fleet", ORIGIN)
        assert code == 0, text
        rows = {line.split()[0]: line for line in text.splitlines()[2:]}
        assert re.search(r"\bwatch\s+2\s+0 yes\b", rows[ks]), text
        assert "BADKEY" in rows[bad], text
    finally:
        for s in srvs:
            if s is ksec and s.running():
                s.thaw()
        stop_all(*reversed(srvs))


class Primary(servers.Understudy):
    """understudy primary of the zone, telling (and watching) its knotd and nsd secondaries."""

    def __init__(self, workdir, binary, zone_path, ports):
        super().__init__(workdir, zones=[(ORIGIN, zone_path)], binary=binary)
        self.ports = ports

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
  - {{id: ksec, address: "127.0.0.1@{self.ports[0]}", key: {KEY}}}
  - {{id: nsec, address: "127.0.0.1@{self.ports[1]}", key: {KEY}}}
acls:
  - {{id: xfr, key: {KEY}, action: transfer}}
zones:
  - domain: {ORIGIN}
    role: primary
    file: "{dict(self.zones)[ORIGIN]}"
    notify: [ksec, nsec]
    acl: [xfr]
""")


def test_expired_copies_are_notified_at_start(tmp_path, understudy_binary):
    ports = [servers.free_port(), servers.free_port()]
    src = tmp_path / f"{ORIGIN}.zone"
    # nsd notices an expiry only when a refresh fails, so refreshes are frequent; once a
    # refresh fails, both back off (knotd to 20 s and more, nsd to a minute and more).
    src.write_text(zone_text(7, refresh=2, retry=1, expire=4))
    pri = Primary(tmp_path, understudy_binary, src, ports)
    pri.start()
    ksec = KnotSecondary(tmp_path, pri.port)
    ksec.fixed_port = ports[0]
    nsec = NsdSecondary(tmp_path, pri.port)
    nsec.fixed_port = ports[1]
    srvs = [pri]
    try:
        for s in (ksec, nsec):
            s.start()
            srvs.append(s)
        pri.stop()
        srvs.remove(pri)
        pri.fixed_port = pri.port  # back where the secondaries look for it
        wait_for(lambda: serial_of(ksec) == "SERVFAIL" and serial_of(nsec) == "SERVFAIL", 30,
                 "both secondaries expired")
        mark = time.monotonic()
        pri.start()  # the same file and storage: the serial did not change
        srvs.append(pri)
        wait_for(lambda: serial_of(ksec) == 7 and serial_of(nsec) == 7, 5,
                 "both secondaries serving again", pri)
        took = time.monotonic() - mark
        print(f"expired secondaries serve again {took:.1f} s after the primary restarts")
        # Each copy that the first checks found expired was told (one may have come back by its
        # own retry timer first, which these tests cannot hold off).
        out = pri.output()
        for p in ports:
            if re.search(rf"fleet: 127\.0\.0\.1@{p} \(\w+\) fails its SOA check: SERVFAIL", out):
                assert re.search(rf"fleet: 127\.0\.0\.1@{p} \(\w+\) SERVFAIL; sending NOTIFY",
                                 out), out
    finally:
        stop_all(*reversed(srvs))


def test_ctl_json_for_every_command(tmp_path, understudy_binary):
    src = tmp_path / f"{ORIGIN}.zone"
    src.write_text(zone_text(3))
    with servers.Understudy(tmp_path, zones=[(ORIGIN, src)], binary=understudy_binary) as us:
        for args in (["status"], ["zone-status"], ["zone-status", ORIGIN], ["fleet"],
                     ["reload", ORIGIN], ["sync"], ["notify", ORIGIN], ["refresh", ORIGIN],
                     ["nonsense"], ["zone-status", "no.such.zone"]):
            code, text = us.ctl("--json", *args)
            doc = json.loads(text)  # one document, whatever the outcome
            if args[0] in ("status",):
                assert doc["zones"] == 1 and doc["serving"] == 1 and doc["queries"] >= 0
            elif args[0] == "zone-status" and code == 0:
                (z,) = doc["zones"]
                assert z["zone"] == ORIGIN and z["serial"] == 3 and z["role"] == "primary"
                assert z["loaded"].endswith("Z") and z["journal_changes"] >= 0
            elif args[0] == "fleet":
                assert doc["zones"][0]["servers"][0]["roles"] == ["self"]
            elif code:
                assert doc["ok"] is False and doc["messages"], doc
            else:
                assert doc["ok"] is True, doc
        code, text = us.ctl("--json", "nonsense")
        assert code == 1 and "unknown command" in json.loads(text)["messages"][0]
