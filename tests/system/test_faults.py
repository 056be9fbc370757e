# SPDX-License-Identifier: MIT
"""test_faults: a full disk, storage that cannot be opened, a truncated journal, clock jumps.

Each case looks at what an operator sees: the answers, `ctl zone-status`, the log, the exit
code, and the files after recovery.

- Full disk: the storage is a small tmpfs (mounted by the test; skipped when it cannot mount).
  With the disk full, a new version is refused (the old one keeps serving, the error is in
  the log and zone-status), and once space is freed the next change goes through and is what a
  restart serves: nothing on disk was torn.
- Storage that cannot be opened: a file where the directory should be stops a secondary with a
  clear message (it has nowhere to keep its copy) and lets a primary serve without journals;
  a data.mdb that is not LMDB at all is set aside and the server starts afresh.
- A truncated journal (data.mdb cut short by another process): at start it is set aside and
  the zones come back (a primary from its file, a secondary by a new transfer); while running,
  the first read of a missing page stops the server with a message instead of a core dump, and
  the restart recovers.
- Clock jumps (libfaketime, the system clock stepped while the server runs): two days forward
  expires nothing, and after a jump back the refresh timers still fire.
"""

import errno
import os
import re
import shutil
import subprocess
import time

import dns.message
import dns.rcode
import pytest

import servers
from fakeprimary import FakePrimary
from servers import wait_for
from test_secondary_faults import KEY, SECRET, Secondary, serial, version

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def big_version(n, count=3000):
    """A version of serial n with many records, so storing it needs new pages on disk."""
    return version(n) + [(f"t{i}", 300, "TXT", f'"{n:06d}-{i:06d}-' + "x" * 80 + '"')
                         for i in range(count)]


def zone_status(srv):
    code, out = srv.ctl("zone-status", "example.com")
    assert code == 0, out
    return out


def fill(path):
    """Fills the filesystem holding path; returns the filler's name."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb") as f:
        chunk = b"\0" * 65536
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    return filler


@pytest.fixture
def tmpfs(tmp_path):
    """A 8 MiB tmpfs at tmp_path/mnt, unmounted at the end; skips when mounting is refused."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {p.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


class StoragePrimary(servers.Understudy):
    """understudy serving example.com as a primary, its storage wherever the test says."""

    def __init__(self, workdir, binary, storage, zone_text):
        super().__init__(workdir, zones=[], binary=binary)
        self.storage = storage
        self.zone_file = self.dir / "example.com.zone"
        self.zone_file.write_text(zone_text)
        self.zones = [("example.com", self.zone_file)]

    def write_config(self):
        self.conf.write_text(f"""server:
  listen: ["127.0.0.1@{self.port}"]
  storage: "{self.storage}"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
log: {{target: stderr, level: info}}
zones:
  - {{domain: example.com, role: primary, file: "{self.zone_file}"}}
""")


def zone_text(n, records=0):
    lines = ["$TTL 300", f"@ SOA ns1 hostmaster {n} 3600 600 86400 60", "@ NS ns1",
             "ns1 A 192.0.2.53", f'txt TXT "serial {n}"']
    lines += [f't{i} TXT "{n:06d}-{i:06d}-{"x" * 80}"' for i in range(records)]
    return "\n".join(lines) + "\n"


