#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# make_seeds: writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.
#
# Run with Debian's /usr/bin/python3 (it has dnspython). The output is deterministic, so seeds
# are committed and re-running this only rewrites them. Files it does not write, such as the
# crash-* reproducers, are left alone.

import base64
import os
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- packet: queries -------------------------------------------------------------------------


def query(qname, qtype="A", qclass="IN", edns=None, payload=1232, do=False, nsid=False, qid=0x2a2a,
          rd=True, options=None):
    opts = list(options or [])
    if nsid:
        opts.append(dns.edns.GenericOption(dns.edns.NSID, b""))
    # dnspython turns EDNS on when a payload is given, so "none" must be said with False.
    q = dns.message.make_query(qname, qtype, qclass,
                               use_edns=False if edns is None else edns, payload=payload,
                               want_dnssec=do, options=opts or None)
    q.id = qid
    if not rd:
        q.flags &= ~dns.flags.RD
    return q.to_wire()


def header(qid=0x2a2a, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def wname(text):
    return dns.name.from_text(text).to_wire()


def question(text, qtype=1, qclass=1):
    return wname(text) + struct.pack("!HH", qtype, qclass)


def opt_rr(payload=1232, ercode=0, version=0, do=False, rdata=b"", owner=b"\x00"):
    flags = 0x8000 if do else 0
    return owner + struct.pack("!HHBBHH", 41, payload, ercode, version, flags, len(rdata)) + rdata


def packet_seeds():
    names = [
        "example.com", "www.example.com", "WwW.ExAmPlE.CoM", "ns1.example.com", "mx.example.com",
        "_sip._tcp.example.com", "c1.example.com", "loop1.example.com", "self.example.com",
        "ext.example.com", "tochild.example.com", "todeleg.example.com", "todname.example.com",
        "tonx.example.com", "towild.example.com", "toent.example.com", "foo.wild.example.com",
        "real.wild.example.com", "a.b.wild.example.com", "x.cw.example.com",
        "x.wloop.example.com", "www.dn.example.com", "www.dnc.example.com",
        "a.grow.example.com", "a.dnself.example.com", "dn.example.com",
        "x" * 60 + ".long.example.com", "sub.example.com", "host.sub.example.com",
        "ns.sub.example.com", "child.example.com", "www.child.example.com",
        "up.child.example.com", "a.w.child.example.com", "x.deleg.child.example.com",
        "c.ent.example.com", "a.b.c.ent.example.com", "bigtxt.example.com", "many.example.com",
        "bigdeleg.example.com", "x.bigdeleg.example.com", "chain0.example.com",
        "chain20.example.com", "nothere.example.com", "example.net", "www.example.net",
        "example.org", ".", "a\\.b.example.com", "\\000\\255bin.example.com",
        "mixed.case.example.com",
    ]
    qtypes = ["A", "AAAA", "ANY", "MX", "NS", "SOA", "TXT", "CNAME", "DNAME", "DS", "SRV"]
    n = 0
    for i, name in enumerate(names):
        # Each name with two qtypes and a rotating EDNS setting keeps the corpus small.
        for j in range(2):
            qtype = qtypes[(i + j * 5) % len(qtypes)]
            k = (i + j) % 4
            if k == 0:
                wire = query(name, qtype)
            elif k == 1:
                wire = query(name, qtype, edns=0, payload=512, do=True)
            elif k == 2:
                wire = query(name, qtype, edns=0, payload=1232, nsid=True)
            else:
                wire = query(name, qtype, edns=0, payload=4096, do=True, nsid=True)
            write("packet", "q-%02d-%s-%s-e%d" % (i, name.replace("\\", "_")[:24].strip("."),
                                                   qtype, k), wire)
            n += 1

    # DS on the parent side of a cut, and answers whose additional section overflows.
    write("packet", "ds-child-apex", query("child.example.com", "DS", edns=0, do=True))
    write("packet", "ds-sub", query("sub.example.com", "DS"))
    write("packet", "ds-example-com", query("example.com", "DS"))
    write("packet", "mxbig-udp512", query("mxbig.example.com", "MX"))
    write("packet", "mxbig-edns", query("mxbig.example.com", "MX", edns=0, payload=1232))
    write("packet", "bigdeleg-udp512", query("www.bigdeleg.example.com", "A"))
    write("packet", "sip-glue-occluded", query("_sip._tcp.example.com", "SRV", edns=0))
    # A DNAME that keeps growing the name: truncated over UDP, YXDOMAIN over TCP.
    write("packet", "dname-grow-long", query("v" * 60 + "." + "w" * 60 + "." + "y" * 60 +
                                             ".grow.example.com", "TXT", edns=0))
    write("packet", "dname-long-yxdomain", query("z" * 50 + ".long.example.com", "A"))

    # EDNS sizes around the limits, and extended RCODE (BADVERS).
    for p in (0, 1, 511, 512, 513, 1231, 1232, 1233, 4096, 65535):
        write("packet", "edns-payload-%d" % p, query("bigtxt.example.com", "TXT", edns=0,
                                                      payload=p))
    write("packet", "edns-version1", header(ar=1) + question("www.example.com") +
          opt_rr(version=1))
    write("packet", "edns-two-opts", header(ar=2) + question("www.example.com") + opt_rr() +
          opt_rr())
    write("packet", "edns-opt-in-answer", header(an=1) + question("www.example.com") + opt_rr())
    write("packet", "edns-opt-owner", header(ar=1) + question("www.example.com") +
          opt_rr(owner=wname("example.com")))
    write("packet", "edns-opt-owner-ptr", header(ar=1) + question("www.example.com") +
          opt_rr(owner=b"\xc0\x1c"))
    write("packet", "edns-bad-option-len", header(ar=1) + question("www.example.com") +
          opt_rr(rdata=b"\x00\x03\x00\x09ab"))
    write("packet", "edns-option-trunc", header(ar=1) + question("www.example.com") +
          opt_rr(rdata=b"\x00\x03\x00"))
    write("packet", "edns-padding", query("many.example.com", "A", edns=0, payload=4096,
                                          options=[dns.edns.GenericOption(12, b"\0" * 400)]))
    write("packet", "edns-cookie-nsid", query("www.example.com", "A", edns=0, nsid=True,
                                              options=[dns.edns.GenericOption(10, b"c" * 8)]))

    # CHAOS.
    for name in ("version.bind", "version.server", "id.server", "hostname.bind", "authors.bind"):
        write("packet", "chaos-" + name, query(name, "TXT", "CH"))
    write("packet", "chaos-any", query("VERSION.BIND", "ANY", "CH", edns=0, nsid=True))
    write("packet", "chaos-a", query("id.server", "A", "CH"))

    # Other classes, opcodes and meta types.
    write("packet", "class-any", query("www.example.com", "A", "ANY"))
    write("packet", "class-none", header() + question("www.example.com", 1, 254))
    write("packet", "class-hs", query("www.example.com", "A", "HS"))
    for op, name in ((1, "iquery"), (2, "status"), (4, "notify"), (5, "update"), (15, "op15")):
        write("packet", "opcode-" + name, header(flags=op << 11) + question("example.com", 6))
    for t, name in ((252, "axfr"), (251, "ixfr"), (41, "opt"), (250, "tsig"), (0, "type0"),
                    (65535, "type65535"), (253, "mailb")):
        write("packet", "qtype-" + name, header() + question("example.com", t))
    # Transfer requests, which the server also reads with xfr_request_parse.
    expire = dns.edns.GenericOption(9, b"")
    write("packet", "xfr-axfr-expire", query("example.com", "AXFR", edns=0, options=[expire]))
    write("packet", "xfr-axfr-case", query("ExAmPlE.CoM", "AXFR", rd=False))
    write("packet", "xfr-axfr-child", query("child.example.com", "AXFR", edns=0))
    for serial, name in ((2024010101, "same"), (1, "old")):
        soa = b"\xc0\x0c" + struct.pack("!HHIH", 6, 1, 0, 22) + b"\x00\x00" + \
            struct.pack("!IIIII", serial, 0, 0, 0, 0)
        write("packet", "xfr-ixfr-" + name, header(ns=1, ar=1) + question("example.com", 251) +
              soa + opt_rr())
    write("packet", "xfr-ixfr-no-soa", header() + question("example.com", 251))
    write("packet", "flags-all", header(flags=0x7FFF) + question("www.example.com"))
    write("packet", "flags-cd-ad", header(flags=0x0130) + question("www.example.com"))

    # Signed zones (fuzz_signed.h) with DO: every kind of proof, and truncation of them.
    for zone in ("nsec.example", "optout.example", "secure.optout.example"):
        for rel, qtype in (("www", "A"), ("nx", "A"), ("a.nx", "TXT"), ("www", "MX"),
                           ("b.ent", "A"), ("x.wild", "A"), ("x.wild", "MX"), ("alias", "A"),
                           ("x.dn", "A"), ("www.insecure", "A"), ("www.remote", "A"),
                           ("insecure", "DS"), ("remote", "DS"), ("secure", "DS"),
                           ("www.secure", "A"), ("big", "TXT"), ("www", "RRSIG"),
                           ("@", "DNSKEY"), ("@", "NSEC3PARAM"), ("@", "ANY"), ("www", "NSEC")):
            name = zone if rel == "@" else rel + "." + zone
            write("packet", "do-%s-%s-%s" % (zone, rel, qtype),
                  query(name, qtype, edns=0, payload=512 if rel == "big" else 1232, do=True))
    write("packet", "do-nsec3-owner", query("l2tqehua37o5eju88f7d9clgee987m5d.optout.example",
                                            "NSEC3", edns=0, do=True))
    write("packet", "do-cd", header(flags=0x0110, ar=1) + question("nx.nsec.example") +
          opt_rr(do=True))

    # Malformed queries.
    good = query("www.example.com", "A", edns=0)
    write("packet", "bad-empty", b"")
    write("packet", "bad-short", good[:11])
    write("packet", "bad-header-only", good[:12])
    write("packet", "bad-qr", header(flags=0x8100) + question("www.example.com"))
    write("packet", "bad-qd0", header(qd=0))
    write("packet", "bad-qd2", header(qd=2) + question("www.example.com") +
          question("example.com"))
    write("packet", "bad-trunc-name", good[:20])
    write("packet", "bad-trunc-type", good[:12 + 17 + 2])
    write("packet", "bad-trunc-opt", good[:-3])
    write("packet", "bad-trailing", good + b"\x00junk")
    write("packet", "bad-qname-ptr", header() + b"\x03www\xc0\x0c\x00\x01\x00\x01")
    write("packet", "bad-label-0x40", header() + b"\x43abc\x00\x00\x01\x00\x01")
    write("packet", "bad-label-0x80", header() + b"\x83abc\x00\x00\x01\x00\x01")
    long_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + b"\x00"
    write("packet", "bad-name-256", header() + long_name + b"\x00\x01\x00\x01")
    max_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(3)) + b"\x3d" + b"a" * 61 + b"\x00"
    write("packet", "name-255", header() + max_name + b"\x00\x01\x00\x01")
    labels = b"\x01a" * 127 + b"\x00"
    write("packet", "name-127-labels", header() + labels + b"\x00\x01\x00\x01")
    # Records after the question: compressed, pointing forward, looping, truncated.
    q = question("www.example.com")
    rr_ok = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
    write("packet", "rr-answer-compressed", header(an=1) + q + rr_ok)
    write("packet", "rr-authority-soa", header(ns=1) + q + b"\xc0\x10" +
          struct.pack("!HHIH", 6, 1, 60, 22) + b"\x00\x00" + b"\x00" * 20)
    write("packet", "rr-ptr-forward", header(ar=1) + q + b"\xc0\x40" +
          struct.pack("!HHIH", 1, 1, 60, 0))
    write("packet", "rr-ptr-self", header(ar=1) + q + b"\xc0\x21" +
          struct.pack("!HHIH", 1, 1, 60, 0))
    write("packet", "rr-ptr-loop", header(ar=2) + q + b"\x01a\xc0\x23" +
          struct.pack("!HHIH", 1, 1, 0, 0) + b"\x01b\xc0\x21" + struct.pack("!HHIH", 1, 1, 0, 0))
    write("packet", "rr-rdlen-over", header(ar=1) + q + b"\x00" +
          struct.pack("!HHIH", 1, 1, 60, 200) + b"abc")
    write("packet", "rr-count-over", header(an=3) + q + rr_ok)
    write("packet", "rr-then-opt", header(an=1, ar=1) + q + rr_ok + opt_rr(do=True))
    write("packet", "rr-tsig-like", header(ar=1) + q + wname("key.example") +
          struct.pack("!HHIH", 250, 255, 0, 6) + b"\x00" * 6)
    # A DNS-over-TCP frame, length prefix and all, as a stray datagram.
    write("packet", "tcp-framed", struct.pack("!H", len(good)) + good)
    write("packet", "tcp-framed-2", struct.pack("!H", len(good)) + good +
          struct.pack("!H", len(good)) + good)
    # A big query: many records in the additional section.
    extra = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 0, 200) + b"\xc7" + b"t" * 199
                     for _ in range(20))
    write("packet", "big-query", header(ar=21) + q + extra + opt_rr(payload=65535))
    return n


