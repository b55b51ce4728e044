"""Hospitation floods (review finding S-11, reproduction I) through the real dispatcher: open
offers per host are capped, sign-ups per person and offer too, and the host's notices and
the announcement edits are coalesced into one digest and one edit."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Config
from tests.support.harness import ADMIN, SHARED_ROOM, STAFF, Harness, dm, harness_config

IN_TEN_DAYS = (date.today() + timedelta(days=10)).strftime("%d.%m.%Y")


def hospitation_config(**settings: object) -> Config:
    return harness_config(hospitation={"announcement_rooms": [SHARED_ROOM], **settings})


async def rows(harness: Harness, sql: str, *args: object) -> list[tuple[object, ...]]:
    return [tuple(r) for r in await harness.db.fetchall(sql, args)]


async def host_dms(harness: Harness) -> list[str]:
    """Keys of the notices about sign-ups and cancellations in the host's DM."""
    found = await rows(
        harness,
        "SELECT key FROM outbox WHERE target = ? AND action = 'message' "
        "AND (key LIKE '%:host' OR key LIKE '%:digest') ORDER BY id",
        ADMIN,
    )
    return [str(r[0]) for r in found]


async def edits(harness: Harness) -> list[str]:
    found = await rows(harness, "SELECT payload FROM outbox WHERE action = 'edit' ORDER BY id")
    return [json.loads(str(r[0]))["content"]["body"] for r in found]


async def offer_ids(harness: Harness) -> list[str]:
    return [str(r[0]) for r in await rows(harness, "SELECT id FROM hospitation_offers")]


async def test_thirty_offers_make_five_announcements_and_name_the_cap(tmp_path: Path) -> None:
    async with Harness.open(tmp_path, hospitation_config()) as harness:
        answers = []
        for i in range(30):
            line = f"!hospitation anbieten Angebot {i} | {IN_TEN_DAYS} | 2"
            answers.append(await harness.say(ADMIN, dm(ADMIN), line))
        assert len(await offer_ids(harness)) == 5
        posts = await rows(
            harness,
            "SELECT COUNT(*) FROM outbox WHERE target = ? AND action = 'message'",
            SHARED_ROOM,
        )
        assert posts == [(5,)]
        [refusal] = answers[5]
        assert "5 offene Hospitationsangebote" in refusal.body
        assert "hospitation zurückziehen" in refusal.body
        # The guided dialog refuses before its first question, not after the last one.
        [early] = await harness.say(ADMIN, dm(ADMIN), "!hospitation anbieten")
        assert "5 offene Hospitationsangebote" in early.body
        # Withdrawing one makes room for a new one.
        first = (await offer_ids(harness))[0]
        await harness.say(ADMIN, dm(ADMIN), f"!hospitation zurückziehen {first}")
        again = await harness.say(
            ADMIN, dm(ADMIN), f"!hospitation anbieten Neu | {IN_TEN_DAYS} | 2"
        )
        assert len(await offer_ids(harness)) == 6, [r.body for r in again]


async def test_toggling_is_capped_and_the_host_gets_a_digest(tmp_path: Path) -> None:
    async with Harness.open(tmp_path, hospitation_config()) as harness:
        await harness.say(ADMIN, dm(ADMIN), f"!hospitation anbieten Bauamt | {IN_TEN_DAYS} | 2")
        [offer] = await offer_ids(harness)
        replies = []
        for _ in range(25):
            replies += await harness.say(STAFF, dm(STAFF), f"!hospitation teilnehmen {offer}")
            replies += await harness.say(STAFF, dm(STAFF), f"!hospitation absagen {offer}")
        assert sum("3-mal angemeldet" in r.body for r in replies) == 22
        # Cancelling is never capped: the third sign-up was cancelled like the others.
        assert sum("Sie sind von der Hospitation" in r.body for r in replies) == 3
        assert await rows(harness, "SELECT * FROM hospitation_seats") == []
        joins = await rows(harness, "SELECT joins FROM hospitation_joins")
        assert joins == [(3,)]
        # The count is the person's datum: `!meinedaten` shows it.
        export = await harness.services.privacy.export(STAFF, datetime.now(ZoneInfo("UTC")))
        assert export["sections"]["hospitations"]["sign_ups_per_offer"] == {offer: 3}
        # Six changes (three sign-ups, three cancellations): four told at once, the rest
        # counted for one digest instead of 50 DMs and 50 edits.
        assert len(await host_dms(harness)) == 4
        assert len(await edits(harness)) == 4
        offers = harness.services.hospitations.offers
        await offers.notices.run_due()
        assert len(await host_dms(harness)) == 4  # no token back yet
        later = datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(seconds=61)
        offers.clock = lambda: later
        await offers.notices.run_due()
        await offers.notices.run_due()
        keys = await host_dms(harness)
        assert len(keys) == 5 and keys[-1].endswith(":digest")
        [digest] = await rows(harness, "SELECT payload FROM outbox WHERE key = ?", keys[-1])
        body = json.loads(str(digest[0]))["content"]["body"]
        assert "1 Anmeldung, 1 Absage" in body and "0 von 2 Plätzen" in body
        # One edit showing the latest state: nobody signed up, both places free.
        bodies = await edits(harness)
        assert len(bodies) == 5 and "2 von 2" in bodies[-1]


async def test_a_rush_of_different_people_ends_in_one_digest(tmp_path: Path) -> None:
    async with Harness.open(tmp_path, hospitation_config()) as harness:
        await harness.say(ADMIN, dm(ADMIN), f"!hospitation anbieten Bauamt | {IN_TEN_DAYS} | 3")
        [offer] = await offer_ids(harness)
        for i in range(10):
            person = f"@kollegin{i}:rathaus.example"
            room = await harness.add_person(person)
            await harness.say(person, room, f"!hospitation teilnehmen {offer}")
        assert len(await host_dms(harness)) == 4
        offers = harness.services.hospitations.offers
        later = datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(seconds=61)
        offers.clock = lambda: later
        await offers.notices.run_due()
        keys = await host_dms(harness)
        assert len(keys) == 5
        [digest] = await rows(harness, "SELECT payload FROM outbox WHERE key = ?", keys[-1])
        body = json.loads(str(digest[0]))["content"]["body"]
        assert "6 Anmeldungen, 0 Absagen" in body and "Warteliste: 7" in body
        assert "Warteliste: 7" in (await edits(harness))[-1]
