# SPDX-License-Identifier: MIT
"""test_rrl: response rate limiting as clients see it, understudy beside knotd's mod-rrl.

Every address of 127.0.0.0/8 is a client of its own. One /24 (127.0.1.0/24, 16 addresses, two
ports each, so the kernel spreads it over the UDP workers) floods the same name at ten times the
rate limit; meanwhile clients of two other prefixes ask at half the limit, a whitelisted prefix
floods too, and a client inside the flooded /24 that holds a valid server cookie asks at half the
limit. After the first 1.5 seconds (knotd's token bucket starts with four seconds of tokens),
the flood must get the rate answered and the rest slipped (truncated) or dropped as `slip` says,
within a tolerance, and every other client every answer. knotd gets the same scenario with
mod-cookies and mod-rrl, and must come out the same within the same tolerance: the semantics
agree.
"""

import os
import re
import time

import pytest

from loadclients import Stream, query_wire, reply_cookie, run
from servers import Knotd, Understudy, wait_for

RATE = 40  # responses per second per account
FLOOD = 10 * RATE
SECONDS = 5.5
STEADY = 1.5  # the flood's first seconds are left out: knotd starts with a full bucket
FLOODERS = [f"127.0.1.{i}" for i in range(1, 17)]
COOKIE_CLIENT = "127.0.1.200"  # in the flooded /24
WHITE = [f"127.0.9.{i}" for i in range(1, 5)]
WWW = query_wire("www.example.com.")

RRL_OPTS = [f"rrl: {{rate-limit: {RATE}, slip: 2, whitelist: [127.0.9.0/24]}}", "cookies: true"]
KNOT_MODULES = f"""mod-rrl:
  - id: default
    rate-limit: {RATE}
    slip: 2
    whitelist: 127.0.9.0/24
"""


@pytest.fixture(scope="module")
def understudy_bin():
    path, why = Understudy.find_binary()
    if not path:
        pytest.skip(why)
    return path


def server_cookie(port, src):
    """A valid server cookie for src: a first query with a client cookie gets one."""
    import socket

    cc = os.urandom(8)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(2)
    for _ in range(5):
        s.sendto(query_wire("www.example.com.", cookie=cc), ("127.0.0.1", port))
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        c = reply_cookie(data)
        if c and c[:8] == cc and len(c) > 8:
            s.close()
            return c
    s.close()
    raise AssertionError(f"no server cookie for {src}")


