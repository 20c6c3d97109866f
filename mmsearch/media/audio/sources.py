"""Which decoder opens a file: a chain per backend, tried in order (the table :data:`CHAINS`)."""
from __future__ import annotations

import logging
from pathlib import Path

from mmsearch.media.audio.base import Source
from mmsearch.media.audio.pyav_source import PyAVSource
from mmsearch.media.audio.soundfile_source import SoundfileSource

log = logging.getLogger(__name__)

#: backend -> the decoders tried in order; a decoder that does not accept the file's extension is skipped,
#: one that fails hands over to the next, and the last one's failure is the caller's.
CHAINS: dict[str, tuple[type[Source], ...]] = {
    "auto": (SoundfileSource, PyAVSource),
    "pyav": (PyAVSource,),
}


def open_source(path: Path, start: float = 0.0, backend: str = "auto") -> Source:
    """Open ``path`` at ``start`` seconds with the first decoder of ``CHAINS[backend]`` that can."""
    *first, last = CHAINS[backend]
    for source in first:
        if not source.accepts(path):
            continue
        try:
            return source(path, start)
        except Exception as e:  # noqa: BLE001 - a decoder rejects the format or the file: the next one tries
            log.debug("%s: %s cannot open (%s), trying %s", path, source.backend, e, last.backend)
    return last(path, start)
