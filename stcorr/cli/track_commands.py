"""Tracking verbs: ``stcorr propagate`` and ``stcorr eval --task track`` (docs/cli.md, docs/formats.md#tracksjson)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from stcorr.cli.common import OverwriteOpt, command_line, console, in_range, load_dataset
from stcorr.errors import StcorrError
from stcorr.cli.outputs import check_outputs

FeaturesOpt = Annotated[Optional[str], typer.Option("--features", help="Propagate without a checkpoint: pixels (raw Lab) or untrained (a random CorrFlow encoder).")]


def _settings(config: str | None, sets: list[str] | None):
    # imported when the verb runs, so every other verb starts without it
    from stcorr.cli.common import build_config
    from stcorr.models.propagation import PropagationSettings

    cfg = build_config(config, sets)
    return cfg, PropagationSettings.checked(cfg["corrflow"]["propagation"])


def propagate(
    video: Annotated[Path, typer.Option("--video", help="Video file or frame folder.")],
    keypoints: Annotated[Optional[Path], typer.Option("--keypoints", help='KP.json: {"keypoints": [{"name", "t", "x", "y"}]} in native pixels.')] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="TRACKS.json to write (with --keypoints).")] = None,
    masks: Annotated[Optional[Path], typer.Option("--masks", help="An indexed PNG (DAVIS style: palette image, 0 background, 1..K objects) of frame --mask-frame.")] = None,
    mask_frame: Annotated[int, typer.Option("--mask-frame", callback=in_range(0), help="The frame (0-based) the --masks PNG belongs to.")] = 0,
    out_masks: Annotated[Optional[Path], typer.Option("--out-masks", help="Folder to write one indexed PNG per frame into (00000.png, ...; with --masks).")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", help="A CorrFlow checkpoint (stcorr train --config corrflow), or stcorr:NAME (shipped, e.g. stcorr:corrflow-cpu).")] = None,
    features: FeaturesOpt = None,
    viz: Annotated[Optional[Path], typer.Option("--viz", help="Also draw the keypoint tracks on the video: FILE.mp4.")] = None,
    backward: Annotated[bool, typer.Option("--backward", help="Also follow the keypoints (and masks) back to the first frame.")] = False,
    config: Annotated[Optional[str], typer.Option("--config", help="Config with the corrflow.propagation settings.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key, e.g. --set corrflow.propagation.radius=8.")] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Follow keypoints (--keypoints, --out) and/or object masks (--masks, --out-masks) of a frame
    through a video by label propagation (CorrFlow features, or raw pixels)."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.cli.common import config_file, read_keypoints
    from stcorr.data.masks import read_mask
    from stcorr.data.video import Video
    from stcorr.evaluation.tracking import tracking_features

    check_propagate_outputs(keypoints, out, masks, out_masks, viz)
    check_outputs("propagate", {"--video": video, "--keypoints": keypoints, "--masks": masks, "--checkpoint": checkpoint,
                                "--config": config_file(config)},
                  files={"--out": out, "--viz": viz}, folders={"--out-masks": out_masks}, overwrite=overwrite)
    cfg, settings = _settings(config, set_)
    frame_features = tracking_features(checkpoint, features, cfg)
    clip = Video(video)
    if keypoints is not None:
        names, points = read_keypoints(keypoints)
        check_query_points(clip, points, keypoints)
    if masks is not None:
        if not 0 <= mask_frame < clip.num_frames:
            raise StcorrError(f"--mask-frame {mask_frame} is outside the video's {clip.num_frames} frames", video)
        mask = read_mask(masks, clip.size)
    record = None
    if keypoints is not None:
        record = {"video": clip.name, "checkpoint": None if checkpoint is None else str(checkpoint),
                  "tracks": follow_keypoints(clip, names, points, frame_features, settings, backward)}
    if masks is not None:
        written = write_propagated_masks(out_masks, clip, mask_frame, mask, frame_features, settings, backward)
        console.print(f"wrote {out_masks} ({written} mask(s) of {len(mask.objects)} object(s))")
    if record is not None:
        from stcorr.files import file_writer, json_text

        with file_writer(out) as tmp:  # TRACKS.json and its drawing together, or neither
            tmp.write_text(json_text(record))
            if viz is not None:
                draw_tracks(viz, clip, record["tracks"])
        console.print(f"wrote {out} ({len(record['tracks'])} track(s))" + (f" and {viz}" if viz is not None else ""))


def check_propagate_outputs(keypoints: Path | None, out: Path | None, masks: Path | None, out_masks: Path | None,
                            viz: Path | None) -> None:
    """What to follow and where to write it: --keypoints with --out, --masks with --out-masks (either or both)."""
    if keypoints is None and masks is None:
        raise StcorrError("give --keypoints KP.json with --out TRACKS.json, or --masks FIRST.png with --out-masks DIR")
    if (keypoints is None) != (out is None):
        raise StcorrError("--keypoints and --out go together" + (" (masks are written with --out-masks)" if masks else ""))
    if (masks is None) != (out_masks is None):
        raise StcorrError("--masks and --out-masks go together")
    if viz is not None and keypoints is None:
        raise StcorrError("--viz draws keypoint tracks: give it with --keypoints")
    if viz is not None and viz.suffix.lower() != ".mp4":
        raise StcorrError(f"--viz takes an .mp4 file name, not {viz.name!r}")


def follow_keypoints(clip, names: list, points: np.ndarray, frame_features, settings, backward: bool) -> list[dict]:
    """TRACKS.json's tracks (docs/formats.md#tracksjson), in the order of the keypoints, each query frame
    propagated once."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.models.propagation import propagate_keypoints

    tracks = []
    for t in sorted({int(p[0]) for p in points}):
        rows = np.flatnonzero(points[:, 0] == t)
        followed = propagate_keypoints(clip, t, points[rows, 1:], frame_features, settings, backward=backward)
        for j, row in enumerate(rows):
            tracks.append((row, {"name": names[row], "query": [t, float(points[row, 1]), float(points[row, 2])],
                                 "points": [[f, round(float(p[j, 0]), 3), round(float(p[j, 1]), 3), round(float(p[j, 2]), 4)]
                                            for f, p in followed.items()]}))
    return [track for _, track in sorted(tracks, key=lambda item: item[0])]


