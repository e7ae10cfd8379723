"""What changed on a rendered page, seen: two full-page screenshots compared with Pillow.

A text diff says what words went; a journalist also wants to see where on the page, and
how much of it, changed (a job list cut by half reads differently from a changed footer).
So the before and after screenshots are compared on a grid of cells, and the changed
cells are merged into a few boxes to outline on a side-by-side picture and to count as
a share of the page.

Pure computation on bytes, no files, no network. Screenshots come from a browser we
drive, but the page drew them, so they are treated as hostile: only PNG and JPEG are
decoded, and a size limit of our own refuses a decompression bomb before any pixel is.

numpy is not a dependency, so the per-pixel work stays in Pillow's C code (difference,
reduce, point tables, filters) and Python only walks the small grid of cells: a pair of
1280 × 8,000 screenshots takes about 0.3 s, most of it decoding the two PNGs.
"""

from __future__ import annotations

import io
import math
import re
import struct
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFile, ImageFilter

Box = tuple[int, int, int, int]  # left, top, right, bottom; right and bottom excluded

# No screenshot of ours comes near this (1280 × 20,000 is 25.6 megapixels); decoded as RGB
# it is 240 MB, the most one image may take in a worker. Pillow's own guard warns only
# from 89 megapixels.
MAX_PIXELS = 60_000_000
# Boxes outlined at most: past a score of boxes a reader sees noise, not places.
MAX_REGIONS = 20

_FORMATS = ("PNG", "JPEG")
# What Pillow raises on bytes it cannot read: unknown format (OSError), truncated or
# broken streams (OSError, EOFError, SyntaxError, struct.error from some chunk parsers),
# a mode that will not convert (ValueError).
_DECODE_ERRORS = (OSError, EOFError, SyntaxError, ValueError, struct.error)
_WHITE = (255, 255, 255)  # what a page without a background is drawn on
_RED = (255, 0, 0)
_BACKDROP = (150, 150, 150)  # the gap, and below the shorter page: where no page is

# A cell is judged on the means of its BLOCK × BLOCK pixel blocks (see _changed_cells).
_BLOCK = 4
# Rows of pixels compared at once: two strips of 1280 × 1024 RGB are 10 MB, however tall
# the page, instead of a third copy of both pages padded to one size.
_STRIP = 1024
_NO_RUN = re.compile(rb"[^\x00]+")
_ANY = [0] + [255] * 255  # a point() table: anything but 0 is 255
# Changed cells at most this many unchanged cells apart are one change: the lines of a
# list shifted by a removed row are one box, not one a line. Even: each changed cell is
# grown by half of it (a max filter) to find them.
_JOIN = 2
# Boxes found before the exact nearest-pair merge, which is quadratic in them per merge.
_CLUSTERS = 2 * MAX_REGIONS

# The side-by-side picture starts at full size up to 24 megapixels (two 1280 px pages
# 9,300 px tall): a text page's PNG shrinks badly once resampled (a 1280 × 8,000 pair was
# 0.9 MB at full size, 1.8 MB at 0.6 of it), so full size is the best chance for a PNG.
_PICTURE_PIXELS = 24_000_000
_MAX_SIDE = 16_000  # JPEG's limit is 65,535 px; mail clients give up long before
_GAP = 16
_LINE = 3  # outline width in output pixels: visible, and red still after JPEG
_THUMBNAIL_RATIO = 3  # a thumbnail shows at most the top 3 × its width of the page
# JPEG qualities tried after PNG, with chroma subsampling (0 is 4:4:4: sharp coloured
# text and red outlines; 2 is 4:2:0: smaller). Below 55 text smears: a smaller picture
# reads better than a worse one.
_JPEG_LADDER = ((85, 0), (70, 0), (55, 2))
# A PNG of a screenshot is tried only while the first JPEG is within this many times the
# budget: a text page's PNG is about half its JPEG at 85, a photo's or noise's several
# times it, and a 24-megapixel PNG of noise takes 8 s to make.
_PNG_HOPE = 3
# Lower qualities are tried only while the first JPEG is within this many times the
# budget: 55 with 4:2:0 is about half of 85 with 4:4:4, so past that only smaller helps.
_LADDER_HOPE = 2.5
_ATTEMPTS = 8


class NotAnImage(ValueError):
    """Bytes that are not a PNG or JPEG Pillow can read, or an image of too many pixels."""


