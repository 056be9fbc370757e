# SPDX-License-Identifier: MIT
"""test_secondary_faults: understudy as the backup of a primary that misbehaves.

The primary is fakeprimary.FakePrimary, scripted per test. Each case checks what an operator
would: the copy served (queried), the log line that says what went wrong, and that a good
transfer afterwards still works.

The kill -9 test restarts and SIGKILLs understudy KILL_ITERATIONS times (default 200, about
16-18 s) with random delays from the seed KILL_SEED (default 1).
"""

import base64
import os
import random
import re
import signal
import struct
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import pytest

import servers
from servers import wait_for
from fakeprimary import Blackhole, FakePrimary, notify

ALG = "hmac-sha256"
SECRET = base64.b64encode(b"understudy-faults-test-key-32byt").decode()
OTHER = base64.b64encode(b"another-key-that-is-not-the-pri!").decode()
KEY = ("xfr-key", SECRET, ALG)
# fleet-interval 0: the fleet monitor's own SOA checks of the primary would mix with the
# ones these tests count (test_fleet.py tests the monitor).
FAST = {"refresh-min-interval": 1, "retry-min-interval": 1, "fleet-interval": 0}


def version(n):
    """Zone contents of serial n. With the SOA, NS and ns1 A the zone holds 7 records, and
    its AXFR is 8 records (the SOA twice) in 3 messages of 3, 3 and 2."""
    return [
        ("www", 300, "A", f"192.0.2.{n % 250 + 1}"),
        (f"v{n}", 300, "TXT", f'"version {n}"'),
        ("mail", 300, "MX", "10 www"),
        ("txt", 300, "TXT", f'"serial {n}"'),
    ]


class Secondary(servers.Understudy):
    """understudy with example.com as a secondary.

    remotes: [(id, [addresses], key id or None)]; primaries: remote ids in order (default:
    all); keys: [(id, secret)]; acls: YAML lines of the acls section; zone: zone options.
    """

    def __init__(self, workdir, binary, remotes, primaries=None, keys=(), acls=(), zone=None,
                 zone_acl=(), listen_v6=False):
        super().__init__(workdir, zones=[], binary=binary)
        self.zones = [("example.com", None)]
        self.remotes = remotes
        self.primaries = primaries or [r[0] for r in remotes]
        self.keys = list(keys)
        self.acls = list(acls)
        self.zone_opts = dict(FAST, **(zone or {}))
        self.zone_acl = list(zone_acl)
        self.listen_v6 = listen_v6 and servers.have_ipv6()
        self.expect = 1  # the serial start() waits for; None: only for the process to run

    def write_config(self):
        listen = [f'"127.0.0.1@{self.port}"'] + ([f'"::1@{self.port}"'] if self.listen_v6 else [])
        lines = [
            "server:",
            f"  listen: [{', '.join(listen)}]",
            f'  storage: "{self.dir}/storage"',
            f'  control: "{self.dir}/ctl.sock"',
            "  udp-workers: 1",
            "  watch-ns: false",
            "log: {target: stderr, level: info}",
        ]
        if self.keys:
            lines.append("keys:")
            lines += [f'  - {{id: {k}, algorithm: {ALG}, secret: "{s}"}}' for k, s in self.keys]
        lines.append("remotes:")
        for rid, addrs, key in self.remotes:
            a = ", ".join(f'"{x}"' for x in addrs)
            lines.append(f"  - {{id: {rid}, address: [{a}]" + (f", key: {key}}}" if key else "}"))
        if self.acls:
            lines.append("acls:")
            lines += [f"  - {a}" for a in self.acls]
        lines += ["zones:", "  - domain: example.com", "    role: secondary",
                  f"    primaries: [{', '.join(self.primaries)}]"]
        if self.zone_acl:
            lines.append(f"    acl: [{', '.join(self.zone_acl)}]")
        lines += [f"    {k}: {v}" for k, v in self.zone_opts.items()]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, timeout=10.0):
        return super().start(timeout)

    def wait_ready(self, timeout=10.0):
        want = self.expect
        wait_for(lambda: (self.proc.poll() is not None or want is None
                          or serial(self, timeout=0.05) == want),
                 timeout, f"serial {want} on the secondary", self)
        if self.proc.poll() is not None:
            raise servers.ServerError(f"understudy exited with {self.proc.returncode}:\n"
                                      + self.output()[-3000:])

    def notify(self, key=None, source="127.0.0.1"):
        return notify("127.0.0.1" if ":" not in source else "::1", self.port, key=key,
                      source=source)

    def mark(self):
        """Where the log is now: wait_log(after=mark) looks only at what comes later."""
        return len(self.output())

    def wait_log(self, pattern, after=0, timeout=10.0):
        """Polls the output for a regex after the given mark; returns the match."""
        rx = re.compile(pattern)
        found = []

        def seen():
            m = rx.search(self.output(), after)
            if m:
                found.append(m)
            return bool(m)

        wait_for(seen, timeout, f"log line /{pattern}/", self)
        return found[0]


