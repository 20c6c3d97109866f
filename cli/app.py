"""The ``mmsearch`` command: parse, call Engine, render (rich tables, or JSON with --json)."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mmsearch.errors import MmsearchError
from mmsearch.query.mix_rules import LIKE_WEIGHT

from .options import InLibraryArg, JsonOpt, LibraryOpt, ModelOpt, QueryOptions, query_command

if TYPE_CHECKING:
    from mmsearch import Engine

T = TypeVar("T")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Search photos, videos and recordings by describing them.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: [env: MMSEARCH_LIBRARY] and mmsearch[cluster] stay whole
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # a message is one line, whatever the width



HOLD = False  # set by the background query process (cli/query_server_cmd.py): engines stay open
_held: dict[tuple[str, str | None], Engine] = {}


@contextmanager
def _engine(library: Path | None, model: str | None = None, create: bool = True) -> Iterator[Engine]:
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


def _run(action: Callable[[Engine], T], library: Path | None, model: str | None = None, create: bool = False) -> T:
    """Open the library, run ``action`` on its Engine, and turn any mmsearch error into one line + exit 2."""
    try:
        with _engine(library, model, create) as engine:
            return action(engine)
    except MmsearchError as exc:
        _fail(exc)


def _as_json(data: object, as_json: bool) -> bool:
    """With ``--json``, print ``data`` as JSON and say so (the caller then prints nothing else)."""
    if as_json:
        print(json.dumps(data, indent=2))
    return as_json


def _say_if_empty(rows: list, message: str) -> bool:
    """Print ``message`` for an empty listing and say so (the caller then prints nothing else)."""
    if not rows:
        out.print(message)
    return not rows


def _fail(exc: BaseException, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)  # a message may hold [brackets]
    raise typer.Exit(code)


class Interrupted(BaseException):
    """Ctrl-C, raised instead of KeyboardInterrupt (click turns that into "Aborted!" and exit 1); the
    console entry point prints one line and exits 130 (cli/__main__.py)."""


SIGNALLED: list[int] = []  # Ctrl-C seen: kept even when the raise below lands where it is swallowed


def interrupt(signum: int, frame: object) -> None:
    """The SIGINT handler of the command line. It remembers the signal before raising: a raise that lands in
    a garbage-collection callback is printed and dropped by Python, and the command must still end as
    interrupted (cli/__main__.py)."""
    SIGNALLED.append(signum)
    raise Interrupted


def plural(n: int, word: str) -> str:
    """``1 file``, ``2 files``: a count with its noun."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _one_line(text: str | None, limit: int = 80) -> str:
    """A hit's text on one line (newlines and runs of spaces folded), cut to ``limit`` characters."""
    return " ".join((text or "").split())[:limit]


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


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _show(path: str) -> str:
    try:
        rel = os.path.relpath(path)
        return rel if not rel.startswith("..") else path
    except ValueError:
        return path


def _print_hits(hits: list, as_json: bool) -> None:
    if _as_json([h.to_dict() for h in hits], as_json):
        return
    if not hits:
        out.print("no hits")
        return
    if not out.is_terminal:  # piped: one whole, greppable line per hit
        _print_lines(hits)
        return
    # One line per hit: the match text is cut to what the terminal has left (the path stays whole).
    rows = []
    for i, h in enumerate(hits, 1):
        span = f"{_clock(h.start)}-{_clock(h.end)}" if h.start is not None else ""
        match = _one_line(h.text)
        if h.linked:
            match = f"{match}  (caption of {_show(h.linked)})"
        rows.append([str(i), f"{h.score:.3f}", h.kind, _show(h.path), span, match])
    heads = ["#", "score", "kind", "path", "time", "match"]
    used = sum(max(len(heads[c]), *(len(r[c]) for r in rows)) for c in range(5)) + 2 * 5  # widths + gaps
    room = out.width - used - 1
    if room < 12:  # paths wider than the terminal: whole lines (the terminal folds them), never a cut path
        _print_lines(hits)
        return
    table = Table(box=None, pad_edge=False)
    for head in heads:
        table.add_column(head, no_wrap=True)
    for r in rows:
        table.add_row(*r[:5], r[5] if len(r[5]) <= room else r[5][: room - 1] + "…")
    out.print(table, highlight=False)


def _print_lines(hits: list) -> None:
    for i, h in enumerate(hits, 1):
        span = f"  {_clock(h.start)}-{_clock(h.end)}" if h.start is not None else ""
        match = f"  {_one_line(h.text)}" if h.text else ""
        linked = f"  (caption of {_show(h.linked)})" if h.linked else ""
        print(f"{i:>2}  {h.score:7.3f}  {h.kind:<5}  {_show(h.path)}{span}{match}{linked}")


