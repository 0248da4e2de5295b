"""The one training engine: every learner (``stcorr.learners``) trains through ``train``.

    result = train(cfg, dataset, run)       # cfg["task"] names the learner

AdamW with two parameter groups (``train.lr``, and ``train.backbone_lr`` for what the learner
calls its backbone), the paper's step decay laid over ``train.max_steps``, gradient clipping,
mixed precision on CUDA, the next step's examples drawn in a background thread (``train.prefetch``),
data parallel under torchrun (NCCL on GPUs, gloo on CPUs), checkpoints that resume exactly,
RUN/train_log.csv and RUN/val_log.csv (TensorBoard when installed), one progress bar.

Step s of a run with global batch G = batch_size x world size trains on the examples numbered
s*G .. s*G + G - 1; process r takes its batch_size of them. Example g is drawn by the learner
with a generator seeded by (seed, g), and torch's own generator is seeded by (seed, step) before
each step and by (seed, g) before the forward pass of example g (dropout). With
``learner.per_example`` each example is its own micro-batch and the loss of a step is the mean
over its examples. Hence a resumed run, and a run split over several
processes, see and do exactly what one uninterrupted process does.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from stcorr.config import save_config
from stcorr.data.datasets import Dataset
from stcorr.errors import StcorrError
from stcorr.learners import Learner, learner_class
from stcorr.models.backbones import load_backbone_weights
from stcorr.models.checkpoint import checkpoint_kind, load_model_state, read_checkpoint_info
from stcorr.progress import bars_shown, progress_bar
from stcorr.training.checkpoint import BACKBONE_FILE, restore_run, save_checkpoint
from stcorr.training.distributed import World, barrier, device_for, init_world
from stcorr.training.logs import RunLog

@dataclass
class TrainResult:
    run: Path
    step: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    summary: str = ""


def lr_factor(step: int, max_steps: int, epochs: float, halving_epochs) -> float:
    """The paper's step decay laid over ``max_steps``: x0.5 at each halving epoch passed."""
    epoch = step / max(max_steps, 1) * epochs
    return 0.5 ** sum(epoch >= e for e in halving_epochs)


def build_optimizer(model: nn.Module, backbone: list[nn.Parameter], train_cfg: dict) -> torch.optim.AdamW:
    """AdamW over the trainable parameters: ``backbone`` at ``backbone_lr``, the rest at ``lr``.

    On the CPU the fused kernel: ~4x faster than the per-tensor loop at these sizes, the same update
    up to float rounding (docs/performance.md)."""
    backbone_ids = {id(p) for p in backbone}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in backbone_ids]
    groups = [{"params": rest, "lr": train_cfg["lr"], "base_lr": train_cfg["lr"]}]
    trainable = [p for p in backbone if p.requires_grad]
    if trainable:
        groups.append({"params": trainable, "lr": train_cfg["backbone_lr"], "base_lr": train_cfg["backbone_lr"]})
    on_cpu = all(p.device.type == "cpu" for group in groups for p in group["params"])
    return torch.optim.AdamW(groups, weight_decay=train_cfg["weight_decay"], fused=on_cpu or None)


