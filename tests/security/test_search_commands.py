"""`!suche`, `!vorstellen` and `!profil auffindbar` through the dispatcher with real handlers
and services: every wrong input says what was wrong and how to write it, nothing is shown
that an introduction would not show, and nobody gets a shared room without saying yes."""

from __future__ import annotations

from pathlib import Path

from tests.support.harness import CRISIS, SHARED_ROOM, STAFF, Harness, Reply, dm

KITA_TASKS = "Betreuungsplätze in Kindertagesstätten vermitteln"


def bodies(replies: list[Reply]) -> str:
    return "\n".join(r.body for r in replies)


async def test_the_findable_switch(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        said = bodies(await bot.say(STAFF, dm(STAFF), "!profil auffindbar"))
        assert "nicht auffindbar (so ist es voreingestellt)" in said
        said = bodies(await bot.say(STAFF, dm(STAFF), "!profil auffindbar vielleicht"))
        assert "»vielleicht« verstehe ich hier nicht" in said
        assert "!profil auffindbar ja" in said
        said = bodies(await bot.say(STAFF, dm(STAFF), "!profil auffindbar ja"))
        assert "Kolleg:innen können Sie jetzt mit !suche finden" in said
        assert "Tragen Sie Ihre ein" in said  # no tasks yet: nobody would find her
        said = bodies(await bot.say(STAFF, dm(STAFF), "!profil"))
        assert "Auffindbar für !suche: ja" in said
        said = bodies(await bot.say(STAFF, dm(STAFF), "!profile findable no"))
        assert "nobody finds you with !search any more" in said
        said = bodies(await bot.say(STAFF, SHARED_ROOM, "!profil auffindbar ja"))
        assert "Direktchat" in said or "direct chat" in said
        profile = await bot.services.profiles.get(STAFF)
        assert profile is not None and not profile.findable


async def test_wrong_input_says_what_was_wrong_and_how(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        cases = {
            "!suche": "Da fehlt noch eine Angabe: <Aufgabe>. So geht es: !suche <Aufgabe>",
            "!suche x": "»x« ist mir zu knapp",
            "!suche @chefin:rathaus.example": "Nach Personen suche ich nicht",
            "!suche " + "Kita " * 60: "bitte fassen Sie die Aufgabe in höchstens 200 Zeichen",
            "!vorstellen": "So geht es: !vorstellen <Nr>",
            "!vorstellen zwei": "»zwei« ist keine Nummer aus Ihrer Trefferliste",
            "!vorstellen 1": "Suchen Sie zuerst",
        }
        for typed, expected in cases.items():
            said = bodies(await bot.say(STAFF, dm(STAFF), typed))
            assert expected in said, (typed, said)
        said = bodies(await bot.say(STAFF, dm(STAFF), "!search daycare places"))
        assert "One moment – I am looking for colleagues" in said


async def test_search_introduce_and_a_typed_yes(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as bot:
        for typed in (
            "!profil name Kim Kita",
            "!profil abteilung Jugendamt",
            f"!profil aufgaben {KITA_TASKS}",
            "!profil auffindbar ja",
        ):
            await bot.say(CRISIS, dm(CRISIS), typed)
        await bot.say(STAFF, dm(STAFF), "!profil name Sam Suche")
        await bot.services.vectors.refresh()

        said = bodies(await bot.say(STAFF, dm(STAFF), "!suche Kita-Plätze vergeben"))
        assert "Einen Moment" in said
        before = {str(r[0]) for r in await bot.db.fetchall("SELECT key FROM outbox")}
        assert await bot.services.search.run_pending() == 1
        (results,) = await bot.queued_since(before)
        assert results.target == STAFF
        assert "1. Kim Kita – Jugendamt: »Betreuungsplätze" in results.body
        assert CRISIS not in results.body  # no Matrix ID, no way around the introduction

        replies = await bot.say(STAFF, dm(STAFF), "!vorstellen 1")
        asked = [r for r in replies if r.target == CRISIS]
        assert len(asked) == 1 and "Sam Suche" in asked[0].body
        assert "Ich habe Kim Kita (Nr. 1) gefragt" in bodies(replies)
        rooms = "SELECT COUNT(*) FROM outbox WHERE action = 'create_room'"
        assert (await bot.db.fetchone(rooms))[0] == 0  # type: ignore[index]

        said = bodies(await bot.say(CRISIS, dm(CRISIS), "ja"))
        assert "gemeinsamen Raum für Sie beide geöffnet" in said
        (create,) = await bot.db.fetchall(
            "SELECT target, payload FROM outbox WHERE action = 'create_room'"
        )
        assert create[0].startswith("intro:") and CRISIS in create[1] and STAFF in create[1]
        # A second "ja" is just a word again: nothing is open any more.
        said = bodies(await bot.say(CRISIS, dm(CRISIS), "ja"))
        assert "gemeinsamen Raum" not in said
