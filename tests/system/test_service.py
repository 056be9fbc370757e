# SPDX-License-Identifier: MIT
"""test_service: understudy as a service: the sd_notify messages a service manager reads, the
drop to server.user with no capability left, the control socket's checks of who is asking,
the systemd unit (systemd-analyze verify), the manual pages and make install.

    sd_notify             the daemon gets a NOTIFY_SOCKET of the test's own (a path, and an
                          abstract "@name"); READY=1 comes only once every zone answers (a
                          200k-record zone takes a while to load), RELOADING=1 then READY=1
                          around ctl reload and SIGHUP, STOPPING=1 at SIGTERM, STATUS= lines
    server.user           started as root with user: nobody: /proc/PID/status shows nobody's
                          uid and gid and no capability, the zone answers on the bound port,
                          the storage is nobody's and written to; ctl as root and as nobody
                          works, as another user it is refused by the socket's mode and, with
                          the mode opened, by the daemon (SO_PEERCRED); a user that does not
                          exist, or a start as a user that cannot switch, is refused
    unit                  systemd-analyze verify on the unit as make install writes it, and
                          the hardening it must hold
    man pages             made from docs/ by scripts/md2man.py, read with man -l; every option
                          of docs/configuration.md and every command is on them
    make install          DESTDIR and PREFIX: what lands where; the configuration is the
                          operator's after the first install
"""

import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

import servers
from servers import wait_for

ROOT = Path(__file__).resolve().parents[2]
ZONE = "example.com"


