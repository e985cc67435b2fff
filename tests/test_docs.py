"""The project carries its contract (docs/spec.md) and its documents cite it."""

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
