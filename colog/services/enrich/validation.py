"""Whether a document can be scored at all, and if not, why (docs/design.md §8: bad input).

The outcome decides the document's final status: `skipped` when there is nothing to score
(no or empty message), `failed` when the input is unusable (not text, binary, too large,
no usable timestamp). Either way the reason goes into `colog.error` and the run carries on.
"""

from __future__ import annotations

from dataclasses import dataclass

from colog.core.fields import STATUS_FAILED, STATUS_SKIPPED
from colog.core.records import parse_timestamp

# Text logs contain few control characters; binary payloads are full of them.
_ALLOWED_CONTROL = {"\t", "\n", "\r"}
_MAX_CONTROL_SHARE = 0.1


@dataclass(frozen=True)
class Rejection:
    status: str
    reason: str


def check_document(source: dict, max_message_bytes: int) -> Rejection | None:
    """None when the document can be scored, else the status and reason to record."""
    if "message" not in source or source.get("message") is None:
        return Rejection(STATUS_SKIPPED, "no message field")
    message = source["message"]
    if not isinstance(message, str):
        return Rejection(STATUS_FAILED, f"message is not text (got {type(message).__name__})")
    if not message.strip():
        return Rejection(STATUS_SKIPPED, "empty message")
    size = len(message.encode("utf-8", errors="replace"))
    if size > max_message_bytes:
        return Rejection(STATUS_FAILED,
                         f"message is {size} bytes, over the limit of {max_message_bytes} "
                         "(COLOG_MAX_MESSAGE_BYTES)")
    control = sum(1 for ch in message if ch < " " and ch not in _ALLOWED_CONTROL)
    if "\x00" in message or control > _MAX_CONTROL_SHARE * len(message):
        return Rejection(STATUS_FAILED, "message looks binary (control characters)")
    if "@timestamp" not in source:
        return Rejection(STATUS_FAILED, "no @timestamp")
    try:
        parse_timestamp(source["@timestamp"])
    except (ValueError, TypeError) as error:
        return Rejection(STATUS_FAILED, f"bad @timestamp: {error}")
    return None
