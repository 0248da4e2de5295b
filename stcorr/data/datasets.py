"""Data sets in either layout, told apart by content: Penn Action or pairs
(docs/formats.md#penn-action-layout, docs/formats.md#pairs-layout).

    dataset = open_dataset(root)
    pairs = dataset.pairs(split="val", setup="13+3").sample(max_pairs, seed)
    video = dataset.video(pairs[0].source)

Broken videos (unreadable label file, missing frame folder, a gap in its numbering, labels of
more frames than the folder holds) are skipped, and ``dataset.skipped`` tells which and why; a
broken data-set-level file (key_moments.json, object_keypoints.json, pairs.json) is an error.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from stcorr.data import penn
from stcorr.data.pairs import Pair, PairList, box_size
from stcorr.pose.skeleton import KEY_MOMENTS, OBJECTS, SETUPS, setup_keeps
from stcorr.data.video import FRAME_SUFFIXES, VIDEO_SUFFIXES, Video, find_video
from stcorr.errors import StcorrError

SPLITS = ("train", "val")


def open_dataset(root: str | Path) -> "Dataset":
    root = Path(root)
    if not root.is_dir():
        raise StcorrError("no such data folder", root)
    if (root / "pairs.json").is_file():
        return PairsDataset(root)
    if (root / "labels").is_dir():
        return PennDataset(root)
    if video_entries(root):
        return VideoFolder(root)
    raise StcorrError("not a data set: expected labels/ (Penn Action layout), pairs.json (pairs layout) or videos", root)


def check_split(split: str) -> str:
    if split not in SPLITS:
        hint = ": Penn Action's test split is called val here" if split == "test" else ""
        raise StcorrError(f"unknown split {split!r} (use train or val){hint}")
    return split


def check_setup(setup: str) -> str:
    if setup not in SETUPS:
        raise StcorrError(f"unknown setup {setup!r} (use {', '.join(SETUPS)})")
    return setup


SPLIT_CHOICES = SPLITS + ("all",)
#: The group of ``videos_by_action`` for videos whose action the data set does not name.
NO_ACTION = "all"


class Dataset:
    """The data set interface every layout implements (docs/architecture.md#data-sets).

    - ``labels``: per-frame annotations by video name (Penn Action layout); {} for layouts without them.
    - ``records``: the checked pairs.json records (pairs layout); [] for the others.
    - ``missing``: videos a layout names but that cannot be found (skipped); ``skipped`` says why.
    - ``videos(split)``: the names of the split's readable videos, sorted; ``video(name)`` opens one.
    - ``actions()`` / ``videos_by_action(split)``: each video's action, where the data set names it.
    - ``key_moments(name)``, ``pairs(split, setup, min_visible)``: the benchmark.

    Subclasses give ``_video_splits`` (which split each readable video belongs to) and
    ``actions``; a layout without splits (a plain folder of videos) puts every video in every split.
    """

    kind = ""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.skipped: list[str] = []
        self.labels: dict[str, penn.VideoLabels] = {}
        self.records: list[dict] = []
        self.missing: set[str] = set()

    def video(self, name: str) -> Video:
        return find_video(self.root, name)

    def videos(self, split: str = "all") -> list[str]:
        """Names of the readable videos of ``split`` (train, val or all), sorted."""
        if split not in SPLIT_CHOICES:
            raise StcorrError(f"unknown split {split!r} (use train, val or all)")
        return sorted(name for name, splits in self._video_splits().items() if split == "all" or split in splits)

    def actions(self) -> dict[str, str]:
        """Each video's action where the data set names it, by video name."""
        return {}

    def videos_by_action(self, split: str = "all") -> dict[str, list[str]]:
        """The split's videos by action (sorted both ways); videos of no named action are under ``NO_ACTION``."""
        actions = self.actions()
        groups: dict[str, list[str]] = {}
        for name in self.videos(split):
            groups.setdefault(actions.get(name, NO_ACTION), []).append(name)
        return dict(sorted(groups.items()))

    def _video_splits(self) -> dict[str, set[str]]:
        raise NotImplementedError

    def key_moments(self, name: str) -> list[int] | None:
        raise NotImplementedError

    def pairs(self, split: str = "val", setup: str = "13+3", min_visible: int = 3) -> PairList:
        raise NotImplementedError


class PennDataset(Dataset):
    """Penn Action layout. Label files are read at opening (small); frames only when asked for."""

    kind = "penn"

    def __init__(self, root: Path):
        super().__init__(root)
        moments = self._read_key_moments()
        objects_file = self.root / "object_keypoints.json"
        objects = penn.read_object_keypoints(objects_file) if objects_file.is_file() else {}
        for path in sorted((self.root / "labels").glob("*.mat")):
            try:
                labels = penn.read_label_file(path)
            except StcorrError as exc:
                self.skipped.append(str(exc))
                continue
            folder = self.root / "frames" / labels.name
            if not folder.is_dir():
                self.skipped.append(f"{folder}: frame folder missing")
                continue
            try:
                frames = Video(folder).num_frames  # lists the folder (a gap in the numbering is an error); reads no frame
            except StcorrError as exc:
                self.skipped.append(str(exc))
                continue
            if labels.num_frames > frames:
                self.skipped.append(f"{path}: labels of {labels.num_frames} frames, but the frame folder holds {frames}")
                continue
            labels.objects = objects.get(labels.name, {})
            penn.check_objects(labels, labels.objects, objects_file)
            if labels.name in moments:
                penn.check_key_moments(labels, moments[labels.name], self._moments_source)
                labels.key_moments = moments[labels.name]
            self.labels[labels.name] = labels
        if not self.labels:
            raise StcorrError("no readable videos in labels/" + (f" ({self.skipped[0]})" if self.skipped else ""), self.root)

    def _read_key_moments(self) -> dict[str, list[int]]:
        json_file = self.root / "key_moments.json"
        self._moments_source = json_file
        if json_file.is_file():
            return penn.read_key_moments_json(json_file)
        self._moments_source = self.root / "penn_action_labels"
        return penn.read_phase_labels(self.root)

    def _video_splits(self) -> dict[str, set[str]]:
        return {name: {lab.split} for name, lab in self.labels.items()}

    def actions(self) -> dict[str, str]:
        return {name: lab.action for name, lab in self.labels.items()}

    def key_moments(self, name: str) -> list[int] | None:
        return self.labels[name].key_moments

    def pairs(self, split: str = "val", setup: str = "13+3", min_visible: int = 3) -> PairList:
        split, setup = check_split(split), check_setup(setup)
        tables = {}
        keys = []
        for action in sorted({lab.action for lab in self.labels.values()}):
            videos = [lab for lab in self.labels.values() if lab.action == action and lab.split == split]
            table = _ActionTable(videos, _moment_count(action, videos), setup)
            tables[action] = table
            keys += [(action, s, t) for s, t in table.kept_pairs(min_visible)]
        return PairList(keys, lambda key: tables[key[0]].pair(key[1], key[2], split))


def _moment_count(action: str, videos: list[penn.VideoLabels]) -> int:
    if action in KEY_MOMENTS:
        return len(KEY_MOMENTS[action])
    return max((len(v.key_moments or []) for v in videos), default=0)


class _ActionTable:
    """Keypoints of one action's videos at their key moments, as arrays, to pair them fast.

    ``present[v, i, k]``: keypoint type k is a keypoint of video v at key moment i;
    ``coords[v, i, k]``: its (x, y); ``ref[v, i]``: box size of all keypoints of v at that frame.
    """

    def __init__(self, videos: list[penn.VideoLabels], n_moments: int, setup: str):
        self.videos = sorted((v for v in videos if v.key_moments and len(v.key_moments) == n_moments), key=lambda v: v.name)
        joints, with_objects = SETUPS[setup]
        self.names = tuple(joints) + (OBJECTS if with_objects else ())
        shape = (len(self.videos), n_moments, len(self.names))
        self.present = np.zeros(shape, dtype=bool)
        self.coords = np.zeros(shape + (2,))
        self.ref = np.zeros(shape[:2])
        for v, labels in enumerate(self.videos):
            for i, t in enumerate(labels.key_moments):
                points = labels.keypoints_at(t)
                self.ref[v, i] = box_size(np.array(list(points.values())).reshape(-1, 2))
                for k, name in enumerate(self.names):
                    if name in points:
                        self.present[v, i, k] = True
                        self.coords[v, i, k] = points[name]

    def kept_pairs(self, min_visible: int) -> list[tuple[int, int]]:
        """(source, target) video numbers of the pairs with at least ``min_visible`` correspondences;
        none for an action with no video that has all its key moments."""
        if not self.videos or not self.present.size:
            return []
        flat = self.present.reshape(len(self.videos), -1).astype(np.int64)
        counts = flat @ flat.T
        np.fill_diagonal(counts, -1)
        sources, targets = np.nonzero(counts >= max(min_visible, 1))
        return list(zip(sources.tolist(), targets.tolist()))

    def pair(self, s: int, t: int, split: str) -> Pair:
        both = self.present[s] & self.present[t]
        moments, kinds = np.nonzero(both)
        src_t = np.array(self.videos[s].key_moments)[moments]
        tgt_t = np.array(self.videos[t].key_moments)[moments]
        return Pair(
            source=self.videos[s].name,
            target=self.videos[t].name,
            action=self.videos[s].action,
            split=split,
            names=tuple(self.names[k] for k in kinds),
            moments=tuple(int(i) for i in moments),
            src=np.column_stack([src_t, self.coords[s][moments, kinds]]).astype(np.float64),
            tgt=np.column_stack([tgt_t, self.coords[t][moments, kinds]]).astype(np.float64),
            ref_size=self.ref[t][moments],
        )


class PairsDataset(Dataset):
    """Pairs layout (docs/formats.md#pairs-layout): ROOT/pairs.json, ROOT/videos/NAME.mp4 or ROOT/frames/NAME/."""

    kind = "pairs"

    def __init__(self, root: Path):
        super().__init__(root)
        self.records = read_pairs_json(self.root / "pairs.json")
        moments_file = self.root / "key_moments.json"
        self._moments = penn.read_key_moments_json(moments_file) if moments_file.is_file() else {}
        self._boxes = _annotated_points(self.records)
        self.missing = {name for name in self._boxes if not self._has_video(name)}
        self.skipped = [f"{self.root}: no video named {name!r}" for name in sorted(self.missing)]

    def _has_video(self, name: str) -> bool:
        try:
            self.video(name)
        except StcorrError:
            return False
        return True

    def _video_splits(self) -> dict[str, set[str]]:
        splits: dict[str, set[str]] = {}
        for record in self.records:
            for side in ("source", "target"):
                if record[side] not in self.missing:
                    splits.setdefault(record[side], set()).add(record["split"])
        return splits

    def actions(self) -> dict[str, str]:
        """The action of the first record naming the video that names one."""
        actions: dict[str, str] = {}
        for record in self.records:
            if record.get("action"):
                actions.setdefault(record["source"], record["action"])
                actions.setdefault(record["target"], record["action"])
        return actions

    def key_moments(self, name: str) -> list[int] | None:
        return self._moments.get(name)

    def pairs(self, split: str = "val", setup: str = "13+3", min_visible: int = 3) -> PairList:
        split, setup = check_split(split), check_setup(setup)
        keys = []
        for index, record in enumerate(self.records):
            if record["split"] != split or {record["source"], record["target"]} & self.missing:
                continue
            kept = [c for c in record["correspondences"] if setup_keeps(setup, c["name"])]
            if len(kept) >= min_visible:
                keys.append(index)
        return PairList(keys, lambda index: self._pair(self.records[index], setup))

    def _pair(self, record: dict, setup: str) -> Pair:
        kept = [c for c in record["correspondences"] if setup_keeps(setup, c["name"])]
        tgt = np.array([c["target"] for c in kept], dtype=np.float64).reshape(-1, 3)
        return Pair(
            source=record["source"],
            target=record["target"],
            action=record.get("action") or "all",
            split=record["split"],
            names=tuple(c["name"] for c in kept),
            moments=tuple(-1 for _ in kept),
            src=np.array([c["source"] for c in kept], dtype=np.float64).reshape(-1, 3),
            tgt=tgt,
            ref_size=np.array([self._boxes[record["target"]][int(p[0])] for p in tgt]),
        )


OUTSIDE_ROOT_ENV = "STCORR_ALLOW_OUTSIDE_ROOT"


def outside_root_allowed() -> bool:
    """Video names in pairs.json that are absolute or climb out with ``..`` are refused unless the
    user sets STCORR_ALLOW_OUTSIDE_ROOT=1 (symlinks inside the root are followed either way)."""
    return os.environ.get(OUTSIDE_ROOT_ENV) == "1"


def read_pairs_json(path: Path) -> list[dict]:
    """Reads and checks pairs.json (docs/formats.md#pairs-layout); a malformed record is an error naming its index."""
    data = penn._read_json(path)
    if not isinstance(data, list):
        raise StcorrError("expected a JSON list of pair records", path)
    return [_check_record(record, i, path) for i, record in enumerate(data)]


def _check_record(record, index: int, path: Path) -> dict:
    def fail(what: str):
        raise StcorrError(f"record {index}: {what}", path)

    if not isinstance(record, dict):
        fail("not an object")
    for key in ("source", "target"):
        if not isinstance(record.get(key), str) or not record[key]:
            fail(f'"{key}" must be a video name')
        if not outside_root_allowed() and (Path(record[key]).is_absolute() or ".." in Path(record[key]).parts):
            fail(f'"{key}" {record[key]!r} reaches outside the data root (set {OUTSIDE_ROOT_ENV}=1 if you mean it)')
    split = record.get("split", "val")
    if split not in SPLITS:
        fail(f'"split" must be train or val, not {split!r}')
    correspondences = record.get("correspondences")
    if not isinstance(correspondences, list):
        fail('"correspondences" must be a list')
    checked = []
    for c in correspondences:
        if not isinstance(c, dict) or not all(_is_point(c.get(k)) for k in ("source", "target")):
            fail('each correspondence needs "source" and "target" as [t, x, y]')
        name = c.get("name")
        if name is not None and not isinstance(name, str):
            fail('"name" must be a string or null')
        checked.append({"name": name, "source": [float(v) for v in c["source"]], "target": [float(v) for v in c["target"]]})
    return {**record, "split": split, "correspondences": checked}


def _is_point(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and all(_finite(v) for v in value)
        and value[0] >= 0
        and float(value[0]).is_integer()
    )


def _finite(value: int | float) -> bool:
    """A finite number (an integer too large for a float is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _annotated_points(records: list[dict]) -> dict[str, dict[int, float]]:
    """Box size of all keypoints annotated anywhere in pairs.json, per video and frame."""
    points: dict[str, dict[int, set]] = {}
    for record in records:
        for c in record["correspondences"]:
            for side in ("source", "target"):
                t, x, y = c[side]
                points.setdefault(record[side], {}).setdefault(int(t), set()).add((x, y))
    return {v: {t: box_size(np.array(sorted(p))) for t, p in frames.items()} for v, frames in points.items()}


def video_entries(root: Path) -> dict[str, Path]:
    """Video files and frame folders directly in ``root``, by name."""
    found = {}
    for path in sorted(Path(root).iterdir()):
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            found[path.stem] = path
        elif path.is_dir() and any(p.suffix.lower() in FRAME_SUFFIXES for p in path.iterdir()):
            found[path.name] = path
    return found


class VideoFolder(Dataset):
    """A plain folder of videos (no labels, no pairs)."""

    kind = "videos"

    def __init__(self, root: Path):
        super().__init__(root)
        self.paths = video_entries(root)
        if not self.paths:
            raise StcorrError("no videos here: expected video files or folders of frames", root)

    def video(self, name: str) -> Video:
        return Video(self.paths[name])

    def _video_splits(self) -> dict[str, set[str]]:
        return {name: set(SPLITS) for name in self.paths}  # no splits: every video is in each

    def key_moments(self, name: str) -> list[int] | None:
        return None

    def pairs(self, split: str = "val", setup: str = "13+3", min_visible: int = 3):
        raise StcorrError("a plain folder of videos has no labels and no benchmark pairs (it serves "
                          "self-supervised training: stcorr train --config corrflow)", self.root)
