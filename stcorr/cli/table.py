"""``stcorr table``: the paper's Table 3 — sequential baselines above the joint space-time models,
every row scored with T@k-PCK on the same pairs.

    stcorr table --data ROOT [--setup 13+3] [--split val] [--max-pairs N] [--seed S]
                 [--methods a,b,...] [--checkpoint CKPT ...] [--set KEY=VALUE ...] --out DIR

Writes DIR/METHOD.json (RESULTS.json of each row) and DIR/table3.md, and prints the table.
Methods whose trained part or optional extra is missing are skipped with a note saying how to
provide it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import typer

from stcorr.cli.common import OverwriteOpt, command_line, console, load_dataset, load_pairs, parse_ks
from stcorr.cli.data_commands import AlphaOpt, DataOpt, MaxPairsOpt, SeedOpt
from stcorr.cli.common import ConfigOpt, DeviceOpt, SetOpt, WeightsOpt, build_config, config_file, resolve_device
from stcorr.config import parse_overrides
from stcorr.errors import StcorrError
from stcorr.files import write_file
from stcorr.cli.outputs import check_outputs

JOINT_METHODS = ("st-match",)
GROUPS = ("sequential", "joint space-time")
GROUP_TITLES = {"sequential": "sequential (align in time, then match in space)", "joint space-time": "joint space-time"}


@dataclass
class Row:
    group: str
    label: str
    results: dict


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def scores(self, ks: tuple[int, ...]) -> list[tuple[str, str, list[str]]]:
        """(group, label, formatted T@k percentages) per row, sequential rows first."""
        order = sorted(self.rows, key=lambda row: GROUPS.index(row.group))
        return [(row.group, row.label, [f"{100 * row.results[f'T@{k}']:.1f}" for k in ks]) for row in order]


def plan_rows(requested: list[str] | None, available: list[str]) -> tuple[list[str], list[str]]:
    """(sequential names, joint names) to run: the requested ones in the order of ``available``,
    or all of them. An unknown name is an error."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.baselines.methods import method_names

    sequential = method_names()
    if requested is None:
        return sequential, [m for m in JOINT_METHODS if m in available]
    unknown = [m for m in requested if m not in available]
    if unknown:
        raise StcorrError(f"unknown method {unknown[0]!r} (stcorr eval --list-methods lists them)")
    return [m for m in sequential if m in requested], [m for m in available if m in requested and m not in sequential]


def file_name(label: str, taken: set[str]) -> str:
    """A file name for a row: the label with unsafe characters replaced, made unique."""
    stem = re.sub(r"[^A-Za-z0-9+._-]+", "-", label).strip("-") or "method"
    name, n = f"{stem}.json", 2
    while name in taken:
        name, n = f"{stem}-{n}.json", n + 1
    taken.add(name)
    return name


def checkpoint_label(name: str, path: Path) -> str:
    """``ants (RUN)`` for RUN/checkpoint: the aggregator and the run it came from."""
    run = path.parent.name if path.name == "checkpoint" else path.name
    return f"{name} ({run})"


def table_config(config: str | None, sets: list[str] | None, weights: Path | None) -> dict:
    """The run config; ``--set baseline.KEY=VALUE`` items are set one by one into the ``baseline``
    mapping, so that several of them (e.g. three checkpoints) add up."""
    sets = sets or []
    cfg = build_config(config, [s for s in sets if not s.startswith("baseline.")], **{"model.weights": weights})
    for dotted, value in parse_overrides([s for s in sets if s.startswith("baseline.")]).items():
        *path, last = dotted.split(".")[1:]
        node = cfg["baseline"]
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StcorrError(f"--set {dotted}: baseline.{part} is not a mapping")
        node[last] = value
    return cfg


def render_text(table: Table, ks: tuple[int, ...], header: str) -> str:
    lines = [header]
    scored = table.scores(ks)
    width = max([len(label) for _, label, _ in scored] + [20]) + 2
    lines.append(" " * (width + 2) + "".join(f"{f'T@{k}':>8}" for k in ks))
    group = None
    for row_group, label, values in scored:
        if row_group != group:
            group = row_group
            lines.append(GROUP_TITLES[group])
        lines.append(f"  {label:<{width}}" + "".join(f"{v:>8}" for v in values))
    lines += ["skipped:"] + [f"  {note}" for note in table.skipped] if table.skipped else []
    return "\n".join(lines)


