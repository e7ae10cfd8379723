"""Two screenshots of a page compared (check/visual.py): what share of it changed and
where, the side-by-side picture an alert carries, the thumbnail a report shows, and the
bytes refused. The pages are drawn here: a white page of job rows, as a careers page."""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Sequence

import pytest
from PIL import Image, ImageChops, ImageDraw
from scrubwatch.check.visual import (
    MAX_REGIONS,
    NotAnImage,
    VisualChange,
    before_after,
    compare,
    thumbnail,
)

WIDTH = 1280
HEADER = 60  # the page's dark band at the top
ROW = 80  # a job row's height
FOOTER = 40
CELL = 16  # compare's default grid

Box = tuple[int, int, int, int]

TITLES = (
    "Engineer, Urumqi",
    "Translator",
    "Data analyst, Kashgar",
    "Driver",
    "Security officer, Hotan",
    "Teacher",
    "Logistics manager",
    "Interpreter, Aksu",
    "Accountant",
    "Nurse, Turpan",
    "Cook",
)


def job_page(jobs: Sequence[int], *, width: int = WIDTH) -> Image.Image:
    """A careers page: a header band, then a row per job (a title, a line of detail and a
    coloured tag as long as the job's number says), so no two neighbouring rows look
    alike and rows shifted up are rows changed. Nothing on it is red."""
    page = Image.new("RGB", (width, HEADER + ROW * len(jobs) + FOOTER), "white")
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, width - 1, HEADER - 20), fill=(20, 40, 90))
    for index, job in enumerate(jobs):
        top = row_top(index)
        title = f"{TITLES[job % len(TITLES)]} ({job})"
        draw.text((40, top), title, fill="black", font_size=20)
        draw.text((40, top + 28), f"Posted {job % 28 + 1} March", fill=(90, 90, 90), font_size=14)
        tag = 120 + 45 * (job % 7)
        draw.rectangle((600, top + 4, 600 + tag, top + 40), fill=(40, 120 + job % 5 * 20, 200))
    return page


def row_top(index: int) -> int:
    return HEADER + ROW * index


def drawn(page: Image.Image, index: int) -> list[Box]:
    """Where the index-th row of the page drew its text, and its tag, in page pixels."""
    top = row_top(index)
    band = page.crop((0, top, page.width, top + ROW))
    ink = ImageChops.difference(band, Image.new("RGB", band.size, "white"))
    boxes = []
    for left, right in ((0, 580), (580, page.width)):
        found = ink.crop((left, 0, right, ROW)).getbbox()
        assert found is not None
        boxes.append((left + found[0], top + found[1], left + found[2], top + found[3]))
    return boxes


def covered(boxes: Sequence[Box], regions: Sequence[Box]) -> bool:
    return all(any(inside(box, region) for region in regions) for box in boxes)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def inside(inner: Box, outer: Box) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def red_pixels(image: Image.Image, box: Box) -> int:
    """Pixels of a clear red in the box of the image (JPEG moves colours a little)."""
    red, green, blue = image.crop(box).split()
    clear = ImageChops.multiply(
        ImageChops.multiply(
            red.point(lambda v: 255 if v > 180 else 0),
            green.point(lambda v: 255 if v < 90 else 0),
        ),
        blue.point(lambda v: 255 if v < 90 else 0),
    )
    return clear.histogram()[255]


TEN = list(range(10))


# What changed


def test_identical_screenshots_are_no_change() -> None:
    page = png(job_page(TEN))
    change = compare(page, page)
    assert change == VisualChange(0.0, (), (WIDTH, 900), (WIDTH, 900))
    assert change.percent() == "0 %"


