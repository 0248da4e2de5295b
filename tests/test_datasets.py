"""The data set interface (stcorr.data.datasets.Dataset): every layout answers the same questions."""

import json

import pytest

from stcorr.data.datasets import NO_ACTION, open_dataset
from stcorr.errors import StcorrError

from conftest import make_penn, write_frames


def _pairs_layout(root, with_missing=True):
    """Three videos of two records (train: a->b golf, val: b->c, no action) and, optionally, a
    record naming a video that is not there."""
    for name in ("a", "b", "c"):
        write_frames(root / "frames" / name, 4)
    point = {"name": "head", "source": [0, 1.0, 2.0], "target": [1, 3.0, 4.0]}
    records = [{"source": "a", "target": "b", "split": "train", "action": "golf_swing", "correspondences": [point]},
               {"source": "b", "target": "c", "split": "val", "correspondences": [point]}]
    if with_missing:
        records.append({"source": "c", "target": "gone", "split": "val", "correspondences": [point]})
    (root / "pairs.json").write_text(json.dumps(records))
    return root


def test_penn_layout_videos_by_split_and_action(tmp_path):
    root = make_penn(tmp_path / "penn", {"0001": {"action": "squat", "train": 1, "n": 3},
                                         "0002": {"action": "golf_swing", "train": 1, "n": 3},
                                         "0003": {"action": "squat", "train": -1, "n": 3},
                                         "0004": {"action": "squat", "train": 1, "n": 3}})
    dataset = open_dataset(root)
    assert sorted(dataset.labels) == ["0001", "0002", "0003", "0004"]
    assert (dataset.records, dataset.missing) == ([], set())
    assert dataset.videos("train") == ["0001", "0002", "0004"]
    assert dataset.videos("val") == ["0003"]
    assert dataset.videos() == ["0001", "0002", "0003", "0004"]
    assert dataset.videos_by_action("train") == {"golf_swing": ["0002"], "squat": ["0001", "0004"]}
    assert dataset.actions()["0003"] == "squat"


def test_pairs_layout_videos_skip_the_missing_and_group_by_record_action(tmp_path):
    dataset = open_dataset(_pairs_layout(tmp_path / "pairs"))
    assert dataset.labels == {}
    assert dataset.missing == {"gone"}
    assert dataset.videos("train") == ["a", "b"]
    assert dataset.videos("val") == ["b", "c"]
    assert dataset.videos() == ["a", "b", "c"]
    assert dataset.actions() == {"a": "golf_swing", "b": "golf_swing"}
    assert dataset.videos_by_action("val") == {NO_ACTION: ["c"], "golf_swing": ["b"]}


def test_a_plain_folder_puts_every_video_in_every_split(tmp_path):
    for name in ("clip_b", "clip_a"):
        write_frames(tmp_path / "videos" / name, 3)
    dataset = open_dataset(tmp_path / "videos")
    assert (dataset.labels, dataset.records, dataset.missing) == ({}, [], set())
    assert dataset.videos("train") == dataset.videos("val") == dataset.videos() == ["clip_a", "clip_b"]
    assert dataset.videos_by_action("train") == {NO_ACTION: ["clip_a", "clip_b"]}


def test_an_unknown_split_is_refused(tmp_path):
    dataset = open_dataset(_pairs_layout(tmp_path / "pairs", with_missing=False))
    with pytest.raises(StcorrError, match="unknown split 'test'"):
        dataset.videos("test")
