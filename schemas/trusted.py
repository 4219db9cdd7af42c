"""Models built from values that are already of the declared types, without validating again.

The stream worker makes two models per event out of values pydantic has just validated: a
:class:`~schemas.messages.RawEvent` per event of a batch, and the minimized
:class:`~schemas.rows.UsageEventRow`. Validating them again cost more than any step of the
pipeline (the row alone ~45% of minimization), and ``model_construct`` is slower still: it
walks every field's default in Python. :func:`trusted` sets the instance's fields directly.

Only for values whose types the caller guarantees (tests/unit/test_trusted.py checks that the
worker's rows validate to themselves); never for anything read from outside.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def trusted(cls: type[M], fields: dict[str, Any]) -> M:
    """An instance of ``cls`` holding ``fields`` (every field without a default must be there).

    Fields left out take their declared default, as ``model_construct`` gives them; the model
    must have no private attributes and no validators that change values.
    """
    instance = cls.__new__(cls)
    count = _FIELD_COUNTS.get(cls)
    if count is None:
        # ``model_fields`` is a class property that builds its answer (~0.5 µs) on every read.
        count = _FIELD_COUNTS[cls] = len(cls.model_fields)
    values = {**_defaults(cls), **fields} if len(fields) < count else fields
    _set(instance, "__dict__", values)
    _set(instance, "__pydantic_fields_set__", set(fields))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}
_FIELD_COUNTS: dict[type[BaseModel], int] = {}


def _defaults(cls: type[BaseModel]) -> dict[str, Any]:
    found = _DEFAULTS.get(cls)
    if found is None:
        if any(field.default_factory for field in cls.model_fields.values()):
            # A default made per instance (a list, a dict) must not be shared between them.
            raise TypeError(f"{cls.__name__} has default factories; use model_construct")
        found = _DEFAULTS[cls] = {
            name: field.default
            for name, field in cls.model_fields.items()
            if not field.is_required()
        }
    return found