def serial(srv, timeout=0.5):
    """The SOA serial served, ("rcode", N) for an error answer, None for no answer."""
    try:
        r = srv.query(dns.message.make_query("example.com", "SOA"), timeout=timeout)
    except Exception:
        return None
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return ("rcode", r.rcode())
    return r.answer[0][0].serial


def txt(srv, name, timeout=1.0):
    r = srv.query(dns.message.make_query(name, "TXT"), timeout=timeout)
    if r.rcode() != dns.rcode.NOERROR:
        return ("rcode", r.rcode())
    return sorted(b"".join(rd.strings).decode() for rrs in r.answer for rd in rrs)


def serves_version(srv, n):
    """The whole of version n is what the secondary answers."""
    assert serial(srv) == n
    assert txt(srv, "txt.example.com") == [f"serial {n}"]
    assert txt(srv, f"v{n}.example.com") == [f"version {n}"]
    r = srv.query(dns.message.make_query("www.example.com", "A"))
    assert [rd.to_text() for rrs in r.answer for rd in rrs] == [f"192.0.2.{n % 250 + 1}"]
    return True


@pytest.fixture
def lab(tmp_path, understudy_binary):
    """Makes fake primaries and secondaries, and stops them all at the end (a secondary's
    stop() fails the test on a bad exit code or a sanitizer report)."""

    class Lab:
        def __init__(self):
            self.fakes, self.secs, self.holes = [], [], []
            self.n = 0

        def fake(self, key=KEY, serial=1, **kw):
            fp = FakePrimary(key=key, **kw)
            fp.publish(serial, version(serial))
            self.fakes.append(fp.start())
            return fp

        def blackhole(self, **kw):
            b = Blackhole(**kw)
            self.holes.append(b)
            return b

        def secondary(self, fp=None, key=True, remotes=None, start=True, **kw):
            """A secondary of fp (remote "pri", with the TSIG key unless key=False),
            started and waited for until it serves fp's serial."""
            self.n += 1
            if remotes is None:
                remotes = [("pri", [f"127.0.0.1@{fp.port}"], "xfr-key" if key else None)]
            keys = kw.pop("keys", [("xfr-key", SECRET)])
            sec = Secondary(tmp_path / f"s{self.n}", understudy_binary, remotes, keys=keys, **kw)
            sec.expect = fp.serial if fp else None
            self.secs.append(sec)
            if start:
                sec.start()
            return sec

    lab = Lab()
    yield lab
    errors = []
    for sec in lab.secs:
        try:
            sec.stop()
        except servers.ServerError as e:
            errors.append(str(e))
    for fp in lab.fakes:
        fp.stop()
    for b in lab.holes:
        b.close()
    for fp in lab.fakes:
        assert not fp.errors, fp.errors
    assert not errors, "\n".join(errors)


def trigger(sec, how, key=KEY):
    """Starts a transfer: "axfr" (ctl retransfer: AXFR at once) or "notify" (SOA check,
    then IXFR)."""
    if how == "axfr":
        code, text = sec.ctl("retransfer", "example.com")
        assert code == 0, text
    else:
        r = sec.notify(key=key)
        assert r and r[0] == dns.rcode.NOERROR, r


def ixfr_or_axfr(how):
    return "AXFR" if how == "axfr" else "IXFR"


def rejected(sec, mark, what, kind):
    """Waits for the refresh failure naming kind and what; returns the log line."""
    m = sec.wait_log(r"zone example\.com: refresh failed \([^\n]*" + kind + r"[^\n]*"
                     + what + r"[^\n]*\)", after=mark)
    return m.group(0)


def recovers(sec, fp, n=2, nudge=True):
    """Once the primary behaves, serial n comes in whole: at the next retry (1 s), or at
    once with nudge (`ctl refresh`), which saves the wait where the retry timer is not what
    the test is about."""
    fp.xfr_script = None
    fp.udp_mode = "answer"
    fp.tcp_mode = "serve"
    if nudge:
        code, text = sec.ctl("refresh", "example.com")
        assert code == 0, text
    wait_for(lambda: serial(sec) == n, 10, f"serial {n} after the primary recovered", sec)
    assert serves_version(sec, n)
    assert re.search(rf"(AXFR|IXFR) example\.com from 127\.0\.0\.1@{fp.port}: serial \d+ -> {n},"
                     r".* finished", sec.output()), sec.output()


# --- 1. bad TSIG in the middle of a stream

@pytest.mark.parametrize("how,fault", [("axfr", "wrong-secret"), ("notify", "wrong-secret"),
                                       ("axfr", "last-unsigned")])
