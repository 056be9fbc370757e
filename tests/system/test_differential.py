# SPDX-License-Identifier: MIT
"""test_differential: the same queries to knotd, nsd and understudy, answers compared.

Every query of the corpus (querygen.py) goes to knotd and nsd serving the same zones.
Each response is turned into a *view* (rcode, flags, question, the three sections as
lists of RRs, EDNS) and then normalised by the ALLOWED_DIFFERENCES table below: the
things the RFCs let servers do differently. Where knotd and nsd agree after normalisation,
understudy must give the same normalised answer; where they disagree, the case is counted
and reported at the end of the run, and never fails a test.

One pytest test per group (zone x transport, plus not-served, class, malformed), not
one per query.
"""

import collections
import difflib
import os
import struct
from dataclasses import dataclass
from typing import Callable

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

import querygen
import servers

T = dns.rdatatype
SECTIONS = ("answer", "authority", "additional")
TIMEOUT = 1.0       # per well-formed query (retried once over UDP)
RAW_TIMEOUT = 0.5   # malformed: UDP deadline for the whole batch, TCP per connection
MAX_DIFFS = 20      # mismatches shown in a failure message

CASES = querygen.generate(servers.zone_files())
GROUPS = querygen.groups(CASES)
BY_GROUP = {g: [c for c in CASES if c.group == g] for g in GROUPS}
ZONEDATA = querygen.load_zones(servers.zone_files())


# --------------------------------------------------------------------------------------
# Views: a response as comparable data.
#
# view = {"response": "answer" | "none" | "unparseable (...)", "id": "ok" | "mismatch",
#         "opcode", "rcode", "flags": set of str, "question": [(name, class, type)],
#         "answer"/"authority"/"additional": [(owner, ttl, class, type, rdata)] in wire
#         order, one entry per RR, "edns": None | {"version", "do", "payload", "options"}}
# --------------------------------------------------------------------------------------

_KNOWN_OPCODES = {int(o) for o in dns.opcode.Opcode}


def make_view(case, wire):
    if wire is None:
        return {"response": "none"}
    v = {"response": "answer"}
    if len(case.wire) >= 2:
        v["id"] = "ok" if wire[:2] == case.wire[:2] else "mismatch"
    opcode = (wire[2] >> 3) & 0xF if len(wire) >= 4 else 0
    try:
        if opcode not in _KNOWN_OPCODES:
            # dnspython rejects opcodes it does not know (DSO); parse as QUERY instead.
            wire = wire[:2] + bytes([wire[2] & 0x87]) + wire[3:]
        m = dns.message.from_wire(wire, one_rr_per_rrset=True)
    except Exception as e:  # noqa: BLE001 - any parse failure is an observation
        v["response"] = f"unparseable ({type(e).__name__})"
        if len(wire) >= 4:
            flags = struct.unpack("!H", wire[2:4])[0]
            v["rcode"] = dns.rcode.to_text(flags & 0xF)
            v["opcode"] = str((flags >> 11) & 0xF)
            v["flags"] = set(dns.flags.to_text(flags & 0x87F0).lower().split())
        return v
    v["opcode"] = dns.opcode.to_text(opcode) if opcode in _KNOWN_OPCODES else str(opcode)
    v["rcode"] = dns.rcode.to_text(m.rcode())
    v["flags"] = set(dns.flags.to_text(m.flags).lower().split())
    if m.flags & 0x0040:
        v["flags"].add("z")
    v["question"] = [(r.name, r.rdclass, r.rdtype) for r in m.question]
    for sec in SECTIONS:
        v[sec] = [(rrs.name, rrs.ttl, rrs.rdclass, rrs.rdtype, rd)
                  for rrs in getattr(m, sec) for rd in rrs]
    if m.edns < 0:
        v["edns"] = None
    else:
        v["edns"] = {
            "version": m.edns,
            "do": bool(m.ednsflags & dns.flags.DO),
            "zflags": m.ednsflags & 0x7FFF,
            "payload": m.payload,
            "options": [(int(o.otype), o.to_wire().hex()) for o in m.options],
        }
    return v


def _copy(v):
    out = dict(v)
    for k in SECTIONS + ("question",):
        if k in out:
            out[k] = list(out[k])
    if "flags" in out:
        out["flags"] = set(out["flags"])
    if out.get("edns"):
        out["edns"] = dict(out["edns"])
    return out