def test_a_removed_row_is_the_change_from_it_to_the_end() -> None:
    before = job_page(TEN)
    after = job_page([job for job in TEN if job != 3])  # rows 4 to 9 move up a row
    change = compare(png(before), png(after))

    assert change.before_size == (WIDTH, 900)
    assert change.after_size == (WIDTH, 820)
    # The removed row and every row below it (shifted, or gone from the end) changed,
    # though only where rows draw, never the white between and right of them.
    assert 0.05 < change.share < 0.4
    assert change.percent() == f"{round(change.share * 100)} %"
    assert 1 <= len(change.regions) <= MAX_REGIONS
    for index in range(3, 10):
        assert covered(drawn(before, index), change.regions), index
    # Nothing above the removed row, nothing right of where rows draw.
    assert min(region[1] for region in change.regions) >= row_top(3) - CELL
    assert max(region[2] for region in change.regions) <= 600 + 120 + 45 * 6 + CELL
    assert change.regions == tuple(sorted(change.regions, key=lambda box: (box[1], box[0])))


def test_a_page_that_grew_changed_only_where_it_grew() -> None:
    after = job_page([*TEN, 10, 11])
    change = compare(png(job_page(TEN)), png(after))
    assert change.after_size == (WIDTH, 1060)
    assert 0.01 < change.share < 0.2
    assert all(region[1] >= row_top(10) - CELL for region in change.regions)
    assert covered(drawn(after, 10) + drawn(after, 11), change.regions)


def test_a_page_that_shrank_changed_where_its_end_was() -> None:
    before = job_page(TEN)
    change = compare(png(before), png(job_page(TEN[:8])))
    assert change.after_size == (WIDTH, 740)
    assert 0.01 < change.share < 0.2
    # The lost rows are where they were on the before, below the after's end.
    assert all(region[1] >= row_top(8) - CELL for region in change.regions)
    assert all(region[3] <= 900 for region in change.regions)
    assert covered(drawn(before, 8) + drawn(before, 9), change.regions)


def test_jitter_below_the_tolerance_is_no_change() -> None:
    before = job_page(TEN)
    # Every channel of every pixel off by 20, as a renderer's colour handling might.
    nudged = before.point(lambda v: v - 20 if v >= 20 else v + 20)
    assert compare(png(before), png(nudged)).share == 0.0
    # A faint one-pixel antialiasing fringe around each tag, and stray pixels of any
    # colour: no 4 × 4 block of them differs by 24 on average.
    fringed = before.copy()
    draw = ImageDraw.Draw(fringed)
    for index in range(10):
        top = row_top(index)
        tag = 120 + 45 * (index % 7)
        draw.rectangle((599, top + 3, 601 + tag, top + 41), outline=(235, 235, 235))
        draw.point((900 + 7 * index, top + 60), fill="black")
    assert compare(png(before), png(fringed)) == VisualChange(0.0, (), (WIDTH, 900), (WIDTH, 900))


def test_past_the_tolerance_everything_changed() -> None:
    before = job_page(TEN)
    shifted = before.point(lambda v: v - 30 if v >= 30 else v + 30)
    change = compare(png(before), png(shifted))
    assert change.share == 1.0
    assert change.percent() == "100 %"
    assert change.regions == ((0, 0, WIDTH, 900),)
    assert compare(png(before), png(shifted), tolerance=40).share == 0.0


def test_a_small_change_is_seen_where_it_is() -> None:
    """A changed character of small text: a few pixels, but together."""
    before = job_page(TEN)
    after = before.copy()
    ImageDraw.Draw(after).rectangle((1000, 500, 1005, 507), fill="black")
    change = compare(png(before), png(after))
    assert change.regions == ((992, 496, 1008, 512),)
    assert change.percent() == "<1 %"


def test_the_same_page_in_other_modes_is_no_change() -> None:
    before = job_page(TEN)
    clear = Image.new("RGBA", before.size, (0, 0, 0, 0))
    # Everything but the white background, on a transparent one: the browser shows white.
    clear.paste(before, (0, 0), Image.eval(before.convert("L"), lambda v: 0 if v == 255 else 255))
    for after in (before.convert("RGBA"), before.quantize(64), clear):
        assert compare(png(before), png(after)).share == 0.0, after.mode


