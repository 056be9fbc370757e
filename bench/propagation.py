#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""propagation.py: the backup role in `make bench`, understudy and knotd as secondaries.

A knotd primary NOTIFYs two secondaries of the same zone, understudy and a second knotd, both
transferring with TSIG. For each change the primary's zone file gets one record added or
changed and a bumped serial, `knotc zone-reload` makes the primary take it, and a poller
sends an SOA query to the primary and to each secondary every millisecond. The propagation
time of a secondary is from the first answer of the primary with the new serial to the
first answer of that secondary with it: the primary's delay before NOTIFY, then NOTIFY, SOA
check, IXFR, apply, store, publish. The primary NOTIFYs the bench's probe first, which
answers and notes the time, so the same is also measured from the NOTIFY.

The 100k-name throughput zone is run twice (BENCH_PROP_CHANGES changes each): with the knotd
primary, and with an understudy primary in its place (`ctl reload`), which sends its NOTIFYs
as soon as it serves the new serial, so that the figure is the secondaries' own and not the
primary's wait before NOTIFY (knotd's is most of it). The 1M-record load zone
(BENCH_IXFR_CHANGES changes) runs with the knotd primary. Each secondary's own log also says how long the
IXFR took: understudy's "IXFR <zone> from <peer>: serial A -> B, N records changed in X ms,
finished" (transfer and apply) and knotd's "refresh, remote ..., zone updated, S seconds"
(SOA check, transfer, apply, commit; its "IXFR, incoming ... finished" line rounds to 0.00
seconds). The initial AXFR of each zone is timed the same way, from the secondaries' start
to their first answer with the serial.

Called by run.py at the end of `make bench` (measure() and report_lines()); run alone it
prints its own section:

    UNDERSTUDY=build/understudy /usr/bin/python3 bench/propagation.py

Environment (all optional):
  BENCH_PROP_CHANGES=20     changes on the 100k-name zone (0 skips that part)
  BENCH_IXFR_CHANGES=10     changes on the 1M-record zone (0 skips that part)
  BENCH_PROP_TIMEOUT=120    seconds a secondary may take to follow one change, or to
                            bootstrap, before it counts as failed
  BENCH_PROP_INTERVAL_MS=1  poll interval
  BENCH_PROP_PAUSE_MS=1000  pause before each change (knotd sometimes waits 0.7 s to act on
                            a NOTIFY that comes less than a second after its last refresh)
