# SPDX-License-Identifier: MIT
"""test_cookies: DNS cookies (RFC 7873) with RFC 9018 server cookies, as dig, named and knotd see them.

A fleet that shares a server secret must accept each other's cookies: understudy's server
cookies are checked by named (cookie-algorithm siphash24, the same cookie-secret,
require-server-cookie, so a cookie it does not accept gets BADCOOKIE) and by knotd's mod-cookies
(which answers BADCOOKIE to a cookie it does not accept over UDP), and theirs by understudy,
which sends a valid fresh server cookie back as it came (and counts it good) and replaces any
other. Each check has its negative twin, a cookie with one bit changed, so none can pass by
accident.
"""

import os
import re
import socket
import subprocess

import dns.message
import dns.rcode
import pytest

from loadclients import BADCOOKIE, query_wire, reply_cookie
from servers import Knotd, Named, Understudy, have_ipv6

SECRET = "e5e973e5a6b2a43f48e7dc849e37bfcf"  # RFC 9018 appendix A's


@pytest.fixture(scope="module")
def understudy_bin():
    path, why = Understudy.find_binary()
    if not path:
        pytest.skip(why)
    return path


def ask(port, cookie, addr="127.0.0.1", src=None):
    """(rcode, reply cookie) for a query for www.example.com with the COOKIE option."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if src:
        s.bind((src, 0))
    s.settimeout(2)
    try:
        s.sendto(query_wire("www.example.com.", cookie=cookie), (addr, port))
        data = s.recv(4096)
    finally:
        s.close()
    m = dns.message.from_wire(data)
    return m.rcode(), reply_cookie(data)


def learn(port, addr="127.0.0.1"):
    """A server cookie from the server at addr, for this host's address towards it."""
    cc = os.urandom(8)
    rcode, c = ask(port, cc, addr)
    assert c is not None and c[:8] == cc and len(c) == 24, (rcode, c)
    return c


def flip(cookie):
    return cookie[:-1] + bytes([cookie[-1] ^ 1])


def stat(us, name):
    code, out = us.ctl("status")
    assert code == 0, out
    return int(re.search(rf"\b{name}=(\d+)", out).group(1))


def addrs():
    return ["127.0.0.1", "::1"] if have_ipv6() else ["127.0.0.1"]


def test_dig_cookie_round_trip(tmp_path, understudy_bin):
    with Understudy(tmp_path, server_opts=["cookies: true"]) as us:
        dig = ["dig", "+cookie", "+norec", "-p", str(us.port), "@127.0.0.1", "www.example.com"]
        out = subprocess.run(dig, capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"; COOKIE: ([0-9a-f]+) \(good\)", out)
        assert m and len(m.group(1)) == 48, out
        assert "198.51.100.80" in out
        # Sent back, the server cookie is valid and comes back as it went (still fresh).
        out = subprocess.run(dig[:1] + [f"+cookie={m.group(1)}"] + dig[2:], capture_output=True,
                             text=True, timeout=10).stdout
        assert f"; COOKIE: {m.group(1)} (good)" in out, out
        assert stat(us, "cookies-good") == 1
        assert stat(us, "cookies-client-only") == 1


def test_malformed_cookies_formerr(tmp_path, understudy_bin):
    with Understudy(tmp_path, server_opts=["cookies: true"]) as us:
        for n in (0, 7, 9, 15, 41):
            rcode, c = ask(us.port, os.urandom(n))
            assert rcode == dns.rcode.FORMERR and c is None, (n, rcode)
        for n in (8, 16, 24, 40):
            rcode, c = ask(us.port, os.urandom(n))
            assert rcode == dns.rcode.NOERROR and len(c) == 24, (n, rcode)
    # Cookies off: the option is not looked at (as before cookies existed here).
    with Understudy(tmp_path / "off") as us:
        rcode, c = ask(us.port, os.urandom(9))
        assert rcode == dns.rcode.NOERROR and c is None


