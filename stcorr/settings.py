"""The base of every config section class, and the one file their values come from.

A component takes its section of the validated config as a typed object (``Section`` subclass:
each key's type and range, no values). The values live only in the commented default
``stcorr/configs/cpu.yaml``; ``stcorr.config_schema`` puts the sections together into the schema
of a whole config. A section that is given only in part (a test's few keys, a checkpoint written
before a key existed) is completed from cpu.yaml: ``PropagationSettings.defaults(radius=4)``,
``ModelSettings.filled(checkpoint_model_entry)``.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from importlib import resources
from typing import Any, ClassVar, Mapping, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from stcorr.errors import StcorrError

S = TypeVar("S", bound="Section")


class Section(BaseModel):
    """A section of the config; ``cpu_yaml_key`` (dotted) says where cpu.yaml holds its values."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    cpu_yaml_key: ClassVar[str | None] = None

    @classmethod
    def defaults(cls: type[S], **changes: Any) -> S:
        """cpu.yaml's values of this section, with ``changes``."""
        return cls.filled(changes)

    @classmethod
    def filled(cls: type[S], partial: Mapping[str, Any] | None, source: str = "config") -> S:
        """``partial`` (nested mappings merge key by key) over cpu.yaml's values of this section,
        checked; StcorrError names the first key that is wrong."""
        return cls.checked(merged(default_section(cls.cpu_yaml_key), partial or {}), source)

    @classmethod
    def checked(cls: type[S], values: Any, source: str = "config") -> S:
        """``values`` (a whole section) checked; StcorrError names the first key that is wrong."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise validation_error(exc, source) from None


def validation_error(exc: ValidationError, source: str) -> StcorrError:
    """The first problem pydantic found, as one line naming the key."""
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))  # the key, not the list item
    given = error.get("input")
    shown = "" if isinstance(given, dict) else f" (got {given!r})"
    where = f"{source}: config key {key!r}"
    if error["type"] == "extra_forbidden":
        return StcorrError(f"{source}: unknown config key {key!r}")
    if error["type"] == "missing":
        return StcorrError(f"{where} is missing")
    return StcorrError(f"{where}: {error['msg'][0].lower()}{error['msg'][1:]}{shown}")


@lru_cache(maxsize=1)
def _cpu_yaml() -> dict:
    return yaml.safe_load(resources.files("stcorr.configs").joinpath("cpu.yaml").read_text())


def default_config() -> dict:
    """cpu.yaml, every key with its default (a fresh copy)."""
    return copy.deepcopy(_cpu_yaml())


def default_section(dotted: str | None) -> dict:
    """cpu.yaml's section at ``dotted`` (e.g. ``"corrflow.propagation"``; None: all of it)."""
    section = _cpu_yaml()
    for part in (dotted.split(".") if dotted else []):
        section = section[part]
    return copy.deepcopy(section)  # only the section: callers such as MediaPipePose.shared run per example


def merged(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict:
    """``base`` with ``update`` laid over it, nested mappings key by key (unknown keys are kept, for
    the schema to name)."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(out.get(key), dict) and isinstance(value, Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
