"""The synthetic benchmark (``stcorr synth``): articulated performers doing the paper's seven
actions, drawn and labelled in the Penn Action layout (docs/formats.md#penn-action-layout), with exact key moments and
object keypoints.

Public API:

- ``generate(out, seed=0, videos_per_action=20, size=(128, 128), actions=None, workers=2,
  progress=False, realism=0.0, backgrounds=None) -> dict`` writes a data set (``realism`` from 0,
  the plain look, to 1 adds photographs, textures, blur, lighting, zoom, occluders, compression:
  realism.py);
- ``contact_sheet(root, out_png, videos_per_action=2, split="train") -> Path`` draws its key moments;
- ``ACTIONS``: action -> {"moments": [names in order], "objects": [object keypoint names]}.
"""

from stcorr.data.synthetic.actions import ACTIONS
from stcorr.data.synthetic.contact_sheet import contact_sheet
from stcorr.data.synthetic.build import generate

__all__ = ["ACTIONS", "contact_sheet", "generate"]
