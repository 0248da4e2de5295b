"""Every model stcorr saves, by the kind its checkpoint records (checkpoint.json ``"task"``).

A kind rebuilds its untrained architecture from the checkpoint's ``"model"`` entry (the model's
own ``config``); ``stcorr.models.checkpoint`` then loads the weights. Nothing here trains:
``stcorr.learners`` registers the learner that trains each kind. Adding a model = its module in
this folder and a line in ``MODELS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from torch import nn

from stcorr.errors import StcorrError
from stcorr.models.cats2d import cats2d_from_config
from stcorr.models.corrflow import CorrFlow
from stcorr.models.corrflow_st import CorrFlowST
from stcorr.models.cpnet import classifier_from_config
from stcorr.models.cycle_pose import pose_cycle_from_config
from stcorr.models.embedders import embedder_from_config
from stcorr.models.lifter import lifter_from_config
from stcorr.models.matcher import build_matcher
from stcorr.models.patch_embedding import patch_embedding_from_config


@dataclass(frozen=True)
class ModelKind:
    description: str                                   # what a checkpoint of it holds, for messages
    build: Callable[[Mapping[str, Any]], nn.Module]    # the architecture of a checkpoint's "model" entry


MODELS: dict[str, ModelKind] = {
    "correspondence": ModelKind("a space-time correspondence", lambda c: build_matcher(c, load_weights=False)),
    "tcc": ModelKind("a TCC", embedder_from_config),
    "lrprop": ModelKind("an LRProp", embedder_from_config),
    "cats2d": ModelKind("a 2D CATs", cats2d_from_config),
    "cycle": ModelKind("a cycle-consistency", patch_embedding_from_config),
    "cycle-pose": ModelKind("a pose cycle-consistency", pose_cycle_from_config),
    "corrflow": ModelKind("a CorrFlow", CorrFlow.from_config),
    "corrflow-st": ModelKind("a CorrFlow space-time backbone", CorrFlowST.from_config),
    "cpnet": ModelKind("a CPNet clip classifier", classifier_from_config),
    "lifter": ModelKind("a 3D lifter of MediaPipe's world joints", lifter_from_config),
}


def model_kind(kind: str) -> ModelKind:
    if kind not in MODELS:
        raise StcorrError(f"unknown model kind {kind!r}: stcorr knows {', '.join(MODELS)}")
    return MODELS[kind]


def describe_kind(kind: str) -> str:
    """'a TCC', 'a space-time correspondence', ... for messages."""
    return MODELS[kind].description if kind in MODELS else f"a {kind}"