plus run.py's UNDERSTUDY, BENCH_OUT, BENCH_NAMES, BENCH_BIG_RECORDS, BENCH_KEEP.
"""

import base64
import datetime
import os
import re
import select
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGIN = "bench.test"
SECRET = base64.b64encode(b"understudy-bench-prop-tsig-key32").decode()


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


PROP_CHANGES = env_int("BENCH_PROP_CHANGES", 20)
IXFR_CHANGES = env_int("BENCH_IXFR_CHANGES", 10)
TIMEOUT = env_int("BENCH_PROP_TIMEOUT", 120)
INTERVAL = env_int("BENCH_PROP_INTERVAL_MS", 1) / 1000.0
PAUSE = env_int("BENCH_PROP_PAUSE_MS", 1000) / 1000.0
SECONDARIES = ("understudy", "knotd")


# ---- SOA serial over UDP -----------------------------------------------------------------------


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


SOA_QUERY = wire_name(ORIGIN) + struct.pack(">HH", 6, 1)


def skip_name(m, p):
    while p < len(m):
        n = m[p]
        if n == 0:
            return p + 1
        if n & 0xC0 == 0xC0:
            return p + 2
        p += 1 + n
    raise ValueError("name runs past the end")


def soa_serial(m):
    """The serial of an authoritative NOERROR SOA answer, or None."""
    try:
        if len(m) < 12:
            return None
        flags, qd, an = struct.unpack(">HHH", m[2:8])
        if not flags & 0x8000 or flags & 0x000F or not flags & 0x0400 or qd != 1 or an < 1:
            return None
        p = skip_name(m, 12) + 4
        p = skip_name(m, p)
        rtype, _, _, rdlen = struct.unpack(">HHIH", m[p:p + 10])
        if rtype != 6:
            return None
        p += 10
        p = skip_name(m, skip_name(m, p))
        return struct.unpack(">I", m[p:p + 4])[0]
    except (ValueError, struct.error, IndexError):
        return None


def serial_ge(a, b):
    """RFC 1982: a is b or newer."""
    return a == b or (0 < ((a - b) & 0xFFFFFFFF) < 0x80000000)


class Poller:
    """One connected UDP socket per server; SOA queries to the servers still waited for,
    every INTERVAL, until each answers a serial at least the target."""

    def __init__(self, ports):
        self.socks = {}
        for name, port in ports.items():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            self.socks[name] = s
        self.qid = 0
        # The NOTIFY probe: the primary's first NOTIFY target. It answers every NOTIFY at
        # once and notes when the first one for each serial came. knotd 3.2 sends NOTIFY
        # over TCP, so the probe listens on both.
        self.probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.probe_tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        for _ in range(100):
            self.probe.bind(("127.0.0.1", 0))
            self.probe_port = self.probe.getsockname()[1]
            try:
                self.probe_tcp.bind(("127.0.0.1", self.probe_port))
                break
            except OSError:
                self.probe.close()
                self.probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.probe_tcp.listen(16)
        self.probe.setblocking(False)
        self.probe_tcp.setblocking(False)
        self.notified = {}  # serial: monotonic time of the first NOTIFY

    def close(self):
        for s in self.socks.values():
            s.close()
        self.probe.close()
        self.probe_tcp.close()

    def notify_answer(self, m, t):
        """The answer to a NOTIFY (None if m is not one); notes the time per serial."""
        try:
            flags, qd, an = struct.unpack(">HHH", m[2:8])
            if flags & 0x8000 or (flags >> 11) & 0xF != 4 or qd != 1:
                return None
            q_end = skip_name(m, 12) + 4
            if an >= 1:
                p = skip_name(m, q_end)
                rtype = struct.unpack(">H", m[p:p + 2])[0]
                if rtype == 6:
                    p = skip_name(m, skip_name(m, p + 10))
                    self.notified.setdefault(struct.unpack(">I", m[p:p + 4])[0], t)
            return m[:2] + struct.pack(">HHHHH", 0x8000 | (flags & 0x7800) | 0x0400, 1, 0, 0,
                                       0) + m[12:q_end]
        except (ValueError, struct.error, IndexError):
            return None

    def serve_probe(self, t):
        while True:
            try:
                m, peer = self.probe.recvfrom(4096)
            except (BlockingIOError, ConnectionRefusedError):
                break
            resp = self.notify_answer(m, t)
            if resp:
                try:
                    self.probe.sendto(resp, peer)
                except OSError:
                    pass
        while True:
            try:
                c, _ = self.probe_tcp.accept()
            except BlockingIOError:
                return
            # The NOTIFY follows the connect at once; one message, one answer.
            with c:
                try:
                    c.settimeout(1.0)
                    data = b""
                    while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                        chunk = c.recv(65535)
                        if not chunk:
                            break
                        data += chunk
                    resp = self.notify_answer(data[2:], t)
                    if resp:
                        c.sendall(struct.pack(">H", len(resp)) + resp)
                except OSError:
                    pass

    def serial(self, name, timeout=0.5):
        """One SOA query to one server: its serial, or None."""
        got = self.wait({name: None}, timeout, any_serial=True)
        return got.get(name, (None, None))[1]

    def wait(self, targets, timeout, any_serial=False, during=None):
        """targets: {name: serial}. Returns {name: (monotonic time, serial)} of the first
        answer with a serial at least the target (any serial with any_serial). during(), if
        given, is called between polls until it returns True (to reap a child)."""
        seen = {}
        pending = set(targets)
        t_end = time.monotonic() + timeout
        nxt = time.monotonic()
        fds = {s.fileno(): n for n, s in self.socks.items()}
        while pending:
            now = time.monotonic()
            if now >= t_end:
                break
            if during and during():
                during = None
            if now >= nxt:
                for n in pending:
                    self.qid = (self.qid + 1) & 0xFFFF
                    try:
                        self.socks[n].send(struct.pack(">HHHHHH", self.qid, 0, 1, 0, 0, 0) +
                                           SOA_QUERY)
                    except (ConnectionRefusedError, BlockingIOError):
                        pass
                nxt = max(nxt + INTERVAL, now)
            r, _, _ = select.select([self.socks[n] for n in pending] +
                                    [self.probe, self.probe_tcp], [], [],
                                    max(0.0, nxt - time.monotonic()))
            t = time.monotonic()
            for s in r:
                if s is self.probe or s is self.probe_tcp:
                    self.serve_probe(t)
                    continue
                n = fds[s.fileno()]
                while True:
                    try:
                        m = s.recv(4096)
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    v = soa_serial(m)
                    if v is None or n not in pending:
                        continue
                    if any_serial or serial_ge(v, targets[n]):
                        seen[n] = (t, v)
                        pending.discard(n)
        return seen


# ---- servers -----------------------------------------------------------------------------------


def knot_conf(d, port, body):
    for sub in ("run", "db", "zones"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    conf = os.path.join(d, "knot.conf")
    with open(conf, "w") as f:
        f.write(f"""server:
    rundir: "{d}/run"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "{d}/run/knot.sock"
