#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""genzone: synthetic zone and matching query list for `make bench` (stdlib only).

    genzone.py --names 100000 --zone bench.test.zone --queries queries.txt
    genzone.py --records 1000000 --zone big.zone

The zone has an apex (SOA, NS, A, AAAA, MX, TXT) and then a mix of names: A, AAAA, A+AAAA,
A+MX, TXT, A+TXT, CNAMEs to names in the zone, two-label names below empty non-terminals,
and about one name in a thousand is a delegation with in-zone glue. The query list, in
dnsperf's "name type" format, asks for records that exist (CNAMEs asked by A, so the server
follows the chain), names below delegations (referrals), and about 10% names that do not
exist (NXDOMAIN). Output is deterministic for a given --seed.
"""

import argparse
import os
import random
import sys

SERIAL = 2024010101
TTL = 3600

# (weight, kind); kinds are rendered in add_name()
MIX = [
    (34, "a"),
    (14, "a_aaaa"),
    (8, "aaaa"),
    (9, "a_mx"),
    (8, "txt"),
    (8, "a_txt"),
    (8, "cname"),
    (10, "deep"),  # two labels, the parent is an empty non-terminal
    (1, "a2"),  # two A records
]
PREFIXES = ["www", "mail", "host", "api", "cdn", "srv", "app", "db", "vpn", "git"]


def pick_kinds(rng, n):
    kinds = [k for _, k in MIX]
    weights = [w for w, _ in MIX]
    return rng.choices(kinds, weights=weights, k=n)


def ip4(i):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def ip6(i):
    return f"2001:db8:{(i >> 16) & 0xffff:x}::{i & 0xffff:x}"


class Zone:
    def __init__(self, origin, out, rng):
        self.origin = origin
        self.out = out
        self.rng = rng
        self.records = 0
        self.names = 0
        self.buf = []
        self.answerable = []  # (owner, qtype) that exist, for queries
        self.a_names = []  # names with an A record, CNAME targets
        self.delegations = []

    def rr(self, owner, rtype, rdata):
        self.buf.append(f"{owner}\t{TTL}\tIN\t{rtype}\t{rdata}\n")
        self.records += 1
        if len(self.buf) >= 4096:
            self.flush()

    def flush(self):
        self.out.write("".join(self.buf))
        self.buf = []

    def apex(self):
        o = self.origin
        self.out.write(f"$ORIGIN {o}.\n$TTL {TTL}\n")
        self.rr("@", "SOA", f"ns1.{o}. hostmaster.{o}. {SERIAL} 3600 900 1209600 300")
        self.rr("@", "NS", f"ns1.{o}.")
        self.rr("@", "NS", f"ns2.{o}.")
        self.rr("@", "A", "192.0.2.1")
        self.rr("@", "AAAA", "2001:db8::1")
        self.rr("@", "MX", f"10 mail.{o}.")
        self.rr("@", "TXT", '"v=spf1 mx -all"')
        self.rr("ns1", "A", "192.0.2.53")
        self.rr("ns1", "AAAA", "2001:db8::53")
        self.rr("ns2", "A", "192.0.2.54")
        self.rr("mail", "A", "192.0.2.25")
        self.names += 4
        self.answerable += [("@", "SOA"), ("@", "NS"), ("@", "A"), ("@", "MX")]

    def txt(self, i):
        r = self.rng.random()
        if r < 0.4:
            return f'"v=spf1 ip4:{ip4(i)} -all"'
        if r < 0.7:
            return f'"site-verification={self.rng.getrandbits(96):024x}"'
        return f'"k=v{i}" "{self.rng.getrandbits(64):016x}"'

    def add_name(self, i, kind):
        name = f"{PREFIXES[i % len(PREFIXES)]}{i}"
        if kind == "deep":
            name = f"{name}.g{i % 997}"
            kind = "a_aaaa" if i & 1 else "a"
        if kind in ("a", "a_aaaa", "a_mx", "a_txt", "a2"):
            self.rr(name, "A", ip4(i))
            if kind == "a2":
                self.rr(name, "A", ip4(i + 1))
            self.answerable.append((name, "A"))
            self.a_names.append(name)
        if kind in ("a_aaaa", "aaaa"):
            self.rr(name, "AAAA", ip6(i))
            self.answerable.append((name, "AAAA"))
        if kind == "a_mx":
            self.rr(name, "MX", f"10 {name}")
            if i % 3 == 0:
                self.rr(name, "MX", f"20 mail.{self.origin}.")
            self.answerable.append((name, "MX"))
        if kind in ("txt", "a_txt"):
            self.rr(name, "TXT", self.txt(i))
            if i % 5 == 0:
                self.rr(name, "TXT", self.txt(i + 1))
            self.answerable.append((name, "TXT"))
        if kind == "cname":
            if self.a_names:
                target = self.a_names[self.rng.randrange(len(self.a_names))]
            else:
                target = "mail"
            self.rr(name, "CNAME", target)
            self.answerable.append((name, "A"))  # the server follows the chain in-zone
        self.names += 1

    def add_delegation(self, i):
        name = f"del{i}"
        self.rr(name, "NS", f"ns1.{name}")
        self.rr(name, "NS", f"ns2.{name}")
        self.rr(f"ns1.{name}", "A", ip4(i))
        self.rr(f"ns1.{name}", "AAAA", ip6(i))
        self.rr(f"ns2.{name}", "A", ip4(i + 1))
        self.delegations.append(name)
        self.names += 1


def generate(args):
    rng = random.Random(args.seed)
    tmp = args.zone + ".tmp"
    with open(tmp, "w", encoding="ascii") as out:
        z = Zone(args.origin, out, rng)
        z.apex()
        i = 0
        while True:
            if args.records:
                if z.records >= args.records:
                    break
            elif z.names >= args.names:
                break
            # draw kinds in chunks: far faster than one rng.choices() per name
            for kind in pick_kinds(rng, 1024):
                if args.records and z.records >= args.records:
                    break
                if not args.records and z.names >= args.names:
                    break
                if i % 1000 == 500:
                    z.add_delegation(i)
                else:
                    z.add_name(i, kind)
                i += 1
        z.flush()
    os.replace(tmp, args.zone)

    if args.queries:
        nq = args.nqueries or max(z.names, 10000)
        o = args.origin
        lines = []
        for _ in range(nq):
            r = rng.random()
            if r < args.nxdomain:
                lines.append(f"nx{rng.getrandbits(40):010x}.{o} A\n")
            elif r < args.nxdomain + 0.02 and z.delegations:
                d = z.delegations[rng.randrange(len(z.delegations))]
                lines.append(f"www.{d}.{o} A\n")
            else:
                name, qtype = z.answerable[rng.randrange(len(z.answerable))]
                fq = o if name == "@" else f"{name}.{o}"
                lines.append(f"{fq} {qtype}\n")
        tmp = args.queries + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write("".join(lines))
        os.replace(tmp, args.queries)
    print(f"names={z.names} records={z.records} zone={args.zone}"
          + (f" queries={args.queries}" if args.queries else ""))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--origin", default="bench.test")
    p.add_argument("--names", type=int, default=100000, help="owner names (default 100000)")
    p.add_argument("--records", type=int, default=0,
                   help="generate this many records instead of --names names")
    p.add_argument("--zone", required=True, help="zone file to write")
    p.add_argument("--queries", help="query file to write (dnsperf format)")
    p.add_argument("--nqueries", type=int, default=0, help="default: one per name, >= 10000")
    p.add_argument("--nxdomain", type=float, default=0.10, help="share of NXDOMAIN queries")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if args.names < 1 or args.records < 0 or not 0 <= args.nxdomain < 0.9:
        p.error("bad --names, --records or --nxdomain")
    generate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
