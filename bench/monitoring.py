#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""monitoring.py: what watching and being watched costs the answers (part of `make bench`).

Three servers answer the 100k-name throughput zone, each with 1 UDP and 1 TCP worker on CPU 0
(the generators and the watched copies on CPU 1), one at a time, in rounds
(BENCH_MON_RUNS, default 3; figures are medians):

  plain       understudy with the throughput zone alone: no HTTP, no fleet
  monitored   understudy with the throughput zone and BENCH_MON_ZONES (10,000) small zones,
              each watching two remotes that answer (a second understudy serving the same
              small zones on 127.0.0.1 and 127.0.0.2, fleet-interval BENCH_MON_INTERVAL, 60 s),
              its HTTP listener scraped for /metrics every second during its runs
  zones       understudy with the same zones as monitored, none watched, no HTTP: what the
              zones alone cost
  watching    the monitored server in runs of its own without the scrapes: the fleet checks'
              share of the cost
  knotd       knotd with the throughput zone alone, for scale

Reported: closed-loop UDP qps (loadgen, as in the main table) of each, monitored / plain (the
goal is >= 0.98), and the scrapes: bytes, series, and how long a scrape took (median, max).
Every server stays on CPU 0 throughout (as in bench/defence.py): the monitored one keeps
checking its fleet (0.1-2.4% of a core in steady state) while the others are measured, which
lowers their figures a little and so flatters the ratios by as much. (Stopping it with
SIGSTOP between its runs made it catch up on checks during them; moving it off CPU 0 with
taskset gave ratios no steadier.) Measuring starts once its first round of checks is
done (every copy in sync).

Alone (after `make all bench-tools` and one `make bench`, which makes build/bench/data):
    UNDERSTUDY=build/understudy /usr/bin/python3 bench/monitoring.py
BENCH_MON=0 skips it in `make bench`.
"""

import os
import shutil
import statistics
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import defence  # noqa: E402
import manyzones  # noqa: E402


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


RUNS = max(1, env_int("BENCH_MON_RUNS", 3))
SECONDS = env_int("BENCH_MON_SECONDS", 4)
ZONES = env_int("BENCH_MON_ZONES", 10000)
INTERVAL = env_int("BENCH_MON_INTERVAL", 60)
SRV_CPU, GEN_CPU = "0", "1"


def watched_conf(binary, d, port, zones, n):
    """The copies being watched: every small zone, on 127.0.0.1 and 127.0.0.2."""
    os.makedirs(os.path.join(d, "storage"))
    conf = os.path.join(d, "understudy.yaml")
    with open(conf, "w") as f:
        f.write(f"""server:
  listen: ["127.0.0.1@{port}", "127.0.0.2@{port}"]
  storage: "{d}/storage"
  control: "{d}/ctl.sock"
  udp-workers: 1
  tcp-workers: 1
  watch-ns: false
  fleet-interval: 0
log: {{target: stderr, level: warning}}
zones:
""")
        f.write("".join(f"  - {{domain: {manyzones.zone_name(i)}, role: primary, "
                        f"file: \"{zones}/{manyzones.zone_name(i)}.zone\"}}\n"
                        for i in range(1, n + 1)))
    return [os.path.abspath(binary), "serve", "-c", conf]


def understudy_conf(binary, d, port, origin, small=None, wport=None, http=None, watch=True):
    os.makedirs(os.path.join(d, "storage"))
    conf = os.path.join(d, "understudy.yaml")
    with open(conf, "w") as f:
        f.write(f"""server:
  listen: ["127.0.0.1@{port}"]
  storage: "{d}/storage"
  control: "{d}/ctl.sock"
  udp-workers: 1
  tcp-workers: 1
  watch-ns: false
  fleet-interval: {INTERVAL if small and watch else 0}
""" + (f'  http: ["127.0.0.1@{http}"]\n' if http else "") + """log: {target: stderr, level: warning}
""")
        if small and watch:
            f.write(f"""remotes:
  - {{id: w1, address: "127.0.0.1@{wport}"}}
  - {{id: w2, address: "127.0.0.2@{wport}"}}
