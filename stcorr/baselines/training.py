"""Training the sequential baselines' learned parts: ``stcorr train --config tcc|lrprop|cats2d``.

    train_baseline(cfg, dataset, out)   ->   out/checkpoint/, out/config.yaml, out/train_log.csv

``cfg["task"]`` picks the part; its settings are under ``baseline.<task>``; the step budget,
learning rate, weight decay, gradient clipping, logging and checkpoint intervals come from
``train.*`` as for the space-time models (``train.max_steps``, ``--max-steps``).

- ``tcc``, ``lrprop``: a head over frozen per-frame features of the train videos (computed once,
  at the start). A step samples ``seq_len`` frames of each of a few train videos of one action:
  the TCC loss runs cycles between all of them; the LRProp loss takes two videos plus two
  samplings of the first one (``train.batch_size`` such groups per step).
- ``cats2d``: frame pairs at the key moments of the train pairs (SPEC §3) with their
  correspondences; ``train.batch_size`` frame pairs per step, each frame augmented on its own
  as ``data.augment`` says (photometric changes, a crop that keeps the keypoints); the frame
  encoder is finetuned at ``train.backbone_lr``.

Step s draws its examples from a generator seeded by (seed, s), so ``--resume`` continues a
stopped run exactly. The learning rate follows the paper's step decay (``train.lr_halving_epochs``
laid over ``train.max_steps``).
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from stcorr.alignment.lrprop import LRPropLoss, LRPropWeights
from stcorr.alignment.tcc import tcc_loss
from stcorr.baselines.cats2d import Cats2d, build_cats2d
from stcorr.baselines.checkpoints import TASK_NAMES, restore_part, save_part
from stcorr.baselines.embedders import AlignmentEmbedder, build_head
from stcorr.baselines.frame_features import FrameFeatures, build_frame_encoder
from stcorr.baselines.settings import baseline_settings
from stcorr.config import save_config
from stcorr.data.augment import ClipAugment
from stcorr.data.clips import crop_resize
from stcorr.data.datasets import Dataset
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.progress import progress_bar
from stcorr.training.loop import TRAIN_LOG_FIELDS, TrainResult, prepare_step


def train_baseline(cfg: dict, dataset: Dataset, out: Path, resume: bool = False, progress: bool = True,
                   stop_after: int | None = None) -> TrainResult:
    """Trains the part ``cfg["task"]`` names on ``dataset``'s train split; writes ``out/checkpoint``."""
    task = cfg["task"]
    if task not in TASK_NAMES:
        raise StcorrError(f"unknown task {task!r}: use correspondence, {', '.join(TASK_NAMES)}")
    out = Path(out)
    torch.manual_seed(cfg["seed"])
    settings = baseline_settings(cfg)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if task == "cats2d":
        module, step_fn, per_epoch = _cats2d_task(cfg, settings, dataset, device)
    else:
        module, step_fn, per_epoch = _embedding_task(task, cfg, settings, dataset, device, progress)
    result = _run(cfg, out, module.to(device), step_fn, per_epoch, resume, progress, stop_after)
    from stcorr.cli.common import console

    console.print(f"trained {TASK_NAMES[task]} {result.step} steps in {result.seconds:.0f} s; checkpoint: {out / 'checkpoint'}")
    return result


# ---------------------------------------------------------------- the loop


def _optimizer(module: torch.nn.Module, train_cfg: dict) -> torch.optim.AdamW:
    backbone = module.backbone if isinstance(module, Cats2d) else None
    backbone_ids = {id(p) for p in backbone.parameters()} if backbone is not None else set()
    rest = [p for p in module.parameters() if p.requires_grad and id(p) not in backbone_ids]
    groups = [{"params": rest, "lr": train_cfg["lr"], "base_lr": train_cfg["lr"]}]
    if backbone_ids:
        groups.append({"params": list(backbone.parameters()), "lr": train_cfg["backbone_lr"],
                       "base_lr": train_cfg["backbone_lr"]})
    return torch.optim.AdamW(groups, weight_decay=train_cfg["weight_decay"])


def _run(cfg: dict, out: Path, module: torch.nn.Module, step_fn: Callable[[np.random.Generator], torch.Tensor],
         per_epoch: float, resume: bool, progress: bool, stop_after: int | None) -> TrainResult:
    tc = cfg["train"]
    optimizer = _optimizer(module, tc)
    start = restore_part(out / "checkpoint", cfg["task"], module, optimizer, cfg) if resume else 0
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    log = _TrainLog(out / "train_log.csv", append=resume and start > 0)
    result = TrainResult(out, start)
    began = time.perf_counter()
    with progress_bar(f"train {cfg['task']}", tc["max_steps"], progress, completed=start) as bar:
        for step in range(start, tc["max_steps"]):
            if stop_after is not None and step >= stop_after:
                break
            prepare_step(optimizer, cfg, step)
            module.train()
            optimizer.zero_grad(set_to_none=True)
            loss = step_fn(np.random.default_rng([cfg["seed"], step]))
            loss.backward()
            if tc["grad_clip"]:
                torch.nn.utils.clip_grad_norm_(module.parameters(), tc["grad_clip"])
            optimizer.step()
            result.step = step + 1
            result.losses.append(float(loss.detach()))
            epoch = result.step / per_epoch
            log.step(result.step, epoch, result.losses[-1], optimizer.param_groups[0]["lr"],
                     time.perf_counter() - began, tc["log_every"])
            bar.advance(info=f"loss {result.losses[-1]:.4f}")
            if result.step % tc["checkpoint_every"] == 0 or result.step == tc["max_steps"] or result.step == stop_after:
                save_part(out / "checkpoint", module, optimizer, cfg, result.step, epoch, {"loss": log.latest})
    result.seconds = time.perf_counter() - began
    return result


