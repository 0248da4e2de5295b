"""``compare(reference, attempt)``: a reference performance and an attempt, aligned in time and space.

1. Joints of every frame of both videos (a pose source: MediaPipe by default).
2. Time: one attempt frame per reference frame, monotonic over the whole videos (DTW on pose
   descriptors, ``method="dtw-pose"``; or spread evenly, ``"uniform"``).
3. Key moments of the reference: given, or the frames where its motion turns; mapped into the
   attempt along the alignment.
4. Space, at each key moment: the reference's joints matched into the attempt, through the
   correspondence model when a checkpoint is given (``by: "model"``: the model's own t', x', y',
   on clips centred on the key moment and its aligned frame, see ``model_matches``),
   else onto the same joints of the attempt's aligned frame (``by: "pose"``; a joint the
   attempt's detector missed goes through ``spatial.pose_warp`` of the others).
5. Joint angles of both at each key moment (the attempt's from its matched points), timings,
   and the three largest differences in words. When the attempt moves as the reference mirrored
   (``sides_swapped``), its left and right joints swap names first, and the record says so.

The record is compare.json (docs/formats.md#comparejson), coordinates per docs/formats.md#coordinates
(t the 0-based native frame, x, y native pixels); it carries a few keys beyond those docs/formats.md
lists (action, method, pose, checkpoint, frames, sizes, attempt_sides, and per key moment the seconds
since the previous one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from stcorr.compare import align
from stcorr.compare.angles import ANGLE_NAMES, angle_rows, angle_series
from stcorr.compare.joints import Joints, JointTrack, MediaPipePose, PoseSource, other_side
from stcorr.compare.spatial import pose_warp
from stcorr.compare.summary import largest_differences
from stcorr.data.skeleton import ACTIONS, KEY_MOMENTS
from stcorr.data.video import Video
from stcorr.errors import StcorrError

METHODS = ("dtw-pose", "uniform")
DEFAULT_FPS = 30.0  # frame folders carry no rate; Penn Action was filmed at 30 frames a second
MIN_CONFIDENCE = 0.5
SWAP_MARGIN = 0.7
SWAPPED_NOTE = ("the attempt moves as the reference mirrored (a mirrored video, or the other hand leading): "
                "its left side is compared with the reference's right side and the other way round")


@dataclass
class Comparison:
    """What ``compare`` found: the record (compare.json) and what the pictures are drawn from."""

    reference: Video
    attempt: Video
    reference_joints: JointTrack
    attempt_joints: JointTrack
    attempt_times: np.ndarray  # (N,) attempt frame aligned to each reference frame
    record: dict

    @property
    def fps(self) -> tuple[float, float]:
        return tuple(self.record["fps"])  # type: ignore[return-value]


def compare(reference: str | Path, attempt: str | Path, **options) -> dict:
    """compare.json's record for two videos (files or frame folders); options as ``analyse``."""
    return analyse(reference, attempt, **options).record


