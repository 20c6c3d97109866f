"""When and where a file was made, as the file says: a photo's EXIF, a video's or recording's container tags.

Read from what the decoder has open already (the PIL image's EXIF, the PyAV container's tags), never by a
second read of the file; :func:`read_header` is for files indexed before this existed (the backfill job
``metadata``: headers only). Every value is checked on its own and a bad one is dropped: a garbage GPS
block still leaves a good date, and nothing here raises.

How a time is stored (``media.taken_at``, ``media.time_offset``):

- ``taken_at``: UTC seconds since the epoch; None when the file gives no time (the media time is then its
  mtime, ``time_source`` ``mtime``).
- ``time_offset``: the UTC offset in minutes where the file states one (EXIF OffsetTimeOriginal, a
  QuickTime creationdate with its zone); None otherwise.
- An EXIF time without an offset is the camera's wall clock: it is read as local time of the machine that
  indexes it (no offset stored). A container's creation_time without a zone is UTC (what MP4/MOV store).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class TimeSource(StrEnum):
    """Where a file's media time comes from (``media.time_source``)."""

    EXIF = "exif"
    CONTAINER = "container"
    MTIME = "mtime"


@dataclass(frozen=True)
class MediaFacts:
    """The media columns a file's metadata fills (names as in the ``media`` table)."""

    taken_at: float | None = None
    time_offset: int | None = None
    time_source: str = TimeSource.MTIME
    camera_make: str | None = None
    camera_model: str | None = None
    lat: float | None = None
    lon: float | None = None
    orientation: int | None = None

    def fields(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in dataclasses.asdict(self).items()}


NO_FACTS = MediaFacts()
FACT_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(MediaFacts))

# EXIF tags (TIFF/EXIF 2.32 numbers)
MAKE, MODEL, ORIENTATION = 0x010F, 0x0110, 0x0112
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
# (time, offset, sub-second) of the capture, then of the digitisation: the first one readable wins
EXIF_TIMES = ((0x9003, 0x9011, 0x9291), (0x9004, 0x9012, 0x9292))
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4
MAX_TEXT = 100
MAX_OFFSET_MIN = 14 * 60  # the widest real UTC offsets are -12:00 and +14:00
EARLIEST_PHOTO, EARLIEST_CONTAINER = 1830, 1971  # container clocks at 0 read as 1904 or 1970: not a date

_EXIF_TIME = re.compile(r"^(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_ISO_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?"
                       r"\s*(Z|[+-]\d{2}:?\d{2})?$")
_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?(?:CRS[^/]*)?/?$")

# container tags, best first (keys compared lower-case)
TIME_TAGS = ("com.apple.quicktime.creationdate", "creation_time", "date")
LOCATION_TAGS = ("com.apple.quicktime.location.iso6709", "location", "location-eng")
MAKE_TAGS = ("com.apple.quicktime.make", "make", "com.android.manufacturer")
MODEL_TAGS = ("com.apple.quicktime.model", "model", "com.android.model")


def _safe(read: Any, default: Any = None) -> Any:
    try:
        return read()
    except Exception:  # noqa: BLE001 - a damaged metadata block is no metadata, never a failed file
        return default


