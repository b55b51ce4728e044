"""Event contents the bot sends: always `m.notice`, explicit `m.mentions`, bounded size;
and the transaction IDs they go out with."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.i18n.render import Rendered

# Events are at most 64 KiB on the wire; leave room for encryption and the envelope.
MAX_CONTENT_BYTES = 40_000
TRUNCATION_MARK = "\n…"


def transaction_id(key: str) -> str:
    """The transaction ID of whatever `key` names: the same on every try, so the homeserver
    takes a repeat after a crash or a cancelled send as the same event."""
    return "ff" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def notice(rendered: Rendered, mentions: list[str] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": rendered.plain,
        "format": "org.matrix.custom.html",
        "formatted_body": rendered.html,
        "m.mentions": {"user_ids": sorted(set(mentions))} if mentions else {},
    }
    if len(json.dumps(content, ensure_ascii=False).encode("utf-8")) <= MAX_CONTENT_BYTES:
        return content
    # Cutting HTML could leave a broken tag soup: fall back to a shortened plain body.
    body = rendered.plain.encode("utf-8")[: MAX_CONTENT_BYTES // 2].decode("utf-8", "ignore")
    del content["format"], content["formatted_body"]
    content["body"] = body + TRUNCATION_MARK
    return content


def with_reply(content: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {**content, "m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}


def with_thread(content: dict[str, Any], root_event_id: str) -> dict[str, Any]:
    return {
        **content,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root_event_id,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root_event_id},
        },
    }