def test_bad_tsig_mid_stream(lab, how, fault):
    fp = lab.fake()
    sec = lab.secondary(fp)
    assert serves_version(sec, 1)
    fp.publish(2, version(2))
    if fault == "wrong-secret":
        # Message 2 of 3 signed with a wrong secret; an IXFR request gets the same stream
        # (a full zone in answer to IXFR, RFC 1995 4).
        fp.xfr_script = lambda x: x.send(x.axfr_messages(), wrong_key_at=1)
        what = "fails our TSIG check"
    else:
        # RFC 8945 5.3.1: unsigned messages may come between signed ones, never last.
        fp.xfr_script = lambda x: x.send(x.axfr_messages(), unsigned_at={2})
        what = "last message is not signed"
    mark = sec.mark()
    trigger(sec, how)
    line = rejected(sec, mark, what, ixfr_or_axfr(how))
    assert serves_version(sec, 1), line
    assert "finished" not in sec.output()[mark:]
    recovers(sec, fp)


# --- 2. the stream is cut

@pytest.mark.parametrize("cut", ["mid-message", "between-messages"])
def test_truncated_stream(lab, cut):
    fp = lab.fake(key=None)
    sec = lab.secondary(fp, key=False)
    fp.publish(2, version(2))
    if cut == "mid-message":
        # Message 2 of 3 is cut halfway, then the connection is closed.
        fp.xfr_script = lambda x: x.send_cut(x.axfr_messages(), cut_in_message=1, keep=0.5)
    else:
        def script(x):
            x.send(x.axfr_messages()[:-1])  # everything but the message with the final SOA
            x.close()
        fp.xfr_script = script
    mark = sec.mark()
    trigger(sec, "axfr")
    line = rejected(sec, mark, "", "AXFR")
    assert serves_version(sec, 1), line
    assert "finished" not in sec.output()[mark:]
    recovers(sec, fp)
    # What the operator reads must say the stream was cut short (not just an errno text).
    assert re.search(r"(ended|closed|cut|truncated|short|incomplete)", line), (
        f"unclear log line for a transfer cut {cut}: {line!r}")


# --- 3. the final SOA is not the first one

def test_soa_mismatch(lab):
    fp = lab.fake()
    sec = lab.secondary(fp)
    fp.publish(2, version(2))

    def script(x):
        rrsets = x.axfr_rrsets()
        rrsets[-1] = fp.rrset(fp.soa_record(3))  # ends with serial 3, began with 2
        x.send(x.split(rrsets))
    fp.xfr_script = script
    mark = sec.mark()
    trigger(sec, "axfr")
    rejected(sec, mark, "SOA with serial 3 follows the first SOA's 2", "AXFR")
    assert serves_version(sec, 1)
    recovers(sec, fp)


# --- 4. records outside the zone

@pytest.mark.parametrize("owner", ["evil.example.org.", "badexample.com.", "com."])
def test_out_of_zone_record(lab, owner):
    fp = lab.fake()
    sec = lab.secondary(fp)
    # In the middle of message 2, among good records.
    bad = version(2)[:1] + [(owner, 300, "A", "192.0.2.66")] + version(2)[1:]
    fp.publish(2, bad)
    mark = sec.mark()
    trigger(sec, "axfr")
    line = rejected(sec, mark, "record " + re.escape(owner) + " type 1 is outside the zone", "AXFR")
    assert serves_version(sec, 1), line
    r = sec.query(dns.message.make_query(owner, "A"))
    assert r.rcode() == dns.rcode.REFUSED and not r.answer, r
    fp.publish(2, version(2))
    recovers(sec, fp)


# --- 5. a zone larger than the configured limits

@pytest.mark.parametrize("limit", ["max-zone-records", "max-zone-size"])
def test_oversized_zone(lab, limit):
    fp = lab.fake()
    # The AXFR of version 1 is 8 records in about 350 bytes: under both limits.
    opts = {"max-zone-records": 12} if limit == "max-zone-records" else {"max-zone-size": 1024}
    sec = lab.secondary(fp, zone=opts)
    assert serves_version(sec, 1)
    fp.publish(2, version(2) + [(f"bulk{i}", 300, "TXT", f'"{"x" * 40} {i}"') for i in range(30)])
    fp.records_per_message = 5
    mark = sec.mark()
    trigger(sec, "notify")
    what = "more than 12 records" if limit == "max-zone-records" else "larger than 1024 bytes"
    line = rejected(sec, mark, what, "XFR")
    assert serves_version(sec, 1), line
    r = sec.query(dns.message.make_query("bulk0.example.com", "TXT"))
    assert r.rcode() == dns.rcode.NXDOMAIN
    code, text = sec.ctl("zone-status", "example.com")
    assert "serial=1" in text and what in text, text
    fp.publish(2, version(2))
    recovers(sec, fp)