def clean_text(value: Any) -> str | None:
    """A printable, trimmed string of at most MAX_TEXT characters, or None."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:MAX_TEXT] or None


def utc_offset(value: Any) -> int | None:
    """``+02:00`` / ``-0530`` -> minutes east of UTC (None: absent or impossible)."""
    m = _OFFSET.match(clean_text(value) or "")
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    if minutes > MAX_OFFSET_MIN or int(m.group(3)) >= 60:
        return None
    return -minutes if m.group(1) == "-" else minutes


def _epoch(when: dt.datetime, offset: int | None) -> float | None:
    """UTC seconds of a wall-clock time at ``offset`` minutes (None: local time of this machine)."""
    try:
        if offset is not None:
            when = when.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset)))
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def exif_time(value: Any, offset: Any = None, subsec: Any = None) -> tuple[float, int | None] | None:
    """``("2024:05:01 14:30:00", "+02:00", "25")`` -> (UTC seconds, offset minutes or None)."""
    m = _EXIF_TIME.match(clean_text(value) or "")
    if not m:
        return None
    try:
        y, mo, d, h, mi, sec = (int(g) for g in m.groups())
        when = dt.datetime(y, mo, d, h, mi, sec)
    except ValueError:  # "0000:00:00 00:00:00", month 13
        return None
    if when.year < EARLIEST_PHOTO:
        return None
    digits = clean_text(subsec)
    if digits and digits.isdigit():
        when += dt.timedelta(seconds=float("0." + digits))
    minutes = utc_offset(offset)
    seconds = _epoch(when, minutes)
    return (seconds, minutes) if seconds is not None else None


def iso_time(value: Any) -> tuple[float, int | None] | None:
    """A container's ISO 8601 time -> (UTC seconds, offset minutes or None). No zone or ``Z``: UTC."""
    m = _ISO_TIME.match(clean_text(value) or "")
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        when = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError:
        return None
    if when.year < EARLIEST_CONTAINER:
        return None
    if frac:
        when += dt.timedelta(seconds=float(frac))
    minutes = utc_offset(zone) if zone and zone != "Z" else None
    if zone and zone != "Z" and minutes is None:
        return None
    seconds = _epoch(when, minutes if minutes is not None else 0)
    return (seconds, minutes) if seconds is not None else None


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _degrees(value: Any, ref: Any, refs: str) -> float | None:
    """EXIF (degrees, minutes, seconds) rationals and a N/S or E/W reference -> signed decimal degrees."""
    read = [_finite(v) for v in value] if isinstance(value, (tuple, list)) else [_finite(value)]
    parts = [p for p in read if p is not None and p >= 0]
    if not 1 <= len(parts) <= 3 or len(parts) != len(read) or any(p >= 60 for p in parts[1:]):
        return None
    degrees = sum(p / 60**i for i, p in enumerate(parts))
    side = (clean_text(ref) or refs[0]).upper()[:1]
    if side not in refs:
        return None
    return -degrees if side == refs[1] else degrees


def valid_position(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    """(lat, lon) in range; (0, 0) is what receivers without a fix write, not a place."""
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return round(lat, 7), round(lon, 7)


def _orientation(value: Any) -> int | None:
    number = _finite(value)
    return int(number) if number is not None and number == int(number) and 1 <= number <= 8 else None


def from_exif(exif: Any) -> MediaFacts:
    """The facts of a PIL ``Image.Exif`` (None or empty: none). Time: DateTimeOriginal with
    OffsetTimeOriginal (else DateTimeDigitized with its offset), from the EXIF IFD or IFD0."""
    if exif is None:
        return NO_FACTS
    base: Mapping = _safe(lambda: dict(exif), {})
    sub: Mapping = _safe(lambda: dict(exif.get_ifd(EXIF_IFD)), {})
    gps: Mapping = _safe(lambda: dict(exif.get_ifd(GPS_IFD)), {})
    if not base and not sub:
        return NO_FACTS
    when = None
    for tag, offset_tag, subsec_tag in EXIF_TIMES:
        def pick(t: int) -> Any:
            return sub.get(t) if sub.get(t) is not None else base.get(t)
        when = _safe(lambda: exif_time(pick(tag), pick(offset_tag), pick(subsec_tag)))  # noqa: B023
        if when is not None:
            break
    position = _safe(lambda: valid_position(_degrees(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), "NS"),
                                            _degrees(gps.get(GPS_LON), gps.get(GPS_LON_REF), "EW"))) if gps else None
    return MediaFacts(
        taken_at=when[0] if when else None, time_offset=when[1] if when else None,
        time_source=TimeSource.EXIF if when else TimeSource.MTIME,
        camera_make=clean_text(base.get(MAKE)), camera_model=clean_text(base.get(MODEL)),
        lat=position[0] if position else None, lon=position[1] if position else None,
        orientation=_orientation(base.get(ORIENTATION)),
    )