# ---- zonefile ------------------------------------------------------------------------------

RICH_ZONE = r"""$ORIGIN example.com.
$TTL 3600
@	IN SOA	ns1 hostmaster (
		2024010101 ; serial
		3600 900 604800
		300 )
	NS	ns1
	NS	ns2.example.com.
	MX	10 mail
	TXT	"v=spf1 -all" "second string"
ns1	A	192.0.2.1
	AAAA	2001:db8::1
ns2	A	192.0.2.2
www	60 A	192.0.2.10
www	A	192.0.2.11
WwW	AAAA	2001:db8::10
mail	A	192.0.2.20
mx	MX	10 mail
	MX	20 mail2.example.com.
	MX	30 mx.example.net.
_sip._tcp SRV	0 5 5060 sip
sip	A	192.0.2.30
c1	CNAME	c2
c2	CNAME	www
loop1	CNAME	loop2
loop2	CNAME	loop1
*.wild	A	192.0.2.40
*.wild	TXT	"wild"
real.wild A	192.0.2.41
dn	DNAME	example.net.
grow	DNAME	x.grow
sub	NS	ns.sub
sub	NS	ns.elsewhere.example.net.
sub	DS	12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.sub	A	192.0.2.50
hidden.sub TXT	"occluded"
a.b.c.ent A	192.0.2.70
a\.b	TXT	"escaped dot"
\000bin	TXT	"binary label"
big	TXT	( "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789" )
gen	TYPE65280 \# 4 deadbeef
null	TYPE10	\# 0
ptr	PTR	www
"""

