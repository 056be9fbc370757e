# SPDX-License-Identifier: MIT
"""test_catalog: understudy as a catalog producer (RFC 9432) for knotd and named as consumers:
they learn the member zones from our catalog, transfer them, and follow the catalog when the
members change (a new catalog serial, sent as an IXFR)."""

import sqlite3
import subprocess

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

import servers
from servers import wait_for

CATZ = "catalog.test"
OPEN_ACL = "  - {id: xfr, address: [127.0.0.0/8], action: transfer}\n"


def member_text(name, serial):
    return (f"$TTL 300\n@ SOA ns1.{name}. hostmaster.{name}. {serial} 3600 600 86400 300\n"
            f"@ NS ns1.{name}.\nns1 A 192.0.2.53\nwww TXT \"{name} {serial}\"\n")


def soa_serial(srv, zone, timeout=0.5):
    """The zone's serial as srv answers it, or the RCODE's name when it does not serve it."""
    try:
        r = srv.query(dns.message.make_query(zone, "SOA"), timeout=timeout)
    except Exception:
        srv.close_sockets()
        return None
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return dns.rcode.to_text(r.rcode())
    return r.answer[0][0].serial


def www(srv, zone):
    r = srv.query(dns.message.make_query(f"www.{zone}", "TXT"), timeout=1)
    return [rd.to_text() for rrset in r.answer for rd in rrset]


def axfr(srv, zone):
    z = dns.zone.from_xfr(dns.query.xfr(srv.addr, zone, port=srv.port, timeout=10,
                                        relativize=False), relativize=False)
    return {(str(n), dns.rdatatype.to_text(rds.rdtype), rd.to_text().lower())
            for n, node in z.nodes.items() for rds in node.rdatasets for rd in rds}


def log_lines(srv, *words):
    return [line for line in srv.output().splitlines() if all(w in line for w in words)]


class Producer(servers.Understudy):
    """understudy: the primary of the member zones and of the catalog listing them."""

    name = "producer"

    def __init__(self, workdir, binary, members, notify_port=None):
        super().__init__(workdir, zones=[], binary=binary)
        self.members = dict(members)  # name -> group (or None)
        self.notify_port = notify_port
        self.zones = [(CATZ, None)]

    def zone_path(self, name):
        return self.dir / f"{name}.zone"

    def write_config(self):
        remotes = (f"remotes:\n  - {{id: down, address: \"127.0.0.1@{self.notify_port}\"}}\n"
                   if self.notify_port else "")
        notify = "    notify: [down]\n" if self.notify_port else ""
        zones = f"  - domain: {CATZ}\n    catalog-role: producer\n    acl: [xfr]\n{notify}"
        for name, group in sorted(self.members.items()):
            path = self.zone_path(name)
            if not path.exists():
                path.write_text(member_text(name, 1))
            zones += (f"  - domain: {name}\n    file: \"{path}\"\n    acl: [xfr]\n{notify}"
                      f"    catalog-zone: {CATZ}\n")
            if group:
                zones += f"    catalog-group: {group}\n"
        self.conf.write_text(f"""server:
  listen: ["{self.addr}@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
log: {{target: stderr, level: info}}
{remotes}acls:
{OPEN_ACL}zones:
{zones}""")

    def reload(self, members):
        """Changes the members in the configuration and has it re-read (ctl reload)."""
        self.members = dict(members)
        self.write_config()
        code, out = self.ctl("reload")
        assert code == 0, out
        return out

    def restart(self, members):
        """Stops, changes the members in the configuration, starts on the same port."""
        self.stop()
        self.members = dict(members)
        self.fixed_port = self.port
        self.start()


