# SPDX-License-Identifier: MIT
"""signzones: DNSSEC-signed test zones, made at test time with dnssec-keygen/dnssec-signzone.

Nothing secret is committed: keys are generated into the test's own directory and signatures
run from an hour ago to 30 days ahead, so the zones never expire under a test.

    z = signzones.make(tmp_path)       # signs every variant
    z.zones                            # [(origin, path)] for the server classes
    z.anchor_file                      # delv -a FILE: trust anchors for every parent zone
    z.keys[origin]                     # dnspython {name: DNSKEY rdataset} to validate with

Three parents, the same names in each, differing only in their denial: NSEC, NSEC3 with salt
and iterations, and NSEC3 opt-out. Each has a signed child served by the same server
(secure.ORIGIN, with a DS in the parent), an insecure delegation (insecure.ORIGIN, no DS),
a secure delegation served elsewhere (remote.ORIGIN, with a DS), glue, a wildcard, an empty non-terminal, a CNAME and a DNAME.
"""

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone

# (origin, signzone arguments)
VARIANTS = [
    ("nsec.test", []),
    ("nsec3.test", ["-3", "cafe01", "-H", "5"]),
    ("optout.test", ["-3", "beef", "-H", "2", "-A"]),
]

PARENT = """$TTL 3600
@       SOA ns1 hostmaster 1 3600 900 604800 300
        NS  ns1
        MX  10 mail
ns1     A   192.0.2.1
        AAAA 2001:db8::1
mail    A   192.0.2.25
www     A   192.0.2.80
        TXT "www"
alias   CNAME www
*.wild  A   192.0.2.99
        TXT "wild"
a.b.ent A   192.0.2.7
dn      DNAME example.net.
big     TXT "{big}"
        TXT "{big}2"
        TXT "{big}3"
secure  NS  ns1.secure
ns1.secure A 192.0.2.53
insecure NS ns1.insecure
ns1.insecure A 192.0.2.54
unsigned2 NS ns.example.org.
remote  NS  ns1.remote
ns1.remote A 192.0.2.56
"""

CHILD = """$TTL 3600
@       SOA ns1 hostmaster 1 3600 900 604800 300
        NS  ns1
ns1     A   192.0.2.53
www     A   192.0.2.55
"""


def available():
    """None when the signing tools are installed, else why not."""
    for tool in ("dnssec-keygen", "dnssec-signzone", "dnssec-dsfromkey"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (Debian bind9-utils)"
    return None


def _run(args, cwd):
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{p.stdout}{p.stderr}")
    return p.stdout


def _keys(d, origin):
    """A KSK and a ZSK (ECDSA P-256, quick to make); returns the KSK's file base name."""
    ksk = _run(["dnssec-keygen", "-q", "-K", str(d), "-a", "ECDSAP256SHA256", "-f", "KSK",
                origin], d).strip()
    _run(["dnssec-keygen", "-q", "-K", str(d), "-a", "ECDSAP256SHA256", origin], d)
    return ksk


def _sign(d, origin, text, extra):
    src = d / f"{origin}.zone"
    src.write_text(text)
    ksk = _keys(d, origin)
    out = d / f"{origin}.signed"
    _run(["dnssec-signzone", "-q", "-K", str(d), "-S", "-o", origin, "-s", "now-3600",
          "-e", "now+2592000", "-f", str(out), *extra, str(src)], d)
    return out, d / f"{ksk}.key"


def anchor_text(ksks):
    """delv's trust-anchors clause for {origin: path of the KSK .key file}."""
    anchors = []
    for origin, path in ksks.items():
        parts = Path(path).read_text().split()
        # "<name> [ttl] IN DNSKEY flags proto alg key...": the fields after DNSKEY.
        i = parts.index("DNSKEY")
        flags, proto, alg = parts[i + 1:i + 4]
        key = "".join(parts[i + 4:])
        anchors.append(f'  "{origin}." static-key {flags} {proto} {alg} "{key}";')
    return "trust-anchors {\n" + "\n".join(anchors) + "\n};\n"


def resign(d, origin, signed_text, extra, out):
    """Signs signed_text again with the keys already in d: dnssec-signzone keeps the
    signatures still good, so only what changed gets new ones (a small IXFR)."""
    src = Path(d) / f"{origin}.resign"
    src.write_text(signed_text)
    _run(["dnssec-signzone", "-q", "-K", str(d), "-S", "-o", origin, "-s", "now-3600",
          "-e", "now+2592000", "-f", str(out), *extra, str(src)], d)


@dataclass
class Signed:
    dir: Path
    zones: list = field(default_factory=list)  # [(origin, path)]
    ksk: dict = field(default_factory=dict)    # origin -> path of the KSK .key file
    anchor_file: Path = None

    def keys(self, origin):
        """{name: DNSKEY rdataset} of a zone, for dns.dnssec.validate."""
        z = dns.zone.from_file(str(dict(self.zones)[origin]), origin=origin,
                               relativize=False)
        name = dns.name.from_text(origin)
        return {name: z.get_rdataset(name, dns.rdatatype.DNSKEY)}


def make(workdir, variants=VARIANTS, big=200):
    """Signs every variant (parent and secure child) under workdir; returns Signed."""
    d = Path(workdir) / "signed"
    d.mkdir(parents=True, exist_ok=True)
    s = Signed(d)
    for origin, extra in variants:
        child = f"secure.{origin}"
        cpath, cksk = _sign(d, child, CHILD, extra)
        ds = _run(["dnssec-dsfromkey", "-2", str(cksk)], d).split(None, 3)[3]
        # remote is a secure delegation to a server that is not ours: a referral with DS.
        text = PARENT.format(big="x" * big) + f"secure DS {ds}\nremote DS {ds}\n"
        ppath, pksk = _sign(d, origin, text, extra)
        s.zones += [(origin, ppath), (child, cpath)]
        s.ksk[origin] = pksk
        s.ksk[child] = cksk
    s.anchor_file = d / "anchors.conf"
    s.anchor_file.write_text(anchor_text({o: s.ksk[o] for o, _ in variants}))
    return s
