"""Hostile text: HTML, `javascript:` links, `@room`, pills of other users, right-to-left
overrides and zero-width characters, SQL metacharacters, 60 KiB messages.

All of it is harmless: stored as plain text (parameters in SQL, never spliced), rendered
escaped wherever it is shown (also to *other* people: introductions, announcements,
requests), nobody is pinged by what somebody else typed, and no message exceeds the event
size limit. Render level, then through the dispatcher with real handlers and a temporary
store. The 60 KiB message against a real Synapse is in test_homeserver.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.chat.content import MAX_CONTENT_BYTES, notice
from bot.i18n.render import Rendered, render_template
from bot.store.profiles import ProfileRepository
from tests.support.harness import ADMIN, CRISIS, SERVER, STAFF, Harness, Reply, dm

SCRIPT = "<script>alert(1)</script>"
LINK = '<a href="javascript:alert(1)">Formular</a>'
PILL = '<a href="https://matrix.to/#/@chefin:rathaus.example">Chefin</a>'
IMG = '<img src="https://evil.example/x.png" onerror="alert(1)">'
RTL = "Rechnung\u202egnunhcer.exe"
ZERO_WIDTH = "Bau\u200bamt\u200d\ufeff"
SQL = "'; DROP TABLE profiles; --"
HOSTILE = [SCRIPT, LINK, PILL, IMG, RTL, ZERO_WIDTH, SQL, "@room", "**fett** `code`", "{prefix}"]
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
TAG = re.compile(r"<\s*/?\s*([a-zA-Z][a-zA-Z0-9]*)")


def harmless(html: str | None, plain: str) -> None:
    """Only the bot's own markup; user text escaped; nothing invisible left."""
    if html is not None:
        assert {t.lower() for t in TAG.findall(html)} <= {"b", "code", "br"}, html
        assert "javascript:" not in html or "&lt;a href" in html or "](" in html, html
        assert not INVISIBLE.search(html)
    assert not INVISIBLE.search(plain), plain


# -- render level ------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_parameters_are_escaped(text: str) -> None:
    rendered = render_template("Eingabe: **{value}**", {"value": text})
    harmless(rendered.html, rendered.plain)
    assert rendered.html.startswith("Eingabe: <b>") and rendered.html.endswith("</b>")


def test_markup_in_parameters_is_shown_not_applied() -> None:
    rendered = render_template("{value}", {"value": "**fett** `code` {prefix}"})
    assert rendered.html == "**fett** `code` {prefix}"


def test_right_to_left_and_zero_width_are_removed() -> None:
    rendered = render_template("{a} / {b}", {"a": RTL, "b": ZERO_WIDTH})
    assert rendered.plain == "Rechnunggnunhcer.exe / Bauamt"


def test_a_huge_parameter_is_shortened() -> None:
    rendered = render_template("Zu »{value}« weiß ich nichts.", {"value": "<b>" * 20_000})
    assert rendered.plain.endswith(" …« weiß ich nichts.")
    assert len(rendered.plain) < 9_000


def test_a_huge_notice_stays_within_the_event_limit() -> None:
    huge = Rendered("<b>" * 20_000, "&lt;b&gt;" * 20_000)
    content = notice(huge)
    assert len(json.dumps(content, ensure_ascii=False).encode()) <= MAX_CONTENT_BYTES
    assert "formatted_body" not in content  # cut HTML would be broken HTML: plain only
    assert content["m.mentions"] == {}


def test_mentions_are_explicit_only() -> None:
    content = notice(Rendered("@room @chefin:rathaus.example", "@room"))
    assert content["m.mentions"] == {}
    content = notice(Rendered("x", "x"), mentions=["@a:x", "@a:x"])
    assert content["m.mentions"] == {"user_ids": ["@a:x"]}


# -- through the dispatcher --------------------------------------------------------------


def check(replies: list[Reply], sender: str) -> None:
    assert replies
    for reply in replies:
        harmless(reply.html, reply.body)
        assert set(reply.mentions.get("user_ids", [])) <= {sender}, reply.mentions
        assert not reply.mentions.get("room")
        assert len(json.dumps(reply.content, ensure_ascii=False).encode()) <= MAX_CONTENT_BYTES


@pytest.mark.parametrize("text", HOSTILE)
async def test_profile_text_is_stored_as_typed_and_shown_escaped(tmp_path: Path, text: str) -> None:
    async with Harness.open(tmp_path) as harness:
        check(await harness.say(STAFF, dm(STAFF), f"!profil aufgaben Anträge prüfen {text}"), STAFF)
        view = await harness.say(STAFF, dm(STAFF), "!profil")
        check(view, STAFF)
        profile = await ProfileRepository(harness.db).get(STAFF)
        assert profile is not None and profile.tasks is not None
        # Stored as plain text (invisible characters may be cleaned on input), never as HTML.
        assert "&lt;" not in profile.tasks
        tables = await harness.db.fetchall("SELECT name FROM sqlite_master WHERE type='table'")
        assert "profiles" in {t[0] for t in tables}


