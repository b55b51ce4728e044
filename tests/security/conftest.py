"""The security suite reuses the fault suite's fixtures for its few tests against a real
homeserver (those modules are marked `integration`; the rest runs without Synapse)."""

from __future__ import annotations

from fault.conftest import homeserver, make_bot

__all__ = ["homeserver", "make_bot"]
