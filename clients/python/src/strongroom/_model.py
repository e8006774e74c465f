"""The base of the answer models: a dataclass built from a JSON object by
member name, with every member it does not declare kept in ``extra``, so a
field added by a newer server is still reachable (and not an error)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

__all__ = ["Model"]

M = TypeVar("M", bound="Model")


class Model:
    """Mixin for frozen dataclasses with an ``extra`` field.

    JSON arrays become tuples where the field is declared a tuple, and the
    members named in ``_nested`` become models (or tuples of them).
    """

    _nested: ClassVar[Mapping[str, type[Model]]] = {}

    @classmethod
    def from_json(cls: type[M], body: Mapping[str, Any]) -> M:
        declared = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for name, value in body.items():
            spec = declared.get(name)
            if spec is None or name == "extra":
                extra[name] = value
                continue
            nested = cls._nested.get(name)
            if nested is not None and isinstance(value, list):
                value = tuple(nested.from_json(item) for item in value)
            elif nested is not None and isinstance(value, Mapping):
                value = nested.from_json(value)
            elif isinstance(value, list) and str(spec.type).startswith("tuple"):
                value = tuple(value)
            known[name] = value
        if "extra" in declared:
            known["extra"] = extra
        return cls(**known)
