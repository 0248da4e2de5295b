"""The schema of a resolved config: every key's type and range (pydantic), no defaults.

The values live in one place, the commented default ``stcorr/configs/cpu.yaml``; this file only
says what each key may hold. ``validate_config`` turns the first problem into a one-line
StcorrError naming the key. The section a lower-layer component takes is defined beside it
(``stcorr.settings.Section``: ``ModelSettings``, ``ClipAugment``, ...) and put together here with
the other shared sections; each learner's own section is its
``Learner.section``, put in at its ``cpu_yaml_key`` from the registry (``learner_sections``), and
the learner of ``task`` checks the config across sections (``Learner.check_config``).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, ValidationError, create_model, model_validator

from stcorr.data.augment import ClipAugment
from stcorr.errors import StcorrError
from stcorr.learners import LEARNERS, learner_class, learner_sections
from stcorr.models.backbones.resnet2d import ResNet2dSettings
from stcorr.models.matcher import ModelSettings
from stcorr.settings import Section as _Section, validation_error


class Data(_Section):
    setup: Literal["13+3", "3+3", "r10"]
    min_visible: int = Field(ge=1)
    clip_len: int = Field(ge=1)
    size: int = Field(ge=8)
    min_stride: int = Field(ge=1)
    source_window: Literal["whole", "keypoints"]
    target_whole_video: float = Field(ge=0, le=1)
    augment: ClipAugment
    max_points: int = Field(ge=1)
    max_target_stride: Optional[int] = Field(ge=1)
    dense_points: int = Field(ge=0)
    dense_weight: float = Field(ge=0)


class Train(_Section):
    batch_size: int = Field(ge=1)
    max_steps: int = Field(ge=0)
    epochs: float = Field(gt=0)
    lr: float = Field(ge=0)
    backbone_lr: float = Field(ge=0)
    weight_decay: float = Field(ge=0)
    lr_halving_epochs: list[float]
    grad_clip: Optional[float] = Field(gt=0)
    l2_weight: float = Field(ge=0)
    ce_weight: float = Field(ge=0)
    refine_weight: float = Field(ge=0)
    part_weight: float = Field(ge=0)
    part_temperature: float = Field(gt=0)
    amp: bool
    prefetch: bool | Literal["auto"]
    checkpoint_every: int = Field(ge=1)
    log_every: int = Field(ge=1)
    val_every: int = Field(ge=0)
    val_pairs: int = Field(ge=1)


class Frames(_Section):
    size: int = Field(ge=8)
    batch: int = Field(ge=1)
    resnet2d: ResNet2dSettings
    backbone_layer: Optional[int] = Field(ge=0)
    backbone_clip_len: int = Field(ge=1)


class PoseAugment(_Section):
    flip: bool
    crop: Optional[int] = Field(ge=32)
    crop_margin: float = Field(ge=0)
    flip_below: Optional[float] = Field(ge=0, le=1)
    crop_below: Optional[float] = Field(ge=0, le=1)
    crop_zoom: Optional[float] = Field(ge=1)
    hold_box: int = Field(ge=0)
    search_every: int = Field(ge=0)


class PoseFilter(_Section):
    sides: bool
    window: int = Field(ge=0)
    degree: int = Field(ge=0, le=3)
    max_gap: int = Field(ge=0)


class Pose(_Section):
    min_visibility: float = Field(ge=0, le=1)
    model_complexity: Literal[1]
    cache: Optional[str]
    tracking: bool
    augment: PoseAugment
    filter: PoseFilter


class _Baseline(_Section):
    """The ``baseline`` section without the learners' sections in it (``baseline.tcc``, ...)."""

    frames: Frames
    metric: Literal["cosine", "euclidean", "sqeuclidean"]
    tcc_checkpoint: Optional[str]
    lrprop_checkpoint: Optional[str]
    cats2d_checkpoint: Optional[str]
    cycle_checkpoint: Optional[str]
    cycle_pose_checkpoint: Optional[str]
    refine_checkpoint: Optional[str]
    carry_checkpoint: Optional[str]
    world_lifter: Optional[str]
    pose: Pose


def with_learner_sections(section: type[_Section], key: str) -> type[_Section]:
    """``section`` (at dotted ``key``, "" for the root) with the learners' sections that sit directly in it."""
    fields: dict[str, Any] = {name: (schema, ...) for parent, name, schema in _placed_sections() if parent == key}
    return create_model(section.__name__.lstrip("_"), __base__=section, **fields)


def _placed_sections() -> list[tuple[str, str, type[_Section]]]:
    """(parent key, name, schema) of each learner's section; only the root and ``baseline`` take them."""
    placed = []
    for key, schema in learner_sections().items():
        parent, _, name = key.rpartition(".")
        if parent not in ("", "baseline"):
            raise TypeError(f"learner config sections go at the top level or under baseline, not at {key!r}")
        placed.append((parent, name, schema))
    return placed


Baseline = with_learner_sections(_Baseline, "baseline")


class _Config(_Section):
    """The root without the learners' top-level sections (``cycle``, ``corrflow``, ...)."""

    seed: int = Field(ge=0)
    task: str
    data: Data
    model: ModelSettings
    train: Train
    baseline: Baseline  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _task_learner_checks(self) -> "_Config":
        if self.task not in LEARNERS:
            raise StcorrError(f"config key 'task': unknown task {self.task!r} (stcorr trains {', '.join(LEARNERS)})")
        learner_class(self.task).check_config(self)
        return self


Config = with_learner_sections(_Config, "")


def validate_config(cfg: dict, source: str = "config") -> dict:
    """``cfg`` checked against the schema, with values coerced to their types (e.g. 1 -> 1.0 for a
    float key); StcorrError names the first key that is wrong."""
    try:
        checked = Config.model_validate(cfg).model_dump()
    except ValidationError as exc:
        raise validation_error(exc, source) from None
    check_sizes(checked, source)
    return checked


NUMBER_LIMIT = 10**6  # no real run sets a number above this; larger ones ask for memory or time past any machine
NUMBER_LIMITS = {"seed": 2**32 - 1, "train.max_steps": 10**9, "train.checkpoint_every": 10**9,
                 "train.log_every": 10**9, "train.val_every": 10**9, "model.width": 4096, "model.grid": 256,
                 "corrflow.propagation.radius": 1024}


def check_sizes(value: Any, source: str = "config", key: str = "") -> None:
    """Every number of the config at most its limit (``NUMBER_LIMITS``, else ``NUMBER_LIMIT``), as a one-line error."""
    if isinstance(value, dict):
        for name, child in value.items():
            check_sizes(child, source, f"{key}.{name}" if key else str(name))
    elif isinstance(value, (list, tuple)):
        for child in value:
            check_sizes(child, source, key)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        limit = NUMBER_LIMITS.get(key, NUMBER_LIMIT)
        if not abs(value) <= limit:
            raise StcorrError(f"{source}: config key {key!r} is {value:g}, past the limit of {limit:g} (no real run needs more)")
