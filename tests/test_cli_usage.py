"""Usage errors of the command line: one line on stderr, exit status 2
(docs/cli.md#inputs-outputs-and-errors), for every verb and flag."""

import subprocess
import sys
import typing

import pytest
from typer.models import ArgumentInfo

from stcorr.cli.main import app

from cli_helpers import run_stcorr


def _options(command) -> dict[str, tuple[type, object]]:
    """name -> (type, typer's OptionInfo or ArgumentInfo) of a verb's parameters."""
    found = {}
    for name, hint in typing.get_type_hints(command.callback, include_extras=True).items():
        if name != "return" and typing.get_origin(hint) is typing.Annotated:
            base, info = typing.get_args(hint)[:2]
            found[name] = (base, info)
    return found


def numeric_options() -> list[tuple[str, str, str, int]]:
    """(verb, flag, type name, number of positional arguments) of every int and float option of every verb."""
    found = []
    for command in app.registered_commands:
        verb = command.name or command.callback.__name__
        params = _options(command)
        positional = sum(isinstance(info, ArgumentInfo) for _, info in params.values())
        for name, (base, _) in params.items():
            kinds = {t for t in (typing.get_args(base) or (base,)) if t in (int, float)}
            if kinds:
                found.append((verb, "--" + name.replace("_", "-"), kinds.pop().__name__, positional))
    return sorted(found)


NUMERIC = numeric_options()


def test_the_numeric_flags_are_found():
    flags = {(verb, flag) for verb, flag, _, _ in NUMERIC}
    assert {("eval", "--max-pairs"), ("eval", "--alpha"), ("score", "--alpha"), ("train", "--max-steps"),
            ("table", "--seed"), ("demo", "--eval-pairs"), ("synth", "--videos-per-action")} <= flags


@pytest.mark.parametrize("verb, flag, kind, positional", NUMERIC, ids=[f"{v} {f}" for v, f, _, _ in NUMERIC])
@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-0.5"])
def test_every_numeric_flag_is_range_checked(verb, flag, kind, positional, value, tmp_path):
    if kind == "int" and value in ("nan", "inf", "-0.5"):
        value = "-1000"
    out = tmp_path / "out"
    arguments = [tmp_path / f"argument{i}" for i in range(positional)] if verb != "synth" else [out]
    run = run_stcorr(verb, *arguments, flag, value, "--out", out) if verb != "synth" else run_stcorr(verb, out, flag, value)
    assert run.one_line_error, run.stderr
    assert flag in run.stderr and "Traceback" not in run.stderr
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["eval", "--max-pairs", "abc"], "stcorr eval: Invalid value for '--max-pairs'"),
    (["pairs", "--out", "x.json"], "stcorr pairs: Missing option '--data'"),
    (["eval", "--bogus"], "stcorr eval: No such option: --bogus"),
    (["bogus"], "No such command 'bogus'"),
    (["score", "--data", "d", "--predictions", "p", "--out", "o", "extra"], "Got unexpected extra argument"),
    (["eval", "--alpha", "1.5"], "1.5 is not a finite number > 0 and <= 1"),
])
def test_usage_errors_are_one_line_exit_2(args, message):
    run = run_stcorr(*args)
    assert run.one_line_error, run.stderr
    assert message in run.stderr


def test_usage_error_from_the_installed_entry_point_is_one_line():
    run = subprocess.run([sys.executable, "-m", "stcorr.cli.main", "eval", "--max-pairs", "-1"],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == ["error: stcorr eval: Invalid value for '--max-pairs': -1 is not a whole "
                                               "number >= 1"]


def test_help_and_list_still_exit_0():
    assert run_stcorr("eval", "--help").returncode == 0
    listing = run_stcorr("eval", "--list-methods")
    assert listing.returncode == 0 and "st-match" in listing.stdout.split()


@pytest.mark.parametrize("flag, value", [("--config", "cpu"), ("--set", "train.lr=0.1"),
                                         ("--backbone-weights", "w.safetensors")])
def test_eval_checkpoint_refuses_flags_that_have_no_effect(tmp_path, flag, value):
    run = run_stcorr("eval", "--data", tmp_path, "--checkpoint", tmp_path / "ckpt", flag, value,
                     "--out", tmp_path / "r.json")
    assert run.one_line_error, run.stderr
    assert f"{flag} has no effect with --checkpoint" in run.stderr
    assert not (tmp_path / "r.json").exists()
