"""The training loop: AdamW, the paper's step decay, gradient clipping, mixed precision on CUDA,
data-parallel under torchrun, checkpoints that resume exactly, CSV (and TensorBoard) logs.

Step s of a run with global batch G = batch_size x world size trains on the examples numbered
s*G .. s*G + G - 1; example g is pair ``epoch_order(epoch)[g mod n]`` of epoch g div n, drawn
with a generator seeded by (seed, g). Each pair is its own micro-batch (so BatchNorm sees one
pair whatever the batch), and the loss of a step is the mean over its examples. Hence a resumed
run, and a run split over several processes, see and do exactly what one uninterrupted process does.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from stcorr.config import save_config
from stcorr.data.datasets import Dataset
from stcorr.errors import StcorrError
from stcorr.models.matcher import Matcher, build_matcher
from stcorr.models.readout import cell_cross_entropy, keypoint_loss
from stcorr.training.checkpoint import check_resume_config, load_model_state, load_optimizer_state, read_checkpoint_info, save_checkpoint
from stcorr.training.data import ClipSettings, epoch_order, make_example
from stcorr.training.distributed import World, barrier, device_for, init_world
from stcorr.progress import progress_bar

TRAIN_LOG_FIELDS = ("step", "epoch", "loss", "lr", "elapsed_s")  # train_log.csv, of every kind of run


@dataclass
class TrainResult:
    run: Path
    step: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def lr_factor(step: int, max_steps: int, epochs: float, halving_epochs) -> float:
    """The paper's step decay laid over ``max_steps``: x0.5 at each halving epoch passed."""
    epoch = step / max(max_steps, 1) * epochs
    return 0.5 ** sum(epoch >= e for e in halving_epochs)


def prepare_step(optimizer: torch.optim.Optimizer, cfg: dict, step: int) -> None:
    """Sets each group's learning rate for ``step`` and seeds torch by (seed, step), so that a
    resumed run draws exactly what an uninterrupted one would."""
    tc = cfg["train"]
    factor = lr_factor(step, tc["max_steps"], tc["epochs"], tc["lr_halving_epochs"])
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
    torch.manual_seed(cfg["seed"] * 1_000_003 + step)


def build_optimizer(matcher: Matcher, train_cfg: dict) -> torch.optim.AdamW:
    backbone = [p for p in matcher.backbone.parameters() if p.requires_grad]
    backbone_ids = {id(p) for p in matcher.backbone.parameters()}
    rest = [p for p in matcher.parameters() if p.requires_grad and id(p) not in backbone_ids]
    groups = [{"params": rest, "lr": train_cfg["lr"], "base_lr": train_cfg["lr"]}]
    if backbone:
        groups.append({"params": backbone, "lr": train_cfg["backbone_lr"], "base_lr": train_cfg["backbone_lr"]})
    return torch.optim.AdamW(groups, weight_decay=train_cfg["weight_decay"])


def train(cfg: dict, dataset: Dataset, run: Path, resume: bool = False, init: Path | None = None,
          progress: bool = True, stop_after: int | None = None, validate=None) -> TrainResult:
    """Trains a Matcher on ``dataset``'s train pairs; writes RUN/checkpoint, logs and config.

    ``stop_after`` ends the run early at that step as an interruption would (for tests);
    ``validate(matcher, step) -> dict`` is called every ``train.val_every`` steps on rank 0.
    """
    world = init_world()
    device = device_for(world)
    tc = cfg["train"]
    torch.manual_seed(cfg["seed"])
    pairs = dataset.pairs(split="train", setup=cfg["data"]["setup"], min_visible=cfg["data"]["min_visible"])
    if len(pairs) == 0:
        raise StcorrError("no train pairs to learn from", dataset.root)
    matcher = build_matcher(cfg["model"]).to(device)
    if init is not None:
        load_model_state(matcher, read_checkpoint_info(init)[0] / "model.safetensors")
    optimizer = build_optimizer(matcher, tc)
    start = _restore(run, matcher, optimizer, cfg) if resume else 0
    model = _wrap(matcher, world, device, tc)
    settings = ClipSettings.from_config(cfg["data"])
    if world.is_main:
        run.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run / "config.yaml")
    logger = _Logger(run, world.is_main, resume and start > 0)
    amp_dtype = _amp_dtype(device, tc["amp"])
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    global_batch = tc["batch_size"] * world.size
    result = TrainResult(run, start)
    began = time.perf_counter()
    meter = _Throughput()
    with progress_bar("train", tc["max_steps"], progress and world.is_main, completed=start) as bar:
        for step in range(start, tc["max_steps"]):
            if stop_after is not None and step >= stop_after:
                break
            prepare_step(optimizer, cfg, step)
            indices = range(step * global_batch + world.rank * tc["batch_size"], step * global_batch + (world.rank + 1) * tc["batch_size"])
            loss = _train_step(model, matcher, optimizer, scaler, dataset, pairs, settings, cfg, indices, device, amp_dtype)
            result.step = step + 1
            result.losses.append(loss)
            epoch = (step + 1) * global_batch / len(pairs)
            logger.step(result.step, epoch, loss, optimizer.param_groups[0]["lr"], time.perf_counter() - began, tc["log_every"])
            bar.advance(info=meter.update(loss, global_batch))
            last = result.step == tc["max_steps"]
            if validate and tc["val_every"] and (result.step % tc["val_every"] == 0 or last) and world.is_main:
                logger.validation(result.step, validate(matcher, result.step))
                matcher.train()
            if world.is_main and (result.step % tc["checkpoint_every"] == 0 or last or result.step == stop_after):
                save_checkpoint(run / "checkpoint", matcher, optimizer, cfg, result.step, epoch, logger.latest)
            barrier(world)
    logger.close()
    result.seconds = time.perf_counter() - began
    return result