def analyse(
    reference: str | Path, attempt: str | Path, *, action: str | None = None,
    key_moments: Sequence[int] | None = None, checkpoint: str | Path | None = None, method: str = "dtw-pose",
    pose: PoseSource | None = None, fps: float | None = None, device: str = "cpu",
) -> Comparison:
    """The whole comparison (module docstring). ``key_moments``: 0-based reference frames, in
    order; ``action`` names them (docs/formats.md#penn-action-layout) and, without them, says how many to look for;
    ``fps`` stands in for frame folders' unknown rate (video files carry theirs)."""
    names = moment_names(action, key_moments)
    if method not in METHODS:
        raise StcorrError(f"unknown time alignment method {method!r}; expected one of {', '.join(METHODS)}")
    ref_video, att_video = Video(reference), Video(attempt)
    moments = check_key_moments(key_moments, ref_video) if key_moments is not None else None
    matcher = load_model(checkpoint, device) if checkpoint is not None else None
    pose = pose or MediaPipePose()
    ref_track, att_track = pose.track(ref_video), pose.track(att_video)
    times = align_times(method, ref_track, att_track)
    if moments is None:
        moments = align.turning_points(ref_track, count=len(names) if names else None)
        names = names if names and len(moments) == len(names) else None  # names only when every moment was found
    swapped = sides_swapped(ref_track, att_track, times)
    if swapped:
        att_track = att_track.sides_swapped()
    rates = (video_fps(ref_video, fps), video_fps(att_video, fps))
    rows = []
    for i, t_ref in enumerate(moments):
        name = names[i] if names and i < len(names) else None
        rows.append(key_moment_row(name, t_ref, int(times[t_ref]), rates, ref_track, att_track, ref_video, att_video, matcher))
    add_intervals(rows)
    record = {
        "reference": str(reference), "attempt": str(attempt), "fps": [rates[0], rates[1]],
        "time_alignment": [[t, int(u)] for t, u in enumerate(times)],
        "key_moments": rows,
        "summary": (largest_differences(rows) or ["no key moment with joints seen in both videos"])
        + ([SWAPPED_NOTE] if swapped else []),
        "attempt_sides": "swapped" if swapped else "as detected",
        "action": action, "method": method, "pose": pose.name, "checkpoint": None if checkpoint is None else str(checkpoint),
        "frames": [ref_video.num_frames, att_video.num_frames], "sizes": [list(ref_video.size), list(att_video.size)],
    }
    return Comparison(ref_video, att_video, ref_track, att_track, times, record)


def align_times(method: str, reference: JointTrack, attempt: JointTrack) -> np.ndarray:
    """(N,) attempt frame for each reference frame under the time alignment ``method``."""
    if method == "dtw-pose":
        return align.dtw_alignment(align.frame_descriptors(reference), align.frame_descriptors(attempt))
    return align.uniform_alignment(reference.num_frames, attempt.num_frames)


def sides_swapped(reference: JointTrack, attempt: JointTrack, times: np.ndarray) -> bool:
    """Whether the attempt's joint angles follow the reference's better with its left and right
    swapped, over all aligned frames (median absolute difference smaller by ``SWAP_MARGIN``): a
    mirrored video, or a left-handed attempt at a right-handed reference. Then the attempt's left
    is compared with the reference's right: the same part of the movement."""
    ref = angle_series(align.filled_joints(reference))
    att = angle_series(align.filled_joints(attempt))[times]
    crossed = att[:, [ANGLE_NAMES.index(other_side(name)) for name in ANGLE_NAMES]]
    sided = [k for k, name in enumerate(ANGLE_NAMES) if other_side(name) != name]
    direct, across = (np.abs(a[:, sided] - ref[:, sided]) for a in (att, crossed))
    if not (np.isfinite(direct).any() and np.isfinite(across).any()):
        return False
    return bool(np.nanmedian(across) < SWAP_MARGIN * np.nanmedian(direct))


def moment_names(action: str | None, key_moments: Sequence[int] | None) -> tuple[str, ...] | None:
    """The action's key-moment names (docs/formats.md#penn-action-layout), None for no action; refuses an
    unknown action and a number of key moments the action does not have."""
    if action is None:
        return None
    if action not in ACTIONS:
        raise StcorrError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    names = KEY_MOMENTS.get(action)
    if names and key_moments is not None and len(key_moments) != len(names):
        raise StcorrError(f"{action} has {len(names)} key moments ({', '.join(names)}), "
                          f"--key-moments gave {len(key_moments)}")
    return names


def check_key_moments(moments: Sequence[int], video: Video) -> list[int]:
    """Whole, increasing frame indices inside the reference video."""
    moments = list(moments)
    if not moments:
        raise StcorrError("no key moments given")
    n = video.num_frames
    for t in moments:
        if not 0 <= t < n:
            raise StcorrError(f"key moment {t} is not a frame of the reference ({n} frames, 0-based)", video.path)
    if any(b <= a for a, b in zip(moments, moments[1:])):
        raise StcorrError(f"key moments must increase: {','.join(map(str, moments))}")
    return moments


def video_fps(video: Video, default: float | None = None) -> float:
    """Frames a second: a video file's average rate, else ``default`` (else 30)."""
    if video.path.is_file():
        import av

        with av.open(str(video.path)) as container:
            rate = container.streams.video[0].average_rate
        if rate:
            return float(rate)
    return float(default or DEFAULT_FPS)


