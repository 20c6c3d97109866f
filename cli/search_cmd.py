"""``mmsearch search QUERY`` and ``mmsearch similar FILE``: the query commands (their shared options are
cli/options.py's ``QueryOptions``), with what they do with the hits: previews (``--thumbs``), playlists
(``--export``) and a player (``--open``)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmsearch.errors import MmsearchError
from mmsearch.query.mix_rules import LIKE_WEIGHT

from .engines import run
from .options import QueryOptions, query_command
from .output import err, fail, out, plural, print_hits, print_pending, show


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
            fail(MmsearchError(f"no such file: {example}"))
    refuse_export(options)

    def action(engine):
        if keyword:
            found = engine.keyword_search(query, **options.filter_args())
        else:
            found = engine.search(query, like=like or [], like_weight=like_weight, **options.query_args())
        if thumbs is not None:
            write_thumbs(engine, found, thumbs, options.force)
        return found, engine.pending()

    hits, pending = run(action, options.library, options.model)
    print_hits(hits, options.as_json)
    print_pending(pending, options.as_json)
    play(hits, options)


def refuse_export(options: QueryOptions) -> None:
    """An --export file that exists is refused before the query runs (one line, exit 2) unless --force."""
    from mmsearch import playback

    if options.export is not None:
        try:
            playback.refuse_existing([options.export[1].expanduser()], options.force)
        except MmsearchError as exc:
            fail(exc)


def play(hits: list, options: QueryOptions) -> None:
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
        fail(exc, code=1)
    except MmsearchError as exc:
        fail(exc)


def write_thumbs(engine, hits: list, folder: Path, force: bool = False) -> None:
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
            err.print(f"  no thumbnail for {show(hit.path)}: {exc}", highlight=False)
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
        fail(MmsearchError(f"no such file: {file}"))
    refuse_export(options)
    hits, pending = run(lambda e: (e.similar(file, **options.query_args()), e.pending()), options.library,
                        options.model)
    print_hits(hits, options.as_json)
    print_pending(pending, options.as_json)
    play(hits, options)