def test_full_disk_primary(tmp_path, tmpfs, understudy_binary):
    us = StoragePrimary(tmp_path, understudy_binary, tmpfs / "storage", zone_text(1))
    with us:
        assert serial(us) == 1
        filler = fill(str(tmpfs))
        us.zone_file.write_text(zone_text(2, records=3000))
        code, out = us.ctl("reload", "example.com")
        assert code == 1 and "cannot store serial 2" in out, out
        assert serial(us) == 1  # the old version keeps serving
        st = zone_status(us)
        assert "serial=1 " in st and 'last-error="cannot store serial 2' in st, st
        assert re.search(r"cannot store serial 2: .*No space left on device", us.output())
        # The whole reload stores the changed files in one batch: refused the same way.
        code, out = us.ctl("reload")
        assert code == 1 and "example.com: reload failed: cannot store serial 2" in out, out
        assert serial(us) == 1
        os.unlink(filler)
        code, out = us.ctl("reload", "example.com")
        assert code == 0 and "serial 2" in out, out
        assert serial(us) == 2
        assert "last-error" not in zone_status(us)
    # What is on disk is whole: a restart finds serial 2 stored (no "changed while we were
    # stopped" warning, no unusable copy).
    with us:
        assert serial(us) == 2
        assert "unusable" not in us.output() and "damaged" not in us.output()


def test_full_disk_secondary(tmp_path, tmpfs, understudy_binary):
    fp = FakePrimary(key=KEY)
    fp.publish(1, version(1))
    with fp.start():
        sec = Secondary(tmp_path / "sec", understudy_binary,
                        [("pri", [f"127.0.0.1@{fp.port}"], "xfr-key")], keys=[("xfr-key", SECRET)])
        storage = tmpfs / "storage"
        sec.write_config_orig = sec.write_config

        def write_config():
            sec.write_config_orig()
            sec.conf.write_text(sec.conf.read_text().replace(f'{sec.dir}/storage', str(storage)))

        sec.write_config = write_config
        with sec:
            filler = fill(str(tmpfs))
            fp.publish(2, big_version(2))
            mark = len(sec.output())
            sec.notify(key=KEY)
            wait_for(lambda: "cannot store serial 2" in sec.output()[mark:], 20,
                     "the store to fail", sec)
            assert serial(sec) == 1
            st = zone_status(sec)
            assert "serial=1 " in st and 'last-error="cannot store serial 2' in st, st
            os.unlink(filler)
            code, out = sec.ctl("refresh", "example.com")
            assert code == 0, out
            wait_for(lambda: serial(sec) == 2, 20, "serial 2 after space was freed", sec)
            wait_for(lambda: "last-error" not in zone_status(sec), 5, "the error to clear", sec)
    # The primary is gone: what the restart serves is what was stored, serial 2, whole.
    sec.expect = 2
    with sec:
        assert serial(sec) == 2
        r = sec.query(dns.message.make_query("t2999.example.com", "TXT"))
        assert r.rcode() == dns.rcode.NOERROR and r.answer


def test_storage_cannot_be_opened(tmp_path, understudy_binary):
    # A secondary has nowhere to keep its copy: it does not start, and says why.
    fp = FakePrimary(key=KEY)
    fp.publish(1, version(1))
    with fp.start():
        sec = Secondary(tmp_path / "sec", understudy_binary,
                        [("pri", [f"127.0.0.1@{fp.port}"], "xfr-key")], keys=[("xfr-key", SECRET)])
        (sec.dir / "storage").write_text("not a directory\n")
        sec.port = servers.free_port()
        sec.write_config()
        p = subprocess.run([understudy_binary, "serve", "-c", str(sec.conf)], capture_output=True,
                           text=True, timeout=20)
        assert p.returncode == 1, p
        assert "cannot open the storage in" in p.stderr and "Not a directory" in p.stderr
    # A primary serves its file without a journal, and says so.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory\n")
    us = StoragePrimary(tmp_path / "pri", understudy_binary, blocked, zone_text(1))
    with us:
        assert serial(us) == 1
        assert "served without journals" in us.output()
    # Not LMDB at all: set aside, started afresh, and the zone's journal works again.
    storage = tmp_path / "garbage"
    storage.mkdir()
    (storage / "data.mdb").write_bytes(os.urandom(50000))
    us = StoragePrimary(tmp_path / "pri2", understudy_binary, storage, zone_text(1))
    with us:
        assert serial(us) == 1
        assert "is damaged" in us.output()
        us.zone_file.write_text(zone_text(2))
        assert us.ctl("reload", "example.com")[0] == 0
        wait_for(lambda: "journal-changes=1" in zone_status(us), 5, "a journal entry", us)
    kept = list(storage.glob("damaged-*/data.mdb"))
    assert len(kept) == 1 and kept[0].stat().st_size == 50000


