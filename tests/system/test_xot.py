# SPDX-License-Identifier: MIT
"""test_xot: XFR over TLS (RFC 9103), understudy in both roles, with named 9.18 and nsd 4.6.

Certificates are made at test time (tlscerts.py): a CA, a server certificate for
pri.xot.test, localhost, 127.0.0.1 and ::1, a client certificate, and a second CA with a
server certificate of its own. TSIG (hmac-sha256) is on every transfer, on top of TLS.

    understudy -> understudy   AXFR then IXFR over TLS (SOA checks over TLS too); a capture
                               of the TLS port holds the handshake's clear SNI but none of
                               the zone's text, which a capture of a clear AXFR does hold
    authentication             ca + hostname, ca alone (the address in the certificate),
                               pin alone: transfers; another CA, another hostname, another
                               pin, a clear-text server behind a tls remote: refused, logged,
                               the stored copy kept and served
    mutual TLS                 server.tls.ca: a secondary without a client certificate is
                               refused (both sides log it), one with it transfers
    ALPN, TLS version          ALPN without "dot" and TLS 1.2 are refused; no ALPN, or
                               "dot" among others, is taken
    bounds                     max-clients, handshake-timeout and idle-timeout close what
                               they should while UDP and TCP queries go on being answered
    named 9.18                 as secondary of understudy over TLS (ca-file, remote-hostname)
                               and as primary of understudy (listen-on ... tls)
    nsd 4.6                    as secondary of understudy (tls-auth, request-xfr ... name)
"""

import json
import os
import select
import signal
import socket
import ssl
import subprocess
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import pytest

import servers
import test_secondary_interop as interop
import tlscerts
from servers import wait_for

ZONE = interop.ORIGIN
KEY, SECRET = interop.KEY, interop.SECRET
SERIAL0 = interop.SERIAL0
HOST = tlscerts.HOSTNAME
# A string of the zone that only a transfer carries, and one that only a change carries.
ZONE_TEXT_CANARY = b"big-rrset-record-05-padding-padding-padding"
CANARY = "xot-canary-4e1f9b7a-only-in-the-ixfr"


def zone_text(n):
    """The interop zone after n changes; from change 1 on it holds the canary TXT."""
    text = interop.zone_version(n)
    return text + (f'xot-canary\tTXT\t"{CANARY}"\n' if n >= 1 else "")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return tlscerts.make_pki(tmp_path_factory.mktemp("pki"))


def serial(srv, timeout=0.5):
    return interop.serial(srv, timeout)


def lines(srv, *words):
    return [x for x in srv.output().splitlines() if all(w in x for w in words)]


class UsPrimary(servers.Understudy):
    """understudy serving the zone from a file, with a TLS listener, transfers by key only,
    and NOTIFY (clear, UDP) to notify_port."""

    def __init__(self, workdir, binary, pki, notify_port=None, tls_opts="", name="primary",
                 acl="{id: xfr, key: %s, action: transfer}" % KEY):
        self.name = name
        self.acl = acl
        self.log_format = ""  # ", format: json" for structured logs
        super().__init__(workdir, zones=[], binary=binary)
        self.pki = pki
        self.zone_path = self.dir / "example.com.zone"
        self.zone_path.write_text(zone_text(0))
        self.zones = [(ZONE, self.zone_path)]
        self.notify_port = notify_port
        self.tls_opts = tls_opts
        self.tls_port = servers.free_port(["127.0.0.1"])

    def write_config(self):
        notify = ""
        remotes = ""
        if self.notify_port:
            remotes = f"remotes:\n  - {{id: down, address: 127.0.0.1@{self.notify_port}, key: {KEY}}}\n"
            notify = "    notify: [down]\n"
        self.conf.write_text(f"""server:
  listen: ["127.0.0.1@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
  tls:
    certificate: "{self.pki.server_cert}"
    key: "{self.pki.server_key}"
    listen: "127.0.0.1@{self.tls_port}"
{self.tls_opts}log: {{target: stderr, level: debug{self.log_format}}}
keys:
  - {{id: {KEY}, algorithm: hmac-sha256, secret: "{SECRET}"}}
{remotes}acls:
  - {self.acl}
zones:
  - domain: {ZONE}
    file: "{self.zone_path}"
    acl: [xfr]
{notify}""")

    def change(self, n):
        interop.write_zone(self.zone_path, zone_text(n))
        code, out = self.ctl("reload", ZONE)
        assert code == 0, out


