"""Read-only attributes that are another object's attributes: a facade exposes its parts without a
property per name."""
from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class Delegated(Generic[T]):
    """``Delegated("context")`` on a class reads ``self.context.<its own name>``; ``Delegated("_family",
    "dead")`` reads ``self._family.dead``. The part may be a dotted path (``"context.models"``)."""

    def __init__(self, part: str, name: str | None = None, doc: str | None = None) -> None:
        self.part = part
        self.name = name
        self.__doc__ = doc
        self._get: Callable[[Any], Any] | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name
        self._get = operator.attrgetter(f"{self.part}.{self.name}")

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Delegated[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Delegated[T] | T:
        if obj is None:
            return self
        assert self._get is not None, "Delegated used outside a class body"
        return self._get(obj)
