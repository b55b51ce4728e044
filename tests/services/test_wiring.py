"""The one wiring place (`bot/services/hub.py`) and what the features share through it: every
job is set up by the hub, a service read before it is built is named, no service module
imports the hub, files reach a room through the Messenger port, admin notices go to the
admin room only when there is one, and one failing step of the round job holds back none
of the others."""

from __future__ import annotations

import ast
import base64
import json
import logging
from pathlib import Path

import pytest

from bot.chat.messenger import ChatMessenger
from bot.jobs import Jobs
from bot.services import hub
from bot.services.admins import post_to_admins
from bot.services.coffee import CoffeeService
from bot.services.hub import Services, build_services
from bot.services.ports import Attachment, NoAccountDirectory, Say
from bot.store.db import Database
from bot.store.outbox import Outbox
from tests.support.config import make_config
from tests.support.fakes import RecordingMessenger

SERVICES = Path(hub.__file__).parent
ADMIN_ROOM = "!admins:rathaus.example"
ROOM = "!room:rathaus.example"


async def test_every_job_of_the_services_is_set_up_by_the_hub(db: Database) -> None:
    jobs = Jobs("Europe/Berlin")
    services = build_services(make_config(), db, RecordingMessenger(), jobs)
    assert jobs.scheduler.get_jobs() == []  # nothing runs before the first sync
    services.start_jobs()
    ids = {job.id for job in jobs.scheduler.get_jobs()}
    assert ids == {
        "housekeeping",
        "vectors",
        "privacy-retention",
        "hospitation_followups",
        "hospitation_notices",
        "crisis_tick",
        "crisis_maintenance",
        "kitchen_prompts",
        "coffee_breaks",
        "coffee_rounds",
        "circle_rounds",
        "network_report",
        "colleague_search",
    }
    housekeeping = jobs.scheduler.get_job("housekeeping")
    assert housekeeping is not None and "interval[1 day" in str(housekeeping.trigger)


async def test_a_service_used_before_it_is_built_is_named(db: Database) -> None:
    services = Services(
        make_config(), db, RecordingMessenger(), Jobs("Europe/Berlin"), NoAccountDirectory()
    )
    # Hospitations compare offers and wishes by meaning: they need the vectors first.
    with pytest.raises(AttributeError, match=r"services\.vectors is used before it is built"):
        hub._build_hospitations(services)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_service'"):
        services.no_such_service  # type: ignore[attr-defined]  # noqa: B018


def test_no_service_module_imports_the_hub() -> None:
    """The hub imports the services; a service that imported the hub would wire itself."""
    offenders = []
    for path in sorted(SERVICES.glob("*.py")):
        if path.name == "hub.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{alias.name}" for alias in node.names]
                names.append(str(node.module))
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if "bot.services.hub" in names:
                offenders.append(path.name)
    assert offenders == []


async def _outbox_payloads(db: Database) -> dict[str, dict[str, object]]:
    rows = await db.fetchall("SELECT key, target, payload FROM outbox WHERE action = 'file'")
    return {row["key"]: {"target": row["target"], **json.loads(row["payload"])} for row in rows}


async def test_a_picture_is_shown_inline_and_a_file_is_a_download(db: Database) -> None:
    messenger = ChatMessenger(Outbox(db), _no_preference, "de", lambda: None)
    chart = Attachment("ties.png", "image/png", b"\x89PNG...")
    archive = Attachment("bericht.zip", "application/zip", b"PK...")
    await messenger.post_file(ROOM, chart, effect_key="chart", picture=(800, 600))
    await messenger.post_file(ROOM, archive, effect_key="archive")
    payloads = await _outbox_payloads(db)
    assert payloads["chart"]["target"] == ROOM
    assert payloads["chart"]["msgtype"] == "m.image"
    assert payloads["chart"]["info"] == {"w": 800, "h": 600}
    assert base64.b64decode(str(payloads["chart"]["data"])) == chart.data
    assert "msgtype" not in payloads["archive"]  # the sender's default: m.file
    assert "info" not in payloads["archive"]
    assert payloads["archive"]["filename"] == "bericht.zip"


async def _no_preference(user_id: str) -> None:
    return None


async def test_admin_notices_go_to_the_admin_room_only_if_there_is_one() -> None:
    messenger = RecordingMessenger()
    notice = Say("retention.suspicious", {"held": 6, "checked": 10})
    await post_to_admins(messenger, make_config(), notice, effect_key="without")
    assert messenger.sent == []
    with_room = make_config(bot={"admin_room": ADMIN_ROOM})
    await post_to_admins(messenger, with_room, notice, effect_key="with")
    [sent] = messenger.sent
    assert (sent.kind, sent.target, sent.message) == ("post", ADMIN_ROOM, notice)


async def test_a_failing_step_of_the_round_job_holds_back_no_other(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    coffee = CoffeeService(db, RecordingMessenger(), make_config())
    ran: list[str] = []

    async def locked() -> None:
        raise RuntimeError("database is locked")

    async def follow_ups() -> int:
        ran.append("follow-ups")
        return 0

    monkeypatch.setattr(coffee, "handle_requests", locked)
    monkeypatch.setattr(coffee.followups, "send_due", follow_ups)
    with caplog.at_level(logging.ERROR):
        await coffee.tick()
    # The coffee job also posts the follow-ups (of circles too): they went out regardless.
    assert ran == ["follow-ups"]
    assert "coffee: locked failed; retried at the next check" in caplog.text
