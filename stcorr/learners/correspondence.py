"""The space-time matcher (st-MATCH / ANTs / st-CATs, ``stcorr.models.matcher``) learning from
benchmark pairs: ``stcorr train`` with ``task: correspondence``.

Example g is pair ``epoch_order(epoch)[g mod n]`` of epoch ``g div n`` as two clips and their
keypoints (``stcorr.learners.correspondence_data.make_example``); its loss is ``stcorr.models.loss.matcher_loss``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from stcorr.errors import StcorrError
from stcorr.learners.base import Learner
from stcorr.models.loss import matcher_loss
from stcorr.models.matcher import Matcher, build_matcher
from stcorr.data.video import reserve_frame_cache
from stcorr.learners.correspondence_data import ClipSettings, epoch_order, make_example


class CorrespondenceLearner(Learner):
    name, description = "correspondence", "a space-time correspondence"
    prefetch = True  # examples read files and numpy only: safe to draw beside the model's work

    def __init__(self, cfg: dict, dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        data = cfg["data"]
        self.pairs = dataset.pairs(split="train", setup=data["setup"], min_visible=data["min_visible"])
        if len(self.pairs) == 0:
            raise StcorrError("no train pairs to learn from", dataset.root)
        self.settings = ClipSettings.from_config(data, cfg["model"]["input"], cfg["baseline"]["pose"])
        names = {name for pair in self.pairs for name in (pair.source, pair.target)}
        reserve_frame_cache(dataset.video(name) for name in sorted(names))

    def build_model(self) -> Matcher:
        return build_matcher(self.cfg["model"])

    def backbone_parameters(self, model: nn.Module) -> list[nn.Parameter]:
        return list(model.backbone.parameters())

    def num_examples(self) -> int:
        return len(self.pairs)

    def example(self, index: int, rng: np.random.Generator) -> dict:
        epoch, offset = divmod(index, len(self.pairs))
        pair = self.pairs[int(epoch_order(len(self.pairs), self.cfg["seed"], epoch)[offset])]
        return make_example(self.dataset, pair, self.settings, rng)

    def loss(self, model: nn.Module, examples: list[dict]) -> torch.Tensor:
        batch = {k: torch.stack([e[k] for e in examples]).to(self.device) for k in examples[0]}
        tc = self.cfg["train"]
        return matcher_loss(model, batch, tc["l2_weight"], tc["ce_weight"], tc["refine_weight"], tc["part_weight"],
                            tc["part_temperature"])

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained {steps} steps in {seconds:.0f} s"