def train(cfg: dict, dataset: Dataset, run: Path, resume: bool = False, init: Path | None = None,
          progress: bool = True, stop_after: int | None = None) -> TrainResult:
    """Trains the learner ``cfg["task"]`` on ``dataset``; writes RUN/checkpoint, the logs and RUN/config.yaml.

    ``init`` starts from a checkpoint's weights (same learner; or only the backbone of a pretraining
    checkpoint, see ``_load_init``); ``stop_after`` ends the run at that
    step as an interruption would (tests). The learner's ``validate(model, step)`` runs every
    ``train.val_every`` steps and at the last on rank 0; its figures go to RUN/val_log.csv.
    """
    run = Path(run)
    world = init_world()
    device = device_for(world)
    tc = cfg["train"]
    torch.manual_seed(cfg["seed"])
    with bars_shown(progress and world.is_main):
        learner = learner_class(cfg["task"])(cfg, dataset, device)
    model = learner.build_model().to(device)
    if init is not None:
        _load_init(model, init, cfg["task"])
    optimizer = build_optimizer(model, learner.backbone_parameters(model), tc)
    start, saved = restore_run(run, model, optimizer, cfg, world.size) if resume else (0, {})
    if world.is_main:
        run.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run / "config.yaml")
    log = RunLog(run, world.is_main, resume_step=start if resume else None, pending=saved.get("log_pending"))
    step_runner = _StepRunner(learner, model, optimizer, world, device, tc)
    per_epoch = max(learner.num_examples(), 1)
    global_batch = tc["batch_size"] * world.size
    result = TrainResult(run, start)
    began = time.perf_counter()
    meter = _Throughput()
    end = tc["max_steps"] if stop_after is None else min(stop_after, tc["max_steps"])
    with progress_bar(f"train {learner.name}", tc["max_steps"], progress and world.is_main, completed=start) as bar:
        for step in range(start, end):
            _prepare_step(optimizer, cfg, step)
            loss = step_runner(_step_indices(step, global_batch, world.rank, tc["batch_size"]),
                               _step_indices(step + 1, global_batch, world.rank, tc["batch_size"]) if step + 1 < end else None)
            result.step = step + 1
            result.losses.append(loss)
            epoch = result.step * global_batch / per_epoch
            log.step(result.step, epoch, loss, optimizer.param_groups[0]["lr"], time.perf_counter() - began,
                     tc["log_every"])
            bar.advance(info=meter.update(loss, global_batch))
            last = result.step == tc["max_steps"]
            if tc["val_every"] and (result.step % tc["val_every"] == 0 or last) and world.is_main:
                figures = learner.validate(model, result.step)
                if figures:
                    log.validation(result.step, figures)
                model.train()
            if world.is_main and (result.step % tc["checkpoint_every"] == 0 or last or result.step == end):
                save_checkpoint(run / "checkpoint", model, optimizer, cfg, result.step, epoch, log.latest,
                                world_size=world.size, log_pending=log.pending)
            barrier(world)
    step_runner.close()
    log.close()
    result.seconds = time.perf_counter() - began
    result.summary = learner.summary(result.step, result.seconds)
    return result


def _step_indices(step: int, global_batch: int, rank: int, batch_size: int) -> range:
    """The examples process ``rank`` trains on at ``step``."""
    first = step * global_batch + rank * batch_size
    return range(first, first + batch_size)


def _prepare_step(optimizer: torch.optim.Optimizer, cfg: dict, step: int) -> None:
    """Sets each group's learning rate for ``step`` and seeds torch by (seed, step), so that a
    resumed run draws exactly what an uninterrupted one would."""
    tc = cfg["train"]
    factor = lr_factor(step, tc["max_steps"], tc["epochs"], tc["lr_halving_epochs"])
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
    torch.manual_seed(cfg["seed"] * 1_000_003 + step)


def _load_init(model: nn.Module, init: Path, task: str) -> None:
    """The whole model from a checkpoint of the same learner, or only the video backbone from a
    pretraining checkpoint's backbone.safetensors (corrflow-st; the rest stays freshly initialised)."""
    folder, info = read_checkpoint_info(init)
    held = checkpoint_kind(info)
    if held == task:
        load_model_state(model, folder / "model.safetensors")
    elif (folder / BACKBONE_FILE).is_file() and isinstance(getattr(model, "backbone", None), nn.Module):
        load_backbone_weights(model.backbone, folder / BACKBONE_FILE)
    else:
        raise StcorrError(f"--init takes a checkpoint of the same learner ({task}) or a pretrained backbone "
                          f"(corrflow-st); it holds {held}", folder)


class _LossModule(nn.Module):
    """The model with the learner's loss as ``forward``, so that DDP sees the loss tensor."""

    def __init__(self, learner: Learner, model: nn.Module):
        super().__init__()
        self.learner, self.model = learner, model

    def forward(self, examples: list[Any]) -> torch.Tensor:
        return self.learner.loss(self.model, examples)


