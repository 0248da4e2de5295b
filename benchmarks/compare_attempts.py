"""One real reference against a folder of attempts made from its own frames, with a known shallowest one. Prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_attempts.py --frames FRAME_FOLDER [--bottom 41] [--out DIR] [--work DIR [--reuse]]

From one rep (a folder of frames, e.g. real-dev's 1755 squat) three 30 fps mp4 attempts, every
frame a real one: ``same`` the whole clip; ``shallow`` the clip to half-way down (frame ``--bottom``
/ 2) and back the same way; ``fast`` the whole clip 1.25 times faster. Then
``compare REFERENCE FOLDER --action squat`` as the command line runs it
(``stcorr.compare.attempts``): per attempt the frames compared, the deepest knee flexion and its
rank (``shallow`` must rank last), the distance to the reference and its rank (``same`` should be
closest), the differences told; and the summary. With ``--out`` the files are written there.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from compare_reps import parse_args, pose_source, rep_orders  # beside this script
from stcorr.compare.attempts import attempts_record, compare_attempts, write_attempts
from stcorr.data.video import Video, write_video


def attempts_folder(source: Video, bottom: int, folder: Path, reuse: bool = False) -> Path:
    """The three attempts (module docstring) as mp4 files in ``folder``; ``reuse``: the ones an earlier run left there."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, order in rep_orders(source.num_frames, bottom).items():
        if not (reuse and (folder / f"{name}.mp4").is_file()):
            write_video(folder / f"{name}.mp4", (source.frame(i) for i in order), fps=30)
    return folder


def main() -> None:
    args = parse_args(__doc__)
    work = args.work or Path(tempfile.mkdtemp(prefix="compare-attempts-"))
    folder = attempts_folder(Video(args.frames), args.bottom, work / "attempts", args.reuse)
    results = compare_attempts(args.frames, folder, action="squat", pose=pose_source(args))
    record = attempts_record(args.frames, folder, results, {"action": "squat", "method": "dtw-pose", "checkpoint": None})
    if args.out:
        write_attempts(record, results, args.out)
    print(json.dumps({"folder": str(folder), "attempts": record["attempts"], "summary": record["summary"]}))


if __name__ == "__main__":
    main()
