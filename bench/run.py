#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""run.py: `make bench`, understudy side by side with knotd and nsd (stdlib only).

For each server (knotd, nsd, understudy when its binary exists) and 1 and 2 workers: start it
on the same 100k-name zone on a free loopback port, measure UDP queries per second with
bench/loadgen, stop it. Before that, loadgen against bench/reflector (a server that does
nothing but send the datagram back) gives the generator's ceiling in the same CPU layout.
Then start each server on a 1M-record zone and measure the load time (start to first answered
SOA query) and the memory held after load. Prints a table with absolute numbers and the
ratios understudy/knotd and understudy/nsd, and writes it to $BENCH_OUT/results.txt (plus
results.json). Every process is started by us, recorded by PID and stopped by PID at the end,
whatever happens.

Environment (all optional):
  UNDERSTUDY=PATH        understudy binary; skipped with a note when the file does not exist
  LOADGEN, REFLECTOR     default: $BENCH_OUT/loadgen, $BENCH_OUT/reflector
  BENCH_OUT              default: build/bench (results, generated zones, logs)
  BENCH_SECONDS=4        length of one loadgen run
  BENCH_RUNS=5           rounds; each round runs every configuration once (median reported)
  BENCH_WARMUP=1         seconds of unrecorded load before the runs
  BENCH_WINDOW=192       closed-loop outstanding queries in total (split over loadgen threads)
  BENCH_SOCKETS=8        loadgen sockets (source ports) per thread
  BENCH_TIMEOUT_MS=100   an unanswered query counts as lost after this long
  BENCH_NAMES=100000     names in the throughput zone
  BENCH_BIG_RECORDS=1000000  records in the load-time zone (0 skips that part)
  BENCH_WORKERS="1 2"    worker counts to measure
  BENCH_SERVERS="knotd nsd understudy"
  BENCH_LOAD_RUNS=3      starts per server on the big zone (median reported)
  BENCH_LOAD_TIMEOUT=300 seconds to wait for a server to answer after start
  BENCH_KEEP=1           keep the temporary directory with configs and logs
  BENCH_DO=1             0 skips the DO=1 run on the signed (NSEC3) copy of the throughput zone
  BENCH_PROP_CHANGES=20, BENCH_IXFR_CHANGES=10, ...  the backup-role part, bench/propagation.py
  BENCH_SMALL_ZONES="10000"  counts of small zones for bench/manyzones.py ("" skips it;
                         "10000 100000" adds the 100,000-zone case), BENCH_SMALL_RUNS=3
  BENCH_CATALOG=1        0 skips bench/catalog.py (a catalog of BENCH_CAT_MEMBERS=10000 new
                         members, producer to consumer, knotd and understudy)
  BENCH_SOA=1            0 skips bench/soacheck.py (SOA checks of BENCH_SOA_ZONES=10000
                         secondaries at steady state, refresh BENCH_SOA_REFRESH=60, window
                         BENCH_SOA_WINDOW=120 s; about 200 s)

At the end, bench/propagation.py measures the backup role: a primary (knotd, then understudy)
NOTIFYs understudy and a knotd secondary, and each change's propagation to both is timed (see
that file); and
bench/transfer.py times an AXFR of the big zone out of knotd and understudy in the same run,
and the journal's disk use per one-record change (BENCH_XFR_RUNS=5, BENCH_JOURNAL_CHANGES=20);
bench/monitoring.py the qps of understudy watching 10,000 zones' copies and scraped for /metrics
every second, over its qps without them, knotd's beside (BENCH_MON=0 skips it).
"""

import atexit
import ctypes
import datetime
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import catalog
import defence
import manyzones
import monitoring
import propagation
import soacheck
import transfer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORIGIN = "bench.test"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


OUT = os.path.abspath(os.environ.get("BENCH_OUT") or os.path.join(ROOT, "build", "bench"))
LOADGEN = os.environ.get("LOADGEN") or os.path.join(OUT, "loadgen")
REFLECTOR = os.environ.get("REFLECTOR") or os.path.join(OUT, "reflector")
AXFRCLIENT = os.environ.get("AXFRCLIENT") or os.path.join(OUT, "axfrclient")
TCPGEN = os.environ.get("TCPGEN") or os.path.join(OUT, "tcpgen")
UNDERSTUDY = os.environ.get("UNDERSTUDY", "")
SECONDS = env_int("BENCH_SECONDS", 4)
RUNS = max(1, env_int("BENCH_RUNS", 5))
WARMUP = env_int("BENCH_WARMUP", 1)
WINDOW = env_int("BENCH_WINDOW", 192)
SOCKETS = env_int("BENCH_SOCKETS", 8)
TIMEOUT_MS = env_int("BENCH_TIMEOUT_MS", 100)
NAMES = env_int("BENCH_NAMES", 100000)
BIG_RECORDS = env_int("BENCH_BIG_RECORDS", 1000000)
WORKERS = [int(w) for w in os.environ.get("BENCH_WORKERS", "1 2").split()]
SERVERS = os.environ.get("BENCH_SERVERS", "knotd nsd understudy").split()
LOAD_TIMEOUT = env_int("BENCH_LOAD_TIMEOUT", 300)
LOAD_RUNS = max(1, env_int("BENCH_LOAD_RUNS", 3))
KEEP = os.environ.get("BENCH_KEEP", "") not in ("", "0")
DO = env_int("BENCH_DO", 1)
NCPU = os.cpu_count() or 1

# ---- processes: everything we start is tracked here and stopped by PID ----------------------

STARTED = []  # Popen objects still running


def proc_starttime(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return int(data[data.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def proc_children():
    """{ppid: [pid, ...]} for the whole system, from /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                data = f.read()
            ppid = int(data[data.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(pid):
    kids = proc_children()
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid, start):
    st = proc_starttime(pid)
    if st is None or st != start:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return data[data.rindex(b")") + 2:data.rindex(b")") + 3] != b"Z"
    except OSError:
        return False


def start(argv, log_path, cpus=None):
    if cpus is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", cpus] + argv  # taskset execs, so the PID is the program's
    log = open(log_path, "ab")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    log.close()
    STARTED.append(p)
    return p


def stop(p, timeout=10.0):
    """SIGTERM the process, then SIGKILL; then the same for its (recorded) descendants."""
    tree = [(c, proc_starttime(c)) for c in descendants(p.pid)]
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        except ProcessLookupError:
            pass
    for pid, st in tree:
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 1.0)):
            if not alive(pid, st):
                break
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            t_end = time.monotonic() + wait
            while alive(pid, st) and time.monotonic() < t_end:
                time.sleep(0.02)
        # As child subreaper we inherit orphaned descendants (nsd's); collect their status.
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    STARTED[:] = [q for q in STARTED if q is not p]


