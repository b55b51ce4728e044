"""Rendering: template markup becomes HTML, user text is always escaped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.chat.content import MAX_CONTENT_BYTES, notice
from bot.commands.registry import strip_reply_fallback
from bot.i18n.render import Rendered, join, render_template


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


# Review finding S-15: every invisible character the review found survived rendering.
SPOOFING = {
    "word joiner .. invisible plus": "\u2060\u2061\u2062\u2063\u2064",
    "arabic letter mark": "\u061c",
    "soft hyphen": "\u00ad",
    "mongolian vowel separator": "\u180e",
    "hangul fillers": "\u3164\u115f\u1160\uffa0",
    "tag characters": "\U000e0001\U000e0041\U000e007f",
    "C0 controls": "\x1b\x07\r\x00\x7f",
    "C1 controls": "\x85\x9b",
    "line and paragraph separators": "\u2028\u2029",
}


def test_every_invisible_or_control_character_is_removed() -> None:
    """S-15: parameters lose all Cf/Cc characters (and Hangul fillers, line/paragraph
    separators) except line feed and tab, in the plain body and in the HTML."""
    for name, chars in SPOOFING.items():
        out = render_template("{t}", {"t": f"a{chars}b"})
        assert out.plain == "ab", name
        assert not any(ch in out.html for ch in chars), name
    kept = render_template("{t}", {"t": "Zeile 1\nZeile 2\tEnde"})
    assert kept.plain == "Zeile 1\nZeile 2\tEnde"
    assert kept.html == "Zeile 1<br/>Zeile 2\tEnde"


def test_other_peoples_labels_are_one_clean_line() -> None:
    """S-15: a display name or profile name with a line break cannot fake a line in an
    announcement or a host's DM."""
    from datetime import date

    from bot.domain.dates import When
    from bot.services.hospitation_messages import PersonInfo, host_label, person_label
    from tests.support.offers import stored_offer

    fake = "Anna\n\u202eHINWEIS: Angebot abgesagt\u2060\x1b]0;x\x07"
    info = PersonInfo(fake, "Bauamt\n\u200bOrdnungsamt", "Muster\u00adstadt")
    label = person_label("@anna:rathaus.example", info)
    assert label == (
        "Anna HINWEIS: Angebot abgesagt]0;x (@anna:rathaus.example), "
        "Bauamt Ordnungsamt, Musterstadt"
    )
    offer = stored_offer(
        id="H-1",
        host="@anna:rathaus.example",
        host_name=fake,
        department="Bauamt\n",
        municipality=None,
        title="Titel",
        when=When(date(2026, 12, 1), date(2026, 12, 1), None, None),
        version=1,
    )
    assert host_label(offer) == "Anna HINWEIS: Angebot abgesagt]0;x (Bauamt)"