@dataclass(frozen=True)
class VisualChange:
    share: float  # 0.0 to 1.0: the share of the page's area (the union of both) that changed
    # Changed boxes (left, top, right, bottom; right and bottom excluded) in page pixels,
    # top to bottom, then left to right; at most MAX_REGIONS, none overlapping.
    regions: tuple[Box, ...]
    before_size: tuple[int, int]
    after_size: tuple[int, int]

    def percent(self) -> str:
        """The share for a sentence: "12 %", "<1 %" for a little, never "0 %" for some."""
        if self.share <= 0:
            return "0 %"
        whole = math.floor(self.share * 100 + 0.5)
        if whole < 1:
            return "<1 %"
        if whole >= 100 and self.share < 1:
            return ">99 %"
        return f"{whole} %"


def compare(before: bytes, after: bytes, *, cell: int = 16, tolerance: int = 24) -> VisualChange:
    """What changed between two screenshots, on a grid of cell × cell pixels.

    Both are laid on one canvas as wide and tall as the larger, padded with white (a
    page's usual background), so a page that got shorter shows its lost end as changed.
    A cell changed when some 4 × 4 block of it differs on average by more than tolerance
    (0 to 255) in a channel; the default lets the jitter of rendering and JPEG pass.
    Raises NotAnImage for bytes that are not a readable PNG or JPEG, or too large.
    """
    if cell < 1:
        raise ValueError(f"cell must be at least 1 pixel, not {cell}")
    if not 0 <= tolerance <= 255:
        raise ValueError(f"tolerance must be from 0 to 255, not {tolerance}")
    old_file, new_file = _open(before), _open(after)
    page = _union(old_file.size, new_file.size)
    old, new = _load(old_file), _load(new_file)
    columns, rows = -(-page[0] // cell), -(-page[1] // cell)
    changed = _changed_cells(old, new, page, cell, tolerance)
    return VisualChange(
        share=_share(changed, (columns, rows), cell, page),
        regions=_regions(changed, (columns, rows), cell, page),
        before_size=old.size,
        after_size=new.size,
    )


def before_after(
    before: bytes, after: bytes, change: VisualChange, *, max_bytes: int = 1_500_000
) -> tuple[bytes, str]:
    """The before (left) and after (right) side by side, change's regions outlined in red
    on both, as a PNG or JPEG of at most max_bytes: (bytes, mime type).

    Each side is as wide as the wider page and as tall as the taller, grey where a page
    has ended, so a removed region shows where it was on the before and that the after
    has nothing there. At full size up to 24 megapixels, then smaller while neither a
    PNG nor a JPEG of fair quality fits. Raises NotAnImage as compare() does, and
    ValueError when change is not of these pages or max_bytes is too small for any.
    """
    old_file, new_file = _open(before), _open(after)
    page = _union(old_file.size, new_file.size)
    old, new = _load(old_file), _load(new_file)  # first: broken bytes are NotAnImage
    if (old.size, new.size) != (change.before_size, change.after_size):
        raise ValueError("the change was measured on other images (their sizes differ)")
    width, height = page
    scale = min(
        1.0,
        math.sqrt(_PICTURE_PIXELS / ((2 * width + _GAP) * height)),
        _MAX_SIDE / (2 * width + _GAP),
        _MAX_SIDE / height,
    )
    for _ in range(_ATTEMPTS):
        fitted = _fit(_side_by_side(old, new, page, change.regions, scale), max_bytes)
        if not isinstance(fitted, int):
            return fitted
        # The JPEG's size goes with the picture's area, the square of the scale.
        scale *= _shrink(math.sqrt(max_bytes / fitted))
        if width * scale < 8 or height * scale < 8:
            break
    raise ValueError(f"no side-by-side picture of these pages fits in {max_bytes} bytes")


def thumbnail(image: bytes, width: int = 480, *, max_bytes: int = 200_000) -> tuple[bytes, str]:
    """A small picture of a screenshot for a report: (PNG or JPEG bytes, mime type).

    width wide (a narrower screenshot is not enlarged) and at most 3 × width tall: a tall
    page is cut to its top, where the title and the start of its content are, instead of
    shrunk to a sliver. If even a JPEG of fair quality is over max_bytes, it is cut
    shorter, never narrower. Raises NotAnImage as compare() does.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1 pixel, not {width}")
    page = _load(_open(image))
    scale = min(1.0, width / page.width)
    # Cut before scaling: the rest of a 20,000 px page is never resampled.
    source_height = min(page.height, math.ceil(_THUMBNAIL_RATIO * page.width))
    for _ in range(_ATTEMPTS):
        small = _scaled(page.crop((0, 0, page.width, source_height)), scale)
        fitted = _fit(small, max_bytes)
        if not isinstance(fitted, int):
            return fitted
        # Only the height changes, so the JPEG's size goes with it.
        source_height = math.floor(source_height * _shrink(max_bytes / fitted))
        if source_height * scale < 8:
            break
    raise ValueError(f"no thumbnail of this page fits in {max_bytes} bytes")


# Decoding


def _open(data: bytes) -> ImageFile.ImageFile:
    """The image's header read, its size checked against MAX_PIXELS; no pixel decoded."""
    try:
        opened = Image.open(io.BytesIO(data), formats=_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own guard, from 89 megapixels (a warning, unless warnings are errors).
        raise NotAnImage(f"too many pixels: {error}") from error
    except _DECODE_ERRORS as error:
        # Not the error's text: Pillow's names the BytesIO object, which says nothing.
        raise NotAnImage("not a PNG or JPEG image") from error
    width, height = opened.size
    if width * height > MAX_PIXELS:
        raise NotAnImage(f"{width} × {height} pixels, more than {MAX_PIXELS:,} allowed")
    return opened


def _load(opened: ImageFile.ImageFile) -> Image.Image:
    """The pixels as RGB, anything transparent drawn on white as the browser shows it."""
    try:
        opened.load()
        if opened.mode == "RGB":
            return opened
        if opened.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in opened.info:
            rgba = opened.convert("RGBA")
            flat = Image.new("RGB", rgba.size, _WHITE)
            flat.paste(rgba, (0, 0), rgba)
            return flat
        return opened.convert("RGB")
    except _DECODE_ERRORS as error:
        raise NotAnImage(f"a broken {opened.format} image: {error}") from error


def _union(first: tuple[int, int], second: tuple[int, int]) -> tuple[int, int]:
    """The canvas both pages are laid on; refused when it would be absurdly large."""
    width, height = max(first[0], second[0]), max(first[1], second[1])
    # Each image is under the limit, but one very wide and one very tall would make a
    # canvas of billions of cells to walk.
    if width * height > 2 * MAX_PIXELS:
        raise NotAnImage(f"together {width} × {height} pixels, too many to compare")
    return width, height


# Comparing


def _changed_cells(
    old: Image.Image, new: Image.Image, page: tuple[int, int], cell: int, tolerance: int
) -> bytes:
    """One byte a cell, row by row: 255 where the cell changed, 0 where it did not.

    Neither the largest single-pixel difference nor a cell's mean: a cell changed when
    the mean difference of one of its 4 × 4 pixel blocks exceeds tolerance in a channel
    (2 × 2 or single pixels for a cell that 4 does not divide).
    A single pixel's maximum sees antialiasing and subpixel jitter of text edges
    everywhere; a 16 × 16 mean dilutes a changed digit of small text, ink on a fifth of
    the cell, below any useful tolerance. A 4 × 4 mean needs a few pixels together: at
    the default tolerance a stray pixel never counts alone (255 / 16 < 24), a changed
    glyph stroke does, and jitter no greater than tolerance never does.
    """
    width, height = page
    over = [255 if value > tolerance else 0 for value in range(256)] * 3
    strip = cell * max(1, _STRIP // cell)
    parts: list[bytes] = []
    for top in range(0, height, strip):
        box = (0, top, width, min(height, top + strip))
        difference = ImageChops.difference(_padded(old, box), _padded(new, box))
        if difference.getbbox() is None:
            # The common case of an unchanged stretch: nothing to reduce.
            parts.append(bytes(-(-width // cell) * -(-(box[3] - top) // cell)))
        else:
            parts.append(_hot_cells(difference, cell, over))
    return b"".join(parts)


def _hot_cells(difference: Image.Image, cell: int, over: list[int]) -> bytes:
    """_changed_cells of one strip, from its RGB difference; over is the point() table
    making a channel's block mean 255 past the tolerance, else 0."""
    block = math.gcd(cell, _BLOCK)  # a cell of 6 px is judged on 2 × 2 blocks
    if block > 1:
        difference = difference.reduce(block)
    red, green, blue = difference.point(over).split()
    hot = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    pooled = cell // block
    if pooled == 1:
        return hot.tobytes()
    # Any hot block makes the cell changed. reduce() rounds an 8-bit mean to zero once a
    # cell has more than about 500 blocks, so the mean is taken in floats, then scaled so
    # that one hot block of the cell reaches 255 before the cut to 8 bits.
    area = 2 * pooled * pooled
    return hot.convert("F").reduce(pooled).point(lambda v: v * area).convert("L").tobytes()


def _padded(image: Image.Image, box: Box) -> Image.Image:
    """The box of the image, white where the image does not reach (crop() pads black)."""
    left, top, right, bottom = box
    if image.width >= right and image.height >= bottom:
        return image.crop(box)
    canvas = Image.new("RGB", (right - left, bottom - top), _WHITE)
    if top < image.height:
        canvas.paste(image.crop((left, top, image.width, min(bottom, image.height))), (0, 0))
    return canvas


def _share(changed: bytes, grid: tuple[int, int], cell: int, page: tuple[int, int]) -> float:
    """The changed cells' area over the page's, the last column and row counted as only
    as wide and tall as the page reaches into them."""
    columns, rows = grid
    width, height = page
    last_width = width - (columns - 1) * cell
    last_height = height - (rows - 1) * cell
    area = 0
    for y in range(rows):
        row = changed[y * columns : (y + 1) * columns]
        count = columns - row.count(0)
        if count:
            row_width = count * cell - (cell - last_width if row[-1] else 0)
            area += row_width * (cell if y < rows - 1 else last_height)
    return area / (width * height)


# Regions


def _regions(
    changed: bytes, grid: tuple[int, int], cell: int, page: tuple[int, int]
) -> tuple[Box, ...]:
    """The changed cells as at most MAX_REGIONS boxes in page pixels, top to bottom."""
    if changed.count(0) == len(changed):
        return ()
    boxes = _merge_close(_clusters(changed, grid), MAX_REGIONS)
    width, height = page
    pixels = [
        (left * cell, top * cell, min(right * cell, width), min(bottom * cell, height))
        for left, top, right, bottom in boxes
    ]
    return tuple(sorted(pixels, key=lambda box: (box[1], box[0])))


def _clusters(changed: bytes, grid: tuple[int, int]) -> list[Box]:
    """Groups of changed cells, in cells, each box tight around its own changed cells.

    Cells join when at most _JOIN unchanged cells lie between them. While that leaves more
    than a few dozen groups, the grid is coarsened 2 × 2 and grouped again, joining nearby
    groups much as merging nearest pairs would, without comparing thousands of pairs.
    """
    columns, rows = grid
    coarse = Image.frombytes("L", grid, changed)
    scale = 1
    while True:
        joined = coarse.filter(ImageFilter.MaxFilter(_JOIN + 1))
        runs, parent = _label(joined.tobytes(), joined.size)
        groups = len({_find(parent, ident) for ident in range(len(parent))})
        if groups <= _CLUSTERS or coarse.size == (1, 1):
            break
        coarse = coarse.reduce(2).point(_ANY)  # a cell of the coarse grid: any of 2 × 2
        scale *= 2
    starts = [[run[0] for run in row] for row in runs]
    boxes: dict[int, Box] = {}
    for y in range(rows):
        coarse_row = y // scale
        for match in _NO_RUN.finditer(changed, y * columns, (y + 1) * columns):
            left, right = match.start() - y * columns, match.end() - y * columns
            # The joined run holding this run's first cell (joined covers every cell).
            index = bisect_right(starts[coarse_row], left // scale) - 1
            root = _find(parent, runs[coarse_row][index][2])
            run = (left, y, right, y + 1)
            found = boxes.get(root)
            boxes[root] = run if found is None else _union_box(found, run)
    return list(boxes.values())


def _label(
    grid: bytes, size: tuple[int, int]
) -> tuple[list[list[tuple[int, int, int]]], list[int]]:
    """The runs of nonzero cells of each row as (start, end, id), and a union-find forest
    over the ids joining runs that touch, diagonals included."""
    width, height = size
    parent: list[int] = []
    runs: list[list[tuple[int, int, int]]] = []
    previous: list[tuple[int, int, int]] = []
    for y in range(height):
        current: list[tuple[int, int, int]] = []
        for match in _NO_RUN.finditer(grid, y * width, (y + 1) * width):
            start, end = match.start() - y * width, match.end() - y * width
            ident = len(parent)
            parent.append(ident)
            for above_start, above_end, above in previous:
                if above_start <= end and start <= above_end:
                    parent[_find(parent, ident)] = _find(parent, above)
            current.append((start, end, ident))
        runs.append(current)
        previous = current
    return runs, parent


def _find(parent: list[int], ident: int) -> int:
    while parent[ident] != ident:
        parent[ident] = parent[parent[ident]]  # path halving keeps the trees flat
        ident = parent[ident]
    return ident


def _merge_close(boxes: list[Box], limit: int) -> list[Box]:
    """Boxes merged, nearest pair first (the smaller merged box on a tie), while there
    are more than limit or two overlap or lie within _JOIN cells of each other."""
    boxes = list(boxes)
    while len(boxes) > 1:
        gap, _, first, second = min(
            (_gap(a, b), _area(_union_box(a, b)), i, j)
            for i, a in enumerate(boxes)
            for j, b in enumerate(boxes[i + 1 :], start=i + 1)
        )
        if gap > _JOIN and len(boxes) <= limit:
            break
        merged = _union_box(boxes[first], boxes[second])
        boxes = [box for k, box in enumerate(boxes) if k not in (first, second)]
        boxes.append(merged)
    return boxes


def _gap(a: Box, b: Box) -> int:
    """Unchanged cells between two boxes along the wider of the two axes; 0 if touching."""
    across = max(0, b[0] - a[2], a[0] - b[2])
    down = max(0, b[1] - a[3], a[1] - b[3])
    return max(across, down)


def _union_box(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


# Pictures


def _side_by_side(
    old: Image.Image,
    new: Image.Image,
    page: tuple[int, int],
    regions: Sequence[Box],
    scale: float,
) -> Image.Image:
    side_width = max(1, round(page[0] * scale))
    side_height = max(1, round(page[1] * scale))
    picture = Image.new("RGB", (2 * side_width + _GAP, side_height), _BACKDROP)
    draw = ImageDraw.Draw(picture)
    for image, left in ((old, 0), (new, side_width + _GAP)):
        picture.paste(_scaled(image, scale), (left, 0))
        for region in regions:
            outline = _outline(region, scale, left, (side_width, side_height))
            if outline is not None:
                draw.rectangle(outline, outline=_RED, width=_LINE)
    return picture


def _outline(
    region: Box, scale: float, left: int, side: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """The region scaled, widened by the line so the line surrounds rather than covers
    the change, kept inside its side; as ImageDraw wants it (last pixels included)."""
    x0 = max(0, math.floor(region[0] * scale) - _LINE)
    y0 = max(0, math.floor(region[1] * scale) - _LINE)
    x1 = min(side[0], math.ceil(region[2] * scale) + _LINE) - 1
    y1 = min(side[1], math.ceil(region[3] * scale) + _LINE) - 1
    if x1 < x0 or y1 < y0:
        return None
    return (left + x0, y0, left + x1, y1)


def _scaled(image: Image.Image, scale: float) -> Image.Image:
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # Lanczos keeps small text legible. reducing_gap lets a page shrunk by 4 or more be
    # box-reduced first, to twice the size wanted: several times faster, and Pillow's
    # documentation calls the difference hard to see from 2 on.
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _fit(image: Image.Image, max_bytes: int) -> tuple[bytes, str] | int:
    """The image as a PNG if that fits in max_bytes, else as the best JPEG that does:
    (bytes, mime type). If none does, the size of the JPEG at the best quality, for
    sizing a smaller attempt."""
    first = _jpeg(image, *_JPEG_LADDER[0], max_bytes)
    if len(first) <= _PNG_HOPE * max_bytes:
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        if buffer.tell() <= max_bytes:
            return buffer.getvalue(), "image/png"
    if len(first) <= max_bytes:
        return first, "image/jpeg"
    if len(first) <= _LADDER_HOPE * max_bytes:
        for quality, subsampling in _JPEG_LADDER[1:]:
            data = _jpeg(image, quality, subsampling, max_bytes)
            if len(data) <= max_bytes:
                return data, "image/jpeg"
    return len(first)


def _jpeg(image: Image.Image, quality: int, subsampling: int, max_bytes: int) -> bytes:
    """A JPEG, its Huffman tables optimised (5 to 15 % smaller, twice the time) only when
    that may bring it within max_bytes. Only then also because Pillow gives an optimised
    JPEG a buffer of a byte a pixel and fails past it, as a dense picture can."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, subsampling=subsampling)
    size = buffer.tell()
    if max_bytes < size <= 1.2 * max_bytes and 2 * size < image.width * image.height:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, subsampling=subsampling, optimize=True)
    return buffer.getvalue()


def _shrink(ratio: float) -> float:
    """How much smaller the next attempt is, from how much smaller its size must be: so
    that it would just fit, a margin below, and no less than a quarter nor more than 0.85
    (a smaller JPEG does not always shrink as much as its area)."""
    return min(0.85, max(0.25, 0.9 * ratio))
