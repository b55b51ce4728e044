"""`flurfunk import-staff` never echoes control characters of the HR file to the operator's
terminal (review finding S-18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services.staff_csv import StaffFileError, parse_staff_csv
from tests.support.config import directory_config

SERVER = "rathaus.example"


def printable(line: str) -> bool:
    return not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in line)


def test_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    """S-18 (the finding's example): cells and header names are shown with control
    characters escaped: an ESC sequence cannot erase lines of the problem list, an OSC
    sequence cannot set the window title."""
    data = (
        b"matrix_id;name;\x1b]0, owned\x07x\n"
        b"\x1b[2K\x1b[1A\x1b[2Kanna;Anna;1\n"
        b"@bernd:rathaus.example;Bernd\x1b[31m;2\n"
        b"@carla\x1b[8m:rathaus.example;Carla;3\n"
    )
    parsed = parse_staff_csv(data, directory_config().directory, [SERVER])
    shown = [str(p) for p in parsed.problems] + parsed.warnings
    assert len(parsed.problems) == 2 and parsed.warnings
    for line in shown:
        assert printable(line), repr(line)
    assert "\\x1b[2K\\x1b[1A\\x1b[2Kanna" in shown[0]
    assert "\\x1b]0, owned\\x07x" in parsed.warnings[0]
    assert parsed.rows[0].values["display_name"] == "Bernd[31m"  # stored cleaned, as in chat


def test_a_hostile_header_is_escaped_in_the_file_error() -> None:
    """S-18: the error about an unusable header quotes it escaped too."""
    with pytest.raises(StaffFileError) as caught:
        parse_staff_csv(
            b"id\x1b[2J;name\n@a:rathaus.example;A\n", directory_config().directory, ["x"]
        )
    assert printable(str(caught.value)) and "id\\x1b[2J" in str(caught.value)
