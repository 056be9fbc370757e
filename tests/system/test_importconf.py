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


# --- catalog zones (docs/catalog-zones.md, docs/migrating.md)

CAT_SECRET = "Wm9uZVRyYW5zZmVyS2V5MDAwMDAwMDAwMDAwMDAwMDA="


def translate_ok(binary, tmp_path, name, body, peer_check=None):
    """Writes body to tmp_path/name, has the peer's own checker accept it (when given; "{}" is
    the file), and
    returns (exit code, the translation as parsed YAML, its text, standard error) once
    check-conf has accepted the translation."""
    import yaml
    src = tmp_path / name
    src.write_text(body)
    if peer_check:
        p = subprocess.run([a.replace("{}", str(src)) for a in peer_check],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
    code, text, err = import_conf(binary, src)
    print(err)
    assert code in (0, 1), err
    out = tmp_path / (name + ".yaml")
    out.write_text(text)
    p = subprocess.run([binary, "check-conf", "-c", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr + text
    return code, yaml.safe_load(text), text, err


def zone_of(conf, name):
    return next(z for z in conf["zones"] if z["domain"] == name)


KNOT_PRODUCER = """server:
    listen: 127.0.0.1@5300
remote:
  - id: backup
    address: 192.0.2.53@53
acl:
  - id: backups
    address: 192.0.2.0/24
    action: transfer
template:
  - id: default
    storage: /var/lib/knot/zones
    acl: backups
    notify: backup
zone:
  - domain: catalog.example.
    catalog-role: generate
  - domain: example.com.
    catalog-role: member
    catalog-zone: catalog.example.
  - domain: example.net.
    catalog-role: member
    catalog-zone: catalog.example.
    catalog-group: signed
"""


def test_knot_catalog_producer(tmp_path, understudy_binary):
    """knotd's generated catalog is understudy's producer (no file), its members name it."""
    code, conf, text, err = translate_ok(understudy_binary, tmp_path, "knot.conf",
                                         KNOT_PRODUCER, ["knotc", "-c", "{}", "conf-check"])
    assert code == 0 and err == "", err
    cat = zone_of(conf, "catalog.example")
    assert cat["catalog-role"] == "producer" and "file" not in cat, cat
    assert cat["role"] == "primary" and cat["acl"] and cat["notify"], cat
    com, net = zone_of(conf, "example.com"), zone_of(conf, "example.net")
    assert com["catalog-zone"] == "catalog.example" and "catalog-group" not in com, com
    assert net["catalog-zone"] == "catalog.example" and net["catalog-group"] == "signed", net
    assert com["file"] == "/var/lib/knot/zones/example.com.zone", com
    assert "templates" not in conf, text


KNOT_CONSUMER = """server:
    listen: 127.0.0.1@5300
key:
  - id: k1
    algorithm: hmac-sha256
    secret: {secret}
remote:
  - id: pri
    address: 192.0.2.1@53
    key: k1
acl:
  - id: from-pri
    address: 192.0.2.1
    key: k1
    action: notify
template:
  - id: default
    file: /etc/knot/%s.zone
  - id: member
    master: pri
    acl: from-pri
    refresh-min-interval: 10
  - id: signed
    master: pri
    acl: from-pri
    storage: /var/lib/knot/signed
zone:
  - domain: catalog.example.
    master: pri
    acl: from-pri
    catalog-role: interpret
    catalog-template: [member, signed]
  - domain: hosted.example.
  - domain: own.example.
    template: member
    file: /var/lib/knot/own.example.zone
"""


def test_knot_catalog_consumer_with_two_templates(tmp_path, understudy_binary):
    """knotd's interpreted catalog is understudy's consumer; its catalog templates become
    understudy templates, in order (a member's group picks one by id, as in knotd). Since a
    template "default" is written too, the zones of other templates name theirs."""
    body = KNOT_CONSUMER.format(secret=CAT_SECRET).replace(
        "catalog-template: [member, signed]", "catalog-template: [member, signed, default]")
    # knotd takes "default" as a catalog template only if it has what members need.
    body = body.replace("  - id: default\n    file: /etc/knot/%s.zone\n",
                        "  - id: default\n    file: /etc/knot/%s.zone\n    master: pri\n")
    code, conf, text, err = translate_ok(understudy_binary, tmp_path, "knot.conf", body,
                                         ["knotc", "-c", "{}", "conf-check"])
    cat = zone_of(conf, "catalog.example")
    assert cat["role"] == "secondary" and cat["catalog-role"] == "consumer", cat
    assert cat["catalog-template"] == ["member", "signed", "default"], cat
    tpl = {t["id"]: t for t in conf["templates"]}
    assert set(tpl) == {"member", "signed", "default"}, tpl
    assert tpl["member"]["primaries"] == tpl["signed"]["primaries"] == cat["primaries"]
    assert tpl["member"]["acl"] == cat["acl"] and tpl["member"]["refresh-min-interval"] == 10
    assert tpl["signed"]["file"] == "/var/lib/knot/signed/%s.zone", tpl["signed"]
    # own.example is of template member in knotd: it must not take "default" in understudy.
    assert zone_of(conf, "own.example")["template"] == "member"
    assert "template" not in zone_of(conf, "hosted.example")
    assert code == 0 and err == "", err


def test_knot_catalog_consumer_without_the_default_template(tmp_path, understudy_binary):
    code, conf, text, err = translate_ok(understudy_binary, tmp_path, "knot.conf",
                                         KNOT_CONSUMER.format(secret=CAT_SECRET),
                                         ["knotc", "-c", "{}", "conf-check"])
    assert code == 0 and err == "", err
    assert [t["id"] for t in conf["templates"]] == ["member", "signed"], text
    assert zone_of(conf, "catalog.example")["catalog-template"] == ["member", "signed"]
    # Without a written "default" template, no zone needs to name its template.
    assert all("template" not in z for z in conf["zones"]), text


def test_knot_catalog_what_is_not_translated(tmp_path, understudy_binary):
    """What understudy cannot express is reported with the reason, and the rest stands."""
    body = """server:
    listen: 127.0.0.1@5300
remote:
  - id: pri
    address: 192.0.2.1@53
template:
  - id: local
    file: /etc/knot/%s.zone
  - id: remote
    master: pri
zone:
  - domain: hybrid.example.
    catalog-role: hybrid
  - domain: fromfile.example.
    catalog-role: interpret
    catalog-template: remote
  - domain: cat.example.
    master: pri
    catalog-role: interpret
    catalog-template: [local, remote, nosuch]
  - domain: stray.example.
    catalog-zone: cat.example.
  - domain: lost.example.
    catalog-role: member
    catalog-zone: cat.example.
"""
    code, conf, text, err = translate_ok(understudy_binary, tmp_path, "knot.conf", body)
    assert code == 1


    assert re.search(r"knot\.conf:13: zone hybrid\.example: catalog-role hybrid .*understudy's "
                     r"catalog is a producer or a consumer, not both", err), err
    assert re.search(r"knot\.conf:15: zone fromfile\.example: catalog-role interpret on a "
                     r"catalog knotd loads from its file", err), err
    assert re.search(r"catalog-template nosuch is not defined", err), err
    assert re.search(r"zone cat\.example: catalog template local: no primary understudy can "
                     r"use", err), err
    assert re.search(r"knot\.conf:22: zone stray\.example: catalog-zone: knotd uses it with "
                     r"catalog-role member only", err), err
    assert re.search(r"zone lost\.example: catalog-zone cat\.example: not a generated "
                     r"\(producer\) catalog; left out", err), err
    cat = zone_of(conf, "cat.example")
    assert cat["catalog-role"] == "consumer" and cat["catalog-template"] == ["remote"], cat
    assert "catalog-role" not in zone_of(conf, "hybrid.example")
    assert "catalog-role" not in zone_of(conf, "fromfile.example")
    assert "catalog-zone" not in zone_of(conf, "lost.example")


NAMED_CONSUMER = """key "k1" {{
	algorithm hmac-sha256;
	secret "{secret}";
}};
options {{
	directory "{dir}";
	listen-on port 5300 {{ 127.0.0.1; }};
	listen-on-v6 {{ none; }};
	recursion no;
	notify explicit;
	allow-transfer {{ key k1; }};
	allow-notify {{ 192.0.2.9; }};
	catalog-zones {{
		zone "catalog.example." default-primaries {{ 192.0.2.1 key k1; }} in-memory yes
			zone-directory "catzones" min-update-interval 5;
	}};
}};
zone "catalog.example" {{
	type secondary;
	file "catalog.example.db";
	masterfile-format text;
	primaries {{ 192.0.2.1 key k1; }};
	allow-transfer {{ none; }};
}};
"""


def test_named_catalog_consumer(tmp_path, understudy_binary):
    """named's catalog-zones entry: the secondary it names becomes understudy's consumer,
    with a template of the default-primaries and the rules named gives the members (the
    options' ones, not the catalog zone's own)."""
    (tmp_path / "catzones").mkdir()
    code, conf, text, err = translate_ok(
        understudy_binary, tmp_path, "named.conf",
        NAMED_CONSUMER.format(secret=CAT_SECRET, dir=tmp_path), ["named-checkconf", "{}"])
    assert code == 1
    cat = zone_of(conf, "catalog.example")
    assert cat["catalog-role"] == "consumer", cat
    [tpl] = conf["templates"]
    assert cat["catalog-template"] == [tpl["id"]] == ["catalog.example members"], cat
    remotes = {r["id"]: r for r in conf["remotes"]}
    assert [remotes[r]["address"] for r in tpl["primaries"]] == [["192.0.2.1@53"]]
    assert remotes[tpl["primaries"][0]]["key"] == "k1"
    acls = {a["id"]: a for a in conf["acls"]}
    rules = sorted((tuple(acls[a].get("address", [])), acls[a].get("key", ""), acls[a]["action"])
                   for a in tpl["acl"])
    # The members: transfers with k1 (the options' allow-transfer), NOTIFY from the primary
    # and from the options' allow-notify, signed or not (named matches by address).
    assert rules == sorted([((), "k1", "transfer"),
                            (("192.0.2.1",), "", "notify"), (("192.0.2.1",), "k1", "notify"),
                            (("192.0.2.9",), "", "notify"), (("192.0.2.9",), "k1", "notify")]), rules
    # The catalog itself keeps its own allow-transfer { none; }: no transfer rule.
    assert all(acls[a]["action"] != "transfer" for a in cat["acl"]), cat
    for opt in ("in-memory yes", "zone-directory catzones", "min-update-interval 5"):
        assert len(re.findall(rf"named\.conf:1[45]: catalog-zones: zone catalog\.example: "
                              rf"{opt}: not translated: understudy", err)) == 1, (opt, err)


def test_named_catalog_what_is_not_translated(tmp_path, understudy_binary):
    body = """options {
	listen-on port 5300 { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	catalog-zones {
		zone "noprim.example";
		zone "local.example" default-primaries { 192.0.2.1; };
	};
};
zone "noprim.example" { type secondary; primaries { 192.0.2.1; }; };
zone "local.example" { type primary; file "/etc/bind/local.example.db"; };
"""
    code, conf, text, err = translate_ok(understudy_binary, tmp_path, "named.conf", body,
                                         ["named-checkconf", "{}"])
    assert code == 1
    assert re.search(r"named\.conf:6: catalog-zones: zone noprim\.example: no "
                     r"default-primaries: named takes the members' primaries from the "
                     r"catalog's own properties", err), err
    assert re.search(r"named\.conf:7: catalog-zones: zone local\.example: a catalog named "
                     r"loads from its file", err), err
    assert all("catalog-role" not in z for z in conf["zones"]), text
    assert "templates" not in conf


def test_nsd_catalog_consumer_and_producer(tmp_path, understudy_binary):
    """nsd 4.9's catalog options (nsd.conf(5)); the nsd here (4.6) has none, so no nsd-checkconf."""
    body = f"""server:
	ip-address: 127.0.0.1@5300
key:
	name: k1
	algorithm: hmac-sha256
	secret: "{CAT_SECRET}"
pattern:
	name: "member"
	request-xfr: 192.0.2.1 k1
	allow-notify: 192.0.2.1 k1
pattern:
	name: "group1"
	request-xfr: 192.0.2.2 k1
	allow-notify: 192.0.2.2 k1
pattern:
	name: "hosted"
	catalog-producer-zone: "cat.example"
zone:
	name: "catalog.example"
	catalog: consumer
	catalog-member-pattern: "member"
	request-xfr: 192.0.2.1 k1
	allow-notify: 192.0.2.1 k1
zone:
	name: "cat.example"
	catalog: producer
	provide-xfr: 192.0.2.0/24 k1
zone:
	name: "x.example"
	zonefile: "x.zone"
	include-pattern: "hosted"
"""
    code, conf, text, err = translate_ok(understudy_binary, tmp_path, "nsd.conf", body)
    assert code == 1
    cat = zone_of(conf, "catalog.example")
    # The member pattern first; a member's group may name any other pattern with primaries.
    assert cat["catalog-role"] == "consumer" and cat["catalog-template"] == ["member", "group1"]
    assert [t["id"] for t in conf["templates"]] == ["member", "group1"]
    prod = zone_of(conf, "cat.example")
    assert prod["catalog-role"] == "producer" and "file" not in prod, prod
    assert re.search(r"nsd\.conf:26: zone cat\.example: catalog: producer: translated, but its "
                     r"members are the zones nsd-control addzone added", err), err
    assert re.search(r"nsd\.conf:17: catalog-producer-zone \"cat\.example\": not translated", err)
    assert "catalog-zone" not in zone_of(conf, "x.example")
    assert "no zone includes it" not in err, err


def test_knot_consumer_translation_serves_our_producers_members(tmp_path, understudy_binary):
    """End to end: a knotd consumer configuration of an understudy producer's catalog,
    translated, runs as an understudy that serves the members, each with the template its
    group names."""
    import test_catalog as cat
    port = servers.free_port()
    (tmp_path / "knotdata" / "blue").mkdir(parents=True)
    with cat.Producer(tmp_path, understudy_binary, {"u1.test": None, "u2.test": "blue"},
                      notify_port=port) as p:
        body = f"""server:
    listen: 127.0.0.1@{port}
remote:
  - id: pri
    address: 127.0.0.1@{p.port}
acl:
  - id: notify
    address: 127.0.0.0/8
    action: notify
  - id: out
    address: 127.0.0.0/8
    action: transfer
template:
  - id: member
    master: pri
    acl: [notify, out]
    storage: {tmp_path}/knotdata
  - id: blue
    master: pri
    acl: [notify, out]
    storage: {tmp_path}/knotdata/blue
zone:
  - domain: {cat.CATZ}
    master: pri
    acl: [notify, out]
    storage: {tmp_path}/knotdata
    catalog-role: interpret
    catalog-template: [member, blue]
"""
        code, conf, text, err = translate_ok(understudy_binary, tmp_path, "knot.conf", body,
                                             ["knotc", "-c", "{}", "conf-check"])
        assert code == 0, err
        imported = Imported(tmp_path, understudy_binary, text, [(cat.CATZ, None)], port)
        with imported:
            cat.wait_members(imported, {"u1.test": 1, "u2.test": 1})
            assert cat.log_lines(imported, "zone u2.test: added from catalog catalog.test",
                                 "template blue"), imported.output()[-3000:]
            assert cat.log_lines(imported, "zone u1.test: added from catalog catalog.test",
                                 "template member"), imported.output()[-3000:]
            # ctl sync writes each member where its knotd template kept it.
            code, out = imported.ctl("sync")
            assert code == 0, out
            wait_for(lambda: (tmp_path / "knotdata" / "blue" / "u2.test.zone").exists(),
                     what="u2.test's file from ctl sync", srv=imported)
            assert (tmp_path / "knotdata" / "u1.test.zone").exists()
