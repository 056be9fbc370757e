# SPDX-License-Identifier: MIT
"""test_manyzones: a primary with more zones than one batch of the first snapshots it stores at
start (1000 zones per transaction): every zone answers, every zone's first version is stored
(zone-status shows its journal) and survives kill -9, and a zone file changed while the server
was down becomes a journal entry at the next start, in either batch."""

import os
import signal

import dns.message
import dns.rdatatype

import servers
from servers import wait_for

N = 1200  # two batches


def zone_text(i, serial):
    return (f"$TTL 3600\n@ SOA ns1 hostmaster {serial} 3600 900 1209600 300\n@ NS ns1\n"
            f"@ NS ns2\nns1 A 10.2.{i >> 8 & 255}.{i & 255}\nns2 A 10.3.0.1\n"
            f"www TXT \"zone {i} serial {serial}\"\n")


def soa_serial(srv, origin):
    r = srv.query(dns.message.make_query(origin, "SOA"))
    return r.answer[0][0].serial if r.answer else None


def status(srv, origin):
    code, out = srv.ctl("zone-status", origin)
    assert code == 0, out
    return out


def test_many_zones_are_stored_at_start(tmp_path, understudy_binary):
    zdir = tmp_path / "src"
    zdir.mkdir()
    zones = []
    for i in range(N):
        path = zdir / f"z{i}.many.test.zone"
        path.write_text(zone_text(i, 1))
        zones.append((f"z{i}.many.test", path))
    srv = servers.Understudy(tmp_path, zones=zones, binary=understudy_binary)
    with srv:  # start() waits until every zone answers its SOA
        def all_stored():
            code, out = srv.ctl("zone-status")
            return code == 0 and out.count(" journal-from=1") == N

        wait_for(all_stored, timeout=60, what="every zone's first version stored", srv=srv)
        # kill -9: what was committed must be there at the next start.
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait()
        srv.proc = None
        srv.close_sockets()
        changed = (zones[3][0], zones[N - 2][0])  # one in each batch
        for i in (3, N - 2):
            srv.zones[i][1].write_text(zone_text(i, 2))
        srv.start()
        for origin in changed:
            assert soa_serial(srv, origin) == 2
            # Compared with the stored serial 1 at start: the change is journaled.
            wait_for(lambda: "journal-changes=1 " in status(srv, origin), timeout=30,
                     what=f"{origin}: the change 1 -> 2 in its journal", srv=srv)
            assert "journal-from=1" in status(srv, origin)
        wait_for(lambda: f"zone {changed[1]}: serial 1 -> 2" in srv.output(), timeout=10,
                 what="the change logged", srv=srv)
        out = status(srv, zones[N - 1][0])
        assert "journal-changes=0 " in out and "journal-from=1" in out, out
        assert "cannot store" not in srv.output()
