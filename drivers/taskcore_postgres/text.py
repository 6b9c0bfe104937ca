"""What PostgreSQL ``text`` can hold: checked before a write, so nothing is half-written.

A ``text`` value is valid UTF-8 without NUL. A payload read from Redis may hold other bytes
(as lone surrogates, see ``Capabilities.binary_payloads``), and a hand-made one a NUL; asyncpg
would fail on either with a raw ``UnicodeEncodeError`` or a server error. The writers check
their string arguments first and raise :class:`~taskcore.errors.InvalidArgument`, writing
nothing. JSON-escaped forms (``\\u0000``, ``\\udcff``) are plain ASCII and always storable.
"""

from __future__ import annotations

from taskcore.errors import InvalidArgument
from taskcore.wire_json import has_undecodable

__all__ = ["check_storable"]


def check_storable(**arguments: str | None) -> None:
    """Raise :class:`~taskcore.errors.InvalidArgument` naming the first argument (by its
    keyword) that PostgreSQL ``text`` cannot store: one holding NUL or bytes that are not
    UTF-8. None values are skipped."""
    for name, value in arguments.items():
        if value is None:
            continue
        if "\x00" in value:
            raise InvalidArgument(
                f"{name} holds a NUL character (at index {value.index(chr(0))}), which "
                "PostgreSQL text cannot store; remove it, or use the Redis driver for such data"
            )
        if has_undecodable(value):
            raise InvalidArgument(
                f"{name} holds bytes that are not valid UTF-8, which PostgreSQL text cannot "
                "store; fix the producer, or use the Redis driver for such data"
            )
