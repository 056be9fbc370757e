# SPDX-License-Identifier: MIT
"""test_package (make check-slow): the Debian package, built from the tree with Debian's own
tools, checked with lintian and dpkg-deb, installed into a fresh Debian 12 made by debootstrap,
and run there.

    build      dpkg-buildpackage -us -uc -b on a copy of the tree (it writes into ..), which
               leaves the tree as it was; the .deb's version is the changelog's
    contents   dpkg-deb: the binary, the unit, the example configuration (conffiles), both
               manual pages, the maintainer scripts; lintian: no finding but those triaged in
               LINTIAN_ALLOWED, each with its reason
    install    apt-get install of the .deb into a debootstrap --variant=minbase root: the
               system user, /var/lib/understudy for it with mode 0750, the configuration
               readable by its group only, the unit neither enabled nor started
    run        the installed binary: version, check-conf on the installed configuration, the
               daemon started as root with it (on a free port) answers, runs as the user with
               no capability, and takes ctl; purge removes the state and keeps the user

Takes minutes: debootstrap fetches a base system from Debian's archive (its default mirror).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import dns.message
import dns.query
import pytest

ROOT = Path(__file__).resolve().parents[2]

# lintian's findings that are decisions, not mistakes.
LINTIAN_ALLOWED = {
    # The unit is the way to run the service on Debian 12; a sysvinit script would be a
    # second, untested way (the daemon runs in the foreground and needs no wrapper to).
    "package-supports-alternative-init-but-no-init.d-script",
}

for tool in ("dpkg-buildpackage", "lintian", "debootstrap", "dpkg-deb"):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (scripts/setup.sh installs it)",
                    allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("debootstrap and chroot need root", allow_module_level=True)


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    p = subprocess.run(cmd, **kw)
    assert p.returncode == 0, f"{cmd}: exit {p.returncode}\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    return p


def version():
    first = (ROOT / "debian" / "changelog").read_text().splitlines()[0]
    return re.match(r"understudy \(([^)]+)\)", first).group(1)


def tree_state():
    if not (ROOT / ".git").exists():
        return None
    return subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--ignored"],
                          capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def work():
    d = Path(tempfile.mkdtemp(prefix="understudy-package-"))
    yield d
    for m in ("proc",):
        subprocess.run(["umount", "-l", str(d / "root" / m)], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def deb(work):
    before = tree_state()
    src = work / "src"
    src.mkdir()
    # dpkg-buildpackage writes its results into the parent folder: build from a copy.
    files = subprocess.run(["tar", "-C", str(ROOT), "--exclude=./build", "--exclude=./.git",
                            "-cf", "-", "."], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-C", str(src), "-xf", "-"], input=files, check=True)
    t0 = time.monotonic()
    p = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src)
    print(f"dpkg-buildpackage: {time.monotonic() - t0:.0f} s")
    assert "PASSED" in p.stdout + p.stderr  # the unit tests ran in dh_auto_test
    assert tree_state() == before, "the build changed the source tree"
    debs = sorted(work.glob("understudy_*.deb"))
    assert [d.name for d in debs] == [f"understudy_{version()}_amd64.deb"], debs
    return debs[0]


def test_contents(deb):
    listing = run(["dpkg-deb", "-c", str(deb)]).stdout
    for path in ("./usr/sbin/understudy", "./lib/systemd/system/understudy.service",
                 "./etc/understudy/understudy.yaml", "./etc/understudy/example.com.zone",
                 "./usr/share/man/man8/understudy.8.gz",
                 "./usr/share/man/man5/understudy.yaml.5.gz",
                 "./usr/share/doc/understudy/copyright",
                 "./usr/share/doc/understudy/examples/understudy-alerts.yml"):
        assert re.search(rf" {re.escape(path)}$", listing, flags=re.M), (path, listing)
    info = run(["dpkg-deb", "-I", str(deb)]).stdout
    assert f"Version: {version()}" in info and "Package: understudy" in info
    assert "adduser" in info
    ctrl = deb.parent / "control"
    run(["dpkg-deb", "-e", str(deb), str(ctrl)])
    assert (ctrl / "conffiles").read_text().split() == ["/etc/understudy/example.com.zone",
                                                         "/etc/understudy/understudy.yaml"]
    postinst = (ctrl / "postinst").read_text()
    assert "adduser --system" in postinst
    # dh_installsystemd --no-enable --no-start: nothing enables or starts it on install.
    assert "deb-systemd-helper enable" not in postinst.split("was-enabled")[0]
    assert "deb-systemd-invoke start" not in postinst
    assert "deb-systemd-invoke stop" in (ctrl / "prerm").read_text()


def test_lintian(deb):
    changes = next(deb.parent.glob("understudy_*.changes"))
    p = subprocess.run(["lintian", "--pedantic", "--display-info", str(changes)],
                       capture_output=True, text=True)
    findings = [l for l in p.stdout.splitlines() if re.match(r"^[EWIPX]: ", l)]
    print("\n".join(findings) or "lintian: no findings")
    tags = {l.split()[2] for l in findings}
    assert tags <= LINTIAN_ALLOWED, findings


@pytest.fixture(scope="module")
def chroot(work, deb):
    root = work / "root"
    t0 = time.monotonic()
    run(["debootstrap", "--variant=minbase", "bookworm", str(root)], timeout=1800)
    print(f"debootstrap: {time.monotonic() - t0:.0f} s")
    # No service starts inside the root, whatever a maintainer script tries.
    (root / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")
    os.chmod(root / "usr/sbin/policy-rc.d", 0o755)
    shutil.copy(deb, root / "tmp" / deb.name)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
           "LC_ALL": "C"}
    t0 = time.monotonic()
    run(["chroot", str(root), "apt-get", "update", "-q"], env=env, timeout=900)
    run(["chroot", str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends",
         f"/tmp/{deb.name}"], env=env, timeout=1800)
    print(f"apt-get install in the root: {time.monotonic() - t0:.0f} s")
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    return root, env


def test_installed(chroot):
    root, env = chroot
    c = ["chroot", str(root)]
    out = run(c + ["understudy", "version"], env=env).stdout
    assert out == f"understudy {version()}\n"
    assert run(c + ["dpkg-query", "-W", "-f=${Version}", "understudy"], env=env).stdout == \
        version()
    user = run(c + ["getent", "passwd", "understudy"], env=env).stdout.strip().split(":")
    assert int(user[2]) < 1000 and user[6] in ("/usr/sbin/nologin", "/bin/false"), user
    group = run(c + ["getent", "group", "understudy"], env=env).stdout.split(":")
    state = os.stat(root / "var/lib/understudy")
    assert (state.st_uid, state.st_gid, state.st_mode & 0o777) == (int(user[2]), int(group[2]),
                                                                    0o750)
    conf = os.stat(root / "etc/understudy/understudy.yaml")
    assert (conf.st_uid, conf.st_gid, conf.st_mode & 0o777) == (0, int(group[2]), 0o640)
    assert (root / "lib/systemd/system/understudy.service").exists()
    # Not enabled, not started.
    wants = root / "etc/systemd/system/multi-user.target.wants/understudy.service"
    assert not wants.exists() and not os.path.lexists(wants)
    assert not (root / "run/understudy/ctl.sock").exists()
    # The manual pages read with man.
    for page in ("usr/share/man/man8/understudy.8.gz", "usr/share/man/man5/understudy.yaml.5.gz"):
        text = run(["man", "-l", str(root / page)], env={**os.environ, "MANWIDTH": "80"}).stdout
        assert "understudy" in text and len(text) > 2000
    out = run(c + ["understudy", "check-conf"], env=env).stdout
    assert out == "/etc/understudy/understudy.yaml: ok, 1 zones\n"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        return u.getsockname()[1]


def test_runs_as_its_user(chroot):
    root, env = chroot
    conf = (root / "etc/understudy/understudy.yaml").read_text()
    port = free_port()
    # The packaged configuration, on a free port of 127.0.0.1 rather than 5300.
    test_conf = root / "tmp/understudy.yaml"
    test_conf.write_text(conf.replace('["127.0.0.1@5300", "::1@5300"]', f'["127.0.0.1@{port}"]'))
    assert f"127.0.0.1@{port}" in test_conf.read_text()
    log = open(root / "tmp/understudy.log", "wb")
    proc = subprocess.Popen(["chroot", str(root), "/usr/sbin/understudy", "serve", "-c",
                             "/tmp/understudy.yaml"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = dns.query.udp(dns.message.make_query("example.com", "SOA"), "127.0.0.1",
                                  port=port, timeout=0.3)
                break
            except Exception:
                assert proc.poll() is None, (root / "tmp/understudy.log").read_text()
                assert time.monotonic() < deadline, (root / "tmp/understudy.log").read_text()
        assert r.answer and r.answer[0][0].serial == 2026112401
        uid = run(["chroot", str(root), "id", "-u", "understudy"], env=env).stdout.strip()
        # The daemon is the child of chroot(8), which execs it: the same PID.
        status = Path(f"/proc/{proc.pid}/status").read_text()
        assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", status, flags=re.M), status
        assert re.search(r"^CapEff:\s+0+$", status, flags=re.M), status
        out = run(["chroot", str(root), "understudy", "ctl", "-c", "/tmp/understudy.yaml",
                   "zone-status"], env=env).stdout
        assert "example.com role=primary serial=2026112401" in out, out
        assert os.stat(root / "var/lib/understudy/data.mdb").st_uid == int(uid)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0
        log.close()
    text = (root / "tmp/understudy.log").read_text()
    print(text)
    assert "running as user understudy" in text and "understudy stopped" in text


def test_purge(chroot):
    root, env = chroot
    run(["chroot", str(root), "apt-get", "purge", "-y", "-q", "understudy"], env=env,
        timeout=600)
    assert not (root / "var/lib/understudy").exists()
    assert not (root / "etc/understudy/understudy.yaml").exists()
    assert not (root / "usr/sbin/understudy").exists()
    # The system user stays (Debian's policy: files it owned may remain elsewhere).
    run(["chroot", str(root), "getent", "passwd", "understudy"], env=env)
