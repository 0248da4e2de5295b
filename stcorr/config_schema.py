"""The schema of a resolved config: every key's type and range (pydantic), no defaults.

The values live in one place, the commented default ``stcorr/configs/cpu.yaml``; this file only
says what each key may hold. ``validate_config`` turns the first problem into a one-line
StcorrError naming the key. A new learner adds its section here (a class and a field) and in
cpu.yaml.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stcorr.errors import StcorrError
from stcorr.learners import LEARNERS
from stcorr.models.aggregators import aggregator_options
from stcorr.models.refine import refine_options



class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Augment(_Section):
    grayscale: float = Field(ge=0, le=1)
    posterize: float = Field(ge=0, le=1)
    equalize: float = Field(ge=0, le=1)
    brightness_contrast: float = Field(ge=0, le=1)
    solarize: float = Field(ge=0, le=1)
    crop: float = Field(ge=0, le=1)


class Data(_Section):
    setup: Literal["13+3", "3+3", "r10"]
    min_visible: int = Field(ge=1)
    clip_len: int = Field(ge=1)
    size: int = Field(ge=8)
    min_stride: int = Field(ge=1)
    source_window: Literal["whole", "keypoints"]
    target_whole_video: float = Field(ge=0, le=1)
    augment: Augment
    max_points: int = Field(ge=1)
    max_target_stride: Optional[int] = Field(ge=1)
    dense_points: int = Field(ge=0)
    dense_weight: float = Field(ge=0)


class Readout(_Section):
    kind: Literal["soft_argmax", "hard_argmax"]
    temperature: float = Field(gt=0)
    kernel_sigma: Optional[float] = Field(gt=0)


class Model(_Section):
    backbone: Literal["r3d18", "r2plus1d18", "r2plus1d34"]
    width: int = Field(ge=1)
    blocks: Optional[list[int]]
    weights: Optional[str]
    input: Literal["rgb", "rgb+pose", "pose", "rgb+joints", "joints"]
    layers: Optional[list[int]]
    grid: list[int] = Field(min_length=3, max_length=3)
    aggregator: str
    aggregator_args: dict[str, Any]
    readout: Readout
    refine: Optional[Literal["local"]]
    refine_args: dict[str, Any]
    finetune_backbone: bool
    channels_last: bool

    @model_validator(mode="after")
    def _known_aggregator_and_refine_args(self) -> "Model":
        aggregator_options(self.aggregator, self.aggregator_args)
        refine_options(self.refine, self.refine_args)
        return self


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
    prefetch: bool
    checkpoint_every: int = Field(ge=1)
    log_every: int = Field(ge=1)
    val_every: int = Field(ge=0)
    val_pairs: int = Field(ge=1)


class ResNet2d(_Section):
    width_multiplier: float = Field(gt=0)
    blocks: list[int]
    last_layer: int = Field(ge=1, le=4)
    weights: Optional[str]


class Frames(_Section):
    size: int = Field(ge=8)
    batch: int = Field(ge=1)
    resnet2d: ResNet2d
    backbone_layer: Optional[int] = Field(ge=0)
    backbone_clip_len: int = Field(ge=1)


class PoseAugment(_Section):
    flip: bool
    crop: Optional[int] = Field(ge=32)
    crop_margin: float = Field(ge=0)


class PoseFilter(_Section):
    sides: bool
    window: int = Field(ge=0)
    degree: int = Field(ge=0, le=3)
    max_gap: int = Field(ge=0)


class Pose(_Section):
    min_visibility: float = Field(ge=0, le=1)
    model_complexity: Literal[1]
    cache: Optional[str]
    augment: PoseAugment
    filter: PoseFilter


class TCC(_Section):
    features: Literal["resnet2d", "backbone"]
    embedding_dim: int = Field(ge=1)
    hidden: int = Field(ge=1)
    context: int = Field(ge=1)
    context_stride: int = Field(ge=1)
    seq_len: int = Field(ge=2)
    videos_per_step: int = Field(ge=2)
    loss_type: Literal["regression_mse_var", "regression_mse", "regression_huber", "classification"]
    similarity: Literal["l2", "cosine"]
    temperature: float = Field(gt=0)
    variance_lambda: float = Field(ge=0)


class LRPropWeights(_Section):
    propagation: float = Field(ge=0)
    same_video: float = Field(ge=0)
    soft_dtw: float = Field(ge=0)


class LRProp(_Section):
    features: Literal["resnet2d", "backbone"]
    embedding_dim: int = Field(ge=1)
    d_model: int = Field(ge=1)
    layers: int = Field(ge=1)
    heads: int = Field(ge=1)
    ff_dim: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    seq_len: int = Field(ge=2)
    sigma: float = Field(gt=0)
    temperature: float = Field(gt=0)
    gamma: float = Field(gt=0)
    weights: LRPropWeights


class Cats2d(_Section):
    size: int = Field(ge=8)
    resnet2d: ResNet2d
    layers: list[int]
    grid: list[int] = Field(min_length=3, max_length=3)
    aggregator_args: dict[str, Any]
    readout: Readout

    @model_validator(mode="after")
    def _known_aggregator_args(self) -> "Cats2d":
        aggregator_options("st-cats", self.aggregator_args)
        return self


class Baseline(_Section):
    frames: Frames
    metric: Literal["cosine", "euclidean", "sqeuclidean"]
    tcc_checkpoint: Optional[str]
    lrprop_checkpoint: Optional[str]
    cats2d_checkpoint: Optional[str]
    cycle_checkpoint: Optional[str]
    pose: Pose
    tcc: TCC
    lrprop: LRProp
    cats2d: Cats2d


class CorrFlowPropagation(_Section):
    radius: int = Field(ge=1)
    topk: int = Field(ge=1)
    memory: int = Field(ge=0)
    temperature: float = Field(gt=0)
    sigma: float = Field(gt=0)
    max_side: int = Field(ge=16)
    readout_radius: int = Field(ge=0)
    batch_frames: int = Field(ge=1)
    memory_budget_mb: int = Field(ge=1)


class CorrFlow(_Section):
    split: Literal["train", "val", "all"]
    width: int = Field(ge=1)
    blocks: list[int] = Field(min_length=1)
    dim: int = Field(ge=1)
    clusters: int = Field(ge=2)
    kmeans_frames: int = Field(ge=1)
    drop_prob: float = Field(ge=0, le=1)
    jitter: float = Field(ge=0, lt=1)
    frames: int = Field(ge=2)
    max_gap: int = Field(ge=1)
    size: int = Field(ge=16, multiple_of=4)
    crop: float = Field(gt=0, le=1)
    radius: int = Field(ge=1)
    temperature: float = Field(gt=0)
    true_reference: list[float] = Field(min_length=2, max_length=2)
    backward_weight: float = Field(ge=0)
    propagation: CorrFlowPropagation


class Cycle(_Section):
    size: int = Field(ge=16)
    resnet2d: ResNet2d
    roi_size: int = Field(ge=1)
    sampling_ratio: int = Field(ge=1)
    hidden: int = Field(ge=1)
    dim: int = Field(ge=1)
    chunks: int = Field(ge=2)
    patch_scale: float = Field(gt=0)
    min_track_length: int = Field(ge=1)
    temperature: float = Field(gt=0)
    margin: float = Field(ge=0)
    iou_threshold: float = Field(gt=0, le=1)
    temporal_search: bool
    grid: int = Field(ge=1)


class CPNet(_Section):
    network: Literal["c2d", "cpnet", "r3d"]
    clip_len: int = Field(ge=2)
    size: int = Field(ge=16)
    width_multiplier: float = Field(gt=0)
    blocks: list[int] = Field(min_length=4, max_length=4)
    placements: list[str]
    k: int = Field(ge=1)
    bottleneck: Optional[float] = Field(gt=0, le=1)
    spatial_stride: int = Field(ge=1)
    min_span: float = Field(gt=0, le=1)
    window: Literal["video", "moments"]
    crop: float = Field(gt=0, le=1)
    val_batch: int = Field(ge=1)
    input: Literal["rgb", "rgb+pose", "pose", "rgb+joints", "joints"]


class Config(_Section):
    seed: int = Field(ge=0)
    task: str
    data: Data
    model: Model
    train: Train
    baseline: Baseline
    cycle: Cycle
    corrflow: CorrFlow
    cpnet: CPNet

    @model_validator(mode="after")
    def _known_task(self) -> "Config":
        if self.task not in LEARNERS:
            raise StcorrError(f"config key 'task': unknown task {self.task!r} (stcorr trains {', '.join(LEARNERS)})")
        return self

    @model_validator(mode="after")
    def _part_contrast_has_fine_features(self) -> "Config":
        if self.task == "correspondence" and self.train.part_weight and self.model.refine is None:
            raise StcorrError("config key 'train.part_weight' contrasts the fine stage's features: it needs model.refine")
        return self


def validate_config(cfg: dict, source: str = "config") -> dict:
    """``cfg`` checked against the schema, with values coerced to their types (e.g. 1 -> 1.0 for a
    float key); StcorrError names the first key that is wrong."""
    try:
        checked = Config.model_validate(cfg).model_dump()
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        given = error.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        where = f"{source}: config key {key!r}"
        if error["type"] == "extra_forbidden":
            raise StcorrError(f"{source}: unknown config key {key!r}") from None
        if error["type"] == "missing":
            raise StcorrError(f"{where} is missing") from None
        raise StcorrError(f"{where}: {error['msg'][0].lower()}{error['msg'][1:]}{shown}") from None
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
