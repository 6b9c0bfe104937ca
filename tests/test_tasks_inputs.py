"""Task inputs: Actionhero's declarative block, strict and closed models, durations.

No storage: ``task.encode`` is what a producer writes, ``run_task`` what a worker runs (inputs
JSON round-tripped, validated again).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from taskcore.errors import ConfigError, ValidationError
from taskcore.tasks import Task, TaskRegistry
from taskcore.testing import run_task

# ------------------------------------------------------------------ the declarative block


def ported_registry(seen: list[Any]) -> TaskRegistry:
    """A task ported from Actionhero with its inputs block unchanged."""
    tasks = TaskRegistry()

    def not_example(value: str) -> bool | str:
        if value.endswith("@example.com"):
            return "example.com addresses never receive mail"
        return "@" in value

    @tasks.task(
        queue="mail",
        inputs={
            "to": {"required": True, "validator": not_example, "formatter": str.strip},
            "subject": {"default": "hi"},
            "attempt": {"default": lambda: 1, "type": int},
            "cc": {},
            "reply-to": {"default": "noreply@b.c"},
        },
    )
    async def send_email(inputs: Any) -> str:
        seen.append(inputs)
        return f"{inputs.to}: {inputs.subject}"

    return tasks


async def test_a_declarative_block_fills_defaults_and_runs_the_task() -> None:
    seen: list[Any] = []
    tasks = ported_registry(seen)
    task = tasks.get("send_email")
    assert task.encode({"to": "  ada@b.c "}) == {
        "to": "ada@b.c",
        "subject": "hi",
        "attempt": 1,
        "cc": None,
        "reply-to": "noreply@b.c",
    }
    assert await run_task(tasks, "send_email", {"to": "ada@b.c", "subject": "yo"}) == "ada@b.c: yo"
    assert seen[0].attempt == 1
    assert seen[0].model_dump(by_alias=True)["reply-to"] == "noreply@b.c"


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        ({}, "to: Field required"),
        ({"to": ""}, "to: to is a required input for task send_email"),
        ({"to": None}, "to: to is a required input for task send_email"),
        ({"to": "nobody"}, "to: 'nobody' is not a valid value for to in task send_email"),
        ({"to": "a@example.com"}, "to: example.com addresses never receive mail"),
        ({"to": "a@b.c", "attempt": "2"}, "attempt: Input should be a valid integer"),
        ({"to": "a@b.c", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_a_declarative_block_refuses_what_actionhero_refuses(
    inputs: dict[str, Any], error: str
) -> None:
    task = ported_registry([]).get("send_email")
    with pytest.raises(ValidationError, match="invalid inputs for task 'send_email'") as info:
        task.encode(inputs)
    assert error in str(info.value)


def test_a_validator_that_raises_is_an_input_error_not_a_crash() -> None:
    def explode(value: Any) -> bool:
        raise KeyError("boom")

    class Ported(Task):
        name = "ported"
        inputs = {"x": {"validator": explode}}  # type: ignore[assignment]

        def run(self, inputs: Any, worker: Any) -> None: ...

    with pytest.raises(ValidationError, match="x: KeyError: 'boom'"):
        Ported().encode({"x": 1})


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ({"to": {"schema": {}}}, "unknown rule(s) 'schema'"),
        ({"to": {"validator": "isEmail"}}, "validator must be a function"),
        ({"to": True}, "expected a dict of rules"),
    ],
)
def test_a_bad_declarative_block_is_a_config_error_naming_the_input(
    block: dict[str, Any], error: str
) -> None:
    with pytest.raises(ConfigError, match="input 'to'") as info:
        TaskRegistry().task(name="t", inputs=block)(lambda inputs: None)
    assert error in str(info.value)


# ------------------------------------------------------------------ strict and closed models


class Order(pydantic.BaseModel):
    order_id: int
    express: bool = False
    due: datetime | None = None


def order_registry() -> TaskRegistry:
    tasks = TaskRegistry()

    @tasks.task(inputs=Order)
    async def ship(order: Order) -> Order:
        return order

    @tasks.task()
    async def resize(width: int) -> int:
        return width

    return tasks


def test_an_explicit_model_refuses_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="colour: Extra inputs are not permitted"):
        order_registry().get("ship").encode({"order_id": 1, "colour": "red"})


def test_an_explicit_model_that_chose_extra_ignore_keeps_its_choice() -> None:
    class Loose(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="ignore")
        order_id: int

    tasks = TaskRegistry()
    tasks.task(name="loose", inputs=Loose)(lambda order: None)
    assert tasks.get("loose").encode({"order_id": 1, "colour": "red"}) == {"order_id": 1}


@pytest.mark.parametrize("name", ["ship", "resize"])
@pytest.mark.parametrize("value", [True, "7", 7.5])
def test_an_int_input_refuses_booleans_strings_and_fractions(name: str, value: Any) -> None:
    field = "order_id" if name == "ship" else "width"
    with pytest.raises(ValidationError, match=f"{field}: Input should be a valid integer"):
        order_registry().get(name).encode({field: value})


async def test_strict_inputs_still_take_what_json_carries() -> None:
    due = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    tasks = order_registry()
    assert tasks.get("ship").encode({"order_id": 7, "due": due}) == {
        "order_id": 7,
        "express": False,
        "due": "2030-01-02T03:04:05Z",
    }
    shipped = await run_task(tasks, "ship", {"order_id": 7, "due": due})
    assert shipped == Order(order_id=7, due=due)


# ------------------------------------------------------------------ units and schedules


def test_durations_take_seconds_or_a_timedelta() -> None:
    tasks = TaskRegistry()
    tasks.task(name="a", frequency=timedelta(minutes=5), timeout=timedelta(seconds=1.5))(
        lambda: None
    )
    tasks.task(name="b", frequency=300, timeout=1.5)(lambda: None)
    for name in ("a", "b"):
        task = tasks.get(name)
        assert (task.frequency, task.timeout) == (300.0, 1.5)


@pytest.mark.parametrize("frequency", [True, float("inf"), timedelta(seconds=-1), "60"])
def test_a_frequency_that_is_not_seconds_is_refused(frequency: Any) -> None:
    with pytest.raises(ConfigError, match="frequency must be a number of seconds"):
        TaskRegistry().task(name="t", frequency=frequency)(lambda: None)


def test_a_periodic_task_that_declares_inputs_is_refused() -> None:
    class Report(Task):
        name = "report"
        frequency = 60
        inputs = {"day": {"default": "monday"}}  # type: ignore[assignment]

        def run(self, inputs: Any, worker: Any) -> None: ...

    with pytest.raises(ConfigError, match=r"runs on a schedule \(frequency=60s\)"):
        Report()
    with pytest.raises(ConfigError, match=r"declares inputs \(order_id, express, due\)"):
        TaskRegistry().task(name="t", frequency=60, inputs=Order)(lambda order: None)
    # no declared inputs is fine: a periodic run carries {}
    tasks = TaskRegistry()
    tasks.task(name="tick", frequency=timedelta(seconds=60))(lambda: None)
    assert tasks.get("tick").is_periodic
