"""The whole suite's pytest configuration: the test kit's fixtures (tests/support/fixtures.py)
registered once, and the `integration` marker for everything that needs a real homeserver."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.support.fixtures"]

# Suites whose every test talks to a real Synapse; single modules elsewhere set
# `pytestmark = pytest.mark.integration` themselves (tests/security/test_homeserver.py).
HOMESERVER_SUITES = frozenset({"integration", "fault"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HOMESERVER_SUITES.intersection(item.path.parts):
            item.add_marker(pytest.mark.integration)
