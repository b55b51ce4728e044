"""What several benchmarks share: percentiles, the machine line, rewriting a section of
docs/BENCHMARKS.md, and the bot as crisis staff's process in an encrypted crisis room."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bot.devserver import LocalSynapse
from tests.support.bot_process import BotProcess
from tests.support.live import encrypted_room
from tests.support.matrix_user import MatrixUser

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def percentile(samples: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0–100), interpolated between the two nearest ranks (numpy's
    default and `statistics.quantiles(method="inclusive")`); NaN without samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def machine() -> str:
    """CPU, memory and the versions that matter for the Matrix benchmarks."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as info:
        mem_kb = int(info.readline().split()[1])
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {mem_kb / 2**20:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"matrix-nio {metadata.version('matrix-nio')}, "
        f"Synapse {metadata.version('matrix-synapse')} (SQLite under /dev/shm)"
    )


def replace_section(text: str, title: str, new: str) -> str:
    """`text` (docs/BENCHMARKS.md) with the section headed `title` replaced by `new`, or
    `new` appended if there is no such section yet."""
    start = text.find(title + "\n")
    if start < 0:
        return text.rstrip("\n") + "\n\n" + new
    end = text.find("\n## ", start + len(title))
    return text[:start] + new + ("" if end < 0 else text[end:])


def write_section(path: Path, title: str, text: str) -> None:
    """Put `text` in place of the section headed `title` of `path` (created if missing)."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(replace_section(current, title, text), encoding="utf-8")


async def crisis_room(chief: MatrixUser) -> str:
    """An encrypted room of `chief`, the crisis staff's room for the bot."""
    return await encrypted_room(chief, "Krisenstab")


async def crisis_bot(
    synapse: LocalSynapse,
    base: Path,
    chief: MatrixUser,
    bridges: int,
    config: dict[str, Any] | None = None,
) -> tuple[BotProcess, str, list[str]]:
    """The bot as a process in a crisis room of `chief` (the crisis staff), asking all
    `bridges` bridge persons at once, and that many registered bridge accounts (their
    contacts are the caller's to seed): (bot, crisis room, bridge IDs)."""
    bot, room_id = await crisis_staff_bot(synapse, base, chief, bridges, config)
    return bot, room_id, await register_bridges(synapse, bridges)


async def crisis_staff_bot(
    synapse: LocalSynapse,
    base: Path,
    chief: MatrixUser,
    tier1: int,
    config: dict[str, Any] | None = None,
) -> tuple[BotProcess, str]:
    """The bot as a process (in `base / "bot"`) in a new crisis room of `chief`, asking
    `tier1` bridge persons at once: (bot, crisis room)."""
    room_id = await crisis_room(chief)
    crisis = {
        "room": room_id,
        "staff": [chief.user_id],
        "tier1_size": tier1,
        "tier1_timeout_s": 3600,
        "tier2_timeout_s": 3600,
        "cap_per_week": None,
        "default_availability": "immer",
        "tick_seconds": 5,
    }
    settings = {"crisis": crisis, "operations": {"log_level": "WARNING"}, **(config or {})}
    bot = BotProcess(synapse, base / "bot", config=settings)
    await chief.client.room_invite(room_id, bot.user_id)
    await bot.start_and_wait()
    await chief._wait_until(
        lambda: bot.user_id in chief.client.rooms[room_id].users or None, 60, "bot joined"
    )
    return bot, room_id


async def register_bridges(synapse: LocalSynapse, bridges: int) -> list[str]:
    """`bridges` registered accounts without devices, bridge0000 …: their IDs."""
    print(f"registering {bridges} bridge persons …", file=sys.stderr)
    people = await asyncio.gather(
        *(
            asyncio.to_thread(synapse.register_user, f"bridge{i:04d}", f"pw-bridge{i:04d}")
            for i in range(bridges)
        )
    )
    return list(people)


def ms(samples: Sequence[float], q: float) -> float:
    """`percentile` of samples in seconds, in milliseconds."""
    return 1000 * percentile(samples, q)


def p50_p95(samples: Sequence[float]) -> tuple[float, float]:
    return percentile(samples, 50), percentile(samples, 95)
