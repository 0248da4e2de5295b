"""A learned 3D lifter for compare's angles across views: trained on synthetic renders, measured on the views benchmark and on real mirrored clips. Prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_views_lifter.py --work /tmp/lifter [--train-seeds 101:141]
        [--steps 6000] [--seed 0] [--real ../shared/real-dev]

MediaPipe's world landmarks misjudge depth from one view, so the same pose filmed from two sides
gives 3D angles 11.8 degrees apart (median; 25.4 where 2D angles differ by more than 30:
benchmarks/compare_views.py --tracking, docs/compare.md "Views"). Here a small network corrects them:

- data: synthetic clips (``stcorr.data.synthetic``, plain look, 256 x 256, every action, camera
  side drawn at random) of ``--train-seeds`` (disjoint from the benchmark's seeds 0 and 1), MediaPipe
  in video mode on every frame (as ``compare`` runs it), and the clip's true 3D joints in the
  camera's axes (x right, y down, z away: MediaPipe's world frame). Detections are stored in
  ``--work`` (one file per clip) and reused.
- input: the 13 world joints of 9 frames (the frame and 4 each side), hip-centred and divided by the
  clip's median torso length, and whether a body was found; output: each joint's direction from its
  parent (hips, shoulders and head from the hip midpoint; knees, ankles, elbows, wrists down the
  limbs), a correction added to MediaPipe's own direction. The body is rebuilt along these
  directions with the clip's median bone lengths from MediaPipe, so bones keep their length.
- training: ``--steps`` of 256 frames (AdamW, cosine schedule), mirrored clips added (x negated,
  sides swapped); loss: squared joint error plus 0.1 x the angles' absolute error (radians).
- measured: (1) the views benchmark's pairs (benchmarks/compare_views.py's: squat, golf swing,
  tennis serve, baseball pitch, seeds 0 and 1, front against left, video mode), the median angle
  difference between the two views from 2D joints, MediaPipe's world joints and the lifted joints,
  overall and where 2D differs by more than 30 degrees, and the view difference each reads (true
  90); (2) every frame's angles against the truth on the last sixth of the training seeds (held
  out of training); (3) with ``--real``: each real clip against its mirror image (MediaPipe on the
  flipped frames, sides swapped back): the median angle difference, MediaPipe's world joints against
  lifted (no 3D truth there; a consistency check).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from compare_views import detect_all  # the views benchmark's MediaPipe pass (benchmarks/, beside this script)
from stcorr.compare.view import view_difference
from stcorr.data.synthetic.actions import SPECS
from stcorr.data.synthetic.clip import make_clip, render_frames
from stcorr.data.video import Video
from stcorr.pose.angles import ANGLE_JOINTS, J, angle_series
from stcorr.pose.cache import MediaPipeLandmarker
from stcorr.pose.skeleton import JOINTS, MIRRORED_JOINTS

SIDE = 4  # frames each side of the lifted frame
PER_FRAME = 40  # 13 x 3 world joints and the found flag
BENCH_ACTIONS, BENCH_SEEDS, BENCH_VIEWS = ("squat", "golf_swing", "tennis_serve", "baseball_pitch"), (0, 1), ("front", "left")
LH, RH, LS, RS = J["left_hip"], J["right_hip"], J["left_shoulder"], J["right_shoulder"]
PARENT = {"left_knee": "left_hip", "right_knee": "right_hip", "left_ankle": "left_knee", "right_ankle": "right_knee",
          "left_elbow": "left_shoulder", "right_elbow": "right_shoulder", "left_wrist": "left_elbow",
          "right_wrist": "right_elbow"}  # the others hang from the hip midpoint
PARENTS = [J[PARENT[name]] if name in PARENT else None for name in JOINTS]


def _depth(j: int) -> int:
    return 0 if PARENTS[j] is None else 1 + _depth(PARENTS[j])


ROOTS_FIRST = sorted(range(len(JOINTS)), key=_depth)
SYMMETRIC = [False]  # --symmetric
ANGLE_TRIPLES = [tuple(J[n] for n in names) for names in ANGLE_JOINTS.values()]


def synthetic_clip(work: Path, action: str, seed: int, view: str | None) -> dict:
    """MediaPipe's detections and the truth of one synthetic clip, stored in ``work``."""
    path = work / f"{action}-{seed}-{view or 'any'}.npz"
    if not path.exists():
        clip = make_clip(action, seed, (256, 256), view=view)
        axes = np.stack([clip.camera.right, -clip.camera.up, clip.camera.forward], 1)  # world -> camera axes
        world, visibility, image = detect_all([f for f, _, _ in render_frames(clip)], MediaPipeLandmarker(tracking=True))
        np.savez(path, world=world, visibility=visibility, image=image, truth=clip.performance.skeleton.joints @ axes)
    return dict(np.load(path), action=action, seed=seed)


