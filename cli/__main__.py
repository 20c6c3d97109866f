import signal
import sys

from . import query_client

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
    """Console entry point; Ctrl-C: one line (what is kept, how to go on), exit 130. A search is first handed
    to the library's background query process (cli/query_client.py), before anything heavy is imported."""
    try:
        rc = query_client.try_remote(sys.argv[1:])
    except KeyboardInterrupt:
        sys.stderr.write(interrupted_line(sys.argv) + "\n")
        sys.exit(130)
    if rc is not None:
        sys.exit(rc)
    from .app import app
    from .interrupts import SIGNALLED, Interrupted, interrupt
    from .output import err

    signal.signal(signal.SIGINT, interrupt)
    sys.unraisablehook = _quiet_interrupt(sys.unraisablehook)
    try:
        _run_app(app)
    except (Interrupted, KeyboardInterrupt):
        err.print(interrupted_line(sys.argv), highlight=False, markup=False)
        sys.exit(130)
    except SystemExit:
        if SIGNALLED:  # the interrupt was swallowed where it landed (a GC callback): still an interrupted run
            err.print(interrupted_line(sys.argv), highlight=False, markup=False)
            sys.exit(130)
        raise


def _quiet_interrupt(default):
    """An unraisable-exception hook that drops the Ctrl-C raised inside a garbage-collection callback (Python
    would print its traceback; the run still ends as interrupted: see ``main``) and passes on the rest."""
    from .interrupts import Interrupted

    def hook(unraisable) -> None:
        if not isinstance(unraisable.exc_value, Interrupted):
            default(unraisable)

    return hook


def _run_app(app) -> None:
    """The command; after a search answered here, the library's query process is started when wanted."""
    try:
        app()
    except SystemExit as exc:
        if exc.code in (0, None) and query_client.eligible(sys.argv[1:]) and query_client.wanted():
            query_client.start(sys.argv[1:])
        raise


if __name__ == "__main__":
    main()
