# SPDX-License-Identifier: MIT
"""test_journal: IXFR out from the journal: knotd, nsd and named as backups of an understudy
primary take each zone-file change by IXFR (their own logs say so), catch up by IXFR after a
restart of theirs or ours, and understudy behind understudy does the same."""

import re

import dns.message
import dns.query
import dns.rdatatype
import dns.rrset

import servers
from servers import wait_for
from test_xfrout import (KEY, KEYRING, ZONE, KnotSecondary, Middle, NamedSecondary,
                         NsdSecondary, Primary, axfr, log_lines, serial, signed_query,
                         zone_text)


def version(n):
    """Serial n: one more host than serial n - 1, and its serial TXT changed."""
    return zone_text(n, hosts=3000 + n)


def our_ixfr(srv, a, b, peer="127.0.0.1@"):
    """srv's log lines for an IXFR it served from its journal, serial a -> b."""
    return log_lines(srv, f"IXFR {ZONE} to {peer}", f"serial {a} -> {b},", "records changed",
                     "finished")


def knot_ixfrs(knot):
    """knotd's lines for incremental transfers in: "[example.com.] IXFR, incoming, remote
    ADDR, finished, ..." (a fallback to the whole zone would say "AXFR-style IXFR")."""
    lines = knot.output().splitlines()
    assert not any("AXFR-style" in l for l in lines), "\n".join(lines[-30:])
    return [l for l in lines if "IXFR, incoming" in l and "finished" in l]


def knot_updated(knot, a, b):
    return any("zone updated" in l and f"serial {a} -> {b}," in l
               for l in knot.output().splitlines())


class KnotKeeps(KnotSecondary):
    """knotd keeping its copy (and its own journal) across its restarts, so it asks for IXFR
    from the serial it had."""

    def write_config(self):
        super().write_config()
        text = self.conf.read_text().replace("    journal-content: changes\n",
                                             "    journal-content: all\n")
        self.conf.write_text(text.replace("    zonefile-load: whole\n",
                                          "    zonefile-load: none\n"))


class NamedDebug(NamedSecondary):
    """named logs which kind of transfer it asks for only at debug level 1 and above."""

    def command(self):
        return super().command() + ["-d", "3"]


def make_pair(tmp_path, binary, cls):
    """An understudy primary that NOTIFYs the secondary of class cls, and that secondary."""
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(version(1))
    port = servers.free_port()
    primary = Primary(tmp_path, binary, zpath, notify_port=port)
    primary.start()
    sec = cls(tmp_path, primary.port)
    sec.fixed_port = port
    return primary, sec


def three_changes_by_ixfr(tmp_path, binary, cls):
    primary, sec = make_pair(tmp_path, binary, cls)
    with primary, sec:
        assert axfr(sec) == axfr(primary, keyed=True)
        for n in (2, 3, 4):
            primary.publish(version(n))
            # NOTIFY alone brings it: nobody asks the secondary to refresh.
            wait_for(lambda: serial(sec) == n, timeout=10, what=f"serial {n} on {sec.name}",
                     srv=sec)
            wait_for(lambda: our_ixfr(primary, n - 1, n), timeout=10,
                     what=f"our IXFR {n - 1} -> {n}", srv=primary)
            assert axfr(sec) == axfr(primary, keyed=True)
        # The first copy came whole; every change after it as a difference of two records.
        assert log_lines(primary, f"AXFR {ZONE} to 127.0.0.1@", "finished")
        for n in (2, 3, 4):
            # One host added, the serial TXT replaced.
            line = our_ixfr(primary, n - 1, n)[-1]
            assert "3 records changed" in line, line
        assert not log_lines(primary, "as a full zone")
    return primary, sec


def test_knotd_takes_changes_by_ixfr(tmp_path, understudy_binary):
    _, knot = three_changes_by_ixfr(tmp_path, understudy_binary, KnotSecondary)
    assert len(knot_ixfrs(knot)) == 3
    for n in (2, 3, 4):
        assert knot_updated(knot, n - 1, n)


