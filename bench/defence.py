#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""defence.py: the defences' share of `make bench`, knotd, nsd and understudy in one run.

Each server with 1 UDP and 1 TCP worker on CPU 0, the generators on CPU 1, on the 100k-name
throughput zone, three instances each: "off" (no RRL; AXFR allowed to 127.0.0.0/8), "on" (RRL
with a rate no account reaches: 1,000,000 per second) and "limit" (RRL at LIMIT responses per
second, slip 2). Rounds go round-robin over the servers (BENCH_DEFENCE_RUNS, default 3; each
figure is the median of the per-round ratios):

1. RRL's cost: closed-loop UDP qps (loadgen, as in the main table) of "on" over "off".
2. A flood: one /24 (127.0.1.1-16) asks one name at 10 x LIMIT per second, open loop, while a
   client of another prefix (127.0.2.1) asks the bench's queries at LEGIT per second, open
   loop. Reported: the client's answered share (not truncated, not lost) and its qps over the
   same client's alone, and the flood's answered share (about a tenth: the limit).
3. The change path flooded (bench/changeflood.py: NOTIFY and SOA floods, 200 slow TCP clients,
   two AXFR clients in a loop): closed-loop UDP qps during it over without it, on "off".
   The flood's generators share CPU 1 with loadgen, so this ratio is what the whole box
   keeps, not the server alone; it compares the servers under the same load. Then, still
   under the flood, the open-loop client of 2. at LEGIT per second: its answered share, what
   a client of a server that is not saturated sees.
4. TCP: queries per second with a connection per query and with pipelining (bench/tcpgen.c,
   64 connections, 16 queries in flight on each when pipelining), on "off".

Environment: BENCH_DEFENCE=0 skips it; BENCH_DEFENCE_RUNS, BENCH_DEFENCE_SECONDS (4),
BENCH_DEFENCE_LIMIT (2000), BENCH_DEFENCE_LEGIT (10000), BENCH_DEFENCE_ONLY=rrl (only the
first measurement, for more rounds of it).
"""

import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


RUNS = max(1, env_int("BENCH_DEFENCE_RUNS", 3))
SECONDS = env_int("BENCH_DEFENCE_SECONDS", 4)
LIMIT = env_int("BENCH_DEFENCE_LIMIT", 2000)
LEGIT = env_int("BENCH_DEFENCE_LEGIT", 10000)
HIGH = 1000000
ONLY = os.environ.get("BENCH_DEFENCE_ONLY", "")
SRV_CPU, GEN_CPU = "0", "1"


def knot_conf(d, port, origin, rate):
    mod = (f"mod-rrl:\n  - id: r\n    rate-limit: {rate}\n    slip: 2\n" if rate else "")
    gm = "    global-module: mod-rrl/r\n" if rate else ""
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
    any: warning
database:
    storage: "{d}/db"
acl:
  - id: xfr
    address: 127.0.0.0/8
    action: transfer
{mod}template:
  - id: default
    storage: "{d}/zones"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
{gm}zone:
  - domain: {origin}
    file: "{d}/zone"
    acl: xfr
""")
    return ["knotd", "-c", conf]


def nsd_conf(d, port, origin, rate):
    conf = os.path.join(d, "nsd.conf")
    with open(conf, "w") as f:
        f.write(f"""server:
    ip-address: 127.0.0.1@{port}
    server-count: 1
    reuseport: yes
    username: ""
    chroot: ""
    zonesdir: "{d}"
    pidfile: "{d}/nsd.pid"
    xfrdfile: "{d}/xfrd.state"
    zonelistfile: "{d}/zone.list"
    database: ""
    logfile: "{d}/nsd.log"
    verbosity: 0
    rrl-ratelimit: {rate}
    rrl-slip: 2
    rrl-whitelist-ratelimit: {rate}
remote-control:
    control-enable: no
zone:
    name: {origin}
    zonefile: "{d}/zone"
    provide-xfr: 127.0.0.0/8 NOKEY
""")
    return ["nsd", "-d", "-c", conf]