class UsSecondary(servers.Understudy):
    """understudy with the zone as a secondary of a remote on primary_port, whose `tls:`
    mapping is tls (flow style); None makes it a clear-text remote."""

    def __init__(self, workdir, binary, primary_port, tls, name="secondary"):
        self.name = name
        super().__init__(workdir, zones=[], binary=binary)
        self.zones = [(ZONE, None)]
        self.primary_port = primary_port
        self.tls = tls

    def write_config(self):
        tls = f", tls: {self.tls}" if self.tls is not None else ""
        self.conf.write_text(f"""server:
  listen: ["127.0.0.1@{self.port}"]
  storage: "{self.dir}/storage"
  control: "{self.dir}/ctl.sock"
  udp-workers: 1
  watch-ns: false
log: {{target: stderr, level: info}}
keys:
  - {{id: {KEY}, algorithm: hmac-sha256, secret: "{SECRET}"}}
remotes:
  - {{id: pri, address: "127.0.0.1@{self.primary_port}", key: {KEY}{tls}}}
zones:
  - domain: {ZONE}
    role: secondary
    primaries: [pri]
    retry-min-interval: 60
""")

    def wait_ready(self, timeout=20.0):
        # Up once it answers at all: with a bad TLS setting it has no copy to serve.
        wait_for(lambda: self.proc.poll() is None and serial(self, 0.1) is not None, timeout,
                 "an answer from the secondary", self)


def tls_remote(pki, mode):
    return {
        "ca+hostname": f'{{ca: "{pki.ca}", hostname: {HOST}}}',
        "ca": f'{{ca: "{pki.ca}"}}',
        "pin": f'{{pin: "{pki.pin(pki.server_cert)}"}}',
        "other-ca": f'{{ca: "{pki.other_ca}", hostname: {HOST}}}',
        "other-hostname": f'{{ca: "{pki.ca}", hostname: other.xot.test}}',
        "other-pin": f'{{pin: "{pki.pin(pki.other_cert)}"}}',
        "client-cert": f'{{ca: "{pki.ca}", hostname: {HOST}, certificate: "{pki.client_cert}", '
                       f'key: "{pki.client_key}"}}',
    }[mode]


class Capture:
    """tcpdump on lo for one TCP port, into a file; bytes() stops it and returns the file.
    --immediate-mode: without it packets wait in the kernel's ring for a block to fill, and
    those of the last block are lost when tcpdump is stopped."""

    def __init__(self, path, port):
        if os.geteuid() != 0:
            pytest.skip("capturing on lo needs root")
        self.path = path
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-s", "0", "-Z", "root", "-w", str(path),
             f"tcp port {port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err, deadline = b"", time.monotonic() + 15
        while b"listening on" not in err:
            assert self.proc.poll() is None and time.monotonic() < deadline, err
            r, _, _ = select.select([self.proc.stderr], [], [], 0.5)
            if r:
                err += os.read(self.proc.stderr.fileno(), 4096)

    def bytes(self):
        # Until the file stops growing: what the last packets brought is written.
        size, since = -1, time.monotonic()
        while self.proc.poll() is None and time.monotonic() - since < 0.3:
            now = self.path.stat().st_size if self.path.exists() else 0
            if now != size:
                size, since = now, time.monotonic()
            time.sleep(0.05)  # poll interval
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.proc.stderr.close()
        return self.path.read_bytes()


def stop_all(*srvs):
    for s in srvs:
        try:
            s.stop()
        except servers.ServerError:
            if s is srvs[-1]:
                raise


def transfers(srv, direction):
    """[(kind, line)] of the finished transfers srv logged, to or from a peer."""
    return [(x.split()[2], x) for x in lines(srv, f" {ZONE} {direction} ", "finished")]


# --- understudy in both roles


