# SPDX-License-Identifier: MIT
"""catalog.py: a catalog of 10,000 new members, understudy side by side with knotd (part of
`make bench`).

For each software (knotd, then understudy) a producer and BENCH_CAT_CONSUMERS consumers
(default 2: "served everywhere"), each from a source address of its own, of the same software
run on loopback: the producer generates the catalog
(understudy `catalog-role: producer`, knotd `catalog-role: generate`) of the zones that name it
and NOTIFYs the consumers, which interpret it (understudy `catalog-role: consumer`, knotd
`catalog-role: interpret`) and make each member a secondary zone of the producer. Both start
with a catalog of one member and the bench waits until every consumer serves it. Then
BENCH_CAT_MEMBERS (10,000) new member zones, whose files were written beforehand, are added
to the producer's configuration: understudy `ctl reload`, knotd `knotc reload`. Measured from
just before that command:

  served s   until every new member answers its SOA on every consumer with AA and its own
             serial (member i has serial 1000000 + i, so a wrong zone cannot pass)
  producer s until the producer itself answers for every member (the reload's own share)
  RSS        VmRSS of each consumer (and of the producer) once every member is served

Every server: 1 UDP worker, 1 TCP worker (knotd: 1 background worker, as elsewhere in the
bench), log level warning, fresh storage. The consumers store what they transfer: understudy
in its LMDB storage, knotd in its journal (`journal-content: all`, `zonefile-sync: -1`).

Both servers run with their default transfer limits.

The checker asks every member not yet served, over UDP, pipelined (BENCH_CAT_WINDOW, 128, in
flight on one socket), then again for those that were not served, with a pause of three
times the last sweep's length between sweeps, at least BENCH_CAT_GAP_MS (50): the checker is
busy a quarter of the time at most while thousands of members are missing, and asks for the
last few every 50 ms. A member's time is that of its first good answer, so a member counts
late by at most one pause and one sweep. The checker's own CPU time, and the length of one
sweep of every member once all are served (its floor), are reported beside the figures, so
that one can see it was not the bottleneck. BENCH_CAT_RUNS (1) rounds, knotd then
understudy in each; medians reported.

Run alone (after `make all`; knotd must be installed):
    UNDERSTUDY=build/understudy /usr/bin/python3 bench/catalog.py
BENCH_CATALOG=0 skips it in `make bench`.
"""

import os
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


MEMBERS = env_int("BENCH_CAT_MEMBERS", 10000)
CONSUMERS = max(1, env_int("BENCH_CAT_CONSUMERS", 2))
RUNS = max(1, env_int("BENCH_CAT_RUNS", 1))
TIMEOUT = env_int("BENCH_CAT_TIMEOUT", 600)
WINDOW = max(1, env_int("BENCH_CAT_WINDOW", 128))
KEEP = os.environ.get("BENCH_KEEP", "") not in ("", "0")
LOG = os.environ.get("BENCH_CAT_LOG", "warning")
GAP = env_int("BENCH_CAT_GAP_MS", 50) / 1000.0
CATZ = "catalog.bench"
SUFFIX = "cat.bench"
SERIAL0 = 1000000
VERSION = 1  # bump when the member zones change, to regenerate them


def member(i):
    return f"m{i}.{SUFFIX}"


def member_text(i):
    o = member(i)
    return (f"$ORIGIN {o}.\n$TTL 3600\n"
            f"@\tSOA\tns1 hostmaster {SERIAL0 + i} 3600 900 1209600 300\n"
            f"@\tNS\tns1\n"
            f"ns1\tA\t10.2.{(i >> 8) & 255}.{i & 255}\n"
            f"www\tA\t10.1.{(i >> 8) & 255}.{i & 255}\n")


def ensure_members(data, n):
    """n + 1 member zone files (m0 is the member the catalog starts with), made once."""
    d = os.path.join(data, f"catalog-{n}")
    stamp = os.path.join(d, "complete")
    try:
        with open(stamp) as f:
            if f.read().strip() == str(VERSION):
                return d
    except OSError:
        pass
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i in range(0, n + 1):
        with open(os.path.join(d, f"{member(i)}.zone"), "w") as f:
            f.write(member_text(i))
    with open(stamp, "w") as f:
        f.write(f"{VERSION}\n")
    return d


# ---- configurations -------------------------------------------------------------------------


