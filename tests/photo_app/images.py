"""Pictures made for the photo app's tests (Pillow makes them: none is shipped)."""

from __future__ import annotations

import importlib
import io
import struct
import sys
import zlib
from pathlib import Path
from types import ModuleType

from PIL import Image

APP = Path(__file__).resolve().parents[2] / "examples" / "photo-app"


def function_module(name: str) -> ModuleType:
    """A module of the app's functions, imported as Lambda imports it (its directory on the path)."""
    if str(APP / "functions") not in sys.path:
        sys.path.insert(0, str(APP / "functions"))
    return importlib.import_module(name)


def photo(width: int = 3000, height: int = 2000, *, orientation: int | None = None, quality: int = 90) -> bytes:
    """A JPEG whose left half is red and right half blue, with camera EXIF (make, GPS) and an ICC profile."""
    image = Image.new("RGB", (width, height), (220, 20, 20))
    image.paste((20, 20, 220), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[0x010F] = "ConveyorCam"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPSInfo: where the photo was taken
    if orientation is not None:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif, icc_profile=b"\0" * 128)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's shape), CRC intact."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    body = bytes(data[ihdr - 4:ihdr + 13])
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(body))
    return bytes(data)
