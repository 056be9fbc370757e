# SPDX-License-Identifier: MIT
"""test_importconf: `understudy import-conf` on the configurations the other system tests write
for knotd, nsd and named, and on the example configurations their Debian packages install.

    peers as secondaries    the knot.conf, nsd.conf and named.conf of test_xfrout's secondaries
                            of an understudy primary: the understudy that runs from the
                            translation follows the same primary with the same key (signed
                            NOTIFY, then IXFR), and allows and refuses the same transfers and
                            NOTIFYs as the original does (each asked of both, one after the
                            other, on the same port)
    peers as primaries      test_secondary_interop's primaries: the translation serves the same
                            zone file, refuses and allows the same transfers, and NOTIFYs the
                            same backup, which follows a change by IXFR
    Debian's examples       /etc/bind/named.conf (and what it includes), /etc/knot/knot.conf,
                            /etc/nsd/nsd.conf and NSD's nsd.conf.sample: what is left out is
                            named on standard error as FILE:LINE at the line that holds it, and
                            the output passes check-conf
"""

import re
import subprocess
from pathlib import Path

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.xfr
import pytest

import servers
import test_secondary_interop as interop
import test_xfrout as xfrout
from servers import wait_for


def import_conf(binary, path, *args):
    p = subprocess.run([binary, "import-conf", *args, str(path)], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


class Imported(servers.Understudy):
    """understudy running the translation as written, but for its storage and control paths
    (the translation names the packaged ones, /var/lib/understudy and /run/understudy), on
    the port the original listened on."""

    name = "imported"

    def __init__(self, workdir, binary, text, zones, port):
        super().__init__(workdir, zones=[], binary=binary)
        self.text = text
        self.zones = zones
        self.fixed_port = port

    def write_config(self):
        t = re.sub(r'^  storage: .*$', f'  storage: "{self.dir}/storage"', self.text,
                   count=1, flags=re.M)
        t = re.sub(r'^  control: .*$', f'  control: "{self.dir}/ctl.sock"', t, count=1,
                   flags=re.M)
        assert t.count(str(self.dir)) == 2
        # The test zones' NS addresses are documentation addresses: not to be watched.
        t = re.sub(r'^(  control: .*)$', r'\1\n  watch-ns: false', t, count=1, flags=re.M)
        self.conf.write_text(t)


def accepted_xfr(srv, addr, keyname=None, secret=None):
    kw = {}
    if keyname:
        kw = dict(keyring=dns.tsigkeyring.from_text({keyname: secret}), keyname=keyname,
                  keyalgorithm="hmac-sha256")
    try:
        n = sum(len(rrset) for m in dns.query.xfr(addr, xfrout.ZONE, port=srv.port, timeout=5,
                                                    **kw) for rrset in m.answer)
        return n > 2
    except (dns.xfr.TransferError, dns.exception.DNSException, EOFError, OSError):
        return False


def accepted_notify(srv, addr, keyname=None, secret=None):
    m = dns.message.make_query(xfrout.ZONE, "SOA")
    m.flags = dns.flags.AA
    m.set_opcode(dns.opcode.NOTIFY)
    if keyname:
        m.use_tsig(dns.tsigkeyring.from_text({keyname: secret}), keyname=keyname,
                   algorithm="hmac-sha256")
    try:
        r = dns.query.udp(m, addr, port=srv.port, timeout=3, ignore_unexpected=True)
    except dns.exception.DNSException:
        # dnspython refuses an answer whose TSIG it cannot check (BADKEY, BADSIG).
        return False
    return r.rcode() == dns.rcode.NOERROR


def secondary_behaviour(srv):
    """What the secondary srv allows and refuses, once it holds the zone."""
    wait_for(lambda: xfrout.serial(srv) == 1, what=f"serial 1 on {srv.name}", srv=srv)
    key, good, wrong = xfrout.KEY, xfrout.SECRET, xfrout.WRONG
    out = {
        "AXFR unsigned from 127.0.0.1": accepted_xfr(srv, "127.0.0.1"),
        "AXFR signed from 127.0.0.1": accepted_xfr(srv, "127.0.0.1", key, good),
        "NOTIFY signed from 127.0.0.1": accepted_notify(srv, "127.0.0.1", key, good),
        "NOTIFY unsigned from 127.0.0.1": accepted_notify(srv, "127.0.0.1"),
        "NOTIFY wrong secret from 127.0.0.1": accepted_notify(srv, "127.0.0.1", key, wrong),
        "NOTIFY unknown key from 127.0.0.1": accepted_notify(srv, "127.0.0.1", "other", good),
    }
    if servers.have_ipv6():
        out["AXFR unsigned from ::1"] = accepted_xfr(srv, "::1")
        out["NOTIFY signed from ::1"] = accepted_notify(srv, "::1", key, good)
    return out


SECONDARIES = {"knotd": xfrout.KnotSecondary, "nsd": xfrout.NsdSecondary,
               "named": xfrout.NamedSecondary}


@pytest.mark.parametrize("kind", list(SECONDARIES))
def test_a_peer_secondary_becomes_an_understudy_secondary(tmp_path, understudy_binary, kind):
    zpath = tmp_path / "example.com.zone"
    zpath.write_text(xfrout.zone_text(1))
    with xfrout.Primary(tmp_path, understudy_binary, zpath) as primary:
        peer = SECONDARIES[kind](tmp_path, primary.port)
        with peer:
            original = secondary_behaviour(peer)
        code, text, err = import_conf(understudy_binary, peer.conf)
        print(err)
        assert code == 1, err  # the peer's own files and checks are named as left out
        imported = Imported(tmp_path, understudy_binary, text, [(xfrout.ZONE, None)], peer.port)
        with imported:
            translated = secondary_behaviour(imported)
            print(f"{kind} as secondary, and its translation:", translated)
            assert translated == original, "\n".join(
                f"{k}: {kind} {original[k]}, understudy {translated[k]}" for k in original
                if original[k] != translated.get(k))
            # The same primary, the same key: each new serial comes by NOTIFY and IXFR.
            xfrout.follows(primary, imported, lambda: xfrout.notify(imported))
        # What the original allowed: a keyed NOTIFY, transfers to the tests without a key.
        assert original["NOTIFY signed from 127.0.0.1"]
        assert original["AXFR unsigned from 127.0.0.1"]
        assert not original["NOTIFY wrong secret from 127.0.0.1"]
        if servers.have_ipv6():
            assert not original["AXFR unsigned from ::1"]
    ixfrs = xfrout.log_lines(imported, f"IXFR {xfrout.ZONE} from 127.0.0.1@{primary.port}",
                             "finished")
    assert len(ixfrs) == 2, imported.output()[-3000:]


def primary_behaviour(srv):
    key, good, wrong = interop.KEY, interop.SECRET, interop.WRONG_SECRET
    wait_for(lambda: interop.serial(srv) == interop.SERIAL0, what=f"{srv.name} serving",
             srv=srv)
    out = {
        "AXFR unsigned": accepted_xfr(srv, "127.0.0.1"),
        "AXFR signed": accepted_xfr(srv, "127.0.0.1", key, good),
        "AXFR wrong secret": accepted_xfr(srv, "127.0.0.1", key, wrong),
        "AXFR unknown key": accepted_xfr(srv, "127.0.0.1", "other-key", good),
    }
    if servers.have_ipv6():
        out["AXFR signed from ::1"] = accepted_xfr(srv, "::1", key, good)
    return out


@pytest.mark.parametrize("kind", interop.MAIN)
def test_a_peer_primary_becomes_an_understudy_primary(tmp_path, understudy_binary, kind):
    backup_port = servers.free_port()
    cls = interop.PRIMARIES[kind]
    src = tmp_path / "example.com.zone"
    src.write_text(cls.zone_text(0))
    peer = cls(tmp_path, src, backup_port)
    with peer:
        original = primary_behaviour(peer)
    code, text, err = import_conf(understudy_binary, peer.conf)
    print(err)
    assert code == 1, err
    assert original["AXFR signed"] and not original["AXFR unsigned"]
    imported = Imported(tmp_path, understudy_binary, text, [(interop.ORIGIN, peer.zone_path)],
                        peer.port)
    with imported:
        translated = primary_behaviour(imported)
        print(f"{kind} as primary, and its translation:", translated)
        assert translated == original, (original, translated)
        backup = interop.Backup(tmp_path, understudy_binary, imported.port)
        backup.fixed_port = backup_port
        with backup:
            interop.same_contents(backup, imported)
            # A change of the zone file, reloaded: the translation's NOTIFY list holds the
            # backup, which takes the change by IXFR.
            interop.write_zone(peer.zone_path, cls.zone_text(1))
            code, out = imported.ctl("reload")
            assert code == 0, out
            wait_for(lambda: interop.serial(backup) == interop.SERIAL0 + 1, 15,
                     "the new serial on the backup, by NOTIFY", backup)
            interop.same_contents(backup, imported)
            assert interop.transfers(backup.output())[-1] == (
                "IXFR", interop.SERIAL0, interop.SERIAL0 + 1)


# --- the peers' own examples, from their Debian packages


def reports(err):
    """[(file, line, message)] from import-conf's standard error; every line must be one."""
    out = []
    for line in err.splitlines():
        m = re.match(r"^(/[^:]+):(\d+): (.*)$", line) or re.match(r"^(/[^:]+): (.*)$", line)
        assert m, f"not FILE:LINE: {line!r}"
        if len(m.groups()) == 3:
            out.append((m.group(1), int(m.group(2)), m.group(3)))
        else:
            out.append((m.group(1), 0, m.group(2)))
    return out


def check_examples(binary, tmp_path, path, fmt, want, zones):
    """import-conf on a packaged example: exit 1, every report at a line that names what it
    reports, each of `want` among them, the zones `zones` in the output, check-conf happy."""
    if not Path(path).exists():
        pytest.skip(f"{path} is not installed")
    code, text, err = import_conf(binary, path)
    print(err)
    assert code == 1, err
    code2, text2, err2 = import_conf(binary, path, "--from", fmt)
    assert (code2, text2, err2) == (code, text, err), "detected format differs from --from"
    got = reports(err)
    for f, line, msg in got:
        if line:
            lines = Path(f).read_text().splitlines()
            assert 1 <= line <= len(lines), (f, line)
            # The option the message is about stands on that line.
            opt = re.match(r"^(?:options: |zone \S+: |template \S+: |server: )?([\w.-]+)", msg)
            word = opt.group(1) if opt else ""
            # (A default, which no line holds, is reported at the statement it applies to.)
            if word not in ("zone", "key", "no", "options") and "default" not in msg \
                    and not re.match(r"^\S+: no ", msg):
                assert word in lines[line - 1], (f, line, lines[line - 1], msg)
    for w in want:
        assert any(re.search(w, f"{f}:{line}: {msg}" if line else f"{f}: {msg}")
                   for f, line, msg in got), (w, err)
    for z in zones:
        assert f'- domain: "{z}"' in text, (z, text)
    out = tmp_path / "translated.yaml"
    out.write_text(text)
    p = subprocess.run([binary, "check-conf", "-c", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return text


def test_debian_named_conf(tmp_path, understudy_binary):
    text = check_examples(
        understudy_binary, tmp_path, "/etc/bind/named.conf", "named",
        [r"named\.conf\.default-zones:\d+: zone \.: type hint: not translated",
         r"named\.conf\.options:\d+: options: dnssec-validation: not translated: a "
         r"resolver's option",
         r"named\.conf\.options:\d+: listen-on-v6: any: named listens on each address",
         r"options: recursion \(named's default, yes\)",
         r"zone localhost: notify yes \(named's default\)"],
        ["localhost", "127.in-addr.arpa", "0.in-addr.arpa", "255.in-addr.arpa"])
    assert 'file: "/etc/bind/db.local"' in text
    # named's default allow-transfer is any: so is the translation's, stated as a rule.
    assert re.search(r'- id: "transfer-1"\n    action: transfer\n', text), text


def test_debian_knot_conf(tmp_path, understudy_binary):
    check_examples(
        understudy_binary, tmp_path, "/etc/knot/knot.conf", "knot",
        [r"knot\.conf:\d+: rundir: not translated",
         r"knot\.conf:\d+: user knot:knot: not translated: understudy runs as its own user",
         r"knot\.conf:\d+: log: not translated", r"knot\.conf:\d+: database: not translated",
         r"knot\.conf: server has no listen"], [])


def test_debian_nsd_conf(tmp_path, understudy_binary):
    check_examples(understudy_binary, tmp_path, "/etc/nsd/nsd.conf", "nsd",
                   [r"nsd\.conf:\d+: log-only-syslog: not translated",
                    r"nsd\.conf: no ip-address: nsd listens on every address"], [])


def test_nsd_sample(tmp_path, understudy_binary):
    check_examples(understudy_binary, tmp_path, "/usr/share/doc/nsd/examples/nsd.conf.sample",
                   "nsd", [r"nsd\.conf\.sample:\d+: verify: section not translated"], [])


def test_nsd_sample_with_its_examples(tmp_path, understudy_binary):
    """The sample's commented key:, pattern: and zone option lines, made real: a pattern a
    zone includes, its key, provide-xfr and notify."""
    sample = Path("/usr/share/doc/nsd/examples/nsd.conf.sample")
    if not sample.exists():
        pytest.skip("nsd.conf.sample is not installed")
    lines = sample.read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("# key:"))
    body = []
    for l in lines[start:]:
        m = re.match(r"^#\s?(key:|pattern:)$", l.strip())
        if m:
            body.append(m.group(1))
        elif re.match(r"^\s*#(name|algorithm|secret|zonefile|notify|provide-xfr|"
                      r"notify-retry|allow-query|store-ixfr):", l):
            body.append("\t" + l.strip()[1:])
    body += ["zone:", '\tname: "example.org"', '\tinclude-pattern: "myzones"']
    conf = tmp_path / "nsd.conf"
    conf.write_text("\n".join(body) + "\n")
    print(conf.read_text())
    code, text, err = import_conf(understudy_binary, conf)
    print(err)
    assert code == 1
    assert '- id: "keyname"\n    algorithm: hmac-sha256\n    secret: "K2tf3TRjvQkVCmJF3/Z9vA=="' \
        in text, text
    assert 'file: "example.org.zone"' in text
    # The sample's provide-xfr names a key the sample does not define: that rule is left out.
    assert re.search(r"provide-xfr: key my_tsig_key_name was not translated", err)
    assert "action: transfer" not in text
    assert 'address: ["192.0.2.1@53"]' in text
    assert re.search(r"notify-retry: not translated", err)
    assert re.search(r"allow-query: not translated", err)
    assert re.search(r"store-ixfr: not translated", err)
    assert "no ip-address" in err


def test_detection_and_refusals(tmp_path, understudy_binary):
    """A file that does not parse is refused whole (exit 2), never half translated."""
    cases = {
        "named-open.conf": ('zone "a" { type primary; file "a";\n', "does not end"),
        "named-comment.conf": ('/* never closed\nzone "a" {};\n', "comment that does not end"),
        "knot-alias.conf": ("zone:\n  - domain: &a example.com\n  - domain: *a\n",
                            "YAML alias"),
        "knot-broken.conf": ("zone:\n  - domain: [\n", "not YAML as knot.conf is"),
        "nsd-line.conf": ("server:\n\tip-address 192.0.2.1\nzone:\n\tname: a\n",
                          "not an \"option: value\" line"),
    }
    for name, (body, why) in cases.items():
        f = tmp_path / name
        f.write_text(body)
        fmt = name.split("-")[0]
        code, text, err = import_conf(understudy_binary, f, "--from", fmt)
        assert code == 2 and text == "" and why in err, (name, code, err)
    code, _, err = import_conf(understudy_binary, tmp_path / "missing.conf")
    assert code == 2 and "cannot read" in err