def test_nsd_takes_changes_by_ixfr(tmp_path, understudy_binary):
    _, nsd = three_changes_by_ixfr(tmp_path, understudy_binary, NsdSecondary)
    # NSD 4.6 does not name the kind of transfer it took; the size says it: the whole zone
    # is some 65 kB, each change a few hundred bytes.
    sizes = re.findall(r"received update to serial (\d+) .* of (\d+) bytes", nsd.output())
    assert [int(n) for n, _ in sizes] == [1, 2, 3, 4], sizes
    assert int(sizes[0][1]) > 60000
    assert all(int(b) < 1000 for _, b in sizes[1:]), sizes


def test_named_takes_changes_by_ixfr(tmp_path, understudy_binary):
    _, named = three_changes_by_ixfr(tmp_path, understudy_binary, NamedDebug)
    out = named.output()
    for n in (1, 2, 3):
        assert f"requesting IXFR for serial {n}" in out, out[-3000:]
    # Four SOAs and three records each time, not the zone's 3020.
    done = re.findall(r"Transfer completed: \d+ messages, (\d+) records", out)
    assert len(done) == 4 and done[1:] == ["7", "7", "7"], done
    assert "retrying with AXFR" not in out


def test_backup_catches_up_from_the_journal(tmp_path, understudy_binary):
    """knotd stopped through several changes and an understudy restart: one IXFR, 2 -> 6."""
    primary, knot = make_pair(tmp_path, understudy_binary, KnotKeeps)
    with primary:
        with knot:
            primary.publish(version(2))
            wait_for(lambda: serial(knot) == 2, timeout=10, what="serial 2 on knotd")
        for n in (3, 4):
            primary.publish(version(n))
        # Our restart: the journal is in the storage, the serial did not change, so no
        # NOTIFY goes out for it.
        primary.stop()
        primary.fixed_port = primary.port
        primary.start()
        assert log_lines(primary, "loaded serial 4")
        for n in (5, 6):
            primary.publish(version(n))
        with knot:
            # knotd checks its primary when it starts.
            wait_for(lambda: serial(knot) == 6, timeout=15, what="serial 6 on knotd",
                     srv=knot)
            assert axfr(knot) == axfr(primary, keyed=True)
        # Four changes condensed into one difference: four hosts added, the TXT replaced.
        line = our_ixfr(primary, 2, 6)
        assert line and "6 records changed" in line[-1], primary.output()[-3000:]
        # (the output is that of knotd's second run)
        assert len(knot_ixfrs(knot)) == 1
        assert knot_updated(knot, 2, 6)


def test_restart_with_a_new_zone_file(tmp_path, understudy_binary):
    """Only a serial that changed while we were down is announced at start, and it goes
    out as a difference against the version stored before the restart."""
    primary, knot = make_pair(tmp_path, understudy_binary, KnotSecondary)
    with primary, knot:
        primary.publish(version(2))
        wait_for(lambda: serial(knot) == 2, timeout=10, what="serial 2 on knotd")
        primary.stop()
        primary.fixed_port = primary.port
        primary.start()
        # Unchanged: no NOTIFY at start.
        assert not log_lines(primary, "NOTIFY")
        primary.stop()
        primary.zones[0][1].write_text(version(3))
        primary.start()
        wait_for(lambda: serial(knot) == 3, timeout=10, what="serial 3 on knotd", srv=knot)
        assert log_lines(primary, "NOTIFY")
        wait_for(lambda: our_ixfr(primary, 2, 3), timeout=10, what="IXFR 2 -> 3",
                 srv=primary)
        assert axfr(knot) == axfr(primary, keyed=True)


