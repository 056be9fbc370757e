# SPDX-License-Identifier: MIT
"""soacheck.py: SOA checks of 10,000 secondary zones at steady state, understudy beside knotd
(part of `make bench`).

A backup (understudy, and knotd beside it, both at once) holds BENCH_SOA_ZONES (10,000)
secondary zones of one primary. Each backup has a primary of its own: this file run as a
separate process (`--responder`), which answers every zone's SOA with the same serial and
refresh BENCH_SOA_REFRESH (60 s; retry BENCH_SOA_RETRY, 30), AXFR and IXFR over TCP (a
three-record zone; an IXFR from the current serial gets the SOA alone), and notes when each
query came. The backups start with fresh storage and transfer every zone (the load);
from the last transfer on, each zone's SOA is checked once a refresh interval, so:

  load           from the backup's start to the last zone transferred; its busiest second
                 of transfer requests (AXFR + IXFR) and of SOA queries
  first cycle    the refresh interval after the load: the busiest second of SOA checks;
                 after a restart every zone comes due at once, unless the server spreads them
  steady         BENCH_SOA_WINDOW seconds (120, rounded to whole refresh intervals) that
                 start BENCH_SOA_SKIP seconds (half a refresh interval) after the load:
                 the mean checks per second (expected: zones / refresh; understudy's jitter
                 takes up to a quarter off each interval, an eighth on average, as BIND's
                 does, so zones / (refresh * 7/8) for it), the busiest second,
                 max/mean (a paced server is near 1) and the seconds with no check at all;
                 the backup's CPU seconds over the window, and its VmRSS after

Both backups run at once (each with its own primary process, so neither waits for the
other's), 1 UDP and 1 TCP worker (knotd: 1 background worker, as elsewhere in the bench), log
level warning; neither runs other checks of the primary (understudy: fleet-interval 0,
watch-ns false). The whole takes the load, plus skip and window: about 200 s by default here.

Run alone (after `make all`; knotd must be installed):
    UNDERSTUDY=build/understudy /usr/bin/python3 bench/soacheck.py
BENCH_SOA=0 skips it in `make bench`.
"""

import json
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