log:
  - target: stderr
    any: info
database:
    storage: "{d}/db"
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: {SECRET}
{body}""")
    return ["knotd", "-c", conf]


def primary_conf(d, port, zonefile, us_port, ks_port, probe_port):
    """knotd as the primary, as in tests/system/test_secondary.py: the zone file is diffed
    on reload (difference-no-serial, which needs journal-content: all), the changes are kept
    in the journal for IXFR, NOTIFY to both secondaries, transfers with TSIG.

    NOTIFYs go out in the order listed: first the bench's probe (which answers at once, and
    times them), then knotd, then understudy, so any head start is knotd's."""
    return knot_conf(d, port, f"""remote:
  - id: probe
    address: 127.0.0.1@{probe_port}
  - id: understudy
    address: 127.0.0.1@{us_port}
    key: xfr-key
  - id: knotd
    address: 127.0.0.1@{ks_port}
    key: xfr-key
acl:
  - id: xfr
    address: 127.0.0.1
    key: xfr-key
    action: transfer
template:
  - id: default
    storage: "{d}/zones"
    zonefile-sync: -1
    zonefile-load: difference-no-serial
    journal-content: all
zone:
  - domain: {ORIGIN}
    file: "{zonefile}"
    notify: [probe, knotd, understudy]
    acl: xfr
""")


def knot_secondary_conf(d, port, pri_port):
    """knotd as the secondary. journal-content: all with zonefile-sync: -1 keeps the zone and
    every change in knotd's LMDB journal and writes no zone file: the same durability as
    understudy, which stores each new version in LMDB before serving it."""
    return knot_conf(d, port, f"""remote:
  - id: primary
    address: 127.0.0.1@{pri_port}
    key: xfr-key
acl:
  - id: notify
    address: 127.0.0.1
    key: xfr-key
    action: notify
template:
  - id: default
    storage: "{d}/zones"
    zonefile-sync: -1
    journal-content: all
zone:
  - domain: {ORIGIN}
    master: primary
    acl: notify
""")


def understudy_primary_conf(binary, d, port, zonefile, us_port, ks_port, probe_port):
    """understudy as the primary: the zone file is diffed on `ctl reload` into the journal
    for IXFR, NOTIFY to the probe and both secondaries (understudy sends them at once, each
    from a thread of its own), transfers with TSIG."""
    os.makedirs(os.path.join(d, "storage"), exist_ok=True)
    conf = os.path.join(d, "understudy.yaml")
    with open(conf, "w") as f:
        f.write(f"""server:
  listen: ["127.0.0.1@{port}"]
  storage: "{d}/storage"
  control: "{d}/ctl.sock"
  udp-workers: 1
  watch-ns: false
  tcp-workers: 1
log: {{target: stderr, level: info}}
keys:
  - {{id: xfr-key, algorithm: hmac-sha256, secret: "{SECRET}"}}
remotes:
  - {{id: probe, address: ["127.0.0.1@{probe_port}"]}}
  - {{id: knotd, address: ["127.0.0.1@{ks_port}"], key: xfr-key}}
  - {{id: understudy, address: ["127.0.0.1@{us_port}"], key: xfr-key}}
acls:
  - {{id: xfr, address: [127.0.0.1], key: xfr-key, action: [transfer]}}
zones:
  - domain: {ORIGIN}
    file: "{zonefile}"
    notify: [probe, knotd, understudy]
    acl: [xfr]
""")
    return [os.path.abspath(binary), "serve", "-c", conf]


def understudy_conf(binary, d, port, pri_port):
    os.makedirs(os.path.join(d, "storage"), exist_ok=True)
    conf = os.path.join(d, "understudy.yaml")
    with open(conf, "w") as f:
        f.write(f"""server:
  listen: ["127.0.0.1@{port}"]
  storage: "{d}/storage"
  control: "{d}/ctl.sock"
  udp-workers: 1
  watch-ns: false
  tcp-workers: 1
log: {{target: stderr, level: info}}
keys:
  - {{id: xfr-key, algorithm: hmac-sha256, secret: "{SECRET}"}}
remotes:
  - id: pri
    address: ["127.0.0.1@{pri_port}"]
    key: xfr-key
zones:
  - domain: {ORIGIN}
    role: secondary
    primaries: [pri]
""")
    return [os.path.abspath(binary), "serve", "-c", conf]


