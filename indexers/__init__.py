"""Ingestion pipelines: scan folders, diff against the catalog, decode, encode, write."""
from .report import IndexReport, Progress
from .run import run_index

__all__ = ["IndexReport", "Progress", "run_index"]
