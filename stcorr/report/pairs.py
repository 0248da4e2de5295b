"""The report's pair pictures: for each action the best, the median and the worst pair by T@5."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stcorr.data.video import find_video
from stcorr.errors import StcorrError
from stcorr.report.inputs import Result, resolve_data_root
from stcorr.viz import draw_correspondences, verdict_at

RANK_K = "5"
PICTURE_SIZE = 120  # pixels on a frame's longer side: three key-moment columns fit in a third of the page


@dataclass
class PairPicture:
    action: str
    rank: str
    source: str
    target: str
    score: float | None
    uri: str | None = None
    problem: str | None = None


def pair_pictures(result: Result, records: list[dict], per_action: int) -> tuple[list[PairPicture], list[str]]:
    """Pictures of the chosen pairs, and notes on what could not be drawn."""
    rows = pair_scores(result, records)
    if not rows:
        return [], ["no pairs to show (neither per_pair scores nor predictions with verdicts)"]
    chosen = choose_pairs(rows, per_action)
    root = resolve_data_root(result)
    if root is None:
        return [], [f"data root {result.get('data')!r} not found, so the pair pictures are left out"]
    by_pair = {(r.get("source"), r.get("target")): r for r in records}
    pictures = [_picture(root, rank, row, by_pair.get((row["source"], row["target"]))) for rank, row in chosen]
    return pictures, []


def pair_scores(result: Result, records: list[dict]) -> list[dict]:
    """per_pair rows of the results, or T@5 per pair worked out from the saved verdicts."""
    per_pair = result.get("per_pair")
    if isinstance(per_pair, list) and per_pair:
        return [row for row in per_pair if {"source", "target"} <= row.keys()]
    rows = []
    for record in records:
        verdicts = [_verdict(kp) for kp in record.get("keypoints", [])]
        if verdicts and "source" in record and "target" in record:
            rows.append({"source": record["source"], "target": record["target"], "action": record.get("action", "?"),
                         f"T@{RANK_K}": float(np.mean(verdicts))})
    return rows


def choose_pairs(rows: list[dict], per_action: int) -> list[tuple[str, dict]]:
    """Per action, `per_action` pairs spread from the best to the worst by T@5 (3: best, median, worst)."""
    chosen = []
    for action in sorted({str(row.get("action", "?")) for row in rows}):
        ranked = sorted((r for r in rows if str(r.get("action", "?")) == action),
                        key=lambda r: (-float(r.get(f"T@{RANK_K}") or 0.0), r["source"], r["target"]))
        positions = sorted(set(np.linspace(0, len(ranked) - 1, max(per_action, 1)).round().astype(int).tolist()))
        chosen += [(_rank_name(i, len(ranked)), ranked[i]) for i in positions]
    return chosen


def _rank_name(position: int, count: int) -> str:
    if count == 1:
        return "only pair"
    if position == 0:
        return "best"
    if position == count - 1:
        return "worst"
    if position == round((count - 1) / 2):
        return "median"
    return f"rank {position + 1} of {count}"


def _picture(root: Path, rank: str, row: dict, record: dict | None) -> PairPicture:
    score = row.get(f"T@{RANK_K}")
    picture = PairPicture(str(row.get("action", "?")), rank, row["source"], row["target"],
                          None if score is None else float(score))
    if record is None:
        picture.problem = "no saved prediction for this pair"
        return picture
    try:
        keypoints = verdict_at([{**kp, "target": kp.get("target") or [None] * 3} for kp in record["keypoints"]], RANK_K)
        source, target = find_video(root, row["source"]), find_video(root, row["target"])
        image = draw_correspondences(source, target, keypoints, max_frames=3, scale_to=PICTURE_SIZE, legend=False)
    except StcorrError as exc:
        picture.problem = str(exc)
        return picture
    picture.uri = _jpeg_uri(image)
    return picture


def _verdict(keypoint: dict) -> bool:
    verdict = keypoint.get("correct")
    return bool(verdict.get(RANK_K) if isinstance(verdict, dict) else verdict)


def _jpeg_uri(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
