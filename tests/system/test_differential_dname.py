# SPDX-License-Identifier: MIT
"""test_differential_dname: DNAME and CNAME chains, generated, against knotd and nsd.

A zone is generated (deterministic for SEED) whose DNAMEs point below themselves, at each
other in cycles of two and three, along chains, into a delegation and below it, at names with
data, without data, at an empty non-terminal, at a wildcard's parent, at the apex and out of
the zone, plus CNAMEs into those DNAMEs and a handful of DNAMEs with random targets. It is
served three ways, unsigned, signed with NSEC and with NSEC3 (dnssec-signzone at test time),
and every name at, below and around the DNAMEs and CNAMEs is asked with every QTYPE that
takes a different path (CNAME, DNAME, ANY, RRSIG, NSEC, DS, NS, SOA, data types), with and
without DO, over UDP and TCP, and the transfer types AXFR and IXFR over UDP.

Where knotd and nsd agree after test_differential's ALLOWED_DIFFERENCES, understudy must
agree. Where they disagree (a DNAME whose target lies below itself: knotd follows it for
five synthesized CNAMEs, nsd stops at the first; docs/design-notes.md says what we do and
why), understudy must still keep RFC 2181 5 (no RR twice in a section) and RFC 3225 3 (DO
echoed), which every answer here is checked for.
"""

import collections
import random

import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import pytest

import querygen
import servers
import signzones
import test_differential as td

T = dns.rdatatype
SEED = 20261207
VARIANTS = [("dn.test", None), ("dnsec.test", []), ("dnsec3.test", ["-3", "ab12", "-H", "3"])]
QTYPES = [T.A, T.AAAA, T.TXT, T.MX, T.NS, T.SOA, T.CNAME, T.DNAME, T.DS, T.ANY, T.RRSIG,
          T.NSEC, 65280]

ZONE = """$TTL 3600
@        SOA   ns1 hostmaster 1 3600 900 604800 300
         NS    ns1
ns1      A     192.0.2.1
mail     A     192.0.2.25
data     A     192.0.2.10
         TXT   "data"
         MX    10 mail
x.data   A     192.0.2.11
         TXT   "x.data"
a.b.data A     192.0.2.12
y.data   CNAME x.data
z.data   CNAME nothere.data
w.data   CNAME q.self
*.wild   A     192.0.2.99
         TXT   "wild"
sub      NS    ns.sub
ns.sub   A     192.0.2.53
self     DNAME x.self.{o}.
self     A     192.0.2.2
ping     DNAME pong.{o}.
pong     DNAME ping.{o}.
r1       DNAME r2.{o}.
r2       DNAME r3.{o}.
r3       DNAME r1.{o}.
c1       DNAME c2.{o}.
c2       DNAME data.{o}.
todel    DNAME sub.{o}.
below    DNAME x.sub.{o}.
tonx     DNAME nothere.{o}.
toent    DNAME b.data.{o}.
towild   DNAME wild.{o}.
toapex   DNAME {o}.
out      DNAME example.net.
cn2dn    CNAME q.ping
cn2self  CNAME q.self
cn2c1    CNAME x.c1
cn2apex  CNAME data.toapex
"""

# Targets the random DNAMEs pick from (relative to the origin; None: out of zone).
POOL = ["data", "x.data", "b.data", "wild", "sub", "x.sub", "self", "ping", "c1", "tonx",
        "nothere", "", "cn2dn", "y.data", None]


def zone_text(origin, seed=SEED):
    rng = random.Random(seed)
    extra = []
    for i in range(8):
        pick = rng.choice(POOL + [f"rr{j}" for j in range(8) if j != i] + [f"p.rr{i}"])
        prefix = rng.choice(["", "", "p."])
        target = "example.org." if pick is None else \
            f"{prefix}{pick + '.' if pick else ''}{origin}."
        extra.append(f"rr{i}     DNAME {target}")
    return ZONE.format(o=origin) + "\n".join(extra) + "\n"


def _names(zone):
    """The names to ask: every DNAME and CNAME owner, and names below each DNAME."""
    owners, _, _, dnames, _ = querygen._zone_facts(zone)
    out = []
    for name, types in sorted(owners.items()):
        if T.DNAME in types or T.CNAME in types:
            out.append(name)
    for d in dnames:
        for labels in (["q"], ["a", "b"], ["x"], ["p"]):
            out.append(querygen._below(None, d, labels))
    return [n for n in out if n is not None]


