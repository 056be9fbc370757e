# SPDX-License-Identifier: MIT
"""conftest: pytest fixtures that start understudy and its peers once per test module.

Fixtures (module scope, so peers start once per module):
    zones        [(origin, path)] of the committed test zones (tests/system/zones/)
    knotd, nsd, named
                 a started peer serving every zone in `zones`
    understudy   a started understudy serving the same zones; skipped with a reason when
                 $UNDERSTUDY is unset or not an executable
    diff_stats   the differential test's counters, printed at the end of the run
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers  # noqa: E402

_STATS_KEY = pytest.StashKey[dict]()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "normal_build_only: left out of `make asan` (see the Makefile): timing "
        "across delayed links, real clients (Chromium, Prometheus) or peers' own behaviour, "
        "where the sanitizers add minutes and find nothing the other tests would not")


@pytest.fixture(scope="module")
def zones():
    return servers.zone_files()


def _start(cls, tmp_path_factory, zones, **kw):
    srv = cls(tmp_path_factory.mktemp(cls.name), zones=zones, **kw)
    srv.start()
    return srv


@pytest.fixture(scope="module")
def knotd(tmp_path_factory, zones):
    srv = _start(servers.Knotd, tmp_path_factory, zones)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def nsd(tmp_path_factory, zones):
    srv = _start(servers.Nsd, tmp_path_factory, zones)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def named(tmp_path_factory, zones):
    srv = _start(servers.Named, tmp_path_factory, zones)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def understudy_binary():
    path, reason = servers.Understudy.find_binary()
    if path is None:
        pytest.skip(f"understudy not available: {reason}")
    return path


@pytest.fixture(scope="module")
def understudy(tmp_path_factory, zones, understudy_binary):
    srv = _start(servers.Understudy, tmp_path_factory, zones, binary=understudy_binary)
    yield srv
    # stop() fails the run on a non-zero exit or a sanitizer report in its output.
    srv.stop()


@pytest.fixture(scope="session")
def diff_stats(pytestconfig):
    return pytestconfig.stash.setdefault(_STATS_KEY, {})


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = config.stash.get(_STATS_KEY, None)
    if not stats or "report" not in stats:
        return
    terminalreporter.section("differential: knotd vs nsd (vs understudy)")
    for line in stats["report"]():
        terminalreporter.write_line(line)
