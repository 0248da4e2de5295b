"""Learners: what ``stcorr train`` can train, each one file and one line in ``LEARNERS``.

``cfg["task"]`` names the learner; ``stcorr.training.engine.train`` runs it. Each learner's
config section (``Learner.section``) goes into the config's schema (``stcorr.config_schema``)
from here, and ``stcorr train --list-tasks`` lists this registry. The model each one trains is
rebuilt for inference by ``stcorr.models.registry`` (same name), with no learner.
"""

from __future__ import annotations

from stcorr.errors import StcorrError
from stcorr.learners.alignment import LRPropLearner, TCCLearner
from stcorr.learners.base import Learner
from stcorr.learners.cats2d import Cats2dLearner
from stcorr.learners.correspondence import CorrespondenceLearner
from stcorr.learners.corrflow import CorrFlowLearner, CorrFlowSTLearner
from stcorr.learners.cpnet import CPNetLearner
from stcorr.learners.cycle import CycleLearner
from stcorr.learners.cycle_pose import CyclePoseLearner
from stcorr.learners.lifter import LifterLearner
from stcorr.settings import Section

LEARNERS: dict[str, type[Learner]] = {
    "correspondence": CorrespondenceLearner,   # space-time matcher (ANTs, st-CATs)
    "tcc": TCCLearner,                         # TCC frame embeddings (sequential baselines)
    "lrprop": LRPropLearner,                   # LRProp frame embeddings (sequential baselines)
    "cats2d": Cats2dLearner,                   # 2D CATs (sequential baselines' spatial matcher)
    "cycle": CycleLearner,                     # cross-video cycle-consistent patch embedding
    "cycle-pose": CyclePoseLearner,            # cross-video cycle-consistent frame embedding over pose descriptors
    "corrflow": CorrFlowLearner,               # CorrFlow: self-supervised colour-copying correspondence flow
    "corrflow-st": CorrFlowSTLearner,          # CorrFlow's objective on the space-time backbone (pretraining)
    "cpnet": CPNetLearner,                     # CPNet / C2D / R3D clip classifier (actions forward or reversed)
    "lifter": LifterLearner,                   # 3D lifter of MediaPipe's world joints (compare's 3D angles)
}


def learner_class(task: str) -> type[Learner]:
    if task not in LEARNERS:
        raise StcorrError(f"unknown task {task!r}: use {', '.join(LEARNERS)}")
    return LEARNERS[task]


def learner_sections() -> dict[str, type[Section]]:
    """Dotted config key -> the schema of the section a learner owns there, in registry order
    (a section two learners share, such as ``corrflow``, once)."""
    sections: dict[str, type[Section]] = {}
    for learner in LEARNERS.values():
        if learner.section is not None:
            key = learner.section.cpu_yaml_key
            if sections.setdefault(key, learner.section) is not learner.section:
                raise TypeError(f"two learners own config section {key!r} with different schemas")
    return sections


__all__ = ["LEARNERS", "Learner", "learner_class", "learner_sections"]
