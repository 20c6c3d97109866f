"""Kept for the evaluation modules' ``from .pipeline import run_index``; the run lives in :mod:`.run`."""
from .report import IndexReport, Progress
from .run import run_index

__all__ = ["IndexReport", "Progress", "run_index"]