ZONES = env_int("BENCH_SOA_ZONES", 10000)
REFRESH = max(2, env_int("BENCH_SOA_REFRESH", 60))
RETRY = max(1, env_int("BENCH_SOA_RETRY", 30))
# Half a refresh interval after the load: the edges of the window fall between the waves of
# checks that the load's own pace leaves, wherever those are.
SKIP = env_int("BENCH_SOA_SKIP", REFRESH // 2)
WINDOW = max(REFRESH, env_int("BENCH_SOA_WINDOW", 120) // REFRESH * REFRESH)
TIMEOUT = env_int("BENCH_SOA_TIMEOUT", 300)  # for the load
KEEP = os.environ.get("BENCH_KEEP", "") not in ("", "0")
SUFFIX = "soa.bench"
SERIAL = 2026120801


def zone_name(i):
    return f"s{i}.{SUFFIX}"


# ---- the primary (a process of its own) ------------------------------------------------------


def parse_query(q):
    """(qid, flags, qname wire, qname text lower-cased, qtype, end of question) or None."""
    if len(q) < 17:
        return None
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    if flags & 0x8000 or (flags >> 11) & 0xF != 0 or qd != 1:
        return None
    p, labels = 12, []
    while p < len(q):
        n = q[p]
        if n == 0:
            break
        if n > 63:
            return None
        labels.append(q[p + 1:p + 1 + n].decode("ascii", "replace").lower())
        p += 1 + n
    if p + 5 > len(q):
        return None
    qtype = struct.unpack(">H", q[p + 1:p + 3])[0]
    return qid, flags, q[12:p + 1], ".".join(labels), qtype, p + 5


def skip_name(q, p):
    while True:
        n = q[p]
        if n & 0xC0 == 0xC0:
            return p + 2
        if n == 0:
            return p + 1
        p += 1 + n


def ixfr_serial(q, qend):
    """The serial of the SOA in an IXFR request's authority section, or None."""
    try:
        if struct.unpack(">H", q[8:10])[0] < 1:
            return None
        p = skip_name(q, qend)
        if struct.unpack(">H", q[p:p + 2])[0] != 6:
            return None
        p = skip_name(q, skip_name(q, p + 10))
        return struct.unpack(">I", q[p:p + 4])[0]
    except (IndexError, struct.error):
        return None


class Primary:
    """Every name under SUFFIX is a zone: SOA, NS ns1, ns1 A. Queries are noted by the
    second (since start) in which they came."""

    def __init__(self, port, status):
        self.port = port
        self.status = status
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.soa_times = []  # monotonic times of SOA queries (UDP and TCP)
        self.xfr_times = []  # of AXFR and IXFR requests
        self.axfr_zones = set()
        self.last_xfr = 0.0
        self.counts = {"soa_udp": 0, "soa_tcp": 0, "axfr": 0, "ixfr": 0, "ixfr_udp": 0,
                       "other": 0, "tcp_conns": 0}

    @staticmethod
    def soa_rr(ttl=3600):
        rdata = (b"\x03ns1\xc0\x0c" + b"\x0ahostmaster\xc0\x0c" +
                 struct.pack(">IIIII", SERIAL, REFRESH, RETRY, 1209600, 300))
        return b"\xc0\x0c" + struct.pack(">HHIH", 6, 1, ttl, len(rdata)) + rdata

    @staticmethod
    def zone_rrs():
        ns = b"\x03ns1\xc0\x0c"
        return [Primary.soa_rr(),
                b"\xc0\x0c" + struct.pack(">HHIH", 2, 1, 3600, len(ns)) + ns,
                b"\x03ns1\xc0\x0c" + struct.pack(">HHIH", 1, 1, 3600, 4) + bytes([10, 0, 0, 1]),
                Primary.soa_rr()]

    def answer(self, q, tcp):
        pq = parse_query(q)
        if pq is None:
            return None
        qid, flags, qwire, qname, qtype, qend = pq
        now = time.monotonic()
        rd = flags & 0x0100
        in_zone = qname.endswith("." + SUFFIX) and qname.count(".") == SUFFIX.count(".") + 1
        question = q[12:qend]
        if not in_zone:
            with self.lock:
                self.counts["other"] += 1
            return struct.pack(">HHHHHH", qid, 0x8000 | rd | 5, 1, 0, 0, 0) + question
        rrs = []
        with self.lock:
            if qtype == 6:
                self.soa_times.append(now)
                self.counts["soa_tcp" if tcp else "soa_udp"] += 1
                rrs = [self.soa_rr()]
            elif qtype == 252 and tcp:
                self.xfr_times.append(now)
                self.counts["axfr"] += 1
                self.axfr_zones.add(qname)
                self.last_xfr = now
                rrs = self.zone_rrs()
            elif qtype == 251:
                self.xfr_times.append(now)
                self.counts["ixfr" if tcp else "ixfr_udp"] += 1
                # Only one version exists: the client has it (its serial is ours) or gets an
                # AXFR-style answer, both of which end the transfer at once.
                client = ixfr_serial(q, qend)
                rrs = [self.soa_rr()] if client == SERIAL or not tcp else self.zone_rrs()
                if tcp and client != SERIAL:
                    self.axfr_zones.add(qname)
                    self.last_xfr = now
            else:
                self.counts["other"] += 1
        return (struct.pack(">HHHHHH", qid, 0x8400 | rd, 1, len(rrs), 0, 0) + question +
                b"".join(rrs))

    def udp_loop(self, s):
        while True:
            try:
                q, peer = s.recvfrom(4096)
            except OSError:
                return
            r = self.answer(q, False)
            if r:
                try:
                    s.sendto(r, peer)
                except OSError:
                    pass

    def tcp_conn(self, c):
        with c:
            c.settimeout(30)
            buf = b""
            try:
                while True:
                    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                        n = struct.unpack(">H", buf[:2])[0]
                        r = self.answer(buf[2:2 + n], True)
                        buf = buf[2 + n:]
                        if r:
                            c.sendall(struct.pack(">H", len(r)) + r)
                    data = c.recv(65536)
                    if not data:
                        return
                    buf += data
            except OSError:
                return

    def tcp_loop(self, s):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            with self.lock:
                self.counts["tcp_conns"] += 1
            threading.Thread(target=self.tcp_conn, args=(c,), daemon=True).start()

    def write_status(self, final=False):
        with self.lock:
            st = {"t0": self.t0, "axfr_zones": len(self.axfr_zones), "last_xfr": self.last_xfr,
                  "counts": dict(self.counts), "final": final}
            if final:
                st["soa_times"] = list(self.soa_times)
                st["xfr_times"] = list(self.xfr_times)
        tmp = self.status + ".tmp"
        with open(tmp, "w") as f:
            json.dump(st, f)
        os.rename(tmp, self.status)

    def run(self):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        u.bind(("127.0.0.1", self.port))
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("127.0.0.1", self.port))
        t.listen(512)
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        threading.Thread(target=self.udp_loop, args=(u,), daemon=True).start()
        threading.Thread(target=self.tcp_loop, args=(t,), daemon=True).start()
        self.write_status()
        while not done.wait(0.5):
            self.write_status()
        self.write_status(final=True)


def responder_main(argv):
    Primary(int(argv[0]), argv[1]).run()
    return 0


# ---- the backups ----------------------------------------------------------------------------


def understudy_conf(binary, d, port, pport):
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
log: {{target: stderr, level: warning}}
remotes:
  - {{id: pri, address: ["127.0.0.1@{pport}"]}}
zones:
""")
        f.write("".join(f"  - {{domain: {zone_name(i)}, role: secondary, primaries: [pri]}}\n"
                        for i in range(1, ZONES + 1)))
    return [os.path.abspath(binary), "serve", "-c", conf]


def knot_conf(d, port, pport):
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
    any: warning
database:
    storage: "{d}/db"
remote:
  - id: pri
    address: 127.0.0.1@{pport}
template:
  - id: default
    storage: "{d}/storage"
    master: pri
    journal-content: all
    zonefile-sync: -1
zone:
""")
        f.write("".join(f"  - domain: {zone_name(i)}\n" for i in range(1, ZONES + 1)))
    return ["knotd", "-c", conf]


