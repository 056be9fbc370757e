# SPDX-License-Identifier: MIT
"""tlscerts: a throwaway PKI for XFR-over-TLS tests, made with the openssl command line.

    pki = make_pki(tmp_path / "pki")
    pki.ca, pki.server_cert, pki.server_key      # server cert for HOSTNAME, localhost, 127.0.0.1, ::1
    pki.client_cert, pki.client_key              # client cert (clientAuth), same CA
    pki.other_ca, pki.other_cert, pki.other_key  # another CA and a server cert it signed
    pki.pin(pki.server_cert)                     # base64 SHA-256 of the SubjectPublicKeyInfo

Keys are EC P-256, certificates valid for two days: nothing here is worth keeping.
"""

import base64
import hashlib
import subprocess
from pathlib import Path

HOSTNAME = "pri.xot.test"


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Pki:
    def __init__(self, d):
        self.dir = Path(d)

    def path(self, name):
        return self.dir / name

    def _ca(self, name, cn):
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={cn}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)

    def _leaf(self, name, ca, cn, sans, usage):
        ext = self.dir / f"{name}.ext"
        ext.write_text(f"basicConstraints=CA:FALSE\nsubjectAltName={sans}\n"
                       f"extendedKeyUsage={usage}\nkeyUsage=critical,digitalSignature\n")
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=self.dir)
        _run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", ext.name,
             cwd=self.dir)

    @staticmethod
    def pin(cert):
        """Base64 SHA-256 of the certificate's SubjectPublicKeyInfo (RFC 7469 2.4)."""
        der = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
                             check=True, capture_output=True, timeout=30).stdout
        spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=der,
                              check=True, capture_output=True, timeout=30).stdout
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def make_pki(d):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    p = Pki(d)
    p._ca("ca", "understudy test CA")
    p._leaf("server", "ca", HOSTNAME,
            f"DNS:{HOSTNAME},DNS:localhost,IP:127.0.0.1,IP:::1", "serverAuth")
    p._leaf("client", "ca", "secondary.xot.test", "DNS:secondary.xot.test", "clientAuth")
    p._ca("other-ca", "some other CA")
    p._leaf("other", "other-ca", HOSTNAME, f"DNS:{HOSTNAME},IP:127.0.0.1", "serverAuth")
    p.ca, p.server_cert, p.server_key = d / "ca.pem", d / "server.pem", d / "server.key"
    p.client_cert, p.client_key = d / "client.pem", d / "client.key"
    p.other_ca, p.other_cert, p.other_key = d / "other-ca.pem", d / "other.pem", d / "other.key"
    for f in d.glob("*.key"):
        f.chmod(0o644)  # peers that drop privileges must still read them in a test
    return p