class _RichProgress:
    """Progress bar on a terminal; silent otherwise."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                             TextColumn("{task.fields[name]}"), console=err, transient=True)
        self._task = None

    def start(self, total: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task("indexing", total=total, name="")

    def start_pass(self, label: str, total: int) -> None:
        """A further pass of the run (reading text): its own line under the first."""
        self._task = self._bar.add_task(label, total=total, name="")

    def advance(self, n: int = 1, path: str | None = None) -> None:
        self._bar.update(self._task, advance=n, name=os.path.basename(path or "")[:40])

    def stop(self) -> None:
        self._bar.stop()


def _print_report(report, as_json: bool) -> None:
    if _as_json(report.to_dict(), as_json):
        return
    out.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, moved {report.moved}, "
        f"removed {report.removed}, failed {report.failed}"
        + (f" (+{report.skipped_bad} known bad, unchanged)" if report.skipped_bad else "")
        + f" in {report.seconds:.1f}s",
        highlight=False,
    )
    if report.backfilled:
        out.print(f"backfilled {plural(report.backfilled, 'file')} (work that was pending)", highlight=False)
    if report.missing:
        out.print(f"missing {plural(report.missing, 'file')} gone from disk, kept for now (`--prune` forgets them)",
                  highlight=False)
    for place in report.offline:
        out.print(f"offline {_show(place['path'])}: {place['why']}; its {plural(place['files'], 'file')} are kept",
                  highlight=False, markup=False)
    for warning in report.warnings:
        err.print(f"  warning: {warning}", highlight=False)
    _print_failures(report.failures, "skipped {path}: {reason}", "see `mmsearch errors`")


def _print_failures(failures: list, line: str, more: str, shown: int = 20) -> None:
    """The first ``shown`` failures as ``line`` (with ``{path}`` and ``{reason}``), then how many more."""
    for path, reason in failures[:shown]:
        err.print("  " + line.format(path=_show(path), reason=reason), highlight=False, markup=False)
    if len(failures) > shown:
        err.print(f"  ... and {len(failures) - shown} more: {more}", highlight=False)


@app.command()
def index(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Files or folders to index (recursively) [default: the ones this library was indexed from].")] = None,
    library: LibraryOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (exit 2) when any work is left pending.")] = False,
    ray: Annotated[str | None, typer.Option(
        "--ray", metavar="ADDRESS", help="Decode and encode on a Ray cluster: auto, ray://HOST:PORT or HOST:PORT "
        "[env MMSEARCH_RAY_ADDRESS; needs pip install 'mmsearch[cluster]']; files on a filesystem all nodes see."
    )] = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Forget files gone from disk now (no grace period, no share bound); files of an offline "
        "drive stay (`mmsearch remove` forgets them).")] = False,
) -> None:
    """Index new and changed files; keep moved ones; keep deleted ones as missing for a grace period, then forget
    them; keep the files of a drive that is not mounted (offline); do pending work whose model is here now."""
    progress = _RichProgress() if (err.is_terminal and not as_json) else None
    report = _run(lambda e: e.index(paths or [], progress=progress, strict=strict, ray=ray, prune=prune), library,
                  model, create=True)
    _print_report(report, as_json)


@app.command()
@query_command
def search(
    query: Annotated[str, typer.Argument(help="What you are looking for, in words.")],
    thumbs: Annotated[Path | None, typer.Option(
        "--thumbs", help="Write a preview per hit into this folder: JPEG (image, video frame), PNG (audio waveform)."
    )] = None,
    keyword: Annotated[bool, typer.Option("--keyword", help="Exact words in transcripts, subtitles, texts.")] = False,
    like: Annotated[list[Path] | None, typer.Option(
        "--like", help="An example file (image, recording, video) mixed into the query (repeatable).")] = None,
    like_weight: Annotated[float, typer.Option(
        "--like-weight", help="Weight of each --like example against the words' 1.0.")] = LIKE_WEIGHT,
    *,
    options: QueryOptions,
) -> None:
    """Find images, texts, video scenes and sounds that match a description: by meaning and by words.
    -word or -"a phrase" leaves out what holds those words and demotes what resembles them."""
    for example in like or []:
        if not example.exists():
            _fail(MmsearchError(f"no such file: {example}"))
    _refuse_export(options)

    def action(engine):
        if keyword:
            found = engine.keyword_search(query, **options.filter_args())
        else:
            found = engine.search(query, like=like or [], like_weight=like_weight, **options.query_args())
        if thumbs is not None:
            _write_thumbs(engine, found, thumbs, options.force)
        return found, engine.pending()

    hits, pending = _run(action, options.library, options.model)
    _print_hits(hits, options.as_json)
    _print_pending(pending, options.as_json)
    _play(hits, options)


def _refuse_export(options: QueryOptions) -> None:
    """An --export file that exists is refused before the query runs (one line, exit 2) unless --force."""
    from mmsearch import playback

    if options.export is not None:
        try:
            playback.refuse_existing([options.export[1].expanduser()], options.force)
        except MmsearchError as exc:
            _fail(exc)


def _print_pending(pending: list, as_json: bool) -> None:
    """After the hits: one line per kind of work that waits for a model (on stderr with --json)."""
    for p in pending:
        (err if as_json else out).print(p.line, highlight=False, markup=False)


def _play(hits: list, options: QueryOptions) -> None:
    """``--export`` and ``--open`` of a query; no player found: one line, exit 1."""
    from mmsearch import playback

    said = err if options.as_json else out
    try:
        if options.export is not None:
            written = playback.export(hits, *options.export, overwrite=options.force)
            said.print(f"wrote {plural(len(hits), 'hit')} to {written}", highlight=False)
        if options.open_n is not None:
            if options.open_n > len(hits):
                raise MmsearchError(f"--open {options.open_n}: there are {plural(len(hits), 'hit')}")
            said.print("playing: " + " ".join(playback.open_hit(hits[options.open_n - 1])), highlight=False,
                       markup=False)
    except playback.NoPlayerError as exc:
        _fail(exc, code=1)
    except MmsearchError as exc:
        _fail(exc)


def _write_thumbs(engine, hits: list, folder: Path, force: bool = False) -> None:
    """A preview file per hit that has one: ``RANK_NAME[_SECONDSs].jpg`` (images, video frames) or ``.png``
    (audio waveforms); its path goes into the hit as ``thumb``. When one of them exists already, nothing is
    written (one line, exit 2) unless ``force``."""
    from mmsearch.media.previews import window
    from mmsearch.playback import refuse_existing

    previews: list = []  # (hit, target, bytes)
    for rank, hit in enumerate(hits, 1):
        shown = window(hit.kind, hit.start, hit.end, hit.keyframe)
        if shown is None:
            continue
        try:
            preview = engine.preview(hit)
        except MmsearchError as exc:
            err.print(f"  no thumbnail for {_show(hit.path)}: {exc}", highlight=False)
            continue
        at = f"_{shown.at:09.3f}s" if shown.at is not None else ""
        previews.append((hit, folder / f"{rank:02d}_{Path(hit.path).stem}{at}{preview.suffix}", preview.data))
    refuse_existing([target for _, target, _ in previews], force)
    folder.mkdir(parents=True, exist_ok=True)
    for hit, target, data in previews:
        try:
            with open(target, "wb" if force else "xb") as fh:
                fh.write(data)
        except FileExistsError:  # made since the check above: still never overwritten
            refuse_existing([target], force)
        hit.extra["thumb"] = str(target)


@app.command()
@query_command
def similar(
    file: Annotated[Path, typer.Argument(help="An image, recording or video clip (in the library or not).")],
    *,
    options: QueryOptions,
) -> None:
    """What resembles FILE: for an image, pictures and scenes that look like it and texts that describe it
    (--kind text); for a recording, sounds that sound alike and moments where the same is said; for a video
    clip, scenes that look like its scenes."""
    if not file.exists():
        _fail(MmsearchError(f"no such file: {file}"))
    _refuse_export(options)
    hits, pending = _run(lambda e: (e.similar(file, **options.query_args()), e.pending()), options.library,
                         options.model)
    _print_hits(hits, options.as_json)
    _print_pending(pending, options.as_json)
    _play(hits, options)


@app.command()
def scenes(video: InLibraryArg, library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """List a video's scenes: start, end and keyframe time."""
    rows = _run(lambda e: e.scenes(video), library)
    if _as_json(rows, as_json):
        return
    for i, r in enumerate(rows, 1):
        out.print(f"{i:3d}  {_clock(r['start'])}-{_clock(r['end'])}  keyframe {_clock(r['keyframe'])}"
                  f"  ({r['start']:.2f}-{r['end']:.2f} s)")


