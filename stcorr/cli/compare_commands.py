"""``stcorr compare``: coaching, a reference performance against an attempt (docs/cli.md, docs/compare.md)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from stcorr.cli.common import MAX_FPS, OverwriteOpt, console
from stcorr.errors import StcorrError
from stcorr.cli.outputs import check_outputs


def parse_key_moments(text: str | None) -> list[int] | None:
    """'18,24' -> [18, 24]; a one-line error for anything but whole numbers."""
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise StcorrError(f"--key-moments takes 0-based frame numbers separated by commas, not {text!r}") from None


TRACE_DEFAULT = ("left_wrist", "right_wrist", "left_ankle", "right_ankle")  # as stcorr.compare.overlay.TRACE_JOINTS


def parse_traces(text: str) -> tuple[str, ...]:
    """'left_wrist,right_ankle' -> the joint names; a one-line error for a name that is not a joint."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.pose.skeleton import JOINTS

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        if name not in JOINTS:
            raise StcorrError(f"--traces takes joint names ({', '.join(JOINTS)}), not {name!r}")
    return names


def parse_trace_points(texts: list[str] | None) -> "np.ndarray | None":
    """['12,80.5,40'] -> (P, 3) reference t, x, y; a one-line error for anything else."""
    # imported when the verb runs, so every other verb starts without it
    import numpy as np

    if not texts:
        return None
    rows = []
    for text in texts:
        parts = text.split(",")
        try:
            t, x, y = (float(p) for p in parts)
        except ValueError:
            raise StcorrError(f"--trace-point takes t,x,y (a 0-based reference frame and native pixels), not {text!r}") from None
        if not all(map(math.isfinite, (t, x, y))):
            raise StcorrError(f"--trace-point takes finite numbers, not {text!r}")
        rows.append((t, x, y))
    return np.array(rows)


def propagation_for(source: str) -> tuple:
    """(frame features, propagation settings) for carrying picked points: a CorrFlow checkpoint
    (stcorr:NAME or a folder) or ``pixels``; the settings are the config's corrflow.propagation."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.cli.common import build_config
    from stcorr.evaluation.tracking import tracking_features
    from stcorr.models.propagation import PropagationSettings

    cfg = build_config(None, None)
    features = tracking_features(None, source, cfg) if source in ("pixels", "untrained") else tracking_features(source, None, cfg)
    return features, PropagationSettings.checked(cfg["corrflow"]["propagation"])


def compare(
    reference: Annotated[Path, typer.Argument(help="The reference performance: a video file or a folder of frames.")],
    attempt: Annotated[Optional[Path], typer.Argument(help="The attempt to compare with it: a video file or a folder of frames; or a folder of attempts (as --attempts).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for compare.json, side_by_side.mp4, overlay.mp4 and index.html.")] = ...,
    attempts: Annotated[Optional[Path], typer.Option("--attempts", help="A folder of attempts (video files, folders of frames): each compared with the reference and ranked; writes DIR/attempts.json, DIR/index.html and DIR/attempts/NAME/.")] = None,
    action: Annotated[Optional[str], typer.Option(help="The action (e.g. squat, golf_swing): names the key moments.")] = None,
    key_moments: Annotated[Optional[str], typer.Option("--key-moments", help="Key moments as 0-based reference frames, e.g. 18,24 (default: where the motion turns).")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", help="Match the joints through this trained correspondence model.")] = None,
    method: Annotated[str, typer.Option(help="Time alignment: dtw-pose (DTW on joint angles) or uniform.")] = "dtw-pose",
    fps: Annotated[Optional[float], typer.Option(help="Frame rate of frame folders (default 30; video files carry theirs).")] = None,
    video: Annotated[bool, typer.Option(help="Write side_by_side.mp4 and overlay.mp4.")] = True,
    traces: Annotated[str, typer.Option(help="Joints whose paths the overlay draws, separated by commas.")] = ",".join(TRACE_DEFAULT),
    trace_point: Annotated[Optional[list[str]], typer.Option("--trace-point", help="A point to trace (a club head, a ball): t,x,y in the reference (0-based frame, native pixels), carried through both videos as `stcorr propagate` does; repeat for more.")] = None,
    trace_features: Annotated[str, typer.Option("--trace-features", help="What carries --trace-point: a CorrFlow checkpoint (stcorr:NAME or a folder) or pixels.")] = "stcorr:corrflow-cpu",
    overlay_on: Annotated[str, typer.Option("--overlay-on", help="What the overlay lays the attempt on: body (the bodies' hips and shoulders) or background (the place, for a camera that moves).")] = "body",
    lifter: Annotated[str, typer.Option("--lifter", help="The 3D joints behind angles across views: stcorr:lifter (MediaPipe's world joints lifted by the shipped model), another lifter checkpoint, or none (MediaPipe's own).")] = "stcorr:lifter",
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto (the model's device).")] = "auto",
    overwrite: OverwriteOpt = False,
) -> None:
    """Compare an attempt with a reference: time alignment, key moments, matched joints, joint
    angles and their differences, every rep; writes DIR/compare.json, DIR/side_by_side.mp4,
    DIR/overlay.mp4 (the attempt warped onto the reference: ghost and split, joint traces) and DIR/index.html."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.cli.common import resolve_device

    moments = parse_key_moments(key_moments)
    traced = parse_traces(traces)
    if fps is not None and not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise StcorrError(f"--fps takes a frame rate above 0 and at most {MAX_FPS}, not {fps}")
    points = parse_trace_points(trace_point)
    attempt, attempts = one_attempt_or_folder(attempt, attempts)
    carrier = None if points is None or trace_features in ("pixels", "untrained") else trace_features
    lifted_by = None if lifter == "none" else lifter
    check_outputs("compare", {"REFERENCE": reference, "ATTEMPT": attempt, "--attempts": attempts, "--checkpoint": checkpoint,
                              "--trace-features": carrier, "--lifter": lifted_by}, folders={"--out": out}, overwrite=overwrite)
    torch_device = str(resolve_device(device)) if checkpoint is not None else "cpu"
    options = dict(action=action, key_moments=moments, checkpoint=checkpoint, method=method, fps=fps, device=torch_device,
                   overlay_on=overlay_on, lifter=lifted_by)
    if points is not None:
        options.update(trace_points=points, propagation=propagation_for(trace_features))
        traced = traced + tuple(f"point {k + 1}" for k in range(len(points)))
    if attempts is not None:
        summary = compare_folder(reference, attempts, out, options, video, traced)
    else:
        from stcorr.compare import analyse, write_comparison

        comparison = analyse(reference, attempt, **options)
        write_comparison(comparison, out, video=video, traces=traced)
        summary = comparison.record["summary"]
        for line in moment_lines(comparison.record["key_moments"]):
            console.print(escape(line), soft_wrap=True)
    for line in summary:
        console.print(f"- {escape(line)}", soft_wrap=True)
    written = "attempts.json, index.html and attempts/" if attempts is not None else \
        f"compare.json{', side_by_side.mp4, overlay.mp4' if video else ''} and index.html"
    console.print(f"wrote {out}/{written}")


