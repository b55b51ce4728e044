"""Topics that mean the same, however people spell them: "Kita", "Kindertagesstätten",
"Kinderbetreuung" become one topic for a circle.

Each topic joins the earlier topic it is closest to, if that one leads a group and the two are
at least `SAME_TOPIC` close; otherwise it leads a group of its own. Topics are taken in the
caller's order (configured ones first, then the most named), so a group is named after its
most common topic, and every member is close to that topic itself: no chains from "Gewerbe"
over "Gewerbesteuer" to "Steuern".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

# Raw cosine ("query: " on both sides) from which two topic names count as one topic. Measured
# on 100 topic names in 30 groups of synonyms with near neighbours between groups
# (bench/profiles.py TOPIC_NAMES, bench/matching.py --meaning): of the pairs put together 88%
# are of one group (0.91: 82%, 0.93: 87%), and 38% of the synonym pairs are found (0.91: 49%,
# 0.93: 22%). A wrong merge puts someone into a circle about something else; a missed one only
# leaves two spellings apart, as before.
SAME_TOPIC = 0.92


def group_topics(
    topics: Sequence[str], vectors: Mapping[str, NDArray[np.float32]], threshold: float = SAME_TOPIC
) -> dict[str, str]:
    """Each topic -> the topic that leads its group (itself if it leads one). Topics without a
    vector stay on their own."""
    found: dict[str, str] = {}
    leaders: list[str] = []
    led: NDArray[np.float32] | None = None  # one row per leader, room for all topics
    for topic in topics:
        vector = vectors.get(topic)
        if vector is None:
            found[topic] = topic
            continue
        if led is None:
            led = np.zeros((len(topics), len(vector)), dtype=np.float32)
        if leaders:
            closeness = led[: len(leaders)] @ vector
            best = int(np.argmax(closeness))
            if closeness[best] >= threshold:
                found[topic] = leaders[best]
                continue
        led[len(leaders)] = vector
        leaders.append(topic)
        found[topic] = topic
    return found
