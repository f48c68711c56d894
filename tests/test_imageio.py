"""studio.imageio: every bad input gives one clear StudioInputError; modes, orientation, saving."""

from __future__ import annotations

import io
import os
import resource
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from studio.engines import files
from studio.engines.errors import StudioInputError
from studio.engines.files import file_sha256
from studio.engines.pixels import resize_long_side, to_uint8
from studio.image_save import check_output_path, save_image
from studio.imageio import LoadedImage, composite_on, load_image
from studio.png_text import read_png_text


def _gradient(h: int = 24, w: int = 32) -> np.ndarray:
    """A smooth, asymmetric uint8 RGB image."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack(
        [x * 255 // (w - 1), y * 255 // (h - 1), (x + 2 * y) * 255 // (w + 2 * h - 3)], -1
    ).astype(np.uint8)


def _save_pil(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def _one_sentence(message: str) -> None:
    assert message.endswith(".")
    assert "\n" not in message


# --------------------------------------------------------------------------------------------
# bad inputs


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StudioInputError, match="does not exist") as err:
        load_image(tmp_path / "nope.png")
    assert "nope.png" in str(err.value)
    _one_sentence(str(err.value))


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(StudioInputError, match="folder .* is missing"):
        load_image(tmp_path / "nodir" / "x.png")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(StudioInputError, match="is a folder") as err:
        load_image(tmp_path)
    _one_sentence(str(err.value))


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(StudioInputError, match=r"empty \(0 bytes\)") as err:
        load_image(path)
    assert "empty.jpg" in str(err.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.fromarray((rng.random((64, 80, 3)) * 255).astype(np.uint8)).save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(StudioInputError, match="truncated or corrupt") as err:
        load_image(path)
    assert path.name in str(err.value)
    _one_sentence(str(err.value))


def test_truncated_even_if_pillow_flag_was_set_elsewhere(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "photo.jpg"
    Image.fromarray(_gradient(64, 64)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(StudioInputError, match="truncated or corrupt"):
        load_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored


def test_a_file_larger_than_studio_opens_is_refused_before_it_is_read(tmp_path: Path, monkeypatch) -> None:
    import studio.imageio

    path = tmp_path / "vast.png"
    with open(path, "wb") as f:  # sparse: 5 GB on paper, nothing on the disk
        f.truncate(5 * 1024**3)
    monkeypatch.setattr(studio.imageio, "file_sha256", lambda p: pytest.fail("the file was read"))
    with pytest.raises(StudioInputError, match=r"vast.png' is 5.0 GB; studio opens image files of up to 4 GB.") as err:
        load_image(path)
    _one_sentence(str(err.value))


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture\n")
    with pytest.raises(StudioInputError, match="not an image file") as err:
        load_image(path)
    assert "notes.png" in str(err.value)
    _one_sentence(str(err.value))


def test_corrupt_png_crc(tmp_path: Path) -> None:
    path = tmp_path / "bad.png"
    Image.fromarray(_gradient()).save(path)
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF  # inside IHDR: its CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(StudioInputError, match="bad.png"):
        load_image(path)


def _png_of_rows(a: np.ndarray, interlace: bool, cut: int = 0) -> bytes:
    """An RGB PNG of ``a`` written by hand (Adam7 when ``interlace``, which Pillow cannot write), its
    filtered rows losing their last ``cut`` bytes before compression (a whole zlib stream that is short)."""
    h, w, _ = a.shape
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
    raw = b"".join(b"\0" + row.tobytes() for x0, y0, dx, dy in (passes if interlace else ((0, 0, 1, 1),))
                   for row in a[y0::dy, x0::dx] if row.size)
    raw = raw[:len(raw) - cut]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, int(interlace)))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("interlace", [False, True])
def test_a_png_whose_pixel_data_ends_early_is_corrupt_not_black(tmp_path: Path, interlace: bool) -> None:
    a = np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    whole = tmp_path / "whole.png"
    whole.write_bytes(_png_of_rows(a, interlace))
    assert np.array_equal(load_image(whole).rgb, a / np.float32(255))
    short = tmp_path / "short.png"
    short.write_bytes(_png_of_rows(a, interlace, cut=1 if interlace else 53 * 3 * 20))  # Pillow: black rows
    with pytest.raises(StudioInputError, match="short.png' is truncated or corrupt: its pixel data ends before"):
        load_image(short)


# --------------------------------------------------------------------------------------------
# decompression bombs and size limits


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny valid 1x1 PNG whose IHDR was patched to claim width x height (CRC fixed)."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (10, 20, 30)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny 8x8 JPEG whose SOF0 was patched to claim width x height."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (100, 150, 200)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    i = data.find(b"\xff\xc0")
    data[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_png_bomb_refused_without_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(100_000, 100_000))
    with pytest.raises(StudioInputError, match="100000 × 100000 pixels .*megapixels studio will open") as err:
        load_image(path)
    # Memory measured in a fresh process: in this one, earlier tests' freed heap makes ru_maxrss noisy.
    import subprocess
    import sys

    code = ("import resource, sys\nfrom studio.imageio import load_image\n"
            "m = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\nb = m()\n"
            "try:\n    load_image(sys.argv[1])\nexcept Exception:\n    pass\nprint(m() - b)\n")
    grown = float(subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                                 check=True).stdout.strip())
    assert grown < 100
    assert "bomb.png" in str(err.value)
    _one_sentence(str(err.value))


def test_jpeg_bomb_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jpg"
    path.write_bytes(_jpeg_claiming(65_000, 65_000))
    with pytest.raises(StudioInputError, match="megapixels studio will open"):
        load_image(path)


def test_huge_jpeg_is_drafted_never_decoded_at_full_size(tmp_path: Path, monkeypatch) -> None:
    # 16000 x 16000 claimed (256 MP, under the hard limit): decoding at full size would need 1 GB;
    # with a 1 MP working limit the draft decodes at 1/8 scale (2000 x 2000) instead.
    path = tmp_path / "huge.jpg"
    path.write_bytes(_jpeg_claiming(16_000, 16_000))
    sizes: list[tuple[int, int]] = []
    original = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        sizes.append(self.size)
        return original(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    before = _max_rss_mb()
    loaded = load_image(path, max_pixels=1_000_000)
    assert set(sizes) == {(2000, 2000)}
    assert loaded.rgb.shape == (1000, 1000, 3)
    assert loaded.original_size == (16_000, 16_000)
    assert loaded.warnings and "256 megapixels" in loaded.warnings[0]
    assert _max_rss_mb() - before < 200


def test_large_jpeg_downscaled_with_warning(tmp_path: Path, monkeypatch) -> None:
    img = np.zeros((400, 600, 3), np.uint8)
    img[:, :300] = (200, 40, 40)
    path = _save_pil(Image.fromarray(img), tmp_path / "big.jpg", quality=95)
    sizes: list[tuple[int, int]] = []
    original = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        sizes.append(self.size)
        return original(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    loaded = load_image(path, max_pixels=6_000)
    h, w = loaded.rgb.shape[:2]
    assert w * h <= 6_000 and abs(w / h - 1.5) < 0.05
    assert sizes[0][0] < 600  # decoded at a reduced DCT scale
    assert loaded.original_size == (600, 400)
    assert len(loaded.warnings) == 1 and "big.jpg" in loaded.warnings[0]
    assert "downscaled" in loaded.warnings[0]
    np.testing.assert_allclose(loaded.rgb[h // 2, 2], [200 / 255, 40 / 255, 40 / 255], atol=0.04)


def test_large_png_downscaled_with_warning(tmp_path: Path) -> None:
    path = _save_pil(Image.fromarray(_gradient(200, 300)), tmp_path / "big.png")
    loaded = load_image(path, max_pixels=6_000, hard_max_pixels=100_000)
    h, w = loaded.rgb.shape[:2]
    assert w * h <= 6_000 and loaded.original_size == (300, 200)
    assert loaded.warnings and "working limit" in loaded.warnings[0]


def test_hard_limit_refuses(tmp_path: Path) -> None:
    path = _save_pil(Image.fromarray(_gradient(200, 300)), tmp_path / "big.png")
    with pytest.raises(StudioInputError, match="big.png"):
        load_image(path, max_pixels=6_000, hard_max_pixels=50_000)


def test_pillow_bomb_check_does_not_leak_through(tmp_path: Path, monkeypatch) -> None:
    path = _save_pil(Image.fromarray(_gradient(100, 100)), tmp_path / "ok.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # Pillow alone would raise here
    loaded = load_image(path)
    assert loaded.rgb.shape == (100, 100, 3) and loaded.warnings == ()
    assert Image.MAX_IMAGE_PIXELS == 1_000  # restored


def test_max_side_downscale_has_no_warning(tmp_path: Path) -> None:
    path = _save_pil(Image.fromarray(_gradient(200, 300)), tmp_path / "a.png")
    loaded = load_image(path, max_side=64)
    assert max(loaded.rgb.shape[:2]) == 64 and loaded.warnings == ()
    assert loaded.size == (64, 42) or loaded.size == (64, 43)
    assert loaded.original_size == (300, 200)


def test_max_side_larger_than_image_keeps_size(tmp_path: Path) -> None:
    path = _save_pil(Image.fromarray(_gradient()), tmp_path / "a.png")
    assert load_image(path, max_side=1000).rgb.shape == (24, 32, 3)


# --------------------------------------------------------------------------------------------
# modes


def test_rgb_png_exact(tmp_path: Path) -> None:
    img = _gradient()
    path = _save_pil(Image.fromarray(img), tmp_path / "rgb.png")
    loaded = load_image(path)
    assert isinstance(loaded, LoadedImage)
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.shape == (24, 32, 3)
    assert loaded.alpha is None
    np.testing.assert_array_equal(to_uint8(loaded.rgb), img)
    assert loaded.sha256 == file_sha256(path) and len(loaded.sha256) == 64
    assert loaded.path == path and loaded.original_size == (32, 24)


def test_grayscale_l(tmp_path: Path) -> None:
    grey = _gradient()[:, :, 0]
    loaded = load_image(_save_pil(Image.fromarray(grey), tmp_path / "l.png"))
    assert loaded.rgb.shape == (24, 32, 3) and loaded.alpha is None
    np.testing.assert_allclose(loaded.rgb[:, :, 1], grey / 255, atol=1e-6)


def test_la(tmp_path: Path) -> None:
    la = np.stack([_gradient()[:, :, 0], _gradient()[:, :, 1]], -1)
    loaded = load_image(_save_pil(Image.fromarray(la, "LA"), tmp_path / "la.png"))
    np.testing.assert_allclose(loaded.rgb[:, :, 2], la[:, :, 0] / 255, atol=1e-6)
    assert loaded.alpha is not None
    np.testing.assert_allclose(loaded.alpha, la[:, :, 1] / 255, atol=1e-6)


def _palette_image() -> Image.Image:
    colours = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], np.uint8)
    return Image.fromarray(colours).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)


def test_palette(tmp_path: Path) -> None:
    loaded = load_image(_save_pil(_palette_image(), tmp_path / "p.png"))
    assert loaded.alpha is None
    np.testing.assert_allclose(loaded.rgb[0, 0], [1, 0, 0])
    np.testing.assert_allclose(loaded.rgb[1, 0], [0, 0, 1])


def test_palette_with_transparency(tmp_path: Path) -> None:
    p = _palette_image()
    red_index = int(np.asarray(p)[0, 0])
    loaded = load_image(_save_pil(p, tmp_path / "pt.png", transparency=red_index))
    assert loaded.alpha is not None
    np.testing.assert_array_equal(loaded.alpha, [[0, 1], [1, 1]])
    np.testing.assert_allclose(loaded.rgb[1, 1], [1, 1, 1])


def test_grayscale_with_transparent_key(tmp_path: Path) -> None:
    grey = np.array([[0, 100], [200, 255]], np.uint8)
    loaded = load_image(_save_pil(Image.fromarray(grey), tmp_path / "lt.png", transparency=100))
    assert loaded.alpha is not None
    np.testing.assert_array_equal(loaded.alpha, [[1, 0], [1, 1]])


@pytest.mark.parametrize(
    ("name", "array"),
    [
        ("i16.png", np.full((4, 5), 32768, np.uint16)),  # PNG 16-bit grey: mode I;16
        ("i16b.tif", np.full((4, 5), 32768, ">u2")),  # big-endian: mode I;16B
        ("i32.tif", np.full((4, 5), 32768, np.int32)),  # mode I
    ],
)
def test_16_bit_grey_scaled_by_65535(tmp_path: Path, name: str, array: np.ndarray) -> None:
    path = _save_pil(Image.fromarray(array), tmp_path / name)
    loaded = load_image(path)
    np.testing.assert_allclose(loaded.rgb, 32768 / 65535, atol=1e-5)


def test_16_bit_full_range(tmp_path: Path) -> None:
    ramp = np.array([[0, 257, 65535, 1000]], np.uint16)
    loaded = load_image(_save_pil(Image.fromarray(ramp), tmp_path / "ramp.png"))
    np.testing.assert_allclose(loaded.rgb[0, :, 0], ramp[0] / 65535, atol=1e-6)


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk(tmp_path: Path, fmt: str) -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red ink
    loaded = load_image(_save_pil(cmyk, tmp_path / f"c.{fmt.lower()}", format=fmt))
    assert loaded.rgb.shape == (16, 16, 3)
    np.testing.assert_allclose(loaded.rgb[8, 8], [1, 0, 0], atol=0.03)


def test_rgba_alpha_separate_and_unpremultiplied(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[..., 3] = 0
    rgba[4:, :, 3] = 128
    loaded = load_image(_save_pil(Image.fromarray(rgba), tmp_path / "rgba.png"))
    assert loaded.alpha is not None and loaded.alpha.shape == (8, 8)
    np.testing.assert_allclose(loaded.rgb[0, 0], [200 / 255, 100 / 255, 50 / 255], atol=1e-6)
    np.testing.assert_allclose(loaded.alpha[5, 0], 128 / 255, atol=1e-6)
    over_white = composite_on(loaded.rgb, loaded.alpha)
    np.testing.assert_allclose(over_white[0, 0], [1, 1, 1])
    a = 128 / 255
    np.testing.assert_allclose(over_white[5, 0, 0], 200 / 255 * a + (1 - a), atol=1e-6)
    over_black = composite_on(loaded.rgb, loaded.alpha, background=(0, 0, 0))
    np.testing.assert_allclose(over_black[0, 0], [0, 0, 0])


def test_embedded_srgb_profile_keeps_pixels(tmp_path: Path) -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    img = _gradient()
    loaded = load_image(_save_pil(Image.fromarray(img), tmp_path / "srgb.png", icc_profile=icc))
    np.testing.assert_array_equal(to_uint8(loaded.rgb), img)
    assert loaded.warnings == ()


def test_broken_colour_profile_is_a_warning(tmp_path: Path) -> None:
    img = _gradient()
    loaded = load_image(_save_pil(Image.fromarray(img), tmp_path / "icc.png", icc_profile=b"not a profile"))
    np.testing.assert_array_equal(to_uint8(loaded.rgb), img)
    assert len(loaded.warnings) == 1 and "colour profile" in loaded.warnings[0]
    assert "icc.png" in loaded.warnings[0]


def test_composite_without_alpha_is_copy() -> None:
    rgb = np.full((2, 2, 3), 0.25, np.float32)
    out = composite_on(rgb, None)
    np.testing.assert_array_equal(out, rgb)
    assert out is not rgb


# --------------------------------------------------------------------------------------------
# EXIF orientation


def _expected_upright(stored: np.ndarray, orientation: int) -> np.ndarray:
    return {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: np.rot90(a, k=2).transpose(1, 0, 2),
        8: lambda a: np.rot90(a, k=1),
    }[orientation](stored)


def _blocky(h_blocks: int = 2, w_blocks: int = 3, block: int = 8) -> np.ndarray:
    """Distinct flat 8x8 blocks: no symmetry, and JPEG keeps them nearly exact."""
    colours = np.array(
        [[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[255, 255, 0], [0, 0, 0], [255, 255, 255]]], np.uint8
    )[:h_blocks, :w_blocks]
    return np.repeat(np.repeat(colours, block, axis=0), block, axis=1)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation(tmp_path: Path, orientation: int, fmt: str) -> None:
    stored = _blocky()
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.{fmt.lower()}"
    Image.fromarray(stored).save(
        path, format=fmt, exif=exif, **({"quality": 100, "subsampling": 0} if fmt == "JPEG" else {})
    )
    loaded = load_image(path)
    expected = _expected_upright(stored, orientation).astype(np.float32) / 255
    assert loaded.rgb.shape == expected.shape
    assert loaded.original_size == (expected.shape[1], expected.shape[0])
    np.testing.assert_allclose(loaded.rgb, expected, atol=0 if fmt == "PNG" else 0.06)


def test_exif_orientation_with_downscale(tmp_path: Path) -> None:
    stored = _blocky(block=40)  # 80 x 120
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rot.png"
    Image.fromarray(stored).save(path, exif=exif)
    loaded = load_image(path, max_side=60)
    assert loaded.rgb.shape == (60, 40, 3)
    assert loaded.original_size == (80, 120)
    expected = _expected_upright(stored, 6)
    np.testing.assert_allclose(loaded.rgb[5, 35], expected[5, 75] / 255, atol=0.02)


# --------------------------------------------------------------------------------------------
# saving


@pytest.mark.parametrize(
    ("ext", "tol"), [(".png", 0), (".tif", 0), (".tiff", 0), (".jpg", 6), (".jpeg", 6), (".webp", 8)]
)
def test_round_trip_rgb(tmp_path: Path, ext: str, tol: int) -> None:
    img = _gradient(48, 64)
    path = save_image(tmp_path / f"out{ext}", img.astype(np.float32) / 255)
    assert path == tmp_path / f"out{ext}"
    back = to_uint8(load_image(path).rgb)
    assert back.shape == img.shape
    assert np.abs(back.astype(int) - img.astype(int)).max() <= tol


@pytest.mark.parametrize("ext", [".png", ".tif", ".webp"])
def test_round_trip_rgba(tmp_path: Path, ext: str) -> None:
    rgba = np.dstack([_gradient(48, 64), np.full((48, 64), 255, np.uint8)])
    rgba[:24, :, 3] = 0
    loaded = load_image(save_image(tmp_path / f"out{ext}", rgba, quality=100))
    assert loaded.alpha is not None
    np.testing.assert_allclose(loaded.alpha[:24], 0, atol=0.02)
    np.testing.assert_allclose(loaded.alpha[24:], 1, atol=0.02)


def test_jpeg_drops_alpha_over_white(tmp_path: Path) -> None:
    rgba = np.zeros((16, 16, 4), np.float32)
    rgba[..., 0] = 1.0  # red, fully transparent -> white
    loaded = load_image(save_image(tmp_path / "out.jpg", rgba))
    assert loaded.alpha is None
    np.testing.assert_allclose(loaded.rgb, 1.0, atol=0.02)


def test_save_clips_floats_and_uppercase_extension(tmp_path: Path) -> None:
    img = np.full((4, 4, 3), 2.0, np.float32)
    img[0, 0] = -1.0
    img[0, 1] = np.nan
    back = load_image(save_image(tmp_path / "OUT.PNG", img)).rgb
    assert back[1, 1].tolist() == [1, 1, 1] and back[0, 0].tolist() == [0, 0, 0]
    assert back[0, 1].tolist() == [0, 0, 0]


def test_png_metadata_round_trip(tmp_path: Path) -> None:
    meta = {"studio:recipe": '{"a": "ünïcode ✓"}', "Software": "studio 0.1.0"}
    path = save_image(tmp_path / "meta.png", _gradient(), metadata=meta)
    assert read_png_text(path) == meta
    with Image.open(path) as img:  # other tools see it too
        img.load()
        assert img.text["studio:recipe"] == meta["studio:recipe"]


def test_read_png_text_of_other_files(tmp_path: Path) -> None:
    jpg = save_image(tmp_path / "a.jpg", _gradient(), metadata={"k": "v"})
    assert read_png_text(jpg) == {}
    assert read_png_text(save_image(tmp_path / "plain.png", _gradient())) == {}
    with pytest.raises(StudioInputError, match="does not exist"):
        read_png_text(tmp_path / "missing.png")


def test_read_png_text_compressed_chunks(tmp_path: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("plain", "latin ascii")
    info.add_text("z", "compressed " * 50, zip=True)
    info.add_itxt("iz", "ütf-8 zipped " * 50, zip=True)
    path = _save_pil(Image.fromarray(_gradient()), tmp_path / "t.png", pnginfo=info)
    texts = read_png_text(path)
    assert texts == {"plain": "latin ascii", "z": "compressed " * 50, "iz": "ütf-8 zipped " * 50}


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(StudioInputError, match=r"'\.bmp'.*use \.png") as err:
        save_image(tmp_path / "out.bmp", _gradient())
    _one_sentence(str(err.value))
    with pytest.raises(StudioInputError, match="no extension"):
        check_output_path(tmp_path / "out")


def test_missing_output_folder(tmp_path: Path) -> None:
    target = tmp_path / "out" / "x.png"
    with pytest.raises(StudioInputError, match="the folder .*out' does not exist") as err:
        save_image(target, _gradient())
    _one_sentence(str(err.value))
    assert not (tmp_path / "out").exists()


def test_output_path_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "d.png").mkdir()
    with pytest.raises(StudioInputError, match="is a folder"):
        check_output_path(tmp_path / "d.png")


def test_overwrite_refused(tmp_path: Path) -> None:
    path = save_image(tmp_path / "x.png", _gradient())
    before = path.read_bytes()
    with pytest.raises(StudioInputError, match="already exists"):
        save_image(path, np.zeros((4, 4, 3)), overwrite=False)
    with pytest.raises(StudioInputError, match="already exists"):
        check_output_path(path, overwrite=False)
    assert path.read_bytes() == before
    save_image(path, np.zeros((4, 4, 3)))  # overwrite=True is the default
    assert load_image(path).rgb.shape == (4, 4, 3)


def test_check_output_path_ok(tmp_path: Path) -> None:
    assert check_output_path(tmp_path / "fine.webp") == tmp_path / "fine.webp"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_save_failure_mid_write(tmp_path: Path, monkeypatch) -> None:
    path = save_image(tmp_path / "keep.png", _gradient())
    before = path.read_bytes()

    def failing_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG partial data")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(StudioInputError, match="keep.png' could not be written: No space left on device"):
        save_image(path, np.zeros((8, 8, 3)))
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == ["keep.png"]


def test_atomic_save_non_os_error_propagates_and_cleans_up(tmp_path: Path, monkeypatch) -> None:
    def failing_save(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        save_image(tmp_path / "new.png", np.zeros((8, 8, 3)))
    assert _leftovers(tmp_path) == []


def test_atomic_save_replace_fails(tmp_path: Path, monkeypatch) -> None:
    path = save_image(tmp_path / "keep.jpg", _gradient())
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(StudioInputError, match="Permission denied"):
        save_image(path, np.zeros((8, 8, 3)))
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == ["keep.jpg"]


def test_saved_file_has_normal_permissions(tmp_path: Path) -> None:
    path = save_image(tmp_path / "perm.png", _gradient())
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_bad_shape_and_quality(tmp_path: Path) -> None:
    with pytest.raises(StudioInputError, match="shape"):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 2)))
    with pytest.raises(StudioInputError, match="quality"):
        save_image(tmp_path / "x.jpg", np.zeros((4, 4, 3)), quality=0)


# --------------------------------------------------------------------------------------------
# pixel helpers


def test_to_uint8() -> None:
    f = np.array([0.0, 0.5, 1.0, 1.5, -0.2, np.nan], np.float32)
    np.testing.assert_array_equal(to_uint8(f), [0, 128, 255, 255, 0, 0])
    u = np.array([1, 2], np.uint8)
    assert to_uint8(u) is u
    np.testing.assert_array_equal(to_uint8(np.array([0, 32768, 65535], np.uint16)), [0, 128, 255])


def test_resize_long_side() -> None:
    img = np.random.default_rng(0).random((100, 200, 3)).astype(np.float32)
    small = resize_long_side(img, 50)
    assert small.shape == (25, 50, 3) and small.dtype == np.float32
    big = resize_long_side(img, 400)
    assert big.shape == (200, 400, 3) and big.min() >= 0 and big.max() <= 1
    np.testing.assert_allclose(small.mean(), img.mean(), atol=0.01)
    assert resize_long_side(img, 200).shape == img.shape
    with pytest.raises(StudioInputError):
        resize_long_side(img, 0)


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _real_png_bomb(path: Path, side: int) -> None:
    """A valid RGB PNG of side x side black pixels: a few hundred KB that decode to side² x 3 bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\x00" * (1 + side * 3)
    idat = b"".join(z.compress(row * 64) for _ in range(side // 64)) + z.compress(row * (side % 64)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_a_real_png_bomb_is_refused_from_its_header_under_a_memory_ceiling(tmp_path: Path) -> None:
    """The issue's bomb had real pixels: the EXIF look-up decoded all of them before the size check."""
    import subprocess
    import sys

    path = tmp_path / "bomb.png"
    _real_png_bomb(path, 6000)  # 108 MB of pixels in about 100 KB
    assert path.stat().st_size < 1_000_000
    code = (
        "import resource, sys\nfrom studio.imageio import load_image\n"
        "from studio.engines.errors import StudioInputError\n"
        "vm = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmSize'))\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + 400 * 2**20, vm + 400 * 2**20))  # a ceiling\n"
        "m = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\nb = m()\n"
        "try:\n    load_image(sys.argv[1], max_pixels=4_000_000, hard_max_pixels=20_000_000)\n"
        "except StudioInputError as e:\n    print(e)\nprint('grown', m() - b)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "6000 × 6000 pixels (36 megapixels), more than the 20 megapixels studio will open" in out.stdout
    grown = float(out.stdout.split("grown")[-1])
    assert grown < 20, f"{grown:.0f} MB grown: the pixels were decoded before the size was checked"


def test_an_image_made_of_arrays_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    from studio.imageio import LoadedImage

    ok = np.zeros((4, 5, 3), np.float32)
    LoadedImage(rgb=ok, alpha=np.ones((4, 5), np.float32), path=tmp_path, sha256="", original_size=(5, 4))
    for rgb, alpha in ((np.zeros((4, 5), np.float32), None), (np.zeros((0, 5, 3), np.float32), None),
                       (np.zeros((4, 5, 3), np.uint8), None), (ok, np.ones((5, 4), np.float32))):
        with pytest.raises(ValueError, match="an image's"):  # a kept session's arrays could be anything
            LoadedImage(rgb=rgb, alpha=alpha, path=tmp_path, sha256="", original_size=(5, 4))