def moment_lines(key_moments: list[dict]) -> list[str]:
    """The key moments as a coach reads them: when each comes in both videos, and the time since
    the previous one (the tempo of the movement's phases), reference -> attempt."""
    if not key_moments:
        return []
    names = [m["name"] or f"frame {m['reference_t']}" for m in key_moments]
    width = max(map(len, names))
    lines = ["key moments, reference -> attempt:"]
    for k, (name, m) in enumerate(zip(names, key_moments)):
        since = "" if k == 0 else \
            f"; {m['reference_since_previous_s']:.2f} s -> {m['attempt_since_previous_s']:.2f} s after the previous"
        lines.append(f"  {name:<{width}}  at {m['reference_s']:.2f} s -> {m['attempt_s']:.2f} s"
                     f" (frames {m['reference_t']} -> {m['attempt_t']}){since}")
    return lines


def one_attempt_or_folder(attempt: Path | None, attempts: Path | None) -> tuple[Path | None, Path | None]:
    """(one attempt, None) or (None, a folder of attempts): ATTEMPT may itself be a folder of attempts."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.compare.attempts import is_attempts_folder

    if attempt is not None and attempts is not None:
        raise StcorrError("give ATTEMPT or --attempts FOLDER, not both")
    if attempt is None and attempts is None:
        raise StcorrError("give the attempt to compare (ATTEMPT), or a folder of attempts (--attempts FOLDER)")
    if attempt is not None and is_attempts_folder(attempt):
        return None, attempt
    if attempts is not None and not attempts.is_dir():
        raise StcorrError("--attempts takes a folder of attempts (video files, folders of frames)", attempts)
    return attempt, attempts


def compare_folder(reference: Path, folder: Path, out: Path, options: dict, video: bool, traces: tuple[str, ...]) -> list[str]:
    """Every attempt of ``folder`` against the reference, written into ``out``; the summary lines."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.compare.attempts import attempts_record, compare_attempts, write_attempts

    results = compare_attempts(reference, folder, **options)
    settings = {"action": options["action"], "method": options["method"],
                "checkpoint": None if options["checkpoint"] is None else str(options["checkpoint"])}
    record = attempts_record(reference, folder, results, settings)
    write_attempts(record, results, out, video=video, traces=traces)
    return record["summary"]


def register(app: typer.Typer) -> None:
    app.command()(compare)
