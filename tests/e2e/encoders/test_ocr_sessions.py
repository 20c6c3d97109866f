"""The OCR reader's onnxruntime sessions do not spin (mmsearch/encoders/ocr_sessions.py), and only its own."""
from __future__ import annotations

import pytest

pytest.importorskip("rapidocr_onnxruntime")

from rapidocr_onnxruntime.utils import infer_engine

from mmsearch.encoders.ocr import OcrReader
from mmsearch.encoders.ocr_sessions import SPINNING


def _spinning(session) -> str:
    try:
        return session.get_session_options().get_session_config_entry(SPINNING)
    except RuntimeError:  # the entry was never set: onnxruntime's default (spinning)
        return "default"


def test_the_readers_sessions_sleep_and_the_builder_is_put_back() -> None:
    builder = infer_engine.OrtInferSession.__dict__["_init_sess_opts"]
    reader = OcrReader("bundled", use_cls=True)
    engine = reader._engine
    sessions = [engine.text_det.infer.session, engine.text_rec.session.session, engine.text_cls.infer.session]
    assert [_spinning(s) for s in sessions] == ["0", "0", "0"]
    assert infer_engine.OrtInferSession.__dict__["_init_sess_opts"] is builder
    other = infer_engine.OrtInferSession({"model_path": OcrReader._engine_path("Det", {})})
    assert _spinning(other.session) == "default"  # sessions built elsewhere keep onnxruntime's default
