"""The commands shown in README.md and docs/ are today's commands.

- Every ``stcorr`` command of a ```bash block parses against the command line (verb, flags, their
  values, required options), and runs on a tiny Penn Action-layout data set, a block's commands in
  order in one folder (so a block can train a model and then score it). Inputs a block has not made are
  replaced by files of the same kind made here (DATA, RUN/checkpoint, VIDEO, KP.json, ...);
  sizes are cut down (steps, pairs, clips, widths). Commands too slow for a unit test (synth, demo,
  compare, table, configs without tiny settings here) or that need a model the block did not make
  are parsed only.
- Every ``stcorr VERB --flag`` of a ```text block or an inline code span names a verb and flags
  that exist (```text blocks hold long measurements and are not run).
- Every ```json block is JSON, and the KP.json and pairs.json examples are read by stcorr's readers.
- Every ``scripts/...`` and ``benchmarks/...`` file a fenced block names exists, and every relative
  link (and its #anchor) leads somewhere.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image

from stcorr.cli.main import app
from stcorr.cli.common import read_keypoints
from stcorr.data.datasets import read_pairs_json

from cli_helpers import run_stcorr
from conftest import make_penn

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
CLI = typer.main.get_command(app)
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
VERB_AT = re.compile(r"(?:^|[\s(])(?:\.venv/bin/)?stcorr(?:\.cli\.main)?\s+([a-z][a-z-]*)(.*)")
FILE_REF = re.compile(r"(?<![\w./-])((?:scripts|benchmarks)/[\w./-]*\w)")

# Tiny sizes for every training run a block starts (clips of 32x32 pixels).
TINY_TRAINING = ["data.clip_len=8", "data.size=32", "model.grid=[4,4,4]", "model.width=8", "train.val_every=0"]
_CORRFLOW = ["corrflow.width=8", "corrflow.blocks=[1,1,1,1]", "corrflow.size=32", "corrflow.kmeans_frames=8"]
# The packaged configs a block may train, each with the overrides that make a few steps take seconds.
TINY_CONFIGS = {
    **dict.fromkeys([None, "cpu", "demo", "cpu-long", "cpu-long-pose"], TINY_TRAINING),
    **dict.fromkeys(["corrflow", "corrflow-cpu"], [*_CORRFLOW, "train.val_every=0"]),
    "corrflow-st": [*TINY_TRAINING, "corrflow.size=32", "corrflow.kmeans_frames=8"],
    "cycle": ["cycle.size=32", "cycle.hidden=16", "cycle.dim=8", "train.val_every=0"],
    "cycle-pose": ["cycle_pose.hidden=16", "cycle_pose.dim=8", "cycle_pose.frames=8", "train.val_every=0"],
    "cpnet": ["cpnet.size=32", "cpnet.clip_len=4", "train.batch_size=2", "train.val_every=0"],
}
PARSE_ONLY_VERBS = {"synth", "demo", "compare", "table"}
MEDIAPIPE_PARTS = {"pose", "nn-pose", "dtw-pose"}
# An input flag a block has not made is replaced by a fixture of this kind.
# (--checkpoint of propagate, retrieve and eval --task track/classify is a model of another kind: it
# is never replaced, and a command whose block did not make it is parsed only.)
INPUT_KINDS = {"--data": "data", "--checkpoint": "checkpoint", "--source": "video",
               "--target": "video2", "--video": "video", "--query": "video", "--keypoints": "keypoints",
               "--predictions": "predictions", "--masks": "mask", "--run": "run"}


@dataclass
class Block:
    where: str           # file:line of the fence
    language: str        # bash, text, json, ...
    lines: list[str]     # logical lines (continuations joined)


def fenced_blocks(path: Path) -> list[Block]:
    text = path.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        line = text[:match.start()].count("\n") + 1
        body = match.group(2).replace("\\\n", " ")
        blocks.append(Block(f"{path.relative_to(ROOT)}:{line}", match.group(1), body.splitlines()))
    return blocks


ALL_BLOCKS = [block for path in DOC_FILES for block in fenced_blocks(path)]
BASH_BLOCKS = [block for block in ALL_BLOCKS if block.language == "bash"]


def stcorr_arguments(line: str) -> list[list[str]]:
    """The argument lists (verb first) of the stcorr commands on one shell line."""
    tokens = shlex.split(line, comments=True)
    found, command = [], []
    for token in tokens + [";"]:
        if token in ("&&", "||", ";", "|"):
            args = _after_program(command)
            if args is not None:
                found.append(args)
            command = []
        else:
            command.append(token)
    return found


def _after_program(tokens: list[str]) -> list[str] | None:
    while tokens and re.fullmatch(r"[A-Z_]+=\S*", tokens[0]):  # VAR=value before the program
        tokens = tokens[1:]
    if not tokens:
        return None
    if Path(tokens[0]).name == "stcorr":
        return tokens[1:]
    if "stcorr.cli.main" in tokens and (Path(tokens[0]).name.startswith("python") or tokens[0] == "torchrun"):
        i = tokens.index("stcorr.cli.main")
        return tokens[i + 1:] if tokens[i - 1] == "-m" else None
    return None


def flag_names(verb: str) -> set[str]:
    return {name for p in CLI.commands[verb].params for name in (*p.opts, *p.secondary_opts)}


def option(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args[:-1] else None


# ---------------------------------------------------------------------------------------------
# the tiny world a block runs in


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A tiny Penn Action-layout data set (two actions, short 64x48 videos), a 1-step checkpoint, and
    one file of every kind a command reads."""
    home = tmp_path_factory.mktemp("docs-world")
    videos = {}
    for i in range(10):
        action, moments = ("golf_swing", [3, 11]) if i < 5 else ("squat", [2, 8, 13])
        videos[f"{i + 1:04d}"] = {"action": action, "train": 1 if i % 5 < 3 else -1, "n": 16 + i % 5,
                                  "key_moments": moments}
    objects = {name: {str(t): {"club_head": [30.0 + t, 20.0]} for t in (3, 11)} for name in list(videos)[:5]}
    data = make_penn(home / "data", videos, objects)
    run = home / "run"
    trained = run_stcorr("train", "--data", data, "--out", run, "--max-steps", "1", "--no-progress",
                         *[a for s in TINY_TRAINING for a in ("--set", s)])
    assert trained.returncode == 0, trained.stderr
    scored = run_stcorr("eval", "--data", data, "--checkpoint", run / "checkpoint", "--max-pairs", "2", "--no-progress",
                        "--save-predictions", home / "preds.json", "--out", home / "results.json")
    assert scored.returncode == 0, scored.stderr
    videos = sorted((data / "frames").iterdir())
    keypoints = home / "kp.json"
    keypoints.write_text(json.dumps({"keypoints": [{"name": "head", "t": 2, "x": 12.0, "y": 9.5},
                                                   {"name": None, "t": 2, "x": 20, "y": 20}]}))
    mask = Image.fromarray(np.pad(np.ones((16, 16), np.uint8), ((16, 16), (24, 24))), mode="P")  # 64x48, as the frames
    mask.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    mask.save(home / "mask.png")
    return {"data": data, "checkpoint": run / "checkpoint", "run": run, "video": videos[0], "video2": videos[1],
            "keypoints": keypoints, "predictions": home / "preds.json", "results": home / "results.json",
            "mask": home / "mask.png"}


