"""Config sections about people's data: privacy (notice, retention) and the directory.

Each key's `description` is what an operator reads (see `bot/config/core.py`).
"""

from __future__ import annotations

from datetime import time

from pydantic import Field

from bot.config.core import Section


class PrivacyConfig(Section):
    notice_de: str = Field(
        "Flurfunk speichert, was Sie selbst angeben: Abteilung, Kommune, Aufgaben, Themen, "
        "Sprachen und Erreichbarkeit. Damit schlägt er Ihnen Kolleg:innen mit ähnlichen "
        "Aufgaben vor. Sichtbar ist davon nur, was in einer Vorstellung steht. Mit !suche "
        "finden andere Sie nur, wenn Sie mit !profil auffindbar ja zustimmen, und kennenlernen "
        "nur, wenn Sie einer Vorstellung zustimmen; Trefferlisten werden nach 24 Stunden "
        "gelöscht. Die Teilnahme ist freiwillig; mit !meinedaten sehen Sie alles, mit "
        "!vergessen löschen Sie alles.",
        description="Shown at the start of !start: what is stored, why, who sees it, how to "
        "delete it (German).",
    )
    notice_en: str = Field(
        "Flurfunk stores what you tell it: department, municipality, tasks, topics, languages "
        "and availability, to suggest colleagues with similar tasks. Others only see what an "
        "introduction shows. Others find you with !search only if you agree with !profile "
        "findable yes, and meet you only if you agree to an introduction; result lists are "
        "deleted after 24 hours. Participation is voluntary; !mydata shows everything, !forget "
        "deletes everything.",
        description="The same in English.",
    )
    retention_inactive_days: int = Field(
        365,
        ge=30,
        le=3650,
        description="Everything about people inactive this long (or deactivated on the "
        "homeserver) is deleted, whether they have a profile or not.",
    )
    retention_check_time: time = Field(
        time(3, 30), description="Local time of the daily retention check."
    )
    dialog_retention_days: int = Field(
        30,
        ge=1,
        le=365,
        description="Half-finished dialogs (e.g. an onboarding left in the middle) are "
        "dropped after this many days.",
    )
    deactivated_max_share: float = Field(
        0.2,
        gt=0,
        le=1,
        description="Safety net: if more than this share of the checked accounts (and more "
        "than 5) looks deactivated in one run, nothing is deleted and the admin room is asked "
        "to check, since a misrouted profile endpoint looks exactly like that. 1.0 switches it "
        "off.",
    )
    admin_api: bool = Field(
        False,
        description="The bot account is a server admin: ask Synapse's admin API whether an "
        "account on the bot's homeserver is deactivated (also sees a deactivation without "
        "erasure). false: only the profile lookup's 404 counts; see docs/profiles.md, "
        '"Retention".',
    )


class DirectoryConfig(Section):
    departments: list[str] = Field(
        default_factory=list,
        description="Departments (Ämter) offered, with typo suggestions (empty by default).",
        examples=[["Bürgeramt", "Ordnungsamt", "Jugendamt", "Sozialamt", "Gesundheitsamt"]],
    )
    municipalities: list[str] = Field(
        default_factory=list,
        description="Municipalities (Kommunen) offered, with typo suggestions (empty by default).",
        examples=[["Musterstadt", "Beispieldorf"]],
    )
    free_departments: bool = Field(
        True, description="Allow departments that are not in the list above."
    )
    free_municipalities: bool = Field(
        True, description="Allow municipalities that are not in the list above."
    )
    topics_max: int = Field(10, ge=1, le=50, description="At most this many topics per profile.")
