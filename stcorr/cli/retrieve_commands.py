"""``stcorr retrieve``: the videos of a data set most like a query video (docs/cli.md; RETRIEVAL.json:
docs/formats.md#retrievaljson), by the cycle-consistent patch embedding (``stcorr.alignment.cycle_use``,
the paper's Eq. 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from stcorr.cli.common import OverwriteOpt, command_line, console, in_range, load_dataset
from stcorr.cli.model_commands import build_config, resolve_device
from stcorr.data.video import Video
from stcorr.errors import StcorrError
from stcorr.files import write_json
from stcorr.outputs import check_outputs


def retrieve(
    query: Annotated[Path, typer.Option("--query", help="Query video: a video file or a folder of frames.")],
    data: Annotated[Path, typer.Option("--data", help="Data set root whose videos are ranked (either layout).")],
    out: Annotated[Path, typer.Option("--out", help="RETRIEVAL.json to write.")],
    checkpoint: Annotated[Optional[Path], typer.Option(
        "--checkpoint", help="RUN/checkpoint of `stcorr train --config cycle`; without it, the untrained embedding.")] = None,
    top: Annotated[Optional[int], typer.Option("--top", callback=in_range(1), help="Keep the N best (default: all).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help=(
        "Override a config key of the untrained embedding, e.g. --set cycle.size=128 (repeatable)."))] = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:N or auto.")] = "auto",
    overwrite: OverwriteOpt = False,
) -> None:
    """Rank the videos of a data set by how alike they are to the query video (best first)."""
    from stcorr.alignment.cycle_use import CycleFeatures, dataset_videos, retrieve as rank

    check_outputs("retrieve", {"--query": query, "--data": data, "--checkpoint": checkpoint}, files={"--out": out},
                  overwrite=overwrite)
    if checkpoint is not None and set_:
        raise StcorrError("--set has no effect with --checkpoint (the checkpoint carries its own config)")
    query_video = Video(query)
    dataset = load_dataset(data)
    features = CycleFeatures.load(checkpoint, build_config(None, set_), resolve_device(device))
    same = query_video.path.resolve()
    candidates = {name: dataset.video(name) for name in dataset_videos(dataset)}
    candidates = {name: v for name, v in candidates.items() if v.path.resolve() != same}
    if not candidates:
        raise StcorrError("no video to rank besides the query", data)
    ranked = rank(features, query_video, candidates)[:top]
    write_json(out, {"query": str(query), "results": [{"video": n, "score": s} for n, s in ranked],
                     "data": str(data), "checkpoint": features.checkpoint, "command": command_line()})
    best = ", ".join(f"{n} {s:.3f}" for n, s in ranked[:3])
    console.print(f"wrote {out}: {len(ranked)} videos ranked (best: {best})")


def register(app: typer.Typer) -> None:
    app.command()(retrieve)