class KnotConsumer(servers.Knotd):
    """knotd with catalog.test as a secondary of understudy, catalog-role interpret: members
    get the template their group names (blue), or the first (member) without one. The blue
    template keeps its zone files in their own folder, so a test sees which template a member
    got."""

    def __init__(self, workdir, primary_port):
        super().__init__(workdir, zones=[])
        self.primary_port = primary_port
        # knotd does not answer for a catalog it interprets: readiness is the members'.
        self.zones = []
        self.catalog_file = self.dir / "catalog.zone"

    def write_config(self):
        super().write_config()
        text = self.conf.read_text()
        head, _ = text.split("zone:\n", 1)
        (self.dir / "blue").mkdir(exist_ok=True)
        head = head.replace("template:\n", f"""remote:
  - id: primary
    address: 127.0.0.1@{self.primary_port}
acl:
  - id: from-primary
    address: 127.0.0.1
    action: notify
template:
  - id: member
    storage: "{self.dir}/storage"
    master: primary
    acl: [from-primary]
    zonefile-sync: 0
    journal-content: changes
  - id: blue
    storage: "{self.dir}/blue"
    master: primary
    acl: [from-primary]
    zonefile-sync: 0
    journal-content: changes
""", 1)
        self.conf.write_text(head + f"""zone:
  - domain: {CATZ}
    file: "{self.catalog_file}"
    master: primary
    acl: [from-primary]
    journal-content: changes
    catalog-role: interpret
    catalog-template: [member, blue]
""")

    def knotc(self, *args):
        return subprocess.run(["knotc", "-s", str(self.dir / "run" / "knot.sock"), *args],
                              capture_output=True, text=True, timeout=30)


class NamedConsumer(servers.Named):
    """named with catalog.test as a secondary of understudy and a catalog-zones entry for it:
    members become secondaries of its default primaries."""

    def __init__(self, workdir, primary_port):
        super().__init__(workdir, zones=[], options=[
            "allow-new-zones yes;",
            f'catalog-zones {{ zone "{CATZ}" default-primaries {{ 127.0.0.1 port '
            f'{primary_port}; }} in-memory yes; }};',
        ])
        self.primary_port = primary_port
        self.zones = [(CATZ, self.dir / "catalog.bk")]

    def write_config(self):
        zones, self.zones = self.zones, []  # the base class would make them primary
        super().write_config()
        self.zones = zones
        self.conf.write_text(self.conf.read_text() + f"""zone "{CATZ}" {{
    type secondary;
    primaries {{ 127.0.0.1 port {self.primary_port}; }};
    file "{self.zones[0][1]}";
}};
""")


MEMBERS = {"m1.test": None, "m2.test": "blue", "m3.test": None}


def test_our_catalog_reads_as_rfc9432(tmp_path, understudy_binary):
    """The generated catalog: SOA and NS invalid., version "2", one PTR per member under its
    hashed unique ID, the group as TXT; a restart with the same members keeps the serial."""
    with Producer(tmp_path, understudy_binary, MEMBERS) as p:
        recs = axfr(p, CATZ)
        s1 = soa_serial(p, CATZ)
        p.restart(MEMBERS)
        assert soa_serial(p, CATZ) == s1
        assert axfr(p, CATZ) == recs
    assert (f"{CATZ}.", "NS", "invalid.") in recs
    assert (f"version.{CATZ}.", "TXT", '"2"') in recs
    ptrs = {rd: n for n, t, rd in recs if t == "PTR"}
    assert set(ptrs) == {f"{m}." for m in MEMBERS}
    for owner in ptrs.values():
        label, rest = owner.split(".", 1)
        assert rest == f"zones.{CATZ}." and len(label) == 16
    groups = [(n, rd) for n, t, rd in recs if t == "TXT" and n.startswith("group.")]
    assert groups == [(f"group.{ptrs['m2.test.']}", '"blue"')]


def wait_members(srv, want, gone=()):
    """Waits until srv serves each zone of want at its serial and none of gone."""
    for zone, serial in want.items():
        wait_for(lambda: soa_serial(srv, zone) == serial, timeout=30,
                 what=f"{zone} serial {serial} on {srv.name}", srv=srv)
    for zone in gone:
        wait_for(lambda: soa_serial(srv, zone) in ("REFUSED", "NOTAUTH", "SERVFAIL"),
                 timeout=30, what=f"{zone} gone from {srv.name}", srv=srv)


