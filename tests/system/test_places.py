# SPDX-License-Identifier: MIT
"""test_places: a primary and two backups in three places, over slow and lossy links.

Three network namespaces (tests/system/places.py): the primary in place 0, backups in places 1
and 2, one-way delays 0-1 50 ms, 0-2 150 ms, 1-2 100 ms (round trips 100, 300 and 200 ms), 2 %
of the packets lost on every link, each way. Every server holds the zone with TSIG on NOTIFY
and transfers, with the timers a real zone has (refresh an hour): what moves a change is
NOTIFY, nothing polls.

    changes         CHANGES changes on the primary, each one record and a new serial, one
                    after another; for each the time from the primary serving it to each
                    backup serving it, polled from inside each place every 5 ms. Printed as
                    percentiles per place, in ms and in round trips of that place's link.
                    Goal: at most 2 round trips plus the transfer's (3 round trips) for
                    the changes that met no loss, and one TCP retransmission more for the
                    median. Measured: 1.5 (NOTIFY one way, IXFR on the connection kept open
                    since the last transfer, RFC 7828); before that was kept, 2.5 (a TCP
                    handshake first).
    partition       the backups cut off from the primary for PARTITION s, with a change made
                    at its start; after the heal, the time until every copy is equal again.
                    Goal: at most 3 s.

Run with understudy everywhere, and with knotd as the primary and as the backups. knotd as the
primary stops its NOTIFYs after about 10 s, so there our backups find the heal by their fleet
checks of the primary (fleet-interval 2 s), and the heal goal is fleet-interval plus 3 s; its
own wait before NOTIFY is in the propagation figures, so they are printed, not asserted. knotd
as a backup asks its SOA query first, so only the heal is asserted there, as with nsd and
named, the long version (PLACES_ALL=1, in `make check-slow`). PLACES_CHANGES sets the number
of changes (8), PLACES_PARTITION the partition's seconds (15).
"""

import base64
import os
import select
import socket
import statistics
import time

import dns.message
import dns.opcode
import dns.rcode
import pytest

import places
import servers
from servers import wait_for

ORIGIN = "places.test"
KEY = "places-key"
SECRET = base64.b64encode(b"understudy-places-test-key-00032").decode()
DELAYS = {(0, 1): 50, (0, 2): 150, (1, 2): 100}
LOSS_PERMILLE = 20
CHANGES = int(os.environ.get("PLACES_CHANGES", "8"))
PARTITION = int(os.environ.get("PLACES_PARTITION", "15"))  # seconds
FLEET_INTERVAL = 2  # of our backups of a knotd primary
PORT = 5300

pytestmark = pytest.mark.skipif(places.available() is not None,
                                reason=str(places.available()))


def zone_text(serial):
    return f"""$ORIGIN {ORIGIN}.
$TTL 300
@       SOA  ns1 hostmaster {serial} 3600 600 1209600 300
        NS   ns1
ns1     A    192.0.2.1
www     A    192.0.2.80
change  TXT  "serial {serial}"
"""


class UsPrimary(servers.Understudy):
    def __init__(self, workdir, binary, zone_path, net, backups):
        super().__init__(workdir, zones=[(ORIGIN, zone_path)], binary=binary)
        self.net, self.backups = net, backups

    def write_config(self):
        remotes = "".join(f'  - {{id: b{i}, address: "{self.net.addr(i)}@{PORT}", key: {KEY}}}\n'
                          for i in self.backups)
        ids = ", ".join(f"b{i}" for i in self.backups)
        self.conf.write_text(f"""server:
  listen: ["{self.addr}@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
log: {{target: stderr, level: debug}}
keys:
  - {{id: {KEY}, algorithm: hmac-sha256, secret: "{SECRET}"}}
remotes:
{remotes}acls:
  - {{id: xfr, key: {KEY}, action: transfer}}
zones:
  - domain: {ORIGIN}
    role: primary
    file: "{dict(self.zones)[ORIGIN]}"
    notify: [{ids}]
    acl: [xfr]
""")

    def change(self, serial):
        dict(self.zones)[ORIGIN].write_text(zone_text(serial))
        code, text = self.ctl("reload", ORIGIN)
        assert code == 0, text


