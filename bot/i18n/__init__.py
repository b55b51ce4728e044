"""Message catalogues: German first, English second.

Each `*.yaml` file in this package is named after the first part of its keys
(`store.readonly.reply` is in `store.yaml`, every `help.*` text in `help.yaml`), each key
with a `de` and an `en` text. Texts use a tiny markup (`**bold**`, `` `code` ``, lines starting
with `- `) that `bot.i18n.render` turns into HTML; parameters are inserted escaped.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Lang = Literal["de", "en"]
LANGS: tuple[Lang, ...] = ("de", "en")


class CatalogueError(RuntimeError):
    pass


@cache
def catalogue() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for entry in sorted(resources.files("bot.i18n").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        # libyaml's loader: the pure-Python one needs ~0.3 s (1.2 s on a loaded machine) for
        # the catalogues, paid by the first answer after every start.
        data = yaml.load(entry.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        for key, texts in data.items():
            if key in merged:
                raise CatalogueError(f"message {key!r} defined twice ({entry.name})")
            if not isinstance(texts, dict) or set(texts) != set(LANGS):
                raise CatalogueError(f"message {key!r} in {entry.name} needs exactly de and en")
            merged[key] = {lang: str(texts[lang]).rstrip("\n") for lang in LANGS}
    return merged


def template(key: str, lang: Lang) -> str:
    try:
        return catalogue()[key][lang]
    except KeyError:
        raise CatalogueError(f"unknown message {key!r}") from None


def has(key: str) -> bool:
    return key in catalogue()
