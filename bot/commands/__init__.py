"""Chat commands: one module per command group, registered declaratively."""

from __future__ import annotations

import importlib

# Each module registers its commands into bot.commands.registry.REGISTRY on import.
MODULES = (
    "help",
    "language",
    "admin",
    "report",
    "contacts",
    "crisis",
    "kitchen",
    "coffee",
    "circles",
    "hospitation",
    "hospitation_followups",
    "profile",
    "privacy",
    "onboarding",
    "search",
)


def load_all() -> None:
    for name in MODULES:
        importlib.import_module(f"bot.commands.{name}")
