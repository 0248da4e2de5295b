"""The toy experiment of CPNet (Liu, Lee & Jin, CVPR 2019): a motion that no two-layer CNN can see.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cp_toy.py [--seed 0] [--steps 300] [--batch 16]

A white 2x2 block moves on a 32x32 black canvas by a random step of 7 to 9 pixels per frame,
up, down, left or right (the label). Each network may use two 3x3 conv layers:

- ``c2d``: two per-frame 2D convs (1x3x3): no view across frames;
- ``c3d``: two 3x3x3 convs: a 5x5 window over 5 frames, smaller than one step;
- ``cp``: the C2D with one CP module (``stcorr.models.cp``) between its convs;
- ``cp-oriented``: the same, its pairs also seen forward in time (``CPModule(oriented=True)``).

Each conv is followed by BatchNorm and ReLU, then a global max over (T, H, W) and a linear
classifier. The canvas is 0 and the block 1, so zero padding looks like the canvas and a
per-frame feature does not know where it is. All networks train with the same data, seed and
steps; prints one JSON line with each one's test accuracy (chance is 0.25) and seconds.

The plain CP network does not learn equally fast from every seed and batch order: its pairs hold
the motion only as a product of dt's sign with the offset (an XOR its MLP must find). Seeds 0, 1, 2
(one thread; docs/results/cpnet.md): cp 0.95, 0.67, 0.88; cp-oriented 0.98, 1.00, 0.96; c2d and
c3d 0.24-0.31. ``tests/test_cp.py`` asserts seed 0 for c2d, c3d and cp.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from stcorr.models.cp import CPModule

DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right as (dy, dx)
LABELS = ("up", "down", "left", "right")


def moving_blocks(count: int, generator: torch.Generator, frames: int = 4, size: int = 32,
                  block: int = 2, steps: tuple[int, int] = (7, 9)) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips (count, 1, frames, size, size) in {0, 1} and labels (count,) indexing ``LABELS``."""
    clips = torch.zeros(count, 1, frames, size, size)
    labels = torch.randint(len(DIRECTIONS), (count,), generator=generator)
    for index, label in enumerate(labels.tolist()):
        moves = torch.randint(steps[0], steps[1] + 1, (frames - 1,), generator=generator)
        travel = int(moves.sum())
        along = torch.cat([torch.zeros(1, dtype=torch.long), moves.cumsum(0)])
        start = int(torch.randint(size - block - travel + 1, (1,), generator=generator))
        across = int(torch.randint(size - block + 1, (1,), generator=generator))
        dy, dx = DIRECTIONS[label]
        forward = dy + dx > 0
        for t in range(frames):
            a = start + int(along[t]) if forward else start + travel - int(along[t])
            y, x = (a, across) if dy else (across, a)
            clips[index, 0, t, y:y + block, x:x + block] = 1.0
    return clips, labels


def conv_block(cin: int, cout: int, kernel: tuple[int, int, int]) -> nn.Sequential:
    padding = tuple(k // 2 for k in kernel)
    return nn.Sequential(nn.Conv3d(cin, cout, kernel, padding=padding, bias=False), nn.BatchNorm3d(cout),
                         nn.ReLU(inplace=True))


class ToyNet(nn.Module):
    """Two conv layers (``kernel``), an optional CP module between them, global max, linear."""

    def __init__(self, kernel: tuple[int, int, int], width: int = 8, cp: CPModule | None = None):
        super().__init__()
        self.conv1 = conv_block(1, width, kernel)
        self.cp = cp or nn.Identity()
        self.conv2 = conv_block(width, width, kernel)
        self.head = nn.Linear(width, len(LABELS))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, 1, T, H, W) -> logits (B, 4)."""
        x = self.conv2(self.cp(self.conv1(clips)))
        return self.head(x.amax(dim=(2, 3, 4)))


def toy_networks(width: int = 8, k: int = 3, mlp: tuple[int, ...] = (32, 32)) -> dict[str, ToyNet]:
    """The three contestants, built in a fixed order (so one seed gives the same weights)."""
    return {
        "c2d": ToyNet((1, 3, 3), width),
        "c3d": ToyNet((3, 3, 3), width),
        "cp": ToyNet((1, 3, 3), width, CPModule(width, k=k, spatial_stride=4, mlp=mlp)),
        "cp-oriented": ToyNet((1, 3, 3), width, CPModule(width, k=k, spatial_stride=4, mlp=mlp, oriented=True)),
    }


def train_and_test(net: ToyNet, train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                   steps: int, batch: int, seed: int, lr: float = 0.01) -> float:
    """Adam on cross-entropy for ``steps`` batches drawn with ``seed``; test accuracy."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    clips, labels = train
    net.train()
    for _ in range(steps):
        pick = torch.randint(len(labels), (batch,), generator=generator)
        loss = nn.functional.cross_entropy(net(clips[pick]), labels[pick])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    net.eval()
    with torch.no_grad():
        predicted = torch.cat([net(part).argmax(-1) for part in test[0].split(256)])
    return float((predicted == test[1]).float().mean())


def run(seed: int = 0, steps: int = 300, batch: int = 16, train_size: int = 1024, test_size: int = 512,
        networks: tuple[str, ...] | None = None) -> dict:
    """Accuracy and seconds of each network (``networks``; None: all) on one fixed data set."""
    generator = torch.Generator().manual_seed(seed)
    train = moving_blocks(train_size, generator)
    test = moving_blocks(test_size, generator)
    torch.manual_seed(seed)
    results = {}
    for name, net in toy_networks().items():
        if networks is not None and name not in networks:
            continue
        started = time.perf_counter()
        accuracy = train_and_test(net, train, test, steps, batch, seed)
        results[name] = {"accuracy": round(accuracy, 4), "seconds": round(time.perf_counter() - started, 1)}
    return {"seed": seed, "steps": steps, "batch": batch, "train": train_size, "test": test_size,
            "chance": 1 / len(LABELS), "networks": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--networks", default=None, help="comma-separated subset of c2d,c3d,cp,cp-oriented")
    args = parser.parse_args()
    networks = tuple(args.networks.split(",")) if args.networks else None
    print(json.dumps(run(args.seed, args.steps, args.batch, networks=networks)))


if __name__ == "__main__":
    main()