def render(v):
    """The view as text lines: what is compared and what a diff shows."""
    if v["response"] != "answer" and "rcode" not in v:
        return [f"response {v['response']}"]
    lines = [f"response {v['response']}"]
    for k in ("id", "opcode", "rcode"):
        if k in v:
            lines.append(f"{k} {v[k]}")
    if "flags" in v:
        lines.append("flags " + " ".join(sorted(v["flags"])))
    for name, rdclass, rdtype in v.get("question", []):
        lines.append(f"question {name} {dns.rdataclass.to_text(rdclass)} "
                     f"{dns.rdatatype.to_text(rdtype)}")
    for sec in SECTIONS:
        if sec not in v:
            continue
        rrs = [f"{sec} {o} {'*' if ttl is None else ttl} {dns.rdataclass.to_text(c)} "
               f"{dns.rdatatype.to_text(t)} {rd.to_text() if rd is not None else '(any)'}"
               for o, ttl, c, t, rd in v[sec]]
        lines += rrs if v.get("_ordered", True) else sorted(rrs)
    if "edns" in v:
        e = v["edns"]
        if e is None:
            lines.append("edns none")
        else:
            lines.append(f"edns version={e['version']} do={int(e['do'])} z={e['zflags']:#x}"
                         + ("" if e.get("payload") is None else f" payload={e['payload']}"))
            for code, data in e["options"]:
                lines.append(f"edns option {code} {data}")
    return lines


# --------------------------------------------------------------------------------------
# ALLOWED_DIFFERENCES: what the RFCs let authoritative servers do differently.
#
# Each entry removes one kind of freedom from a view. Both peers' views and understudy's
# view go through the whole table before they are compared. Keep the table small and
# every entry tied to the text that allows it; the README explains how to add one.
# --------------------------------------------------------------------------------------

@dataclass
class Allowed:
    id: str
    what: str
    rfc: str
    apply: Callable  # (case, view) -> None, edits the view in place


def _qtype(case, v):
    return v["question"][0][2] if v.get("question") else case.qtype


def _positive(case, v):
    """A NOERROR answer that holds the data asked for (not a CNAME/DNAME to nothing)."""
    if v.get("rcode") != "NOERROR" or not v.get("answer"):
        return False
    qtype = _qtype(case, v)
    if qtype in (T.ANY, T.CNAME, T.DNAME):
        return True
    return any(t == qtype for _, _, _, t, _ in v["answer"])


def _in_zone_data(owner, rdclass, rdtype, ttl, rdatas):
    """True when the RRset is exactly an RRset of the test zones at owner, or at a
    wildcard above it (then owner is a wildcard expansion)."""
    if rdclass != dns.rdataclass.IN:
        return False
    zone = max((z for o, z in ZONEDATA.items() if owner.is_subdomain(o)),
               key=lambda z: len(z.origin), default=None)
    if zone is None:
        return False
    want = sorted(_lower_rdata(rdclass, rdtype, rd).to_text() for rd in rdatas)
    candidates = [owner]
    a = owner.parent() if owner != zone.origin else None
    while a is not None and a.is_subdomain(zone.origin):
        candidates.append(dns.name.Name((b"*",) + a.labels))
        a = a.parent() if a != zone.origin else None
    for n in candidates:
        rds = zone.get_rdataset(n, rdtype)
        if rds is not None and rds.ttl == ttl and sorted(
                _lower_rdata(rdclass, rdtype, rd).to_text() for rd in rds) == want:
            return True
    return False


def _lower_rdata(c, t, rd):
    w = rd.to_digestable()  # RFC 4034 6.2 canonical form: embedded names lower-cased
    return dns.rdata.from_wire(c, t, w, 0, len(w))


def _rule_rr_order(case, v):
    v["_ordered"] = False


def _rule_name_case(case, v):
    for sec in SECTIONS:
        if sec in v:
            v[sec] = [(o.canonicalize(), ttl, c, t, _lower_rdata(c, t, rd) if rd is not None else rd)
                      for o, ttl, c, t, rd in v[sec]]


def _rule_ra(case, v):
    v.get("flags", set()).discard("ra")


def _rule_cd(case, v):
    v.get("flags", set()).discard("cd")


def _rule_truncated(case, v):
    if "tc" in v.get("flags", ()):
        for sec in SECTIONS:
            if sec in v:
                v[sec] = []