def test_many_scattered_changes_are_a_few_boxes_holding_them_all() -> None:
    before = job_page(list(range(60)))
    after = before.copy()
    draw = ImageDraw.Draw(after)
    spots = random.Random(7)
    marks = [
        (spots.randrange(0, WIDTH - 10), spots.randrange(0, before.height - 10)) for _ in range(300)
    ]
    for x, y in marks:
        draw.rectangle((x, y, x + 9, y + 9), fill=(255, 0, 255))
    change = compare(png(before), png(after))
    assert 1 <= len(change.regions) <= MAX_REGIONS
    for x, y in marks:
        assert any(inside((x, y, x + 10, y + 10), region) for region in change.regions)
    for number, first in enumerate(change.regions):
        for second in change.regions[number + 1 :]:
            apart = first[2] <= second[0] or second[2] <= first[0]
            assert apart or first[3] <= second[1] or second[3] <= first[1], (first, second)
    assert change.regions == tuple(sorted(change.regions, key=lambda box: (box[1], box[0])))


@pytest.mark.parametrize(
    ("share", "said"),
    [
        (0.0, "0 %"),
        (0.00001, "<1 %"),
        (0.004, "<1 %"),
        (0.005, "1 %"),
        (0.125, "13 %"),
        (0.5, "50 %"),
        (0.996, ">99 %"),
        (1.0, "100 %"),
    ],
)
def test_percent(share: float, said: str) -> None:
    assert VisualChange(share, (), (1, 1), (1, 1)).percent() == said


def test_cell_and_tolerance_out_of_range_are_refused() -> None:
    page = png(job_page([1]))
    for options in ({"cell": 0}, {"tolerance": -1}, {"tolerance": 256}):
        with pytest.raises(ValueError, match="must be"):
            compare(page, page, **options)


# The side-by-side picture


def test_before_after_outlines_each_region_on_both_sides() -> None:
    before, after = png(job_page(TEN)), png(job_page([job for job in TEN if job != 3]))
    change = compare(before, after)
    data, mime = before_after(before, after, change)
    assert len(data) <= 1_500_000
    picture = decode(data)
    assert Image.open(io.BytesIO(data)).get_format_mimetype() == mime
    scale = picture.height / 900
    side = round(WIDTH * scale)
    assert abs(picture.width - 2 * side) <= 32  # and a small gap
    for left in (0, picture.width - side):
        for region in change.regions:
            # The outline runs just outside the region's top edge.
            top = round(region[1] * scale)
            edge = (
                left + round(region[0] * scale),
                max(0, top - 4),
                left + round(region[2] * scale),
                top,
            )
            assert red_pixels(picture, edge) >= (edge[2] - edge[0]) * 2, (left, region)
    # Red only where regions are: above the removed row's cells, none on either side.
    above = round((row_top(3) - CELL) * scale) - 4
    assert red_pixels(picture, (0, 0, picture.width, above)) == 0


def test_before_after_of_no_change_has_no_outline() -> None:
    page = png(job_page(TEN))
    data, _ = before_after(page, page, compare(page, page))
    picture = decode(data)
    assert red_pixels(picture, (0, 0, *picture.size)) == 0


def test_before_after_keeps_within_a_small_budget() -> None:
    before, after = png(job_page(list(range(40)))), png(job_page(list(range(1, 40))))
    change = compare(before, after)
    data, _ = before_after(before, after, change, max_bytes=60_000)
    assert len(data) <= 60_000
    assert decode(data).width < 2 * WIDTH


@pytest.fixture(scope="module")
def noisy_pair() -> tuple[bytes, bytes]:
    """Two different 1280 × 15,000 pages of noise: no PNG or good JPEG of them is small.
    Saved as JPEG to keep the test quick (compare reads either)."""
    pair = []
    for seed in (1, 2):
        noise = random.Random(seed)
        tile = Image.frombytes("RGB", (WIDTH, 1000), noise.randbytes(WIDTH * 1000 * 3))
        page = Image.new("RGB", (WIDTH, 15_000))
        for top in range(0, 15_000, 1000):
            page.paste(tile, (0, top))
        buffer = io.BytesIO()
        page.save(buffer, "JPEG", quality=90)
        pair.append(buffer.getvalue())
    return pair[0], pair[1]