def test_understudy_cookies_accepted_by_named_and_knotd(tmp_path, understudy_bin):
    named = Named(tmp_path / "named", options=["cookie-algorithm siphash24;",
                                              f'cookie-secret "{SECRET}";',
                                              "require-server-cookie yes;"])
    knot = Knotd(tmp_path / "knot", modules=f"mod-cookies:\n  - id: fleet\n    secret: 0x{SECRET}\n",
                 global_modules=["mod-cookies/fleet"])
    with Understudy(tmp_path, server_opts=["cookies: true", f"cookie-secret: {SECRET}"]) as us, \
            named, knot:
        for addr in addrs():
            ours = learn(us.port, addr)
            for peer in (named, knot):
                rcode, c = ask(peer.port, ours, addr)
                assert rcode == dns.rcode.NOERROR, (peer.name, addr, rcode)
                rcode, c = ask(peer.port, flip(ours), addr)
                assert rcode == BADCOOKIE, (peer.name, addr, rcode)
                # And the other way round: theirs are ours.
                theirs = learn(peer.port, addr)
                good = stat(us, "cookies-good")
                rcode, c = ask(us.port, theirs, addr)
                assert rcode == dns.rcode.NOERROR and c == theirs, (peer.name, addr, c, theirs)
                assert stat(us, "cookies-good") == good + 1
                bad = stat(us, "cookies-bad")
                rcode, c = ask(us.port, flip(theirs), addr)
                assert c != flip(theirs) and c[:8] == theirs[:8], (peer.name, addr)
                assert stat(us, "cookies-bad") == bad + 1


def test_rotation_and_the_kept_secret(tmp_path, understudy_bin):
    us = Understudy(tmp_path, server_opts=["cookies: true"])
    with us:
        c1 = learn(us.port)
        secret_file = us.dir / "storage" / "cookie-secret"
        assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
        code, out = us.ctl("cookie-rotate")
        assert code == 0 and "previous one still accepted" in out, out
        # The old secret's cookie is still good, but is replaced by one of the new secret.
        good = stat(us, "cookies-good")
        rcode, c2 = ask(us.port, c1)
        assert rcode == dns.rcode.NOERROR and c2 != c1 and c2[:8] == c1[:8]
        assert stat(us, "cookies-good") == good + 1
        code, out = us.ctl("cookie-rotate")
        assert code == 0, out
        # Two rotations on, the first secret is gone; the second is still accepted.
        bad = stat(us, "cookies-bad")
        ask(us.port, c1)
        assert stat(us, "cookies-bad") == bad + 1
        good = stat(us, "cookies-good")
        ask(us.port, c2)
        assert stat(us, "cookies-good") == good + 1
        c3 = learn(us.port)
        code, out = us.ctl("cookie-rotate", "zz")
        assert code == 1 and "32 hexadecimal digits" in out, out
    # After a restart the kept secrets are the same: c3 is echoed as valid and fresh.
    with us:
        rcode, c = ask(us.port, c3)
        assert c == c3 and stat(us, "cookies-good") == 1
    # A secret set with ctl makes the same cookies as named with that secret.
    named = Named(tmp_path / "named", options=[f'cookie-secret "{SECRET}";',
                                              "require-server-cookie yes;"])
    with us, named:
        code, out = us.ctl("cookie-rotate", SECRET)
        assert code == 0, out
        rcode, _ = ask(named.port, learn(us.port))
        assert rcode == dns.rcode.NOERROR
        code, out = us.ctl("cookie-rotate")
        assert code == 0, out
        rcode, _ = ask(named.port, learn(us.port))
        assert rcode == BADCOOKIE


def test_rotation_needs_cookies_on(tmp_path, understudy_bin):
    with Understudy(tmp_path) as us:
        code, out = us.ctl("cookie-rotate")
        assert code == 1 and "cookies are off" in out, out
