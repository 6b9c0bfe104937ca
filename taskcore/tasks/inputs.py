"""Task inputs: a pydantic model per task, built from a signature or given explicitly.

On the wire a task's inputs are ONE JSON object, the single element of the resque ``args``
list (``"args":[{...}]``), as Actionhero writes them. :func:`encode_inputs` validates an inputs
mapping and returns that object with defaults filled in and values coerced to their JSON form,
so the same inputs always encode to the same bytes (which resque's byte-exact deletes, locks and
duplicate checks rely on). :func:`decode_inputs` reads what arrives at the worker: an object,
``null`` (Actionhero's ``[undefined]``), or no args at all, all meaning "no inputs given".
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints

import pydantic
from pydantic_core import PydanticSerializationError

from taskcore.errors import ConfigError, ValidationError

__all__ = [
    "WORKER_PARAMETER",
    "InputsModel",
    "decode_inputs",
    "encode_inputs",
    "model_from_signature",
    "validate_inputs",
]

InputsModel = type[pydantic.BaseModel]

WORKER_PARAMETER = "worker"
"""A task function parameter with this name receives the running Worker (None when run inline
or from a test helper); it is not an input."""

_MODEL_CONFIG = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=False)


def model_from_signature(fn: Callable[..., Any], task_name: str) -> InputsModel:
    """A pydantic model whose fields are ``fn``'s parameters (annotations and defaults).

    Unannotated parameters accept any JSON value. ``*args``/``**kwargs`` and positional-only
    parameters cannot be named in a JSON object and are refused with a :class:`ConfigError`.
    Unknown input keys are refused at validation (``extra="forbid"``): a typo is an error, not
    a silently ignored value.
    """
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as exc:  # any unresolvable annotation (NameError, TypeError, ...)
        raise ConfigError(
            f"task {task_name!r}: cannot resolve the annotations of {fn!r}: {exc}"
        ) from exc
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.name == WORKER_PARAMETER:
            continue
        if param.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
            inspect.Parameter.POSITIONAL_ONLY,
        ):
            raise ConfigError(
                f"task {task_name!r}: parameter {param.name!r} cannot be a named input; "
                "task functions take keyword-compatible parameters only"
            )
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    try:
        return pydantic.create_model(
            f"{_camel(task_name)}Inputs", __config__=_MODEL_CONFIG, **fields
        )
    except (pydantic.PydanticSchemaGenerationError, TypeError, NameError) as exc:
        raise ConfigError(f"task {task_name!r}: its parameters cannot be validated: {exc}") from exc


def _camel(name: str) -> str:
    parts = [p for p in "".join(c if c.isalnum() else " " for c in name).split() if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or "Task"


def validate_inputs(
    model: InputsModel | None, inputs: Mapping[str, Any] | None, task_name: str
) -> pydantic.BaseModel | dict[str, Any]:
    """Validate ``inputs`` against ``model``; a :class:`ValidationError` names every bad field.

    With no model the inputs must be a JSON object and are returned as a plain dict.
    """
    data: Any = {} if inputs is None else inputs
    if isinstance(data, pydantic.BaseModel):
        data = data.model_dump(mode="json")
    if not isinstance(data, Mapping):
        raise ValidationError(
            f"task {task_name!r}: inputs must be an object (a mapping of input names to values), "
            f"got {type(data).__name__}"
        )
    if model is None:
        return dict(data)
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        raise ValidationError(_describe(exc, task_name)) from exc


def _describe(exc: pydantic.ValidationError, task_name: str) -> str:
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "<inputs>"
        problems.append(f"{field}: {err['msg']}")
    return f"invalid inputs for task {task_name!r}: " + "; ".join(problems)


def encode_inputs(
    model: InputsModel | None, inputs: Mapping[str, Any] | None, task_name: str
) -> dict[str, Any]:
    """The JSON object a job carries for ``inputs``: validated, defaults filled, JSON types."""
    validated = validate_inputs(model, inputs, task_name)
    if isinstance(validated, pydantic.BaseModel):
        dumped: dict[str, Any] = validated.model_dump(mode="json")
        return dumped
    try:
        plain: dict[str, Any] = pydantic.TypeAdapter(dict[str, Any]).dump_python(
            validated, mode="json"
        )
    except PydanticSerializationError as exc:
        raise ValidationError(
            f"invalid inputs for task {task_name!r}: not JSON-serialisable ({exc})"
        ) from exc
    return plain


def decode_inputs(args: tuple[Any, ...], task_name: str) -> Mapping[str, Any] | None:
    """The inputs object from a job's spread ``args``: ``[obj]``, ``[null]`` or ``[]``."""
    if not args or (len(args) == 1 and args[0] is None):
        return None
    if len(args) == 1 and isinstance(args[0], Mapping):
        return args[0]
    raise ValidationError(
        f"task {task_name!r}: a task job carries one inputs object as its args "
        f"('\"args\":[{{...}}]'), got {len(args)} argument(s): {list(args)!r:.120}"
    )
