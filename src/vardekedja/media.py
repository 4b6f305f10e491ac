"""Design media: files stored by content hash, pictures made safe with Pillow, production files known by content.

Pictures (JPEG, PNG or WebP up to 10 MiB) are decoded, turned upright, and
re-encoded from their pixels alone as WebP in three sizes, so nothing of the
upload but its picture survives (no EXIF, GPS, ICC or comments). Production
files (PDF, DXF, STEP, SVG or ZIP up to 50 MiB) are stored as sent, but only
when their content is of one of those types: the name and the type a client
claims are not trusted. Every stored file is named by its SHA-256 under
``<data folder>/media/``, so the same file is stored once.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MiB = 1 << 20
PICTURE_MAX_BYTES = 10 * MiB
FILE_MAX_BYTES = 50 * MiB
PICTURE_MAX_PIXELS = 60_000_000  # beyond any camera we expect; larger is a decompression bomb
PICTURE_FORMATS = {"JPEG", "PNG", "WEBP"}
# Longest side in pixels of each stored size; "large" is the picture itself.
PICTURE_SIZES = {"large": 1600, "medium": 800, "thumb": 400}
PICTURE_QUALITY = {"large": 82, "medium": 78, "thumb": 72}
PRODUCTION_TYPES = {
    "pdf": "application/pdf", "zip": "application/zip", "step": "application/step", "dxf": "image/vnd.dxf",
    "svg": "image/svg+xml",
}  # fmt: skip
SNIFF_BYTES = 4096


class MediaError(ValueError):
    """The upload cannot be taken: ``status`` says how (413 too large, 422 not what it should be)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StoredPicture:
    sha256: str
    size: int
    width: int
    height: int
    variants: dict[str, str]


def limit_for(kind: str | None) -> int:
    return PICTURE_MAX_BYTES if kind == "picture" else FILE_MAX_BYTES


def safe_filename(name: str, *, extension: str | None = None) -> str:
    """A name to show and to offer for download: the last path part, plain characters, at most 120 of them."""
    base = re.sub(r"[^\w.\- ]+", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .") or "file"
    if extension is not None:
        base = base.rsplit(".", 1)[0] + "." + extension
    return base[-120:]


def sniff_production_file(head: bytes) -> str | None:
    """The production file type its first bytes show (pdf, zip, step, dxf, svg), or None."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"ISO-10303-21;"):
        return "step"
    if head.startswith(b"AutoCAD Binary DXF\r\n\x1a\x00") or re.match(rb"0\r?\n\s*SECTION\r?\n", text):
        return "dxf"
    lowered = text.lower()
    if lowered.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")) and b"<svg" in lowered:
        return "svg"
    return None


class MediaStore:
    """Files named by their SHA-256 under one folder (two-character fan-out), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"

    def path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256

    def temporary(self) -> tempfile._TemporaryFileWrapper[bytes]:
        self.incoming.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=self.incoming, delete=False)

    def keep(self, temporary: Path, sha256: str) -> Path:
        """Move a fully written file into place under its hash (another copy of it may already be there)."""
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)
        return target

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.path(sha256).exists():
            with self.temporary() as out:
                out.write(data)
            self.keep(Path(out.name), sha256)
        return sha256

    def picture(self, upload: Path) -> StoredPicture:
        """Decode an uploaded picture and store it re-encoded in every size; refuse what is not a picture."""
        try:
            with Image.open(upload) as image:
                if image.format not in PICTURE_FORMATS:
                    raise MediaError(422, "a picture is a JPEG, PNG or WebP file")
                if image.width * image.height > PICTURE_MAX_PIXELS:
                    raise MediaError(422, "the picture has too many pixels")
                upright = ImageOps.exif_transpose(image)
                pixels = upright.convert("RGBA" if upright.mode in ("RGBA", "LA", "P") else "RGB")
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
            if isinstance(error, MediaError):
                raise
            raise MediaError(422, "the file is not a picture this service can read (JPEG, PNG or WebP)") from None
        variants = {}
        for name, longest in PICTURE_SIZES.items():
            copy = pixels.copy()
            copy.thumbnail((longest, longest), Image.Resampling.LANCZOS)
            encoded = io.BytesIO()
            copy.save(encoded, "WEBP", quality=PICTURE_QUALITY[name], method=4)
            variants[name] = self.put(encoded.getvalue())
            if name == "large":
                width, height, size = copy.width, copy.height, encoded.tell()
        return StoredPicture(variants["large"], size, width, height, variants)
