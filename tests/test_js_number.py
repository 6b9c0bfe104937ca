"""Floats print as JavaScript prints them: ``js_number`` against node over 200k doubles.

A job payload is matched byte for byte (``LREM``, ``timestamps:<payload>``, QueueLock keys), so
the same job enqueued by taskcore and by node-resque must be the same bytes. The sample is
written as raw IEEE-754 bits and printed by ONE node process with ``String(x)``; a mismatch
names the first values that differ. node is on PATH wherever the suite runs (CI installs it):
its absence is an error, not a skip.
"""

from __future__ import annotations

import random
import shutil
import struct
import subprocess

import pytest

from taskcore.codec import dumps, embed_payload, encode_failure, encode_job, js_date
from taskcore.wire_json import js_number

_NODE_PRINT = r"""
const fs = require("fs");
const buf = fs.readFileSync(0);
const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
const out = [];
for (let i = 0; i < buf.byteLength; i += 8) out.push(String(view.getFloat64(i, true)));
process.stdout.write(out.join("\n"));
"""


def _sample() -> list[float]:
    """~200k finite doubles: random bit patterns, powers of ten, the notation boundaries,
    integers around 2**53 and 2**64, subnormals and signed zero."""
    rng = random.Random(20260723)
    values: list[float] = []
    while len(values) < 120_000:
        (x,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        if x == x and abs(x) != float("inf"):
            values.append(x)
    values += [float(f"1e{e}") for e in range(-330, 309)]
    values += [float(f"-1e{e}") for e in range(-330, 309)]
    for boundary in (1e-7, 1e-6, 1e21, 1e20, 1e15, 1e16, 1e17):
        x = boundary
        for _ in range(200):
            values += [x, -x]
            x = float.fromhex(_next_hex(x))
        x = boundary
        for _ in range(200):
            x = float.fromhex(_prev_hex(x))
            values += [x, -x]
    for base in (2**53, 2**54, 2**63, 2**64, 10**21):
        values += [float(base + d) for d in range(-300, 301)]
    values += [
        5e-324,
        -5e-324,
        2.2250738585072014e-308,
        2.225073858507201e-308,
        1.7976931348623157e308,
    ]
    values += [rng.uniform(-1e6, 1e6) for _ in range(20_000)]
    values += [round(rng.uniform(0, 1000), rng.randint(0, 6)) for _ in range(20_000)]
    values += [float(rng.randint(-(2**60), 2**60)) for _ in range(20_000)]
    values += [rng.random() * 10.0 ** rng.randint(-12, 25) for _ in range(15_000)]
    values += [0.0, -0.0, 0.1, 0.2, 0.1 + 0.2, 1 / 3, 2 / 3, 123e-20, 1.5e21, 1e-5, 1.0, 100.0]
    return values


def _next_hex(x: float) -> str:
    (bits,) = struct.unpack("<q", struct.pack("<d", x))
    return struct.unpack("<d", struct.pack("<q", bits + 1))[0].hex()  # type: ignore[no-any-return]


def _prev_hex(x: float) -> str:
    (bits,) = struct.unpack("<q", struct.pack("<d", x))
    return struct.unpack("<d", struct.pack("<q", bits - 1))[0].hex()  # type: ignore[no-any-return]


def test_js_number_matches_node_on_200k_doubles() -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed to check number formatting; install Node.js"
    values = _sample()
    assert len(values) >= 200_000
    raw = b"".join(struct.pack("<d", x) for x in values)
    done = subprocess.run(
        [node, "-e", _NODE_PRINT], input=raw, capture_output=True, check=True, timeout=120
    )
    expected = done.stdout.decode().split("\n")
    assert len(expected) == len(values)
    mismatches = [
        (x.hex(), js_number(x), want)
        for x, want in zip(values, expected, strict=True)
        if js_number(x) != want
    ]
    assert mismatches[:10] == [], f"{len(mismatches)} of {len(values)} differ"


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (1e-5, "0.00001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1.5e-6, "0.0000015"),
        (float(2**64), "18446744073709552000"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (123456789012345680000.0, "123456789012345680000"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-2.5, "-2.5"),
        (100.0, "100"),
    ],
)
def test_js_number_known_values(x: float, text: str) -> None:
    assert js_number(x) == text


def test_dumps_prints_floats_as_javascript_and_ints_exactly() -> None:
    # Python ints are exact integers (2**64 stays 18446744073709551616), floats follow JS.
    assert dumps([1e-5, float(2**64), 2**64, 1.0, -0.0]) == (
        "[0.00001,18446744073709552000,18446744073709551616,1,0]"
    )


_NODE_RESTRINGIFY = r"""
const lines = require("fs").readFileSync(0, "utf8").split("\n");
process.stdout.write(lines.map((l) => JSON.stringify(JSON.parse(l))).join("\n"));
"""


def _random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2**53), 2**53)  # beyond, node reads ints as doubles
    if kind == 2:
        (x,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        return x if x == x and abs(x) != float("inf") else 0.5
    if kind in (3, 4):
        alphabet = 'aZ09 "\\/\b\f\n\r\t\x00\x01\x1f\x7féü✓日本\u2028\u2029🎉\udc80\udcff'
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        "".join(rng.choice('ab\u00e9"\\\n\udcff') for _ in range(rng.randrange(4))): (
            _random_value(rng, depth + 1)
        )
        for _ in range(rng.randrange(4))
    }


def test_jobs_are_the_bytes_node_json_stringify_writes() -> None:
    """Strings (escapes, control characters, U+2028, lone surrogates), floats, ints and nesting:
    node's ``JSON.stringify(JSON.parse(payload))`` gives back taskcore's payload unchanged, and
    so it does for a failure record embedding bytes that are not UTF-8."""
    node = shutil.which("node")
    assert node is not None, "node is needed to check JSON bytes; install Node.js"
    rng = random.Random(7)
    payloads = [encode_job("add", "math", [_random_value(rng)]) for _ in range(3000)]
    # A high surrogate is only lone when no low one follows: Python keeps "\ud800\udcff" as
    # two code points where JavaScript reads one pair, so pairs are left out of the sample.
    payloads.append(encode_job("add", "math", ["x\ud800y", "\udbff", {"\ud800": 1}]))
    # A failure record embedding bytes that are not UTF-8: node-resque's removeFailed deletes
    # JSON.stringify(JSON.parse(record)), which must be the same bytes.
    bad = b'{"class":"\xff\x00"}'.decode("utf-8", "surrogateescape")
    payloads.append(
        encode_failure(
            worker="host:1",
            queue="math",
            payload=embed_payload(bad),
            exception="MalformedPayload",
            error=f"not valid UTF-8: {bad}",
            backtrace=["at perform"],
            failed_at=js_date(0),
        )
    )
    done = subprocess.run(
        [node, "-e", _NODE_RESTRINGIFY],
        input="\n".join(payloads).encode("utf-8"),
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.decode("utf-8").split("\n") == payloads