def test_knotd_consumes_our_catalog(tmp_path, understudy_binary):
    port = servers.free_port()
    with Producer(tmp_path, understudy_binary, MEMBERS, notify_port=port) as p:
        knot = KnotConsumer(tmp_path, p.port)
        knot.fixed_port = port
        with knot:
            wait_members(knot, {m: 1 for m in MEMBERS})
            assert www(knot, "m1.test") == ['"m1.test 1"']
            # The group picked knotd's template of that name: its files are in blue/.
            wait_for(lambda: (knot.dir / "blue" / "m2.test.zone").exists(),
                     what="m2.test in the blue template's storage")
            assert not (knot.dir / "blue" / "m1.test.zone").exists()
            first = soa_serial(p, CATZ)

            # Members change: m3 goes, m4 comes, m2 leaves its group. A new catalog serial,
            # NOTIFY, and knotd takes the change as an IXFR from the journal.
            changed = {"m1.test": None, "m2.test": None, "m4.test": None}
            p.restart(changed)
            second = soa_serial(p, CATZ)
            assert second != first and (second - first) % 2**32 < 2**31
            wait_members(knot, {"m4.test": 1}, gone=["m3.test"])
            assert www(knot, "m4.test") == ['"m4.test 1"']
            # A member zone's own change reaches knotd by NOTIFY as for any zone.
            p.zone_path("m1.test").write_text(member_text("m1.test", 2))
            code, out = p.ctl("reload", "m1.test")
            assert code == 0, out
            wait_members(knot, {"m1.test": 2})
            out = knot.knotc("zone-status").stdout
            assert "m3.test" not in out and "m4.test" in out, out
    assert log_lines(p, f"IXFR {CATZ} to 127.0.0.1@", "finished"), p.output()[-3000:]
    assert log_lines(p, f"serial {first} -> {second}")


def test_named_consumes_our_catalog(tmp_path, understudy_binary):
    port = servers.free_port()
    with Producer(tmp_path, understudy_binary, MEMBERS, notify_port=port) as p:
        named = NamedConsumer(tmp_path, p.port)
        named.fixed_port = port
        with named:
            wait_members(named, {m: 1 for m in MEMBERS})
            assert www(named, "m3.test") == ['"m3.test 1"']
            p.restart({"m1.test": None, "m5.test": None})
            wait_members(named, {"m5.test": 1}, gone=["m2.test", "m3.test"])
            assert www(named, "m5.test") == ['"m5.test 1"']
    assert log_lines(p, f"XFR {CATZ} to 127.0.0.1@", "finished")


class KnotProducer(servers.Knotd):
    """knotd generating catalog.test (catalog-role: generate) from its member zones."""

    def __init__(self, workdir, members):
        super().__init__(workdir, zones=[])
        self.members = dict(members)
        self.zones = []
        for name in self.members:
            path = self.dir / f"{name}.zone"
            path.write_text(member_text(name, 1))
            self.zones.append((name, path))

    def write_config(self):
        super().write_config()
        head, _ = self.conf.read_text().split("zone:\n", 1)
        head = head.replace("template:\n", """acl:
  - id: to-tests
    address: 127.0.0.0/8
    action: transfer
template:
""", 1).replace("    semantic-checks: off\n", "    semantic-checks: off\n    acl: [to-tests]\n")
        notify = ""
        if getattr(self, "notify_port", None):
            head = head.replace("acl:\n", f"remote:\n  - id: down\n    address: "
                                f"127.0.0.1@{self.notify_port}\nacl:\n", 1)
            notify = "    notify: down\n"
        zones = f"  - domain: {CATZ}\n    catalog-role: generate\n{notify}"
        for name, path in self.zones:
            zones += (f"  - domain: {name}\n    file: \"{path}\"\n    catalog-role: member\n"
                      f"    catalog-zone: {CATZ}\n{notify}")
            if self.members[name]:
                zones += f"    catalog-group: {self.members[name]}\n"
        self.conf.write_text(head + "zone:\n" + zones)


class CatalogSecondary(servers.Understudy):
    """understudy with catalog.test as an ordinary secondary of a producer."""

    name = "reader"

    def __init__(self, workdir, binary, primary_port):
        super().__init__(workdir, zones=[], binary=binary)
        self.primary_port = primary_port
        self.zones = [(CATZ, None)]

    def write_config(self):
        self.conf.write_text(f"""server:
  listen: ["{self.addr}@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
log: {{target: stderr, level: info}}
remotes:
  - {{id: pri, address: ["127.0.0.1@{self.primary_port}"]}}
zones:
  - domain: {CATZ}
    role: secondary
    primaries: [pri]
""")