MIN_ZONE = """$ORIGIN example.com.
@ 300 IN SOA ns1.example.com. h.example.com. 1 2 3 4 5
@ 300 IN NS ns1
ns1 300 IN A 192.0.2.1
"""


def zonefile_seeds():
    write("zonefile", "ok-rich", RICH_ZONE)
    write("zonefile", "ok-min", MIN_ZONE)
    write("zonefile", "bad-crlf", MIN_ZONE.replace("\n", "\r\n"))
    write("zonefile", "ok-relative-origin", "@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n")
    write("zonefile", "ok-ns-out-of-zone",
          "@ SOA ns.example.net. h 1 2 3 4 5\n@ NS ns.example.net.\nwww CNAME www.example.net.\n")
    write("zonefile", "ok-apex-dname", "@ SOA ns.example.net. h 1 2 3 4 5\n@ NS ns.example.net.\n"
          "@ DNAME example.net.\n")
    write("zonefile", "bad-apex-dname", MIN_ZONE + "@ DNAME example.net.\n")
    write("zonefile", "ok-wildcard-cname", MIN_ZONE + "*.x CNAME a.x\n*.y DNAME y.example.net.\n"
          "*.z NS ns1\n* MX 0 .\n")
    write("zonefile", "ok-deleg-dname", MIN_ZONE + "d NS ns.d\nns.d A 192.0.2.9\nx.d DNAME .\n")
    write("zonefile", "bad-deleg-and-dname", MIN_ZONE + "d NS ns.d\nns.d A 192.0.2.9\n"
          "d DNAME z.example.com.\n")
    write("zonefile", "ok-long-names", MIN_ZONE + ".".join(["a" * 63] * 3) + " A 192.0.2.5\n" +
          "l DNAME " + ".".join(["b" * 63] * 3) + ".example.com.\n")
    write("zonefile", "ok-many-types", MIN_ZONE +
          "a AAAA ::1\nh HINFO cpu os\nl LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m\n"
          "s SSHFP 1 1 0123456789abcdef0123456789abcdef01234567\n"
          "t TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
          "c CAA 0 issue \"ca.example.net\"\n"
          "n NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp\n"
          "k DNSKEY 257 3 8 AwEAAag=\nk NSEC k.example.com. A NS SOA MX\n"
          "r RRSIG A 8 3 300 20300101000000 20200101000000 1 example.com. AAAA\n"
          "svc SVCB 1 . alpn=h2 port=443\nh HTTPS 1 . ipv4hint=192.0.2.1\n")
    write("zonefile", "ok-ttl-mismatch", MIN_ZONE + "w 10 A 192.0.2.1\nw 20 A 192.0.2.2\n")
    write("zonefile", "ok-duplicates", MIN_ZONE + "w A 192.0.2.1\nw A 192.0.2.1\n")
    write("zonefile", "ok-origin-change", MIN_ZONE + "$ORIGIN sub.example.com.\n@ NS ns1.example.com.\n"
          "$ORIGIN example.com.\nafter A 192.0.2.3\n")
    write("zonefile", "ok-empty-rdata", MIN_ZONE + "e TYPE999 \\# 0\ne TYPE999 \\# 1 00\n")
    write("zonefile", "ok-big-rrset", MIN_ZONE + "".join(
        "big TXT \"%03d%s\"\n" % (i, "x" * 200) for i in range(60)))
    # Broken zones.
    write("zonefile", "bad-empty", "")
    write("zonefile", "bad-comments-only", "; nothing\n;\n")
    write("zonefile", "bad-no-soa", "@ NS ns1\nns1 A 192.0.2.1\n")
    write("zonefile", "bad-no-ns", "@ SOA ns1 h 1 2 3 4 5\n")
    write("zonefile", "bad-two-soa", MIN_ZONE + "@ SOA ns2 h 2 2 3 4 5\n")
    write("zonefile", "bad-soa-below", MIN_ZONE + "x SOA ns1 h 1 2 3 4 5\n")
    write("zonefile", "bad-cname-other", MIN_ZONE + "c CNAME www\nc A 192.0.2.1\n")
    write("zonefile", "bad-two-cnames", MIN_ZONE + "c CNAME a\nc CNAME b\n")
    write("zonefile", "bad-two-dnames", MIN_ZONE + "d DNAME a.\nd DNAME b.\n")
    write("zonefile", "bad-below-dname", MIN_ZONE + "d DNAME example.net.\nx.d A 192.0.2.1\n")
    write("zonefile", "bad-ns-no-glue", MIN_ZONE + "sub NS ns.sub\n")
    write("zonefile", "bad-apex-ns-no-addr", "@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n")
    write("zonefile", "bad-out-of-zone", MIN_ZONE + "www.example.org. A 192.0.2.1\n")
    write("zonefile", "bad-class-ch", MIN_ZONE + "w CH TXT \"x\"\n")
    write("zonefile", "bad-meta-type", MIN_ZONE + "w TYPE250 \\# 0\nw TYPE41 \\# 0\n")
    write("zonefile", "bad-generic-a", MIN_ZONE + "w A \\# 3 010203\nw TYPE5 \\# 2 c00c\n")
    write("zonefile", "bad-generic-soa", MIN_ZONE + "@ TYPE6 \\# 3 000000\n")
    write("zonefile", "bad-syntax", MIN_ZONE + "www IN A 300.1.1.1\nx BOGUS y\n")
    write("zonefile", "bad-paren", MIN_ZONE + "w TXT ( \"unterminated\"\n")
    write("zonefile", "bad-ttl", "$TTL abc\n" + MIN_ZONE)
    write("zonefile", "bad-origin", "$ORIGIN relative\n" + MIN_ZONE)
    write("zonefile", "bad-label-long", MIN_ZONE + "a" * 64 + " A 192.0.2.1\n")
    write("zonefile", "bad-binary", bytes(range(256)))
    write("zonefile", "skip-include", MIN_ZONE + "$INCLUDE /dev/null\n")
    return 0