def test_understudy_to_understudy_over_tls(tmp_path, understudy_binary, pki):
    sec_port = servers.free_port()
    primary = UsPrimary(tmp_path, understudy_binary, pki, notify_port=sec_port)
    primary.start()
    secondary = UsSecondary(tmp_path, understudy_binary, primary.tls_port,
                            tls_remote(pki, "ca+hostname"))
    secondary.fixed_port = sec_port
    cap = Capture(tmp_path / "tls.pcap", primary.tls_port)
    try:
        secondary.start()
        wait_for(lambda: serial(secondary) == SERIAL0, 15, "the first AXFR", secondary)
        primary.change(1)
        wait_for(lambda: serial(secondary) == SERIAL0 + 1, 15, "the IXFR after NOTIFY", secondary)
        r = secondary.query(dns.message.make_query(f"xot-canary.{ZONE}", "TXT"))
        assert r.answer and CANARY in r.answer[0][0].to_text()
        # The SOA check of a refresh goes over TLS too, and finds the copy current.
        code, out = secondary.ctl("refresh", ZONE)
        assert code == 0, out
        wait_for(lambda: lines(secondary, f"has serial {SERIAL0 + 1}, up to date"), 15,
                 "an up-to-date refresh", secondary)
        raw = cap.bytes()
        # What a passive observer of the TLS port saw: the handshake (its SNI is clear text,
        # so the capture did record the connections), never the zone. One handshake and the
        # zone encrypted, at least: the secondary keeps the connection from one refresh to
        # the next (RFC 7828), so there may be no other.
        assert HOST.encode() in raw and len(raw) > 15000, len(raw)
        assert ZONE_TEXT_CANARY not in raw and CANARY.encode() not in raw
        assert b"hostmaster" not in raw

        # The same search finds the zone in a clear AXFR: the check above can fail.
        clear = Capture(tmp_path / "clear.pcap", primary.port)
        msgs = list(dns.query.xfr("127.0.0.1", ZONE, port=primary.port, timeout=10,
                                  keyring=dns.tsigkeyring.from_text({KEY: SECRET}),
                                  keyname=KEY, keyalgorithm="hmac-sha256"))
        assert msgs
        raw = clear.bytes()
        assert ZONE_TEXT_CANARY in raw and CANARY.encode() in raw

        peer = f"127.0.0.1@{primary.tls_port} over TLS"
        got = [(k, x) for k, x in transfers(secondary, "from")]
        assert [k for k, _ in got] == ["AXFR", "IXFR"], got
        assert f"from {peer}: serial 0 -> {SERIAL0}," in got[0][1], got
        assert f"from {peer}: serial {SERIAL0} -> {SERIAL0 + 1}," in got[1][1], got
        out_tls = [x for k, x in transfers(primary, "to") if "over TLS" in x]
        assert [x.split()[2] for x in out_tls] == ["AXFR", "IXFR"], primary.output()[-3000:]
        assert "records changed" in out_tls[1], out_tls
        assert not lines(secondary, "warning"), secondary.output()
        # The clear AXFR of the control is logged without "over TLS".
        clear_out = [x for k, x in transfers(primary, "to") if "over TLS" not in x]
        assert len(clear_out) == 1 and clear_out[0].split()[2] == "AXFR", clear_out
    finally:
        cap.bytes()
        stop_all(secondary, primary)


@pytest.mark.parametrize("mode", ["ca", "pin"])
def test_other_ways_to_authenticate_the_primary(tmp_path, understudy_binary, pki, mode):
    """A CA alone checks the address against the certificate's IP names; a pin alone
    checks the key, whatever CA signed it."""
    with UsPrimary(tmp_path, understudy_binary, pki) as primary:
        with UsSecondary(tmp_path, understudy_binary, primary.tls_port,
                         tls_remote(pki, mode)) as secondary:
            wait_for(lambda: serial(secondary) == SERIAL0, 15, "the AXFR", secondary)
            assert transfers(secondary, "from")[0][0] == "AXFR"
            assert "over TLS" in transfers(secondary, "from")[0][1]


# What each refusal must say in the secondary's log, and on the primary's side.
REFUSALS = {
    "other-ca": ("unable to get local issuer certificate", "unknown ca"),
    "other-hostname": ("hostname mismatch", "bad certificate"),
    "other-pin": ("no pin matches the server's key", None),
    # A plain DNS server takes the ClientHello for the start of a long message and waits.
    "clear-text": ("TLS handshake", None),
}


