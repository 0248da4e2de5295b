"""Configuration: the commented default (configs/cpu.yaml), YAML overrides, and dotted overrides.

    cfg = load_config("paper-13+3", {"train.max_steps": 10})

Every config is merged onto the default, which lists every key there is: an unknown key is an
error naming it and the file it came from. The resolved config is then checked against the
schema (``stcorr.config_schema``: types and ranges). ``aggregator_args`` mappings take the
aggregator's own options, which the schema checks against the aggregator.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from stcorr.errors import StcorrError
from stcorr.files import write_file
from stcorr.settings import default_config

OPEN_KEYS = {"model.aggregator_args", "baseline.cats2d.aggregator_args"}


def packaged_configs() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("stcorr.configs").iterdir() if p.name.endswith(".yaml"))


def validate_config(cfg: dict, source: str = "config") -> dict:
    # the schema imports every learner (torch): loaded when a config is validated, not read
    from stcorr.config_schema import validate_config as check

    return check(cfg, source)


def load_config(name_or_path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> dict:
    """The default config, with a packaged config or a YAML file merged on, then dotted overrides
    (a None value sets the key to null), checked against the schema."""
    cfg = default_config()
    source = "config"
    if name_or_path:
        source, data = _read_config(str(name_or_path))
        cfg = merge(cfg, data, source)
    for dotted, value in (overrides or {}).items():
        cfg = merge(cfg, _nest(dotted, value), "command line")
    return validate_config(cfg)


def merge(base: dict, update: Mapping, source: str = "config", prefix: str = "") -> dict:
    """``base`` with ``update`` merged in, refusing keys ``base`` does not have."""
    out = copy.deepcopy(base)
    if not isinstance(update, Mapping):
        raise StcorrError(f"{source}: expected a mapping of settings{f' under {prefix}' if prefix else ''}")
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if prefix.rstrip(".") in OPEN_KEYS:
            out[key] = copy.deepcopy(value)
        elif key not in out:
            raise StcorrError(f"{source}: unknown config key {dotted!r}")
        elif isinstance(out[key], dict) and isinstance(value, Mapping):
            out[key] = merge(out[key], value, source, dotted + ".")
        elif isinstance(out[key], dict) and value is not None:
            raise StcorrError(f"{source}: config key {dotted!r} is a section of settings, not {value!r}")
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["train.lr=0.01", "model.grid=[4,8,8]"]`` -> {"train.lr": 0.01, "model.grid": [4, 8, 8]} (YAML values)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise StcorrError(f"--set takes KEY=VALUE, e.g. train.lr=0.001, not {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:  # unbalanced brackets, tags such as !!python/...: nothing is run
            what = " ".join(str(getattr(exc, "problem", None) or exc).split())
            raise StcorrError(f"--set {key.strip()}: the value {value!r} is not plain YAML ({what})") from None
    return out


def save_config(cfg: dict, path: Path) -> None:
    write_file(path, yaml.safe_dump(cfg, sort_keys=False))


def _read_config(name: str) -> tuple[str, dict]:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise StcorrError("config file not found", path)
        return str(path), _read_yaml_text(_utf8(path), str(path))
    if name not in packaged_configs():
        raise StcorrError(f"no config file or packaged config named {name!r} (packaged: {', '.join(packaged_configs())})")
    return name, _read_yaml_text(resources.files("stcorr.configs").joinpath(f"{name}.yaml").read_text(), name)


def _utf8(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StcorrError(f"not UTF-8 text (byte {exc.start})", path) from None
    except OSError as exc:
        raise StcorrError(f"cannot read ({exc.strerror})", path) from None


def _read_yaml_text(text: str, source: str) -> dict:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StcorrError(f"not valid YAML ({str(exc).splitlines()[0]})", source) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StcorrError("expected a mapping of settings", source)
    return data


def _nest(dotted: str, value: Any) -> dict:
    out: Any = value
    for part in reversed(dotted.split(".")):
        out = {part: out}
    return out
