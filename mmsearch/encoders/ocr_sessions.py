"""onnxruntime sessions for the OCR reader whose idle threads sleep instead of spinning.

The rule: every session rapidocr builds for :class:`mmsearch.encoders.ocr.OcrReader` gets
``session.intra_op.allow_spinning = 0``. By default onnxruntime's intra-op threads spin (busy-wait) between
operators to save microseconds of wake-up; on the 2 cores an index shares between the decode workers, the
tower and the reader, that spinning is CPU taken from the others. Measured (quiet 2-core machine, 20
photo-like 640x480 JPEGs with a line of text, detector and recogniser, two rounds): 256-274 CPU ms a
picture spinning, 160-163 not (wall 129-138 ms -> 94-95 ms), the same boxes and text
(tests/e2e/encoders/test_ocr_sessions.py checks the option reaches every session).

rapidocr builds its sessions itself (``OrtInferSession._init_sess_opts``) and has no setting for this, so
:func:`no_spinning` replaces that builder while a reader is constructed, under a lock, and puts it back.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SPINNING = "session.intra_op.allow_spinning"
_LOCK = threading.Lock()


@contextmanager
def no_spinning() -> Iterator[None]:
    """While inside, every rapidocr ``OrtInferSession`` is built with intra-op spinning off."""
    from rapidocr_onnxruntime.utils import infer_engine

    cls = infer_engine.OrtInferSession
    with _LOCK:
        original = cls.__dict__["_init_sess_opts"]

        def build(config: dict[str, Any]) -> Any:
            options = original.__func__(config)
            options.add_session_config_entry(SPINNING, "0")
            return options

        cls._init_sess_opts = staticmethod(build)
        try:
            yield
        finally:
            cls._init_sess_opts = original