class UsBackup(servers.Understudy):
    def __init__(self, workdir, binary, net, primary, fleet_interval=None):
        super().__init__(workdir, zones=[], binary=binary)
        self.net, self.primary = net, primary
        self.zones = [(ORIGIN, None)]
        self.fleet = f"    fleet-interval: {fleet_interval}\n" if fleet_interval else ""

    def write_config(self):
        self.conf.write_text(f"""server:
  listen: ["{self.addr}@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
log: {{target: stderr, level: debug}}
keys:
  - {{id: {KEY}, algorithm: hmac-sha256, secret: "{SECRET}"}}
remotes:
  - {{id: pri, address: "{self.net.addr(self.primary)}@{PORT}", key: {KEY}}}
zones:
  - domain: {ORIGIN}
    role: secondary
    primaries: [pri]
{self.fleet}""")


class KnotPrimary(servers.Knotd):
    def __init__(self, workdir, zone_path, net, backups):
        super().__init__(workdir, zones=[(ORIGIN, zone_path)])
        self.net, self.backups = net, backups

    def write_config(self):
        super().write_config()
        text = self.conf.read_text()
        remotes = "".join(f"  - id: b{i}\n    address: {self.net.addr(i)}@{PORT}\n"
                          f"    key: {KEY}\n" for i in self.backups)
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
        ids = ", ".join(f"b{i}" for i in self.backups)
        zones = zones.replace('file: "', f'notify: [{ids}]\n    acl: xfr\n    file: "', 1)
        self.conf.write_text(head + "zone:\n" + zones)

    def change(self, serial):
        dict(self.zones)[ORIGIN].write_text(zone_text(serial))
        p = servers.subprocess.run(
            ["knotc", "-s", str(self.dir / "run" / "knot.sock"), "zone-reload", ORIGIN],
            capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr


class KnotBackup(servers.Knotd):
    name = "knotd-backup"

    def __init__(self, workdir, net, primary):
        super().__init__(workdir, zones=[])
        self.net, self.primary = net, primary
        self.zones = [(ORIGIN, self.dir / "zones" / f"{ORIGIN}.zone")]

    def write_config(self):
        super().write_config()
        text = self.conf.read_text().split("zone:\n", 1)[0]
        self.conf.write_text(text + f"""key:
  - id: {KEY}
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
  - id: pri
    address: {self.net.addr(self.primary)}@{PORT}
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


class NsdBackup(servers.Nsd):
    name = "nsd-backup"

    def __init__(self, workdir, net, primary):
        super().__init__(workdir, zones=[])
        self.net, self.primary = net, primary
        self.zones = [(ORIGIN, None)]

    def write_config(self):
        zones, self.zones = self.zones, []  # the base class would write them as primaries
        super().write_config()
        self.zones = zones
        pri = self.net.addr(self.primary)
        self.conf.write_text(self.conf.read_text().replace("remote-control:", f"""key:
    name: "{KEY}"
    algorithm: hmac-sha256
    secret: "{SECRET}"
zone:
    name: "{ORIGIN}"
    zonefile: "{self.dir}/{ORIGIN}.zone"
    request-xfr: {pri}@{PORT} {KEY}
    allow-notify: {pri} {KEY}
remote-control:""", 1).replace("do-ip6: yes", "do-ip6: no"))


class NamedBackup(servers.Named):
    name = "named-backup"

    def __init__(self, workdir, net, primary):
        super().__init__(workdir, zones=[])
        self.net, self.primary = net, primary
        self.zones = [(ORIGIN, None)]

    def write_config(self):
        d, pri = self.dir, self.net.addr(self.primary)
        self.conf.write_text(f"""key "{KEY}" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {self.port} {{ {self.addr}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    automatic-interface-scan no;
}};
controls {{ }};
zone "{ORIGIN}" {{
    type secondary;
    file "{d}/{ORIGIN}.zone";
    primaries {{ {pri} port {PORT} key "{KEY}"; }};
    allow-notify {{ key "{KEY}"; }};
}};
""")


class Poller:
    """SOA queries to every server from inside its own place (no link crossed), every 5 ms."""

    def __init__(self, net, srvs):
        self.srvs = srvs
        self.socks = []
        for s in srvs:
            with net.inside(s.place):
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.connect((s.addr, s.port))
            u.setblocking(False)
            self.socks.append(u)
        self.query = dns.message.make_query(ORIGIN, "SOA")

    def close(self):
        for u in self.socks:
            u.close()

    def wait(self, serial, timeout, which=None):
        """{index: monotonic time it first answered serial (or a later one)}; None for a server
        that did not within timeout. which: the indexes to wait for (default: all)."""
        got = {}
        deadline = time.monotonic() + timeout
        which = set(range(len(self.socks)) if which is None else which)
        while not which <= set(got) and time.monotonic() < deadline:
            for i, u in enumerate(self.socks):
                if i not in got:
                    self.query.id = (self.query.id + 1) & 0xFFFF
                    try:
                        u.send(self.query.to_wire())
                    except OSError:
                        pass
            end = time.monotonic() + 0.005
            while (left := end - time.monotonic()) > 0:
                ready, _, _ = select.select(self.socks, [], [], left)
                for u in ready:
                    i = self.socks.index(u)
                    try:
                        r = dns.message.from_wire(u.recv(4096))
                    except (OSError, dns.exception.DNSException):
                        continue
                    if (i not in got and r.rcode() == dns.rcode.NOERROR and r.answer
                            and r.answer[0][0].serial >= serial):
                        got[i] = time.monotonic()
        return {i: got.get(i) for i in range(len(self.socks))}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def scenario(tmp_path, net, primary, backups, label, partition=True):
    """Runs the changes and the partition; returns (per-place propagation ms, heal ms, None
    without the partition)."""
    srvs = [primary] + backups
    poll = Poller(net, srvs)
    try:
        first = poll.wait(1, 60)
        assert all(first.values()), f"not every copy has serial 1: {first}"
        prop = {b.place: [] for b in backups}
        serial = 1
        for _ in range(CHANGES):
            serial += 1
            primary.change(serial)
            t = poll.wait(serial, 20)
            assert t[0] is not None, "the primary does not serve its change"
            for k, b in enumerate(backups, 1):
                assert t[k] is not None, f"{b.name} in place {b.place} missed serial {serial}"
                prop[b.place].append((t[k] - t[0]) * 1000)
    except BaseException:
        poll.close()
        raise
    heal_ms = None
    if partition:
        heal_ms = partition_heal(net, poll, primary, backups, serial)  # closes poll
    else:
        poll.close()
    report(net, label, backups, prop, heal_ms)
    return prop, heal_ms


def partition_heal(net, poll, primary, backups, serial):
    """The backups cut off, a change on the primary, the heal; ms until every copy has it."""
    srvs = [primary] + backups
    try:
        net.partition([0], [b.place for b in backups])
        serial += 1
        primary.change(serial)
        # knotd runs a zone's events one at a time: its reload may wait for its NOTIFYs to
        # the backups it cannot reach to time out.
        t = poll.wait(serial, 20, which=[0])
        assert t[0] is not None, "the primary does not serve its change"
        assert all(t[k] is None for k in range(1, len(srvs))), "the partition leaks"
        time.sleep(PARTITION)  # the partition's length is the scenario, not a wait for an event
        net.heal()
        healed = time.monotonic()
        t = poll.wait(serial, 60)
        assert all(t.values()), f"not equal a minute after the heal: {t}"
        heal_ms = (max(t.values()) - healed) * 1000
    finally:
        poll.close()
    return heal_ms


def report(net, label, backups, prop, heal_ms):
    print(f"\n{label}: {CHANGES} changes, loss {LOSS_PERMILLE / 10:g} % each way")
    for b in backups:
        xs, rtt = prop[b.place], net.rtt_ms(0, b.place)
        print(f"  place {b.place} ({b.name}, round trip {rtt} ms): "
              + ", ".join(f"p{p} {pct(xs, p):.0f} ms ({pct(xs, p) / rtt:.1f} RTT)"
                          for p in (50, 90, 100)))
    if heal_ms is not None:
        print(f"  equal again {heal_ms:.0f} ms after a {PARTITION} s partition healed")


def check_goals(net, prop, heal_ms, propagation=True, heal_goal_ms=3000):
    """The goals; heal_ms None when the partition was not run."""
    for place, xs in prop.items():
        rtt = net.rtt_ms(0, place)
        # The round trips, from the changes that met no loss (the fastest third): at most 2
        # (NOTIFY one way, IXFR on the connection kept open and the answer's way back), 1.5
        # measured, where a TCP handshake first made it 2.5 and a SOA query before that
        # 3.5. A lost packet costs a TCP retransmission, up to 1 s for a SYN, so the median
        # may carry one.
        if propagation:
            assert pct(xs, 33) <= 2 * rtt + 30, (place, xs)
            assert statistics.median(xs) <= 2 * rtt + 1030, (place, xs)
    assert heal_ms is None or heal_ms <= heal_goal_ms, heal_ms


@pytest.fixture
def net():
    with places.Places(DELAYS, loss_permille=LOSS_PERMILLE) as n:
        yield n


def make(kind, role, tmp_path, binary, net, place, src, fleet_interval=None):
    d = tmp_path / f"p{place}"
    if role == "primary":
        srv = (UsPrimary(d, binary, src, net, [1, 2]) if kind == "understudy"
               else KnotPrimary(d, src, net, [1, 2]))
    elif kind == "understudy":
        srv = UsBackup(d, binary, net, 0, fleet_interval=fleet_interval)
    else:
        srv = {"knotd": KnotBackup, "nsd": NsdBackup, "named": NamedBackup}[kind](d, net, 0)
    places.run_inside(net, place, srv)
    return srv


# knotd, nsd and named as backups are the long version (PLACES_ALL=1, make check-slow): with
# them the run passes two minutes, and their heal includes their own SOA query and TCP handshake
# over the lossy link, where one lost SYN costs a second (knotd's heal was 3.0 s once in CI).
LONG = pytest.mark.skipif(not os.environ.get("PLACES_ALL"), reason="PLACES_ALL=1 runs it")


@pytest.mark.normal_build_only
@pytest.mark.parametrize("primary,backup", [
    ("understudy", "understudy"),
    ("knotd", "understudy"),
    pytest.param("understudy", "knotd", marks=LONG),
    pytest.param("understudy", "nsd", marks=LONG),
    pytest.param("understudy", "named", marks=LONG),
])
def test_places(tmp_path, net, understudy_binary, primary, backup):
    """The scenario of the module doc. The propagation goal holds where the backups are ours
    (they ask IXFR on a signed NOTIFY's word); knotd as a backup asks its SOA query first, so
    there only the heal is ours to keep (the primary's NOTIFYs a second apart)."""
    src = tmp_path / f"{ORIGIN}.zone"
    src.write_text(zone_text(1))
    srvs = []
    try:
        srvs.append(make(primary, "primary", tmp_path, understudy_binary, net, 0, src).start())
        # knotd as the primary stops NOTIFYing after about 10 s unanswered, so after a 15 s
        # partition our backups find it ahead by their fleet checks of it: every 2 s here,
        # as an operator sets it for a backup across a link that fails.
        fleet = FLEET_INTERVAL if primary == "knotd" else None
        for i in (1, 2):
            srvs.append(make(backup, "backup", tmp_path, understudy_binary, net, i, src,
                             fleet).start())
        prop, heal = scenario(tmp_path, net, srvs[0], srvs[1:],
                              f"{primary} primary, {backup} backups")
        logs = [s.output() for s in srvs]
        for s in reversed(srvs):
            s.stop()
    except BaseException:
        for s in srvs:
            s._kill()
        raise
    if backup == "understudy":
        # Every change went straight to IXFR on the signed NOTIFY's word (the log says so),
        # knotd's NOTIFYs too: they carry the SOA.
        # A lost NOTIFY or answer can still leave one to the SOA query (a resent old NOTIFY
        # meeting the next change), so most, not all.
        for log in logs[1:]:
            hinted = log.count("IXFR without a SOA query first")
            assert hinted > CHANGES // 2, (hinted, log[-3000:])
            # ... on the connection of the transfer before, kept open: no handshake.
            kept = log.count("on a connection kept open")
            assert kept > CHANGES // 2, (kept, log[-3000:])
    # Timed from the primary serving a change, so with knotd as the primary its own wait
    # before NOTIFY (0.5-1.5 s here) is in the figure: printed, not a goal of ours.
    check_goals(net, prop, heal, propagation=backup == "understudy" and primary == "understudy",
                heal_goal_ms=3000 + (FLEET_INTERVAL * 1100 if primary == "knotd" else 0))
