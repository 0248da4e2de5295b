import itertools
import json

import numpy as np
import pytest

from stcorr.data.datasets import open_dataset
from stcorr.pose.skeleton import JOINTS, OBJECTS, SETUPS
from stcorr.errors import StcorrError

from conftest import make_penn, write_frames


def _random_penn(tmp_path, seed=0):
    """Two actions, both splits, random visibility and objects, some videos lacking key moments."""
    rng = np.random.default_rng(seed)
    videos, objects = {}, {}
    for i in range(16):
        name = f"{i + 1:04d}"
        action = ["golf_swing", "squat"][i % 2]
        n_moments = 2 if action == "golf_swing" else 3
        n = int(rng.integers(12, 20))
        vis = (rng.random((n, 13)) < 0.6).astype(int)
        spec = {"action": action, "train": 1 if i < 10 else -1, "n": n, "visibility": vis}
        if rng.random() < 0.85:
            spec["key_moments"] = sorted(rng.choice(n, n_moments, replace=False).tolist())
        videos[name] = spec
        objects[name] = {str(t): {o: [float(rng.uniform(0, 60)), float(rng.uniform(0, 40))]
                                  for o in OBJECTS if rng.random() < 0.3} for t in range(n)}
    return make_penn(tmp_path / "penn", videos, objects), videos, objects


def _count_independently(root, split, setup, min_visible):
    """Plain loops straight over the files' contents, no shared code with stcorr.data.datasets."""
    from scipy.io import loadmat

    moments = json.loads((root / "key_moments.json").read_text())
    objects = json.loads((root / "object_keypoints.json").read_text())
    joints, with_objects = SETUPS[setup]
    info = {}
    for path in sorted((root / "labels").glob("*.mat")):
        mat = loadmat(str(path))
        if (int(mat["train"][0, 0]) == 1) != (split == "train") or path.stem not in moments:
            continue
        points = []
        for t in moments[path.stem]:
            here = {JOINTS[k]: (mat["x"][t, k], mat["y"][t, k]) for k in range(13) if mat["visibility"][t, k] == 1 and JOINTS[k] in joints}
            if with_objects:
                here.update(objects[path.stem].get(str(t), {}))
            points.append(here)
        info[path.stem] = (str(mat["action"][0]), points)
    count = 0
    for a, b in itertools.permutations(sorted(info), 2):
        (action_a, pa), (action_b, pb) = info[a], info[b]
        if action_a == action_b and sum(len(set(x) & set(y)) for x, y in zip(pa, pb)) >= min_visible:
            count += 1
    return count


@pytest.mark.parametrize("setup", ["13+3", "3+3", "r10"])
@pytest.mark.parametrize("split", ["train", "val"])
@pytest.mark.parametrize("min_visible", [1, 3, 8])
def test_pair_counts_match_an_independent_count(tmp_path, setup, split, min_visible):
    root, _, _ = _random_penn(tmp_path)
    pairs = open_dataset(root).pairs(split=split, setup=setup, min_visible=min_visible)
    assert len(pairs) == _count_independently(root, split, setup, min_visible)


def test_pair_content_follows_spec(tmp_path):
    root, videos, objects = _random_penn(tmp_path, seed=3)
    dataset = open_dataset(root)
    pairs = dataset.pairs(split="train", setup="13+3", min_visible=1)
    assert len(pairs) > 0
    for pair in list(pairs)[:10]:
        src_km, tgt_km = dataset.key_moments(pair.source), dataset.key_moments(pair.target)
        assert pair.source != pair.target
        for name, m, s, t in zip(pair.names, pair.moments, pair.src, pair.tgt):
            assert s[0] == src_km[m] and t[0] == tgt_km[m]
            labels = dataset.labels[pair.target]
            assert labels.keypoints_at(int(t[0]))[name] == (t[1], t[2])
        key = [(p.action, p.source, p.target) for p in pairs]
        assert key == sorted(key)


def test_ref_size_is_box_of_all_target_keypoints(tmp_path):
    n = 6
    x = np.full((n, 13), 10.0); y = np.full((n, 13), 10.0)
    x[2, 0], y[2, 0] = 30.0, 12.0      # head: box 20 wide
    vis = np.zeros((n, 13)); vis[:, :3] = 1
    root = make_penn(tmp_path / "p", {
        "0001": {"action": "bowl", "n": n, "key_moments": [2, 4], "x": x, "y": y, "visibility": vis},
        "0002": {"action": "bowl", "n": n, "key_moments": [2, 4], "x": x, "y": y, "visibility": vis},
    }, objects={"0002": {"2": {"ball": [10.0, 50.0]}}})  # the ball sets the height: 40
    pairs = open_dataset(root).pairs(split="train", setup="r10", min_visible=1)
    pair = [p for p in pairs if p.target == "0002"][0]
    at_2 = pair.ref_size[pair.tgt[:, 0] == 2]
    assert np.all(at_2 == 40.0)  # the ball counts although r10 has no objects