@pytest.mark.parametrize("mode", list(REFUSALS))
def test_a_primary_that_fails_the_check_is_refused_and_the_copy_kept(
        tmp_path, understudy_binary, pki, mode):
    primary = UsPrimary(tmp_path, understudy_binary, pki)
    primary.start()
    secondary = UsSecondary(tmp_path, understudy_binary, primary.tls_port,
                            tls_remote(pki, "ca+hostname"))
    try:
        secondary.start()
        wait_for(lambda: serial(secondary) == SERIAL0, 15, "the first AXFR", secondary)
        secondary.stop()
        primary.change(1)
        if mode == "clear-text":
            # A tls remote whose address speaks plain DNS: no clear-text fallback.
            secondary.primary_port = primary.port
            secondary.tls = tls_remote(pki, "ca+hostname")
        else:
            secondary.tls = tls_remote(pki, mode)
        secondary.start()
        assert f"serving stored serial {SERIAL0}" in secondary.output()
        for cmd in ("refresh", "retransfer"):
            n = len(lines(secondary, "refresh failed"))
            code, out = secondary.ctl(cmd, ZONE)
            assert code == 0, out
            wait_for(lambda: len(lines(secondary, "refresh failed")) > n, 15,
                     f"a failed {cmd}", secondary)
        assert serial(secondary) == SERIAL0
        r = secondary.query(dns.message.make_query(f"xot-canary.{ZONE}", "TXT"))
        assert r.rcode() == dns.rcode.NXDOMAIN
        want, primary_says = REFUSALS[mode]
        failed = lines(secondary, "over TLS:")
        assert len(failed) >= 2 and all(want in x for x in failed), secondary.output()[-3000:]
        assert any("SOA query over TLS" in x for x in failed)
        assert any("AXFR over TLS" in x for x in failed)
        assert not transfers(secondary, "from")  # the log starts again at the restart
        if primary_says:
            wait_for(lambda: lines(primary, "TLS from 127.0.0.1@", primary_says), 5,
                     "the primary's log of the refused handshake", primary)
        assert len(transfers(primary, "to")) == 1
    finally:
        stop_all(secondary, primary)


def test_mutual_tls(tmp_path, understudy_binary, pki):
    primary = UsPrimary(tmp_path, understudy_binary, pki, tls_opts=f'    ca: "{pki.ca}"\n')
    primary.start()
    secondary = UsSecondary(tmp_path, understudy_binary, primary.tls_port,
                            tls_remote(pki, "ca+hostname"))
    try:
        secondary.start()
        wait_for(lambda: lines(secondary, "AXFR over TLS"), 15, "a refused AXFR", secondary)
        assert serial(secondary) == ("rcode", "SERVFAIL")
        assert lines(primary, "TLS from 127.0.0.1@", "peer did not return a certificate")
        refused = lines(secondary, "AXFR over TLS")
        assert all("certificate required" in x or "reset by peer" in x for x in refused), refused
        assert not transfers(primary, "to")
        # A plain TLS client without a certificate is refused as well.
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        ctx.set_alpn_protocols(["dot"])
        with pytest.raises((ssl.SSLError, ConnectionError)):
            tls_query(primary, ctx)
        ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
        assert tls_query(primary, ctx).rcode() == dns.rcode.NOERROR
        secondary.stop()
        secondary.tls = tls_remote(pki, "client-cert")
        secondary.start()
        wait_for(lambda: serial(secondary) == SERIAL0, 15, "the AXFR with a client cert",
                 secondary)
        assert "over TLS" in transfers(primary, "to")[0][1]
    finally:
        stop_all(secondary, primary)


def tls_query(srv, ctx, qname=ZONE, port=None):
    """One SOA query over TLS (DoT) to srv's TLS port with ctx; the response."""
    return dns.query.tls(dns.message.make_query(qname, "SOA"), "127.0.0.1",
                         port=port or srv.tls_port, ssl_context=ctx, server_hostname=HOST,
                         timeout=5)


