"""The glossary of organisation kinds for crisis routing, and its vectors for the bundled model.

`bot/data/crisis_organisation_kinds.yaml` lists kinds of organisation a colleague may know
someone at: the words their names contain ("Sanitätshaus", "Orthopädietechnik") and requests
a crisis staff might send that someone there could help with. It was written from general
knowledge, independently of the evaluation data in bench/data. Encoding its ~3,500 texts
takes ~30 s on two cores, so their vectors ship beside it
(`crisis_organisation_kinds.npz`, written by `bench/crisis_kinds.py`) and are read once per
process; they carry the model id and a hash of the texts, so an edited glossary or another
model is encoded at run time instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray

from bot.services.vectors import text_hash

DATA = Path(__file__).resolve().parent.parent / "data"
KINDS_FILE = DATA / "crisis_organisation_kinds.yaml"
VECTORS_FILE = DATA / "crisis_organisation_kinds.npz"

Vectors = NDArray[np.float32]


@dataclass(frozen=True)
class Glossary:
    """The glossary's texts, flat: name words with the index of their kind, requests with
    theirs (both encoded as queries)."""

    names: tuple[str, ...]
    name_kind: tuple[int, ...]
    requests: tuple[str, ...]
    request_kind: tuple[int, ...]

    def digest(self, model: str) -> str:
        return text_hash(model, True, (*self.names, "", *self.requests))


@functools.cache
def glossary(path: Path = KINDS_FILE) -> Glossary:
    names: list[str] = []
    name_kind: list[int] = []
    requests: list[str] = []
    request_kind: list[int] = []
    for kind, entry in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))):
        names += map(str, entry["names"])
        name_kind += [kind] * len(entry["names"])
        requests += map(str, entry["requests"])
        request_kind += [kind] * len(entry["requests"])
    return Glossary(tuple(names), tuple(name_kind), tuple(requests), tuple(request_kind))


def save_kind_vectors(
    model: str, names: Vectors, requests: Vectors, path: Path = VECTORS_FILE
) -> None:
    np.savez_compressed(
        path,
        model=np.array(model),
        digest=np.array(glossary().digest(model)),
        names=np.asarray(names, dtype=np.float32),
        requests=np.asarray(requests, dtype=np.float32),
    )


@functools.cache
def shipped_kind_vectors(model: str, path: Path = VECTORS_FILE) -> tuple[Vectors, Vectors] | None:
    """The shipped (name, request) vectors, or None if they belong to another model or to
    other texts than the glossary's."""
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        if str(data["model"]) != model or str(data["digest"]) != glossary().digest(model):
            return None
        return data["names"], data["requests"]
