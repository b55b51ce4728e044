"""The security suite's few tests against a real homeserver (marked `integration` in their
modules) talk to the bot through `tests.support.homeserver`'s plain-HTTP clients."""

from __future__ import annotations

from tests.support.homeserver import unencrypted_dms

__all__ = ["unencrypted_dms"]