def normalised(joints: np.ndarray) -> np.ndarray:
    """(T, 13, 3) joints minus the hip midpoint, divided by the clip's median torso length."""
    hips = (joints[:, LH] + joints[:, RH]) / 2
    torso = np.linalg.norm((joints[:, LS] + joints[:, RS]) / 2 - hips, axis=-1)
    scale = np.nanmedian(torso) if np.isfinite(torso).any() else 1.0
    return (joints - hips[:, None]) / (scale if scale > 0 else 1.0)


def windows(world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, (2 SIDE + 1) PER_FRAME) inputs and (T,) whether a body was found."""
    found = np.isfinite(world).all(axis=(1, 2))
    per_frame = np.concatenate([np.nan_to_num(normalised(world)).reshape(len(world), -1), found[:, None]], 1)
    per_frame[~found] = 0
    index = np.clip(np.arange(len(world))[:, None] + np.arange(-SIDE, SIDE + 1), 0, len(world) - 1)
    return per_frame[index].reshape(len(world), -1).astype(np.float32), found


def bone_vectors(joints):
    """(..., 13, 3) each joint minus its parent (numpy or torch)."""
    hips = (joints[..., LH, :] + joints[..., RH, :]) / 2
    parents = [hips if p is None else joints[..., p, :] for p in PARENTS]
    stack = torch.stack if isinstance(joints, torch.Tensor) else np.stack
    return joints - stack(parents, -2)


def rebuilt(directions, lengths):
    """(..., 13, 3) joints from unit ``directions`` (..., 13, 3) and bone ``lengths`` (..., 13), hips at 0."""
    joints: list = [None] * len(JOINTS)
    for j in ROOTS_FIRST:
        joints[j] = (0 if PARENTS[j] is None else joints[PARENTS[j]]) + directions[..., j, :] * lengths[..., j, None]
    return torch.stack(joints, -2) if isinstance(directions, torch.Tensor) else np.stack(joints, -2)


class Lifter(nn.Module):
    """Per-frame bone directions from a window of MediaPipe's world joints (module docstring)."""

    def __init__(self, width: int = 512):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(PER_FRAME * (2 * SIDE + 1), width), nn.ReLU(), nn.Dropout(0.1),
                                 nn.Linear(width, width), nn.ReLU(), nn.Dropout(0.1), nn.Linear(width, 39))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centre = x[:, SIDE * PER_FRAME:SIDE * PER_FRAME + 39].view(-1, 13, 3)
        v = bone_vectors(centre) + self.net(x).view(-1, 13, 3)
        return v / (v.norm(dim=-1, keepdim=True) + 1e-6)


def lifted(model: Lifter, world: np.ndarray) -> np.ndarray:
    """(T, 13, 3) lifted joints (normalised scale), NaN where nobody was found. With ``--symmetric``:
    the directions averaged with those of the mirrored input mirrored back (mirror-equivariant)."""
    x, found = windows(world)
    model.eval()
    with torch.no_grad():
        directions = model(torch.from_numpy(x)).numpy().astype(np.float64)
        if SYMMETRIC[0]:
            back = mirrored(model(torch.from_numpy(windows(mirrored(world))[0])).numpy().astype(np.float64))
            directions = directions + back
            directions /= np.linalg.norm(directions, axis=-1, keepdims=True) + 1e-9
    lengths = np.nan_to_num(np.nanmedian(np.linalg.norm(bone_vectors(normalised(world)), axis=-1), axis=0), nan=1.0)
    out = rebuilt(directions, np.broadcast_to(lengths, directions.shape[:2]))
    out[~found] = np.nan
    return out


