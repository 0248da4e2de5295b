"""Figure-1 style pictures of space-time correspondences: source frames above, target frames below.

Keypoints are PRED.json entries (docs/formats.md#predjson) in native coordinates: {"name", "source": [t, x, y],
"target": [t, x, y], "score"}, optionally with "truth": [t, x, y] and "correct": bool.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from stcorr.data.video import Video, write_video
from stcorr.errors import StcorrError
from stcorr import files

Colour = tuple[int, int, int]

SOURCE_COLOUR: Colour = (255, 196, 0)
PREDICTION_COLOUR: Colour = (0, 160, 255)
TRUTH_COLOUR: Colour = (200, 80, 255)
CORRECT_COLOUR: Colour = (30, 190, 70)
MISS_COLOUR: Colour = (235, 40, 40)
LINK_COLOUR: Colour = (235, 235, 235)
BACKGROUND: Colour = (32, 33, 36)
TEXT_COLOUR: Colour = (240, 240, 240)

PAD = 8
ROW_GAP = 28
LEGEND_LINE_HEIGHT = 24
LEGEND_HEIGHT = LEGEND_LINE_HEIGHT + PAD
MAX_NAME_LENGTH = 14
LABEL_SPACING = 24  # names and frame numbers are written only where a frame has this many pixels of height per keypoint
MIN_LEGEND_WIDTH = 420  # a picture with a title and legend is at least this wide, whatever its frames' shapes
MIN_SHORT_SIDE = 0.25  # a frame's shorter side is at least this fraction of scale_to (very wide or tall videos)
MAX_LONG_SIDE = 2.0  # ... as long as its longer side stays within this multiple of scale_to
IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


@dataclass(frozen=True)
class Point:
    t: int
    x: float
    y: float


@dataclass(frozen=True)
class Match:
    name: str | None
    source: Point
    target: Point
    truth: Point | None
    correct: bool | None


@dataclass(frozen=True)
class Layout:
    """Display sizes: each video scaled so its longer side is `scale_to` (very elongated frames: so that
    the shorter side keeps a readable height, see ``_frame_scale``); both rows share the column width."""

    cell_width: int
    source_height: int
    target_height: int
    source_scale: float
    target_scale: float

    @property
    def column_height(self) -> int:
        return self.source_height + ROW_GAP + self.target_height

    @property
    def target_top(self) -> int:
        return self.source_height + ROW_GAP


def draw_correspondences(
    source: Video, target: Video, keypoints: list[dict], max_frames: int = 4, scale_to: int = 256, legend: bool = True
) -> Image.Image:
    """Source frames at the keypoints' times above, target frames at the predicted times below, joined by lines.

    ``legend=False`` leaves out the title and legend band (for pages that show one legend for many pictures).
    """
    matches = parse_keypoints(keypoints)
    groups = _pick_groups(_group_by_source_time(matches), max_frames)
    layout = _layout(source, target, scale_to)
    source_frames = source.frames(sorted(groups))
    target_times = [_shown_target_time(groups[t], target.num_frames) for t in sorted(groups)]
    target_frames = target.frames(target_times)

    columns = [
        _render_column(src, tgt, source_t, target_t, groups[source_t], layout)
        for src, tgt, source_t, target_t in zip(source_frames, target_frames, sorted(groups), target_times)
    ]
    columns_width = PAD + len(columns) * (layout.cell_width + PAD)
    width = max(columns_width, MIN_LEGEND_WIDTH) if legend else columns_width
    title = f"source {source.name} (top) \u2192 target {target.name} (bottom)"
    off_frame = any(m.target.t != shown for t, shown in zip(sorted(groups), target_times) for m in groups[t])
    legend_lines = _wrap_legend(title, _legend_items(matches, off_frame), width - 2 * PAD) if legend else []
    legend_height = LEGEND_LINE_HEIGHT * len(legend_lines) + PAD
    canvas = Image.new("RGB", (width, legend_height + layout.column_height + PAD), BACKGROUND)
    _draw_legend(ImageDraw.Draw(canvas), legend_lines)
    left = (width - columns_width) // 2
    for i, column in enumerate(columns):
        canvas.paste(column, (left + PAD + i * (layout.cell_width + PAD), legend_height))
    return canvas


def save_visualisation(
    path: str | Path,
    source: Video,
    target: Video,
    keypoints: list[dict],
    max_frames: int = 4,
    scale_to: int = 256,
    fps: float = 15.0,
) -> Path:
    """Writes the picture (.png, .jpg) or, for .mp4, a video of source above and matched target below."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES and suffix != ".mp4":
        raise StcorrError("visualisation must end in .png, .jpg or .mp4", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".mp4":
        return write_video(path, render_video_frames(source, target, keypoints, scale_to), fps=fps)
    image = draw_correspondences(source, target, keypoints, max_frames=max_frames, scale_to=scale_to)
    return save_image(image, path)


def save_image(image: Image.Image, path: Path) -> Path:
    """Writes a .png or .jpg picture atomically."""
    return files.save_image(image, path)


def render_video_frames(source: Video, target: Video, keypoints: list[dict], scale_to: int = 256) -> Iterator[np.ndarray]:
    """One frame per source frame, made as they are asked for (a long video is never held whole):
    the source frame above, the target frame matched at that moment below."""
    groups = _group_by_source_time(parse_keypoints(keypoints))
    anchors = {t: _shown_target_time(group, target.num_frames) for t, group in groups.items()}
    mapping = target_time_mapping(anchors, source.num_frames, target.num_frames)
    layout = _layout(source, target, scale_to)
    for start in range(0, source.num_frames, 32):
        source_times = list(range(start, min(start + 32, source.num_frames)))
        target_times = [int(mapping[t]) for t in source_times]
        for source_t, target_t, src, tgt in zip(
            source_times, target_times, source.frames(source_times), target.frames(target_times)
        ):
            column = _render_column(src, tgt, source_t, target_t, groups.get(source_t, []), layout)
            yield np.asarray(column)


def target_time_mapping(anchors: dict[int, int], num_source: int, num_target: int) -> np.ndarray:
    """Target frame for each source frame: linear between the anchors, a constant offset beyond them."""
    times = np.arange(num_source, dtype=float)
    if not anchors:
        mapped = times * (num_target - 1) / max(num_source - 1, 1)
    else:
        src = np.array(sorted(anchors), dtype=float)
        tgt = np.array([anchors[t] for t in sorted(anchors)], dtype=float)
        mapped = np.interp(times, src, tgt)
        mapped[times < src[0]] = times[times < src[0]] + (tgt[0] - src[0])
        mapped[times > src[-1]] = times[times > src[-1]] + (tgt[-1] - src[-1])
    return np.clip(np.rint(mapped), 0, num_target - 1).astype(int)


def parse_keypoints(keypoints: Iterable[dict]) -> list[Match]:
    matches = []
    for i, entry in enumerate(keypoints):
        if not isinstance(entry, dict) or "source" not in entry or "target" not in entry:
            raise StcorrError(f"keypoint {i} needs 'source' and 'target' as [t, x, y]")
        truth = entry.get("truth")
        correct = entry.get("correct")
        matches.append(
            Match(
                name=entry.get("name"),
                source=_point(entry["source"], i),
                target=_point(entry["target"], i),
                truth=None if truth is None else _point(truth, i),
                correct=None if correct is None else bool(correct),
            )
        )
    if not matches:
        raise StcorrError("no keypoints to draw")
    return matches


def _point(value: Sequence[float], index: int) -> Point:
    try:
        t, x, y = (float(v) for v in value)
    except (TypeError, ValueError):
        raise StcorrError(f"keypoint {index}: expected [t, x, y], got {value!r}") from None
    return Point(int(round(t)), x, y)


def _group_by_source_time(matches: list[Match]) -> dict[int, list[Match]]:
    groups: dict[int, list[Match]] = {}
    for match in matches:
        groups.setdefault(match.source.t, []).append(match)
    return groups


def _pick_groups(groups: dict[int, list[Match]], max_frames: int) -> dict[int, list[Match]]:
    """At most max_frames source times, spread evenly over those that have keypoints."""
    times = sorted(groups)
    if len(times) > max(max_frames, 1):
        picks = np.linspace(0, len(times) - 1, max(max_frames, 1)).round().astype(int)
        times = [times[i] for i in sorted(set(picks))]
    return {t: groups[t] for t in times}


def _shown_target_time(group: list[Match], num_target: int) -> int:
    """The predicted time most keypoints of the group agree on (ties: the one nearest their median)."""
    times = [m.target.t for m in group]
    median = float(np.median(times))
    counts = Counter(times)
    best = min(counts, key=lambda t: (-counts[t], abs(t - median), t))
    return int(np.clip(best, 0, num_target - 1))


def _frame_scale(width: int, height: int, scale_to: int) -> float:
    """Longer side to ``scale_to``; for very elongated frames, larger, so that the shorter side
    reaches ``MIN_SHORT_SIDE * scale_to`` while the longer stays within ``MAX_LONG_SIDE * scale_to``."""
    long_side, short_side = max(width, height), min(width, height)
    scale = max(scale_to / long_side, MIN_SHORT_SIDE * scale_to / short_side)
    return min(scale, MAX_LONG_SIDE * scale_to / long_side)


def _layout(source: Video, target: Video, scale_to: int) -> Layout:
    (sw, sh), (tw, th) = source.size, target.size
    source_scale, target_scale = _frame_scale(sw, sh, scale_to), _frame_scale(tw, th, scale_to)
    return Layout(
        cell_width=max(round(sw * source_scale), round(tw * target_scale)),
        source_height=round(sh * source_scale),
        target_height=round(th * target_scale),
        source_scale=source_scale,
        target_scale=target_scale,
    )


def _render_column(
    source_frame: np.ndarray, target_frame: np.ndarray, source_t: int, target_t: int, group: list[Match], layout: Layout
) -> Image.Image:
    column = Image.new("RGB", (layout.cell_width, layout.column_height), BACKGROUND)
    source_image = _resized(source_frame, layout.source_scale)
    target_image = _resized(target_frame, layout.target_scale)
    source_left = (layout.cell_width - source_image.width) // 2
    target_left = (layout.cell_width - target_image.width) // 2
    column.paste(source_image, (source_left, 0))
    column.paste(target_image, (target_left, layout.target_top))

    def on_source(p: Point) -> tuple[float, float]:
        return source_left + p.x * layout.source_scale, p.y * layout.source_scale

    def on_target(p: Point) -> tuple[float, float]:
        return target_left + p.x * layout.target_scale, layout.target_top + p.y * layout.target_scale

    draw = ImageDraw.Draw(column)
    radius = max(3, round(layout.cell_width / 50))
    line_width = 3 if layout.cell_width >= 200 else 2
    _draw_keypoints(draw, group, on_source, on_target, target_t, radius, line_width, layout.source_height)
    _corner_label(draw, (2, 2), f"S {source_t}", SOURCE_COLOUR)
    truth_times = sorted({m.truth.t for m in group if m.truth is not None})
    truth_note = f"  (truth {', '.join(map(str, truth_times))})" if truth_times and truth_times != [target_t] else ""
    _corner_label(draw, (2, layout.target_top + 2), f"T {target_t}{truth_note}", PREDICTION_COLOUR)
    return column


def _draw_keypoints(
    draw: ImageDraw.ImageDraw,
    group: list[Match],
    on_source,
    on_target,
    target_t: int,
    radius: int,
    line_width: int,
    frame_height: int,
) -> None:
    """Lines first, then truths, predictions and source keypoints on top; text only where few points leave room."""
    labelled = len(group) * LABEL_SPACING <= frame_height
    for match in group:
        draw.line([on_source(match.source), on_target(match.target)], fill=_link_colour(match), width=line_width)
        if match.truth is not None and match.correct is False:
            draw.line([on_target(match.target), on_target(match.truth)], fill=MISS_COLOUR, width=1)
    placed: list[tuple[float, float, float, float]] = []  # the boxes of the labels drawn so far
    for match in group:
        if match.truth is not None:
            _cross(draw, on_target(match.truth), radius, TRUTH_COLOUR)
        # A prediction in another frame than the one shown is drawn hollow.
        _diamond(draw, on_target(match.target), radius + 1, PREDICTION_COLOUR, hollow=match.target.t != target_t)
        if labelled and match.target.t != target_t:
            x, y = on_target(match.target)
            _label(draw, (x + radius + 2, y - 6), f"t={match.target.t}", PREDICTION_COLOUR, placed)
    for match in group:
        x, y = on_source(match.source)
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=SOURCE_COLOUR, outline=(0, 0, 0))
        if labelled and match.name and len(match.name) <= MAX_NAME_LENGTH:
            _label(draw, (x + radius + 2, y - 6), match.name, TEXT_COLOUR, placed)


