"""A pose pass: MediaPipe tracks of many videos computed in parallel processes into the pose cache.

    done = pose_pass(videos, pose_settings, processes=2)       # one machine
    torchrun --nproc_per_node=N ...  -> pose_pass(..., rank=None) # RANK / WORLD_SIZE shard the list

Each video's track is what ``PoseCache.track`` computes for it (``stcorr.pose.cache``;
whatever that per-video work is, this file only spreads videos over processes). Videos are
sharded first by rank (``RANK`` / ``WORLD_SIZE`` from the environment, as torchrun sets them, or
given), video ``i`` going to rank ``i mod world_size``; a rank's share is then spread over
``processes`` worker processes, longest videos first, each worker taking the next video when it is
done. Every worker writes its tracks to the one cache folder (files are written whole, so ranks
on one shared folder do not collide). A video whose track is already cached costs a hash and a read.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from stcorr.pose.cache import mediapipe_cache
from stcorr.data.video import Video
from stcorr.errors import StcorrError


@dataclass
class PassResult:
    """What one rank did: ``videos`` tracked (its share), ``computed`` of them (not read from the
    cache), ``frames`` in its share, ``seconds`` of wall time."""

    rank: int
    world_size: int
    videos: int
    computed: int
    frames: int
    seconds: float


def rank_share(paths: Sequence[str | Path], rank: int, world_size: int) -> list[Path]:
    """The videos of ``rank``: every ``world_size``-th one starting at ``rank``."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise StcorrError(f"pose pass: rank {rank} is outside a world of {world_size}")
    return [Path(p) for p in list(paths)[rank::world_size]]


def torchrun_rank() -> tuple[int, int]:
    """(rank, world size) from torchrun's RANK / WORLD_SIZE; (0, 1) when not launched by it."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def pose_pass(paths: Sequence[str | Path], pose_settings: Mapping, processes: int = 1,
              rank: int | None = None, world_size: int | None = None) -> PassResult:
    """Computes (or finds cached) the MediaPipe track of each video of this rank's share."""
    if processes < 1:
        raise StcorrError(f"pose pass: processes must be at least 1, got {processes}")
    env_rank, env_world = torchrun_rank()
    rank = env_rank if rank is None else rank
    world_size = env_world if world_size is None else world_size
    share = rank_share(paths, rank, world_size)
    lengths = {path: Video(path).num_frames for path in share}
    ordered = sorted(share, key=lambda p: -lengths[p])  # longest first: the last worker idles least
    began = time.perf_counter()
    jobs = [(str(path), dict(pose_settings)) for path in ordered]
    if processes == 1 or len(jobs) <= 1:
        computed = sum(_track_one(job) for job in jobs)
    else:
        # spawn: MediaPipe's threads and graph do not survive a fork
        with multiprocessing.get_context("spawn").Pool(min(processes, len(jobs)), initializer=_one_thread) as pool:
            computed = sum(pool.imap_unordered(_track_one, jobs))
    return PassResult(rank, world_size, len(share), computed, sum(lengths.values()), time.perf_counter() - began)


def _one_thread() -> None:
    """Worker set-up: one compute thread each, so that the workers do not fight over cores."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch  # already loaded with stcorr: only its thread count changes

    torch.set_num_threads(1)


_CACHES: dict = {}


def _track_one(job: tuple[str, dict]) -> int:
    """Tracks one video in this process (one cache per settings, reused across videos); 1 if computed."""
    path, settings = job
    key = repr(sorted(settings.items()))
    if key not in _CACHES:
        _CACHES[key] = mediapipe_cache(settings)
    cache = _CACHES[key]
    before = cache.computed
    video = Video(path)
    cache.track(video)
    video.close()
    return cache.computed - before