def test_understudy_behind_understudy_by_ixfr(tmp_path, understudy_binary):
    """The middle of a chain takes IXFR, keeps it in its own journal, and serves it on."""
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(version(1))
    with Primary(tmp_path, understudy_binary, zpath) as first:
        with Middle(tmp_path, understudy_binary, first.port) as middle:
            with KnotSecondary(tmp_path, middle.port) as knot:
                for n in (2, 3):
                    first.publish(version(n))
                    code, out = middle.ctl("refresh", ZONE)
                    assert code == 0, out
                    wait_for(lambda: serial(middle) == n, what=f"serial {n} on the middle")
                    knot.refresh()
                    wait_for(lambda: serial(knot) == n, what=f"serial {n} on knotd")
                assert axfr(knot) == axfr(middle, keyed=True) == axfr(first, keyed=True)
            for n in (2, 3):
                assert log_lines(middle, f"IXFR {ZONE} from 127.0.0.1@",
                                 f"serial {n - 1} -> {n}", "records changed", "finished")
                assert our_ixfr(first, n - 1, n)
                assert our_ixfr(middle, n - 1, n)
            # The middle's journal survives its restart: an IXFR from serial 1 still works.
            middle.stop()
            middle.fixed_port = middle.port
            middle.start()
            msgs = list(dns.query.xfr(middle.addr, ZONE, rdtype="IXFR", serial=1,
                                      port=middle.port, keyring=KEYRING, keyname=KEY,
                                      keyalgorithm="hmac-sha256", timeout=10))
            records = [rr for m in msgs for rrset in m.answer for rr in rrset]
            # SOA 3, SOA 1, the old serial TXT, SOA 3, two hosts and the new TXT, SOA 3.
            assert len(records) == 8, records
            assert our_ixfr(middle, 1, 3)


def test_ixfr_fallbacks(tmp_path, understudy_binary):
    """A serial the journal does not hold, or a difference as large as the zone, gets the
    whole zone; over UDP the SOA alone."""
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(version(1))
    with Primary(tmp_path, understudy_binary, zpath) as primary:
        primary.publish(version(2))
        # Every host renumbered: more changes than the zone has records.
        primary.publish(zone_text(3, hosts=3003, net=11))
        for start, why in ((0, "not in the journal"), (2, "records changed, the zone has")):
            msgs = list(dns.query.xfr(primary.addr, ZONE, rdtype="IXFR", serial=start,
                                      port=primary.port, keyring=KEYRING, keyname=KEY,
                                      keyalgorithm="hmac-sha256", timeout=10))
            records = sum(len(rrset) for m in msgs for rrset in m.answer)
            assert records == 3003 + 16 + 1
            assert log_lines(primary, f"serial {start} -> 3 as a full zone", why)
        r = primary.query(signed_query(ZONE, "IXFR", serial=1))
        assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.SOA]
        # From 1 the history holds 1 -> 2 -> 3; condensed it is still larger than the zone.
        list(dns.query.xfr(primary.addr, ZONE, rdtype="IXFR", serial=1, port=primary.port,
                           keyring=KEYRING, keyname=KEY, keyalgorithm="hmac-sha256",
                           timeout=10))
        assert log_lines(primary, "serial 1 -> 3 as a full zone")


def test_ttl_change_and_removal_by_ixfr(tmp_path, understudy_binary):
    """A changed TTL goes as the record removed and added again; a removed name goes too;
    knotd ends up with exactly our zone, by IXFR."""
    primary, knot = make_pair(tmp_path, understudy_binary, KnotSecondary)
    with primary, knot:
        text = version(2).replace("www 600 CNAME host", "www 1200 CNAME host")
        text = text.replace("h17 A ", "; h17 A ")
        primary.publish(text)
        wait_for(lambda: serial(knot) == 2, timeout=10, what="serial 2 on knotd", srv=knot)
        want = axfr(primary, keyed=True)
        assert (f"www.{ZONE}.", dns.rdatatype.CNAME, 1200, f"host.{ZONE}.") in want
        assert not any(name == f"h17.{ZONE}." for name, *_ in want)
        assert axfr(knot) == want
        # The TXT and the CNAME each removed and added, h17 removed, h3001 added.
        line = our_ixfr(primary, 1, 2)
        assert line and "6 records changed" in line[-1], primary.output()[-2000:]
        assert len(knot_ixfrs(knot)) == 1