def understudy_conf(binary):
    def conf_fn(d, port, origin, rate):
        os.makedirs(os.path.join(d, "storage"), exist_ok=True)
        table = os.environ.get("BENCH_DEFENCE_TABLE", "")
        extra = f", table-size: {table}" if table else ""
        rrl = f"  rrl: {{rate-limit: {rate}, slip: 2{extra}}}\n" if rate else ""
        conf = os.path.join(d, "understudy.yaml")
        with open(conf, "w") as f:
            f.write(f"""server:
  listen: ["127.0.0.1@{port}"]
  storage: "{d}/storage"
  control: "{d}/ctl.sock"
  udp-workers: 1
  tcp-workers: 1
  tcp-max-clients: 2000
  tcp-max-clients-per-address: 1000
  transfer-rate-limit: 0
{rrl}log: {{target: stderr, level: warning}}
acls:
  - {{id: xfr, address: [127.0.0.0/8], action: transfer}}
zones:
  - {{domain: {origin}, role: primary, file: "{d}/zone", acl: [xfr]}}
""")
        return [os.path.abspath(binary), "serve", "-c", conf]
    return conf_fn


def loadgen(bench, port, queries, seconds, src=None, rate=None, window=192):
    argv = ["taskset", "-c", GEN_CPU, bench.LOADGEN, "-s", "127.0.0.1", "-p", str(port),
            "-q", queries, "-d", str(seconds), "-t", "1", "-S", "8", "-T", "500"]
    argv += ["-Q", str(rate)] if rate else ["-w", str(window)]
    if src:
        argv += ["-B", src]
    return argv


def parse(out):
    r = {}
    for line in out.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            try:
                r[k] = float(v) if "." in v else int(v)
            except ValueError:
                r[k] = v
    return r


def run(argv, timeout):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{os.path.basename(argv[3] if argv[0] == 'taskset' else argv[0])} "
                           f"failed: {p.stderr.strip()[:300]}")
    return parse(p.stdout)


