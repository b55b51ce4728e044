"""The bundled encoder, and the real encoder behind a counter: which texts a service
asked to encode and whether anybody was waiting for them (`background`), for the suites
that assert a service encodes once, in the background, or not at all."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bot.services.encoder import E5Encoder, load_encoder


def bundled_encoder() -> E5Encoder:
    """The model shipped with the bot; the suites that use it must not skip silently."""
    loaded = load_encoder()
    assert loaded is not None, "the bundled model must load on the test machine"
    return loaded


class CountingEncoder:
    """The real encoder, counting what it is asked to encode."""

    def __init__(self, inner: E5Encoder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimensions = inner.dimensions
        self.texts: list[str] = []
        self.background: list[bool] = []  # one entry per call

    async def encode(
        self, texts: Sequence[str], *, query: bool, background: bool = False
    ) -> NDArray[np.float32]:
        self.texts += texts
        self.background.append(background)
        return await self.inner.encode(texts, query=query, background=background)