def stop_all():
    for p in list(STARTED):
        try:
            stop(p)
        except Exception as e:  # keep stopping the others
            print(f"bench: stopping PID {p.pid}: {e}", file=sys.stderr)


def on_signal(sig, frame):
    raise SystemExit(128 + sig)


def become_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


# ---- small DNS client for readiness --------------------------------------------------------


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def soa_answered(sock, port, qid):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + wire_name(ORIGIN) + struct.pack(">HH", 6, 1)
    try:
        sock.sendto(q, ("127.0.0.1", port))
        sock.settimeout(0.005)
        while True:
            data = sock.recv(4096)
            if len(data) < 12:
                continue
            rid, flags, _, an = struct.unpack(">HHHH", data[:8])
            if rid != qid or not flags & 0x8000:
                continue  # a late answer to an earlier probe
            return (flags & 0x000F) == 0 and an >= 1 and bool(flags & 0x0400)
    except (socket.timeout, ConnectionRefusedError, BlockingIOError):
        return False


def wait_ready(p, port, timeout):
    """Seconds from now until the server answers SOA authoritatively, polling every 5 ms."""
    t0 = time.monotonic()
    qid = random.randrange(65536)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        while time.monotonic() - t0 < timeout:
            if p.poll() is not None:
                raise RuntimeError(f"exited with status {p.returncode} before answering")
            qid = (qid + 1) & 0xFFFF
            if soa_answered(s, port, qid):
                return time.monotonic() - t0
    raise RuntimeError(f"no SOA answer within {timeout} s")


def free_port():
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


# ---- measurements from /proc ---------------------------------------------------------------


def cpu_times():
    """{cpuN: (busy, total)} in clock ticks."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                v = [int(x) for x in line.split()[1:9]]
                total = sum(v)
                out[line.split()[0]] = (total - v[3] - v[4], total)
    return out


def tree_cpu_seconds(pid):
    """utime + stime of a process (all threads) and its live descendants."""
    hz = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in [pid] + descendants(pid):
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                data = f.read()
            v = data[data.rindex(b")") + 2:].split()
            total += int(v[11]) + int(v[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / hz


def memory(pid):
    """(largest VmRSS in the process tree, sum of Pss over the tree), in KiB.

    The largest rather than the started PID's: the process nsd starts as becomes its xfrd
    (about 10 MiB) and the zone lives in the child "nsd: main"."""
    rss = pss = 0
    for p in [pid] + descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = max(rss, int(line.split()[1]))
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return rss, pss


# ---- servers ---------------------------------------------------------------------------------


class Server:
    name = ""
    binary = ""

    def __init__(self, tmp):
        self.tmp = tmp

    def available(self):
        return shutil.which(self.binary) is not None

    def version(self):
        return self.name

    def prepare(self, zonefile, port, workers, tag):
        """Writes a fresh config directory; returns (argv, dir)."""
        d = os.path.join(self.tmp, f"{self.name}-{tag}")
        os.makedirs(d)
        os.symlink(zonefile, os.path.join(d, f"{ORIGIN}.zone"))
        return self.config(d, port, workers), d


class Knot(Server):
    name = "knotd"
    binary = "knotd"

    def version(self):
        out = subprocess.run(["knotd", "-V"], capture_output=True, text=True).stdout
        return "knotd " + out.split("version")[-1].strip().split()[0]

    def config(self, d, port, workers):
        for sub in ("run", "db", "zones"):
            os.makedirs(os.path.join(d, sub))
        conf = os.path.join(d, "knot.conf")
        with open(conf, "w") as f:
            f.write(f"""server:
    rundir: "{d}/run"
    listen: 127.0.0.1@{port}
    udp-workers: {workers}
    tcp-workers: 1
    background-workers: 1
control:
    listen: "{d}/run/knot.sock"
log:
  - target: stderr
    any: warning
database:
    storage: "{d}/db"
template:
  - id: default
    storage: "{d}/zones"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: {ORIGIN}
    file: "{d}/{ORIGIN}.zone"