def render_markdown(table: Table, ks: tuple[int, ...], header: str) -> str:
    lines = [f"# Table 3\n\n{header}\n", "| method | " + " | ".join(f"T@{k}" for k in ks) + " |",
             "|---|" + "---:|" * len(ks)]
    group = None
    for row_group, label, values in table.scores(ks):
        if row_group != group:
            group = row_group
            lines.append(f"| **{GROUP_TITLES[group]}** |" + " |" * len(ks))
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    if table.skipped:
        lines += ["", "Skipped:", ""] + [f"- {note}" for note in table.skipped]
    return "\n".join(lines) + "\n"


def table(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for METHOD.json of each row and table3.md.")],
    split: Annotated[str, typer.Option(help="train or val.")] = "val",
    setup: Annotated[str, typer.Option(help="13+3, 3+3 or r10.")] = "13+3",
    max_pairs: MaxPairsOpt = None,
    seed: SeedOpt = 0,
    methods: Annotated[Optional[str], typer.Option("--methods", help="Comma-separated method names (default: every sequential method and st-match).")] = None,
    checkpoint: Annotated[Optional[list[Path]], typer.Option("--checkpoint", help="A trained space-time checkpoint: one joint row each (repeatable).")] = None,
    ks: Annotated[str, typer.Option(help="Frame tolerances k, comma separated.")] = "1,3,5",
    alpha: AlphaOpt = 0.1,
    config: ConfigOpt = None,
    backbone_weights: WeightsOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = "auto",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    overwrite: OverwriteOpt = False,
) -> None:
    """The paper's Table 3: every sequential baseline and joint model on the same pairs (T@k-PCK)."""
    # imported when the verb runs, so every other verb starts without it
    from stcorr.baselines.methods import MissingPart
    from stcorr.pose.mediapipe import MissingExtra
    from stcorr.evaluation.methods import build_method, from_checkpoint, list_methods
    from stcorr.evaluation.runner import NothingScored, check_method, evaluate

    plan = check_outputs("table", {"--data": data, "--checkpoint": checkpoint, "--backbone-weights": backbone_weights,
                                    "--config": config_file(config)}, folders={"--out": out}, overwrite=overwrite)
    k_values = parse_ks(ks)
    requested = [m.strip() for m in methods.split(",") if m.strip()] if methods is not None else None
    sequential, joint = plan_rows(requested, list_methods())
    cfg = table_config(config, set_, backbone_weights)
    torch_device = resolve_device(device)
    dataset = load_dataset(data)
    pairs = load_pairs(dataset, split, setup, max_pairs, seed)
    trained = [(path, *from_checkpoint(path, torch_device)) for path in checkpoint or []]  # bad ones fail before any row
    result, taken = Table(), set()
    plan.claim()

    def run(group: str, label: str, runner, run_cfg: dict) -> None:
        try:
            results = evaluate(runner, dataset, pairs, out / file_name(label, taken), split=split, setup=setup,
                               ks=k_values, alpha=alpha, config=run_cfg, command=command_line(), progress=progress)
        except NothingScored as exc:
            result.skipped.append(f"{label}: {exc}")
            return
        if results["failed_pairs"]:
            result.skipped.append(f"{label}: {results['failed_pairs']} of {len(pairs)} pairs failed and count as wrong")
        result.rows.append(Row(group, label, results))

    for name in sequential + joint:
        try:
            runner = build_method(name, cfg, torch_device)
        except (MissingPart, MissingExtra) as exc:
            result.skipped.append(f"{name}: {exc}")
            continue
        try:
            check_method(runner, dataset)
        except StcorrError as exc:  # cannot run on this data set, e.g. pose-oracle without joint annotations
            result.skipped.append(str(exc))
            continue
        run("sequential" if name in sequential else "joint space-time", name, runner, cfg)
    for path, runner, info in trained:
        run("joint space-time", checkpoint_label(runner.name, path), runner, info["config"])

    n_points = result.rows[0].results["n_points"] if result.rows else 0
    header = (f"T@k-PCK@{alpha:g} (%) on {len(pairs)} {split} pairs ({n_points} points), setup {setup}, "
              f"data {dataset.root}")
    write_file(out / "table3.md", render_markdown(result, k_values, header))
    typer.echo(render_text(result, k_values, header))
    console.print(f"wrote {out / 'table3.md'} and {len(result.rows)} results file(s) in {out}")


def register(app: typer.Typer) -> None:
    app.command("table")(table)
