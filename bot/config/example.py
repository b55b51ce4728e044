"""The example config file, generated from the models: each key's `description` becomes its
comment and its default (or first `examples` entry) its value.

Descriptions live in one place, on the fields; `config/flurfunk.example.yaml` is this
function's output (`flurfunk example-config > config/flurfunk.example.yaml`), and a test
fails when the two differ.
"""

from __future__ import annotations

import json
import textwrap
from datetime import time
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from bot.config.sectors import Sector

WIDTH = 92

HEADER = """\
# Flurfunk configuration. Copy to config/flurfunk.yaml and adapt.
# Check it with:  flurfunk check-config config/flurfunk.yaml
# Only `homeserver` is required; every other key shows its default.
# Generated from the key descriptions in bot/config/ (flurfunk example-config): edit those.
"""


def render_example(model: type[BaseModel]) -> str:
    lines = HEADER.splitlines()
    _section(model, 0, lines)
    return "\n".join(lines).rstrip("\n") + "\n"


def _section(model: type[BaseModel], depth: int, out: list[str]) -> None:
    indent = "  " * depth
    for name, field in model.model_fields.items():
        if depth == 0:
            out.append("")
        if field.description:
            width = WIDTH - len(indent) - 2
            out += [f"{indent}# {line}" for line in _wrap(field.description, width)]
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.append(f"{indent}{name}:")
            _section(annotation, depth + 1, out)
        else:
            out += _entry(indent, name, _shown(field))


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def _shown(field: FieldInfo) -> object:
    if field.examples:
        return field.examples[0]
    return field.get_default(call_default_factory=True)


def _entry(indent: str, name: str, value: object) -> list[str]:
    if not isinstance(value, list):
        return [f"{indent}{name}: {_scalar(value)}"]
    items = [item.dump() if isinstance(item, Sector) else item for item in value]
    if all(not isinstance(item, dict) for item in items):
        flow = f"{indent}{name}: [{', '.join(_scalar(item) for item in items)}]"
        if len(flow) <= WIDTH or not items:
            return [flow]
        return [f"{indent}{name}:"] + [f"{indent}  - {_scalar(item)}" for item in items]
    lines = [f"{indent}{name}:"]
    for item in items:
        mapping = item if isinstance(item, dict) else {"name": item}
        for i, (key, text) in enumerate(mapping.items()):
            lead = "- " if i == 0 else "  "
            lines.append(f"{indent}  {lead}{key}: {_scalar(text)}")
    return lines


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, time):
        value = value.strftime("%H:%M")
    if isinstance(value, str | Path):
        # A JSON string is a YAML double-quoted scalar.
        return json.dumps(str(value), ensure_ascii=False)
    raise TypeError(f"no example form for {type(value).__name__}")