# ---- dname: two bytes of offset, then a packet; or the same bytes read as text --------------


def dname_seeds():
    def at(off, pkt):
        return struct.pack("!H", off) + pkt

    www = wname("www.example.com")
    write("dname", "plain", at(0, www))
    write("dname", "root", at(0, b"\x00"))
    write("dname", "compressed", at(len(www), www + b"\x03ftp\xc0\x04"))
    write("dname", "ptr-chain", at(22, www + b"\x01a\xc0\x00" + b"\xc0\x11"))
    write("dname", "ptr-self", at(0, b"\xc0\x00"))
    write("dname", "ptr-forward", at(0, b"\xc0\x02\x00"))
    write("dname", "ptr-loop", at(4, b"\x01a\xc0\x04\xc0\x00"))
    write("dname", "ptr-trunc", at(0, b"\x01a\xc0"))
    write("dname", "label-0x40", at(0, b"\x41a\x00"))
    write("dname", "label-0x80", at(0, b"\x81a\x00"))
    write("dname", "trunc-label", at(0, b"\x05ab"))
    write("dname", "no-root", at(0, b"\x01a"))
    write("dname", "offset-past-end", at(0xffff, www))
    max_name = b"".join(b"\x3f" + b"m" * 63 for _ in range(3)) + b"\x3d" + b"m" * 61 + b"\x00"
    write("dname", "len-255", at(0, max_name))
    write("dname", "len-256", at(0, max_name[:-1] + b"\x01x\x00"))
    write("dname", "labels-127", at(0, b"\x01a" * 127 + b"\x00"))
    write("dname", "labels-128", at(0, b"\x01a" * 128 + b"\x00"))
    # Compression that only reaches 256 bytes through a pointer.
    half = b"".join(b"\x3f" + b"h" * 63 for _ in range(2)) + b"\x00"
    write("dname", "ptr-too-long", at(len(half), half + b"".join(b"\x3f" + b"k" * 63
                                                                 for _ in range(2)) + b"\xc0\x00"))
    write("dname", "special-bytes", at(0, b"\x0a\x00.\\\" ();@$\x08\x7f\xff A\tz.~\x00"))
    write("dname", "all-bytes", at(0, b"".join(bytes([63]) + bytes(range(i, i + 63))
                                               for i in (0, 63, 126)) + b"\x00"))
    write("dname", "mixed-case", at(0, wname("WwW.ExAmPlE.CoM")))
    # Text forms (the first two bytes also pick an offset, but the text is what matters).
    for i, t in enumerate(["example.com", "example.com.", ".", "a\\.b.c", "\\000\\255.x",
                           "\\065\\066\\067", "a..b", "trailing\\", "..", "\\999.x",
                           "@.$.(.)", "a" * 63 + ".b", "a" * 64, ".".join(["c" * 63] * 4),
                           "\\" + "\\" * 10, "x\\.\\.\\..", "sp\\ ace.tab\\009"]):
        write("dname", "text-%02d" % i, t)
    return 0


