# SPDX-License-Identifier: MIT
"""test_policies: the policies a backup needs, as an operator sees them.

expire-policy keep-serving (answers with EDE 3 past expiry, EXPIRE 0, read with dnspython and
dig), serial-regression alarm and follow (RFC 1982 serials, several primaries), the change
guard (a transfer that replaces the apex NS set, one that removes more than the share;
ctl accept and ctl reject), ZONEMD (a zone digested and signed by knotd, transferred by AXFR
and IXFR; a wrong digest from a scripted primary), and log.format json (every line of a run
parsed with Python's json module). Each checks the answers, zone-status and the log lines.

The primaries are fakeprimary.FakePrimary (scripted) and knotd; the harness is
test_secondary_faults's (Secondary, lab).
"""

import json
import os
import re
import subprocess
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.zone
import pytest

import servers
from servers import wait_for
from fakeprimary import FakePrimary
from test_secondary_faults import KEY, Secondary, lab, serial, serves_version, trigger, version

__all__ = ["lab"]  # the fixture, used by name


def status(sec):
    code, text = sec.ctl("zone-status", "example.com")
    assert code == 0, text
    return text


def ede_codes(srv, name="www.example.com", rdtype="A", payload=1232):
    """(rcode, [EDE info codes], answer rrsets) of a query with EDNS."""
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=payload)
    r = srv.query(q)
    codes = [o.code for o in r.options if o.otype == dns.edns.EDE]
    return r.rcode(), codes, r.answer