# ---- logs --------------------------------------------------------------------------------------

US_XFR = re.compile(r"^(\S+) \w+: (AXFR|IXFR) " + re.escape(ORIGIN) +
                    r" from \S+: serial (\d+) -> (\d+), (\d+) records(?: changed)? in (\d+) ms, finished")
US_NOTIFY = re.compile(r"^(\S+) \w+: NOTIFY for " + re.escape(ORIGIN) + r"\.? from ")
# knotd 3.2: "[bench.test.] IXFR, incoming, remote 127.0.0.1@P, finished, 0.01 seconds, ..."
KNOT_XFR = re.compile(r"(AXFR|IXFR), incoming, remote \S+,? finished, ([\d.]+) seconds")
# "[bench.test.] refresh, remote 127.0.0.1@P, zone updated, 0.01 seconds, serial A -> B"
KNOT_UPD = re.compile(r"refresh, remote \S+,? zone updated, ([\d.]+) seconds, serial (\d+) -> "
                      r"(\d+)")
LOG_ALARMS = ("error", "warning", "refresh failed", "does not apply", "EXPIRED", "Sanitizer",
              "runtime error")


def log_wall(ts):
    """understudy's UTC timestamp (2026-01-02T03:04:05.678Z) as epoch seconds."""
    try:
        return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


class Log:
    """Lines a server wrote to its log file since the last read."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.lines = []

    def read(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        self.pos += end
        new = data[:end].decode(errors="replace").splitlines()
        self.lines.extend(new)
        return new


def us_xfr(lines, serial):
    """(kind, records, ms, wall) of understudy's transfer to this serial, or None."""
    for ln in lines:
        m = US_XFR.search(ln)
        if m and int(m.group(4)) == serial:
            return m.group(2), int(m.group(5)), int(m.group(6)), log_wall(m.group(1))
    return None


def us_notify_wall(lines):
    for ln in lines:
        m = US_NOTIFY.search(ln)
        if m:
            return log_wall(m.group(1))
    return None


def knot_xfr(lines, serial):
    """(kind, seconds of the transfer line, seconds of the refresh line) for this serial.

    knotd logs the transfer line and then the refresh line with the serials; the transfer
    taken is the last one logged before the refresh line of this serial."""
    last = None
    for ln in lines:
        m = KNOT_XFR.search(ln)
        if m:
            last = (m.group(1), float(m.group(2)))
            continue
        u = KNOT_UPD.search(ln)
        if u and int(u.group(3)) == serial and last:
            return last[0], last[1], float(u.group(1))
    return None


def alarms(lines):
    return [ln for ln in lines if any(a in ln for a in LOG_ALARMS)]


# ---- the measurement ---------------------------------------------------------------------------


def pct(values, p):
    """Nearest-rank percentile."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))]


class Zone:
    """The primary's zone file: the generated text with the SOA serial bumped and the
    bench's own records at the end."""

    def __init__(self, src, dst):
        with open(src) as f:
            self.text = f.read()
        m = re.search(r"^@\s+\d+\s+IN\s+SOA\s+\S+\s+\S+\s+(\d+)\s", self.text, re.M)
        if not m:
            raise RuntimeError(f"no SOA serial in {src}")
        self.serial = int(m.group(1))
        self.head, self.tail = self.text[:m.start(1)], self.text[m.end(1):]
        self.extra = []
        self.dst = dst
        self.write()

    def write(self):
        tmp = self.dst + ".new"
        with open(tmp, "w") as f:
            f.write(self.head + str(self.serial) + self.tail)
            f.write("".join(self.extra))
        os.replace(tmp, self.dst)  # knotd never reads a half-written file

    def change(self, i):
        """Change i: an added name (even i) or a changed A record (odd i); serial + 1."""
        self.serial = (self.serial + 1) & 0xFFFFFFFF
        if i % 2 == 0:
            self.extra.append(f"prop-add-{i}\t300\tIN\tTXT\t\"change {i}\"\n")
        else:
            line = f"prop-mod\t300\tIN\tA\t192.0.2.{i % 250 + 1}\n"
            self.extra = [ln for ln in self.extra if not ln.startswith("prop-mod\t")] + [line]
        self.write()
        return self.serial