def test_knotd_catalog_reads_as_knotd_wrote_it(tmp_path, understudy_binary):
    """A catalog knotd generates, transferred to understudy and read: the members, their IDs
    and groups as in knotd's own AXFR of it. knotd, like us, names a member by a hash."""
    import json
    members = {"m1.test": "blue", "m2.test": None, "m3.test": None}
    with KnotProducer(tmp_path, members) as knot:
        # knotd answers no query for a catalog, but transfers it.
        recs = None

        def transferred():
            nonlocal recs
            try:
                recs = axfr(knot, CATZ)
            except Exception:
                return False
            return True
        wait_for(transferred, what="an AXFR of knotd's catalog", srv=knot)
        with CatalogSecondary(tmp_path, understudy_binary, knot.port) as us:
            code, out = us.ctl("--json", "catalog", CATZ)
            assert code == 0, out
            cat = json.loads(out)["catalogs"][0]
            code, text = us.ctl("catalog", CATZ)
            assert code == 0 and "members=3 duplicates=0" in text, text
            # The whole set of zones, not a catalog: said so, and no crash.
            code, out = us.ctl("catalog")
            assert code == 0 and "no catalog zones" in out, out
    want = {}
    for n, t, rd in recs:
        if t == "PTR" and n.endswith(f".zones.{CATZ}.") and n.count(".") == 4:
            want[rd] = {"zone": rd, "id": n.split(".")[0], "group": None, "coo": None}
    for n, t, rd in recs:
        if t == "TXT" and n.startswith("group."):
            for m in want.values():
                if n == f"group.{m['id']}.zones.{CATZ}.":
                    m["group"] = rd.strip('"')
    assert [rd for n, t, rd in recs if t == "SOA"][0].split()[2] == str(cat["serial"])
    assert sorted(cat["members"], key=lambda m: m["zone"]) == sorted(want.values(),
                                                                      key=lambda m: m["zone"])
    assert {m["zone"] for m in cat["members"]} == {f"{m}." for m in members}
    assert [m["group"] for m in cat["members"] if m["zone"] == "m1.test."] == ["blue"]


# ---- understudy as a consumer ----------------------------------------------------------------

def catalog_text(serial, members, coo=(), extra=""):
    """A catalog zone file: members is [(id, name, group)], coo [(id, catalog)]."""
    lines = [f"$TTL 0\n@ SOA invalid. invalid. {serial} 3600 600 2147483646 0\n@ NS invalid.",
             'version TXT "2"']
    for mid, name, group in members:
        lines.append(f"{mid}.zones PTR {name}.")
        if group:
            lines.append(f'group.{mid}.zones TXT "{group}"')
    for mid, cat in coo:
        lines.append(f"coo.{mid}.zones PTR {cat}.")
    return "\n".join(lines) + "\n" + extra


class FilePrimary(servers.Understudy):
    """understudy serving hand-written catalogs (plain zone files) and their members, so a
    test sets member IDs, coo and broken versions at will; NOTIFY to the consumer."""

    name = "primary"

    def __init__(self, workdir, binary, catalogs, members, notify_port):
        super().__init__(workdir, zones=[], binary=binary)
        self.catalogs = catalogs  # name -> zone text
        self.members = members
        self.notify_port = notify_port
        self.zones = [(c, None) for c in catalogs]

    def path(self, name):
        return self.dir / f"{name}.zone"

    def write_config(self):
        zones = ""
        for name, text in self.catalogs.items():
            if not self.path(name).exists():
                self.path(name).write_text(text)
        for name in self.members:
            if not self.path(name).exists():
                self.path(name).write_text(member_text(name, 1))
        for name in list(self.catalogs) + list(self.members):
            zones += (f"  - domain: {name}\n    file: \"{self.path(name)}\"\n    acl: [xfr]\n"
                      "    notify: [down]\n")
        self.conf.write_text(f"""server:
  listen: ["{self.addr}@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
  fleet-interval: 0
  # The consumer asks for thousands of members it does not have here: no per-client limit
  # may starve the catalog's own transfers.
  transfer-rate-limit: 0
  transfers-out-per-address: 64
log: {{target: stderr, level: info}}
remotes:
  - {{id: down, address: "127.0.0.1@{self.notify_port}"}}
acls:
{OPEN_ACL}zones:
{zones}""")

    def publish(self, name, text):
        self.path(name).write_text(text)
        code, out = self.ctl("reload", name)
        assert code == 0, out


