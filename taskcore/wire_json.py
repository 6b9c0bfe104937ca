"""JSON as JavaScript writes it, and a reader that refuses anything it cannot trust.

Writing (:func:`write_json`) follows ``JSON.stringify``: compact, insertion order, non-ASCII
left raw, a lone surrogate escaped as ``\\u`` and its four hex digits (ES2019 well-formed
stringify), and every float printed by ECMAScript's Number::toString (:func:`js_number`).
Python ints stay exact integers. Anything JSON cannot carry raises
:class:`~taskcore.errors.InvalidArgument` naming its path.

Reading (:func:`read_json`) takes ``str | bytes`` of any content and returns a value or raises
:class:`~taskcore.errors.MalformedPayload`; nothing else escapes (``MemoryError`` aside).

Text read from storage arrives as a ``str`` in which bytes that are not UTF-8 are lone
surrogates ``U+DC80..U+DCFF`` (``errors="surrogateescape"``, PEP 383): :func:`has_undecodable`
spots them and :func:`original_bytes` gives back the stored bytes.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from taskcore.errors import InvalidArgument, MalformedPayload

__all__ = [
    "MAX_DEPTH",
    "has_undecodable",
    "js_number",
    "original_bytes",
    "quote_raw",
    "read_json",
    "read_text",
    "write_json",
]

MAX_DEPTH = 100
"""Deepest nesting of arrays/objects read or written, the outermost counting as 1.

Ruby's ``JSON.parse`` (resque, Sidekiq) refuses deeper documents by default (``max_nesting``
100); a fixed limit also keeps reading and re-writing far from Python's recursion limit."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_SPLIT_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_QUOTE_LEN = 120


def has_undecodable(text: str) -> bool:
    """True when ``text`` holds a lone surrogate, so it is not valid Unicode text.

    Bytes that are not UTF-8, read with ``errors="surrogateescape"``, become ``U+DC80..U+DCFF``;
    any other lone surrogate cannot be written as UTF-8 either.
    """
    return _SURROGATE.search(text) is not None


def original_bytes(text: str) -> bytes:
    """The bytes ``text`` was read from: UTF-8, with surrogate-escaped bytes restored.

    Raises ``UnicodeEncodeError`` only for a lone surrogate outside ``U+DC80..U+DCFF``, which no
    ``surrogateescape`` read produces.
    """
    return text.encode("utf-8", "surrogateescape")


def quote_raw(raw: str | bytes) -> str:
    """The start of ``raw`` for an error message: one line, escaped, at most ~120 characters.

    Text holding undecodable bytes is quoted as bytes (``b'\\xff...'``) so they show as bytes.
    """
    if isinstance(raw, str) and has_undecodable(raw):
        head = raw[:_QUOTE_LEN]
        try:
            raw = head.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate no surrogateescape read produces
            raw = head.encode("utf-8", "backslashreplace")
    if len(raw) <= _QUOTE_LEN:
        return repr(raw)
    if isinstance(raw, str):
        return repr(raw[: _QUOTE_LEN - 3] + "...")
    return repr(raw[: _QUOTE_LEN - 3] + b"...")


# ---------------------------------------------------------------------------- numbers


