"""The glossary of organisation kinds for crisis routing, and its vectors for the bundled model.

`bot/data/crisis_organisation_kinds.yaml` lists kinds of organisation a colleague may know
someone at: the words their names contain ("Sanitätshaus", "Orthopädietechnik") and requests
a crisis staff might send that someone there could help with. It was written from general
knowledge, independently of the evaluation data in bench/data. Encoding its ~3,500 texts
takes ~30 s on two cores, so their vectors ship beside it
(`crisis_organisation_kinds.npz`, written by `bench/crisis_kinds.py`) and are read once per
process; they carry the model id and a hash of the texts, so an edited glossary or another
model is encoded at run time instead. An operator's own kinds (`crisis.organisation_kinds`)
are added to them and encoded at run time.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.domain.crisis_meaning import OrganisationKinds, organisation_kinds
from bot.domain.organisation_kinds import Kind, read_glossary
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

    @classmethod
    def of(cls, kinds: Sequence[Kind]) -> Glossary:
        numbered = list(enumerate(kinds))
        return cls(
            tuple(n for _, k in numbered for n in k.names),
            tuple(i for i, k in numbered for _ in k.names),
            tuple(r for _, k in numbered for r in k.requests),
            tuple(i for i, k in numbered for _ in k.requests),
        )

    def kinds(self, vectors: tuple[Vectors, Vectors], reference: Vectors) -> OrganisationKinds:
        """The kinds for the routing, with the (name, request) vectors of these texts."""
        return organisation_kinds(
            (self.names, vectors[0]), self.name_kind, vectors[1], self.request_kind, reference
        )

    def digest(self, model: str) -> str:
        return text_hash(model, True, (*self.names, "", *self.requests))


@functools.cache
def kinds_in(path: Path) -> tuple[Kind, ...]:
    """The kinds of a glossary file, read once per process."""
    return tuple(read_glossary(path.read_text(encoding="utf-8")))


def glossary() -> Glossary:
    """The shipped glossary."""
    return Glossary.of(kinds_in(KINDS_FILE))


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