def write_propagated_masks(folder: Path, clip, mask_frame: int, mask, frame_features, settings, backward: bool) -> int:
    """Propagates ``mask`` (an ``IndexedMask`` of frame ``mask_frame``) and writes one PNG per frame
    into ``folder`` (written whole: a failure leaves no folder), streaming; returns the count."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.data.masks import mask_file_name, write_mask
    from stcorr.files import folder_writer
    from stcorr.models.propagation import propagate_masks

    count = 0
    with folder_writer(folder) as tmp:
        for t, labels in propagate_masks(clip, mask_frame, mask.labels, frame_features, settings, backward):
            write_mask(tmp / mask_file_name(t, clip.num_frames), labels, mask.palette)
            count += 1
    return count


def check_query_points(video, points: np.ndarray, source: Path) -> None:
    """Every keypoint must lie in a frame of the video and inside the frame."""
    width, height = video.size
    for i, (t, x, y) in enumerate(points):
        if not 0 <= t < video.num_frames:
            raise StcorrError(f"keypoint {i}: frame {int(t)} is outside the video's {video.num_frames} frames", source)
        if not (0 <= x < width and 0 <= y < height):
            raise StcorrError(f"keypoint {i}: ({x:g}, {y:g}) is outside the {width}x{height} frame", source)


def draw_tracks(path: Path, video, tracks: list[dict]) -> None:
    """An mp4 of the video with each track's point drawn on every frame it covers (radius ~1% of the frame)."""
    # imported when the verb runs, so every other verb starts without it
    from PIL import Image, ImageDraw

    from stcorr.data.video import write_video

    colours = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
               (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40)]
    at = {}
    for k, track in enumerate(tracks):
        for t, x, y, _ in track["points"]:
            at.setdefault(int(t), []).append((x, y, colours[k % len(colours)]))
    radius = max(2, round(0.01 * max(video.size)))

    def drawn():  # one frame at a time: write_video streams, so a long video is never held whole
        for t in range(video.num_frames):
            image = Image.fromarray(video.frame(t))
            draw = ImageDraw.Draw(image)
            for x, y, colour in at.get(t, []):
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour, outline=(0, 0, 0))
            yield np.asarray(image)

    write_video(path, drawn())


def eval_track(data: Path, out: Path, checkpoint: Path | None, features: str | None, split: str,
               config: str | None, sets: list[str] | None, progress: bool) -> None:
    """``stcorr eval --task track``: first-frame joints propagated through every video, PCK@0.1/0.2."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.evaluation.tracking import evaluate_tracking, tracking_features
    from stcorr.files import write_json

    cfg, settings = _settings(config, sets)
    frame_features = tracking_features(checkpoint, features, cfg)
    dataset = load_dataset(data)
    results = evaluate_tracking(dataset, frame_features, settings, split=split, progress=progress)
    results["command"] = command_line()
    write_json(out, results)
    console.print(f"{results['method']}: PCK@0.1 {100 * results['PCK@0.1']:.1f}%  PCK@0.2 {100 * results['PCK@0.2']:.1f}%  "
                  f"({results['n_points']} points, {results['n_videos']} videos, {results['seconds']:.0f} s)")
    console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command()(propagate)