def test_alpn_and_tls_version(tmp_path, understudy_binary, pki):
    """RFC 9103 7.1: ALPN without "dot" is refused; 5.1: TLS 1.3 or later."""
    with UsPrimary(tmp_path, understudy_binary, pki) as primary:
        def ctx(alpn=None, tls12=False):
            c = ssl.create_default_context(cafile=str(pki.ca))
            if alpn is not None:
                c.set_alpn_protocols(alpn)
            if tls12:
                c.maximum_version = ssl.TLSVersion.TLSv1_2
            return c

        for bad in (["h2"], ["h2", "http/1.1"]):
            n = len(lines(primary, 'offered ALPN without "dot"'))
            with pytest.raises(ssl.SSLError, match="NO_APPLICATION_PROTOCOL|no application"):
                tls_query(primary, ctx(bad))
            wait_for(lambda: len(lines(primary, 'offered ALPN without "dot"')) > n, 5,
                     "the ALPN refusal in the log", primary)
        with pytest.raises(ssl.SSLError):
            tls_query(primary, ctx(["dot"], tls12=True))
        for good in (["dot"], ["h2", "dot"], None):
            r = tls_query(primary, ctx(good))
            assert r.rcode() == dns.rcode.NOERROR and r.answer, good
        # Queries other than transfers are answered, as named, knotd and nsd do on their
        # TLS ports (DoT); a name we do not serve is REFUSED as on port 53.
        assert tls_query(primary, ctx(["dot"]), qname="example.org").rcode() == dns.rcode.REFUSED


def test_bounds_on_connections(tmp_path, understudy_binary, pki):
    opts = "    max-clients: 2\n    handshake-timeout: 1\n    idle-timeout: 2\n"
    with UsPrimary(tmp_path, understudy_binary, pki, tls_opts=opts) as primary:
        stalled = [socket.create_connection(("127.0.0.1", primary.tls_port)) for _ in range(2)]
        try:
            third = socket.create_connection(("127.0.0.1", primary.tls_port))
            third.settimeout(3)
            t0 = time.monotonic()
            try:
                assert third.recv(1) == b""  # closed at once: two is the limit
            except ConnectionResetError:
                pass
            assert time.monotonic() - t0 < 1.0
            third.close()
            # Plain queries go on meanwhile, over UDP and TCP.
            q = dns.message.make_query(ZONE, "SOA")
            assert primary.query(q).rcode() == dns.rcode.NOERROR
            assert primary.query(q, tcp=True).rcode() == dns.rcode.NOERROR
            t0 = time.monotonic()
            for s in stalled:
                s.settimeout(5)
                try:
                    assert s.recv(1) == b""
                except ConnectionResetError:
                    pass
            took = time.monotonic() - t0
            assert 0.5 < took < 3.0, took
            assert len(lines(primary, "no handshake within handshake-timeout")) == 2
        finally:
            for s in stalled:
                s.close()
        # A connection that finished its handshake and asks nothing goes after idle-timeout.
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        ctx.set_alpn_protocols(["dot"])
        with socket.create_connection(("127.0.0.1", primary.tls_port)) as raw:
            t = ctx.wrap_socket(raw, server_hostname=HOST)
            t.settimeout(6)
            t0 = time.monotonic()
            try:
                assert t.recv(1) == b""
            except (ConnectionResetError, ssl.SSLError):
                pass
            took = time.monotonic() - t0
            assert 1.5 < took < 4.5, took
        assert tls_query(primary, ctx).rcode() == dns.rcode.NOERROR


def test_a_rule_for_transfers_over_tls_only(tmp_path, understudy_binary, pki):
    """`protocol: tls` in a rule: the same key is refused in clear text, served over TLS."""
    acl = "{id: xfr, key: %s, action: transfer, protocol: tls}" % KEY
    with UsPrimary(tmp_path, understudy_binary, pki, acl=acl) as primary:
        q = dns.message.make_query(ZONE, "AXFR")
        q.use_tsig(dns.tsigkeyring.from_text({KEY: SECRET}), keyname=KEY,
                   algorithm="hmac-sha256")
        r = dns.query.tcp(q, "127.0.0.1", port=primary.port, timeout=5)
        assert r.rcode() == dns.rcode.REFUSED
        assert lines(primary, f"AXFR {ZONE} to 127.0.0.1@", "refused by the zone's rules")
        with UsSecondary(tmp_path, understudy_binary, primary.tls_port,
                         tls_remote(pki, "ca+hostname")) as secondary:
            wait_for(lambda: serial(secondary) == SERIAL0, 15, "the AXFR over TLS", secondary)
        assert [x for _, x in transfers(primary, "to") if "over TLS" in x]


