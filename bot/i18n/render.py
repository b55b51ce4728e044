"""Turn catalogue templates into a plain body and escaped HTML.

Markup comes only from our templates; every parameter is user-controlled until proven
otherwise and is escaped. A `Rendered` value may be passed as a parameter to compose
larger messages from smaller ones without escaping them twice.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.text_cleaning import drop_invisible
from bot.i18n import Lang, template

_FORMATTER = string.Formatter()
_MARKERS = re.compile(r"(\*\*|`)")


@dataclass(frozen=True)
class Rendered:
    plain: str
    html: str

    def __add__(self, other: Rendered) -> Rendered:
        return Rendered(self.plain + other.plain, self.html + other.html)


def clean_user_text(value: str) -> str:
    """Bidi overrides, zero-width and tag characters, every other control or format
    character (ESC, BEL, NEL, ...) and blank letters could disguise text or fake lines:
    dropped; line feed and tab stay (review finding S-15)."""
    return drop_invisible(value)


def join(parts: Iterable[Rendered], separator: str = "\n") -> Rendered:
    items = list(parts)
    return Rendered(
        separator.join(p.plain for p in items),
        _html_text(separator).join(p.html for p in items),
    )


def _html_text(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br/>")


# Longer than any text a feature accepts (profile tasks: 1000, a circle's member list:
# ~5000): a 60 KiB message quoted back in full would push the answer itself out of the
# size-limited event.
MAX_PARAM_CHARS = 8000


def _param(value: object) -> Rendered:
    if isinstance(value, Rendered):
        return value
    text = clean_user_text(str(value))
    if len(text) > MAX_PARAM_CHARS:
        text = text[:MAX_PARAM_CHARS] + " …"
    return Rendered(text, _html_text(text))


# `{places:plural:Platz|Plätze}` renders "1 Platz", "2 Plätze": a counted noun declares its
# singular and plural form in the catalogue text, never as "Platz/Plätze" or "Absage(n)".
PLURAL = "plural:"


def counted(count: object, forms: str) -> str:
    singular, _, plural = forms.partition("|")
    if not plural:
        raise ValueError(f"plural spec needs 'singular|plural', got {forms!r}")
    # "1" as text too: some counts arrive as the digits a person typed.
    return f"{count} {singular if str(count) == '1' else plural}"


def render_template(text: str, params: dict[str, object]) -> Rendered:
    plain: list[str] = []
    out: list[str] = []
    open_tags: list[str] = []
    for literal, field, spec, conversion in _FORMATTER.parse(text):
        for piece in _MARKERS.split(literal):
            if piece in ("**", "`"):
                tag = "b" if piece == "**" else "code"
                if open_tags and open_tags[-1] == tag:
                    open_tags.pop()
                    out.append(f"</{tag}>")
                else:
                    open_tags.append(tag)
                    out.append(f"<{tag}>")
            elif piece:
                plain.append(piece)
                out.append(_html_text(piece))
        if field is None:
            continue
        value = params[field]
        if spec and spec.startswith(PLURAL):
            value = counted(value, spec.removeprefix(PLURAL))
        elif conversion or spec:
            converted = _FORMATTER.convert_field(value, conversion) if conversion else value
            value = _FORMATTER.format_field(converted, spec or "")
        rendered = _param(value)
        plain.append(rendered.plain)
        out.append(rendered.html)
    for tag in reversed(open_tags):
        out.append(f"</{tag}>")
    return Rendered("".join(plain), "".join(out))


def render(key: str, lang: Lang, **params: object) -> Rendered:
    return render_template(template(key, lang), params)