def rrl_seeds():
    # Six bytes of parameters (rate, slip, v4 bits, v6 bits, workers, track | size), then
    # pairs (op, account): op >= 0xF0 steps the clock, op & 0x80 ticks after the decision.
    def prog(params, ops):
        return bytes(params) + b"".join(bytes(o) for o in ops)
    flood = [(0x00, 1)] * 40 + [(0x80, 1)] + [(0xF1, 0)] + [(0x81, 1)] * 30 + [(0xF3, 0)] + \
        [(0x80, 2)]
    write("rrl", "one-account", prog([10, 2, 24, 56, 0, 0x14], flood))
    spread = [(w, 5) for w in range(4)] * 30 + [(0x80, 5), (0xF1, 0), (0x83, 5)]
    write("rrl", "four-workers", prog([20, 1, 24, 56, 3, 0x38], spread))
    crowd = [(i % 4 | (0x80 if i % 7 == 0 else 0), i % 64) for i in range(400)]
    write("rrl", "crowd-small-table", prog([5, 0, 16, 48, 1, 0x08], crowd))
    jumps = [(0x00, 3)] * 20 + [(0xFF, 200)] + [(0x80, 3)] * 20 + [(0xFE, 9)] + [(0x80, 3)] * 9
    write("rrl", "clock-jumps", prog([4, 3, 32, 128, 2, 0x75], jumps))


