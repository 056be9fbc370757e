# SPDX-License-Identifier: MIT
"""transfer.py: transfers out, understudy side by side with knotd (part of `make bench`).

1. AXFR out of the 1M-record zone: knotd and understudy serve the same zone file as
   primaries (1 UDP worker, 1 TCP worker each, transfers allowed to 127.0.0.1 unsigned), and
   build/bench/axfrclient asks each for the zone BENCH_XFR_RUNS times, round-robin, reading
   every message to the closing SOA. Reported: the median time per transfer, the range, the
   messages and bytes, and the ratio knotd time / understudy time (above 1: understudy is
   faster).
1b. AXFR over TLS (XoT, RFC 9103) of the same zone: understudy and named 9.18 (knotd 3.2 has
   no XoT; it came in 3.3) serve it both in clear text and on a TLS listener (a self-signed EC
   P-256 certificate made for the run, TLS 1.3, ALPN dot), and `axfrclient --tls` times each,
   the handshake included, BENCH_XFR_RUNS times round-robin over the four. Reported: the
   medians, TLS / clear for each server (what TLS costs), and understudy / named over TLS.
   BENCH_XOT=0 skips it.
2. The journal's disk use: an understudy primary of the 100k-name zone takes
   BENCH_JOURNAL_CHANGES changes, each one added TXT record (zone file edited, serial bumped,
   `ctl reload`); `ctl zone-status` then gives the journal's size, so bytes per change; the
   growth of data.mdb (LMDB's file, which grows in whole pages and reuses freed ones) is
   given beside it.

Run alone (after `make all bench-tools`):
    UNDERSTUDY=build/understudy AXFRCLIENT=build/bench/axfrclient \\
        /usr/bin/python3 bench/transfer.py BIGZONE.zone [SMALLZONE.zone]
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import propagation

ORIGIN = "bench.test"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


XFR_RUNS = env_int("BENCH_XFR_RUNS", 5)
XOT = env_int("BENCH_XOT", 1)
JOURNAL_CHANGES = env_int("BENCH_JOURNAL_CHANGES", 20)


def knot_conf(d, port, zonefile):
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
acl:
  - id: bench
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "{d}/zones"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: {ORIGIN}
    file: "{zonefile}"
    acl: bench
""")
    return ["knotd", "-c", conf]


def understudy_conf(binary, d, port, zonefile):
    os.makedirs(d, exist_ok=True)
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
acls:
  - {{id: bench, address: [127.0.0.1], action: transfer}}
zones:
  - domain: {ORIGIN}
    role: primary
    file: "{zonefile}"
    acl: [bench]
""")
    return [os.path.abspath(binary), "serve", "-c", conf]


def one_axfr(client, port, tls=False):
    out = subprocess.run([client, *(["--tls"] if tls else []), "127.0.0.1", str(port), ORIGIN],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or f"axfrclient exited with {out.returncode}")
    t, msgs, recs, nbytes = out.stdout.split()
    return float(t), int(msgs), int(recs), int(nbytes)


def axfr_out(rt, tmp, big, binary, client, warnings):
    """Median AXFR time of the big zone from knotd and from understudy, same run."""
    servers = {}
    res = {}
    try:
        for name in ("knotd", "understudy"):
            d = os.path.join(tmp, f"xfr-{name}")
            os.makedirs(d, exist_ok=True)
            port = rt.free_port()
            argv = knot_conf(d, port, big) if name == "knotd" else understudy_conf(
                binary, d, port, big)
            p = rt.start(argv, os.path.join(d, "server.log"))
            rt.wait_ready(p, port, rt.LOAD_TIMEOUT)
            servers[name] = (p, port, d)
        runs = {name: [] for name in servers}
        # One unrecorded transfer each: the first one after loading pays for page faults.
        for name, (p, port, d) in servers.items():
            one_axfr(client, port)
        for i in range(XFR_RUNS):
            for name, (p, port, d) in servers.items():
                r = one_axfr(client, port)
                runs[name].append(r)
                print(f"  AXFR {i + 1}/{XFR_RUNS} from {name}: {r[0]:.3f} s, {r[1]} messages, "
                      f"{r[2]:,} records, {r[3] / 1e6:.1f} MB", flush=True)
        for name, rs in runs.items():
            times = [r[0] for r in rs]
            res[name] = {"median_s": statistics.median(times), "min_s": min(times),
                         "max_s": max(times), "messages": rs[0][1], "records": rs[0][2],
                         "bytes": rs[0][3]}
        if res["knotd"]["records"] != res["understudy"]["records"]:
            warnings.append(f"AXFR out: knotd sent {res['knotd']['records']} records, "
                            f"understudy {res['understudy']['records']}")
    except Exception as e:
        warnings.append(f"AXFR out: {e} (logs in {tmp})")
        res["error"] = str(e)
    finally:
        for p, _, _ in servers.values():
            rt.stop(p)
    return res


def self_signed(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days",
                    "2", "-subj", "/CN=bench.test", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def understudy_tls_conf(binary, d, port, tls_port, zonefile, cert, key):
    argv = understudy_conf(binary, d, port, zonefile)
    conf = argv[-1]
    with open(conf) as f:
        text = f.read()
    text = text.replace("  tcp-workers: 1\n", f"""  tcp-workers: 1
  tls: {{certificate: "{cert}", key: "{key}", listen: "127.0.0.1@{tls_port}"}}
