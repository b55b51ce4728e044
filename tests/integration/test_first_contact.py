"""A new colleague's first minute, against a real Synapse: the welcome in a new DM comes
before the answer to the first command, even when the command was typed at once."""

from __future__ import annotations

from tests.support.fixtures import MakeBot, MakeUser
from tests.support.live import GREETING, said_by


async def test_welcome_comes_before_the_answer_to_the_first_command(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot()
    await bot.start_and_wait()
    erin = await make_user("erin")
    room_id = await erin.open_dm(bot.user_id)
    # At once, as people do: no waiting for the bot to join or to say hello.
    await erin.send_text(room_id, "!hilfe sprache")
    await erin.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "!sprache" in m.body, timeout=30
    )
    said = said_by(erin, bot.user_id, room_id)
    greetings = [i for i, body in enumerate(said) if body == GREETING]
    answers = [i for i, body in enumerate(said) if "!sprache" in body]
    assert greetings and answers, said
    assert greetings[0] < answers[0], said
    assert len(greetings) == 1, said