def dig(srv, *args):
    p = subprocess.run(["dig", "@127.0.0.1", "-p", str(srv.port), "+tries=1", "+time=2", *args],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def expire_option(srv):
    """The EDNS EXPIRE value (RFC 7314) of the answer to an SOA query, or None."""
    q = dns.message.make_query("example.com", "SOA", use_edns=0,
                               options=[dns.edns.GenericOption(9, b"")])
    r = srv.query(q)
    for o in r.options:
        if o.otype == 9:
            return int.from_bytes(o.data, "big")
    return None


# The primaries of these tests ask for a check every second (SOA refresh 1, bounded below by
# refresh-min-interval 1), so "checks go on" is seen within a few seconds.
FAST_SOA = (1, 1, 3600, 60)


# --- expire-policy


def test_keep_serving_past_expiry_with_stale_answer(lab):
    fp = FakePrimary(key=KEY, soa=(1, 1, 3, 60))  # refresh 1, retry 1, expire 3
    fp.publish(1, version(1))
    lab.fakes.append(fp.start())
    sec = lab.secondary(fp, zone={"expire-min-interval": 1, "primary-timeout": 1,
                                  "expire-policy": "keep-serving"})
    # Fresh: no EDE, EXPIRE counts down from 3.
    rcode, codes, _ = ede_codes(sec)
    assert rcode == dns.rcode.NOERROR and codes == []
    assert 0 < expire_option(sec) <= 3
    mark = sec.mark()
    fp.udp_mode = "silent"
    fp.tcp_mode = "close"
    sec.wait_log(r"zone example\.com: EXPIRED: [^\n]*serving serial 1 past its expiry "
                 r"\(expire-policy keep-serving\)", after=mark, timeout=15)
    # Still answering, from the copy, and saying it is stale, on every answer with EDNS.
    assert serves_version(sec, 1)
    rcode, codes, answer = ede_codes(sec)
    assert rcode == dns.rcode.NOERROR and answer and codes == [dns.edns.EDECode.STALE_ANSWER]
    rcode, codes, _ = ede_codes(sec, "nothing-here.example.com")
    assert rcode == dns.rcode.NXDOMAIN and codes == [dns.edns.EDECode.STALE_ANSWER]
    assert expire_option(sec) == 0
    # dig shows it too; without EDNS there is no OPT to carry it, and the answer is the same.
    out = dig(sec, "www.example.com", "A")
    assert "status: NOERROR" in out and "EDE: 3 (Stale Answer)" in out, out
    out = dig(sec, "+noedns", "www.example.com", "A")
    assert "status: NOERROR" in out and "192.0.2.2" in out and "EDE" not in out, out
    text = status(sec)
    assert "serial=1" in text and "state=stale" in text and "stale-since=" in text, text
    assert "EXPIRED" not in text, text
    code, text = sec.ctl("--json", "zone-status", "example.com")
    doc = json.loads(text)["zones"][0]
    assert doc["state"] == "stale" and doc["stale_since"].endswith("Z") and doc["serial"] == 1
    # A restart while stale serves the stored copy stale at once.
    sec.stop()
    sec.expect = 1
    sec.start()
    sec.wait_log(r"expired while we were down; serving it past its expiry")
    assert ede_codes(sec)[1] == [dns.edns.EDECode.STALE_ANSWER]
    assert "state=stale" in status(sec)
    # The primary is back: fresh again, loudly too, and the EDE goes.
    mark = sec.mark()
    fp.udp_mode = "answer"
    fp.tcp_mode = "serve"
    fp.publish(2, version(2))
    sec.wait_log(r"zone example\.com: fresh again: 127\.0\.0\.1@\d+ answered", after=mark,
                 timeout=15)
    wait_for(lambda: serial(sec) == 2, 10, "serial 2", sec)
    rcode, codes, _ = ede_codes(sec)
    assert rcode == dns.rcode.NOERROR and codes == []
    assert 0 < expire_option(sec) <= 3
    assert "state=stale" not in status(sec)


def test_servfail_at_expiry_is_the_default(lab):
    fp = FakePrimary(key=KEY, soa=(1, 1, 3, 60))
    fp.publish(1, version(1))
    lab.fakes.append(fp.start())
    sec = lab.secondary(fp, zone={"expire-min-interval": 1, "primary-timeout": 1})
    fp.udp_mode = "silent"
    fp.tcp_mode = "close"
    sec.wait_log(r"zone example\.com: EXPIRED: [^\n]*answering SERVFAIL", timeout=15)
    rcode, codes, answer = ede_codes(sec)
    assert rcode == dns.rcode.SERVFAIL and not answer and codes == []
    assert "state=EXPIRED" in status(sec)


# --- serial-regression


@pytest.mark.parametrize("ours,theirs", [(5, 3), (10, 4294967000)])
def test_serial_regression_alarm(lab, ours, theirs):
    """A primary whose serial went back is alarmed and not followed. RFC 1982: 4294967000
    precedes 10 (the distance forward from it is 306), however large it looks."""
    fp = lab.fake(serial=ours, soa=FAST_SOA)
    sec = lab.secondary(fp)
    assert "regression" not in status(sec)
    fp.publish(theirs, version(theirs))
    mark = sec.mark()
    trigger(sec, "notify")
    line = sec.wait_log(rf"zone example\.com: SERIAL REGRESSION: 127\.0\.0\.1@{fp.port} has "
                        rf"serial {theirs}, older than ours {ours}[^\n]*alarm[^\n]*", after=mark)
    assert "[event=regression " in line.group(0) and "state=alarm]" in line.group(0)
    text = status(sec)
    assert (f"regression=alarm regression-serial={theirs} "
            f"regression-primary=127.0.0.1@{fp.port} regression-since=") in text, text
    # Checks go on; the copy stays; the alarm is raised once, not per check.
    fp.wait_for(lambda: fp.count("SOA") >= 3, 10, "more checks")
    assert serves_version(sec, ours)
    assert fp.count("AXFR") == 1 and fp.count("IXFR") == 0, fp.seen
    assert sec.output()[mark:].count("SERIAL REGRESSION") == 1
    # The primary moves past ours: taken, and the alarm is over.
    newer = (ours + 1) % 2**32
    fp.publish(newer, version(newer))
    trigger(sec, "notify")
    sec.wait_log(r"zone example\.com: serial regression over", after=mark)
    wait_for(lambda: serial(sec) == newer, 10, f"serial {newer}", sec)
    assert "regression" not in status(sec)


def test_serial_regression_follow_needs_every_primary(lab):
    p1, p2 = lab.fake(serial=5, soa=FAST_SOA), lab.fake(serial=5, soa=FAST_SOA)
    remotes = [("p1", [f"127.0.0.1@{p1.port}"], "xfr-key"),
               ("p2", [f"127.0.0.1@{p2.port}"], "xfr-key")]
    sec = lab.secondary(p1, remotes=remotes,
                        zone={"serial-regression": "follow", "serial-regression-hold": 2})
    # Only the first primary went back: alarmed, never followed, since the second still
    # vouches for ours.
    p1.publish(3, version(3))
    mark = sec.mark()
    sec.wait_log(r"SERIAL REGRESSION: 127\.0\.0\.1@%d has serial 3" % p1.port, after=mark)
    # Longer than the hold, and three more checks: still not followed.
    t0, n0 = time.monotonic(), p2.count("SOA")
    p2.wait_for(lambda: p2.count("SOA") >= n0 + 3 and time.monotonic() - t0 > 3, 15,
                "checks of the second primary for longer than the hold")
    assert serial(sec) == 5
    assert "following" not in sec.output()[mark:]
    assert "regression=follow regression-serial=3" in status(sec)
    # Both: after two checks in which every primary showed it, and the hold, serial 3 comes
    # by AXFR.
    p2.publish(3, version(3))
    m = sec.wait_log(r"zone example\.com: following the serial regression: every primary "
                     r"has shown serial 3 in (\d+) checks for (\d+) s", after=mark, timeout=20)
    assert int(m.group(1)) >= 2 and int(m.group(2)) >= 2, m.group(0)
    sec.wait_log(r"AXFR example\.com from 127\.0\.0\.1@\d+: serial 5 -> 3, [^\n]*finished",
                 after=mark)
    assert serves_version(sec, 3)
    sec.wait_log(r"serial regression over", after=mark)
    assert "regression" not in status(sec)
    # Stored as any transfer: a restart serves 3.
    sec.stop()
    sec.expect = 3
    sec.start()
    assert serves_version(sec, 3)


def test_a_primary_gone_back_does_not_hide_one_with_news(lab):
    """The first primary went back, the second has a newer serial: it is asked too, and its
    serial taken; when its transfer fails, the refresh fails (not "up to date")."""
    p1, p2 = lab.fake(serial=5, soa=FAST_SOA), lab.fake(serial=5, soa=FAST_SOA)
    remotes = [("p1", [f"127.0.0.1@{p1.port}"], "xfr-key"),
               ("p2", [f"127.0.0.1@{p2.port}"], "xfr-key")]
    sec = lab.secondary(p1, remotes=remotes)
    mark = sec.mark()
    p2.tcp_mode = "close"
    p2.publish(6, version(6))
    p1.publish(3, version(3))
    sec.wait_log(r"zone example\.com: refresh failed \(127\.0\.0\.1@%d: [^\n]*\)" % p2.port,
                 after=mark)
    assert "up to date" not in sec.output()[mark:]
    assert serial(sec) == 5
    p2.tcp_mode = "serve"
    sec.wait_log(r"(IXFR|AXFR) example\.com from 127\.0\.0\.1@%d: serial 5 -> 6, [^\n]*finished"
                 % p2.port, after=mark)
    assert serves_version(sec, 6)
    # p1 is still behind: the regression is alarmed against our new serial.
    sec.wait_log(r"SERIAL REGRESSION: 127\.0\.0\.1@%d has serial 3, older than ours 6" % p1.port,
                 after=mark)


# --- the change guard


def replaced_ns(n):
    """Version n served by other name servers only: the apex NS set replaced whole."""
    return [("@", 300, "NS", "other-ns"), ("other-ns", 300, "A", "192.0.2.99")] + version(n)


def test_guard_holds_a_change_of_the_apex_ns_then_accept(lab):
    fp = lab.fake(soa=FAST_SOA)
    sec = lab.secondary(fp, zone={"guard-apex": "true"})
    fp.publish(2, replaced_ns(2), with_defaults=False)
    mark = sec.mark()
    trigger(sec, "notify")
    line = sec.wait_log(r"(IXFR|AXFR) example\.com from 127\.0\.0\.1@\d+: serial 1 -> 2, "
                        r"[^\n]*HELD by the change guard: it replaces the apex NS set whole",
                        after=mark).group(0)
    assert "finished" not in line, line
    assert serves_version(sec, 1)
    text = status(sec)
    assert (f"held-serial=2 held-from=127.0.0.1@{fp.port} held-since=" in text
            and 'held-why="it replaces the apex NS set whole"' in text), text
    doc = json.loads(sec.ctl("--json", "zone-status", "example.com")[1])["zones"][0]
    assert doc["held_serial"] == 2 and doc["held_why"] == "it replaces the apex NS set whole"
    # Checks go on, and do not fetch serial 2 again.
    n = fp.count("AXFR") + fp.count("IXFR")
    fp.wait_for(lambda: fp.count("SOA") >= 3, 10, "more checks")
    assert fp.count("AXFR") + fp.count("IXFR") == n, fp.seen
    assert serves_version(sec, 1)
    code, text = sec.ctl("accept", "example.com")
    assert code == 0 and "serial 2 accepted and published" in text, text
    assert re.search(r"(IXFR|AXFR) example\.com from 127\.0\.0\.1@\d+: serial 1 -> 2, [^\n]*"
                     r"held, then accepted by the operator, finished", sec.output()[mark:])
    assert serves_version(sec, 2)
    r = sec.query(dns.message.make_query("example.com", "NS"))
    assert [rd.to_text() for rrs in r.answer for rd in rrs] == ["other-ns.example.com."]
    assert "held-" not in status(sec)
    # Nothing held any more; and what was accepted is stored, journalled like any change.
    code, text = sec.ctl("accept", "example.com")
    assert code != 0 and "no change is held" in text, text
    assert "journal-changes=" in status(sec)
    sec.stop()
    sec.expect = 2
    sec.start()
    assert serves_version(sec, 2)


def shrunk(n):
    """Version n without most of its records: only the SOA, NS, ns1 and txt are left."""
    return [("txt", 300, "TXT", f'"serial {n}"')]


def test_guard_holds_a_change_that_removes_too_much_then_reject(lab):
    fp = lab.fake(serial=1, soa=FAST_SOA)
    many = version(1) + [(f"r{i}", 300, "TXT", f'"r {i}"') for i in range(10)]
    fp.publish(1, many)
    sec = lab.secondary(fp, zone={"guard-max-removed": "50%"})
    assert sec.ctl("reject", "example.com")[0] != 0  # nothing held yet
    # 17 records; serial 2 keeps the NS, ns1 A and a new txt: 14 removed (82%).
    fp.publish(2, shrunk(2))
    mark = sec.mark()
    trigger(sec, "notify")
    sec.wait_log(r"serial 1 -> 2, [^\n]*HELD by the change guard: it removes 14 of 17 records "
                 r"\(82%, more than guard-max-removed 50%\)", after=mark)
    assert serial(sec) == 1
    code, text = sec.ctl("reject", "example.com")
    assert code == 0 and "serial 2 rejected; serial 1 goes on serving" in text, text
    sec.wait_log(r"the held change to serial 2 from [^\n]* is dropped: rejected by the operator",
                 after=mark)
    text = status(sec)
    assert "rejected-serial=2" in text and "held-" not in text, text
    # The primary still has 2: it is not taken again.
    n = fp.count("AXFR") + fp.count("IXFR")
    trigger(sec, "notify")
    sec.wait_log(r"has serial 2, which the operator rejected \(ctl reject\)", after=mark)
    fp.wait_for(lambda: fp.count("SOA") >= 4, 10, "more checks")
    assert fp.count("AXFR") + fp.count("IXFR") == n, fp.seen
    assert serial(sec) == 1
    # The primary moves on to a change the guard lets pass: published, rejection over.
    fp.publish(3, many[:-1])
    trigger(sec, "notify")
    wait_for(lambda: serial(sec) == 3, 10, "serial 3", sec)
    assert "rejected-serial" not in status(sec)


def test_guard_a_newer_change_that_passes_replaces_the_held_one(lab):
    fp = lab.fake()
    sec = lab.secondary(fp, zone={"guard-apex": True})
    fp.publish(2, replaced_ns(2), with_defaults=False)
    mark = sec.mark()
    trigger(sec, "notify")
    sec.wait_log(r"HELD by the change guard", after=mark)
    fp.publish(3, version(3))  # back to the old name servers
    trigger(sec, "notify")
    wait_for(lambda: serial(sec) == 3, 10, "serial 3", sec)
    assert serves_version(sec, 3)
    sec.wait_log(r"the held change to serial 2 from [^\n]* is dropped: a later change passes",
                 after=mark)
    assert "held-" not in status(sec)


# --- ZONEMD


class ZonemdKnot(servers.Knotd):
    """knotd serving example.com signed (its own keys) with a ZONEMD (SHA-384) it computes
    on every serial, AXFR and IXFR to anyone on loopback, NOTIFY to the backup."""

    def __init__(self, workdir, zone_path, backup_port):
        super().__init__(workdir, zones=[("example.com", zone_path)])
        self.backup_port = backup_port

    def write_config(self):
        super().write_config()
        text = self.conf.read_text()
        text = text.replace("    zonefile-load: whole\n", "    zonefile-load: difference\n")
        text = text.replace("    journal-content: none\n", "    journal-content: all\n")
        head, zones = text.split("zone:\n", 1)
        head += f"""remote:
  - id: backup
    address: 127.0.0.1@{self.backup_port}
acl:
  - id: xfr
    address: [127.0.0.1]
    action: transfer
"""
        zones = zones.replace('file: "', "notify: backup\n    acl: xfr\n    dnssec-signing: on\n"
                              "    zonemd-generate: zonemd-sha384\n    file: \"", 1)
        self.conf.write_text(head + "zone:\n" + zones)

    def reload(self):
        subprocess.run(["knotc", "-s", str(self.dir / "run" / "knot.sock"), "zone-reload",
                        "example.com"], check=True, capture_output=True, timeout=30)

    def serial(self):
        r = self.query(dns.message.make_query("example.com", "SOA"))
        return r.answer[0][0].serial


KNOT_ZONE = """$ORIGIN example.com.
$TTL 300
@ SOA ns1 hostmaster 1 1 1 3600 60
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.1
Mail MX 10 WWW
sub NS ns.sub
ns.sub A 192.0.2.77
"""


def test_zonemd_from_knotd_verified_by_axfr_and_ixfr(tmp_path, understudy_binary):
    backup_port = servers.free_port()
    src = tmp_path / "example.com.zone"
    src.write_text(KNOT_ZONE)
    with ZonemdKnot(tmp_path, src, backup_port) as knot:
        k1 = knot.serial()
        # dnspython agrees that knotd's digest is right, and so the test means something.
        z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "example.com", port=knot.port))
        z.verify_digest()
        sec = Secondary(tmp_path / "sec", understudy_binary,
                        [("pri", [f"127.0.0.1@{knot.port}"], None)])
        sec.fixed_port = backup_port
        sec.expect = k1
        with sec:
            sec.wait_log(rf"zone example\.com: serial {k1}: ZONEMD verified \(scheme 1, hash "
                         r"algorithm 1\)")
            assert re.search(rf"AXFR example\.com from [^\n]*-> {k1}, [^\n]*finished",
                             sec.output())
            assert "zonemd=verified" in status(sec)
            # A change: knotd signs it, digests it anew and NOTIFYs; our IXFR brings it, and
            # the whole new version is verified.
            mark = sec.mark()
            src = dict(knot.zones)["example.com"]  # knotd's own copy of the file
            before = src.stat().st_mtime_ns
            src.write_text(KNOT_ZONE.replace(" 1 1 1 3600", " 5 1 1 3600") + "new TXT \"added\"\n")
            t = max(time.time_ns(), before + 1_000_000_000)  # knotd looks at the mtime
            os.utime(src, ns=(t, t))
            knot.reload()
            wait_for(lambda: knot.serial() != k1, 10, "knotd's new serial", knot)
            k2 = knot.serial()
            sec.wait_log(rf"IXFR example\.com from [^\n]*-> {k2}, [^\n]*finished", after=mark)
            sec.wait_log(rf"serial {k2}: ZONEMD verified", after=mark)
            r = sec.query(dns.message.make_query("new.example.com", "TXT"))
            assert r.rcode() == dns.rcode.NOERROR and r.answer
            assert "zonemd=verified" in status(sec)


