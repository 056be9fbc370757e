# SPDX-License-Identifier: MIT
"""servers: start understudy and its peers (knotd, nsd, named) on loopback for system tests.

Every class writes its own configuration into a directory it is given, takes free ports
from the OS, starts the server in the foreground, waits until every zone answers an SOA
query (polling, never a fixed sleep), and stops the process by its PID with SIGTERM.

    with Knotd(tmp_path, zones=ZONES) as k:
        r = k.query(dns.message.make_query("example.com", "SOA"))
        wire = k.exchange(b"...raw bytes...", tcp=True)   # None if no answer

stop() fails (ServerError) when the process does not exit cleanly on SIGTERM or when
its output holds a sanitizer report.
"""

import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

HERE = Path(__file__).resolve().parent
ZONES_DIR = HERE / "zones"

# (origin, file name in zones/). Every zone here loads in understudy, knotd, nsd and named.
ZONES = [
    ("example.com", "example.com.zone"),
    ("parent.test", "parent.test.zone"),
    ("child.parent.test", "child.parent.test.zone"),
    ("orphan.test", "orphan.test.zone"),
]

SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
)

IDENTITY = "us1"


class ServerError(Exception):
    pass


def wait_for(cond, timeout=20.0, what="condition", srv=None):
    """Polls cond() until it holds; on timeout fails, with srv's latest output if given."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)  # poll interval, not a wait for an event
    tail = f"\n--- {srv.name} output:\n" + srv.output()[-4000:] if srv is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{tail}")


_ipv6 = None


def have_ipv6():
    """True when ::1 can be bound (some sandboxes have no IPv6 loopback)."""
    global _ipv6
    if _ipv6 is None:
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
                s.bind(("::1", 0))
            _ipv6 = True
        except OSError:
            _ipv6 = False
    return _ipv6


def loopback_addrs():
    return ["127.0.0.1", "::1"] if have_ipv6() else ["127.0.0.1"]


def free_port(addrs=None, tries=50):
    """A port number free for UDP and TCP on every address in addrs (default: loopbacks).

    The OS picks the port (bind to port 0); the same number is then checked on the other
    protocol and address. The sockets are closed before returning, so a server started
    afterwards can take it; callers retry with a new port if that races (see Server.start).
    """
    addrs = addrs or loopback_addrs()
    for _ in range(tries):
        socks = []
        try:
            fam0 = socket.AF_INET6 if ":" in addrs[0] else socket.AF_INET
            s = socket.socket(fam0, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind((addrs[0], 0))
            port = s.getsockname()[1]
            for addr in addrs:
                fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    if addr == addrs[0] and kind == socket.SOCK_DGRAM:
                        continue
                    t = socket.socket(fam, kind)
                    socks.append(t)
                    if kind == socket.SOCK_STREAM:
                        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    t.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise ServerError("no free port found")


def zone_files(names=None):
    """[(origin, absolute path)] of the committed test zones (all, or those named)."""
    return [(o, ZONES_DIR / f) for o, f in ZONES if names is None or o in names]


class Server:
    """Base class: subclasses set `name` and implement write_config() and command()."""

    name = "server"
    exit_codes = (0,)

    def __init__(self, workdir, zones=None, identity=IDENTITY):
        self.dir = Path(workdir) / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.identity = identity
        self.addrs = loopback_addrs()
        self.addr = self.addrs[0]
        self.port = None
        self.proc = None
        self.log_path = None
        self.env = None  # environment of the process (None: ours), e.g. for LD_PRELOAD
        self._udp = None
        self._tcp = None
        # Each server gets its own copy of the zone files so none can rewrite ours.
        self.zones = []
        zdir = self.dir / "zones"
        zdir.mkdir(exist_ok=True)
        for origin, path in zones if zones is not None else zone_files():
            dst = zdir / Path(path).name
            shutil.copyfile(path, dst)
            self.zones.append((origin, dst))

    # --- subclass interface
    def write_config(self):
        raise NotImplementedError

    def command(self):
        raise NotImplementedError

    # --- lifecycle
    def start(self, timeout=30.0):
        last = None
        for attempt in range(3):
            # A port set beforehand (self.fixed_port) lets two servers name each other.
            self.port = getattr(self, "fixed_port", None) or free_port(self.addrs)
            self.write_config()
            self.log_path = self.dir / f"output.{attempt}.log"
            out = open(self.log_path, "wb")
            try:
                self.proc = subprocess.Popen(
                    self.command(),
                    cwd=self.dir,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=self.env,
                    # A signal mask inherited from the runner would make SIGTERM unstoppable.
                    preexec_fn=_unblock_signals,
                )
            finally:
                out.close()
            try:
                self.wait_ready(timeout)
                return self
            except ServerError as e:
                last = e
                self._kill()
                # A port taken between free_port() and bind() is worth another try.
                if "in use" not in self.output().lower():
                    break
        raise last

    def wait_ready(self, timeout=30.0):
        """Polls an SOA query for every zone (UDP, then one over TCP) until all answer."""
        deadline = time.monotonic() + timeout
        pending = [o for o, _ in self.zones]
        tcp_done = False
        while True:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with {self.proc.returncode} while starting:\n"
                    + self.output()[-3000:]
                )
            for origin in list(pending):
                if self._soa_ok(origin, tcp=False):
                    pending.remove(origin)
            if not pending and not tcp_done:
                tcp_done = self._soa_ok(self.zones[0][0], tcp=True) if self.zones else True
            if not pending and tcp_done:
                return
            if time.monotonic() > deadline:
                raise ServerError(
                    f"{self.name} not ready after {timeout}s (waiting for {pending}):\n"
                    + self.output()[-3000:]
                )
            time.sleep(0.05)  # poll interval, not a wait for an event

    def _soa_ok(self, origin, tcp):
        q = dns.message.make_query(origin, "SOA")
        try:
            r = self.query(q, tcp=tcp, timeout=0.3)
        except (OSError, dns.exception.DNSException):
            self.close_sockets()
            return False
        return r.rcode() == dns.rcode.NOERROR and any(
            rr.rdtype == dns.rdatatype.SOA for rr in r.answer
        )

    def output(self):
        """Everything the server printed (stdout and stderr) so far."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0):
        """SIGTERM to the PID; fails on a hang, an unexpected exit code or sanitizer output."""
        self.close_sockets()
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                raise ServerError(f"{self.name} (pid {proc.pid}) did not stop on SIGTERM")
        self.check_sanitizers()
        if proc.returncode not in self.exit_codes:
            raise ServerError(
                f"{self.name} exited with {proc.returncode}:\n" + self.output()[-3000:]
            )

    def check_sanitizers(self):
        text = self.output()
        for pat in SANITIZER_PATTERNS:
            i = text.find(pat)
            if i >= 0:
                raise ServerError(f"{self.name}: sanitizer report:\n" + text[max(0, i - 200):][:4000])

    def _kill(self):
        self.close_sockets()
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            try:
                self.stop()
            except ServerError:
                pass  # the body's exception is the one to report
        return False

    # --- queries
    def query(self, msg, tcp=False, timeout=2.0, addr=None):
        """Sends a dnspython message, returns the parsed response (raises on timeout)."""
        where = addr or self.addr
        if tcp:
            return dns.query.tcp(msg, where, timeout=timeout, port=self.port)
        return dns.query.udp(msg, where, timeout=timeout, port=self.port, ignore_unexpected=True)

    def close_sockets(self):
        for s in (self._udp, self._tcp):
            if s is not None:
                s.close()
        self._udp = self._tcp = None

    def exchange(self, wire, tcp=False, timeout=1.0):
        """Sends raw bytes, returns the raw response or None when none came in time.

        Reuses one UDP socket and one TCP connection (reopened if the server closed it).
        Over UDP a reply is matched to the query by its ID (first two bytes).
        """
        if tcp:
            return self._exchange_tcp(wire, timeout)
        return self._exchange_udp(wire, timeout)

    def _family(self):
        return socket.AF_INET6 if ":" in self.addr else socket.AF_INET

    def _exchange_udp(self, wire, timeout):
        if self._udp is None:
            self._udp = socket.socket(self._family(), socket.SOCK_DGRAM)
            self._udp.connect((self.addr, self.port))
            self._udp.setblocking(False)
        s = self._udp
        # Drop late replies to earlier queries.
        while True:
            try:
                s.recv(65535)
            except (BlockingIOError, ConnectionRefusedError):
                break
        s.send(wire)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([s], [], [], left)
            if not r:
                return None
            try:
                data = s.recv(65535)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            if len(wire) < 2 or data[:2] == wire[:2]:
                return data

    def _exchange_tcp(self, wire, timeout, retry=True):
        fresh = self._tcp is None
        if fresh:
            self._tcp = socket.create_connection((self.addr, self.port), timeout=timeout)
            self._tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = self._tcp
        s.settimeout(timeout)
        try:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            hdr = _recv_exact(s, 2)
            if hdr is None:
                raise ConnectionResetError("closed")
            data = _recv_exact(s, struct.unpack("!H", hdr)[0])
            if data is None:
                raise ConnectionResetError("closed mid-message")
            return data
        except socket.timeout:
            self.close_sockets()
            return None
        except OSError:
            self.close_sockets()
            if retry and not fresh:
                return self._exchange_tcp(wire, timeout, retry=False)
            return None

    def exchange_many(self, wires, tcp=False, timeout=1.0):
        """Raw responses (or None) to messages that may get no answer at all: malformed
        queries, where silence is a valid outcome.

        UDP: each message goes out on its own socket at once and the replies are collected
        within one shared deadline. TCP: one fresh connection per message, in turn (many
        simultaneous connects overflow a server's listen backlog and stall in SYN
        retransmits); a connection closed or reset without a reply is None.
        """
        if tcp:
            return [self.exchange_oneshot_tcp(w, timeout) for w in wires]
        fam = self._family()
        socks = []
        for w in wires:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.connect((self.addr, self.port))
            try:
                s.send(w)
            except OSError:
                pass
            s.setblocking(False)
            socks.append(s)
        out = [None] * len(wires)
        pending = set(range(len(wires)))
        deadline = time.monotonic() + timeout
        try:
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                r, _, _ = select.select([socks[i] for i in pending], [], [], left)
                for s in r:
                    i = socks.index(s)
                    try:
                        out[i] = s.recv(65535)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        pass
                    pending.discard(i)
        finally:
            for s in socks:
                s.close()
        return out

    def exchange_oneshot_tcp(self, wire, timeout=1.0):
        """One message on a new TCP connection; the reply, or None on close or timeout."""
        try:
            s = socket.create_connection((self.addr, self.port), timeout=timeout)
        except OSError:
            return None
        try:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            hdr = _recv_exact(s, 2)
            if hdr is None:
                return None
            return _recv_exact(s, struct.unpack("!H", hdr)[0])
        except OSError:  # reset, timeout
            return None
        finally:
            s.close()


