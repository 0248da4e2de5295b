import json

import numpy as np
import pytest
from scipy.io import loadmat

from stcorr.data.datasets import open_dataset
from stcorr.data.penn import read_label_file
from stcorr.errors import StcorrError

from conftest import make_penn, write_frames, write_label_file


@pytest.mark.parametrize("coord_dtype", [np.float64, np.uint16, np.uint8])
@pytest.mark.parametrize("nframes_dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("bbox_rows", [None, 3])
def test_reader_matches_scipy_on_every_dtype_variant(tmp_path, coord_dtype, nframes_dtype, bbox_rows):
    rng = np.random.default_rng(1)
    n = 7
    x, y = rng.integers(0, 250, (n, 13)), rng.integers(0, 250, (n, 13))
    vis = rng.integers(0, 2, (n, 13))
    x[vis == 0], y[vis == 0] = 0, 0  # unlabelled joints are stored as (0, 0)
    path = tmp_path / "0042.mat"
    write_label_file(path, "tennis_serve", x, y, vis, train=-1, pose="left", coord_dtype=coord_dtype,
                     nframes_dtype=nframes_dtype, bbox_rows=bbox_rows, size=(256, 256))  # a frame that holds them
    raw = loadmat(str(path))
    assert raw["x"].dtype == coord_dtype and raw["nframes"].dtype == nframes_dtype
    labels = read_label_file(path)
    np.testing.assert_array_equal(labels.x, raw["x"].astype(float))
    np.testing.assert_array_equal(labels.y, raw["y"].astype(float))
    np.testing.assert_array_equal(labels.visible, raw["visibility"] == 1)
    assert labels.split == "val" and labels.action == "tennis_serve" and labels.view == "left"
    assert labels.num_frames == n and (labels.width, labels.height) == (256, 256)
    assert labels.bbox.shape == ((bbox_rows or n), 4)
    t = 3
    visible = {j for j in labels.joints_at(t)}
    assert len(visible) == int(vis[t].sum())


def test_label_file_missing_field_names_it(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "0001.mat"
    savemat(str(path), {"action": "squat", "x": np.zeros((2, 13))})
    with pytest.raises(StcorrError, match=r"0001.mat: label file lacks field\(s\) pose, y, visibility"):
        read_label_file(path)


def test_garbage_label_file_is_one_line_error(tmp_path):
    path = tmp_path / "0001.mat"
    path.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(StcorrError, match="0001.mat"):
        read_label_file(path)


def test_dataset_reads_key_moments_objects_and_skips_broken_videos(tiny_penn):
    (tiny_penn / "labels" / "0099.mat").write_bytes(b"broken")
    dataset = open_dataset(tiny_penn)
    assert dataset.kind == "penn"
    assert len(dataset.skipped) == 1 and "0099.mat" in dataset.skipped[0]
    assert dataset.key_moments("0001") == [2, 9]
    assert dataset.key_moments("0007") is None
    assert dataset.labels["0004"].objects == {2: {"club_head": (10.0, 11.0)}}
    assert dataset.video("0002").num_frames == 10


def test_key_moment_past_end_is_an_error_naming_the_file(tiny_penn):
    moments = json.loads((tiny_penn / "key_moments.json").read_text())
    moments["0002"] = [2, 10]  # video 0002 has 10 frames: 10 is one past the end
    (tiny_penn / "key_moments.json").write_text(json.dumps(moments))
    with pytest.raises(StcorrError, match=r"key_moments.json: video 0002: key moment 10 is past the video's end"):
        open_dataset(tiny_penn)


def test_key_moments_from_phase_files(tmp_path):
    root = make_penn(tmp_path / "p", {"0001": {"action": "bowl", "n": 10}})
    (root / "key_moments.json").unlink()
    folder = root / "penn_action_labels" / "train" / "bowl"
    folder.mkdir(parents=True)
    np.save(folder / "0001.npy", np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2]))
    assert open_dataset(root).key_moments("0001") == [3, 7]


def test_missing_folder_and_unknown_layout(tmp_path):
    with pytest.raises(StcorrError, match="no such data folder"):
        open_dataset(tmp_path / "absent")
    with pytest.raises(StcorrError, match="not a data set"):
        open_dataset(tmp_path)


def test_missing_frames_folder_is_skipped(tmp_path):
    root = make_penn(tmp_path / "p", {"0001": {"action": "bowl", "n": 5}, "0002": {"action": "bowl", "n": 5}})
    import shutil

    shutil.rmtree(root / "frames" / "0002")
    dataset = open_dataset(root)
    assert list(dataset.labels) == ["0001"] and "frame folder missing" in dataset.skipped[0]
    write_frames(root / "frames" / "0002", 5)
    assert len(open_dataset(root).labels) == 2
