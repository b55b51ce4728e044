"""The whole suite's pytest configuration: the test kit's fixtures (tests/support/fixtures.py)
registered once, the `integration` marker for everything that needs a real homeserver, and
the suites whose `db` runs on both store backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.postgres import BACKENDS

pytest_plugins = ["tests.support.fixtures"]

# Suites whose every test talks to a real Synapse; single modules elsewhere set
# `pytestmark = pytest.mark.integration` themselves (tests/security/test_homeserver.py).
HOMESERVER_SUITES = frozenset({"integration", "fault"})

# Suites whose every test that uses `db` runs twice, on SQLite and on a throwaway
# PostgreSQL (issue #16); the privacy tests are in services. `-m "not postgresql"` skips
# the second run.
BOTH_BACKENDS_SUITES = frozenset({"store", "services"})
TESTS = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: the PostgreSQL run of a store test")
    config.addinivalue_line(
        "markers", "sqlite_only(reason): checks what only SQLite has (its files, pragmas)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    suite = metafunc.definition.path.relative_to(TESTS).parts[0]
    if metafunc.definition.get_closest_marker("sqlite_only"):
        return
    if "backend" in metafunc.fixturenames and suite in BOTH_BACKENDS_SUITES:
        metafunc.parametrize("backend", BACKENDS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HOMESERVER_SUITES.intersection(item.path.parts):
            item.add_marker(pytest.mark.integration)