def cookie_seeds():
    # flags (bit 0: a previous secret, bit 1: IPv6 client), secret, client address, time,
    # then the query.
    head = bytes([1]) + bytes(range(16)) + bytes([192, 0, 2, 7]) + bytes(12) + \
        struct.pack("!I", 1700000000)
    head6 = bytes([2]) + bytes(range(16, 32)) + bytes.fromhex("20010db8" + "00" * 11 + "35") + \
        struct.pack("!I", 1559731985)
    def q(opts, name="www.example.com"):
        m = dns.message.make_query(name, "A", use_edns=0, payload=1232,
                                   options=[dns.edns.GenericOption(10, o) for o in opts])
        return m.to_wire()
    cc = bytes(range(8))
    write("cookie", "client-only", head + q([cc]))
    write("cookie", "client-only-v6", head6 + q([cc]))
    write("cookie", "with-server", head + q([cc + bytes.fromhex("010000006553f1001122334455667788")]))
    write("cookie", "server-32", head + q([cc + bytes(32)]))
    write("cookie", "len-7", head + q([cc[:7]]))
    write("cookie", "len-9", head + q([cc + b"x"]))
    write("cookie", "len-41", head + q([cc + bytes(33)]))
    write("cookie", "two-options", head + q([cc, cc + bytes(16)]))
    write("cookie", "no-cookie", head + q([]))
    write("cookie", "not-a-query", head + b"\x00" * 11)


