"""Configuration: the commented default (configs/cpu.yaml), YAML overrides, and dotted overrides.

    cfg = load_config("paper-13+3", {"train.max_steps": 10})

Every config is merged onto the default, which lists every key there is: an unknown key is an
error naming it. ``aggregator_args`` is the one open mapping (its keys belong to the aggregator).
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from stcorr.errors import StcorrError

OPEN_KEYS = {"model.aggregator_args", "baseline"}


def packaged_configs() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("stcorr.configs").iterdir() if p.name.endswith(".yaml"))


def default_config() -> dict:
    return _read_yaml_text(resources.files("stcorr.configs").joinpath("cpu.yaml").read_text(), "cpu.yaml")


def load_config(name_or_path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> dict:
    """The default config, with a packaged config or a YAML file merged on, then dotted overrides."""
    cfg = default_config()
    if name_or_path:
        source, data = _read_config(str(name_or_path))
        cfg = merge(cfg, data, source)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            cfg = merge(cfg, _nest(dotted, value), "command line")
    return cfg


def merge(base: dict, update: Mapping, source: str = "config", prefix: str = "") -> dict:
    """``base`` with ``update`` merged in, refusing keys ``base`` does not have."""
    out = copy.deepcopy(base)
    if not isinstance(update, Mapping):
        raise StcorrError(f"{source}: expected a mapping of settings{f' under {prefix}' if prefix else ''}")
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if dotted in OPEN_KEYS or prefix.rstrip(".") in OPEN_KEYS:
            out[key] = _merge_open(out.get(key), value)
        elif key not in out:
            raise StcorrError(f"{source}: unknown config key {dotted!r}")
        elif isinstance(out[key], dict) and dotted not in OPEN_KEYS:
            out[key] = merge(out[key], value or {}, source, dotted + ".")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge_open(old, new):
    """Open mappings (aggregator_args, baseline) take any key; nested mappings merge deeply."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        merged = copy.deepcopy(dict(old))
        for key, value in new.items():
            merged[key] = _merge_open(merged.get(key), value)
        return merged
    return copy.deepcopy(new)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["train.lr=0.01", "model.grid=[4,8,8]"]`` -> {"train.lr": 0.01, "model.grid": [4, 8, 8]} (YAML values)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise StcorrError(f"--set takes KEY=VALUE, e.g. train.lr=0.001, not {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def save_config(cfg: dict, path: Path) -> None:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _read_config(name: str) -> tuple[str, dict]:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise StcorrError("config file not found", path)
        return str(path), _read_yaml_text(path.read_text(), str(path))
    if name not in packaged_configs():
        raise StcorrError(f"no config file or packaged config named {name!r} (packaged: {', '.join(packaged_configs())})")
    return name, _read_yaml_text(resources.files("stcorr.configs").joinpath(f"{name}.yaml").read_text(), name)


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
