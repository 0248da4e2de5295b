"""A contact sheet of a data set in the Penn Action layout: one row per action, the key-moment
frames of a few videos, with the visible joints (a skeleton) and the object keypoints drawn.

Reads only the files (label .mat files, key_moments.json, object_keypoints.json, frames), so it
shows what a reader of the data set gets.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image, ImageDraw, ImageFont

from stcorr.data.synthetic.actions import ACTIONS
from stcorr.errors import StcorrError
from stcorr.files import save_image

BONES = [(1, 2), (1, 3), (3, 5), (2, 4), (4, 6), (1, 7), (2, 8), (7, 8), (7, 9), (9, 11), (8, 10), (10, 12)]
LEFT, RIGHT, MIDDLE = (40, 140, 255), (255, 90, 40), (255, 225, 0)
OBJECT = (255, 40, 220)
CELL_HEIGHT = 160
HEADER = 28
ROW_LABEL = 120
SHORT = {"club_head": "club", "left_disc": "L disc", "right_disc": "R disc"}


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _side_colour(joint: int):
    return MIDDLE if joint == 0 else (LEFT if joint % 2 == 1 else RIGHT)


def _load_labels(root: Path) -> dict[str, dict]:
    labels = {}
    for path in sorted((root / "labels").glob("*.mat")):
        m = scipy.io.loadmat(path)
        labels[path.stem] = {
            "action": str(np.asarray(m["action"]).ravel()[0]),
            "train": int(np.asarray(m["train"]).ravel()[0]),
            "x": np.asarray(m["x"], float), "y": np.asarray(m["y"], float),
            "visibility": np.asarray(m["visibility"]).astype(bool),
        }
    return labels


def _draw_cell(frame: Image.Image, label: dict, t: int, objects: dict, scale: float) -> Image.Image:
    cell = frame.resize((round(frame.width * scale), round(frame.height * scale)), Image.BICUBIC)
    draw = ImageDraw.Draw(cell)
    xy = np.stack([label["x"][t], label["y"][t]], -1) * scale
    vis = label["visibility"][t]
    labelled = ~((label["x"][t] == 0) & (label["y"][t] == 0))
    mid_shoulder = (xy[1] + xy[2]) / 2
    if vis[0] and vis[1] and vis[2]:
        draw.line([tuple(xy[0]), tuple(mid_shoulder)], fill=MIDDLE, width=1)
    for a, b in BONES:
        if vis[a] and vis[b]:
            colour = LEFT if a % 2 == 1 and b % 2 == 1 else RIGHT if a % 2 == 0 and b % 2 == 0 else MIDDLE
            draw.line([tuple(xy[a]), tuple(xy[b])], fill=colour, width=1)
    for j in range(13):
        r = 2.5
        box = [xy[j, 0] - r, xy[j, 1] - r, xy[j, 0] + r, xy[j, 1] + r]
        if vis[j]:
            draw.ellipse(box, fill=_side_colour(j), outline=(0, 0, 0))
        elif labelled[j]:  # inside the frame but hidden
            draw.ellipse(box, outline=_side_colour(j), width=1)
    small = _font(10)
    taken: list[tuple[float, float]] = []
    for name, (x, y) in objects.items():
        x, y = x * scale, y * scale
        draw.polygon([(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)], fill=OBJECT, outline=(0, 0, 0))
        ty = y - 6
        while any(abs(ty - oy) < 10 and abs(x - ox) < 30 for ox, oy in taken):
            ty += 10  # two objects at one place (a ball on the racket): stack their names
        taken.append((x, ty))
        draw.text((x + 6, ty), SHORT.get(name, name), fill=OBJECT, font=small, stroke_width=1, stroke_fill=(0, 0, 0))
    return cell


def contact_sheet(root: str | Path, out_png: str | Path, videos_per_action: int = 2, split: str = "train") -> Path:
    """Draw the key-moment frames of the first ``videos_per_action`` videos of each action in ``split``.

    ``root`` is a data set in the Penn Action layout with key_moments.json; ``split`` is "train"
    (label field train = 1) or "val" (train = -1). Returns the path of the PNG written.
    """
    root, out_png = Path(root), Path(out_png)
    if split not in ("train", "val"):
        raise StcorrError(f"split must be 'train' or 'val', got {split!r}")
    if videos_per_action < 1:
        raise StcorrError(f"videos_per_action must be positive, got {videos_per_action}")
    try:
        key_moments = json.loads((root / "key_moments.json").read_text())
    except (OSError, ValueError) as err:
        raise StcorrError(f"cannot read key moments: {err}", root / "key_moments.json") from None
    object_file = root / "object_keypoints.json"
    objects = json.loads(object_file.read_text()) if object_file.exists() else {}
    labels = _load_labels(root)
    wanted = 1 if split == "train" else -1
    rows = []
    for action, info in ACTIONS.items():
        names = [n for n, lab in labels.items() if lab["action"] == action and lab["train"] == wanted and n in key_moments]
        if names:
            rows.append((action, info["moments"], names[:videos_per_action]))
    if not rows:
        raise StcorrError(f"no {split} videos with key moments of the known actions", root)

    with Image.open(next((root / "frames" / rows[0][2][0]).glob("*.jpg"))) as sample:
        scale = CELL_HEIGHT / sample.height
        cell_w = round(sample.width * scale)
    columns = max(len(moments) * len(names) for _, moments, names in rows)
    sheet = Image.new("RGB", (ROW_LABEL + columns * (cell_w + 4), len(rows) * (CELL_HEIGHT + HEADER + 6) + 4), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    font, bold = _font(11), _font(14)
    for r, (action, moments, names) in enumerate(rows):
        top = 4 + r * (CELL_HEIGHT + HEADER + 6)
        draw.text((6, top + HEADER + CELL_HEIGHT // 2 - 8), action.replace("_", " "), fill=(255, 255, 255), font=bold)
        col = 0
        for name in names:
            frames = sorted((root / "frames" / name).glob("*.jpg"))
            for m, t in enumerate(key_moments[name]):
                left = ROW_LABEL + col * (cell_w + 4)
                with Image.open(frames[t]) as image:
                    frame = image.convert("RGB")
                cell = _draw_cell(frame, labels[name], t, objects.get(name, {}).get(str(t), {}), scale)
                sheet.paste(cell, (left, top + HEADER))
                title = moments[m] if m < len(moments) else f"moment {m + 1}"
                draw.text((left + 2, top + 1), f"video {name}, frame {t}", fill=(160, 160, 170), font=font)
                draw.text((left + 2, top + 13), title, fill=(255, 255, 255), font=font)
                col += 1
    out_png.parent.mkdir(parents=True, exist_ok=True)
    save_image(sheet, out_png)
    return out_png
