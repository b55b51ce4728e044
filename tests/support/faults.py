"""Fault injection for the bot as a process; production code has no fault points.

`BotProcess(faults=Faults(...))` starts the bot through this file instead of
`python -m bot`: it patches the seams named on its command line, then hands the remaining
arguments to `bot.__main__.main()`, so everything else runs exactly as an operator runs it.

    python -m tests.support.faults --kill-before-send MARKER -- run -c flurfunk.yaml

Both faults are switched by a marker file, so a test decides when they bite and a restart
of the same process (same arguments) behaves as the test expects:

- `--kill-before-send MARKER`: the first Matrix send of the process dies by SIGKILL after
  the outbox stored the item and before the homeserver saw it, unless MARKER exists; the
  fault creates MARKER first, so it happens once across restarts.
- `--store-readonly MARKER`: while MARKER exists, every write transaction fails as if the
  disk were full (`chmod` does not stop root, which CI runs as). A migration that has to
  run while MARKER exists fails the same way.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.__main__ import main as bot_main
from bot.chat.outbox_actions import MatrixActions
from bot.store.db import Database, StoreUnavailable

Send = Callable[[MatrixActions, str, str, dict[str, Any], str], Coroutine[Any, Any, str]]
Begin = Callable[[Database], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Faults:
    """What `BotProcess` passes to this entry point (None: that fault stays off)."""

    kill_before_send: Path | None = None
    store_readonly: Path | None = None

    def arguments(self) -> list[str]:
        args: list[str] = []
        if self.kill_before_send is not None:
            args += ["--kill-before-send", str(self.kill_before_send)]
        if self.store_readonly is not None:
            args += ["--store-readonly", str(self.store_readonly)]
        return args

    def command(self, bot_args: list[str]) -> list[str]:
        """The command line (run from the repository root) that starts the bot with these
        faults."""
        return [sys.executable, "-m", "tests.support.faults", *self.arguments(), "--", *bot_args]


def dying_send(marker: Path, send: Send) -> Send:
    """`MatrixActions.send` that kills the process once, just before the first send."""

    async def patched(
        actions: MatrixActions, room_id: str, event_type: str, content: dict[str, Any], key: str
    ) -> str:
        _kill_once(marker)
        return await send(actions, room_id, event_type, content, key)

    return patched


def failing_begin(marker: Path, begin: Begin) -> Begin:
    """`Database._begin` that fails like a full disk while `marker` exists. `_begin` runs
    inside `Database.transaction`'s error handling, so the store reports itself unavailable
    (`writable`, `on_unavailable`) exactly as for SQLite's own "disk full"."""

    async def patched(database: Database) -> None:
        _fail_while(marker)
        await begin(database)

    return patched


def _kill_once(marker: Path) -> None:
    if not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)


def _fail_while(marker: Path) -> None:
    if marker.exists():
        raise StoreUnavailable(f"fault injection: {marker} exists")


def install(faults: Faults) -> None:
    """Patch the seams for the rest of this process."""
    if faults.kill_before_send is not None:
        MatrixActions.send = dying_send(  # type: ignore[method-assign, assignment]
            faults.kill_before_send, MatrixActions.send
        )
    if faults.store_readonly is not None:
        Database._begin = failing_begin(  # type: ignore[method-assign, assignment]
            faults.store_readonly, Database._begin
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill-before-send", type=Path)
    parser.add_argument("--store-readonly", type=Path)
    parser.add_argument("bot_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    install(Faults(args.kill_before_send, args.store_readonly))
    bot_args = args.bot_args[1:] if args.bot_args[:1] == ["--"] else args.bot_args
    return bot_main(bot_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
