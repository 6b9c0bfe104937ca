"""The resque wire codec: exact bytes, JS rounding and dates, record decoding."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from taskcore.backend import CurrentJob, WorkerId, WorkerPing
from taskcore.codec import (
    decode_current_job,
    decode_failure,
    decode_job,
    decode_ping,
    dumps,
    embed_payload,
    encode_current_job,
    encode_failure,
    encode_job,
    encode_ping,
    has_undecodable,
    js_date,
    js_round,
    ms_to_seconds,
    original_bytes,
    parse_date,
    unembed_payload,
)
from taskcore.errors import InvalidArgument, MalformedPayload

NODE_DATE = "Mon Nov 23 2026 06:18:16 GMT+0000 (Coordinated Universal Time)"
NODE_TS = 1795414696  # the instant NODE_DATE names


class TestJobBytes:
    def test_job_is_compact_in_resque_key_order(self) -> None:
        assert encode_job("add", "math", [1, 2]) == '{"class":"add","queue":"math","args":[1,2]}'

    def test_no_args_is_an_empty_list(self) -> None:
        assert encode_job("ping", "q") == '{"class":"ping","queue":"q","args":[]}'

    def test_a_single_non_list_arg_is_wrapped(self) -> None:
        assert (
            encode_job("add", "math", {"a": 1}) == '{"class":"add","queue":"math","args":[{"a":1}]}'
        )

    def test_non_ascii_and_slash_stay_raw(self) -> None:
        assert encode_job("greet", "q", ["é ✓ 日本", "a/b"]) == (
            '{"class":"greet","queue":"q","args":["é ✓ 日本","a/b"]}'
        )

    def test_numbers_print_as_javascript_does(self) -> None:
        assert dumps([1.0, -0.0, 2.5, 1e21, 12345678901234567, 1e-5, 1e-7]) == (
            "[1,0,2.5,1e+21,12345678901234567,0.00001,1e-7]"
        )

    def test_job_floats_match_node_resque_bytes(self) -> None:
        # node: JSON.stringify({class:"a",queue:"q",args:[2**64, 0.00001]})
        assert encode_job("a", "q", [float(2**64), 1e-5]) == (
            '{"class":"a","queue":"q","args":[18446744073709552000,0.00001]}'
        )

    def test_non_finite_numbers_become_null(self) -> None:
        assert dumps([float("nan"), float("inf"), float("-inf")]) == "[null,null,null]"

    def test_object_key_order_is_insertion_order(self) -> None:
        assert dumps({"z": 1, "a": {"y": 2.0, "b": None}}) == '{"z":1,"a":{"y":2,"b":null}}'

    def test_values_json_cannot_carry_are_refused(self) -> None:
        with pytest.raises(InvalidArgument, match=r'value\["x"\]: a bytes value'):
            dumps({"x": b"bytes"})

    def test_lone_surrogates_are_escaped_so_the_text_is_valid_utf8(self) -> None:
        # JSON.stringify("\ud800") is "\"\\ud800\"" (ES2019); raw, it would not encode as UTF-8.
        text = dumps(["a\udcff\ud800é"])
        assert text == '["a\\udcff\\ud800é"]'
        assert text.encode("utf-8")

    def test_dict_keys_are_named_as_javascript_names_them(self) -> None:
        assert dumps({1: "a", 2.5: "b", False: "c", None: "d"}) == (
            '{"1":"a","2.5":"b","false":"c","null":"d"}'
        )


class TestEncodeJobRefuses:
    """encode_job raises InvalidArgument naming what is wrong; nothing bad reaches storage."""

    @pytest.mark.parametrize(
        ("class_name", "queue", "needle"),
        [
            ("", "q", "class_name must be a non-empty string, got ''"),
            (5, "q", r"class_name must be a non-empty string, got 5 \(int\)"),
            (None, "q", "class_name must be a non-empty string"),
            ("add", "", "queue must be a non-empty string, got ''"),
            ("add", b"q", r"queue must be a non-empty string, got b'q' \(bytes\)"),
            ("add", "q\x00", "queue 'q.x00' holds a NUL"),
            ("a\udcff", "q", "class_name .* lone surrogate"),
        ],
    )
    def test_class_and_queue_must_be_non_empty_strings(
        self, class_name: object, queue: object, needle: str
    ) -> None:
        with pytest.raises(InvalidArgument, match=needle):
            encode_job(class_name, queue, [])  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                [{"x": float("nan")}],
                'args[0]["x"]: nan cannot be written as JSON; pass a number or None',
            ),
            ([1, [float("inf")]], "args[1][0]: inf cannot be written as JSON"),
            (float("-inf"), "args[0]: -inf cannot be written as JSON"),
            ([{1: "a", "1": "b"}], "args[0]: the keys 1 and '1' both become \"1\" in JSON"),
            ([{(1, 2): "a"}], "args[0]: the dict key (1, 2) cannot be a JSON object key"),
            ([b"raw"], "args[0]: a bytes value cannot be written as JSON"),
            ([{"s": {1, 2}}], 'args[0]["s"]: a set value cannot be written as JSON'),
            ([object()], "args[0]: a object value cannot be written as JSON"),
            (["\ud800\udcff"], "args[0]: a surrogate pair held as two code points"),
            ([{"k\udbff\udc00": 1}], 'args[0]["k\\udbff\\udc00"]: a surrogate pair'),
        ],
    )
    def test_args_json_cannot_carry_are_refused_naming_the_path(
        self, args: object, message: str
    ) -> None:
        with pytest.raises(InvalidArgument) as info:
            encode_job("add", "q", args)
        assert message in str(info.value)
        assert "\n" not in str(info.value)

    def test_an_invalid_argument_is_a_value_error(self) -> None:
        with pytest.raises(ValueError):
            encode_job("add", "q", [float("nan")])

    def test_nesting_past_the_limit_is_refused_and_at_the_limit_accepted(self) -> None:
        def nested(levels: int) -> object:
            value: object = []
            for _ in range(levels - 1):
                value = [value]
            return value

        # the job object is level 1 and the args list level 2: 98 more levels fit in 100
        payload = encode_job("a", "q", [nested(98)])
        assert decode_job(payload).class_name == "a"
        with pytest.raises(InvalidArgument, match="nested deeper than 100 levels"):
            encode_job("a", "q", [nested(99)])
        with pytest.raises(InvalidArgument, match="nested deeper than 100 levels"):
            encode_job("a", "q", [nested(5000)])

    def test_lone_surrogates_in_args_round_trip_through_json(self) -> None:
        args = ["name\udcff.txt", "\ud800x", {"\udc80": 1}]
        assert decode_job(encode_job("a", "q", args)).args == args

    def test_ints_stay_exact_and_tuples_are_lists(self) -> None:
        assert encode_job("a", "q", (2**64, True, None)) == (
            '{"class":"a","queue":"q","args":[18446744073709551616,true,null]}'
        )


class TestDecodeJob:
    def test_round_trip(self) -> None:
        job = decode_job(encode_job("add", "math", [1, "é"]))
        assert (job.class_name, job.queue, job.args) == ("add", "math", [1, "é"])

    def test_ruby_payload_without_queue_takes_the_default(self) -> None:
        assert decode_job('{"class":"Add","args":[1]}', "math").queue == "math"

    def test_cjson_empty_object_args_read_as_empty_list(self) -> None:
        assert decode_job('{"class":"add","args":{},"queue":"math"}').args == []

    def test_missing_or_null_args_read_as_empty(self) -> None:
        assert decode_job('{"class":"add","queue":"q"}').args == []
        assert decode_job('{"class":"add","queue":"q","args":null}').args == []

    @pytest.mark.parametrize(
        ("raw", "needle"),
        [
            ("not json", "not valid JSON"),
            ("[1,2]", "must be a JSON object, got an array"),
            ('"text"', "must be a JSON object, got a string"),
            ('{"queue":"q","args":[]}', '"class"'),
            ('{"class":5,"queue":"q","args":[]}', '"class"'),
            ('{"class":"a","queue":5}', '"queue"'),
            ('{"class":"a","queue":"q","args":5}', '"args" that is a number, not an array'),
            ('{"class":"a","queue":"q","args":"x"}', '"args" that is a string, not an array'),
            (b"\xff\xfe", r"not valid UTF-8 \(byte 0xff at offset 0\)"),
            (b'{"class":"\xc3"}', r"not valid UTF-8 \(byte 0xc3 at offset 10\)"),
            ('{"class":"\udcc3"}', r"not valid UTF-8 \(byte 0xc3 at offset 10\)"),
            ('{"class":"\ud800"}', r"not valid UTF-8 \(a lone surrogate at offset 10\)"),
            ('{"class":"a\x00","args":[]}', "not valid JSON"),
            ('{"class":"a","args":[]}\x00', "not valid JSON"),
            ('{"class":"a","args":[NaN]}', "NaN is not JSON"),
            ('{"class":"a","args":[-Infinity]}', "-Infinity is not JSON"),
            ('{"class":"a","args":[1e400]}', "the number 1e400 is too large for a double"),
            ('{"class":"a","args":[' + "9" * 5000 + "]}", "more digits than Python reads"),
            ('\ufeff{"class":"a","args":[]}', "not valid JSON"),
            ('{"class":"a","args":[]} {}', "not valid JSON"),
        ],
    )
    def test_malformed_payloads_raise_with_a_clear_message(self, raw: str, needle: str) -> None:
        with pytest.raises(MalformedPayload, match=needle) as info:
            decode_job(raw)
        assert "\n" not in str(info.value)
        assert "remove it from storage or fix its producer" in str(info.value).lower()

    def test_json_nested_10000_deep_is_malformed_not_a_recursion_error(self) -> None:
        deep = '{"class":"a","args":' + "[" * 10_000 + "]" * 10_000 + "}"
        for raw in (deep, deep.encode(), "[" * 10_000 + "]" * 10_000):
            with pytest.raises(MalformedPayload, match="nested deeper than 100 levels"):
                decode_job(raw)

    def test_nesting_just_past_the_limit_is_malformed(self) -> None:
        # parses fine in Python; refused so that every reader (Ruby's max_nesting 100) agrees
        raw = '{"class":"a","args":' + "[" * 100 + "]" * 100 + "}"
        with pytest.raises(MalformedPayload, match="nested deeper than 100 levels"):
            decode_job(raw)

    def test_ten_megabytes_are_read_or_refused_quickly_with_a_short_quote(self) -> None:
        big = "x" * 10_000_000
        assert decode_job('{"class":"a","args":["' + big + '"]}').args == [big]
        with pytest.raises(MalformedPayload) as info:
            decode_job(big)
        assert len(str(info.value)) < 400

    def test_every_decoder_raises_only_malformed_payload(self) -> None:
        hostile: list[str | bytes] = [
            "[" * 10_000,
            "{" * 10_000,
            b"\xff" * 10,
            "\udcff",
            "\x00",
            "",
            "null",
            "[]",
            "1e999",
            '{"payload":' + "[" * 5000 + "]" * 5000 + "}",
            '{"time":true}',
            '{"time":1e400}',
        ]
        decoders: list[Callable[[str | bytes], object]] = [
            decode_job,
            decode_failure,
            decode_ping,
            lambda raw: decode_current_job(raw, WorkerId("w", ("q",))),
            lambda raw: decode_failure(raw).job,
        ]
        for raw in hostile:
            for decoder in decoders:
                with pytest.raises(MalformedPayload):
                    decoder(raw)

    def test_long_malformed_payloads_are_quoted_truncated(self) -> None:
        with pytest.raises(MalformedPayload) as info:
            decode_job("x" * 1000)
        assert "x" * 117 + "..." in str(info.value)
        assert "x" * 200 not in str(info.value)


class TestRounding:
    @pytest.mark.parametrize(
        ("x", "expected"),
        [(2.5, 3), (-2.5, -2), (0.49999, 0), (0.5, 1), (-0.5, 0), (-0.51, -1), (1.0, 1)],
    )
    def test_js_round_rounds_halves_up(self, x: float, expected: int) -> None:
        assert js_round(x) == expected

    @pytest.mark.parametrize(
        ("ms", "expected"),
        [(1500, 2), (1499, 1), (-1500, -1), (0, 0), (1795414852499, 1795414852)],
    )
    def test_ms_to_seconds(self, ms: float, expected: int) -> None:
        assert ms_to_seconds(ms) == expected


class TestDates:
    def test_js_date_matches_node_resque(self) -> None:
        assert js_date(NODE_TS) == NODE_DATE
        assert js_date(NODE_TS + 0.999) == NODE_DATE

    def test_js_date_pads_the_day(self) -> None:
        assert js_date(NODE_TS - 20 * 86400).startswith("Tue Nov 03 2026 06:18:16")

    def test_parse_node_resque_date(self) -> None:
        assert parse_date(NODE_DATE) == NODE_TS

    def test_parse_honours_a_gmt_offset(self) -> None:
        local = "Mon Nov 23 2026 08:18:16 GMT+0200 (Eastern European Standard Time)"
        assert parse_date(local) == NODE_TS
        assert parse_date("Sun Nov 22 2026 23:18:16 GMT-0700 (Mountain Standard Time)") == NODE_TS

    @pytest.mark.parametrize("ts", [0, NODE_TS, 4102444799])
    def test_round_trip(self, ts: int) -> None:
        assert parse_date(js_date(ts)) == ts

    def test_ruby_and_iso_dates(self) -> None:
        assert parse_date("2026/11/23 06:18:16 UTC") == NODE_TS
        assert parse_date("2026-11-23T06:18:16Z") == NODE_TS
        assert parse_date("2026-11-23T07:18:16+01:00") == NODE_TS
        assert parse_date("2026-11-23T06:18:16") == NODE_TS

    @pytest.mark.parametrize("text", ["", "yesterday", "Mon Foo 23 2026 06:18:16 GMT+0000"])
    def test_unreadable_dates_are_none(self, text: str) -> None:
        assert parse_date(text) is None


class TestCurrentJob:
    W = WorkerId("host:123", ("math",))

    def test_encode_embeds_the_payload_raw(self) -> None:
        payload = '{"class":"add","queue":"math","args":["é/"]}'
        assert encode_current_job(NODE_DATE, "math", "host:123", payload) == (
            f'{{"run_at":"{NODE_DATE}","queue":"math","worker":"host:123","payload":{payload}}}'
        )

    def test_round_trip_keeps_payload_bytes(self) -> None:
        payload = '{"class":"add","queue":"math","args":["\\u00e9",1.50]}'
        raw = encode_current_job(NODE_DATE, "math", "host:123", payload)
        assert decode_current_job(raw, self.W) == CurrentJob(
            self.W, "math", payload, NODE_DATE, raw
        )

    def test_node_resque_cjson_record_from_the_spec(self) -> None:
        raw = (
            '{"run_at":"Mon Nov 23 2026 06:18:16 GMT+0000 (Coordinated Universal Time)",'
            '"worker":"host:123","payload":{"class":"add","args":{},"queue":"math"},'
            '"queue":"math"}'
        )
        current = decode_current_job(raw.encode(), self.W)
        assert current.payload == '{"class":"add","queue":"math","args":[]}'
        assert (current.queue, current.run_at, current.raw) == ("math", NODE_DATE, raw)

    def test_record_without_payload_object_is_malformed(self) -> None:
        with pytest.raises(MalformedPayload, match="current-job record"):
            decode_current_job('{"run_at":"x","queue":"q","payload":"nope"}', self.W)


class TestFailure:
    def test_encode_in_node_resque_key_order(self) -> None:
        record = encode_failure(
            worker="host:123",
            queue="math",
            payload='{"class":"boom","queue":"math","args":[{"a":1}]}',
            exception="Error",
            error="kaboom",
            backtrace=["    at perform"],
            failed_at=NODE_DATE,
        )
        assert record == (
            '{"worker":"host:123","queue":"math",'
            '"payload":{"class":"boom","queue":"math","args":[{"a":1}]},'
            '"exception":"Error","error":"kaboom","backtrace":["    at perform"],'
            f'"failed_at":"{NODE_DATE}"}}'
        )

    def test_missing_exception_is_omitted_and_backtrace_null(self) -> None:
        record = encode_failure(
            worker="w",
            queue="q",
            payload="{}",
            exception=None,
            error=None,
            backtrace=None,
            failed_at="t",
        )
        assert record == '{"worker":"w","queue":"q","payload":{},"backtrace":null,"failed_at":"t"}'

    def test_decode_and_recover_the_job(self) -> None:
        raw = (
            '{"worker":"host:1","queue":"math","payload":{"class":"add","args":{},'
            '"queue":"math"},"exception":"Worker Timeout (killed manually)",'
            '"error":"Worker Timeout (killed manually)","backtrace":["a","b"],'
            f'"failed_at":"{NODE_DATE}"}}'
        )
        failure = decode_failure(raw)
        assert failure.worker == "host:1"
        assert failure.error == "Worker Timeout (killed manually)"
        assert failure.backtrace == ["a", "b"]
        # node-resque would retry {} as [{}]; the codec restores the empty list
        assert failure.job_payload == '{"class":"add","queue":"math","args":[]}'
        assert failure.raw == raw

    def test_failure_without_payload_is_malformed(self) -> None:
        with pytest.raises(MalformedPayload, match="failure record"):
            decode_failure('{"worker":"w"}')

    @pytest.mark.parametrize(
        "payload",
        [
            '{"class":"add","queue":"q","args":5}',
            '{"malformed_payload":"x"}',
            '{"class":"","queue":"","args":[]}',
        ],
    )
    def test_a_failed_payload_that_is_no_job_raises_malformed_payload(self, payload: str) -> None:
        record = encode_failure(
            worker="w",
            queue="",
            payload=embed_payload(payload),
            exception="MalformedPayload",
            error="bad",
            backtrace=[],
            failed_at=NODE_DATE,
        )
        failure = decode_failure(record)
        with pytest.raises(MalformedPayload):
            _ = failure.job_payload


def _bytes_as_read(raw: bytes) -> str:
    """What a client decoding with errors="surrogateescape" hands over for ``raw``."""
    return raw.decode("utf-8", "surrogateescape")


HOSTILE_PAYLOADS: dict[str, bytes] = {
    "invalid utf-8": b'{"class":"\xff\xfe","queue":"q","args":[]}',
    "encoded surrogate": b'{"class":"\xed\xa0\x80"}',
    "nul": b'{"class":"a\x00b","queue":"q","args":[]}',
    "deep": b'{"class":"a","args":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "not json": b"add(1, 2)",
    "not an object": b"[1,2,3]",
    "wrapper shape": b'{"malformed_payload":"x"}',
    "ten megabytes": b"\xff" + b"x" * 10_000_000,
}


class TestEmbedPayload:
    def test_a_json_object_is_embedded_raw(self) -> None:
        payload = '{"class":"a", "queue":"q","args":[1.50,"\\u00e9"]}'
        assert embed_payload(payload) is payload
        assert embed_payload('{"args":5}') == '{"args":5}'

    def test_invalid_utf8_becomes_ascii_escapes_node_and_python_read(self) -> None:
        embedded = embed_payload(_bytes_as_read(b'{"class":"\xff"}'))
        assert embedded == '{"malformed_payload":"{\\"class\\":\\"\\udcff\\"}"}'
        assert embedded.isascii()

    @pytest.mark.parametrize("name", list(HOSTILE_PAYLOADS))
    def test_round_trip_gives_back_the_exact_bytes(self, name: str) -> None:
        raw = HOSTILE_PAYLOADS[name]
        embedded = embed_payload(_bytes_as_read(raw))
        assert embedded.startswith('{"malformed_payload":"')
        embedded.encode("utf-8")  # valid UTF-8: storable, and JSON.parse-able in node
        assert original_bytes(unembed_payload(embedded)) == raw
        record = encode_failure(
            worker="w",
            queue="q",
            payload=embedded,
            exception="MalformedPayload",
            error="bad",
            backtrace=None,
            failed_at=NODE_DATE,
        )
        failure = decode_failure(record.encode("utf-8"))
        assert failure.malformed_payload is not None
        assert original_bytes(failure.malformed_payload) == raw
        with pytest.raises(MalformedPayload):
            _ = failure.job

    def test_unembed_of_a_raw_payload_is_the_payload(self) -> None:
        payload = '{"class":"a","queue":"q","args":[]}'
        assert unembed_payload(embed_payload(payload)) == payload
        failure = decode_failure(
            encode_failure(
                worker="w",
                queue="q",
                payload=payload,
                exception=None,
                error=None,
                backtrace=None,
                failed_at=NODE_DATE,
            )
        )
        assert failure.malformed_payload is None

    def test_has_undecodable(self) -> None:
        assert has_undecodable(_bytes_as_read(b"ok \xff"))
        assert has_undecodable("\ud800")
        assert not has_undecodable("é ✓ 日本 🎉 \x00")


class TestPing:
    def test_round_trip(self) -> None:
        raw = encode_ping(NODE_TS, "host:123", "math,other")
        assert raw == '{"time":1795414696,"name":"host:123","queues":"math,other"}'
        assert decode_ping(raw) == WorkerPing("host:123", "math,other", NODE_TS)

    def test_name_from_the_key_fills_a_missing_one(self) -> None:
        assert decode_ping('{"time":5}', "host:9") == WorkerPing("host:9", "", 5)

    def test_non_numeric_time_is_malformed(self) -> None:
        with pytest.raises(MalformedPayload, match="numeric time"):
            decode_ping('{"time":"soon","name":"x"}')


class TestWorkerId:
    @pytest.mark.parametrize(
        ("member", "name", "queues"),
        [
            ("host", "host", ()),
            ("host:math", "host", ("math",)),
            ("host:123:math,other", "host:123", ("math", "other")),
            ("host:123:*", "host:123", ("*",)),
            ("host:123:a:b", "host:123", ("a:b",)),
            ("host:", "host", ()),
        ],
    )
    def test_parse_as_node_resque_does(
        self, member: str, name: str, queues: tuple[str, ...]
    ) -> None:
        assert WorkerId.parse(member) == WorkerId(name, queues)

    def test_member_round_trips(self) -> None:
        w = WorkerId("host:123", ("math", "other"))
        assert w.member == "host:123:math,other"
        assert w.queues_str == "math,other"
        assert WorkerId.parse(w.member) == w


@pytest.mark.parametrize(
    "text",
    [
        "Mon Nov 99 2026 06:18:16 GMT+0000 (Coordinated Universal Time)",  # no day 99
        "Mon Nov 23 2026 25:61:61 GMT+0000 (Coordinated Universal Time)",
        "2026/13/45 10:00:00",  # Ruby's shape, no month 13
        "Mon Nov 23 0000 06:18:16 GMT+0000 (Coordinated Universal Time)",  # year 0
    ],
)
def test_a_date_of_the_right_shape_naming_no_instant_reads_as_unknown(text: str) -> None:
    # run_at and failed_at come from storage: a hostile date must read as "unknown age", not
    # raise out of an inspection call.
    assert parse_date(text) is None
