"""One config factory for every suite: `make_config(coffee={...}, bot={...})` deep-merges
the given sections over the smallest valid config and parses it as `flurfunk run` would
(without the environment, so a developer's `FLURFUNK_*` variables cannot leak in).

Suites that need a feature's section filled in write a small wrapper that passes it, e.g.
`make_config(crisis={"room": ROOM, **crisis})`; they do not copy the homeserver block.
"""

from __future__ import annotations

from typing import Any

from bot.config import Config, parse_config

SERVER = "rathaus.example"
BOT = f"@flurfunk:{SERVER}"

# Nothing listens on port 1: a test that reaches the network by mistake fails at once.
MINIMAL: dict[str, Any] = {
    "homeserver": {
        "url": "http://127.0.0.1:1",
        "user_id": BOT,
        "password": "secret",
        "allowed_homeservers": [SERVER],
    },
}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` over `base`: nested mappings are merged, everything else is replaced."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def make_config(**sections: dict[str, Any]) -> Config:
    """A parsed config: `sections` deep-merged over `MINIMAL`."""
    return parse_config(deep_merge(MINIMAL, sections), "test config", environ={})


# The directory most service tests and `bench/search.py` work with.
DIRECTORY: dict[str, Any] = {
    "departments": ["Gesundheitsamt", "Ordnungsamt", "Jugendamt", "Sozialamt"],
    "municipalities": ["Musterstadt", "Beispieldorf"],
}


def directory_config(**directory: Any) -> Config:
    """`make_config` with `DIRECTORY`, `directory` over it."""
    return make_config(directory={**DIRECTORY, **directory})
