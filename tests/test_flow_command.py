"""The README's main command, run the way a new user runs it: `scripts/flow` from the
repository root with a relative output folder (a short setting keeps CI in budget)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["train", "image", "hls", "csim", "rtl", "tmr", "seu-rate", "verify rtl", "verify rtl_tmr", "report"]


@pytest.mark.slow
def test_scripts_flow_from_the_repository_root():
    out = Path("build") / "test-flow"  # relative, as `build/flow` is by default
    shutil.rmtree(ROOT / out, ignore_errors=True)
    try:
        proc = subprocess.run(["scripts/flow", "--out", str(out), "--epochs", "2", "--modules", "3000",
                               "--eval-modules", "300"], cwd=ROOT, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        tail = proc.stderr[-4000:]
        assert proc.returncode == 0, tail
        assert "Traceback" not in proc.stderr
        summary = proc.stderr[proc.stderr.index(f"[flow] summary of {out}"):]
        for stage in STAGES:
            assert any(line.split()[:len(stage.split()) + 1] == [*stage.split(), "ok"]
                       for line in summary.splitlines()), f"stage {stage!r} not ok in:\n{summary}"
        assert f"[flow] PASSED: every artefact is in {out}" in summary
        for rtl in ("rtl", "rtl_tmr"):  # the hardened ae_top too, at the default size
            line = rf"verify {rtl} +ok +\d+s +[1-9]\d* modules streamed bit-exact"
            assert re.search(line, summary), summary
        manifest = json.loads((ROOT / out / "manifest.json").read_text())
        assert manifest["kind"] == "flow" and manifest["status"] == "passed"
        assert [s["stage"] for s in manifest["stages"]] == STAGES
        assert all(s["ok"] for s in manifest["stages"])
        assert "0 mismatches" in manifest["stages"][3]["result"]
        assert "seu_rate.md" in manifest["files"] and "rtl_tmr/tmr_report.json" in manifest["files"]
        report = (ROOT / out / "report" / "report.md").read_text()
        assert "## Flow stages" in report and "| verify rtl_tmr | passed |" in report
        assert not [p for p in (ROOT / "build").iterdir() if p.name.startswith(".test-flow")]
    finally:
        shutil.rmtree(ROOT / out, ignore_errors=True)
