"""A copy of some clips of a Penn Action layout data set with small people: each frame shrunk by a
factor and pasted at the centre of a black canvas of the frame's size, the labels moved alike.

    .venv/bin/python benchmarks/shrunk_clips.py ../shared/real-dev OUT --scale 0.4 --clips 0280,0992,1198

Frames: resized by ``scale`` (bicubic), pasted with their top-left corner at
``((W - w) // 2, (H - h) // 2)``, saved as JPEG (quality 95). Labels: a visible joint's
``x' = offset_x + (x + 0.5) * w / W - 0.5`` (and y alike), the box moved the same way, everything
else as it was. For measuring the pose pass where people are small (``pose_pck.py OUT``); the
copy stays outside the repository.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from stcorr.files import write_file


def shrink_frame(image: Image.Image, scale: float) -> tuple[Image.Image, tuple[int, int], tuple[float, float]]:
    """(the frame, its content shrunk and centred), (offset x, y), (scale x, y) actually applied."""
    width, height = image.size
    w, h = round(width * scale), round(height * scale)
    offset = ((width - w) // 2, (height - h) // 2)
    canvas = Image.new("RGB", (width, height))
    canvas.paste(image.resize((w, h), Image.BICUBIC), offset)
    return canvas, offset, (w / width, h / height)


def shrink_labels(mat: dict, offset: tuple[int, int], scale: tuple[float, float]) -> dict:
    """The label file's fields with visible joints and boxes moved as the frames were."""
    visible = mat["visibility"].astype(bool)
    out = {k: v for k, v in mat.items() if not k.startswith("__")}
    out["x"] = np.where(visible, offset[0] + (mat["x"].astype(float) + 0.5) * scale[0] - 0.5, 0.0)
    out["y"] = np.where(visible, offset[1] + (mat["y"].astype(float) + 0.5) * scale[1] - 0.5, 0.0)
    box = mat["bbox"].astype(float)
    out["bbox"] = np.stack([offset[0] + box[:, 0] * scale[0], offset[1] + box[:, 1] * scale[1],
                            offset[0] + box[:, 2] * scale[0], offset[1] + box[:, 3] * scale[1]], axis=1)
    return out


def main() -> None:
    from scipy.io import loadmat, savemat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=float, default=0.4)
    parser.add_argument("--clips", required=True, help="comma-separated clip names")
    args = parser.parse_args()
    for name in args.clips.split(","):
        for path in sorted((args.data / "frames" / name).iterdir()):
            frame, offset, scale = shrink_frame(Image.open(path).convert("RGB"), args.scale)
            buffer = io.BytesIO()
            frame.save(buffer, format="JPEG", quality=95)
            write_file(args.out / "frames" / name / path.name, buffer.getvalue())
        buffer = io.BytesIO()
        savemat(buffer, shrink_labels(loadmat(args.data / "labels" / f"{name}.mat"), offset, scale))
        write_file(args.out / "labels" / f"{name}.mat", buffer.getvalue())


if __name__ == "__main__":
    main()
