"""Task inputs: a pydantic model per task, built from a signature or given explicitly.

On the wire a task's inputs are ONE JSON object, the single element of the resque ``args``
list (``"args":[{...}]``), as Actionhero writes them. :func:`encode_inputs` validates an inputs
mapping and returns that object with defaults filled in and values coerced to their JSON form,
so the same inputs always encode to the same bytes (which resque's byte-exact deletes, locks and
duplicate checks rely on). :func:`decode_inputs` reads what arrives at the worker: an object,
``null`` (Actionhero's ``[undefined]``), or no args at all, all meaning "no inputs given".

A task's inputs come in three forms, all validated the same way:

* a function's signature (:func:`model_from_signature`);
* an explicit pydantic model;
* Actionhero's declarative block, ``{"to": {"required": True}, "subject": {"default": "hi"}}``
  (:func:`model_from_declaration`), so a ported task keeps its inputs.

Validation is **strict** and **closed**: inputs are validated as the JSON the worker will read
(pydantic's strict JSON mode: ``True`` is not an int, ``"7"`` is not an int, an ISO string is a
datetime), and a key the model does not declare is refused (``colour: Extra inputs are not
permitted``) instead of being silently dropped. An explicit model that sets ``strict`` or
``extra`` in its ``model_config`` keeps its own choice (``extra="ignore"`` drops unknown keys).
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Mapping
from typing import Annotated, Any, get_type_hints

import pydantic
import pydantic_core
from pydantic_core import PydanticSerializationError

from taskcore.errors import ConfigError, ValidationError

__all__ = [
    "WORKER_PARAMETER",
    "InputsModel",
    "decode_inputs",
    "encode_inputs",
    "model_from_declaration",
    "model_from_signature",
    "validate_inputs",
]

InputsModel = type[pydantic.BaseModel]

WORKER_PARAMETER = "worker"
"""A task function parameter with this name receives the running Worker (None when run inline
or from a test helper); it is not an input."""

_MODEL_CONFIG = pydantic.ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=False)


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


DECLARATION_KEYS = frozenset({"required", "default", "validator", "formatter", "type"})
"""What one input of a declarative block may say (Actionhero's, plus ``type``)."""


def model_from_declaration(spec: Mapping[str, Any], task_name: str) -> InputsModel:
    """A pydantic model from Actionhero's declarative inputs block.

    ``{"to": {"required": True, "validator": fn}, "subject": {"default": "hi"}}``: each key is an
    input; each rule may say ``required`` (the value must be present, not None, not ``""``),
    ``default`` (a value, or a zero-argument function called for each job), ``formatter``
    (``fn(value) -> value``, applied first), ``validator`` (``fn(value)``: ``True``/``None``
    accept, ``False`` refuses, a string is the error message, an exception is the error) and
    ``type`` (a Python type, default ``Any``: any JSON value). An input neither required nor
    defaulted is ``None`` when absent. Validators run on the producer and again on the worker.
    A bad block is a :class:`ConfigError` naming the input.
    """
    if not isinstance(spec, Mapping):
        raise ConfigError(f"task {task_name!r}: a declarative inputs block must be a dict")
    fields: dict[str, Any] = {}
    for index, (key, rule) in enumerate(spec.items()):
        if not isinstance(key, str) or not key:
            raise ConfigError(f"task {task_name!r}: input names must be non-empty strings")
        fields[_field_name(key, index)] = _declared_field(key, rule, task_name)
    try:
        return pydantic.create_model(
            f"{_camel(task_name)}Inputs",
            __config__=_MODEL_CONFIG,
            **fields,
        )
    except (pydantic.PydanticSchemaGenerationError, TypeError, NameError) as exc:
        raise ConfigError(f"task {task_name!r}: its inputs cannot be validated: {exc}") from exc


def _field_name(key: str, index: int) -> str:
    """``key`` as an attribute name when it can be one, else a stand-in (the key is the alias)."""
    usable = (
        key.isidentifier()
        and not keyword.iskeyword(key)
        and not key.startswith("_")
        and not hasattr(pydantic.BaseModel, key)
    )
    return key if usable else f"input_{index}"


def _declared_field(key: str, rule: Any, task_name: str) -> tuple[Any, Any]:
    where = f"task {task_name!r}, input {key!r}"
    if not isinstance(rule, Mapping):
        raise ConfigError(f"{where}: expected a dict of rules like {{'required': True}}")
    unknown = sorted(set(rule) - DECLARATION_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown rule(s) {', '.join(map(repr, unknown))}; use "
            f"{', '.join(sorted(DECLARATION_KEYS))} (or give the task a pydantic model)"
        )
    for hook in ("validator", "formatter", "default"):
        fn = rule.get(hook)
        if hook != "default" and fn is not None and not callable(fn):
            raise ConfigError(f"{where}: {hook} must be a function, got {fn!r:.60}")
        if inspect.iscoroutinefunction(fn):
            raise ConfigError(f"{where}: {hook} must be a plain function, not async")
    required = bool(rule.get("required", False))
    kind = rule.get("type", Any)
    if not required and kind is not Any:
        kind = kind | None
    annotation: Any = Annotated[
        kind,
        pydantic.BeforeValidator(_formatter(rule.get("formatter"))),
        pydantic.AfterValidator(_checker(key, rule.get("validator"), required, task_name)),
    ]
    if "default" in rule and callable(rule["default"]):
        return annotation, pydantic.Field(default_factory=rule["default"], alias=key)
    if "default" in rule:
        return annotation, pydantic.Field(default=rule["default"], alias=key)
    if required:
        return annotation, pydantic.Field(alias=key)
    return annotation, pydantic.Field(default=None, alias=key)


def _formatter(fn: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if fn is None or value is None:
            return value
        try:
            return fn(value)
        except Exception as exc:
            raise ValueError(f"formatter failed: {type(exc).__name__}: {exc}") from None

    return apply


def _checker(
    key: str, fn: Callable[[Any], Any] | None, required: bool, task_name: str
) -> Callable[[Any], Any]:
    """Actionhero's ``validateInput`` for one key: ``required`` (None and ``""`` count as
    missing), then the validator on a given value."""

    def check(value: Any) -> Any:
        if required and (value is None or value == ""):
            raise ValueError(f"{key} is a required input for task {task_name}")
        if fn is not None and value is not None:
            try:
                verdict = fn(value)
            except Exception as exc:
                raise ValueError(f"{type(exc).__name__}: {exc}") from None
            if inspect.isawaitable(verdict):
                getattr(verdict, "close", lambda: None)()
                raise ValueError("its validator returned an awaitable; use a plain function")
            if verdict is False:
                shown = f"{value!r:.60}"
                raise ValueError(f"{shown} is not a valid value for {key} in task {task_name}")
            if verdict is not True and verdict is not None:
                raise ValueError(str(verdict))
        return value

    return check


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
        data = data.model_dump(mode="json", by_alias=True)
    if not isinstance(data, Mapping):
        raise ValidationError(
            f"task {task_name!r}: inputs must be an object (a mapping of input names to values), "
            f"got {type(data).__name__}"
        )
    if model is None:
        return dict(data)
    _refuse_unknown_keys(model, data, task_name)
    try:
        as_json = pydantic_core.to_json(dict(data))
    except PydanticSerializationError as exc:
        raise ValidationError(
            f"invalid inputs for task {task_name!r}: not JSON-serialisable ({exc})"
        ) from exc
    strict = None if "strict" in model.model_config else True
    try:
        return model.model_validate_json(as_json, strict=strict)
    except pydantic.ValidationError as exc:
        raise ValidationError(_describe(exc, task_name)) from exc


def _refuse_unknown_keys(model: InputsModel, data: Mapping[str, Any], task_name: str) -> None:
    """Refuse keys ``model`` does not declare, unless its ``model_config`` chose ``extra``."""
    if "extra" in model.model_config:
        return
    known: set[str] = set()
    for name, info in model.model_fields.items():
        known.add(name)
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                known.add(alias)
            elif isinstance(alias, pydantic.AliasChoices):
                known.update(c for c in alias.choices if isinstance(c, str))
    extra = [key for key in data if key not in known]
    if extra:
        problems = "; ".join(f"{key}: Extra inputs are not permitted" for key in map(str, extra))
        raise ValidationError(f"invalid inputs for task {task_name!r}: {problems}")


def _describe(exc: pydantic.ValidationError, task_name: str) -> str:
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "<inputs>"
        problems.append(f"{field}: {err['msg'].removeprefix('Value error, ')}")
    return f"invalid inputs for task {task_name!r}: " + "; ".join(problems)


_JSON_OBJECT = pydantic.TypeAdapter(dict[str, Any])
"""Dumps the inputs of a task without a model to JSON types (built once: ~0.1 ms to build)."""


def encode_inputs(
    model: InputsModel | None, inputs: Mapping[str, Any] | None, task_name: str
) -> dict[str, Any]:
    """The JSON object a job carries for ``inputs``: validated, defaults filled, JSON types."""
    validated = validate_inputs(model, inputs, task_name)
    if isinstance(validated, pydantic.BaseModel):
        dumped: dict[str, Any] = validated.model_dump(mode="json", by_alias=True)
        return dumped
    try:
        plain: dict[str, Any] = _JSON_OBJECT.dump_python(validated, mode="json")
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