def understudy_producer(d, port, zones, n, consumer_ports):
    """The producer's configuration with members 0..n (n = 0: the catalog's first member)."""
    remotes = "".join(f"  - {{id: c{k}, address: [\"127.0.0.1@{p}\"]}}\n"
                      for k, p in enumerate(consumer_ports))
    notify = ", ".join(f"c{k}" for k in range(len(consumer_ports)))
    head = f"""server:
  listen: ["127.0.0.1@{port}"]
  storage: "{d}/storage"
  control: "{d}/ctl.sock"
  udp-workers: 1
  tcp-workers: 1
  watch-ns: false
  fleet-interval: 0
log: {{target: stderr, level: {LOG}}}
remotes:
{remotes}acls:
  - {{id: xfr, address: [127.0.0.0/8], action: transfer}}
zones:
  - {{domain: {CATZ}, catalog-role: producer, acl: [xfr], notify: [{notify}]}}
"""
    body = "".join(f"  - {{domain: {member(i)}, file: \"{zones}/{member(i)}.zone\", acl: [xfr], "
                   f"catalog-zone: {CATZ}}}\n" for i in range(0, n + 1))
    conf = os.path.join(d, "understudy.yaml")
    tmp = conf + ".new"
    with open(tmp, "w") as f:
        f.write(head + body)
    os.rename(tmp, conf)
    return conf


def consumer_via(k):
    """Consumer k's source address towards the producer: backups are different hosts, and
    understudy's transfers-out-per-address counts per source, so they must not share one."""
    return f"127.0.0.{10 + k}"


def understudy_consumer(d, port, producer_port, k):
    conf = os.path.join(d, "understudy.yaml")
    with open(conf, "w") as f:
        f.write(f"""server:
  listen: ["127.0.0.1@{port}"]
  storage: "{d}/storage"
  control: "{d}/ctl.sock"
  udp-workers: 1
  tcp-workers: 1
  watch-ns: false
  fleet-interval: 0
log: {{target: stderr, level: {LOG}}}
remotes:
  - {{id: pri, address: ["127.0.0.1@{producer_port}"], via: {consumer_via(k)}}}
acls:
  - {{id: from-pri, address: [127.0.0.1], action: notify}}
templates:
  - {{id: member, primaries: [pri], acl: [from-pri]}}
zones:
  - domain: {CATZ}
    role: secondary
    primaries: [pri]
    acl: [from-pri]
    catalog-role: consumer
    catalog-template: [member]
""")
    return conf


def knot_head(d, port, extra=""):
    return f"""server:
    rundir: "{d}/run"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "{d}/run/knot.sock"
log:
  - target: stderr
    any: warning
database:
    storage: "{d}/db"
{extra}"""


def knot_producer(d, port, zones, n, consumer_ports):
    remotes = "".join(f"  - id: c{k}\n    address: 127.0.0.1@{p}\n"
                      for k, p in enumerate(consumer_ports))
    notify = ", ".join(f"c{k}" for k in range(len(consumer_ports)))
    head = knot_head(d, port, f"""remote:
{remotes}acl:
  - id: xfr
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: "{d}/storage"
    zonefile-load: whole
    zonefile-sync: -1
    acl: xfr
zone:
  - domain: {CATZ}
    catalog-role: generate
    notify: [{notify}]
""")
    body = "".join(f"  - domain: {member(i)}\n    file: \"{zones}/{member(i)}.zone\"\n"
                   f"    catalog-role: member\n    catalog-zone: {CATZ}\n"
                   for i in range(0, n + 1))
    conf = os.path.join(d, "knot.conf")
    tmp = conf + ".new"
    with open(tmp, "w") as f:
        f.write(head + body)
    os.rename(tmp, conf)
    return conf


def knot_consumer(d, port, producer_port, k):
    conf = os.path.join(d, "knot.conf")
    with open(conf, "w") as f:
        f.write(knot_head(d, port, f"""remote:
  - id: pri
    address: 127.0.0.1@{producer_port}
    via: {consumer_via(k)}
acl:
  - id: from-pri
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: "{d}/storage"
  - id: member
    storage: "{d}/storage"
    master: pri
    acl: from-pri
    journal-content: all
    zonefile-sync: -1
zone:
  - domain: {CATZ}
    master: pri
    acl: from-pri
    catalog-role: interpret
    catalog-template: member
"""))
    return conf