""")
        f.write(f'zones:\n  - {{domain: {origin}, role: primary, file: "{d}/zone"}}\n')
        if small:
            f.write("".join(f"  - {{domain: {manyzones.zone_name(i)}, role: primary, "
                            f"file: \"{small}/{manyzones.zone_name(i)}.zone\""
                            + (", watch: [w1, w2]}\n" if watch else "}\n")
                            for i in range(1, ZONES + 1)))
    return [os.path.abspath(binary), "serve", "-c", conf]


class Scraper(threading.Thread):
    """GET /metrics every second while running; keeps each scrape's size and time."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.go = threading.Event()
        self.quit = False
        self.scrapes = []  # (seconds, bytes, series)
        self.errors = 0
        self.busy = threading.Lock()  # held during a scrape

    def pause(self):
        """No scrape after this returns, until go is set again."""
        self.go.clear()
        with self.busy:
            pass

    def scrape(self):
        t0 = time.monotonic()
        with urllib.request.urlopen(self.url, timeout=10) as r:
            body = r.read()
        took = time.monotonic() - t0
        series = body.count(b"\n") - body.count(b"\n#")
        return took, len(body), series

    def run(self):
        while not self.quit:
            if not self.go.wait(0.2):
                continue
            t0 = time.monotonic()
            with self.busy:
                if not self.go.is_set():
                    continue
                try:
                    self.scrapes.append(self.scrape())
                except OSError:
                    self.errors += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))


def pin(p, cpus):
    """Moves every thread of the process to cpus."""
    import subprocess
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(p.pid)], check=True,
                   capture_output=True)