def _rule_additional(case, v):
    """Keep only in-domain glue of a referral (RFC 9471 3 makes it mandatory). A referral
    is a non-positive NOERROR answer with NS in the authority section; it may follow a
    CNAME chain into a delegation."""
    if "additional" not in v:
        return
    cuts = [o for o, _, _, t, _ in v.get("authority", []) if t == T.NS]
    referral = cuts and v.get("rcode") == "NOERROR" and not _positive(case, v)
    glue = []
    if referral:
        nsnames = {rd.target.canonicalize() for _, _, _, t, rd in v["authority"] if t == T.NS}
        for rr in v["additional"]:
            o, _, _, t, _ = rr
            if t in (T.A, T.AAAA) and o.canonicalize() in nsnames and \
                    any(o.is_subdomain(c) for c in cuts):
                glue.append(rr)
    v["additional"] = glue


def _rule_authority_positive(case, v):
    if "authority" in v and _positive(case, v):
        v["authority"] = [rr for rr in v["authority"] if rr[3] not in (T.NS, T.SOA) and not (
            rr[3] == T.RRSIG and rr[4] is not None and rr[4].type_covered in (T.NS, T.SOA))]


def _rule_dname_ttl(case, v):
    if "answer" not in v:
        return
    dnames = [o for o, _, _, t, _ in v["answer"] if t == T.DNAME]
    if dnames:
        v["answer"] = [(o, None if t == T.CNAME and any(o.is_subdomain(d) for d in dnames)
                        else ttl, c, t, rd) for o, ttl, c, t, rd in v["answer"]]


def _rule_payload(case, v):
    if v.get("edns"):
        v["edns"]["payload"] = None


_SERVER_OPTIONS = {3: "NSID", 10: "COOKIE", 12: "PADDING", 15: "EDE"}


def _rule_options(case, v):
    if v.get("edns"):
        v["edns"]["options"] = [o for o in v["edns"]["options"] if o[0] not in _SERVER_OPTIONS]


def _rule_any_subset(case, v):
    """An ANY answer becomes one line when every RRset in it is real zone data."""
    if _qtype(case, v) != T.ANY or v.get("rcode") != "NOERROR" or not v.get("answer"):
        return
    qname = v["question"][0][0]
    rrsets = collections.defaultdict(list)
    for o, ttl, c, t, rd in v["answer"]:
        rrsets[(o.canonicalize(), ttl, c, t)].append(rd)
    if any(o != qname.canonicalize() or t in (T.CNAME, T.DNAME) for o, _, _, t in rrsets):
        return  # a CNAME/DNAME answer is compared as it is
    if all(_in_zone_data(o, c, t, ttl, rds) for (o, ttl, c, t), rds in rrsets.items()):
        v["answer"] = [(qname.canonicalize(), None, dns.rdataclass.IN, T.ANY, None)]


def _rule_error_question(case, v):
    if v.get("rcode") in ("FORMERR", "NOTIMP") and "question" in v:
        v["question"] = []


def _rule_chaos(case, v):
    if "answer" in v:
        v["answer"] = [(o, ttl, c, t, None if c == dns.rdataclass.CH else rd)
                       for o, ttl, c, t, rd in v["answer"]]