def test_ixfr_cannot_grow_zone_past_max_zone_records(lab):
    """Each IXFR is small, but together they grow the zone past max-zone-records: the
    limit is on what we hold, or a primary can grow a backup without bound."""
    fp = lab.fake()
    sec = lab.secondary(fp, zone={"max-zone-records": 12})
    grow = []
    results = {}
    for n in (2, 3):
        # Additions only: the IXFR stream is 4 SOAs + 3 records = 7 records, under 12.
        grow += [(f"grow{n}-{i}", 300, "TXT", f'"grow {n} {i}"') for i in range(3)]
        fp.publish(n, version(1) + grow)
        mark = sec.mark()
        trigger(sec, "notify")
        m = sec.wait_log(r"(refresh failed[^\n]*|IXFR example\.com from [^\n]*finished)",
                         after=mark)
        results[n] = m.group(0)
        code, text = sec.ctl("zone-status", "example.com")
        results[n] += " | " + text.strip()
    # Serial 2 holds 7 + 3 = 10 records: fine. Serial 3 would hold 13.
    assert "finished" in results[2], results
    assert "refresh failed" in results[3] and "12" in results[3], (
        "an IXFR grew the zone past max-zone-records 12: " + results[3])
    assert serial(sec) == 2


# --- 6. an IXFR that does not apply

def test_ixfr_deleting_missing_record_falls_back_to_axfr(lab):
    fp = lab.fake()
    sec = lab.secondary(fp)
    fp.publish(2, version(2))

    def script(x):
        if x.kind == "IXFR":
            # The real diff from 1 to 2, plus the deletion of a record serial 1 never had.
            old, new = fp.records(1)[1:], fp.records(2)[1:]
            removed = [r for r in old if r not in new] + [("ghost", 300, "A", "192.0.2.99")]
            x.send(x.ixfr_messages(removed=removed))
        else:
            x.default()
    fp.xfr_script = script
    mark = sec.mark()
    trigger(sec, "notify")
    m = sec.wait_log(r"AXFR example\.com from 127\.0\.0\.1@\d+: serial 1 -> 2, .*finished",
                     after=mark)
    log = sec.output()[mark:]
    i = log.find("IXFR does not apply")
    assert 0 <= i < m.start() - mark, log
    assert "ghost.example.com" in log[i:log.index("\n", i)], log  # names what failed
    assert serves_version(sec, 2)
    assert fp.kinds()[-3:] == ["SOA", "IXFR", "AXFR"], fp.seen
    # At once: no retry interval between the failed IXFR and the AXFR.
    assert fp.when("AXFR", -1) - fp.when("IXFR", -1) < 0.9
    assert "refresh failed" not in log, log


# --- 7. a primary that will not do IXFR

def test_ixfr_notimp_falls_back_to_axfr(lab):
    fp = lab.fake()
    sec = lab.secondary(fp)
    fp.publish(2, version(2))

    def script(x):
        if x.kind == "IXFR":
            x.send([x.rcode_message(dns.rcode.NOTIMP)])
        else:
            x.default()
    fp.xfr_script = script
    mark = sec.mark()
    trigger(sec, "notify")
    m = sec.wait_log(r"AXFR example\.com from 127\.0\.0\.1@\d+: serial 1 -> 2, .*finished",
                     after=mark)
    log = sec.output()[mark:m.end()]
    assert "NOTIMP" in log, log
    assert serves_version(sec, 2)
    assert fp.kinds()[-3:] == ["SOA", "IXFR", "AXFR"], fp.seen
    assert fp.when("AXFR", -1) - fp.when("IXFR", -1) < 0.9


def test_ixfr_refused_is_not_retried_as_axfr(lab):
    """A primary that refuses us IXFR would refuse AXFR too (BIND does not retry either)."""
    fp = lab.fake()
    sec = lab.secondary(fp)
    fp.publish(2, version(2))

    def script(x):
        if x.kind == "IXFR":
            x.send([x.rcode_message(dns.rcode.REFUSED)])
        else:
            x.default()
    fp.xfr_script = script
    mark = sec.mark()
    trigger(sec, "notify")
    m = sec.wait_log(r"refresh failed \([^\n]*REFUSED", after=mark)
    assert "AXFR" not in fp.kinds()[-2:], fp.seen
    assert serves_version(sec, 1)


# --- 8. a primary that stalls

@pytest.mark.parametrize("where", ["before-first-message", "after-first-message"])
def test_stalled_transfer_is_dropped_after_idle_timeout(lab, where):
    fp = lab.fake()
    sec = lab.secondary(fp, zone={"transfer-idle-timeout": 2})
    fp.publish(2, version(2))

    def script(x):
        if where == "after-first-message":
            x.send(x.axfr_messages()[:1])
        x.stall(20)  # the fault: nothing more, connection open
    fp.xfr_script = script
    mark = sec.mark()
    trigger(sec, "notify")
    fp.wait_for(lambda: fp.count("IXFR") >= 1, 5, "the IXFR request")
    t0 = fp.when("IXFR", -1)
    # While it stalls, the old copy is served.
    assert serves_version(sec, 1)
    line = rejected(sec, mark, "timed out", "IXFR")
    took = time.monotonic() - t0
    assert 1.5 < took < 4.5, (took, line)
    assert serves_version(sec, 1)
    recovers(sec, fp, nudge=False)  # by the retry timer


# --- 9. failover between primaries