def js_number(x: float) -> str:
    """ECMAScript ``Number::toString(x)`` (what ``String(x)`` and ``JSON.stringify`` print).

    The digits are the shortest that read back as ``x`` (Python's ``repr`` finds the same
    ones); the layout is the spec's: plain notation for ``1e-7 <= |x| < 1e21``
    (``0.00001``, ``18446744073709552000``), exponent form otherwise (``1e-7``, ``1.5e+21``).
    ``-0`` prints as ``0``; NaN and the infinities as ``NaN``, ``Infinity``, ``-Infinity``.
    """
    if x != x:
        return "NaN"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number(-x)
    if math.isinf(x):
        return "Infinity"
    mantissa, _, exponent = float.__repr__(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    n = point - (len(digits) - len(significant))  # x = 0.<digits> * 10**n
    s = significant.rstrip("0")
    k = len(s)
    if k <= n <= 21:
        return s + "0" * (n - k)
    if 0 < n <= 21:
        return s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + s
    e = n - 1
    sign = "+" if e >= 0 else "-"
    head = s if k == 1 else s[0] + "." + s[1:]
    return f"{head}e{sign}{abs(e)}"


# ---------------------------------------------------------------------------- writing

_encode_str = json.encoder.encode_basestring


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _string(text: str) -> str:
    out: str = _encode_str(text)
    if has_undecodable(out):
        out = _SURROGATE.sub(_escape_surrogate, out)
    return out


class _Path:
    """Where a value sits (``args[0]["x"]``), formatted only when an error needs it."""

    __slots__ = ("key", "parent")

    def __init__(self, parent: _Path | str, key: object) -> None:
        self.parent = parent
        self.key = key

    def __str__(self) -> str:
        step = f"[{self.key}]" if isinstance(self.key, int) else f"[{_string(str(self.key))}]"
        return f"{self.parent}{step}"


class _Writer:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.parts: list[str] = []

    def write(self, value: Any, path: _Path | str, depth: int) -> None:
        parts = self.parts
        if isinstance(value, str):
            parts.append(self._string(value, path))
        elif value is None:
            parts.append("null")
        elif value is True:
            parts.append("true")
        elif value is False:
            parts.append("false")
        elif isinstance(value, int):
            parts.append(_int_text(value, path))
        elif isinstance(value, float):
            if math.isfinite(value):
                parts.append(js_number(value))
            elif self.strict:
                raise InvalidArgument(
                    f"{path}: {value!r} cannot be written as JSON; pass a number or None"
                )
            else:
                parts.append("null")  # JSON.stringify's rule
        elif isinstance(value, list | tuple | dict):
            if depth > MAX_DEPTH:
                raise InvalidArgument(
                    f"{path}: nested deeper than {MAX_DEPTH} levels, which resque clients "
                    "cannot read; flatten the data"
                )
            if isinstance(value, dict):
                self._object(value, path, depth)
            else:
                self._array(value, path, depth)
        else:
            raise InvalidArgument(
                f"{path}: a {type(value).__name__} value cannot be written as JSON; pass str, int, "
                "float, bool, None, list or dict"
            )

    def _string(self, value: str, path: _Path | str) -> str:
        if self.strict and _SPLIT_PAIR.search(value) is not None:
            raise InvalidArgument(
                f"{path}: a surrogate pair held as two code points would read back as one "
                "character; pass the character itself (or fix the text's decoding)"
            )
        return _string(value)

    def _array(self, value: list[Any] | tuple[Any, ...], path: _Path | str, depth: int) -> None:
        self.parts.append("[")
        for i, item in enumerate(value):
            if i:
                self.parts.append(",")
            self.write(item, _Path(path, i), depth + 1)
        self.parts.append("]")

    def _object(self, value: dict[Any, Any], path: _Path | str, depth: int) -> None:
        keys = [k if isinstance(k, str) else _key_text(k, path) for k in value]
        if len(set(keys)) != len(keys):
            _raise_collision(value, keys, path)
        self.parts.append("{")
        for i, (key, item) in enumerate(zip(keys, value.values(), strict=True)):
            if i:
                self.parts.append(",")
            self.parts.append(self._string(key, _Path(path, key)))
            self.parts.append(":")
            self.write(item, _Path(path, key), depth + 1)
        self.parts.append("}")


def _int_text(value: int, path: _Path | str) -> str:
    try:
        return int.__repr__(value)
    except ValueError as exc:  # past sys.get_int_max_str_digits()
        raise InvalidArgument(
            f"{path}: an integer of {value.bit_length()} bits is too long to write; "
            "pass it as a string"
        ) from exc


def _key_text(key: object, path: _Path | str) -> str:
    """A non-string key as JavaScript (and Python's json) would name it."""
    if key is None:
        return "null"
    if key is True or key is False:
        return "true" if key else "false"
    if isinstance(key, int):
        return _int_text(key, path)
    if isinstance(key, float) and math.isfinite(key):
        return js_number(key)
    raise InvalidArgument(
        f"{path}: the dict key {key!r} cannot be a JSON object key; use str keys "
        "(int, float, bool and None keys are converted to strings)"
    )


def _raise_collision(value: dict[Any, Any], keys: list[str], path: _Path | str) -> None:
    seen: dict[str, object] = {}
    for original, key in zip(value, keys, strict=True):
        if key in seen:
            raise InvalidArgument(
                f"{path}: the keys {seen[key]!r} and {original!r} both become {_string(key)} "
                "in JSON, so one would be lost; keep one of them"
            )
        seen[key] = original


def write_json(value: Any, *, name: str = "value", strict: bool = True, level: int = 1) -> str:
    """``JSON.stringify(value)``, byte for byte; ``name`` starts the path in error messages.

    ``strict`` refuses NaN and the infinities; otherwise they become ``null`` as in
    JavaScript. Raises :class:`~taskcore.errors.InvalidArgument` (a ``ValueError``) naming the
    path (``args[0]["x"]``) for a value JSON cannot carry (bytes, sets, objects), dict keys
    that are not str/int/float/bool/None or that collide once converted (``{1: .., "1": ..}``),
    and nesting deeper than :data:`MAX_DEPTH` (``level``: the nesting level ``value`` sits at in
    the document it is written into, 1 for a whole document).
    """
    writer = _Writer(strict)
    writer.write(value, name, level)
    return "".join(writer.parts)


# ---------------------------------------------------------------------------- reading


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is too large for a double")
    return value


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays/objects deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if not isinstance(container, dict | list):
            continue
        if depth > limit:
            return True
        items = container.values() if isinstance(container, dict) else container
        stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
    return False


_FIX = "Remove it from storage or fix its producer."


def read_text(raw: str | bytes, what: str) -> str:
    """``raw`` as text, when it is valid UTF-8; ``what`` names the record in messages.

    Raises :class:`~taskcore.errors.MalformedPayload` for bytes that are not UTF-8 and for a
    ``str`` holding lone surrogates (bytes a ``surrogateescape`` read could not decode),
    naming the first bad byte and its offset in the bytes.
    """
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPayload(
                f"{what} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
                f"{quote_raw(raw)}. {_FIX}"
            ) from None
    found = _SURROGATE.search(raw)
    if found is not None:
        at = len(raw[: found.start()].encode("utf-8"))
        char = ord(found.group())
        shown = f"byte 0x{char - 0xDC00:02x}" if 0xDC80 <= char <= 0xDCFF else "a lone surrogate"
        raise MalformedPayload(
            f"{what} is not valid UTF-8 ({shown} at offset {at}): {quote_raw(raw)}. {_FIX}"
        )
    return raw


def read_json(raw: str | bytes, what: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``raw`` as strict JSON (RFC 8259, as ``JSON.parse`` reads it); ``what`` names the
    record in messages (``"job payload"``).

    Raises :class:`~taskcore.errors.MalformedPayload`, quoting the start of ``raw``, when it is
    not valid UTF-8 (bytes, or a ``str`` holding surrogate-escaped bytes), not JSON (NaN,
    control characters and trailing data included), has a number too large for a double, or is
    nested deeper than ``max_depth``.
    """
    text = read_text(raw, what)
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        value, deep = None, True
    except Exception as exc:  # any parser failure is the payload's fault, never the caller's
        raise MalformedPayload(
            f"{what} is not valid JSON ({_one_line(exc)}): {quote_raw(text)}. {_FIX}"
        ) from None
    else:
        brackets = text.count("[") + text.count("{")
        deep = brackets > max_depth and _too_deep(value, max_depth)
    if deep:
        raise MalformedPayload(
            f"{what} is nested deeper than {max_depth} levels: {quote_raw(text)}. {_FIX}"
        )
    return value


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if "integer string conversion" in text:  # Python's own advice does not apply to storage
        return "an integer has more digits than Python reads (sys.get_int_max_str_digits())"
    return text[:200]