def conf_seeds():
    with open(os.path.join(HERE, "..", "..", "etc", "understudy.yaml"), "rb") as f:
        write("conf", "example", f.read())
    write("conf", "defences", """server:
  listen: ["127.0.0.1@5300", "::1@5300"]
  rrl: {rate-limit: 200, slip: 2, whitelist: [127.0.0.0/8, "::1"], ipv4-prefix-length: 24,
        ipv6-prefix-length: 56, table-size: 65536}
  cookies: true
  cookie-secret: [00112233445566778899aabbccddeeff, 0xffeeddccbbaa99887766554433221100]
  block: [192.0.2.0/24, 2001:db8::/32]
  notify-rate-limit: 0
  transfer-rate-limit: 10
  transfers-out: 4
  transfers-out-per-address: 1
  tcp-io-timeout: 500
  tcp-max-clients-per-address: 20
keys:
  - {id: k1, algorithm: hmac-sha256, secret: "c2VjcmV0"}
remotes:
  - {id: pri, address: ["192.0.2.1@53"], key: k1}
acls:
  - {id: xfr, address: [192.0.2.0/24], key: k1, action: [transfer, notify]}
zones:
  - {domain: example.com, file: "/dev/null", acl: [xfr]}
  - {domain: example.net, role: secondary, primaries: [pri]}
""")
    write("conf", "bad-rrl", "server:\n  rrl: {slip: -1, whitelist: [192.0.2.1/24]}\n"
          "  cookie-secret: [aa, bb, cc]\n  block: nope/33\n")
    write("conf", "rrl-no-rate", "server:\n  rrl: {slip: 1}\n  cookies: maybe\n")
    write("conf", "catalog", "zones:\n  - {domain: a.example, file: /a, catalog-zone: cat}\n"
          "  - {domain: cat, catalog-role: producer}\n"
          "  - {domain: b.example, file: /b, catalog-zone: cat, catalog-group: blue}\n"
          "  - {domain: c, catalog-role: consumer, catalog-zone: c, catalog-group: \"\"}\n"
          "  - {domain: d, catalog-zone: a.example}\n")
    write("conf", "catalog-consumer", "remotes:\n  - {id: p, address: 192.0.2.1}\n"
          "templates:\n  - {id: default, primaries: p}\n  - {id: blue, primaries: p, "
          "file: \"/z/%s\"}\n  - {id: none}\n"
          "zones:\n  - {domain: c1, role: secondary, primaries: p, catalog-role: consumer}\n"
          "  - {domain: c2, role: secondary, primaries: p, catalog-role: consumer, "
          "catalog-template: [blue, default, none, nope]}\n"
          "  - {domain: c3, catalog-role: consumer, catalog-template: blue}\n")
    write("conf", "anchors", "a: &x [1]\nb: *x\n")
    write("conf", "deep", "[" * 40 + "]" * 40)
    write("conf", "empty", "")


def ctl_seeds():
    for i, line in enumerate(["rrl", "rrl rate-limit 50", "rrl slip 0", "rrl slip 101",
                              "rrl ipv4-prefix-length 16", "rrl ipv6-prefix-length 129",
                              "rrl whitelist add 192.0.2.0/24", "rrl whitelist remove 10.0.0.0/8",
                              "rrl whitelist add 2001:db8::1", "block", "block 198.51.100.0/24",
                              "block 198.51.100.1/24", "unblock 198.51.100.0/24",
                              "limits", "limits transfers-out 3", "limits notify-rate-limit 0",
                              "cookie-rotate", "cookie-rotate 00112233445566778899aabbccddeeff",
                              "cookie-rotate 0x00", "rrl   rate-limit\t7", "status",
                              "a b c d e f g h i j k"]):
        write("ctl", "cmd-%02d" % i, line + "\n")
    write("ctl", "no-newline", "rrl rate-limit 9")
    write("ctl", "nul", "rrl\0 slip 1\n")
    write("ctl", "long", "block " + "1" * 2000 + "\n")
    write("ctl", "empty", "")


