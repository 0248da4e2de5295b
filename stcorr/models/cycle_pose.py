"""The cycle-consistent frame embedding over pose (``stcorr train --config cycle-pose``): the
per-frame pose descriptors of ``stcorr.pose.descriptors`` (70 columns: positions, angles and their
velocities, mirror-invariant) through a small temporal convolution and two 1x1 layers to unit
vectors. Learnt from joints, it never sees pixels, so it reads MediaPipe's joints on real video as
it read the (perturbed) annotated joints of the synthetic set.

    model = PoseCycleEmbedding(PoseCycleSettings.defaults())
    emb = embed_descriptors(model, descriptors)      # (T, 70) -> (T, dim) unit rows
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import ConfigDict, Field
from torch import nn

from stcorr.settings import Section

DESCRIPTOR_DIM = 70  # columns of ``stcorr.pose.descriptors.pose_descriptors``


class PoseCycleSettings(Section):
    """The embedding's keys of the ``cycle_pose`` section (the learner's are left out). Saved in
    checkpoints as ``config``."""

    cpu_yaml_key: ClassVar[str] = "cycle_pose"
    model_config = ConfigDict(extra="ignore")
    context: int = Field(ge=0)
    hidden: int = Field(ge=1)
    dim: int = Field(ge=1)


def finite_descriptors(descriptors: np.ndarray) -> torch.Tensor:
    """(T, D) descriptors as a float tensor, a column never seen (NaN) as 0."""
    return torch.from_numpy(np.nan_to_num(np.asarray(descriptors, dtype=np.float32), nan=0.0))


class PoseCycleEmbedding(nn.Module):
    """Descriptors (V, T, 70) -> unit embeddings (V, T, dim): a convolution over 2 ``context`` + 1
    frames (edges padded by repeating the end frames), ReLU, 1x1, ReLU, 1x1, L2 normalisation."""

    def __init__(self, settings: PoseCycleSettings):
        super().__init__()
        self.settings = settings
        width = 2 * settings.context + 1
        self.net = nn.Sequential(nn.Conv1d(DESCRIPTOR_DIM, settings.hidden, width), nn.ReLU(inplace=True),
                                 nn.Conv1d(settings.hidden, settings.hidden, 1), nn.ReLU(inplace=True),
                                 nn.Conv1d(settings.hidden, settings.dim, 1))

    @property
    def config(self) -> dict[str, Any]:
        return {"kind": "pose_cycle_embedding", **self.settings.model_dump()}

    def forward(self, descriptors: torch.Tensor) -> torch.Tensor:
        x = descriptors.transpose(1, 2)  # (V, 70, T)
        c = self.settings.context
        if c:
            x = torch.cat([x[..., :1].expand(-1, -1, c), x, x[..., -1:].expand(-1, -1, c)], dim=-1)
        return nn.functional.normalize(self.net(x).transpose(1, 2), dim=-1)


def pose_cycle_from_config(config: dict[str, Any]) -> PoseCycleEmbedding:
    """The architecture a checkpoint's ``model`` entry describes, untrained."""
    return PoseCycleEmbedding(PoseCycleSettings.checked(config))


@torch.no_grad()
def embed_descriptors(model: PoseCycleEmbedding, descriptors: np.ndarray) -> np.ndarray:
    """(T, dim) unit embeddings of one video's descriptors (T, 70)."""
    model.eval()
    device = next(model.parameters()).device
    return model(finite_descriptors(descriptors)[None].to(device))[0].cpu().numpy().astype(np.float64)
