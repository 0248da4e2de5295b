"""``stcorr retrieve``: the videos of a data set (or a plain folder of videos) most like a query video
(docs/cli.md; RETRIEVAL.json: docs/formats.md#retrievaljson), by body-pose sequences aligned in time and,
with a checkpoint, the cycle-consistent patch embedding (``stcorr.baselines.retrieval``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from stcorr.cli.common import OverwriteOpt, command_line, console, in_range, load_dataset
from stcorr.cli.common import build_config, resolve_device
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.files import write_json
from stcorr.models.checkpoint import checkpoint_path
from stcorr.cli.outputs import check_outputs


def retrieve(
    query: Annotated[Path, typer.Option("--query", help="Query video: a video file or a folder of frames.")],
    data: Annotated[Path, typer.Option("--data", help="Videos to rank: a data set (either layout) or a folder of videos.")],
    out: Annotated[Path, typer.Option("--out", help="RETRIEVAL.json to write.")],
    checkpoint: Annotated[Optional[str], typer.Option(
        "--checkpoint", help="The cycle embedding: stcorr:NAME (shipped) or RUN/checkpoint of `stcorr train --config cycle`.")] = None,
    features: Annotated[Optional[str], typer.Option(
        "--features", help="pose (MediaPipe joints + DTW), cycle (the embedding) or pose+cycle; "
                           "default: pose+cycle with --checkpoint, else pose.")] = None,
    top: Annotated[Optional[int], typer.Option("--top", callback=in_range(1), help="Keep the N best (default: all).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help=(
        "Override a config key of the untrained embedding, e.g. --set cycle.size=128 (repeatable)."))] = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:N or auto.")] = "auto",
    overwrite: OverwriteOpt = False,
) -> None:
    """Rank videos by how alike they are to the query video (best first), with a calibrated score."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.baselines.retrieval import FEATURES, rank_videos, ranking_rows

    check_outputs("retrieve", {"--query": query, "--data": data, "--checkpoint": checkpoint and checkpoint_path(checkpoint)}, files={"--out": out},
                  overwrite=overwrite)
    features = features or ("pose+cycle" if checkpoint else "pose")
    if features not in FEATURES:
        raise StcorrError(f"--features takes {', '.join(FEATURES)}, not {features!r}")
    if checkpoint is not None and set_:
        raise StcorrError("--set has no effect with --checkpoint (the checkpoint carries its own config)")
    query_video = Video(query)
    query_video.size  # reads its first frame (a folder: every frame's size): a bad query is one error line, before the bar
    dataset = load_dataset(data)
    same = query_video.path.resolve()
    videos = {name: dataset.video(name) for name in dataset.videos()}
    candidates = {name: v for name, v in videos.items() if v.path.resolve() != same}
    if not candidates:
        raise StcorrError("no video to rank besides the query", data)
    cfg = build_config(None, set_)
    measures, checkpoint_read = _features(features.split("+"), checkpoint, cfg, device)
    ranked = rank_videos(query_video, candidates, measures, progress=True)[:top]
    actions = dataset.actions()
    query_name = next((name for name, v in videos.items() if v.path.resolve() == same), None)
    write_json(out, {"query": str(query), **({"query_action": actions[query_name]} if query_name in actions else {}),
                     "results": ranking_rows(ranked, actions), "features": features, "score": "probability (softmax over -distance / "
                     "the candidates' spread); margin: distance gap to the runner-up in spreads",
                     "data": str(data), "checkpoint": checkpoint_read, "command": command_line()})
    best = ", ".join(f"{r.name}{' (' + actions[r.name] + ')' if r.name in actions else ''} {r.probability:.2f}"
                     for r in ranked[:3])
    console.print(f"wrote {out}: {len(ranked)} videos ranked by {features} (best: {best})")


def _features(names: list[str], checkpoint: str | None, cfg: dict, device: str) -> tuple[list, str | None]:
    """The distance measures ``names`` (pose, cycle) and the checkpoint they read (as given); the
    checkpoint is read first, so a wrong one fails before MediaPipe starts."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.baselines.retrieval import CycleDistance, mediapipe_distance

    measures: list = []
    if "cycle" in names:
        from stcorr.models.cycle_use import CycleFeatures

        measures.append(CycleDistance(CycleFeatures.load(checkpoint, cfg, resolve_device(device))))
    elif checkpoint:
        raise StcorrError("--checkpoint is the cycle embedding: it needs --features cycle or pose+cycle")
    if "pose" in names:
        from stcorr.pose.cache import MediaPipePose  # MediaPipe: the optional `pose` extra

        measures.append(mediapipe_distance(MediaPipePose(cfg["baseline"]["pose"]), cfg["baseline"]["world_lifter"]))
    return measures, checkpoint


def register(app: typer.Typer) -> None:
    app.command()(retrieve)
