"""Units (departments, municipalities) and k-anonymity: which name each unit is shown
under, and which units are merged into OTHER because they have too few participants."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.domain.network.ties import OTHER, UNKNOWN, Level, Member, Tie
from bot.domain.text_cleaning import fold

DEFAULT_K = 5


def unit_key(raw: str | None) -> str | None:
    """The comparison key of a unit name (case, umlaut spelling, spaces do not count);
    None when no unit is given."""
    if raw is None:
        return None
    key = fold(raw)
    return key or None


@dataclass(frozen=True)
class UnitMap:
    """Which label each unit is shown under: its name, or OTHER when merged."""

    labels: Mapping[str, str]  # unit key (UNKNOWN for none) -> shown label
    participants: Mapping[str, int]

    def shown(self, raw: str | None) -> str:
        key = unit_key(raw) or UNKNOWN
        return self.labels.get(key, OTHER)

    @property
    def merged(self) -> int:
        """How many units are shown as OTHER."""
        return sum(1 for key, label in self.labels.items() if label == OTHER and key != UNKNOWN)


def unit_map(
    members: Sequence[Member],
    ties: Iterable[Tie],
    level: Level,
    k: int,
    preferred: Sequence[str] = (),
) -> UnitMap:
    """Name each unit (the configured spelling first, else the most common one among the
    profiles, else among the ties) and merge every unit with fewer than `k` participants
    into OTHER, then as many of the smallest others as it takes for OTHER to reach `k`."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    participants: Counter[str] = Counter()
    present: set[str] = set()
    for member in members:
        raw = member.unit(level)
        key = unit_key(raw) or UNKNOWN
        present.add(key)
        if raw is not None and key != UNKNOWN:
            spellings[key][" ".join(raw.split())] += 2 if member.confirmed else 1
        if member.confirmed:
            participants[key] += 1
    for tie in ties:
        for raw in (tie.unit(level, "a"), tie.unit(level, "b")):
            key = unit_key(raw) or UNKNOWN
            present.add(key)
            if raw is not None and key != UNKNOWN and not spellings[key]:
                spellings[key][" ".join(raw.split())] += 0
    configured = {unit_key(name): name for name in preferred if unit_key(name)}

    def name(key: str) -> str:
        if key == UNKNOWN:
            return UNKNOWN
        if key in configured:
            return configured[key]
        ranked = sorted(spellings[key].items(), key=lambda item: (-item[1], item[0]))
        return ranked[0][0] if ranked else key

    labels = {key: (name(key) if participants[key] >= k else OTHER) for key in present}
    merged = [key for key in present if labels[key] == OTHER]
    other_size = sum(participants[key] for key in merged)
    while merged and other_size < k:
        named = [key for key in present if labels[key] != OTHER]
        if not named:
            break
        smallest = min(named, key=lambda key: (participants[key], labels[key]))
        labels[smallest] = OTHER
        other_size += participants[smallest]
    return UnitMap(labels, dict(participants))