def load_model(checkpoint: str | Path, device: str):
    """The checkpoint's correspondence predictor (``stcorr.predictor``)."""
    from stcorr.predictor import CorrespondencePredictor  # torch: only when a checkpoint is given

    return CorrespondencePredictor.from_checkpoint(checkpoint, device)


def model_matches(predictor, ref_video: Video, att_video: Video, t_ref: int, t_att: int, xy: np.ndarray) -> np.ndarray:
    """(K, 3) attempt (t, x, y) of reference points ``xy`` (K, 2) at frame ``t_ref``, by the
    model, on a clip of each video centred on the key moment and on its aligned frame: however
    long the videos, the model looks at the stretch the time alignment points to, at the clip
    stride it was trained with."""
    from stcorr.data.clips import sample_clip

    length, size, stride = predictor.clip_len, predictor.size, predictor.min_stride
    src = sample_clip(ref_video, length, size, key_frames=[t_ref], min_stride=stride)
    tgt = sample_clip(att_video, length, size, key_frames=[t_att], min_stride=stride)
    predicted, _ = predictor.predict_clips(src, tgt, np.column_stack([np.full(len(xy), t_ref), xy]), (ref_video, att_video))
    return predicted


def inside(xy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(K,) whether each point (x, y) lies in a frame of ``size`` (width, height)."""
    return (xy[:, 0] >= -0.5) & (xy[:, 0] <= size[0] - 0.5) & (xy[:, 1] >= -0.5) & (xy[:, 1] <= size[1] - 0.5)


def matched_points(t_ref: int, t_att: int, reference: Joints, attempt: Joints,
                   ref_video: Video, att_video: Video, predictor) -> list[dict]:
    """compare.json ``points`` of one key moment (module docstring, 4). The model is given only
    the joints inside the reference frame (a detector may place a hidden joint beyond its edge)."""
    names = list(reference)
    if not names:
        return []
    xy = np.array([reference[n] for n in names], dtype=np.float64)
    if predictor is not None:
        keep = inside(xy, ref_video.size)
        names, xy = [n for n, k in zip(names, keep) if k], xy[keep]
        if not names:
            return []
        found = [(int(p[0]), float(p[1]), float(p[2])) for p in model_matches(predictor, ref_video, att_video, t_ref, t_att, xy)]
        by = "model"
    else:
        warped = pose_warp(xy, reference, attempt, smoothing=0.02 * max(att_video.size))
        if warped is None:
            return []
        found = [(t_att, *(attempt.get(n) or tuple(w))) for n, w in zip(names, warped)]
        by = "pose"
    return [{"name": n, "reference": [t_ref, round(x, 2), round(y, 2)],
             "attempt": [t, round(float(u), 2), round(float(v), 2)], "by": by}
            for n, (x, y), (t, u, v) in zip(names, xy.tolist(), found)]


def key_moment_row(name: str | None, t_ref: int, t_att: int, rates: tuple[float, float],
                   ref_track: JointTrack, att_track: JointTrack, ref_video: Video, att_video: Video, predictor) -> dict:
    reference = ref_track.joints_at(t_ref, MIN_CONFIDENCE)
    points = matched_points(t_ref, t_att, reference, att_track.joints_at(t_att, MIN_CONFIDENCE),
                            ref_video, att_video, predictor)
    matched = {p["name"]: tuple(p["attempt"][1:]) for p in points}
    return {"name": name, "reference_t": int(t_ref), "attempt_t": int(t_att),
            "reference_s": round(t_ref / rates[0], 4), "attempt_s": round(t_att / rates[1], 4),
            "points": points, "angles": angle_rows(reference, matched)}


def add_intervals(rows: list[dict]) -> None:
    """Seconds from the previous key moment (from the start for the first), in both videos."""
    for side in ("reference", "attempt"):
        previous = 0.0
        for row in rows:
            row[f"{side}_since_previous_s"] = round(row[f"{side}_s"] - previous, 4)
            previous = row[f"{side}_s"]