class _TrainLog:
    """``train_log.csv``: one row every ``log_every`` steps with the mean loss since the last row."""

    def __init__(self, path: Path, append: bool):
        self.path, self._losses, self.latest = path, [], None
        if not append:
            path.unlink(missing_ok=True)

    def step(self, step: int, epoch: float, loss: float, lr: float, elapsed: float, every: int) -> None:
        self._losses.append(loss)
        if step % max(int(every), 1):
            return
        self.latest = float(np.mean(self._losses))
        self._losses = []
        new = not self.path.exists()
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=TRAIN_LOG_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow({"step": step, "epoch": round(epoch, 4), "loss": self.latest, "lr": lr,
                             "elapsed_s": round(elapsed, 2)})


# ---------------------------------------------------------------- TCC and LRProp


def train_videos_by_action(dataset: Dataset) -> dict[str, list[str]]:
    """Names of the train split's videos, by action (pairs layout: by the records' action)."""
    groups: dict[str, set[str]] = {}
    labels = getattr(dataset, "labels", None)
    if labels is not None:
        for name, lab in labels.items():
            if lab.split == "train":
                groups.setdefault(lab.action, set()).add(name)
    else:
        for record in getattr(dataset, "records", []):
            if record["split"] == "train":
                groups.setdefault(record.get("action") or "all", set()).update((record["source"], record["target"]))
    return {action: sorted(names) for action, names in sorted(groups.items()) if len(names) >= 2}


def sample_times(n: int, length: int, rng: np.random.Generator, span: float = 1.0) -> np.ndarray:
    """``length`` increasing frames of an ``n``-frame video (all of them when n <= length): evenly
    spread over a random window of ``span`` x the video, each jittered within its slot."""
    if n <= length:
        return np.arange(n)
    window = max(length, int(round(span * n)))
    start = int(rng.integers(0, n - window + 1))
    edges = np.linspace(start, start + window, length + 1)
    times = np.floor(edges[:-1] + rng.random(length) * np.diff(edges)).astype(np.int64)
    return np.maximum.accumulate(np.clip(times, start, start + window - 1))


def _embedding_task(task: str, cfg: dict, settings: dict, dataset: Dataset, device: torch.device, progress: bool):
    part = settings[task]
    groups = train_videos_by_action(dataset)
    if not groups:
        raise StcorrError(f"{TASK_NAMES[task]} needs at least two train videos of one action", dataset.root)
    encoder = build_frame_encoder(part["features"], settings["frames"], cfg["model"], cfg["seed"])
    embedder = AlignmentEmbedder(task, encoder, build_head(task, encoder.dim, part), settings["frames"]["size"],
                                 settings["frames"]["batch"])
    features = _all_features(FrameFeatures(encoder, embedder.size, embedder.batch, device), dataset, groups, progress)
    features = {name: torch.from_numpy(f).to(device) for name, f in features.items()}
    actions = list(groups)
    weights = np.array([len(groups[a]) for a in actions], dtype=np.float64)
    n_videos = int(weights.sum())
    weights /= weights.sum()
    seq_len = int(part["seq_len"])

    def pick(rng: np.random.Generator, count: int) -> list[str]:
        names = groups[actions[rng.choice(len(actions), p=weights)]]
        return [names[i] for i in rng.choice(len(names), size=min(count, len(names)), replace=False)]

    def embed(name: str, times: np.ndarray) -> torch.Tensor:
        return embedder.head(features[name], torch.as_tensor(times, device=device))

    if task == "tcc":
        options = {k: part[k] for k in ("loss_type", "similarity", "temperature", "variance_lambda")}

        def tcc_step(rng: np.random.Generator) -> torch.Tensor:
            names = pick(rng, int(part["videos_per_step"]))
            return tcc_loss([embed(n, sample_times(len(features[n]), seq_len, rng)) for n in names], **options)

        return embedder, tcc_step, n_videos / int(part["videos_per_step"])

    loss_fn = LRPropLoss(part["sigma"], part["temperature"], part["gamma"], weights=LRPropWeights(**part["weights"]))

    def lrprop_step(rng: np.random.Generator) -> torch.Tensor:
        total = 0.0
        for _ in range(int(cfg["train"]["batch_size"])):
            a, b = pick(rng, 2)
            n = len(features[a])
            views = [sample_times(n, seq_len, rng, span=float(rng.uniform(0.6, 1.0))) for _ in range(2)]
            loss, _ = loss_fn(embed(a, sample_times(n, seq_len, rng)), embed(b, sample_times(len(features[b]), seq_len, rng)),
                              (embed(a, views[0]), views[0]), (embed(a, views[1]), views[1]))
            total = total + loss / int(cfg["train"]["batch_size"])
        return total

    return embedder, lrprop_step, n_videos / (2 * int(cfg["train"]["batch_size"]))


