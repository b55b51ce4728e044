"""Colleague search (`!suche`): how fast the answer and the results come, by findable people;
with --quality, how well blind searches find the colleagues of their field.

    .venv/bin/python -m bench.search [--people 1000 10000] [--searches 20] [--quality]

On a temporary store with that many findable synthetic profiles (bench/profiles.py) and
their stored vectors (cached phrase vectors, as a refresh would store them), it measures
per search: the command's part inside the event's transaction (rate limit, store the
search, queue "einen Moment"), and the runner's part outside it, split into reading the
candidates and their vectors, encoding the search text on the encoder thread, ranking in a
worker thread, and the short transaction that stores and queues the results.

Quality (--quality; deterministic): every phrase of the paraphrase pool (bench/data/paraphrase)
is one findable colleague, and two searches per topic (bench/data/search_queries.yaml, a
keyword and a short task, written blind: their author saw only the topic identifiers) run
through `rank_colleagues` as the bot ranks. Per split of the pool's topics: searches where a
colleague of the topic is shown, where the first result is one, with no result at all, and
the share of shown results that are of the topic (at most four of five can be); by meaning
with the shipped share of shared words, and by meaning alone.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from bench.common import ms
from bench.profiles import generate, with_vectors
from bench.semantic import DATA, embed, load_topics, share, table
from bot.domain.colleague_search import WORDS_BESIDE_MEANING, Candidate, rank_colleagues
from bot.domain.phrases import split_tasks
from bot.services.colleague_search import ColleagueSearchService, SearchQueued
from bot.services.encoder import E5Encoder, load_encoder
from bot.services.profile_vectors import KIND, profile_phrases, profile_source
from bot.services.profiles import ProfileService
from bot.services.vectors import VectorService, text_hash
from bot.store.db import Database
from bot.store.outbox import Outbox
from bot.store.profiles import ProfileRepository
from bot.store.vectors import VectorRow
from tests.support.config import directory_config
from tests.support.fakes import RecordingMessenger

SEARCHES = [
    "Kita-Plätze vergeben",
    "Bauanträge prüfen",
    "Wohngeld bearbeiten",
    "Personalausweise ausstellen",
    "Digitalisierung der Verwaltung",
    "Fördermittel beantragen",
    "Hundesteuer",
    "Schulen und Kitas planen",
    "Wahlen organisieren",
    "Abfallberatung",
]


async def seed(db: Database, people: int, encoder: E5Encoder) -> None:
    repo = ProfileRepository(db)
    synthetic = with_vectors(generate(people))
    async with db.transaction("search.seed"):
        for s in synthetic:
            user = f"@p{s.person.id}:bench.example"
            await repo.create(user, 0, confirmed=True)
            await repo.update(
                user,
                0,
                display_name=f"Person {s.person.id}",
                department=s.person.department,
                municipality=s.person.municipality,
                tasks=s.person.tasks,
                topics=s.person.topics,
                findable=True,
            )
    model = encoder.model_id
    vectors = VectorService(db, encoder)
    rows = []
    for s, profile in zip(synthetic, await repo.all(), strict=True):
        phrases = profile_phrases(profile)
        if phrases and s.person.vectors is not None and len(phrases) == len(s.person.vectors):
            rows.append(
                VectorRow(KIND, profile.user_id, profile.user_id, text_hash(model, True, phrases),
                          s.person.vectors)
            )  # fmt: skip
    await vectors.store.put_many(rows, model, 0)


async def measure(people: int, searches: int) -> None:
    encoder = load_encoder()
    assert encoder is not None
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.db")
        await db.open()
        await seed(db, people, encoder)
        profiles = ProfileService(db, directory_config().directory)
        vectors = VectorService(db, encoder)
        vectors.add_source(profile_source(profiles.repo))
        service = ColleagueSearchService(db, RecordingMessenger(), profiles, vectors)
        outbox = Outbox(db)
        command, load, encode, rank, finish, total = [], [], [], [], [], []
        for i in range(searches):
            searcher = f"@sucher{i}:bench.example"
            query = SEARCHES[i % len(SEARCHES)]
            t0 = time.perf_counter()
            async with db.transaction("search.measure"):  # the command, as the dispatcher runs it
                started = await service.start(searcher, query)
                await outbox.enqueue(f"reply:{i}", "message", "room", "!dm", {"body": query})
            command.append(time.perf_counter() - t0)
            assert isinstance(started, SearchQueued)
            search = await service.store.search(started.search_id)
            assert search is not None

            t1 = time.perf_counter()
            ids = await service.store.findable_ids(exclude=searcher)
            found = await profiles.get_many(ids)
            phrases = {p.user_id: profile_phrases(p) for p in found.values()}
            stored = await vectors.vectors(KIND, phrases)
            t2 = time.perf_counter()
            q = await vectors.encode(split_tasks(query) or (query,), query=True)
            t3 = time.perf_counter()
            candidates = [Candidate(u, phrases[u], stored.get(u)) for u in ids if u in found]
            await asyncio.to_thread(rank_colleagues, query, q, candidates)
            t4 = time.perf_counter()
            await service.run_search(search)  # everything again, and the final transaction
            t5 = time.perf_counter()
            load.append(t2 - t1)
            encode.append(t3 - t2)
            rank.append(t4 - t3)
            total.append(t5 - t4)
            finish.append(max(0.0, (t5 - t4) - (t4 - t1)))
        await db.close()
    print(f"\n{people} findable people ({len(stored)} with vectors), {searches} searches")
    for name, values in (
        ("command (in the event's transaction)", command),
        ("runner: read candidates + vectors", load),
        ("runner: encode the search text", encode),
        ("runner: rank (worker thread)", rank),
        ("runner: store + queue results", finish),
        ("runner: whole search", total),
    ):
        print(
            f"  {name:40s} p50 {1000 * statistics.median(values):7.1f} ms   "
            f"p95 {ms(values, 95):7.1f} ms"
        )


def quality() -> None:
    topics = load_topics(DATA / "paraphrase")
    phrases = [p for t in topics for p in t.phrases]
    topic_of = [t.name for t in topics for _ in t.phrases]
    split_of = {t.name: t.split for t in topics}
    vectors = embed(phrases, True)
    people = [Candidate(str(i), (p,), vectors[i : i + 1]) for i, p in enumerate(phrases)]
    entries = yaml.safe_load((DATA / "search_queries.yaml").read_text(encoding="utf-8"))
    searches = [(str(e["topic"]), str(e[kind])) for e in entries for kind in ("short", "longer")]
    rows = []
    for name, words in (("**shipped**", WORDS_BESIDE_MEANING), ("meaning alone", 0.0)):
        for split in ("dev", "holdout"):
            found, first, empty, fitting, shown = [], [], [], 0, 0
            for topic, text in searches:
                if split_of[topic] != split:
                    continue
                q = embed(split_tasks(text) or [text], True)
                hits = rank_colleagues(text, q, people, words_share=words)
                fits = [topic_of[int(h.key)] == topic for h in hits]
                found.append(any(fits))
                first.append(bool(fits) and fits[0])
                empty.append(not fits)
                fitting, shown = fitting + sum(fits), shown + len(fits)
            among = f"{100 * fitting / max(shown, 1):.1f} % ({fitting}/{shown})"
            rates = [share(np.array(x)) for x in (found, first, empty)]
            rows.append([name, f"{split} ({len(found)})", *rates, among])
    print(f"\n{len(people)} colleagues (one pool phrase each), {len(searches)} blind searches\n")
    header = ["ranking", "split (searches)", "a fitting colleague shown", "first fits"]
    print(table([*header, "no result", "fitting among shown"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--searches", type=int, default=20)
    parser.add_argument("--quality", action="store_true", help="only the quality of results")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    if args.quality:
        quality()
        return
    for people in args.people:
        asyncio.run(measure(people, args.searches))


if __name__ == "__main__":
    main()