class Side:
    """A producer and its consumers of one software, in the directory d."""

    def __init__(self, rt, name, binary, d, zones):
        self.rt, self.name, self.binary, self.d, self.zones = rt, name, binary, d, zones
        self.pport = rt.free_port()
        self.cports = [rt.free_port() for _ in range(CONSUMERS)]
        self.pdir = os.path.join(d, "producer")
        self.cdirs = [os.path.join(d, f"consumer{k}") for k in range(CONSUMERS)]
        self.procs = []

    def prepare(self, path):
        for sub in ("storage", "run", "db"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)

    def argv(self, conf):
        if self.name == "knotd":
            return ["knotd", "-c", conf]
        return [os.path.abspath(self.binary), "serve", "-c", conf]

    def producer_conf(self, n):
        f = knot_producer if self.name == "knotd" else understudy_producer
        return f(self.pdir, self.pport, self.zones, n, self.cports)

    def start(self):
        self.prepare(self.pdir)
        self.pconf = self.producer_conf(0)
        self.producer = self.rt.start(self.argv(self.pconf), os.path.join(self.pdir, "log"))
        self.consumers = []
        for k, (cdir, cport) in enumerate(zip(self.cdirs, self.cports)):
            self.prepare(cdir)
            f = knot_consumer if self.name == "knotd" else understudy_consumer
            conf = f(cdir, cport, self.pport, k)
            self.consumers.append(self.rt.start(self.argv(conf), os.path.join(cdir, "log")))

    def reload(self):
        """Adds the members to the producer's configuration and has it re-read."""
        self.producer_conf(MEMBERS)
        if self.name == "knotd":
            argv = ["knotc", "-s", os.path.join(self.pdir, "run", "knot.sock"), "reload"]
        else:
            argv = [os.path.abspath(self.binary), "ctl", "-s",
                    os.path.join(self.pdir, "ctl.sock"), "reload"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:1] + argv[-1:])}: {p.stdout}{p.stderr}".strip())

    def check_alive(self):
        for p, what in [(self.producer, "producer")] + [(c, f"consumer {k}")
                                                          for k, c in enumerate(self.consumers)]:
            if p.poll() is not None:
                raise RuntimeError(f"{self.name} {what} exited with status {p.returncode}")

    def stop(self):
        for p in [self.producer] + self.consumers:
            self.rt.stop(p)


# ---- the checker ----------------------------------------------------------------------------


def wire_name(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def skip_name(data, p):
    """Offset just past the (possibly compressed) name at p."""
    while True:
        n = data[p]
        if n & 0xC0 == 0xC0:
            return p + 2
        if n == 0:
            return p + 1
        p += 1 + n


def answer_serial(data, qlen):
    """The serial of the answer's SOA when the answer is authoritative, else None."""
    if len(data) < 12:
        return None
    flags, _, an = struct.unpack(">HHH", data[2:8])
    if not flags & 0x8000 or flags & 0x000F or not flags & 0x0400 or an < 1:
        return None
    try:
        p = skip_name(data, qlen)  # the answer follows the question we sent
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[p:p + 10])
        if rtype != 6:
            return None
        p += 10
        p = skip_name(data, skip_name(data, p))
        return struct.unpack(">I", data[p:p + 4])[0]
    except (IndexError, struct.error):
        return None


class Checker:
    """Sweeps of SOA queries over the members not yet served, one UDP socket per consumer."""

    def __init__(self, ports, n):
        self.ports = ports
        self.queries = {}
        for i in range(1, n + 1):
            self.queries[i] = wire_name(member(i)) + struct.pack(">HH", 6, 1)
        self.sent = 0
        self.sweeps = 0
        self.last_sweep_s = 0.0
        self.cpu = 0.0

    def sweep(self, port, todo):
        """One pass over todo: {index: time of its good answer} for the members served."""
        got = {}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            window = {}  # qid -> member index
            pos = 0
            qid = 0
            while pos < len(todo) or window:
                while pos < len(todo) and len(window) < WINDOW:
                    qid = (qid + 1) & 0xFFFF
                    i = todo[pos]
                    window[qid] = i
                    try:
                        s.send(struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + self.queries[i])
                        self.sent += 1
                    except (BlockingIOError, ConnectionRefusedError):
                        pass
                    pos += 1
                r, _, _ = select.select([s], [], [], 0.2)
                if not r:
                    window.clear()  # lost, or the server is slow: asked again next sweep
                    continue
                now = time.monotonic()
                while True:
                    try:
                        data = s.recv(4096)
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    if len(data) < 12:
                        continue
                    i = window.pop(struct.unpack(">H", data[:2])[0], None)
                    if i is None:
                        continue
                    if answer_serial(data, 12 + len(self.queries[i])) == SERIAL0 + i:
                        got[i] = now
        return got

    def wait_all(self, side, t0, deadline):
        """Seconds from t0 until every member answers on every consumer: (max, per consumer)."""
        c0 = time.process_time()
        todo = [list(self.queries) for _ in self.ports]
        last = [t0] * len(self.ports)
        while any(todo):
            if time.monotonic() > deadline:
                raise RuntimeError(f"members still not served: {[len(t) for t in todo]} "
                                   f"per consumer at the timeout")
            side.check_alive()
            s0 = time.monotonic()
            for k, port in enumerate(self.ports):
                if not todo[k]:
                    continue
                got = self.sweep(port, todo[k])
                self.sweeps += 1
                if got:
                    last[k] = max(last[k], max(got.values()))
                    todo[k] = [i for i in todo[k] if i not in got]
            self.last_sweep_s = time.monotonic() - s0
            if any(todo):
                # Busy a quarter of the time at most: a sweep of thousands of members costs
                # the consumers as much as the checker, but the last members, few, are asked
                # for every GAP.
                time.sleep(max(GAP, 3 * self.last_sweep_s))
        self.cpu += time.process_time() - c0
        return [t - t0 for t in last]


