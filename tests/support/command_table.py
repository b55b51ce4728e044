"""Who may run which command where, and how to call it: the authorisation specification
that tests/security/test_authorization.py checks cell by cell, shared with the other
security suites (command errors, fuzzing) that run every command.

`EXPECTED` maps every command and subcommand of the registry by its German path
("admin runde") to its expectation per role and place and a sample invocation; `commands()`
gives the registry's commands by the same paths.
"""

from __future__ import annotations

from bot.commands import load_all
from bot.commands.registry import REGISTRY, Command

# R runs · D "only in the DM" · C "only in the DM or the crisis room" · A "admins only"
# K "crisis staff only". Per role three places: DM, crisis room, other shared room.
#               staff  crisis admin
EVERYONE = ("RRR", "RRR", "RRR")
DM_ONLY = ("RDD", "RDD", "RDD")
ADMINS = ("AAA", "AAA", "RRR")
CRISIS_STAFF = ("KKK", "RRC", "KKK")

EXPECTED: dict[str, tuple[tuple[str, str, str], str]] = {
    # command path: (expectation, a sample invocation that a handler can work with)
    "hilfe": (EVERYONE, "!hilfe"),
    "sprache": (EVERYONE, "!sprache de"),
    "admin": (ADMINS, "!admin"),
    "admin bericht": (ADMINS, "!admin bericht"),
    "admin übung": (ADMINS, "!admin übung Wer kennt jemanden bei der Tafel?"),
    "admin fragen": (ADMINS, "!admin fragen"),
    "admin frage": (ADMINS, "!admin frage annehmen F1"),
    "admin runde": (ADMINS, "!admin runde probe"),
    "admin themenrunde": (ADMINS, "!admin themenrunde probe"),
    "kontakt": (DM_ONLY, "!kontakt Tafel Dresden | Soziale Träger"),
    "kontakt löschen": (DM_ONLY, "!kontakt löschen K-AAAA"),
    "kontakt bestätigen": (DM_ONLY, "!kontakt bestätigen K-AAAA"),
    "kontakte": (DM_ONLY, "!kontakte"),
    "erreichbar": (DM_ONLY, "!erreichbar"),
    "werkennt": (CRISIS_STAFF, "!werkennt Wer kennt jemanden bei der Tafel?"),
    "ja": (DM_ONLY, "!ja A-AAAA"),
    "nein": (DM_ONLY, "!nein A-AAAA"),
    "anfragen": (CRISIS_STAFF, "!anfragen"),
    "anfrage": (CRISIS_STAFF, "!anfrage A-AAAA erledigt"),
    "kaffeepause": (EVERYONE, "!kaffeepause"),
    "frage": (EVERYONE, "!frage"),
    "frage vorschlagen": (EVERYONE, "!frage vorschlagen Was war Ihr erster Arbeitstag?"),
    "getroffen": (EVERYONE, "!getroffen ja"),
    "hospitation": (EVERYONE, "!hospitation"),
    "hospitation meine": (EVERYONE, "!hospitation meine"),
    "hospitation anbieten": (
        EVERYONE,
        "!hospitation anbieten Bauamt kennenlernen | 03.12.2030 | 2",
    ),
    "hospitation teilnehmen": (EVERYONE, "!hospitation teilnehmen H-AAAA"),
    "hospitation absagen": (EVERYONE, "!hospitation absagen H-AAAA"),
    "hospitation zurückziehen": (EVERYONE, "!hospitation zurückziehen H-AAAA"),
    "hospitation wunsch": (DM_ONLY, "!hospitation wunsch"),
    "hospitation feedback": (DM_ONLY, "!hospitation feedback H-AAAA ja"),
    "hospitationen": (EVERYONE, "!hospitationen"),
    "profil": (DM_ONLY, "!profil"),
    "kaffee": (EVERYONE, "!kaffee"),
    "kaffee an": (EVERYONE, "!kaffee an"),
    "kaffee aus": (EVERYONE, "!kaffee aus"),
    "kaffee pause": (EVERYONE, "!kaffee pause 2"),
    "start": (DM_ONLY, "!start"),
    "meinedaten": (DM_ONLY, "!meinedaten"),
    "vergessen": (DM_ONLY, "!vergessen"),
    "suche": (DM_ONLY, "!suche Kita-Plätze vergeben"),
    "vorstellen": (DM_ONLY, "!vorstellen 1"),
}


def commands() -> dict[str, Command]:
    """Every command and subcommand by its German path ("admin runde")."""
    load_all()
    found: dict[str, Command] = {}
    for cmd in REGISTRY.commands.values():
        found[cmd.name] = cmd
        for sub in cmd.subcommands.values():
            path = f"{cmd.name} {sub.name}".strip()
            if sub.name and path not in found:
                found[path] = sub
            elif not sub.name and cmd.handler is None:
                found[cmd.name] = sub  # the default subcommand is what `!kaffee` runs
    return found
