"""The checked-in reference outputs (examples/default) are what the generators write today.

A generator change that alters its output must come with the regenerated examples, so
the change to the generated RTL, HLS C++ and weight image is reviewed as a diff; a change
that was not meant to alter the output fails here.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from asicgen.core.outputs import MANIFEST
from asicgen.examples import COMMAND, DEFAULT_DEST, regenerate

#: lines of unified diff shown for the first differing file
DIFF_LINES = 40
HOW_TO_FIX = (f"if the change is intended, run `{COMMAND}` from the repository root and commit the "
              "regenerated examples/ with it")


def _files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _manifests_last(name: str) -> tuple[bool, str]:
    """A manifest differs whenever a file it lists does: the file itself is the telling diff."""
    return Path(name).name == MANIFEST, name


def _diff(name: str, checked_in: bytes, regenerated: bytes) -> str:
    try:
        old, new = checked_in.decode(), regenerated.decode()
    except UnicodeDecodeError:
        first = next((i for i, (a, b) in enumerate(zip(checked_in, regenerated, strict=False)) if a != b),
                     min(len(checked_in), len(regenerated)))
        return (f"{name}: binary, {len(checked_in)} bytes checked in, {len(regenerated)} regenerated, "
                f"first difference at byte {first}")
    lines = list(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                      f"examples/default/{name} (checked in)",
                                      f"{name} (regenerated)", n=2))
    shown = "".join(lines[:DIFF_LINES])
    more = len(lines) - DIFF_LINES
    return shown + (f"... {more} more diff lines\n" if more > 0 else "")


def test_examples_are_checked_in() -> None:
    checked_in = _files(DEFAULT_DEST)
    assert checked_in, f"{DEFAULT_DEST} holds no files; {HOW_TO_FIX}"
    assert MANIFEST in checked_in, f"{DEFAULT_DEST} is not an asicgen output folder; {HOW_TO_FIX}"


def test_examples_match_the_generators(tmp_path: Path) -> None:
    checked_in = _files(DEFAULT_DEST)
    regenerated = _files(regenerate(tmp_path / "default"))
    problems = []
    stale = sorted(checked_in.keys() - regenerated.keys())
    if stale:
        problems.append(f"checked in but no longer generated: {', '.join(stale)}")
    missing = sorted(regenerated.keys() - checked_in.keys())
    if missing:
        problems.append(f"generated but not checked in: {', '.join(missing)}")
    differing = sorted((name for name in checked_in.keys() & regenerated.keys()
                        if checked_in[name] != regenerated[name]), key=_manifests_last)
    if differing:
        problems.append(f"differ from what the generators write now: {', '.join(differing)}\n"
                        + _diff(differing[0], checked_in[differing[0]], regenerated[differing[0]]))
    if problems:
        pytest.fail("examples/default is out of date; " + HOW_TO_FIX + ".\n" + "\n".join(problems),
                    pytrace=False)