def wait_member0(side, ports, deadline):
    """Until every consumer (and the producer) serves the first member."""
    q = struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + wire_name(member(0)) + struct.pack(">HH", 6, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.05)
        for port in ports:
            while True:
                side.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{member(0)} not served on port {port} in time")
                try:
                    s.sendto(q, ("127.0.0.1", port))
                    data, _ = s.recvfrom(4096)
                    if answer_serial(data, len(q)) == SERIAL0:
                        break
                except (socket.timeout, ConnectionRefusedError):
                    pass
                time.sleep(0.05)


def wait_idle(rt, pids, deadline):
    """Until the processes use less than 2% of a core together over half a second."""
    prev = sum(rt.tree_cpu_seconds(p) for p in pids)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        cur = sum(rt.tree_cpu_seconds(p) for p in pids)
        if cur - prev < 0.01:
            return
        prev = cur


def one_run(rt, name, binary, tmp, zones, tag):
    d = os.path.join(tmp, f"catalog-{name}-{tag}")
    os.makedirs(d)
    side = Side(rt, name, binary, d, zones)
    side.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        wait_member0(side, [side.pport] + side.cports, deadline)
        # the first catalog's own work (storing, timers) is over before the clock starts
        wait_idle(rt, [side.producer.pid] + [c.pid for c in side.consumers], deadline)
        checker = Checker(side.cports, MEMBERS)
        pchecker = Checker([side.pport], MEMBERS)
        t0 = time.monotonic()
        side.reload()
        reload_s = time.monotonic() - t0
        prod_s = pchecker.wait_all(side, t0, deadline)[0]
        per = checker.wait_all(side, t0, deadline)
        rss = [rt.memory(c.pid)[0] for c in side.consumers]
        r = {"served_s": max(per), "per_consumer_s": per, "producer_s": prod_s,
             "reload_cmd_s": reload_s, "consumer_rss_kib": max(rss), "rss_kib": rss,
             "producer_rss_kib": rt.memory(side.producer.pid)[0],
             "checker_queries": checker.sent + pchecker.sent,
             "checker_sweeps": checker.sweeps + pchecker.sweeps,
             "checker_cpu_s": checker.cpu + pchecker.cpu,
             "last_sweep_s": checker.last_sweep_s}
        # How fast the checker goes when everything is served: one full sweep per consumer.
        s0 = time.monotonic()
        full = checker.sweep(side.cports[0], list(range(1, MEMBERS + 1)))
        r["full_sweep_s"] = time.monotonic() - s0
        r["full_sweep_lost"] = MEMBERS - len(full)
        # and every member still answers (asked again if an answer was lost)
        todo = [i for i in range(1, MEMBERS + 1) if i not in full]
        for _ in range(5):
            if not todo:
                break
            got = checker.sweep(side.cports[0], todo)
            todo = [i for i in todo if i not in got]
        if todo:
            raise RuntimeError(f"{len(todo)} members stopped answering, {member(todo[0])} "
                               f"the first")
        side.stop()
        if not KEEP:
            shutil.rmtree(d, ignore_errors=True)
        return r
    finally:
        side.stop()