""")
    with open(conf, "w") as f:
        f.write(text)
    return argv


def named_conf(d, port, tls_port, zonefile, cert, key):
    conf = os.path.join(d, "named.conf")
    with open(conf, "w") as f:
        f.write(f"""tls bench {{ cert-file "{cert}"; key-file "{key}"; }};
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on port {tls_port} tls bench {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    automatic-interface-scan no;
    allow-transfer {{ 127.0.0.1; }};
    check-names primary ignore;
    check-integrity no;
    check-mx ignore;
    check-wildcard no;
    check-sibling no;
}};
controls {{ }};
zone "{ORIGIN}" {{ type primary; file "{zonefile}"; }};
""")
    return ["named", "-g", "-n", "1", "-c", conf]


def axfr_tls(rt, tmp, big, binary, client, warnings):
    """Median AXFR time of the big zone in clear text and over TLS, from understudy and
    named, in one round-robin."""
    procs, ports, res = [], {}, {}
    try:
        d = os.path.join(tmp, "xot")
        os.makedirs(d, exist_ok=True)
        cert, key = self_signed(d)
        for name in ("understudy", "named"):
            sd = os.path.join(d, name)
            os.makedirs(sd, exist_ok=True)
            port, tls_port = rt.free_port(), rt.free_port()
            argv = (understudy_tls_conf(binary, sd, port, tls_port, big, cert, key)
                    if name == "understudy" else named_conf(sd, port, tls_port, big, cert, key))
            p = rt.start(argv, os.path.join(sd, "server.log"))
            procs.append(p)
            rt.wait_ready(p, port, rt.LOAD_TIMEOUT)
            ports[(name, "clear")] = port
            ports[(name, "tls")] = tls_port
        runs = {k: [] for k in ports}
        for (name, mode), port in ports.items():  # warm-up, unrecorded
            one_axfr(client, port, mode == "tls")
        for i in range(XFR_RUNS):
            for (name, mode), port in ports.items():
                r = one_axfr(client, port, mode == "tls")
                runs[(name, mode)].append(r)
                print(f"  AXFR {i + 1}/{XFR_RUNS} from {name} ({mode}): {r[0]:.3f} s, "
                      f"{r[1]} messages, {r[2]:,} records", flush=True)
        for (name, mode), rs in runs.items():
            times = [r[0] for r in rs]
            res[f"{name}/{mode}"] = {"median_s": statistics.median(times), "min_s": min(times),
                                     "max_s": max(times), "records": rs[0][2],
                                     "bytes": rs[0][3]}
        if len({r["records"] for r in res.values()}) != 1:
            warnings.append("AXFR over TLS: the four transfers differ in records: " +
                            ", ".join(f"{k} {r['records']}" for k, r in res.items()))
    except Exception as e:
        warnings.append(f"AXFR over TLS: {e} (logs in {tmp}/xot)")
        res["error"] = str(e)
    finally:
        for p in procs:
            rt.stop(p)
    return res


def ctl(binary, d, *args):
    out = subprocess.run([binary, "ctl", "-s", os.path.join(d, "ctl.sock"), *args],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"ctl {' '.join(args)}: {out.stdout}{out.stderr}")
    return out.stdout


def journal_use(rt, tmp, zone, binary, warnings):
    """Bytes the journal takes per one-record change."""
    d = os.path.join(tmp, "journal")
    os.makedirs(d, exist_ok=True)
    zfile = os.path.join(d, f"{ORIGIN}.zone")
    z = propagation.Zone(zone, zfile)
    port = rt.free_port()
    p = rt.start(understudy_conf(binary, d, port, zfile), os.path.join(d, "server.log"))
    res = {}
    try:
        rt.wait_ready(p, port, rt.LOAD_TIMEOUT)
        # The zone is answered before its first snapshot is stored; the control socket,
        # only after.
        ctl(binary, d, "status")
        mdb = os.path.join(d, "storage", "data.mdb")
        size0 = os.path.getsize(mdb)
        t0 = time.monotonic()
        for i in range(JOURNAL_CHANGES):
            z.serial = (z.serial + 1) & 0xFFFFFFFF
            z.extra.append(f"journal-add-{i}\t300\tIN\tTXT\t\"change {i}\"\n")
            z.write()
            ctl(binary, d, "reload", ORIGIN)
        elapsed = time.monotonic() - t0
        status = ctl(binary, d, "zone-status", ORIGIN)
        m = re.search(r"journal-changes=(\d+) journal-bytes=(\d+)", status)
        if not m:
            raise RuntimeError(f"zone-status shows no journal: {status.strip()}")
        changes, nbytes = int(m.group(1)), int(m.group(2))
        res = {"changes": changes, "journal_bytes": nbytes,
               "bytes_per_change": nbytes / max(changes, 1),
               "mdb_growth_per_change": (os.path.getsize(mdb) - size0) / JOURNAL_CHANGES,
               "mdb_bytes": os.path.getsize(mdb),
               "reload_s": elapsed / JOURNAL_CHANGES}
        print(f"  journal: {changes} changes of one record, {nbytes} bytes "
              f"({res['bytes_per_change']:.0f} per change); data.mdb {res['mdb_bytes'] / 1e6:.1f}"
              f" MB, grew {res['mdb_growth_per_change']:.0f} bytes per change", flush=True)
    except Exception as e:
        warnings.append(f"journal: {e} (log in {d}/server.log)")
        res["error"] = str(e)
    finally:
        rt.stop(p)
    return res


def measure(rt, tmp, big, zone, binary, client, warnings):
    res = {}
    if big:
        print("transfers out: AXFR of the big zone from knotd and understudy", flush=True)
        res["axfr"] = axfr_out(rt, tmp, big, binary, client, warnings)
        if XOT and shutil.which("named"):
            print("transfers out: AXFR of the big zone over TLS, understudy and named",
                  flush=True)
            res["xot"] = axfr_tls(rt, tmp, big, binary, client, warnings)
    if zone and JOURNAL_CHANGES > 0:
        print("transfers out: the journal's disk use per change", flush=True)
        res["journal"] = journal_use(rt, tmp, zone, binary, warnings)
    return res


def report(res):
    L = []
    a = res.get("axfr", {})
    if a and "error" not in a:
        k, u = a["knotd"], a["understudy"]
        L.append(f"AXFR out, {u['records']:,} records ({XFR_RUNS} transfers each, median; "
                 "axfrclient reads every message to the closing SOA):")
        for name, r in (("knotd", k), ("understudy", u)):
            L.append(f"  {name:<11} {r['median_s']:7.3f} s  (range {r['min_s']:.3f}-"
                     f"{r['max_s']:.3f}), {r['messages']} messages, {r['bytes'] / 1e6:.1f} MB, "
                     f"{r['records'] / r['median_s'] / 1e6:.2f} M records/s")
        L.append(f"  understudy is {k['median_s'] / u['median_s']:.2f}x knotd's speed "
                 "(target: 1.2x)")
    elif a:
        L.append(f"AXFR out: failed: {a['error']}")
    x = res.get("xot", {})
    if x and "error" not in x:
        L.append(f"AXFR over TLS (XoT), {x['understudy/tls']['records']:,} records "
                 f"({XFR_RUNS} transfers each, median, handshake included):")
        for name in ("understudy", "named"):
            c, t = x[f"{name}/clear"], x[f"{name}/tls"]
            L.append(f"  {name:<11} clear {c['median_s']:7.3f} s, TLS {t['median_s']:7.3f} s "
                     f"(range {t['min_s']:.3f}-{t['max_s']:.3f}): TLS takes "
                     f"{t['median_s'] / c['median_s']:.2f}x the clear time")
        L.append(f"  over TLS understudy is {x['named/tls']['median_s'] / x['understudy/tls']['median_s']:.2f}x "
                 f"named's speed (clear: {x['named/clear']['median_s'] / x['understudy/clear']['median_s']:.2f}x)")
    elif x:
        L.append(f"AXFR over TLS: failed: {x['error']}")
    j = res.get("journal", {})
    if j and "error" not in j:
        L.append(f"journal: {j['changes']} one-record changes kept in {j['journal_bytes']} "
                 f"bytes, {j['bytes_per_change']:.0f} bytes per change; data.mdb grew "
                 f"{j['mdb_growth_per_change']:.0f} bytes per change (whole pages, reused); "
                 f"reload + diff + store {j['reload_s'] * 1000:.0f} ms per change")
    elif j:
        L.append(f"journal: failed: {j['error']}")
    return "\n".join(L) + "\n" if L else ""


def main():
    import run as rt

    if len(sys.argv) < 2:
        sys.exit("usage: transfer.py BIGZONE [SMALLZONE]")
    binary = os.environ.get("UNDERSTUDY", "")
    client = os.environ.get("AXFRCLIENT", "build/bench/axfrclient")
    tmp = tempfile.mkdtemp(prefix="understudy-xfr-")
    warnings = []
    try:
        res = measure(rt, tmp, os.path.abspath(sys.argv[1]),
                      os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None, binary,
                      os.path.abspath(client), warnings)
    finally:
        rt.stop_all()
    sys.stdout.write("\n" + report(res))
    for w in warnings:
        print("WARNING:", w)
    if not warnings:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
