"""When and where filters: ``--after``/``--before`` (dates or dates and times), ``--camera``, ``--near``.

The rules:

- A bound names a period: a year (``2024``), a month (``2024-05``), a day (``2024-05-01``), a minute
  (``2024-05-01T14:30``) or a second (``2024-05-01 14:30:05``). ``after`` keeps what is at or after the
  start of its period, ``before`` what is before the *end* of its period: ``--after 2024-05-01 --before
  2024-05-31`` is the whole of May, May 31 included. A bound without a zone is local time of this machine
  (as a photo's EXIF time without an offset is); ``Z`` or ``+02:00`` name the zone.
- ``camera``: a case-insensitive substring of the camera's make and model (``"canon eos"``, ``iphone``).
- ``near``: ``LAT,LON[,KM]`` in decimal degrees, within KM kilometres (default :data:`DEFAULT_KM`) on the
  great circle (haversine). Files without a position never match.
- The media time is the file's own (EXIF, container), else its mtime; a caption or subtitle file takes the
  time, camera and place of the media it describes.

The catalog applies a WhenWhere in SQL (mmsearch/catalog/filters.py; near: :meth:`Near.box`) before any
grouping; :meth:`WhenWhere.keeps` is the exact rule on a row (near: haversine), so a query finds rare matches by
growing its candidate pool like the path filter does.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any, TypedDict

from mmsearch.errors import MmsearchError

DEFAULT_KM = 1.0
EARTH_KM = 6371.0088  # mean radius
KM_PER_DEGREE = math.pi * EARTH_KM / 180
MAX_KM = 20_038.0  # half the circumference: everywhere

_WHEN = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$")


def _zone(text: str | None) -> dt.tzinfo | None:
    if not text:
        return None
    if text == "Z":
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def period(text: str) -> tuple[float, float]:
    """``(start, end)`` UTC seconds of the period a date names (end exclusive); MmsearchError when unreadable."""
    m = _WHEN.match(text.strip())
    if not m:
        raise MmsearchError(f"not a date: {text!r} (use 2024-05-01, 2024-05-01T14:30, 2024-05 or 2024)")
    y, mo, d, h, mi, s, zone = m.groups()
    try:
        start = dt.datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0))
        if mo is None:
            end = start.replace(year=start.year + 1)
        elif d is None:
            ny, nm = _next_month(start.year, start.month)
            end = start.replace(year=ny, month=nm)
        elif h is None:
            end = start + dt.timedelta(days=1)
        else:
            end = start + dt.timedelta(minutes=1 if s is None else 0, seconds=0 if s is None else 1)
        tz = _zone(zone)
        if tz is not None:
            start, end = start.replace(tzinfo=tz), end.replace(tzinfo=tz)
        return start.timestamp(), end.timestamp()  # naive: local time
    except (ValueError, OverflowError, OSError):
        raise MmsearchError(f"not a date: {text!r}") from None


def _instant(value: Any, *, end: bool) -> float | None:
    """A bound as UTC seconds: a string names a period (its start, or with ``end`` its end), a datetime
    is that instant (naive: local time), a number is UTC seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dt.date):
        return period(value.isoformat())[1 if end else 0]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return period(value)[1 if end else 0]
    raise MmsearchError(f"not a date: {value!r}")



class WhenWhereArgs(TypedDict, total=False):
    """The filters as keywords of the Python API (``Engine.search(..., after="2024-05")``)."""

    after: Any
    before: Any
    camera: str | None
    near: Any