def _all_features(features: FrameFeatures, dataset: Dataset, groups: dict[str, list[str]], progress: bool) -> dict[str, np.ndarray]:
    names = [n for names in groups.values() for n in names]
    out = {}
    with progress_bar("frame features", len(names), progress) as bar:
        for name in names:
            out[name] = features(dataset.video(name))
            if len(out[name]) < 2:
                raise StcorrError(f"video {name} is too short to train on: {len(out[name])} frame(s), needs at least 2")
            bar.advance()
    return out


# ---------------------------------------------------------------- 2D CATs


@dataclass
class FramePair:
    """One training example of 2D CATs: a source frame, a target frame, their correspondences."""

    source: str
    target: str
    source_t: int
    target_t: int
    src_xy: np.ndarray  # (K, 2) native
    tgt_xy: np.ndarray  # (K, 2) native


def key_moment_frame_pairs(dataset: Dataset, setup: str, min_visible: int) -> list[FramePair]:
    """Every (source frame, target frame) of the train pairs with its correspondences."""
    examples = []
    for pair in dataset.pairs("train", setup, min_visible):
        for s, t in sorted({(int(a), int(b)) for a, b in zip(pair.src[:, 0], pair.tgt[:, 0])}):
            rows = (pair.src[:, 0] == s) & (pair.tgt[:, 0] == t)
            examples.append(FramePair(pair.source, pair.target, s, t, pair.src[rows, 1:], pair.tgt[rows, 1:]))
    return examples


def _cats2d_task(cfg: dict, settings: dict, dataset: Dataset, device: torch.device):
    examples = key_moment_frame_pairs(dataset, cfg["data"]["setup"], cfg["data"]["min_visible"])
    if not examples:
        raise StcorrError("no train pairs to learn 2D CATs from (every keypoint invisible, or no key moments)", dataset.root)
    model = build_cats2d(settings["cats2d"])
    batch = int(cfg["train"]["batch_size"])
    augment = ClipAugment.from_dict(cfg["data"].get("augment"))

    def cats2d_step(rng: np.random.Generator) -> torch.Tensor:
        chosen = [examples[i] for i in rng.choice(len(examples), size=batch)]
        src, tgt, src_xy, tgt_xy, valid = _cats2d_batch(dataset, chosen, model.size, int(cfg["data"]["max_points"]),
                                                        augment, rng)
        return model.loss(src.to(device), tgt.to(device), src_xy.to(device), tgt_xy.to(device), valid.to(device))

    return model, cats2d_step, len(examples) / batch


def augmented_frame(video: Video, t: int, xy: np.ndarray, size: int, augment: ClipAugment,
                    rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray]:
    """Native frame t resized to ``size x size`` after the config's augmentation (a crop that keeps
    ``xy`` inside, photometric changes): float (3, S, S) in [0, 1], and ``xy`` (K, 2) in its pixels."""
    native = video.frames([t])
    width, height = native.shape[2], native.shape[1]
    params = augment.sample(rng, (width, height), xy) if augment.enabled else None
    x0, y0, w, h = params.crop if params is not None and params.crop is not None else (0.0, 0.0, float(width), float(height))
    frame = crop_resize(native, (x0, y0, w, h), (size, size))
    if params is not None:
        frame = params.apply(frame)
    points = (np.asarray(xy, dtype=np.float64) - [x0, y0] + 0.5) * [size / w, size / h] - 0.5
    return torch.from_numpy(np.array(frame[0])).permute(2, 0, 1).float().div_(255.0), points


def _cats2d_batch(dataset: Dataset, examples: list[FramePair], size: int, max_points: int, augment: ClipAugment,
                  rng: np.random.Generator):
    """Frames (B, 3, S, S) of both sides, points (B, K, 2) in frame pixels, valid (B, K)."""
    k = min(max(len(e.src_xy) for e in examples), max_points)
    src_xy, tgt_xy = np.zeros((len(examples), k, 2), np.float32), np.zeros((len(examples), k, 2), np.float32)
    valid = np.zeros((len(examples), k), bool)
    sources, targets = [], []
    for i, e in enumerate(examples):
        keep = np.sort(rng.choice(len(e.src_xy), size=min(len(e.src_xy), k), replace=False))
        source, points_s = augmented_frame(dataset.video(e.source), e.source_t, e.src_xy[keep], size, augment, rng)
        target, points_t = augmented_frame(dataset.video(e.target), e.target_t, e.tgt_xy[keep], size, augment, rng)
        sources.append(source)
        targets.append(target)
        src_xy[i, :len(keep)], tgt_xy[i, :len(keep)], valid[i, :len(keep)] = points_s, points_t, True
    return torch.stack(sources), torch.stack(targets), torch.from_numpy(src_xy), torch.from_numpy(tgt_xy), torch.from_numpy(valid)