def tsig_seeds():
    import dns.tsig
    import dns.tsigkeyring
    keys = [("k1.", b"0123456789abcdef0123456789abcdef", dns.tsig.HMAC_SHA256),
            ("k2.example.", b"another secret, of another size", dns.tsig.HMAC_MD5),
            ("k3.", b"0123456789abcdef0", dns.tsig.HMAC_SHA512)]
    for i, (name, secret, alg) in enumerate(keys):
        key = dns.tsig.Key(name, base64.b64encode(secret).decode(), alg)
        m = dns.message.make_query("example.com", "SOA")
        m.use_tsig(key)
        write("tsig", "signed-%d" % i, bytes([i]) + m.to_wire())
        # The same, read as a stream of one length-prefixed message.
        w = m.to_wire()
        write("tsig", "stream-%d" % i, bytes([i]) + struct.pack("!H", len(w)) + w)
    write("tsig", "unsigned", bytes([0]) + dns.message.make_query("example.com", "A").to_wire())
    bad = bytearray(dns.message.make_query("example.com", "A").to_wire())
    write("tsig", "trailing", bytes([1]) + bytes(bad) + b"\x00")


# ---- catalog: records of a catalog zone (see fuzz_catalog.c for the layout) ------------------


def cat_rr(prefix, sel, rdata):
    labels = b"".join(bytes([len(l)]) + l.encode() for l in prefix.split(".") if l)
    return bytes([len(labels)]) + labels + bytes([sel, len(rdata)]) + rdata


def catalog_seeds():
    ptr, txt, a = 0, 1, 2
    member = lambda i, name: cat_rr("m%d.zones" % i, ptr, wname(name))
    write("catalog", "empty", b"\x01")
    write("catalog", "no-version", b"\x00" + member(1, "example.com"))
    write("catalog", "members", b"\x01" + member(1, "Example.COM") + member(2, "example.net") +
          cat_rr("group.m1.zones", txt, b"\x04blue") + cat_rr("coo.m2.zones", ptr,
                                                               wname("other.catalog")))
    write("catalog", "two-ptrs", b"\x01" + member(1, "a.example") + member(1, "b.example"))
    write("catalog", "two-coo", b"\x01" + member(1, "a.example") +
          cat_rr("coo.m1.zones", ptr, wname("x")) + cat_rr("coo.m1.zones", ptr, wname("y")))
    write("catalog", "duplicates", b"\x01" + member(3, "dup.example") + member(1, "DUP.example") +
          member(2, "dup.example"))
    write("catalog", "self", b"\x01" + member(1, "catalog.example"))
    write("catalog", "wrong-types", b"\x01" + cat_rr("t.zones", txt, b"\x0bexample.com") +
          cat_rr("a.zones", a, b"\xc0\x00\x02\x01") + cat_rr("x.deep.zones", ptr,
                                                               wname("deep.example")))
    write("catalog", "bad-version", b"\x00" + cat_rr("version", txt, b"\x011") +
          member(1, "example.com"))
    write("catalog", "two-versions", b"\x01" + cat_rr("version", txt, b"\x013"))
    write("catalog", "groups", b"\x01" + member(1, "g.example") +
          cat_rr("group.m1.zones", txt, b"\x02zz") + cat_rr("group.m1.zones", txt, b"\x02aa") +
          cat_rr("group.m1.zones", txt, b"") + cat_rr("group.m1.zones", txt, b"\x03a\x00b"))
    write("catalog", "long-id", b"\x01" + member(1, "x") +
          cat_rr("i" * 63 + ".zones", ptr, wname("long.example")))
    write("catalog", "many", b"\x01" + b"".join(member(i, "z%d.example" % i) for i in range(70)))
    write("catalog", "long-member", b"\x01" + member(1, ".".join(["a" * 60] * 4)))


def main():
    n = packet_seeds()
    cookie_seeds()
    conf_seeds()
    ctl_seeds()
    tsig_seeds()
    zonefile_seeds()
    dname_seeds()
    rrl_seeds()
    catalog_seeds()
    total = sum(len(files) for _, _, files in os.walk(CORPUS))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(CORPUS)
               for f in files)
    print("make_seeds: %d files (%d name queries), %d bytes in %s" % (total, n, size, CORPUS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