def test_structured_logs_name_the_transport(tmp_path, understudy_binary, pki):
    primary = UsPrimary(tmp_path, understudy_binary, pki)
    primary.log_format = ", format: json"
    with primary:
        with UsSecondary(tmp_path, understudy_binary, primary.tls_port,
                         tls_remote(pki, "ca+hostname")) as secondary:
            wait_for(lambda: serial(secondary) == SERIAL0, 15, "the AXFR over TLS", secondary)
        wait_for(lambda: lines(primary, '"event":"transfer"'), 5, "the transfer event", primary)
        events = [json.loads(x) for x in lines(primary, '"event":"transfer"')]
        assert [(e["direction"], e["kind"], e["transport"], e["result"]) for e in events] == [
            ("out", "AXFR", "tls", "ok")], events
        # The text says it; the fields keep the address alone and the transport apart.
        assert "over TLS" in events[0]["message"], events
        assert events[0]["peer"].startswith("127.0.0.1@") and " " not in events[0]["peer"]


# --- the peers


class NamedTlsSecondary(servers.Named):
    """named 9.18 with the zone as a secondary of understudy over TLS: `tls` block with
    ca-file and remote-hostname, `primaries { ... key K tls NAME; }`."""

    def __init__(self, workdir, primary_tls_port, pki):
        super().__init__(workdir, zones=[])
        self.primary_tls_port = primary_tls_port
        self.pki = pki
        self.zones = [(ZONE, self.dir / "example.com.bk")]

    def write_config(self):
        zones, self.zones = self.zones, []
        super().write_config()
        self.zones = zones
        self.conf.write_text(self.conf.read_text() + f"""key "{KEY}" {{
    algorithm hmac-sha256;
    secret "{SECRET}";
}};
tls to-understudy {{
    ca-file "{self.pki.ca}";
    remote-hostname "{HOST}";
}};
zone "{ZONE}" {{
    type secondary;
    primaries {{ 127.0.0.1 port {self.primary_tls_port} key "{KEY}" tls to-understudy; }};
    file "{self.zones[0][1]}";
}};
""")

    def wait_ready(self, timeout=30.0):
        wait_for(lambda: self.proc.poll() is None and serial(self, 0.2) == SERIAL0, timeout,
                 "named's first transfer over TLS", self)


def test_named_secondary_of_understudy_over_tls(tmp_path, understudy_binary, pki):
    named_port = servers.free_port()
    primary = UsPrimary(tmp_path, understudy_binary, pki, notify_port=named_port)
    primary.start()
    named = NamedTlsSecondary(tmp_path, primary.tls_port, pki)
    named.fixed_port = named_port
    cap = Capture(tmp_path / "named.pcap", primary.tls_port)
    try:
        named.start()
        primary.change(1)
        wait_for(lambda: serial(named) == SERIAL0 + 1, 20, "named's IXFR after NOTIFY", named)
        r = named.query(dns.message.make_query(f"xot-canary.{ZONE}", "TXT"))
        assert r.answer and CANARY in r.answer[0][0].to_text()
        raw = cap.bytes()
        assert len(raw) > 20000 and ZONE_TEXT_CANARY not in raw and CANARY.encode() not in raw
        kinds = [x.split()[2] for k, x in transfers(primary, "to") if "over TLS" in x]
        assert kinds == ["AXFR", "IXFR"], primary.output()[-3000:]
        assert not lines(primary, "refused"), primary.output()[-3000:]
    finally:
        cap.bytes()
        stop_all(named, primary)


