"""The photo app's image work: thumbnails from an upload's bytes, with Pillow, and nothing else.

Each size is a WebP no larger than SIZE x SIZE (never enlarged), turned upright by its EXIF orientation and
carrying no metadata (no EXIF, no XMP, no ICC profile: a phone photo's GPS position must not reach the
CDN). What is not an image, a truncated file and a decompression bomb are refused with a `Rejected` whose
reason the job shows.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

SIZES = (256, 1024)
# The most pixels an upload may decode to. Pillow's own guard (Image.MAX_IMAGE_PIXELS, ~89 Mpx) only warns
# below twice its limit; a 50 Mpx camera frame is the largest photo this app expects.
MAX_PIXELS = 50_000_000
FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"}
QUALITY = 80


class Rejected(Exception):
    """An upload that cannot become thumbnails; str() is the reason shown to the user."""


def open_image(data: bytes) -> Image.Image:
    """The decoded image, or Rejected: the header is read (and the size judged) before any pixel is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise Rejected("not an image (the file is not a JPEG, PNG, WebP, GIF, BMP or TIFF picture)")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected("decompression bomb: the image claims more pixels than any photo has")
    if image.format not in FORMATS:
        raise Rejected(f"unsupported image format {image.format}")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise Rejected(f"decompression bomb: {width}x{height} pixels is more than {MAX_PIXELS:,} pixels")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's words for a file that ends too soon
        raise Rejected(f"truncated or corrupt image: {exc}")
    return image


def thumbnails(data: bytes, sizes: tuple[int, ...] = SIZES) -> dict[int, bytes]:
    """{size: WebP bytes} for each size."""
    image = open_image(data)
    upright = ImageOps.exif_transpose(image)
    mode = "RGBA" if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info else "RGB"
    # A fresh image holds the pixels only: nothing of the upload's info (exif, xmp, icc_profile) comes along.
    clean = Image.new(mode, upright.size)
    clean.paste(upright.convert(mode))
    out: dict[int, bytes] = {}
    for size in sizes:
        copy = clean.copy()
        copy.thumbnail((size, size), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        copy.save(buffer, "WEBP", quality=QUALITY, method=4)
        out[size] = buffer.getvalue()
    return out
