"""``mmsearch demo``: index a folder (sample_data/), run example queries, and say how to go on from there."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from .engines import run
from .options import LibraryOpt, ModelOpt, TopOpt
from .output import out, print_hits, print_report, show

# Example queries: (query, needs the clip space). The others are answered by speech, subtitles and notes
# in the bundled sentence space, so they run on a machine without CLIP weights too.
DEMO_QUERIES = [
    ("the scene where the rocket lifts off", False),  # the video's pictures, and its subtitle cue
    ("where do they talk about the budget", False),  # speech in a recording
    ("how long should the soup simmer", False),
    ("flowers in full bloom", False),  # a note, a subtitle cue
    ("a cat looking at the camera", True),
    ("a cup of coffee", True),
    ("an orange flower", True),
]
VISUAL_HINT = (
    "visual search (photos, video frames) needs CLIP weights, which this machine cannot download: set "
    "MMSEARCH_MODEL=ViT-B-32:/path/to/open_clip_pytorch_model.bin (or run where {default} can be downloaded), "
    "then run the demo again: it embeds the pictures that are pending"
)


def demo(
    folder: Annotated[Path, typer.Argument(help="Folder to index.")] = Path("sample_data"),
    library: LibraryOpt = None,
    model: ModelOpt = None,
    top: TopOpt = 3,
) -> None:
    """Index FOLDER and run a few example queries (text->image/video/speech, image->text, image->image).
    Without CLIP weights it runs what the bundled models answer (speech, subtitles, notes) and says what
    visual search needs."""

    def action(engine) -> bool:
        report = engine.index([folder])
        print_report(report, False)
        visual = engine.models.loaded("clip") is not None
        for q, needs_clip in DEMO_QUERIES:
            if needs_clip and not visual:
                continue
            out.print(f"\n[bold]search[/] {escape(repr(q))}", markup=True)
            print_hits(engine.search(q, k=top), False)
        probe = next(iter(sorted(folder.rglob("*.jpg"))), None)
        if not visual:
            from mmsearch.config import DEFAULT_MODEL

            out.print("\n" + VISUAL_HINT.format(default=DEFAULT_MODEL), highlight=False)
        elif probe is not None:
            out.print(f"\n[bold]similar[/] {escape(show(str(probe)))} (texts that describe it)", markup=True)
            print_hits(engine.similar(probe, k=top, kinds=["text"]), False)
            out.print(f"\n[bold]similar[/] {escape(show(str(probe)))} (images)", markup=True)
            print_hits(engine.similar(probe, k=top, kinds=["image"]), False)
        return visual

    visual, root = run(lambda engine: (action(engine), engine.library.root), library, model, create=True)
    _print_next(Path(root), folder, visual)


def _print_next(library: Path, folder: Path, visual: bool) -> None:
    """The demo's last words: the exact commands that go on from here (this install's own mmsearch)."""
    import shutil
    import sys

    exe = Path(sys.argv[0]).absolute()
    on_path = shutil.which("mmsearch")
    me = "mmsearch" if (on_path and Path(on_path).absolute() == exe) or exe.name != "mmsearch" else show(str(exe))
    lib = show(str(library))
    out.print("\nnext:", highlight=False)
    for command, why in (
        (f'{me} search "where do they talk about the budget" --library {lib}', "search the demo library"),
        *([(f"{me} similar {show(str(folder))}/images/cat.jpg --library {lib}", "what looks like a picture")]
          if visual else []),
        (f"{me} index ~/Pictures", "index your own folder (into ~/.local/share/mmsearch/library)"),
        (f'{me} search "a birthday cake"', "then search it"),
        (f"{me} serve --library {lib}", "the web page on http://127.0.0.1:8765/"),
    ):
        out.print(f"  {command:<78}  # {why}", highlight=False, markup=False)
