# SPDX-License-Identifier: MIT
"""manyzones.py: many small zones, understudy side by side with knotd (part of `make bench`).

For each count in BENCH_SMALL_ZONES (default 10000; add 100000 for a hosting company's load),
N primary zones of 11 records each (SOA, two NS with their glue, apex A, AAAA, MX and TXT, a
mail host, a CNAME) are generated once into $BENCH_OUT/data/small-N/, and knotd and understudy
each start on all of them: one UDP worker, one TCP worker (knotd: one background worker, as
in the rest of the bench), fresh storage, log level warning. Measured, BENCH_SMALL_RUNS times
round-robin (median):

  ready s    from starting the process until every zone answers its SOA authoritatively: the
             last zone of the configuration is polled every 5 ms, and the time is that of
             its first answer; then every zone is asked (again until it answers), and if
             any did not answer at the first try, the time is that of the last answer
  settled s  until the server's CPU time stops growing (less than 2% of a core over 0.5 s):
             what it does after serving, such as understudy storing each zone's first
             snapshot, is done
  VmRSS      of the server once settled, and VmHWM (its peak), in MiB; per zone: VmRSS / N
  storage    bytes on disk in the server's storage directory once settled

Run alone (after `make all`; knotd must be installed):
    UNDERSTUDY=build/understudy /usr/bin/python3 bench/manyzones.py [N ...]
"""

import os
import select
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import time


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


COUNTS = [int(n) for n in os.environ.get("BENCH_SMALL_ZONES", "10000").split()]
RUNS = max(1, env_int("BENCH_SMALL_RUNS", 3))
TIMEOUT = env_int("BENCH_SMALL_TIMEOUT", 600)
SUFFIX = "small.test"
VERSION = 1  # bump when the zones change, to regenerate them


def zone_name(i):
    return f"z{i}.{SUFFIX}"


def zone_text(i):
    o = zone_name(i)
    a, b = (i >> 8) & 255, i & 255
    return (f"$ORIGIN {o}.\n$TTL 3600\n"
            f"@\tSOA\tns1 hostmaster 2024010101 3600 900 1209600 300\n"
            f"@\tNS\tns1\n"
            f"@\tNS\tns2\n"
            f"@\tA\t10.1.{a}.{b}\n"
            f"@\tAAAA\t2001:db8:1::{i & 0xffff:x}\n"
            f"@\tMX\t10 mail\n"
            f"@\tTXT\t\"v=spf1 mx -all\"\n"
            f"ns1\tA\t10.2.{a}.{b}\n"
            f"ns2\tA\t10.3.{a}.{b}\n"
            f"mail\tA\t10.4.{a}.{b}\n"
            f"www\tCNAME\t@\n")


def ensure_zones(data, n):
    """The directory of n zone files, made once; its stamp file says they are complete."""
    d = os.path.join(data, f"small-{n}")
    stamp = os.path.join(d, "complete")
    try:
        with open(stamp) as f:
            if f.read().strip() == str(VERSION):
                return d
    except OSError:
        pass
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i in range(1, n + 1):
        with open(os.path.join(d, f"{zone_name(i)}.zone"), "w") as f:
            f.write(zone_text(i))
    with open(stamp, "w") as f:
        f.write(f"{VERSION}\n")
    return d


def knot_conf(d, port, zones, n):
    for sub in ("run", "db", "storage"):
        os.makedirs(os.path.join(d, sub))
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
template:
  - id: default
    storage: "{d}/storage"
    file: "{zones}/%s.zone"
zone:
""")
        f.write("".join(f"  - domain: {zone_name(i)}\n" for i in range(1, n + 1)))
    return ["knotd", "-c", conf], [os.path.join(d, "db"), os.path.join(d, "storage")]


def understudy_conf(binary, d, port, zones, n):
    os.makedirs(os.path.join(d, "storage"))
    conf = os.path.join(d, "understudy.yaml")
    with open(conf, "w") as f:
        f.write(f"""server:
  listen: ["127.0.0.1@{port}"]
  storage: "{d}/storage"
  control: "{d}/ctl.sock"
  udp-workers: 1
  watch-ns: false
  tcp-workers: 1
