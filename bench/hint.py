"""Benchmark of the hint how to sharpen a crisis request: who gets it, who should.

    .venv/bin/python -m bench.hint [--data bench/data]

The reply to `!werkennt` adds a hint how to sharpen the request when the bot judges it too
vague to route. It should come with requests that name no need (vague) or a need no contact
covers (uncovered: bench/data/routing/hint_requests.yaml, written blind, no fitting contact),
and not with clear requests the bot routes well (the routing set, bench/data/routing/
requests_*.yaml, against the same 57 contacts). Per split, the share of each group that gets
the hint, for the bot's rule by meaning (`bot.domain.crisis_meaning.weak_lift`, on the raw
lifts) and for the rule on fits it replaced (`bot.domain.crisis.weak_fit`, still used when
only words compare). "Clear, routed well": a fitting contact among the first three asked.
Deterministic; the rule's margin was chosen on the dev split.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench.semantic import (
    DATA,
    Contact,
    Routed,
    _split,
    first_hit_ranks,
    load_folder,
    load_routing,
    production_fits,
    share,
    table,
)
from bot.domain.crisis import weak_fit
from bot.domain.crisis_meaning import best_per_sector, weak_lift

Rule = Callable[[Sequence[Contact], Routed], bool]


RULES: dict[str, Rule] = {
    "**by meaning** (the bot's rule)": lambda cs, r: weak_lift(
        best_per_sector(zip([c.sector for c in cs], r.need.tolist(), strict=True))
    ),
    "by fits (the rule before)": lambda cs, r: weak_fit(
        best_per_sector(zip([c.sector for c in cs], r.fits, strict=True))
    ),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DATA, help="folder with the bench data")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    contacts, requests = load_routing(args.data / "routing")
    hinted = load_folder(args.data / "routing", "hint_requests.yaml")
    ids = [c.id for c in contacts]

    groups: list[tuple[str, str]] = []  # (group, split) per text
    texts: list[str] = []
    routed = production_fits(contacts, [r.text for r in requests])
    relevant = np.array([[c in r.fits for c in ids] for r in requests])
    ranks = first_hit_ranks(np.array([r.fits for r in routed]), relevant)
    for request, rank in zip(requests, ranks, strict=True):
        groups.append(("clear, routed well" if rank <= 3 else "clear, missed", request.split))
        texts.append(request.text)
    for entry in hinted:
        groups.append((str(entry["kind"]), _split(entry["split"], str(entry["text"]))))
        texts.append(str(entry["text"]))
    routed += production_fits(contacts, texts[len(requests) :])

    names = ["clear, routed well", "clear, missed", "vague", "uncovered"]
    splits = ["dev", "holdout", "fresh"]
    rows = []
    for rule_name, rule in RULES.items():
        chosen = [rule(contacts, r) for r in routed]
        for split in splits:
            row = [rule_name, split]
            for name in names:
                picked = np.array(
                    [c for c, g in zip(chosen, groups, strict=True) if g == (name, split)],
                    dtype=bool,
                )
                row.append(share(picked) if len(picked) else "–")
            rows.append(row)
    print("## Who hears how to sharpen the request (share of each group)\n")
    print(table(["rule", "split", *names], rows))


if __name__ == "__main__":
    main()
