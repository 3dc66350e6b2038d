"""app/image_convert.py: image types the upstream refuses become PNG (Pillow); bombs and
broken files are 400s naming the part, never a 500 or a huge bitmap."""
import io
import struct

import pytest
from PIL import Image

from app import image_convert
from app.errors import ApiError
from app.inputs import FileSource, load

P = "messages[0].content[0].image_url.url"


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def picture(mode="RGB", size=(4, 3)) -> Image.Image:
    image = Image.new(mode, size)
    for x in range(size[0]):
        for y in range(size[1]):
            image.putpixel((x, y), (x * 60, y * 80, 200, 255)[:len(mode)] if mode != "L" else x * 60)
    return image


def decoded(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image


def test_a_lossless_webp_becomes_a_png_with_the_same_pixels():
    original = picture("RGBA")
    png = image_convert.to_png(encoded(original, "WEBP", lossless=True), "image/webp", P)
    result = decoded(png).convert("RGBA")
    assert result.size == (4, 3) and result.tobytes() == original.tobytes()


def test_an_animated_gif_becomes_its_first_frame():
    red, blue = Image.new("RGB", (5, 5), (255, 0, 0)), Image.new("RGB", (5, 5), (0, 0, 255))
    gif = encoded(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    assert Image.open(io.BytesIO(gif)).n_frames == 2
    result = decoded(image_convert.to_png(gif, "image/gif", P))
    assert getattr(result, "n_frames", 1) == 1
    assert result.convert("RGB").tobytes() == Image.new("RGB", (5, 5), (255, 0, 0)).tobytes()


def test_a_cmyk_tiff_and_a_bmp_convert_too():
    cmyk = Image.new("CMYK", (3, 3), (0, 255, 255, 0))  # red
    assert decoded(image_convert.to_png(encoded(cmyk, "TIFF"), "image/tiff", P)).convert("RGB").getpixel((1, 1)) == (255, 0, 0)
    assert decoded(image_convert.to_png(encoded(picture(), "BMP"), "image/bmp", P)).size == (4, 3)


def gif_claiming(width: int, height: int) -> bytes:
    """A tiny GIF whose header claims a width x height canvas (a decompression bomb's shape)."""
    gif = bytearray(encoded(Image.new("P", (2, 2)), "GIF"))
    gif[6:10] = struct.pack("<HH", width, height)
    return bytes(gif)


@pytest.mark.parametrize("width, height", [(6000, 6000),      # over our cap, under Pillow's
                                           (65535, 65535)])   # over Pillow's own bomb limit
def test_a_decompression_bomb_is_a_400_before_any_pixel_is_decoded(width, height):
    bomb = gif_claiming(width, height)
    assert len(bomb) < 100
    with pytest.raises(ApiError) as excinfo:
        image_convert.to_png(bomb, "image/gif", P)
    error = excinfo.value
    assert (error.status, error.code, error.param) == (400, "image_too_large", P)
    assert "25,000,000 pixels" in error.message


@pytest.mark.parametrize("data, mime", [
    (b"GIF89a garbage", "image/gif"),
    (b"not an image at all", "image/webp"),
    (encoded(picture(size=(64, 64)), "WEBP")[:60], "image/webp"),  # cut short
    (encoded(picture(size=(64, 64)), "BMP")[:200], "image/bmp"),
])
def test_a_file_that_does_not_decode_is_a_400_naming_the_part(data, mime):
    with pytest.raises(ApiError) as excinfo:
        image_convert.to_png(data, mime, P)
    assert (excinfo.value.status, excinfo.value.code, excinfo.value.param) == (400, "invalid_image", P)


def test_only_the_decoders_of_image_types_are_used():
    # a PDF claiming to be a GIF is not handed to any other decoder Pillow has
    with pytest.raises(ApiError) as excinfo:
        image_convert.to_png(encoded(picture(), "PDF"), "image/gif", P)
    assert excinfo.value.code == "invalid_image"


def data_url(mime, data):
    import base64
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_load_converts_for_both_surfaces_and_renames_the_file():
    webp = encoded(picture(), "WEBP", lossless=True)
    file = load(FileSource(data_url("image/webp", webp), P, image=True), 10_000)
    assert (file.mime_type, file.name) == ("image/png", "file.png")
    native = load(FileSource("", "files[0].data", name="cat.webp", encoded=data_url("x/y", webp).split(",")[1],
                             mime_type="image/webp", mime_param="files[0].mime_type"), 10_000)
    assert (native.mime_type, native.name, native.data) == ("image/png", "cat.png", file.data)


def test_png_and_jpeg_are_sent_as_they_are():
    for mime, fmt in (("image/png", "PNG"), ("image/jpeg", "JPEG")):
        data = encoded(picture(), fmt)
        assert load(FileSource(data_url(mime, data), P, image=True), 10_000).data == data


def test_a_png_larger_than_the_cap_once_converted_is_file_too_large():
    noise = Image.frombytes("RGB", (64, 64), bytes((i * 7919) % 251 for i in range(64 * 64 * 3)))
    webp = encoded(noise, "WEBP", quality=10)  # lossy: far smaller than the PNG of its pixels
    assert len(image_convert.to_png(webp, "image/webp", P)) > len(webp) + 10
    with pytest.raises(Exception) as excinfo:
        load(FileSource(data_url("image/webp", webp), P, image=True), len(webp) + 10)
    assert excinfo.value.code == "file_too_large" and "converted to PNG" in str(excinfo.value)
