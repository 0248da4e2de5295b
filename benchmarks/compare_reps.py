"""Every rep of a real squat: a video of three reps made from one real rep's frames, with a known shallowest rep. Prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_reps.py --frames FRAME_FOLDER [--bottom 41] [--out DIR] [--work DIR [--reuse]]
        [--mediapipe-mode static|video]

From one rep (a folder of frames, e.g. real-dev's 1755 squat) a 30 fps mp4 of three reps, every
frame a real one: rep 1 the whole clip; rep 2 shallow, the clip to half-way down (frame
``--bottom`` / 2) and back the same way; rep 3 the whole clip 1.25 times faster. Then ``compare``
of the clip (the reference, one rep) against it with ``--action squat``: the reps found (frames,
depth ranking; rep 2 must rank last), the rep the reference was compared with, the key moments
and the summary. With ``--out`` the comparison's files are written there (the page shows the per-rep table).
``--mediapipe-mode``: MediaPipe's static-image mode (compare's own, ``pipeline.default_pose``) or
its video mode (``stcorr predict``'s), to compare the two on the same video.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from stcorr.compare import analyse, write_comparison
from stcorr.compare.pipeline import default_pose
from stcorr.data.video import Video, write_video


def rep_orders(n: int, bottom: int) -> dict[str, list[int]]:
    """Frame orders of three reps from one of ``n`` frames (module docstring): the clip, shallow (to
    half-way down, frame ``bottom`` / 2, and back), fast (1.25 times faster)."""
    half = max(1, bottom // 2)
    return {"same": list(range(n)), "shallow": list(range(half + 1)) + list(range(half - 1, -1, -1)),
            "fast": [min(n - 1, round(k * 1.25)) for k in range(int((n - 1) / 1.25) + 1)]}


def three_reps(source: Video, bottom: int, path: Path, reuse: bool = False) -> tuple[Path, list[tuple[int, int]]]:
    """The three-rep video (module docstring) and each rep's true (first, last) frame in it;
    ``reuse``: the one an earlier run left at ``path``."""
    order, bounds, start = [], [], 0
    for frames in rep_orders(source.num_frames, bottom).values():
        order += frames
        bounds.append((start, start + len(frames) - 1))
        start += len(frames)
    if reuse and path.is_file():
        return path, bounds
    return write_video(path, (source.frame(i) for i in order), fps=30), bounds


def parse_args(doc: str) -> argparse.Namespace:
    """--frames, --bottom, --out, --work, --reuse (this script's and compare_attempts.py's)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--frames", required=True, type=Path)
    parser.add_argument("--bottom", type=int, default=41, help="The clip's deepest frame (real-dev's key moment for 1755: 41).")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None, help="Folder for the videos made (default: a new temporary one).")
    parser.add_argument("--reuse", action="store_true", help="Compare the videos an earlier run left in --work (x264 is not "
                        "bit-exact from run to run, and MediaPipe answers a re-encode differently: the same videos compare code).")
    parser.add_argument("--mediapipe-mode", choices=("static", "video"), default=None,
                        help="MediaPipe's static-image or video mode (default: compare's own, pipeline.default_pose).")
    return parser.parse_args()


def pose_source(args: argparse.Namespace):
    """The pose source --mediapipe-mode names; None: compare's own."""
    return None if args.mediapipe_mode is None else default_pose(tracking=args.mediapipe_mode == "video")


def main() -> None:
    args = parse_args(__doc__)
    work = args.work or Path(tempfile.mkdtemp(prefix="compare-reps-"))
    work.mkdir(parents=True, exist_ok=True)
    video, bounds = three_reps(Video(args.frames), args.bottom, work / "three_reps.mp4", args.reuse)
    comparison = analyse(args.frames, video, action="squat", pose=pose_source(args))
    if args.out:
        write_comparison(comparison, args.out)
    record = comparison.record
    print(json.dumps({"video": str(video), "true_reps": bounds, "reps": record["reps"]["attempt"],
                      "compared_attempt_frames": record["compared_attempt_frames"], "pose_mode": args.mediapipe_mode,
                      "key_moments": [[m["name"], m["reference_t"], m["attempt_t"]] for m in record["key_moments"]],
                      "summary": record["summary"]}))


if __name__ == "__main__":
    main()
