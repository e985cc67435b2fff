"""The project carries its contract (docs/spec.md), its documents cite it, and every path a
document or a help text cites exists."""

import argparse
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_SPEC = ROOT.parent / "shared" / "SPEC.md"


@pytest.mark.skipif(not SHARED_SPEC.is_file(), reason="no ../shared/SPEC.md beside this checkout")
def test_the_projects_spec_keeps_every_line_of_the_contract():
    ours = set((ROOT / "docs" / "spec.md").read_text().splitlines())
    missing = [line for line in SHARED_SPEC.read_text().splitlines() if line.strip() and line not in ours]
    assert not missing, f"docs/spec.md is out of step with the contract; first missing lines: {missing[:3]}"


def test_documents_cite_the_projects_own_spec():
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert "../shared" not in path.read_text(), f"{path.name} points outside the project"
    assert "docs/spec.md" in (ROOT / "README.md").read_text()


def test_the_i2c_start_after_reset_window_is_documented():
    """The target ignores a START in the first clocks after reset: a user must read that in
    the generated register map and in the spec, not only in an RTL comment."""
    from asicgen.core.arch import EncoderArch
    from asicgen.core.design import Design
    from asicgen.core.i2c import RESET_IGNORE_CLOCKS
    from asicgen.core.image import regmap_markdown
    from asicgen.core.render import Stamp

    regmap = regmap_markdown(Design.build(EncoderArch()), Stamp("map", "0", "test"))
    assert f"a START in the first {RESET_IGNORE_CLOCKS} system clocks\nafter `rst_n` rises" in regmap
    assert f"{RESET_IGNORE_CLOCKS * 25} ns at 40 MHz" in regmap
    spec = (ROOT / "docs" / "spec.md").read_text()
    assert f"A START in the first {RESET_IGNORE_CLOCKS} system clocks" in spec


#: folders of this repository a document or a help text can cite a path in
FOLDERS = "docs|bench|verif|asicgen|training|tmr|rtl_wrappers|scripts|tests|examples"
CITED = re.compile(rf"(?<![\w/.~-])((?:{FOLDERS})/[\w.*/-]*\w)")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "examples" / "README.md"]


def _help_texts() -> str:
    from asicgen.cli_options import build_parser

    parser = build_parser()
    texts, todo = [], [parser]
    while todo:
        p = todo.pop()
        texts.append(p.format_help())
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    return "\n".join(texts)


def _missing(text: str) -> list[str]:
    return [m for m in CITED.findall(text) if "*" not in m and not (ROOT / m).exists()]


def test_every_path_the_documents_cite_exists():
    missing = [f"{doc.relative_to(ROOT)}: {path}" for doc in _documents()
               for path in _missing(doc.read_text())]
    links = [f"{doc.relative_to(ROOT)}: {link}" for doc in _documents()
             for link in LINK.findall(doc.read_text())
             if "://" not in link and not (doc.parent / link).exists()]
    assert not missing + links, "\n".join(missing + links)


def test_every_path_the_command_line_help_cites_exists():
    assert not _missing(_help_texts())


def test_the_checker_sees_a_missing_path():
    assert _missing("see docs/region.md and docs/regions.md") == ["docs/region.md"]