ALLOWED_DIFFERENCES = [
    Allowed("rr-order",
            "order of RRs within an RRset and of RRsets within a section",
            "RFC 2181 5 (an RRset is a set; order is not significant); RFC 1035 4.1",
            _rule_rr_order),
    Allowed("name-case",
            "case of owner names and of names inside RDATA (the question is still "
            "compared exactly: its case must be echoed)",
            "RFC 4343 3 and 4.1 (names compare case-insensitively; compressing against the "
            "question carries the query's case into the answer); RFC 1035 2.3.3",
            _rule_name_case),
    Allowed("ra-bit",
            "RA bit: an authoritative-only server may or may not claim recursion",
            "RFC 1035 4.1.1 (RA is set by the server, describing itself)",
            _rule_ra),
    Allowed("cd-bit",
            "whether CD is copied from the query (understudy copies it; knotd and nsd "
            "clear it)",
            "RFC 4035 3.1.6 (a security-aware name server MUST copy CD into the response)",
            _rule_cd),
    Allowed("truncated-content",
            "what a response with TC=1 carries besides its header and question",
            "RFC 2181 9 (client must discard it and retry over TCP); RFC 1035 4.2.1",
            _rule_truncated),
    Allowed("additional-beyond-glue",
            "additional-section content other than the in-domain glue of a referral "
            "(address records for NS/MX/SRV targets, sibling glue, minimal-responses)",
            "RFC 1034 4.3.2 step 6 and RFC 2181 9 (additional data is optional and is "
            "omitted without TC); RFC 9471 3 (only in-domain glue is mandatory)",
            _rule_additional),
    Allowed("authority-on-positive",
            "NS or SOA RRsets (and their RRSIGs) in the authority section of a positive answer "
            "(knotd adds none, nsd adds the apex NS, BIND too unless minimal-responses)",
            "RFC 1034 4.3.2 step 3a (an exact match fills the answer section, then "
            "additional data; authority data is optional); RFC 2181 9",
            _rule_authority_positive),
    Allowed("dname-cname-ttl",
            "TTL of the CNAME synthesised from a DNAME",
            "RFC 6672 2.3 and 3.1 (synthesised CNAME TTL follows the DNAME's; "
            "not relied on by resolvers)",
            _rule_dname_ttl),
    Allowed("edns-payload",
            "the UDP payload size the server advertises in its OPT RR",
            "RFC 6891 6.2.3 and 6.2.5 (the responder's own size)",
            _rule_payload),
    Allowed("edns-server-options",
            "EDNS options a server may add or omit: NSID, COOKIE, PADDING, EDE",
            "RFC 5001 2.2 (NSID is returned at the server's discretion), RFC 7873 5.2, "
            "RFC 7830 3, RFC 8914 3",
            _rule_options),
    Allowed("any-subset",
            "which RRsets answer QTYPE=ANY: any non-empty subset of the node's RRsets "
            "(each one must be real zone data; checked against the zone files)",
            "RFC 8482 4.1 (answer ANY with one or more of the RRsets)",
            _rule_any_subset),
    Allowed("error-question",
            "whether a FORMERR or NOTIMP response echoes the question",
            "RFC 1035 4.1.1 (FORMERR/NOTIMP: the query could not be interpreted or is "
            "not supported; nothing requires echoing its question)",
            _rule_error_question),
    Allowed("chaos-content",
            "the text of CHAOS-class answers (version.bind, id.server, ...)",
            "RFC 4892 2 (CHAOS TXT identifiers are conventions with server-chosen text)",
            _rule_chaos),
]
RULES = {a.id: a for a in ALLOWED_DIFFERENCES}


def normalise(case, view, skip=()):
    v = _copy(view)
    for a in ALLOWED_DIFFERENCES:
        if a.id not in skip:
            a.apply(case, v)
    return render(v)


def strict(view):
    return render(view)


def needed_rules(case, va, vb):
    """Rules without which two views that agree after normalisation would differ."""
    return [a.id for a in ALLOWED_DIFFERENCES
            if normalise(case, va, skip=(a.id,)) != normalise(case, vb, skip=(a.id,))]


def diff_kind(la, lb, names=("knotd", "nsd")):
    """Which fields differ between two rendered views, e.g. 'rcode+answer'."""
    none = "response none"
    if (la[0] == none) != (lb[0] == none):
        return f"only {names[1] if la[0] == none else names[0]} answered"
    def fields(lines):
        d = collections.defaultdict(list)
        for line in lines:
            k = line.split(" ", 1)[0]
            if k == "edns" and line.startswith("edns option"):
                k = "edns-option"
            d[k].append(line)
        return d
    fa, fb = fields(la), fields(lb)
    keys = [k for k in ("response", "id", "opcode", "rcode", "flags", "question") + SECTIONS +
            ("edns", "edns-option") if fa.get(k) != fb.get(k)]
    if "flags" in keys:
        sa = set(fa["flags"][0].split()[1:]) if fa.get("flags") else set()
        sb = set(fb["flags"][0].split()[1:]) if fb.get("flags") else set()
        keys[keys.index("flags")] = "flags:" + ",".join(sorted(sa ^ sb))
    return "+".join(keys) or "same"


def show_diff(case, names, la, lb):
    head = f"--- {case.desc}  ({case.kind})"
    body = difflib.unified_diff(la, lb, fromfile=names[0], tofile=names[1], lineterm="", n=50)
    return "\n".join([head] + list(body)[2:])


# --------------------------------------------------------------------------------------
# Running queries
# --------------------------------------------------------------------------------------

MAX_SILENT = 10     # well-formed queries in a row without an answer: the server is stuck


