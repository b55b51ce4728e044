"""Data written into the bot's store before it starts: onboarded, opted-in colleagues and
bridge contacts, as the chat would have left them (cheaper than a hundred onboardings)."""

from __future__ import annotations

import random
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg

from bot.services.contacts import new_id
from bot.store.contacts import ContactStore, StoredContact
from bot.store.db import Database, is_postgresql
from bot.store.profiles import ProfileRepository
from bot.store.sql_dialect import to_psycopg

DEPARTMENTS = (
    "Bauamt",
    "Kämmerei",
    "Ordnungsamt",
    "Jugendamt",
    "Sozialamt",
    "Gesundheitsamt",
    "Standesamt",
    "Umweltamt",
    "Schulamt",
    "Personalamt",
)
MUNICIPALITIES = ("Musterstadt", "Beispieldorf", "Neustadt", "Altdorf")
TASKS = (
    ("Fördermittelanträge prüfen und abrechnen", "Fördermittel"),
    ("Akten digitalisieren, E-Akte einführen", "Digitalisierung"),
    ("Bußgeldverfahren bearbeiten", "Bußgeld"),
    ("Haushaltsplanung und Controlling", "Haushalt"),
    ("Friedhofsgebühren kalkulieren", "Friedhofswesen"),
    ("Kita-Plätze vergeben", "Kinderbetreuung"),
    ("Wohngeld bewilligen", "Wohngeld"),
    ("Ausschreibungen und Vergabe", "Vergabe"),
)


# display name, department, municipality, tasks, topic
Profile = tuple[str, str, str, str, str]
# The coffee suites' colleagues, name: department, municipality, tasks, topic; two of them
# share each topic, across departments and municipalities.
COLLEAGUES: dict[str, tuple[str, str, str, str]] = {
    "anna": ("Bauamt", "Musterstadt", "Fördermittelanträge prüfen", "Fördermittel"),
    "bernd": ("Kämmerei", "Beispieldorf", "Fördermittel abrechnen, Haushalt", "Fördermittel"),
    "cem": ("Ordnungsamt", "Musterstadt", "Bußgeldverfahren digitalisieren", "Digitalisierung"),
    "dora": ("Bauamt", "Beispieldorf", "Bauakten digitalisieren, E-Akte", "Digitalisierung"),
    "emil": ("Kämmerei", "Musterstadt", "Friedhofsgebühren kalkulieren", "Friedhofswesen"),
}


async def seed_profiles(database: Path, user_ids: list[str], seed: int = 7) -> None:
    """Confirmed, opted-in profiles; similar tasks across departments, so all get a partner."""
    rng = random.Random(seed)
    profiles: dict[str, Profile] = {}
    for index, user_id in enumerate(user_ids):
        tasks, topic = TASKS[index % len(TASKS)]
        department = DEPARTMENTS[index % len(DEPARTMENTS)]
        municipality = rng.choice(MUNICIPALITIES)
        profiles[user_id] = (f"Person {index:03d}", department, municipality, tasks, topic)
    await seed_onboarded(database, profiles)


async def seed_onboarded(database: Path | str, profiles: dict[str, Profile]) -> None:
    """user_id -> profile: onboarded (confirmed), German, opted in to coffee rounds."""
    db = Database(database)
    await db.open()
    try:
        repo = ProfileRepository(db)
        for user_id, (name, department, municipality, tasks, topic) in profiles.items():
            await repo.create(user_id, confirmed=True)
            await repo.update(
                user_id,
                display_name=name,
                department=department,
                municipality=municipality,
                tasks=tasks,
                topics=[topic],
                languages=["de"],
                coffee=True,
            )
    finally:
        await db.close()


async def seed_colleagues(database: Path | str, user_ids: dict[str, str]) -> None:
    """The COLLEAGUES named in `user_ids` (name -> Matrix ID), onboarded under their name."""
    await seed_onboarded(
        database,
        {user_id: (name.capitalize(), *COLLEAGUES[name]) for name, user_id in user_ids.items()},
    )


async def seed_contacts(
    database: Path, bridges: list[tuple[str, str, str]], seed: int = 11
) -> None:
    """(user_id, organisation, sector) bridge contacts, confirmed now."""
    rng = random.Random(seed)
    db = Database(database)
    await db.open()
    try:
        store = ContactStore(db)
        now = time.time()
        for user_id, organisation, sector in bridges:
            while not await store.add(
                StoredContact(new_id("K", rng), user_id, organisation, sector, now, now)
            ):
                pass
    finally:
        await db.close()


async def seed_dm_rooms(database: Path, rooms: dict[str, str]) -> None:
    """user_id -> DM room the bot already shares with them."""
    db = Database(database)
    await db.open()
    try:
        for user_id, room_id in rooms.items():
            await db.execute(
                "INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?)",
                (user_id, room_id),
                name="seed.dm_rooms",
            )
    finally:
        await db.close()


def query(database: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the bot's store while it runs (`BotProcess.store`): the SQLite file through a
    read-only connection (WAL), or a PostgreSQL URL in a read-only transaction; the SQL
    with `?` placeholders either way."""
    if is_postgresql(database):
        with psycopg.connect(str(database)) as conn:
            conn.read_only = True
            return conn.execute(to_psycopg(sql), params).fetchall()
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)) as db:
        return db.execute(sql, params).fetchall()
