"""Visit evidence (photos, recordings): type by content, EXIF, content-addressed storage.

`EvidenceStore` is the interface; `LocalEvidenceStore` keeps each file on disk under its
SHA-256 (`root/ab/cd/abcd…`), so a name can never leave the root and a changed file no
longer matches its name. An S3-compatible store would implement the same three methods
with the hash as the object key.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Protocol

from doorstep.domain.errors import BadEvidenceName, InvalidValue, StorageFull

SHA256 = re.compile(r"^[0-9a-f]{64}$")

JPEG, PNG, HEIC, M4A, MP3 = "image/jpeg", "image/png", "image/heic", "audio/mp4", "audio/mpeg"
ACCEPTED = (JPEG, PNG, HEIC, M4A, MP3)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_M4A_BRANDS = {b"M4A ", b"M4B "}


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes (magic numbers), or None when it is
    none of JPEG, PNG, HEIC, M4A or MP3. The name and the claimed type are never trusted."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return HEIC
        if brand in _M4A_BRANDS:
            return M4A
        return None
    if head.startswith(b"ID3"):
        return MP3
    # A bare MPEG audio frame: 11 sync bits, then layer III (bits 01).
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) == 0x02:
        return MP3
    return None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EvidenceStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store the bytes; returns their SHA-256 (hex), which names them."""
        ...

    def get(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def remove(self, sha256: str) -> bool:
        """Delete the file; False when it was not there."""
        ...

    def stored(self) -> Iterator[tuple[str, datetime]]:
        """(name, last written, aware) of every file the store holds."""
        ...


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
logger = logging.getLogger(__name__)


class LocalEvidenceStore:
    """Files on a local disk, named by their SHA-256; writing the same content twice is a
    no-op, and a write is atomic (a temporary file renamed into place)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if not SHA256.match(sha256):  # 64 lowercase hex digits: no "/", "..", or NUL
            raise BadEvidenceName(f"not a SHA-256 name: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        digest = sha256_of(data)
        target = self.path_for(digest)
        if target.exists():
            os.utime(target)  # written again now: an orphan sweep leaves it alone
            return digest
        try:
            self._write(target, data)
        except OSError as exc:
            if exc.errno in _FULL:
                logger.error("evidence store %s is full: %s", self.root, exc)
                raise StorageFull() from exc
            raise
        return digest

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        """Write to a temporary file beside the target, fsync, rename into place: a reader
        sees the whole file or none; the temporary file goes on any error (ENOSPC too)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def remove(self, sha256: str) -> bool:
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        for folder in (path.parent, path.parent.parent):  # empty fan-out folders go too
            try:
                folder.rmdir()
            except OSError:
                break
        return True

    def stored(self) -> Iterator[tuple[str, datetime]]:
        """Files laid out as the store writes them (`ab/cd/abcd…`); temporary files of a
        write under way and anything else are not evidence and are left alone."""
        for path in sorted(self.root.glob("??/??/*")):
            name = path.name
            if (
                SHA256.match(name)
                and path.parent.name == name[2:4]
                and path.parent.parent.name == name[:2]
                and path.is_file()
            ):
                written = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
                yield name, written


@dataclass(frozen=True)
class Exif:
    lat: float | None = None
    lng: float | None = None
    taken_at: datetime | None = None  # aware


_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769
_DATETIME_ORIGINAL, _OFFSET_ORIGINAL, _DATETIME = 0x9003, 0x9011, 0x0132


def _degrees(value: object, ref: object) -> float | None:
    try:
        d, m, s = (float(part) for part in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    return -result if str(ref).upper() in ("S", "W") else result


def read_exif(data: bytes, media_type: str, zone: tzinfo) -> Exif:
    """GPS position and time of a JPEG or PNG photo, where present. EXIF times without an
    offset are read in the business zone. Anything unreadable is simply absent; a photo
    declaring more pixels than Pillow's decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`)
    is refused (`InvalidValue`), whatever its few bytes."""
    if media_type not in (JPEG, PNG):
        return Exif()
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as image:
            limit = Image.MAX_IMAGE_PIXELS  # below twice this, Pillow only warns
            if limit is not None and image.width * image.height > limit:
                raise _too_many_pixels(f"{image.width}×{image.height}", limit)
            exif = image.getexif()
            gps = exif.get_ifd(_GPS_IFD)
            details = exif.get_ifd(_EXIF_IFD)
    except Image.DecompressionBombError:  # past twice the limit: Pillow refuses outright
        raise _too_many_pixels(None, Image.MAX_IMAGE_PIXELS or 0) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return Exif()
    lat = lng = None
    if gps:
        lat, lng = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
        if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
            lat = lng = None
    return Exif(lat, lng, _taken_at(details, exif, zone))


def _too_many_pixels(size: str | None, limit: int) -> InvalidValue:
    millions = f"{limit / 1e6:.0f}"
    return InvalidValue(
        f"declares {size or 'more'} pixels: a photo may have at most {millions} million",
        message_zh=f"声明的像素为 {size or '过多'}，照片最多 {millions} 百万像素",
    )


def _taken_at(
    details: Mapping[int, object], exif: Mapping[int, object], zone: tzinfo
) -> datetime | None:
    """The photo's original time (else its file time), at its recorded offset or in the
    business zone; None when absent or unreadable."""
    text = details.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(text, str):
        return None
    try:
        taken = datetime.strptime(text.strip("\x00 "), "%Y:%m:%d %H:%M:%S").replace(tzinfo=zone)
    except ValueError:
        return None
    match = re.match(r"^([+-])(\d{2}):(\d{2})$", str(details.get(_OFFSET_ORIGINAL) or ""))
    if not match:
        return taken
    sign = -1 if match.group(1) == "-" else 1
    delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    if delta >= timedelta(hours=24):  # no such offset (timezone() refuses it): unreadable
        return None
    return taken.replace(tzinfo=timezone(sign * delta))
