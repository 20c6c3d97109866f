"""Which CPUs run the shot detector in bf16 (mmsearch/encoders/shots.py): those that compute bf16 natively."""
from __future__ import annotations

import pytest

from mmsearch.encoders.shots import native_bf16


@pytest.mark.parametrize(("flags", "native"), [
    ("fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni", True),
    ("fpu avx512f amx_bf16 amx_tile", True),
    ("fpu sse2 avx2 avx512f avx512bw", False),   # AVX-512 without bf16: oneDNN would emulate it, slower
    ("", False),
])
def test_native_bf16_is_read_from_the_cpus_flags(tmp_path, flags, native):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert native_bf16(str(info)) is native


def test_no_cpuinfo_means_fp32(tmp_path):
    assert native_bf16(str(tmp_path / "absent")) is False
