"""Data verbs: ``synth`` (make the synthetic benchmark), ``pairs`` (export pairs), ``score`` (score predictions)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from stcorr.cli.common import (MAX_SEED, MAX_VIDEOS_PER_ACTION, OverwriteOpt, command_line, console, in_range, load_dataset,
                               load_pairs, parse_ks)
from stcorr.data.pairs import pair_to_record
from stcorr.errors import StcorrError
from stcorr.evaluation.predictions import align_predictions, read_predictions
from stcorr.evaluation.results import score_pairs
from stcorr.files import write_json
from stcorr.cli.outputs import check_outputs

DataOpt = Annotated[Path, typer.Option("--data", help="Data set root (Penn Action layout or pairs layout).")]
SplitOpt = Annotated[str, typer.Option(help="train or val.")]
SetupOpt = Annotated[str, typer.Option(help="Keypoint setup: 13+3, 3+3 or r10.")]
MaxPairsOpt = Annotated[Optional[int], typer.Option("--max-pairs", callback=in_range(1),
                                                    help="Sample at most N pairs (same --seed, same pairs).")]
SeedOpt = Annotated[int, typer.Option(callback=in_range(0, MAX_SEED), help="Seed of the pair sampler.")]
AlphaOpt = Annotated[float, typer.Option(callback=in_range(high=1, above=0),
                                         help="Pixel tolerance as a fraction of the keypoint box (0 < alpha <= 1).")]


def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write the data set into: new, empty, or an earlier synth output (replaced).")],
    seed: Annotated[int, typer.Option(callback=in_range(0, MAX_SEED), help="Same seed, same bytes.")] = 0,
    videos_per_action: Annotated[int, typer.Option("--videos-per-action", callback=in_range(2, MAX_VIDEOS_PER_ACTION),
                                                   help="Videos per action and split (at least 2).")] = 20,
    size: Annotated[str, typer.Option(help="Frame size WIDTHxHEIGHT (480x360 is Penn Action's).")] = "128x128",
    contact_sheet: Annotated[Optional[Path], typer.Option("--contact-sheet", help="Also write a PNG of key-moment frames.")] = None,
    realism: Annotated[float, typer.Option(callback=in_range(0, 1), help=(
        "0 (the plain look) to 1: photographs as backgrounds, textures, motion blur, lighting changes, "
        "camera motion and zoom, occluders, compression."))] = 0.0,
    backgrounds: Annotated[Optional[Path], typer.Option("--backgrounds", help=(
        "Folder of photographs for the backgrounds (with --realism); default: those inside installed packages."))] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Make the synthetic benchmark in the Penn Action layout (seven actions, key moments, objects)."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.data import synthetic

    check_outputs("synth", {"--backgrounds": backgrounds}, files={"--contact-sheet": contact_sheet}, folders={"OUT": out},
                  overwrite=overwrite)
    width, height = _parse_size(size)
    summary = synthetic.generate(out, seed=seed, videos_per_action=videos_per_action, size=(width, height), progress=True,
                                 realism=realism, backgrounds=backgrounds)
    console.print(f"wrote {out}: {summary}")
    if contact_sheet:
        synthetic.contact_sheet(out, contact_sheet)
        console.print(f"contact sheet: {contact_sheet}")


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise StcorrError(f"--size takes WIDTHxHEIGHT, e.g. 128x128, not {text!r}") from None
    if min(width, height) < 32 or max(width, height) > 4096:  # the generator's own limits (synthetic.build)
        raise StcorrError(f"--size {text}: frames must be 32 to 4096 pixels a side")
    return width, height


def pairs(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="pairs.json to write (docs/formats.md#pairs-layout records).")],
    split: SplitOpt = "val",
    setup: SetupOpt = "13+3",
    max_pairs: MaxPairsOpt = None,
    seed: SeedOpt = 0,
    min_visible: Annotated[int, typer.Option("--min-visible", callback=in_range(1, 10**6),
                                             help="Keep pairs with at least this many correspondences.")] = 3,
    overwrite: OverwriteOpt = False,
) -> None:
    """Export the benchmark's pairs, with ground truth, as pairs.json records."""
    check_outputs("pairs", {"--data": data}, files={"--out": out}, overwrite=overwrite)
    dataset = load_dataset(data)
    chosen = load_pairs(dataset, split, setup, max_pairs, seed, min_visible)
    write_json(out, [pair_to_record(p) for p in chosen])
    counts = ", ".join(f"{a} {n}" for a, n in chosen.by_action().items())
    console.print(f"wrote {len(chosen)} pairs to {out} ({counts})")


def score(
    data: DataOpt,
    predictions: Annotated[Path, typer.Option("--predictions", help="PREDS.json: a list of PRED.json objects.")],
    out: Annotated[Path, typer.Option("--out", help="RESULTS.json to write.")],
    split: SplitOpt = "val",
    setup: SetupOpt = "13+3",
    ks: Annotated[str, typer.Option(help="Frame tolerances k, comma separated.")] = "1,3,5",
    alpha: AlphaOpt = 0.1,
    max_pairs: MaxPairsOpt = None,
    seed: SeedOpt = 0,
    method: Annotated[str, typer.Option(help="Method name written into RESULTS.json.")] = "",
    overwrite: OverwriteOpt = False,
) -> None:
    """Score any method's predictions with T@k-PCK@alpha; a correspondence with no prediction is wrong."""
    check_outputs("score", {"--data": data, "--predictions": predictions}, files={"--out": out}, overwrite=overwrite)
    k_values = parse_ks(ks)
    dataset = load_dataset(data)
    chosen = load_pairs(dataset, split, setup, max_pairs, seed)
    records = read_predictions(predictions)
    aligned = align_predictions(chosen, records)
    results = score_pairs(
        chosen, aligned, k_values, alpha,
        method=method or predictions.stem, data=str(data), split=split, setup=setup,
    )
    results.update(command=command_line(), predictions=None, config=None, checkpoint=None)
    write_json(out, results)
    print_scores(results, k_values)
    console.print(f"wrote {out}")


def print_scores(results: dict, ks) -> None:
    # imported when the verb runs, so every other verb starts without it
    from rich.table import Table

    table = Table(title=f"{results['method']} on {results['split']} ({results['setup']}, alpha {results['alpha']})")
    table.add_column("")
    for k in ks:
        table.add_column(f"T@{k}", justify="right")
    table.add_column("points", justify="right")
    rows = [("all", results)] + sorted(results["per_action"].items()) + [(t, results["per_type"][t]) for t in ("hum", "obj")]
    for name, row in rows:
        scores = [f"{100 * row[f'T@{k}']:.1f}" if row["n_points"] else "–" for k in ks]  # no points: no score
        table.add_row(name, *scores, str(row["n_points"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(synth)
    app.command()(pairs)
    app.command()(score)
