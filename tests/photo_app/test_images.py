"""The thumbnail worker's image work, in process: sizes, WebP, EXIF orientation, stripped metadata, and the
uploads it must refuse (not an image, truncated, decompression bombs)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.photo_app.images import function_module, photo, png_claiming

images = function_module("images")


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_each_size_is_a_webp_no_larger_than_its_box() -> None:
    out = images.thumbnails(photo(3000, 2000))
    assert sorted(out) == [256, 1024]
    small, large = decode(out[256]), decode(out[1024])
    assert small.format == large.format == "WEBP"
    assert small.size == (256, 171) and large.size == (1024, 683)


def test_a_small_picture_is_never_enlarged() -> None:
    out = images.thumbnails(photo(200, 120))
    assert decode(out[256]).size == decode(out[1024]).size == (200, 120)


def test_exif_orientation_is_applied() -> None:
    # Orientation 6: the camera was turned; shown upright, the landscape frame becomes portrait and its
    # left (red) half becomes the top half.
    thumb = decode(images.thumbnails(photo(3000, 2000, orientation=6))[256])
    assert thumb.size == (171, 256)
    top, bottom = thumb.convert("RGB").getpixel((85, 30)), thumb.convert("RGB").getpixel((85, 225))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]


def test_metadata_is_stripped() -> None:
    source = decode(photo(800, 600, orientation=1))
    assert source.getexif() and source.info.get("icc_profile")  # what there was to strip
    for data in images.thumbnails(photo(800, 600, orientation=1)).values():
        thumb = decode(data)
        assert not thumb.getexif()
        assert not {"exif", "xmp", "icc_profile"} & set(thumb.info)
        assert b"Exif" not in data and b"ConveyorCam" not in data and b"ICCP" not in data


def test_transparency_is_kept() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (400, 400), (0, 128, 0, 100)).save(buffer, "PNG")
    thumb = decode(images.thumbnails(buffer.getvalue())[256])
    assert thumb.mode == "RGBA" and thumb.getpixel((10, 10)) == (0, 128, 0, 100)


def test_a_text_file_is_not_an_image() -> None:
    with pytest.raises(images.Rejected, match="^not an image"):
        images.thumbnails(b"these are my holiday notes, not a photo\n")


def test_a_truncated_jpeg_is_refused() -> None:
    data = photo(1200, 900)
    with pytest.raises(images.Rejected, match="^truncated or corrupt image"):
        images.thumbnails(data[: len(data) // 2])


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(images.Rejected, match=r"^decompression bomb: 8000x8000 pixels"):
        images.thumbnails(png_claiming(8000, 8000))  # over this app's limit, under Pillow's own
    with pytest.raises(images.Rejected, match="^decompression bomb"):
        images.thumbnails(png_claiming(60000, 60000))  # over twice Pillow's: Pillow refuses it itself
