# SPDX-License-Identifier: MIT
"""places: a test network of several places, each a network namespace, with delay and loss.

    with Places(delays={(0, 1): 50, (0, 2): 150, (1, 2): 100}, loss_permille=20) as net:
        srv = net.server(Understudy(...), place=0)    # runs inside place 0, on net.addr(0)
        with net.inside(1):
            sock = socket.socket(...)               # a socket of place 1
        net.partition([0], [1, 2]); ...; net.heal()

Each place is a namespace with one veth into a hub namespace holding a bridge, so every place
reaches every other at 10.77.0.(i+1). This kernel has no sch_netem, so the links are slowed in
userspace: in every place an iptables rule sends the packets for each other place to an NFQUEUE
read by bench/nfqdelay ($NFQDELAY), which holds each packet for that pair's one-way delay and
drops the given share at random. A packet crosses one delayer (the sender's), so a round trip
between two places is twice their delay. A partition is iptables DROP rules on the INPUT of
both sides (so senders meet silence, not an error), removed to heal. Names carry the pid and a counter, so runs do not meet;
close() stops the delayers by PID and deletes the namespaces (their links go with them).

Needs root, `ip`, `iptables` and nfqdelay; available() says why not otherwise.
"""

import ctypes
import itertools
import os
import shutil
import signal
import subprocess
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
SUBNET = "10.77.0"
_libc = ctypes.CDLL(None, use_errno=True)
_ids = itertools.count()


def nfqdelay_binary():
    path = os.environ.get("NFQDELAY")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build", "bench", "nfqdelay")
    return os.path.abspath(path)


def available():
    """None when places can be made here, else why not (for pytest.skip)."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("ip", "iptables"):
        if not shutil.which(tool):
            return f"{tool} is not installed (scripts/setup.sh installs it)"
    if not os.access(nfqdelay_binary(), os.X_OK):
        return f"{nfqdelay_binary()} is not built (make bench-tools)"
    return None


def _run(*args):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


class Places:
    """n places (default: as many as the delays name) joined through a hub; see the module doc.

    delays: {(i, j): one-way ms} for i < j, the same both ways; loss_permille: the share of
    packets each delayer drops (20 = 2 %), the same on every link."""

    def __init__(self, delays, loss_permille=0, n=None, seed=None):
        self.delays = {tuple(sorted(k)): v for k, v in delays.items()}
        self.n = n or 1 + max(max(k) for k in self.delays)
        self.loss = loss_permille
        self.seed = seed if seed is not None else os.getpid()
        tag = f"us{os.getpid()}x{next(_ids)}"
        self.hub = f"{tag}hub"
        self.names = [f"{tag}p{i}" for i in range(self.n)]
        self.delayers = []  # Popen of every nfqdelay
        self.cut = []       # (place, rule args) of the DROP rules of a partition
        self._made = []

    # --- lifecycle
    def __enter__(self):
        try:
            self.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def create(self):
        _run("ip", "netns", "add", self.hub)
        self._made.append(self.hub)
        _run("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", self.hub, "link", "set", "br0", "up")
        for i, ns in enumerate(self.names):
            _run("ip", "netns", "add", ns)
            self._made.append(ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "link", "add", "eth0", "netns", ns, "type", "veth",
                 "peer", "name", f"p{i}", "netns", self.hub)
            _run("ip", "-n", self.hub, "link", "set", f"p{i}", "master", "br0", "up")
            _run("ip", "-n", ns, "addr", "add", f"{self.addr(i)}/24", "dev", "eth0")
            _run("ip", "-n", ns, "link", "set", "eth0", "up")
        for i in range(self.n):
            for j in range(self.n):
                if i != j:
                    self._slow(i, j)

    def _slow(self, i, j):
        delay = self.delays.get(tuple(sorted((i, j))), 0)
        queue = 100 + 10 * i + j
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.names[i], nfqdelay_binary(), "-q", str(queue),
             "-d", str(delay), "-l", str(self.loss), "-s", str(self.seed + queue)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        self.delayers.append(p)
        line = p.stdout.readline()  # nfqdelay says "ready" once its queue is bound
        if line.strip() != b"ready":
            raise RuntimeError(f"nfqdelay {i}->{j} did not start: {p.stderr.read()!r}")
        self.iptables(i, "-A", "OUTPUT", "-d", self.addr(j), "-j", "NFQUEUE",
                      "--queue-num", str(queue))

    def close(self):
        for p in self.delayers:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait()
            p.stdout.close()
            p.stderr.close()
        self.delayers = []
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self._made = []

    # --- addressing and use
    def addr(self, i):
        return f"{SUBNET}.{i + 1}"

    def rtt_ms(self, i, j):
        return 2 * self.delays.get(tuple(sorted((i, j))), 0)

    def iptables(self, i, *args):
        _run("ip", "netns", "exec", self.names[i], "iptables", "-w", *args)

    def exec_prefix(self, i):
        """The argv prefix that runs a command inside place i."""
        return ["ip", "netns", "exec", self.names[i]]

    @contextmanager
    def inside(self, i):
        """Runs the body with this thread in place i's network namespace: sockets made in it
        stay in place i. Back in the namespace it came from afterwards, whatever happens."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.names[i]}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into " + self.names[i])
            try:
                yield
            finally:
                if _libc.setns(own, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(target)
            os.close(own)

    def partition(self, side_a, side_b):
        """Drops every packet between the places of side_a and those of side_b, both ways."""
        for a in side_a:
            for b in side_b:
                for x, y in ((a, b), (b, a)):
                    # Dropped where they arrive, so the sender sees silence as across a
                    # real partition, not the EPERM of a local OUTPUT rule.
                    rule = ("INPUT", "-s", self.addr(y), "-j", "DROP")
                    self.iptables(x, "-I", *rule)
                    self.cut.append((x, rule))

    def heal(self):
        for x, rule in self.cut:
            self.iptables(x, "-D", *rule)
        self.cut = []


def run_inside(places, i, server):
    """Makes a servers.Server run in place i: its command is prefixed, it listens on the
    place's address at a fixed port (the namespace is ours, so the port is free), and its
    queries (readiness, tests) are sent from inside the place."""
    server.addrs = [places.addr(i)]
    server.addr = places.addr(i)
    server.fixed_port = 5300
    server.place = i
    cmd, query = server.command, server.query

    def command():
        return places.exec_prefix(i) + cmd()

    def query_inside(*a, **kw):
        with places.inside(i):
            return query(*a, **kw)

    server.command = command
    server.query = query_inside
    return server
