"""The fault-injection suite talks to the bot through `tests.support.homeserver`'s
plain-HTTP clients (everything here is marked `integration` by tests/conftest.py)."""

from __future__ import annotations

from tests.support.homeserver import unencrypted_dms

__all__ = ["unencrypted_dms"]
