"""Overlapping time windows over a recording (CLAP's 10 s every 5 s)."""
from __future__ import annotations

import math


def windows(duration: float, length: float, hop: float) -> list[tuple[float, float]]:
    """Overlapping ``(start, end)`` windows in seconds that cover ``[0, duration]``.

    Windows start every ``hop`` seconds and last ``length`` seconds; the last window is aligned to the
    end of the file (it may overlap its predecessor more than the others do), so no audio is left
    uncovered and no window runs past the end. A clip no longer than ``length`` gives the single window
    ``(0, duration)``; a duration of zero (or less) gives no windows.

    Raises:
        ValueError: ``length`` or ``hop`` is not positive, or ``hop > length`` (that would leave gaps).
    """
    if not (length > 0 and hop > 0):
        raise ValueError(f"window length and hop must be positive, got length={length}, hop={hop}")
    if hop > length:
        raise ValueError(f"hop ({hop}) larger than window length ({length}) would leave gaps")
    if not duration or duration <= 0 or not math.isfinite(duration):
        return []
    if duration <= length:
        return [(0.0, float(duration))]
    eps = 1e-6
    out: list[tuple[float, float]] = []
    k = 0
    while True:
        start = k * hop
        end = start + length
        if end >= duration - eps:
            break
        out.append((round(start, 6), round(end, 6)))
        k += 1
    last = (round(duration - length, 6), round(float(duration), 6))
    if not out or out[-1] != last:
        out.append(last)
    return out
