"""What every benchmark script shares: progress lines, timing, and saving its results."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from asicgen.core.atomic import write_text

T = TypeVar("T")


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """(result of fn(), seconds it took)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def save_results(out: Path, name: str, results: dict[str, Any], text: str) -> None:
    """OUT/NAME.json (the measured figures) and OUT/NAME.md (`text`), each written atomically."""
    write_text(Path(out) / f"{name}.json", json.dumps(results, indent=1) + "\n")
    write_text(Path(out) / f"{name}.md", text)
