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
