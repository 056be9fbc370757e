# SPDX-License-Identifier: MIT
"""test_differential_dnssec: the differential test on signed zones, with DO on every query.

The zones come from signzones.py (NSEC, NSEC3 with salt and iterations, NSEC3 opt-out, each
with a signed child), signed at test time, so the corpus is generated at run time too: one
test per zone, each walking that zone the way test_differential.py walks the unsigned ones
(querygen.py) with the DO bit set wherever EDNS is. The views, ALLOWED_DIFFERENCES and the
rule "where knotd and nsd agree, understudy agrees" are test_differential's own.
"""

import collections

import pytest

import querygen
import servers
import signzones
import test_differential as td

ZONES = [z for o, _ in signzones.VARIANTS for z in (o, f"secure.{o}")]

pytestmark = pytest.mark.skipif(signzones.available() is not None,
                                reason=str(signzones.available()))


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    return signzones.make(tmp_path_factory.mktemp("signed-diff"))


@pytest.fixture(scope="module")
def cases(signed):
    out = collections.defaultdict(list)
    for c in querygen.generate(signed.zones, do=True, zone_only=True):
        out[c.group.split("/")[0]].append(c)
    return out


def _server(cls, tmp_path_factory, signed, **kw):
    srv = cls(tmp_path_factory.mktemp(cls.name + "-signed"), zones=signed.zones, **kw)
    srv.start()
    return srv


@pytest.fixture(scope="module")
def sknotd(tmp_path_factory, signed):
    srv = _server(servers.Knotd, tmp_path_factory, signed)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def snsd(tmp_path_factory, signed):
    srv = _server(servers.Nsd, tmp_path_factory, signed)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sus(tmp_path_factory, signed, understudy_binary):
    srv = _server(servers.Understudy, tmp_path_factory, signed, binary=understudy_binary)
    yield srv
    srv.stop()


@pytest.mark.parametrize("zone", ZONES)
def test_understudy_matches_peers_with_do(zone, cases, sknotd, snsd, sus):
    rows = cases[zone]
    assert rows, f"no queries generated for {zone}"
    ka, na, ua = td.ask(sknotd, rows), td.ask(snsd, rows), td.ask(sus, rows)
    sus.check_sanitizers()
    mismatches, agree, disagree, unlike = [], 0, collections.Counter(), []
    for c, kw, nw, uw in zip(rows, ka, na, ua):
        kn = td.normalise(c, td.make_view(c, kw))
        nn = td.normalise(c, td.make_view(c, nw))
        un = td.normalise(c, td.make_view(c, uw))
        if kn != nn:
            disagree["like knotd" if un == kn else "like nsd" if un == nn else
                     "like neither"] += 1
            if un != kn:
                unlike.append(c.desc)
            continue
        agree += 1
        if un != kn:
            mismatches.append(td.show_diff(c, ("knotd=nsd", "understudy"), kn, un))
    print(f"{zone}: {len(rows)} queries, peers agree on {agree}; where they disagree "
          f"understudy is {dict(disagree)}; e.g. {[d for d in unlike if ' RRSIG ' not in d][:10]}")
    if mismatches:
        shown = "\n\n".join(mismatches[:td.MAX_DIFFS])
        pytest.fail(f"{len(mismatches)} of {agree} answers differ from knotd and nsd in "
                    f"{zone}:\n\n{shown}", pytrace=False)