def measure(bench, tmp, zone, queries, binary, tcpgen, axfrclient, warnings):
    if env_int("BENCH_DEFENCE", 1) == 0:
        return {"note": "skipped (BENCH_DEFENCE=0)"}
    confs = {"knotd": knot_conf, "nsd": nsd_conf}
    if binary and os.access(binary, os.X_OK):
        confs["understudy"] = understudy_conf(binary)
    names = [n for n in bench.SERVERS if n in confs and (n == "understudy" or shutil.which(n))]
    # One name of the zone, for the flood: the first answer of the query file.
    with open(queries) as f:
        first = f.readline().split()
    flood_q = os.path.join(tmp, "flood-queries.txt")
    with open(flood_q, "w") as f:
        f.write(f"{first[0]} {first[1]}\n")
    inst = {}  # (server, variant) -> (proc, port, dir)
    res = {n: {"rrl_ratio": [], "rrl_cpu_ratio": [], "legit_share": [], "legit_ratio": [],
               "flood_share": [], "change_ratio": [], "change_legit_share": [], "tcp_oneshot": [],
               "tcp_pipeline": []} for n in names}
    try:
        for n in names:
            for variant, rate in (("off", 0), ("on", HIGH), ("limit", LIMIT)):
                d = os.path.join(tmp, f"defence-{n}-{variant}")
                os.makedirs(d)
                os.symlink(zone, os.path.join(d, "zone"))
                port = bench.free_port()
                argv = confs[n](d, port, bench.ORIGIN, rate)
                p = bench.start(argv, os.path.join(d, "server.log"), SRV_CPU)
                bench.wait_ready(p, port, bench.LOAD_TIMEOUT)
                inst[(n, variant)] = (p, port, d)
            print(f"defence: {n}: off, on and limit instances up", flush=True)
        for i in range(RUNS):
            for n in names:
                r = res[n]
                off, on, lim = (inst[(n, v)][1] for v in ("off", "on", "limit"))
                # 1. RRL on but not limiting, against off: qps, and the server's CPU time
                # per answered query, which a busy machine disturbs less.
                def timed(variant):
                    pid = inst[(n, variant)][0].pid
                    c0 = bench.tree_cpu_seconds(pid)
                    x = run(loadgen(bench, inst[(n, variant)][1], queries, SECONDS),
                            SECONDS + 30)
                    x["us_per_q"] = (bench.tree_cpu_seconds(pid) - c0) * 1e6 / max(
                        x["answered"], 1)
                    return x

                if i % 2:  # the order alternates, so neither is always first
                    b = timed("on")
                    a = timed("off")
                else:
                    a = timed("off")
                    b = timed("on")
                if b.get("truncated", 0) or b.get("loss_pct", 0) > 1:
                    warnings.append(f"defence {n}: RRL 'on' truncated {b.get('truncated')} and lost "
                                    f"{b.get('loss_pct')}%: it limited")
                r["rrl_ratio"].append(b["qps_answered"] / max(a["qps_answered"], 1))
                r["rrl_cpu_ratio"].append(b["us_per_q"] / max(a["us_per_q"], 1e-9))
                if ONLY == "rrl":
                    print(f"  defence round {i + 1}/{RUNS} {n}: rrl on/off "
                          f"{r['rrl_ratio'][-1]:.3f} (CPU/query "
                          f"{r['rrl_cpu_ratio'][-1]:.3f})", flush=True)
                    continue
                # 2. A legitimate client alone, then beside a flood at 10x the limit.
                alone = run(loadgen(bench, lim, queries, SECONDS, "127.0.2.1", LEGIT),
                            SECONDS + 30)
                fl = subprocess.Popen(loadgen(bench, lim, flood_q, SECONDS + 1, "127.0.1.1/16",
                                              10 * LIMIT), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                bench.STARTED.append(fl)
                try:
                    legit = run(loadgen(bench, lim, queries, SECONDS, "127.0.2.1", LEGIT),
                                SECONDS + 30)
                finally:
                    out, _ = fl.communicate(timeout=SECONDS + 30)
                    bench.STARTED[:] = [q for q in bench.STARTED if q is not fl]
                flood = parse(out)
                sent = max(legit.get("sent", 0), 1)
                r["legit_share"].append((legit["answered"] - legit.get("truncated", 0)) / sent)
                r["legit_ratio"].append(legit["qps_answered"] / max(alone["qps_answered"], 1))
                r["flood_share"].append((flood.get("answered", 0) - flood.get("truncated", 0)) /
                                        max(flood.get("sent", 0), 1))
                # 3. The change path flooded, against the same without.
                calm = run(loadgen(bench, off, queries, SECONDS), SECONDS + 30)
                cf = subprocess.Popen(["taskset", "-c", GEN_CPU, sys.executable,
                                       os.path.join(HERE, "changeflood.py"), str(off),
                                       bench.ORIGIN, str(2 * SECONDS + 3), axfrclient],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                bench.STARTED.append(cf)
                try:
                    import time
                    time.sleep(1.0)  # the flood up to speed, slow clients connected
                    busy = run(loadgen(bench, off, queries, SECONDS), SECONDS + 30)
                    # Saturating closed loop, the flood's generators and the server's
                    # transfers out share two cores, so some qps go to them whatever the
                    # server does; what a client sees is the open-loop figure: a client at
                    # LEGIT/s beside the same flood, answered in full or not.
                    steady = run(loadgen(bench, off, queries, SECONDS, "127.0.2.1", LEGIT),
                                 SECONDS + 30)
                finally:
                    cout, _ = cf.communicate(timeout=SECONDS + 60)
                    bench.STARTED[:] = [q for q in bench.STARTED if q is not cf]
                r["change_ratio"].append(busy["qps_answered"] / max(calm["qps_answered"], 1))
                r["change_legit_share"].append(steady["answered"] / max(steady.get("sent", 0), 1))
                r.setdefault("change_flood", parse(cout))
                # 4. TCP.
                for mode, key in (("oneshot", "tcp_oneshot"), ("pipeline", "tcp_pipeline")):
                    t = run(["taskset", "-c", GEN_CPU, tcpgen, "-s", "127.0.0.1", "-p", str(off),
                             "-q", queries, "-d", str(SECONDS), "-c", "64", "-m", mode, "-w",
                             "16", "-B", "127.0.8.1/200"], SECONDS + 30)
                    if t.get("errors"):
                        warnings.append(f"defence {n}: tcpgen {mode}: {t['errors']} errors")
                    r[key].append(t["qps_answered"])
                print(f"  defence round {i + 1}/{RUNS} {n}: rrl on/off "
                      f"{r['rrl_ratio'][-1]:.3f} (CPU/query {r['rrl_cpu_ratio'][-1]:.3f}), "
                      f"legit share {r['legit_share'][-1]:.4f} "
                      f"qps ratio {r['legit_ratio'][-1]:.3f}, flood share "
                      f"{r['flood_share'][-1]:.3f}, change-path flood/calm "
                      f"{r['change_ratio'][-1]:.3f}, tcp {r['tcp_oneshot'][-1]:,.0f} / "
                      f"{r['tcp_pipeline'][-1]:,.0f} qps", flush=True)
    except Exception as e:
        warnings.append(f"defence: {e}")
        return {"error": str(e)}
    finally:
        for p, _, _ in inst.values():
            bench.stop(p)
    out = {}
    for n, r in res.items():
        out[n] = {k: statistics.median(v) for k, v in r.items() if isinstance(v, list) and v}
        out[n]["rounds"] = {k: v for k, v in r.items() if isinstance(v, list)}
        out[n]["change_flood"] = r.get("change_flood", {})
    return out


def report(res):
    if not res or "error" in res or "note" in res:
        return f"defences: {res.get('error') or res.get('note') or 'not measured'}\n"
    names = [n for n in ("knotd", "nsd", "understudy") if n in res]
    L = [f"Defences ({RUNS} rounds, medians; 1 UDP + 1 TCP worker on CPU 0, generators on CPU 1;"
         f" RRL limit {LIMIT}/s, flood {10 * LIMIT}/s from one /24, client {LEGIT}/s from another)"]
    rows = [
        ("qps, RRL on (not limiting) / off", "rrl_ratio", "{:.3f}"),
        ("server CPU per query, RRL on / off", "rrl_cpu_ratio", "{:.3f}"),
        ("client answered share under a flood", "legit_share", "{:.4f}"),
        ("client qps under a flood / alone", "legit_ratio", "{:.3f}"),
        ("flood answered share (the rest TC/drop)", "flood_share", "{:.3f}"),
        ("qps, change path flooded / calm", "change_ratio", "{:.3f}"),
        ("client answered share, change path flooded", "change_legit_share", "{:.4f}"),
        ("TCP qps, a connection per query", "tcp_oneshot", "{:,.0f}"),
        ("TCP qps, pipelined (16 in flight)", "tcp_pipeline", "{:,.0f}"),
    ]
    L.append(f"  {'':<42}" + "".join(f"{n:>12}" for n in names) +
             ("  us/knotd  us/nsd" if "understudy" in names else ""))
    for label, key, fmt in rows:
        line = f"  {label:<42}" + "".join(f"{fmt.format(res[n][key]) if key in res[n] else 'n/a':>12}"
                                          for n in names)
        if "understudy" in names and key.startswith("tcp"):
            u = res["understudy"].get(key)
            for peer in ("knotd", "nsd"):
                v = res.get(peer, {}).get(key)
                line += f"  {u / v:7.2f}" if u and v else "      n/a"
        L.append(line)
    cf = res.get("understudy", {}).get("change_flood") or next(
        (res[n].get("change_flood") for n in names if res[n].get("change_flood")), {})
    if cf:
        L.append(f"  (change-path flood, per round: {cf.get('notify', 0):,} NOTIFY, "
                 f"{cf.get('soa', 0):,} SOA queries, {cf.get('slow_connects', 0)} slow TCP "
                 f"connections, 2 AXFR loops)")
    return "\n".join(L) + "\n"


def main():
    """Alone: UNDERSTUDY=build/understudy python3 bench/defence.py (after make bench-tools and
    one make bench, which makes the zone and queries in build/bench/data)."""
    import tempfile
    import run as bench

    tmp = tempfile.mkdtemp(prefix="understudy-defence-")
    zone, queries, _ = bench.ensure_data()
    warnings = []
    try:
        res = measure(bench, tmp, zone, queries, bench.UNDERSTUDY,
                      os.environ.get("TCPGEN") or os.path.join(bench.OUT, "tcpgen"),
                      bench.AXFRCLIENT, warnings)
    finally:
        bench.stop_all()
    sys.stdout.write("\n" + report(res))
    for w in warnings:
        print("WARNING:", w)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
