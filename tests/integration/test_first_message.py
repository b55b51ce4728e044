"""Element opens a new DM with the first message: the room is created, the bot invited and
the person's command sent, all before the bot has joined. That command is answered."""

from __future__ import annotations

from tests.support.fixtures import MakeBot, MakeUser
from tests.support.live import GREETING, said_by


async def test_a_command_sent_before_the_bot_joined_is_answered(
    make_bot: MakeBot, make_user: MakeUser
) -> None:
    bot = make_bot()
    await bot.start_and_wait()
    bot.stop()  # the bot cannot join yet: the command is certainly older than its join
    await bot.wait_exit()
    fatma = await make_user("fatma")
    room_id = await fatma.open_dm(bot.user_id)
    await fatma.send_text(room_id, "!hilfe sprache")
    bot.start()
    await bot.wait_healthy()
    await fatma.wait_for_message(
        room_id, sender=bot.user_id, predicate=lambda m: "!sprache" in m.body, timeout=60
    )
    said = said_by(fatma, bot.user_id, room_id)
    answers = [body for body in said if "!sprache" in body]
    assert len(answers) == 1, said  # answered once, not again for the join
    assert said[0] == GREETING, said  # welcomed first, as in a DM the bot opened