def measure(rt, tmp, data, binary, warnings):
    """{server: {median figures, runs}}."""
    if env_int("BENCH_CATALOG", 1) == 0:
        return {"note": "skipped (BENCH_CATALOG=0)"}
    names = ["knotd"] if shutil.which("knotd") and shutil.which("knotc") else []
    if binary and os.access(binary, os.X_OK):
        names.append("understudy")
    zones = ensure_members(data, MEMBERS)
    runs = {n: [] for n in names}
    failed = {}
    for i in range(RUNS):
        for name in names:
            if name in failed:
                continue
            try:
                r = one_run(rt, name, binary, tmp, zones, f"run{i + 1}")
                runs[name].append(r)
                print(f"  catalog of {MEMBERS:,} new members, {i + 1}/{RUNS} {name}: served on "
                      f"{CONSUMERS} consumer(s) in {r['served_s']:.2f} s (producer "
                      f"{r['producer_s']:.2f} s, reload command {r['reload_cmd_s']:.2f} s), "
                      f"consumer VmRSS {r['consumer_rss_kib'] / 1024:.0f} MiB; checker: "
                      f"{r['checker_queries']:,} queries in {r['checker_sweeps']} sweeps, "
                      f"{r['checker_cpu_s']:.1f} s CPU, full sweep {r['full_sweep_s']:.2f} s",
                      flush=True)
            except Exception as e:
                failed[name] = str(e)
                warnings.append(f"{name} catalog of {MEMBERS} members: {e} (logs in {tmp})")
    res = {}
    for name in names:
        if name in failed:
            res[name] = {"error": failed[name]}
            continue
        rs = runs[name]
        med = {k: statistics.median(r[k] for r in rs)
               for k in ("served_s", "producer_s", "reload_cmd_s", "consumer_rss_kib",
                         "producer_rss_kib", "checker_cpu_s", "full_sweep_s", "last_sweep_s")}
        med["served_min"] = min(r["served_s"] for r in rs)
        med["served_max"] = max(r["served_s"] for r in rs)
        med["runs"] = rs
        res[name] = med
    return res


def report_lines(res):
    if not res:
        return []
    if "note" in res:
        return ["", f"catalog of new members: {res['note']}"]
    L = ["", f"catalog of {MEMBERS:,} new members, producer -> {CONSUMERS} consumer(s) of the "
         f"same software (1 UDP worker; median of {RUNS})"]
    hdr = (f"{'server':<11} {'served s':>8} {'range':>11} {'producer s':>10} {'reload s':>8} "
           f"{'cons. MiB':>9} {'prod. MiB':>9} {'chk CPU s':>9} {'sweep s':>7}")
    L.append(hdr)
    L.append("-" * len(hdr))
    for name, r in res.items():
        if "error" in r:
            L.append(f"{name:<11} failed: {r['error']}")
            continue
        L.append(f"{name:<11} {r['served_s']:>8.2f} {r['served_min']:>5.2f}-{r['served_max']:<5.2f}"
                 f" {r['producer_s']:>10.2f} {r['reload_cmd_s']:>8.2f} "
                 f"{r['consumer_rss_kib'] / 1024:>9.1f} {r['producer_rss_kib'] / 1024:>9.1f} "
                 f"{r['checker_cpu_s']:>9.1f} {r['full_sweep_s']:>7.2f}")
    L.append("served: from the producer's reload until every member answers its SOA (AA, its "
             "serial) on every")
    L.append("consumer; producer: until the producer does; cons./prod. MiB: VmRSS then; chk CPU: "
             "the checker's;")
    L.append(f"sweep: one sweep of all {MEMBERS:,} members afterwards, the checker's own floor.")
    return L


def ratio_rows(res):
    if not res or "note" in res:
        return []
    u, k = res.get("understudy"), res.get("knotd")
    ok = u and k and "error" not in u and "error" not in k
    rows = []
    for label, key in (("served", "served_s"), ("consumer RSS", "consumer_rss_kib")):
        rows.append((f"catalog {MEMBERS:,}, {label}",
                     f"{u[key] / k[key]:.2f}" if ok and k[key] else "n/a"))
    return rows


def main():
    import run as rt

    binary = os.environ.get("UNDERSTUDY", "")
    out = os.path.abspath(os.environ.get("BENCH_OUT") or os.path.join(rt.ROOT, "build", "bench"))
    data = os.path.join(out, "data")
    os.makedirs(data, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="understudy-catalog-")
    warnings = []
    rt.become_subreaper()
    try:
        res = measure(rt, tmp, data, binary, warnings)
    finally:
        rt.stop_all()
    print("\n".join(report_lines(res)))
    for title, v in ratio_rows(res):
        print(f"{title:<36} understudy/knotd {v}")
    for w in warnings:
        print("WARNING:", w)
    if not warnings and not KEEP:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
