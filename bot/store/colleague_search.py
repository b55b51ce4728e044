"""Colleague search in the store (migration 0010): who is findable, searches and their
numbered results, introduction requests. Also removes the queued messages of a search or
an introduction when their rows go, since those quote names and task phrases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.store.db import Connection, Database, Row
from bot.store.portable import LIKE_ESCAPE, insert_id, like_prefix
from bot.store.rows import from_row

IntroState = Literal["asked", "accepted", "declined", "expired", "withdrawn"]
Method = Literal["meaning", "words"]

# Named after the fields of SearchRow and Introduction (read by `from_row`).
_SEARCH_COLUMNS = "id, user_id, query, created_at, done_at, method, shown"
_INTRO_COLUMNS = "id, requester, target, query, phrase, state, created_at, expires_at, answered_at"


@dataclass(frozen=True, slots=True)
class SearchRow:
    id: int
    user_id: str
    query: str
    created_at: float
    done_at: float | None
    method: Method | None
    shown: int


@dataclass(frozen=True, slots=True)
class ResultRow:
    rank: int
    user_id: str
    phrase: str
    score: float


@dataclass(frozen=True, slots=True)
class Introduction:
    id: int
    requester: str | None
    target: str | None
    query: str | None
    phrase: str | None
    state: IntroState
    created_at: float
    expires_at: float
    answered_at: float | None


def search_key(search_id: int) -> str:
    """Prefix of the effect keys of a search's messages."""
    return f"search:{search_id}"


def intro_key(intro_id: int) -> str:
    """Prefix of the effect keys of an introduction's messages (and its room key)."""
    return f"intro:{intro_id}"


def _search(row: Row) -> SearchRow:
    return from_row(SearchRow, row)


def _intro(row: Row) -> Introduction:
    return from_row(Introduction, row)


class ColleagueSearchStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- who can be found ----------------------------------------------------------------

    async def findable_ids(self, exclude: str) -> list[str]:
        """Confirmed people who agreed to be found, but `exclude` (the searcher)."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM profiles WHERE findable = 1 AND confirmed = 1 "
            "AND user_id != ? ORDER BY id",
            (exclude,),
        )
        return [str(r["user_id"]) for r in rows]

    async def is_findable(self, user_id: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM profiles WHERE user_id = ? AND findable = 1 AND confirmed = 1",
            (user_id,),
        )
        return row is not None

    # -- searches ------------------------------------------------------------------------

    async def add_search(self, user_id: str, query: str, now: float) -> int:
        async with self.db.transaction("colleague_search.add_search") as conn:
            return await insert_id(
                conn,
                "INSERT INTO colleague_searches (user_id, query, created_at) VALUES (?, ?, ?)",
                (user_id, query, now),
            )

    async def searches_since(self, user_id: str, since: float) -> list[float]:
        """When the person searched since `since`, oldest first."""
        rows = await self.db.fetchall(
            "SELECT created_at FROM colleague_searches WHERE user_id = ? AND created_at > ? "
            "ORDER BY created_at",
            (user_id, since),
        )
        return [float(r["created_at"]) for r in rows]

    async def pending_searches(self) -> list[SearchRow]:
        rows = await self.db.fetchall(
            f"SELECT {_SEARCH_COLUMNS} FROM colleague_searches WHERE done_at IS NULL ORDER BY id"
        )
        return [_search(r) for r in rows]

    async def search(self, search_id: int) -> SearchRow | None:
        row = await self.db.fetchone(
            f"SELECT {_SEARCH_COLUMNS} FROM colleague_searches WHERE id = ?",
            (search_id,),
        )
        return None if row is None else _search(row)

    async def finish_search(
        self, search_id: int, results: Sequence[ResultRow], method: Method, now: float
    ) -> bool:
        """Store the results; False if the search is gone or finished already. The results
        of the person's earlier searches go: only the latest list is needed."""
        async with self.db.transaction("colleague_search.finish_search") as conn:
            cur = await conn.execute(
                "UPDATE colleague_searches SET done_at = ?, method = ?, shown = ? "
                "WHERE id = ? AND done_at IS NULL",
                (now, method, len(results), search_id),
            )
            if cur.rowcount == 0:
                return False
            async with conn.execute(
                "SELECT DISTINCT r.search_id FROM colleague_search_results r "
                "JOIN colleague_searches s ON s.id = r.search_id "
                "WHERE s.user_id = (SELECT user_id FROM colleague_searches WHERE id = ?) "
                "AND r.search_id < ?",
                (search_id, search_id),
            ) as older:
                for earlier in [r["search_id"] for r in await older.fetchall()]:
                    await _drop_messages(conn, search_key(int(earlier)))
                    await conn.execute(
                        "DELETE FROM colleague_search_results WHERE search_id = ?", (earlier,)
                    )
            await conn.executemany(
                "INSERT INTO colleague_search_results (search_id, rank, user_id, phrase, score) "
                "VALUES (?, ?, ?, ?, ?)",
                [(search_id, r.rank, r.user_id, r.phrase, r.score) for r in results],
            )
        return True

    async def latest_search(self, user_id: str) -> SearchRow | None:
        """The person's most recent search (finished or not)."""
        row = await self.db.fetchone(
            f"SELECT {_SEARCH_COLUMNS} FROM colleague_searches "
            "WHERE user_id = ? ORDER BY id DESC LIMIT 1",
            (user_id,),
        )
        return None if row is None else _search(row)

    async def results(self, search_id: int) -> list[ResultRow]:
        rows = await self.db.fetchall(
            "SELECT rank, user_id, phrase, score FROM colleague_search_results "
            "WHERE search_id = ? ORDER BY rank",
            (search_id,),
        )
        return [from_row(ResultRow, r) for r in rows]

    async def drop_from_results(self, user_id: str) -> None:
        """The person is no longer findable: out of every list, and out of the queued
        messages that showed them."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT search_id FROM colleague_search_results WHERE user_id = ?",
            (user_id,),
        )
        async with self.db.transaction("colleague_search.drop_from_results") as conn:
            for row in rows:
                await _drop_messages(conn, search_key(int(row["search_id"])))
            await conn.execute("DELETE FROM colleague_search_results WHERE user_id = ?", (user_id,))

    async def prune_searches(self, before: float) -> int:
        """Searches (and their results and messages) made before `before`."""
        rows = await self.db.fetchall(
            "SELECT id FROM colleague_searches WHERE created_at < ?", (before,)
        )
        async with self.db.transaction("colleague_search.prune_searches") as conn:
            for row in rows:
                await _drop_messages(conn, search_key(int(row["id"])))
                await conn.execute("DELETE FROM colleague_searches WHERE id = ?", (row["id"],))
        return len(rows)

    # -- introductions -------------------------------------------------------------------

    async def add_intro(
        self, requester: str, target: str, query: str, phrase: str, now: float, expires: float
    ) -> int:
        async with self.db.transaction("colleague_search.add_intro") as conn:
            return await insert_id(
                conn,
                "INSERT INTO introductions (requester, target, query, phrase, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (requester, target, query, phrase, now, expires),
            )

    async def intro(self, intro_id: int) -> Introduction | None:
        row = await self.db.fetchone(
            f"SELECT {_INTRO_COLUMNS} FROM introductions WHERE id = ?", (intro_id,)
        )
        return None if row is None else _intro(row)

    async def requested_since(self, requester: str, since: float) -> list[float]:
        rows = await self.db.fetchall(
            "SELECT created_at FROM introductions WHERE requester = ? AND created_at > ? "
            "ORDER BY created_at",
            (requester, since),
        )
        return [float(r["created_at"]) for r in rows]

    async def open_asks_of(self, target: str) -> list[Introduction]:
        """Requests waiting for this person's answer, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_INTRO_COLUMNS} FROM introductions WHERE target = ? AND state = 'asked' "
            "ORDER BY id",
            (target,),
        )
        return [_intro(r) for r in rows]

    async def last_between(self, requester: str, target: str) -> Introduction | None:
        row = await self.db.fetchone(
            f"SELECT {_INTRO_COLUMNS} FROM introductions WHERE requester = ? AND target = ? "
            "ORDER BY id DESC LIMIT 1",
            (requester, target),
        )
        return None if row is None else _intro(row)

    async def settle(self, intro_id: int, state: IntroState, now: float) -> bool:
        """An open request gets its outcome and loses its texts; False if not open."""
        changed = await self.db.execute(
            "UPDATE introductions SET state = ?, answered_at = ?, query = NULL, phrase = NULL "
            "WHERE id = ? AND state = 'asked'",
            (state, now, intro_id),
            name="colleague_search.settle",
        )
        return changed > 0

    async def due_intros(self, now: float) -> list[Introduction]:
        rows = await self.db.fetchall(
            f"SELECT {_INTRO_COLUMNS} FROM introductions WHERE state = 'asked' "
            "AND expires_at <= ? ORDER BY id",
            (now,),
        )
        return [_intro(r) for r in rows]

    async def prune_intros(self, before: float) -> int:
        """Settled requests (and their messages) answered or expired before `before`."""
        rows = await self.db.fetchall(
            "SELECT id FROM introductions WHERE state != 'asked' "
            "AND COALESCE(answered_at, expires_at) < ?",
            (before,),
        )
        async with self.db.transaction("colleague_search.prune_intros") as conn:
            for row in rows:
                await _drop_messages(conn, intro_key(int(row["id"])))
                await conn.execute("DELETE FROM introductions WHERE id = ?", (row["id"],))
        return len(rows)

    # -- personal data -------------------------------------------------------------------

    async def searches_of(self, user_id: str) -> list[tuple[SearchRow, list[ResultRow]]]:
        rows = await self.db.fetchall(
            f"SELECT {_SEARCH_COLUMNS} FROM colleague_searches WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
        return [(s, await self.results(s.id)) for s in map(_search, rows)]

    async def intros_of(self, user_id: str) -> list[Introduction]:
        rows = await self.db.fetchall(
            f"SELECT {_INTRO_COLUMNS} FROM introductions WHERE requester = ? OR target = ? "
            "ORDER BY id",
            (user_id, user_id),
        )
        return [_intro(r) for r in rows]

    async def user_ids(self) -> set[str]:
        """Everybody these tables hold something about (searchers, people found, both sides
        of an introduction)."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM colleague_searches UNION SELECT user_id FROM "
            "colleague_search_results UNION SELECT requester FROM introductions "
            "UNION SELECT target FROM introductions"
        )
        return {str(r["user_id"]) for r in rows if r["user_id"] is not None}

    async def forget(self, user_id: str, now: float) -> list[Introduction]:
        """Delete the person's searches and take them out of everyone's results and
        introductions; returns the requests that were still waiting for their answer
        (now 'withdrawn', so the requester can be told)."""
        await self.drop_from_results(user_id)
        withdrawn = await self.open_asks_of(user_id)
        async with self.db.transaction("colleague_search.forget") as conn:
            for row in await self.db.fetchall(
                "SELECT id FROM colleague_searches WHERE user_id = ?", (user_id,)
            ):
                await _drop_messages(conn, search_key(int(row["id"])))
            await conn.execute("DELETE FROM colleague_searches WHERE user_id = ?", (user_id,))
            for intro in await self.intros_of(user_id):
                await _drop_messages(conn, intro_key(intro.id))
                if intro.requester == user_id and intro.state == "asked":
                    await conn.execute("DELETE FROM introductions WHERE id = ?", (intro.id,))
            await conn.execute(
                "UPDATE introductions SET state = 'withdrawn', answered_at = ? "
                "WHERE target = ? AND state = 'asked'",
                (now, user_id),
            )
            await conn.execute(
                "UPDATE introductions SET requester = NULL, query = NULL, phrase = NULL "
                "WHERE requester = ?",
                (user_id,),
            )
            await conn.execute(
                "UPDATE introductions SET target = NULL, query = NULL, phrase = NULL "
                "WHERE target = ?",
                (user_id,),
            )
        return withdrawn


async def _drop_messages(conn: Connection, prefix: str) -> None:
    """Queued or sent messages whose effect key starts with `prefix:` (their reactions too)."""
    await conn.execute(
        f"DELETE FROM outbox WHERE key LIKE ? {LIKE_ESCAPE}", (like_prefix(prefix + ":"),)
    )
