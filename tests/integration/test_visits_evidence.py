"""Evidence storage: the type comes from the content, names are SHA-256 only, EXIF is
read where present."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from doorstep.domain.errors import BadEvidenceName
from doorstep.integrations.evidence import (
    HEIC,
    JPEG,
    M4A,
    MP3,
    PNG,
    LocalEvidenceStore,
    read_exif,
    sha256_of,
    sniff,
)

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("head", "media"),
    [
        (b"\xff\xd8\xff\xe1\x00\x10Exif", JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", PNG),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", HEIC),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00", HEIC),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", M4A),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", MP3),
        (b"\xff\xfb\x90\x64\x00", MP3),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00", None),  # a video: not accepted
        (b"GIF89a\x01\x00", None),
        (b"%PDF-1.7", None),
        (b"MZ\x90\x00", None),
        (b"", None),
    ],
)
def test_type_by_magic_bytes(head: bytes, media: str | None) -> None:
    assert sniff(head) == media


def test_content_addressed_store_is_idempotent_and_traversal_proof(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path / "evidence")
    data = b"\xff\xd8\xff" + b"photo" * 100
    digest = store.put(data)
    assert digest == sha256_of(data) and store.exists(digest) and store.get(digest) == data
    path = store.path_for(digest)
    assert path.relative_to(tmp_path / "evidence").parts == (digest[:2], digest[2:4], digest)
    assert store.put(data) == digest  # same content, same name, written once
    assert [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()] == [path]
    for bad in ("../../etc/passwd", digest.upper(), digest[:-1] + "/", "a" * 63, "", "..\x00"):
        with pytest.raises(BadEvidenceName):
            store.path_for(bad)
    assert not store.exists("0" * 64)


def _photo(exif_setup: object) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (4, 4))
    exif = Image.Exif()
    exif_setup(exif)  # type: ignore[operator]
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_exif_gps_and_time_are_read() -> None:
    def setup(exif: object) -> None:
        gps = exif.get_ifd(0x8825)  # type: ignore[attr-defined]
        gps.update({1: "N", 2: (39.0, 54.0, 0.0), 3: "E", 4: (116.0, 26.0, 24.0)})
        exif.get_ifd(0x8769)[0x9003] = "2024:06:03 12:30:00"  # type: ignore[attr-defined]

    exif = read_exif(_photo(setup), JPEG, ZONE)
    assert exif.lat == pytest.approx(39.9) and exif.lng == pytest.approx(116.44)
    assert exif.taken_at == datetime(2024, 6, 3, 4, 30, tzinfo=UTC)

    def with_offset(exif: object) -> None:
        details = exif.get_ifd(0x8769)  # type: ignore[attr-defined]
        details[0x9003] = "2024:06:03 12:30:00"
        details[0x9011] = "-05:00"

    taken = read_exif(_photo(with_offset), JPEG, ZONE).taken_at
    assert taken == datetime(2024, 6, 3, 12, 30, tzinfo=timezone(timedelta(hours=-5)))


def test_missing_or_broken_exif_is_simply_absent() -> None:
    assert read_exif(_photo(lambda exif: None), JPEG, ZONE).lat is None
    assert read_exif(b"\xff\xd8\xff garbage", JPEG, ZONE).taken_at is None
    assert read_exif(b"ID3...", MP3, ZONE).lat is None

    def impossible_offset(exif: object) -> None:
        details = exif.get_ifd(0x8769)  # type: ignore[attr-defined]
        details[0x9003] = "2024:06:03 12:30:00"
        details[0x9011] = "+25:00"  # no such offset: the time is unreadable, not an error

    assert read_exif(_photo(impossible_offset), JPEG, ZONE).taken_at is None