LABEL_SHIFTS = (0, 12, -12, 24, -24)  # pixels down (up) tried in turn for a label that would overlap another


def _label(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, colour: Colour,
           placed: list[tuple[float, float, float, float]]) -> None:
    """``text`` at ``xy``, or moved up or down as little as keeps it off the labels in ``placed`` (which it joins)."""
    def overlaps(box: tuple[float, float, float, float]) -> bool:
        return any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in placed)

    boxes = [_small_text_box(draw, (xy[0], xy[1] + dy), text) for dy in LABEL_SHIFTS]
    shift, box = next(((dy, b) for dy, b in zip(LABEL_SHIFTS, boxes) if not overlaps(b)), (0, boxes[0]))
    placed.append(box)
    _small_text(draw, (xy[0], xy[1] + shift), text, colour)


def _link_colour(match: Match) -> Colour:
    if match.correct is None:
        return LINK_COLOUR
    return CORRECT_COLOUR if match.correct else MISS_COLOUR


def _resized(frame: np.ndarray, scale: float) -> Image.Image:
    image = Image.fromarray(frame)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def _diamond(draw: ImageDraw.ImageDraw, centre: tuple[float, float], r: int, colour: Colour, hollow: bool = False) -> None:
    x, y = centre
    corners = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]
    if hollow:
        draw.polygon(corners, outline=(0, 0, 0), width=4)
        draw.polygon(corners, outline=colour, width=2)
    else:
        draw.polygon(corners, fill=colour, outline=(0, 0, 0))