def ask(server, cases):
    """Raw responses (bytes or None) from server, in the order of cases.

    Fails fast when the server dies or stops answering, rather than timing out on
    every remaining query."""
    if getattr(server, "broken", None):
        pytest.fail(f"{server.name} is not usable: {server.broken}", pytrace=False)
    out = [None] * len(cases)
    silent = 0
    for i, c in enumerate(cases):
        if c.meta.get("raw"):
            continue
        w = server.exchange(c.wire, tcp=c.tcp, timeout=TIMEOUT)
        if w is None and not c.tcp:
            w = server.exchange(c.wire, tcp=False, timeout=TIMEOUT)
        out[i] = w
        silent = silent + 1 if w is None else 0
        if w is None and (silent >= MAX_SILENT or not server.running()):
            why = "exited" if not server.running() else f"{silent} timeouts in a row"
            server.broken = f"stopped answering at {c.desc} ({why})"
            pytest.fail(f"{server.name} {server.broken}:\n{server.output()[-3000:]}",
                        pytrace=False)
    for tcp in (False, True):
        idx = [i for i, c in enumerate(cases) if c.meta.get("raw") and c.tcp == tcp]
        if idx:
            res = server.exchange_many([cases[i].wire for i in idx], tcp=tcp,
                                       timeout=RAW_TIMEOUT)
            for i, w in zip(idx, res):
                out[i] = w
    return out


def _check_alive(server):
    if not server.running():
        pytest.fail(f"{server.name} exited:\n{server.output()[-3000:]}", pytrace=False)


class Results:
    """Peer answers per group, computed once and shared by the peer and understudy tests."""

    def __init__(self):
        self.groups = {}

    def get(self, group, knotd, nsd):
        if group not in self.groups:
            cases = BY_GROUP[group]
            ka, na = ask(knotd, cases), ask(nsd, cases)
            _check_alive(knotd)
            _check_alive(nsd)
            rows = []
            for c, kw, nw in zip(cases, ka, na):
                kv, nv = make_view(c, kw), make_view(c, nw)
                rows.append((c, kv, nv, normalise(c, kv), normalise(c, nv)))
            self.groups[group] = rows
        return self.groups[group]


@pytest.fixture(scope="module")
def results():
    return Results()


@pytest.fixture(scope="module")
def stats(diff_stats, tmp_path_factory):
    if "data" not in diff_stats:
        path = _report_file(tmp_path_factory)
        open(path, "w").close()
    s = diff_stats.setdefault("data", {
        "queries": 0, "identical": 0, "agree": 0, "disagree": 0,
        "absorbed": collections.Counter(), "absorbed_examples": {},
        "kinds": collections.OrderedDict(),
        "us_compared": 0, "us_mismatch": 0, "us_on_disagreement": collections.Counter(),
        "us_skipped": None, "groups": set(), "report_path": path,
    })
    diff_stats["report"] = lambda: summary_lines(s)
    return s


def summary_lines(s):
    lines = [
        f"{s['queries']} queries compared between knotd and nsd: {s['identical']} identical, "
        f"{s['agree']} equal after normalisation, {s['disagree']} disagreements",
    ]
    if s["absorbed"]:
        lines.append("allowed differences applied (responses that needed each rule):")
        for rid, n in s["absorbed"].most_common():
            lines.append(f"  {n:6d}  {rid}")
    if s["kinds"]:
        lines.append("knotd/nsd disagreements by kind (differing fields [query kinds]):")
        for key, d in sorted(s["kinds"].items(), key=lambda kv: -kv[1]["n"]):
            kinds = ", ".join(f"{k}:{n}" for k, n in d["kinds"].most_common(6))
            named = ", ".join(f"{k} {n}" for k, n in d["named"].most_common())
            lines.append(f"  {d['n']:6d}  {key}  [{kinds}]  (named: {named})")
            lines.append(f"          e.g. {d['example']}")
    if s["us_skipped"]:
        lines.append(f"understudy: skipped ({s['us_skipped']})")
    elif s["us_compared"]:
        lines.append(f"understudy: {s['us_compared']} compared where the peers agree, "
                     f"{s['us_mismatch']} mismatches")
        if s["us_on_disagreement"]:
            lines.append("understudy where the peers disagree: " + ", ".join(
                f"{k} {n}" for k, n in s["us_on_disagreement"].most_common()))
    if s["report_path"]:
        lines.append(f"full disagreement report: {s['report_path']}")
    return lines


def _report_file(tmp_path_factory):
    path = os.environ.get("DIFF_REPORT")
    if path:
        return path
    return str(tmp_path_factory.getbasetemp() / "differential-report.txt")