def torch_angles(joints: torch.Tensor) -> torch.Tensor:
    u = torch.stack([joints[:, a] - joints[:, b] for a, b, _ in ANGLE_TRIPLES], 1)
    v = torch.stack([joints[:, c] - joints[:, b] for _, b, c in ANGLE_TRIPLES], 1)
    cos = (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1) + 1e-6)
    return torch.acos(cos.clamp(-0.999, 0.999))


def mirrored(world: np.ndarray) -> np.ndarray:
    return world[:, MIRRORED_JOINTS] * [-1.0, 1.0, 1.0]


def training_set(clips: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    inputs, targets = [], []
    for clip in clips:
        for world, truth in ((clip["world"], clip["truth"]), (mirrored(clip["world"]), mirrored(clip["truth"]))):
            x, found = windows(world)
            inputs.append(x[found]), targets.append(normalised(truth)[found].astype(np.float32))
    return torch.from_numpy(np.concatenate(inputs)), torch.from_numpy(np.concatenate(targets))


def train(clips: list[dict], steps: int, seed: int) -> Lifter:
    torch.manual_seed(seed)
    inputs, targets = training_set(clips)
    model = Lifter()
    optimiser = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        model.train()
        batch = torch.randint(0, len(inputs), (256,), generator=generator)
        x = inputs[batch] + 0.01 * torch.randn(inputs[batch].shape, generator=generator)
        truth = targets[batch]
        joints = rebuilt(model(x), bone_vectors(truth).norm(dim=-1))
        loss = ((joints - truth) ** 2).mean() + 0.1 * (torch_angles(joints) - torch_angles(truth)).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    return model


def median(values: list[np.ndarray]) -> float | None:
    flat = np.concatenate(values) if values else np.array([])
    return round(float(np.median(flat)), 1) if flat.size else None


def seen(world: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    out = world.copy()
    out[visibility < 0.5] = np.nan
    return out


def views_benchmark(model: Lifter, work: Path) -> dict:
    d2, d3, dl, far3, farl, read = [], [], [], [], [], {"mediapipe": [], "lifted": []}
    for action in BENCH_ACTIONS:
        for seed in BENCH_SEEDS:
            a, b = (synthetic_clip(work, action, seed, view) for view in BENCH_VIEWS)
            two = [seen(c["image"], c["visibility"]) for c in (a, b)]
            raw = [seen(c["world"], c["visibility"]) for c in (a, b)]
            lift = [seen(lifted(model, c["world"]), c["visibility"]) for c in (a, b)]
            diff3 = np.abs(angle_series(raw[0]) - angle_series(raw[1]))
            diffl = np.abs(angle_series(lift[0]) - angle_series(lift[1]))
            diff2 = np.abs(angle_series(two[0]) - angle_series(two[1]))
            both = np.isfinite(diff3) & np.isfinite(diffl) & np.isfinite(diff2)
            d2.append(diff2[both]), d3.append(diff3[both]), dl.append(diffl[both])
            far3.append(diff3[both & (diff2 > 30)]), farl.append(diffl[both & (diff2 > 30)])
            times = np.arange(len(diff3))
            read["mediapipe"].append(view_difference(a["world"], b["world"], times, mirrored=False))
            read["lifted"].append(view_difference(lifted(model, a["world"]), lifted(model, b["world"]), times, mirrored=False))
    return {"median_2d_deg": median(d2), "median_3d_mediapipe_deg": median(d3), "median_3d_lifted_deg": median(dl),
            "share_2d_over_30": round(float((np.concatenate(d2) > 30).mean()), 3),
            "where_2d_over_30": {"mediapipe_deg": median(far3), "lifted_deg": median(farl)},
            "views_read_deg": {k: [None if x is None else round(float(x)) for x in v] for k, v in read.items()}}


def truth_errors(model: Lifter, clips: list[dict]) -> dict:
    raw, lift = [], []
    for clip in clips:
        truth = angle_series(clip["truth"])
        raw.append(np.abs(angle_series(clip["world"]) - truth).ravel())
        lift.append(np.abs(angle_series(lifted(model, clip["world"])) - truth).ravel())
    return {"mediapipe_deg": round(float(np.nanmedian(np.concatenate(raw))), 1),
            "lifted_deg": round(float(np.nanmedian(np.concatenate(lift))), 1)}


def real_mirror(model: Lifter, real: Path, work: Path) -> dict:
    per_clip, raw_all, lift_all = {}, [], []
    for folder in sorted((real / "frames").iterdir()):
        path = work / f"real-{folder.name}.npz"
        if not path.exists():
            frames = list(Video(folder).iter_frames())
            plain = detect_all(frames, MediaPipeLandmarker(tracking=True))[:2]
            flipped = detect_all([f[:, ::-1].copy() for f in frames], MediaPipeLandmarker(tracking=True))[:2]
            np.savez(path, world=plain[0], visibility=plain[1], world_m=flipped[0], visibility_m=flipped[1])
        c = np.load(path)
        raw = [seen(c["world"], c["visibility"]), seen(c["world_m"], c["visibility_m"])[:, MIRRORED_JOINTS]]
        lift = [seen(lifted(model, c["world"]), c["visibility"]),
                seen(lifted(model, c["world_m"]), c["visibility_m"])[:, MIRRORED_JOINTS]]
        r = np.abs(angle_series(raw[0]) - angle_series(raw[1]))
        l_ = np.abs(angle_series(lift[0]) - angle_series(lift[1]))
        both = np.isfinite(r) & np.isfinite(l_)
        raw_all.append(r[both]), lift_all.append(l_[both])
        per_clip[folder.name] = {"mediapipe_deg": median([r[both]]), "lifted_deg": median([l_[both]])}
    flat_raw, flat_lift = np.concatenate(raw_all), np.concatenate(lift_all)
    return {"median": {"mediapipe_deg": median(raw_all), "lifted_deg": median(lift_all)},
            "p90": {"mediapipe_deg": round(float(np.percentile(flat_raw, 90)), 1),
                    "lifted_deg": round(float(np.percentile(flat_lift, 90)), 1)}, "clips": per_clip}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="Folder for the detections (reused between runs)")
    parser.add_argument("--train-seeds", default="101:141", help="FIRST:END seeds of the training clips")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--symmetric", action="store_true", help="Lift each clip and its mirror image, averaged")
    parser.add_argument("--real", type=Path, default=None, help="A Penn Action-layout folder of real clips (frames/)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    SYMMETRIC[0] = args.symmetric
    first, end = (int(s) for s in args.train_seeds.split(":"))
    started = time.process_time()
    clips = [synthetic_clip(args.work, action, seed, None) for seed in range(first, end) for action in SPECS]
    held_out = set(range(first, end)[-max(1, (end - first) // 6):])
    detected = time.process_time()
    model = train([c for c in clips if c["seed"] not in held_out], args.steps, args.seed)
    trained = time.process_time()
    result = {"train_seeds": args.train_seeds, "symmetric": args.symmetric, "clips": len(clips), "steps": args.steps, "seed": args.seed,
              "cpu_s": {"detections": round(detected - started, 1), "training": round(trained - detected, 1)},
              "views": views_benchmark(model, args.work),
              "truth_held_out_seeds": {"seeds": sorted(held_out), **truth_errors(model, [c for c in clips if c["seed"] in held_out])}}
    if args.real is not None:
        result["real_mirrored"] = real_mirror(model, args.real, args.work)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