async def test_sql_metacharacters_are_just_text(tmp_path: Path) -> None:
    async with Harness.open(tmp_path) as harness:
        for text in (
            f"!profil aufgaben {SQL}",
            "!hospitationen %",
            "!hospitationen _",
            "!hospitationen ' OR 1=1 --",
            f"!kontakt {SQL} | Soziale Träger",
            f"!frage vorschlagen {SQL} und was noch?",
            "!kontakt löschen ' OR '1'='1",
            "!hospitation teilnehmen 1 OR 1=1",
        ):
            check(await harness.say(STAFF, dm(STAFF), text), STAFF)
        profile = await ProfileRepository(harness.db).get(STAFF)
        assert profile is not None and SQL in (profile.tasks or "")
        assert await ProfileRepository(harness.db).count() == 1


async def test_what_one_person_typed_is_escaped_for_everybody_else(tmp_path: Path) -> None:
    """Names and tasks in a coffee introduction, a hospitation announcement, a crisis
    request in a bridge's DM: other people's text, rendered escaped, pinging nobody."""
    async with Harness.open(tmp_path) as harness:
        repo = ProfileRepository(harness.db)
        people = [f"@person{i}:{SERVER}" for i in range(2)]
        for i, person in enumerate(people):
            await repo.create(person, confirmed=True)
            await repo.update(
                person,
                display_name=f"{SCRIPT}{RTL} @room {i}",
                department=f"{PILL} Amt {i}",
                municipality=ZERO_WIDTH,
                tasks=f"Fördermittel prüfen {LINK}",
                topics=["Fördermittel"],
                coffee=True,
            )
        await harness.say(ADMIN, dm(ADMIN), "!admin runde")
        await harness.services.coffee.handle_requests()
        await harness.say(
            STAFF, dm(STAFF), f"!hospitation anbieten {SCRIPT} Bauamt | 03.12.2030 | 2 | {IMG}"
        )
        # A hostile contact is refused or escaped; the bridge's real one gets the request.
        check(await harness.say(STAFF, dm(STAFF), f"!kontakt Tafel {PILL} | Soziale Träger"), STAFF)
        await harness.say(STAFF, dm(STAFF), "!kontakt Tafel Dresden | Soziale Träger")
        await harness.say(CRISIS, dm(CRISIS), f"!werkennt Wer kennt die Tafel? {LINK} @room")
        await harness.services.crisis.tick()  # routes right after the commit, as the job does
        rows = await harness.db.fetchall(
            "SELECT key, payload FROM outbox WHERE action = 'message' ORDER BY id"
        )
        shown = {key: json.loads(payload)["content"] for key, payload in rows}
        intros = [c for k, c in shown.items() if k.endswith(":intro")]
        asks = [c for k, c in shown.items() if ":ask:" in k]
        assert intros and asks
        for key, content in shown.items():
            harmless(content.get("formatted_body"), content["body"])
            mentioned = set(content["m.mentions"].get("user_ids", []))
            # An introduction pings the people it introduces; nothing else pings anybody.
            assert mentioned <= set(people), (key, mentioned)
            assert not content["m.mentions"].get("room"), key
        for intro in intros:
            assert "&lt;script&gt;" in intro["formatted_body"]
        names = await harness.db.fetchall("SELECT payload FROM outbox WHERE action = 'create_room'")
        for (payload,) in names:
            assert not INVISIBLE.search(json.loads(payload)["name"])


@pytest.mark.parametrize(
    "command",
    [
        "!hilfe ",
        "!profil aufgaben ",
        "!frage vorschlagen ",
        "!kontakt Tafel | ",
        "!hospitation anbieten Titel | 03.12.2030 | 2 | ",
        "!hospitationen ",
        "!werkennt ",
        "",  # a 60 KiB dialog answer
    ],
)
async def test_sixty_kib_messages_get_a_bounded_answer(tmp_path: Path, command: str) -> None:
    huge = ("Verwaltung <b>modernisieren</b> \u202e @room " * 1400)[: 60 * 1024]
    person = CRISIS if command.startswith("!werkennt") else STAFF
    async with Harness.open(tmp_path) as harness:
        if not command:
            await harness.say(person, dm(person), "!start")
        replies = await harness.say(person, dm(person), command + huge)
        check(replies, person)
        if command == "!hilfe ":
            # The quote is shortened, so the answer itself still fits into the event.
            assert "kenne ich keinen Befehl" in replies[0].body
        stored = await harness.db.fetchone(
            "SELECT MAX(LENGTH(tasks)), MAX(LENGTH(topics)) FROM profiles"
        )
        assert stored is not None
        assert all(value is None or value < 10_000 for value in stored), stored