def with_digest(fp, n, records, good=True):
    """Publishes version n with a ZONEMD that dnspython computed (spoiled unless good)."""
    fp.publish(n, records)
    text = "".join(f"{name} {ttl} IN {t} {rd}\n" for name, ttl, t, rd in fp.records(n))
    z = dns.zone.from_text(text, origin="example.com.", relativize=True)
    digest = z.compute_digest(dns.zone.DigestHashAlgorithm.SHA384).digest.hex()
    if not good:
        digest = ("0" if digest[0] != "0" else "1") + digest[1:]
    fp.publish(n, records + [("@", 300, "ZONEMD", f"{n} 1 1 {digest}")])


def test_zonemd_mismatch_is_not_published(lab):
    fp = lab.fake()
    with_digest(fp, 1, version(1))
    sec = lab.secondary(fp)
    sec.wait_log(r"serial 1: ZONEMD verified")
    # A wrong digest: not taken, by IXFR nor by the AXFR that follows it; the old copy serves.
    with_digest(fp, 2, version(2), good=False)
    mark = sec.mark()
    trigger(sec, "notify")
    sec.wait_log(r"zone example\.com: ZONEMD: serial 2 from [^\n]* fails verification \(ZONEMD "
                 r"digest mismatch[^\n]*not published", after=mark)
    sec.wait_log(r"refresh failed \([^\n]*serial 2 fails ZONEMD verification", after=mark)
    log = sec.output()[mark:]
    assert "finished" not in log, log
    assert re.search(r"IXFR: serial 2 fails ZONEMD[^\n]*\n[^\0]*AXFR: serial 2 fails ZONEMD",
                     log), log
    assert serves_version(sec, 1)
    text = status(sec)
    assert "zonemd=failed zonemd-serial=2 zonemd-error=\"ZONEMD digest mismatch" in text, text
    # The primary fixes it: taken, and the alarm is over.
    with_digest(fp, 3, version(3))
    trigger(sec, "notify")
    wait_for(lambda: serial(sec) == 3, 10, "serial 3", sec)
    assert "zonemd=verified" in status(sec)
    # A digest we cannot verify (hash algorithm 240) is taken, with a notice.
    fp.publish(4, version(4) + [("@", 300, "ZONEMD", "4 1 240 e2d523f654b9422a96c5a8f44607bbee")])
    mark = sec.mark()
    trigger(sec, "notify")
    wait_for(lambda: serial(sec) == 4, 10, "serial 4", sec)
    sec.wait_log(r"serial 4: ZONEMD with no scheme and hash algorithm we know[^\n]*taken "
                 r"unverified", after=mark)
    assert "zonemd=unverifiable" in status(sec)


