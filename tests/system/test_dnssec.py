# SPDX-License-Identifier: MIT
"""test_dnssec: signed zones served so that a real validator accepts every answer.

The zones are signed in the test (signzones.py) with NSEC, NSEC3 with salt and iterations,
and NSEC3 opt-out. delv, with the test's own trust anchors, validates positive answers,
NXDOMAIN, NODATA, wildcard and wildcard-NODATA answers, DS present and absent, and a signed
child served by the same server. Referrals are not something delv accepts from the server it
asks (it wants a resolver), so their DS or no-DS proofs are checked here with dnspython:
signatures by dns.dnssec.validate, the NSEC/NSEC3 logic by hand (RFC 4035 5.2, RFC 5155 8).
"""

import base64
import shutil
import subprocess

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest

import servers
import signzones

T = dns.rdatatype
ORIGINS = [o for o, _ in signzones.VARIANTS]

pytestmark = pytest.mark.skipif(signzones.available() is not None,
                                reason=str(signzones.available()))


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    return signzones.make(tmp_path_factory.mktemp("dnssec"))


@pytest.fixture(scope="module")
def us(tmp_path_factory, signed, understudy_binary):
    srv = servers.Understudy(tmp_path_factory.mktemp("us-dnssec"), zones=signed.zones,
                             binary=understudy_binary)
    srv.start()
    yield srv
    srv.stop()


def delv(srv, signed, zone, name, rdtype):
    if shutil.which("delv") is None:
        pytest.skip("delv not installed (Debian bind9-dnsutils)")
    p = subprocess.run(["delv", "@" + srv.addr, "-p", str(srv.port), "-a",
                        str(signed.anchor_file), "+root=" + zone, "+nocrypto", name, rdtype],
                       capture_output=True, text=True, timeout=30)
    return p.stdout + p.stderr


# (relative name, type, what delv must say besides "fully validated")
DELV_CASES = [
    ("www", "A", "192.0.2.80"),                     # positive
    ("@", "DNSKEY", "DNSKEY"),
    ("alias", "A", "192.0.2.80"),                   # CNAME, then the target
    ("nx", "A", "NXDOMAIN"),
    ("a.nx", "TXT", "NXDOMAIN"),
    ("www", "MX", "NXRRSET"),                       # NODATA
    ("b.ent", "A", "NXRRSET"),                      # empty non-terminal
    ("x.wild", "A", "192.0.2.99"),                  # wildcard
    ("a.b.wild", "TXT", "wild"),
    ("x.wild", "MX", "NXRRSET"),                    # wildcard NODATA
    ("remote", "DS", "DS"),                         # DS present, served elsewhere
    ("secure", "DS", "DS"),                         # DS of a child served here too
    ("insecure", "DS", "NXRRSET"),                  # DS absent (opt-out: no NSEC3 at all)
    ("www.secure", "A", "192.0.2.55"),              # the signed child, through the DS
    ("nx.secure", "A", "NXDOMAIN"),
]


@pytest.mark.parametrize("zone", ORIGINS)
@pytest.mark.parametrize("rel,rdtype,expect", DELV_CASES,
                         ids=[f"{r}/{t}" for r, t, _ in DELV_CASES])
def test_delv_validates(us, signed, zone, rel, rdtype, expect):
    name = zone if rel == "@" else f"{rel}.{zone}"
    out = delv(us, signed, zone, name, rdtype)
    verdict = "fully validated"
    if zone == "optout.test" and rel in ("x.wild", "a.b.wild") and rdtype != "MX":
        # The NSEC3 covering the next closer name has opt-out set (dnssec-signzone -A sets
        # it on every NSEC3), so an unsigned delegation could sit there: a validator must
        # call a wildcard answer insecure (RFC 5155 9.2). knotd and nsd send the same proof.
        verdict = "unsigned answer"
    assert verdict in out and expect in out, out


def ask(srv, name, rdtype, do=True, payload=4096, tcp=False):
    q = dns.message.make_query(name, rdtype, want_dnssec=do, payload=payload)
    q.flags = 0
    return srv.query(q, tcp=tcp)