def test_journal_truncated(tmp_path, understudy_binary):
    storage = tmp_path / "storage"
    us = StoragePrimary(tmp_path / "pri", understudy_binary, storage, zone_text(1))
    with us:
        for n in (2, 3):
            us.zone_file.write_text(zone_text(n, records=200))
            assert us.ctl("reload", "example.com")[0] == 0
        assert "journal-changes=" in zone_status(us)
    size = (storage / "data.mdb").stat().st_size
    os.truncate(storage / "data.mdb", 3 * 4096)
    # At start: set aside, the zone served from its file, a fresh journal.
    with us:
        assert serial(us) == 3
        assert re.search(r"storage .* is damaged \(data\.mdb holds 12288 bytes, its last "
                         r"commit needs \d+: truncated\)", us.output())
        us.zone_file.write_text(zone_text(4))
        assert us.ctl("reload", "example.com")[0] == 0
        wait_for(lambda: "journal-changes=1 " in zone_status(us), 5, "the new journal", us)
    kept = list(storage.glob("damaged-*/data.mdb"))
    assert len(kept) == 1 and kept[0].stat().st_size == 3 * 4096 < size

    # While running: truncated under our feet. The next read of it stops the server with a
    # message (not a core dump), and the restart recovers.
    us.exit_codes = (0, 75)
    us.start()
    os.truncate(storage / "data.mdb", 4096)
    code, out = us.ctl("zone-status", "example.com")
    wait_for(lambda: not us.running(), 10, "the server to stop", us)
    assert us.proc.returncode == 75
    assert "storage truncated by another process?" in us.output()
    us.stop()
    with us:
        assert serial(us) == 4
        assert "is damaged" in us.output()
        assert "last-error" not in zone_status(us)


@pytest.mark.skipif(not os.path.exists(FAKETIME_LIB), reason="libfaketime is not installed")
def test_clock_jumps(tmp_path, understudy_binary):
    """The system clock stepped under a running secondary: nothing expires, timers fire."""
    stamp = tmp_path / "faketime"
    stamp.write_text("+0\n")
    # Unsigned: a TSIG signature would (rightly) fail between clocks two days apart.
    fp = FakePrimary(key=None, soa=(2, 1, 3600, 60))
    fp.publish(1, version(1))
    with fp.start():
        sec = Secondary(tmp_path / "sec", understudy_binary,
                        [("pri", [f"127.0.0.1@{fp.port}"], None)], zone={"refresh-max-interval": 2})
        sec.env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME_TIMESTAMP_FILE=str(stamp),
                       FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1",
                       ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                       ":verify_asan_link_order=0")
        with sec:
            def checks():
                return len(re.findall(r"has serial \d+, up to date", sec.output()))

            wait_for(lambda: checks() >= 1, 10, "a first refresh", sec)
            # Forward two days: far past the expire interval (an hour).
            stamp.write_text("+2d\n")
            n = checks()
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                assert serial(sec) == 1, "answers stopped after the clock jumped forward"
                time.sleep(0.05)  # poll interval
            assert "EXPIRED" not in sec.output()
            assert checks() >= n + 2, "refreshes stopped after the clock jumped forward"
            assert "expired" not in zone_status(sec).lower()
            # Back four days: the refresh timer keeps firing; a new serial is found by it.
            stamp.write_text("-2d\n")
            n = checks()
            wait_for(lambda: checks() >= n + 2, 10, "refreshes after the clock jumped back", sec)
            fp.publish(2, version(2))
            wait_for(lambda: serial(sec) == 2, 10, "serial 2 found by the refresh timer", sec)
            assert "EXPIRED" not in sec.output()
