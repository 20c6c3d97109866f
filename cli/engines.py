"""How a command opens its library: one Engine per command, or, in the background query process
(cli/query_server_cmd.py, which sets :data:`HOLD`), engines held open between queries.

Every mmsearch error a command's action raises becomes one line and exit 2 (:func:`run`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from mmsearch.errors import MmsearchError

from .output import fail

if TYPE_CHECKING:
    from mmsearch import Engine

T = TypeVar("T")

HOLD = False  # set by the background query process (cli/query_server_cmd.py): engines stay open
_held: dict[tuple[str, str | None], Engine] = {}


@contextmanager
def open_engine(library: Path | None, model: str | None = None, create: bool = True) -> Iterator[Engine]:
    """The library's Engine for one command (closed after it), or the held one under :data:`HOLD`."""
    from mmsearch import Engine

    if HOLD:
        key = (str(Path(library).expanduser().absolute()) if library else "", model)
        if key not in _held:
            _held[key] = Engine(library, model=model, create=create)
        yield _held[key]
        return
    with Engine(library, model=model, create=create) as engine:
        yield engine


def close_held() -> None:
    """Close the engines the query process held."""
    while _held:
        _held.popitem()[1].close()


def run(action: Callable[[Engine], T], library: Path | None, model: str | None = None, create: bool = False) -> T:
    """Open the library, run ``action`` on its Engine, and turn any mmsearch error into one line + exit 2."""
    try:
        with open_engine(library, model, create) as engine:
            return action(engine)
    except MmsearchError as exc:
        fail(exc)