def test_before_after_of_big_noisy_pages_is_a_smaller_jpeg(noisy_pair: tuple[bytes, bytes]) -> None:
    before, after = noisy_pair
    change = compare(before, after)
    assert change.share == 1.0
    assert change.regions == ((0, 0, WIDTH, 15_000),)
    data, mime = before_after(before, after, change)
    assert mime == "image/jpeg"
    assert len(data) <= 1_500_000
    picture = decode(data)
    scale = picture.height / 15_000
    assert scale < 1
    side = round(WIDTH * scale)
    assert abs(picture.width - 2 * side) <= 32
    # The whole page is the region: its outline is each side's border.
    for left in (0, picture.width - side):
        assert red_pixels(picture, (left, 0, left + 2, picture.height)) > picture.height


def test_before_after_wants_the_change_of_these_pages() -> None:
    before, after = png(job_page(TEN)), png(job_page(TEN[:8]))
    other = compare(before, before)
    with pytest.raises(ValueError, match="other images"):
        before_after(before, after, other)


# The thumbnail


def test_thumbnail_of_a_short_page() -> None:
    data, mime = thumbnail(png(job_page(TEN)))
    picture = decode(data)
    assert picture.size == (480, round(900 * 480 / WIDTH))
    assert len(data) <= 200_000
    assert mime in ("image/png", "image/jpeg")


def test_thumbnail_of_a_tall_page_is_its_top() -> None:
    page = job_page(list(range(180)))  # 14,500 px
    data, _ = thumbnail(png(page), 400)
    picture = decode(data)
    assert picture.size == (400, 1200)  # 3 × the width
    # Its top: the header band, as on the page.
    assert picture.getpixel((200, 5)) == pytest.approx((20, 40, 90), abs=12)


def test_thumbnail_of_noise_keeps_its_width_and_budget(noisy_pair: tuple[bytes, bytes]) -> None:
    for budget in (200_000, 30_000):
        data, mime = thumbnail(noisy_pair[0], max_bytes=budget)
        assert len(data) <= budget
        assert mime == "image/jpeg"
        picture = decode(data)
        assert picture.width == 480
        assert 8 <= picture.height <= 1440


def test_thumbnail_does_not_enlarge_a_narrow_page() -> None:
    data, _ = thumbnail(png(job_page(TEN, width=300)))
    assert decode(data).width == 300


# Bytes refused


def png_header(width: int, height: int) -> bytes:
    """A PNG that says it is width × height, and has no pixels: a bomb's first bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    shape = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", shape) + chunk(b"IEND", b"")


def gif() -> bytes:
    buffer = io.BytesIO()
    job_page([1]).save(buffer, "GIF")
    return buffer.getvalue()


GOOD = png(job_page([1, 2]))
BAD = {
    "empty": b"",
    "text": b"<html>not an image</html>",
    "truncated": GOOD[: len(GOOD) // 2],
    "only a header": png_header(100, 100),
    "a GIF": gif(),
    # 8,000 × 8,000 one-bit pixels: 8 KB that would be 190 MB as RGB.
    "over our limit": png(Image.new("1", (8000, 8000))),
    "over Pillow's limit": png_header(100_000, 100_000),
}


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
def test_what_is_not_a_readable_screenshot_is_refused(bad: bytes) -> None:
    with pytest.raises(NotAnImage):
        compare(GOOD, bad)
    with pytest.raises(NotAnImage):
        compare(bad, GOOD)
    with pytest.raises(NotAnImage):
        thumbnail(bad)
    change = VisualChange(0.0, (), (WIDTH, 260), (WIDTH, 260))
    with pytest.raises(NotAnImage):
        before_after(bad, GOOD, change)


def test_a_very_wide_and_a_very_tall_page_are_refused_together() -> None:
    wide, tall = png(Image.new("1", (20_000, 100))), png(Image.new("1", (100, 20_000)))
    assert compare(wide, wide).share == 0.0
    with pytest.raises(NotAnImage, match="too many"):
        compare(wide, tall)