def run_zone(rt, tmp, label, src, changes, binary, warnings, primary="knotd"):
    """Primary (knotd or understudy) + two secondaries on one zone: bootstrap, then `changes`
    changes. Returns the figures for this zone."""
    d = os.path.join(tmp, f"prop-{label}")
    os.makedirs(d)
    ports = {"primary": rt.free_port(), "understudy": rt.free_port(), "knotd": rt.free_port()}
    zfile = os.path.join(d, f"{ORIGIN}.zone")
    zone = Zone(src, zfile)
    res = {"dir": d, "primary": primary,
           "records": sum(1 for ln in zone.text.splitlines()
                          if ln and not ln.startswith(("$", ";")))}
    procs = {}
    poller = Poller(ports)
    dirs = {n: os.path.join(d, n) for n in ("primary", "understudy", "knotd")}
    for x in dirs.values():
        os.makedirs(x)
    pconf = primary_conf if primary == "knotd" else (
        lambda *a: understudy_primary_conf(binary, *a))
    argv = {
        "primary": pconf(dirs["primary"], ports["primary"], zfile, ports["understudy"],
                         ports["knotd"], poller.probe_port),
        "understudy": understudy_conf(binary, dirs["understudy"], ports["understudy"],
                                      ports["primary"]),
        "knotd": knot_secondary_conf(dirs["knotd"], ports["knotd"], ports["primary"]),
    }
    logs = {n: Log(os.path.join(dirs[n], "server.log")) for n in argv}
    try:
        procs["primary"] = rt.start(argv["primary"], logs["primary"].path)
        rt.wait_ready(procs["primary"], ports["primary"], rt.LOAD_TIMEOUT)
        s0 = poller.serial("primary")
        if s0 != zone.serial:
            raise RuntimeError(f"primary serves serial {s0}, not {zone.serial}")
        print(f"  {label}: {primary} primary up with {res['records']:,} records, port "
              f"{ports['primary']}", flush=True)
        # Bootstrap: both secondaries start at once and AXFR the zone.
        t0 = time.monotonic()
        for n in SECONDARIES:
            procs[n] = rt.start(argv[n], logs[n].path)
        seen = poller.wait({n: zone.serial for n in SECONDARIES}, TIMEOUT)
        res["axfr"] = {}
        for n in SECONDARIES:
            for ln in alarms(logs[n].read()):
                warnings.append(f"{label} {n}: {ln.strip()}")
            if n in seen:
                res["axfr"][n] = {"s": seen[n][0] - t0}
            else:
                res["axfr"][n] = {"error": f"no serial {zone.serial} within {TIMEOUT} s"}
                warnings.append(f"{label}: {n} did not bootstrap; log "
                                f"{logs[n].path}")
        us = us_xfr(logs["understudy"].lines, zone.serial)
        if us:
            res["axfr"]["understudy"]["log_ms"] = us[2]
        kn = knot_xfr(logs["knotd"].lines, zone.serial)
        if kn:
            res["axfr"]["knotd"]["log_ms"] = kn[2] * 1000
        print(f"  {label}: AXFR bootstrap " + ", ".join(
            f"{n} {r['s']:.2f} s" if "s" in r else f"{n} FAILED"
            for n, r in res["axfr"].items()), flush=True)
        live = [n for n in SECONDARIES if "s" in res["axfr"][n]]

        res["changes"] = []
        for i in range(changes):
            for n in list(live):
                if procs[n].poll() is not None:
                    warnings.append(f"{label}: {n} exited with status {procs[n].returncode}")
                    live.remove(n)
            time.sleep(PAUSE)  # let each server finish with the last change
            target = zone.change(i)
            for lg in logs.values():
                lg.read()  # what came before this change is not its
            start_lines = {n: len(logs[n].lines) for n in logs}
            if primary == "knotd":
                cmd = ["knotc", "-s", os.path.join(dirs["primary"], "run", "knot.sock"),
                       "zone-reload", ORIGIN]
            else:
                cmd = [os.path.abspath(binary), "ctl", "-s",
                       os.path.join(dirs["primary"], "ctl.sock"), "reload", ORIGIN]
            kc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            wall0, mono0 = time.time(), time.monotonic()
            seen = poller.wait({"primary": target, **{n: target for n in live}}, TIMEOUT,
                               during=lambda: kc.poll() is not None)
            out = kc.communicate()[0].decode(errors="replace").strip()
            if kc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd[:1] + cmd[3:])} failed: {out}")
            if "primary" not in seen:
                raise RuntimeError(f"the primary did not serve serial {target} within "
                                   f"{TIMEOUT} s (log {logs['primary'].path})")
            tp = seen["primary"][0]
            tn = poller.notified.get(target)
            c = {"serial": target, "kind": "add" if i % 2 == 0 else "modify",
                 "primary_s": tp - mono0}
            if tn is not None:
                c["notify_s"] = tn - tp
            # The logged lines of this change: wait for them briefly (they are written
            # just before the new serial is served, but by another thread).
            t_logs = time.monotonic() + 5.0
            while time.monotonic() < t_logs:
                for lg in logs.values():
                    lg.read()
                if ((us_xfr(logs["understudy"].lines[start_lines["understudy"]:], target)
                     or "understudy" not in seen) and
                        (knot_xfr(logs["knotd"].lines[start_lines["knotd"]:], target)
                         or "knotd" not in seen)):
                    break
                time.sleep(0.01)
            for n in live:
                lines = logs[n].lines[start_lines[n]:]
                for ln in alarms(lines):
                    warnings.append(f"{label} change {i + 1} {n}: {ln.strip()}")
                r = c[n] = {}
                if n in seen:
                    r["s"] = seen[n][0] - tp
                    if tn is not None:
                        r["from_notify_s"] = seen[n][0] - tn
                else:
                    r["error"] = f"did not serve serial {target} within {TIMEOUT} s"
                    warnings.append(f"{label} change {i + 1}: {n} {r['error']}; log "
                                    f"{logs[n].path}")
                if n == "understudy":
                    x = us_xfr(lines, target)
                    if x:
                        r["kind"], r["records"], r["log_ms"] = x[0], x[1], x[2]
                        nw = us_notify_wall(lines)
                        # Wall clock of the primary's first new answer, for the breakdown
                        # against understudy's millisecond timestamps.
                        wall_p = wall0 + (tp - mono0)
                        if nw is not None and x[3] is not None:
                            r["notify_after_ms"] = (nw - wall_p) * 1000
                            r["finished_after_notify_ms"] = (x[3] - nw) * 1000
                else:
                    x = knot_xfr(lines, target)
                    if x:
                        # knotd's transfer line says 0.00 s at this size (10 ms steps); its
                        # refresh line covers SOA check, IXFR, apply and commit.
                        r["kind"], r["xfr_line_ms"], r["log_ms"] = x[0], x[1] * 1000, x[2] * 1000
                if r.get("kind") == "AXFR":
                    warnings.append(f"{label} change {i + 1}: {n} fell back to AXFR")
            res["changes"].append(c)
            print(f"  {label} change {i + 1}/{changes} ({c['kind']}, serial {target}): "
                  + ", ".join(f"{n} " + (f"{c[n]['s'] * 1000:.1f} ms" if "s" in c[n] else
                                         "FAILED") +
                              (f" (log {c[n]['log_ms']:.0f} ms)" if "log_ms" in c[n] else "")
                              for n in live), flush=True)
            if not live:
                break
        for n in SECONDARIES:
            if n in procs and procs[n].poll() is None:
                res.setdefault("mem", {})[n] = proc_status(procs[n].pid)
    finally:
        poller.close()
        for p in procs.values():
            rt.stop(p)
    for n in SECONDARIES:
        logs[n].read()
        res.setdefault("alarms", {})[n] = alarms(logs[n].lines)
    summarize(res)
    return res


