"""The ``mmsearch`` command: the typer app, its global options, and the commands of the table in
cli/commands.py (each parses, calls the Engine and prints through cli/output.py: rich tables, or JSON
with --json)."""
from __future__ import annotations

from typing import Annotated

import typer

from .commands import COMMANDS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Search photos, videos and recordings by describing them.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: [env: MMSEARCH_LIBRARY] and mmsearch[cluster] stay whole
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"mmsearch {version('mmsearch')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                          help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print the full error behind a one-line "
                                          "model message (a model that cannot be loaded).")] = False,
) -> None:
    """Search photos, videos and recordings by describing them."""
    if verbose:
        import logging

        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger = logging.getLogger("mmsearch")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


for command in COMMANDS:
    app.command(command.name, hidden=command.hidden)(command.run)