# --- log.format json


class JsonSecondary(Secondary):
    """The secondary with log.format json, and a primary zone whose file cannot be read, named
    with a quote, a backslash, control characters and UTF-8, which the log line repeats."""

    def write_config(self):
        super().write_config()
        text = self.conf.read_text()
        text = text.replace("log: {target: stderr, level: info}",
                            "log: {target: stderr, level: debug, format: json}")
        text += ('  - domain: broken.test\n    role: primary\n'
                 '    file: "/no/such/we\\"ird\\\\path\\x01\\t\u00e9.zone"\n')
        self.conf.write_text(text)


def test_json_log_lines_parse_and_carry_the_events(lab, tmp_path, understudy_binary):
    fp = lab.fake(serial=5)
    remotes = [("pri", [f"127.0.0.1@{fp.port}"], "xfr-key")]
    sec = JsonSecondary(tmp_path / "json", understudy_binary, remotes,
                        keys=[("xfr-key", KEY[1])], zone={"guard-apex": True})
    sec.expect = 5
    lab.secs.append(sec)
    sec.start()
    fp.publish(6, version(6))
    trigger(sec, "notify")
    wait_for(lambda: serial(sec) == 6, 10, "serial 6", sec)
    fp.publish(4, version(4))  # a regression
    trigger(sec, "notify")
    wait_for(lambda: '"event":"regression"' in sec.output(), 10, "the regression event", sec)
    # A NOTIFY for a name that is not ours, with a quote, a backslash and bytes that are not
    # UTF-8 in it: escaped in the line, which still parses.
    q = dns.message.make_query(dns.name.from_text('we"ird\\\\\\255.example.org.'), "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    sec.query(q)
    wait_for(lambda: "not a zone of ours" in sec.output(), 10, "the refused NOTIFY", sec)
    sec.ctl("zone-status")
    lines = sec.output().splitlines()
    objs = [json.loads(ln) for ln in lines]  # every line, or the test fails here
    assert all({"time", "level", "message"} <= o.keys() for o in objs)
    events = {}
    for o in objs:
        events.setdefault(o.get("event"), []).append(o)
    xfr = [o for o in events["transfer"] if o["serial"] == 6][0]
    assert xfr["direction"] == "in" and xfr["kind"] in ("IXFR", "AXFR")
    assert xfr["zone"] == "example.com" and xfr["peer"] == f"127.0.0.1@{fp.port}"
    assert xfr["serial_from"] == 5 and isinstance(xfr["ms"], int)
    assert xfr["message"].endswith("finished") and " 5 -> 6," in xfr["message"]
    notify = [o for o in events["notify"] if o["zone"] == "example.com"]
    assert notify and notify[0]["direction"] == "in" and notify[0]["result"] == "accepted"
    reg = events["regression"][0]
    assert reg["state"] == "alarm" and reg["serial"] == 4 and reg["ours"] == 6
    weird = [o for o in objs if "not a zone of ours" in o["message"]]
    assert weird and 'we\\"ird\\\\\\255.example.org.' in weird[0]["message"], weird
    assert weird[0]["event"] == "notify" and weird[0]["result"] == "refused", weird
    assert weird[0]["zone"] == 'we\\"ird\\\\\\255.example.org.', weird
    # Control characters, quotes and backslashes that reach a line as they are: a file name.
    bad = [o for o in objs if "not loaded from" in o["message"]]
    assert bad and bad[0]["message"].endswith('/no/such/we"ird\\path\x01\t\u00e9.zone'), bad