def test_sampler_is_seeded_stable_and_a_subset(tmp_path):
    root, _, _ = _random_penn(tmp_path)
    pairs = open_dataset(root).pairs(split="train", min_visible=1)
    a, b, c = pairs.sample(5, seed=1), pairs.sample(5, seed=1), pairs.sample(5, seed=2)
    names = lambda ps: [(p.source, p.target) for p in ps]
    assert names(a) == names(b) and names(a) != names(c)
    assert set(names(a)) <= set(names(pairs)) and len(a) == 5
    assert pairs.sample(10_000, seed=0) is pairs


def test_unknown_setup_and_split(tiny_penn):
    dataset = open_dataset(tiny_penn)
    with pytest.raises(StcorrError, match="unknown setup"):
        dataset.pairs(setup="7+7")
    with pytest.raises(StcorrError, match="unknown split"):
        dataset.pairs(split="dev")


def _pairs_layout(tmp_path, records):
    root = tmp_path / "pl"
    for name in ("a", "b"):
        write_frames(root / "frames" / name, 6)
    (root / "pairs.json").write_text(json.dumps(records))
    return root


def test_pairs_layout_reads_records_and_filters_setup(tmp_path):
    records = [{"source": "a", "target": "b", "split": "val", "correspondences": [
        {"name": "head", "source": [1, 5.0, 6.0], "target": [2, 7.0, 8.0]},
        {"name": "left_knee", "source": [1, 9.0, 6.0], "target": [2, 17.0, 28.0]},
        {"name": "spout", "source": [3, 1.0, 1.0], "target": [4, 2.0, 2.0]},
        {"name": None, "source": [3, 2.0, 1.0], "target": [4, 3.0, 2.0]},
    ]}]
    dataset = open_dataset(_pairs_layout(tmp_path, records))
    assert dataset.kind == "pairs"
    (pair,) = dataset.pairs(split="val", setup="13+3", min_visible=1)
    assert pair.names == ("head", "left_knee", "spout", None) and pair.types == ("hum", "hum", "obj", "obj")
    np.testing.assert_allclose(pair.ref_size, [20.0, 20.0, 1.0, 1.0])  # box of b's points per frame
    assert [p.names for p in dataset.pairs(setup="3+3", min_visible=1)] == [("head", "spout", None)]
    assert [p.names for p in dataset.pairs(setup="r10", min_visible=1)] == [("left_knee",)]
    assert len(dataset.pairs(split="train", min_visible=1)) == 0


@pytest.mark.parametrize("records, message", [
    ({"source": "a"}, "expected a JSON list"),
    ([{"source": "a", "correspondences": []}], 'record 0: "target" must be a video name'),
    ([{"source": "a", "target": "b", "correspondences": [{"source": [1, 2], "target": [1, 2, 3]}]}], "record 0: each correspondence"),
    ([{"source": "a", "target": "b", "split": "test2", "correspondences": []}], 'record 0: "split" must be'),
])
def test_invalid_pairs_json_is_one_line_error(tmp_path, records, message):
    with pytest.raises(StcorrError, match=message):
        open_dataset(_pairs_layout(tmp_path, records))


def test_pairs_json_not_json(tmp_path):
    root = _pairs_layout(tmp_path, [])
    (root / "pairs.json").write_text("{nope")
    with pytest.raises(StcorrError, match="pairs.json: not valid JSON"):
        open_dataset(root)


@pytest.mark.parametrize("extra_action", ["jump_rope", "bowl"])  # outside the paper's seven / one of them
def test_an_action_without_key_moments_gives_no_pairs(tmp_path, extra_action):
    """Real data: an action none of whose videos has key moments. `stcorr pairs` lists the others' pairs."""
    import subprocess
    import sys

    videos = {f"{i + 1:04d}": {"action": "golf_swing", "train": -1, "n": 12, "key_moments": [2, 9]} for i in range(3)}
    videos.update({f"{i + 4:04d}": {"action": extra_action, "train": -1, "n": 10} for i in range(2)})
    root = make_penn(tmp_path / "penn", videos)

    pairs = open_dataset(root).pairs("val", "13+3")
    assert len(pairs) == 6 and pairs.by_action() == {"golf_swing": 6}
    out = tmp_path / "pairs.json"
    run = subprocess.run([sys.executable, "-m", "stcorr.cli.main", "pairs", "--data", str(root), "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert len(json.loads(out.read_text())) == 6
