"""Near-duplicate pictures and moments, one file per job: the rule (:mod:`.rule`), the report that applies
it to a library (:mod:`.report`), the candidate pairs (:mod:`.candidates`), the pairs' hash distances
(:mod:`.evidence`) and the pixel check (:mod:`.confirm`). The hashes themselves are computed at ingest
(:mod:`mmsearch.analysis.perceptual_hash`)."""
from mmsearch.query.duplicates.report import DuplicateGroup, DuplicateItem, DuplicateReport, find_duplicates

__all__ = ["DuplicateGroup", "DuplicateItem", "DuplicateReport", "find_duplicates"]
