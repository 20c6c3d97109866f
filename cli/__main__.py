import signal
import sys

from .app import Interrupted, app, err, interrupt

# What Ctrl-C leaves, per command: every command commits as it goes, so the line says what is kept and how
# to go on. A command not named here changes nothing.
INTERRUPTED = {
    "index": "interrupted: the files indexed so far are saved; run the same `mmsearch index` again to do the rest",
    "demo": "interrupted: the files indexed so far are saved; run it again to do the rest",
    "reembed": "interrupted: the files re-embedded so far are saved (searches still use the old model); "
               "run the same `mmsearch reembed` again to resume",
    "watch": "stopped watching: every file indexed so far is saved; `mmsearch watch` catches up when started again",
    "serve": "stopped serving",
    "check": "interrupted: nothing was changed; run `mmsearch check` again",
}


def interrupted_line(argv: list[str]) -> str:
    """The one line Ctrl-C prints for the command in ``argv``."""
    command = next((a for a in argv[1:] if not a.startswith("-")), "")
    return INTERRUPTED.get(command, "interrupted: nothing was changed")


def main() -> None:
    """Console entry point; Ctrl-C: one line (what is kept, how to go on), exit 130."""
    signal.signal(signal.SIGINT, interrupt)
    try:
        app()
    except (Interrupted, KeyboardInterrupt):
        err.print(interrupted_line(sys.argv), highlight=False, markup=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
