"""Who may do what, and where: the vocabulary shared by services, commands and chat."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STAFF = "staff"
    CRISIS = "crisis"
    ADMIN = "admin"


class Where(StrEnum):
    DM = "dm"  # personal data: only in the person's DM with the bot
    ANY = "any"  # DM or any room the bot is in
    CRISIS = "crisis"  # DM or the crisis room