""")
        return ["knotd", "-c", conf]


class Nsd(Server):
    name = "nsd"
    binary = "nsd"

    def version(self):
        out = subprocess.run(["nsd", "-v"], capture_output=True, text=True)
        text = out.stdout + out.stderr
        return "nsd " + text.split("version")[1].split()[0] if "version" in text else "nsd"

    def config(self, d, port, workers):
        conf = os.path.join(d, "nsd.conf")
        # Debian builds NSD with --enable-ratelimit: rrl-ratelimit 0 turns RRL off.
        # reuseport gives every server process its own socket, as knotd and understudy have;
        # NSD's documentation recommends it with server-count > 1.
        with open(conf, "w") as f:
            f.write(f"""server:
    ip-address: 127.0.0.1@{port}
    server-count: {workers}
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
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: {ORIGIN}
    zonefile: "{d}/{ORIGIN}.zone"
""")
        return ["nsd", "-d", "-c", conf]


class Understudy(Server):
    name = "understudy"

    def available(self):
        return bool(UNDERSTUDY) and os.path.isfile(UNDERSTUDY) and os.access(UNDERSTUDY, os.X_OK)

    def config(self, d, port, workers):
        os.makedirs(os.path.join(d, "storage"))
        conf = os.path.join(d, "understudy.yaml")
        with open(conf, "w") as f:
            f.write(f"""server:
  listen: ["127.0.0.1@{port}"]
  storage: "{d}/storage"
  control: "{d}/ctl.sock"
  udp-workers: {workers}
  watch-ns: false
  tcp-workers: 1
log: {{target: stderr, level: warning}}
zones:
  - domain: {ORIGIN}
    role: primary
    file: "{d}/{ORIGIN}.zone"
""")
        return [os.path.abspath(UNDERSTUDY), "serve", "-c", conf]


# ---- load generation -------------------------------------------------------------------------


def layout(workers):
    """(server CPUs, loadgen CPUs, loadgen threads) for a worker count."""
    if NCPU >= 2 * workers:
        srv = ",".join(str(c) for c in range(workers))
        gen = ",".join(str(c) for c in range(workers, 2 * workers))
        return srv, gen, workers
    allc = f"0-{NCPU - 1}"
    return allc, allc, workers  # not enough cores to keep them apart: share, and say so


def run_loadgen(port, queries, seconds, threads, cpus, server_pid=None, dobit=False):
    argv = [LOADGEN, "-s", "127.0.0.1", "-p", str(port), "-q", queries, "-d", str(seconds),
            "-t", str(threads), "-S", str(SOCKETS), "-w", str(max(1, WINDOW // threads)),
            "-T", str(TIMEOUT_MS)] + (["-D"] if dobit else [])
    if cpus and shutil.which("taskset"):
        argv = ["taskset", "-c", cpus] + argv
    c0 = cpu_times()
    s0 = tree_cpu_seconds(server_pid) if server_pid else 0.0
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    STARTED.append(p)
    try:
        out, err = p.communicate(timeout=seconds + 30)
    finally:
        STARTED[:] = [q for q in STARTED if q is not p]
    wall = time.monotonic() - t0
    s1 = tree_cpu_seconds(server_pid) if server_pid else 0.0
    c1 = cpu_times()
    if p.returncode != 0:
        raise RuntimeError(f"loadgen failed ({p.returncode}): {err.strip()}")
    r = {}
    for line in out.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            try:
                r[k] = float(v) if "." in v else int(v)
            except ValueError:
                r[k] = v
    busy = sum(c1[c][0] - c0[c][0] for c in c1) / os.sysconf("SC_CLK_TCK")
    r["wall"] = wall
    r["box_busy_cores"] = busy / wall
    r["srv_cores"] = (s1 - s0) / wall if server_pid else 0.0
    r["srv_us_per_q"] = (s1 - s0) * 1e6 / r["answered"] if r.get("answered") else 0.0
    return r


def gen_cpu_seconds():
    """CPU of reaped children: loadgen's, read around each run."""
    ru = os.times()
    return ru.children_user + ru.children_system


def run_once(label, port, queries, threads, gen_cpus, server_pid, tag, dobit=False):
    g0 = gen_cpu_seconds()
    r = run_loadgen(port, queries, SECONDS, threads, gen_cpus, server_pid, dobit)
    r["gen_cores"] = (gen_cpu_seconds() - g0) / r["wall"]
    r["other_cores"] = max(0.0, r["box_busy_cores"] - r["gen_cores"] - r["srv_cores"])
    print(f"  {tag} {label}: {r['qps_answered']:,.0f} qps answered, loss {r['loss_pct']:.2f}%,"
          f" server {r['srv_cores'] * 100:.0f}% loadgen {r['gen_cores'] * 100:.0f}% "
          f"other {r['other_cores'] * 100:.0f}% of a core", flush=True)
    return r


DISTURBED = 0.15  # other processes using more than this share of a core spoil a run


