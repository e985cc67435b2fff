"""Strict readers for raw (parsed TOML/JSON) descriptions.

Every typed description in asicgen is built by a `from_raw(raw, where)`
constructor that uses these helpers: unknown keys are rejected, types are
checked, and every error names the path of the offending value.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A description (config file, weights file, architecture) is invalid."""


def warn(message: str) -> None:
    """Legal but suspicious input: one line on stderr, and the run goes on.

    Printed rather than `warnings.warn`: Python's warning format (file, line, category,
    source line) points at asicgen's code, while the user needs to see their own file."""
    print(f"asicgen: warning: {message}", file=sys.stderr)


def check_keys(raw: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table/object, got {type(raw).__name__}")
    keys = set(raw)
    unknown = keys - required - optional
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {allowed})")
    missing = required - keys
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {', '.join(sorted(missing))}")
    return dict(raw)


def get_int(raw: Mapping[str, Any], key: str, where: str, default: int | None = None,
            lo: int | None = None, hi: int | None = None) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}.{key}: expected an integer, got {value!r}")
    _check_range(value, f"{where}.{key}", lo, hi)
    return value


def get_float(raw: Mapping[str, Any], key: str, where: str, default: float | None = None,
              lo: float | None = None, hi: float | None = None) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
    _check_range(float(value), f"{where}.{key}", lo, hi)
    return float(value)


def get_str(raw: Mapping[str, Any], key: str, where: str, default: str | None = None,
            choices: tuple[str, ...] | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key}: expected a string, got {value!r}")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}.{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def get_pair(raw: Mapping[str, Any], key: str, where: str,
             default: tuple[float, float] | None = None) -> tuple[float, float]:
    value = raw.get(key, default)
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ConfigError(f"{where}.{key}: expected [low, high], got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not 0 <= low <= high:
        raise ConfigError(f"{where}.{key}: need 0 <= low <= high, got {value!r}")
    return low, high


def _check_range(value: float, where: str, lo: float | None, hi: float | None) -> None:
    if lo is not None and value < lo:
        raise ConfigError(f"{where}: {value} is below the minimum {lo}")
    if hi is not None and value > hi:
        raise ConfigError(f"{where}: {value} is above the maximum {hi}")


def load_config_file(path: Path) -> dict[str, Any]:
    """Parse a .toml or .json description file, naming the file on errors."""

    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    elif path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    else:
        raise ConfigError(f"{path}: unsupported description format {path.suffix!r} (use .toml or .json)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a table/object")
    return data
