"""A plain folder of videos, without labels: what self-supervised learners (CorrFlow) train on.

    ROOT/NAME.mp4 ...  and/or  ROOT/NAME/000001.jpg ...

``open_dataset`` returns one for a folder that is neither layout but holds videos. It has no
benchmark pairs and no labels: commands that need them say so in one line.
"""

from __future__ import annotations

from pathlib import Path

from stcorr.data.datasets import Dataset
from stcorr.data.video import FRAME_SUFFIXES, VIDEO_SUFFIXES, Video
from stcorr.errors import StcorrError


def video_entries(root: Path) -> dict[str, Path]:
    """Video files and frame folders directly in ``root``, by name."""
    found = {}
    for path in sorted(Path(root).iterdir()):
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            found[path.stem] = path
        elif path.is_dir() and any(p.suffix.lower() in FRAME_SUFFIXES for p in path.iterdir()):
            found[path.name] = path
    return found


class VideoFolder(Dataset):
    """A plain folder of videos (no labels, no pairs)."""

    kind = "videos"

    def __init__(self, root: Path):
        super().__init__(root)
        self.paths = video_entries(root)
        if not self.paths:
            raise StcorrError("no videos here: expected video files or folders of frames", root)

    def video(self, name: str) -> Video:
        return Video(self.paths[name])

    def key_moments(self, name: str) -> list[int] | None:
        return None

    def pairs(self, split: str = "val", setup: str = "13+3", min_visible: int = 3):
        raise StcorrError("a plain folder of videos has no labels and no benchmark pairs (it serves "
                          "self-supervised training: stcorr train --config corrflow)", self.root)
