"""``compare(reference, attempt)``: a reference performance and an attempt, aligned in time and space.

1. Joints of every frame of both videos (a pose source: by default MediaPipe's plain pass in its
   static-image mode, ``default_pose``, with its 3D world joints). A video with under
   ``MIN_FRAMES`` frames, or with nobody in it, is refused in one line.
2. Views: how far apart the cameras look at the body (``view.view_difference``, on the pose
   source's own world joints); beyond ``VIEW_LIMIT_DEG`` the alignment, the left/right check and
   the angles use the 3D joints, those of the 3D lifter (``stcorr:lifter``) with compare's default
   pose source.
3. Reps (``reps.find_reps``): when the attempt holds several and the reference one, the
   reference is compared with the attempt's rep that moves most like it.
4. Time: one attempt frame per reference frame, monotonic (DTW on pose descriptors,
   ``method="dtw-pose"``; or spread evenly, ``"uniform"``); key moments given, or found in both
   videos by the action's rule (``moments.find_moments``), the ones that agree with the plain
   alignment anchoring it (``agreeing``).
5. Space, at each key moment: the reference's joints matched into the attempt, through the
   correspondence model when a checkpoint is given (``by: "model"``: the model's own t', x', y',
   on clips centred on the key moment and its aligned frame, see ``model_matches``),
   else onto the same joints of the attempt's aligned frame (``by: "pose"``; a joint the
   attempt's detector missed goes through ``spatial.pose_warp`` of the others).
6. Joint angles of both at each key moment (``angles.CONVENTION``; ``steady_angles``), each
   with its ``uncertainty_deg``, timings, and the three largest differences above the pose
   source's noise floor in words (``summary``), then what could not be found and why, the
   views, the reps. When the attempt moves as the reference mirrored (``sides_swapped``), its
   left and right joints swap names first, and the record says so.

The record is compare.json (docs/formats.md#comparejson), coordinates per docs/formats.md#coordinates (t the 0-based native frame,
x, y native pixels); it carries keys beyond those docs/formats.md lists (angle_convention, angles_from,
view_difference_deg, noise_floor_deg, missing_key_moments, reps, compared_attempt_frames,
action, method, pose, checkpoint, frames, sizes, attempt_sides, overlay_registration,
trace_points with --trace-point, and per key moment how it was found and the seconds since the
previous one).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

import stcorr.compare.align as align
from stcorr.compare.differences import CONVENTION, angle_rows, value_rows
from stcorr.compare.model_check import model_warning
from stcorr.pose.angles import ANGLE_NAMES, angle_series
from stcorr.pose.cache import MediaPipePose
from stcorr.pose.track import JointTrack, PoseSource
from stcorr.compare.moments import Moment, find_moments
from stcorr.compare.points import CarriedPoints, carry_points, check_points
from stcorr.compare.reps import find_reps, rep_distance, rep_rows, rep_sentences
from stcorr.compare.spatial import pose_warp
from stcorr.compare.summary import largest_differences, noise_floor
from stcorr.compare.view import VIEW_LIMIT_DEG, view_difference
from stcorr.compare.world import LiftedPose
from stcorr.pose.skeleton import ACTIONS, KEY_MOMENTS, Joints, mirrored_name
from stcorr.data.video import Video
from stcorr.errors import StcorrError

METHODS = ("dtw-pose", "uniform")
LIFTER = "stcorr:lifter"  # the 3D lifter of MediaPipe's world joints that compare reads (stcorr.models.lifter)
OVERLAY_ON = ("body", "background")
DEFAULT_FPS = 30.0  # frame folders carry no rate; Penn Action was filmed at 30 frames a second
MIN_CONFIDENCE = 0.5
MIN_FRAMES = 5
ANGLE_CONFIDENCE = 0.7  # a joint this sure gives angles
ANGLE_WINDOW = 2
ANCHOR_TOLERANCE = 0.05
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
    points: CarriedPoints | None = None  # the points the user picked, carried through both videos

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
    trace_points: np.ndarray | None = None, propagation: tuple | None = None, overlay_on: str = "body",
    lifter: str | Path | None = LIFTER,
) -> Comparison:
    """The whole comparison (module docstring). ``key_moments``: 0-based reference frames, in
    order; ``action`` names them (docs/formats.md#penn-action-layout) and, without them, picks the rule that finds them;
    ``fps`` stands in for frame folders' unknown rate (video files carry theirs); ``trace_points``
    (P, 3) reference (t, x, y) carried through both videos (``points.carry_points``) with
    ``propagation`` = (frame features, PropagationSettings) to be traced like joints; ``overlay_on``:
    what the overlay lays the attempt on, "body" (the bodies' similarity) or "background" (the
    backgrounds' homography, for a moving camera); ``lifter``: the 3D lifter of the default pose
    source's world joints (a checkpoint, ``stcorr:NAME``; None: MediaPipe's own world joints)."""
    names = moment_names(action, key_moments)
    check_choices(overlay_on, method)
    ref_video, att_video = Video(reference), Video(attempt)
    for video in (ref_video, att_video):
        check_length(video)
    given = check_key_moments(key_moments, ref_video) if key_moments is not None else None
    queries = check_points(trace_points, ref_video) if trace_points is not None and len(trace_points) else None
    matcher = load_model(checkpoint, device) if checkpoint is not None else None
    pose = pose or default_pose(lifter=lifter)
    ref_track, att_track = pose.track(ref_video), pose.track(att_video)
    for video, track in ((ref_video, ref_track), (att_video, att_track)):
        check_person(video, track)
    rates = (video_fps(ref_video, fps), video_fps(att_video, fps))
    found = aligned(pose, ref_track, att_track, action, given, names, method, rates)
    attempt_at = dict(found.anchors)
    rows = []
    for moment in (m for m in found.ref_moments if m.t is not None):
        t_att = attempt_at.get(moment.t, int(found.times[moment.t]))
        rows.append(key_moment_row(moment, t_att, rates, found.reference, found.attempt, ref_video, att_video, matcher,
                                   found.in_3d))
    add_intervals(rows)
    record = {"reference": str(reference), "attempt": str(attempt), "fps": [rates[0], rates[1]],
              **found.record(rows, pose, att_video.num_frames),
              "overlay_registration": overlay_on, "action": action, "method": method, "pose": pose.name,
              "checkpoint": None if checkpoint is None else str(checkpoint),
              "frames": [ref_video.num_frames, att_video.num_frames], "sizes": [list(ref_video.size), list(att_video.size)]}
    weak = model_warning(checkpoint) if checkpoint is not None else None
    record["summary"] += [weak] if weak else []
    carried = None
    if queries is not None:
        carried, starts = carry_points(ref_video, att_video, found.reference, found.attempt, found.times, queries, *propagation)
        record["trace_points"] = carried.record(starts)
    return Comparison(ref_video, att_video, found.reference, found.attempt, found.times, record, carried)


def check_choices(overlay_on: str, method: str) -> None:
    """Refuses an unknown ``overlay_on`` or time alignment ``method`` in one line."""
    if overlay_on not in OVERLAY_ON:
        raise StcorrError(f"the overlay is laid on {' or '.join(OVERLAY_ON)}, not {overlay_on!r}")
    if method not in METHODS:
        raise StcorrError(f"unknown time alignment method {method!r}; expected one of {', '.join(METHODS)}")


@dataclass
class Aligned:
    """The two performances aligned (module docstring, 2-4): the joints compared (the attempt's sides
    swapped when it moves as the reference mirrored; lifted when the views differ and the pose source
    lifts), the attempt frame of each reference frame, the key moments and the anchors among them."""

    reference: JointTrack
    attempt: JointTrack
    times: np.ndarray  # (N,) attempt frame aligned to each reference frame
    anchors: list[tuple[int, int]]  # (reference t, attempt t) of the moments both rules found, agreeing
    ref_moments: list[Moment]
    att_moments: list[Moment]
    span: tuple[int, int]  # the attempt's frames compared
    reps: dict  # rep_rows of both videos
    swapped: bool
    view: float | None  # degrees between the cameras' views (None without world joints)
    in_3d: bool  # the angles from the world joints

    def record(self, rows: list[dict], pose: PoseSource, attempt_frames: int) -> dict:
        """compare.json's part that the alignment decides: times, key moments, summary, views, reps."""
        missing = [{"name": m.name, "video": "reference", "reason": m.reason} for m in self.ref_moments if m.t is None]
        missing += [{"name": m.name, "video": "attempt", "reason": m.reason} for m in self.att_moments
                    if m.t is None and m.name not in {x["name"] for x in missing}]
        floor = noise_floor(pose.name, self.in_3d)
        return {
            "time_alignment": [[t, int(u)] for t, u in enumerate(self.times)],
            "key_moments": rows,
            "summary": summary_lines(rows, missing, self.swapped, self.view, self.in_3d, floor, self.span,
                                     self.reps["attempt"], attempt_frames, world_source(pose)),
            "angle_convention": CONVENTION, "angles_from": "world (3D)" if self.in_3d else "image (2D)",
            "view_difference_deg": self.view, "noise_floor_deg": floor, "missing_key_moments": missing,
            "reps": self.reps, "compared_attempt_frames": [int(self.span[0]), int(self.span[1])],
            "attempt_sides": "swapped" if self.swapped else "as detected",
        }


def aligned(pose: PoseSource, ref_track: JointTrack, att_track: JointTrack, action: str | None,
            given: list[int] | None, names: tuple[str, ...] | None, method: str, rates: tuple[float, float]) -> Aligned:
    """Views, reps, key moments and the time alignment of two performances (module docstring, 2-4);
    ``rates``: their frames a second, for the reps' durations."""
    ref_reps, att_reps = find_reps(ref_track, action), find_reps(att_track, action)
    aligned_in_3d = views_apart(ref_track, att_track)
    lifting = isinstance(pose, LiftedPose)
    if aligned_in_3d and lifting:  # 3D angles ahead: the lifter's joints
        ref_track, att_track = pose.lifted(ref_track), pose.lifted(att_track)
    one_rep = ref_track.frames_between(ref_reps[0].start, ref_reps[0].end) if len(ref_reps) == 1 else ref_track
    ref_descriptors = align.frame_descriptors(one_rep, aligned_in_3d)  # the reference's movement, without rest around it
    span = compared_span(ref_descriptors, att_track, ref_reps, ref_track.num_frames, att_reps, aligned_in_3d)
    if given is not None:
        ref_moments = [Moment(names[i] if names else None, t, by="given") for i, t in enumerate(given)]
        att_moments: list[Moment] = []
    else:
        ref_moments = find_moments(action, ref_track)
        att_moments = find_moments(action, att_track, *span)
    times = align_times(method, ref_track, att_track, span, (), aligned_in_3d)
    anchors = agreeing(moment_anchors(ref_moments, att_moments), times, span)
    if anchors:
        times = align_times(method, ref_track, att_track, span, anchors, aligned_in_3d)
    swapped = sides_swapped(ref_track, att_track, times, aligned_in_3d)
    as_detected = att_track
    if swapped:
        att_track = att_track.sides_swapped()
    view = view_difference(ref_track.world, att_track.world, times, swapped)
    in_3d = view is not None and view > VIEW_LIMIT_DEG
    if in_3d and lifting and not aligned_in_3d:  # the views read apart only once aligned: the angles from the lifter's joints
        ref_track, att_track = pose.lifted(ref_track), pose.lifted(as_detected)
        att_track = att_track.sides_swapped() if swapped else att_track
    reps = {"reference": rep_rows(ref_track, ref_reps, rates[0], None),
            "attempt": rep_rows(att_track, att_reps, rates[1], ref_descriptors, aligned_in_3d)}
    return Aligned(ref_track, att_track, times, anchors, ref_moments, att_moments, span, reps, swapped, view, in_3d)


def default_pose(lifter: str | Path | None = LIFTER, **settings) -> PoseSource:
    """compare's pose source: MediaPipe's plain pass as ``MediaPipePose`` builds it without
    ``tracking``, ``augment`` or ``filter`` (static-image mode: found anew in every frame), its
    world joints lifted by ``lifter`` when the views differ (``world.LiftedPose``; None: as MediaPipe
    gives them), the passes whose noise floors ``summary.MEASURED_FLOORS`` holds; ``settings`` over it (``cache``,
    ``tracking``). Not ``stcorr predict``'s video mode (``baseline.pose.tracking``): on the
    noise-floor copies its floors came out larger for every kind of 2D angle (docs/compare.md,
    "Noise floor")."""
    pose = MediaPipePose(settings)
    return pose if lifter is None else LiftedPose(pose, lifter_model(str(lifter)), str(lifter))


@lru_cache(maxsize=2)
def lifter_model(checkpoint: str):
    """The 3D lifter saved at ``checkpoint`` (``stcorr:lifter`` ships), loaded once per process."""
    from stcorr.models.checkpoint import load_model as load_checkpoint_model  # torch: only with the lifter

    return load_checkpoint_model(checkpoint, "lifter")


def world_source(pose: PoseSource) -> str:
    """Where the 3D joints come from, for the summary's words."""
    if isinstance(pose, LiftedPose):
        return f"MediaPipe's world landmarks lifted by the 3D lifter {pose.checkpoint}"
    return "MediaPipe's world landmarks"


def summary_lines(rows: list[dict], missing: list[dict], swapped: bool, view: float | None, in_3d: bool, floor: dict[str, float],
                  span: tuple[int, int], att_reps: list[dict], n_attempt: int,
                  world_from: str = "MediaPipe's world landmarks") -> list[str]:
    """compare.json's ``summary``: the largest differences above the noise floor, then what could not be done and why."""
    lines = largest_differences(rows, floor=floor)
    if not lines:
        lines = (["no angle differs by more than the noise floor (what the same performance filmed twice differs by) at the key moments"]
                 if any(m["angles"] for m in rows) else ["no key moment with joints seen in both videos"])
    for m in missing:
        lines.append(f"key moment {m['name'] or ''!s} not found in the {m['video']}: {m['reason']}".replace("moment  not", "moment not"))
    if view is not None and in_3d:
        lines.append(f"the two cameras see the body from directions about {view:.0f} degrees apart: 2D angles would "
                     f"differ by the view alone, so the angles are measured in 3D ({world_from})")
    elif view is None and rows:
        lines.append("the pose source gives no 3D joints: the angles are 2D, comparable only when both cameras see the body from the same side")
    if span != (0, n_attempt - 1):
        lines.append(f"the reference is compared with the attempt's frames {span[0]}-{span[1]}, "
                     "the rep that moves most like it")
    lines += rep_sentences(att_reps)
    return lines + ([SWAPPED_NOTE] if swapped else [])


def check_length(video: Video) -> None:
    """A one-line error for a video too short to compare."""
    if video.num_frames < MIN_FRAMES:
        raise StcorrError(f"has {video.num_frames} frame{'' if video.num_frames == 1 else 's'}: "
                          f"a comparison needs a movement of at least {MIN_FRAMES} frames", video.path)


def check_person(video: Video, track: JointTrack) -> None:
    """A one-line error for a video in which the pose source finds nobody."""
    if not track.found.any():
        raise StcorrError(f"no person found in any of its {video.num_frames} frames: nothing to compare", video.path)


def views_apart(reference: JointTrack, attempt: JointTrack) -> bool:
    """Whether the cameras look at the body from directions more than ``VIEW_LIMIT_DEG`` apart,
    read on frames spread evenly (before the time alignment, which then runs on 3D angles), a
    mirrored attempt allowed for; False without world joints."""
    times = align.uniform_alignment(reference.num_frames, attempt.num_frames)
    view = view_difference(reference.world, attempt.world, times, mirrored=True)
    return view is not None and view > VIEW_LIMIT_DEG


def compared_span(ref_descriptors: np.ndarray, att_track: JointTrack, ref_reps: list, n_reference: int, att_reps: list,
                  in_3d: bool = False) -> tuple[int, int]:
    """The attempt's frames the reference is aligned with: all of them, or, when the attempt holds
    several reps and the reference one at most, the rep that moves most like the reference
    (``ref_descriptors``: the reference's frame descriptors), widened by as much rest as the
    reference holds before and after its rep (at the rep's pace), up to the neighbouring reps."""
    whole = (0, att_track.num_frames - 1)
    if len(att_reps) < 2 or len(ref_reps) > 1:
        return whole
    distances = [rep_distance(ref_descriptors, align.frame_descriptors(att_track.frames_between(r.start, r.end), in_3d))
                 for r in att_reps]
    k = int(np.argmin(distances))
    best = att_reps[k]
    if not ref_reps:
        return (best.start, best.end)
    pace = (best.end - best.start + 1) / (ref_reps[0].end - ref_reps[0].start + 1)
    before = att_reps[k - 1].end if k > 0 else 0
    after = att_reps[k + 1].start if k + 1 < len(att_reps) else whole[1]
    return (max(before, best.start - round(ref_reps[0].start * pace)),
            min(after, best.end + round((n_reference - 1 - ref_reps[0].end) * pace)))


def moment_anchors(reference: list[Moment], attempt: list[Moment]) -> list[tuple[int, int]]:
    """(reference t, attempt t) of the named moments found in both videos, increasing in both (else [])."""
    found = {m.name: m.t for m in attempt if m.name and m.t is not None}
    pairs = [(m.t, found[m.name]) for m in reference if m.name in found and m.t is not None]
    increasing = all(a[0] < b[0] and a[1] < b[1] for a, b in zip(pairs, pairs[1:]))
    return pairs if increasing else []


def agreeing(anchors: list[tuple[int, int]], times: np.ndarray, span: tuple[int, int]) -> list[tuple[int, int]]:
    """The anchors (a moment found by its rule in both videos) within ``ANCHOR_TOLERANCE`` of the
    compared stretch (at least 2 frames) of where the plain alignment ``times`` puts them: a rule
    sharpens the alignment at a moment, but one thrown by a detector's wobble must not drag it."""
    tolerance = max(2.0, ANCHOR_TOLERANCE * (span[1] - span[0]))
    return [(t, u) for t, u in anchors if abs(u - int(times[t])) <= tolerance]


def align_times(method: str, reference: JointTrack, attempt: JointTrack, span: tuple[int, int] | None = None,
                anchors: Sequence[tuple[int, int]] = (), world: bool = False) -> np.ndarray:
    """(N,) attempt frame for each reference frame under the time alignment ``method``, inside the
    attempt's frames ``span`` (default all), through the ``anchors`` (reference t, attempt t):
    each stretch between two anchors is aligned on its own; ``world``: on 3D angles."""
    first, last = span or (0, attempt.num_frames - 1)
    knots = [(0, first), *[(t, u) for t, u in anchors if 0 < t < reference.num_frames - 1 and first < u < last],
             (reference.num_frames - 1, last)]
    ref_desc = align.frame_descriptors(reference, world) if method == "dtw-pose" else None
    # the attempt's descriptors over the span alone (its joints outside it do not smooth into it)
    att_desc = np.zeros((attempt.num_frames, 1))
    if method == "dtw-pose":
        inside = align.frame_descriptors(attempt.frames_between(first, last), world)
        att_desc = np.concatenate([np.zeros((first, inside.shape[1])), inside,
                                   np.zeros((attempt.num_frames - 1 - last, inside.shape[1]))])
    times = np.zeros(reference.num_frames, dtype=np.int64)
    for (t0, u0), (t1, u1) in zip(knots, knots[1:]):
        if ref_desc is None or t1 - t0 < 2 or u1 - u0 < 2:
            piece = u0 + align.uniform_alignment(t1 - t0 + 1, u1 - u0 + 1)
        else:
            piece = u0 + align.dtw_alignment(ref_desc[t0:t1 + 1], att_desc[u0:u1 + 1])
        times[t0:t1 + 1] = piece
    return np.maximum.accumulate(times)


def sides_swapped(reference: JointTrack, attempt: JointTrack, times: np.ndarray, world: bool = False) -> bool:
    """Whether the attempt's joint angles follow the reference's better with its left and right
    swapped, over all aligned frames (median absolute difference smaller by ``SWAP_MARGIN``): a
    mirrored video, or a left-handed attempt at a right-handed reference. Then the attempt's left
    is compared with the reference's right: the same part of the movement. ``world``: on 3D angles
    (the cameras see the body from different sides); else on image angles, which are the clearer
    where the views agree (on real-dev's mirrored copies, benchmarks/compare_self.py, the crossed
    image angles differ 0.2-0.8 times as much as the direct ones, MediaPipe's single-view 3D ones
    0.7-0.9 times: docs/compare.md)."""
    if world and reference.world is not None and attempt.world is not None:
        ref, att = angle_series(reference.world), angle_series(attempt.world)[times]
    else:
        ref, att = angle_series(align.filled_joints(reference)), angle_series(align.filled_joints(attempt))[times]
    crossed = att[:, [ANGLE_NAMES.index(mirrored_name(name)) for name in ANGLE_NAMES]]
    sided = [k for k, name in enumerate(ANGLE_NAMES) if mirrored_name(name) != name]
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
        # PyAV loads when a video file (not a frame folder) is first read
        import av

        with av.open(str(video.path)) as container:
            rate = container.streams.video[0].average_rate
        if rate:
            return float(rate)
    return float(default or DEFAULT_FPS)


@lru_cache(maxsize=1)
def load_model(checkpoint: str | Path, device: str):
    """The checkpoint's correspondence predictor (``stcorr.predictor``); kept for the next
    comparison with the same checkpoint (a folder of attempts loads it once)."""
    from stcorr.predictor import CorrespondencePredictor  # torch: only when a checkpoint is given

    return CorrespondencePredictor.from_checkpoint(checkpoint, device)


def model_matches(predictor, ref_video: Video, att_video: Video, t_ref: int, t_att: int, xy: np.ndarray) -> np.ndarray:
    """(K, 3) attempt (t, x, y) of reference points ``xy`` (K, 2) at frame ``t_ref``, by the
    model, on a clip of each video centred on the key moment and on its aligned frame: however
    long the videos, the model looks at the stretch the time alignment points to, at the clip
    stride it was trained with."""
    # data.clips imports torch: loaded only when compare is given a model
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


def key_moment_row(moment: Moment, t_att: int, rates: tuple[float, float], ref_track: JointTrack,
                   att_track: JointTrack, ref_video: Video, att_video: Video, predictor, in_3d: bool) -> dict:
    """compare.json's row of one key moment: its frames, matched points and angles: from the
    model's matched points when there is a model, else each body's own joints (3D world joints
    when ``in_3d``), as the median over ``ANGLE_WINDOW`` frames either side (a joint that flips
    for a frame does not make a difference)."""
    t_ref = int(moment.t)
    reference = ref_track.joints_at(t_ref, MIN_CONFIDENCE)
    points = matched_points(t_ref, t_att, reference, att_track.joints_at(t_att, MIN_CONFIDENCE),
                            ref_video, att_video, predictor)
    if predictor is not None and not in_3d:
        angles = angle_rows(reference, {p["name"]: tuple(p["attempt"][1:]) for p in points})
    else:
        angles = value_rows(steady_angles(ref_track, t_ref, in_3d), steady_angles(att_track, t_att, in_3d))
    add_uncertainty(angles, att_track, t_att, in_3d)
    return {"name": moment.name, "by": moment.by, "reference_t": t_ref, "attempt_t": int(t_att),
            "reference_s": round(t_ref / rates[0], 4), "attempt_s": round(t_att / rates[1], 4),
            "points": points, "angles": angles}


def add_uncertainty(rows: list[dict], att_track: JointTrack, t_att: int, world: bool, window: int = 1) -> None:
    """Adds to each angle row ``uncertainty_deg``: half the range of the attempt's angle within
    ``window`` frames of its aligned frame. The time alignment may be a frame off; in a fast
    movement that alone makes this much difference."""
    part = slice(max(0, t_att - window), min(att_track.num_frames, t_att + window + 1))
    angles = angle_series(align.filled_joints(att_track, world=world)[part])
    finite = np.isfinite(angles)
    high, low = np.where(finite, angles, -np.inf).max(axis=0), np.where(finite, angles, np.inf).min(axis=0)
    moving = dict(zip(ANGLE_NAMES, np.where(finite.any(axis=0), (high - low) / 2, 0.0)))
    for row in rows:
        row["uncertainty_deg"] = round(float(moving[row["joint"]]), 2)


def steady_angles(track: JointTrack, t: int, world: bool, window: int = ANGLE_WINDOW) -> np.ndarray:
    """(9,) every angle at frame t, the median over frames t - window .. t + window of the angles
    whose joints reach ``ANGLE_CONFIDENCE`` there (NaN when fewer than half those frames have it)."""
    part = slice(max(0, t - window), min(track.num_frames, t + window + 1))
    joints = (track.world if world else track.xy)[part].copy()
    joints[track.visibility[part] < ANGLE_CONFIDENCE] = np.nan
    angles = angle_series(joints)
    enough = np.isfinite(angles).sum(axis=0) * 2 > len(angles)
    out = np.full(angles.shape[1], np.nan)
    out[enough] = np.nanmedian(angles[:, enough], axis=0)
    return out


def add_intervals(rows: list[dict]) -> None:
    """Seconds from the previous key moment (from the start for the first), in both videos."""
    for side in ("reference", "attempt"):
        previous = 0.0
        for row in rows:
            row[f"{side}_since_previous_s"] = round(row[f"{side}_s"] - previous, 4)
            previous = row[f"{side}_s"]
