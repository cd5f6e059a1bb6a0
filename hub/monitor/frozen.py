"""`dataclasses.replace` for the rules' frozen, slotted state, at a third of its cost, and
in place on the one private copy a rules step works on (`owned_copy`)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Per class: its fields' names, one getter of them all, and each slot's setter.
_Plan = tuple[dict[str, int], Callable[[Any], tuple[Any, ...]], list[Callable[[Any, Any], None]]]
_plans: dict[type, _Plan | None] = {}
_setters: dict[type, dict[str, Callable[[Any, Any], None]]] = {}  # by field name
_owned = threading.local()  # .obj: the copy this thread's step may change in place


def _plan(cls: type) -> _Plan | None:
    """How to copy instances of `cls`, or None when only dataclasses.replace may (a
    __post_init__ to run, a field outside __init__, or no slots)."""
    if cls in _plans:
        return _plans[cls]
    fields = dataclasses.fields(cls)
    plan: _Plan | None = None
    simple = all(f.init for f in fields) and not hasattr(cls, "__post_init__")
    if simple and len(fields) > 1 and all(f.name in cls.__dict__ for f in fields):
        names = [f.name for f in fields]
        plan = (
            {name: i for i, name in enumerate(names)},
            attrgetter(*names),
            [cls.__dict__[name].__set__ for name in names],
        )
        _setters[cls] = dict(zip(names, plan[2], strict=True))
    _plans[cls] = plan
    return plan


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of `obj` with `changes`, as dataclasses.replace makes it."""
    if obj is getattr(_owned, "obj", None):  # a step's own copy: the common case, first
        setters = _setters[type(obj)]
        for name, value in changes.items():
            setter = setters.get(name)
            if setter is None:
                raise TypeError(f"{type(obj).__name__} has no field {name!r}")
            setter(obj, value)
        return obj
    cls = type(obj)
    plan = _plan(cls)
    if plan is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    index, values_of, setters_in_order = plan
    values: Sequence[Any] = values_of(obj)
    if changes:
        changed = list(values)
        for name, value in changes.items():
            if name not in index:
                raise TypeError(f"{cls.__name__} has no field {name!r}")
            changed[index[name]] = value
        values = changed
    new: T = object.__new__(cls)
    for setter, value in zip(setters_in_order, values, strict=True):
        setter(new, value)
    return new


class owned_copy(Generic[T]):
    """A copy of `obj` that `replace` changes in place until the block ends: one copy for
    a whole step instead of one per change. The original is never touched, and the copy
    is frozen again (replace copies it) once the block is left. A class, not
    @contextmanager: it is entered on every reading."""

    __slots__ = ("_before", "_copy")

    def __init__(self, obj: T) -> None:
        if _plan(type(obj)) is None:
            raise TypeError(f"{type(obj).__name__} cannot be changed in place")
        self._copy = replace(obj)
        self._before: object = None

    def __enter__(self) -> T:
        self._before = getattr(_owned, "obj", None)
        _owned.obj = self._copy
        return self._copy

    def __exit__(self, *_: object) -> None:
        _owned.obj = self._before
