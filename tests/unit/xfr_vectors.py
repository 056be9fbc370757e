#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""xfr_vectors: AXFR and IXFR response streams rendered by dnspython, an implementation
independent of ours, for tests/unit/test_xfr.c and as seeds for tests/fuzz/fuzz_xfr.c.

Every stream is framed as on TCP: each message behind its 2-byte length. The responses answer
queries for example.com with ID 0x1234; IXFR queries carry serial 1, the serial of BASE.

Run with Debian's /usr/bin/python3 (it has dnspython) from the repository root:
    /usr/bin/python3 tests/unit/xfr_vectors.py
It rewrites tests/unit/xfr_vectors.h (formatted with clang-format) and tests/fuzz/corpus/xfr/*.
"""
import os
import shutil
import struct
import subprocess

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

ORIGIN = dns.name.from_text("example.com.")
QID = 0x1234

BASE = """\
@ 3600 SOA ns1 hostmaster 1 7200 3600 1209600 300
@ 3600 NS ns1
@ 3600 NS ns2.example.net.
@ 3600 MX 10 mail
ns1 3600 A 192.0.2.53
www 300 A 192.0.2.80
mail 3600 A 192.0.2.25
_sip._udp 3600 SRV 0 5 5060 www
old 300 TXT "gone in serial 2"
"""

# Serial 1 -> 2 -> 3, each (old SOA, deletions, new SOA, additions).
DIFFS = [
    ("""@ 3600 SOA ns1 hostmaster 1 7200 3600 1209600 300
www 300 A 192.0.2.80
old 300 TXT "gone in serial 2"
""", """@ 3600 SOA ns1 hostmaster 2 7200 3600 1209600 300
www 300 A 192.0.2.81
new 300 TXT "new in serial 2"
"""),
    ("""@ 3600 SOA ns1 hostmaster 2 7200 3600 1209600 300
mail 3600 A 192.0.2.25
""", """@ 3600 SOA ns1 hostmaster 3 7200 3600 1209600 300
mail 3600 A 192.0.2.26
mail 3600 AAAA 2001:db8::25
sub 3600 NS ns.sub
ns.sub 3600 A 192.0.2.99
"""),
]

FINAL = """\
@ 3600 SOA ns1 hostmaster 3 7200 3600 1209600 300
@ 3600 NS ns1
@ 3600 NS ns2.example.net.
@ 3600 MX 10 mail
ns1 3600 A 192.0.2.53
www 300 A 192.0.2.81
mail 3600 A 192.0.2.26
mail 3600 AAAA 2001:db8::25
_sip._udp 3600 SRV 0 5 5060 www
new 300 TXT "new in serial 2"
sub 3600 NS ns.sub
ns.sub 3600 A 192.0.2.99
"""


def records(text):
    """One single-record RRset per line, in order (IXFR repeats the SOA, so no merging)."""
    out = []
    for line in text.splitlines():
        owner, ttl, rtype, rdata = line.split(None, 3)
        name = ORIGIN if owner == "@" else dns.name.from_text(owner, ORIGIN)
        rd = dns.rdata.from_text("IN", rtype, rdata, origin=ORIGIN, relativize=False)
        out.append(dns.rrset.from_rdata(name, int(ttl), rd))
    return out


def message(qtype, rrs, question=True, expire=None):
    m = dns.message.Message(id=QID)
    m.flags = dns.flags.QR | dns.flags.AA
    if question:
        m.find_rrset(m.question, ORIGIN, dns.rdataclass.IN, qtype, create=True,
                     force_unique=True)
    for rr in rrs:
        m.answer.append(rr)
    if expire is not None:
        m.use_edns(0, 0, 1232, options=[dns.edns.GenericOption(9, struct.pack("!I", expire))])
    return m.to_wire()


def stream(msgs):
    return b"".join(struct.pack("!H", len(w)) + w for w in msgs)


def axfr_stream():
    rrs = records(BASE)
    soa = rrs[0]
    # Two messages: compression restarts in the second, which has no question.
    return stream([
        message(dns.rdatatype.AXFR, rrs[:5], expire=3600),
        message(dns.rdatatype.AXFR, rrs[5:] + [soa], question=False),
    ])


def ixfr_stream():
    final_soa = records(FINAL)[0]
    first = [final_soa]
    for old, new in DIFFS:
        first += records(old) + records(new)
    first.append(final_soa)
    # The first diff in one message, the rest in a second with the question copied.
    cut = 1 + len(records(DIFFS[0][0])) + len(records(DIFFS[0][1]))
    return stream([
        message(dns.rdatatype.IXFR, first[:cut], expire=7200),
        message(dns.rdatatype.IXFR, first[cut:]),
    ])


def ixfr_uptodate():
    return stream([message(dns.rdatatype.IXFR, records(BASE)[:1])])


def ixfr_axfr_style():
    rrs = records(FINAL)
    return stream([message(dns.rdatatype.IXFR, rrs + rrs[:1])])


def with_zonemd(text, serial, broken=False):
    """The zone text with an apex ZONEMD (SHA-384) that dnspython computed, wrong if broken."""
    import dns.zone
    z = dns.zone.from_text(text, origin=ORIGIN, relativize=False)
    md = z.compute_digest(dns.zone.DigestHashAlgorithm.SHA384)
    digest = md.digest.hex()
    if broken:
        digest = ("00" if digest[:2] != "00" else "11") + digest[2:]
    return text + f"@ 3600 ZONEMD {serial} 1 1 {digest}\n"


def zonemd_seeds():
    """Fuzz seeds only (not in the header): an AXFR of BASE with its ZONEMD, one with a wrong
    digest, and an IXFR 1 -> 2 that brings serial 2's ZONEMD."""
    def axfr(text):
        rrs = records(text)
        return stream([message(dns.rdatatype.AXFR, rrs + rrs[:1])])
    base = with_zonemd(BASE, 1)
    old, new = DIFFS[0]
    removed, added = old.splitlines()[1:], new.splitlines()[1:]
    two = [new.splitlines()[0]] + [ln for ln in BASE.splitlines()[1:] if ln not in removed]
    two = "".join(ln + "\n" for ln in two + added)
    zonemd_two = with_zonemd(two, 2).splitlines()[-1]
    final_soa = records(new)[0]
    diff = records(old) + records(new) + records(zonemd_two + "\n")
    return {
        "axfr_zonemd": axfr(base),
        "axfr_zonemd_broken": axfr(with_zonemd(BASE, 1, broken=True)),
        "ixfr_zonemd": stream([message(dns.rdatatype.IXFR, [final_soa] + diff + [final_soa])]),
    }


def c_array(name, data):
    lines = []
    for i in range(0, len(data), 12):
        lines.append("\t" + " ".join("0x%02x," % b for b in data[i:i + 12]))
    return "static const uint8_t %s[%d] = {\n%s\n};\n" % (name, len(data), "\n".join(lines))


def c_string(name, text):
    body = "".join('    "%s\\n"\n' % line.replace('"', '\\"') for line in text.splitlines())
    return "static const char %s[] =\n%s;\n" % (name, body.rstrip("\n"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    vectors = {
        "axfr": axfr_stream(),
        "ixfr": ixfr_stream(),
        "ixfr_uptodate": ixfr_uptodate(),
        "ixfr_axfr_style": ixfr_axfr_style(),
    }
    out = [
        "/* SPDX-License-Identifier: MIT */",
        "/* xfr_vectors: transfer streams rendered by dnspython; generated by xfr_vectors.py. */",
        "#pragma once",
        "",
        "#include <stdint.h>",
        "",
        "/* Responses to queries for example.com with ID 0x1234; IXFR from serial 1. Each",
        " * message is framed by its 2-byte length, as on TCP. */",
        "#define XFR_VEC_ID 0x1234",
        "",
        c_string("xfr_vec_base_zone", BASE),
        c_string("xfr_vec_final_zone", FINAL),
    ]
    for name, data in vectors.items():
        out.append(c_array("xfr_vec_" + name, data))
    header = os.path.join(here, "xfr_vectors.h")
    with open(header, "w") as f:
        f.write("\n".join(out))
    # The header is committed, so it follows the tree's format (make format-check).
    if shutil.which("clang-format"):
        subprocess.run(["clang-format", "-i", header], check=True, cwd=root)
    corpus = os.path.join(root, "tests", "fuzz", "corpus", "xfr")
    os.makedirs(corpus, exist_ok=True)
    for name, data in list(vectors.items()) + list(zonemd_seeds().items()):
        with open(os.path.join(corpus, name.replace("_", "-")), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
