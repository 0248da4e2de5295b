"""What a learner is: the part of training that differs between what stcorr trains.

The one engine (``stcorr.training.engine``) runs every learner with the same optimiser set-up,
schedule, clipping, mixed precision, data parallelism, checkpoints, logs and progress bar. A
learner only says how to build its model, how to draw example number ``g`` and what the loss of
some examples is, and owns its config section (``section``: its schema, which
``stcorr.config_schema`` puts into the config's), its checks across sections (``check_config``),
its validation (``validate``) and the overrides of its smallest run (``tiny``: what the registry's
tests in tests/test_learners.py train). Adding one is a file in this folder plus a line in
``LEARNERS`` (``stcorr/learners/__init__.py``), and the section's commented values in
``stcorr/configs/cpu.yaml`` (docs/architecture.md#how-to-add-a-learner).

Exactness: example ``g`` must depend only on (the run's config, the data set, ``g``, and the
generator ``rng`` seeded by (seed, g) that the engine passes). Then a resumed run, and a run split
over several processes, train exactly as one uninterrupted process does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from stcorr.data.datasets import Dataset
from stcorr.settings import Section


class Learner:
    """Base class: one instance per run, made by ``LearnerClass(cfg, dataset, device)``.

    ``per_example``: True sends each example through ``loss`` on its own (a micro-batch of one,
    so BatchNorm sees one example whatever the batch size and process count: exact under
    torchrun); False sends a process's examples of a step together.
    """

    name: str = ""
    description: str = ""  # what its checkpoint holds, for messages: "a TCC", "an LRProp"
    per_example: bool = True
    #: True: the engine draws the next step's examples in a background thread while the model
    #: trains on this step's (``example`` must then touch no model and no torch random state).
    prefetch: bool = False
    #: the schema of the config section this learner owns; its ``cpu_yaml_key`` says where the
    #: section sits ("cycle", "baseline.tcc"). None: it reads only shared sections (data, model, train).
    section: ClassVar[type[Section] | None] = None
    #: overrides of the config for a run of seconds on a tiny data set (tests/test_learners.py)
    tiny: ClassVar[dict[str, Any]] = {}

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        """Checks across sections of a config whose ``task`` is this learner (``cfg``: the typed
        config being validated, ``cfg.train.lr``); raises StcorrError naming the key."""

    def __init__(self, cfg: dict, dataset: Dataset, device: torch.device):
        self.cfg, self.dataset, self.device = cfg, dataset, device

    # --- the model
    def build_model(self) -> nn.Module:
        """The untrained model; it has a ``config`` property (JSON) that ``stcorr.models.registry`` rebuilds it from."""
        raise NotImplementedError

    def backbone_parameters(self, model: nn.Module) -> list[nn.Parameter]:
        """Parameters trained at ``train.backbone_lr`` (the rest at ``train.lr``)."""
        return []

    # --- the data
    def num_examples(self) -> int:
        """Examples in one epoch (the epoch counter of the logs and the schedule)."""
        raise NotImplementedError

    def example(self, index: int, rng: np.random.Generator) -> Any:
        """Example number ``index`` of the run (any int >= 0), drawn with ``rng`` only."""
        raise NotImplementedError

    def loss(self, model: nn.Module, examples: list[Any]) -> torch.Tensor:
        """The mean loss over ``examples`` (a scalar on ``self.device``)."""
        raise NotImplementedError

    def examples_in_run(self) -> int:
        """Examples the whole run trains on: ``train.max_steps`` x the global batch (``train.batch_size``
        x the processes), at least 1; example numbers run from 0 to this."""
        processes = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        return max(self.cfg["train"]["max_steps"] * self.cfg["train"]["batch_size"] * processes, 1)

    # --- optional
    def validate(self, model: nn.Module, step: int) -> dict[str, float] | None:
        """Validation figures at ``step`` (rank 0, every ``train.val_every`` steps); None: none."""
        return None

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained {self.name} {steps} steps in {seconds:.0f} s"