def generate(zones, signed):
    b = querygen._Builder(SEED)
    for origin, zone in sorted(querygen.load_zones(zones).items()):
        o = origin.to_text(omit_final_dot=True)
        for n in _names(zone):
            for t in QTYPES:
                b.add(o, "dname", n, t)
                b.add(o, "dname-do", n, t, do=True)
            b.add(o, "dname-noedns", n, T.A, edns=None)
            b.add(o, "dname-tcp", n, T.A, tcp=True, do=signed[o])
            b.add(o, "dname-tcp", n, T.CNAME, tcp=True, do=signed[o])
        for t in (T.AXFR, T.IXFR):
            b.add(o, "meta", origin, t, do=True)
            b.add(o, "meta", origin, t)
        # An IXFR as a secondary sends it, with its SOA (RFC 1995 3): not allowed here.
        for serial in (0, 1, 7):
            q = dns.message.make_query(origin, T.IXFR, use_edns=0, want_dnssec=True)
            q.authority.append(dns.rrset.from_text(
                origin, 0, "IN", "SOA", f"ns1.{origin} h.{origin} {serial} 1 1 1 1"))
            q.id = b.rng.randrange(65536)
            b.cases.append(querygen.Case(o, "meta-ixfr-soa", f"{origin} IXFR={serial} +do udp",
                                         q.to_wire(), False, T.IXFR))
    return b.cases


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("dname-zones")
    zones, signed = [], {}
    for origin, extra in VARIANTS:
        text = zone_text(origin)
        if extra is None:
            path = d / f"{origin}.zone"
            path.write_text(text)
        else:
            if signzones.available() is not None:
                continue
            path, _ = signzones._sign(d, origin, text, extra)
        zones.append((origin, path))
        signed[origin] = extra is not None
    # The any-subset rule checks ANY answers against the zones' data.
    td.ZONEDATA.update(querygen.load_zones(zones))
    return zones, signed


@pytest.fixture(scope="module")
def cases(made):
    out = collections.defaultdict(list)
    for c in generate(*made):
        out[c.group].append(c)
    return out


def _server(cls, tmp_path_factory, made, **kw):
    srv = cls(tmp_path_factory.mktemp(cls.name + "-dname"), zones=made[0], **kw)
    srv.start()
    return srv


@pytest.fixture(scope="module")
def dknotd(tmp_path_factory, made):
    srv = _server(servers.Knotd, tmp_path_factory, made)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def dnsd(tmp_path_factory, made):
    srv = _server(servers.Nsd, tmp_path_factory, made)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def dus(tmp_path_factory, made, understudy_binary):
    srv = _server(servers.Understudy, tmp_path_factory, made, binary=understudy_binary)
    yield srv
    srv.stop()


def rfc_violations(case, wire):
    """What in understudy's answer breaks a rule every answer must keep, whatever the peers
    do: an RR twice in one section (RFC 2181 5), DO not echoed (RFC 3225 3)."""
    if wire is None:
        return ["no answer"]
    q = dns.message.from_wire(case.wire)
    m = dns.message.from_wire(wire, one_rr_per_rrset=True)
    out = []
    for sec in ("answer", "authority", "additional"):
        seen = collections.Counter(
            (rrs.name.canonicalize(), rrs.rdtype, rd.to_digestable())
            for rrs in getattr(m, sec) for rd in rrs)
        out += [f"{sec}: {n} {T.to_text(t)} {k + 1} times" for (n, t, _), k in seen.items()
                if k > 1]
    if q.edns >= 0 and m.rcode() != dns.rcode.FORMERR:
        if m.edns < 0:
            out.append("no OPT in the answer to a query with one")
        elif (q.ednsflags & dns.flags.DO) and not (m.ednsflags & dns.flags.DO):
            out.append("DO not echoed")
    return out


@pytest.mark.parametrize("zone", [o for o, _ in VARIANTS])
def test_dname_chains_match_peers(zone, made, cases, dknotd, dnsd, dus):
    rows = cases[zone]
    if not rows:
        pytest.skip(f"{zone} not made: {signzones.available()}")
    ka, na, ua = td.ask(dknotd, rows), td.ask(dnsd, rows), td.ask(dus, rows)
    dus.check_sanitizers()
    mismatches, broken, agree, disagree = [], [], 0, collections.Counter()
    for c, kw, nw, uw in zip(rows, ka, na, ua):
        bad = rfc_violations(c, uw)
        if bad:
            broken.append(f"{c.desc}: {'; '.join(bad)}")
        kn = td.normalise(c, td.make_view(c, kw))
        nn = td.normalise(c, td.make_view(c, nw))
        un = td.normalise(c, td.make_view(c, uw))
        if kn != nn:
            disagree["like knotd" if un == kn else "like nsd" if un == nn else
                     "like neither"] += 1
            continue
        agree += 1
        if un != kn:
            mismatches.append(td.show_diff(c, ("knotd=nsd", "understudy"), kn, un))
    print(f"{zone}: {len(rows)} queries, peers agree on {agree}; where they disagree "
          f"understudy is {dict(disagree)}")
    assert not broken, f"{len(broken)} answers break RFC 2181 5 or RFC 3225 3:\n" + \
        "\n".join(broken[:td.MAX_DIFFS])
    if mismatches:
        shown = "\n\n".join(mismatches[:td.MAX_DIFFS])
        pytest.fail(f"{len(mismatches)} of {agree} answers differ from knotd and nsd in "
                    f"{zone}:\n\n{shown}", pytrace=False)
