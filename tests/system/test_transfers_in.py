# SPDX-License-Identifier: MIT
"""test_transfers_in: many secondary zones do not make a herd of refreshes. A start with 300
secondary zones and no stored copies wants 300 SOA checks at once; `transfers-in` bounds the
jobs under way in total and `transfers-in-per-primary` those whose first choice is one primary.
Two slow primaries, each the primary of half the zones (every SOA answer 250 ms late, REFUSED
so that no transfer follows), count how many queries they hold at once: never more than the limits, and still every zone is asked
within a few rounds, while the server answers ctl at once."""

import socket
import threading
import time

import dns.message
import dns.rcode

import servers
from servers import wait_for

ZONES = 300
TOTAL, PER_PRIMARY = 6, 4
DELAY = 0.25


class SlowPrimary:
    """Answers every query REFUSED after DELAY, over UDP (an SOA check) and TCP (the AXFR of a
    zone with no copy yet), and counts how many it holds at once."""

    def __init__(self):
        for _ in range(50):  # a port free for both UDP and TCP
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.sock.close()
                self.tcp.close()
        self.tcp.listen(512)
        self.lock = threading.Lock()
        self.pending = {}  # (peer, id) -> zone
        self.most = 0
        self.asked = set()
        self.stopped = False
        threading.Thread(target=self._loop, daemon=True).start()
        threading.Thread(target=self._accept, daemon=True).start()

    def _hold(self, key, zone):
        with self.lock:
            self.pending[key] = zone
            self.asked.add(zone)
            self.most = max(self.most, len(self.pending))

    def _accept(self):
        while not self.stopped:
            try:
                c, peer = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_one, args=(c, peer), daemon=True).start()

    def _tcp_one(self, c, peer):
        with c:
            c.settimeout(5)
            try:
                head = c.recv(2, socket.MSG_WAITALL)
                wire = c.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL)
                q = dns.message.from_wire(wire)
            except Exception:
                return
            key = (peer, q.id)
            self._hold(key, q.question[0].name.to_text())
            time.sleep(DELAY)
            r = dns.message.make_response(q)
            r.set_rcode(dns.rcode.REFUSED)
            with self.lock:
                self.pending.pop(key, None)
            try:
                out = r.to_wire()
                c.sendall(len(out).to_bytes(2, "big") + out)
            except OSError:
                pass

    def _loop(self):
        while not self.stopped:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            q = dns.message.from_wire(wire)
            key = (peer, q.id)
            self._hold(key, q.question[0].name.to_text())
            threading.Timer(DELAY, self._answer, (q, key)).start()

    def _answer(self, q, key):
        r = dns.message.make_response(q)
        r.set_rcode(dns.rcode.REFUSED)
        with self.lock:
            self.pending.pop(key, None)
        try:
            self.sock.sendto(r.to_wire(), key[0])
        except OSError:
            pass

    def in_flight(self):
        with self.lock:
            return len(self.pending)

    def close(self):
        self.stopped = True
        self.sock.close()
        self.tcp.close()


class ManySecondaries(servers.Understudy):
    def __init__(self, workdir, binary, primaries):
        super().__init__(workdir, zones=[], binary=binary)
        self.primaries = primaries

    def write_config(self):
        lines = [
            "server:",
            f'  listen: ["127.0.0.1@{self.port}"]',
            f'  storage: "{self.dir}/storage"',
            f'  control: "{self.dir}/ctl.sock"',
            "  udp-workers: 1",
            "  watch-ns: false",
            "  fleet-interval: 0",
            f"  transfers-in: {TOTAL}",
            f"  transfers-in-per-primary: {PER_PRIMARY}",
            "log: {target: stderr, level: info}",
            "remotes:",
        ]
        lines += [f'  - {{id: p{i}, address: ["127.0.0.1@{p.port}"]}}'
                  for i, p in enumerate(self.primaries)]
        lines.append("zones:")
        for z in range(ZONES):
            # Half the zones from p0, half from p1: both limits come into play.
            lines += [f"  - domain: z{z}.herd.test", "    role: secondary",
                      f"    primaries: [p{z % 2}]", "    primary-timeout: 2",
                      "    retry-min-interval: 60"]
        self.conf.write_text("\n".join(lines) + "\n")

    def wait_ready(self, timeout=30.0):
        # No zone has a copy to serve: up once ctl answers.
        wait_for(lambda: self.ctl("status")[0] == 0, timeout=timeout, what="ctl", srv=self)


def test_refreshes_are_bounded_and_fair(tmp_path, understudy_binary):
    prims = [SlowPrimary(), SlowPrimary()]
    srv = ManySecondaries(tmp_path, understudy_binary, prims)
    try:
        with srv:
            samples = []
            t0 = time.monotonic()
            while time.monotonic() - t0 < 4:
                samples.append([p.in_flight() for p in prims])
                time.sleep(0.01)
            # ctl answers at once, even with every slot taken and zones waiting.
            t = time.monotonic()
            code, out = srv.ctl("zone-status", "z299.herd.test")
            assert code == 0, out
            assert time.monotonic() - t < 1.0
            # Every zone is asked in the end: 300 zones, 6 at a time, 250 ms each: about
            # 13 s (the first pass is paced by the limits, not by a timer).
            wait_for(lambda: sum(len(p.asked) for p in prims) == ZONES, timeout=60,
                     what="every zone asked of its primary", srv=srv)
            elapsed = time.monotonic() - t0
            most = [p.most for p in prims]
            busiest = max(sum(s) for s in samples)
            print(f"most in flight per primary {most}, in total {busiest}; "
                  f"every zone asked in {elapsed:.1f} s")
            assert max(most) <= PER_PRIMARY, most
            assert busiest <= TOTAL, busiest
            # The limits are used, not just respected: the herd is there to be held back.
            assert busiest >= TOTAL - 1, busiest
            code, out = srv.ctl("zone-status")
            assert code == 0, out
    finally:
        for p in prims:
            p.close()