def in_sync_count(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    return sum(1 for line in text.splitlines()
               if line.startswith("understudy_fleet_in_sync{") and line.endswith(" 1"))


def measure(bench, tmp, zone, queries, binary, warnings):
    if env_int("BENCH_MON", 1) == 0:
        return {"note": "skipped (BENCH_MON=0)"}
    if not binary or not os.access(binary, os.X_OK):
        return {"note": "no understudy binary"}
    small = manyzones.ensure_zones(os.path.join(bench.OUT, "data"), ZONES)
    res = {"plain": [], "zones": [], "monitored": [], "watching": [], "knotd": []}
    procs = {}
    scraper = None
    try:
        wd = os.path.join(tmp, "mon-watched")
        os.makedirs(wd)
        wport = bench.free_port()
        p = bench.start(watched_conf(binary, wd, wport, small, ZONES),
                        os.path.join(wd, "server.log"), GEN_CPU)
        procs["watched"] = (p, wport)
        # It serves the small zones only: ready once every one of them answers.
        manyzones.sweep(wport, ZONES, time.monotonic() + bench.LOAD_TIMEOUT)
        http = bench.free_port()
        for name in ("plain", "zones", "monitored", "knotd"):
            if name == "knotd" and not shutil.which("knotd"):
                continue
            d = os.path.join(tmp, f"mon-{name}")
            os.makedirs(d)
            os.symlink(zone, os.path.join(d, "zone"))
            port = bench.free_port()
            if name == "knotd":
                argv = defence.knot_conf(d, port, bench.ORIGIN, 0)
            elif name == "plain":
                argv = understudy_conf(binary, d, port, bench.ORIGIN)
            elif name == "zones":
                argv = understudy_conf(binary, d, port, bench.ORIGIN, small, watch=False)
            else:
                argv = understudy_conf(binary, d, port, bench.ORIGIN, small, wport, http)
            p = bench.start(argv, os.path.join(d, "server.log"), SRV_CPU)
            bench.wait_ready(p, port, bench.LOAD_TIMEOUT)
            procs[name] = (p, port)
        # The first round of checks: every zone's two copies (and ourselves) in sync.
        want = 3 * ZONES
        t0 = time.monotonic()
        while True:
            n = in_sync_count(http)
            if n >= want:
                break
            if time.monotonic() - t0 > 300:
                warnings.append(f"monitoring: only {n} of {want} copies in sync after 300 s")
                break
            time.sleep(2)
        first_round = time.monotonic() - t0
        print(f"  monitoring: {n} copies in sync {first_round:.0f} s after start", flush=True)
        scraper = Scraper(http)
        scraper.start()
        for rnd in range(RUNS):
            # watching: the monitored server, not scraped: what the fleet checks alone cost.
            for name in ("plain", "zones", "monitored", "watching", "knotd"):
                key = "monitored" if name == "watching" else name
                if key not in procs:
                    continue
                p, port = procs[key]
                if key == "monitored":
                    if name == "monitored":
                        scraper.go.set()
                        time.sleep(1.0)  # scrapes under way before the load starts
                r = defence.run(defence.loadgen(bench, port, queries, SECONDS), SECONDS + 30)
                if key == "monitored":
                    scraper.pause()
                res[name].append(r["qps_answered"])
                print(f"  monitoring round {rnd + 1}/{RUNS} {name}: "
                      f"{r['qps_answered']:,.0f} qps", flush=True)
    finally:
        if scraper:
            scraper.quit = True
        for p, _ in procs.values():
            bench.stop(p)
    out = {k: statistics.median(v) for k, v in res.items() if v}
    out["ratios"] = [m / p for m, p in zip(res["monitored"], res["plain"])]
    out["ratio"] = statistics.median(out["ratios"]) if out["ratios"] else None
    out["zones_ratio"] = statistics.median(
        z / p for z, p in zip(res["zones"], res["plain"])) if res["zones"] else None
    out["monitored_zones_ratio"] = statistics.median(
        m / z for m, z in zip(res["monitored"], res["zones"])) if res["zones"] else None
    out["watching_ratio"] = statistics.median(
        w / p for w, p in zip(res["watching"], res["plain"])) if res["watching"] else None
    out["runs"] = res
    out["first_round_s"] = first_round
    if scraper and scraper.scrapes:
        s = scraper.scrapes
        out["scrapes"] = len(s)
        out["scrape_s_median"] = statistics.median(x[0] for x in s)
        out["scrape_s_max"] = max(x[0] for x in s)
        out["scrape_bytes"] = s[-1][1]
        out["scrape_series"] = s[-1][2]
        out["scrape_errors"] = scraper.errors
    return out


def report(r):
    if not r or "note" in r:
        return f"Monitoring: {r.get('note', 'not measured') if r else 'not measured'}\n"
    L = [f"Monitoring ({RUNS} rounds, medians; 1 UDP + 1 TCP worker on CPU 0, loadgen and the "
         f"watched copies on CPU 1; {ZONES:,} zones watching 2 copies each, fleet-interval "
         f"{INTERVAL} s, /metrics scraped every second)"]
    for name in ("plain", "zones", "monitored", "watching", "knotd"):
        if name in r:
            L.append(f"  {'qps, ' + name:<42}{r[name]:>12,.0f}")
    if r.get("ratio"):
        L.append(f"  {'qps, monitored / plain (goal >= 0.98)':<42}{r['ratio']:>12.3f}"
                 f"   per round: {', '.join(f'{x:.3f}' for x in r['ratios'])}")
    if r.get("zones_ratio"):
        L.append(f"  {'qps, zones (10,000 more, unwatched) / plain':<42}{r['zones_ratio']:>12.3f}")
        L.append(f"  {'qps, monitored / zones':<42}{r['monitored_zones_ratio']:>12.3f}")
    if r.get("watching_ratio"):
        L.append(f"  {'qps, watching (not scraped) / plain':<42}{r['watching_ratio']:>12.3f}")
    if "knotd" in r and "plain" in r:
        L.append(f"  {'qps, plain understudy / knotd':<42}{r['plain'] / r['knotd']:>12.2f}")
        L.append(f"  {'qps, monitored understudy / knotd':<42}"
                 f"{r['monitored'] / r['knotd']:>12.2f}")
    if r.get("scrapes"):
        L.append(f"  scrapes: {r['scrapes']}, {r['scrape_bytes'] / 1e6:.1f} MB and "
                 f"{r['scrape_series']:,} series each, {r['scrape_s_median'] * 1000:.0f} ms "
                 f"median, {r['scrape_s_max'] * 1000:.0f} ms max, {r['scrape_errors']} failed")
    L.append(f"  first round of fleet checks done {r['first_round_s']:.0f} s after start")
    return "\n".join(L) + "\n"


def main():
    import tempfile
    import run as bench

    tmp = tempfile.mkdtemp(prefix="understudy-monitoring-")
    zone, queries, _ = bench.ensure_data()
    warnings = []
    try:
        res = measure(bench, tmp, zone, queries, bench.UNDERSTUDY, warnings)
    finally:
        bench.stop_all()
    sys.stdout.write("\n" + report(res))
    for w in warnings:
        print("WARNING:", w)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
