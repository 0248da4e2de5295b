"""Where a training step of the correspondence learner spends its time (imported by train_step.py).

CPU seconds of this process (``time.process_time``: less disturbed by other processes than wall
time). Forward sections are timed as they run; backward sections by marks on their inputs and outputs:
a section's backward runs from the first gradient reaching one of its outputs to the last leaving
through one of its inputs (the end of ``backward`` for the backbone, whose inputs are the clips).
Sections of the backward pass may overlap a little; ``rest`` is what no section covers (readout,
losses, hyperpixel resampling). Seconds per step, mean over the profiled steps.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import torch

import stcorr.models.matcher as matcher_module
import stcorr.learners.correspondence as data_module


class _Clock:
    """Seconds per named section, and the backward marks of the current step."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.marks: dict[tuple[str, str], list[float]] = defaultdict(list)

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        began = time.process_time()
        try:
            yield
        finally:
            self.seconds[name] += time.process_time() - began

    def timed(self, name: str, function: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            with self.section(name):
                return function(*args, **kwargs)
        return wrapper

    def backward_sections(self, backward_end: float) -> None:
        """Adds each marked section's backward time, then forgets the marks."""
        names = {name for name, _ in self.marks}
        for name in names:
            starts, ends = self.marks.get((name, "out"), []), self.marks.get((name, "in"), [])
            if starts:
                self.seconds[f"{name}_bwd"] += (max(ends) if ends else backward_end) - min(starts)
        self.marks.clear()


class _Mark(torch.autograd.Function):
    """Identity; its backward notes when the gradient passed (clock, section, "in" or "out")."""

    @staticmethod
    def forward(ctx, clock, name, side, *tensors):
        ctx.clock, ctx.key = clock, (name, side)
        return tuple(t.view_as(t) for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        ctx.clock.marks[ctx.key].append(time.process_time())
        return (None, None, None, *grads)


def _mark(clock: _Clock, name: str, side: str, value):
    """``value`` (a tensor, or a list/tuple of tensors) with every grad-requiring tensor marked."""
    if value is None:
        return None
    tensors = [value] if torch.is_tensor(value) else list(value)
    chosen = [i for i, t in enumerate(tensors) if torch.is_tensor(t) and t.requires_grad]
    if chosen and torch.is_grad_enabled():
        marked = _Mark.apply(clock, name, side, *[tensors[i] for i in chosen])
        for i, t in zip(chosen, marked):
            tensors[i] = t
    return tensors[0] if torch.is_tensor(value) else type(value)(tensors)


def _marked(clock: _Clock, name: str, function: Callable, inputs: Callable) -> Callable:
    """``function`` timed (forward) and marked (backward); ``inputs(args)`` -> which args to mark."""
    def wrapper(*args, **kwargs):
        args = list(args)
        for i in inputs(args):
            args[i] = _mark(clock, name, "in", args[i])
        with clock.section(f"{name}_fwd"):
            out = function(*args, **kwargs)
        return _mark_outputs(clock, name, out)
    return wrapper


def _mark_outputs(clock: _Clock, name: str, out):
    if torch.is_tensor(out) or (isinstance(out, (list, tuple)) and all(torch.is_tensor(t) for t in out)):
        return _mark(clock, name, "out", out)
    if isinstance(out, list):  # the fine stage: RefineStep per iteration
        for step in out:
            step.points = _mark(clock, name, "out", step.points)
        return out
    return out


def profile_steps(learner, model: torch.nn.Module, optimizer: torch.optim.Optimizer, first_index: int,
                  steps: int, batch_size: int, grad_clip: float | None) -> dict[str, float]:
    """Trains ``steps`` steps as the engine does (one example a micro-batch where the learner is
    ``per_example``, else the step's examples together) with every section timed;
    returns seconds per step by section, and ``total``."""
    clock = _Clock()
    patches = [
        (data_module, "sample_clip", clock.timed("decode_augment", data_module.sample_clip)),
        (data_module, "_joints", clock.timed("pose_maps", data_module._joints)),
        (data_module, "clip_input", clock.timed("pose_maps", data_module.clip_input)),
        (matcher_module, "correlation_volumes",
         _marked(clock, "correlation", matcher_module.correlation_volumes, lambda a: [0, 1])),
    ]
    backbone = model.backbone
    patches.append((backbone, "layer_features", _marked(clock, "backbone", backbone.layer_features, lambda a: [])))
    patches.append((model.aggregator, "forward", _marked(clock, "aggregator", model.aggregator.forward,
                                                         lambda a: [0, 1, 2])))
    if model.refiner is not None:
        patches.append((model.refiner, "forward", _marked(clock, "fine_stage", model.refiner.forward,
                                                          lambda a: [0, 1, 3])))
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    seed = learner.cfg["seed"]
    began = time.process_time()
    try:
        for step in range(steps):
            model.train()
            optimizer.zero_grad(set_to_none=True)
            indices = range(first_index + step * batch_size, first_index + (step + 1) * batch_size)
            with clock.section("data"):
                examples = [learner.example(g, np.random.default_rng([seed, g])) for g in indices]
            for group in ([e] for e in examples) if learner.per_example else [examples]:
                loss = learner.loss(model, group) * (len(group) / len(examples))
                with clock.section("backward"):
                    loss.backward()
                clock.backward_sections(time.process_time())
            with clock.section("optimiser"):
                if grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
    finally:
        for owner, name, original in saved:
            if owner is backbone or owner is model.aggregator or owner is model.refiner:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
    total = time.process_time() - began
    return _table(clock.seconds, total, steps)


def _table(seconds: dict[str, float], total: float, steps: int) -> dict[str, float]:
    """Seconds per step: data split into decode+augment, pose maps and the rest; each model
    section forward and backward; the optimiser; what nothing covers."""
    s = dict(seconds)
    out = {"decode_augment": s.get("decode_augment", 0.0), "pose_maps": s.get("pose_maps", 0.0)}
    out["data_other"] = s.get("data", 0.0) - out["decode_augment"] - out["pose_maps"]
    for name in ("backbone", "correlation", "aggregator", "fine_stage"):
        for side in ("fwd", "bwd"):
            if f"{name}_{side}" in s:
                out[f"{name}_{side}"] = s[f"{name}_{side}"]
    out["optimiser"] = s.get("optimiser", 0.0)
    out["rest"] = total - sum(out.values())
    out["total"] = total
    return {key: round(value / steps, 4) for key, value in out.items()}
