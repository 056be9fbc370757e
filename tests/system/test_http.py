# SPDX-License-Identifier: MIT
"""test_http: the monitoring listener (server.http) as its users see it.

/health through a secondary's life (ok; degraded when the primary is gone and refreshes keep
failing; 503 fail at expiry; degraded, never fail, under expire-policy keep-serving), /metrics
read by a real Prometheus (Debian's prometheus, scraping on loopback, series read back through
/api/v1/query) and checked by `promtool check metrics`, the alert rules of
etc/understudy-alerts.yml loaded by `promtool check rules`, the status page opened in headless
Chromium with a frozen (SIGSTOP) knotd secondary named behind in its DOM, and bad requests
(methods, paths, huge headers, many connections, a slow client, garbage) refused with 4xx or
dropped while DNS answers on.

The secondaries are test_secondary_faults' (FakePrimary primaries); the fleet is test_fleet's
(a knotd primary, knotd and nsd secondaries).
"""

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import dns.message
import dns.rcode
import pytest

import servers
from servers import wait_for
from fakeprimary import FakePrimary
from test_secondary_faults import KEY, SECRET, Secondary, lab, serial, version

__all__ = ["lab"]  # the fixture, used by name

ROOT = Path(__file__).resolve().parents[2]


class HttpSecondary(Secondary):
    """A test_secondary_faults Secondary with server.http on a port of its own."""

    def __init__(self, *a, http_opts=(), **kw):
        super().__init__(*a, **kw)
        self.http_port = servers.free_port()
        self.http_opts = list(http_opts)

    def write_config(self):
        super().write_config()
        extra = "".join(f"  {o}\n" for o in self.http_opts)
        text = self.conf.read_text().replace(
            "  watch-ns: false\n",
            f'  watch-ns: false\n  http: ["127.0.0.1@{self.http_port}"]\n{extra}', 1)
        self.conf.write_text(text)

    @property
    def base(self):
        return f"http://127.0.0.1:{self.http_port}"


def get(srv, path, method="GET", timeout=5.0):
    """(status, headers, body text) of one request."""
    c = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def health(srv):
    status, headers, body = get(srv, "/health")
    assert headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert (status == 503) == (doc["status"] == "fail"), (status, doc)
    return status, doc


