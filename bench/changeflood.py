#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""changeflood.py: floods a server's change path for `make bench` (stdlib only).

    changeflood.py PORT ZONE SECONDS AXFRCLIENT

For SECONDS, all at once, against 127.0.0.1@PORT: NOTIFYs for ZONE from sources nobody allowed
(127.0.5.1-8, 2000 per second in total) and SOA queries for it (127.0.6.1-8, 1000 per second);
200 TCP clients from 127.0.7.x that trickle a query a byte every 300 ms and never finish it
(reconnecting when dropped); and two AXFR clients (AXFRCLIENT, from 127.0.0.1) asking for the
whole zone again and again. Prints what it sent: key=value lines.
"""

import os
import select
import socket
import struct
import subprocess
import sys
import time


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def message(zone, opcode, qtype):
    flags = (opcode << 11) | (0x0400 if opcode == 4 else 0)
    return struct.pack("!HHHHHH", 0, flags, 1, 0, 0, 0) + wire_name(zone) + \
        struct.pack("!HH", qtype, 1)


def main():
    port, zone, seconds, axfrclient = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), \
        sys.argv[4]
    notify, soa = message(zone, 4, 6), message(zone, 0, 6)
    udp = []
    for i in range(1, 9):
        for src in (f"127.0.5.{i}", f"127.0.6.{i}"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((src, 0))
            s.setblocking(False)
            udp.append((s, notify if src.startswith("127.0.5.") else soa))
    wire = struct.pack("!H", len(soa)) + soa
    slow = []

    def connect(c):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((f"127.0.7.{c % 200 + 1}", 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        return {"s": s, "sent": 0}

    for c in range(200):
        slow.append(connect(c))
    axfrs = [subprocess.Popen([axfrclient, "127.0.0.1", str(port), zone, "1000000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(2)]
    t0 = time.monotonic()
    sent = {"notify": 0, "soa": 0, "slow_connects": 200, "slow_drops": 0}
    next_trickle = t0
    k = 0
    try:
        while time.monotonic() - t0 < seconds:
            t = time.monotonic() - t0
            # 3000 datagrams a second in all: two thirds NOTIFY, one third SOA.
            due = int(t * 3000)
            while k < due:
                s, m = udp[k % len(udp)]
                try:
                    s.sendto(m, ("127.0.0.1", port))
                except BlockingIOError:
                    pass
                sent["notify" if m is notify else "soa"] += 1
                k += 1
            for s, _ in udp:  # drain answers
                try:
                    while True:
                        s.recv(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    pass
            if time.monotonic() >= next_trickle:
                next_trickle += 0.3
                for i, c in enumerate(slow):
                    if c["sent"] >= len(wire) - 1:
                        continue
                    try:
                        c["s"].send(wire[c["sent"]:c["sent"] + 1])
                        c["sent"] += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        c["s"].close()
                        slow[i] = connect(i)
                        sent["slow_connects"] += 1
                        sent["slow_drops"] += 1
            r, _, _ = select.select([c["s"] for c in slow], [], [], 0.002)
            for i, c in enumerate(slow):
                if c["s"] in r:
                    try:
                        if c["s"].recv(4096) == b"":
                            raise OSError
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    c["s"].close()
                    slow[i] = connect(i)
                    sent["slow_connects"] += 1
                    sent["slow_drops"] += 1
    finally:
        for p in axfrs:
            p.terminate()
            p.wait()
        for c in slow:
            c["s"].close()
    for kk, v in sent.items():
        print(f"{kk}={v}")


if __name__ == "__main__":
    main()