def proc_status(pid, keys=("VmRSS", "VmHWM", "RssAnon", "RssFile")):
    """{key: KiB} from /proc/PID/status."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k = line.split(":", 1)[0]
                if k in keys:
                    out[k] = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return out


def summarize(res):
    res["summary"] = {}
    nd = [c["notify_s"] for c in res.get("changes", []) if "notify_s" in c]
    if nd:
        res["notify_delay_median_ms"] = statistics.median(nd) * 1000
        res["notify_delay_p90_ms"] = pct(nd, 90) * 1000
    for n in SECONDARIES:
        runs = [c[n] for c in res.get("changes", []) if n in c]
        ok = [r["s"] for r in runs if "s" in r]
        fn = [r["from_notify_s"] for r in runs if "from_notify_s" in r]
        logs = [r["log_ms"] for r in runs if "log_ms" in r]
        s = res["summary"][n] = {"changes": len(runs), "ok": len(ok),
                                 "ixfr": sum(1 for r in runs if r.get("kind") == "IXFR")}
        if ok:
            s["median_ms"] = statistics.median(ok) * 1000
            s["p90_ms"] = pct(ok, 90) * 1000
            s["max_ms"] = max(ok) * 1000
        if fn:
            s["notify_median_ms"] = statistics.median(fn) * 1000
            s["notify_p90_ms"] = pct(fn, 90) * 1000
        if logs:
            s["log_median_ms"] = statistics.median(logs)
            s["log_p90_ms"] = pct(logs, 90)
        if n == "understudy":
            na = [r["notify_after_ms"] for r in runs if "notify_after_ms" in r]
            fa = [r["finished_after_notify_ms"] for r in runs if "finished_after_notify_ms" in r]
            if na:
                s["notify_after_ms"] = statistics.median(na)
                s["finished_after_notify_ms"] = statistics.median(fa)


def measure(rt, tmp, zone, big, binary, warnings):
    """Both zones; rt is run.py's module (start, stop, free_port, wait_ready, memory)."""
    out = {}
    if not binary or not os.access(binary, os.X_OK):
        out["note"] = f"no understudy binary at {binary!r}"
        return out
    for tool in ("knotd", "knotc"):
        if not rt.shutil.which(tool):
            out["note"] = f"{tool} not installed"
            return out
    c0 = rt.cpu_times()
    time.sleep(1.0)
    c1 = rt.cpu_times()
    out["idle_load_cores"] = sum(c1[c][0] - c0[c][0] for c in c1) / os.sysconf("SC_CLK_TCK")
    parts = []
    if PROP_CHANGES > 0:
        parts.append(("prop", zone, PROP_CHANGES, "knotd"))
        parts.append(("uprop", zone, PROP_CHANGES, "understudy"))
    if IXFR_CHANGES > 0 and big:
        parts.append(("ixfr", big, IXFR_CHANGES, "knotd"))
    for label, src, n, primary in parts:
        try:
            out[label] = run_zone(rt, tmp, label, src, n, binary, warnings, primary)
        except Exception as e:
            out[label] = {"error": str(e)}
            warnings.append(f"propagation {label}: {e}")
            print(f"  {label}: {e}", flush=True)
    return out


