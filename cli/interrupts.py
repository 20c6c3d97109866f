"""Ctrl-C on the command line: the signal handler and what it leaves for the console entry point
(cli/__main__.py prints one line saying what is kept and exits 130)."""
from __future__ import annotations


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
