"""The resque wire codec: exact bytes, JS rounding and dates, record decoding."""

from __future__ import annotations

import pytest

from taskcore.backend import CurrentJob, WorkerId, WorkerPing
from taskcore.codec import (
    decode_current_job,
    decode_failure,
    decode_job,
    decode_ping,
    dumps,
    encode_current_job,
    encode_failure,
    encode_job,
    encode_ping,
    js_date,
    js_round,
    ms_to_seconds,
    parse_date,
)
from taskcore.errors import MalformedPayload

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
        assert dumps([1.0, -0.0, 2.5, 1e21, 12345678901234567]) == (
            "[1,0,2.5,1e+21,12345678901234567]"
        )

    def test_non_finite_numbers_become_null(self) -> None:
        assert dumps([float("nan"), float("inf"), float("-inf")]) == "[null,null,null]"

    def test_object_key_order_is_insertion_order(self) -> None:
        assert dumps({"z": 1, "a": {"y": 2.0, "b": None}}) == '{"z":1,"a":{"y":2,"b":null}}'

    def test_values_json_cannot_carry_are_refused(self) -> None:
        with pytest.raises(TypeError):
            dumps({"x": b"bytes"})


class TestDecodeJob:
    def test_round_trip(self) -> None:
        job = decode_job(encode_job("add", "math", [1, "é"]))
        assert (job.class_name, job.queue, job.args) == ("add", "math", [1, "é"])

    def test_ruby_payload_without_queue_takes_the_default(self) -> None:
        assert decode_job('{"class":"Add","args":[1]}', "math").queue == "math"

    def test_cjson_empty_object_args_read_as_empty_list(self) -> None:
        assert decode_job('{"class":"add","args":{},"queue":"math"}').args == []

    def test_scalar_args_are_arrayified(self) -> None:
        assert decode_job('{"class":"add","queue":"q","args":5}').args == [5]
        assert decode_job('{"class":"add","queue":"q"}').args == []

    @pytest.mark.parametrize(
        ("raw", "needle"),
        [
            ("not json", "not valid JSON"),
            ("[1,2]", "must be a JSON object"),
            ('{"queue":"q","args":[]}', '"class"'),
            ('{"class":"a","queue":5}', '"queue"'),
            (b"\xff\xfe", "not valid JSON"),
        ],
    )
    def test_malformed_payloads_raise_with_a_clear_message(self, raw: str, needle: str) -> None:
        with pytest.raises(MalformedPayload, match=needle):
            decode_job(raw)

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