class _StepRunner:
    """One optimiser step over a process's examples: micro-batches, AMP, DDP, clipping."""

    def __init__(self, learner: Learner, model: nn.Module, optimizer: torch.optim.Optimizer, world: World,
                 device: torch.device, train_cfg: dict):
        self.learner, self.model, self.optimizer, self.tc = learner, model, optimizer, train_cfg
        self.amp_dtype = _amp_dtype(device, train_cfg["amp"])
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.device = device
        self.wrapped = _wrap(_LossModule(learner, model), world, device)
        self.examples = _Examples(learner, learner.prefetch and prefetches(train_cfg["prefetch"], device))

    def __call__(self, indices: range, next_indices: range | None = None) -> float:
        """Trains on examples ``indices``; draws ``next_indices`` meanwhile when the learner prefetches."""
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        seed = self.learner.cfg["seed"]
        examples = self.examples.get(indices, next_indices)
        groups = [[e] for e in examples] if self.learner.per_example else [examples]
        total = 0.0
        for position, group in enumerate(groups):
            torch.manual_seed(seed * 1_000_003 + 7_919 * indices[position] + 1)  # dropout etc. of this example
            sync = position == len(groups) - 1
            autocast = torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                                      enabled=self.amp_dtype is not None)
            with _no_sync(self.wrapped, sync), autocast:
                loss = self.wrapped(group) * (len(group) / len(examples))
            self.scaler.scale(loss).backward()
            total += float(loss.detach())
        self.scaler.unscale_(self.optimizer)
        if self.tc["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc["grad_clip"])
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return total

    def close(self) -> None:
        self.examples.close()


def prefetches(setting: bool | str, device: torch.device) -> bool:
    """``train.prefetch``: true or false as given; "auto": the background example thread only where
    a core is left for it: on CUDA, or where torch's threads times this machine's training
    processes (``LOCAL_WORLD_SIZE``) are fewer than the cores this process may use. Where the
    step's own threads fill the cores, the extra thread made a cpu-long step 1.5x slower in wall
    time (docs/performance.md, "The example thread")."""
    if setting != "auto":
        return bool(setting)
    if device.type == "cuda":
        return True
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return torch.get_num_threads() * int(os.environ.get("LOCAL_WORLD_SIZE", "1")) < cores


class _Examples:
    """A learner's examples by index, the next step's drawn in a background thread when the
    learner allows it (``Learner.prefetch``): its data work (file reads, decoding, augmentation)
    then overlaps the model's. Example g is drawn with the generator seeded by (seed, g) either
    way, so the examples are the same."""

    def __init__(self, learner: Learner, prefetch: bool):
        self.learner = learner
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="stcorr-examples") if prefetch else None
        self.pending: tuple[range, Future] | None = None

    def draw(self, indices: range) -> list:
        seed = self.learner.cfg["seed"]
        return [self.learner.example(g, np.random.default_rng([seed, g])) for g in indices]

    def get(self, indices: range, next_indices: range | None) -> list:
        pending, self.pending = self.pending, None
        examples = pending[1].result() if pending is not None and pending[0] == indices else self.draw(indices)
        if self.pool is not None and next_indices is not None:
            self.pending = (next_indices, self.pool.submit(self.draw, next_indices))
        return examples

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pending = None


def _no_sync(model: nn.Module, sync: bool):
    if not sync and hasattr(model, "no_sync"):
        return model.no_sync()
    return contextlib.nullcontext()


def _wrap(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    if not world.distributed:
        return module
    ids = [device.index] if device.type == "cuda" else None
    # parts of a model may get no gradient (layers past the last hyperpixel layer, a classifier)
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


def _amp_dtype(device: torch.device, enabled: bool):
    if device.type != "cuda" or not enabled:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class _Throughput:
    """Running loss and examples per second, for the progress bar."""

    def __init__(self):
        self._examples, self._began, self._loss = 0, time.perf_counter(), math.nan

    def update(self, loss: float, examples: int) -> str:
        self._examples += examples
        self._loss = loss if math.isnan(self._loss) else 0.9 * self._loss + 0.1 * loss
        rate = self._examples / max(time.perf_counter() - self._began, 1e-9)
        return f"loss {self._loss:.4f}  {rate:.1f} examples/s"