class Consumer(servers.Understudy):
    """understudy with consumer catalogs of a primary: templates member (the first) and blue;
    blue keeps its members' files (ctl sync) in blue/, so a test sees which one a member got.
    taken.test is a zone of its own configuration."""

    name = "consumer"

    def __init__(self, workdir, binary, primary_port, catalogs, extra_zones="", catalog_opts=""):
        super().__init__(workdir, zones=[], binary=binary)
        self.primary_port = primary_port
        self.catalogs = list(catalogs)
        self.extra_zones = extra_zones
        self.catalog_opts = catalog_opts
        self.zones = [(c, None) for c in catalogs]

    def write_config(self):
        (self.dir / "blue").mkdir(exist_ok=True)
        taken = self.dir / "taken.test.zone"
        taken.write_text(member_text("taken.test", 77))
        zones = "".join(f"  - domain: {c}\n    role: secondary\n    primaries: [pri]\n"
                        "    acl: [notify]\n    catalog-role: consumer\n"
                        "    catalog-template: [member, blue]\n" + self.catalog_opts
                        for c in self.catalogs)
        self.conf.write_text(f"""server:
  listen: ["{self.addr}@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
  fleet-interval: 0
log: {{target: stderr, level: info}}
remotes:
  - {{id: pri, address: ["127.0.0.1@{self.primary_port}"]}}
acls:
  - {{id: notify, address: [127.0.0.0/8], action: notify}}
  - {{id: out, address: [127.0.0.0/8], action: transfer}}
templates:
  - {{id: member, primaries: [pri], acl: [notify, out]}}
  - {{id: blue, primaries: [pri], acl: [notify, out], file: "{self.dir}/blue/%s.zone"}}
zones:
  - domain: taken.test
    file: "{taken}"
{zones}{self.extra_zones}""")


def axfrs(srv, zone):
    return len(log_lines(srv, f"AXFR {zone} from", "finished"))


