"""Encode the glossary of organisation kinds (bot/data/crisis_organisation_kinds.yaml) with
the bundled model and write the vectors the bot ships beside it.

    .venv/bin/python -m bench.crisis_kinds      # ~30 s on two cores; deterministic

Run it after editing the glossary; until then the bot encodes the glossary itself, once per
process (bot.services.organisation_kinds).
"""

from __future__ import annotations

from bench.semantic import embed
from bot.services.encoder import MODEL_ID
from bot.services.organisation_kinds import VECTORS_FILE, glossary, save_kind_vectors


def main() -> None:
    texts = glossary()
    save_kind_vectors(MODEL_ID, embed(texts.names, True), embed(texts.requests, True))
    kinds = len(set(texts.name_kind))
    print(
        f"written: {VECTORS_FILE} ({kinds} kinds, {len(texts.names)} names, "
        f"{len(texts.requests)} requests)"
    )


if __name__ == "__main__":
    main()
