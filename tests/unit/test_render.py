"""Rendering: template markup becomes HTML, user text is always escaped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.chat.content import MAX_CONTENT_BYTES, notice
from bot.chat.dispatch import strip_reply_fallback
from bot.chat.render import Rendered, join, render_template


def test_markup_in_template_and_escaped_parameters() -> None:
    out = render_template("**Hallo** {name}, `{cmd}`", {"name": "<b>Eva</b>", "cmd": "!hilfe"})
    assert out.html == "<b>Hallo</b> &lt;b&gt;Eva&lt;/b&gt;, <code>!hilfe</code>"
    assert out.plain == "Hallo <b>Eva</b>, !hilfe"


def test_bold_around_a_parameter() -> None:
    out = render_template("Titel: **{title}**", {"title": "Bauamt & Co"})
    assert out.html == "Titel: <b>Bauamt &amp; Co</b>"


def test_rendered_parameters_are_not_escaped_twice() -> None:
    inner = Rendered("a & b", "a &amp; b")
    assert render_template("x {inner}", {"inner": inner}).html == "x a &amp; b"


def test_invisible_direction_overrides_are_removed() -> None:
    out = render_template("{t}", {"t": "abc\u202edef\u200b"})
    assert out.plain == "abcdef"


def test_join_uses_line_breaks_in_html() -> None:
    joined = join([Rendered("a", "a"), Rendered("b", "b")])
    assert joined.plain == "a\nb" and joined.html == "a<br/>b"


@given(st.text())
def test_any_user_text_never_produces_a_tag(text: str) -> None:
    html = render_template("{x}", {"x": text}).html
    assert "<" not in html.replace("<br/>", "")


def test_notice_has_explicit_empty_mentions_and_bounded_size() -> None:
    content = notice(Rendered("@room hi", "@room hi"))
    assert content["msgtype"] == "m.notice" and content["m.mentions"] == {}
    huge = notice(Rendered("x" * 100_000, "x" * 100_000))
    assert len(huge["body"].encode()) < MAX_CONTENT_BYTES and "formatted_body" not in huge


def test_reply_fallback_is_stripped() -> None:
    body = "> <@anna:example.org> !hilfe\n> zweite Zeile\n\n!profil"
    assert strip_reply_fallback(body) == "!profil"
    assert strip_reply_fallback("!hilfe > nicht") == "!hilfe > nicht"