@pytest.mark.parametrize("layout", ["two-remotes", "two-addresses"])
def test_failover_from_refused_primary_is_quick(lab, layout):
    fp = lab.fake(key=None)
    dead = servers.free_port(["127.0.0.1"])  # nothing listens there: refused
    if layout == "two-remotes":
        remotes = [("dead", [f"127.0.0.1@{dead}"], None), ("pri", [f"127.0.0.1@{fp.port}"], None)]
    else:
        remotes = [("pri", [f"127.0.0.1@{dead}", f"127.0.0.1@{fp.port}"], None)]
    t0 = time.monotonic()
    sec = lab.secondary(fp, remotes=remotes, zone={"primary-timeout": 2})
    took = time.monotonic() - t0
    assert took < 2.0, took  # well under primary-timeout x 2
    out = sec.output()
    assert re.search(rf"127\.0\.0\.1@{dead}: AXFR: cannot connect: Connection refused", out), out
    assert re.search(rf"AXFR example\.com from 127\.0\.0\.1@{fp.port}: .*finished", out), out
    # The SOA check of a refresh fails over just as fast (UDP: port unreachable).
    fp.publish(2, version(2))
    t0 = time.monotonic()
    trigger(sec, "notify", key=None)
    wait_for(lambda: serial(sec) == 2, 5, "serial 2", sec)
    assert time.monotonic() - t0 < 2.0
    assert serves_version(sec, 2)
    code, text = sec.ctl("zone-status", "example.com")
    assert f"primary=127.0.0.1@{fp.port}" in text, text


@pytest.mark.parametrize("mute", [False, True], ids=["drops", "mute"])
def test_failover_from_silent_primary(lab, mute):
    """The first primary is silent: its host drops everything (a connect times out) or its
    process hangs (connections are taken, nothing is said). Either costs primary-timeout once,
    not the idle timeout; a NOTIFY from the second primary asks it first; the refresh timer
    keeps the configured order; a NOTIFY that comes while a check hangs is not lost."""
    fp = lab.fake(key=None)
    hole = lab.blackhole(addr="127.0.0.2", mute=mute)  # another host than fp's 127.0.0.1
    remotes = [("silent", [f"127.0.0.2@{hole.port}"], None),
               ("pri", [f"127.0.0.1@{fp.port}"], None)]
    t0 = time.monotonic()
    sec = lab.secondary(fp, remotes=remotes,
                        zone={"primary-timeout": 2, "transfer-idle-timeout": 30})
    took = time.monotonic() - t0
    assert 1.8 < took < 4.5, took  # one primary-timeout, then the next primary
    why = "timed out" if not mute else "Connection timed out"
    assert re.search(rf"127\.0\.0\.2@{hole.port}: AXFR: .*{why}", sec.output()), sec.output()
    print(f"bootstrap with a silent first primary ({'mute' if mute else 'drops'}): {took:.2f} s")

    # A NOTIFY from the live primary: it is asked first, the silent one not at all.
    fp.publish(2, version(2))
    asked = hole.received
    t0 = time.monotonic()
    trigger(sec, "notify", key=None)
    wait_for(lambda: serial(sec) == 2, 6, "serial 2", sec)
    took = time.monotonic() - t0
    print(f"change from NOTIFY with a silent first primary: {took * 1000:.0f} ms")
    assert took < 1.0, took
    assert hole.received == asked
    assert serves_version(sec, 2)

    # The refresh timer (here ctl refresh) keeps the order: the silent one first, then on.
    fp.publish(3, version(3))
    mark = sec.mark()
    code, text = sec.ctl("refresh", "example.com")
    assert code == 0, text
    # While that check waits on the silent primary, the live one NOTIFYs serial 4.
    wait_for(lambda: hole.received > asked, 3, "the SOA query to the silent primary")
    fp.publish(4, version(4))
    trigger(sec, "notify", key=None)
    wait_for(lambda: serial(sec) == 4, 8, "serial 4 (the NOTIFY during a check)", sec)
    assert serves_version(sec, 4)
    assert re.search(rf"127\.0\.0\.2@{hole.port}: SOA query: Connection timed out",
                     sec.output()[mark:]), sec.output()


# --- 10. serial arithmetic (RFC 1982)

def test_serial_wraps_around(lab):
    fp = lab.fake(serial=4294967295)
    sec = lab.secondary(fp)
    assert serial(sec) == 4294967295
    fp.publish(1, version(1))
    mark = sec.mark()
    trigger(sec, "notify")
    wait_for(lambda: serial(sec) == 1, 5, "serial 1 (after 4294967295)", sec)
    assert serves_version(sec, 1)
    assert re.search(r"IXFR example\.com from .*: serial 4294967295 -> 1, .*finished",
                     sec.output()[mark:]), sec.output()