def _cross(draw: ImageDraw.ImageDraw, centre: tuple[float, float], r: int, colour: Colour) -> None:
    x, y = centre
    for dx in (-1, 1):
        draw.line([(x - r, y - dx * r), (x + r, y + dx * r)], fill=(0, 0, 0), width=5)
    for dx in (-1, 1):
        draw.line([(x - r, y - dx * r), (x + r, y + dx * r)], fill=colour, width=3)


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans, shipped with matplotlib (it has the arrows Pillow's built-in font lacks)."""
    try:
        # matplotlib takes a second to import: loaded only for its fonts
        import matplotlib

        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size=size)


SMALL_TEXT = {"size": 11, "stroke": 2}  # labels beside points: font size and outline, pixels


def _small_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, colour: Colour) -> None:
    draw.text(xy, text, fill=colour, font=_font(SMALL_TEXT["size"]), stroke_width=SMALL_TEXT["stroke"],
              stroke_fill=(0, 0, 0))


def _small_text_box(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str) -> tuple[float, float, float, float]:
    """The box ``_small_text`` would fill."""
    return draw.textbbox(xy, text, font=_font(SMALL_TEXT["size"]), stroke_width=SMALL_TEXT["stroke"])


def _corner_label(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, colour: Colour) -> None:
    font = _font(12)
    left, top, right, bottom = draw.textbbox((xy[0] + 4, xy[1] + 2), text, font=font)
    draw.rectangle([xy[0], xy[1], right + 4, bottom + 3], fill=(0, 0, 0))
    draw.text((xy[0] + 4, xy[1] + 2), text, fill=colour, font=font)