log: {{target: stderr, level: warning}}
zones:
""")
        f.write("".join(f"  - {{domain: {zone_name(i)}, role: primary, "
                        f"file: \"{zones}/{zone_name(i)}.zone\"}}\n" for i in range(1, n + 1)))
    return [os.path.abspath(binary), "serve", "-c", conf], [os.path.join(d, "storage")]


def soa_query(qid, name):
    return struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + wire_name(name) + struct.pack(">HH", 6, 1)


def wire_name(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def good_answer(data, qid):
    if len(data) < 12:
        return False
    rid, flags, _, an = struct.unpack(">HHHH", data[:8])
    return rid == qid and flags & 0x8000 and (flags & 0x000F) == 0 and an >= 1 and \
        flags & 0x0400


def answered(s, port, qid, name):
    """Sends one SOA query and reads for 5 ms: late answers to earlier ones are skipped."""
    try:
        s.sendto(soa_query(qid, name), ("127.0.0.1", port))
        s.settimeout(0.005)
        while True:
            data = s.recv(4096)
            if len(data) >= 2 and struct.unpack(">H", data[:2])[0] == qid:
                return good_answer(data, qid)
    except (socket.timeout, ConnectionRefusedError, BlockingIOError):
        return False


def sweep(port, n, deadline):
    """Asks every zone for its SOA, again until each answers; returns when all have, with the
    number of zones that did not answer the first time."""
    todo = list(range(1, n + 1))
    late = None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        while todo:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(todo)} zones still not answering")
            missing = []
            window = {}  # qid -> zone index
            pos = 0
            while pos < len(todo) or window:
                while pos < len(todo) and len(window) < 128:
                    qid = pos & 0xFFFF
                    if qid in window:
                        break
                    window[qid] = todo[pos]
                    try:
                        s.send(soa_query(qid, zone_name(todo[pos])))
                    except (BlockingIOError, ConnectionRefusedError):
                        pass
                    pos += 1
                r, _, _ = select.select([s], [], [], 0.2)
                if not r:
                    missing.extend(window.values())  # lost: ask again next round
                    window.clear()
                    continue
                while True:
                    try:
                        data = s.recv(4096)
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    if len(data) < 2:
                        continue
                    qid = struct.unpack(">H", data[:2])[0]
                    i = window.pop(qid, None)
                    if i is not None and not good_answer(data, qid):
                        missing.append(i)
            todo = missing
            late = len(missing) if late is None else late
            if todo:
                time.sleep(0.005)
    return late or 0


def wait_settled(rt, pid, deadline):
    """Waits until the process tree uses less than 2% of a core over half a second."""
    prev = rt.tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        cur = rt.tree_cpu_seconds(pid)
        if cur - prev < 0.01:
            return
        prev = cur
    raise RuntimeError("still busy at the timeout")


def peak_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def du(paths):
    total = 0
    for p in paths:
        for root, _, files in os.walk(p):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    pass
    return total


def one_start(rt, name, binary, tmp, zones, n, tag):
    """One start; a port taken meanwhile by another process is tried again with another."""
    for attempt in range(3):
        try:
            return start_once(rt, name, binary, tmp, zones, n, f"{tag}-{attempt}")
        except PortTaken:
            continue
    raise RuntimeError("no free port found")


class PortTaken(Exception):
    pass


def start_once(rt, name, binary, tmp, zones, n, tag):
    d = os.path.join(tmp, f"small-{name}-{n}-{tag}")
    os.makedirs(d)
    port = rt.free_port()
    argv, storage = (knot_conf(d, port, zones, n) if name == "knotd" else
                     understudy_conf(binary, d, port, zones, n))
    t0 = time.monotonic()
    p = rt.start(argv, os.path.join(d, "server.log"))
    try:
        deadline = t0 + TIMEOUT
        qid = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            last = zone_name(n)
            while True:
                if p.poll() is not None:
                    with open(os.path.join(d, "server.log"), errors="replace") as f:
                        if "in use" in f.read():
                            raise PortTaken()
                    raise RuntimeError(f"exited with status {p.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{last} not answering after {TIMEOUT} s")
                qid = (qid + 1) & 0xFFFF
                if answered(s, port, qid, last):
                    break
        # The time the last zone answered stands when every other zone answered the sweep
        # that follows at the first try; otherwise the end of the sweep does.
        ready = time.monotonic() - t0
        if sweep(port, n, deadline):
            ready = time.monotonic() - t0
        wait_settled(rt, p.pid, deadline)
        settled = time.monotonic() - t0
        rss, _ = rt.memory(p.pid)
        r = {"ready_s": ready, "settled_s": settled, "rss_kib": rss, "hwm_kib": peak_kib(p.pid),
             "storage_bytes": du(storage)}
        shutil.rmtree(d, ignore_errors=True)  # the storage of 100,000 zones is large
        return r
    finally:
        rt.stop(p)


def measure(rt, tmp, data, binary, warnings):
    """{N: {server: {median figures, runs}}} for every count in COUNTS."""
    res = {}
    names = ["knotd"] if shutil.which("knotd") else []
    if binary and os.access(binary, os.X_OK):
        names.append("understudy")
    for n in COUNTS:
        zones = ensure_zones(data, n)
        runs = {name: [] for name in names}
        failed = {}
        for i in range(RUNS):
            for name in names:
                if name in failed:
                    continue
                try:
                    r = one_start(rt, name, binary, tmp, zones, n, f"run{i + 1}")
                    runs[name].append(r)
                    print(f"  {n:,} small zones, {i + 1}/{RUNS} {name}: ready {r['ready_s']:.2f} s,"
                          f" settled {r['settled_s']:.2f} s, VmRSS {r['rss_kib'] / 1024:.0f} MiB"
                          f" (peak {r['hwm_kib'] / 1024:.0f}), storage "
                          f"{r['storage_bytes'] / 1e6:.1f} MB", flush=True)
                except Exception as e:
                    failed[name] = str(e)
                    warnings.append(f"{name} with {n} small zones: {e} (log in {tmp})")
        res[n] = {}
        for name in names:
            if name in failed:
                res[n][name] = {"error": failed[name]}
                continue
            rs = runs[name]
            med = {k: statistics.median(r[k] for r in rs)
                   for k in ("ready_s", "settled_s", "rss_kib", "hwm_kib", "storage_bytes")}
            med["ready_min"] = min(r["ready_s"] for r in rs)
            med["ready_max"] = max(r["ready_s"] for r in rs)
            med["runs"] = rs
            res[n][name] = med
    return res


def report_lines(res):
    if not res:
        return []
    L = ["", f"many small zones, 11 records each (1 UDP worker, fresh storage; median of {RUNS} "
         "starts)"]
    hdr = (f"{'zones':>7} {'server':<11} {'ready s':>8} {'range':>11} {'settled s':>9} "
           f"{'VmRSS MiB':>9} {'peak MiB':>8} {'B/zone':>7} {'storage MB':>10}")
    L.append(hdr)
    L.append("-" * len(hdr))
    for n, per in sorted(res.items()):
        for name, r in per.items():
            if "error" in r:
                L.append(f"{n:>7} {name:<11} failed: {r['error']}")
                continue
            L.append(f"{n:>7} {name:<11} {r['ready_s']:>8.2f} "
                     f"{r['ready_min']:>5.2f}-{r['ready_max']:<5.2f} {r['settled_s']:>9.2f} "
                     f"{r['rss_kib'] / 1024:>9.1f} {r['hwm_kib'] / 1024:>8.1f} "
                     f"{r['rss_kib'] * 1024 / n:>7.0f} {r['storage_bytes'] / 1e6:>10.1f}")
    L.append("ready: start until every zone answers its SOA; settled: until the server goes idle "
             "(first")
    L.append("snapshots stored); VmRSS and storage once settled; B/zone = VmRSS / zones.")
    return L


def ratio_rows(res):
    """(title, understudy figure / knotd figure) rows for the ratio table."""
    rows = []
    for n, per in sorted((res or {}).items()):
        u, k = per.get("understudy"), per.get("knotd")
        ok = u and k and "error" not in u and "error" not in k
        for label, key in (("ready", "ready_s"), ("settled", "settled_s"), ("VmRSS", "rss_kib")):
            rows.append((f"{n:,} small zones, {label}",
                         f"{u[key] / k[key]:.2f}" if ok and k[key] else "n/a"))
    return rows


def main():
    import run as rt

    global COUNTS
    if len(sys.argv) > 1:
        COUNTS = [int(a) for a in sys.argv[1:]]
    binary = os.environ.get("UNDERSTUDY", "")
    out = os.path.abspath(os.environ.get("BENCH_OUT") or os.path.join(rt.ROOT, "build", "bench"))
    data = os.path.join(out, "data")
    os.makedirs(data, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="understudy-small-")
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
    if not warnings:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