def metrics(srv):
    status, headers, body = get(srv, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return body


def series(text, name, **labels):
    """The value of the series name{labels...} (labels given must match; others may be
    there too), or None."""
    found = all_series(text, name, **labels)
    return found[0] if found else None


def all_series(text, name, **labels):
    """The values of every series name{labels...} matches."""
    out = []
    for line in text.splitlines():
        m = re.match(r"([a-z_]+)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            out.append(float(m.group(4)))
    return out


def until(cond, timeout, what, srv=None):
    """wait_for that returns what cond() gave when it held."""
    got = []
    wait_for(lambda: got.append(cond()) or got[-1], timeout, what, srv)
    return got[-1]


def http_secondary(lab, tmp_path, understudy_binary, fp, zone, **kw):
    lab.n += 1
    sec = HttpSecondary(tmp_path / f"h{lab.n}", understudy_binary,
                        [("pri", [f"127.0.0.1@{fp.port}"], "xfr-key")],
                        keys=[("xfr-key", SECRET)], zone=zone, **kw)
    sec.expect = fp.serial
    lab.secs.append(sec)
    sec.start()
    return sec


# --- /health


@pytest.mark.parametrize("policy", ["servfail", "keep-serving"])
def test_health_through_a_primary_outage(lab, tmp_path, understudy_binary, policy):
    fp = FakePrimary(key=KEY, soa=(1, 1, 10, 60))  # refresh 1, retry 1, expire 10
    fp.publish(1, version(1))
    lab.fakes.append(fp.start())
    sec = http_secondary(lab, tmp_path, understudy_binary, fp,
                         {"expire-min-interval": 1, "primary-timeout": 1,
                          "expire-policy": policy})
    # Fresh: ok, and nothing else said.
    wait_for(lambda: health(sec) == (200, {"status": "ok"}), 10, "health ok", sec)
    text = metrics(sec)
    assert series(text, "understudy_zone_serial", zone="example.com") == 1
    assert series(text, "understudy_zone_health", zone="example.com") == 0
    assert 0 < series(text, "understudy_zone_expires_seconds", zone="example.com") <= 10
    assert series(text, "understudy_health") == 0
    assert series(text, "understudy_zone_state", zone="example.com") is None

    # The primary goes: three failed refreshes in a row make it degraded, still 200.
    fp.udp_mode = "silent"
    fp.tcp_mode = "close"

    def degraded():
        status, doc = health(sec)
        return status == 200 and doc["status"] == "degraded" and doc
    doc = until(degraded, 9, "degraded health", sec)
    (z,) = doc["zones"]
    assert z["zone"] == "example.com" and z["status"] == "degraded"
    assert z["reasons"] == ["refreshes failing"] and z["failures"] >= 3, z
    assert z["serial"] == 1 and z["error"], z
    text = metrics(sec)
    assert series(text, "understudy_zone_state", zone="example.com",
                  state="refresh_failing") == 1
    assert series(text, "understudy_zone_refresh_failures", zone="example.com") >= 3
    assert series(text, "understudy_zone_health", zone="example.com") == 1
    assert series(text, "understudy_zone_last_refresh_seconds", zone="example.com") >= 2

    # Past expiry: fail (503) and SERVFAIL by default; degraded and answering when kept serving.
    mark = sec.mark()
    sec.wait_log(r"zone example\.com: EXPIRED", after=mark, timeout=15)
    status, doc = health(sec)
    (z,) = doc["zones"]
    text = metrics(sec)
    if policy == "servfail":
        assert status == 503 and doc["status"] == "fail" and z["status"] == "fail", doc
        assert z["reasons"] == ["expired"] and z["serial"] is None, z
        assert serial(sec) == ("rcode", dns.rcode.SERVFAIL)
        assert series(text, "understudy_zone_state", zone="example.com", state="expired") == 1
        assert series(text, "understudy_health") == 2
    else:
        assert status == 200 and doc["status"] == "degraded", doc
        assert z["reasons"] == ["serving past expiry", "refreshes failing"], z
        assert z["stale_seconds"] >= 0 and z["serial"] == 1, z
        assert serial(sec) == 1
        assert series(text, "understudy_zone_state", zone="example.com", state="stale") == 1
        assert series(text, "understudy_zone_expires_seconds", zone="example.com") <= 0
        # And it stays so: never fail while a copy is served.
        end = time.monotonic() + 3
        while time.monotonic() < end:
            assert health(sec)[0] == 200
            time.sleep(0.3)

    # The primary is back: ok again.
    fp.udp_mode = "answer"
    fp.tcp_mode = "serve"
    fp.publish(2, version(2))
    wait_for(lambda: health(sec) == (200, {"status": "ok"}), 20, "health ok again", sec)
    text = metrics(sec)
    assert series(text, "understudy_zone_serial", zone="example.com") == 2
    assert sum(all_series(text, "understudy_transfers_total", zone="example.com",
                          direction="in", result="ok")) >= 2


# --- the counters added for /metrics


def test_counters_of_notify_tsig_and_transfers(lab, tmp_path, understudy_binary):
    import dns.query
    import dns.tsig
    import dns.zone

    from fakeprimary import notify

    fp = lab.fake()
    sec = http_secondary(lab, tmp_path, understudy_binary, fp, {},
                         acls=["{id: out, address: [127.0.0.0/8], action: transfer}"],
                         zone_acl=["out"])
    before = metrics(sec)
    assert series(before, "understudy_tsig_failures_total") == 0
    assert series(before, "understudy_notify_total", direction="in", result="accepted") == 0
    # A NOTIFY signed with the zone's key is accepted; one with a wrong secret is refused, and
    # its TSIG check failed.
    r = sec.notify(key=KEY)
    assert r and r[0] == dns.rcode.NOERROR, r
    wrong = (KEY[0], "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=", KEY[2])
    r = notify("127.0.0.1", sec.port, key=wrong)
    assert r and r[0] == dns.rcode.NOTAUTH, r
    # A query signed with a key we do not know: BADKEY, counted too.
    q = dns.message.make_query("example.com", "SOA")
    q.use_tsig(dns.tsig.Key("nobody.", "bm9ib2R5IGtub3dzIHRoaXMga2V5IGF0IGFsbCEh", KEY[2]))
    try:
        sec.query(q)
    except Exception:
        pass  # dnspython may refuse the unsigned BADKEY answer: what counts is the server's
    # An AXFR out, whole.
    z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "example.com", port=sec.port, timeout=5))
    assert z.get_rdataset("@", "SOA")[0].serial == 1

    def counted():
        t = metrics(sec)
        return (series(t, "understudy_notify_total", direction="in", result="accepted") >= 1
                and series(t, "understudy_notify_total", direction="in", result="refused") >= 1
                and series(t, "understudy_tsig_failures_total") >= 2
                and series(t, "understudy_transfers_total", zone="example.com",
                           direction="out", kind="axfr", result="ok") == 1) and t
    text = until(counted, 10, "the counters to count", sec)
    assert series(text, "understudy_transfers_total", zone="example.com", direction="in",
                  kind="axfr", result="ok") == 1
    assert series(text, "understudy_queries_received_total", transport="tcp") >= 1
    # The JSON of the same server agrees on what it counted.
    code, out = sec.ctl("--json", "status")
    assert code == 0 and json.loads(out)["queries"] >= 3, out
    # server.http changes with a restart only: a reload says so, and the listener stays.
    old = sec.http_port
    sec.http_port = servers.free_port()
    sec.write_config()
    code, out = sec.ctl("reload")
    assert "needs a restart: server.http" in out, out
    sec.http_port = old
    assert health(sec) == (200, {"status": "ok"})