def iso6709(value: Any) -> tuple[float, float] | None:
    """``+48.8584+002.2945+035.000/`` (degrees, or DDMM / DDMMSS forms) -> (lat, lon)."""
    m = _ISO6709.match(clean_text(value) or "")
    if not m:
        return None

    def part(text: str, degree_digits: int) -> float | None:
        sign = -1.0 if text[0] == "-" else 1.0
        whole, _, frac = text[1:].partition(".")
        extra = len(whole) - degree_digits  # 0: degrees; 2: and minutes; 4: and seconds
        if extra not in (0, 2, 4) or not whole:
            return None
        value = float(whole[:degree_digits])
        tail = float(whole[degree_digits:] + "." + (frac or "0")) if extra else float("0." + (frac or "0"))
        if extra == 0:
            return sign * (value + tail)
        if extra == 2:
            return sign * (value + tail / 60) if tail < 60 else None
        minutes, seconds = divmod(tail, 100)
        return sign * (value + minutes / 60 + seconds / 3600) if minutes < 60 and seconds < 60 else None

    return valid_position(part(m.group(1), 2), part(m.group(2), 3))


def tag_map(tags: Iterable[tuple[Any, Any]] | Mapping) -> dict[str, str]:
    """Container tags by lower-case key, first value kept; unreadable ones dropped."""
    items = tags.items() if isinstance(tags, Mapping) else tags
    out: dict[str, str] = {}
    for key, value in items:
        text = clean_text(value)
        if isinstance(key, str) and text is not None:
            out.setdefault(key.lower(), text)
    return out


def from_tags(tags: Iterable[tuple[Any, Any]] | Mapping) -> MediaFacts:
    """The facts of a video's or recording's container tags (``container.metadata``, then its streams')."""
    found = _safe(lambda: tag_map(tags), {})
    when = next((t for t in (_safe(lambda k=k: iso_time(found.get(k))) for k in TIME_TAGS) if t), None)
    place = next((p for p in (_safe(lambda k=k: iso6709(found.get(k))) for k in LOCATION_TAGS) if p), None)
    make = next((found[k] for k in MAKE_TAGS if k in found), None)
    model = next((found[k] for k in MODEL_TAGS if k in found), None)
    return MediaFacts(
        taken_at=when[0] if when else None, time_offset=when[1] if when else None,
        time_source=TimeSource.CONTAINER if when else TimeSource.MTIME,
        camera_make=make, camera_model=model,
        lat=place[0] if place else None, lon=place[1] if place else None,
    )


def container_tags(container: Any) -> tuple[tuple[str, str], ...]:
    """The tags of an open PyAV container, then of its streams (a stream's creation_time fills in)."""
    def read() -> tuple[tuple[str, str], ...]:
        pairs = list(dict(container.metadata or {}).items())
        for stream in container.streams:
            pairs += list(dict(stream.metadata or {}).items())
        return tuple((str(k), str(v)) for k, v in pairs)

    return _safe(read, ())


def read_header(path: str | Path, timed: bool) -> MediaFacts:
    """A file's facts from its header alone (the backfill of files indexed before): an image's EXIF, or
    (``timed``) a video's or recording's container tags. Unreadable: no facts."""
    if timed:
        def tags() -> tuple[tuple[str, str], ...]:
            import av

            with av.open(str(path), metadata_errors="ignore") as container:
                return container_tags(container)

        return from_tags(_safe(tags, ()))

    def exif() -> Any:
        import warnings

        from PIL import Image

        with warnings.catch_warnings(), Image.open(path) as im:
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data": dropped, said nowhere else
            # (the backfill runs on the writer's thread alone: no decode thread shares these filters)
            # a PNG whose EXIF is not in its header would be decoded whole to look for it: not worth it
            return im.getexif() if im.format != "PNG" or "exif" in im.info else None

    return from_exif(_safe(exif))