def test_serial_going_backwards_is_not_transferred(lab):
    fp = lab.fake(serial=5)
    sec = lab.secondary(fp)
    fp.publish(3, version(3))
    mark = sec.mark()
    trigger(sec, "notify")
    sec.wait_log(r"zone example\.com: 127\.0\.0\.1@\d+ has serial 3, older than ours 5",
                 after=mark)
    assert serves_version(sec, 5)
    assert fp.kinds() == ["AXFR", "SOA"], fp.seen  # bootstrap, then the check: no transfer
    # The same after a forced refresh.
    trigger(sec, "notify")
    fp.wait_for(lambda: fp.count("SOA") >= 2, 5, "the second SOA check")
    sec.wait_log(r"has serial 3, older than ours 5[^\0]*has serial 3, older than ours 5",
                 after=mark)
    assert serves_version(sec, 5)
    assert fp.count("AXFR") == 1 and fp.count("IXFR") == 0, fp.seen


@pytest.mark.parametrize("answer", ["ixfr-diff", "whole-zone"])
def test_transfer_older_than_soa_answer_is_not_taken(lab, answer):
    """The SOA answer says 6 (newer than our 5), the transfer then brings serial 3 (as from
    a pool of primaries behind one address, one of them stale): the zone must not go back.
    ixfr-diff: the IXFR is a diff 5 -> 3 (rejected), then the AXFR fallback brings 3;
    whole-zone: the IXFR is answered with the whole zone at serial 3 (RFC 1995 4)."""
    fp = lab.fake(serial=5)
    sec = lab.secondary(fp)
    fp.publish(3, version(3))
    if answer == "whole-zone":
        fp.xfr_script = lambda x: x.send(x.axfr_messages())
    fp.udp_mode = lambda q: fp.response(q, [fp.rrset(fp.soa_record(6))])
    mark = sec.mark()
    trigger(sec, "notify")
    fp.wait_for(lambda: fp.count("IXFR") >= 1, 5, "the IXFR request")
    m = sec.wait_log(r"(refresh failed[^\n]*|(IXFR|AXFR) example\.com from [^\n]*finished)",
                     after=mark)
    assert "finished" not in m.group(0), (
        "took a transfer of serial 3 over our serial 5: " + m.group(0))
    assert serves_version(sec, 5)


# --- 11. expiry

def test_expiry_and_recovery(lab):
    fp = FakePrimary(key=KEY, soa=(1, 1, 3, 60))  # refresh 1, retry 1, expire 3
    fp.publish(1, version(1))
    lab.fakes.append(fp.start())
    sec = lab.secondary(fp, zone={"expire-min-interval": 1, "primary-timeout": 1})
    t_ok = time.monotonic()
    # The primary goes quiet: no SOA answers, TCP connections closed at once.
    fp.udp_mode = "silent"
    fp.tcp_mode = "close"
    fp.wait_for(lambda: fp.count("SOA") >= 1, 5, "a refresh")
    assert serial(sec) == 1  # still within expire
    sec.wait_log(r"zone example\.com: EXPIRED", timeout=10)
    took = time.monotonic() - t_ok
    assert 2.0 < took < 7.0, took
    assert serial(sec) == ("rcode", dns.rcode.SERVFAIL)
    r = sec.query(dns.message.make_query("www.example.com", "A"))
    assert r.rcode() == dns.rcode.SERVFAIL
    code, text = sec.ctl("zone-status", "example.com")
    assert "state=EXPIRED" in text, text
    # Back: the zone is transferred again and served.
    fp.publish(2, version(2))
    recovers(sec, fp, nudge=False)  # by the retry timer
    code, text = sec.ctl("zone-status", "example.com")
    assert "serial=2" in text and "EXPIRED" not in text, text


def test_expiry_is_not_held_off_by_a_stalled_transfer(lab):
    """The primary answers the SOA check (a newer serial) and then stalls the transfer:
    the zone must still expire on time, not when the transfer gives up."""
    fp = FakePrimary(key=KEY, soa=(3600, 1, 2, 60))  # expire 2 s
    fp.publish(1, version(1))
    lab.fakes.append(fp.start())
    sec = lab.secondary(fp, zone={"expire-min-interval": 1, "transfer-idle-timeout": 6})
    t_ok = time.monotonic()
    fp.publish(2, version(2))
    fp.xfr_script = lambda x: x.stall(20)
    trigger(sec, "notify")
    fp.wait_for(lambda: fp.count("IXFR") >= 1, 5, "the IXFR request")
    # Expire is 2 s after the last good refresh; allow a second of timer granularity.
    deadline = t_ok + 2 + 1.5
    wait_for(lambda: serial(sec) == ("rcode", dns.rcode.SERVFAIL) or time.monotonic() > deadline,
             10, "expiry or its deadline", sec)
    got = serial(sec)
    log = sec.output()
    assert got == ("rcode", dns.rcode.SERVFAIL) and "EXPIRED" in log, (
        f"{time.monotonic() - t_ok:.1f} s after the last refresh (expire 2 s), with a transfer "
        f"stalled, the zone still answers {got}")


# --- 12. who may NOTIFY