# --- bad requests


def raw(port, data, timeout=3.0, read=True):
    """Sends data on a fresh connection; returns what came back until the server closed (b""
    when it closed without a word), or None when it kept the connection open past timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        out = b""
        while read:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                return out
            if not chunk:
                return out
            out += chunk
        return out
    finally:
        s.close()


def status_of(reply):
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply or b"")
    return int(m.group(1)) if m else None


def test_bad_requests_get_4xx_or_are_dropped(lab, tmp_path, understudy_binary):
    fp = lab.fake()
    sec = http_secondary(lab, tmp_path, understudy_binary, fp, {},
                         http_opts=["http-max-clients: 8", "http-timeout: 2"])
    port = sec.http_port
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"):
        for path in ("/health", "/metrics", "/fleet", "/"):
            status, headers, _ = get(sec, path, method)
            assert status == 405 and headers["Allow"] == "GET, HEAD", (method, path, status)
    for path in ("/nope", "/health/", "/metrics.txt", "//", "/../etc/passwd", "/%00",
                 "/fleet/" + "a" * 2000, "/ health"):
        status, _, body = get(sec, urllib.parse.quote(path, safe="/%"))
        assert status == 404, (path, status, body)
    # HEAD: the headers of GET, no body.
    status, headers, body = get(sec, "/metrics", "HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 1000
    # A query string is no other path.
    assert get(sec, "/health?x=1")[0] == 200
    # A body with a POST is not read: 405 all the same.
    r = raw(port, b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
            b"x" * 1000)
    assert status_of(r) == 405, r
    # Garbage and broken request lines: 400, or the connection closed.
    for junk in (b"\x00\x01\x02\x03\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", os.urandom(3000) + b"\r\n\r\n"):
        r = raw(port, junk)
        assert r == b"" or 400 <= status_of(r) < 600, (junk[:20], r[:200])
    # Huge headers: refused (431/413/414/400) or dropped, never served.
    big = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
    r = raw(port, big)
    assert r == b"" or 400 <= status_of(r) < 500, r[:200]
    many = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-%d: %d\r\n" % (i, i) for i in range(5000)) + b"\r\n"
    r = raw(port, many)
    assert r == b"" or 400 <= status_of(r) < 500, r[:200]
    huge_url = b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    r = raw(port, huge_url)
    assert r == b"" or 400 <= status_of(r) < 500, r[:200]

    # A slow client: half a request, then nothing. Dropped after http-timeout (2 s).
    t0 = time.monotonic()
    r = raw(port, b"GET /health HTTP/1.1\r\nHo", timeout=10)
    assert r is not None and time.monotonic() - t0 < 6, r

    # Many connections that never finish a request: DNS answers meanwhile, and each one is
    # closed by the server, those over http-max-clients at once or as soon as they are
    # accepted, the others after http-timeout: 40 go within a few rounds of 2 s.
    held = []
    try:
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", port), timeout=3)
            s.sendall(b"GET /heal")  # never finished
            held.append(s)
        assert serial(sec) == 1
        t0 = time.monotonic()
        for s in held:
            s.settimeout(max(0.1, t0 + 30 - time.monotonic()))
            try:
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass
        took = time.monotonic() - t0
        assert took < 30, took
        print(f"40 stalled connections closed by the server within {took:.1f} s")
        assert serial(sec) == 1
    finally:
        for s in held:
            s.close()
    # Once they are gone, HTTP serves again.
    wait_for(lambda: get(sec, "/health")[0] == 200, 10, "HTTP serving again", sec)
    assert serial(sec) == 1
    assert sec.running()


def test_no_http_by_default_and_bad_config(lab, tmp_path, understudy_binary):
    fp = lab.fake()
    sec = lab.secondary(fp)
    assert "HTTP" not in sec.output()
    # A wrong address is a configuration error with the file and line.
    bad = tmp_path / "bad.yaml"
    bad.write_text('server:\n  http: ["127.0.0.1@99999"]\n')
    p = subprocess.run([understudy_binary, "check-conf", "-c", str(bad)], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode != 0 and re.search(r"bad\.yaml:2: .*http", p.stdout + p.stderr), p
    ok = tmp_path / "ok.yaml"
    ok.write_text('server:\n  http: ["127.0.0.1@8053", "::1"]\n  http-max-clients: 4\n'
                  '  http-timeout: 5\n')
    p = subprocess.run([understudy_binary, "check-conf", "-c", str(ok)], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 0, p


# --- Prometheus


def prometheus_binaries():
    prom, tool = shutil.which("prometheus"), shutil.which("promtool")
    if not prom or not tool:
        pytest.skip("Debian's prometheus package is not installed (scripts/setup.sh)")
    return prom, tool


def promtool(tool, *args, stdin=None):
    return subprocess.run([tool, *args], input=stdin, capture_output=True, text=True, timeout=60)


@pytest.mark.normal_build_only
def test_prometheus_scrapes_the_metrics(lab, tmp_path, understudy_binary):
    prom, tool = prometheus_binaries()
    fp = lab.fake(soa=(1, 1, 3600, 60))  # checked every second
    sec = http_secondary(lab, tmp_path, understudy_binary, fp, {"fleet-interval": 1})
    # Some traffic to count: answered queries, a refused AXFR, a transfer in.
    for _ in range(5):
        assert serial(sec) == 1
    q = dns.message.make_query("nothing.example.org", "A")
    assert sec.query(q).rcode() == dns.rcode.REFUSED
    text = metrics(sec)
    p = promtool(tool, "check", "metrics", stdin=text)
    assert p.returncode == 0, p.stdout + p.stderr
    assert series(text, "understudy_queries_total", transport="udp", rcode="NOERROR") >= 5
    assert series(text, "understudy_queries_total", transport="udp", rcode="REFUSED") >= 1

    port = servers.free_port()
    conf = tmp_path / "prometheus.yml"
    conf.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{ROOT}/etc/understudy-alerts.yml"]
scrape_configs:
  - job_name: understudy
    static_configs:
      - targets: ["127.0.0.1:{sec.http_port}"]
""")
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen([prom, f"--config.file={conf}",
                             f"--storage.tsdb.path={tmp_path}/prom-data",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1"

    def query(expr):
        url = f"{api}/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                doc = json.load(r)
        except OSError:
            return None
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    try:
        res = until(lambda: query('understudy_zone_serial{zone="example.com"}'), 60,
                       "Prometheus to scrape the zone's serial", sec)
        (one,) = res
        assert one["metric"]["job"] == "understudy" and one["value"][1] == "1", one
        res = query('understudy_queries_total{transport="udp",rcode="NOERROR"}')
        assert float(res[0]["value"][1]) >= 5, res
        up = query('up{job="understudy"}')
        assert up[0]["value"][1] == "1", up
        # The fleet: the primary, watched as ours, in sync with lag 0.
        server = f"127.0.0.1@{fp.port}"
        res = until(lambda: query(f'understudy_fleet_in_sync{{server="{server}"}} == 1'),
                       30, "the primary in sync in Prometheus", sec)
        assert res[0]["metric"]["zone"] == "example.com", res
        lag = query(f'understudy_fleet_lag{{server="{server}"}}')
        assert lag[0]["value"][1] == "0", lag
        # The alert rules loaded and evaluated: nothing firing on a healthy zone.
        with urllib.request.urlopen(f"{api}/rules", timeout=3) as r:
            groups = json.load(r)["data"]["groups"]
        names = {rule["name"] for g in groups for rule in g["rules"]}
        assert {"UnderstudyZoneExpired", "UnderstudyFleetOutOfSync"} <= names, names
        # The primary goes: the refresh-failing state reaches Prometheus.
        fp.udp_mode = "silent"
        fp.tcp_mode = "close"
        wait_for(lambda: query('understudy_zone_state{state="refresh_failing"} == 1'), 60,
                 "the refresh_failing state in Prometheus", sec)
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def test_alert_rules_load_in_promtool():
    _, tool = prometheus_binaries()
    p = promtool(tool, "check", "rules", str(ROOT / "etc" / "understudy-alerts.yml"))
    assert p.returncode == 0 and "SUCCESS" in p.stdout, p.stdout + p.stderr


# --- the status page in Chromium


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("Debian's chromium package is not installed (scripts/setup.sh)")


def chromium(binary, tmp_path, url, *what):
    args = [binary, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path}/chromium",
            *what, url]
    return subprocess.run(args, capture_output=True, text=True, timeout=90)


@pytest.mark.normal_build_only
def test_status_page_in_chromium_names_the_frozen_copy(tmp_path, understudy_binary):
    import test_fleet as tf

    browser = chromium_binary()

    class HttpWatcher(tf.Watcher):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.http_port = servers.free_port()

        def write_config(self):
            super().write_config()
            self.conf.write_text(self.conf.read_text().replace(
                "  watch-ns: false\n",
                f'  watch-ns: false\n  http: ["127.0.0.1@{self.http_port}"]\n', 1))

    ports = [servers.free_port() for _ in range(3)]
    src = tmp_path / f"{tf.ORIGIN}.zone"
    src.write_text(tf.zone_text(1))
    pri = tf.KnotPrimary(tmp_path, src, ports)
    pri.start()
    ksec = tf.KnotSecondary(tmp_path, pri.port)
    ksec.fixed_port = ports[1]
    nsec = tf.NsdSecondary(tmp_path, pri.port)
    nsec.fixed_port = ports[2]
    us = HttpWatcher(tmp_path, understudy_binary, pri.port, [
        ("ksec", f"127.0.0.1@{ports[1]}", tf.KEY), ("nsec", f"127.0.0.1@{ports[2]}", tf.KEY)])
    us.fixed_port = ports[0]
    srvs = [pri]
    url = f"http://127.0.0.1:{us.http_port}/"
    try:
        for s in (ksec, nsec, us):
            s.start()
            srvs.append(s)
        kp, ks, ns = (f"127.0.0.1@{p}" for p in (pri.port, ports[1], ports[2]))
        wait_for(lambda: all(tf.fleet(us)[1][a]["in_sync"] for a in (kp, ks, ns)),
                 3 * tf.INTERVAL, "every copy in sync", us)
        # /fleet is exactly what ctl --json fleet says (but for the clock moving on).
        status, _, body = get(us, "/fleet")
        code, text = us.ctl("--json", "fleet")
        drop = re.compile(r'"(checked|error_at|behind_seconds)": [^,}]+')
        assert status == 200 and drop.sub("", body) == drop.sub("", text), (body, text)

        ksec.freeze()
        pri.change(2)
        wait_for(lambda: tf.serial_of(us) == 2, 15, "serial 2 on understudy", us)
        wait_for(lambda: not tf.fleet(us)[1][ks]["in_sync"] and tf.fleet(us)[1][ks]["lag"] == 1,
                 tf.INTERVAL * 2, "the frozen copy behind", us)
        wait_for(lambda: tf.fleet(us)[1][ns]["in_sync"], 30, "nsd in sync at serial 2", us)

        p = chromium(browser, tmp_path, url, "--dump-dom")
        dom = p.stdout
        assert p.returncode == 0 and "<table" in dom, p.stderr[-2000:]

        def cell(server):
            m = re.search(r'<tr data-zone="%s">(.*?)</tr>' % re.escape(tf.ORIGIN), dom, re.S)
            assert m, dom
            c = re.search(r'<td class="(\w+)" data-server="%s" data-state="([\w-]+)" '
                          r'data-lag="(\d+)"[^>]*>(.*?)</td>' % re.escape(server), m.group(1))
            assert c, (server, m.group(1))
            return c.groups()
        cls, state, lag, content = cell(ks)
        # Behind by one, and its check timing out (frozen): coloured as far behind.
        assert cls in ("behind", "far") and (state, lag) == ("behind", "1"), (cls, state, lag)
        assert content.startswith("1<small>1 behind, "), content
        for a in (kp, ns, f"127.0.0.1@{us.port}"):
            cls, state, lag, content = cell(a)
            assert (cls, state, lag) == ("sync", "in-sync", "0") and content.startswith("2"), \
                (a, cls, state, content)
        assert re.search(r'data-status="(ok|degraded)"[^>]*>health: \w+ - 1 zones, 4 copies, '
                         r'1 not in sync<', dom), dom
        # The same seen by a person: a screenshot kept with the test's files.
        shot = tmp_path / "status-page.png"
        p = chromium(browser, tmp_path, url, f"--screenshot={shot}", "--window-size=1400,400",
                     "--hide-scrollbars")
        assert p.returncode == 0 and shot.stat().st_size > 5000, p.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        print(f"status page screenshot: {shot}")
        # /metrics says the same.
        text = metrics(us)
        assert series(text, "understudy_fleet_in_sync", zone=tf.ORIGIN, server=ks) == 0
        assert series(text, "understudy_fleet_lag", zone=tf.ORIGIN, server=ks) == 1
        assert series(text, "understudy_fleet_in_sync", zone=tf.ORIGIN, server=ns) == 1
        assert series(text, "understudy_fleet_propagation_seconds", zone=tf.ORIGIN,
                      server=ns) >= 0
        # Out of sync for longer than fleet-interval: the zone is degraded, naming it.
        def lagging():
            st, doc = health(us)
            return st == 200 and doc["status"] == "degraded" and doc
        doc = until(lagging, 3 * tf.INTERVAL, "degraded: a server lags", us)
        assert doc["zones"][0]["reasons"] == ["a server of the zone lags"], doc
        assert doc["zones"][0]["lagging"] == [ks], doc
        assert series(metrics(us), "understudy_zone_state", zone=tf.ORIGIN,
                      state="fleet_lagging") == 1
        ksec.thaw()
        wait_for(lambda: tf.fleet(us)[1][ks]["in_sync"], 40, "the thawed copy in sync", us)
        wait_for(lambda: health(us) == (200, {"status": "ok"}), 20, "health ok again", us)
    finally:
        for s in srvs:
            if s is ksec and s.running():
                s.thaw()
        tf.stop_all(*reversed(srvs))