class NamedTlsPrimary(interop.NamedPrimary):
    """named 9.18 as primary with a TLS listener (`listen-on port N tls NAME`)."""

    def __init__(self, workdir, zone_path, secondary_port, pki):
        super().__init__(workdir, zone_path, secondary_port)
        self.pki = pki
        self.tls_port = servers.free_port(["127.0.0.1"])

    @classmethod
    def zone_text(cls, n):
        return zone_text(n)

    def write_config(self):
        super().write_config()
        text = self.conf.read_text()
        old = "    recursion no;\n"
        assert old in text
        text = text.replace(old, old + f"    listen-on port {self.tls_port} tls xot {{ 127.0.0.1; }};\n")
        self.conf.write_text(f"""tls xot {{
    cert-file "{self.pki.server_cert}";
    key-file "{self.pki.server_key}";
}};
""" + text)


def test_understudy_secondary_of_named_over_tls(tmp_path, understudy_binary, pki):
    sec_port = servers.free_port()
    src = tmp_path / "example.com.zone"
    src.write_text(zone_text(0))
    named = NamedTlsPrimary(tmp_path, src, sec_port, pki)
    named.start()
    secondary = UsSecondary(tmp_path, understudy_binary, named.tls_port,
                            tls_remote(pki, "ca+hostname"))
    secondary.fixed_port = sec_port
    cap = Capture(tmp_path / "from-named.pcap", named.tls_port)
    try:
        secondary.start()
        wait_for(lambda: serial(secondary) == SERIAL0, 15, "the AXFR from named", secondary)
        named.change(1)
        wait_for(lambda: serial(secondary) == SERIAL0 + 1, 20, "the IXFR from named",
                 secondary)
        raw = cap.bytes()
        # One handshake (the connection is kept for the IXFR) and the zone, encrypted.
        assert len(raw) > 15000 and ZONE_TEXT_CANARY not in raw and CANARY.encode() not in raw
        got = transfers(secondary, "from")
        assert [k for k, _ in got] == ["AXFR", "IXFR"], secondary.output()[-3000:]
        assert all(f"127.0.0.1@{named.tls_port} over TLS" in x for _, x in got), got
        interop.same_contents(secondary, named)
    finally:
        cap.bytes()
        stop_all(secondary, named)


class NsdTlsSecondary(servers.Nsd):
    """nsd 4.6 with the zone as a secondary of understudy over TLS (tls-auth)."""

    def __init__(self, workdir, primary_tls_port, pki):
        super().__init__(workdir, zones=[])
        self.primary_tls_port = primary_tls_port
        self.pki = pki
        self.zones = [(ZONE, self.dir / "example.com.zone")]

    def write_config(self):
        zones, self.zones = self.zones, []
        super().write_config()
        self.zones = zones
        text = self.conf.read_text().replace(
            "server:\n", f'server:\n    tls-cert-bundle: "{self.pki.ca}"\n', 1)
        self.conf.write_text(text + f"""key:
    name: "{KEY}"
    algorithm: hmac-sha256
    secret: "{SECRET}"
tls-auth:
    name: "understudy"
    auth-domain-name: "{HOST}"
zone:
    name: "{ZONE}"
    zonefile: "{self.zones[0][1]}"
    request-xfr: 127.0.0.1@{self.primary_tls_port} {KEY} understudy
    allow-notify: 127.0.0.1 {KEY}
""")

    def wait_ready(self, timeout=30.0):
        wait_for(lambda: self.proc.poll() is None and serial(self, 0.2) == SERIAL0, timeout,
                 "nsd's first transfer over TLS", self)


def test_nsd_secondary_of_understudy_over_tls(tmp_path, understudy_binary, pki):
    nsd_port = servers.free_port()
    primary = UsPrimary(tmp_path, understudy_binary, pki, notify_port=nsd_port)
    primary.start()
    nsd = NsdTlsSecondary(tmp_path, primary.tls_port, pki)
    nsd.fixed_port = nsd_port
    try:
        nsd.start()
        primary.change(1)
        wait_for(lambda: serial(nsd) == SERIAL0 + 1, 20, "nsd's transfer after NOTIFY", nsd)
        r = nsd.query(dns.message.make_query(f"xot-canary.{ZONE}", "TXT"))
        assert r.answer and CANARY in r.answer[0][0].to_text()
        tls_out = [x for k, x in transfers(primary, "to") if "over TLS" in x]
        assert len(tls_out) >= 2, primary.output()[-3000:]
        assert not [x for k, x in transfers(primary, "to") if "over TLS" not in x]
    finally:
        stop_all(nsd, primary)