# Legend: (label, kind, colour) items laid out left to right, wrapped to the canvas width.
LegendItem = tuple[str, str, Colour]


def _legend_items(matches: list[Match], off_frame: bool) -> list[LegendItem]:
    items: list[LegendItem] = [("source keypoint", "circle", SOURCE_COLOUR), ("prediction", "diamond", PREDICTION_COLOUR)]
    if off_frame:
        items.append(("prediction in another frame", "hollow", PREDICTION_COLOUR))
    if any(m.truth is not None for m in matches):
        items.append(("ground truth", "cross", TRUTH_COLOUR))
    if any(m.correct is not None for m in matches):
        items += [("correct", "line", CORRECT_COLOUR), ("miss", "line", MISS_COLOUR)]
    return items


def _item_width(draw: ImageDraw.ImageDraw, item: LegendItem) -> int:
    return 28 + round(draw.textlength(item[0], font=_font(13))) + 16


def _wrap_legend(title: str, items: list[LegendItem], width: int) -> list[list[LegendItem | str]]:
    """The title (wrapped at spaces, a word too long for a line shortened with an ellipsis), then
    the items, each line at most ``width`` pixels."""
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines: list[list[LegendItem | str]] = [[text] for text in _wrap_words(measure, title, width)]
    used = round(measure.textlength(lines[-1][0], font=_font(13))) + 24
    for item in items:
        needed = _item_width(measure, item)
        if used + needed > width and lines[-1]:
            lines.append([])
            used = 0
        lines[-1].append(item)
        used += needed
    return lines


