#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""TSIG test vectors from dnspython, for tests/unit/test_tsig.c.

    /usr/bin/python3 tests/unit/tsig_vectors.py > tests/unit/tsig_vectors.h
        prints a C header with messages signed by dnspython at a fixed time: for each
        algorithm a signed query and the signed response to it, a zone transfer stream with
        unsigned messages between signed ones, and a signed BADTIME response. Each is first
        checked with dnspython itself.

    /usr/bin/python3 tests/unit/tsig_vectors.py --check FILE
        checks with dnspython the messages that test_tsig signed in C and wrote to FILE when
        run with TSIG_DUMP=FILE (lines: kind key-name algorithm secret-hex now wire-hex
        [request-mac-hex]).

Needs Debian's python3-dnspython (2.x); the time is fixed by replacing time.time, which is
what dnspython's message signing and checking read.
"""

import struct
import sys
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.version
import dns.wire

NOW = 1700000000
FUDGE = 300

# (C enum name, dnspython algorithm, key name, secret length); the mixed-case key names check
# that both sides digest the canonical (lower-cased) name, and "k.example.com." lets dnspython
# compress the TSIG owner against the question, which C must parse.
ALGS = [
    ("TSIG_HMAC_MD5", dns.tsig.HMAC_MD5, "Understudy-Key.", 16),
    ("TSIG_HMAC_SHA1", dns.tsig.HMAC_SHA1, "understudy-key.", 20),
    ("TSIG_HMAC_SHA224", dns.tsig.HMAC_SHA224, "k.example.com.", 28),
    ("TSIG_HMAC_SHA256", dns.tsig.HMAC_SHA256, "understudy-key.", 32),
    ("TSIG_HMAC_SHA384", dns.tsig.HMAC_SHA384, "UNDERSTUDY-key.", 48),
    ("TSIG_HMAC_SHA512", dns.tsig.HMAC_SHA512, "understudy-key.", 64),
]


def fixed_time(t):
    time.time = lambda: float(t)


def secret_for(i, n):
    return bytes((i * 37 + j * 11 + 5) & 0xFF for j in range(n))


def c_bytes(name, data):
    lines = []
    for i in range(0, len(data), 12):
        lines.append("\t" + " ".join("0x%02x," % b for b in data[i : i + 12]))
    return "static const uint8_t %s[%d] = {\n%s\n};\n" % (name, len(data), "\n".join(lines))


def query_and_response(key, qname, qtype, with_edns):
    fixed_time(NOW)
    q = dns.message.make_query(qname, qtype, use_edns=0 if with_edns else None)
    q.id = 0x4242
    q.use_tsig(key, fudge=FUDGE)
    qwire = q.to_wire()
    parsed = dns.message.from_wire(qwire, keyring=key)  # checks it, and sets had_tsig
    r = dns.message.make_response(parsed)
    return qwire, parsed, r


def vector_pair(i, key):
    qwire, parsed, r = query_and_response(key, "www.example.com.", "A", i % 2 == 0)
    r.flags |= dns.flags.AA
    a = dns.rrset.from_text("www.example.com.", 3600, "IN", "A", "192.0.2.%d" % (i + 1))
    r.answer.append(a)
    rwire = r.to_wire()
    dns.message.from_wire(rwire, keyring=key, request_mac=parsed.mac)
    return qwire, rwire


def stream(key):
    """A request and the messages of a transfer: S U U U S S (S signed, U unsigned)."""
    qwire, parsed, _ = query_and_response(key, "example.com.", "AXFR", False)
    msgs = []
    ctx = None
    layout = "SUUUSS"
    for n, kind in enumerate(layout):
        m = dns.message.Message(id=parsed.id)
        m.flags = dns.flags.QR | dns.flags.AA
        if n == 0:
            m.question = list(parsed.question)
        txt = dns.rrset.from_text("r%d.example.com." % n, 300, "IN", "TXT", '"part %d"' % n)
        m.answer.append(txt)
        if kind == "U":
            w = m.to_wire()
            ctx.update(w)  # what a signer owes an unsigned message (RFC 8945 5.3.1)
        elif n == 0:
            m.use_tsig(key, fudge=FUDGE)
            m.request_mac = parsed.mac
            w = m.to_wire(multi=True)
            ctx = m.tsig_ctx
        else:
            m.use_tsig(key, fudge=FUDGE)
            w = m.to_wire(multi=True, tsig_ctx=ctx)
            ctx = m.tsig_ctx
        msgs.append(w)
    # dnspython reads it back as a client would.
    ctx = None
    for n, w in enumerate(msgs):
        m = dns.message.from_wire(
            w, keyring=key, request_mac=parsed.mac, xfr=True, tsig_ctx=ctx, multi=True
        )
        assert m.had_tsig == (layout[n] == "S")
        ctx = m.tsig_ctx
    return qwire, msgs


def badtime(key, server_now):
    """The signed BADTIME answer to a request: time signed from the request, ours in Other."""
    qwire, parsed, _ = query_and_response(key, "example.com.", "SOA", False)
    r = dns.message.make_response(parsed, tsig_error=dns.rcode.BADTIME)
    r.set_rcode(dns.rcode.NOTAUTH)
    r.use_tsig(
        key,
        fudge=FUDGE,
        tsig_error=dns.rcode.BADTIME,
        other_data=struct.pack("!HI", server_now >> 32, server_now & 0xFFFFFFFF),
    )
    fixed_time(NOW)  # dnspython signs with time.time(): the request's time
    rwire = r.to_wire()
    check_badtime(rwire, key, parsed.mac)
    return qwire, rwire


def tsig_rr(wire):
    """The offset and rdata of the TSIG RR, the last record of the message."""
    p = dns.wire.Parser(wire)
    (_, _, qd, an, ns, ar) = p.get_struct("!HHHHHH")
    for _ in range(qd):
        p.get_name()
        p.get_struct("!HH")
    for _ in range(an + ns + ar - 1):
        p.get_name()
        rdlen = p.get_struct("!HHIH")[3]
        p.seek(p.current + rdlen)
    start = p.current
    p.get_name()
    (rdtype, rdclass, _, rdlen) = p.get_struct("!HHIH")
    assert rdtype == dns.rdatatype.TSIG
    with p.restrict_to(rdlen):
        rd = dns.rdata.from_wire_parser(rdclass, rdtype, p)
    return start, rd


def check_badtime(wire, key, request_mac):
    """dnspython reports BADTIME without checking the MAC: check it the way it checks others."""
    try:
        dns.message.from_wire(wire, keyring=key, request_mac=request_mac)
        raise AssertionError("dnspython accepted a BADTIME response")
    except dns.tsig.PeerBadTime:
        pass
    start, rd = tsig_rr(wire)
    assert rd.error == dns.rcode.BADTIME and len(rd.other) == 6
    (ar,) = struct.unpack("!H", wire[10:12])
    unsigned = wire[0:10] + struct.pack("!H", ar - 1) + wire[12:start]
    dns.tsig._digest(unsigned, key, rd, None, request_mac).verify(rd.mac)


def generate():
    out = [
        "/* SPDX-License-Identifier: MIT */",
        "/* tsig_vectors: messages signed by dnspython %s; generated by tsig_vectors.py. */"
        % dns.version.version,
        "#pragma once",
        "/* clang-format off */",
        "",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        "#define TSIG_VEC_NOW   %dULL" % NOW,
        "#define TSIG_VEC_FUDGE %d" % FUDGE,
        "",
        "typedef struct tsig_vec {",
        "\tint alg; /* tsig_alg_t */",
        "\tconst char *key_name;",
        "\tconst uint8_t *secret;",
        "\tsize_t secret_len;",
        "\tconst uint8_t *query; /* signed, id 0x4242 */",
        "\tsize_t query_len;",
        "\tconst uint8_t *response; /* signed with the query's MAC */",
        "\tsize_t response_len;",
        "} tsig_vec_t;",
        "",
        "typedef struct tsig_vec_msg {",
        "\tconst uint8_t *wire;",
        "\tsize_t len;",
        "\tint is_signed;",
        "} tsig_vec_msg_t;",
        "",
    ]
    rows = []
    for i, (cname, alg, kname, slen) in enumerate(ALGS):
        secret = secret_for(i, slen)
        key = dns.tsig.Key(kname, secret, alg)
        qwire, rwire = vector_pair(i, key)
        tag = cname.lower()
        out.append(c_bytes(tag + "_secret", secret))
        out.append(c_bytes(tag + "_query", qwire))
        out.append(c_bytes(tag + "_response", rwire))
        rows.append(
            "\t{%s, \"%s\", %s_secret, sizeof(%s_secret), %s_query, sizeof(%s_query),\n"
            "\t %s_response, sizeof(%s_response)},"
            % (cname, kname, tag, tag, tag, tag, tag, tag)
        )
    out.append("static const tsig_vec_t tsig_vecs[] = {\n%s\n};\n" % "\n".join(rows))

    # The stream and the BADTIME answer use the hmac-sha256 key.
    cname, alg, kname, slen = ALGS[3]
    key = dns.tsig.Key(kname, secret_for(3, slen), alg)
    qwire, msgs = stream(key)
    out.append("/* A zone transfer with hmac-sha256: signed, 3 unsigned, signed, signed. */")
    out.append(c_bytes("stream_query", qwire))
    for n, w in enumerate(msgs):
        out.append(c_bytes("stream_%d" % n, w))
    out.append(
        "static const tsig_vec_msg_t stream_msgs[] = {\n%s\n};\n"
        % "\n".join(
            "\t{stream_%d, sizeof(stream_%d), %d}," % (n, n, "SUUUSS"[n] == "S")
            for n in range(len(msgs))
        )
    )
    server_now = NOW + 1000
    qwire, rwire = badtime(key, server_now)
    out.append("/* A BADTIME answer with hmac-sha256, from a server whose clock says this: */")
    out.append("#define TSIG_VEC_BADTIME_NOW %dULL" % server_now)
    out.append(c_bytes("badtime_query", qwire))
    out.append(c_bytes("badtime_response", rwire))
    out.append("/* clang-format on */")
    sys.stdout.write("\n".join(out) + "\n")


def check(path):
    """Validates with dnspython the messages test_tsig signed in C."""
    algs = {a[0]: a[1] for a in ALGS}
    n = 0
    ctxs = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            kind, kname, alg, secret, now, wire = fields[:6]
            request_mac = bytes.fromhex(fields[6]) if len(fields) > 6 else b""
            key = dns.tsig.Key(kname, bytes.fromhex(secret), algs[alg])
            fixed_time(int(now))
            wire = bytes.fromhex(wire)
            if kind in ("query", "response"):
                m = dns.message.from_wire(wire, keyring=key, request_mac=request_mac)
                assert m.had_tsig, line
            elif kind.startswith("stream"):
                # stream-first / stream-next: one transfer, in order.
                ctx = None if kind == "stream-first" else ctxs[kname]
                m = dns.message.from_wire(
                    wire, keyring=key, request_mac=request_mac, xfr=True, tsig_ctx=ctx, multi=True
                )
                ctxs[kname] = m.tsig_ctx
            elif kind == "badtime":
                check_badtime(wire, key, request_mac)
            else:
                raise AssertionError("unknown kind " + kind)
            n += 1
    print("dnspython %s accepted all %d C-signed messages" % (dns.version.version, n))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        generate()