def test_notify_acl(lab):
    fp = lab.fake(key=None)
    acls = ["{id: v6-notify, address: [\"::1\"], key: acl-key, action: notify}"]
    sec = lab.secondary(fp, key=False, keys=[("other-key", OTHER), ("acl-key", SECRET)],
                        acls=acls, zone_acl=["v6-notify"], listen_v6=True)
    fp.publish(2, version(2))
    mark = sec.mark()
    refusals = 0
    # Signed with a key the server knows, from the primary's address: the primary has no
    # key and no acl names other-key, so this is not the primary speaking.
    rcode, flags, _ = sec.notify(key=("other-key", OTHER, ALG))
    assert rcode == dns.rcode.REFUSED, rcode
    refusals += 1
    if servers.have_ipv6():
        # From another address, unsigned: the acl wants acl-key.
        rcode, flags, _ = sec.notify(source="::1")
        assert rcode == dns.rcode.REFUSED, rcode
        refusals += 1
    # A key nobody configured: NOTAUTH with TSIG error BADKEY (RFC 8945 5.2.1).
    rcode, flags, _ = sec.notify(key=("stranger", OTHER, ALG))
    assert rcode == dns.rcode.NOTAUTH, rcode
    sec.wait_log("(refused by the zone's rules[^\0]*){%d}" % refusals, after=mark)
    assert sec.output()[mark:].count("refused by the zone's rules") == refusals
    assert re.search(r"NOTIFY for example\.com\.? from 127\.0\.0\.1@\d+: refused",
                     sec.output()[mark:]), sec.output()
    assert serial(sec) == 1
    # From the primary, unsigned as its remote has no key: accepted, and it transfers.
    rcode, flags, _ = sec.notify()
    assert rcode == dns.rcode.NOERROR and flags & dns.flags.AA, (rcode, flags)
    wait_for(lambda: serial(sec) == 2, 5, "serial 2 after the primary's NOTIFY", sec)
    assert serves_version(sec, 2)
    # Only the accepted NOTIFY made it check the primary.
    assert fp.count("SOA") == 1, fp.seen
    if servers.have_ipv6():
        # The acl's key from the acl's address: allowed.
        fp.publish(3, version(3))
        rcode, flags, _ = sec.notify(key=("acl-key", SECRET, ALG), source="::1")
        assert rcode == dns.rcode.NOERROR and flags & dns.flags.AA, (rcode, flags)
        wait_for(lambda: serial(sec) == 3, 5, "serial 3 after the acl's NOTIFY", sec)


# --- 13. kill -9 at random moments while transfers run

KILL_ITERATIONS = int(os.environ.get("KILL_ITERATIONS", "200"))
KILL_SEED = int(os.environ.get("KILL_SEED", "1"))


def names_in(n):
    """Version n has this many TXT names (n0 .. n{K-1}), so counts differ between versions."""
    return 4000 + (n % 7) * 300


class BigZone:
    """Renders whole-zone answers for version n fast, as raw wire: SOA, NS, ns1 A, then a
    TXT "serial n" at every name n0..n{K-1}, then the SOA again."""

    def __init__(self, origin="example.com"):
        self.origin = dns.name.from_text(origin)

    def records(self, n):
        soa = (dns.name.from_text("ns1", self.origin).to_wire()
               + dns.name.from_text("hostmaster", self.origin).to_wire()
               + struct.pack("!IIIII", n, 3600, 1, 86400, 60))
        ptr = b"\xc0\x0c"  # the origin, in the question
        recs = [(ptr, 6, soa), (ptr, 2, b"\x03ns1" + ptr),
                (b"\x03ns1" + ptr, 1, bytes([192, 0, 2, 53]))]
        t = f"serial {n}".encode()
        rd = bytes([len(t)]) + t
        for i in range(names_in(n)):
            lab = f"n{i}".encode()
            recs.append((bytes([len(lab)]) + lab + ptr, 16, rd))
        recs.append((ptr, 6, soa))
        return recs

    def messages(self, qid, question, n, per=400):
        recs = self.records(n)
        out = []
        for i in range(0, len(recs), per):
            chunk = recs[i:i + per]
            body = b"".join(o + struct.pack("!HHIH", ty, 1, 300, len(rd)) + rd
                            for o, ty, rd in chunk)
            hdr = struct.pack("!HHHHHH", qid, 0x8400, 1, len(chunk), 0, 0)
            out.append(hdr + question + body)
        return out