def _third_opinion(request, disagreeing):
    """For each (case, knotd view, nsd view, _): which of the two named answers like."""
    if not disagreeing:
        return []
    try:
        named = request.getfixturevalue("named")
    except Exception as e:  # noqa: BLE001 - named is informative only
        return [f"unavailable ({type(e).__name__})"] * len(disagreeing)
    answers = ask(named, [x[0] for x in disagreeing])
    out = []
    for (c, kn, nn, _), w in zip(disagreeing, answers):
        bn = normalise(c, make_view(c, w))
        out.append("like knotd" if bn == kn else "like nsd" if bn == nn else "like neither")
    return out


@pytest.mark.parametrize("group", GROUPS)
def test_peers_agree_or_differ_knowingly(group, knotd, nsd, results, stats, request):
    """knotd vs nsd: counts agreements and records disagreements; never fails on them.

    Where they disagree, named gets the same query as a third opinion (report only)."""
    rows = results.get(group, knotd, nsd)
    if group in stats["groups"]:
        return
    stats["groups"].add(group)
    report = []
    disagreeing = []
    for c, kv, nv, kn, nn in rows:
        stats["queries"] += 1
        if strict(kv) == strict(nv):
            stats["identical"] += 1
            stats["agree"] += 1
            continue
        if kn == nn:
            stats["agree"] += 1
            for rid in needed_rules(c, kv, nv):
                stats["absorbed"][rid] += 1
                # One example per query kind, so the report shows each shape once.
                ex = stats["absorbed_examples"].setdefault(rid, {})
                if c.kind not in ex and len(ex) < 8:
                    ex[c.kind] = show_diff(c, ("knotd", "nsd"), normalise(c, kv, skip=(rid,)),
                                           normalise(c, nv, skip=(rid,)))
            continue
        stats["disagree"] += 1
        key = diff_kind(kn, nn)
        d = stats["kinds"].setdefault(key, {"n": 0, "kinds": collections.Counter(),
                                            "example": c.desc, "named": collections.Counter()})
        d["n"] += 1
        d["kinds"][c.kind] += 1
        disagreeing.append((c, kn, nn, d))
    sides = _third_opinion(request, disagreeing)
    for (c, kn, nn, d), side in zip(disagreeing, sides):
        d["named"][side] += 1
        report.append(show_diff(c, ("knotd", "nsd"), kn, nn) + f"\n    named: {side}")
    with open(stats["report_path"], "a") as f:
        f.write(f"===== group {group}: {len(report)} knotd/nsd disagreements\n\n")
        for r in report:
            f.write(r + "\n\n")
        if len(stats["groups"]) == len(GROUPS):
            f.write("===== examples of differences absorbed by ALLOWED_DIFFERENCES "
                    "(shown without that one rule)\n\n")
            for rid, ex in stats["absorbed_examples"].items():
                f.write(f"=== {rid}: {stats['absorbed'][rid]} responses\n\n")
                for r in ex.values():
                    f.write(r + "\n\n")
    # The harness itself must work: well-formed queries get answers from both peers.
    silent = [c.desc for c, kv, nv, _, _ in rows if not c.meta.get("raw") and
              kv["response"] == "none" and nv["response"] == "none"]
    assert not silent, f"neither peer answered {len(silent)} queries, e.g. {silent[:5]}"


@pytest.mark.parametrize("group", GROUPS)
def test_understudy_matches_peers(group, knotd, nsd, results, stats, request):
    """understudy must answer like knotd and nsd wherever those two agree."""
    try:
        us = request.getfixturevalue("understudy")
    except pytest.skip.Exception as e:
        stats["us_skipped"] = str(e.msg if hasattr(e, "msg") else e)
        raise
    rows = results.get(group, knotd, nsd)
    answers = ask(us, [r[0] for r in rows])
    _check_alive(us)
    us.check_sanitizers()
    mismatches = []
    for (c, kv, nv, kn, nn), uw in zip(rows, answers):
        un = normalise(c, make_view(c, uw))
        if kn != nn:
            stats["us_on_disagreement"][
                "like knotd" if un == kn else "like nsd" if un == nn else "like neither"] += 1
            continue
        stats["us_compared"] += 1
        if un != kn:
            stats["us_mismatch"] += 1
            mismatches.append(show_diff(c, ("knotd=nsd", "understudy"), kn, un))
    if mismatches:
        shown = "\n\n".join(mismatches[:MAX_DIFFS])
        more = len(mismatches) - MAX_DIFFS
        pytest.fail(f"{len(mismatches)} of {len(rows)} answers differ from knotd and nsd "
                    f"in group {group}:\n\n{shown}"
                    + (f"\n\n... and {more} more" if more > 0 else ""), pytrace=False)
