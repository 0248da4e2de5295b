"""The thin predictor over a Matcher: native videos and native keypoints in, native predictions out.

    predictor = predictor_for(matcher, cfg["data"], device, cfg["baseline"]["pose"])   # the clip settings of data
    targets, scores = predictor.predict(source_video, target_video, source_points)

Windows: the source clip subsamples the whole source video into one clip (``source_window=
"whole"``) or covers the times of the given source keypoints (``"keypoints"``: finer in time);
the target clip subsamples the WHOLE target video, since where the key moments fall in the
target is what is being predicted. A target so long that one clip would skip more than
``max_target_stride`` native frames between its frames is covered instead by overlapping
windows at that stride (half a window apart), and each point keeps the prediction of the
window that scores it highest; windows are read one at a time, so memory stays bounded.
Predictions come back in the target's native coordinates: t a whole frame index, x/y native pixels.

A matcher whose ``input`` holds pose maps (``stcorr.pose.maps``) gets, for each clip, the maps
of MediaPipe's joints of its video, read through the pose cache (``pose``: the ``baseline.pose``
settings); without MediaPipe the predictor refuses to be built, in one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from stcorr.data.clips import Clip, sample_clip, temporal_stride
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.models.backbones import normalize_clip
from stcorr.models.checkpoint import load_matcher
from stcorr.models.matcher import Matcher
from stcorr.pose.cache import MediaPipePose
from stcorr.pose.maps import SeenJoints, clip_input, uses_pose
from stcorr.pose.mediapipe import MissingExtra
from stcorr.progress import progress_bar


class CorrespondencePredictor:
    def __init__(self, matcher: Matcher, *, clip_len: int, size: int, min_stride: int, source_window: str,
                 max_target_stride: int | None, device: str | torch.device = "cpu", pose: dict | None = None,
                 joints: SeenJoints | None = None):
        """``joints``: where a model with pose input gets each video's joints (default: MediaPipe, ``pose``)."""
        self.matcher = matcher.to(device).eval()
        self.joints = joints if joints is not None else pose_estimator(matcher.input, pose)
        self.max_target_stride = max_target_stride
        self.source_window = source_window
        self.clip_len, self.size, self.min_stride = clip_len, size, min_stride
        self.device = torch.device(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu",
                        joints: SeenJoints | None = None) -> "CorrespondencePredictor":
        """The space-time matcher saved in a checkpoint (a folder, or ``stcorr:NAME``) with the clip
        settings it was trained with; no training code is imported. ``joints``: as in ``__init__``."""
        matcher, info = load_matcher(path)
        return predictor_for(matcher, info["config"]["data"], device, info["config"]["baseline"]["pose"], joints)

    def source_clip(self, source: Video, source_points: np.ndarray) -> Clip:
        key_frames = sorted({int(t) for t in np.asarray(source_points)[:, 0]}) if self.source_window == "keypoints" else None
        return sample_clip(source, self.clip_len, self.size, key_frames=key_frames, min_stride=self.min_stride)

    def clips(self, source: Video, target: Video, source_points: np.ndarray) -> tuple[Clip, Clip]:
        tgt = sample_clip(target, self.clip_len, self.size, key_frames=None, min_stride=self.min_stride)
        return self.source_clip(source, source_points), tgt

    @torch.no_grad()
    def predict(self, source: Video, target: Video, source_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Source keypoints (K, 3) native (t, x, y) -> target (K, 3) native (t, x, y) and scores (K,)."""
        source_points = np.asarray(source_points, dtype=np.float64).reshape(-1, 3)
        check_points(source, source_points)
        windows = target_windows(target.num_frames, self.clip_len, self.max_target_stride)
        if windows is None:
            src, tgt = self.clips(source, target, source_points)
            return self.predict_clips(src, tgt, source_points, (source, target))
        return self._predict_windows(source, target, source_points, windows)

    def _predict_windows(self, source: Video, target: Video, source_points: np.ndarray,
                         windows: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        src = self.source_clip(source, source_points)
        best, best_scores = None, None
        with progress_bar("target windows", len(windows), enabled=len(windows) > 8) as bar:
            for first, last in windows:
                tgt = sample_clip(target, self.clip_len, self.size, key_frames=[first, last], min_stride=self.min_stride)
                predicted, scores = self.predict_clips(src, tgt, source_points, (source, target))
                if best is None:
                    best, best_scores = predicted, scores
                else:
                    better = scores > best_scores
                    best[better], best_scores[better] = predicted[better], scores[better]
                bar.advance()
        return best, best_scores

    @torch.no_grad()
    def predict_clips(self, src: Clip, tgt: Clip, source_points: np.ndarray,
                      videos: tuple[Video, Video] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Source points (K, 3) native -> target (K, 3) native and scores (K,) on two given clips;
        ``videos`` (source, target): the clips' videos, which a model with pose input needs."""
        points = torch.as_tensor(src.to_clip(source_points), dtype=torch.float32, device=self.device)[None]
        src_video, tgt_video = videos or (None, None)
        src_x, tgt_x = self.model_input(src, src_video)[None], self.model_input(tgt, tgt_video)[None]
        with _autocast(self.device):
            predicted, scores = self.matcher.match(src_x, tgt_x, points)
        return tgt.to_native(predicted[0].float().cpu().numpy()), scores[0].float().cpu().numpy()


    def model_input(self, clip: Clip, video: Video | None) -> torch.Tensor:
        """What the matcher takes for ``clip`` of ``video``: (C, T, H, W) on the device."""
        if self.joints is not None and video is None:
            raise ValueError("a model with pose input needs the clips' videos")
        joints = None if self.joints is None else self.joints.seen(video)
        return clip_input(clip, self.matcher.input, normalize_clip(clip.frames), joints).to(self.device)


def pose_estimator(model_input: str, pose: dict | None) -> MediaPipePose | None:
    """MediaPipe's joints for a model that takes pose maps; None for RGB; a one-line error naming
    what to install when MediaPipe is missing."""
    if not uses_pose(model_input):
        return None
    try:
        return MediaPipePose.shared(pose)
    except MissingExtra as exc:
        raise MissingExtra(f"this model takes pose maps (model.input: {model_input}): {exc}") from None


def target_windows(num_frames: int, clip_len: int, max_stride: int | None) -> list[tuple[int, int]] | None:
    """(first, last) native frames of overlapping windows over a long target, each spanning
    (clip_len - 1) x ``max_stride`` frames, half a window apart, the last ending at the video's
    last frame; None when one clip of the whole video needs no stride above ``max_stride``."""
    if max_stride is None or temporal_stride(num_frames - 1, clip_len) <= max_stride:
        return None
    span = (clip_len - 1) * max_stride
    step = max(span // 2, 1)
    firsts = list(range(0, num_frames - 1 - span, step)) + [num_frames - 1 - span]
    return [(f, f + span) for f in firsts]


def check_points(video: Video, points: np.ndarray, source: str | None = None) -> None:
    """Keypoints must lie in the video: 0 <= t < frames, inside the frame, whole t."""
    if len(points) == 0:
        raise StcorrError("no keypoints given", source)
    width, height = video.size
    n = video.num_frames
    for t, x, y in points:
        if not (0 <= t < n and float(t).is_integer()):
            raise StcorrError(f"keypoint t={t:g} is not a frame of {video.path} ({n} frames, 0-based)", source)
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            raise StcorrError(f"keypoint ({x:g}, {y:g}) at t={t:g} is outside the {width}x{height} frame of {video.path}", source)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def predictor_for(matcher: Matcher, data_cfg: dict, device: str | torch.device = "cpu",
                  pose: dict | None = None, joints: SeenJoints | None = None) -> CorrespondencePredictor:
    """The predictor with the clip settings a model was trained with (the config's data section);
    ``pose``: the ``baseline.pose`` settings, for a model that takes pose maps (None: MediaPipe's
    plain pass, ``stcorr.pose.cache.MediaPipePose``)."""
    return CorrespondencePredictor(matcher, clip_len=data_cfg["clip_len"], size=data_cfg["size"],
                                   min_stride=data_cfg["min_stride"], source_window=data_cfg["source_window"],
                                   max_target_stride=data_cfg["max_target_stride"], device=device, pose=pose,
                                   joints=joints)