def test_consumer_members_reset_coo_broken(tmp_path, understudy_binary):
    """Members of two catalogs become zones; a name the configuration has is refused, as is
    one another catalog holds; a new member ID resets the zone (a fresh AXFR); coo moves a
    member to the other catalog, its data kept; a removed member is gone and purged; a broken
    catalog changes nothing; a restart and a ctl reload keep the members."""
    port = servers.free_port()
    cat1 = catalog_text(1, [("a", "m1.test", None), ("b", "m2.test", "blue"),
                            ("t", "taken.test", None)])
    cat2 = catalog_text(1, [("c", "m3.test", None)])
    members = ["m1.test", "m2.test", "m3.test", "taken.test"]
    with FilePrimary(tmp_path, understudy_binary, {"cat1.test": cat1, "cat2.test": cat2},
                     members, port) as p:
        c = Consumer(tmp_path, understudy_binary, p.port, ["cat1.test", "cat2.test"])
        c.fixed_port = port
        with c:
            wait_members(c, {"m1.test": 1, "m2.test": 1, "m3.test": 1})
            assert soa_serial(c, "taken.test") == 77  # its own, not the catalog's
            assert log_lines(c, "zone taken.test: listed by catalog cat1.test, refused")
            assert log_lines(c, "zone m2.test: added from catalog cat1.test (member ID b, "
                                "template blue)")
            assert log_lines(c, "zone m1.test: added from catalog cat1.test (member ID a, "
                                "template member)")
            # The group's template: ctl sync writes m2 where blue says.
            code, out = c.ctl("sync", "m2.test")
            assert code == 0 and (c.dir / "blue" / "m2.test.zone").exists(), out
            code, out = c.ctl("--json", "catalog", "cat1.test")
            assert code == 0 and '"id": "b"' in out, out

            # cat2 lists m2 too: refused, cat1 has it.
            p.publish("cat2.test", catalog_text(2, [("c", "m3.test", None),
                                                    ("b", "m2.test", None)]))
            wait_for(lambda: log_lines(c, "zone m2.test: also listed by catalog cat2.test, "
                                          "refused: catalog cat1.test has it"),
                     srv=c, what="the second claim refused")

            # A new member ID: m1 is dropped and transferred afresh.
            before = axfrs(c, "m1.test")
            p.publish("cat1.test", catalog_text(2, [("a2", "m1.test", None),
                                                    ("b", "m2.test", "blue"),
                                                    ("t", "taken.test", None)]))
            wait_for(lambda: log_lines(c, "zone m1.test: reset by catalog cat1.test "
                                          "(member ID a2, was a)"), srv=c, what="the reset")
            wait_for(lambda: axfrs(c, "m1.test") > before and soa_serial(c, "m1.test") == 1,
                     srv=c, what="m1.test transferred afresh")

            # coo: cat1 hands m2 to cat2, which lists it: m2 moves, its data kept.
            m2_axfrs = axfrs(c, "m2.test")
            p.publish("cat1.test", catalog_text(3, [("a2", "m1.test", None),
                                                    ("b", "m2.test", "blue"),
                                                    ("t", "taken.test", None)],
                                                coo=[("b", "cat2.test")]))
            wait_for(lambda: log_lines(c, "zone m2.test: moves from catalog cat1.test to "
                                          "catalog cat2.test (coo)"), srv=c, what="the move")
            assert soa_serial(c, "m2.test") == 1 and axfrs(c, "m2.test") == m2_axfrs

            # cat1 drops m1: gone, its stored data purged.
            p.publish("cat1.test", catalog_text(4, [("t", "taken.test", None)]))
            wait_members(c, {}, gone=["m1.test"])
            assert log_lines(c, "zone m1.test: removed from catalog cat1.test")
            assert soa_serial(c, "m2.test") == 1 and soa_serial(c, "m3.test") == 1

            # A broken version (two PTRs for one member) changes nothing.
            p.publish("cat2.test", catalog_text(3, [("c", "m3.test", None),
                                                    ("c", "m1.test", None),
                                                    ("b", "m2.test", None)]))
            wait_for(lambda: log_lines(c, "catalog cat2.test: serial 3 is not used"), srv=c,
                     what="the broken catalog refused")
            assert soa_serial(c, "m3.test") == 1 and soa_serial(c, "m1.test") == "REFUSED"

            # ctl reload keeps the members; so does a restart, from the stored copies.
            code, out = c.ctl("reload")
            assert code == 0, out
            assert soa_serial(c, "m2.test") == 1 and soa_serial(c, "m3.test") == 1
            c.stop()
            c.start()  # its log starts afresh
            # Served from the first answer on: the members are in place before the workers.
            assert soa_serial(c, "m2.test") == 1 and soa_serial(c, "m3.test") == 1
            assert soa_serial(c, "m1.test") == "REFUSED"
            # The stored cat2 is the broken serial 3: the members come from the list kept.
            assert log_lines(c, "catalog cat2.test: 2 members of serial 2, as applied before "
                                "the restart")
            assert log_lines(c, "catalog cat2.test: serial 3 is not used")
    assert not log_lines(c, "AXFR m2.test from") and not log_lines(c, "AXFR m3.test from")


