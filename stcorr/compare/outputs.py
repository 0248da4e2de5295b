"""DIR/compare.json, DIR/side_by_side.mp4, DIR/overlay.mp4 and DIR/index.html, written as one folder: whole, or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from stcorr.compare.overlay import TRACE_JOINTS, write_overlay
from stcorr.compare.page import build_page
from stcorr.compare.pipeline import Comparison
from stcorr.compare.render import write_side_by_side
from stcorr.errors import StcorrError
from stcorr.files import folder_writer, write_json

OUTPUTS = ("compare.json", "side_by_side.mp4", "overlay.mp4", "index.html", "attempts.json", "attempts")  # one comparison, or a folder of attempts


def check_out_folder(out_dir: str | Path) -> Path:
    """A new folder, or one that holds nothing but an earlier comparison's files (it is replaced whole).
    The command line checks more (``stcorr.cli.outputs``: stcorr must have written them); this guards the library call."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise StcorrError("is a file, expected a folder for the comparison", out_dir)
    others = sorted(p.name for p in out_dir.iterdir() if p.name not in OUTPUTS) if out_dir.is_dir() else []
    if others:
        raise StcorrError(f"folder holds other files ({others[0]}, ...): give a new or empty folder", out_dir)
    return out_dir


def write_comparison(comparison: Comparison, out_dir: str | Path, video: bool = True,
                     traces: Sequence[str] = TRACE_JOINTS) -> Path:
    """Writes the comparison's files into ``out_dir`` (replacing an earlier comparison there);
    ``video=False`` leaves out side_by_side.mp4 and overlay.mp4; ``traces``: the joints whose
    paths are drawn in the overlay (video and page)."""
    out_dir = check_out_folder(out_dir)
    with folder_writer(out_dir) as tmp:
        write_comparison_files(comparison, tmp, video, traces)
    return out_dir


def write_comparison_files(comparison: Comparison, folder: Path, video: bool = True,
                           traces: Sequence[str] = TRACE_JOINTS) -> None:
    """compare.json, side_by_side.mp4 and overlay.mp4 (unless not ``video``) and index.html, into ``folder`` as it is."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "compare.json", comparison.record)
    if video:
        write_side_by_side(comparison, folder / "side_by_side.mp4")
        write_overlay(comparison, folder / "overlay.mp4", traces)
    build_page(comparison, folder / "index.html", traces)