# --- configuration


@pytest.mark.parametrize("remote,message", [
    ("{id: p, address: 192.0.2.1, tls: {hostname: a.example}}", 'needs "ca" or "pin"'),
    ("{id: p, address: 192.0.2.1, tls: {pin: abc}}", "pin: expected the base64 SHA-256"),
    ("{id: p, address: 192.0.2.1, tls: {pin: \"AAAA\"}}", "pin: expected the base64 SHA-256"),
    ("{id: p, address: 192.0.2.1, tls: {ca: /x, certificate: /c}}", 'go together'),
    ("{id: p, address: 192.0.2.1, tls: {ca: /x, sni: a}}", 'unknown option "sni"'),
])
def test_check_conf_refuses_bad_tls(tmp_path, understudy_binary, remote, message):
    conf = tmp_path / "u.yaml"
    conf.write_text(f"remotes:\n  - {remote}\n")
    p = subprocess.run([understudy_binary, "check-conf", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0 and message in p.stdout + p.stderr, p.stdout + p.stderr


def test_check_conf_tls_rules(tmp_path, understudy_binary):
    conf = tmp_path / "u.yaml"
    conf.write_text("""server:
  tls: {certificate: /c.pem, listen: 127.0.0.1}
remotes:
  - {id: p, address: 192.0.2.1, tls: {ca: /ca.pem}}
zones:
  - {domain: example.com, file: /z, notify: [p]}
""")
    p = subprocess.run([understudy_binary, "check-conf", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert 'tls: missing "key"' in out, out
    assert 'notify: remote "p" has tls' in out, out
    conf.write_text("""server:
  tls: {certificate: /c.pem, key: /k.pem, listen: 127.0.0.1, ca: /ca.pem, max-clients: 5}
remotes:
  - {id: p, address: 192.0.2.1, tls: {ca: /ca.pem, hostname: p.example, pin: "%s"}}
""" % ("A" * 43 + "="))
    p = subprocess.run([understudy_binary, "check-conf", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


def test_reload_moves_a_primary_to_tls_and_checks_it(tmp_path, understudy_binary, pki):
    """ctl reload turns a clear-text remote into a TLS one (its CA read at the reload), and a
    wrong hostname given by a later reload fails the transfer, never falling back."""
    pri = UsPrimary(tmp_path, understudy_binary, pki)
    pri.start()
    sec = UsSecondary(tmp_path, understudy_binary, pri.port, None)
    try:
        sec.start()
        wait_for(lambda: serial(sec) == serial(pri), 20, "the clear-text copy", sec)
        assert not lines(sec, "AXFR", "over TLS")
        sec.primary_port = pri.tls_port
        sec.tls = f'{{ca: "{pki.ca}", hostname: {HOST}}}'
        sec.write_config()
        code, out = sec.ctl("reload")
        assert code == 0, out
        assert "1 kept" in out, out
        pri.change(1)
        code, out = sec.ctl("retransfer")
        assert code == 0, out
        wait_for(lambda: serial(sec) == serial(pri), 20, "the change over TLS", sec)
        assert lines(sec, "AXFR", "over TLS", "finished"), sec.output()[-2000:]
        # A hostname the certificate does not hold: refused, and nothing in clear text.
        sec.tls = f'{{ca: "{pki.ca}", hostname: wrong.{HOST}}}'
        sec.write_config()
        code, out = sec.ctl("reload")
        assert code == 0, out
        had = serial(sec)
        pri.change(2)
        before = len(lines(sec, "finished"))
        sec.ctl("retransfer")
        wait_for(lambda: lines(sec, "wrong." + HOST) or lines(sec, "hostname")
                 or lines(sec, "certificate verify failed"), 20, "the failed check", sec)
        assert serial(sec) == had != serial(pri)
        assert len(lines(sec, "finished")) == before
        # A CA that cannot be read: the reload is refused, the running setting stays.
        sec.tls = '{ca: "/nonexistent/ca.pem"}'
        sec.write_config()
        code, out = sec.ctl("reload")
        assert code != 0 and "nothing changed" in out, out
        assert "/nonexistent/ca.pem" in sec.output()
    finally:
        sec.stop()
        pri.stop()
