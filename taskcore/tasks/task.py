"""Named tasks: the :class:`Task` class form and the :class:`FunctionTask` a decorator builds.

A task is a resque job whose ``class`` is the task's name and whose ``args`` are ONE inputs
object, ``{"class":"send_email","queue":"default","args":[{"to":"a@b.c"}]}``: the shape
Actionhero writes, so Actionhero and taskcore enqueue and work each other's tasks.

Inputs are validated by pydantic when enqueued (nothing is written when they are invalid) and
again on the worker (a payload may come from another producer); invalid inputs raise
:class:`~taskcore.errors.ValidationError` naming the field.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, ParamSpec, TypedDict, TypeVar

import pydantic

from taskcore.errors import ConfigError
from taskcore.tasks.cron import CronSchedule
from taskcore.tasks.inputs import (
    WORKER_PARAMETER,
    InputsModel,
    encode_inputs,
    model_from_declaration,
    model_from_signature,
    validate_inputs,
)
from taskcore.units import Duration

if TYPE_CHECKING:
    from taskcore.plugins.base import PluginRef
    from taskcore.tasks.middleware import Middleware
    from taskcore.worker import Worker

__all__ = ["FunctionTask", "Task", "TaskOptions"]

P = ParamSpec("P")
R = TypeVar("R")


class TaskOptions(TypedDict, total=False):
    """The keyword arguments of ``@define_task`` and ``@registry.task``: :class:`Task` fields,
    each defaulting to the class default (durations in SECONDS or timedeltas)."""

    queue: str
    frequency: Duration
    inputs: InputsModel | Mapping[str, Any] | None
    description: str | None
    middleware: Sequence[Middleware | str]
    plugins: Sequence[PluginRef]
    plugin_options: Mapping[str, Mapping[str, Any]] | None
    re_enqueue_periodic_task_if_exception: bool
    timeout: Duration | None
    cron: str | None
    timezone: str | None
    cron_catchup: bool
    scope: Literal["any", "all"]


class Task(abc.ABC):
    """A named unit of work with validated inputs. Subclass it and implement :meth:`run`::

        class SendEmail(Task):
            name = "send_email"
            queue = "mail"
            inputs = EmailInputs          # a pydantic model, or Actionhero's declarative
                                          # {"to": {"required": True}}; None: any JSON object
            frequency = 0                 # seconds (or a timedelta); > 0 makes it periodic

            async def run(self, inputs: EmailInputs, worker: Worker | None) -> None: ...

    Class attributes give the defaults; keyword arguments to the constructor override them.
    ``run`` may be sync (it then runs in a thread). ``frequency`` is in SECONDS or a timedelta
    (Actionhero's is in milliseconds); a task that runs on a schedule takes no inputs.
    ``middleware`` names :class:`Middleware` objects or the names of middleware added to the
    registry. ``re_enqueue_periodic_task_if_exception`` keeps a periodic
    task alive after a failed run (Actionhero's default since PR #1312). ``timeout`` (seconds,
    None for no limit) cancels a run that takes longer and records it as a ``JobTimeout``
    failure; a timedelta is accepted for it too.

    ``cron`` (five fields, read in ``timezone``, an IANA name, UTC when None) runs the task at
    each tick, fired by the scheduler leader, exactly once in the cluster; ticks missed while
    no leader ran are run once, late (``cron_catchup=True``) or skipped (False). See
    :mod:`taskcore.tasks.cron`. ``scope="all"`` makes every running App run the task once per
    trigger instead of one node (``"any"``); see :mod:`taskcore.tasks.scope`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    queue: ClassVar[str] = "default"
    frequency: ClassVar[Duration] = 0.0
    """SECONDS between runs (or a timedelta; 0: not periodic); read :attr:`frequency_seconds`."""
    inputs: ClassVar[InputsModel | None] = None
    """A pydantic model (after construction; a declarative dict is compiled to one)."""
    middleware: ClassVar[Sequence[Middleware | str]] = ()
    plugins: ClassVar[Sequence[PluginRef]] = ()
    plugin_options: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    re_enqueue_periodic_task_if_exception: ClassVar[bool] = True
    timeout: ClassVar[Duration | None] = None
    """SECONDS a run may take (or a timedelta; None: no limit); read :attr:`timeout_seconds`."""
    cron: ClassVar[str | None] = None
    timezone: ClassVar[str | None] = None
    cron_catchup: ClassVar[bool] = True
    scope: ClassVar[Literal["any", "all"]] = "any"

    def __init__(self, **overrides: Any) -> None:
        unknown = sorted(set(overrides) - TaskOptions.__optional_keys__ - {"name"})
        if unknown:
            raise ConfigError(f"unknown task attribute(s): {', '.join(unknown)}")
        for key, value in overrides.items():
            # instance attributes shadow the class defaults for this task only
            object.__setattr__(self, key, value)
        if not self.description:
            object.__setattr__(self, "description", self.name)
        self._normalise()
        self.validate()

    def _normalise(self) -> None:
        """Durations given as timedeltas become seconds; a declarative inputs block becomes a
        pydantic model (:func:`~taskcore.tasks.inputs.model_from_declaration`)."""
        label = self.name or type(self).__name__
        for field in ("frequency", "timeout"):
            value = getattr(self, field)
            if isinstance(value, timedelta):
                object.__setattr__(self, field, value.total_seconds())
        if isinstance(self.inputs, Mapping):
            model = model_from_declaration(self.inputs, label)
            object.__setattr__(self, "inputs", model)

    def validate(self) -> None:
        """Check the definition (Actionhero's ``Task.validate``), raising :class:`ConfigError`."""
        label = self.name or type(self).__name__
        if not self.name or not isinstance(self.name, str):
            raise ConfigError(f"task {type(self).__name__}: name must be a non-empty string")
        if not self.queue or not isinstance(self.queue, str):
            raise ConfigError(f"task {label!r}: queue must be a non-empty string")
        frequency, timeout = self.frequency, self.timeout
        if (
            isinstance(frequency, bool)
            or not isinstance(frequency, int | float)
            or not math.isfinite(frequency)
            or frequency < 0
        ):
            raise ConfigError(
                f"task {label!r}: frequency must be a number of seconds >= 0, "
                f"got {self.frequency!r}"
            )
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise ConfigError(
                f"task {label!r}: timeout must be a number of seconds > 0 or None, "
                f"got {self.timeout!r}"
            )
        if self.inputs is not None and not (
            inspect.isclass(self.inputs) and issubclass(self.inputs, pydantic.BaseModel)
        ):
            raise ConfigError(f"task {label!r}: inputs must be a pydantic model class or None")
        self._validate_cron_and_scope(label)
        schedule = self._schedule()
        if schedule and self.inputs is not None and self.inputs.model_fields:
            # a periodic run is always enqueued with no inputs (Actionhero: "periodic tasks can
            # take no input parameters")
            names = ", ".join(self.inputs.model_fields)
            raise ConfigError(
                f"task {label!r} runs on a schedule ({schedule}) but declares inputs ({names}); "
                "scheduled runs carry no inputs: remove them (use constants or settings), or "
                "make a separate task that takes inputs and enqueue it from this one"
            )

    def _schedule(self) -> str:
        """``"frequency=60s"`` / ``"cron=..."`` when the task runs on a schedule, else ``""``."""
        if self.is_periodic:
            return f"frequency={self.frequency:g}s"
        cron = getattr(self, "cron", None)
        return f"cron={cron!r}" if cron else ""

    def _validate_cron_and_scope(self, label: str) -> None:
        if self.scope not in ("any", "all"):
            raise ConfigError(f"task {label!r}: scope must be 'any' or 'all', got {self.scope!r}")
        if not isinstance(self.cron_catchup, bool):
            raise ConfigError(f"task {label!r}: cron_catchup must be True or False")
        if self.cron is None:
            if self.timezone is not None:
                raise ConfigError(f"task {label!r}: timezone is only used with cron; add cron")
            object.__setattr__(self, "cron_schedule", None)
            return
        if self.is_periodic:
            raise ConfigError(
                f"task {label!r}: give either frequency or cron, not both "
                f"(frequency={self.frequency:g}s, cron={self.cron!r})"
            )
        try:
            schedule = CronSchedule(self.cron, self.timezone)
            schedule.zone  # noqa: B018 -- checks the time zone now, not at the first tick
        except ConfigError as exc:
            raise ConfigError(f"task {label!r}: {exc}") from exc
        object.__setattr__(self, "cron_schedule", schedule)

    cron_schedule: CronSchedule | None = None
    """The parsed ``cron`` (None without one), set by :meth:`validate`."""

    @property
    def frequency_seconds(self) -> float:
        """:attr:`frequency` in seconds (a float, whatever form it was given in)."""
        value = self.frequency
        return value.total_seconds() if isinstance(value, timedelta) else float(value)

    @property
    def timeout_seconds(self) -> float | None:
        """:attr:`timeout` in seconds (a float), or None for no limit."""
        value = self.timeout
        if value is None:
            return None
        return value.total_seconds() if isinstance(value, timedelta) else float(value)

    @property
    def is_periodic(self) -> bool:
        """True when ``frequency > 0``: one instance runs every ``frequency`` seconds."""
        return self.frequency_seconds > 0

    def encode(self, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
        """The inputs object a job of this task carries (validated, defaults filled)."""
        return encode_inputs(self.inputs, inputs, self.name)

    def args(self, inputs: Mapping[str, Any] | None) -> list[Any]:
        """The resque ``args`` list for ``inputs``: ``[inputs-object]``."""
        return [self.encode(inputs)]

    @abc.abstractmethod
    def run(self, inputs: Any, worker: Worker | None) -> Any:
        """Do the work. ``inputs`` is the validated model (or a dict when ``inputs`` is None);
        ``worker`` is the Worker running the job, None when run inline by a test helper.
        May be ``async def`` or a plain function (run in a thread)."""

    async def perform(self, inputs: Mapping[str, Any] | None, worker: Worker | None) -> Any:
        """Validate ``inputs`` and run the task; sync ``run`` goes to a thread."""
        validated = validate_inputs(self.inputs, inputs, self.name)
        if inspect.iscoroutinefunction(self.run):
            return await self.run(validated, worker)
        result = await asyncio.to_thread(self.run, validated, worker)
        if inspect.isawaitable(result):
            return await result
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} queue={self.queue!r}>"


class FunctionTask(Task, Generic[P, R]):
    """A task built from a function by ``@registry.task(...)``; calling it calls the function.

    Inputs come from the function's signature, or from an explicit pydantic ``inputs`` model
    (the function then takes the model instance as its first parameter). A parameter named
    ``worker`` receives the running Worker and is not an input. Sync functions run in a thread.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        inputs: InputsModel | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"a task function must be callable, got {fn!r}")
        self.fn = fn
        task_name = str(name or getattr(fn, "__name__", ""))
        self._explicit_model = inputs is not None
        self._wants_worker = WORKER_PARAMETER in inspect.signature(fn).parameters
        model = inputs if inputs is not None else model_from_signature(fn, task_name)
        description = options.pop("description", None) or (inspect.getdoc(fn) or "").strip()
        super().__init__(name=task_name, inputs=model, description=description, **options)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    async def run(self, inputs: Any, worker: Worker | None) -> Any:
        extra: dict[str, Any] = {WORKER_PARAMETER: worker} if self._wants_worker else {}
        if self._explicit_model:
            call_args: tuple[Any, ...] = (inputs,)
            kwargs = extra
        else:
            call_args = ()
            kwargs = {**dict(inputs), **extra}
        if inspect.iscoroutinefunction(self.fn):
            return await self.fn(*call_args, **kwargs)
        result = await asyncio.to_thread(self.fn, *call_args, **kwargs)
        if inspect.isawaitable(result):
            return await result
        return result