@dataclass(frozen=True)
class Near:
    """A circle on the globe: centre in decimal degrees, radius in km."""

    lat: float
    lon: float
    km: float = DEFAULT_KM

    @classmethod
    def parse(cls, value: Any) -> Near | None:
        """``"LAT,LON[,KM]"``, a (lat, lon[, km]) sequence or a Near; MmsearchError when out of range."""
        if value is None or value == "" or isinstance(value, Near):
            return value or None
        parts = value.split(",") if isinstance(value, str) else list(value)
        try:
            numbers = [float(p) for p in parts]
        except (TypeError, ValueError):
            numbers = []
        if len(numbers) not in (2, 3) or not all(math.isfinite(n) for n in numbers):
            raise MmsearchError(f"--near takes LAT,LON[,KM] in decimal degrees, not {value!r}")
        lat, lon, km = numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else DEFAULT_KM
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise MmsearchError(f"--near: latitude must be within -90..90 and longitude -180..180, not {value!r}")
        if not 0 < km <= MAX_KM:
            raise MmsearchError(f"--near: the distance must be above 0 and at most {MAX_KM:.0f} km, not {km}")
        return cls(lat, lon, km)

    def distance_km(self, lat: float, lon: float) -> float:
        """Great-circle distance (haversine) from the centre."""
        p1, p2 = math.radians(self.lat), math.radians(lat)
        dp, dl = p2 - p1, math.radians(lon - self.lon)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))

    def contains(self, lat: float | None, lon: float | None) -> bool:
        return lat is not None and lon is not None and self.distance_km(lat, lon) <= self.km

    def box(self) -> tuple[float, float, list[tuple[float, float]] | None]:
        """A box holding the circle: (lat low, lat high, longitude ranges; None: every longitude)."""
        dlat = self.km / KM_PER_DEGREE
        lo, hi = self.lat - dlat, self.lat + dlat
        if lo <= -90 or hi >= 90:
            return max(lo, -90.0), min(hi, 90.0), None  # over a pole: any longitude
        # widest at the latitude nearest a pole within the box
        dlon = math.degrees(math.asin(min(1.0, math.sin(self.km / EARTH_KM) / math.cos(math.radians(self.lat)))))
        if dlon >= 180:
            return lo, hi, None
        west, east = self.lon - dlon, self.lon + dlon
        if west < -180:
            return lo, hi, [(west + 360, 180.0), (-180.0, east)]
        if east > 180:
            return lo, hi, [(west, 180.0), (-180.0, east - 360)]
        return lo, hi, [(west, east)]


@dataclass(frozen=True)
class WhenWhere:
    """What a hit's media must satisfy in time (UTC seconds: after inclusive, before exclusive), camera and
    place. Empty: everything."""

    after: float | None = None
    before: float | None = None
    camera: str | None = None
    near: Near | None = None

    @classmethod
    def parse(cls, after: Any = None, before: Any = None, camera: str | None = None,
              near: Any = None) -> WhenWhere | None:
        """The filters as given on the command line, the API or HTTP (see the module docstring); None when
        none is given. MmsearchError (one line) on an unreadable value."""
        where = cls(_instant(after, end=False), _instant(before, end=True), (camera or "").strip().lower() or None,
                    Near.parse(near))
        if where.after is not None and where.before is not None and where.after >= where.before:
            raise MmsearchError("--after must be earlier than --before")
        return None if where == cls() else where

    def keeps(self, row: Any) -> bool:
        """The exact rule on a row with ``media_time``, ``camera_make``, ``camera_model``, ``lat``, ``lon``."""
        t = row.media_time
        if self.after is not None and (t is None or t < self.after):
            return False
        if self.before is not None and (t is None or t >= self.before):
            return False
        if self.camera and self.camera not in f"{row.camera_make or ''} {row.camera_model or ''}".lower():
            return False
        return self.near is None or self.near.contains(row.lat, row.lon)


def camera_name(make: str | None, model: str | None) -> str | None:
    """``Canon`` + ``Canon EOS R5`` -> ``Canon EOS R5``; ``Apple`` + ``iPhone 15`` -> ``Apple iPhone 15``."""
    if not model:
        return make or None
    if make and not model.lower().startswith(make.lower().split()[0]):
        return f"{make} {model}"
    return model


def iso(seconds: float | None, offset_min: int | None = None) -> str | None:
    """UTC seconds as ISO 8601, at the file's own UTC offset when known, else in UTC (``Z``)."""
    if seconds is None:
        return None
    try:
        tz = dt.timezone(dt.timedelta(minutes=offset_min)) if offset_min is not None else dt.UTC
        text = dt.datetime.fromtimestamp(seconds, tz).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return None
    return text.replace("+00:00", "Z") if offset_min is None else text


def hit_facts(row: Any) -> dict[str, Any]:
    """What a hit carries of its media's when and where: ``media_time`` (UTC seconds, what ``--sort date``
    orders by), ``time_offset`` and ``time_source``, and ``camera``, ``lat``, ``lon`` when known."""
    out: dict[str, Any] = {"media_time": row.media_time}
    if row.time_offset is not None:
        out["time_offset"] = row.time_offset
    if row.time_source:
        out["time_source"] = row.time_source
    camera = camera_name(row.camera_make, row.camera_model)
    if camera:
        out["camera"] = camera
    if row.lat is not None and row.lon is not None:
        out["lat"], out["lon"] = row.lat, row.lon
    return out


def facts_json(extra: dict[str, Any]) -> dict[str, Any]:
    """A hit's facts for JSON: ``media_time`` as ISO 8601 (its offset folded into the string)."""
    out = dict(extra)
    if isinstance(out.get("media_time"), (int, float)):
        out["media_time"] = iso(float(out["media_time"]), out.pop("time_offset", None))
    return out