def _wrap_words(draw: ImageDraw.ImageDraw, text: str, width: int) -> list[str]:
    font = _font(13)
    lines: list[str] = []
    for word in text.split():
        word = _shortened(draw, word, width)
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def _shortened(draw: ImageDraw.ImageDraw, word: str, width: int) -> str:
    """``word``, or its head and tail around an ellipsis, whichever first fits in ``width`` pixels."""
    keep = len(word)
    shown = word
    while keep > 1 and draw.textlength(shown, font=_font(13)) > width:
        keep -= 1
        shown = word[: (keep + 1) // 2] + "\u2026" + word[len(word) - keep // 2:]
    return shown


def _draw_legend(draw: ImageDraw.ImageDraw, lines: list[list[LegendItem | str]]) -> None:
    font = _font(13)
    for row, line in enumerate(lines):
        x, y = PAD, PAD + row * LEGEND_LINE_HEIGHT + LEGEND_LINE_HEIGHT // 2
        for item in line:
            if isinstance(item, str):
                draw.text((x, y), item, fill=TEXT_COLOUR, font=font, anchor="lm")
                x += round(draw.textlength(item, font=font)) + 24
                continue
            label, kind, colour = item
            _legend_symbol(draw, kind, (x + 10, y), colour)
            draw.text((x + 24, y), label, fill=TEXT_COLOUR, font=font, anchor="lm")
            x += _item_width(draw, item)


def _legend_symbol(draw: ImageDraw.ImageDraw, kind: str, centre: tuple[int, int], colour: Colour) -> None:
    x, y = centre
    if kind == "circle":
        draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=colour, outline=(0, 0, 0))
    elif kind in ("diamond", "hollow"):
        _diamond(draw, centre, 6, colour, hollow=kind == "hollow")
    elif kind == "cross":
        _cross(draw, centre, 5, colour)
    else:
        draw.line([(x - 10, y), (x + 10, y)], fill=colour, width=3)


def verdict_at(keypoints: Iterable[dict], k: str = "5") -> list[dict]:
    """Saved predictions (``stcorr eval --save-predictions``) hold a verdict per k as
    ``"correct": {"1": bool, ...}``: keep the one at T@k, and drop keypoints with no prediction."""
    out = []
    for kp in keypoints:
        verdict = kp.get("correct")
        if isinstance(verdict, dict):
            verdict = verdict.get(k)
        if all(v is not None for v in kp["target"]):
            out.append({**kp, "correct": verdict})
    return out