def test_consumer_of_knotd_catalog(tmp_path, understudy_binary):
    """knotd generates the catalog (catalog-role: generate); understudy consumes it: members
    added and removed as knotd's configuration changes."""
    port = servers.free_port()
    members = {"k1.test": None, "k2.test": "blue"}
    knot = KnotProducer(tmp_path, members)
    knot.notify_port = port
    with knot:
        c = Consumer(tmp_path, understudy_binary, knot.port, [CATZ])
        c.fixed_port = port
        with c:
            wait_members(c, {"k1.test": 1, "k2.test": 1})
            assert log_lines(c, "zone k2.test: added from catalog catalog.test",
                             "template blue")
            # knotd gets a new member and loses one: a new catalog version, NOTIFY, IXFR.
            knot.members = {"k2.test": "blue", "k3.test": None}
            knot.zones = [(n, knot.dir / f"{n}.zone") for n in knot.members]
            knot.zones[1][1].write_text(member_text("k3.test", 1))
            knot.write_config()
            r = subprocess.run(["knotc", "-s", str(knot.dir / "run" / "knot.sock"), "reload"],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stdout + r.stderr
            wait_members(c, {"k3.test": 1}, gone=["k1.test"])
            assert www(c, "k3.test") == ['"k3.test 1"']


def test_consumer_of_our_producer(tmp_path, understudy_binary):
    """understudy at both ends: the producer's members, then a change of them (a restart of
    the producer with other members), reach the consumer; the catalog by IXFR."""
    port = servers.free_port()
    with Producer(tmp_path, understudy_binary, {"u1.test": None, "u2.test": "blue"},
                  notify_port=port) as p:
        c = Consumer(tmp_path, understudy_binary, p.port, [CATZ])
        c.fixed_port = port
        with c:
            wait_members(c, {"u1.test": 1, "u2.test": 1})
            assert log_lines(c, "zone u2.test: added from catalog catalog.test", "template blue")
            # The producer's members change by ctl reload: the catalog gets a new serial at
            # once, and the consumer follows by IXFR.
            out = p.reload({"u2.test": "blue", "u3.test": None})
            assert "u3.test: added" in out and "u1.test: removed" in out, out
            wait_members(c, {"u3.test": 1}, gone=["u1.test"])
            assert log_lines(c, f"IXFR {CATZ} from", "finished")
            # A group that changes moves the member to another template, data kept.
            p.reload({"u2.test": None, "u3.test": None})
            wait_for(lambda: log_lines(c, "zone u2.test: group none in catalog catalog.test: "
                                          "template member, was blue"), srv=c,
                     what="u2.test's new template")
            assert soa_serial(c, "u2.test") == 1
            assert len(log_lines(c, "AXFR u2.test from", "finished")) == 1
            code, out = c.ctl("catalog")
            assert code == 0 and f"{CATZ} serial=" in out and "members=2" in out, out


def test_consumer_many_members(tmp_path, understudy_binary):
    """A catalog of 5,000 new members is applied in one swap, ctl answers meanwhile, and the
    members all go again with the next version (whose primary has none of them: they stay
    unloaded, which is what the counts show)."""
    import time
    n = 5000
    port = servers.free_port()
    cat = catalog_text(1, [(f"m{i}", f"z{i}.scale", None) for i in range(n)])
    with FilePrimary(tmp_path, understudy_binary, {"cat1.test": cat}, [], port) as p:
        c = Consumer(tmp_path, understudy_binary, p.port, ["cat1.test"])
        c.fixed_port = port
        with c:
            wait_for(lambda: log_lines(c, "reload:", f"{n} added"), srv=c,
                     what=f"{n} members applied")
            t0 = time.monotonic()
            code, out = c.ctl("status")
            assert code == 0 and time.monotonic() - t0 < 2, out
            assert soa_serial(c, "z4999.scale") == "SERVFAIL"  # ours, not loaded yet
            p.publish("cat1.test", catalog_text(2, []))
            wait_for(lambda: log_lines(c, "reload:", f"{n} removed"), srv=c,
                     what=f"{n} members removed")
            assert soa_serial(c, "z4999.scale") == "REFUSED"


# ---- PowerDNS (sqlite3 backend) at the other end -----------------------------------------------

PDNS_SCHEMA = "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"


class Pdns(servers.Server):
    """pdns_server 4.7 with the sqlite3 backend, primary and secondary, everything under the
    work dir; zones set up with pdnsutil. It NOTIFYs loopback only (only-notify), whatever
    NS addresses the zones hold."""

    name = "pdns"
    exit_codes = (0, -15)  # pdns_server dies of the SIGTERM it is stopped with

    def __init__(self, workdir, notify_port=None):
        super().__init__(workdir, zones=[])
        self.notify_port = notify_port
        self.db = self.dir / "pdns.sqlite3"
        if not self.db.exists():
            con = sqlite3.connect(self.db)
            con.executescript(open(PDNS_SCHEMA).read())
            con.close()

    def write_config(self):
        notify = f"also-notify=127.0.0.1:{self.notify_port}\n" if self.notify_port else ""
        (self.dir / "pdns.conf").write_text(f"""launch=gsqlite3
gsqlite3-database={self.db}
local-address=127.0.0.1
local-port={self.port}
socket-dir={self.dir}
primary=yes
secondary=yes
daemon=no
guardian=no
write-pid=no
disable-syslog=yes
loglevel=6
allow-axfr-ips=127.0.0.0/8
allow-notify-from=127.0.0.0/8
xfr-cycle-interval=1
only-notify=127.0.0.0/8
{notify}""")

    def command(self):
        return ["pdns_server", f"--config-dir={self.dir}"]

    def util(self, *args):
        if not (self.dir / "pdns.conf").exists():
            self.port = self.port or 1
            self.write_config()
        r = subprocess.run(["pdnsutil", f"--config-dir={self.dir}", *args],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"pdnsutil {' '.join(args)}: {r.stdout}{r.stderr}"
        return r.stdout

    def add_member(self, name, catalog, group=None):
        f = self.dir / f"{name}.zone"
        f.write_text(member_text(name, 1))
        self.util("load-zone", name, str(f))
        self.util("set-kind", name, "primary")
        self.util("set-catalog", name, catalog)
        if group:
            self.util("set-option", name, "producer", "group", group)


def test_consumer_of_pdns_catalog(tmp_path, understudy_binary):
    """pdns_server produces the catalog (kind producer, set-catalog on the members, a group
    option); understudy consumes it: members added with the group's template, then added and
    removed as pdns's zones change."""
    port = servers.free_port()
    pdns = Pdns(tmp_path, notify_port=port)
    pdns.util("create-zone", CATZ)
    pdns.util("set-kind", CATZ, "producer")
    pdns.add_member("p1.test", CATZ)
    pdns.add_member("p2.test", CATZ, group="blue")
    with pdns:
        c = Consumer(tmp_path, understudy_binary, pdns.port, [CATZ])
        c.fixed_port = port
        with c:
            wait_members(c, {"p1.test": 1, "p2.test": 1})
            assert log_lines(c, "zone p2.test: added from catalog catalog.test", "template blue")
            assert log_lines(c, "zone p1.test: added from catalog catalog.test",
                             "template member")
            pdns.add_member("p3.test", CATZ)
            pdns.util("delete-zone", "p1.test")
            # pdns sees its catalog change at its next check, bumps the serial, NOTIFYs.
            wait_members(c, {"p3.test": 1}, gone=["p1.test"])
            assert www(c, "p3.test") == ['"p3.test 1"']
            assert soa_serial(c, "p2.test") == 1


def test_pdns_consumes_our_catalog(tmp_path, understudy_binary):
    """pdns_server with a zone of kind consumer for our producer catalog: it creates the
    members as secondaries and transfers them, and follows a change of the members."""
    port = servers.free_port()
    with Producer(tmp_path, understudy_binary, MEMBERS, notify_port=port) as p:
        pdns = Pdns(tmp_path)
        pdns.fixed_port = port
        pdns.util("create-secondary-zone", CATZ, f"127.0.0.1:{p.port}")
        pdns.util("set-kind", CATZ, "consumer")
        with pdns:
            wait_members(pdns, {m: 1 for m in MEMBERS})
            assert www(pdns, "m1.test") == ['"m1.test 1"']
            p.restart({"m1.test": None, "m6.test": None})
            wait_members(pdns, {"m6.test": 1}, gone=["m2.test", "m3.test"])
    assert log_lines(p, f"XFR {CATZ} to 127.0.0.1@", "finished")


def test_consumer_member_limit(tmp_path, understudy_binary):
    """A version with more members than catalog-max-members is not used: the members stay as
    they were, and a version within the bound is taken again."""
    port = servers.free_port()
    ok = catalog_text(1, [("a", "m1.test", None)])
    with FilePrimary(tmp_path, understudy_binary, {"cat1.test": ok}, ["m1.test"], port) as p:
        c = Consumer(tmp_path, understudy_binary, p.port, ["cat1.test"],
                     catalog_opts="    catalog-max-members: 3\n")
        c.fixed_port = port
        with c:
            wait_members(c, {"m1.test": 1})
            p.publish("cat1.test", catalog_text(2, [(f"x{i}", f"x{i}.test", None)
                                                    for i in range(4)]))
            wait_for(lambda: log_lines(c, "catalog cat1.test: serial 2 is not used: more than "
                                          "catalog-max-members 3 members"), srv=c,
                     what="the limit")
            assert soa_serial(c, "m1.test") == 1 and soa_serial(c, "x0.test") == "REFUSED"
            p.publish("cat1.test", catalog_text(3, [("a", "m1.test", None),
                                                    ("b", "m2.test", None)]))
            wait_for(lambda: log_lines(c, "zone m2.test: added from catalog cat1.test"), srv=c,
                     what="the next version taken")