PARTS = {"prop": "propagation, knotd primary", "uprop": "propagation, understudy primary",
         "ixfr": "IXFR apply, knotd primary"}


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "n/a"


def ratio_rows(res):
    """(label, (understudy's figure, knotd's), title) for run.py's table of ratios."""
    rows = []
    for label in PARTS:
        r = (res or {}).get(label)
        if not r or "summary" not in r:
            continue
        u, k = r["summary"]["understudy"], r["summary"]["knotd"]
        size = f"{r['records'] / 1e6:.1f}M" if r["records"] >= 1e6 else f"{r['records'] // 1000}k"
        pri = {"knotd": "knot", "understudy": "us"}.get(r.get("primary", "knotd"))
        # Short enough for run.py's 32-column titles.
        for key, what in (("median_ms", "median"), ("p90_ms", "p90"),
                          ("notify_median_ms", "from NOTIFY"), ("log_median_ms", "log IXFR")):
            rows.append((label, (u.get(key), k.get(key)), f"prop {what}, {size}, {pri} pri"))
    return rows


def fms(v):
    if v is None:
        return "-"
    return f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def report_lines(res):
    L = []
    if not res:
        return L
    L.append("")
    L.append("backup role: a primary (knotd, then understudy) NOTIFYs a knotd secondary and "
             "understudy (TSIG")
    L.append("on both); per change one record added or changed in the zone file, serial + 1, "
             "`knotc zone-reload`")
    L.append(f"or `understudy ctl reload`; SOA polled every {INTERVAL * 1000:g} ms")
    if "note" in res:
        L.append(f"(not measured: {res['note']})")
        return L
    if "idle_load_cores" in res:
        L.append(f"CPUs unpinned; other processes used {res['idle_load_cores'] * 100:.0f}% of a "
                 f"core just before; {PAUSE:g} s pause before each change")
    for label, title in PARTS.items():
        r = res.get(label)
        if r is None:
            continue
        L.append("")
        if "error" in r:
            L.append(f"{title}: failed: {r['error']}")
            continue
        nchg = len(r.get("changes", []))
        L.append(f"{title}, {r['records']:,}-record zone, {nchg} changes (ms)")
        hdr = (f"{'secondary':<12} {'ok':>5} {'IXFR':>4} {'median':>8} {'p90':>7} {'max':>7} "
               f"{'ntf med':>8} {'ntf p90':>7} {'log med':>8} {'log p90':>7} {'AXFR s':>7} "
               f"{'RSS MiB':>7} {'peak':>6}")
        L.append(hdr)
        L.append("-" * len(hdr))
        for n in SECONDARIES:
            s = r["summary"][n]
            a = r.get("axfr", {}).get(n, {})
            m = r.get("mem", {}).get(n, {})
            L.append(f"{n:<12} {s['ok']:>2}/{s['changes']:<2} {s['ixfr']:>4} "
                     f"{fms(s.get('median_ms')):>8} {fms(s.get('p90_ms')):>7} "
                     f"{fms(s.get('max_ms')):>7} {fms(s.get('notify_median_ms')):>8} "
                     f"{fms(s.get('notify_p90_ms')):>7} {fms(s.get('log_median_ms')):>8} "
                     f"{fms(s.get('log_p90_ms')):>7} "
                     f"{(format(a['s'], '.2f') if 's' in a else 'fail'):>7} "
                     f"{(m.get('VmRSS', 0) / 1024):>7.0f} {(m.get('VmHWM', 0) / 1024):>6.0f}")
        u, k = r["summary"]["understudy"], r["summary"]["knotd"]
        if "notify_delay_median_ms" in r:
            L.append(f"the primary sent its first NOTIFY {fms(r['notify_delay_median_ms'])} ms "
                     f"(median; p90 {fms(r['notify_delay_p90_ms'])}) after it served the new "
                     f"serial")
        if "notify_after_ms" in u:
            L.append(f"understudy, median: 'NOTIFY' logged {u['notify_after_ms']:.0f} ms after "
                     f"the primary served the serial, 'finished' "
                     f"{u['finished_after_notify_ms']:.0f} ms after 'NOTIFY'")
        L.append("understudy/knotd: propagation median "
                 f"{ratio(u.get('median_ms'), k.get('median_ms'))}, p90 "
                 f"{ratio(u.get('p90_ms'), k.get('p90_ms'))}; from NOTIFY median "
                 f"{ratio(u.get('notify_median_ms'), k.get('notify_median_ms'))}, p90 "
                 f"{ratio(u.get('notify_p90_ms'), k.get('notify_p90_ms'))}; log median "
                 f"{ratio(u.get('log_median_ms'), k.get('log_median_ms'))}")
    L.append("")
    L.append("median/p90/max: from the primary's first answer with the new serial to the "
             "secondary's first;")
    L.append("ntf: the same from the first NOTIFY the primary sent (to the bench's probe, "
             "then knotd, then")
    L.append("understudy). log: the secondary's own figure: understudy's 'IXFR ... in X ms, "
             "finished'")
    L.append("(transfer + apply; the SOA check before and storing the version after are not "
             "in it),")
    L.append("knotd's 'refresh ... zone updated, S seconds' (SOA check, transfer, apply, "
             "commit; 10 ms steps).")
    L.append("AXFR s: both secondaries started together, to their first answer with the "
             "serial.")
    L.append("RSS/peak: VmRSS/VmHWM of the secondary after the changes (file-backed pages, "
             "such as")
    L.append("LMDB's map, included; results.json has RssAnon and RssFile).")
    return L


