"""Ingestion pipelines: scan folders, diff against the catalog, decode, encode, write."""
from .pipeline import IndexReport, Progress, run_index

__all__ = ["IndexReport", "Progress", "run_index"]