def scenario(port):
    """Runs the flood and the other clients; returns the streams."""
    cookie = server_cookie(port, COOKIE_CLIENT)
    with_cookie = query_wire("www.example.com.", cookie=cookie)
    flood = Stream("flood", port, FLOODERS, FLOOD, lambda i: WWW, ports_per_source=2)
    calm = [Stream(f"calm{j}", port, [f"127.0.{j}.1"], RATE // 2, lambda i: WWW)
            for j in (2, 3)]
    white = Stream("white", port, WHITE, FLOOD, lambda i: WWW)
    cookied = Stream("cookie", port, [COOKIE_CLIENT], RATE // 2, lambda i: with_cookie)
    streams = [flood, *calm, white, cookied]
    run(streams, SECONDS)
    return {st.name: st for st in streams}


def check_limited(c, rate, slip, seconds, who):
    """The flood's outcomes over `seconds` of steady state match rate and slip."""
    want = rate * seconds
    limited = c["sent"] - c["answer"]
    # Per-second windows: the steady span may hold up to one second's allowance more or less.
    assert abs(c["answer"] - want) <= 0.25 * want + rate, f"{who}: {c}, expected ~{want:.0f}"
    assert c["error"] == 0 and c["badcookie"] == 0, f"{who}: {c}"
    if slip == 0:
        assert c["tc"] == 0, f"{who}: {c}"
    else:
        exp_tc = limited / slip
        assert abs(c["tc"] - exp_tc) <= 0.2 * exp_tc + 10, f"{who}: {c}, ~{exp_tc:.0f} TC"
    assert abs(c["lost"] - (limited - limited / slip if slip else limited)) <= 0.2 * limited + 10


def check_scenario(st, who, lossy=False):
    """lossy: the server is a peer whose own counters we cannot read, so a datagram it never
    read (its socket full while the machine is busy) looks like an RRL drop. With slip 2 every
    other limited response is a TC, so none means no limiting; a little loss is then allowed."""
    f = st["flood"].count(since=STEADY)
    check_limited(f, RATE, 2, SECONDS - STEADY, who)
    for name in ("calm2", "calm3", "white", "cookie"):
        c = st[name].count()
        if lossy:
            assert c["tc"] == 0 and c["badcookie"] == 0 and c["error"] == 0, f"{who}: {name}: {c}"
            assert c["lost"] <= 0.1 * c["sent"] and c["sent"] > 0, f"{who}: {name}: {c}"
        else:
            assert c["answer"] == c["sent"] and c["sent"] > 0, \
                f"{who}: {name} not answered in full: {c}"
    return f


@pytest.mark.normal_build_only
def test_flood_limited_others_answered_knotd_agrees(tmp_path, understudy_bin):
    with Understudy(tmp_path, server_opts=RRL_OPTS) as us:
        st = scenario(us.port)
        ours = check_scenario(st, "understudy")
        # The counters say what the clients saw: every TC was a slip, every loss a drop.
        code, out = us.ctl("status")
        assert code == 0, out
        stats = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
        tc = sum(s.count()["tc"] for s in st.values())
        lost = sum(s.count()["lost"] for s in st.values())
        assert int(stats["rrl-slipped"]) == tc, (stats, tc)
        assert int(stats["rrl-dropped"]) == lost, (stats, lost)
        assert int(stats["rrl-limited"]) == tc + lost
        assert int(stats["cookies-good"]) >= st["cookie"].count()["sent"]
        # The start is logged once, for the flooded prefix only, and the end after it.
        wait_for(lambda: "leaves limiting" in us.output(), 10, "the end of limiting", us)
        text = us.output()
        starts = re.findall(r"rrl: (\S+), class answer, www\.example\.com\. type 1: enters", text)
        assert starts == ["127.0.1.0/24"], starts
    knot = Knotd(tmp_path / "knot", modules=KNOT_MODULES,
                 global_modules=["mod-cookies", "mod-rrl/default"], udp_workers=2)
    with knot:
        st = scenario(knot.port)
        theirs = check_scenario(st, "knotd", lossy=True)
    print(f"\nsteady-state flood outcomes: understudy {ours}, knotd {theirs}")
    # The same shape: answered, truncated and dropped shares within 20 points of each other.
    for k in ("answer", "tc", "lost"):
        a, b = ours[k] / ours["sent"], theirs[k] / theirs["sent"]
        assert abs(a - b) <= 0.2, f"{k}: understudy {ours}, knotd {theirs}"


def test_slip_and_rate_changed_at_run_time(tmp_path, understudy_bin):
    """ctl rrl changes the limits of a running server, for the very next second."""
    with Understudy(tmp_path, server_opts=RRL_OPTS) as us:
        code, out = us.ctl("rrl", "slip", "1")
        assert code == 0 and "slip=1" in out, out
        code, out = us.ctl("rrl", "rate-limit", "20")
        assert code == 0 and "rate-limit=20" in out, out
        flood = Stream("flood", us.port, FLOODERS[:4], 200, lambda i: WWW)
        run([flood], 3.2)
        c = flood.count(since=1.0)
        check_limited(c, 20, 1, 2.2, "slip 1")
        code, out = us.ctl("rrl", "slip", "0")
        assert code == 0, out
        flood = Stream("flood", us.port, FLOODERS[:4], 200, lambda i: WWW)
        run([flood], 2.2)
        check_limited(flood.count(since=1.0), 20, 0, 1.2, "slip 0")
        # Off: everything is answered.
        assert us.ctl("rrl", "rate-limit", "0")[0] == 0
        flood = Stream("flood", us.port, FLOODERS[:4], 200, lambda i: WWW)
        run([flood], 1.5)
        c = flood.count()
        assert c["answer"] == c["sent"], c
        # Bad values are refused with the reason, and change nothing.
        code, out = us.ctl("rrl", "slip", "many")
        assert code == 1 and "expected an integer" in out, out
        code, out = us.ctl("rrl", "ipv4-prefix-length", "33")
        assert code == 1, out
        code, out = us.ctl("rrl")
        assert "rate-limit=0 slip=0" in out, out


def test_badcookie_instead_of_truncation_for_cookie_clients(tmp_path, understudy_bin):
    """A flooding client that sends a client cookie but no valid server cookie gets
    BADCOOKIE with its server cookie where others would get TC (RFC 7873 5.2.3), and with that
    cookie it is exempt from the limit."""
    with Understudy(tmp_path, server_opts=RRL_OPTS) as us:
        cc = os.urandom(8)
        flood = Stream("flood", us.port, FLOODERS[:4], FLOOD, lambda i: query_wire(
            "www.example.com.", cookie=cc))
        run([flood], 2.5)
        c = flood.count(since=1.0)
        assert c["tc"] == 0 and c["badcookie"] > 0.3 * (c["sent"] - c["answer"]), c
        # A BADCOOKIE reply carries a server cookie for that client: it works.
        data = next(q[2] for q in flood.queries if q[1] == "badcookie")
        src = next(q[3] for q in flood.queries if q[1] == "badcookie")
        cookie = reply_cookie(data)
        assert cookie[:8] == cc and len(cookie) == 24
        again = Stream("again", us.port, [src], FLOOD, lambda i: query_wire(
            "www.example.com.", cookie=cookie))
        run([again], 1.5)
        c = again.count()
        assert c["answer"] == c["sent"], c


def test_block_and_unblock_at_run_time(tmp_path, understudy_bin):
    with Understudy(tmp_path) as us:
        code, out = us.ctl("block", "127.0.5.0/24")
        assert code == 0 and "blocked 127.0.5.0/24" in out, out
        blocked = Stream("blocked", us.port, ["127.0.5.9"], 50, lambda i: WWW)
        other = Stream("other", us.port, ["127.0.6.9"], 50, lambda i: WWW)
        run([blocked, other], 1.0)
        assert blocked.count()["answer"] == 0, blocked.count()
        assert other.count()["answer"] == other.count()["sent"], other.count()
        code, out = us.ctl("block")
        assert "127.0.5.0/24" in out, out
        code, out = us.ctl("unblock", "127.0.5.0/24")
        assert code == 0, out
        again = Stream("again", us.port, ["127.0.5.9"], 50, lambda i: WWW)
        run([again], 1.0)
        assert again.count()["answer"] == again.count()["sent"], again.count()
        code, out = us.ctl("unblock", "127.0.5.0/24")
        assert code == 1 and "not blocked" in out, out
        code, out = us.ctl("block", "127.0.5.1/24")
        assert code == 1 and "bits set beyond" in out, out
        code, out = us.ctl("status")
        assert re.search(r"blocked=(\d+)", out).group(1) == str(blocked.count()["sent"]), out
