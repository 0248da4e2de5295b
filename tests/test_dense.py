"""Dense supervision: the synthetic set's per-frame phase, phase-paired correspondences, examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stcorr.data.datasets import open_dataset
from stcorr.data.dense import dense_correspondences, first_reaching, frame_of_phase, video_phase
from stcorr.data.phases import phase_between_key_moments, read_motion_phases
from stcorr.data.penn import read_phase_labels
from stcorr.data.synthetic import generate
from stcorr.data.synthetic.build import video_tasks
from stcorr.data.synthetic.clip import make_clip
from stcorr.learners.correspondence import ClipSettings, make_example
from stcorr.data.augment import ClipAugment

ACTIONS = ["squat", "bowl"]
SIZE = (48, 48)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dense") / "set"
    generate(out, seed=5, videos_per_action=3, size=SIZE, actions=ACTIONS, workers=1)
    return out


def _pair_with_dense(dataset, split="train"):
    labels, phases = dataset.labels, read_motion_phases(str(dataset.root))
    for pair in dataset.pairs(split=split):
        src_phase, exact = video_phase(labels[pair.source], phases.get(pair.source))
        tgt_phase, _ = video_phase(labels[pair.target], phases.get(pair.target))
        src, tgt, names = dense_correspondences(labels[pair.source], labels[pair.target], src_phase, tgt_phase,
                                                range(labels[pair.source].num_frames), pair.names)
        yield pair, src_phase, tgt_phase, exact, src, tgt, names


def test_synth_writes_phase_files_that_agree_with_its_key_moments(root):
    moments = json.loads((root / "key_moments.json").read_text())
    assert read_phase_labels(root) == moments  # TCC layout: key moment i starts phase i + 1
    phases = read_motion_phases(str(root))
    assert sorted(phases) == sorted(moments)
    for name, phase in phases.items():
        assert np.all(np.diff(phase) >= 0)
    for action in ACTIONS:  # a key moment has the same phase in every video of its action
        names = [p.stem for p in (root / "penn_action_labels" / "train").glob(f"{action}/*.npy")]
        at_moments = np.array([phases[n][moments[n]] for n in names])
        assert np.allclose(at_moments, at_moments[0]) and len(names) == 3


def test_dense_correspondences_agree_with_the_generators_joints(root):
    dataset = open_dataset(root)
    tasks = {f"{t.number:04d}": t for t in video_tasks(root, 5, 3, SIZE, ACTIONS)}
    checked = 0
    for pair, src_phase, tgt_phase, exact, src, tgt, names in list(_pair_with_dense(dataset))[:4]:
        assert exact and len(src) > 3 * len(pair)  # far more than the key moments alone
        # at the key moments, the dense correspondences are the benchmark's
        dense = {(int(s[0]), n): t for s, t, n in zip(src, tgt, names)}
        for s, t, n in zip(pair.src, pair.tgt, pair.names):
            assert np.allclose(dense[(int(s[0]), n)], t)
        # each target frame is where the target's phase reaches the source frame's
        for s, t in zip(src[:, 0].astype(int), tgt[:, 0].astype(int)):
            assert tgt_phase[max(t - 1, 0)] - 1e-9 <= src_phase[s] <= tgt_phase[min(t + 1, len(tgt_phase) - 1)] + 1e-9
        # and the points are the generator's joints at those frames
        joints = {name: make_clip(tasks[name].action, tasks[name].entropy, SIZE).joints_xy() for name in (pair.source, pair.target)}
        from stcorr.pose.skeleton import JOINTS

        for s, t, n in zip(src, tgt, names):
            if n in JOINTS:
                k = JOINTS.index(n)
                assert np.allclose(s[1:], joints[pair.source][int(s[0]), k], atol=0.51)
                assert np.allclose(t[1:], joints[pair.target][int(t[0]), k], atol=0.51)
                checked += 1
    assert checked > 100


def test_phase_between_key_moments_is_linear_and_unknown_outside():
    phase = phase_between_key_moments(12, [2, 6, 10])
    assert np.isnan(phase[:2]).all() and np.isnan(phase[11])
    assert np.allclose(phase[2:11], np.arange(9) / 4)
    assert first_reaching(phase).tolist() == [False, False] + [True] * 9 + [False]
    assert frame_of_phase(phase, 1.0) == 6 and frame_of_phase(phase, 0.6) == 4 and frame_of_phase(phase, 2.5) is None
    held = np.array([0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.5])  # a pause at phase 1: only its first frame is used
    assert first_reaching(held).tolist() == [True, False, True, True, False, False, True]
    assert frame_of_phase(held, 1.0) == 3
    assert frame_of_phase(np.array([0.3, 0.6, 0.9]), 0.1) is None  # the video starts later in the motion


def test_examples_carry_weighted_dense_points_in_training_only(root):
    dataset = open_dataset(root)
    settings = ClipSettings(clip_len=8, size=32, min_stride=1, source_window="whole", target_whole_video=1.0,
                            max_points=40, augment=ClipAugment.none(), dense_points=24, dense_weight=0.5)
    pair = dataset.pairs(split="train")[0]
    example = make_example(dataset, pair, settings, np.random.default_rng(0))
    assert example["src_points"].shape == (64, 3) and example["weight"].shape == (64,)
    assert example["valid"][40:].sum() > 10 and (example["weight"][40:] == 0.5).all() and (example["weight"][:40] == 1).all()
    assert example["valid"][:40].sum() == len(pair)
    validation = make_example(dataset, pair, settings, None)
    assert validation["valid"][40:].sum() == 0  # scored on key moments only
    plain = make_example(dataset, pair, ClipSettings(**{**settings.__dict__, "dense_points": 0}), None)
    assert "weight" not in plain and plain["src_points"].shape == (40, 3)