@pytest.mark.normal_build_only
def test_kill9_during_transfers(lab, understudy_binary):
    rng = random.Random(KILL_SEED)
    fp = FakePrimary(key=None)
    fp.publish(1, [])
    fp.start()
    lab.fakes.append(fp)
    big = BigZone()
    gate = threading.Event()  # closed while the test reads the zone: no transfer runs then
    requested = threading.Event()  # a transfer request reached the primary
    sent_all = threading.Event()  # the last message of a transfer went out

    def script(x):
        while not gate.wait(0.1):
            if fp._stopping:
                return
        requested.set()
        n = fp.serial
        wire = x.query.to_wire()
        question = wire[12:12 + len(x.query.question[0].name.to_wire()) + 4]
        for m in big.messages(x.query.id, question, n):
            x.send_raw(struct.pack("!H", len(m)) + m)
        sent_all.set()
    fp.xfr_script = script
    sec = lab.secondary(None, key=False, remotes=[("pri", [f"127.0.0.1@{fp.port}"], None)],
                        start=False)
    sec.expect = None
    sec.port = servers.free_port(["127.0.0.1"])
    sec.fixed_port = sec.port

    stored = 0        # the newest serial known to be stored (logged finished, or served)
    served_runs = 0
    moments = {"before it began": 0, "mid-transfer": 0, "after it finished": 0}
    torn = []
    t_start = time.monotonic()
    for it in range(KILL_ITERATIONS):
        gate.clear()
        sec.start()
        # Wait until it answers at all (a stored copy is served at once, or SERVFAIL).
        # (A query sent before the socket is bound is lost: poll with a short timeout.)
        wait_for(lambda: sec.proc.poll() is not None or serial(sec, timeout=0.02) is not None,
                 10, "any answer", sec)
        assert sec.proc.poll() is None, (
            f"iteration {it}: understudy exited with {sec.proc.returncode} at start:\n"
            + sec.output())
        s = serial(sec)
        if stored:
            assert isinstance(s, int), f"iteration {it}: {s} after serial {stored} was stored"
        if isinstance(s, int):
            served_runs += 1
            assert s >= stored, f"iteration {it}: serves {s}, older than stored {stored}"
            assert s <= fp.serial
            k = names_in(s)
            code, text = sec.ctl("zone-status", "example.com")
            assert f"serial={s} records={k + 3} " in text, (it, s, text)
            picks = [0, k - 1] + [rng.randrange(k) for _ in range(6)]
            for i in picks:
                got = txt(sec, f"n{i}.example.com")
                if got != [f"serial {s}"]:
                    torn.append((it, s, i, got))
            r = sec.query(dns.message.make_query(f"n{k}.example.com", "TXT"))
            if r.rcode() != dns.rcode.NXDOMAIN:
                torn.append((it, s, k, dns.rcode.to_text(r.rcode())))
            assert serial(sec) == s  # nothing changed while we looked
            assert not torn, torn
            stored = s
        # A new version, a NOTIFY, and a kill at a random moment of the transfer.
        fp.publish(fp.serial + 1, [])
        xfrs = fp.count("IXFR") + fp.count("AXFR")
        requested.clear()
        sent_all.clear()
        gate.set()
        notify("127.0.0.1", sec.port, timeout=0.5)
        # The delay is the test: a kill at a random moment. A transfer with its store takes
        # about 10 ms, so 0-150 ms after the NOTIFY seldom lands inside it; two iterations
        # in three draw the moment from 0-10 ms after the request reached the primary (the
        # stream) or after its last message went out (build, store, publish).
        mode = it % 3
        if mode == 1:
            requested.wait(2)
        elif mode == 2:
            sent_all.wait(2)
        time.sleep(rng.uniform(0, 0.150 if mode == 0 else 0.010))
        os.kill(sec.proc.pid, signal.SIGKILL)
        sec.proc.wait()
        sec.check_sanitizers()
        done = False
        for m in re.finditer(r"serial \d+ -> (\d+), .*finished", sec.output()):
            stored = max(stored, int(m.group(1)))
            done = True
        started = fp.count("IXFR") + fp.count("AXFR") > xfrs
        moment = "after it finished" if done else "mid-transfer" if started else "before it began"
        moments[moment] += 1
        sec.proc = None
    took = time.monotonic() - t_start
    # Finally a clean run: it catches up with the primary and stops cleanly.
    gate.set()
    sec.expect = None
    sec.start()
    wait_for(lambda: serial(sec, timeout=0.02) is not None, 10, "any answer", sec)
    notify("127.0.0.1", sec.port)
    wait_for(lambda: serial(sec) == fp.serial, 10, f"serial {fp.serial} at the end", sec)
    print(f"kill -9 loop: {KILL_ITERATIONS} iterations in {took:.1f} s, "
          f"{served_runs} restarts served a stored copy, last stored serial {stored}; "
          f"killed {moments}")
    assert served_runs >= KILL_ITERATIONS // 2


def test_lost_soa_query_is_sent_again(lab):
    """A SOA query lost on the way (a lossy link) goes again halfway through primary-timeout:
    the refresh succeeds from the same primary, with no error."""
    fp = FakePrimary(key=KEY)
    fp.publish(1, version(1))
    lab.fakes.append(fp.start())
    sec = lab.secondary(fp, zone={"primary-timeout": 2})
    fp.publish(2, version(2))
    seen = []

    def first_lost(q):
        seen.append(time.monotonic())
        return None if len(seen) == 1 else fp.soa_response(q)
    fp.udp_mode = first_lost
    code, out = sec.ctl("refresh", "example.com")
    assert code == 0, out
    wait_for(lambda: serial(sec) == 2, 5, "serial 2 after the resent SOA query", sec)
    assert len(seen) == 2 and 0.8 < seen[1] - seen[0] < 1.9, seen
    code, text = sec.ctl("zone-status", "example.com")
    assert "serial=2" in text and "last-error" not in text, text
