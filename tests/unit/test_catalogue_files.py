"""A message is found by its key: file `X.yaml` holds exactly the keys `X.*`."""

from __future__ import annotations

from pathlib import Path

import yaml

import bot.i18n

CATALOGUES = sorted(Path(bot.i18n.__file__).parent.glob("*.yaml"))


def test_every_key_is_in_the_file_named_after_its_prefix() -> None:
    misplaced = [
        f"{path.name}: {key}"
        for path in CATALOGUES
        for key in yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if key.split(".", 1)[0] != path.stem
    ]
    assert CATALOGUES and not misplaced
