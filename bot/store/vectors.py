"""Stored embedding vectors, one row per text owner (see migration 0008)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.store.db import Database

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class VectorRow:
    kind: str
    owner: str
    user_id: str | None
    text_hash: str
    vectors: NDArray[np.float32]  # (phrases, dimensions)


class VectorStore:
    def __init__(self, db: Database, dimensions: int) -> None:
        self.db = db
        self.dimensions = dimensions

    async def hashes(self, kind: str) -> dict[str, str]:
        """Owner -> hash of the text its stored vectors were computed from."""
        rows = await self.db.fetchall(
            "SELECT owner, text_hash FROM text_vectors WHERE kind = ?", (kind,)
        )
        return {str(r["owner"]): str(r["text_hash"]) for r in rows}

    async def put_many(self, rows: Sequence[VectorRow], model: str, now: float) -> None:
        async with self.db.transaction("vectors.put_many") as conn:
            await conn.executemany(
                "INSERT INTO text_vectors "
                "(kind, owner, user_id, model, text_hash, phrases, vectors, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(kind, owner) DO UPDATE SET "
                "user_id = excluded.user_id, model = excluded.model, "
                "text_hash = excluded.text_hash, phrases = excluded.phrases, "
                "vectors = excluded.vectors, updated_at = excluded.updated_at",
                [
                    (
                        r.kind,
                        r.owner,
                        r.user_id,
                        model,
                        r.text_hash,
                        len(r.vectors),
                        np.ascontiguousarray(r.vectors, dtype=np.float32).tobytes(),
                        now,
                    )
                    for r in rows
                ],
            )

    async def delete(self, kind: str, owners: Sequence[str]) -> None:
        async with self.db.transaction("vectors.delete") as conn:
            for start in range(0, len(owners), _CHUNK):
                chunk = list(owners[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                await conn.execute(
                    f"DELETE FROM text_vectors WHERE kind = ? AND owner IN ({marks})",
                    (kind, *chunk),
                )

    async def load(
        self, kind: str, owners: Sequence[str] | None, model: str
    ) -> dict[str, tuple[str, NDArray[np.float32]]]:
        """Owner -> (text hash, phrase vectors) computed by `model` (all owners if None)."""
        select = (
            "SELECT owner, text_hash, phrases, vectors FROM text_vectors "
            "WHERE kind = ? AND model = ?"
        )
        if owners is None:
            rows = await self.db.fetchall(select, (kind, model))
        else:
            wanted = list(dict.fromkeys(owners))
            rows = []
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows += await self.db.fetchall(
                    f"{select} AND owner IN ({marks})", (kind, model, *chunk)
                )
        return {
            str(r["owner"]): (
                str(r["text_hash"]),
                np.frombuffer(r["vectors"], dtype=np.float32).reshape(
                    int(r["phrases"]), self.dimensions
                ),
            )
            for r in rows
        }

    async def count_of_user(self, user_id: str) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT kind, COUNT(*) AS n FROM text_vectors WHERE user_id = ? GROUP BY kind",
            (user_id,),
        )
        return {str(r["kind"]): int(r["n"]) for r in rows}

    async def user_ids(self) -> set[str]:
        """Everybody with a row here (retention judges them, review finding S-06)."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT user_id FROM text_vectors WHERE user_id IS NOT NULL"
        )
        return {str(r["user_id"]) for r in rows}

    async def forget_user(self, user_id: str) -> None:
        await self.db.execute(
            "DELETE FROM text_vectors WHERE user_id = ?", (user_id,), name="vectors.forget_user"
        )