def summarize(runs):
    """The median run over the undisturbed runs (all runs if fewer than two are), with the
    spread and the count of runs left out."""
    clean = [r for r in runs if r["other_cores"] <= DISTURBED]
    use = clean if len(clean) >= 2 else list(runs)
    use.sort(key=lambda r: r["qps_answered"])
    med = dict(use[len(use) // 2])
    med["qps_min"] = use[0]["qps_answered"]
    med["qps_max"] = use[-1]["qps_answered"]
    med["qps_median"] = statistics.median(r["qps_answered"] for r in use)
    med["runs_used"] = len(use)
    med["runs_disturbed"] = len(runs) - len(clean)
    med["other_cores"] = statistics.median(r["other_cores"] for r in use)
    # CPU per query is steadier than qps when cores are shared: report its own median
    med["srv_us_per_q"] = statistics.median(r["srv_us_per_q"] for r in use)
    med["runs"] = [{k: r[k] for k in ("qps_answered", "loss_pct", "srv_cores", "gen_cores",
                                      "other_cores", "srv_us_per_q")} for r in runs]
    return med


# ---- zones -------------------------------------------------------------------------------------


def ensure_data():
    data = os.path.join(OUT, "data")
    os.makedirs(data, exist_ok=True)
    gen = os.path.join(HERE, "genzone.py")
    zone = os.path.join(data, f"bench-{NAMES}.zone")
    queries = os.path.join(data, f"queries-{NAMES}.txt")
    big = os.path.join(data, f"big-{BIG_RECORDS}.zone")

    def stale(path):
        return not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(gen)

    if stale(zone) or stale(queries):
        subprocess.run([sys.executable, gen, "--names", str(NAMES), "--zone", zone,
                        "--queries", queries], check=True)
    if BIG_RECORDS and stale(big):
        subprocess.run([sys.executable, gen, "--records", str(BIG_RECORDS), "--zone", big],
                       check=True)
    return zone, queries, big


def sign_zone(zone):
    """The throughput zone signed with NSEC3 (no salt, no extra iterations: RFC 9276), keys
    made fresh next to it; redone when the zone changes. None when the tools are missing."""
    if not (shutil.which("dnssec-keygen") and shutil.which("dnssec-signzone")):
        return None
    signed = zone + ".signed"
    if os.path.exists(signed) and os.path.getmtime(signed) >= os.path.getmtime(zone):
        return signed
    keys = zone + ".keys"
    shutil.rmtree(keys, ignore_errors=True)
    os.makedirs(keys)
    for extra in (["-f", "KSK"], []):
        subprocess.run(["dnssec-keygen", "-q", "-K", keys, "-a", "ECDSAP256SHA256", *extra,
                        ORIGIN], check=True, capture_output=True, cwd=keys)
    t0 = time.monotonic()
    subprocess.run(["dnssec-signzone", "-q", "-P", "-S", "-K", keys, "-o", ORIGIN, "-3", "-",
                    "-H", "0", "-n", str(NCPU), "-f", signed + ".tmp", zone], check=True,
                   capture_output=True, cwd=keys)
    os.replace(signed + ".tmp", signed)
    print(f"bench: signed the zone in {time.monotonic() - t0:.1f} s", flush=True)
    return signed


def measure_do(servers, signed, queries, tmp, res, meta):
    """UDP qps with DO=1 against the signed zone, 1 worker, RUNS rounds round-robin."""
    srv_cpus, gen_cpus, threads = layout(1)
    live = []
    for s in servers:
        port = free_port()
        argv, d = s.prepare(signed, port, 1, "do")
        p = start(argv, os.path.join(d, "server.log"), srv_cpus)
        c = {"key": s.name, "port": port, "proc": p, "dir": d, "runs": []}
        try:
            wait_ready(p, port, LOAD_TIMEOUT)
            if WARMUP > 0:
                run_loadgen(port, queries, WARMUP, threads, gen_cpus, dobit=True)
            live.append(c)
        except Exception as e:
            res["do"][s.name] = {"error": str(e)}
            meta["warnings"].append(f"{s.name} DO=1: {e} (log in {d})")
            stop(p)
    for i in range(RUNS):
        for c in list(live):
            try:
                if c["proc"].poll() is not None:
                    raise RuntimeError(f"exited with status {c['proc'].returncode}")
                c["runs"].append(run_once(c["key"] + " DO=1", c["port"], queries, threads,
                                          gen_cpus, c["proc"].pid, f"round {i + 1}/{RUNS}",
                                          dobit=True))
            except Exception as e:
                res["do"][c["key"]] = {"error": str(e)}
                meta["warnings"].append(f"{c['key']} DO=1: {e} (log in {c['dir']})")
                live.remove(c)
    for c in live:
        stop(c["proc"])
        r = res["do"][c["key"]] = summarize(c["runs"])
        if r["bad"] or r["rcode_servfail"] + r["rcode_refused"] + r["rcode_other"]:
            meta["warnings"].append(f"{c['key']} DO=1: SERVFAIL {r['rcode_servfail']}, "
                                    f"REFUSED {r['rcode_refused']}, other {r['rcode_other']}, "
                                    f"bad {r['bad']}")


def count_zone(path):
    recs = 0
    with open(path) as f:
        for line in f:
            if line and not line.startswith(("$", ";")):
                recs += 1
    return recs


# ---- report ----------------------------------------------------------------------------------


def fmt_qps(v):
    return f"{v:,.0f}" if v is not None else "-"


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "n/a"


def report(res, meta):
    L = []
    L.append(f"understudy bench, {meta['date']}")
    L.append(f"host: {meta['cpus']} CPUs ({meta['cpu_model']}), Linux {meta['kernel']}")
    L.append(f"servers: {', '.join(meta['versions'])}")
    L.append(f"background load before the bench: {meta['idle_load_cores'] * 100:.0f}% of a core")
    L.append(f"zone: {meta['zone_records']:,} records ({NAMES:,} names); "
             f"queries: {meta['queries']:,} ({meta['nx_pct']:.1f}% NXDOMAIN), EDNS 1232")
    L.append(f"loadgen: closed loop, {WINDOW} queries outstanding in total, {SOCKETS} sockets "
             f"per thread, timeout {TIMEOUT_MS} ms;")
    L.append(f"         {RUNS} rounds of {SECONDS} s over all configurations, interleaved; "
             f"median (and range) over the runs")
    L.append(f"         not disturbed by other processes (> {DISTURBED * 100:.0f}% of a core)")
    for w in WORKERS:
        srv, gen, th = layout(w)
        shared = "shared with the server" if srv == gen else "apart"
        L.append(f"CPUs, {w} worker(s): server on {srv}, loadgen ({th} thread(s)) on {gen} "
                 f"({shared})")
    L.append("")
    L.append(f"UDP throughput, {NAMES:,}-name zone")
    hdr = (f"{'server':<12} {'wrk':>3} {'qps answered':>13} {'range':>13} {'runs':>4} {'loss%':>6} "
           f"{'NXD%':>5} {'p50us':>6} {'srv%':>5} {'gen%':>5} {'oth%':>5} {'srv us/q':>8}")
    L.append(hdr)
    L.append("-" * len(hdr))
    for w in WORKERS:
        for name in ["reflector"] + SERVERS:
            r = res["qps"].get(f"{name}/{w}")
            if r is None:
                continue
            if "error" in r:
                L.append(f"{name:<12} {w:>3} {'failed: ' + r['error']}")
                continue
            ans = max(r["answered"], 1)
            nx = 100.0 * r["rcode_nxdomain"] / ans
            us_q = r["srv_us_per_q"]
            rng = f"{r['qps_min'] / 1000:.0f}k-{r['qps_max'] / 1000:.0f}k"
            L.append(f"{name:<12} {w:>3} {fmt_qps(r['qps_median']):>13} {rng:>13} "
                     f"{r['runs_used']:>4} "
                     f"{r['loss_pct']:>6.2f} {nx:>5.1f} {r['latency_p50_us']:>6} "
                     f"{r['srv_cores'] * 100:>5.0f} {r['gen_cores'] * 100:>5.0f} "
                     f"{r['other_cores'] * 100:>5.0f} "
                     f"{(f'{us_q:.2f}' if name != 'reflector' else '-'):>8}")
        L.append("")
    L.append("srv%/gen%/oth%: CPU used by the server, loadgen and everything else on the box "
             "(100 = one core);")
    L.append("srv us/q: server CPU time per answered query (includes kernel time spent in "
             "its context).")
    for w in WORKERS:
        ceil = res["qps"].get(f"reflector/{w}")
        if ceil and "error" not in ceil:
            best = [res["qps"][f"{s}/{w}"]["qps_median"] for s in SERVERS
                    if f"{s}/{w}" in res["qps"] and "error" not in res["qps"][f"{s}/{w}"]]
            if best:
                L.append(f"loadgen ceiling, {w} worker layout: {fmt_qps(ceil['qps_median'])} qps "
                         f"against the reflector; the fastest server reached "
                         f"{100 * max(best) / ceil['qps_median']:.0f}% of it.")
    if res.get("load"):
        L.append("")
        L.append(f"load of the {BIG_RECORDS:,}-record zone (1 worker, CPUs unpinned; median of "
                 f"{LOAD_RUNS} starts)")
        hdr = (f"{'server':<12} {'load s':>8} {'range':>11} {'VmRSS MiB':>10} {'PSS tree MiB':>13} "
               f"{'procs':>5}")
        L.append(hdr)
        L.append("-" * len(hdr))
        for name in SERVERS:
            r = res["load"].get(name)
            if r is None:
                continue
            if "error" in r:
                L.append(f"{name:<12} failed: {r['error']}")
                continue
            rng = f"{r['load_min']:.2f}-{r['load_max']:.2f}"
            L.append(f"{name:<12} {r['load_s']:>8.2f} {rng:>11} {r['rss_kib'] / 1024:>10.1f} "
                     f"{r['pss_kib'] / 1024:>13.1f} {r['procs']:>5}")
        L.append("VmRSS: /proc/PID/status, 1 s after the first SOA answer, of the largest "
                 "process (nsd: the")
        L.append("'nsd: main' child; the PID started becomes xfrd). PSS tree: Pss summed over "
                 "all the server's")
        L.append("processes, so pages that nsd's forked processes share are counted once.")
    if res.get("do"):
        L.append("")
        L.append(f"UDP throughput with DO=1, the same zone signed (NSEC3, ECDSA P-256), "
                 f"1 worker")
        hdr = (f"{'server':<12} {'qps answered':>13} {'range':>13} {'runs':>4} {'loss%':>6} "
               f"{'NXD%':>5} {'TC':>8} {'p50us':>6} {'srv us/q':>8}")
        L.append(hdr)
        L.append("-" * len(hdr))
        for name in SERVERS:
            r = res["do"].get(name)
            if r is None:
                continue
            if "error" in r:
                L.append(f"{name:<12} failed: {r['error']}")
                continue
            nx = 100.0 * r["rcode_nxdomain"] / max(r["answered"], 1)
            rng = f"{r['qps_min'] / 1000:.0f}k-{r['qps_max'] / 1000:.0f}k"
            L.append(f"{name:<12} {fmt_qps(r['qps_median']):>13} {rng:>13} {r['runs_used']:>4} "
                     f"{r['loss_pct']:>6.2f} {nx:>5.1f} {r.get('truncated', 0):>8} "
                     f"{r['latency_p50_us']:>6} {r['srv_us_per_q']:>8.2f}")
    L.extend(manyzones.report_lines(res.get("small")))
    L.extend(catalog.report_lines(res.get("catalog")))
    L.extend(propagation.report_lines(res.get("propagation")))
    L.append("")
    L.append("ratios (understudy / peer): qps > 1 is better, CPU, load time and memory < 1 are "
             "better;")
    L.append("qps and CPU are the median of the per-round ratios (same round, undisturbed)")
    u_ok = "understudy" in SERVERS and res.get("understudy_present")
    peers = [p for p in ("knotd", "nsd") if p in SERVERS]
    hdr = f"{'':<32}" + "".join(f"{'understudy/' + p:>18}" for p in peers)
    L.append(hdr)

    def row(label, get):
        cells = []
        for p in peers:
            try:
                a, b = get("understudy"), get(p)
            except Exception:  # not measured or failed
                a = b = None
            cells.append(f"{ratio(a, b) if u_ok else 'n/a':>18}")
        L.append(f"{label:<32}" + "".join(cells))

    def paired(w, field):
        """Median over the rounds of understudy's run / the peer's run in the same round, left
        out the rounds where either was disturbed: drift of the machine cancels out."""
        def cell(p):
            try:
                ra, rb = res["qps"][f"understudy/{w}"]["runs"], res["qps"][f"{p}/{w}"]["runs"]
            except KeyError:
                return "n/a"
            pairs = [(x, y) for x, y in zip(ra, rb) if x[field] and y[field]]
            clean = [(x, y) for x, y in pairs
                     if x["other_cores"] <= DISTURBED and y["other_cores"] <= DISTURBED]
            use = clean or pairs
            if not use:
                return "n/a"
            return f"{statistics.median(x[field] / y[field] for x, y in use):.2f}"

        return "".join(f"{cell(p) if u_ok else 'n/a':>18}" for p in peers)

    for w in WORKERS:
        L.append(f"{f'UDP qps, {w} worker(s)':<32}" + paired(w, "qps_answered"))
        L.append(f"{f'server CPU/query, {w} worker(s)':<32}" + paired(w, "srv_us_per_q"))
    if res.get("do"):
        def do_paired(field):
            def cell(p):
                try:
                    ra, rb = res["do"]["understudy"]["runs"], res["do"][p]["runs"]
                except KeyError:
                    return "n/a"
                use = [(x, y) for x, y in zip(ra, rb) if x[field] and y[field]]
                if not use:
                    return "n/a"
                return f"{statistics.median(x[field] / y[field] for x, y in use):.2f}"
            return "".join(f"{cell(p) if u_ok else 'n/a':>18}" for p in peers)
        L.append(f"{'UDP qps DO=1 signed, 1 worker':<32}" + do_paired("qps_answered"))
        L.append(f"{'server CPU/query DO=1':<32}" + do_paired("srv_us_per_q"))
    if res.get("load"):
        row(f"load time, {BIG_RECORDS:,} RRs", lambda s: res["load"][s]["load_s"])
        row("VmRSS after load", lambda s: res["load"][s]["rss_kib"])
        row("PSS (process tree)", lambda s: res["load"][s]["pss_kib"])
    for title, value in manyzones.ratio_rows(res.get("small")):
        # knotd is the only peer measured with many zones
        L.append(f"{title:<32}" + "".join(
            f"{(value if p == 'knotd' and u_ok else '-'):>18}" for p in peers))
    for title, value in catalog.ratio_rows(res.get("catalog")) + \
            soacheck.ratio_rows(res.get("soa")):
        L.append(f"{title:<32}" + "".join(
            f"{(value if p == 'knotd' and u_ok else '-'):>18}" for p in peers))
    for label, key, title in propagation.ratio_rows(res.get("propagation")):
        # the backup part has knotd as the only peer
        L.append(f"{title:<32}" + "".join(
            f"{(propagation.ratio(*key) if p == 'knotd' else '-'):>18}" for p in peers))
    if not u_ok:
        L.append(f"(understudy not measured: {res.get('understudy_note', 'not selected')})")
    if meta.get("warnings"):
        L.append("")
        L.extend("WARNING: " + w for w in meta["warnings"])
    return "\n".join(L) + "\n"


# ---- main ------------------------------------------------------------------------------------


def main():
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    atexit.register(stop_all)
    become_subreaper()
    t_begin = time.monotonic()

    for tool in (LOADGEN, REFLECTOR):
        if not os.access(tool, os.X_OK):
            sys.exit(f"bench: {tool} not built (make bench builds it)")
    os.makedirs(OUT, exist_ok=True)
    zone, queries, big = ensure_data()
    with open(queries) as f:
        qlines = [ln for ln in f if ln.strip()]
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": NCPU,
        "cpu_model": next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                           if ln.startswith("model name")), "?"),
        "kernel": platform.release(),
        "zone_records": count_zone(zone),
        "queries": len(qlines),
        "nx_pct": 100.0 * sum(1 for ln in qlines if ln.startswith("nx")) / len(qlines),
        "versions": [],
        "warnings": [],
    }
    c0 = cpu_times()
    time.sleep(1.0)
    c1 = cpu_times()
    meta["idle_load_cores"] = sum(c1[c][0] - c0[c][0] for c in c1) / os.sysconf("SC_CLK_TCK")
    print(f"bench: before start, other processes use {meta['idle_load_cores'] * 100:.0f}% of a "
          f"core", flush=True)
    tmp = tempfile.mkdtemp(prefix="understudy-bench-")
    res = {"qps": {}, "load": {}, "do": {}}
    classes = {"knotd": Knot, "nsd": Nsd, "understudy": Understudy}
    servers = []
    for name in SERVERS:
        if name not in classes:
            sys.exit(f"bench: unknown server {name}")
        s = classes[name](tmp)
        if not s.available():
            note = (f"no binary at UNDERSTUDY={UNDERSTUDY!r}" if name == "understudy"
                    else f"{s.binary} not installed (scripts/setup.sh installs it)")
            print(f"bench: skipping {name}: {note}", flush=True)
            if name == "understudy":
                res["understudy_note"] = note
            continue
        if name == "understudy":
            res["understudy_present"] = True
        meta["versions"].append(s.version() if name != "understudy" else f"understudy "
                                f"({UNDERSTUDY})")
        servers.append(s)

    try:
        # 1+2. UDP throughput. Every configuration is started first and stays up (idle when
        # not measured); the runs go round-robin over them, so that whatever else happens on
        # the machine (or the VM's host) over the minutes of the bench hits all of them alike.
        # The reflector rows are the generator's ceiling in the same CPU layout.
        configs = []  # dicts: key, label, port, proc, threads, gen_cpus, dir
        for w in WORKERS:
            srv_cpus, gen_cpus, threads = layout(w)
            port = free_port()
            p = start([REFLECTOR, "-s", "127.0.0.1", "-p", str(port), "-t", str(w)],
                      os.path.join(tmp, f"reflector-{w}.log"), srv_cpus)
            configs.append({"key": f"reflector/{w}", "port": port, "proc": p, "dir": tmp,
                            "threads": threads, "gen_cpus": gen_cpus, "srv_cpus": srv_cpus})
        for s in servers:
            for w in WORKERS:
                srv_cpus, gen_cpus, threads = layout(w)
                port = free_port()
                argv, d = s.prepare(zone, port, w, f"qps{w}")
                p = start(argv, os.path.join(d, "server.log"), srv_cpus)
                configs.append({"key": f"{s.name}/{w}", "port": port, "proc": p, "dir": d,
                                "threads": threads, "gen_cpus": gen_cpus,
                                "srv_cpus": srv_cpus})
        live = []
        for c in configs:
            try:
                if c["key"].startswith("reflector/"):
                    time.sleep(0.1)
                    if c["proc"].poll() is not None:
                        raise RuntimeError("reflector did not start")
                else:
                    wait_ready(c["proc"], c["port"], LOAD_TIMEOUT)
                print(f"{c['key']}: up on port {c['port']}, CPUs {c['srv_cpus']}; loadgen "
                      f"({c['threads']} thread(s)) on CPUs {c['gen_cpus']}", flush=True)
                if WARMUP > 0:
                    run_loadgen(c["port"], queries, WARMUP, c["threads"], c["gen_cpus"])
                c["runs"] = []
                live.append(c)
            except Exception as e:
                res["qps"][c["key"]] = {"error": str(e)}
                print(f"  {c['key']}: {e}; log in {c['dir']}", flush=True)
                meta["warnings"].append(f"{c['key']}: {e} (log in {c['dir']})")
                stop(c["proc"])
        for i in range(RUNS):
            for c in list(live):
                try:
                    if c["proc"].poll() is not None:
                        raise RuntimeError(f"exited with status {c['proc'].returncode}")
                    c["runs"].append(run_once(c["key"], c["port"], queries, c["threads"],
                                              c["gen_cpus"], c["proc"].pid,
                                              f"round {i + 1}/{RUNS}"))
                except Exception as e:
                    res["qps"][c["key"]] = {"error": str(e)}
                    meta["warnings"].append(f"{c['key']}: {e} (log in {c['dir']})")
                    live.remove(c)
        for c in configs:
            stop(c["proc"])
        for c in live:
            key = c["key"]
            r = res["qps"][key] = summarize(c["runs"])
            if key.startswith("reflector/"):
                continue
            ans = max(r["answered"], 1)
            nx = 100.0 * r["rcode_nxdomain"] / ans
            odd = r["rcode_servfail"] + r["rcode_refused"] + r["rcode_other"]
            if abs(nx - meta["nx_pct"]) > 1.0 or odd > ans / 1000 or r["bad"]:
                meta["warnings"].append(
                    f"{key}: NXDOMAIN {nx:.1f}% (expected {meta['nx_pct']:.1f}%), "
                    f"SERVFAIL {r['rcode_servfail']}, REFUSED {r['rcode_refused']}, "
                    f"other {r['rcode_other']}, bad {r['bad']}")
            if r["loss_pct"] > 1.0:
                meta["warnings"].append(f"{key}: {r['loss_pct']:.2f}% of queries lost")

        # 2b. the same with DO=1 on a signed copy of the zone: RRSIGs and denial proofs
        if DO:
            signed = sign_zone(zone)
            if signed:
                print("DO=1 on the signed zone", flush=True)
                measure_do(servers, signed, queries, tmp, res, meta)
            else:
                meta["warnings"].append("DO=1 run skipped: dnssec-signzone not installed")

        # 3. load time and memory for the big zone, LOAD_RUNS times round-robin
        if BIG_RECORDS:
            loads = {s.name: [] for s in servers}
            for i in range(LOAD_RUNS):
                for s in servers:
                    if s.name in res["load"]:  # failed before
                        continue
                    port = free_port()
                    argv, d = s.prepare(big, port, 1, f"load{i + 1}")
                    t0 = time.monotonic()
                    p = start(argv, os.path.join(d, "server.log"))
                    try:
                        wait_ready(p, port, LOAD_TIMEOUT)
                        load_s = time.monotonic() - t0
                        time.sleep(1.0)  # let post-load work (journals, forks) settle
                        rss, pss = memory(p.pid)
                        loads[s.name].append({"load_s": load_s, "rss_kib": rss, "pss_kib": pss,
                                              "procs": 1 + len(descendants(p.pid))})
                        print(f"  load {i + 1}/{LOAD_RUNS} {s.name}, {BIG_RECORDS:,} records: "
                              f"{load_s:.2f} s, VmRSS {rss / 1024:.0f} MiB, PSS "
                              f"{pss / 1024:.0f} MiB", flush=True)
                    except Exception as e:
                        res["load"][s.name] = {"error": str(e)}
                        meta["warnings"].append(f"{s.name} load: {e} (log {d}/server.log)")
                    finally:
                        stop(p)
            for name, runs in loads.items():
                if name in res["load"] or not runs:
                    continue
                res["load"][name] = {
                    k: statistics.median(r[k] for r in runs)
                    for k in ("load_s", "rss_kib", "pss_kib")}
                res["load"][name]["procs"] = max(r["procs"] for r in runs)
                res["load"][name]["load_min"] = min(r["load_s"] for r in runs)
                res["load"][name]["load_max"] = max(r["load_s"] for r in runs)
                res["load"][name]["runs"] = runs

        # 3b. many small zones: start-up time and memory per zone, knotd and understudy
        if manyzones.COUNTS and "knotd" in SERVERS and "understudy" in SERVERS:
            print("many small zones: start-up and memory", flush=True)
            res["small"] = manyzones.measure(sys.modules[__name__], tmp,
                                             os.path.join(OUT, "data"),
                                             UNDERSTUDY if res.get("understudy_present") else "",
                                             meta["warnings"])

        # 3c. a catalog of 10,000 new members, producer to consumer, knotd and understudy
        if "knotd" in SERVERS and "understudy" in SERVERS:
            print("catalog of new members: producer to consumer", flush=True)
            res["catalog"] = catalog.measure(sys.modules[__name__], tmp,
                                             os.path.join(OUT, "data"),
                                             UNDERSTUDY if res.get("understudy_present") else "",
                                             meta["warnings"])
            # 3d. SOA checks of 10,000 secondary zones at steady state
            print("SOA checks at steady state (bench/soacheck.py)", flush=True)
            res["soa"] = soacheck.measure(sys.modules[__name__], tmp,
                                          UNDERSTUDY if res.get("understudy_present") else "",
                                          meta["warnings"])

        # 5. transfers out: AXFR of the big zone from knotd and understudy; the journal's size
        if "knotd" in SERVERS and "understudy" in SERVERS and os.access(AXFRCLIENT, os.X_OK):
            res["transfer"] = transfer.measure(sys.modules[__name__], tmp,
                                               big if BIG_RECORDS else None, zone, UNDERSTUDY,
                                               AXFRCLIENT, meta["warnings"])
        else:
            res["transfer"] = {}
            print("bench: transfers out need knotd, understudy and axfrclient", flush=True)

        # 6. the defences: RRL's cost, a flood beside a client, the change path flooded, TCP
        print("defences: RRL, floods and TCP (bench/defence.py)", flush=True)
        res["defence"] = defence.measure(sys.modules[__name__], tmp, zone, queries, UNDERSTUDY,
                                         TCPGEN, AXFRCLIENT, meta["warnings"])

        # 7. monitoring: qps with 10,000 watched zones and /metrics scraped every second
        print("monitoring: qps watched and scraped (bench/monitoring.py)", flush=True)
        res["monitoring"] = monitoring.measure(sys.modules[__name__], tmp, zone, queries,
                                               UNDERSTUDY, meta["warnings"])

        # 4. the backup role: propagation of changes from a primary to understudy and to a
        # knotd secondary, on the throughput zone and on the big zone
        if "knotd" in SERVERS and "understudy" in SERVERS:
            print("backup role: propagation from a primary to understudy and knotd", flush=True)
            res["propagation"] = propagation.measure(
                sys.modules[__name__], tmp, zone, big if BIG_RECORDS else None, UNDERSTUDY,
                meta["warnings"])
        else:
            res["propagation"] = {"note": "needs knotd and understudy in BENCH_SERVERS"}
    except SystemExit:  # a signal: clean up quietly
        stop_all()
        if not KEEP:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    except BaseException:
        stop_all()
        print(f"bench: failed; configs and logs kept in {tmp}", file=sys.stderr)
        raise
    finally:
        stop_all()

    for key, r in res["qps"].items():
        if "error" in r:
            continue
        if r["runs_disturbed"]:
            meta["warnings"].append(
                f"{key}: {r['runs_disturbed']} of {RUNS} runs had other processes using more "
                f"than {DISTURBED * 100:.0f}% of a core" + (
                    "; left out of the median" if r["runs_used"] < RUNS else
                    "; too few clean runs, all kept: figures are disturbed"))
    keep = KEEP or any("error" in r for part in ("qps", "load") for r in res[part].values()) or \
        any("error" in r for r in res.get("propagation", {}).values() if isinstance(r, dict))
    text = report(res, meta)
    text += "\n" + soacheck.report(res.get("soa", {}))
    text += "\n" + transfer.report(res.get("transfer", {}))
    text += "\n" + defence.report(res.get("defence", {}))
    text += "\n" + monitoring.report(res.get("monitoring", {}))
    text += f"\n(bench took {time.monotonic() - t_begin:.0f} s; configs and logs in {tmp}" + (
        ")\n" if keep else ", removed)\n")
    sys.stdout.write("\n" + text)
    with open(os.path.join(OUT, "results.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": res}, f, indent=1, sort_keys=True)
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"written to {os.path.join(OUT, 'results.txt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