def read_status(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def per_second(times, start, seconds):
    counts = [0] * seconds
    for t in times:
        b = int(t - start)
        if 0 <= b < seconds:
            counts[b] += 1
    return counts


def summarize(st, started, cpu):
    """The figures of one backup from its primary's final record."""
    soa, xfr = sorted(st["soa_times"]), sorted(st["xfr_times"])
    load_end = st["last_xfr"]
    load_s = load_end - started
    n_load = int(load_end - started) + 1
    first = per_second(soa, load_end, REFRESH)
    win = per_second(soa, load_end + SKIP, WINDOW)
    mean = sum(win) / WINDOW
    return {
        "load_s": load_s,
        "load_xfr_max": max(per_second(xfr, started, n_load) or [0]),
        "load_soa_max": max(per_second(soa, started, n_load) or [0]),
        "first_max": max(first),
        "first_total": sum(first),
        "mean": mean,
        "max": max(win),
        "burst": max(win) / mean if mean else 0.0,
        "idle_s": sum(1 for c in win if c == 0),
        "checks": sum(win),
        "cpu_s": cpu,
        "cpu_us_per_check": cpu / sum(win) * 1e6 if sum(win) else 0.0,
        "counts": st["counts"],
        "window": win,
    }


def measure(rt, tmp, binary, warnings):
    if env_int("BENCH_SOA", 1) == 0:
        return {"note": "skipped (BENCH_SOA=0)"}
    names = ["knotd"] if shutil.which("knotd") else []
    if binary and os.access(binary, os.X_OK):
        names.append("understudy")
    if not names:
        return {"note": "neither knotd nor understudy found"}
    here = os.path.abspath(__file__)
    sides = {}
    res = {}
    try:
        for name in names:
            d = os.path.join(tmp, f"soa-{name}")
            for sub in ("storage", "run", "db"):
                os.makedirs(os.path.join(d, sub))
            pport, port = rt.free_port(), rt.free_port()
            status = os.path.join(d, "primary.json")
            prim = rt.start([sys.executable, here, "--responder", str(pport), status],
                            os.path.join(d, "primary.log"))
            t_end = time.monotonic() + 10
            while read_status(status) is None:
                if prim.poll() is not None or time.monotonic() > t_end:
                    raise RuntimeError(f"the primary for {name} did not start (log in {d})")
                time.sleep(0.05)
            sides[name] = {"dir": d, "status": status, "primary": prim, "port": port,
                           "pport": pport}
        for name, sd in sides.items():
            argv = (knot_conf(sd["dir"], sd["port"], sd["pport"]) if name == "knotd" else
                    understudy_conf(binary, sd["dir"], sd["port"], sd["pport"]))
            sd["started"] = time.monotonic()
            sd["proc"] = rt.start(argv, os.path.join(sd["dir"], "server.log"))
        # the load: until every zone was transferred, on each
        deadline = time.monotonic() + TIMEOUT
        pending = dict(sides)
        while pending:
            time.sleep(0.5)
            for name, sd in list(pending.items()):
                if sd["proc"].poll() is not None:
                    raise_failed(name, sd, f"exited with status {sd['proc'].returncode}")
                st = read_status(sd["status"])
                if st and st["axfr_zones"] >= ZONES:
                    sd["load_end"] = st["last_xfr"]
                    sd["cpu0_at"] = sd["load_end"] + SKIP
                    print(f"  SOA checks, {name}: {ZONES:,} zones transferred "
                          f"{sd['load_end'] - sd['started']:.1f} s after start", flush=True)
                    del pending[name]
                elif time.monotonic() > deadline:
                    got = st["axfr_zones"] if st else 0
                    raise_failed(name, sd, f"{got} of {ZONES} zones transferred after "
                                 f"{TIMEOUT} s")
        # the window: the backup's CPU time is read as it opens and as it closes
        for phase in ("cpu0", "cpu1"):
            for name, sd in sorted(sides.items(), key=lambda kv: kv[1]["load_end"]):
                at = sd["load_end"] + SKIP + (WINDOW if phase == "cpu1" else 0)
                time.sleep(max(0.0, at - time.monotonic()))
                if sd["proc"].poll() is not None:
                    raise_failed(name, sd, f"exited with status {sd['proc'].returncode}")
                sd[phase] = rt.tree_cpu_seconds(sd["proc"].pid)
        time.sleep(1.0)  # the last second's queries are in
        for name, sd in sides.items():
            rss = rt.memory(sd["proc"].pid)[0]
            rt.stop(sd["primary"])
            st = read_status(sd["status"])
            if not st or not st.get("final"):
                raise_failed(name, sd, "its primary left no record")
            r = summarize(st, sd["started"], sd["cpu1"] - sd["cpu0"])
            r["rss_kib"] = rss
            res[name] = r
            print(f"  SOA checks, {name}: mean {r['mean']:.1f}/s (expected "
                  f"{ZONES / REFRESH:.1f}), busiest second {r['max']}, max/mean "
                  f"{r['burst']:.2f}, {r['idle_s']} s without a check; first cycle's busiest "
                  f"second {r['first_max']}", flush=True)
            # understudy's timers come up to a quarter early (src/server/xfrin.c, jitter)
            expected = ZONES / REFRESH / (0.875 if name == "understudy" else 1.0)
            if abs(r["mean"] - expected) > 0.1 * expected:
                warnings.append(f"SOA checks, {name}: mean {r['mean']:.1f}/s, expected "
                                f"{expected:.1f}/s")
    except Failed as e:
        warnings.append(str(e))
        for name in names:
            res.setdefault(name, {"error": str(e) if e.name == name else "not measured"})
    finally:
        for sd in sides.values():
            for p in (sd.get("proc"), sd.get("primary")):
                if p is not None:
                    rt.stop(p)
        if not KEEP and not warnings:
            for sd in sides.values():
                shutil.rmtree(sd["dir"], ignore_errors=True)
    return res


class Failed(Exception):
    def __init__(self, name, msg):
        super().__init__(msg)
        self.name = name


def raise_failed(name, sd, why):
    raise Failed(name, f"SOA checks, {name}: {why} (logs in {sd['dir']})")


def report(res):
    if not res or "note" in res:
        note = res.get("note", "not measured") if res else "not measured"
        return f"SOA checks at steady state: {note}\n"
    L = [f"SOA checks at steady state: {ZONES:,} secondary zones of one primary, refresh "
         f"{REFRESH} s (expected {ZONES / REFRESH:.1f} checks/s); window {WINDOW} s from "
         f"{SKIP} s after the load"]
    hdr = (f"  {'server':<11} {'load s':>7} {'xfr/s max':>9} {'1st max':>7} {'mean/s':>7} "
           f"{'max/s':>6} {'max/mean':>8} {'idle s':>6} {'CPU s':>6} {'us/check':>8}"
           f" {'VmRSS MiB':>9}")
    L.append(hdr)
    L.append("  " + "-" * (len(hdr) - 2))
    for name, r in res.items():
        if "error" in r:
            L.append(f"  {name:<11} failed: {r['error']}")
            continue
        L.append(f"  {name:<11} {r['load_s']:>7.1f} {r['load_xfr_max']:>9} {r['first_max']:>7} "
                 f"{r['mean']:>7.1f} {r['max']:>6} {r['burst']:>8.2f} {r['idle_s']:>6} "
                 f"{r['cpu_s']:>6.2f} {r['cpu_us_per_check']:>8.0f} "
                 f"{r['rss_kib'] / 1024:>9.1f}")
    L.append("  load: start to the last zone transferred; xfr/s max: its busiest second of "
             "transfer requests;")
    L.append("  1st max: busiest second of checks in the refresh interval after the load; mean, "
             "max, idle s")
    L.append("  (seconds without a check) and CPU s (the backup's, all threads) over the "
             "window;")
    L.append("  us/check: CPU s / checks.")
    u, k = res.get("understudy"), res.get("knotd")
    if u and k and "error" not in u and "error" not in k and k["mean"] and k["burst"]:
        L.append(f"  understudy/knotd: mean {u['mean'] / k['mean']:.2f}, max/mean "
                 f"{u['burst'] / k['burst']:.2f}, first cycle's max "
                 f"{u['first_max'] / max(k['first_max'], 1):.2f}, CPU per check "
                 f"{u['cpu_us_per_check'] / max(k['cpu_us_per_check'], 1e-9):.2f}")
    return "\n".join(L) + "\n"


def ratio_rows(res):
    if not res or "note" in res:
        return []
    u, k = res.get("understudy"), res.get("knotd")
    ok = u and k and "error" not in u and "error" not in k
    rows = []
    for label, key in (("SOA checks/s, mean", "mean"), ("SOA checks, max/mean", "burst"),
                       ("SOA checks, first cycle max", "first_max"),
                       ("SOA checks, CPU per check", "cpu_us_per_check")):
        rows.append((label, f"{u[key] / k[key]:.2f}" if ok and k[key] else "n/a"))
    return rows


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--responder":
        return responder_main(sys.argv[2:])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import run as rt

    tmp = tempfile.mkdtemp(prefix="understudy-soa-")
    warnings = []
    rt.become_subreaper()
    try:
        res = measure(rt, tmp, os.environ.get("UNDERSTUDY", ""), warnings)
    finally:
        rt.stop_all()
    sys.stdout.write("\n" + report(res))
    for title, v in ratio_rows(res):
        print(f"{title:<36} understudy/knotd {v}")
    for w in warnings:
        print("WARNING:", w)
    if not warnings and not KEEP:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