def find(section, name, rdtype, covers=T.NONE):
    n = dns.name.from_text(name)
    for rrs in section:
        if rrs.name == n and rrs.rdtype == rdtype and rrs.covers == covers:
            return rrs
    return None


def validated(signed, zone, section, rdtype):
    """The RRsets of rdtype in section, each checked against its RRSIG with the zone's keys."""
    keys = signed.keys(zone)
    out = []
    for rrs in section:
        if rrs.rdtype != rdtype:
            continue
        sig = find(section, rrs.name.to_text(), T.RRSIG, rdtype)
        assert sig is not None, f"{rrs.name} {T.to_text(rdtype)} without its RRSIG"
        dns.dnssec.validate(rrs, sig, keys)
        out.append(rrs)
    return out


def nsec3_hash(name, rd):
    return dns.dnssec.nsec3_hash(name, rd.salt, rd.iterations, rd.algorithm)


@pytest.mark.parametrize("zone", ORIGINS)
def test_referral_with_ds_validates(us, signed, zone):
    r = ask(us, f"www.remote.{zone}", "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AA
    assert find(r.authority, f"remote.{zone}", T.NS) is not None
    ds = validated(signed, zone, r.authority, T.DS)
    assert len(ds) == 1 and ds[0].name == dns.name.from_text(f"remote.{zone}")


@pytest.mark.parametrize("zone", ORIGINS)
def test_referral_without_ds_is_proven_insecure(us, signed, zone):
    """NSEC: the cut's own NSEC has NS and no DS. NSEC3: a matching NSEC3 with NS and no DS,
    or (opt-out) the closest provable encloser and an opt-out NSEC3 covering the next closer
    name (RFC 5155 8.9)."""
    cut = dns.name.from_text(f"insecure.{zone}")
    r = ask(us, f"www.insecure.{zone}", "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AA
    assert find(r.authority, cut.to_text(), T.NS) is not None
    assert find(r.authority, cut.to_text(), T.DS) is None
    nsec = validated(signed, zone, r.authority, T.NSEC)
    nsec3 = validated(signed, zone, r.authority, T.NSEC3)
    if zone == "nsec.test":
        (n,) = nsec
        assert n.name == cut
        types = _types(n[0])
        assert T.NS in types and T.DS not in types and T.SOA not in types
        return
    assert nsec3 and not nsec
    rd0 = nsec3[0][0]
    origin = dns.name.from_text(zone)
    hashes = {rrs.name.labels[0].decode().upper(): rrs for rrs in nsec3}
    h = nsec3_hash(cut, rd0)
    if h in hashes:
        types = _types(hashes[h][0])
        assert T.NS in types and T.DS not in types and T.SOA not in types
        return
    # Opt-out: the parent of the cut (the apex) matches, and an opt-out NSEC3 covers the cut.
    assert nsec3_hash(origin, rd0) in hashes
    covering = [rrs for rrs in nsec3 if _covers(rrs, h)]
    assert covering and covering[0][0].flags & 1, "no opt-out NSEC3 covers the cut"


def _types(rd):
    out = set()
    for window, bitmap in rd.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    out.add(window * 256 + i * 8 + bit)
    return out


def _covers(rrs, h):
    owner = rrs.name.labels[0].decode().upper()
    nxt = base64.b32encode(rrs[0].next).decode().translate(
        str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHIJKLMNOPQRSTUV"))
    if owner < nxt:
        return owner < h < nxt
    return h > owner or h < nxt  # the last NSEC3 wraps around


@pytest.mark.parametrize("zone", ORIGINS)
def test_no_dnssec_records_without_do(us, zone):
    for rel, t in (("www", "A"), ("nx", "A"), ("www", "MX"), ("x.wild", "A"),
                   ("www.insecure", "A"), ("www.remote", "A"), ("remote", "DS")):
        r = ask(us, f"{rel}.{zone}", t, do=False)
        for rrs in r.answer + r.authority + r.additional:
            assert rrs.rdtype not in (T.RRSIG, T.NSEC, T.NSEC3), f"{rel} {t}: {rrs}"
        assert not (r.ednsflags & dns.flags.DO)


@pytest.mark.parametrize("zone", ORIGINS)
def test_nsec3_owner_names_do_not_exist(us, signed, zone):
    """RFC 5155 7.2.8: a hashed owner name is answered as a name that does not exist."""
    r = ask(us, f"nx.{zone}", "A")
    owners = [rrs.name for rrs in r.authority if rrs.rdtype == T.NSEC3]
    if zone == "nsec.test":
        assert not owners
        return
    for o in owners:
        for t in ("NSEC3", "A"):
            assert ask(us, o.to_text(), t).rcode() == dns.rcode.NXDOMAIN


@pytest.mark.parametrize("zone", ORIGINS)
def test_truncation_keeps_signatures(us, zone):
    """An RRset goes with its RRSIGs or not at all; TC when they do not fit."""
    for payload in (512, 700, 1232, 4096):
        for rel, t in (("big", "TXT"), ("@", "DNSKEY"), ("nx", "A"), ("www", "MX")):
            name = zone if rel == "@" else f"{rel}.{zone}"
            r = ask(us, name, t, payload=payload)
            for sec in (r.answer, r.authority):
                for rrs in sec:
                    if rrs.rdtype == T.RRSIG or (rrs.rdtype == T.NS and sec is r.authority):
                        continue
                    assert find(sec, rrs.name.to_text(), T.RRSIG, rrs.rdtype) is not None, \
                        f"{name} {t} @{payload}: {rrs.name} {T.to_text(rrs.rdtype)} unsigned"
            if payload == 512 and rel == "big":
                assert r.flags & dns.flags.TC
    r = ask(us, f"big.{zone}", "TXT", tcp=True)
    assert find(r.answer, f"big.{zone}", T.RRSIG, T.TXT) is not None


def check_zone(binary, origin, path):
    p = subprocess.run([binary, "check-zone", origin, str(path)], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_check_zone_refuses_a_broken_nsec3_chain(signed, understudy_binary, tmp_path):
    path = dict(signed.zones)["nsec3.test"]
    lines = path.read_text().splitlines(keepends=True)
    # Drop one NSEC3 record (the owner line and its continuation up to the closing paren).
    out, skip = [], False
    dropped = 0
    for line in lines:
        if not dropped and " NSEC3 " in line and "NSEC3PARAM" not in line \
                and "RRSIG" not in line:
            skip, dropped = True, 1
        if skip:
            if ")" in line:
                skip = False
            continue
        out.append(line)
    assert dropped
    broken = tmp_path / "broken.zone"
    broken.write_text("".join(out))
    rc, text = check_zone(understudy_binary, "nsec3.test", broken)
    assert rc == 1 and "broken NSEC3 chain" in text, text
    rc, text = check_zone(understudy_binary, "nsec3.test", path)
    assert rc == 0, text


def test_check_zone_warns_on_expired_signatures_and_nsec_gaps(tmp_path, understudy_binary):
    d = tmp_path / "old"
    d.mkdir()
    src = d / "old.test.zone"
    src.write_text(signzones.CHILD)
    subprocess.run(["dnssec-keygen", "-q", "-K", str(d), "-a", "ECDSAP256SHA256", "old.test"],
                   check=True, capture_output=True, cwd=d)
    subprocess.run(["dnssec-signzone", "-q", "-P", "-K", str(d), "-S", "-o", "old.test", "-s",
                    "now-864000", "-e", "now-86400", "-f", str(d / "old.signed"), str(src)],
                   check=True, capture_output=True, cwd=d)
    rc, text = check_zone(understudy_binary, "old.test", d / "old.signed")
    assert rc == 0, text
    assert "signatures have expired" in text, text
    # An NSEC removed: a gap, reported, but the zone still loads.
    lines = (d / "old.signed").read_text().splitlines(keepends=True)
    gap = [line for line in lines if not line.startswith("www.old.test.")]
    gap = "".join(gap).replace("\tNSEC\twww.old.test.", "\tNSEC\tzz.old.test.")
    (d / "gap.signed").write_text(gap)
    rc, text = check_zone(understudy_binary, "old.test", d / "gap.signed")
    assert "NSEC chain gap" in text, text


def test_signed_secondary_follows_ixfr_and_validates(tmp_path, understudy_binary):
    """understudy as the backup of a knotd primary serving a signed NSEC3 zone: the AXFR'd
    copy and the version an IXFR derives from it (an overlay on the first) both validate."""
    import re

    from test_secondary import Backup, KnotPrimary, serial

    d = tmp_path / "keys"
    d.mkdir()
    extra = ["-3", "ab", "-H", "1"]
    path, ksk = signzones._sign(d, "example.com", signzones.PARENT.format(big="x"), extra)
    anchors = tmp_path / "anchors.conf"
    anchors.write_text(signzones.anchor_text({"example.com": ksk}))
    backup_port = servers.free_port()
    knot = KnotPrimary(tmp_path, path, backup_port)
    knot.start()
    backup = Backup(tmp_path, understudy_binary, knot.port)
    backup.fixed_port = backup_port
    backup.wait_ready = lambda timeout=30.0: servers.wait_for(
        lambda: backup.proc.poll() is None and serial(backup) == 1, timeout, "bootstrap")

    class Anchored:
        anchor_file = anchors

    try:
        backup.start()
        for name, rdtype, expect in (("www.example.com", "A", "192.0.2.80"),
                                     ("nx.example.com", "A", "NXDOMAIN")):
            out = delv(backup, Anchored, "example.com", name, rdtype)
            assert "fully validated" in out and expect in out, out
        kzone = dict(knot.zones)["example.com"]
        text = kzone.read_text()
        text = re.sub(r"\b1(\s+); serial", r"2\1; serial", text, count=1)
        text += 'new2.example.com. 3600 IN TXT "change 2"\n'
        signzones.resign(d, "example.com", text, extra, kzone)
        knot.reload()
        servers.wait_for(lambda: serial(backup) == 2, what="serial 2 on the backup", srv=backup)
        assert "IXFR example.com" in backup.output(), backup.output()
        for name, rdtype, expect in (("new2.example.com", "TXT", "change 2"),
                                     ("new3.example.com", "TXT", "NXDOMAIN"),
                                     ("new2.example.com", "A", "NXRRSET"),
                                     ("x.wild.example.com", "A", "192.0.2.99")):
            out = delv(backup, Anchored, "example.com", name, rdtype)
            assert "fully validated" in out and expect in out, out
    finally:
        backup.stop()
        knot.stop()


class OpenUnderstudy(servers.Understudy):
    """understudy that lets 127.0.0.1 transfer its zones."""

    def write_config(self):
        super().write_config()
        text = self.conf.read_text().replace(
            "zones:\n", "acls:\n  - {id: lo, address: [127.0.0.1], action: transfer}\nzones:\n")
        self.conf.write_text(text.replace("    role: primary\n",
                                          "    role: primary\n    acl: [lo]\n"))


def test_axfr_out_keeps_each_signature_ttl(tmp_path, signed, understudy_binary):
    """The signatures at a name cover RRsets of different TTLs; an AXFR out carries each
    with the TTL the signer gave it, so a secondary's copy is the primary's, TTLs and all."""
    origin, path = signed.zones[0]
    srv = OpenUnderstudy(tmp_path, zones=[(origin, path)], binary=understudy_binary)
    srv.start()
    try:
        want = dns.zone.from_file(str(path), origin=origin, relativize=False)
        got = dns.zone.from_xfr(dns.query.xfr(srv.addr, origin, port=srv.port, timeout=10,
                                              relativize=False), relativize=False)

        def records(z):
            return {(str(n), rds.rdtype, rds.covers, rds.ttl, rd.to_text())
                    for n, node in z.nodes.items() for rds in node.rdatasets for rd in rds}

        w = records(want)
        assert records(got) == w
        ttls = {r[3] for r in w if r[1] == T.RRSIG}
        assert len(ttls) > 1, ttls  # the test zone does sign RRsets of different TTLs
    finally:
        srv.stop()
