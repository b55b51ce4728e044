"""Labels and numbers in the network report, in the requested language: catalogue texts
(`bot/i18n/report.yaml`), unit names, counts, changes, shares, days, months and periods."""

from __future__ import annotations

from datetime import date

from bot.domain.network.periods import Period
from bot.domain.network.ties import OTHER, UNKNOWN
from bot.i18n import Lang, template
from bot.i18n.render import clean_user_text


def label(key: str, lang: Lang, **params: object) -> str:
    return template(key, lang).format(**params)


def unit_name(unit: str, lang: Lang) -> str:
    if unit == OTHER:
        return label("report.unit.other", lang)
    if unit == UNKNOWN:
        return label("report.unit.unknown", lang)
    return clean_user_text(unit)


def number(value: int, lang: Lang) -> str:
    text = f"{value:,}"
    return text.replace(",", ".") if lang == "de" else text


def count(value: int | None, lang: Lang, k: int) -> str:
    """A count of the report; a suppressed one (1 to k-1, S-07) as `< k`."""
    return f"< {k}" if value is None else number(value, lang)


def signed(value: float | None, lang: Lang, digits: int = 2) -> str:
    if value is None:
        return "–"
    text = f"{value:+.{digits}f}".replace("-", "−")
    return text.replace(".", ",") if lang == "de" else text


def change(now: int | None, before: int | None, lang: Lang) -> str:
    if now is None or before is None:
        return "–"  # a suppressed count: its change would give it away
    delta = now - before
    if delta == 0:
        return "±0"
    return ("+" if delta > 0 else "−") + number(abs(delta), lang)


def points(value: int | None, lang: Lang) -> str:
    """A change of a share, in percentage points."""
    if value is None:
        return "–"
    return change(value, 0, lang) + (" Pp." if lang == "de" else " pp")


def percent(value: float | None, lang: Lang) -> str:
    if value is None:
        return "–"
    return f"{round(value * 100)} %" if lang == "de" else f"{round(value * 100)}%"


def day(value: date, lang: Lang) -> str:
    return f"{value:%d.%m.%Y}" if lang == "de" else value.isoformat()


def month_name(value: date, lang: Lang, *, short: bool = False) -> str:
    names = template("report.months.short" if short else "report.months", lang).split(",")
    return names[value.month - 1]


def month_label(value: date, lang: Lang) -> str:
    return f"{month_name(value, lang)} {value.year}"


def period_label(period: Period, lang: Lang) -> str:
    if period.kind == "month":
        return label(
            "report.period.month",
            lang,
            month=month_name(period.start, lang),
            year=period.start.year,
        )
    if period.kind == "quarter":
        quarter = (period.start.month - 1) // 3 + 1
        return label("report.period.quarter", lang, quarter=quarter, year=period.start.year)
    return label("report.period.year", lang, year=period.start.year)
