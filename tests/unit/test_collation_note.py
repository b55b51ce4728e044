"""check-config warns when PostgreSQL would sort text differently from SQLite."""

from __future__ import annotations

import pytest

from bot.store.postgres_backend import collation_note


@pytest.mark.parametrize("collation", ["C", "POSIX", "C.UTF-8"])
def test_byte_order_collations_need_no_warning(collation: str) -> None:
    assert collation_note(collation) is None


def test_a_locale_collation_is_named_with_the_fix() -> None:
    note = collation_note("de_DE.UTF-8")
    assert note is not None and "'de_DE.UTF-8'" in note and "LC_COLLATE 'C'" in note