def main():
    import run as rt  # run.py's process handling (start, stop by PID, free ports)

    for sig in (rt.signal.SIGINT, rt.signal.SIGTERM, rt.signal.SIGHUP):
        rt.signal.signal(sig, rt.on_signal)
    rt.atexit.register(rt.stop_all)
    rt.become_subreaper()
    t0 = time.monotonic()
    os.makedirs(rt.OUT, exist_ok=True)
    zone, _, big = rt.ensure_data()
    tmp = rt.tempfile.mkdtemp(prefix="understudy-prop-")
    warnings = []
    try:
        res = measure(rt, tmp, zone, big if rt.BIG_RECORDS else None, rt.UNDERSTUDY, warnings)
    finally:
        rt.stop_all()
    text = "\n".join(report_lines(res) + [""] + ["WARNING: " + w for w in warnings]) + "\n"
    keep = rt.KEEP or any("error" in v for v in res.values() if isinstance(v, dict))
    text += f"\n(took {time.monotonic() - t0:.0f} s; configs and logs in {tmp}" + (
        ")\n" if keep else ", removed)\n")
    sys.stdout.write(text)
    with open(os.path.join(rt.OUT, "propagation.json"), "w") as f:
        rt.json.dump(res, f, indent=1, sort_keys=True)
    if not keep:
        rt.shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
