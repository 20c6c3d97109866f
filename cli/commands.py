"""The command table: every ``mmsearch`` command, in the order ``mmsearch --help`` lists them.

A command is (name, the function typer turns into it, hidden); its help text is the function's docstring
and its options are the function's parameters (cli/options.py declares the shared ones). ``app.py``
registers the table in a loop; a new command is a function in a ``*_cmd.py`` module and one row here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import (
    check_cmd,
    demo_cmd,
    duplicates_cmd,
    eval_cmd,
    index_cmd,
    library_cmd,
    query_server_cmd,
    search_cmd,
    serve_cmd,
    watch_cmd,
)


@dataclass(frozen=True)
class Command:
    """One row of the table: the name typed after ``mmsearch``, the function, and whether --help hides it."""

    name: str
    run: Callable[..., None]
    hidden: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("index", index_cmd.index),
    Command("search", search_cmd.search),
    Command("similar", search_cmd.similar),
    Command("scenes", library_cmd.scenes),
    Command("transcript", library_cmd.transcript),
    Command("stats", library_cmd.stats),
    Command("errors", library_cmd.errors),
    Command("reindex", index_cmd.reindex),
    Command("reembed", index_cmd.reembed),
    Command("remove", index_cmd.remove),
    Command("check", check_cmd.check),
    Command("demo", demo_cmd.demo),
    Command("duplicates", duplicates_cmd.duplicates),
    Command("eval", eval_cmd.eval_),
    Command("query-server", query_server_cmd.query_server, hidden=True),  # started by `search` (query_client.py)
    Command("watch", watch_cmd.watch),
    Command("serve", serve_cmd.serve),
)