@app.command()
def transcript(file: InLibraryArg, library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """Print a file's timed speech transcript (an audio or video file in the library)."""
    rows = _run(lambda e: e.transcript(file), library)
    if _as_json(rows, as_json) or _say_if_empty(rows, "no speech"):
        return
    for r in rows:
        out.print(f"{_clock(r['start'])}-{_clock(r['end'])}  {r['text']}", highlight=False, markup=False)


@app.command()
def stats(library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """What the library holds: files by kind, segments, spaces and their models."""
    info = _run(lambda e: e.stats(), library)
    if _as_json(info, as_json):
        return
    out.print(f"library   {info['library']}\ndatabase  {info['database']}", highlight=False)
    out.print(f"files     {info['files']}  " + "  ".join(f"{k}: {v}" for k, v in sorted(info["by_kind"].items())))
    out.print("segments  " + "  ".join(f"{k}: {v}" for k, v in sorted(info["segments"].items())))
    out.print(f"errors    {info['errors']}")
    for s in info["spaces"]:
        if s["active"]:
            out.print(f"space     {s['name']}: {s['model']} (dim {s['dim']}), {s['vectors']} vectors", highlight=False)
        else:
            out.print(f"space     {s['name']}: inactive ({s.get('reason', 'model unavailable')})", highlight=False)
    for name, states in sorted(info.get("jobs", {}).items()):
        out.print(f"work      {name}: " + ", ".join(f"{n} {state}" for state, n in states.items()), highlight=False)
    for p in info.get("places", []):
        why = f" ({p['why']}, since {p['since']})" if p["state"] == "offline" else ""
        out.print(f"place     {_show(p['path'])}: {p['state']}{why}, {p['files']} files, {p['missing']} missing",
                  highlight=False, markup=False)


@app.command()
def errors(library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """Files that could not be indexed, and why."""
    rows = _run(lambda e: e.errors(), library)
    if _as_json(rows, as_json) or _say_if_empty(rows, "no errors"):
        return
    for r in rows:  # one line per file: paths stay whole and greppable
        out.print(f"{_show(r['path'])}  [{r['stage']}] {r['message']}  ({r['time']})", highlight=False, markup=False)


@app.command()
def reindex(library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """Rebuild the vector indexes from the stored vectors (no decoding, no embedding)."""
    counts = _run(lambda e: e.reindex(), library)
    print(json.dumps(counts)) if as_json else out.print(
        "rebuilt " + ", ".join(f"{k}: {v} vectors" for k, v in counts.items())
    )


@app.command()
def reembed(
    space: Annotated[str, typer.Argument(help="The space to switch: clip, audio or text.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The new model's spec for SPACE (as its setting takes)")],
    library: LibraryOpt = None,
    as_json: JsonOpt = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Switch even when files failed: they lose their vectors in SPACE until the next index run.")
    ] = False,
) -> None:
    """Re-embed one space with another model in place; searches use the old model until it is done, and an
    interrupted run resumes when run again. Exit code 1: files failed, so the space was not switched (nothing
    is lost; run it again to retry them, or use --force)."""
    progress = _RichProgress() if (err.is_terminal and not as_json) else None
    report = _run(lambda e: e.reembed(space, model, progress=progress, force=force), library)
    if _as_json(report.to_dict(), as_json):
        if not report.swapped:
            raise typer.Exit(1)
        return
    if report.old_model == report.model and not report.reembedded:
        out.print(f"space {report.space} is already embedded with {report.model}", highlight=False)
        return
    resumed = f" (+{report.resumed} from an interrupted run)" if report.resumed else ""
    if not report.swapped:
        _print_failures(report.failures, "not re-embedded {path}: {reason}", "`reembed --json` lists them all")
        err.print(f"space {report.space} not switched: {plural(len(report.failures), 'file')} could not be re-embedded "
                  f"({report.reembedded} done{resumed}); it keeps {report.old_model} with all {report.vectors} "
                  "vectors. Run reembed again to retry them, or add --force to switch and lose their vectors "
                  "in this space", highlight=False, markup=False)
        raise typer.Exit(1)
    out.print(f"re-embedded {report.space}: {plural(report.reembedded, 'file')}{resumed}, "
              f"{plural(report.vectors, 'vector')}, "
              f"{report.old_model} -> {report.model} in {report.seconds:.1f}s", highlight=False)
    _print_failures(report.failures, "not re-embedded {path}: {reason} (pending for the next index run)",
                    "pending for the next index run")
    if report.lost:
        err.print(f"--force: {report.lost} files lose their vectors in space {report.space} (pending for the "
                  "next index run)", highlight=False, markup=False)


@app.command()
def remove(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to forget (files on disk are untouched).")],
    library: LibraryOpt = None,
) -> None:
    """Forget files without deleting them; later index and watch runs leave them out until
    `mmsearch index PATH` names them again. A path with nothing in the library is an error (exit 2)."""
    n = _run(lambda e: e.remove(paths), library)
    out.print(f"removed {plural(n, 'file')} from the library; index and watch leave "
              f"{'it' if len(paths) == 1 else 'them'} out until `mmsearch index PATH` names "
              f"{'it' if len(paths) == 1 else 'them'} again", highlight=False, markup=False)


# Commands that live in their own modules register themselves on `app` when imported.
# (one import line per module, added below this comment)
from . import check_cmd, demo_cmd, duplicates_cmd, eval_cmd, query_server_cmd, serve_cmd, watch_cmd  # noqa: E402,F401,I001
