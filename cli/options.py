"""Command-line options, declared once: the common ones as ``Annotated`` aliases, and the options every
query command shares (``search``, ``similar``) as one table added to a command by :func:`query_command`.

Why a table: typer reads options from a function's signature, so two commands that take the same ten
options would otherwise repeat ten declarations each, and drift apart."""
from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

LibraryOpt = Annotated[Path | None, typer.Option("--library", "-l", help="Library folder [env: MMSEARCH_LIBRARY].")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="open_clip spec ARCH:PRETRAINED or ARCH:/path/ckpt.pt [env: MMSEARCH_MODEL]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
TopOpt = Annotated[int, typer.Option("--top", "-k", min=1, help="Number of hits.")]
KindOpt = Annotated[list[str] | None, typer.Option("--kind", help="image, text, video or audio (repeatable).")]
PathOpt = Annotated[str | None, typer.Option("--path", help="Only files whose path matches this glob or substring.")]
InLibraryArg = Annotated[Path, typer.Argument(help="A file in the library.")]
MinScoreOpt = Annotated[float | None, typer.Option(
    "--min-score", help="Leave out hits below this calibrated score (standard deviations above a typical item; "
    "the web page uses 2.0).")]
SortOpt = Annotated[str, typer.Option("--sort", help="relevance, or date (the best, oldest first).")]
AfterOpt = Annotated[str | None, typer.Option(
    "--after", help="Only media made at or after this: 2024-05-01, 2024-05-01T14:30, 2024-05 or 2024 (local time).")]
BeforeOpt = Annotated[str | None, typer.Option(
    "--before", help="Only media made before the end of this day (minute, month, year): 2024-05-31 includes May 31.")]
CameraOpt = Annotated[str | None, typer.Option("--camera", help="Only media whose camera make/model contains this.")]
NearOpt = Annotated[str | None, typer.Option(
    "--near", help="Only media taken within KM km (default 1) of LAT,LON[,KM] (decimal degrees).")]
OpenOpt = Annotated[int | None, typer.Option(
    "--open", min=1, help="Play hit N (1 = best) in mpv, vlc or the desktop's player, from its start.")]
ExportOpt = Annotated[tuple[str, Path] | None, typer.Option(
    "--export", help="Write the hits as a playlist with their times: --export m3u FILE or --export edl FILE.")]

ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Overwrite files that --export or --thumbs would write and that exist already.")]


@dataclass(frozen=True)
class QueryOptions:
    """What every query command takes besides its query. Each field's type is its typer option; the
    field order is the order ``--help`` lists them in."""

    library: LibraryOpt = None
    model: ModelOpt = None
    top: TopOpt = 10
    kind: KindOpt = None
    path: PathOpt = None
    as_json: JsonOpt = False
    min_score: MinScoreOpt = None
    sort: SortOpt = "relevance"
    after: AfterOpt = None
    before: BeforeOpt = None
    camera: CameraOpt = None
    near: NearOpt = None
    open_n: OpenOpt = None
    export: ExportOpt = None
    force: ForceOpt = False

    def query_args(self) -> dict[str, Any]:
        """The keywords of ``Engine.search``/``similar`` these options stand for."""
        return dict(k=self.top, kinds=self.kind, path=self.path, min_score=self.min_score, sort=self.sort,
                    after=self.after, before=self.before, camera=self.camera, near=self.near)

    def filter_args(self) -> dict[str, Any]:
        """The filters alone (for queries that take no score cut-off or sort, e.g. ``--keyword``)."""
        return dict(k=self.top, kinds=self.kind, path=self.path, after=self.after, before=self.before,
                    camera=self.camera, near=self.near)


_SHARED = tuple(f.name for f in fields(QueryOptions))


def query_command(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` (whose last parameter is ``options: QueryOptions``) the options of
    :class:`QueryOptions` on its command line; it receives them as one ``QueryOptions``."""
    hints = typing.get_type_hints(command, include_extras=True)
    # Each own parameter with its resolved Annotated hint: its typer option (and help) lives in there.
    own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(command).parameters.values()
           if p.name != "options"]
    shared_hints = typing.get_type_hints(QueryOptions, include_extras=True)
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=getattr(QueryOptions, name),
                                annotation=shared_hints[name]) for name in _SHARED]

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        options = QueryOptions(**{name: kwargs.pop(name) for name in _SHARED if name in kwargs})
        command(*args, options=options, **kwargs)

    run.__signature__ = inspect.Signature([*own, *shared], return_annotation=None)  # type: ignore[attr-defined]
    run.__annotations__ = {**{p.name: hints[p.name] for p in own}, **shared_hints, "return": None}
    return run