def localise(args: list[str], world: dict[str, Path], here: Path) -> list[str]:
    """``args`` with the inputs that do not exist in ``here`` replaced by the world's files, and
    absolute output paths moved under ``here``."""
    args = list(args)
    other_kind = args[0] in ("propagate", "retrieve") or option(args, "--task") not in (None, "correspondence")
    for i, token in enumerate(args):
        kind = INPUT_KINDS.get(args[i - 1]) if i else None
        if kind == "checkpoint" and other_kind:
            continue
        if kind and not token.startswith("stcorr:") and not (here / token).exists():
            args[i] = str(world[kind])
        elif token.startswith("/") and not (i and args[i - 1].startswith("--backbone")):
            args[i] = str(here / token.strip("/").replace("/", "_"))
    verb = args[0]
    positional = [i for i in range(1, len(args)) if not args[i].startswith("-") and not args[i - 1].startswith("-")]
    if verb == "compare":
        for i, kind in zip(positional, ("video", "video2")):
            args[i] = args[i] if (here / args[i]).exists() else str(world[kind])
    if verb == "report":
        for i in positional:
            args[i] = args[i] if (here / args[i]).exists() else str(world["results"])
    return args


def parse_only_reason(args: list[str]) -> str | None:
    """Why a command is only parsed, or None when it runs."""
    verb = args[0]
    if verb in PARSE_ONLY_VERBS:
        return f"{verb} is too slow for a unit test"
    if "--help" in args or "--list-methods" in args:
        return None
    if any(a.startswith("stcorr:") for a in args):
        return "names a model that ships with stcorr"
    models = [a.split("=", 1)[1] for a in args if re.match(r"baseline\.\w+_checkpoint=", a)]
    models += [option(args, flag) for flag in ("--checkpoint", "--init") if flag in args]
    if any(not Path(model).exists() for model in models):
        return "needs a model of another kind that the block did not make"
    if "--method" in args and MEDIAPIPE_PARTS & set(option(args, "--method").split("+")):
        return "runs MediaPipe on every video"
    if verb == "train" and (option(args, "--config") not in TINY_CONFIGS or "--backbone-weights" in args):
        return "trains at a size no unit test can shrink, or needs weights"
    return None