def _unblock_signals():
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _listen_list(addrs, port):
    return ", ".join(f'"{a}@{port}"' for a in addrs)


class Understudy(Server):
    """understudy serve -c CONF.yaml; the binary comes from $UNDERSTUDY."""

    name = "understudy"

    def __init__(self, workdir, zones=None, binary=None, identity=IDENTITY, server_opts=()):
        super().__init__(workdir, zones, identity)
        self.server_opts = list(server_opts)  # extra "key: value" lines under server:
        self.binary = binary or os.environ.get("UNDERSTUDY")
        if not self.binary:
            raise ServerError("UNDERSTUDY is not set")
        self.conf = self.dir / "understudy.yaml"

    @staticmethod
    def find_binary():
        """The understudy binary from $UNDERSTUDY, or (None, reason) when unusable."""
        path = os.environ.get("UNDERSTUDY")
        if not path:
            return None, "UNDERSTUDY is not set"
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return None, f"UNDERSTUDY={path} is not an executable file"
        return path, None

    def write_config(self):
        lines = [
            "server:",
            f"  listen: [{_listen_list(self.addrs, self.port)}]",
            f'  storage: "{self.dir}/storage"',
            f'  control: "{self.dir}/ctl.sock"',
            f'  identity: "{self.identity}"',
            f'  nsid: "{self.identity}"',
            "  udp-workers: 2",
            "  watch-ns: false",
            *[f"  {o}" for o in self.server_opts],
            "log: {target: stderr, level: info}",
            "zones:",
        ]
        for origin, path in self.zones:
            lines += [f"  - domain: {origin}", "    role: primary", f'    file: "{path}"']
        self.conf.write_text("\n".join(lines) + "\n")

    def command(self):
        return [self.binary, "serve", "-c", str(self.conf)]

    def ctl(self, *args):
        """Runs `understudy ctl` against this server: (exit code, stdout + stderr)."""
        p = subprocess.run([self.binary, "ctl", "-s", str(self.dir / "ctl.sock"), *args],
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout + p.stderr


class Knotd(Server):
    """knotd -c knot.conf, everything (rundir, storage, journal) under the work dir."""

    name = "knotd"

    def __init__(self, workdir, zones=None, identity=IDENTITY, binary="knotd", modules="",
                 global_modules=(), udp_workers=1):
        super().__init__(workdir, zones, identity)
        self.binary = binary
        self.conf = self.dir / "knot.conf"
        # Module sections (e.g. "mod-rrl:\n  - id: default\n    rate-limit: 50\n") and the
        # ids the default template loads, in order ("mod-cookies/default", ...).
        self.modules = modules
        self.global_modules = list(global_modules)
        self.udp_workers = udp_workers

    def write_config(self):
        (self.dir / "run").mkdir(exist_ok=True)
        (self.dir / "storage").mkdir(exist_ok=True)
        zones = "".join(f'  - domain: "{o}"\n    file: "{p}"\n' for o, p in self.zones)
        gm = (f"    global-module: [{', '.join(self.global_modules)}]\n"
              if self.global_modules else "")
        self.conf.write_text(
            f"""server:
    rundir: "{self.dir}/run"
    listen: [ {_listen_list(self.addrs, self.port)} ]
    identity: "{self.identity}"
    nsid: "{self.identity}"
    udp-workers: {self.udp_workers}
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{self.dir}/storage"
control:
    listen: "{self.dir}/run/knot.sock"
log:
  - target: stderr
    any: info
{self.modules}template:
  - id: default
    storage: "{self.dir}/storage"
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
{gm}zone:
{zones}"""
        )

    def command(self):
        return [self.binary, "-c", str(self.conf)]


class Nsd(Server):
    """nsd -d -c nsd.conf, with no database, no chroot, no user switch and no RRL."""

    name = "nsd"

    def __init__(self, workdir, zones=None, identity=IDENTITY, binary="nsd"):
        super().__init__(workdir, zones, identity)
        self.binary = binary
        self.conf = self.dir / "nsd.conf"

    def write_config(self):
        ips = "".join(f"    ip-address: {a}@{self.port}\n" for a in self.addrs)
        zones = "".join(f'zone:\n    name: "{o}"\n    zonefile: "{p}"\n' for o, p in self.zones)
        self.conf.write_text(
            f"""server:
{ips}    port: {self.port}
    do-ip6: {"yes" if have_ipv6() else "no"}
    username: ""
    chroot: ""
    database: ""
    zonesdir: "{self.dir}"
    pidfile: "{self.dir}/nsd.pid"
    xfrdfile: "{self.dir}/xfrd.state"
    zonelistfile: "{self.dir}/zone.list"
    xfrdir: "{self.dir}"
    identity: "{self.identity}"
    nsid: "ascii_{self.identity}"
    hide-version: no
    server-count: 1
    verbosity: 1
    # NSD is built with RRL on; a test sends thousands of queries from one address.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
{zones}"""
        )

    def command(self):
        return [self.binary, "-d", "-c", str(self.conf)]


class Named(Server):
    """named -g -c named.conf: authoritative only, no NOTIFY, no control channel."""

    name = "named"

    def __init__(self, workdir, zones=None, identity=IDENTITY, binary="named", options=()):
        super().__init__(workdir, zones, identity)
        self.binary = binary
        self.conf = self.dir / "named.conf"
        self.options = list(options)  # extra statements for the options block

    def write_config(self):
        v6 = f"listen-on-v6 port {self.port} {{ ::1; }};" if have_ipv6() else "listen-on-v6 { none; };"
        zones = "".join(f'zone "{o}" {{ type primary; file "{p}"; }};\n' for o, p in self.zones)
        extra = "".join(f"    {o}\n" for o in self.options)
        self.conf.write_text(
            f"""options {{
    directory "{self.dir}";
    pid-file "{self.dir}/named.pid";
    session-keyfile "{self.dir}/session.key";
    managed-keys-directory "{self.dir}";
    dump-file "{self.dir}/named_dump.db";
    statistics-file "{self.dir}/named.stats";
    listen-on port {self.port} {{ 127.0.0.1; }};
    {v6}
    recursion no;
    allow-query {{ any; }};
    notify no;
    dnssec-validation no;
    automatic-interface-scan no;
    server-id "{self.identity}";
    hostname "{self.identity}";
    version "{self.identity}";
    # The test zones hold odd names and cross-zone data on purpose.
    check-names primary ignore;
    check-names secondary ignore;
    check-names response ignore;
    check-integrity no;
    check-mx ignore;
    check-mx-cname ignore;
    check-srv-cname ignore;
    check-wildcard no;
    check-sibling no;
    check-dup-records ignore;
{extra}}};
controls {{ }};
{zones}"""
        )

    def command(self):
        return [self.binary, "-g", "-c", str(self.conf)]