def zone_text(serial, hosts=10):
    lines = ["$TTL 300", f"@ SOA ns1 hostmaster {serial} 3600 600 86400 300", "@ NS ns1",
             "ns1 A 192.0.2.53", f'serial TXT "version {serial}"']
    lines += [f"h{i} A 10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(hosts)]
    return "\n".join(lines) + "\n"


class Service(servers.Understudy):
    """understudy with one primary zone (and optionally a secondary one nobody serves), extra
    server options, and an environment of the test's choosing."""

    def __init__(self, workdir, binary, zone_path, opts=(), env=None, secondary=False):
        super().__init__(workdir, zones=[], binary=binary)
        self.zones = [(ZONE, zone_path)]
        self.opts = list(opts)
        self.env = env
        self.secondary = secondary
        self.dead_port = servers.free_port(["127.0.0.1"])

    def write_config(self):
        opts = "".join(f"  {o}\n" for o in self.opts)
        sec = ""
        if self.secondary:
            sec = f"""  - domain: waiting.test
    role: secondary
    primaries: [nobody-home]
remotes:
  - {{id: nobody-home, address: "127.0.0.1@{self.dead_port}"}}
"""
        self.conf.write_text(f"""server:
  listen: ["127.0.0.1@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/run/ctl.sock"
  udp-workers: 1
{opts}log: {{target: stderr, level: info}}
zones:
  - domain: {ZONE}
    file: "{self.zones[0][1]}"
{sec}""")

    def start(self, timeout=60.0):
        if self.env is None:
            return super().start(timeout)
        # Popen takes the environment from os.environ at the call.
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            return super().start(timeout)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def ctl(self, *args, user=None):
        cmd = [self.binary, "ctl", "-s", str(self.dir / "run" / "ctl.sock"), *args]
        if user:
            cmd = ["runuser", "-u", user, "--"] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout + p.stderr


class NotifyListener:
    """A Unix datagram socket that plays systemd's side of sd_notify."""

    def __init__(self, path=None, abstract=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.sock.bind("\0" + abstract)
            self.address = "@" + abstract
        else:
            self.sock.bind(str(path))
            os.chmod(path, 0o777)
            self.address = str(path)
        self.messages = []  # (monotonic time, {VAR: value})

    def poll(self, timeout=0.0):
        self.sock.settimeout(timeout if timeout > 0 else 0.0001)
        while True:
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, BlockingIOError):
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((time.monotonic(), fields))
            self.sock.settimeout(0.0001)

    def wait(self, var, value=None, after=0, timeout=60):
        """The index of the first message from index `after` on that sets var (to value)."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(after, len(self.messages)):
                f = self.messages[i][1]
                if var in f and (value is None or f[var] == value):
                    return i
            assert time.monotonic() < deadline, f"no {var}={value} in {self.messages}"
            self.poll(0.05)

    def close(self):
        self.sock.close()


def answers(srv, timeout=1.0):
    try:
        r = srv.query(dns.message.make_query(ZONE, "SOA"), timeout=timeout)
        return r.rcode() == dns.rcode.NOERROR and bool(r.answer)
    except Exception:
        return False


def serial(srv):
    r = srv.query(dns.message.make_query(ZONE, "SOA"), timeout=2)
    return r.answer[0][0].serial


def start_unready(srv):
    """Starts the process without waiting for its zones, as systemd would."""
    srv.port = servers.free_port(["127.0.0.1"])
    srv.write_config()
    srv.log_path = srv.dir / "output.0.log"
    env = dict(os.environ)
    env.update(srv.env or {})
    with open(srv.log_path, "wb") as out:
        srv.proc = subprocess.Popen(srv.command(), cwd=srv.dir, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True, preexec_fn=servers._unblock_signals)


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_sd_notify(tmp_path, understudy_binary, kind):
    zpath = tmp_path / "example.com.zone"
    # Large enough that loading it takes a while: READY=1 must wait for it.
    zpath.write_text(zone_text(1, hosts=200000))
    if kind == "path":
        listener = NotifyListener(path=tmp_path / "notify.sock")
    else:
        listener = NotifyListener(abstract=f"understudy-test-{os.getpid()}-{time.monotonic_ns()}")
    srv = Service(tmp_path, understudy_binary, zpath, env={"NOTIFY_SOCKET": listener.address},
                  secondary=True)
    try:
        start_unready(srv)
        # While the zone loads, the port is bound but nothing answers, and no READY=1 comes;
        # once it comes, the zone answers at once, over UDP and TCP.
        unanswered = 0
        while True:
            listener.poll(0.005)
            if any("READY" in f for _, f in listener.messages):
                break
            assert srv.proc.poll() is None, srv.output()
            unanswered += not answers(srv, timeout=0.05)
        ready = listener.wait("READY", "1")
        assert answers(srv, timeout=0.5), "READY=1 came before the zone answers"
        r = srv.query(dns.message.make_query("h199999." + ZONE, "A"), tcp=True, timeout=5)
        assert r.answer[0][0].address == "10.3.13.63"
        # The test shows something only if READY=1 was awaited while the zone loaded.
        assert unanswered >= 1, unanswered
        assert "understudy started" in srv.output()
        status = listener.messages[ready][1]["STATUS"]
        assert status == "serving 1 of 2 zones; 1 waiting for a first transfer", status
        assert "loaded serial 1, 200004 records" in srv.output()

        # ctl reload: RELOADING=1, then READY=1 with the new state.
        zpath.write_text(zone_text(2, hosts=10))
        code, out = srv.ctl("reload")
        assert code == 0, out
        rel = listener.wait("RELOADING", "1", after=ready + 1)
        assert "MONOTONIC_USEC" in listener.messages[rel][1]
        again = listener.wait("READY", "1", after=rel + 1)
        assert serial(srv) == 2
        assert listener.messages[again][1]["STATUS"].startswith("serving 1 of 2 zones")

        # SIGHUP does the same.
        zpath.write_text(zone_text(3, hosts=10))
        os.kill(srv.proc.pid, signal.SIGHUP)
        rel2 = listener.wait("RELOADING", "1", after=again + 1)
        listener.wait("READY", "1", after=rel2 + 1)
        wait_for(lambda: serial(srv) == 3, what="serial 3 after SIGHUP", srv=srv)

        # SIGTERM: STOPPING=1 before the process is gone.
        os.kill(srv.proc.pid, signal.SIGTERM)
        stop = listener.wait("STOPPING", "1", after=rel2 + 1)
        assert srv.proc.wait(20) == 0
        assert listener.messages[stop][1].get("STATUS") == "stopping"
        order = [next(iter(f)) for _, f in listener.messages if set(f) & {"READY", "RELOADING",
                                                                         "STOPPING"}]
        assert [o for o in order] == ["READY", "RELOADING", "READY", "RELOADING", "READY",
                                      "STOPPING"], listener.messages
        srv.proc = None
        srv.check_sanitizers()
    finally:
        if srv.proc is not None:
            srv._kill()
        listener.close()


# --- privileges


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon must be started as root")


@pytest.fixture
def open_dir():
    """A folder every user can walk into (pytest's own are root's alone)."""
    d = Path(tempfile.mkdtemp(prefix="understudy-service-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def proc_status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.split()
    return fields


@needs_root
def test_runs_as_the_configured_user(open_dir, understudy_binary):
    nobody = pwd.getpwnam("nobody")
    zpath = open_dir / "example.com.zone"
    zpath.write_text(zone_text(1))
    srv = Service(open_dir, understudy_binary, zpath, opts=["user: nobody"])
    with srv:
        st = proc_status(srv.proc.pid)
        assert st["Uid"] == [str(nobody.pw_uid)] * 4, st["Uid"]
        assert st["Gid"] == [str(nobody.pw_gid)] * 4, st["Gid"]
        assert st["Groups"] == [str(nobody.pw_gid)], st["Groups"]
        for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            assert int(st[cap][0], 16) == 0, (cap, st[cap])
        assert st["NoNewPrivs"] == ["1"]
        # Every thread, not only the first, runs as nobody.
        for tid in os.listdir(f"/proc/{srv.proc.pid}/task"):
            t = proc_status(f"{srv.proc.pid}/task/{tid}")
            assert t["Uid"] == [str(nobody.pw_uid)] * 4 and int(t["CapEff"][0], 16) == 0
        assert int(st["Threads"][0]) >= 3
        assert f"running as user nobody (uid {nobody.pw_uid}" in srv.output()
        # It answers on the port it bound as root, over UDP and TCP.
        assert serial(srv) == 1
        r = srv.query(dns.message.make_query(ZONE, "SOA"), tcp=True)
        assert r.answer[0][0].serial == 1
        # The storage is nobody's, and the daemon writes to it.
        storage = open_dir / "understudy" / "storage"
        for p in (storage, storage / "data.mdb", storage / "lock.mdb"):
            assert p.stat().st_uid == nobody.pw_uid, p
        before = (storage / "data.mdb").stat().st_mtime_ns
        zpath.write_text(zone_text(2))
        code, out = srv.ctl("reload", ZONE)
        assert code == 0, out
        assert serial(srv) == 2
        code, out = srv.ctl("zone-status", ZONE)
        assert code == 0 and "journal-changes=1" in out, out
        assert (storage / "data.mdb").stat().st_mtime_ns > before
        # The control socket: nobody's, root and nobody may use it.
        sock = open_dir / "understudy" / "run" / "ctl.sock"
        assert sock.stat().st_uid == nobody.pw_uid
        assert stat.S_IMODE(sock.stat().st_mode) & 0o077 == 0
        assert srv.ctl("status")[0] == 0
        assert srv.ctl("status", user="nobody")[0] == 0
        # Another user: the socket's mode keeps it out.
        code, out = srv.ctl("status", user="daemon")
        assert code == 2 and "Permission denied" in out, out
        # With the mode opened, the daemon itself refuses it, and says so.
        os.chmod(sock, 0o777)
        code, out = srv.ctl("status", user="daemon")
        daemon_uid = pwd.getpwnam("daemon").pw_uid
        assert code == 1 and f"refused: uid {daemon_uid} may not control this server" in out, out
        assert f"control: refused a connection from uid {daemon_uid}" in srv.output()
        assert srv.ctl("stop", user="daemon")[0] == 1 and srv.running()
    out = srv.output()
    assert "understudy stopped" in out


@needs_root
def test_a_zone_file_only_root_reads_is_not_loaded(open_dir, understudy_binary):
    zpath = open_dir / "example.com.zone"
    zpath.write_text(zone_text(1))
    os.chmod(zpath, 0o600)
    srv = Service(open_dir, understudy_binary, zpath, opts=["user: nobody"])
    start_unready(srv)
    try:
        wait_for(lambda: "not loaded from" in srv.output(), what="the failed load", srv=srv)
        assert "permission denied" in srv.output().lower()
        assert not answers(srv, 0.3)
    finally:
        srv._kill()


@needs_root
@pytest.mark.parametrize("case", ["no-such-user", "not-root"])
def test_refuses_to_run_as_someone_else(open_dir, understudy_binary, case):
    zpath = open_dir / "example.com.zone"
    zpath.write_text(zone_text(1))
    user = "no-such-user-here" if case == "no-such-user" else "nobody"
    srv = Service(open_dir, understudy_binary, zpath, opts=[f"user: {user}"])
    srv.port = servers.free_port(["127.0.0.1"])
    srv.write_config()
    os.chmod(srv.dir, 0o777)
    cmd = srv.command()
    if case == "not-root":
        # Another unprivileged user cannot become nobody: the daemon must not go on as itself.
        cmd = ["runuser", "-u", "daemon", "--"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=srv.dir)
    assert p.returncode == 1, p.stderr
    if case == "no-such-user":
        assert 'server.user: no such user "no-such-user-here"' in p.stderr, p.stderr
    else:
        # The first thing only root could do fails, and the daemon stops there.
        assert re.search(r"error: .*(cannot hand it to user nobody|cannot switch to user "
                         r"nobody|only root can change that)", p.stderr), p.stderr
    assert "understudy started" not in p.stderr


# --- the unit, the manual pages, make install


def make_pages(outdir):
    """The manual pages as make builds them, into outdir/man5 and outdir/man8."""
    pages = {}
    for src, name, sec, summary in (
            ("docs/configuration.md", "understudy.yaml", "5", "configuration file"),
            ("docs/understudy.md", "understudy", "8", "authoritative DNS server")):
        d = outdir / f"man{sec}"
        d.mkdir(parents=True, exist_ok=True)
        p = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts" / "md2man.py"), "--name",
                            name, "--section", sec, "--summary", summary, str(ROOT / src)],
                           capture_output=True, text=True, check=True)
        page = d / f"{name}.{sec}"
        page.write_text(p.stdout)
        pages[name] = page
    return pages


def render(page):
    p = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True,
                       env={**os.environ, "MANWIDTH": "100", "MAN_KEEP_FORMATTING": "0"},
                       check=True)
    assert not p.stderr.strip(), p.stderr
    return re.sub(r".\x08", "", p.stdout)


def test_man_pages_hold_what_the_docs_say(tmp_path):
    pages = make_pages(tmp_path)
    text5 = render(pages["understudy.yaml"])
    md = (ROOT / "docs" / "configuration.md").read_text()
    options = set(re.findall(r"^\| `([a-z][a-z0-9-]*)` \|", md, flags=re.M))
    assert {"listen", "storage", "user", "journal-max-size", "secret", "deny"} <= options
    # Each option starts a tagged paragraph of its own.
    missing = [o for o in sorted(options) if not re.search(rf"^\s+{re.escape(o)}\b", text5,
                                                          flags=re.M)]
    assert not missing, missing
    for section in ("SERVER", "LOG", "KEYS", "REMOTES", "ACLS", "ZONES", "ERROR MESSAGES"):
        assert re.search(rf"^{section}$", text5, flags=re.M), section
    text8 = render(pages["understudy"])
    for cmd in ("serve", "ctl", "check-conf", "check-zone", "import-conf", "version"):
        assert f"understudy {cmd}" in text8, cmd
    for ctl in ("status", "zone-status", "reload", "refresh", "retransfer", "notify", "sync",
                "stop"):
        assert re.search(rf"^\s+. {ctl}\b", text8, flags=re.M), ctl
    assert "NOTIFY_SOCKET" in text8 and "SO_PEERCRED" in text5


def unit_text(sbindir):
    return (ROOT / "etc" / "understudy.service.in").read_text().replace("@SBINDIR@",
                                                                         str(sbindir))


def test_unit_holds_the_hardening():
    text = unit_text("/usr/sbin")
    want = ["Type=notify", "ExecStart=/usr/sbin/understudy serve -c "
            "/etc/understudy/understudy.yaml", "ExecReload=/usr/sbin/understudy ctl -c "
            "/etc/understudy/understudy.yaml reload", "User=understudy", "Group=understudy",
            "AmbientCapabilities=CAP_NET_BIND_SERVICE",
            "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "NoNewPrivileges=yes",
            "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
            "StateDirectory=understudy", "RuntimeDirectory=understudy",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
            "SystemCallFilter=@system-service", "WantedBy=multi-user.target"]
    lines = text.splitlines()
    missing = [w for w in want if w not in lines]
    assert not missing, missing
    # The paths the unit gives the daemon are the configuration's defaults.
    conf = (ROOT / "etc" / "understudy.yaml").read_text()
    assert '"/var/lib/understudy"' in conf and '"/run/understudy/ctl.sock"' in conf


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify(tmp_path, understudy_binary):
    unit = tmp_path / "understudy.service"
    unit.write_text(unit_text(Path(understudy_binary).resolve().parent))
    make_pages(tmp_path / "man")
    # verify also runs `man` for Documentation=: it must find both pages.
    p = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                       text=True, env={**os.environ, "MANPATH": str(tmp_path / "man")})
    assert p.returncode == 0, p.stdout + p.stderr
    assert "understudy.service" not in p.stderr, p.stderr
    # Without the pages it complains: the check above is one that can fail.
    p = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                       text=True, env={**os.environ, "MANPATH": str(tmp_path / "nothing")})
    assert "man understudy(8)" in p.stderr


def test_make_install(tmp_path, understudy_binary):
    dest = tmp_path / "dest"
    build = Path(understudy_binary).resolve().parent
    args = ["make", "-s", "-C", str(ROOT), f"B={build}", f"DESTDIR={dest}", "PREFIX=/usr",
            "install"]
    subprocess.run(args, check=True, capture_output=True, timeout=300)
    landed = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if not p.is_dir())
    print("\n".join(landed))
    assert landed == ["etc/understudy/example.com.zone", "etc/understudy/understudy.yaml",
                      "usr/lib/systemd/system/understudy.service",
                      "usr/sbin/understudy",
                      "usr/share/doc/understudy/examples/understudy-alerts.yml",
                      "usr/share/man/man5/understudy.yaml.5",
                      "usr/share/man/man8/understudy.8"], landed
    assert (dest / "var/lib/understudy").is_dir()
    assert stat.S_IMODE((dest / "var/lib/understudy").stat().st_mode) == 0o750
    assert os.access(dest / "usr/sbin/understudy", os.X_OK)
    unit = (dest / "usr/lib/systemd/system/understudy.service").read_text()
    assert "ExecStart=/usr/sbin/understudy serve" in unit and "@SBINDIR@" not in unit
    # The installed binary says the package's version.
    out = subprocess.run([str(dest / "usr/sbin/understudy"), "version"], capture_output=True,
                         text=True, check=True).stdout
    changelog = (ROOT / "debian" / "changelog").read_text().splitlines()[0]
    version = re.match(r"understudy \(([^)]+)\)", changelog).group(1)
    assert out == f"understudy {version}\n"
    # The example configuration passes check-conf as installed.
    p = subprocess.run([understudy_binary, "check-conf", "-c",
                        str(dest / "etc/understudy/understudy.yaml")], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    # An operator's edited configuration survives the next install.
    conf = dest / "etc/understudy/understudy.yaml"
    conf.write_text(conf.read_text() + "# mine\n")
    subprocess.run(args, check=True, capture_output=True, timeout=300)
    assert conf.read_text().endswith("# mine\n")