def shrink(args: list[str]) -> list[str]:
    """The same command at a unit test's size: a few steps and pairs, tiny clips."""
    args = list(args)
    flags = flag_names(args[0])
    if "--max-steps" in args:
        i = args.index("--max-steps") + 1
        args[i] = str(min(3, 1 + int(args[i]) // 20))
    elif args[0] == "train":
        args += ["--max-steps", "2"]
    if args[0] == "train":
        args += [a for s in TINY_CONFIGS[option(args, "--config")] for a in ("--set", s)]
    if "--max-pairs" in args:
        i = args.index("--max-pairs") + 1
        args[i] = str(min(2, int(args[i])))
    elif "--max-pairs" in flags and "--list-methods" not in args and option(args, "--task") in (None, "correspondence"):
        args += ["--max-pairs", "2"]
    if "--no-progress" in flags:
        args.append("--no-progress")
    return args


def check_parses(args: list[str], where: str) -> None:
    verb = args[0]
    assert verb in CLI.commands, f"{where}: `stcorr {verb}` is not a verb (verbs: {', '.join(CLI.commands)})"
    try:
        CLI.commands[verb].make_context(f"stcorr {verb}", list(args[1:]))
    except typer.Exit:  # --help
        pass
    except typer.TyperException as exc:  # the command-line library's usage errors
        pytest.fail(f"{where}: `stcorr {shlex.join(args)}` does not parse: {exc.format_message()}")


# ---------------------------------------------------------------------------------------------


def test_the_docs_hold_commands():
    commands = [args for block in BASH_BLOCKS for line in block.lines for args in stcorr_arguments(line)]
    assert len(commands) >= 30
    readme = [b for b in BASH_BLOCKS if b.where.startswith("README.md")]
    test_command = "bash scripts/setup && .venv/bin/python -m pytest -q"  # what .ci/run runs
    assert test_command in [line.split("#")[0].strip() for b in readme for line in b.lines]
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert {args[0] for args in commands} >= {"predict", "compare", "train", "eval", "demo"}


@pytest.mark.parametrize("block", BASH_BLOCKS, ids=[b.where for b in BASH_BLOCKS])
def test_bash_block_runs(block, world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    commands = [args for line in block.lines for args in stcorr_arguments(line)]
    assert all(commands), f"{block.where}: a bare `stcorr`"
    for args in commands:  # every command parses, whatever happens to the runs below
        check_parses(localise(args, world, tmp_path), block.where)
    for args in commands:
        args = localise(args, world, tmp_path)  # again: earlier commands of the block may have made inputs
        if parse_only_reason(args) is not None:
            continue
        small = shrink(args)
        run = run_stcorr(*small)
        if run.returncode != 0 and "MediaPipe, which is not installed" in run.stderr:
            pytest.skip(f"{block.where}: `stcorr {args[0]}` needs MediaPipe (the pose extra)")
        assert run.returncode == 0, f"{block.where}: `stcorr {shlex.join(small)}` failed:\n{run.stderr[-3000:]}"


def _mentions() -> list[tuple[str, str, list[str]]]:
    """(where, verb, flags) of every `stcorr VERB ...` in ```text blocks and inline code spans."""
    found = []
    for path in DOC_FILES:
        text = path.read_text()
        prose = re.sub(r"<!--.*?-->", "", FENCE.sub("", text), flags=re.DOTALL)  # LEAD notes are not docs
        spans = [(f"{path.relative_to(ROOT)} inline", m.group(1)) for m in INLINE.finditer(prose)]
        for block in fenced_blocks(path):
            if block.language == "text":
                spans += _synopsis_lines(block)
        for where, span in spans:
            for match in (m for part in re.split(r";|&&|\|\|", span) for m in VERB_AT.finditer(part)):
                found.append((where, match.group(1), re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", match.group(2))))
    return found


def _synopsis_lines(block: Block) -> list[tuple[str, str]]:
    """A text block's lines, an indented line joined to the command above it (synopses)."""
    joined: list[str] = []
    for line in block.lines:
        if joined and line.startswith(" ") and line.strip().startswith(("[", "-", "(")):
            joined[-1] += " " + line.strip()
        else:
            joined.append(line)
    return [(block.where, line) for line in joined]


MENTIONS = _mentions()


def test_mentions_are_found():
    assert len(MENTIONS) >= 50


@pytest.mark.parametrize("where, verb, flags", MENTIONS, ids=[f"{w}: {v}" for w, v, _ in MENTIONS])
def test_every_mentioned_verb_and_flag_exists(where, verb, flags):
    assert verb in CLI.commands, f"{where}: `stcorr {verb}` is not a verb"
    unknown = sorted(set(flags) - flag_names(verb) - {"--help"})
    assert not unknown, f"{where}: `stcorr {verb}` has no {', '.join(unknown)}"


def test_every_script_a_block_names_exists():
    named = {(block.where, ref) for block in ALL_BLOCKS for line in block.lines for ref in FILE_REF.findall(line)}
    assert named
    missing = sorted(f"{where}: {ref}" for where, ref in named if not (ROOT / ref).exists())
    assert not missing, missing


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Pages written on other branches; their links are checked once they exist.
def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", path.read_text()), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_link_leads_somewhere():
    broken = []
    for page in DOC_FILES:
        text = re.sub(r"<!--.*?-->", "", FENCE.sub("", page.read_text()), flags=re.DOTALL)
        for link in LINK.findall(text):
            if re.match(r"[a-z]+:", link):
                continue
            file, _, anchor = link.partition("#")
            target = (page.parent / file).resolve() if file else page
            if not target.exists():
                broken.append(f"{page.relative_to(ROOT)}: {link} (no such file)")
            elif anchor and target.suffix == ".md" and anchor not in anchors(target):
                broken.append(f"{page.relative_to(ROOT)}: {link} (no such heading)")
    assert not broken, "\n".join(broken)


def test_json_examples_are_what_stcorr_reads(tmp_path):
    examples = [block for block in ALL_BLOCKS if block.language == "json"]
    assert examples
    read = 0
    for block in examples:
        data = json.loads("\n".join(block.lines))
        path = tmp_path / "example.json"
        path.write_text(json.dumps(data))
        if isinstance(data, dict) and "keypoints" in data and all("t" in kp for kp in data["keypoints"]):
            names, points = read_keypoints(path)  # KP.json
            assert len(names) == len(points) == len(data["keypoints"]), block.where
            read += 1
        elif isinstance(data, list) and data and "correspondences" in data[0]:
            assert len(read_pairs_json(path)) == len(data), block.where  # pairs.json
            read += 1
    assert read >= 3
