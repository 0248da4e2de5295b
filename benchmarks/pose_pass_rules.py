"""Which frames need the pose pass's extra MediaPipe calls: each frame's passes recorded once, then
rules replayed on the records, scored like ``pose_pck.py``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pose_pass_rules.py DATA --record FOLDER

For every frame of every labelled clip of DATA (a Penn Action layout with per-frame labels), the
plain pass, the mirrored pass and the crop passes (the crop and its mirror image, around the
person as the plain pass sees them, and as plain + mirror see them) are recorded in
FOLDER/CLIP.npz (kept: a second run only replays). A rule decides per frame, from the plain pass
alone (mean visibility of the 13 body joints, the crop's zoom), whether the mirrored frame and the
crop run; the passes it keeps are combined (``stcorr.pose.augment.combine``), the track filtered
(sides + gaps, the default filter) and scored: PCK@0.1 / 0.2 over every labelled (frame, joint),
each clip under the left/right labelling that fits the plain pass. Also the MediaPipe calls a
frame each rule costs. One JSON line per rule. ``AugmentedLandmarker`` with the rule's thresholds
does the same on a video (``--variants where-needed`` of ``pose_pck.py`` runs it).
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Callable

import numpy as np

from pose_pck import clip_counts  # type: ignore[import-not-found]  # the sibling benchmark's scoring
from stcorr.data.datasets import open_dataset
from stcorr.files import write_file
from stcorr.pose.augment import combine, crop_frame, flipped, person_box, uncrop_result
from stcorr.pose.cache import MediaPipeLandmarker, filtered_track, landmark_track
from stcorr.pose.mediapipe import PENN_INDEX, penn_track
from stcorr.pose.track import JointTrack

FILTER = {"sides": True, "window": 0, "degree": 2, "max_gap": 16}
NO_FILTER = {"sides": False, "window": 0, "degree": 2, "max_gap": 0}
CROP, MARGIN = 256, 1.0
#: name -> rule(mean visibility of the plain pass, crop zoom, nobody found) -> (mirror, crop[, the crop's mirror
#: image: with the crop unless said]).
Rule = Callable[[float, float, bool], tuple[bool, ...]]
RULES: dict[str, Rule] = {
    "plain": lambda seen, zoom, nobody: (False, False),
    "flip": lambda seen, zoom, nobody: (True, False),
    "flip+crop": lambda seen, zoom, nobody: (True, True),
    "flip<0.7": lambda seen, zoom, nobody: (nobody or seen < 0.7, False),
    "flip<0.7 crop<0.7|zoom>=1.5": lambda seen, zoom, nobody: (nobody or seen < 0.7, seen < 0.7 or zoom >= 1.5),
    "flip<0.7 crop<0.9|zoom>=1.5": lambda seen, zoom, nobody: (nobody or seen < 0.7, seen < 0.9 or zoom >= 1.5),
    "flip<0.9 crop<0.9|zoom>=1.5": lambda seen, zoom, nobody: (nobody or seen < 0.9, seen < 0.9 or zoom >= 1.5),
    "flip<0.7 crop<0.9|zoom>=1.5, crop unmirrored": lambda seen, zoom, nobody: (nobody or seen < 0.7, seen < 0.9 or zoom >= 1.5, False),
    "flip<0.7 crop<0.9|zoom>=1.5, crop mirrored <0.7": lambda seen, zoom, nobody: (nobody or seen < 0.7, seen < 0.9 or zoom >= 1.5,
                                                                                   nobody or seen < 0.7),
}


def packed(result) -> np.ndarray:
    """(33, 7) landmarks and world of one pass, NaN when it found nobody."""
    return np.full((33, 7), np.nan) if result is None else np.concatenate(result, axis=1)


def unpacked(row: np.ndarray):
    return None if np.isnan(row[0, 0]) else (row[:, :4], row[:, 4:])


def record(video, landmarker) -> dict[str, np.ndarray]:
    """Every pass of every frame of ``video``."""
    mirror = flipped(landmarker)
    width, height = video.size
    rows: dict[str, list] = {key: [] for key in ("plain", "flip", "crop_p", "cropflip_p", "crop_pf", "cropflip_pf", "zoom_p", "zoom_pf")}
    for frame in video.iter_frames():
        plain, flip = landmarker(frame), mirror(frame)
        rows["plain"].append(packed(plain))
        rows["flip"].append(packed(flip))
        for tag, whole in (("p", combine([plain])), ("pf", combine([plain, flip]))):
            crops, zoom = [None, None], np.nan
            if whole is not None:
                box = person_box(whole[0], width, height, MARGIN)
                crop = crop_frame(frame, box, CROP)
                crops = [None if r is None else uncrop_result(r, box, width, height) for r in (landmarker(crop), mirror(crop))]
                zoom = max(width, height) / box.side
            rows[f"crop_{tag}"].append(packed(crops[0]))
            rows[f"cropflip_{tag}"].append(packed(crops[1]))
            rows[f"zoom_{tag}"].append(zoom)
    return {**{key: np.array(value) for key, value in rows.items()}, "size": np.array(video.size)}


def replay(passes: dict[str, np.ndarray], rule: Rule, flt: dict) -> tuple[JointTrack, int]:
    """The filtered track the rule gives, and the MediaPipe calls it made."""
    width, height = (int(v) for v in passes["size"])
    n = len(passes["plain"])
    landmarks, world, calls = np.full((n, 33, 4), np.nan), np.full((n, 33, 3), np.nan), 0
    for t in range(n):
        plain = unpacked(passes["plain"][t])
        seen = 0.0 if plain is None else float(plain[0][PENN_INDEX, 3].mean())
        mirror, crop, *crop_mirror = rule(seen, float(passes["zoom_p"][t]), plain is None)
        results, zooms = [plain], [1.0]
        calls += 1
        if mirror:
            results.append(unpacked(passes["flip"][t]))
            zooms.append(1.0)
            calls += 1
        tag = "pf" if mirror else "p"
        zoom = float(passes[f"zoom_{tag}"][t])
        if crop and not np.isnan(zoom):
            results.append(unpacked(passes[f"crop_{tag}"][t]))
            zooms.append(zoom)
            calls += 1
            if crop_mirror[0] if crop_mirror else True:
                results.append(unpacked(passes[f"cropflip_{tag}"][t]))
                zooms.append(zoom)
                calls += 1
        found = combine(results, zooms)
        if found is None:
            continue
        landmarks[t], world[t] = found
        landmarks[t, :, 0] = found[0][:, 0] * width - 0.5
        landmarks[t, :, 1] = found[0][:, 1] * height - 0.5
    return filtered_track(landmark_track(landmarks, world, (width, height)), flt, 0.5), calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--record", type=Path, required=True, help="folder of the recorded passes (made once)")
    args = parser.parse_args()
    dataset = open_dataset(args.data)
    names = sorted(dataset.labels)
    landmarker = None
    passes = {}
    for name in names:
        path = args.record / f"{name}.npz"
        if not path.exists():
            landmarker = landmarker or MediaPipeLandmarker(1)
            buffer = io.BytesIO()
            np.savez(buffer, **record(dataset.video(name), landmarker))
            write_file(path, buffer.getvalue())
        passes[name] = dict(np.load(path))
    conventions: dict[str, bool] = {}
    for rule_name, rule in [("plain, unfiltered", RULES["plain"])] + list(RULES.items()):
        total, calls, frames = {}, 0, 0
        for name in names:
            track, used = replay(passes[name], rule, NO_FILTER if rule_name.endswith("unfiltered") else FILTER)
            calls, frames = calls + used, frames + track.num_frames
            penn = penn_track(track)
            xy, visibility = penn.xy, penn.visibility
            counts = clip_counts(dataset.labels[name], xy, visibility, 0.5, conventions.get(name))
            conventions[name] = bool(counts["mirrored"])  # fixed by the plain pass, the same for every rule
            total = {k: total.get(k, 0) + v for k, v in counts.items()}
        n = max(total["n"], 1)
        print(json.dumps({"rule": rule_name, "PCK@0.1": round(100 * total["PCK@0.1"] / n, 1),
                          "PCK@0.2": round(100 * total["PCK@0.2"] / n, 1), "calls_per_frame": round(calls / frames, 2)}), flush=True)


if __name__ == "__main__":
    main()
