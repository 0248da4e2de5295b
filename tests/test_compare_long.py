"""compare on a 10-minute pair stays under 2 GB (minutes: -m slow). Joints come from a stand-in pose
source (MediaPipe on two 10-minute videos would take most of an hour here); everything else is the
real thing: frames read, DTW, the side-by-side video and the page. 10 frames a second (6,000 frames
a video) keeps the encode short on a small CPU, as in benchmarks/video_memory.py; nothing held in
memory grows with the frame count but arrays of a few numbers per frame."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compare_synthetic import write_frames

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "benchmarks" / "compare_speed.py"  # run with this checkout's stcorr, not the installed one


@pytest.mark.slow
def test_ten_minute_pair_stays_under_two_gigabytes(tmp_path):
    frames = write_frames(tmp_path / "clip", [{"head": (10.0 + t, 10.0)} for t in range(20)], (64, 48))
    run = subprocess.run([sys.executable, str(BENCHMARK), "--frames", str(frames), "--seconds", "600", "--fps", "10", "--size", "96x64",
                          "--pose", "fake", "--work", str(tmp_path / "work")], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["frames"] == [6000, 6000]
    assert result["peak_rss_mb"] < 2048, result
