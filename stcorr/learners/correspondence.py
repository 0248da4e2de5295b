"""The space-time matcher (st-MATCH / ANTs / st-CATs, ``stcorr.models.matcher``) learning from
benchmark pairs: ``stcorr train`` with ``task: correspondence``.

Example g is pair ``epoch_order(epoch)[g mod n]`` of epoch ``g div n`` as two clips and their
keypoints (``stcorr.learners.correspondence_data.make_example``); its loss is ``stcorr.models.loss.matcher_loss``.
Settings: the shared ``data``, ``model`` and ``train`` sections (it owns none of its own).
Validation: T@k-PCK on a fixed sample of ``train.val_pairs`` val pairs, predicted as ``stcorr
predict`` does (``val_log.csv``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from stcorr.data.pairs import PairList
from stcorr.errors import StcorrError
from stcorr.learners.base import Learner
from stcorr.metrics.pck import pck_scores
from stcorr.models.loss import matcher_loss
from stcorr.models.matcher import Matcher, build_matcher
from stcorr.data.video import reserve_frame_cache
from stcorr.learners.correspondence_data import ClipSettings, epoch_order, make_example
from stcorr.predictor import CorrespondencePredictor, predictor_for

VAL_ALPHA = 0.1  # the PCK threshold of validation, as a fraction of each point's reference size


class CorrespondenceLearner(Learner):
    name, description = "correspondence", "a space-time correspondence"
    prefetch = True  # examples read files and numpy only: safe to draw beside the model's work
    tiny = {"data.clip_len": 8, "data.size": 32, "model.grid": [4, 4, 4], "model.width": 8}

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        if cfg.train.part_weight and cfg.model.refine is None:
            raise StcorrError("config key 'train.part_weight' contrasts the fine stage's features: it needs model.refine")

    def __init__(self, cfg: dict, dataset, device: torch.device):
        super().__init__(cfg, dataset, device)
        data = cfg["data"]
        self.pairs = dataset.pairs(split="train", setup=data["setup"], min_visible=data["min_visible"])
        if len(self.pairs) == 0:
            raise StcorrError("no train pairs to learn from", dataset.root)
        self.settings = ClipSettings.from_config(data, cfg["model"]["input"], cfg["baseline"]["pose"])
        names = {name for pair in self.pairs for name in (pair.source, pair.target)}
        reserve_frame_cache(dataset.video(name) for name in sorted(names))
        self._val_pairs: PairList | None = None

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

    def validate(self, model: nn.Module, step: int) -> dict[str, float] | None:
        """{"alpha", "n_pairs", "T@1", "T@3", "T@5", "n_points"} on the val sample; None without val pairs.
        A pair whose video cannot be read counts as wrong."""
        pairs = self.val_pairs()
        if len(pairs) == 0:
            return None
        predictor = predictor_for(model, self.cfg["data"], self.device, self.cfg["baseline"]["pose"])
        predicted = np.concatenate([self._predicted(predictor, pair) for pair in pairs])
        truth = np.concatenate([pair.tgt for pair in pairs])
        reference = np.concatenate([pair.ref_size for pair in pairs])
        return {"alpha": VAL_ALPHA, "n_pairs": len(pairs), **pck_scores(predicted, truth, reference, alpha=VAL_ALPHA)}

    def val_pairs(self) -> PairList:
        """The fixed sample of val pairs validation scores (drawn from the seed, read once)."""
        if self._val_pairs is None:
            data = self.cfg["data"]
            self._val_pairs = self.dataset.pairs("val", data["setup"], data["min_visible"]).sample(
                self.cfg["train"]["val_pairs"], self.cfg["seed"])
        return self._val_pairs

    def _predicted(self, predictor: CorrespondencePredictor, pair) -> np.ndarray:
        try:
            points, _ = predictor.predict(self.dataset.video(pair.source), self.dataset.video(pair.target), pair.src)
        except StcorrError:
            return np.full((len(pair), 3), np.nan)
        return np.asarray(points, dtype=np.float64).reshape(-1, 3)

    def summary(self, steps: int, seconds: float) -> str:
        return f"trained {steps} steps in {seconds:.0f} s"