def _train_step(model, matcher, optimizer, scaler, dataset, pairs, settings, cfg, indices, device, amp_dtype) -> float:
    model.train()
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    n_pairs = len(pairs)
    for position, g in enumerate(indices):
        epoch, offset = divmod(g, n_pairs)
        pair = pairs[int(epoch_order(n_pairs, cfg["seed"], epoch)[offset])]
        example = make_example(dataset, pair, settings, np.random.default_rng([cfg["seed"], g]))
        batch = {k: v[None].to(device) for k, v in example.items()}
        sync = position == len(indices) - 1
        with _no_sync(model, sync), torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            loss = model(batch) / len(indices)
        scaler.scale(loss).backward()
        total += float(loss.detach())
    scaler.unscale_(optimizer)
    if cfg["train"]["grad_clip"]:
        torch.nn.utils.clip_grad_norm_(matcher.parameters(), cfg["train"]["grad_clip"])
    scaler.step(optimizer)
    scaler.update()
    return total


def _no_sync(model, sync: bool):
    import contextlib

    if not sync and hasattr(model, "no_sync"):
        return model.no_sync()
    return contextlib.nullcontext()


class _PairLoss(torch.nn.Module):
    """The Matcher with its loss as ``forward``, so that DDP sees the loss tensor."""

    def __init__(self, matcher: Matcher, l2_weight: float = 1.0, ce_weight: float = 0.0):
        super().__init__()
        self.matcher, self.l2_weight, self.ce_weight = matcher, l2_weight, ce_weight

    def forward(self, batch: dict) -> torch.Tensor:
        clip_size = tuple(batch["src"].shape[2:])
        output = self.matcher(batch["src"], batch["tgt"], differentiable=True)
        predicted, _ = output.flow.at_points(batch["src_points"])
        loss = self.l2_weight * keypoint_loss(predicted.float(), batch["tgt_points"], batch["valid"], clip_size)
        if self.ce_weight:
            loss = loss + self.ce_weight * cell_cross_entropy(
                output.volume.float(), self.matcher.grid, clip_size, batch["src_points"], batch["tgt_points"],
                batch["valid"], self.matcher.readout.temperature)
        return loss


def _wrap(matcher: Matcher, world: World, device: torch.device, train_cfg: dict):
    model = _PairLoss(matcher, train_cfg["l2_weight"], train_cfg["ce_weight"])
    if not world.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    # layers past the last hyperpixel layer (and the classifier) get no gradient
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def _amp_dtype(device: torch.device, enabled: bool):
    if device.type != "cuda" or not enabled:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _restore(run: Path, matcher: Matcher, optimizer, cfg: dict) -> int:
    folder = run / "checkpoint"
    if not folder.exists():
        raise StcorrError("nothing to resume: no checkpoint in the run folder", run)
    folder, info = read_checkpoint_info(folder)
    check_resume_config(info, cfg, folder)
    load_model_state(matcher, folder / "model.safetensors")
    if (folder / "optimizer.safetensors").is_file():
        load_optimizer_state(matcher, optimizer, folder / "optimizer.safetensors")
    return int(info["step"])


class _Logger:
    """RUN/train_log.csv (every ``log_every`` steps: mean loss since the last row), RUN/val_log.csv,
    and TensorBoard when it is installed."""

    def __init__(self, run: Path, active: bool, append: bool):
        self.active, self.latest, self._losses = active, {}, []
        if not active:
            return
        self.train_file = run / "train_log.csv"
        self.val_file = run / "val_log.csv"
        if not append:
            for f in (self.train_file, self.val_file):
                f.unlink(missing_ok=True)
        self.tensorboard = _tensorboard(run)

    def step(self, step: int, epoch: float, loss: float, lr: float, elapsed: float, every: int) -> None:
        self._losses.append(loss)
        if not self.active or step % max(every, 1):
            return
        row = dict(zip(TRAIN_LOG_FIELDS, (step, round(epoch, 4), float(np.mean(self._losses)), lr, round(elapsed, 2))))
        self._losses = []
        self.latest = {"loss": row["loss"]}
        _append_csv(self.train_file, row)
        if self.tensorboard:
            self.tensorboard.add_scalar("train/loss", row["loss"], step)
            self.tensorboard.add_scalar("train/lr", lr, step)

    def validation(self, step: int, metrics: dict) -> None:
        if not self.active:
            return
        row = {"step": step, **{k: metrics[k] for k in metrics if k.startswith("T@")}}
        self.latest.update({f"val_{k}": v for k, v in row.items() if k != "step"})
        _append_csv(self.val_file, row)
        if self.tensorboard:
            for k, v in row.items():
                if k != "step":
                    self.tensorboard.add_scalar(f"val/{k}", v, step)

    def close(self) -> None:
        if self.active and self.tensorboard:
            self.tensorboard.close()


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _tensorboard(run: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run / "tensorboard"))


class _Throughput:
    """Running loss and pairs per second, for the progress bar."""

    def __init__(self):
        self._pairs, self._began, self._loss = 0, time.perf_counter(), math.nan

    def update(self, loss: float, pairs: int) -> str:
        self._pairs += pairs
        self._loss = loss if math.isnan(self._loss) else 0.9 * self._loss + 0.1 * loss
        rate = self._pairs / max(time.perf_counter() - self._began, 1e-9)
        return f"loss {self._loss:.4f}  {rate:.1f} pairs/s"
